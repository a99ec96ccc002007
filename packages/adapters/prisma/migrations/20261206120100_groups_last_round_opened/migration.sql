-- Groups keep when their last round opened (the domain's Group.lastRoundOpenedAt): the next
-- round opens no sooner than one cadence (less an hour's slack) after it, so rounds that ran
-- late (a pause, a blocked payout) no longer open the ones after them back to back. Groups
-- stored before it was kept get it from their rounds, and their next_round_at moves as the
-- domain's nextRoundOpensAt now computes it (every group's schedule is in UTC here: a
-- month after 31 January is 28/29 February, as PostgreSQL adds a month). A group whose
-- snapshot already has it is left alone.
WITH last_opened AS (
  SELECT group_id, max(opened_at) AS opened_at
  FROM rounds
  WHERE opened_at IS NOT NULL
  GROUP BY group_id
)
UPDATE groups AS g
SET snapshot = jsonb_set(
      g.snapshot::jsonb,
      '{lastRoundOpenedAt}',
      to_jsonb((extract(epoch FROM l.opened_at) * 1000)::bigint)
    ),
    next_round_at = GREATEST(
      g.next_round_at,
      CASE g.cadence
        WHEN 'weekly' THEN l.opened_at + interval '7 days'
        WHEN 'fortnightly' THEN l.opened_at + interval '14 days'
        ELSE ((l.opened_at AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC'
      END - interval '1 hour'
    )
FROM last_opened AS l
WHERE l.group_id = g.id
  AND NOT (g.snapshot::jsonb ? 'lastRoundOpenedAt');
