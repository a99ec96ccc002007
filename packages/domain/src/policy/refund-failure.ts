/**
 * What a refund's failure means for the money it was to give back. Stripe sends a refund only
 * to the payment method that was charged, and names why one failed (the Refund's
 * `failure_reason`, the domain's `failureCode`):
 *
 * - `lost_or_stolen_card`, `expired_or_canceled_card`: the card can no longer take money (its
 *   issuer would already have routed a refund to a replacement card if it could). A new refund
 *   goes to the same card and fails the same way, so the money is owed to the customer or
 *   member outside Stripe at once: `pay_outside_stripe`.
 * - anything else (`insufficient_funds`, the platform's balance, which a top-up fixes;
 *   `declined`, `merchant_request`, `unknown`, a canceled refund, a code newer than this
 *   table): a retry may succeed once the cause is fixed, so an admin is asked to retry it:
 *   `retry`. (`charge_for_pending_refund_disputed` is `retry` too: the dispute decides, and
 *   each flow already refuses a retry while a dispute is open and owes the money outside Stripe
 *   once one is lost.)
 */
export type RefundFailureOutcome = "retry" | "pay_outside_stripe";

/** The refund failure reasons after which a new refund to the same payment method fails again. */
export const REFUND_FAILURES_UNREACHABLE: readonly string[] = [
  "lost_or_stolen_card",
  "expired_or_canceled_card",
];

const UNREACHABLE: ReadonlySet<string> = new Set(REFUND_FAILURES_UNREACHABLE);

/** What a refund that failed with `failureCode` leaves to do (see {@link RefundFailureOutcome}). */
export function refundFailureOutcome(failureCode: string | null | undefined): RefundFailureOutcome {
  return failureCode !== null && failureCode !== undefined && UNREACHABLE.has(failureCode)
    ? "pay_outside_stripe"
    : "retry";
}
