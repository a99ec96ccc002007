-- The claim's index takes the due events' index name back (the schema, the plan tests and
-- the operators' notes know it by it). ALTER INDEX … RENAME takes a SHARE UPDATE EXCLUSIVE
-- lock: reads and writes of webhook_events go on.

-- RenameIndex
ALTER INDEX "webhook_events_claim_walk_idx" RENAME TO "webhook_events_due_idx";
