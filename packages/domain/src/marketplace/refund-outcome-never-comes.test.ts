// A marketplace charge's refund whose outcome never reaches susu: Stripe leaves it pending,
// or its webhook was lost, and the refund call's answer was `pending`. Before `refund_overdue`
// it stayed `requested` for ever with nothing armed to notice it, and a dispute closed lost
// meanwhile waited for it (`lossWaits`): the loss never booked, no ticket. Now the timer asks
// Stripe (`find_refund`): the refund as Stripe holds it is the outcome; one still pending (or
// none) is ticketed and asked about again, a bounded number of times.
import { describe, expect, it } from "vitest";
import { REFUND_OUTCOME_LOOKUPS } from "../policy/refund-overdue.js";
import { DAY_MS } from "../shared/time.js";
import {
  marketplaceBooks as books,
  closed,
  created,
  dispute,
  effectsOfKind as of,
  paid,
  marketplaceTestPolicy as policy,
  refund,
  refundFailed,
  refundOk,
  run,
  T0,
} from "../testing/marketplace-charge-mothers.js";
import { decideMarketplaceCharge } from "./decide.js";
import type { MarketplaceCharge } from "./marketplace-charge.js";
import type { MarketplaceChargeInput } from "./marketplace-charge-input.js";

const REFUND_OVERDUE_MS = 4 * DAY_MS;
const overdue = (n = 1, attempt = 1, lookup?: number): MarketplaceChargeInput => ({
  type: "timer",
  timer: { kind: "refund_overdue", refund: n, attempt, ...(lookup !== undefined ? { lookup } : {}) },
});
const notEnded = (lookup: number, refundId?: string): MarketplaceChargeInput => ({
  type: "refund_not_ended",
  refund: 1,
  attempt: 1,
  lookup,
  ...(refundId !== undefined ? { refundId } : {}),
});
const fire = (charge: MarketplaceCharge, input: MarketplaceChargeInput) =>
  decideMarketplaceCharge(charge, input, { now: T0 + REFUND_OVERDUE_MS, policy })._unsafeUnwrap();

/** Paid, refunded (Stripe answered `pending`: no fact), then a dispute opened and closed lost. */
const waitingForever = () => {
  const settled = run(created(), [paid()]);
  const l = run(settled.state, [refund(), dispute(10_000), closed("lost", 10_000)]);
  return { state: l.state, effects: [...settled.effects, ...l.effects] };
};

describe("a marketplace charge's lost dispute waiting for a refund's outcome that never comes", () => {
  it("what happens without the outcome: the loss waits, unbooked, nothing reversed for it", () => {
    const w = waitingForever();
    expect(w.state.refunds).toMatchObject([{ number: 1, status: "requested", attempts: 1 }]);
    expect(w.state.disputes[0]).toMatchObject({
      status: "open",
      stripeStatus: "lost",
      waitingLossMinor: 10_000,
    });
    expect(of(w.effects, "reverse_transfer")).toEqual([]);
    expect(books(w.effects, w.state)).toMatchObject({ disputeLostMinor: 0, refundedMinor: 0 });
    expect(of(w.effects, "open_ticket").map((e) => e.reason)).toEqual(["dispute"]);
  });

  it("the refund's attempt arms a refund_overdue timer, 4 days on, keyed by refund and attempt", () => {
    const timers = of(waitingForever().effects, "schedule_timer").filter(
      (e) => e.timer.kind === "refund_overdue",
    );
    expect(timers).toEqual([
      expect.objectContaining({
        id: "mc1:timer:refund_overdue:1:1",
        at: T0 + REFUND_OVERDUE_MS,
        timer: { kind: "refund_overdue", refund: 1, attempt: 1 },
      }),
    ]);
  });

  it("the timer asks Stripe for the refund by the attempt's key; nothing else yet", () => {
    const w = waitingForever();
    const d = fire(w.state, overdue());
    expect(d.ignored).toBeUndefined();
    expect(d.effects).toEqual([
      expect.objectContaining({
        kind: "find_refund",
        id: "mc1:refund:1:attempt:1:lookup:1",
        refund: 1,
        attempt: 1,
        lookup: 1,
        refundEffectId: "mc1:refund:1:attempt:1",
        paymentIntentId: w.state.paymentIntentId,
      }),
    ]);
  });

  it("a pending refund whose webhook never came is found succeeded and the waiting loss closes", () => {
    const w = waitingForever();
    const d = fire(w.state, overdue());
    expect(of(d.effects, "find_refund")).toHaveLength(1);
    const after = run({ ...d.state, version: w.state.version + 1 }, [refundOk(1)]);
    expect(after.state.refunds).toMatchObject([{ number: 1, status: "succeeded" }]);
    expect(after.state.disputes[0]).toMatchObject({ status: "lost", lossBooked: true });
    expect(of(after.effects, "open_ticket").map((e) => e.reason)).not.toContain("refund_overdue");
  });

  it("still pending: one ticket naming the loss that waits, another look-up 2 days on; the outcome still closes it", () => {
    const w = waitingForever();
    const asked = fire(w.state, overdue());
    const d = fire({ ...asked.state, version: w.state.version + 1 }, notEnded(1, "re_pending"));
    expect(d.ignored).toBeUndefined();
    const tickets = of(d.effects, "open_ticket");
    expect(tickets).toEqual([
      expect.objectContaining({ id: "mc1:ticket:refund_overdue:1:1", reason: "refund_overdue" }),
    ]);
    expect(tickets[0]?.summary).toContain("mc1:refund:1:attempt:1");
    expect(tickets[0]?.summary).toContain("dispute dp_1");
    expect(tickets[0]?.summary).toContain("re_pending");
    expect(of(d.effects, "schedule_timer")).toEqual([
      expect.objectContaining({
        id: "mc1:timer:refund_overdue:1:1:lookup:2",
        at: T0 + REFUND_OVERDUE_MS + 2 * DAY_MS,
        timer: { kind: "refund_overdue", refund: 1, attempt: 1, lookup: 2 },
      }),
    ]);
    expect(fire(d.state, notEnded(1)).ignored).toMatchObject({ code: "refund_already_settled" });
    const after = run({ ...d.state, version: d.state.version + 1 }, [
      refundFailed("charge_for_pending_refund_disputed"),
    ]);
    expect(after.state.status).toBe("charged_back");
    expect(after.state.disputes[0]).toMatchObject({ status: "lost", lostMinor: 10_000, lossBooked: true });
  });

  it("bounded: later look-ups open no ticket until the last, whose answer stops asking", () => {
    let state = waitingForever().state;
    const tickets: string[] = [];
    let armed = 0;
    for (let lookup = 1; lookup <= REFUND_OUTCOME_LOOKUPS; lookup++) {
      const asked = fire(state, overdue(1, 1, lookup));
      expect(of(asked.effects, "find_refund")).toHaveLength(1);
      const answered = fire(asked.state, notEnded(lookup));
      tickets.push(...of(answered.effects, "open_ticket").map((e) => e.id));
      armed += of(answered.effects, "schedule_timer").length;
      state = answered.state;
    }
    expect(tickets).toEqual(["mc1:ticket:refund_overdue:1:1", "mc1:ticket:refund_overdue:1:1:last"]);
    expect(armed).toBe(REFUND_OUTCOME_LOOKUPS - 1);
  });

  it("a refund that ended, or another attempt's timer, is no longer due", () => {
    const w = waitingForever();
    const ended = run(w.state, [refundOk(1)]);
    expect(fire(ended.state, overdue()).ignored).toMatchObject({ code: "timer_no_longer_due" });
    expect(fire(ended.state, notEnded(1)).ignored).toMatchObject({ code: "refund_already_settled" });
    expect(fire(w.state, overdue(1, 2)).ignored).toMatchObject({ code: "timer_no_longer_due" });
    expect(fire(w.state, overdue(3, 1)).ignored).toMatchObject({ code: "timer_no_longer_due" });
  });
});
