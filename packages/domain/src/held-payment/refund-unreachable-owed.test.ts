// A refund Stripe failed because the card can no longer take money (`failure_reason`
// `lost_or_stolen_card` or `expired_or_canceled_card`). Stripe sends a refund only to the
// payment method charged, so a new refund would fail the same way: the refund is owed to the
// customer outside Stripe at once — booked on `held:<p>:owed_to_customer`, a `refund_owed`
// ticket naming the owed-payments route, the admins' `refund_owed` notice and the customer's
// `owed_outside_stripe` notice — as after a lost dispute, instead of a `refund_failed` ticket
// asking the admins to retry it in vain. Other reasons keep the retry path.
import { describe, expect, it } from "vitest";
import { money } from "../money/index.js";
import { decideHeldOwedPayment } from "../owed/payment-owed.js";
import { HOUR_MS } from "../shared/time.js";
import {
  heldBooks as books,
  heldRefundFailed,
  heldRefundSucceeded,
  heldPaid as paid,
  heldTestPolicy as policy,
  type HeldRun as Run,
  runHeld as run,
  startHeld as start,
  HELD_T0 as T0,
} from "../testing/held-payment-mothers.js";
import { decideHeldPayment } from "./decide.js";
import { refundableMinor } from "./held-payment.js";
import type { HeldPaymentEffect } from "./held-payment-effect.js";

const LATER = T0 + 80 * HOUR_MS;

const ofKind = <K extends HeldPaymentEffect["kind"]>(effects: readonly HeldPaymentEffect[], kind: K) =>
  effects.filter((e): e is Extract<HeldPaymentEffect, { kind: K }> => e.kind === kind);
const postings = (effects: readonly HeldPaymentEffect[]) =>
  ofKind(effects, "post_ledger").map((e) => [e.id, e.transaction.kind]);

/** What the decision told whom: ticket reasons and ids, notice templates and their data. */
function told(effects: readonly HeldPaymentEffect[]) {
  return {
    tickets: ofKind(effects, "open_ticket").map((t) => [t.reason, t.id]),
    notices: ofKind(effects, "notify").map((n) => [n.template, n.data]),
  };
}

const unfulfilled = { type: "report_unfulfilled", reason: "cancelled" } as const;

describe("a whole refund fails at once on a card that can no longer take money", () => {
  const failed = () => run(start(), [paid, unfulfilled, heldRefundFailed("expired_or_canceled_card")]);

  it("is owed to the customer outside Stripe at once, and the payment ends refunded", () => {
    const r = failed();
    expect(r.state.refunds).toMatchObject([
      { number: 1, amountMinor: 10_000, status: "owed_outside_stripe", ledgerPosted: true },
    ]);
    expect(postings(r.last)).toEqual([["hp1:refund:1:ledger:owed", "held_owed_to_customer"]]);
    expect(ofKind(r.last, "post_ledger")[0]?.transaction.refs).toMatchObject({
      failureCode: "expired_or_canceled_card",
    });
    expect(books(r)).toMatchObject({ holdMinor: 0, refundedMinor: 0, owedToCustomerMinor: 10_000 });
    expect(refundableMinor(r.state)).toBe(0);
    expect(r.state.status).toBe("refunded");
    // No ticket asking to retry in vain: the owed ticket and both notices instead.
    expect(told(r.last)).toEqual({
      tickets: [["refund_owed", "hp1:ticket:refund_owed:1"]],
      notices: [
        [
          "refund_owed",
          expect.objectContaining({
            refund: 1,
            amountMinor: 10_000,
            customerEmail: "c@x.io",
            failureCode: "expired_or_canceled_card",
          }),
        ],
        [
          "owed_outside_stripe",
          expect.objectContaining({
            refund: 1,
            amountMinor: 10_000,
            failureCode: "expired_or_canceled_card",
          }),
        ],
      ],
    });
    const summary = ofKind(r.last, "open_ticket")[0]?.summary ?? "";
    expect(summary).toContain("expired_or_canceled_card");
    expect(summary).toContain("POST /v1/held-payments/hp1/owed-payments");
    expect(summary).not.toContain("dispute");
  });

  it("nothing waits for a retry: retry_refund is refused, and the owed payment recorded resolves the ticket", () => {
    const r = failed();
    const retry = decideHeldPayment(r.state, { type: "retry_refund", by: "admin_1" }, { now: T0, policy });
    expect(retry._unsafeUnwrapErr().code).toBe("no_failed_refund");
    const paidOut = decideHeldOwedPayment(
      r.state,
      { type: "record_owed_payment", amount: money(10_000, "AUD"), reference: "bank 42", by: "operator:o" },
      { now: T0 },
    )._unsafeUnwrap();
    expect(ofKind(paidOut.effects, "resolve_ticket").map((e) => e.ticketId)).toEqual([
      "hp1:ticket:refund_owed:1",
    ]);
  });
});

describe("a refund Stripe fails after its success, on a card lost or stolen", () => {
  it("a whole refund: its posting undone, owed outside Stripe, the payment refunded with the money owed", () => {
    const r = run(start(), [
      paid,
      unfulfilled,
      heldRefundSucceeded(),
      heldRefundFailed("lost_or_stolen_card"),
    ]);
    expect(r.state.refunds).toMatchObject([
      { number: 1, status: "owed_outside_stripe", ledgerPosted: true, failedAfterSuccess: 1 },
    ]);
    expect(postings(r.last)).toEqual([
      ["hp1:refund:1:attempt:1:ledger:failed", "held_refund_failed"],
      ["hp1:refund:1:ledger:owed", "held_owed_to_customer"],
    ]);
    expect(ofKind(r.last, "post_ledger")[1]?.transaction.refs).toMatchObject({
      failureCode: "lost_or_stolen_card",
      refundId: "re_1",
    });
    expect(books(r)).toMatchObject({ holdMinor: 0, refundedMinor: 0, owedToCustomerMinor: 10_000 });
    expect(told(r.last).tickets).toEqual([["refund_owed", "hp1:ticket:refund_owed:1"]]);
    expect(ofKind(r.last, "open_ticket")[0]?.summary).toContain("after it had succeeded");
    expect(ofKind(r.last, "refund")).toEqual([]);
    expect(r.state.status).toBe("refunded");
  });

  it("after the release: the seller's reversal stays landed, nothing more is reversed, the payment stays released", () => {
    const released = run(
      start(),
      [
        paid,
        { type: "confirm_fulfilled" },
        { type: "timer", timer: { kind: "release_due" } },
        { type: "transfer_created", attempt: 1, transferId: "tr_1" },
        { type: "refund", by: "a", amountMinor: 2_000 },
        { type: "transfer_reversed", reversal: 1, transferId: "tr_1", amountMinor: 1_800 },
        heldRefundSucceeded(),
      ],
      LATER,
    );
    const r = run(released, [heldRefundFailed("lost_or_stolen_card")], LATER);
    expect(r.state.refunds).toMatchObject([{ number: 1, status: "owed_outside_stripe" }]);
    expect(ofKind(r.last, "reverse_transfer")).toEqual([]);
    expect(ofKind(r.last, "refund")).toEqual([]);
    expect(books(r)).toMatchObject({
      holdMinor: 0,
      sellerMinor: 7_200,
      feesMinor: 800,
      refundedMinor: 0,
      owedToCustomerMinor: 2_000,
    });
    expect(r.state.status).toBe("released");
  });
});

describe("a partial refund fails at once on an expired card, before the release", () => {
  it("is owed outside Stripe; the release is no longer held up by it and pays the seller less its part", () => {
    const r = run(start(), [
      paid,
      { type: "confirm_fulfilled" },
      { type: "refund", by: "a", amountMinor: 3_000 },
      heldRefundFailed("expired_or_canceled_card"),
    ]);
    expect(r.state.refunds).toMatchObject([{ number: 1, status: "owed_outside_stripe" }]);
    expect(r.state.status).toBe("held");
    const due = run(r, [{ type: "timer", timer: { kind: "release_due" } }], LATER);
    expect(due.state.status).toBe("releasing");
    expect(ofKind(due.last, "transfer").map((e) => e.amountMinor)).toEqual([6_300]);
  });
});

describe("reasons a retry can fix keep the retry path", () => {
  const failures = [
    "declined",
    "insufficient_funds",
    "merchant_request",
    "unknown",
    "charge_for_pending_refund_disputed",
    "canceled",
  ];
  it.each(failures)("%s: a refund_failed ticket, and retry_refund asks Stripe again", (code) => {
    const r: Run = run(start(), [paid, unfulfilled, heldRefundFailed(code)]);
    expect(r.state.refunds).toMatchObject([{ number: 1, status: "failed", failureCode: code }]);
    expect(told(r.last).tickets).toEqual([["refund_failed", "hp1:ticket:refund_failed:1:1"]]);
    expect(r.state.status).toBe("refunding");
    const retried = run(r, [{ type: "retry_refund", by: "admin_1" }]);
    expect(ofKind(retried.last, "refund").map((e) => e.id)).toEqual(["hp1:refund:1:attempt:2"]);
  });
});
