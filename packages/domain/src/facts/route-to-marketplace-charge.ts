import type { MarketplaceChargeInput } from "../marketplace/marketplace-charge-input.js";
import { commonPaymentInput } from "./common-payment-input.js";
import type { PaymentObjectFact } from "./payment-fact.js";

/**
 * Where a fact about a payment goes for a marketplace charge: the charge (named by the
 * references its effect wrote, `marketplaceChargeId`) and the input it means there, or
 * why it concerns no marketplace charge.
 */
export type MarketplaceChargeRoute =
  | {
      readonly to: "marketplace_charge";
      readonly marketplaceChargeId: string;
      readonly input: MarketplaceChargeInput;
    }
  | { readonly to: "nobody"; readonly reason: string };

const NOT_FROM_A_MARKETPLACE_CHARGE = "the payment carries no marketplace-charge reference";

function nobody(reason: string): MarketplaceChargeRoute {
  return { to: "nobody", reason };
}

/**
 * The marketplace-charge input a payment fact means, from the references the charge's
 * effect wrote: the PaymentIntent's outcome; a seller's transfer by seller and attempt; a
 * refund by its number and attempt; a reversal by its number; disputes. Pure: used for the
 * answers of effects and for webhooks alike. A fact whose references lack the step's
 * numbers goes nowhere (a destination charge's own transfer and its reversals, which
 * Stripe makes with the charge and the refund, carry no references).
 */
export function routeToMarketplaceCharge(fact: PaymentObjectFact): MarketplaceChargeRoute {
  const r = fact.refs;
  const marketplaceChargeId = r.marketplaceChargeId;
  if (marketplaceChargeId === undefined) return nobody(NOT_FROM_A_MARKETPLACE_CHARGE);
  const to = (input: MarketplaceChargeInput): MarketplaceChargeRoute => ({
    to: "marketplace_charge",
    marketplaceChargeId,
    input,
  });
  const missing = (what: string) =>
    nobody(`${fact.kind} of marketplace charge ${marketplaceChargeId} names no ${what}`);
  switch (fact.kind) {
    case "payment_requires_action":
      return to({
        type: "payment_requires_action",
        paymentIntentId: fact.paymentIntentId,
        clientSecret: fact.clientSecret,
      });
    case "debit_processing":
      return to({ type: "payment_processing", paymentIntentId: fact.paymentIntentId });
    case "debit_succeeded":
      return to({
        type: "payment_succeeded",
        paymentIntentId: fact.paymentIntentId,
        chargeId: fact.chargeId,
        ...(fact.transferId !== undefined ? { transferId: fact.transferId } : {}),
      });
    case "debit_failed":
      return to({
        type: "payment_failed",
        ...(fact.paymentIntentId !== undefined ? { paymentIntentId: fact.paymentIntentId } : {}),
        failureCode: fact.failureCode,
      });
    case "transfer_created":
      if (r.sellerId === undefined || r.attempt === undefined) return missing("seller and transfer attempt");
      return to({
        type: "transfer_created",
        sellerId: r.sellerId,
        attempt: r.attempt,
        transferId: fact.transferId,
      });
    case "transfer_failed":
      if (r.sellerId === undefined || r.attempt === undefined) return missing("seller and transfer attempt");
      return to({
        type: "transfer_failed",
        sellerId: r.sellerId,
        attempt: r.attempt,
        failureCode: fact.failureCode,
        ...(fact.failureMessage !== undefined ? { failureMessage: fact.failureMessage } : {}),
      });
    case "application_fee_refunded":
      return to({ type: "application_fee_refunded", feeRefunds: fact.feeRefunds });
    case "transfer_not_found":
      if (r.sellerId === undefined || r.attempt === undefined) return missing("seller and transfer attempt");
      return to({ type: "transfer_not_found", sellerId: r.sellerId, attempt: r.attempt });
    case "refund_not_ended":
      if (r.refund === undefined || r.attempt === undefined) return missing("refund number and attempt");
      return to({
        type: "refund_not_ended",
        refund: r.refund,
        attempt: r.attempt,
        lookup: fact.lookup,
        ...(fact.refundId !== undefined ? { refundId: fact.refundId } : {}),
      });
    case "refund_succeeded":
    case "refund_failed":
    case "transfer_reversed":
    case "transfer_reversal_failed":
    case "dispute_opened":
    case "dispute_updated":
    case "dispute_closed": {
      const common = commonPaymentInput(fact, "dispute_opened");
      return "missing" in common ? missing(common.missing) : to(common.input);
    }
    case "checkout_session_created":
    case "checkout_payment_changed":
    case "checkout_expired":
      return nobody(`a marketplace charge has no checkout (${fact.kind})`);
    case "plan_price_created":
    case "subscription_changed":
    case "subscription_start_refused":
    case "subscription_change_refused":
    case "subscription_payment_method_refused":
    case "subscription_checkout_created":
    case "subscription_trial_will_end":
    case "invoice_paid":
    case "invoice_payment_failed":
    case "invoice_payment_action_required":
    case "invoice_marked_uncollectible":
    case "invoice_voided":
    case "invoice_refunds_made":
    case "invoice_void_answered":
    case "membership_charge_refunded":
      return nobody(`a membership's news is not a marketplace charge's (${fact.kind})`);
  }
}
