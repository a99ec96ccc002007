/** The timers a held payment sets; one that fires when it no longer applies is ignored. */
export type HeldPaymentTimer =
  /** The dispute window after the fulfilment ended: release the seller's share. */
  | { readonly kind: "release_due" }
  /** A release transfer failed for a retryable reason: try attempt `attempt`. */
  | { readonly kind: "retry_transfer"; readonly attempt: number }
  /** The Checkout Session has expired (plus grace) and Stripe's word may have been lost. */
  | { readonly kind: "checkout_expired" };
