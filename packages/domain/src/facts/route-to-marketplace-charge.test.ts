import { describe, expect, it } from "vitest";
import { marketplaceChargeRefs, type PaymentObjectFact, roundPaymentRefs } from "./payment-fact.js";
import { routeToHeldPayment } from "./route-to-held-payment.js";
import { routeToMarketplaceCharge } from "./route-to-marketplace-charge.js";
import { routeToRound } from "./route-to-round.js";

const C = "mc_1";
const to = (fact: PaymentObjectFact) => routeToMarketplaceCharge(fact);

describe("routeToMarketplaceCharge", () => {
  it.each<[string, PaymentObjectFact, unknown]>([
    [
      "a payment that waits for the customer",
      {
        kind: "payment_requires_action",
        refs: marketplaceChargeRefs(C),
        paymentIntentId: "pi_1",
        clientSecret: "s",
      },
      { type: "payment_requires_action", paymentIntentId: "pi_1", clientSecret: "s" },
    ],
    [
      "a processing payment",
      { kind: "debit_processing", refs: marketplaceChargeRefs(C), paymentIntentId: "pi_1" },
      { type: "payment_processing", paymentIntentId: "pi_1" },
    ],
    [
      "a paid destination charge with its transfer",
      {
        kind: "debit_succeeded",
        refs: marketplaceChargeRefs(C),
        paymentIntentId: "pi_1",
        chargeId: "ch_1",
        transferId: "tr_1",
      },
      { type: "payment_succeeded", paymentIntentId: "pi_1", chargeId: "ch_1", transferId: "tr_1" },
    ],
    [
      "a failed payment",
      { kind: "debit_failed", refs: marketplaceChargeRefs(C), failureCode: "card_declined" },
      { type: "payment_failed", failureCode: "card_declined" },
    ],
    [
      "a seller's transfer, by seller and attempt",
      {
        kind: "transfer_created",
        refs: marketplaceChargeRefs(C, { sellerId: "b", attempt: 2 }),
        transferId: "tr_2",
      },
      { type: "transfer_created", sellerId: "b", attempt: 2, transferId: "tr_2" },
    ],
    [
      "a refused transfer",
      {
        kind: "transfer_failed",
        refs: marketplaceChargeRefs(C, { sellerId: "b", attempt: 1 }),
        failureCode: "x",
      },
      { type: "transfer_failed", sellerId: "b", attempt: 1, failureCode: "x" },
    ],
    [
      "a refused transfer keeps Stripe's message for the parked transfer's ticket",
      {
        kind: "transfer_failed",
        refs: marketplaceChargeRefs(C, { sellerId: "b", attempt: 1 }),
        failureCode: "balance_insufficient",
        failureMessage: "Insufficient funds in Stripe account",
      },
      {
        type: "transfer_failed",
        sellerId: "b",
        attempt: 1,
        failureCode: "balance_insufficient",
        failureMessage: "Insufficient funds in Stripe account",
      },
    ],
    [
      "a reversal, by number",
      {
        kind: "transfer_reversed",
        refs: marketplaceChargeRefs(C, { reversal: 3 }),
        transferId: "tr_1",
        amountMinor: 5,
      },
      { type: "transfer_reversed", reversal: 3, transferId: "tr_1", amountMinor: 5 },
    ],
    [
      "a refund, by number and attempt",
      {
        kind: "refund_succeeded",
        refs: marketplaceChargeRefs(C, { refund: 1, attempt: 2 }),
        refundId: "re_1",
      },
      { type: "refund_succeeded", refund: 1, attempt: 2, refundId: "re_1" },
    ],
    [
      "a dispute opened with no reason given",
      { kind: "dispute_opened", refs: marketplaceChargeRefs(C), disputeId: "dp_1", amountMinor: 7 },
      {
        type: "dispute_opened",
        disputeId: "dp_1",
        amountMinor: 7,
        reason: "unknown",
        stripeStatus: "needs_response",
      },
    ],
    [
      "a dispute closed",
      {
        kind: "dispute_closed",
        refs: marketplaceChargeRefs(C),
        disputeId: "dp_1",
        outcome: "lost",
        amountMinor: 7,
      },
      { type: "dispute_closed", disputeId: "dp_1", outcome: "lost", amountMinor: 7 },
    ],
  ])("%s", (_name, fact, input) => {
    expect(to(fact)).toEqual({ to: "marketplace_charge", marketplaceChargeId: C, input });
  });

  it.each<[string, PaymentObjectFact]>([
    [
      "not a marketplace charge's",
      { kind: "debit_processing", refs: { heldPaymentId: "hp_1" }, paymentIntentId: "pi_1" },
    ],
    [
      "a transfer with no seller (a destination charge's own)",
      { kind: "transfer_created", refs: marketplaceChargeRefs(C, { attempt: 1 }), transferId: "tr" },
    ],
    [
      "a reversal with no number",
      { kind: "transfer_reversed", refs: marketplaceChargeRefs(C), transferId: "tr", amountMinor: 1 },
    ],
    [
      "a refund with no attempt",
      { kind: "refund_failed", refs: marketplaceChargeRefs(C, { refund: 1 }), failureCode: "x" },
    ],
    ["a checkout", { kind: "checkout_expired", refs: marketplaceChargeRefs(C), sessionId: "cs_1" }],
  ])("goes nowhere: %s", (_name, fact) => {
    expect(to(fact).to).toBe("nobody");
  });
});

describe("a payment that waits for the customer, to the other aggregates", () => {
  it("a round debits off session, where nobody can act: it hears a failed debit", () => {
    const fact: PaymentObjectFact = {
      kind: "payment_requires_action",
      refs: roundPaymentRefs("g1", "r1", "ana", 2),
      paymentIntentId: "pi_1",
      clientSecret: "s",
    };
    expect(routeToRound(fact)).toEqual({
      to: "round",
      groupId: "g1",
      roundId: "r1",
      input: {
        type: "debit_failed",
        memberId: "ana",
        attempt: 2,
        paymentIntentId: "pi_1",
        failureCode: "authentication_required",
      },
    });
  });

  it("a held payment judges its payment through its checkout: it goes nowhere", () => {
    const fact: PaymentObjectFact = {
      kind: "payment_requires_action",
      refs: { heldPaymentId: "hp_1" },
      paymentIntentId: "pi_1",
      clientSecret: "s",
    };
    expect(routeToHeldPayment(fact).to).toBe("nobody");
  });
});
