// At most one free trial per person: a person who has had a membership with a trial, or a
// paid membership, starts a new one paid (no trial), whatever plan; an attempt that never
// started at Stripe (a Checkout page left unpaid, a cancel before the start) gave nothing and
// does not count.
import { describe, expect, it } from "vitest";
import { type Subscription, trialDaysFor, usedTrialOrPaid } from "../membership/subscription.js";
import { InMemorySusu } from "../testing/in-memory-susu.js";
import * as useCases from "./index.js";

const ADMIN = { operator: "olga" };

async function trialPlan(sim: InMemorySusu) {
  const plan = (
    await useCases.createPlan(
      sim.deps,
      {
        name: "Plus",
        entitlements: { createGroups: true, maxOpenGroups: 5, sellBookings: true },
        trialDays: 14,
        prices: [{ currency: "AUD", interval: "month", amountMinor: 10_00 }],
      },
      ADMIN,
    )
  )._unsafeUnwrap();
  await sim.runUntilQuiet();
  return plan;
}

async function subscribe(
  sim: InMemorySusu,
  planId: string,
  start: "saved" | "checkout" = "saved",
): Promise<Subscription> {
  const s = (
    await useCases.subscribe(sim.deps, {
      personId: "ana",
      planId,
      currency: "AUD",
      interval: "month",
      start:
        start === "saved"
          ? { kind: "saved_method", paymentMethodId: "pm_card" }
          : { kind: "checkout", successUrl: "https://app.test/ok", cancelUrl: "https://app.test/no" },
    })
  )._unsafeUnwrap();
  await sim.runUntilQuiet();
  return s;
}

const trialAsked = (sim: InMemorySusu) =>
  sim.billing.calls
    .filter((c) => c.method === "createSubscription" || c.method === "createSubscriptionCheckout")
    .map((c) => (c as { trialDays?: number }).trialDays);

describe("one free trial per person", () => {
  it("cancel during the trial, subscribe again: the new membership starts paid", async () => {
    const sim = new InMemorySusu();
    const plan = await trialPlan(sim);
    (await sim.addSeller("ana"))._unsafeUnwrap();
    await sim.saveCard("ana", "pm_card");
    const first = await subscribe(sim, plan.id);
    expect(first.trialDays).toBe(14);
    expect(sim.store.subscriptions().find((s) => s.id === first.id)?.status).toBe("trialing");
    (await useCases.cancelSubscription(sim.deps, first.id, false, "ana"))._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect(sim.store.subscriptions().find((s) => s.id === first.id)?.status).toBe("canceled");
    const second = await subscribe(sim, plan.id);
    expect(second.trialDays).toBe(0);
    expect(trialAsked(sim)).toEqual([14, 0]);
    expect(sim.store.subscriptions().find((s) => s.id === second.id)?.status).toBe("active");
  });

  it("an attempt that never started at Stripe (its page canceled unpaid) keeps the trial", async () => {
    const sim = new InMemorySusu();
    const plan = await trialPlan(sim);
    (await sim.addSeller("ana"))._unsafeUnwrap();
    await sim.saveCard("ana", "pm_card");
    const page = await subscribe(sim, plan.id, "checkout");
    (await useCases.cancelSubscription(sim.deps, page.id, false, "ana"))._unsafeUnwrap();
    await sim.runUntilQuiet();
    const next = await subscribe(sim, plan.id);
    expect(next.trialDays).toBe(14);
    expect(trialAsked(sim)).toEqual([14, 14]);
  });
});

describe("usedTrialOrPaid", () => {
  const base = (overrides: Partial<Subscription> = {}): Subscription => ({
    id: "mbr_x",
    personId: "ana",
    stripeCustomerId: "cus_ana",
    status: "canceled",
    price: {
      planId: "plan_1",
      priceKey: "aud_month",
      revision: 1,
      stripePriceId: "price_1",
      currency: "AUD",
      interval: "month",
      amountMinor: 10_00,
    },
    trialDays: 0,
    start: { kind: "saved_method", paymentMethodId: "pm_card" },
    cancelAtPeriodEnd: false,
    invoices: [],
    changes: 0,
    cancellations: 0,
    lapses: 0,
    createdAt: 0,
    version: 0,
    ...overrides,
  });
  const paid = {
    id: "in_1",
    status: "paid" as const,
    amountDueMinor: 10_00,
    amountPaidMinor: 10_00,
    currency: "AUD" as const,
    failedAttempts: 0,
    actionRequested: false,
  };

  it("counts a trial Stripe started, or a payment; not an attempt that gave nothing", () => {
    expect(usedTrialOrPaid(base({ stripeSubscriptionId: "sub_1", trialDays: 7 }))).toBe(true);
    expect(usedTrialOrPaid(base({ stripeSubscriptionId: "sub_1", trialEnd: 5 }))).toBe(true);
    expect(usedTrialOrPaid(base({ stripeSubscriptionId: "sub_1", invoices: [paid] }))).toBe(true);
    // Never started at Stripe, or started with no trial and never paid (incomplete_expired).
    expect(usedTrialOrPaid(base({ trialDays: 7 }))).toBe(false);
    expect(usedTrialOrPaid(base({ stripeSubscriptionId: "sub_1", status: "incomplete_expired" }))).toBe(
      false,
    );
    expect(
      usedTrialOrPaid(base({ stripeSubscriptionId: "sub_1", invoices: [{ ...paid, amountPaidMinor: 0 }] })),
    ).toBe(false);
    // Canceled before the start, started at Stripe after all and canceled there by susu (its payment refunded).
    expect(
      usedTrialOrPaid(
        base({ stripeSubscriptionId: "sub_1", trialDays: 7, canceledBeforeStart: true, invoices: [paid] }),
      ),
    ).toBe(false);
    expect(trialDaysFor(14, [])).toBe(14);
    expect(
      trialDaysFor(14, [base({ trialDays: 7 }), base({ stripeSubscriptionId: "sub_2", invoices: [paid] })]),
    ).toBe(0);
  });
});
