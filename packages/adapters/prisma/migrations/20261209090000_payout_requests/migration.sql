-- Payout requests: a payout susu asks Stripe for is stored before it is asked, so a payout
-- whose answer and every payout.* event were lost is still known (the payout recheck looks
-- each `asked` one up at Stripe by its key). A new table: nothing existing is read or locked.

-- CreateEnum
CREATE TYPE "payout_request_status" AS ENUM ('asked', 'made', 'refused', 'not_made');

-- CreateTable
CREATE TABLE "payout_requests" (
    "key" TEXT NOT NULL,
    "account_id" TEXT NOT NULL,
    "person_id" TEXT NOT NULL,
    "amount_minor" BIGINT NOT NULL,
    "currency" CHAR(3) NOT NULL,
    "run_id" TEXT,
    "status" "payout_request_status" NOT NULL,
    "payout_id" TEXT,
    "asked_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "payout_requests_pkey" PRIMARY KEY ("key")
);

-- CreateIndex
CREATE INDEX "payout_requests_status_key_idx" ON "payout_requests"("status", "key");

-- CreateIndex
CREATE INDEX "payout_requests_person_id_idx" ON "payout_requests"("person_id");

-- AddForeignKey
ALTER TABLE "payout_requests" ADD CONSTRAINT "payout_requests_person_id_fkey" FOREIGN KEY ("person_id") REFERENCES "people"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Hand-written: a request asks for a positive amount; only a made one names Stripe's payout.
ALTER TABLE "payout_requests"
  ADD CONSTRAINT "payout_requests_amount_positive" CHECK ("amount_minor" > 0),
  ADD CONSTRAINT "payout_requests_currency_upper" CHECK ("currency" = upper("currency")),
  ADD CONSTRAINT "payout_requests_payout_only_when_made" CHECK ("payout_id" IS NULL OR "status" = 'made');
