-- A round's money owed to a member outside Stripe (the rest of a contribution disputed in
-- part; Stripe refuses a refund of a disputed charge, `charge_disputed`) has its own account:
-- Dr round:<r>:owed_to_member:<m>, Cr round:<r>:pot. A contribution's refund that Stripe
-- failed after its success is reversed when the member then disputes the charge:
-- Dr round:<r>:pot, Cr round:<r>:refunds:<m>. Rows posted before keep their kinds (the rest
-- booked as contribution_refunded under <round>:dispute:<d>:rest_owed).

-- AlterEnum
ALTER TYPE "ledger_transaction_kind" ADD VALUE 'contribution_refund_failed';
ALTER TYPE "ledger_transaction_kind" ADD VALUE 'contribution_owed_to_member';
