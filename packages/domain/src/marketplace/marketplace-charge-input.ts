import type * as Facts from "../kernel/payment-facts.js";
import type { RefundInitiator } from "../policy/marketplace-policy.js";
import type { CreateMarketplaceCharge } from "./marketplace-charge.js";
import type { MarketplaceChargeTimer } from "./marketplace-charge-timer.js";

/**
 * Everything that can happen to a marketplace charge. Commands come from the client app
 * (on the customer's behalf), from platform admins or from the scheduler; facts come from
 * Stripe (translated webhook events) or from the answers to effects.
 */
export type MarketplaceChargeInput =
  // commands
  /** A client app asks for the charge (again: a retry of a charge that exists is ignored). */
  | { readonly type: "create"; readonly command: CreateMarketplaceCharge }
  /**
   * A refund of `amountMinor`, or of everything left when absent. Who asked decides, by the
   * policy, whether the sellers' transfers are reversed and the platform's fee given back.
   */
  | {
      readonly type: "refund";
      readonly initiatedBy: RefundInitiator;
      readonly by: string;
      readonly reason: string;
      readonly amountMinor?: number;
    }
  /** An admin retries the refund that failed. */
  | { readonly type: "retry_refund"; readonly by: string }
  /**
   * An admin retries every parked seller transfer; an attempt of unknown outcome is looked
   * up at Stripe first (adopted if it landed, written off and retried if not).
   */
  | { readonly type: "retry_transfers"; readonly by: string }
  /** An admin asks again for every reversal that failed. */
  | { readonly type: "retry_reversal"; readonly by: string }
  // timers
  | { readonly type: "timer"; readonly timer: MarketplaceChargeTimer }
  // facts about the payment
  /**
   * The PaymentIntent needs the customer: to confirm a new card on-session, or to pass 3-D
   * Secure. `clientSecret` is what the client needs to do it.
   */
  | {
      readonly type: "payment_requires_action";
      readonly paymentIntentId: string;
      readonly clientSecret: string;
    }
  | { readonly type: "payment_processing"; readonly paymentIntentId: string }
  | {
      readonly type: "payment_succeeded";
      readonly paymentIntentId: string;
      readonly chargeId: string;
      /** A destination charge's transfer to the seller (the charge's `transfer`). */
      readonly transferId?: string;
    }
  | { readonly type: "payment_failed"; readonly paymentIntentId?: string; readonly failureCode: string }
  // facts about sellers' transfers (their metadata names the seller and the attempt)
  | ({ readonly type: "transfer_created"; readonly sellerId: string } & Facts.TransferCreatedFact)
  | ({ readonly type: "transfer_failed"; readonly sellerId: string } & Facts.TransferFailedFact)
  /** A look-up found no transfer made by a seller's attempt at Stripe: it moved no money. */
  | { readonly type: "transfer_not_found"; readonly sellerId: string; readonly attempt: number }
  | ({ readonly type: "transfer_reversed" } & Facts.TransferReversedFact)
  | ({ readonly type: "transfer_reversal_failed" } & Facts.TransferReversalFailedFact)
  // facts about refunds (the refund's metadata names the refund and the attempt)
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
  /**
   * A destination charge's application fee was (partly) refunded to the seller
   * (`application_fee.refunded`): every fee refund the fee lists, oldest first. Each is for
   * refund `refund` when named, or — Stripe's fee refund does not name the refund it came
   * with — for the earliest refund that asked for the fee back and has no fee refund
   * recorded yet. Those already recorded are passed over.
   */
  | {
      readonly type: "application_fee_refunded";
      readonly feeRefunds: readonly {
        readonly refund?: number;
        readonly feeRefundId: string;
        readonly amountMinor: number;
        /** Upper case; another than the charge's when Stripe converted the fee. */
        readonly currency: string;
      }[];
    }
  // facts about disputes
  | ({ readonly type: "dispute_opened" } & Facts.DisputeOpenedFact)
  | ({ readonly type: "dispute_updated" } & Facts.DisputeUpdatedFact)
  | ({ readonly type: "dispute_closed" } & Facts.DisputeClosedFact);

/** One input type of {@link MarketplaceChargeInput}. */
export type MarketplaceChargeInputType = MarketplaceChargeInput["type"];
