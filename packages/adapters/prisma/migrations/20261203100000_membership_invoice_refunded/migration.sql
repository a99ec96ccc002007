-- Susu's refund of a membership invoice paid after the membership was canceled before it
-- started gives its revenue back: Dr membership:<s>:paid_in, Cr platform:membership_revenue.

-- AlterEnum
ALTER TYPE "ledger_transaction_kind" ADD VALUE 'membership_invoice_refunded';
