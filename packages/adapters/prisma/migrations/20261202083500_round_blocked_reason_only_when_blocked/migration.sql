-- Rounds stored before `cancellationReason` existed kept the reason for cancelling in
-- `blocked_reason`. Their snapshots are read in today's shape, but an ended round is never
-- saved again, so its projection kept the old value. `blocked_reason` describes a payout
-- block only: clear it on every round that is not blocked.
UPDATE "rounds" SET "blocked_reason" = NULL
WHERE "state" <> 'payout_blocked' AND "blocked_reason" IS NOT NULL;
