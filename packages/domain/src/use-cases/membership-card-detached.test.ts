// A card detached at Stripe (payment_method.detached, not through susu) that a membership is
// charged on: Stripe can no longer charge it, so the next renewal would fail silently. The
// membership moves to the person's other saved card that can be charged (the default, else the
// newest; `canChargeCardAt`), as a removal through susu does, and the person is told which;
// with none, the person is told to save a card before the next invoice. Any repeat of the news
// moves nothing again and tells nobody twice.
import { describe, expect, it } from "vitest";
import type { PaymentFact } from "../facts/payment-fact.js";
import { paymentMethodIds } from "../payment-method/payment-method-ids.js";
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

async function subscribedOn(sim: InMemorySusu): Promise<{ billing: string; subscriptionId: string }> {
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
  const billing = await saveCard(sim, "1");
  const s = (
    await useCases.subscribe(sim.deps, {
      personId: "ana",
      planId: plan.id,
      currency: "AUD",
      interval: "month",
      start: { kind: "saved_method", paymentMethodId: billing },
    })
  )._unsafeUnwrap();
  await sim.runUntilQuiet();
  return { billing, subscriptionId: s.id };
}

const chargedOn = (sim: InMemorySusu, id: string) =>
  sim.store.subscriptions().find((x) => x.id === id)?.paymentMethodId;

const stripeCardOf = (sim: InMemorySusu, id: string) => {
  const stripeId = sim.store.subscriptions().find((x) => x.id === id)?.stripeSubscriptionId;
  return stripeId === undefined ? undefined : sim.billing.subscription(stripeId)?.defaultPaymentMethodId;
};

describe("a card a membership is charged on, detached at Stripe", () => {
  it("moves the membership to the other card that can be charged (passing over an expired one); the person is told once", async () => {
    const sim = new InMemorySusu();
    const { billing, subscriptionId } = await subscribedOn(sim);
    const now = new Date(sim.clock.now());
    const good = await saveCard(sim, "2", {
      brand: "mastercard",
      last4: "4444",
      expMonth: 12,
      expYear: now.getUTCFullYear() + 2,
    });
    await sim.advance(60_000);
    await saveCard(sim, "3", {
      brand: "visa",
      last4: "0069",
      expMonth: 1,
      expYear: now.getUTCFullYear() - 1,
    });
    const sentBefore = sim.notifier.sent.length;

    const detached = sim.gateway.detachBehindTheScenes(billing);
    (await sim.deliver([detached, detached]))._unsafeUnwrap();
    await sim.runUntilQuiet();
    (await sim.deliver([detached]))._unsafeUnwrap();
    await sim.runUntilQuiet();

    expect({
      chargedOn: chargedOn(sim, subscriptionId),
      atStripe: stripeCardOf(sim, subscriptionId),
      told: sim.notifier.sent
        .slice(sentBefore)
        .map((n) => [n.id, n.template, n.personIds, n.data.movedToPaymentMethodId]),
    }).toEqual({
      chargedOn: good,
      atStripe: good,
      told: [
        [
          paymentMethodIds.membershipCardDetachedNotice(billing, subscriptionId),
          "membership_card_detached",
          ["ana"],
          good,
        ],
      ],
    });
  });

  it("with no other card that can be charged: the person is told to save one, once; the membership is not moved", async () => {
    const sim = new InMemorySusu();
    const { billing, subscriptionId } = await subscribedOn(sim);
    const now = new Date(sim.clock.now());
    await saveCard(sim, "2", {
      brand: "visa",
      last4: "0069",
      expMonth: 1,
      expYear: now.getUTCFullYear() - 1,
    });
    const sentBefore = sim.notifier.sent.length;

    const detached = sim.gateway.detachBehindTheScenes(billing);
    (await sim.deliver([detached, detached]))._unsafeUnwrap();
    await sim.runUntilQuiet();

    const told = sim.notifier.sent.slice(sentBefore);
    expect({
      chargedOn: chargedOn(sim, subscriptionId) ?? billing,
      told: told.map((n) => [n.id, n.template, n.personIds, n.data.movedTo, n.data.subscriptionId]),
    }).toEqual({
      chargedOn: billing,
      told: [
        [
          paymentMethodIds.membershipCardDetachedNotice(billing, subscriptionId),
          "membership_card_detached",
          ["ana"],
          undefined,
          subscriptionId,
        ],
      ],
    });
    expect(told[0]?.data.setupPath).toBeDefined();
  });

  it("with no other card, the news heard again (a duplicate or late webhook) writes its audit line once", async () => {
    const sim = new InMemorySusu();
    const { billing, subscriptionId } = await subscribedOn(sim);
    const detached = sim.gateway.detachBehindTheScenes(billing);
    (await sim.deliver([detached]))._unsafeUnwrap();
    await sim.runUntilQuiet();
    await sim.advance(3_600_000);
    (await sim.deliver([detached, detached]))._unsafeUnwrap();
    await sim.runUntilQuiet();

    const lines = sim.store
      .audit()
      .filter((a) => a.aggregateId === billing && a.action === "membership_card_detached");
    expect(lines.map((a) => [a.outcome, a.detail])).toEqual([
      ["applied", `membership ${subscriptionId} has no other card that can be charged; ana told to save one`],
    ]);
    expect(sim.store.outbox().filter((e) => e.id.includes(billing) && e.kind === "notify")).toHaveLength(1);
  });

  it("a card the membership is not charged on, detached: nothing for the membership", async () => {
    const sim = new InMemorySusu();
    const { billing, subscriptionId } = await subscribedOn(sim);
    const other = await saveCard(sim, "2");
    const sentBefore = sim.notifier.sent.length;
    (await sim.deliver([sim.gateway.detachBehindTheScenes(other)]))._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect({
      chargedOn: chargedOn(sim, subscriptionId) ?? billing,
      told: sim.notifier.sent.slice(sentBefore).map((n) => n.template),
    }).toEqual({ chargedOn: billing, told: [] });
  });
});
