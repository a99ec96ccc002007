-- Fewer index entries written per webhook event (bench/webhook-costs.ts: PostgreSQL's CPU
-- and buffers per event). Every row an event inserts, and every non-HOT update, adds an entry
-- to each index of its table; these indexes had no reader, or entries nothing looks up:
-- * audit_log_aggregate_type_aggregate_id_occurred_at_idx: the API reads an aggregate's lines
--   by id (audit_log_aggregate_type_aggregate_id_id_idx); the only readers by time (the outbox
--   claim and a restore: the earliest `database`/`outbox` line) read one aggregate's handful
--   of lines through that same index.
-- * audit_log_correlation_id_idx: nothing writes correlation_id, so it held a NULL for every
--   line; now only the lines that have one.
-- * ledger_transactions_round_id_idx: only a round's transactions have a round_id; the
--   others (held payments, marketplace charges, memberships) are left out.
-- * outbox_effects_aggregate_type_aggregate_id_sequence_idx: no query reads it (the claim's
--   per-aggregate check uses outbox_effects_pending_aggregate_idx).
-- No unique key changes. outbox_effects also gets free space on its pages (fillfactor, new
-- pages only) so that a claim (claimed_by, claimed_until: no index has them) can keep the
-- row's new version on its page, a HOT update that writes no index entry.

-- DropIndex
DROP INDEX "audit_log_aggregate_type_aggregate_id_occurred_at_idx";

-- DropIndex
DROP INDEX "audit_log_correlation_id_idx";

-- DropIndex
DROP INDEX "ledger_transactions_round_id_idx";

-- DropIndex
DROP INDEX "outbox_effects_aggregate_type_aggregate_id_sequence_idx";

-- CreateIndex
CREATE INDEX "audit_log_correlation_id_idx" ON "audit_log"("correlation_id") WHERE (correlation_id IS NOT NULL);

-- CreateIndex
CREATE INDEX "ledger_transactions_round_id_idx" ON "ledger_transactions"("round_id") WHERE (round_id IS NOT NULL);

-- Set here, not in schema.prisma: Prisma's schema has no storage parameters and its differ ignores them.
ALTER TABLE "outbox_effects" SET (fillfactor = 70);
