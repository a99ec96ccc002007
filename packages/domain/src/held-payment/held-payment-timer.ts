/** The timers a held payment sets; one that fires when it no longer applies is ignored. */
export type HeldPaymentTimer =
  /** The dispute window after the fulfilment ended: release the seller's share. */
  | { readonly kind: "release_due" }
  /** A release transfer failed for a retryable reason: try attempt `attempt`. */
  | { readonly kind: "retry_transfer"; readonly attempt: number }
  /** The Checkout Session has expired (plus grace) and Stripe's word may have been lost. */
  | { readonly kind: "checkout_expired" }
  /**
   * The backstop asked Stripe to expire the session `CHECKOUT_EXPIRY_RECHECK_MS` before (or the
   * previous recheck did) and the payment still waits for Stripe's word: ask again, as ask
   * number `ask` (the backstop's is 1), up to `CHECKOUT_EXPIRY_ASKS_MAX`; the recheck after the
   * last opens a ticket instead.
   */
  | { readonly kind: "checkout_recheck"; readonly ask: number }
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
