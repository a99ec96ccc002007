import { refundFailureOutcome } from "../policy/refund-failure.js";

// Why a payment aggregate's refund is owed to the customer outside Stripe, said once for the
// held payment and the marketplace charge: their ledger's `refs`, their notices' data and
// their `refund_owed` ticket name it the same way.

/**
 * Why a refund is owed outside Stripe rather than asked of Stripe:
 * - `dispute_lost`: the charge was charged back by dispute `disputeId`, and Stripe refuses
 *   every refund of such a charge (`charge_disputed`);
 * - `refund_unreachable`: Stripe failed the refund (`failureCode`, one that
 *   `refundFailureOutcome` says a retry cannot fix: the card is lost, stolen, expired or
 *   canceled), after it had succeeded when `afterSuccess`; Stripe refunds only to the payment
 *   method charged, so a new refund would fail again.
 */
export type OwedCause =
  | { readonly kind: "dispute_lost"; readonly disputeId: string }
  | {
      readonly kind: "refund_unreachable";
      readonly failureCode: string;
      readonly afterSuccess: boolean;
      /** Stripe's refund that failed, when susu heard its id. */
      readonly refundId?: string;
    };

/** What the owed posting's `refs` name: the lost dispute, or the refund that failed and why. */
export function owedCauseRefs(cause: OwedCause): Readonly<Record<string, string>> {
  if (cause.kind === "dispute_lost") return { disputeId: cause.disputeId };
  return {
    failureCode: cause.failureCode,
    ...(cause.refundId !== undefined ? { refundId: cause.refundId } : {}),
  };
}

/** What the owed notices (to the admins and the customer) carry of the cause. */
export function owedCauseData(cause: OwedCause): Readonly<Record<string, string>> {
  return cause.kind === "dispute_lost" ? { disputeId: cause.disputeId } : { failureCode: cause.failureCode };
}

/** Why Stripe cannot be asked, as the `refund_owed` ticket says it (`chargeId`: the charge refunded). */
export function owedCauseSummary(cause: OwedCause, chargeId: string | undefined): string {
  if (cause.kind === "dispute_lost")
    return `dispute ${cause.disputeId} was lost, and Stripe refuses every refund of charge ${chargeId ?? "?"} (charge_disputed)`;
  return `Stripe failed the refund${cause.refundId !== undefined ? ` ${cause.refundId}` : ""}${
    cause.afterSuccess ? " after it had succeeded" : ""
  } (${cause.failureCode}): the card can no longer take money, and Stripe refunds only to the card charged (${chargeId ?? "?"}), so a new refund would fail too`;
}

/** What a failed refund's decision knows when it asks whether the refund is owed outside Stripe. */
export interface FailedRefundFacts {
  /** The payment's lost dispute, if one was lost. */
  readonly lostDisputeId: string | undefined;
  /** Whether the refund's money is still booked as given back (then it is not owed again). */
  readonly ledgerPosted: boolean;
  readonly failureCode: string;
  /** Whether Stripe failed it after it had succeeded. */
  readonly afterSuccess: boolean;
  readonly refundId: string | undefined;
}

/**
 * Why a refund Stripe failed is owed outside Stripe, or undefined when it is to be retried:
 * a charge charged back refuses every refund (`dispute_lost`); a card that can no longer take
 * money fails every new refund (`refund_unreachable`, {@link refundFailureOutcome}). A refund
 * still booked as given back owes nothing more.
 */
export function owedCauseOfFailedRefund(f: FailedRefundFacts): OwedCause | undefined {
  if (f.ledgerPosted) return undefined;
  if (f.lostDisputeId !== undefined) return { kind: "dispute_lost", disputeId: f.lostDisputeId };
  if (refundFailureOutcome(f.failureCode) !== "pay_outside_stripe") return undefined;
  return {
    kind: "refund_unreachable",
    failureCode: f.failureCode,
    afterSuccess: f.afterSuccess,
    ...(f.refundId !== undefined ? { refundId: f.refundId } : {}),
  };
}
