// A marketplace charge's refund whose outcome never reaches susu: Stripe leaves it pending,
// or its webhook was lost, and the refund call's answer was `pending`. Before `refund_overdue`
// it stayed `requested` for ever with nothing armed to notice it, and a dispute closed lost
// meanwhile waited for it (`lossWaits`): the loss never booked, no ticket.
import { describe, expect, it } from "vitest";
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
const overdue = (n = 1, attempt = 1): MarketplaceChargeInput => ({
  type: "timer",
  timer: { kind: "refund_overdue", refund: n, attempt },
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

  it("the timer finds the refund still requested: one ticket naming the loss that waits; the outcome still closes it", () => {
    const w = waitingForever();
    const d = fire(w.state, overdue());
    expect(d.ignored).toBeUndefined();
    const tickets = of(d.effects, "open_ticket");
    expect(tickets).toEqual([
      expect.objectContaining({ id: "mc1:ticket:refund_overdue:1:1", reason: "refund_overdue" }),
    ]);
    expect(tickets[0]?.summary).toContain("mc1:refund:1:attempt:1");
    expect(tickets[0]?.summary).toContain("dispute dp_1");
    const after = run({ ...d.state, version: w.state.version + 1 }, [
      refundFailed("charge_for_pending_refund_disputed"),
    ]);
    expect(after.state.status).toBe("charged_back");
    expect(after.state.disputes[0]).toMatchObject({ status: "lost", lostMinor: 10_000, lossBooked: true });
  });

  it("a refund that ended, or another attempt's timer, is no longer due", () => {
    const w = waitingForever();
    const ended = run(w.state, [refundOk(1)]);
    expect(fire(ended.state, overdue()).ignored).toMatchObject({ code: "timer_no_longer_due" });
    expect(fire(w.state, overdue(1, 2)).ignored).toMatchObject({ code: "timer_no_longer_due" });
    expect(fire(w.state, overdue(3, 1)).ignored).toMatchObject({ code: "timer_no_longer_due" });
  });
});
