/** The timers a subscription sets; one that fires when it no longer applies is ignored. */
export type SubscriptionTimer =
  /**
   * The deadline of susu's refund of invoice `invoiceId` (the policy's
   * `MEMBERSHIP_REFUND_OVERDUE_MS` after it was requested): still unfinished, a person gets
   * a ticket.
   */
  | { readonly kind: "refund_overdue"; readonly invoiceId: string }
  /**
   * Stripe answered void call `call` of invoice `invoiceId` that its bank debit is processing:
   * at the policy's `MEMBERSHIP_VOID_RECHECK_MS` after, still waiting (no news of the debit's
   * outcome came), the void is asked again.
   */
  | { readonly kind: "void_recheck"; readonly invoiceId: string; readonly call: number };
