import type { PaymentFact } from "@susu/domain";
import type Stripe from "stripe";
import { idOf } from "./stripe-mappings.js";

/** `application_fee.*` */
export type ApplicationFeeEvent = Extract<Stripe.Event, { type: `application_fee.${string}` }>;

/** A fee refund's fact before the references of the charge it came from are known. */
export type FeeRefundFactWithoutRefs = Omit<
  Extract<PaymentFact, { kind: "application_fee_refunded" }>,
  "refs"
>;

/**
 * What an `application_fee.*` event means: a fee refund needs the references of the
 * platform's charge the fee came from (`originating_transaction`), looked up like a
 * dispute's; the rest needs nothing.
 */
export type ApplicationFeeTranslation =
  | {
      readonly kind: "fee_refund_needs_references";
      /** The platform's charge (a destination charge) the fee was taken on. */
      readonly chargeId: string;
      readonly feeRefundFact: FeeRefundFactWithoutRefs;
    }
  | { readonly kind: "ignored"; readonly eventType: string; readonly reason: string };

export function isApplicationFeeEvent(event: Stripe.Event): event is ApplicationFeeEvent {
  return event.type.startsWith("application_fee.");
}

/**
 * `application_fee.refunded`: the newest fee refund on the fee as the event carries it
 * (each event's object is the fee at that moment, its refunds newest first), for the
 * destination charge it came from. susu books the fee refund itself when the refund
 * succeeds (it asked for `refund_application_fee`); this is Stripe's word to check it
 * against. A fee taken on a charge that is not a platform's destination charge is not susu's.
 */
export function translateApplicationFeeEvent(event: ApplicationFeeEvent): ApplicationFeeTranslation {
  const ignored = (reason: string): ApplicationFeeTranslation => ({
    kind: "ignored",
    eventType: event.type,
    reason,
  });
  switch (event.type) {
    case "application_fee.refunded": {
      const fee = event.data.object;
      const chargeId = idOf(fee.originating_transaction);
      if (chargeId === undefined) return ignored("the fee came from no destination charge of the platform's");
      const newest = fee.refunds?.data[0];
      if (newest === undefined) return ignored("the fee names no refund");
      return {
        kind: "fee_refund_needs_references",
        chargeId,
        feeRefundFact: {
          kind: "application_fee_refunded",
          feeRefundId: newest.id,
          amountMinor: newest.amount,
        },
      };
    }
    case "application_fee.created":
      return ignored("susu books its fee when the charge succeeds");
    case "application_fee.refund.updated":
      return ignored("a fee refund's metadata changed");
    default:
      return ignored("an application fee event no susu flow reads");
  }
}
