-- The due-round cron pages through every due group (findGroupsDueForRound with a cursor:
-- `(next_round_at, id) > (last page's last group)`, ORDER BY next_round_at, id), so that
-- groups that stay due because their members are not ready cannot hold back the groups due
-- after them. groups_due_for_round_idx held the due groups by next_round_at alone: the
-- cursor's id part was a filter, so a page re-read every group sharing its next_round_at
-- (groups started on the same hour keep sharing it round after round) and sorted them.
--
-- This index holds them in the cursor's order, with the same predicate: a page starts at
-- the cursor in the index and stops at its LIMIT.
--
-- Three migrations, as 20261204183000_webhook_claim_walk_idx, so that no step blocks the
-- table: this one builds the index CONCURRENTLY (alone in its file: it cannot run inside a
-- transaction); the next drops the old index CONCURRENTLY; the last gives this one the old
-- name. A build that fails leaves an INVALID index of this name behind and this migration
-- recorded as failed: drop the index, mark the migration rolled back (rolled_back_at set on
-- its _prisma_migrations row, as `prisma migrate resolve --rolled-back` does), and migrate
-- again.

-- CreateIndex
CREATE INDEX CONCURRENTLY "groups_due_for_round_walk_idx" ON "groups"("next_round_at", "id") WHERE (status = 'active' AND current_round_id IS NULL);
