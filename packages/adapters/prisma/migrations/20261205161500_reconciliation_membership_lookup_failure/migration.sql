-- A charge's or refund's membership invoice that Stripe refused to look up (a 4xx: a restricted
-- key without invoice read access, one bad payment) is stored with why, instead of failing the
-- whole pull: the reconciliation reports it as `membership_lookup_failed`, and the day completes.

-- AlterTable
ALTER TABLE "stripe_balance_transactions" ADD COLUMN "membership_lookup_failure" TEXT;
