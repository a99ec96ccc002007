/** The timers a marketplace charge sets; one that fires when it no longer applies is ignored. */
export type MarketplaceChargeTimer =
  /** A seller's transfer failed for a retryable reason: try attempt `attempt` of it. */
  { readonly kind: "retry_transfer"; readonly sellerId: string; readonly attempt: number };
