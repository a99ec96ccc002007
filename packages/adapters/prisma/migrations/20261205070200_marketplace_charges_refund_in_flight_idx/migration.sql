-- The same partial index as 20261205070100_held_payments_refund_in_flight_idx, for the
-- marketplace charges' refunds still waiting for Stripe's outcome. Built CONCURRENTLY, alone in
-- its file.

-- CreateIndex
CREATE INDEX CONCURRENTLY "marketplace_charges_refund_in_flight_idx" ON "marketplace_charges"("id") WHERE ((snapshot -> 'refunds'::text) @> '[{"status": "requested"}]'::jsonb);
