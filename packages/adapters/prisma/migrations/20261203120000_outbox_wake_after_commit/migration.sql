-- The dispatchers are woken after a commit of outbox effects by the writer itself (a
-- `pg_notify` statement of its own, see WakeNotifier in packages/adapters), no longer by a
-- NOTIFY inside the writing transaction: PostgreSQL holds one database-wide lock from a
-- notifying transaction's commit until its commit is flushed, so every such commit waited
-- for the previous one's disk write, and commits no longer shared flushes.
DROP TRIGGER IF EXISTS outbox_effects_notify ON "outbox_effects";
DROP FUNCTION IF EXISTS susu_notify_outbox();
