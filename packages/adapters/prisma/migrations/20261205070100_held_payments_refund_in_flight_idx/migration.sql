-- The refund-outcome gauge (susu_refund_outcome_oldest_seconds, alert SusuRefundOutcomeOverdue)
-- reads the held payments with a refund asked of Stripe whose outcome susu has not heard
-- (`status: "requested"` in the snapshot's refunds). They are few at any time, and they can be
-- in any status (a refund after the release leaves the payment `released`, which grows with
-- the history), so a partial index on that predicate keeps the read's cost to the open rows.
-- Built CONCURRENTLY, alone in its file (it cannot run inside a transaction), as
-- 20261205060000_groups_due_walk_idx. A build that fails leaves an INVALID index of this
-- name: drop it, mark the migration rolled back, and migrate again.

-- CreateIndex
CREATE INDEX CONCURRENTLY "held_payments_refund_in_flight_idx" ON "held_payments"("id") WHERE ((snapshot -> 'refunds'::text) @> '[{"status": "requested"}]'::jsonb);
