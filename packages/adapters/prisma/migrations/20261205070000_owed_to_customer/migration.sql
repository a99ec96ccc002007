-- The rest of a refund a lost dispute superseded, which Stripe refuses to refund
-- (`charge_disputed`), is booked as owed to the customer outside Stripe: Dr
-- held:<p>:owed_to_customer (or marketplace:<c>:owed_to_customer), Cr where the money was.

-- AlterEnum
ALTER TYPE "ledger_transaction_kind" ADD VALUE 'held_owed_to_customer';
ALTER TYPE "ledger_transaction_kind" ADD VALUE 'marketplace_owed_to_customer';
