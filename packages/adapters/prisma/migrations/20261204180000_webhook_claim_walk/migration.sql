-- The webhook processor's claim (WEBHOOK_CLAIM_SQL) hands out the due events oldest Stripe
-- event first (stripe_created_at, received_at, id), up to a limit. webhook_events_due_idx
-- held the due rows by next_attempt_at, an order the claim does not use: every claim read
-- the row of EVERY due event (and of their dead versions: updates of this table are never
-- HOT), sorted them all and kept the first few, so its cost grew with the backlog, and grew
-- exactly when events pile up (a claim of 100 among 5,000 due events: 4,966 shared buffers
-- before, 298 after, test/webhooks/claim-walk.test.ts).
--
-- The index is rebuilt on the claim's order, same name and same predicate: the claim walks
-- it in ORDER BY order and stops at its LIMIT, reading only the rows it returns and those
-- it must pass (leased, of a leased key). next_attempt_at comes last, after the unique id,
-- so it orders nothing: the claim's `next_attempt_at <= now` is checked in the index, and a
-- failed event waiting for its retry is passed without reading its row. The old index is
-- dropped rather than kept beside it: every ingest insert and every claim or result update
-- writes an entry in each index of this table. The depth gauge (WEBHOOK_DEPTH_SQL) and the
-- oldest unprocessed event (OLDEST_UNPROCESSED_WEBHOOK_SQL) need only the predicate, which
-- is unchanged; the latter now reads received_at from the index alone.
--
-- CREATE INDEX (not CONCURRENTLY: a migration is one transaction) holds off writes to
-- webhook_events while it reads the table once.

-- DropIndex
DROP INDEX "webhook_events_due_idx";

-- CreateIndex
CREATE INDEX "webhook_events_due_idx" ON "webhook_events"("stripe_created_at", "received_at", "id", "next_attempt_at") WHERE (status = 'received' OR status = 'failed');
