// A membership is charged on the person's default card: making a card the default moves
// their current membership's Stripe subscription to it (an outbox effect keyed
// `<s>:payment-method:<n>`, once per change), and removing the card it is charged on moves it
// to their other card first, or is refused when there is none.
import { describe, expect, it } from "vitest";
import type { PaymentFact } from "../facts/payment-fact.js";
import { InMemorySusu } from "../testing/in-memory-susu.js";
import * as useCases from "./index.js";

async function deliver(sim: InMemorySusu, facts: readonly PaymentFact[]): Promise<void> {
  (await sim.deliver(facts))._unsafeUnwrap();
  await sim.runUntilQuiet();
}

async function saveCard(sim: InMemorySusu, attempt: string): Promise<string> {
  const setup = (
    await useCases.startPaymentMethodSetup(sim.deps, sim.gateway, "ana", "card", attempt)
  )._unsafeUnwrap();
  const facts = sim.gateway.confirmSetup(setup.setupIntentId);
  await deliver(sim, facts);
  const first = facts[0];
  if (first?.kind !== "payment_method_changed") throw new Error("no method attached");
  return first.paymentMethodId;
}

async function member() {
  const sim = new InMemorySusu();
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
  const first = await saveCard(sim, "1");
  const s = (
    await useCases.subscribe(sim.deps, {
      personId: "ana",
      planId: plan.id,
      currency: "AUD",
      interval: "month",
      start: { kind: "saved_method", paymentMethodId: first },
    })
  )._unsafeUnwrap();
  await sim.runUntilQuiet();
  const calls = () => sim.billing.calls.filter((c) => c.method === "setSubscriptionPaymentMethod");
  const now = () => sim.store.subscriptions().find((x) => x.id === s.id);
  return { sim, first, id: s.id, calls, now };
}

describe("a membership follows the person's default card", () => {
  it("a new default card: the subscription is charged on it, asked once, keyed by the change", async () => {
    const { sim, first, id, calls, now } = await member();
    const second = await saveCard(sim, "2");
    (await useCases.setDefaultPaymentMethod(sim.deps, "ana", second, "ana"))._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect(calls()).toEqual([
      expect.objectContaining({
        idempotencyKey: `${id}:payment-method:1`,
        subscriptionId: now()?.stripeSubscriptionId,
        paymentMethodId: second,
      }),
    ]);
    expect(now()?.paymentMethodId).toBe(second);
    // Again: nothing more (the default already, the membership charged on it already).
    (await useCases.setDefaultPaymentMethod(sim.deps, "ana", second, "ana"))._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect(calls()).toHaveLength(1);
    // Back to the first card: a second change.
    (await useCases.setDefaultPaymentMethod(sim.deps, "ana", first, "ana"))._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect(
      calls().map((c) => [c.idempotencyKey, (c as { paymentMethodId?: string }).paymentMethodId]),
    ).toEqual([
      [`${id}:payment-method:1`, second],
      [`${id}:payment-method:2`, first],
    ]);
  });

  it("a card change Stripe refuses: no longer pending, the person told once, nothing parked", async () => {
    const { sim, first, id, calls, now } = await member();
    const second = await saveCard(sim, "2");
    const sentBefore = sim.notifier.sent.length;
    sim.billing.refuseNext("resource_missing");
    (await useCases.setDefaultPaymentMethod(sim.deps, "ana", second, "ana"))._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect(calls()).toHaveLength(1);
    expect({
      billed: now()?.paymentMethodId ?? first,
      waiting: now()?.pendingPaymentMethod,
      parked: sim.store.outbox("parked").map((e) => e.id),
      tickets: sim.desk.tickets.map((t) => t.reason),
      told: sim.notifier.sent
        .slice(sentBefore)
        .map((n) => [n.id, n.template, n.personIds, n.data.requestedPaymentMethodId, n.data.failureCode]),
    }).toEqual({
      billed: first,
      waiting: undefined,
      parked: [],
      tickets: [],
      told: [
        [
          `${id}:notify:membership_card_change_refused:1`,
          "membership_card_change_refused",
          ["ana"],
          second,
          "resource_missing",
        ],
      ],
    });
    // Asked again: a new change, keyed by its number.
    const third = await saveCard(sim, "3");
    (await useCases.setDefaultPaymentMethod(sim.deps, "ana", third, "ana"))._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect(calls().map((c) => c.idempotencyKey)).toEqual([
      `${id}:payment-method:1`,
      `${id}:payment-method:2`,
    ]);
    expect(now()?.paymentMethodId).toBe(third);
  });

  it("a canceled membership is left alone", async () => {
    const { sim, id, calls } = await member();
    (await useCases.cancelSubscription(sim.deps, id, false, "ana"))._unsafeUnwrap();
    await sim.runUntilQuiet();
    const second = await saveCard(sim, "2");
    (await useCases.setDefaultPaymentMethod(sim.deps, "ana", second, "ana"))._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect(calls()).toEqual([]);
  });

  it("removing the card it is charged on moves it to the other card; the last card is refused", async () => {
    const { sim, first, id, calls, now } = await member();
    const second = await saveCard(sim, "2");
    (await useCases.removePaymentMethod(sim.deps, "ana", first, undefined, "ana"))._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect(calls()).toEqual([
      expect.objectContaining({ idempotencyKey: `${id}:payment-method:1`, paymentMethodId: second }),
    ]);
    expect(now()?.paymentMethodId).toBe(second);
    const refused = await useCases.removePaymentMethod(sim.deps, "ana", second, undefined, "ana");
    expect(refused._unsafeUnwrapErr().code).toBe("payment_method_bills_membership");
    const methods = (await useCases.listPaymentMethods(sim.deps, "ana"))._unsafeUnwrap();
    expect(methods.map((m) => m.method.id)).toEqual([second]);
  });
});
