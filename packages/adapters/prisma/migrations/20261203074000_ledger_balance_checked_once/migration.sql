-- Hand-written: the double-entry rule of 20261122012700_constraints_and_triggers, checked once
-- per ledger transaction instead of once per row.
--
-- Before, a deferred constraint trigger fired for the transaction row and again for every one of
-- its postings, and each firing ran the same two aggregate queries: a transaction of N postings
-- was checked N + 1 times at COMMIT (6 queries for the usual 2 postings; 180 per 10-member round).
--
-- Now:
-- * ledger_transactions_balanced (unchanged trigger, deferred, per transaction row) checks the
--   transaction at COMMIT, in one query: at least two postings, debits = credits per currency.
--   It covers every posting inserted by the database transaction that inserted the row.
-- * ledger_postings_balanced (per row) is replaced by ledger_postings_appended_balanced, a
--   statement-level trigger over the inserted rows: postings added to a ledger transaction that
--   an earlier database transaction stored (its row's xmin is not ours) are checked at the end
--   of the INSERT statement, immediately. Nothing writes such postings; the rule refuses them
--   unless they balance on their own, a stricter check than the deferred one it replaces. A
--   transaction row inserted in a subtransaction (its xmin is the subtransaction's) is checked
--   both ways, so the same stricter rule applies there too.
-- An unbalanced transaction still can never be stored, with the same SQLSTATE (SU002).

CREATE OR REPLACE FUNCTION "susu_assert_ledger_transaction_balanced"() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  postings_count BIGINT;
  unbalanced_currency TEXT;
BEGIN
  SELECT coalesce(sum(c.n), 0), min(c.currency) FILTER (WHERE c.net <> 0)
    INTO postings_count, unbalanced_currency
    FROM (SELECT "currency"::text AS currency, count(*) AS n,
                 sum(CASE "direction" WHEN 'debit' THEN "amount_minor" ELSE -"amount_minor" END) AS net
            FROM "ledger_postings"
           WHERE "transaction_id" = NEW."id"
           GROUP BY "currency") c;
  IF postings_count < 2 THEN
    RAISE EXCEPTION 'ledger transaction % has % posting(s); at least 2 are required', NEW."id", postings_count
      USING ERRCODE = 'SU002';
  END IF;
  IF unbalanced_currency IS NOT NULL THEN
    RAISE EXCEPTION 'ledger transaction % does not balance in %', NEW."id", unbalanced_currency
      USING ERRCODE = 'SU002';
  END IF;
  RETURN NULL;
END;
$$;

CREATE FUNCTION "susu_assert_appended_postings_balanced"() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  tx_id TEXT;
  postings_count BIGINT;
  unbalanced_currency TEXT;
BEGIN
  FOR tx_id IN
    SELECT DISTINCT t."id"
      FROM "susu_new_postings" n
      JOIN "ledger_transactions" t ON t."id" = n."transaction_id"
     WHERE t.xmin <> pg_current_xact_id()::xid
  LOOP
    SELECT coalesce(sum(c.n), 0), min(c.currency) FILTER (WHERE c.net <> 0)
      INTO postings_count, unbalanced_currency
      FROM (SELECT "currency"::text AS currency, count(*) AS n,
                   sum(CASE "direction" WHEN 'debit' THEN "amount_minor" ELSE -"amount_minor" END) AS net
              FROM "ledger_postings"
             WHERE "transaction_id" = tx_id
             GROUP BY "currency") c;
    IF postings_count < 2 THEN
      RAISE EXCEPTION 'ledger transaction % has % posting(s); at least 2 are required', tx_id, postings_count
        USING ERRCODE = 'SU002';
    END IF;
    IF unbalanced_currency IS NOT NULL THEN
      RAISE EXCEPTION 'ledger transaction % does not balance in %', tx_id, unbalanced_currency
        USING ERRCODE = 'SU002';
    END IF;
  END LOOP;
  RETURN NULL;
END;
$$;

DROP TRIGGER "ledger_postings_balanced" ON "ledger_postings";

CREATE TRIGGER "ledger_postings_appended_balanced"
  AFTER INSERT ON "ledger_postings"
  REFERENCING NEW TABLE AS "susu_new_postings"
  FOR EACH STATEMENT EXECUTE FUNCTION "susu_assert_appended_postings_balanced"();
