// A card past its expiry cannot be charged (Stripe declines it, `expired_card`): a membership
// started on one goes straight into a failed first invoice, and one moved onto one (made the
// default card) into a declined renewal, dunning and a lapse. Both are refused
// (`payment_method_expired`) by the rule that chooses where a removed card's membership goes
// (`canChargeCardAt`), changing nothing: no membership stored, no default moved, nothing asked
// of Stripe.
import { describe, expect, it } from "vitest";
import type { PaymentFact } from "../facts/payment-fact.js";
import { InMemorySusu } from "../testing/in-memory-susu.js";
import * as useCases from "./index.js";

async function saveCard(
  sim: InMemorySusu,
  attempt: string,
  card?: { brand: string; last4: string; expMonth: number; expYear: number },
): Promise<string> {
  const setup = (
    await useCases.startPaymentMethodSetup(sim.deps, sim.gateway, "ana", "card", attempt)
  )._unsafeUnwrap();
  const facts: PaymentFact[] = sim.gateway.confirmSetup(setup.setupIntentId, card ? { card } : {});
  (await sim.deliver(facts))._unsafeUnwrap();
  await sim.runUntilQuiet();
  const first = facts[0];
  if (first?.kind !== "payment_method_changed") throw new Error("no method attached");
  return first.paymentMethodId;
}

async function planOf(sim: InMemorySusu): Promise<string> {
  (await sim.addSeller("ana"))._unsafeUnwrap();
  const plan = (
    await useCases.createPlan(
      sim.deps,
      {
        name: "Plus",
        entitlements: { createGroups: true, maxOpenGroups: 5, sellBookings: true },
        prices: [{ currency: "AUD", interval: "month", amountMinor: 10_00 }],
      },
      { operator: "olga" },
    )
  )._unsafeUnwrap();
  await sim.runUntilQuiet();
  return plan.id;
}

/** A card that expired at the end of last month (good through its last day, UTC). */
function lastMonth(sim: InMemorySusu) {
  const now = new Date(sim.clock.now());
  const month = now.getUTCMonth(); // 0-based: this is last month's 1-based number, or 0 in January
  return {
    brand: "visa",
    last4: "0069",
    expMonth: month === 0 ? 12 : month,
    expYear: month === 0 ? now.getUTCFullYear() - 1 : now.getUTCFullYear(),
  };
}

const subscribeOn = (sim: InMemorySusu, planId: string, paymentMethodId: string) =>
  useCases.subscribe(sim.deps, {
    personId: "ana",
    planId,
    currency: "AUD",
    interval: "month",
    start: { kind: "saved_method", paymentMethodId },
  });

describe("an expired card", () => {
  it("cannot start a membership: refused, nothing stored, Stripe not asked", async () => {
    const sim = new InMemorySusu();
    const planId = await planOf(sim);
    const expired = await saveCard(sim, "1", lastMonth(sim));
    const callsBefore = sim.billing.calls.length;

    const refused = await subscribeOn(sim, planId, expired);
    await sim.runUntilQuiet();

    expect({
      code: refused.isErr() ? refused.error.code : "subscribed",
      memberships: sim.store.subscriptions().length,
      stripeCalls: sim.billing.calls.slice(callsBefore).map((c) => c.method),
    }).toEqual({ code: "payment_method_expired", memberships: 0, stripeCalls: [] });
  });

  it("a card good through this month still starts one", async () => {
    const sim = new InMemorySusu();
    const planId = await planOf(sim);
    const now = new Date(sim.clock.now());
    const card = await saveCard(sim, "1", {
      brand: "visa",
      last4: "4242",
      expMonth: now.getUTCMonth() + 1,
      expYear: now.getUTCFullYear(),
    });
    expect((await subscribeOn(sim, planId, card)).isOk()).toBe(true);
  });

  it("cannot be made the default: refused, the default and the membership's card stay", async () => {
    const sim = new InMemorySusu();
    const planId = await planOf(sim);
    const working = await saveCard(sim, "1");
    const s = (await subscribeOn(sim, planId, working))._unsafeUnwrap();
    await sim.runUntilQuiet();
    const expired = await saveCard(sim, "2", lastMonth(sim));
    const before = sim.store
      .paymentMethods()
      .map((m) => ({ id: m.id, isDefault: m.isDefault, version: m.version }));
    const subBefore = sim.store.subscriptions().find((x) => x.id === s.id);

    const refused = await useCases.setDefaultPaymentMethod(sim.deps, "ana", expired, "ana");
    await sim.runUntilQuiet();

    const after = sim.store.subscriptions().find((x) => x.id === s.id);
    expect({
      code: refused.isErr() ? refused.error.code : "made default",
      methods: sim.store
        .paymentMethods()
        .map((m) => ({ id: m.id, isDefault: m.isDefault, version: m.version })),
      chargedOn: after?.paymentMethodId,
      version: after?.version,
    }).toEqual({
      code: "payment_method_expired",
      methods: before,
      chargedOn: subBefore?.paymentMethodId,
      version: subBefore?.version,
    });
  });

  it("already the default (it expired since), choosing it again does not move the membership onto it", async () => {
    const sim = new InMemorySusu();
    const planId = await planOf(sim);
    const now = new Date(sim.clock.now());
    // Made the default while good (through this month).
    const expiring = await saveCard(sim, "1", {
      brand: "visa",
      last4: "0069",
      expMonth: now.getUTCMonth() + 1,
      expYear: now.getUTCFullYear(),
    });
    (await useCases.setDefaultPaymentMethod(sim.deps, "ana", expiring, "ana"))._unsafeUnwrap();
    await sim.runUntilQuiet();
    const working = await saveCard(sim, "2");
    const s = (await subscribeOn(sim, planId, working))._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect(sim.store.paymentMethods().find((m) => m.id === expiring)?.isDefault).toBe(true);
    // Into next month: the default card has expired.
    await sim.advance(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 2) - now.getTime());

    const refused = await useCases.setDefaultPaymentMethod(sim.deps, "ana", expiring, "ana");
    await sim.runUntilQuiet();

    expect({
      code: refused.isErr() ? refused.error.code : "made default",
      chargedOn: sim.store.subscriptions().find((x) => x.id === s.id)?.paymentMethodId ?? working,
    }).toEqual({ code: "payment_method_expired", chargedOn: working });
  });
});
