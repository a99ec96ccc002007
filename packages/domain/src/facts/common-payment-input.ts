import type * as Facts from "../kernel/payment-facts.js";
import type { PaymentObjectFact } from "./payment-fact.js";

/** The payment facts the held payment and the marketplace charge hear alike: refunds, reversals, disputes. */
export type CommonPaymentFactKind =
  | "refund_succeeded"
  | "refund_failed"
  | "transfer_reversed"
  | "transfer_reversal_failed"
  | "dispute_opened"
  | "dispute_updated"
  | "dispute_closed";

/**
 * A common payment fact as the input of the kernel's shared shape (`kernel/payment-facts.ts`),
 * tagged with the input type; an opened dispute's tag is the aggregate's own (`D`).
 */
export type CommonPaymentInput<D extends string> =
  | ({ readonly type: "refund_succeeded" } & Facts.RefundSucceededFact)
  | ({ readonly type: "refund_failed" } & Facts.RefundFailedFact)
  | ({ readonly type: "transfer_reversed" } & Facts.TransferReversedFact)
  | ({ readonly type: "transfer_reversal_failed" } & Facts.TransferReversalFailedFact)
  | ({ readonly type: D } & Facts.DisputeOpenedFact)
  | ({ readonly type: "dispute_updated" } & Facts.DisputeUpdatedFact)
  | ({ readonly type: "dispute_closed" } & Facts.DisputeClosedFact);

/** The input a common fact means, or what its references lack for it (`missing`: the step's numbers). */
export type CommonPaymentRoute<D extends string> =
  | { readonly input: CommonPaymentInput<D> }
  | { readonly missing: string };

/**
 * The input a refund, reversal or dispute fact means to a payment aggregate, from the
 * references its effect wrote: a refund by its number and attempt, a reversal by its
 * number; disputes by their id.
 *
 * @param disputeOpened the aggregate's input type for an opened dispute
 */
export function commonPaymentInput<D extends string>(
  fact: Extract<PaymentObjectFact, { readonly kind: CommonPaymentFactKind }>,
  disputeOpened: D,
): CommonPaymentRoute<D> {
  const r = fact.refs;
  const to = (input: CommonPaymentInput<D>): CommonPaymentRoute<D> => ({ input });
  switch (fact.kind) {
    case "refund_succeeded":
      if (r.refund === undefined || r.attempt === undefined) return { missing: "refund number and attempt" };
      return to({ type: "refund_succeeded", refund: r.refund, attempt: r.attempt, refundId: fact.refundId });
    case "refund_failed":
      if (r.refund === undefined || r.attempt === undefined) return { missing: "refund number and attempt" };
      return to({
        type: "refund_failed",
        refund: r.refund,
        attempt: r.attempt,
        failureCode: fact.failureCode,
      });
    case "transfer_reversed":
      if (r.reversal === undefined) return { missing: "reversal number" };
      return to({
        type: "transfer_reversed",
        reversal: r.reversal,
        transferId: fact.transferId,
        amountMinor: fact.amountMinor,
      });
    case "transfer_reversal_failed":
      if (r.reversal === undefined) return { missing: "reversal number" };
      return to({ type: "transfer_reversal_failed", reversal: r.reversal, failureCode: fact.failureCode });
    case "dispute_opened":
      return to({
        type: disputeOpened,
        disputeId: fact.disputeId,
        amountMinor: fact.amountMinor,
        reason: fact.reason ?? "unknown",
        stripeStatus: fact.status ?? "needs_response",
        ...(fact.evidenceDueBy !== undefined ? { evidenceDueBy: fact.evidenceDueBy } : {}),
      });
    case "dispute_updated":
      return to({
        type: "dispute_updated",
        disputeId: fact.disputeId,
        stripeStatus: fact.status,
        ...(fact.evidenceDueBy !== undefined ? { evidenceDueBy: fact.evidenceDueBy } : {}),
      });
    case "dispute_closed":
      return to({
        type: "dispute_closed",
        disputeId: fact.disputeId,
        outcome: fact.outcome,
        amountMinor: fact.amountMinor,
      });
  }
}
