import type { FeeRefundSeen, PaymentFact } from "@susu/domain";
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
      /** The application fee (`fee_…`): where more of its refunds are listed. */
      readonly feeId: string;
      /** The event's fee lists only its newest refunds: the rest are read through the API (`feeRefundsOldestFirst`). */
      readonly moreFeeRefunds: boolean;
      readonly feeRefundFact: FeeRefundFactWithoutRefs;
    }
  | { readonly kind: "ignored"; readonly eventType: string; readonly reason: string };

export function isApplicationFeeEvent(event: Stripe.Event): event is ApplicationFeeEvent {
  return event.type.startsWith("application_fee.");
}

/** A fee's refunds as Stripe lists them (newest first), as the domain reads them: oldest first. */
export function feeRefundsOldestFirst(refunds: readonly Stripe.FeeRefund[]): FeeRefundSeen[] {
  return refunds
    .map((r) => ({ feeRefundId: r.id, amountMinor: r.amount, currency: r.currency.toUpperCase() }))
    .reverse();
}

/**
 * `application_fee.refunded`: every fee refund the event's fee lists (the fee at that
 * moment, its refunds newest first; handed on oldest first), for the destination charge it
 * came from. Not only the newest: two refunds close together may both be on the fee by
 * the time the first event is built, and the charge matches each to its own refund
 * (repeats are passed over). A fee whose list `has_more` is completed through the API
 * before the fact is applied (`translateStripeEventWith`). susu books the fee refund
 * itself when the refund succeeds (it asked for `refund_application_fee`); this is
 * Stripe's word to check it against. A fee taken on a charge that is not a platform's
 * destination charge is not susu's.
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
      const listed = fee.refunds?.data ?? [];
      if (listed.length === 0) return ignored("the fee names no refund");
      return {
        kind: "fee_refund_needs_references",
        chargeId,
        feeId: fee.id,
        moreFeeRefunds: fee.refunds?.has_more === true,
        feeRefundFact: { kind: "application_fee_refunded", feeRefunds: feeRefundsOldestFirst(listed) },
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
