/**
 * What the emulator stores beside each charge. Its own module because both charges and transfers
 * (which record the amount a charge funds, `source_transaction`) read it, and charges call into
 * transfers to reverse them.
 */
export interface ChargeMeta {
  /** Card test behaviour or BECS account behind the charge (absent for transfer payments). */
  paymentMethodType?: "card" | "au_becs_debit";
  bypassPending?: boolean;
  /** Refunds of this card change status later (Stripe's asynchronous refund test cards). */
  refundBehaviour?: "fail" | "pending";
  /** Net amount of the transfers this charge funds (`source_transaction`). */
  transferred?: number;
  /** Refunds waiting for this charge's outcome. */
  pendingRefunds?: string[];
}
