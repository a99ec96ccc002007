-- The walk index takes the due groups' index name back (the schema, the plan test and the
-- operators' notes know it by it). ALTER INDEX … RENAME takes a SHARE UPDATE EXCLUSIVE
-- lock: reads and writes of groups go on.

-- RenameIndex
ALTER INDEX "groups_due_for_round_walk_idx" RENAME TO "groups_due_for_round_idx";
