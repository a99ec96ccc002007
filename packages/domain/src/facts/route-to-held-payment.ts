import type { HeldPaymentStatus } from "../held-payment/held-payment.js";
import type { HeldPaymentInput } from "../held-payment/held-payment-input.js";
import type { PaymentStatus } from "../ports/payment-gateway.js";
import { commonPaymentInput } from "./common-payment-input.js";
import type { PaymentObjectFact } from "./payment-fact.js";

/**
 * Where a fact about a payment goes for a held payment: the payment (named by the
 * references its effect wrote, `heldPaymentId`) and the input it means there; for a
 * checkout's payment, the payment to read first (`checkoutInput` makes the input from
 * what the provider says now); or why it concerns no held payment.
 */
export type HeldPaymentRoute =
  | { readonly to: "held_payment"; readonly heldPaymentId: string; readonly input: HeldPaymentInput }
  | {
      readonly to: "held_payment_checkout";
      readonly heldPaymentId: string;
      readonly sessionId: string;
      readonly paymentIntentId: string;
    }
  | { readonly to: "nobody"; readonly reason: string };

const NOT_FROM_A_HELD_PAYMENT = "the payment carries no held-payment reference";

function nobody(reason: string): HeldPaymentRoute {
  return { to: "nobody", reason };
}

/**
 * The held-payment input a payment fact means, from the references the payment's effect
 * wrote: a transfer by its attempt, a refund by its number and attempt, a reversal by its
 * number. Pure: used for the answers of effects and for webhooks alike. A fact whose
 * references lack the step's number goes nowhere (the reversal's own answer reports a
 * reversal; the `transfer.reversed` webhook names only the transfer).
 */
export function routeToHeldPayment(fact: PaymentObjectFact): HeldPaymentRoute {
  const r = fact.refs;
  const heldPaymentId = r.heldPaymentId;
  if (heldPaymentId === undefined) return nobody(NOT_FROM_A_HELD_PAYMENT);
  const held = (input: HeldPaymentInput): HeldPaymentRoute => ({ to: "held_payment", heldPaymentId, input });
  const missing = (what: string) => nobody(`${fact.kind} of held payment ${heldPaymentId} names no ${what}`);
  switch (fact.kind) {
    case "checkout_session_created":
      return held({ type: "checkout_session_created", sessionId: fact.sessionId, url: fact.url });
    case "checkout_payment_changed":
      return {
        to: "held_payment_checkout",
        heldPaymentId,
        sessionId: fact.sessionId,
        paymentIntentId: fact.paymentIntentId,
      };
    case "checkout_expired":
      return held({ type: "checkout_expired", sessionId: fact.sessionId });
    case "debit_processing":
    case "debit_succeeded":
    case "debit_failed":
    case "payment_requires_action":
      // The checkout's PaymentIntent events: the session's own events carry the same news
      // with the session, and the payment is read again when they are routed.
      return nobody(`a held payment's payment is judged through its checkout session (${fact.kind})`);
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
      return nobody(`a membership's news is not a held payment's (${fact.kind})`);
    case "transfer_created":
      if (r.attempt === undefined) return missing("transfer attempt");
      return held({ type: "transfer_created", attempt: r.attempt, transferId: fact.transferId });
    case "transfer_failed":
      if (r.attempt === undefined) return missing("transfer attempt");
      return held({
        type: "transfer_failed",
        attempt: r.attempt,
        failureCode: fact.failureCode,
        ...(fact.failureMessage !== undefined ? { failureMessage: fact.failureMessage } : {}),
      });
    case "application_fee_refunded":
      return nobody(`a held payment takes no application fee (${fact.kind})`);
    case "transfer_not_found":
      if (r.attempt === undefined) return missing("transfer attempt");
      return held({ type: "transfer_not_found", attempt: r.attempt });
    case "refund_not_ended":
      if (r.refund === undefined || r.attempt === undefined) return missing("refund number and attempt");
      return held({
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
      const common = commonPaymentInput(fact, "dispute_created");
      return "missing" in common ? missing(common.missing) : held(common.input);
    }
  }
}

/**
 * The input a checkout's news means, judged by its payment as the provider holds it now
 * (read again when routed, so any order of the session's events ends the same): paid →
 * `checkout_completed` (`async_payment_succeeded` when the payment was processing);
 * processing → `checkout_completed` (processing); failed → `async_payment_failed`; still
 * waiting for the customer → `checkout_completed` (`requires_action`), which is ignored.
 */
export function checkoutInput(
  sessionId: string,
  payment: PaymentStatus,
  heldStatus: HeldPaymentStatus,
): HeldPaymentInput {
  const { paymentIntentId } = payment;
  switch (payment.status) {
    case "succeeded":
      return heldStatus === "payment_processing"
        ? { type: "async_payment_succeeded", sessionId, paymentIntentId, chargeId: payment.chargeId }
        : {
            type: "checkout_completed",
            sessionId,
            paymentIntentId,
            paymentStatus: "succeeded",
            chargeId: payment.chargeId,
          };
    case "processing":
      return { type: "checkout_completed", sessionId, paymentIntentId, paymentStatus: "processing" };
    case "failed":
      return { type: "async_payment_failed", sessionId, paymentIntentId, failureCode: payment.failureCode };
    case "unpaid":
      return { type: "checkout_completed", sessionId, paymentIntentId, paymentStatus: "requires_action" };
  }
}
