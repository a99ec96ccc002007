-- The operators' list of dismissed effects (GET /v1/operations/outbox?status=dismissed), in
-- sequence order, through the dismissed rows alone: done effects are kept for ever, and a walk
-- of outbox_effects_sequence_key would read their whole history. The status is written as a
-- literal by the list's SQL (PrismaStore), as for the parked index.

-- CreateIndex
CREATE INDEX "outbox_effects_dismissed_idx" ON "outbox_effects"("sequence") WHERE (status = 'dismissed');
