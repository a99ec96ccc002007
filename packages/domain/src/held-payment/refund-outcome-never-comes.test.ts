// A refund whose outcome never reaches susu: Stripe leaves it pending for days, or its webhook
// was lost (an endpoint misconfigured past Stripe's 3 days of retries), and the refund call's
// answer was `pending`, so it said nothing either. Before `refund_overdue`, such a refund stayed
// `requested` for ever with nothing armed to notice it — and a dispute closed lost meanwhile
// waited for it (`lossWaits`): the payment `refunding`, the loss never booked, no ticket.
import { describe, expect, it } from "vitest";
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
const overdue = (refund = 1, attempt = 1): HeldPaymentInput => ({
  type: "timer",
  timer: { kind: "refund_overdue", refund, attempt },
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

  it("the timer finds the refund still requested: one ticket, naming the loss that waits for it", () => {
    const d = fire(waitingForever(), overdue());
    expect(d.ignored).toBeUndefined();
    const tickets = all(d.effects, "open_ticket");
    expect(tickets).toHaveLength(1);
    expect(tickets[0]).toMatchObject({ id: "hp1:ticket:refund_overdue:1:1", reason: "refund_overdue" });
    expect(tickets[0]?.summary).toContain("hp1:refund:1:attempt:1");
    expect(tickets[0]?.summary).toContain("dispute dp");
    // Nothing else changes: the refund still ends as Stripe's news comes.
    expect(d.state.refunds).toMatchObject([{ status: "requested" }]);
    expect(all(d.effects, "post_ledger")).toEqual([]);
  });

  it("then the outcome comes after all: the loss is closed as before", () => {
    const r = waitingForever();
    const d = fire(r, overdue());
    const after = run({ ...r, state: d.state }, [refundFailed("charge_for_pending_refund_disputed")]);
    expect(after.state.status).toBe("charged_back");
    expect(after.state.disputes[0]).toMatchObject({ status: "lost", lostMinor: 10_000, lossBooked: true });
  });

  it("a refund that ended, or a later attempt's, makes the timer no longer due", () => {
    const ended = run(waitingForever(), [refundOk()]);
    expect(fire(ended, overdue()).ignored).toMatchObject({ code: "timer_no_longer_due" });
    expect(fire(waitingForever(), overdue(1, 2)).ignored).toMatchObject({ code: "timer_no_longer_due" });
    expect(fire(waitingForever(), overdue(2, 1)).ignored).toMatchObject({ code: "timer_no_longer_due" });
  });

  it("without a dispute, a refund left requested is ticketed the same way", () => {
    const r = run(start(), [paid, { type: "refund", by: "a", amountMinor: 3_000 }]);
    const d = fire(r, overdue());
    expect(all(d.effects, "open_ticket").map((e) => e.reason)).toEqual(["refund_overdue"]);
  });
});
