-- A person's customer_requested_at: when a Stripe customer was first asked for them, recorded
-- before the request is sent. A request with none recorded is the first, so the payment gateway
-- makes the customer under its idempotency key without first listing customers; a later one is
-- a retry, and looks only once Stripe may have forgotten the key. A nullable column without a
-- default: no table rewrite.
ALTER TABLE "people" ADD COLUMN IF NOT EXISTS "customer_requested_at" TIMESTAMPTZ(3);

-- People stored before this column whose customer is not recorded may have had a request sent
-- whose answer was lost: their next request must look for that customer, never further back
-- than the person's creation.
UPDATE "people" SET "customer_requested_at" = "created_at" WHERE "stripe_customer_id" IS NULL;
