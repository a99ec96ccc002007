import type { PaymentReferences } from "../ports/payment-gateway.js";
import type { RoundInput } from "../round/round-input.js";
import type { PaymentObjectFact } from "./payment-fact.js";

/**
 * Where a fact about a payment goes for a round: the round and the input it means there,
 * or why it concerns no round (it was not made by a round's effect, or its references
 * are incomplete). A held payment's facts go through `routeToHeldPayment`.
 */
export type RoutedFact =
  | { readonly to: "round"; readonly groupId: string; readonly roundId: string; readonly input: RoundInput }
  | { readonly to: "nobody"; readonly reason: string };

const NOT_FROM_A_ROUND = "the payment carries no round references (not made by a round effect)";

function nobody(reason: string): RoutedFact {
  return { to: "nobody", reason };
}

/**
 * The round input a payment fact means, from the references the round's effect wrote
 * on the payment. Pure: used for the answers of effects and for webhooks alike.
 */
export function routeToRound(fact: PaymentObjectFact): RoutedFact {
  const r: PaymentReferences = fact.refs;
  if (r.groupId === undefined || r.roundId === undefined || r.memberId === undefined)
    return nobody(NOT_FROM_A_ROUND);
  const round = (input: RoundInput): RoutedFact => ({
    to: "round",
    groupId: r.groupId as string,
    roundId: r.roundId as string,
    input,
  });
  const memberId = r.memberId;
  const attempt = r.attempt;
  switch (fact.kind) {
    case "debit_processing":
      if (attempt === undefined) return nobody(`${NOT_FROM_A_ROUND}: no attempt`);
      return round({ type: "debit_processing", memberId, attempt, paymentIntentId: fact.paymentIntentId });
    case "debit_succeeded":
      if (attempt === undefined) return nobody(`${NOT_FROM_A_ROUND}: no attempt`);
      return round({
        type: "debit_succeeded",
        memberId,
        attempt,
        paymentIntentId: fact.paymentIntentId,
        chargeId: fact.chargeId,
      });
    case "payment_requires_action":
      // A round debits off session: nobody is there to act, so for the round the debit failed.
      if (attempt === undefined) return nobody(`${NOT_FROM_A_ROUND}: no attempt`);
      return round({
        type: "debit_failed",
        memberId,
        attempt,
        paymentIntentId: fact.paymentIntentId,
        failureCode: "authentication_required",
      });
    case "debit_failed":
      if (attempt === undefined) return nobody(`${NOT_FROM_A_ROUND}: no attempt`);
      return round({
        type: "debit_failed",
        memberId,
        attempt,
        ...(fact.paymentIntentId !== undefined ? { paymentIntentId: fact.paymentIntentId } : {}),
        failureCode: fact.failureCode,
      });
    // A refund's `attempt` is its refund attempt: absent on attempt 1, whose refunds are made
    // as they were before refunds could be retried. Its `refund` is set only on the refund of
    // a surplus charge: the debit attempt whose charge it gives back.
    case "refund_succeeded":
      return round({
        type: "refund_succeeded",
        memberId,
        refundId: fact.refundId,
        ...(attempt !== undefined ? { attempt } : {}),
        ...(r.refund !== undefined ? { debitAttempt: r.refund } : {}),
      });
    case "refund_failed":
      return round({
        type: "refund_failed",
        memberId,
        failureCode: fact.failureCode,
        ...(attempt !== undefined ? { attempt } : {}),
        ...(r.refund !== undefined ? { debitAttempt: r.refund } : {}),
      });
    case "transfer_created":
      if (attempt === undefined) return nobody(`${NOT_FROM_A_ROUND}: no attempt`);
      return round({
        type: "transfer_created",
        sourceMemberId: memberId,
        attempt,
        transferId: fact.transferId,
      });
    case "transfer_failed":
      if (attempt === undefined) return nobody(`${NOT_FROM_A_ROUND}: no attempt`);
      return round({
        type: "transfer_failed",
        sourceMemberId: memberId,
        attempt,
        failureCode: fact.failureCode,
      });
    case "transfer_reversed":
      return round({
        type: "transfer_reversed",
        sourceMemberId: memberId,
        transferId: fact.transferId,
        amountMinor: fact.amountMinor,
      });
    case "dispute_opened":
      // The disputed charge: the debit attempt its PaymentIntent's metadata names, and the
      // PaymentIntent (a member charged twice may dispute either of their charges).
      return round({
        type: "dispute_opened",
        memberId,
        disputeId: fact.disputeId,
        amountMinor: fact.amountMinor,
        ...(attempt !== undefined ? { attempt } : {}),
        ...(fact.paymentIntentId !== undefined ? { paymentIntentId: fact.paymentIntentId } : {}),
      });
    case "dispute_closed":
      // A round's payments are BECS debits, whose disputes cannot be contested: the loss is
      // booked when the dispute opens. Whether one can close won is not documented; if one
      // does, the bank gave the money back to the platform, and the round books it back.
      // Closed lost, it is heard as opened (with the closure's amount, Stripe's last word on
      // what the bank took): booked as it would have been had its opening been heard — a
      // dispute recorded already ignores it (`duplicate_dispute`), so it is booked once.
      if (fact.outcome === "lost")
        return round({
          type: "dispute_opened",
          memberId,
          disputeId: fact.disputeId,
          amountMinor: fact.amountMinor,
          ...(attempt !== undefined ? { attempt } : {}),
          ...(fact.paymentIntentId !== undefined ? { paymentIntentId: fact.paymentIntentId } : {}),
        });
      return round({
        type: "dispute_won",
        memberId,
        disputeId: fact.disputeId,
        amountMinor: fact.amountMinor,
        ...(attempt !== undefined ? { attempt } : {}),
        ...(fact.paymentIntentId !== undefined ? { paymentIntentId: fact.paymentIntentId } : {}),
      });
    case "dispute_updated":
      // Only a closure closes a dispute (as for every aggregate): an update, whatever status it
      // reports, changes nothing here.
      return nobody(`a round's dispute is final when it opens (${fact.kind})`);
    case "checkout_session_created":
    case "checkout_payment_changed":
    case "checkout_expired":
      return nobody(`rounds collect by debit, not checkout (${fact.kind})`);
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
      return nobody(`a membership's news is not a round's (${fact.kind})`);
    case "transfer_reversal_failed":
      return nobody(`a round asks for no reversals (${fact.kind})`);
    case "transfer_not_found":
      return nobody(`a round looks up no transfers (${fact.kind})`);
    case "refund_not_ended":
      return nobody(`a round looks up no refunds (${fact.kind})`);
    case "application_fee_refunded":
      return nobody(`a round takes no application fee (${fact.kind})`);
  }
}
