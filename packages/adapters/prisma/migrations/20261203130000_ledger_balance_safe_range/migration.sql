-- Hand-written: a ledger account's balance stays within the safe integer range, ±(2^53 − 1),
-- the range the domain's amounts are exact in. A row out of it is refused with SQLSTATE SU003.
--
-- The ledger store refused a post that would take a balance out of the range by reading the
-- moved balances back and rolling its transaction back, so a post needed a transaction of its
-- own (BEGIN, the post, COMMIT: three round trips). With the rule in the table, a post is one
-- statement that stores all of itself or none of it (the double-entry triggers of
-- 20261203074000_ledger_balance_checked_once still run at its commit), with no BEGIN and
-- COMMIT of its own. A trigger rather than a CHECK constraint: a SQLSTATE of susu's own tells
-- the store which rule refused the row (a CHECK's 23514 names its constraint only in the
-- message, through Prisma). No stored balance is out of the range: the store never committed
-- one.

CREATE FUNCTION "susu_assert_ledger_balance_safe"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW."balance_minor" NOT BETWEEN -9007199254740991 AND 9007199254740991 THEN
    RAISE EXCEPTION 'ledger account % would hold % % (outside the safe integer range)',
      NEW."id", NEW."balance_minor", NEW."currency"
      USING ERRCODE = 'SU003';
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER "ledger_accounts_balance_safe"
  BEFORE INSERT OR UPDATE OF "balance_minor" ON "ledger_accounts"
  FOR EACH ROW EXECUTE FUNCTION "susu_assert_ledger_balance_safe"();
