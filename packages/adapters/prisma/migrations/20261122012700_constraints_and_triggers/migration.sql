-- Hand-written: rules that schema.prisma cannot express. Prisma's differ does not
-- manage CHECK constraints, functions or triggers, so later generated migrations
-- neither recreate nor drop them (a test proves migrations and schema still agree).
-- Error codes, so callers map failures by SQLSTATE rather than by message:
--   23514 check_violation   a CHECK constraint below (the constraint name says which)
--   SU001                   UPDATE/DELETE/TRUNCATE of an append-only table
--   SU002                   a ledger transaction that does not balance or has < 2 postings
-- The SU class is not used by PostgreSQL. (restrict_violation, 23001, would have
-- been natural for SU001, but adapter-pg reports it as a foreign-key error, P2003.)

-- ─── Values that can never be valid ─────────────────────────────────────────

ALTER TABLE "groups"
  ADD CONSTRAINT "groups_currency_check" CHECK ("currency" ~ '^[A-Z]{3}$'),
  ADD CONSTRAINT "groups_contribution_amount_minor_check" CHECK ("contribution_amount_minor" > 0),
  ADD CONSTRAINT "groups_version_check" CHECK ("version" >= 0);

ALTER TABLE "members"
  ADD CONSTRAINT "members_rotation_position_check" CHECK ("rotation_position" >= 0),
  ADD CONSTRAINT "members_version_check" CHECK ("version" >= 0);

ALTER TABLE "rounds"
  ADD CONSTRAINT "rounds_number_check" CHECK ("number" >= 1),
  ADD CONSTRAINT "rounds_rotation_check" CHECK ("rotation" >= 1),
  ADD CONSTRAINT "rounds_currency_check" CHECK ("currency" ~ '^[A-Z]{3}$'),
  ADD CONSTRAINT "rounds_contribution_amount_minor_check" CHECK ("contribution_amount_minor" > 0),
  ADD CONSTRAINT "rounds_version_check" CHECK ("version" >= 0);

ALTER TABLE "contributions"
  ADD CONSTRAINT "contributions_currency_check" CHECK ("currency" ~ '^[A-Z]{3}$'),
  ADD CONSTRAINT "contributions_amount_minor_check" CHECK ("amount_minor" > 0),
  ADD CONSTRAINT "contributions_attempts_count_check" CHECK ("attempts_count" >= 0),
  ADD CONSTRAINT "contributions_version_check" CHECK ("version" >= 0);

ALTER TABLE "contribution_attempts"
  ADD CONSTRAINT "contribution_attempts_attempt_check" CHECK ("attempt" >= 1),
  ADD CONSTRAINT "contribution_attempts_currency_check" CHECK ("currency" ~ '^[A-Z]{3}$'),
  ADD CONSTRAINT "contribution_attempts_amount_minor_check" CHECK ("amount_minor" > 0),
  ADD CONSTRAINT "contribution_attempts_version_check" CHECK ("version" >= 0);

ALTER TABLE "payout_transfers"
  ADD CONSTRAINT "payout_transfers_currency_check" CHECK ("currency" ~ '^[A-Z]{3}$'),
  ADD CONSTRAINT "payout_transfers_amount_minor_check" CHECK ("amount_minor" > 0),
  ADD CONSTRAINT "payout_transfers_reversed_amount_minor_check"
    CHECK ("reversed_amount_minor" >= 0 AND "reversed_amount_minor" <= "amount_minor"),
  ADD CONSTRAINT "payout_transfers_version_check" CHECK ("version" >= 0);

ALTER TABLE "refunds"
  ADD CONSTRAINT "refunds_currency_check" CHECK ("currency" ~ '^[A-Z]{3}$'),
  ADD CONSTRAINT "refunds_amount_minor_check" CHECK ("amount_minor" > 0),
  ADD CONSTRAINT "refunds_version_check" CHECK ("version" >= 0);

ALTER TABLE "disputes"
  ADD CONSTRAINT "disputes_currency_check" CHECK ("currency" ~ '^[A-Z]{3}$'),
  ADD CONSTRAINT "disputes_amount_minor_check" CHECK ("amount_minor" > 0),
  ADD CONSTRAINT "disputes_version_check" CHECK ("version" >= 0);

ALTER TABLE "ledger_accounts"
  ADD CONSTRAINT "ledger_accounts_currency_check" CHECK ("currency" ~ '^[A-Z]{3}$'),
  ADD CONSTRAINT "ledger_accounts_version_check" CHECK ("version" >= 0);

ALTER TABLE "ledger_postings"
  ADD CONSTRAINT "ledger_postings_amount_minor_check" CHECK ("amount_minor" > 0);

ALTER TABLE "outbox_effects"
  ADD CONSTRAINT "outbox_effects_attempts_check" CHECK ("attempts" >= 0),
  -- A lease has an owner and an end, or neither.
  ADD CONSTRAINT "outbox_effects_claim_check" CHECK (("claimed_by" IS NULL) = ("claimed_until" IS NULL));

ALTER TABLE "webhook_events"
  ADD CONSTRAINT "webhook_events_attempts_check" CHECK ("attempts" >= 0),
  ADD CONSTRAINT "webhook_events_claim_check" CHECK (("claimed_by" IS NULL) = ("claimed_until" IS NULL));

ALTER TABLE "support_tickets"
  ADD CONSTRAINT "support_tickets_version_check" CHECK ("version" >= 0);

ALTER TABLE "idempotency_keys"
  ADD CONSTRAINT "idempotency_keys_response_check"
    CHECK ("status" <> 'completed' OR "response_status" BETWEEN 100 AND 599);

-- ─── Append-only tables ─────────────────────────────────────────────────────
-- The ledger and the audit log are history: a correction is a new entry, never an
-- edit. The database refuses UPDATE, DELETE and TRUNCATE so no code path can rewrite
-- history by mistake. Prisma reports these as P2039 with the SQLSTATE in
-- meta.driverAdapterError.cause.code.

CREATE FUNCTION "susu_refuse_change_to_append_only"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'SU001';
END;
$$;

CREATE TRIGGER "ledger_transactions_append_only"
  BEFORE UPDATE OR DELETE ON "ledger_transactions"
  FOR EACH ROW EXECUTE FUNCTION "susu_refuse_change_to_append_only"();
CREATE TRIGGER "ledger_transactions_no_truncate"
  BEFORE TRUNCATE ON "ledger_transactions"
  FOR EACH STATEMENT EXECUTE FUNCTION "susu_refuse_change_to_append_only"();

CREATE TRIGGER "ledger_postings_append_only"
  BEFORE UPDATE OR DELETE ON "ledger_postings"
  FOR EACH ROW EXECUTE FUNCTION "susu_refuse_change_to_append_only"();
CREATE TRIGGER "ledger_postings_no_truncate"
  BEFORE TRUNCATE ON "ledger_postings"
  FOR EACH STATEMENT EXECUTE FUNCTION "susu_refuse_change_to_append_only"();

CREATE TRIGGER "audit_log_append_only"
  BEFORE UPDATE OR DELETE ON "audit_log"
  FOR EACH ROW EXECUTE FUNCTION "susu_refuse_change_to_append_only"();
CREATE TRIGGER "audit_log_no_truncate"
  BEFORE TRUNCATE ON "audit_log"
  FOR EACH STATEMENT EXECUTE FUNCTION "susu_refuse_change_to_append_only"();

-- ─── Double entry ───────────────────────────────────────────────────────────
-- Checked at COMMIT (deferred), after all of a transaction's postings are in:
-- every ledger transaction has at least two postings, and in each currency its
-- debits equal its credits. An unbalanced transaction can therefore never be stored.

CREATE FUNCTION "susu_assert_ledger_transaction_balanced"() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  tx_id TEXT;
  postings_count BIGINT;
  unbalanced_currency TEXT;
BEGIN
  IF TG_TABLE_NAME = 'ledger_transactions' THEN
    tx_id := NEW."id";
  ELSE
    tx_id := NEW."transaction_id";
  END IF;
  SELECT count(*) INTO postings_count FROM "ledger_postings" WHERE "transaction_id" = tx_id;
  IF postings_count < 2 THEN
    RAISE EXCEPTION 'ledger transaction % has % posting(s); at least 2 are required', tx_id, postings_count
      USING ERRCODE = 'SU002';
  END IF;
  SELECT "currency" INTO unbalanced_currency
    FROM "ledger_postings"
   WHERE "transaction_id" = tx_id
   GROUP BY "currency"
  HAVING sum(CASE "direction" WHEN 'debit' THEN "amount_minor" ELSE -"amount_minor" END) <> 0
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'ledger transaction % does not balance in %', tx_id, unbalanced_currency
      USING ERRCODE = 'SU002';
  END IF;
  RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER "ledger_transactions_balanced"
  AFTER INSERT ON "ledger_transactions"
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION "susu_assert_ledger_transaction_balanced"();

CREATE CONSTRAINT TRIGGER "ledger_postings_balanced"
  AFTER INSERT ON "ledger_postings"
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION "susu_assert_ledger_transaction_balanced"();
