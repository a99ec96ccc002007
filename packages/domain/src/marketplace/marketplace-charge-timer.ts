/** The timers a marketplace charge sets; one that fires when it no longer applies is ignored. */
export type MarketplaceChargeTimer =
  /** A seller's transfer failed for a retryable reason: try attempt `attempt` of it. */
  | { readonly kind: "retry_transfer"; readonly sellerId: string; readonly attempt: number }
  /**
   * The payment has waited for the customer's action (`requires_action`) for the policy's time,
   * in its wait number `wait` (absent: 1; each time the payment moves into `requires_action`
   * from another status is a new wait, with the policy's whole time): it expires. A timer of an
   * earlier wait is ignored.
   */
  | { readonly kind: "action_expired"; readonly wait?: number }
  /**
   * The expiry of wait `wait` (absent: 1) asked Stripe to cancel the PaymentIntent
   * `CHECKOUT_EXPIRY_RECHECK_MS` before (or the previous recheck did) and the charge still waits
   * for Stripe's word: ask again, as ask number `ask` (the expiry's is 1), up to
   * `CHECKOUT_EXPIRY_ASKS_MAX`; the recheck after the last opens a ticket instead. A recheck of
   * an earlier wait than the payment's is ignored.
   */
  | { readonly kind: "cancel_recheck"; readonly ask: number; readonly wait?: number }
  /**
   * Attempt `attempt` of refund `refund` was asked of Stripe `REFUND_OUTCOME_OVERDUE_MS` ago
   * (look-up `lookup`, absent: 1), or the previous look-up found it still pending
   * `REFUND_OUTCOME_RECHECK_MS` ago: still `requested` (Stripe left it pending, or its news was
   * lost), susu asks Stripe for it (`find_refund`).
   */
  | {
      readonly kind: "refund_overdue";
      readonly refund: number;
      readonly attempt: number;
      readonly lookup?: number;
    };
