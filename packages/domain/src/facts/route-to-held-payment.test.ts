import { describe, expect, it } from "vitest";
import type { PaymentStatus } from "../ports/payment-gateway.js";
import { heldPaymentRefs, type PaymentObjectFact } from "./payment-fact.js";
import { checkoutInput, routeToHeldPayment } from "./route-to-held-payment.js";
import { routeToRound } from "./route-to-round.js";

const P = "hp_1";
const refs = heldPaymentRefs(P);

describe("routeToHeldPayment", () => {
  it.each<[string, PaymentObjectFact, unknown]>([
    [
      "the checkout's creation",
      { kind: "checkout_session_created", refs, sessionId: "cs_1", url: "https://pay/cs_1" },
      { type: "checkout_session_created", sessionId: "cs_1", url: "https://pay/cs_1" },
    ],
    [
      "the checkout's expiry",
      { kind: "checkout_expired", refs, sessionId: "cs_1" },
      { type: "checkout_expired", sessionId: "cs_1" },
    ],
    [
      "a transfer created, by attempt",
      { kind: "transfer_created", refs: heldPaymentRefs(P, { attempt: 2 }), transferId: "tr_1" },
      { type: "transfer_created", attempt: 2, transferId: "tr_1" },
    ],
    [
      "a transfer failed, by attempt",
      {
        kind: "transfer_failed",
        refs: heldPaymentRefs(P, { attempt: 1 }),
        failureCode: "balance_insufficient",
      },
      { type: "transfer_failed", attempt: 1, failureCode: "balance_insufficient" },
    ],
    [
      "a transfer failed keeps Stripe's message",
      {
        kind: "transfer_failed",
        refs: heldPaymentRefs(P, { attempt: 1 }),
        failureCode: "balance_insufficient",
        failureMessage: "Insufficient funds in Stripe account",
      },
      {
        type: "transfer_failed",
        attempt: 1,
        failureCode: "balance_insufficient",
        failureMessage: "Insufficient funds in Stripe account",
      },
    ],
    [
      "a reversal, by number",
      {
        kind: "transfer_reversed",
        refs: heldPaymentRefs(P, { reversal: 3 }),
        transferId: "tr_1",
        amountMinor: 450,
      },
      { type: "transfer_reversed", reversal: 3, transferId: "tr_1", amountMinor: 450 },
    ],
    [
      "a refused reversal, by number",
      {
        kind: "transfer_reversal_failed",
        refs: heldPaymentRefs(P, { reversal: 1 }),
        transferId: "tr_1",
        failureCode: "insufficient_funds",
      },
      { type: "transfer_reversal_failed", reversal: 1, failureCode: "insufficient_funds" },
    ],
    [
      "a refund succeeded, by number and attempt",
      { kind: "refund_succeeded", refs: heldPaymentRefs(P, { refund: 2, attempt: 1 }), refundId: "re_1" },
      { type: "refund_succeeded", refund: 2, attempt: 1, refundId: "re_1" },
    ],
    [
      "a refund failed, by number and attempt",
      {
        kind: "refund_failed",
        refs: heldPaymentRefs(P, { refund: 1, attempt: 2 }),
        failureCode: "expired_card",
      },
      { type: "refund_failed", refund: 1, attempt: 2, failureCode: "expired_card" },
    ],
    [
      "a dispute opened, with what the provider says of it",
      {
        kind: "dispute_opened",
        refs,
        disputeId: "dp_1",
        amountMinor: 1000,
        evidenceDueBy: 5,
        reason: "fraudulent",
        status: "needs_response",
      },
      {
        type: "dispute_created",
        disputeId: "dp_1",
        amountMinor: 1000,
        reason: "fraudulent",
        stripeStatus: "needs_response",
        evidenceDueBy: 5,
      },
    ],
    [
      "a dispute opened, the provider silent on reason and status",
      { kind: "dispute_opened", refs, disputeId: "dp_1", amountMinor: 1000 },
      {
        type: "dispute_created",
        disputeId: "dp_1",
        amountMinor: 1000,
        reason: "unknown",
        stripeStatus: "needs_response",
      },
    ],
    [
      "a dispute updated",
      { kind: "dispute_updated", refs, disputeId: "dp_1", status: "under_review" },
      { type: "dispute_updated", disputeId: "dp_1", stripeStatus: "under_review" },
    ],
    [
      "a dispute closed",
      { kind: "dispute_closed", refs, disputeId: "dp_1", outcome: "lost", amountMinor: 1000 },
      { type: "dispute_closed", disputeId: "dp_1", outcome: "lost", amountMinor: 1000 },
    ],
  ])("%s", (_what, fact, input) => {
    expect(routeToHeldPayment(fact)).toEqual({ to: "held_payment", heldPaymentId: P, input });
  });

  it("a checkout's payment is read before it means anything", () => {
    expect(
      routeToHeldPayment({
        kind: "checkout_payment_changed",
        refs,
        sessionId: "cs_1",
        paymentIntentId: "pi_1",
      }),
    ).toEqual({ to: "held_payment_checkout", heldPaymentId: P, sessionId: "cs_1", paymentIntentId: "pi_1" });
  });

  it.each<[string, PaymentObjectFact]>([
    [
      "no held payment named",
      {
        kind: "transfer_created",
        refs: { groupId: "g", roundId: "r", memberId: "m", attempt: 1 },
        transferId: "tr",
      },
    ],
    ["a transfer with no attempt", { kind: "transfer_created", refs, transferId: "tr" }],
    [
      "a refund with no number",
      { kind: "refund_succeeded", refs: heldPaymentRefs(P, { attempt: 1 }), refundId: "re" },
    ],
    [
      "the transfer.reversed webhook (names the transfer, not the reversal)",
      {
        kind: "transfer_reversed",
        refs: heldPaymentRefs(P, { attempt: 1 }),
        transferId: "tr",
        amountMinor: 5,
      },
    ],
    [
      "the checkout's PaymentIntent events",
      { kind: "debit_succeeded", refs, paymentIntentId: "pi", chargeId: "ch" },
    ],
  ])("goes nowhere: %s", (_what, fact) => {
    expect(routeToHeldPayment(fact).to).toBe("nobody");
  });

  it("rounds hear nothing of checkouts or reversal failures", () => {
    expect(routeToRound({ kind: "checkout_session_created", refs, sessionId: "cs", url: "u" }).to).toBe(
      "nobody",
    );
    expect(
      routeToRound({
        kind: "transfer_reversal_failed",
        refs: { groupId: "g", roundId: "r", memberId: "m" },
        transferId: "tr",
        failureCode: "x",
      }).to,
    ).toBe("nobody");
  });
});

describe("checkoutInput: a checkout judged by its payment as it stands", () => {
  const paid: PaymentStatus = {
    status: "succeeded",
    paymentIntentId: "pi_1",
    chargeId: "ch_1",
    amount: { amountMinor: 100, currency: "AUD" },
  };
  it("paid: completed, or the delayed payment succeeded when it was processing", () => {
    expect(checkoutInput("cs_1", paid, "awaiting_payment")).toEqual({
      type: "checkout_completed",
      sessionId: "cs_1",
      paymentIntentId: "pi_1",
      paymentStatus: "succeeded",
      chargeId: "ch_1",
    });
    expect(checkoutInput("cs_1", paid, "payment_processing")).toEqual({
      type: "async_payment_succeeded",
      sessionId: "cs_1",
      paymentIntentId: "pi_1",
      chargeId: "ch_1",
    });
  });
  it("processing, failed, still waiting", () => {
    expect(
      checkoutInput("cs_1", { status: "processing", paymentIntentId: "pi_1" }, "awaiting_payment"),
    ).toEqual({
      type: "checkout_completed",
      sessionId: "cs_1",
      paymentIntentId: "pi_1",
      paymentStatus: "processing",
    });
    expect(
      checkoutInput(
        "cs_1",
        { status: "failed", paymentIntentId: "pi_1", failureCode: "insufficient_funds" },
        "payment_processing",
      ),
    ).toEqual({
      type: "async_payment_failed",
      sessionId: "cs_1",
      paymentIntentId: "pi_1",
      failureCode: "insufficient_funds",
    });
    expect(
      checkoutInput(
        "cs_1",
        { status: "unpaid", paymentIntentId: "pi_1", reason: "waiting" },
        "awaiting_payment",
      ),
    ).toMatchObject({ type: "checkout_completed", paymentStatus: "requires_action" });
  });
});
