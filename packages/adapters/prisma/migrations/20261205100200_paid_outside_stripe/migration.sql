-- Money owed outside Stripe, recorded paid by an admin (a bank transfer, cash): Dr
-- <agg>:paid_outside_stripe, Cr <agg>:owed_to_customer (held payments, marketplace charges)
-- or round:<r>:paid_outside_stripe:<m>, Cr round:<r>:owed_to_member:<m> (rounds). The money
-- left the platform outside Stripe: reconciliation matches nothing at Stripe for it.
ALTER TYPE "ledger_transaction_kind" ADD VALUE 'held_paid_outside_stripe';
ALTER TYPE "ledger_transaction_kind" ADD VALUE 'marketplace_paid_outside_stripe';
ALTER TYPE "ledger_transaction_kind" ADD VALUE 'contribution_paid_outside_stripe';
