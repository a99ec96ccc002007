-- A membership invoice's charge refunded outside susu (Stripe's dashboard) or disputed, resolved
-- to its invoice through Stripe's invoice payments, is booked with the membership's accounts:
-- membership_refunded_outside_susu (Dr membership:<s>:paid_in / Cr platform:membership_revenue,
-- as susu's own refund), membership_outside_refund_failed (its reverse, when Stripe fails that
-- refund after its success), membership_dispute_lost (Dr membership:<s>:dispute_losses / Cr
-- platform:membership_revenue) and membership_dispute_reinstated (its reverse, a dispute won).

-- AlterEnum
ALTER TYPE "ledger_transaction_kind" ADD VALUE 'membership_refunded_outside_susu';
ALTER TYPE "ledger_transaction_kind" ADD VALUE 'membership_outside_refund_failed';
ALTER TYPE "ledger_transaction_kind" ADD VALUE 'membership_dispute_lost';
ALTER TYPE "ledger_transaction_kind" ADD VALUE 'membership_dispute_reinstated';
