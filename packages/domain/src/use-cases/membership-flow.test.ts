// Memberships end to end in memory: an admin's plan and its Stripe prices through the
// outbox, a person subscribing with a saved card or through Checkout, Stripe Billing's news
// through the one fact router, the ledger, notices, and what the membership entitles.
import { describe, expect, it, vi } from "vitest";
import { UNRESTRICTED_ENTITLEMENTS } from "../membership/entitlements.js";
import type { InvoiceReport } from "../membership/subscription-input.js";
import { DAY_MS } from "../shared/time.js";
import { InMemorySusu } from "../testing/in-memory-susu.js";
import { useCaseDepsOn } from "./deps.js";
import * as useCases from "./index.js";

const ADMIN = { operator: "olga" };
const plus = { createGroups: true, maxOpenGroups: 5, sellBookings: true };
const nobody = { createGroups: false, maxOpenGroups: 0, sellBookings: false };

async function aPlan(sim: InMemorySusu, trialDays = 0) {
  const plan = (
    await useCases.createPlan(
      sim.deps,
      {
        name: "Plus",
        entitlements: plus,
        trialDays,
        prices: [
          { currency: "AUD", interval: "month", amountMinor: 10_00 },
          { currency: "AUD", interval: "year", amountMinor: 100_00 },
        ],
      },
      ADMIN,
    )
  )._unsafeUnwrap();
  await sim.runUntilQuiet();
  return (await useCases.getPlan(sim.deps, plan.id))._unsafeUnwrap();
}

function report(sim: InMemorySusu, id: string, paid: number): InvoiceReport {
  return {
    invoiceId: id,
    amountDueMinor: 10_00,
    amountPaidMinor: paid,
    currency: "AUD",
    hostedInvoiceUrl: `https://pay.test/${id}`,
    observedAt: sim.clock.now(),
  };
}

describe("memberships in memory", () => {
  it("an admin's plan gets its Stripe prices through the outbox, keyed by the effect", async () => {
    const sim = new InMemorySusu();
    const plan = await aPlan(sim);
    expect(plan.prices.map((p) => p.stripePriceId)).toEqual(["price_1", "price_2"]);
    expect(sim.billing.calls.map((c) => [c.method, c.idempotencyKey, c.productId])).toEqual([
      ["createPlanPrice", `${plan.id}:price:aud_month:r1`, `susu_plan_${plan.id}`],
      ["createPlanPrice", `${plan.id}:price:aud_year:r1`, `susu_plan_${plan.id}`],
    ]);
    const listed = (await useCases.listPlans(sim.deps))._unsafeUnwrap();
    expect(listed.map((p) => p.id)).toEqual([plan.id]);
    (await useCases.changePlan(sim.deps, plan.id, { type: "archive" }, ADMIN))._unsafeUnwrap();
    expect((await useCases.listPlans(sim.deps))._unsafeUnwrap()).toEqual([]);
    expect((await useCases.listPlans(sim.deps, { includeArchived: true }))._unsafeUnwrap()).toHaveLength(1);
  });

  it("subscribes with a saved card, books paid invoices, dunning notices, lapse, recovery", async () => {
    const sim = new InMemorySusu();
    const plan = await aPlan(sim);
    (await sim.addSeller("ana"))._unsafeUnwrap();
    await sim.saveCard("ana", "pm_card");
    const refusedBefore = await useCases.subscribe(sim.deps, {
      personId: "nobody",
      planId: plan.id,
      currency: "AUD",
      interval: "month",
      start: { kind: "saved_method", paymentMethodId: "pm_card" },
    });
    expect(refusedBefore._unsafeUnwrapErr().code).toBe("person_not_found");
    const sub = (
      await useCases.subscribe(sim.deps, {
        personId: "ana",
        planId: plan.id,
        currency: "AUD",
        interval: "month",
        start: { kind: "saved_method", paymentMethodId: "pm_card" },
      })
    )._unsafeUnwrap();
    await sim.runUntilQuiet();
    const now = () => sim.store.subscriptions().find((s) => s.id === sub.id);
    expect(now()).toMatchObject({ status: "active", stripeSubscriptionId: "sub_3" });
    const create = sim.billing.calls.find((c) => c.method === "createSubscription");
    expect(create).toMatchObject({
      idempotencyKey: `${sub.id}:create`,
      customerId: "cus_ana",
      paymentMethodId: "pm_card",
    });
    const again = await useCases.subscribe(sim.deps, {
      personId: "ana",
      planId: plan.id,
      currency: "AUD",
      interval: "month",
      start: { kind: "saved_method", paymentMethodId: "pm_card" },
    });
    expect(again._unsafeUnwrapErr().code).toBe("already_subscribed");

    const stripeSub = "sub_3";
    const refs = {};
    (
      await sim.deliver([
        {
          kind: "invoice_paid",
          refs,
          stripeSubscriptionId: stripeSub,
          invoice: report(sim, "in_1", 10_00),
          paidAt: sim.clock.now(),
        },
      ])
    )._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect((await sim.ledger.balance("platform:membership_revenue", "AUD"))._unsafeUnwrap().amountMinor).toBe(
      10_00,
    );

    await sim.advance(30 * DAY_MS);
    (
      await sim.deliver([
        {
          kind: "invoice_payment_failed",
          refs,
          stripeSubscriptionId: stripeSub,
          invoice: report(sim, "in_2", 0),
          attemptCount: 1,
          nextPaymentAttemptAt: sim.clock.now() + 3 * DAY_MS,
        },
      ])
    )._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect(now()?.status).toBe("past_due");
    const failedNotice = sim.notifier.sent.find((n) => n.template === "membership_payment_failed");
    expect(failedNotice).toMatchObject({
      aggregate: "subscription",
      aggregateId: sub.id,
      personIds: ["ana"],
    });
    expect(failedNotice?.data).toMatchObject({ hostedInvoiceUrl: "https://pay.test/in_2", attempt: 1 });
    // Past due still grants while Stripe retries.
    expect(
      (
        await useCases.entitlementsOfPerson({ ...sim.deps, defaultEntitlements: nobody }, "ana")
      )._unsafeUnwrap(),
    ).toEqual(plus);

    await sim.advance(3 * DAY_MS);
    (
      await sim.deliver([
        {
          kind: "invoice_payment_failed",
          refs,
          stripeSubscriptionId: stripeSub,
          invoice: report(sim, "in_2", 0),
          attemptCount: 2,
        },
      ])
    )._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect(now()?.status).toBe("lapsed");
    expect(sim.notifier.sent.filter((n) => n.template === "membership_lapsed")).toHaveLength(1);
    expect(
      (
        await useCases.entitlementsOfPerson({ ...sim.deps, defaultEntitlements: nobody }, "ana")
      )._unsafeUnwrap(),
    ).toEqual(nobody);

    await sim.advance(DAY_MS);
    (
      await sim.deliver([
        {
          kind: "invoice_paid",
          refs,
          stripeSubscriptionId: stripeSub,
          invoice: report(sim, "in_2", 10_00),
          paidAt: sim.clock.now(),
        },
      ])
    )._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect(now()?.status).toBe("active");
    expect((await sim.ledger.balance("platform:membership_revenue", "AUD"))._unsafeUnwrap().amountMinor).toBe(
      20_00,
    );
  });

  it("changes plan with proration, cancels at period end and resumes, through Stripe calls keyed by the effect", async () => {
    const sim = new InMemorySusu();
    const plan = await aPlan(sim);
    (await sim.addSeller("ben"))._unsafeUnwrap();
    await sim.saveCard("ben", "pm_card");
    const sub = (
      await useCases.subscribe(sim.deps, {
        personId: "ben",
        planId: plan.id,
        currency: "AUD",
        interval: "month",
        start: { kind: "saved_method", paymentMethodId: "pm_card" },
      })
    )._unsafeUnwrap();
    await sim.runUntilQuiet();
    const yearly = (
      await useCases.changeSubscriptionPlan(sim.deps, sub.id, { planId: plan.id, interval: "year" }, "ben")
    )._unsafeUnwrap();
    expect(yearly.pendingChange?.price).toMatchObject({ interval: "year", amountMinor: 100_00 });
    await sim.runUntilQuiet();
    // Stripe's answer made it the membership's price.
    expect(sim.store.subscriptions().find((s) => s.id === sub.id)?.price).toMatchObject({
      interval: "year",
      amountMinor: 100_00,
    });
    expect(sim.billing.calls.find((c) => c.method === "changeSubscriptionPrice")).toMatchObject({
      idempotencyKey: `${sub.id}:change:1`,
      prorationBehavior: "always_invoice",
      priceId: "price_2",
    });
    (await useCases.cancelSubscription(sim.deps, sub.id, true, "ben"))._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect(sim.billing.subscription("sub_3")?.cancelAtPeriodEnd).toBe(true);
    const resumed = (await useCases.resumeSubscription(sim.deps, sub.id, "ben"))._unsafeUnwrap();
    expect(resumed.cancelAtPeriodEnd).toBe(false);
    await sim.runUntilQuiet();
    expect(sim.billing.subscription("sub_3")?.cancelAtPeriodEnd).toBe(false);
    expect((await useCases.resumeSubscription(sim.deps, sub.id, "ben"))._unsafeUnwrapErr().code).toBe(
      "not_canceling",
    );
  });

  it("a plan change Stripe refuses leaves the person on their plan and its entitlements, tells them, opens no ticket", async () => {
    const sim = new InMemorySusu();
    const basic = await aPlan(sim);
    const pro = (
      await useCases.createPlan(
        sim.deps,
        {
          name: "Pro",
          entitlements: UNRESTRICTED_ENTITLEMENTS,
          prices: [{ currency: "AUD", interval: "month", amountMinor: 40_00 }],
        },
        ADMIN,
      )
    )._unsafeUnwrap();
    await sim.runUntilQuiet();
    (await sim.addSeller("fay"))._unsafeUnwrap();
    await sim.saveCard("fay", "pm_card");
    const sub = (
      await useCases.subscribe(sim.deps, {
        personId: "fay",
        planId: basic.id,
        currency: "AUD",
        interval: "month",
        start: { kind: "saved_method", paymentMethodId: "pm_card" },
      })
    )._unsafeUnwrap();
    await sim.runUntilQuiet();
    const narrowed = { ...sim.deps, defaultEntitlements: nobody };
    const asked = (
      await useCases.changeSubscriptionPlan(sim.deps, sub.id, { planId: pro.id }, "fay")
    )._unsafeUnwrap();
    // Asked, not made: the plan (and what it grants) stays until Stripe makes the change.
    expect(asked.price.planId).toBe(basic.id);
    expect(asked.pendingChange?.price.planId).toBe(pro.id);
    expect((await useCases.entitlementsOfPerson(narrowed, "fay"))._unsafeUnwrap()).toEqual(plus);
    // Stripe refuses it for good (the price was archived meanwhile, say).
    sim.billing.refuseNext("resource_missing");
    await sim.runUntilQuiet();
    const after = sim.store.subscriptions().find((s) => s.id === sub.id);
    expect(after?.price.planId).toBe(basic.id);
    expect(after?.pendingChange).toBeUndefined();
    expect((await useCases.entitlementsOfPerson(narrowed, "fay"))._unsafeUnwrap()).toEqual(plus);
    expect(sim.notifier.sent.filter((n) => n.template === "membership_change_refused")).toEqual([
      expect.objectContaining({ aggregateId: sub.id, personIds: ["fay"] }),
    ]);
    expect(sim.desk.tickets).toEqual([]);
    expect((await sim.store.listOutbox({ status: "parked", limit: 10 }))._unsafeUnwrap().items).toEqual([]);

    // Asked again, Stripe makes it: the plan and its entitlements are the new ones.
    (await useCases.changeSubscriptionPlan(sim.deps, sub.id, { planId: pro.id }, "fay"))._unsafeUnwrap();
    await sim.runUntilQuiet();
    const changed = sim.store.subscriptions().find((s) => s.id === sub.id);
    expect(changed?.price.planId).toBe(pro.id);
    expect(changed?.pendingChange).toBeUndefined();
    expect((await useCases.entitlementsOfPerson(narrowed, "fay"))._unsafeUnwrap()).toEqual(
      UNRESTRICTED_ENTITLEMENTS,
    );
  });

  it("a plan change Stripe's answer shows neither made nor held (it never took effect): dropped, the person told once, no ticket", async () => {
    const sim = new InMemorySusu();
    const basic = await aPlan(sim);
    const pro = (
      await useCases.createPlan(
        sim.deps,
        {
          name: "Pro",
          entitlements: UNRESTRICTED_ENTITLEMENTS,
          prices: [{ currency: "AUD", interval: "month", amountMinor: 40_00 }],
        },
        ADMIN,
      )
    )._unsafeUnwrap();
    await sim.runUntilQuiet();
    (await sim.addSeller("gus"))._unsafeUnwrap();
    await sim.saveCard("gus", "pm_card");
    const sub = (
      await useCases.subscribe(sim.deps, {
        personId: "gus",
        planId: basic.id,
        currency: "AUD",
        interval: "month",
        start: { kind: "saved_method", paymentMethodId: "pm_card" },
      })
    )._unsafeUnwrap();
    await sim.runUntilQuiet();
    sim.billing.ignoreNextChange();
    (await useCases.changeSubscriptionPlan(sim.deps, sub.id, { planId: pro.id }, "gus"))._unsafeUnwrap();
    await sim.runUntilQuiet();
    const after = sim.store.subscriptions().find((s) => s.id === sub.id);
    expect({
      plan: after?.price.planId,
      pending: after?.pendingChange,
      told: sim.notifier.sent
        .filter((n) => n.template === "membership_change_refused")
        .map((n) => [n.id, n.personIds, n.data.requestedPlanId, n.data.failureCode]),
      tickets: sim.desk.tickets,
      parked: (await sim.store.listOutbox({ status: "parked", limit: 10 }))._unsafeUnwrap().items,
    }).toEqual({
      plan: basic.id,
      pending: undefined,
      told: [[`${sub.id}:notify:membership_change_refused:1`, ["gus"], pro.id, "change_not_made"]],
      tickets: [],
      parked: [],
    });
  });

  it("a subscription.updated naming another plan's price puts the membership on that plan (Stripe's view wins)", async () => {
    const sim = new InMemorySusu();
    const basic = await aPlan(sim);
    const pro = (
      await useCases.createPlan(
        sim.deps,
        {
          name: "Pro",
          entitlements: UNRESTRICTED_ENTITLEMENTS,
          prices: [{ currency: "AUD", interval: "month", amountMinor: 40_00 }],
        },
        ADMIN,
      )
    )._unsafeUnwrap();
    await sim.runUntilQuiet();
    const proPrice = (await useCases.getPlan(sim.deps, pro.id))._unsafeUnwrap().prices[0]!;
    (await sim.addSeller("gil"))._unsafeUnwrap();
    await sim.saveCard("gil", "pm_card");
    const sub = (
      await useCases.subscribe(sim.deps, {
        personId: "gil",
        planId: basic.id,
        currency: "AUD",
        interval: "month",
        start: { kind: "saved_method", paymentMethodId: "pm_card" },
      })
    )._unsafeUnwrap();
    await sim.runUntilQuiet();
    const stored = sim.store.subscriptions().find((s) => s.id === sub.id)!;
    (
      await sim.deliver([
        {
          kind: "subscription_changed",
          refs: { subscriptionId: sub.id },
          snapshot: {
            stripeSubscriptionId: stored.stripeSubscriptionId as string,
            status: "active",
            stripePriceId: proPrice.stripePriceId as string,
            cancelAtPeriodEnd: false,
            observedAt: sim.clock.now() + 1_000,
          },
        },
      ])
    )._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect(sim.store.subscriptions().find((s) => s.id === sub.id)?.price).toEqual({
      planId: pro.id,
      priceKey: "aud_month",
      revision: 1,
      stripePriceId: proPrice.stripePriceId,
      currency: "AUD",
      interval: "month",
      amountMinor: 40_00,
    });
    expect(
      (
        await useCases.entitlementsOfPerson({ ...sim.deps, defaultEntitlements: nobody }, "gil")
      )._unsafeUnwrap(),
    ).toEqual(UNRESTRICTED_ENTITLEMENTS);
  });

  it("a Stripe refusal to start expires the membership; Checkout records the page", async () => {
    const sim = new InMemorySusu();
    const plan = await aPlan(sim);
    (await sim.addSeller("cy"))._unsafeUnwrap();
    // A card cy saved, which Stripe no longer finds when asked to start the subscription.
    await sim.saveCard("cy", "pm_gone_at_stripe");
    sim.billing.refuseNext("resource_missing");
    const sub = (
      await useCases.subscribe(sim.deps, {
        personId: "cy",
        planId: plan.id,
        currency: "AUD",
        interval: "month",
        start: { kind: "saved_method", paymentMethodId: "pm_gone_at_stripe" },
      })
    )._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect(sim.store.subscriptions().find((s) => s.id === sub.id)).toMatchObject({
      status: "incomplete_expired",
      failure: { code: "resource_missing" },
    });
    const viaCheckout = (
      await useCases.subscribe(sim.deps, {
        personId: "cy",
        planId: plan.id,
        currency: "AUD",
        interval: "month",
        start: { kind: "checkout", successUrl: "https://app.test/ok", cancelUrl: "https://app.test/no" },
      })
    )._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect(sim.store.subscriptions().find((s) => s.id === viaCheckout.id)?.start).toMatchObject({
      kind: "checkout",
      url: expect.stringMatching(/^https:\/\/checkout\.fake\/cs_/),
    });
  });

  it("refuses a price the plan does not offer, an archived plan, a person without a customer", async () => {
    const sim = new InMemorySusu();
    const plan = await aPlan(sim);
    (
      await sim.store.commit({
        people: [
          { state: { id: "dee", displayName: "Dee", createdAt: 0, version: 0 }, expectedVersion: undefined },
        ],
        groups: [],
        rounds: [],
        outbox: [],
        audit: [],
      })
    )._unsafeUnwrap();
    const base = {
      personId: "dee",
      planId: plan.id,
      currency: "AUD",
      interval: "month",
      start: { kind: "saved_method", paymentMethodId: "pm" },
    } as const;
    // With no customer dee has saved no card; through Checkout (no gateway to make a customer with) she is not onboarded.
    expect((await useCases.subscribe(sim.deps, base))._unsafeUnwrapErr().code).toBe(
      "payment_method_not_found",
    );
    const viaCheckout = {
      ...base,
      start: { kind: "checkout", successUrl: "https://app.test/ok", cancelUrl: "https://app.test/no" },
    } as const;
    expect((await useCases.subscribe(sim.deps, viaCheckout))._unsafeUnwrapErr().code).toBe(
      "customer_not_onboarded",
    );
    (await sim.addSeller("eve"))._unsafeUnwrap();
    await sim.saveCard("eve", "pm");
    const eve = { ...base, personId: "eve" };
    expect((await useCases.subscribe(sim.deps, { ...eve, currency: "USD" }))._unsafeUnwrapErr().code).toBe(
      "price_not_available",
    );
    expect(
      (await useCases.subscribe(sim.deps, { ...eve, planId: "plan_nope" }))._unsafeUnwrapErr().code,
    ).toBe("plan_not_found");
    (await useCases.changePlan(sim.deps, plan.id, { type: "archive" }, ADMIN))._unsafeUnwrap();
    expect((await useCases.subscribe(sim.deps, eve))._unsafeUnwrapErr().code).toBe("plan_archived");
    expect(sim.store.subscriptions()).toEqual([]);
  });

  it("a person with no Stripe customer yet gets one when they subscribe (once), after the request was checked", async () => {
    const sim = new InMemorySusu();
    const plan = await aPlan(sim);
    (
      await sim.store.commit({
        people: [
          { state: { id: "dee", displayName: "Dee", createdAt: 0, version: 0 }, expectedVersion: undefined },
        ],
        groups: [],
        rounds: [],
        outbox: [],
        audit: [],
      })
    )._unsafeUnwrap();
    const ask = {
      personId: "dee",
      planId: plan.id,
      currency: "AUD",
      interval: "month",
      start: { kind: "checkout", successUrl: "https://app.test/ok", cancelUrl: "https://app.test/no" },
    } as const;
    const createCustomer = vi.spyOn(sim.gateway, "createCustomer");
    const customers = () => createCustomer.mock.calls.length;
    // A request that is refused creates no customer.
    const refused = await useCases.subscribe(sim.deps, { ...ask, currency: "USD" }, sim.gateway);
    expect(refused._unsafeUnwrapErr().code).toBe("price_not_available");
    expect(customers()).toBe(0);
    expect((await sim.store.getPerson("dee"))._unsafeUnwrap()?.customerId).toBeUndefined();

    const sub = (await useCases.subscribe(sim.deps, ask, sim.gateway))._unsafeUnwrap();
    const dee = (await sim.store.getPerson("dee"))._unsafeUnwrap();
    expect(dee?.customerId).toMatch(/^cus_/);
    expect(sub.stripeCustomerId).toBe(dee?.customerId);
    expect(customers()).toBe(1);
    await sim.runUntilQuiet();
    expect(sim.billing.calls.find((c) => c.method === "createSubscriptionCheckout")).toMatchObject({
      customerId: dee?.customerId,
    });
    // Subscribing again is refused as before, and makes no second customer.
    const again = await useCases.subscribe(sim.deps, ask, sim.gateway);
    expect(again._unsafeUnwrapErr().code).toBe("already_subscribed");
    expect(customers()).toBe(1);
  });

  it("without a membership, people get the configured default (everything unless narrowed)", async () => {
    const sim = new InMemorySusu();
    expect((await useCases.entitlementsOfPerson(sim.deps, "ana"))._unsafeUnwrap()).toEqual(
      UNRESTRICTED_ENTITLEMENTS,
    );
    const narrowed = useCaseDepsOn(sim.store, {
      clock: sim.clock,
      ids: sim.ids,
      defaultEntitlements: nobody,
    });
    expect((await useCases.entitlementsOfPerson(narrowed, "ana"))._unsafeUnwrap()).toEqual(nobody);
  });
});
