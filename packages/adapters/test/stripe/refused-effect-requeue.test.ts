// An outbox effect Stripe refused for good, parked, its cause fixed by a person, then requeued:
// through the dispatcher, StripeBillingGateway and the official SDK on the emulator. Stripe
// keeps a refusal under its idempotency key ("A request that returns a 400 sends back the same
// 400 if followed by a new request with the same idempotency key", Advanced error handling),
// so the requeued run must call under a new key — while a transient failure (a 5xx) is
// retried under the same one, as a request that may have run must be.
import { type EffectPorts, type OutboxEffect, useCaseDepsOn, useCases } from "@susu/domain";
import {
  FakePaymentGateway,
  InMemoryLedgerStore,
  InMemoryStore,
  InMemoryTimerScheduler,
  ManualClock,
  RecordingNotifier,
  RecordingSupportDesk,
  SequentialIds,
} from "@susu/domain/testing";
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StripeBillingGateway } from "../../src/stripe/index.js";
import { type StripeHarness, startStripeHarness } from "./emulator-harness.js";

const START = Date.UTC(2026, 6, 1);

describe("a refused effect requeued after its cause was fixed", () => {
  let harness: StripeHarness;
  beforeAll(async () => {
    harness = await startStripeHarness();
  });
  afterAll(async () => {
    await harness?.emulator.stop();
  });

  /** A subscription at Stripe, charged on a saved card, and a second card not attached to its customer yet. */
  async function aSubscriptionAndALooseCard(): Promise<{ subscription: Stripe.Subscription; card: string }> {
    const customer = await harness.stripe.customers.create({ email: "sam@example.test" });
    const visa = await harness.stripe.paymentMethods.attach("pm_card_visa", { customer: customer.id });
    const price = await harness.stripe.prices.create({
      currency: "aud",
      unit_amount: 15_00,
      recurring: { interval: "month" },
      product_data: { name: "Organiser" },
    });
    const subscription = await harness.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id }],
      default_payment_method: visa.id,
    });
    const card = await harness.stripe.paymentMethods.create({
      type: "card",
      card: { token: "tok_mastercard" },
    });
    return { subscription, card: card.id };
  }

  function susu() {
    const clock = new ManualClock(START);
    const store = new InMemoryStore();
    const deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
    const desk = new RecordingSupportDesk();
    const ports: EffectPorts = {
      gateway: new FakePaymentGateway(() => clock.now()),
      notifier: new RecordingNotifier(),
      desk,
      timers: new InMemoryTimerScheduler(),
      ledger: new InMemoryLedgerStore(() => clock.now()),
      billing: new StripeBillingGateway(harness.stripe),
    };
    const dispatch = async () =>
      (await useCases.dispatchOutbox(deps, ports, store, { workerId: "dispatcher" }))._unsafeUnwrap();
    return { clock, store, desk, dispatch };
  }

  it("runs under a new key and succeeds, where the effect's own key would replay the refusal", async () => {
    // (A refused card change is the membership's news, not a parked effect: a plan's product
    // update is refused for good here, as the product is not at Stripe yet.)
    const { clock, store, desk, dispatch } = susu();
    const productId = `prod_requeue_${Date.now()}`;
    const effect: OutboxEffect = {
      kind: "update_plan_product",
      id: "plan_sam:product:1",
      aggregate: "plan",
      aggregateId: "plan_sam",
      productId,
      name: "Organiser",
      active: true,
    };
    (await store.commit({ people: [], groups: [], rounds: [], outbox: [effect], audit: [] }))._unsafeUnwrap();

    // No such product: Stripe refuses, the effect is parked with a ticket.
    expect(await dispatch()).toMatchObject({ claimed: 1, parked: 1 });
    expect(desk.tickets.map((t) => t.id)).toEqual([`${effect.id}:parked`]);
    const refused = await harness.stripe.products
      .update(productId, { name: "Organiser", active: true }, { idempotencyKey: effect.id })
      .catch((e: Stripe.errors.StripeError) => e);
    // Stripe keeps that refusal under the effect's own key, whatever happens next.
    expect(refused).toMatchObject({ statusCode: 404 });

    // A person makes the product, then requeues the parked effect.
    await harness.stripe.products.create({ id: productId, name: "Draft", active: false });
    clock.advance(60_000);
    expect((await store.requeueParked(effect.id, clock.now()))._unsafeUnwrap()).toBe("requeued");
    expect(await dispatch()).toMatchObject({ claimed: 1, completed: 1, parked: 0 });
    expect(await harness.stripe.products.retrieve(productId)).toMatchObject({
      name: "Organiser",
      active: true,
    });
    // The effect's own key still answers the stored refusal: only the new key could succeed.
    const replayed = await harness.stripe.products
      .update(productId, { name: "Organiser", active: true }, { idempotencyKey: effect.id })
      .catch((e: Stripe.errors.StripeError) => e);
    expect(replayed).toMatchObject({ statusCode: 404 });
    expect((replayed as Stripe.errors.StripeError).headers?.["idempotent-replayed"]).toBe("true");
  });

  it("a 5xx is retried under the effect's own key: the change Stripe made is answered, not made again", async () => {
    const { subscription, card } = await aSubscriptionAndALooseCard();
    await harness.stripe.paymentMethods.attach(card, { customer: subscription.customer as string });
    const { clock, store, dispatch } = susu();
    const effect: OutboxEffect = {
      kind: "set_subscription_payment_method",
      id: "sub_tom:payment-method:1",
      aggregate: "subscription",
      aggregateId: "sub_tom",
      stripeSubscriptionId: subscription.id,
      paymentMethodId: card,
    };
    (await store.commit({ people: [], groups: [], rounds: [], outbox: [effect], audit: [] }))._unsafeUnwrap();
    // The update runs, then its answer is a 500 (the SDK's own retries see the same).
    await harness.emulator.control.injectFault({
      route: `POST /v1/subscriptions/${subscription.id}`,
      kind: "error",
      status: 500,
      phase: "after",
      count: 10,
    });
    expect(await dispatch()).toMatchObject({ claimed: 1, retried: 1 });
    await harness.emulator.control.clearFaults();
    clock.advance(24 * 3_600_000);
    expect(await dispatch()).toMatchObject({ claimed: 1, completed: 1 });
    const updated = await harness.stripe.subscriptions.update(
      subscription.id,
      { default_payment_method: card },
      { idempotencyKey: effect.id },
    );
    expect(updated.lastResponse.headers["idempotent-replayed"]).toBe("true");
  });
});
