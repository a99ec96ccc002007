// A refund whose outcome never reaches susu: Stripe leaves it pending for days, or its webhook
// was lost (an endpoint misconfigured past Stripe's 3 days of retries), and the refund call's
// answer was `pending`, so it said nothing either. Before `refund_overdue`, such a refund stayed
// `requested` for ever with nothing armed to notice it — and a dispute closed lost meanwhile
// waited for it (`lossWaits`): the payment `refunding`, the loss never booked, no ticket.
// Then the timer opened a ticket and asked nobody; now it asks Stripe (`find_refund`): the
// refund as Stripe holds it is the outcome, and only a refund still pending (or none) is
// ticketed and asked about again, a bounded number of times.
import { describe, expect, it } from "vitest";
import { REFUND_OUTCOME_LOOKUPS } from "../policy/refund-overdue.js";
import { DAY_MS } from "../shared/time.js";
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
import type { HeldPaymentEffect } from "./held-payment-effect.js";
import type { HeldPaymentInput } from "./held-payment-input.js";

const REFUND_OVERDUE_MS = 4 * DAY_MS;

const all = <K extends HeldPaymentEffect["kind"]>(effects: readonly HeldPaymentEffect[], kind: K) =>
  effects.filter((e): e is Extract<HeldPaymentEffect, { kind: K }> => e.kind === kind);
const overdue = (refund = 1, attempt = 1, lookup?: number): HeldPaymentInput => ({
  type: "timer",
  timer: { kind: "refund_overdue", refund, attempt, ...(lookup !== undefined ? { lookup } : {}) },
});
const notEnded = (lookup: number, refundId?: string): HeldPaymentInput => ({
  type: "refund_not_ended",
  refund: 1,
  attempt: 1,
  lookup,
  ...(refundId !== undefined ? { refundId } : {}),
});
const fire = (r: Run, input: HeldPaymentInput, at = T0 + REFUND_OVERDUE_MS) =>
  decideHeldPayment(r.state, input, { now: at, policy })._unsafeUnwrap();

/** Paid, everything refunded (Stripe answered `pending`: no fact), then a dispute opened and closed lost. */
const waitingForever = () =>
  run(start(), [paid, { type: "report_unfulfilled", reason: "cancelled" }, opened(), lost()]);

describe("a lost dispute waiting for a refund's outcome that never comes", () => {
  it("what happens without the outcome: the loss waits, unbooked, the payment refunding", () => {
    const r = waitingForever();
    expect(r.state.status).toBe("refunding");
    expect(r.state.refunds).toMatchObject([{ number: 1, status: "requested", attempts: 1 }]);
    expect(r.state.disputes[0]).toMatchObject({
      status: "open",
      stripeStatus: "lost",
      waitingLossMinor: 10_000,
    });
    expect(books(r)).toMatchObject({ holdMinor: 10_000, refundedMinor: 0, disputeLostMinor: 0 });
    // The dispute's own ticket is the only one: it says the release is frozen until it closes.
    expect(all(r.effects, "open_ticket").map((e) => e.reason)).toEqual(["dispute"]);
  });

  it("the refund's attempt arms a refund_overdue timer, 4 days on, keyed by refund and attempt", () => {
    const r = waitingForever();
    const timers = all(r.effects, "schedule_timer").filter((e) => e.timer.kind === "refund_overdue");
    expect(timers).toEqual([
      expect.objectContaining({
        id: "hp1:timer:refund_overdue:1:1",
        at: T0 + REFUND_OVERDUE_MS,
        timer: { kind: "refund_overdue", refund: 1, attempt: 1 },
      }),
    ]);
  });

  it("the timer asks Stripe for the refund, by the attempt's key; nothing else yet", () => {
    const d = fire(waitingForever(), overdue());
    expect(d.ignored).toBeUndefined();
    expect(d.effects).toEqual([
      expect.objectContaining({
        kind: "find_refund",
        id: "hp1:refund:1:attempt:1:lookup:1",
        refund: 1,
        attempt: 1,
        lookup: 1,
        refundEffectId: "hp1:refund:1:attempt:1",
        paymentIntentId: "pi",
      }),
    ]);
    expect(d.state.refunds).toMatchObject([{ status: "requested" }]);
  });

  it("a pending refund whose webhook never came is found succeeded and the waiting loss closes", () => {
    const r = waitingForever();
    const d = fire(r, overdue());
    const lookup = all(d.effects, "find_refund");
    expect(lookup).toHaveLength(1);
    // Stripe's answer to the look-up is the refund's outcome, routed as its webhook would be.
    const after = run({ ...r, state: d.state }, [refundOk()]);
    expect(after.state.refunds).toMatchObject([{ number: 1, status: "succeeded", refundId: "re_1" }]);
    expect(after.state.disputes[0]).toMatchObject({ status: "lost", lossBooked: true });
    // Refunded in full: the payment ends, the loss that waited is closed, nothing held.
    expect(after.state.status).toBe("refunded");
    expect(books(after)).toMatchObject({ holdMinor: 0, refundedMinor: 10_000 });
    expect(all(after.effects, "open_ticket").map((e) => e.reason)).not.toContain("refund_overdue");
  });

  it("found failed (or cancelled), it fails as Stripe's news would fail it, and the waiting loss closes", () => {
    const r = waitingForever();
    const d = fire(r, overdue());
    const after = run({ ...r, state: d.state }, [refundFailed("canceled")]);
    expect(after.state.status).toBe("charged_back");
    expect(after.state.disputes[0]).toMatchObject({ status: "lost", lostMinor: 10_000, lossBooked: true });
  });

  it("still pending: one ticket naming the loss that waits, and another look-up armed 2 days on", () => {
    const r = waitingForever();
    const asked = run({ ...r, state: fire(r, overdue()).state }, [], T0 + REFUND_OVERDUE_MS);
    const d = fire(asked, notEnded(1, "re_pending"));
    expect(d.ignored).toBeUndefined();
    const tickets = all(d.effects, "open_ticket");
    expect(tickets).toEqual([
      expect.objectContaining({ id: "hp1:ticket:refund_overdue:1:1", reason: "refund_overdue" }),
    ]);
    expect(tickets[0]?.summary).toContain("hp1:refund:1:attempt:1");
    expect(tickets[0]?.summary).toContain("re_pending");
    expect(tickets[0]?.summary).toContain("dispute dp");
    expect(all(d.effects, "schedule_timer")).toEqual([
      expect.objectContaining({
        id: "hp1:timer:refund_overdue:1:1:lookup:2",
        at: T0 + REFUND_OVERDUE_MS + 2 * DAY_MS,
        timer: { kind: "refund_overdue", refund: 1, attempt: 1, lookup: 2 },
      }),
    ]);
    expect(d.state.refunds).toMatchObject([{ status: "requested", lookups: 1 }]);
    expect(all(d.effects, "post_ledger")).toEqual([]);
    // The same answer again (the effect run twice) changes nothing.
    expect(fire({ ...asked, state: d.state }, notEnded(1)).ignored).toMatchObject({
      code: "refund_already_settled",
    });
    // The next look-up's timer asks again, with its own id; the one already answered is no longer due.
    const next = fire({ ...asked, state: d.state }, overdue(1, 1, 2));
    expect(all(next.effects, "find_refund").map((e) => e.id)).toEqual(["hp1:refund:1:attempt:1:lookup:2"]);
    expect(fire({ ...asked, state: d.state }, overdue(1, 1, 1)).ignored).toMatchObject({
      code: "timer_no_longer_due",
    });
  });

  it("bounded: later look-ups open no ticket until the last, whose answer stops asking", () => {
    let r = waitingForever();
    const tickets: string[] = [];
    let armed = 0;
    for (let lookup = 1; lookup <= REFUND_OUTCOME_LOOKUPS; lookup++) {
      const asked = fire(r, overdue(1, 1, lookup));
      expect(all(asked.effects, "find_refund")).toHaveLength(1);
      const answered = fire({ ...r, state: asked.state }, notEnded(lookup));
      tickets.push(...all(answered.effects, "open_ticket").map((e) => e.id));
      armed += all(answered.effects, "schedule_timer").length;
      r = { ...r, state: answered.state };
    }
    expect(REFUND_OUTCOME_LOOKUPS).toBe(8);
    expect(tickets).toEqual(["hp1:ticket:refund_overdue:1:1", "hp1:ticket:refund_overdue:1:1:last"]);
    expect(armed).toBe(REFUND_OUTCOME_LOOKUPS - 1);
    // Still, the outcome closes it when it comes.
    const after = run(r, [refundFailed("charge_for_pending_refund_disputed")]);
    expect(after.state.status).toBe("charged_back");
  });

  it("a refund that ended, or a later attempt's, makes the timer and a look-up's answer no longer due", () => {
    const ended = run(waitingForever(), [refundOk()]);
    expect(fire(ended, overdue()).ignored).toMatchObject({ code: "timer_no_longer_due" });
    expect(fire(ended, notEnded(1)).ignored).toMatchObject({ code: "refund_already_settled" });
    expect(fire(waitingForever(), overdue(1, 2)).ignored).toMatchObject({ code: "timer_no_longer_due" });
    expect(fire(waitingForever(), overdue(2, 1)).ignored).toMatchObject({ code: "timer_no_longer_due" });
    expect(
      fire(waitingForever(), { type: "refund_not_ended", refund: 2, attempt: 1, lookup: 1 }).ignored,
    ).toMatchObject({ code: "no_such_refund" });
  });

  it("without a dispute, a refund left pending is ticketed the same way", () => {
    const r = run(start(), [paid, { type: "refund", by: "a", amountMinor: 3_000 }]);
    const asked = fire(r, overdue());
    expect(all(asked.effects, "find_refund")).toHaveLength(1);
    const d = fire({ ...r, state: asked.state }, notEnded(1));
    expect(all(d.effects, "open_ticket").map((e) => e.reason)).toEqual(["refund_overdue"]);
    expect(all(d.effects, "open_ticket")[0]?.summary).toContain("no refund made by it");
  });
});
