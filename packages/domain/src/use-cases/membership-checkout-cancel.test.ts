// A membership canceled before its Checkout page was paid: the page is expired at Stripe
// through the outbox, so the person can no longer pay for a membership that is over.
import { describe, expect, it } from "vitest";
import { decideSubscription } from "../membership/subscription-decide.js";
import { MEMBERSHIP_REFUND_OVERDUE_MS } from "../policy/membership-policy.js";
import { DAY_MS } from "../shared/time.js";
import { InMemorySusu } from "../testing/in-memory-susu.js";
import { feed, freshSubscription, invoice, MEMBERSHIP_T0 } from "../testing/membership-mothers.js";
import * as useCases from "./index.js";

const now = { now: MEMBERSHIP_T0 };
const checkoutStart = {
  kind: "checkout",
  successUrl: "https://app.test/ok",
  cancelUrl: "https://app.test/no",
} as const;

describe("canceling a membership whose Checkout page is not paid", () => {
  it("expires the page it knows, keyed by the subscription", () => {
    const s = feed(freshSubscription({ start: checkoutStart }), [
      { type: "checkout_created", sessionId: "cs_1", url: "https://checkout.test/cs_1" },
    ]);
    const d = decideSubscription(s, { type: "cancel", atPeriodEnd: false }, now)._unsafeUnwrap();
    expect(d.state.status).toBe("canceled");
    expect(d.effects).toEqual([
      {
        kind: "expire_subscription_checkout",
        id: `${s.id}:checkout:expire`,
        aggregate: "subscription",
        aggregateId: s.id,
        sessionId: "cs_1",
      },
    ]);
  });

  it("a page Stripe answers only after the cancel is expired when it is recorded", () => {
    const s = freshSubscription({ start: checkoutStart });
    const canceled = decideSubscription(s, { type: "cancel", atPeriodEnd: false }, now)._unsafeUnwrap();
    expect(canceled.effects).toEqual([]);
    const late = decideSubscription(
      canceled.state,
      { type: "checkout_created", sessionId: "cs_2", url: "https://checkout.test/cs_2" },
      now,
    )._unsafeUnwrap();
    expect(late.state.start).toMatchObject({ sessionId: "cs_2" });
    expect(late.effects.map((e) => [e.kind, "sessionId" in e ? e.sessionId : undefined])).toEqual([
      ["expire_subscription_checkout", "cs_2"],
    ]);
  });

  it("a page of a membership still open, or of one started with a saved card, is left alone", () => {
    const open = decideSubscription(
      freshSubscription({ start: checkoutStart }),
      { type: "checkout_created", sessionId: "cs_3", url: "https://checkout.test/cs_3" },
      now,
    )._unsafeUnwrap();
    expect(open.effects).toEqual([]);
    const saved = decideSubscription(
      freshSubscription(),
      { type: "cancel", atPeriodEnd: false },
      now,
    )._unsafeUnwrap();
    expect(saved.effects.filter((e) => e.kind === "expire_subscription_checkout")).toEqual([]);
  });

  /** A system where "cy" subscribed to a plan through a Checkout page (not paid yet), the outbox run. */
  async function subscribedThroughCheckout() {
    const sim = new InMemorySusu();
    const plan = (
      await useCases.createPlan(
        sim.deps,
        {
          name: "Plus",
          entitlements: { createGroups: true, maxOpenGroups: 5, sellBookings: true },
          trialDays: 0,
          prices: [{ currency: "AUD", interval: "month", amountMinor: 10_00 }],
        },
        { operator: "olga" },
      )
    )._unsafeUnwrap();
    await sim.runUntilQuiet();
    (await sim.addSeller("cy"))._unsafeUnwrap();
    const sub = (
      await useCases.subscribe(sim.deps, {
        personId: "cy",
        planId: plan.id,
        currency: "AUD",
        interval: "month",
        start: checkoutStart,
      })
    )._unsafeUnwrap();
    await sim.runUntilQuiet();
    return { sim, sub };
  }

  it("through the outbox: Stripe is asked once to expire the session, with the effect id as key", async () => {
    const { sim, sub } = await subscribedThroughCheckout();
    const session = sim.billing.calls.find((c) => c.method === "createSubscriptionCheckout");
    expect(session).toBeDefined();
    const canceled = (await useCases.cancelSubscription(sim.deps, sub.id, false, "cy"))._unsafeUnwrap();
    expect(canceled.status).toBe("canceled");
    await sim.runUntilQuiet();
    await sim.runUntilQuiet();
    const start = sim.store.subscriptions().find((s) => s.id === sub.id)?.start;
    expect(start?.kind === "checkout" ? start.sessionId : undefined).toMatch(/^cs_/);
    expect(
      sim.billing.calls
        .filter((c) => c.method === "expireCheckoutSession")
        .map((c) => [c.idempotencyKey, c.sessionId]),
    ).toEqual([[`${sub.id}:checkout:expire`, start?.kind === "checkout" ? start.sessionId : ""]]);
  });

  // The fake holds no Stripe subscription for a Checkout start (no page is paid in it), so
  // the late start's cancel is parked there; these tests look at the refund's tickets.
  const refundTickets = (sim: InMemorySusu) =>
    sim.desk.tickets.filter((t) => t.reason === "membership_refund_failed");

  async function lateStarted(refuse?: string, pending = false) {
    const { sim, sub } = await subscribedThroughCheckout();
    (await useCases.cancelSubscription(sim.deps, sub.id, false, "cy"))._unsafeUnwrap();
    await sim.runUntilQuiet();
    // The page was paid before its expiry landed: Stripe's news of the start and the payment,
    // the payment first, each delivered twice.
    const refs = { subscriptionId: sub.id };
    const paid = {
      kind: "invoice_paid" as const,
      refs,
      stripeSubscriptionId: "sub_late",
      invoice: invoice("in_late", 1, 10_00),
      paidAt: MEMBERSHIP_T0,
    };
    const started = {
      kind: "subscription_changed" as const,
      refs,
      snapshot: { stripeSubscriptionId: "sub_late", status: "active" as const, cancelAtPeriodEnd: false },
    };
    if (refuse !== undefined) sim.billing.refuseNext(refuse);
    sim.billing.refundsPending = pending;
    (await sim.deliver([paid, started, paid, started]))._unsafeUnwrap();
    await sim.runUntilQuiet();
    (await sim.deliver([paid, started]))._unsafeUnwrap();
    await sim.runUntilQuiet();
    return { sim, sub };
  }

  it("a late start's paid invoice is refunded once through Stripe Billing; the person is told; the revenue goes back", async () => {
    const { sim, sub } = await lateStarted();
    expect(
      sim.billing.calls
        .filter((c) => c.method === "refundInvoicePayments")
        .map((c) => [c.idempotencyKey, c.invoiceId]),
    ).toEqual([[`${sub.id}:invoice:in_late:refund`, "in_late"]]);
    const stored = sim.store.subscriptions().find((s) => s.id === sub.id);
    expect(stored?.status).toBe("canceled");
    expect(stored?.invoices).toEqual([
      expect.objectContaining({
        id: "in_late",
        status: "paid",
        refund: {
          status: "succeeded",
          refundId: expect.stringMatching(/^re_/),
          payments: [expect.objectContaining({ amountMinor: 10_00, status: "succeeded", posted: true })],
          refundIds: [expect.stringMatching(/^re_/)],
          deadlineAt: expect.any(Number),
        },
      }),
    ]);
    expect(sim.notifier.sent.filter((n) => n.template === "membership_refunded")).toHaveLength(1);
    expect(refundTickets(sim)).toEqual([]);
    const revenue = (await sim.ledger.balance("platform:membership_revenue", "AUD"))._unsafeUnwrap();
    expect(revenue.amountMinor).toBe(0);
    expect(sim.billing.calls.filter((c) => c.method === "cancelSubscription")).toEqual([]);
    expect(sim.desk.tickets.map((t) => t.id)).toEqual([`${sub.id}:cancel:1:parked`]);
  });

  it("a refund Stripe refuses opens one ticket and tells the person nothing", async () => {
    const { sim, sub } = await lateStarted("charge_disputed");
    expect(refundTickets(sim)).toEqual([
      expect.objectContaining({
        id: `${sub.id}:invoice:in_late:refund:ticket`,
        aggregate: "subscription",
        aggregateId: sub.id,
        reason: "membership_refund_failed",
      }),
    ]);
    expect(sim.notifier.sent.filter((n) => n.template === "membership_refunded")).toEqual([]);
    const stored = sim.store.subscriptions().find((s) => s.id === sub.id);
    expect(stored?.invoices[0]?.refund).toEqual({
      status: "failed",
      failureCode: "charge_disputed",
      deadlineAt: expect.any(Number),
      untold: true,
      payments: [{ amountMinor: 10_00, status: "failed", failureCode: "charge_disputed" }],
    });
  });

  it("a refund Stripe leaves pending: one ticket at its deadline, none again, and it still ends when Stripe's news comes", async () => {
    const { sim, sub } = await lateStarted(undefined, true);
    const overdue = () => sim.desk.tickets.filter((t) => t.reason === "membership_refund_overdue");
    const refund = () => sim.store.subscriptions().find((s) => s.id === sub.id)?.invoices[0]?.refund;
    const refundId = refund()?.refundIds?.[0] as string;
    expect(refund()).toEqual({
      status: "requested",
      refundIds: [expect.stringMatching(/^re_/)],
      deadlineAt: expect.any(Number),
    });
    await sim.advance(MEMBERSHIP_REFUND_OVERDUE_MS - 60_000);
    expect(overdue()).toEqual([]);
    await sim.advance(60_000);
    expect(overdue()).toEqual([
      expect.objectContaining({
        id: `${sub.id}:invoice:in_late:refund:overdue:ticket`,
        aggregate: "subscription",
        aggregateId: sub.id,
      }),
    ]);
    expect(overdue()[0]?.summary).toContain(`Stripe still has ${refundId} pending`);
    expect(refund()).toMatchObject({ status: "requested", overdue: true });
    await sim.advance(30 * DAY_MS);
    expect(overdue()).toHaveLength(1);
    // Stripe's news at last: the refund ends as usual, the person is told once.
    const refs = { subscriptionId: sub.id, invoiceId: "in_late" };
    (await sim.deliver([{ kind: "refund_succeeded", refs, refundId, amountMinor: 10_00 }]))._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect(refund()).toMatchObject({ status: "succeeded", overdue: true });
    expect(sim.notifier.sent.filter((n) => n.template === "membership_refunded")).toHaveLength(1);
    expect(overdue()).toHaveLength(1);
    expect(refundTickets(sim)).toEqual([]);
  });
});
