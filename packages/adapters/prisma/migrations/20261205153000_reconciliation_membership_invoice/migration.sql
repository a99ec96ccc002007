-- The reconciliation compares membership money: a stored balance transaction names the
-- membership invoice its charge paid, or whose charge its refund refunded (susu's refund names
-- it in its `susu_invoice_id` metadata; otherwise it is found through the PaymentIntent's
-- invoice payment, as Stripe Billing's charges carry no susu metadata). Rows pulled before stay
-- null until their period is pulled again.

-- AlterTable
ALTER TABLE "stripe_balance_transactions" ADD COLUMN "membership_invoice_id" TEXT;
