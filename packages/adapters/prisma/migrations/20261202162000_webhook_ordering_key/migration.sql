-- The webhook processor works events in parallel, keeping the events about one payment or
-- aggregate in order: the ingest stores each event's ordering key (susu's aggregate id from
-- the object's metadata, else the PaymentIntent, else the object), and a claim hands out no
-- key another live claim holds. Rows stored before this migration keep a null key and are
-- each their own key (the claim's fallback), so no backfill is needed; finished rows are
-- never claimed again anyway.

-- AlterTable
ALTER TABLE "webhook_events" ADD COLUMN     "ordering_key" TEXT;

-- CreateIndex
CREATE INDEX "webhook_events_claimed_key_idx" ON "webhook_events"("ordering_key", "claimed_until") WHERE (claimed_by IS NOT NULL);
