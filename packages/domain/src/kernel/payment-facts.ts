import type { Instant } from "../shared/time.js";

// What Stripe says about a payment aggregate's refunds, transfer reversals and disputes:
// the fields of the facts the held payment and the marketplace charge hear alike. Each
// aggregate's input union tags them with their `type`.

/** A transfer attempt was created (its metadata names the attempt). */
export interface TransferCreatedFact {
  readonly attempt: number;
  readonly transferId: string;
}

export interface TransferFailedFact {
  readonly attempt: number;
  readonly failureCode: string;
  readonly failureMessage?: string;
}

/** A reversal the aggregate asked for landed (its metadata names the reversal). */
export interface TransferReversedFact {
  readonly reversal: number;
  readonly transferId: string;
  readonly amountMinor: number;
}

export interface TransferReversalFailedFact {
  readonly reversal: number;
  readonly failureCode: string;
}

/** A refund attempt succeeded (the refund's metadata names the refund and the attempt). */
export interface RefundSucceededFact {
  readonly refund: number;
  readonly attempt: number;
  readonly refundId: string;
}

export interface RefundFailedFact {
  readonly refund: number;
  readonly attempt: number;
  readonly failureCode: string;
}

/** A dispute of the charge was opened. */
export interface DisputeOpenedFact {
  readonly disputeId: string;
  readonly amountMinor: number;
  readonly reason: string;
  readonly stripeStatus: string;
  readonly evidenceDueBy?: Instant;
}

export interface DisputeUpdatedFact {
  readonly disputeId: string;
  readonly stripeStatus: string;
  readonly evidenceDueBy?: Instant;
}

export interface DisputeClosedFact {
  readonly disputeId: string;
  readonly outcome: "won" | "lost";
  /** What the customer's bank took back when lost (Stripe's dispute amount). */
  readonly amountMinor: number;
}
