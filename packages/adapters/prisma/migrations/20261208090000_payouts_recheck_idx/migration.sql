-- The payout recheck (useCases.recheckPayouts: payouts pending or in transit, and paid ones
-- whose arrival date is recent) through (status, arrival_date), without reading the paid
-- payouts of the past.
-- Built CONCURRENTLY, alone in its file (it cannot run inside a transaction), as
-- 20261207090100_outbox_effects_dismissed_idx: a plain build would block the webhook
-- processor's writes of payouts for as long as it reads them. A build that fails leaves an
-- INVALID index of this name: drop it, mark the migration rolled back, and migrate again.

-- CreateIndex
CREATE INDEX CONCURRENTLY "payouts_status_arrival_date_idx" ON "payouts"("status", "arrival_date");
