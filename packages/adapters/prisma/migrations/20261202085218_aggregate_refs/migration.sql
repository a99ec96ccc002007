-- AlterTable
ALTER TABLE "support_tickets" ADD COLUMN     "aggregate_id" TEXT,
ADD COLUMN     "aggregate_type" TEXT;

-- CreateIndex
CREATE INDEX "support_tickets_aggregate_type_aggregate_id_idx" ON "support_tickets"("aggregate_type", "aggregate_id");

-- ─── Hand-written: stored data in the shape of aggregate references ─────────
-- Effects, timers, notifications and tickets used to name a round (`roundId`); they now
-- name an aggregate (`aggregate`, `aggregateId`), so that aggregates other than the round
-- share them. Effect ids, timer ids and ticket ids do not change (they are idempotency
-- keys). Each statement only touches rows still in the old shape, so the rewrite is
-- idempotent; rows an older process writes after it (a rolling deploy) are read in the new
-- shape by the code (`upgradeOutboxPayload`, `parseTimerJob`, `PrismaSupportDesk`).

-- Tickets: a round's ticket is about that round. `round_id` stays, equal to the
-- aggregate columns, for the release before (it reads and writes only `round_id`).
UPDATE "support_tickets"
   SET "aggregate_type" = 'round', "aggregate_id" = "round_id"
 WHERE "round_id" IS NOT NULL AND "aggregate_type" IS NULL;

ALTER TABLE "support_tickets"
  ADD CONSTRAINT "support_tickets_aggregate_both_or_neither"
    CHECK (("aggregate_type" IS NULL) = ("aggregate_id" IS NULL)),
  ADD CONSTRAINT "support_tickets_round_id_is_the_aggregate"
    CHECK ("round_id" IS NULL OR "aggregate_type" IS NULL
           OR ("aggregate_type" = 'round' AND "aggregate_id" = "round_id"));

-- Outbox payloads (every status: a parked or failed row may be requeued and read again).
-- schedule_timer and open_ticket: `roundId` becomes the aggregate reference (open_ticket
-- keeps its `groupId`).
UPDATE "outbox_effects"
   SET "payload" = ("payload" - 'roundId')
                   || jsonb_build_object('aggregate', 'round', 'aggregateId', "payload" -> 'roundId')
 WHERE "kind" IN ('schedule_timer', 'open_ticket')
   AND "payload" ->> 'roundId' IS NOT NULL
   AND "payload" ->> 'aggregate' IS NULL;

-- notify: `roundId` becomes the aggregate reference; the group audience (`to`: member,
-- admins or all_members) moves inside `{ kind: "group", groupId, members }`.
UPDATE "outbox_effects"
   SET "payload" = ("payload" - 'roundId' - 'groupId' - 'to')
                   || jsonb_build_object(
                        'aggregate', 'round',
                        'aggregateId', "payload" -> 'roundId',
                        'to', jsonb_build_object(
                          'kind', 'group',
                          'groupId', "payload" -> 'groupId',
                          'members', "payload" -> 'to'))
 WHERE "kind" = 'notify'
   AND "payload" ->> 'roundId' IS NOT NULL
   AND "payload" ->> 'aggregate' IS NULL;

-- Timer jobs in pg-boss (schema `pgboss`, queue `round-timer`, which now carries every
-- aggregate's timers): `{ timerId, roundId, timer, attempts? }` gains the aggregate
-- reference. `roundId` is kept: schedulers of the release before read only it (and ignore
-- the rest), and today's code writes it too for a round's timers until the release after.
-- A database where pg-boss never ran has no such table, and nothing to rewrite.
DO $$
BEGIN
  IF to_regclass('pgboss.job') IS NOT NULL THEN
    UPDATE pgboss.job
       SET data = data || jsonb_build_object('aggregate', 'round', 'aggregateId', data -> 'roundId')
     WHERE name = 'round-timer'
       AND data ->> 'roundId' IS NOT NULL
       AND data ->> 'aggregate' IS NULL;
  END IF;
END
$$;
