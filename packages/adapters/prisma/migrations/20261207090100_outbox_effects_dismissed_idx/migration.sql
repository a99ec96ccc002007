-- The operators' list of dismissed effects (GET /v1/operations/outbox?status=dismissed), in
-- sequence order, through the dismissed rows alone: done effects are kept for ever, and a walk
-- of outbox_effects_sequence_key would read their whole history. The status is written as a
-- literal by the list's SQL (PrismaStore), as for the parked index.
-- Built CONCURRENTLY, alone in its file (it cannot run inside a transaction), as
-- 20261205060000_groups_due_walk_idx: outbox_effects keeps every effect, and a plain build
-- would block every insert, claim and completion for as long as it reads them. A build that
-- fails leaves an INVALID index of this name: drop it, mark the migration rolled back, and
-- migrate again.

-- CreateIndex
CREATE INDEX CONCURRENTLY "outbox_effects_dismissed_idx" ON "outbox_effects"("sequence") WHERE (status = 'dismissed');
