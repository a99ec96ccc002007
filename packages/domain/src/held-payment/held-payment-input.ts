import type * as Facts from "../kernel/payment-facts.js";
import type { CreateHeldPayment } from "./held-payment.js";
import type { HeldPaymentTimer } from "./held-payment-timer.js";

/**
 * The status of the PaymentIntent behind a completed Checkout Session, as Stripe reported
 * it with the session. The payment is judged by this, never by the session's
 * `payment_status` alone.
 */
export type CheckoutPaymentStatus =
  | "succeeded"
  | "processing"
  | "requires_action"
  | "requires_payment_method"
  | "canceled";

/**
 * Everything that can happen to a held payment. Commands come from the client app, from
 * platform admins or from the scheduler; facts come from Stripe (translated webhook events)
 * or from the results of effects.
 */
export type HeldPaymentInput =
  // commands
  /** A client app asks for the payment (again: a retry of a payment that exists is ignored). */
  | { readonly type: "create"; readonly command: CreateHeldPayment }
  /** The client app fulfilled the booking: the dispute window starts. */
  | { readonly type: "confirm_fulfilled" }
  /** The client app could not fulfil the booking: refund everything at once. */
  | { readonly type: "report_unfulfilled"; readonly reason: string }
  /** An admin stops the release until they release it. */
  | { readonly type: "admin_hold"; readonly by: string; readonly reason: string }
  /** An admin lifts their hold, or retries a blocked release. */
  | { readonly type: "admin_release"; readonly by: string }
  /** An admin refunds `amountMinor`, or everything that is left when absent. */
  | { readonly type: "refund"; readonly by: string; readonly amountMinor?: number }
  /** An admin retries the refund whose reversal or refund failed. */
  | { readonly type: "retry_refund"; readonly by: string }
  /** An admin asks again for the reversal of a lost dispute's seller part that failed. */
  | { readonly type: "retry_reversal"; readonly by: string }
  // timers
  | { readonly type: "timer"; readonly timer: HeldPaymentTimer }
  // facts about the Checkout Session and its payment
  | { readonly type: "checkout_session_created"; readonly sessionId: string; readonly url: string }
  | {
      readonly type: "checkout_completed";
      readonly sessionId: string;
      readonly paymentIntentId: string;
      readonly paymentStatus: CheckoutPaymentStatus;
      /** Present once the PaymentIntent succeeded. */
      readonly chargeId?: string;
    }
  | {
      readonly type: "async_payment_succeeded";
      readonly sessionId: string;
      readonly paymentIntentId: string;
      readonly chargeId: string;
    }
  | {
      readonly type: "async_payment_failed";
      readonly sessionId: string;
      readonly paymentIntentId: string;
      readonly failureCode: string;
    }
  | { readonly type: "checkout_expired"; readonly sessionId: string }
  // facts about the release transfer (its metadata names the attempt)
  | ({ readonly type: "transfer_created" } & Facts.TransferCreatedFact)
  | ({ readonly type: "transfer_failed" } & Facts.TransferFailedFact)
  /** A look-up found no transfer made by `attempt` at Stripe: it moved no money. */
  | { readonly type: "transfer_not_found"; readonly attempt: number }
  | ({ readonly type: "transfer_reversed" } & Facts.TransferReversedFact)
  | ({ readonly type: "transfer_reversal_failed" } & Facts.TransferReversalFailedFact)
  // facts about refunds (the refund's metadata names the refund and attempt)
  | ({ readonly type: "refund_succeeded" } & Facts.RefundSucceededFact)
  | ({ readonly type: "refund_failed" } & Facts.RefundFailedFact)
  /**
   * Look-up `lookup` of attempt `attempt` of refund `refund` at Stripe found it had not ended:
   * still pending (`refundId`), or no refund made by the attempt.
   */
  | {
      readonly type: "refund_not_ended";
      readonly refund: number;
      readonly attempt: number;
      readonly lookup: number;
      readonly refundId?: string;
    }
  // facts about disputes of the charge
  | ({ readonly type: "dispute_created" } & Facts.DisputeOpenedFact)
  | ({ readonly type: "dispute_updated" } & Facts.DisputeUpdatedFact)
  | ({ readonly type: "dispute_closed" } & Facts.DisputeClosedFact)
  // facts about the seller's connected account
  | { readonly type: "seller_account_ready" }
  | { readonly type: "seller_account_not_ready"; readonly reason: string };

/** One input type of {@link HeldPaymentInput}. */
export type HeldPaymentInputType = HeldPaymentInput["type"];
