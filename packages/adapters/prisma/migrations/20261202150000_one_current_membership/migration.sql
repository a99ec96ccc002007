-- A person holds at most one current membership: `subscribe` checks with a read, and two
-- concurrent requests both passed it and both created a paid membership. The key makes
-- the second commit fail (a unique violation the store reports as `duplicate`, which
-- `subscribe` answers as `already_subscribed`). Current means what the domain's
-- `isCurrentMembership` says: not canceled, not incomplete_expired, and not a lapse whose
-- Stripe subscription was canceled (`ended_at` set). Written as the schema's `where: raw(…)`
-- so Prisma's differ sees no change.

-- CreateIndex
CREATE UNIQUE INDEX "subscriptions_one_current_per_person_key" ON "subscriptions"("person_id") WHERE (status <> 'canceled' AND status <> 'incomplete_expired' AND (status <> 'lapsed' OR ended_at IS NULL));
