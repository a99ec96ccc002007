-- How many runs of an effect the provider refused for good, each then parked. Stripe keeps a
-- refusal under its idempotency key (a 400 is answered again to the same key for 24 hours), so
-- a requeued effect's run keys its provider calls `<effect id>:refused:<n>`: the refused call
-- made nothing, and the old key would only replay the refusal. Existing rows: none counted
-- (their requeues go under the effect's own key, as before).
ALTER TABLE "outbox_effects" ADD COLUMN "refusals" INTEGER NOT NULL DEFAULT 0;
