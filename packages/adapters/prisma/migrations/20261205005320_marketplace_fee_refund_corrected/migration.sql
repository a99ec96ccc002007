-- A destination charge's fee refund booked when its refund succeeded (susu's prediction of
-- Stripe's proportional share) is booked again at the figure Stripe reported in its
-- application_fee_refund: the difference moves between marketplace:<c>:seller:<s> and
-- marketplace:<c>:fees (Dr seller, Cr fees when Stripe gave back more; Dr fees, Cr seller
-- when less), so the seller's account matches the connected account's balance at Stripe.

-- AlterEnum
ALTER TYPE "ledger_transaction_kind" ADD VALUE 'marketplace_application_fee_refund_corrected';
