// The checkout backstop timer only asks Stripe to expire the session; the payment expires
// when Stripe says the session expired, as the marketplace's expiry timer does since
// 4d1cca31. Before, the timer ended the payment `expired` on its own, so a success whose
// webhook was delayed past the backstop was refunded in full as a late payment.
import { describe, expect, it } from "vitest";
import { CHECKOUT_EXPIRY_ASKS_MAX, CHECKOUT_EXPIRY_RECHECK_MS } from "../policy/checkout-expiry-recheck.js";
import { HOUR_MS } from "../shared/time.js";
import {
  heldBooks,
  heldPaid,
  heldTestPolicy,
  runHeld,
  startHeld,
  HELD_T0 as T0,
} from "../testing/held-payment-mothers.js";
import { decideHeldPayment } from "./decide.js";
import type { HeldPaymentInput } from "./held-payment-input.js";

const fire: HeldPaymentInput = { type: "timer", timer: { kind: "checkout_expired" } };
const opened = () =>
  runHeld(startHeld(), [{ type: "checkout_session_created", sessionId: "cs", url: "https://checkout" }]);
const kinds = (effects: readonly { readonly kind: string }[]) => effects.map((e) => e.kind);
const ignored = (r: ReturnType<typeof opened>, input: HeldPaymentInput, now: number) => {
  const d = decideHeldPayment(r.state, input, { now, policy: heldTestPolicy })._unsafeUnwrap();
  if (d.ignored) expect(d.effects).toEqual([]);
  return d.ignored?.code;
};
const DAY = 24 * HOUR_MS;
const expiryNotice = "hp1:notify:checkout_expired:customer";
const notices = (effects: readonly { readonly kind: string; readonly id: string }[]) =>
  effects.filter((e) => e.kind === "notify").map((e) => e.id);

describe("held payment: the checkout backstop timer fires while the customer's success is still on its way", () => {
  it("does not end the payment without Stripe's word; the success that follows is held, not refunded", () => {
    const s0 = opened();
    const fired = runHeld(s0, [fire], T0 + 25 * HOUR_MS);
    expect(fired.state.status).not.toBe("expired");
    const late = runHeld(fired, [heldPaid], T0 + 26 * HOUR_MS);
    expect(late.state.status).toBe("held");
    expect(late.effects.filter((e) => e.kind === "refund")).toEqual([]);
    expect(notices(late.effects)).not.toContain(expiryNotice);
    expect(late.state.endedAt).toBeUndefined();
    expect(heldBooks(late)).toMatchObject({ paidInMinor: 10_000, refundedMinor: 0 });
  });

  it("the timer asks Stripe to expire the session, once; the payment waits, nobody is told", () => {
    const at = T0 + 25 * HOUR_MS;
    const fired = runHeld(opened(), [fire], at);
    expect(fired.state).toMatchObject({ status: "awaiting_payment", expiryRequestedAt: at });
    expect(fired.state.endedAt).toBeUndefined();
    expect(kinds(fired.last)).toEqual(["expire_checkout_session", "schedule_timer"]);
    expect(fired.last).toEqual([
      expect.objectContaining({
        id: "hp1:checkout_session:expire",
        aggregate: "held_payment",
        aggregateId: "hp1",
        kind: "expire_checkout_session",
        sessionId: "cs",
      }),
      // The recheck, in case Stripe's word never comes (the ask parked, the webhook lost).
      expect.objectContaining({
        id: "hp1:timer:checkout_recheck:2",
        at: at + CHECKOUT_EXPIRY_RECHECK_MS,
        timer: { kind: "checkout_recheck", ask: 2 },
      }),
    ]);
    expect(fired.state.expiryAsks).toBe(1);
    // The timer again (a redelivery) asks nothing more.
    expect(ignored(fired, fire, at + 1_000)).toBe("timer_no_longer_due");
  });

  it("Stripe says the session expired: only now does the payment expire and the customer hear of it", () => {
    const fired = runHeld(opened(), [fire], T0 + 25 * HOUR_MS);
    const expired = runHeld(
      fired,
      [{ type: "checkout_expired", sessionId: "cs" }],
      T0 + 25 * HOUR_MS + 1_000,
    );
    expect(expired.state).toMatchObject({ status: "expired", endedAt: T0 + 25 * HOUR_MS + 1_000 });
    expect(notices(expired.last)).toEqual([expiryNotice]);
    // The webhook after the effect's answer, and the timer again, change nothing.
    expect(ignored(expired, { type: "checkout_expired", sessionId: "cs" }, T0 + 26 * HOUR_MS)).toBe(
      "checkout_not_open",
    );
    expect(ignored(expired, fire, T0 + 26 * HOUR_MS)).toBe("timer_no_longer_due");
    // Money after a confirmed expiry (Stripe does not take it; recorded anyway) is refunded whole.
    const late = runHeld(expired, [heldPaid], T0 + 27 * HOUR_MS);
    expect(late.state.status).toBe("refunding");
    expect(late.last.filter((e) => e.kind === "refund")).toEqual([
      expect.objectContaining({ amountMinor: 10_000, reason: "late_payment" }),
    ]);
  });

  it("with no session recorded the customer never had a page to pay on: the timer ends the payment at once", () => {
    const fired = runHeld(startHeld(), [fire], T0 + 25 * HOUR_MS);
    expect(fired.state.status).toBe("expired");
    expect(kinds(fired.last)).not.toContain("expire_checkout_session");
    expect(notices(fired.last)).toEqual([expiryNotice]);
  });

  it("a payment older code stored expired stays so: the timer is not due, a late success is refunded as before", () => {
    // What the old backstop stored: expired without asking Stripe, no expiryRequestedAt.
    const { expiryRequestedAt: _, ...stored } = runHeld(opened(), [fire], T0 + 25 * HOUR_MS).state;
    const old = { ...opened(), state: { ...stored, status: "expired" as const, endedAt: T0 + 25 * HOUR_MS } };
    expect(ignored(old, fire, T0 + 26 * HOUR_MS)).toBe("timer_no_longer_due");
    expect(runHeld(old, [heldPaid], T0 + 26 * HOUR_MS).state.status).toBe("refunding");
  });
});

describe("held payment: rechecks while Stripe's word on the asked expiry does not come", () => {
  const recheck = (ask: number): HeldPaymentInput => ({
    type: "timer",
    timer: { kind: "checkout_recheck", ask },
  });
  const at = T0 + 25 * HOUR_MS;
  const asked = () => runHeld(opened(), [fire], at);

  it("each recheck asks again under its own key and arms the next; the one after the last opens one ticket and asks nothing", () => {
    let r = asked();
    for (let ask = 2; ask <= CHECKOUT_EXPIRY_ASKS_MAX; ask += 1) {
      const now = at + (ask - 1) * CHECKOUT_EXPIRY_RECHECK_MS;
      r = runHeld(r, [recheck(ask)], now);
      expect(r.state).toMatchObject({ status: "awaiting_payment", expiryAsks: ask, expiryRequestedAt: at });
      expect(r.last).toEqual([
        expect.objectContaining({
          id: `hp1:checkout_session:expire:${ask}`,
          kind: "expire_checkout_session",
          sessionId: "cs",
        }),
        expect.objectContaining({
          id: `hp1:timer:checkout_recheck:${ask + 1}`,
          at: now + CHECKOUT_EXPIRY_RECHECK_MS,
          timer: { kind: "checkout_recheck", ask: ask + 1 },
        }),
      ]);
      // The same recheck again (a redelivery) and an earlier one ask nothing.
      expect(ignored(r, recheck(ask), now + 1)).toBe("timer_no_longer_due");
      expect(ignored(r, recheck(ask - 1), now + 1)).toBe("timer_no_longer_due");
    }
    const last = CHECKOUT_EXPIRY_ASKS_MAX + 1;
    r = runHeld(r, [recheck(last)], at + CHECKOUT_EXPIRY_ASKS_MAX * CHECKOUT_EXPIRY_RECHECK_MS);
    expect(r.state).toMatchObject({ status: "awaiting_payment", expiryAsks: last });
    expect(r.last).toEqual([
      expect.objectContaining({
        kind: "open_ticket",
        id: "hp1:ticket:checkout_expiry_unconfirmed:last",
        reason: "checkout_expiry_unconfirmed",
      }),
    ]);
    expect(ignored(r, recheck(last), at + 40 * CHECKOUT_EXPIRY_RECHECK_MS)).toBe("timer_no_longer_due");
    expect(ignored(r, recheck(last + 1), at + 40 * CHECKOUT_EXPIRY_RECHECK_MS)).toBe("timer_no_longer_due");
    // Stripe's word, whenever it comes, still ends it.
    expect(runHeld(r, [{ type: "checkout_expired", sessionId: "cs" }], at + DAY).state.status).toBe(
      "expired",
    );
  });

  it("a recheck after Stripe's word (expired, or paid) asks nothing", () => {
    const expired = runHeld(asked(), [{ type: "checkout_expired", sessionId: "cs" }], at + 1_000);
    expect(ignored(expired, recheck(2), at + CHECKOUT_EXPIRY_RECHECK_MS)).toBe("timer_no_longer_due");
    const paid = runHeld(asked(), [heldPaid], at + 1_000);
    expect(paid.state.status).toBe("held");
    expect(ignored(paid, recheck(2), at + CHECKOUT_EXPIRY_RECHECK_MS)).toBe("timer_no_longer_due");
  });

  it("a payment stored before rechecks (asked, no count) counts its ask as the first; one never asked is not rechecked", () => {
    const { expiryAsks: _, ...stored } = asked().state;
    const old = { ...asked(), state: stored };
    const r = runHeld(old, [recheck(2)], at + CHECKOUT_EXPIRY_RECHECK_MS);
    expect(kinds(r.last)).toEqual(["expire_checkout_session", "schedule_timer"]);
    expect(ignored(opened(), recheck(2), at)).toBe("timer_no_longer_due");
  });
});
