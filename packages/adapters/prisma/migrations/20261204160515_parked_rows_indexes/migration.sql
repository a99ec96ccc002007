-- The parked rows of the outbox and of the webhook inbox, through partial indexes that hold
-- them alone. Done effects and finished events are never deleted, and the depth gauges
-- (susu_outbox_effects, susu_webhook_events: read on every scrape) counted `status <> 'done'`
-- and `status IN ('received', 'failed', 'parked')`, which no index served: each scrape
-- scanned the whole of both tables, a cost that grew with the history. Pending effects and
-- received or failed events already have partial indexes (outbox_effects_due_idx,
-- webhook_events_due_idx); parked rows had none, and the operators' lists of parked rows
-- (GET /v1/operations/outbox, /webhook-events?status=parked) sorted a scan of the table too.
-- A row gets an entry only when it is parked, so the hot path writes nothing more.

-- CreateIndex
CREATE INDEX "outbox_effects_parked_idx" ON "outbox_effects"("sequence") WHERE (status = 'parked');

-- CreateIndex
CREATE INDEX "webhook_events_parked_idx" ON "webhook_events"("received_at", "id") WHERE (status = 'parked');
