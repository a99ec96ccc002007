-- An operator's correction of the ledger (POST /v1/operations/ledger/adjustments): a balanced
-- transaction of postings they chose, with who, why and the ticket it answers in its refs
-- (and the audit log). No Stripe object moves money for it: reconciliation compares it only
-- under the category and key the operator gave, otherwise it stays inside susu.

-- AlterEnum
ALTER TYPE "ledger_transaction_kind" ADD VALUE 'manual_adjustment';
