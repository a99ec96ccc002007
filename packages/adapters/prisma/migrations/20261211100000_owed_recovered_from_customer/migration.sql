-- Money a customer got twice (a lost dispute's bank gave back what an admin had already paid
-- them outside Stripe), recovered from them outside Stripe and recorded by an admin:
-- held_recovered_from_customer / marketplace_recovered_from_customer, Dr
-- <agg>:owed_by_customer, Cr <agg>:paid_outside_stripe (the payment outside Stripe in reverse).
-- The recoveries themselves live in the payment's snapshot (`owedRecoveries`). Rows posted
-- before are unchanged.

-- AlterEnum
ALTER TYPE "ledger_transaction_kind" ADD VALUE 'held_recovered_from_customer';
ALTER TYPE "ledger_transaction_kind" ADD VALUE 'marketplace_recovered_from_customer';
