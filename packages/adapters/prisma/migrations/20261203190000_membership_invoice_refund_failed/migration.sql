-- A refund of a membership invoice that Stripe failed after it had succeeded (a card or bank
-- account that could not take it) reverses the refunded posting: Dr
-- platform:membership_revenue, Cr membership:<s>:paid_in. The platform holds the money again.

-- AlterEnum
ALTER TYPE "ledger_transaction_kind" ADD VALUE 'membership_invoice_refund_failed';
