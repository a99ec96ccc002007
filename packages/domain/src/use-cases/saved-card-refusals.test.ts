// A client names a saved card in a request (a membership started on it, a marketplace charge
// on it): it must be a card the person saved through susu and has not removed. Anything else
// — an id never saved (a made-up one, or Stripe's test token `pm_card_visa` nobody saved),
// somebody else's card, a removed card, a BECS account — is refused `payment_method_not_found`
// before anything is stored or asked of Stripe; a card of theirs past its expiry is refused
// `payment_method_expired`, as for a membership.
import { describe, expect, it } from "vitest";
import { InMemorySusu } from "../testing/in-memory-susu.js";
import * as useCases from "./index.js";
import type { CreateMarketplaceChargeCommand } from "./marketplace-charge-use-cases.js";
import { startPaymentMethodSetup } from "./payment-method-use-cases.js";

const PERSON = "sam";
const OTHER = "sue";

async function world() {
  const sim = new InMemorySusu();
  for (const id of [PERSON, OTHER, "sel_a"]) (await sim.addSeller(id))._unsafeUnwrap();
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
  const card = await sim.saveCard(PERSON);
  const othersCard = await sim.saveCard(OTHER);
  const removed = await sim.saveCard(PERSON);
  (await useCases.removePaymentMethod(sim.deps, PERSON, removed, undefined, PERSON))._unsafeUnwrap();
  const setup = (
    await startPaymentMethodSetup(sim.deps, sim.gateway, PERSON, "au_becs_debit", "becs")
  )._unsafeUnwrap();
  (await sim.deliver(sim.gateway.confirmSetup(setup.setupIntentId)))._unsafeUnwrap();
  const becs = sim.store.paymentMethods().find((m) => m.personId === PERSON && m.type === "au_becs_debit");
  if (becs === undefined) throw new Error("no BECS account saved");
  await sim.runUntilQuiet();
  const snapshot = () => ({
    subscriptions: sim.store.subscriptions(),
    charges: sim.store.marketplaceCharges(),
    outbox: sim.store.outbox(),
    audit: sim.store.audit().length,
    billing: sim.billing.calls.length,
    customers: sim.store.people().map((p) => p.customerId),
  });
  const bad = {
    "a made-up id": "pm_doesnotexist",
    "Stripe's test token nobody saved": "pm_card_visa",
    "somebody else's card": othersCard,
    "a removed card": removed,
    "a BECS account": becs.id,
  };
  return { sim, planId: plan.id, card, bad, snapshot };
}

describe("subscribing on a saved method", () => {
  it("refuses anything but a card the person saved, storing and asking nothing", async () => {
    const { sim, planId, card, bad, snapshot } = await world();
    const before = snapshot();
    for (const [what, paymentMethodId] of Object.entries(bad)) {
      const refused = await useCases.subscribe(
        sim.deps,
        {
          personId: PERSON,
          planId,
          currency: "AUD",
          interval: "month",
          start: { kind: "saved_method", paymentMethodId },
        },
        sim.gateway,
      );
      expect(refused._unsafeUnwrapErr().code, what).toBe("payment_method_not_found");
    }
    await sim.runUntilQuiet();
    expect(snapshot()).toEqual(before);
    // The card they saved is accepted.
    const s = (
      await useCases.subscribe(sim.deps, {
        personId: PERSON,
        planId,
        currency: "AUD",
        interval: "month",
        start: { kind: "saved_method", paymentMethodId: card },
      })
    )._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect(sim.store.subscriptions().find((x) => x.id === s.id)?.status).toBe("active");
  });

  it("refuses a person with no Stripe customer (so no saved card) before making them one", async () => {
    const { sim, planId } = await world();
    const person = { id: "new", displayName: "New", createdAt: sim.clock.now(), version: 0 };
    const changes = { people: [{ state: person, expectedVersion: undefined }], groups: [], rounds: [] };
    (await sim.store.commit({ ...changes, outbox: [], audit: [] }))._unsafeUnwrap();
    const refused = await useCases.subscribe(
      sim.deps,
      {
        personId: "new",
        planId,
        currency: "AUD",
        interval: "month",
        start: { kind: "saved_method", paymentMethodId: "pm_card_visa" },
      },
      sim.gateway,
    );
    expect(refused._unsafeUnwrapErr().code).toBe("payment_method_not_found");
    expect(sim.store.people().find((p) => p.id === "new")?.customerId).toBeUndefined();
    expect(sim.store.subscriptions()).toEqual([]);
  });
});

describe("a marketplace charge on a saved card", () => {
  const command = (paymentMethodId: string, clientReference: string): CreateMarketplaceChargeCommand => ({
    requestedBy: "app_events",
    clientReference,
    activityId: "act_1",
    purpose: "rsvp",
    description: "Pottery class",
    amountMinor: 100_00,
    currency: "AUD",
    customerId: PERSON,
    customerEmail: "sam@example.com",
    paymentMethod: { kind: "saved_card", paymentMethodId },
    fee: { kind: "rate", basisPoints: 1_000 },
    sellers: [{ id: "sel_a" }],
  });

  it("refuses anything but a card the customer saved, in the check and the creation, storing and asking nothing", async () => {
    const { sim, card, bad, snapshot } = await world();
    const before = snapshot();
    for (const [what, paymentMethodId] of Object.entries(bad)) {
      const checked = await useCases.checkMarketplaceChargeRequest(sim.deps, command(paymentMethodId, what));
      expect(checked._unsafeUnwrapErr().code, what).toBe("payment_method_not_found");
      const refused = await useCases.createMarketplaceCharge(sim.deps, command(paymentMethodId, what));
      expect(refused._unsafeUnwrapErr().code, what).toBe("payment_method_not_found");
    }
    await sim.runUntilQuiet();
    expect(snapshot()).toEqual(before);
    const made = (await useCases.createMarketplaceCharge(sim.deps, command(card, "ok")))._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect(sim.store.marketplaceCharges().find((c) => c.id === made.charge.id)?.status).not.toBe(
      "awaiting_payment",
    );
  });

  it("refuses a saved card past its expiry (payment_method_expired), in the check and the creation, storing and asking nothing", async () => {
    const { sim, snapshot } = await world();
    // A card that expired at the end of last month (good through its last day, UTC).
    const now = new Date(sim.clock.now());
    const month = now.getUTCMonth(); // 0-based: last month's 1-based number, or 0 in January
    const card = {
      brand: "visa",
      last4: "0069",
      expMonth: month === 0 ? 12 : month,
      expYear: month === 0 ? now.getUTCFullYear() - 1 : now.getUTCFullYear(),
    };
    const setup = (
      await startPaymentMethodSetup(sim.deps, sim.gateway, PERSON, "card", "expired")
    )._unsafeUnwrap();
    const facts = sim.gateway.confirmSetup(setup.setupIntentId, { card });
    (await sim.deliver(facts))._unsafeUnwrap();
    await sim.runUntilQuiet();
    const expired = facts[0]?.kind === "payment_method_changed" ? facts[0].paymentMethodId : "";
    expect(sim.store.paymentMethods().find((m) => m.id === expired)?.card).toMatchObject(card);
    const before = snapshot();
    const checked = await useCases.checkMarketplaceChargeRequest(sim.deps, command(expired, "expired"));
    expect(checked._unsafeUnwrapErr().code).toBe("payment_method_expired");
    const refused = await useCases.createMarketplaceCharge(sim.deps, command(expired, "expired"));
    expect(refused._unsafeUnwrapErr().code).toBe("payment_method_expired");
    await sim.runUntilQuiet();
    // Nothing stored, nothing in the outbox for Stripe.
    expect(snapshot()).toEqual(before);
  });

  it("answers the same request again with its charge, even once the card was removed", async () => {
    const { sim, card } = await world();
    const first = (await useCases.createMarketplaceCharge(sim.deps, command(card, "again")))._unsafeUnwrap();
    await sim.runUntilQuiet();
    (await useCases.removePaymentMethod(sim.deps, PERSON, card, undefined, PERSON))._unsafeUnwrap();
    const again = (await useCases.createMarketplaceCharge(sim.deps, command(card, "again")))._unsafeUnwrap();
    expect([again.created, again.charge.id]).toEqual([false, first.charge.id]);
  });
});
