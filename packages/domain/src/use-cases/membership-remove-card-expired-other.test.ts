// Removing the card a membership is charged on moves the membership to the person's other saved
// card (the default, else the newest) only if that card can still be charged: an expired one
// would take the next renewal into a decline (expired_card), dunning and a lapse, with the
// working card detached. With no other card that can be charged, the removal is refused
// (`payment_method_bills_membership`), as with no other card at all.
import { describe, expect, it } from "vitest";
import type { PaymentFact } from "../facts/payment-fact.js";
import { canChargeCardAt, type SavedPaymentMethod } from "../payment-method/saved-payment-method.js";
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

async function subscribedOn(sim: InMemorySusu): Promise<{ working: string; subscriptionId: string }> {
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
  const working = await saveCard(sim, "1");
  const s = (
    await useCases.subscribe(sim.deps, {
      personId: "ana",
      planId: plan.id,
      currency: "AUD",
      interval: "month",
      start: { kind: "saved_method", paymentMethodId: working },
    })
  )._unsafeUnwrap();
  await sim.runUntilQuiet();
  return { working, subscriptionId: s.id };
}

describe("removing the card a membership is charged on", () => {
  it("is refused when the only other card has expired (it is not moved onto a card that cannot be charged)", async () => {
    const sim = new InMemorySusu();
    const { working, subscriptionId } = await subscribedOn(sim);
    // An old card, expired years before now (the sim's clock is in the 2020s).
    const now = new Date(sim.clock.now());
    const expired = await saveCard(sim, "2", {
      brand: "visa",
      last4: "0069",
      expMonth: 1,
      expYear: now.getUTCFullYear() - 3,
    });
    const removed = await useCases.removePaymentMethod(sim.deps, "ana", working, undefined, "ana");
    const membership = sim.store.subscriptions().find((x) => x.id === subscriptionId);
    expect({
      removal: removed.isErr() ? removed.error.code : "removed",
      chargedOn: membership?.paymentMethodId ?? working,
    }).toEqual({ removal: "payment_method_bills_membership", chargedOn: working });
    expect(expired).not.toBe(working);
  });

  it("moves the membership to the card that can be charged, passing over a newer expired one", async () => {
    const sim = new InMemorySusu();
    const { working, subscriptionId } = await subscribedOn(sim);
    const now = new Date(sim.clock.now());
    const good = await saveCard(sim, "2", {
      brand: "mastercard",
      last4: "4444",
      expMonth: 12,
      expYear: now.getUTCFullYear() + 2,
    });
    await sim.advance(60_000); // the expired card is the newest: the one picked before expiry counted
    await saveCard(sim, "3", {
      brand: "visa",
      last4: "0069",
      expMonth: 1,
      expYear: now.getUTCFullYear() - 1,
    });
    const removed = await useCases.removePaymentMethod(sim.deps, "ana", working, undefined, "ana");
    await sim.runUntilQuiet();
    const membership = sim.store.subscriptions().find((x) => x.id === subscriptionId);
    expect({ removed: removed.isOk(), chargedOn: membership?.paymentMethodId }).toEqual({
      removed: true,
      chargedOn: good,
    });
  });
});

describe("canChargeCardAt", () => {
  const card = (expMonth: number, expYear: number): SavedPaymentMethod => ({
    id: "pm_1",
    personId: "ana",
    customerId: "cus_ana",
    type: "card",
    card: { brand: "visa", last4: "4242", expMonth, expYear },
    isDefault: false,
    createdAt: 0,
    updatedAt: 0,
    version: 1,
  });

  it("is good through the last day of its expiry month, and not from the first of the next (UTC)", () => {
    expect([
      canChargeCardAt(card(3, 2026), Date.UTC(2026, 2, 31, 23, 59, 59, 999)),
      canChargeCardAt(card(3, 2026), Date.UTC(2026, 3, 1)),
      canChargeCardAt(card(12, 2026), Date.UTC(2026, 11, 31, 23, 59)),
      canChargeCardAt(card(12, 2026), Date.UTC(2027, 0, 1)),
    ]).toEqual([true, false, true, false]);
  });

  it("is false for a removed card and for a bank account", () => {
    const now = Date.UTC(2026, 0, 1);
    expect([
      canChargeCardAt({ ...card(12, 2030), removal: { at: 0, by: "person" } }, now),
      canChargeCardAt({ ...card(12, 2030), type: "au_becs_debit" }, now),
    ]).toEqual([false, false]);
  });
});
