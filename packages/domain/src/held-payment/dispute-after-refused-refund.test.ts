// A refund Stripe refused because the customer had already charged back
// (`charge_disputed`), then the dispute lost: the refund never reached the customer, so the
// loss is booked in full and the refund is superseded (found by a review; its test, adapted).
import { describe, expect, it } from "vitest";
import { HOUR_MS } from "../shared/time.js";
import {
  heldBooks as books,
  heldRefundFailed,
  heldDisputeLost as lost,
  heldDisputeOpened as opened,
  heldPaid as paid,
  heldTestPolicy as policy,
  type HeldRun as Run,
  runHeld as run,
  startHeld as start,
  HELD_T0 as T0,
} from "../testing/held-payment-mothers.js";
import { decideHeldPayment, disputedSellerPartMinor } from "./decide.js";
import { refundableMinor, sellerNetMinor } from "./held-payment.js";
import type { HeldPaymentEffect } from "./held-payment-effect.js";
import type { HeldPaymentInput } from "./held-payment-input.js";

const LATER = T0 + 80 * HOUR_MS;

const ofKind = <K extends HeldPaymentEffect["kind"]>(r: Run, kind: K) =>
  r.last.filter((e): e is Extract<HeldPaymentEffect, { kind: K }> => e.kind === kind);
const refusedDisputed = (refund = 1, attempt = 1): HeldPaymentInput =>
  heldRefundFailed("charge_disputed", refund, attempt);

describe("a refund refused because the charge was disputed, then the dispute lost", () => {
  it("the reviewer's case: the whole loss is booked, the refund superseded, the payment charged back", () => {
    const r = run(start(), [
      paid,
      { type: "report_unfulfilled", reason: "cancelled" },
      refusedDisputed(),
      opened(),
      lost(),
    ]);
    expect(books(r)).toMatchObject({ holdMinor: 0, disputeLostMinor: 10_000, refundedMinor: 0 });
    expect(r.state.status).toBe("charged_back");
    expect(r.state.disputes[0]).toMatchObject({ status: "lost", lostMinor: 10_000, lossBooked: true });
    expect(r.state.refunds).toMatchObject([
      { number: 1, status: "superseded_by_dispute", supersededBy: "dp", failureCode: "charge_disputed" },
    ]);
    expect(ofKind(r, "refund")).toEqual([]);
    expect(refundableMinor(r.state)).toBe(0);
    // Nothing is left to retry: Stripe would refuse it again, and the customer has the money.
    expect(decideHeldPayment(r.state, { type: "retry_refund", by: "a" }, { now: T0, policy })).toMatchObject({
      error: { code: "no_failed_refund" },
    });
  });

  it("a partial loss books what the bank took; the rest, which Stripe would refuse, is owed outside Stripe (partial-loss-owed.test.ts)", () => {
    const r = run(start(), [
      paid,
      { type: "report_unfulfilled", reason: "cancelled" },
      refusedDisputed(),
      opened(6_000),
      lost(6_000),
    ]);
    expect(r.state.status).toBe("charged_back");
    expect(r.state.refunds).toMatchObject([
      { number: 1, amountMinor: 10_000, status: "superseded_by_dispute" },
      {
        number: 2,
        amountMinor: 4_000,
        status: "owed_outside_stripe",
        reason: "unfulfilled",
        full: true,
        attempts: 0,
      },
    ]);
    expect(ofKind(r, "refund")).toEqual([]);
    expect(books(r)).toMatchObject({ holdMinor: 0, disputeLostMinor: 6_000, owedToCustomerMinor: 4_000 });
  });

  it("a partial refund refused, then a loss bigger than it: nothing more to refund, the release pays the seller the rest", () => {
    const r = run(start(), [
      paid,
      { type: "confirm_fulfilled" },
      { type: "refund", by: "a", amountMinor: 2_000 },
      refusedDisputed(),
      opened(5_000),
      lost(5_000),
    ]);
    expect(r.state.status).toBe("held");
    expect(r.state.refunds.map((x) => x.status)).toEqual(["superseded_by_dispute"]);
    expect(books(r)).toMatchObject({ holdMinor: 5_000, disputeLostMinor: 5_000 });
    expect(sellerNetMinor(r.state)).toBe(4_500);
    const go = run(r, [{ type: "timer", timer: { kind: "release_due" } }], LATER);
    expect(ofKind(go, "transfer")).toMatchObject([{ amountMinor: 4_500 }]);
  });

  it("a partial refund refused, then a smaller loss: the rest of the refund is owed outside Stripe", () => {
    const r = run(start(), [
      paid,
      { type: "refund", by: "a", amountMinor: 3_000 },
      refusedDisputed(),
      opened(1_000),
      lost(1_000),
    ]);
    expect(r.state.status).toBe("held");
    expect(r.state.refunds).toMatchObject([
      { number: 1, status: "superseded_by_dispute" },
      { number: 2, amountMinor: 2_000, reason: "admin", full: false, status: "owed_outside_stripe" },
    ]);
    expect(ofKind(r, "refund")).toEqual([]);
    expect(books(r)).toMatchObject({ holdMinor: 7_000, owedToCustomerMinor: 2_000, disputeLostMinor: 1_000 });
    expect(refundableMinor(r.state)).toBe(7_000);
  });

  it("after the release, a refund whose seller reversal failed is superseded: the loss is reversed from the seller instead", () => {
    const released = run(
      run(
        run(start(), [paid, { type: "confirm_fulfilled" }]),
        [{ type: "timer", timer: { kind: "release_due" } }],
        LATER,
      ),
      [{ type: "transfer_created", attempt: 1, transferId: "tr_1" }],
      LATER,
    );
    const r = run(
      released,
      [
        { type: "refund", by: "a" },
        { type: "transfer_reversal_failed", reversal: 1, failureCode: "insufficient_funds" },
        opened(),
      ],
      LATER,
    );
    // Were the open dispute lost, the seller would owe their whole share back.
    expect(disputedSellerPartMinor(r.state)).toBe(9_000);
    const l = run(r, [lost()], LATER);
    expect(l.state.status).toBe("charged_back");
    expect(l.state.refunds.map((x) => x.status)).toEqual(["superseded_by_dispute"]);
    expect(ofKind(l, "reverse_transfer")).toMatchObject([{ amountMinor: 9_000, reason: "dispute_lost" }]);
    expect(books(l)).toMatchObject({ holdMinor: -9_000, disputeLostMinor: 10_000, feesMinor: 0 });
  });

  it("a refund still pending at Stripe is not superseded: the loss waits for its outcome (dispute-lost-while-refund-in-flight.test.ts)", () => {
    const r = run(start(), [paid, { type: "report_unfulfilled", reason: "cancelled" }, opened(), lost()]);
    expect(r.state.status).toBe("refunding");
    expect(r.state.refunds.map((x) => x.status)).toEqual(["requested"]);
    expect(r.state.disputes[0]).toMatchObject({ status: "open", stripeStatus: "lost" });
    expect(r.state.disputes[0]?.lostMinor).toBeUndefined();
    expect(r.last).toEqual([]);
  });
  describe("after the release, a refund whose seller reversal landed, refused, then the dispute lost", () => {
    const released = () =>
      run(
        run(
          run(start(), [paid, { type: "confirm_fulfilled" }]),
          [{ type: "timer", timer: { kind: "release_due" } }],
          LATER,
        ),
        [{ type: "transfer_created", attempt: 1, transferId: "tr_1" }],
        LATER,
      );
    const refused = (disputedMinor: number) =>
      run(
        released(),
        [
          { type: "refund", by: "a" },
          { type: "transfer_reversed", reversal: 1, transferId: "tr_1", amountMinor: 9_000 },
          opened(disputedMinor),
          refusedDisputed(),
        ],
        LATER,
      );

    it("the reviewer's case: the refund is superseded, the whole loss booked, the reversal that landed counts toward it", () => {
      const r = refused(10_000);
      expect(books(r)).toMatchObject({ holdMinor: 9_000, sellerMinor: 0 });
      // Were the open dispute lost, the seller would owe nothing more: the platform holds their part.
      expect(disputedSellerPartMinor(r.state)).toBe(0);
      const l = run(r, [lost()], LATER);
      expect(l.state.status).toBe("charged_back");
      expect(l.state.refunds).toMatchObject([
        { number: 1, status: "superseded_by_dispute", supersededBy: "dp", failureCode: "charge_disputed" },
      ]);
      expect(l.state.disputes[0]).toMatchObject({
        lostMinor: 10_000,
        sellerPartMinor: 9_000,
        feePartMinor: 1_000,
        lossBooked: true,
      });
      // The seller is not reversed twice.
      expect(ofKind(l, "reverse_transfer")).toEqual([]);
      expect(l.state.reversals.map((x) => [x.amountMinor, x.reason, x.status])).toEqual([
        [9_000, "refund", "reversed"],
      ]);
      expect(books(l)).toMatchObject({
        holdMinor: 0,
        sellerMinor: 0,
        feesMinor: 0,
        refundedMinor: 0,
        disputeLostMinor: 10_000,
      });
      expect(sellerNetMinor(l.state)).toBe(0);
      expect(
        decideHeldPayment(l.state, { type: "retry_refund", by: "a" }, { now: LATER, policy }),
      ).toMatchObject({
        error: { code: "no_failed_refund" },
      });
    });

    it("a partial loss: the reversal that landed covers the loss's seller part and the rest's, owed outside Stripe without reversing again", () => {
      const l = run(refused(6_000), [lost(6_000)], LATER);
      expect(l.state.disputes[0]).toMatchObject({
        lostMinor: 6_000,
        sellerPartMinor: 5_400,
        feePartMinor: 600,
      });
      expect(l.state.refunds).toMatchObject([
        { number: 1, status: "superseded_by_dispute" },
        {
          number: 2,
          amountMinor: 4_000,
          sellerPartMinor: 3_600,
          feePartMinor: 400,
          status: "owed_outside_stripe",
        },
      ]);
      expect(ofKind(l, "reverse_transfer")).toEqual([]);
      expect(ofKind(l, "refund")).toEqual([]);
      expect(l.state.status).toBe("charged_back");
      expect(books(l)).toMatchObject({
        holdMinor: 0,
        sellerMinor: 0,
        feesMinor: 0,
        refundedMinor: 0,
        disputeLostMinor: 6_000,
        owedToCustomerMinor: 4_000,
      });
    });
  });
});

// Stripe refuses every refund of a charge charged back (`charge_disputed`; the dispute's
// `is_charge_refundable` is false once it is closed lost), whatever the amount it took: a
// command that would ask for one is refused up front, with a stable code.
describe("refunds after a partial loss", () => {
  const partlyLost = () => run(start(), [paid, opened(4_000), lost(4_000)]);
  const decided = (r: Run, input: HeldPaymentInput) => decideHeldPayment(r.state, input, { now: T0, policy });

  it("an admin's refund is refused: charge_disputed", () => {
    const r = partlyLost();
    expect(refundableMinor(r.state)).toBe(6_000);
    expect(decided(r, { type: "refund", by: "a" })).toMatchObject({ error: { code: "charge_disputed" } });
    expect(decided(r, { type: "refund", by: "a", amountMinor: 1_000 })).toMatchObject({
      error: { code: "charge_disputed" },
    });
  });

  it("an unfulfilled booking's refund is refused: charged_back, nothing recorded", () => {
    expect(decided(partlyLost(), { type: "report_unfulfilled", reason: "cancelled" })).toMatchObject({
      error: { code: "charge_disputed" },
    });
  });

  it("a refund that failed after it had succeeded is not asked again: it is owed outside Stripe (refund-failed-after-success.test.ts)", () => {
    const r = run(start(), [
      paid,
      { type: "refund", by: "a", amountMinor: 3_000 },
      { type: "refund_succeeded", refund: 1, attempt: 1, refundId: "re_1" },
      opened(4_000),
      lost(4_000),
      refusedDisputed(),
    ]);
    expect(r.state.refunds.map((x) => x.status)).toEqual(["owed_outside_stripe"]);
    expect(decided(r, { type: "retry_refund", by: "a" })).toMatchObject({
      error: { code: "no_failed_refund" },
    });
  });

  it("after a won dispute refunds go on", () => {
    const r = run(start(), [
      paid,
      opened(4_000),
      { type: "dispute_closed", disputeId: "dp", outcome: "won", amountMinor: 4_000 },
    ]);
    expect(decided(r, { type: "refund", by: "a", amountMinor: 1_000 }).isOk()).toBe(true);
  });
});
