-- The due events' old index (by next_attempt_at), replaced by webhook_events_claim_walk_idx
-- (see 20261204183000_webhook_claim_walk_idx). Every ingest insert and every claim or result
-- update of this table writes an entry in each of its indexes, so it is not kept beside the
-- new one: the depth gauge (WEBHOOK_DEPTH_SQL) and the oldest unprocessed event
-- (OLDEST_UNPROCESSED_WEBHOOK_SQL) need only the predicate, which is the same. Dropped
-- CONCURRENTLY (alone in its file), so it waits for the transactions using it instead of
-- blocking the table.

-- DropIndex
DROP INDEX CONCURRENTLY "webhook_events_due_idx";
