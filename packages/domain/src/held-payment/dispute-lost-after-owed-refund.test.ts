// A refund owed to the customer outside Stripe because their card can no longer take money
// (refund-unreachable-owed.test.ts), then a dispute of the charge lost. At Stripe nothing was
// refunded, so the customer's bank may take back up to the whole charge: what it takes beyond
// what is left to give back is money the customer was owed outside Stripe, and it reached
// them through their bank. The loss is booked whole (the books agree with Stripe), its part
// beyond what was left taken from what is owed (`<agg>:owed_to_customer`), and what is owed
// is lessened by it, never below zero — an admin cannot then record paying more than is left,
// and the `refund_owed` ticket is resolved when the bank gave back all of it. A loss within
// what was left lessens nothing: the customer still gets the refund owed to them.
import { describe, expect, it } from "vitest";
import { postTransaction } from "../ledger/index.js";
import { money } from "../money/index.js";
import { owedLeftMinor } from "../owed/owed-payment.js";
import { decideHeldOwedPayment, paymentOwed } from "../owed/payment-owed.js";
import { HOUR_MS } from "../shared/time.js";
import {
  heldBooks as books,
  heldRefundFailed,
  heldRefundSucceeded,
  heldDisputeLost as lost,
  heldDisputeOpened as opened,
  heldPaid as paid,
  type HeldRun as Run,
  runHeld as run,
  startHeld as start,
  HELD_T0 as T0,
} from "../testing/held-payment-mothers.js";
import { refundableMinor } from "./held-payment.js";
import type { HeldPaymentEffect } from "./held-payment-effect.js";

const LATER = T0 + 80 * HOUR_MS;

const ofKind = <K extends HeldPaymentEffect["kind"]>(effects: readonly HeldPaymentEffect[], kind: K) =>
  effects.filter((e): e is Extract<HeldPaymentEffect, { kind: K }> => e.kind === kind);

const unreachable = heldRefundFailed("expired_or_canceled_card");
const pay = (amountMinor: number, reference = "bank 1") =>
  ({
    type: "record_owed_payment",
    amount: money(amountMinor, "AUD"),
    reference,
    by: "operator:o",
  }) as const;

/** The whole payment owed outside Stripe (refunded before the release, on an expired card). */
const wholeOwed = (): Run =>
  run(start(), [paid, { type: "report_unfulfilled", reason: "cancelled" }, unreachable]);

describe("a whole refund owed outside Stripe, then a dispute of the whole charge lost", () => {
  it("books the bank's return as a loss, taken from what is owed: nothing is owed any more", () => {
    const r = run(wholeOwed(), [opened(), lost()]);
    expect(r.state.disputes[0]).toMatchObject({ status: "lost", lossBooked: true, owedTakenMinor: 10_000 });
    expect(books(r)).toMatchObject({
      paidInMinor: 10_000,
      holdMinor: 0,
      disputeLostMinor: 10_000,
      owedToCustomerMinor: 0,
      refundedMinor: 0,
      feesMinor: 0,
    });
    const post = ofKind(r.last, "post_ledger").find((e) => e.transaction.kind === "held_dispute_lost");
    expect(post?.transaction.postings.map((p) => [p.account, p.side, p.amount.amountMinor])).toEqual([
      ["held:hp1:dispute_losses", "debit", 10_000],
      ["held:hp1:owed_to_customer", "credit", 10_000],
    ]);
    expect(post?.transaction.refs).toMatchObject({ disputeId: "dp" });
    expect(owedLeftMinor(paymentOwed(r.state))).toBe(0);
    expect(refundableMinor(r.state)).toBe(0);
    // The ticket asking an admin to pay the customer is done: the bank gave it back.
    expect(ofKind(r.last, "resolve_ticket").map((e) => e.ticketId)).toEqual(["hp1:ticket:refund_owed:1"]);
    // Paying it again outside Stripe would pay the customer twice.
    const again = decideHeldOwedPayment(r.state, pay(1), { now: LATER });
    expect(again._unsafeUnwrapErr().code).toBe("nothing_owed");
  });

  it("a loss of part of it lessens what is owed by that part; a payment of more than the rest is refused", () => {
    const r = run(wholeOwed(), [opened(4_000), lost(4_000)]);
    expect(books(r)).toMatchObject({ holdMinor: 0, disputeLostMinor: 4_000, owedToCustomerMinor: 6_000 });
    expect(owedLeftMinor(paymentOwed(r.state))).toBe(6_000);
    expect(ofKind(r.last, "resolve_ticket")).toEqual([]);
    const tooMuch = decideHeldOwedPayment(r.state, pay(6_001), { now: LATER });
    expect(tooMuch._unsafeUnwrapErr().code).toBe("amount_exceeds_owed");
    const rest = decideHeldOwedPayment(r.state, pay(6_000), { now: LATER })._unsafeUnwrap();
    expect(ofKind(rest.effects, "resolve_ticket").map((e) => e.ticketId)).toEqual([
      "hp1:ticket:refund_owed:1",
    ]);
  });
});

describe("a partial refund owed outside Stripe, then a dispute lost", () => {
  // 30.00 owed, the release not started: 70.00 is left to give back.
  const partOwed = (): Run =>
    run(start(), [
      paid,
      { type: "confirm_fulfilled" },
      { type: "refund", by: "a", amountMinor: 3_000 },
      unreachable,
    ]);

  it("of the whole charge: what was left is lost as any loss is, the rest taken from what is owed", () => {
    const r = run(partOwed(), [opened(), lost()]);
    expect(r.state.disputes[0]).toMatchObject({ lostMinor: 7_000, owedTakenMinor: 3_000 });
    expect(books(r)).toMatchObject({ holdMinor: 0, disputeLostMinor: 10_000, owedToCustomerMinor: 0 });
    expect(owedLeftMinor(paymentOwed(r.state))).toBe(0);
    expect(r.state.status).toBe("charged_back");
  });

  it("within what was left: what is owed stays owed", () => {
    const r = run(partOwed(), [opened(5_000), lost(5_000)]);
    expect(r.state.disputes[0]).toMatchObject({ lostMinor: 5_000 });
    expect(r.state.disputes[0]?.owedTakenMinor ?? 0).toBe(0);
    expect(books(r)).toMatchObject({ disputeLostMinor: 5_000, owedToCustomerMinor: 3_000 });
    expect(owedLeftMinor(paymentOwed(r.state))).toBe(3_000);
  });
});

describe("a refund owed outside Stripe after the seller was paid, then a dispute of the whole charge lost", () => {
  it("the seller gives back the refund's part once and the loss's part of what was left; the rest comes from what is owed", () => {
    const released = run(
      start(),
      [
        paid,
        { type: "confirm_fulfilled" },
        { type: "timer", timer: { kind: "release_due" } },
        { type: "transfer_created", attempt: 1, transferId: "tr_1" },
        { type: "refund", by: "a", amountMinor: 2_000 },
      ],
      LATER,
    );
    const reversal = ofKind(released.last, "reverse_transfer")[0];
    const landed = run(
      released,
      [
        {
          type: "transfer_reversed",
          reversal: reversal?.reversal ?? 1,
          transferId: "tr_1",
          amountMinor: 1_800,
        },
        unreachable,
      ],
      LATER,
    );
    expect(landed.state.refunds).toMatchObject([{ status: "owed_outside_stripe" }]);
    const r = run(landed, [opened(), lost()], LATER);
    expect(r.state.disputes[0]).toMatchObject({ lostMinor: 8_000, owedTakenMinor: 2_000 });
    // The loss's seller part of what was left (72.00) is reversed; nothing more for the owed part.
    expect(ofKind(r.last, "reverse_transfer").map((e) => e.amountMinor)).toEqual([7_200]);
    const done = run(
      r,
      [
        {
          type: "transfer_reversed",
          reversal: ofKind(r.last, "reverse_transfer")[0]?.reversal ?? 2,
          transferId: "tr_1",
          amountMinor: 7_200,
        },
      ],
      LATER,
    );
    expect(books(done)).toMatchObject({
      holdMinor: 0,
      sellerMinor: 0,
      feesMinor: 0,
      disputeLostMinor: 10_000,
      owedToCustomerMinor: 0,
    });
  });
});

describe("a dispute lost while a refund counted as given back, which Stripe had failed after its success", () => {
  // At Stripe the refund failed (the money came back) and then the bank took 40.00; susu hears
  // the loss first, while the refund still counts as given back (the loss books nothing), then
  // the refund's failure, which makes it owed outside Stripe (the charge was charged back).
  it.each(["declined", "lost_or_stolen_card"])(
    "%s: the loss's uncounted 40.00 is taken from what is owed then",
    (code) => {
      const heard = run(start(), [
        paid,
        { type: "report_unfulfilled", reason: "cancelled" },
        heldRefundSucceeded(),
        opened(),
        lost(4_000),
      ]);
      expect(books(heard)).toMatchObject({ refundedMinor: 10_000, disputeLostMinor: 0 });
      const r = run(heard, [heldRefundFailed(code)]);
      expect(r.state.refunds).toMatchObject([{ number: 1, status: "owed_outside_stripe" }]);
      expect(r.state.disputes[0]).toMatchObject({ lostMinor: 0, owedTakenMinor: 4_000 });
      const post = ofKind(r.last, "post_ledger").find((e) => e.id === "hp1:dispute:dp:lost:owed:1");
      expect(post?.transaction.postings.map((p) => [p.account, p.side, p.amount.amountMinor])).toEqual([
        ["held:hp1:dispute_losses", "debit", 4_000],
        ["held:hp1:owed_to_customer", "credit", 4_000],
      ]);
      expect(books(r)).toMatchObject({
        holdMinor: 0,
        refundedMinor: 0,
        disputeLostMinor: 4_000,
        owedToCustomerMinor: 6_000,
      });
      expect(owedLeftMinor(paymentOwed(r.state))).toBe(6_000);
    },
  );
});

describe("part of a refund owed outside Stripe paid by an admin, then a dispute of the whole charge lost", () => {
  // 100.00 owed, 40.00 of it paid outside Stripe by an admin; then the customer's bank gives back
  // the whole 100.00 too: the customer got 40.00 twice (the admin's, and their bank's).
  const paidOwed = (r: Run, amountMinor: number, reference = "bank 1"): Run => {
    const d = decideHeldOwedPayment(r.state, pay(amountMinor, reference), { now: LATER })._unsafeUnwrap();
    let ledger = r.ledger;
    for (const e of d.effects)
      if (e.kind === "post_ledger") ledger = postTransaction(ledger, e.transaction)._unsafeUnwrap();
    return { state: d.state, ledger, effects: [...r.effects, ...d.effects], last: d.effects };
  };

  it("books the whole loss, as Stripe does: what was paid twice is owed back by the customer, and a ticket asks to recover it", () => {
    const r = run(paidOwed(wholeOwed(), 4_000), [opened(), lost()]);
    expect(books(r)).toMatchObject({
      paidInMinor: 10_000,
      disputeLostMinor: 10_000,
      owedToCustomerMinor: 0,
      paidOutsideStripeMinor: 4_000,
      owedByCustomerMinor: 4_000,
    });
    expect(r.state.disputes[0]).toMatchObject({
      status: "lost",
      lossBooked: true,
      lostMinor: 0,
      owedTakenMinor: 6_000,
      overpaidMinor: 4_000,
    });
    const post = ofKind(r.last, "post_ledger").find((e) => e.transaction.kind === "held_dispute_lost");
    expect(post?.transaction.postings.map((p) => [p.account, p.side, p.amount.amountMinor])).toEqual([
      ["held:hp1:dispute_losses", "debit", 10_000],
      ["held:hp1:owed_to_customer", "credit", 6_000],
      ["held:hp1:owed_by_customer", "credit", 4_000],
    ]);
    const tickets = ofKind(r.last, "open_ticket").filter((t) => t.reason === "owed_overpaid");
    expect(tickets.map((t) => t.id)).toEqual(["hp1:ticket:owed_overpaid:dp"]);
    expect(tickets[0]?.summary).toContain("40.00");
    expect(tickets[0]?.summary).toContain("c@x.io");
    // Nothing is owed to the customer any more: the refund_owed ticket is done.
    expect(owedLeftMinor(paymentOwed(r.state))).toBe(0);
    expect(ofKind(r.last, "resolve_ticket").map((e) => e.ticketId)).toEqual(["hp1:ticket:refund_owed:1"]);
  });

  it("a loss within what was still owed takes nothing paid twice: no ticket", () => {
    const r = run(paidOwed(wholeOwed(), 4_000), [opened(6_000), lost(6_000)]);
    expect(r.state.disputes[0]?.overpaidMinor ?? 0).toBe(0);
    expect(books(r)).toMatchObject({
      disputeLostMinor: 6_000,
      owedToCustomerMinor: 0,
      owedByCustomerMinor: 0,
    });
    expect(ofKind(r.last, "open_ticket").filter((t) => t.reason === "owed_overpaid")).toEqual([]);
  });
});

describe("what is owed lessened by a lost dispute: the refund_owed ticket and the customer are told", () => {
  it("part of it: the ticket gets a note naming what is left, and the customer hears what their bank gave back and what is still owed", () => {
    const r = run(wholeOwed(), [opened(4_000), lost(4_000)]);
    const notes = ofKind(r.last, "note_ticket");
    expect(notes.map((n) => [n.id, n.ticketId])).toEqual([
      ["hp1:ticket:refund_owed:1:note:dispute:dp", "hp1:ticket:refund_owed:1"],
    ]);
    expect(notes[0]?.note).toMatch(/^60\.00 AUD is left owed/);
    expect(notes[0]?.note).toContain("40.00 AUD");
    const told = ofKind(r.last, "notify").filter((n) => n.template === "owed_reduced_by_dispute");
    expect(told).toMatchObject([
      {
        id: "hp1:notify:owed_reduced_by_dispute:dp",
        to: { kind: "customer", email: "c@x.io" },
        data: { disputeId: "dp", amountMinor: 4_000, leftMinor: 6_000, currency: "AUD" },
      },
    ]);
  });

  it("all of it: the ticket is resolved (no note), and the customer hears nothing more is owed", () => {
    const r = run(wholeOwed(), [opened(), lost()]);
    expect(ofKind(r.last, "note_ticket")).toEqual([]);
    expect(ofKind(r.last, "resolve_ticket").map((e) => e.ticketId)).toEqual(["hp1:ticket:refund_owed:1"]);
    const told = ofKind(r.last, "notify").filter((n) => n.template === "owed_reduced_by_dispute");
    expect(told).toMatchObject([{ data: { amountMinor: 10_000, leftMinor: 0 } }]);
  });

  it("a loss within what was left lessens nothing owed: nobody is told", () => {
    const r = run(
      run(start(), [
        paid,
        { type: "confirm_fulfilled" },
        { type: "refund", by: "a", amountMinor: 3_000 },
        unreachable,
      ]),
      [opened(5_000), lost(5_000)],
    );
    expect(ofKind(r.last, "note_ticket")).toEqual([]);
    expect(ofKind(r.last, "notify").filter((n) => n.template === "owed_reduced_by_dispute")).toEqual([]);
  });
});
