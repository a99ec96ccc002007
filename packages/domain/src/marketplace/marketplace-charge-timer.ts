/** The timers a marketplace charge sets; one that fires when it no longer applies is ignored. */
export type MarketplaceChargeTimer =
  /** A seller's transfer failed for a retryable reason: try attempt `attempt` of it. */
  | { readonly kind: "retry_transfer"; readonly sellerId: string; readonly attempt: number }
  /** The payment has waited for the customer's action (`requires_action`) for the policy's time: it expires. */
  | { readonly kind: "action_expired" };
