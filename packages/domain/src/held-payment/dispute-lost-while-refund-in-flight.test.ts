// A dispute closed lost while a refund was still in flight: at Stripe (pending), or its
// seller reversal still on its way. Stripe fails a refund still pending when its charge is
// disputed (`failure_reason: charge_for_pending_refund_disputed`, stripe-node's Refund type)
// and refuses a new one on a charge charged back (`charge_disputed`); a refund that had
// succeeded before the dispute may still be reported after its closure. Whatever comes, the
// payment ends as if the refund's outcome had been heard before the closure: the loss booked
// once, for what the refund did not give back; no seller reversed twice; never stuck refunding.
import { describe, expect, it } from "vitest";
import { HOUR_MS } from "../shared/time.js";
import {
  heldBooks as books,
  heldDisputeLost as lost,
  heldDisputeOpened as opened,
  heldPaid as paid,
  heldTestPolicy as policy,
  type HeldRun as Run,
  heldRefundFailed as refundFailed,
  heldRefundSucceeded as refundOk,
  runHeld as run,
  startHeld as start,
  HELD_T0 as T0,
} from "../testing/held-payment-mothers.js";
import { decideHeldPayment } from "./decide.js";
import { refundableMinor } from "./held-payment.js";
import type { HeldPaymentEffect } from "./held-payment-effect.js";
import type { HeldPaymentInput } from "./held-payment-input.js";

const LATER = T0 + 80 * HOUR_MS;

const all = <K extends HeldPaymentEffect["kind"]>(r: Run, kind: K) =>
  r.effects.filter((e): e is Extract<HeldPaymentEffect, { kind: K }> => e.kind === kind);
const retried = (r: Run, now = T0) =>
  decideHeldPayment(r.state, { type: "retry_refund", by: "a" }, { now, policy });
/** Stripe's answers to every refund the last input asked for: refused, the charge is charged back. */
const refusedAsked = (r: Run): HeldPaymentInput[] =>
  r.last
    .filter((e): e is Extract<HeldPaymentEffect, { kind: "refund" }> => e.kind === "refund")
    .map((e) => refundFailed("charge_disputed", e.refund, e.attempt));

describe("a refund pending at Stripe when the dispute is lost", () => {
  const pendingThenLost = (refund: HeldPaymentInput) => run(start(), [paid, refund, opened(), lost()]);

  it("then failed by Stripe: the loss is booked in full, once, the refund superseded, the payment charged back", () => {
    const l = pendingThenLost({ type: "report_unfulfilled", reason: "cancelled" });
    const r = run(l, [refundFailed("charge_for_pending_refund_disputed")]);
    expect(r.state.status).toBe("charged_back");
    expect(r.state.disputes[0]).toMatchObject({ status: "lost", lostMinor: 10_000, lossBooked: true });
    expect(r.state.refunds).toMatchObject([
      { number: 1, status: "superseded_by_dispute", supersededBy: "dp" },
    ]);
    expect(books(r)).toMatchObject({ holdMinor: 0, refundedMinor: 0, disputeLostMinor: 10_000 });
    expect(refundableMinor(r.state)).toBe(0);
    expect(all(r, "refund")).toHaveLength(1);
    expect(retried(r)).toMatchObject({ error: { code: "no_failed_refund" } });
  });

  it("then reported succeeded (it had gone through before the dispute): the refund counts, the loss takes nothing, refunded", () => {
    const r = run(pendingThenLost({ type: "report_unfulfilled", reason: "cancelled" }), [refundOk()]);
    expect(r.state.status).toBe("refunded");
    expect(r.state.disputes[0]).toMatchObject({ status: "lost", lostMinor: 0, lossBooked: true });
    expect(books(r)).toMatchObject({ holdMinor: 0, refundedMinor: 10_000, disputeLostMinor: 0 });
  });

  it("a partial refund pending, then failed: the loss takes everything, once; nothing stays held", () => {
    const r = run(pendingThenLost({ type: "refund", by: "a", amountMinor: 3_000 }), [
      refundFailed("charge_for_pending_refund_disputed"),
    ]);
    expect(r.state.status).toBe("charged_back");
    expect(r.state.disputes[0]).toMatchObject({ lostMinor: 10_000, lossBooked: true });
    expect(r.state.refunds.map((x) => x.status)).toEqual(["superseded_by_dispute"]);
    expect(books(r)).toMatchObject({ holdMinor: 0, refundedMinor: 0, disputeLostMinor: 10_000 });
  });

  it("a partial refund pending, then succeeded: the loss takes the rest, once", () => {
    const r = run(pendingThenLost({ type: "refund", by: "a", amountMinor: 3_000 }), [refundOk()]);
    expect(r.state.status).toBe("charged_back");
    expect(r.state.disputes[0]).toMatchObject({ lostMinor: 7_000, lossBooked: true });
    expect(books(r)).toMatchObject({ holdMinor: 0, refundedMinor: 3_000, disputeLostMinor: 7_000 });
  });
});

describe("after the release, a refund whose seller reversal is in flight when the dispute is lost", () => {
  const inFlightThenLost = () =>
    run(
      run(
        run(
          run(start(), [paid, { type: "confirm_fulfilled" }]),
          [{ type: "timer", timer: { kind: "release_due" } }],
          LATER,
        ),
        [{ type: "transfer_created", attempt: 1, transferId: "tr_1" }],
        LATER,
      ),
      [{ type: "refund", by: "a" }, opened(), lost()],
      LATER,
    );

  it("the reversal lands (the refund Stripe then refuses): the loss is booked, the seller reversed once, charged back", () => {
    const landed = run(
      inFlightThenLost(),
      [{ type: "transfer_reversed", reversal: 1, transferId: "tr_1", amountMinor: 9_000 }],
      LATER,
    );
    const r = run(landed, refusedAsked(landed), LATER);
    expect(r.state.status).toBe("charged_back");
    expect(r.state.disputes[0]).toMatchObject({ lostMinor: 10_000, lossBooked: true });
    expect(r.state.refunds.map((x) => x.status)).toEqual(["superseded_by_dispute"]);
    // The seller's part came back once, with the refund's reversal; the loss asks for no other.
    expect(all(r, "reverse_transfer").map((e) => [e.amountMinor, e.reason])).toEqual([[9_000, "refund"]]);
    expect(books(r)).toMatchObject({
      holdMinor: 0,
      sellerMinor: 0,
      feesMinor: 0,
      refundedMinor: 0,
      disputeLostMinor: 10_000,
    });
    expect(retried(r, LATER)).toMatchObject({ error: { code: "no_failed_refund" } });
  });

  it("the reversal fails: the refund is superseded and the loss's reversal asked for instead, charged back", () => {
    const r = run(
      inFlightThenLost(),
      [{ type: "transfer_reversal_failed", reversal: 1, failureCode: "insufficient_funds" }],
      LATER,
    );
    expect(r.state.status).toBe("charged_back");
    expect(r.state.refunds.map((x) => x.status)).toEqual(["superseded_by_dispute"]);
    expect(r.state.disputes[0]).toMatchObject({ lostMinor: 10_000, lossBooked: true });
    expect(all(r, "reverse_transfer").map((e) => [e.amountMinor, e.reason])).toEqual([
      [9_000, "refund"],
      [9_000, "dispute_lost"],
    ]);
    expect(books(r)).toMatchObject({ holdMinor: -9_000, feesMinor: 0, disputeLostMinor: 10_000 });
    expect(retried(r, LATER)).toMatchObject({ error: { code: "no_failed_refund" } });
  });
});

// Stripe closes a dispute with `charge.dispute.closed` (its status becomes `lost`, `won` or
// `warning_closed`); `charge.dispute.updated` reports other changes. An update that reports
// `lost` closes nothing: the closure's amount is what the bank took.
describe("an update reporting lost while a refund is pending, then the refund's outcome, then the closure", () => {
  const updatedLost: HeldPaymentInput = { type: "dispute_updated", disputeId: "dp", stripeStatus: "lost" };

  it("the refund's failure closes nothing; the closure's amount is the loss", () => {
    const pending = run(start(), [
      paid,
      { type: "refund", by: "a", amountMinor: 3_000 },
      opened(),
      updatedLost,
    ]);
    const failed = run(pending, [refundFailed("charge_for_pending_refund_disputed")]);
    expect(failed.state.disputes[0]).toMatchObject({ status: "open" });
    expect(all(failed, "notify").filter((e) => e.template === "dispute_closed")).toEqual([]);
    const r = run(failed, [lost(8_000)]);
    expect(r.state.disputes[0]).toMatchObject({ status: "lost", lostMinor: 8_000, lossBooked: true });
    expect(r.state.refunds.map((x) => x.status)).toEqual(["superseded_by_dispute"]);
    expect(books(r)).toMatchObject({ holdMinor: 2_000, refundedMinor: 0, disputeLostMinor: 8_000 });
    expect(r.state.status).toBe("held");
  });

  it("the refund's success closes nothing; the closure's amount, capped at what is left, is the loss", () => {
    const pending = run(start(), [
      paid,
      { type: "refund", by: "a", amountMinor: 3_000 },
      opened(),
      updatedLost,
    ]);
    const ok = run(pending, [refundOk()]);
    expect(ok.state.disputes[0]).toMatchObject({ status: "open" });
    const r = run(ok, [lost(5_000)]);
    expect(r.state.disputes[0]).toMatchObject({ status: "lost", lostMinor: 5_000, lossBooked: true });
    expect(books(r)).toMatchObject({ holdMinor: 2_000, refundedMinor: 3_000, disputeLostMinor: 5_000 });
  });

  it("closed lost while the refund is pending, then another closure with Stripe's final amount: that amount is the loss", () => {
    const waiting = run(start(), [
      paid,
      { type: "refund", by: "a", amountMinor: 3_000 },
      opened(),
      lost(9_000),
      lost(8_000),
    ]);
    const r = run(waiting, [refundFailed("charge_for_pending_refund_disputed")]);
    expect(r.state.disputes[0]).toMatchObject({ status: "lost", lostMinor: 8_000, lossBooked: true });
    expect(books(r)).toMatchObject({ holdMinor: 2_000, disputeLostMinor: 8_000 });
  });
});

// The outcome that closes a loss that waited supersedes the refund in the same decision:
// nothing is left to retry, so no "retry it" ticket or notice goes out with it.
describe("the outcome that closes a waiting loss and supersedes its refund", () => {
  const asks = (r: Run) => ({
    tickets: r.last.filter((e) => e.kind === "open_ticket").map((e) => e.reason),
    notices: r.last.filter((e) => e.kind === "notify").map((e) => e.template),
  });

  it("a refund failed: no refund_failed ticket or notice, the dispute's closure told", () => {
    const l = run(start(), [paid, { type: "report_unfulfilled", reason: "cancelled" }, opened(), lost()]);
    const r = run(l, [refundFailed("charge_for_pending_refund_disputed")]);
    expect(r.state.refunds.map((x) => x.status)).toEqual(["superseded_by_dispute"]);
    expect(asks(r)).toEqual({ tickets: [], notices: ["dispute_closed", "dispute_closed"] });
  });

  it("a refund's seller reversal failed: no reversal_failed ticket asking to retry the refund", () => {
    const released = run(
      run(
        run(start(), [paid, { type: "confirm_fulfilled" }]),
        [{ type: "timer", timer: { kind: "release_due" } }],
        LATER,
      ),
      [{ type: "transfer_created", attempt: 1, transferId: "tr_1" }],
      LATER,
    );
    const l = run(released, [{ type: "refund", by: "a" }, opened(), lost()], LATER);
    const r = run(
      l,
      [{ type: "transfer_reversal_failed", reversal: 1, failureCode: "insufficient_funds" }],
      LATER,
    );
    expect(r.state.refunds.map((x) => x.status)).toEqual(["superseded_by_dispute"]);
    expect(asks(r).tickets).toEqual([]);
    expect(asks(r).notices).not.toContain("reversal_failed");
  });

  it("a refund that fails with no loss waiting still opens its ticket", () => {
    const r = run(start(), [
      paid,
      { type: "report_unfulfilled", reason: "cancelled" },
      refundFailed("declined"),
    ]);
    expect(asks(r)).toEqual({ tickets: ["refund_failed"], notices: ["refund_failed"] });
  });
});
