-- The due groups' old index (by next_round_at alone), replaced by
-- groups_due_for_round_walk_idx (see 20261205060000_groups_due_walk_idx), which serves every
-- query it served. Dropped CONCURRENTLY (alone in its file), so it waits for the
-- transactions using it instead of blocking the table.

-- DropIndex
DROP INDEX CONCURRENTLY "groups_due_for_round_idx";
