-- The outbox dispatcher runs effects of different aggregates in parallel and one aggregate's
-- one at a time: a claim skips every aggregate that has a pending effect under a live lease.
-- That check looks up an aggregate's pending rows; this index keeps it off the done rows.
CREATE INDEX "outbox_effects_pending_aggregate_idx" ON "outbox_effects" ("aggregate_type", "aggregate_id") WHERE status = 'pending';

-- Dispatchers sleep between polls; a notification on 'susu_outbox' wakes them when effects
-- are committed. Once per INSERT statement, not per row, and PostgreSQL delivers identical
-- notifications of one transaction once, at its commit (none if it rolls back).
CREATE FUNCTION susu_notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('susu_outbox', '');
  RETURN NULL;
END
$$;

CREATE TRIGGER outbox_effects_notify
  AFTER INSERT ON "outbox_effects"
  FOR EACH STATEMENT EXECUTE FUNCTION susu_notify_outbox();
