-- A held payment's or a marketplace charge's refund that Stripe failed after its success (the
-- refund object moves succeeded -> failed; the money is back on the platform's balance) has its
-- posting undone: held_refund_failed (Dr where the refund took it from / Cr held:<p>:refunds)
-- and marketplace_refund_failed (Dr in_flight, fees, platform_funded / Cr
-- marketplace:<c>:refunds). Rows posted before keep their kinds (such a refund stayed booked as
-- refunded).

-- AlterEnum
ALTER TYPE "ledger_transaction_kind" ADD VALUE 'held_refund_failed';
ALTER TYPE "ledger_transaction_kind" ADD VALUE 'marketplace_refund_failed';
