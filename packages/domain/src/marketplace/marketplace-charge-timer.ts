/** The timers a marketplace charge sets; one that fires when it no longer applies is ignored. */
export type MarketplaceChargeTimer =
  /** A seller's transfer failed for a retryable reason: try attempt `attempt` of it. */
  | { readonly kind: "retry_transfer"; readonly sellerId: string; readonly attempt: number }
  /** The payment has waited for the customer's action (`requires_action`) for the policy's time: it expires. */
  | { readonly kind: "action_expired" }
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
