// Builders ("mothers") of held payments for tests: a 100.00 AUD booking at a 10 % fee, a run
// of inputs that posts to a ledger as it goes, and the Stripe facts of its disputes and refunds.

import { createHeldPayment, decideHeldPayment } from "../held-payment/decide.js";
import type { HeldPayment } from "../held-payment/held-payment.js";
import type { HeldPaymentEffect } from "../held-payment/held-payment-effect.js";
import type { HeldPaymentInput } from "../held-payment/held-payment-input.js";
import { checkHeldMoney } from "../ledger/held-money.js";
import { emptyLedger, type Ledger, postTransaction } from "../ledger/index.js";
import { DEFAULT_HELD_PAYMENT_POLICY } from "../policy/held-payment-policy.js";

/** The time the builders create and decide at. */
export const HELD_T0 = Date.UTC(2026, 2, 2);
/** The policy the builders decide with (the default). */
export const heldTestPolicy = DEFAULT_HELD_PAYMENT_POLICY;

/** A held payment, every effect so far, the effects of the last input, and the ledger they posted. */
export interface HeldRun {
  readonly state: HeldPayment;
  readonly ledger: Ledger;
  readonly effects: readonly HeldPaymentEffect[];
  readonly last: readonly HeldPaymentEffect[];
}

/** `hp1`: 100.00 AUD from a customer by e-mail to seller `s` (account `acct`), 10 % fee. */
export function startHeld(): HeldRun {
  const d = createHeldPayment(
    {
      id: "hp1",
      clientReference: "b",
      requestedBy: "app",
      amountMinor: 10_000,
      currency: "AUD",
      seller: { id: "s", connectedAccountId: "acct", canReceive: true },
      description: "x",
      customer: { email: "c@x.io" },
      fee: { kind: "rate", basisPoints: 1_000 },
      successUrl: "https://a.b",
    },
    { now: HELD_T0, policy: heldTestPolicy },
  )._unsafeUnwrap();
  return { state: d.state, ledger: emptyLedger(), effects: d.effects, last: d.effects };
}

/** Applies inputs in order (each must apply or be ignored), posting each decision's ledger effects. */
export function runHeld(from: HeldRun, inputs: readonly HeldPaymentInput[], now = HELD_T0): HeldRun {
  let r = from;
  for (const input of inputs) {
    const d = decideHeldPayment(r.state, input, { now, policy: heldTestPolicy });
    if (d.isErr()) throw new Error(`${input.type}: ${d.error.code}: ${d.error.message}`);
    let ledger = r.ledger;
    for (const e of d.value.effects)
      if (e.kind === "post_ledger") ledger = postTransaction(ledger, e.transaction)._unsafeUnwrap();
    r = { state: d.value.state, ledger, effects: [...r.effects, ...d.value.effects], last: d.value.effects };
  }
  return r;
}

/** `hp1`'s books, checked. */
export const heldBooks = (r: HeldRun) => checkHeldMoney(r.ledger, "hp1", "AUD")._unsafeUnwrap();

/** Checkout completed and paid. */
export const heldPaid: HeldPaymentInput = {
  type: "checkout_completed",
  sessionId: "cs",
  paymentIntentId: "pi",
  paymentStatus: "succeeded",
  chargeId: "ch",
};
/** Dispute `dp` opened for `amountMinor`. */
export const heldDisputeOpened = (amountMinor = 10_000): HeldPaymentInput => ({
  type: "dispute_created",
  disputeId: "dp",
  amountMinor,
  reason: "fraudulent",
  stripeStatus: "needs_response",
});
/** Dispute `dp` closed lost for `amountMinor`. */
export const heldDisputeLost = (amountMinor = 10_000): HeldPaymentInput => ({
  type: "dispute_closed",
  disputeId: "dp",
  outcome: "lost",
  amountMinor,
});
/** Refund `refund` (attempt `attempt`) failed with `failureCode`. */
export const heldRefundFailed = (failureCode: string, refund = 1, attempt = 1): HeldPaymentInput => ({
  type: "refund_failed",
  refund,
  attempt,
  failureCode,
});
/** Refund `refund` (attempt `attempt`) succeeded as `re_<refund>`. */
export const heldRefundSucceeded = (refund = 1, attempt = 1): HeldPaymentInput => ({
  type: "refund_succeeded",
  refund,
  attempt,
  refundId: `re_${refund}`,
});
