/** The timers a subscription sets; one that fires when it no longer applies is ignored. */
export type SubscriptionTimer =
  /**
   * The deadline of susu's refund of invoice `invoiceId` (the policy's
   * `MEMBERSHIP_REFUND_OVERDUE_MS` after it was requested): still unfinished, a person gets
   * a ticket.
   */
  { readonly kind: "refund_overdue"; readonly invoiceId: string };
