// A membership started on a saved card and canceled before the outbox made its
// `create_subscription` call: the person canceled before anything was asked of Stripe, so
// nothing is asked (no subscription, no charge of the card, then a cancel and a refund). The
// create is checked against the membership as stored when it runs, as a round's debit and a
// payment's transfer are; one tried before (a lost answer) looks for what its try made instead.
import { errAsync } from "neverthrow";
import { describe, expect, it } from "vitest";
import { gatewayError } from "../ports/payment-gateway.js";
import { InMemorySusu } from "../testing/in-memory-susu.js";
import * as useCases from "./index.js";

async function subscribedOnSavedCard(sim: InMemorySusu) {
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
  (await sim.addSeller("ana"))._unsafeUnwrap();
  const card = await sim.saveCard("ana");
  return (
    await useCases.subscribe(sim.deps, {
      personId: "ana",
      planId: plan.id,
      currency: "AUD",
      interval: "month",
      start: { kind: "saved_method", paymentMethodId: card },
    })
  )._unsafeUnwrap();
}

const billingCalls = (sim: InMemorySusu) => sim.billing.calls.map((c) => c.method);

describe("a membership canceled before Stripe was asked to create it", () => {
  it("is never created at Stripe (no subscription, no charge of the saved card); the create completes", async () => {
    const sim = new InMemorySusu();
    const sub = await subscribedOnSavedCard(sim);
    // The person cancels at once, before the dispatcher ran the create effect (a backlog, or
    // Stripe down and the effect waiting for its retry).
    const canceled = (await useCases.cancelSubscription(sim.deps, sub.id, false, "ana"))._unsafeUnwrap();
    expect(canceled.status).toBe("canceled");
    await sim.runUntilQuiet();

    const after = sim.store.subscriptions().find((x) => x.id === sub.id);
    expect({
      calls: billingCalls(sim).filter((m) => m !== "createPlanPrice"),
      status: after?.status,
      stripeSubscriptionId: after?.stripeSubscriptionId,
      pending: sim.store.outbox("pending").length,
      parked: sim.store.outbox("parked").length,
    }).toEqual({ calls: [], status: "canceled", stripeSubscriptionId: undefined, pending: 0, parked: 0 });
  });

  it("tried once with its answer lost, then canceled: finds nothing made and completes without creating", async () => {
    const sim = new InMemorySusu();
    const sub = await subscribedOnSavedCard(sim);
    sim.billing.refuseNext("timeout", "gateway_outcome_unknown"); // the call never reached Stripe
    (await sim.dispatch())._unsafeUnwrap();
    (await useCases.cancelSubscription(sim.deps, sub.id, false, "ana"))._unsafeUnwrap();
    await sim.advance(60 * 60_000); // past the retry's backoff

    const after = sim.store.subscriptions().find((x) => x.id === sub.id);
    expect({
      calls: billingCalls(sim).filter((m) => m !== "createPlanPrice"),
      status: after?.status,
      pending: sim.store.outbox("pending").length,
      parked: sim.store.outbox("parked").length,
    }).toEqual({
      calls: ["createSubscription", "findSubscription"],
      status: "canceled",
      pending: 0,
      parked: 0,
    });
  });

  it("tried once, made at Stripe with its answer lost, then canceled: what it made is found and canceled there, not created again", async () => {
    const sim = new InMemorySusu();
    const sub = await subscribedOnSavedCard(sim);
    const create = sim.billing.createSubscription.bind(sim.billing);
    let lose = true;
    sim.billing.createSubscription = (input) =>
      create(input).andThen((answer) => {
        if (!lose) return create(input);
        lose = false;
        return errAsync(
          gatewayError("gateway_outcome_unknown", "timeout", `answer to ${answer.stripeSubscriptionId} lost`),
        );
      });
    (await sim.dispatch())._unsafeUnwrap();
    (await useCases.cancelSubscription(sim.deps, sub.id, false, "ana"))._unsafeUnwrap();
    await sim.advance(60 * 60_000);

    const after = sim.store.subscriptions().find((x) => x.id === sub.id);
    const made =
      after?.stripeSubscriptionId === undefined
        ? undefined
        : sim.billing.subscription(after.stripeSubscriptionId);
    expect({
      calls: billingCalls(sim).filter((m) => m !== "createPlanPrice"),
      status: after?.status,
      atStripe: made?.status,
      pending: sim.store.outbox("pending").length,
      parked: sim.store.outbox("parked").length,
    }).toEqual({
      calls: ["createSubscription", "findSubscription", "cancelSubscription"],
      status: "canceled",
      atStripe: "canceled",
      pending: 0,
      parked: 0,
    });
  });

  it("a membership still wanted is created as asked", async () => {
    const sim = new InMemorySusu();
    const sub = await subscribedOnSavedCard(sim);
    await sim.runUntilQuiet();
    const after = sim.store.subscriptions().find((x) => x.id === sub.id);
    expect({
      calls: billingCalls(sim).filter((m) => m !== "createPlanPrice"),
      status: after?.status,
    }).toEqual({
      calls: ["createSubscription"],
      status: "active",
    });
  });
});
