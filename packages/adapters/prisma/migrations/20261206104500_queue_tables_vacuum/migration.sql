-- The webhook inbox, the outbox and the notification deliveries are queues whose rows are kept
-- after they are worked. Each row worked leaves entries in the partial indexes of the rows
-- still to work (webhook_events_due_idx and webhook_events_claimed_key_idx,
-- outbox_effects_due_idx and outbox_effects_pending_aggregate_idx,
-- notification_deliveries_due_idx) until a vacuum removes them, and every claim walks over
-- them: an index scan marks such an entry on its first visit and steps over it after that, but
-- still reads its page. With PostgreSQL's default, autovacuum waits until a fifth of a table's
-- rows are dead (autovacuum_vacuum_scale_factor 0.2), a wait that grows with the rows kept for
-- ever. Measured on 2026-12-06 (a throw-away script, 300,000 events kept, embedded PostgreSQL
-- 17): 20,000 events worked since the last vacuum, and a claim read 46,019 buffers (25 ms) the
-- first time and 653 every time after; vacuumed (56 ms), 21.
--
-- So these tables are vacuumed after 10,000 dead rows (about 5,000 events, or effects, or
-- deliveries) whatever their size, at most once per autovacuum_naptime (a minute by default),
-- and their indexes are always cleaned: PostgreSQL otherwise skips the index pass when the dead
-- rows sit on under 2% of a table's pages, which on a large inbox would be every time.
--
-- Set here, not in schema.prisma: Prisma's schema has no storage parameters and its differ ignores them.
ALTER TABLE "webhook_events" SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000, vacuum_index_cleanup = on);
ALTER TABLE "outbox_effects" SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000, vacuum_index_cleanup = on);
ALTER TABLE "notification_deliveries" SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000, vacuum_index_cleanup = on);
