-- Payout pauses: an operator pauses payouts for the whole platform or one seller (person), and
-- resumes them; the payout run and an admin's payout read them. A new table: nothing existing
-- is read or locked.

-- CreateTable
CREATE TABLE "payout_pauses" (
    "scope" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "paused_by" TEXT NOT NULL,
    "paused_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "payout_pauses_pkey" PRIMARY KEY ("scope")
);

-- Hand-written: a scope is the platform's or a person's; a pause says why.
ALTER TABLE "payout_pauses"
  ADD CONSTRAINT "payout_pauses_scope_shape" CHECK ("scope" = 'platform' OR "scope" LIKE 'person:_%'),
  ADD CONSTRAINT "payout_pauses_reason_present" CHECK (length("reason") BETWEEN 1 AND 500);
