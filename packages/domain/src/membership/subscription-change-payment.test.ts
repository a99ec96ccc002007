// A plan change is asked of Stripe as a pending update (`payment_behavior:
// pending_if_incomplete`): Stripe makes it only once its invoice is paid. Until then the
// membership stays on its plan (and its entitlements), its change pending; the change's failed
// payment tells the person and moves no status; Stripe discarding the update unpaid (it
// expires, its invoice voided: nothing charged) drops the change and tells the person.
import { describe, expect, it } from "vitest";
import { DAY_MS } from "../shared/time.js";
import {
  activeSubscription,
  basicMonthly,
  failedInvoice,
  feed,
  invoice,
  MEMBERSHIP_T0,
  paidInvoice,
  proMonthly,
  snapshot,
} from "../testing/membership-mothers.js";
import type { Subscription } from "./subscription.js";
import { decideSubscription } from "./subscription-decide.js";
import type { SubscriptionInput } from "./subscription-input.js";

const HOUR_MS = 3_600_000;
/** The change is asked at T0 + 10 days; Stripe holds it until 23 hours later. */
const ASKED_AT = MEMBERSHIP_T0 + 10 * DAY_MS;
const EXPIRES_AT = ASKED_AT + 23 * HOUR_MS;
const held = { stripePriceId: "price_pro_m", expiresAt: EXPIRES_AT, invoiceId: "in_up" };

const decided = (s: Subscription, input: SubscriptionInput, now = ASKED_AT) =>
  decideSubscription(s, input, { now })._unsafeUnwrap();

/** An active membership (its news up to day 5) that asked to upgrade at day 10. */
function asked(): Subscription {
  const s = feed(activeSubscription(), [snapshot("active", 5)]);
  return decided(s, { type: "change_price", price: proMonthly, prorationBehavior: "always_invoice" }).state;
}

/** Stripe's answer to the change call: still on the old price, the change held. */
const heldAnswer: SubscriptionInput = {
  type: "subscription_changed",
  snapshot: {
    stripeSubscriptionId: "sub_stripe1",
    status: "active",
    stripePriceId: "price_basic_m",
    cancelAtPeriodEnd: false,
    pendingUpdate: held,
  },
};

/** A view at `at` (Stripe's time). */
const viewAt = (at: number, extra: Record<string, unknown> = {}): SubscriptionInput => {
  const base = snapshot("active", 0) as Extract<SubscriptionInput, { type: "subscription_changed" }>;
  return { type: "subscription_changed", snapshot: { ...base.snapshot, observedAt: at, ...extra } };
};

const changeFailed = (attempt: number, at: number): SubscriptionInput => ({
  type: "invoice_payment_failed",
  invoice: { ...invoice("in_up", 0, 0), amountDueMinor: 15_00, observedAt: at, forChange: true },
  attemptCount: attempt,
});

describe("a plan change Stripe holds until its invoice is paid", () => {
  it("keeps the old plan while held: the answer's pending update is noted, not taken as the change", () => {
    const d = decided(asked(), heldAnswer);
    expect(d.ignored).toBeUndefined();
    expect(d.state.price).toEqual(basicMonthly);
    expect(d.state.pendingChange).toEqual({
      change: 1,
      price: proMonthly,
      requestedAt: ASKED_AT,
      awaitingPayment: { expiresAt: EXPIRES_AT, invoiceId: "in_up" },
    });
    // The answer heard again says nothing new.
    expect(decided(d.state, heldAnswer).ignored?.code).toBe("stale_snapshot");
  });

  it("its failed payment (no retry) tells the person and neither lapses nor moves the membership", () => {
    const d = decided(decided(asked(), heldAnswer).state, changeFailed(1, ASKED_AT + 1000));
    expect(d.state.status).toBe("active");
    expect(d.state.price).toEqual(basicMonthly);
    expect(d.state.lapses).toBe(0);
    expect(d.state.invoices.find((i) => i.id === "in_up")).toMatchObject({
      forChange: true,
      failedAttempts: 1,
    });
    expect(d.effects).toEqual([
      expect.objectContaining({
        kind: "notify",
        id: "sub1:notify:membership_payment_failed:in_up:1",
        template: "membership_payment_failed",
        data: expect.objectContaining({
          planChange: "yes",
          lastAttempt: "no",
          requestedPlanId: "pl_pro",
          changeExpiresAt: new Date(EXPIRES_AT).toISOString(),
        }),
      }),
    ]);
  });

  it("is made when Stripe applies it (its invoice paid): the view naming the new price", () => {
    const waiting = feed(decided(asked(), heldAnswer).state, [changeFailed(1, ASKED_AT + 1000)]);
    const paid: SubscriptionInput = {
      type: "invoice_paid",
      invoice: { ...invoice("in_up", 0, 15_00), observedAt: ASKED_AT + 2 * HOUR_MS, forChange: true },
      paidAt: ASKED_AT + 2 * HOUR_MS,
    };
    const after = feed(waiting, [paid, viewAt(ASKED_AT + 2 * HOUR_MS, { stripePriceId: "price_pro_m" })]);
    expect(after.price).toEqual(proMonthly);
    expect(after.pendingChange).toBeUndefined();
    expect(after.status).toBe("active");
  });

  it("is dropped when Stripe discards it unpaid: the old plan stays, the person is told, nothing charged", () => {
    const waiting = feed(decided(asked(), heldAnswer).state, [changeFailed(1, ASKED_AT + 1000)]);
    const d = decided(waiting, viewAt(EXPIRES_AT));
    expect(d.state.price).toEqual(basicMonthly);
    expect(d.state.pendingChange).toBeUndefined();
    expect(d.state.status).toBe("active");
    expect(d.effects).toEqual([
      expect.objectContaining({
        id: "sub1:notify:membership_change_refused:1",
        template: "membership_change_refused",
        data: expect.objectContaining({
          requestedPlanId: "pl_pro",
          failureCode: "payment_not_completed",
          unpaid: "yes",
        }),
      }),
    ]);
    // Nothing was posted for the voided invoice; another change may be asked.
    expect(d.effects.some((e) => e.kind === "post_ledger")).toBe(false);
    expect(
      decideSubscription(
        d.state,
        { type: "change_price", price: proMonthly, prorationBehavior: "always_invoice" },
        { now: EXPIRES_AT },
      ).isOk(),
    ).toBe(true);
  });

  it("a view without the update from before it was held proves nothing; one after an event showed it held does", () => {
    const answered = decided(asked(), heldAnswer).state;
    // An event of the request's hour, heard after the answer: Stripe's view before the call.
    const early = decided(answered, viewAt(ASKED_AT + 1000));
    expect(early.state.pendingChange?.awaitingPayment).toEqual({ expiresAt: EXPIRES_AT, invoiceId: "in_up" });
    // Stripe's event showing it held (seenAt), then a later view with no pending update.
    const seen = feed(answered, [viewAt(ASKED_AT + 2000, { pendingUpdate: held })]);
    expect(seen.pendingChange?.awaitingPayment?.seenAt).toBe(ASKED_AT + 2000);
    const gone = decided(seen, viewAt(ASKED_AT + 5000));
    expect(gone.state.pendingChange).toBeUndefined();
    expect(gone.state.price).toEqual(basicMonthly);
  });

  it("a change invoice's failure does not keep a past-due membership from coming back", () => {
    const waiting = feed(decided(asked(), heldAnswer).state, [changeFailed(1, ASKED_AT + 1000)]);
    const pastDue = feed(waiting, [failedInvoice("in_2", 11, 1, 3)]);
    expect(pastDue.status).toBe("past_due");
    expect(feed(pastDue, [paidInvoice("in_2", 12)]).status).toBe("active");
  });

  it("a downgrade (its invoice a credit, paid with nothing) is made at once by the answer naming the new price", () => {
    const s = feed(activeSubscription(), [snapshot("active", 5, { stripePriceId: "price_pro_m" })]);
    const down = decided(s, {
      type: "change_price",
      price: basicMonthly,
      prorationBehavior: "always_invoice",
    }).state;
    const d = decided(down, {
      type: "subscription_changed",
      snapshot: {
        stripeSubscriptionId: "sub_stripe1",
        status: "active",
        stripePriceId: "price_basic_m",
        cancelAtPeriodEnd: false,
      },
    });
    expect(d.state.price).toEqual(basicMonthly);
    expect(d.state.pendingChange).toBeUndefined();
  });
});
