-- A held payment's refund that a lost dispute superseded, asked before the release went as far
-- as it has (the release set aside and transferred the seller's share net of it, and earned the
-- fee net of it): when the loss is booked, its money moves to where the payment keeps it now —
-- held_refund_superseded, between the payment's own accounts (holding -> earmarked: Dr
-- seller_payable, fees / Cr hold; holding -> transferred: Dr fees / Cr hold; earmarked ->
-- transferred: Dr hold / Cr seller_payable). Rows posted before are unchanged.

-- AlterEnum
ALTER TYPE "ledger_transaction_kind" ADD VALUE 'held_refund_superseded';
