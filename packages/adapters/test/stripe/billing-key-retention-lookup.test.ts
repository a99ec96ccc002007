// A membership's create calls run again after Stripe forgot their Idempotency-Key (it keeps one
// 24 hours): an effect whose first call made the object but whose answer was lost (a timeout, a
// stored 500), parked once its retries ran out and requeued by an operator the next day. The
// billing gateway looks first for what that call made, by its `effect_id` metadata, as the
// payment gateway does for its money-moving creates (key-retention-lookup.test.ts): otherwise a
// second subscription is made and its first invoice charged again, while the membership ignores
// that subscription's news (`other_subscription`) and Stripe bills it every month.
// The emulator through the official SDK; its clock moved past the key's retention.
import { money } from "@susu/domain";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StripeBillingGateway, StripePaymentGateway } from "../../src/stripe/index.js";
import { type StripeHarness, startStripeHarness } from "./emulator-harness.js";

const DAY_AND_AN_HOUR_S = 25 * 3_600;

describe("a membership's create calls run again after Stripe forgot their key (emulator, official SDK)", () => {
  let harness: StripeHarness;
  let billing: StripeBillingGateway;
  let payments: StripePaymentGateway;

  beforeAll(async () => {
    harness = await startStripeHarness();
    billing = new StripeBillingGateway(harness.stripe);
    payments = new StripePaymentGateway(harness.stripe);
  });
  afterAll(async () => {
    await harness?.emulator.stop();
  });

  async function planPrice(plan: string): Promise<string> {
    return (
      await billing.createPlanPrice({
        idempotencyKey: `${plan}:price:aud_month:r1`,
        productId: `susu_plan_${plan}`,
        productName: plan,
        amount: money(10_00, "AUD"),
        interval: "month",
        references: { planId: plan },
      })
    )._unsafeUnwrap().priceId;
  }

  async function customerWithCard(name: string, card: string) {
    const customer = await harness.stripe.customers.create({ name });
    const method = await harness.stripe.paymentMethods.attach(card, { customer: customer.id });
    return { customerId: customer.id, paymentMethodId: method.id };
  }

  it("answers the subscription the first call made: one subscription, one paid first invoice", async () => {
    const priceId = await planPrice("pl_dup");
    const { customerId, paymentMethodId } = await customerWithCard("dup", "pm_card_visa");
    const create = () =>
      billing.createSubscription({
        idempotencyKey: "mbr_dup:create",
        customerId,
        priceId,
        paymentMethodId,
        trialDays: 0,
        references: { subscriptionId: "mbr_dup", personId: "dana" },
      });
    const first = (await create())._unsafeUnwrap();
    // The same effect, run again a day and an hour later (its answer was lost the first time).
    await harness.emulator.control.advanceClock(DAY_AND_AN_HOUR_S);
    const again = (await create())._unsafeUnwrap();

    const live = await harness.stripe.subscriptions.list({ customer: customerId, limit: 100 });
    const paid = await harness.stripe.invoices.list({ customer: customerId, status: "paid", limit: 100 });
    expect({
      answered: again.stripeSubscriptionId,
      liveSubscriptions: live.data.map((s) => s.id),
      paidInvoices: paid.data.length,
    }).toEqual({
      answered: first.stripeSubscriptionId,
      liveSubscriptions: [first.stripeSubscriptionId],
      paidInvoices: 1,
    });
  });

  it("answers the first call's subscription as it stands when it has ended since (expired unpaid), making none", async () => {
    const priceId = await planPrice("pl_exp");
    const { customerId, paymentMethodId } = await customerWithCard("exp", "pm_card_chargeCustomerFail");
    const create = () =>
      billing.createSubscription({
        idempotencyKey: "mbr_exp:create",
        customerId,
        priceId,
        paymentMethodId,
        trialDays: 0,
        references: { subscriptionId: "mbr_exp", personId: "eli" },
      });
    const first = (await create())._unsafeUnwrap();
    expect(first.status).toBe("incomplete");
    // Stripe expires an unpaid first invoice's subscription after 23 hours; the key goes after 24.
    await harness.emulator.control.advanceClock(DAY_AND_AN_HOUR_S);
    const again = (await create())._unsafeUnwrap();

    const all = await harness.stripe.subscriptions.list({ customer: customerId, status: "all", limit: 100 });
    expect({
      answered: again.stripeSubscriptionId,
      status: again.status,
      subscriptions: all.data.length,
    }).toEqual({ answered: first.stripeSubscriptionId, status: "incomplete_expired", subscriptions: 1 });
  });

  it("finds the subscription a create under a key made, as it stands, and none for a key that made nothing", async () => {
    const priceId = await planPrice("pl_find");
    const { customerId, paymentMethodId } = await customerWithCard("find", "pm_card_visa");
    const made = (
      await billing.createSubscription({
        idempotencyKey: "mbr_find:create",
        customerId,
        priceId,
        paymentMethodId,
        trialDays: 0,
        references: { subscriptionId: "mbr_find", personId: "fay" },
      })
    )._unsafeUnwrap();
    await harness.stripe.subscriptions.cancel(made.stripeSubscriptionId);
    await harness.emulator.control.advanceClock(DAY_AND_AN_HOUR_S);

    const found = (
      await billing.findSubscription({ idempotencyKey: "mbr_find:create", customerId })
    )._unsafeUnwrap();
    const none = (
      await billing.findSubscription({ idempotencyKey: "mbr_other:create", customerId })
    )._unsafeUnwrap();
    expect({ found: found?.stripeSubscriptionId, status: found?.status, none }).toEqual({
      found: made.stripeSubscriptionId,
      status: "canceled",
      none: undefined,
    });
  });

  it("answers the price the first call made: the plan's product offers one price", async () => {
    const first = await planPrice("pl_price");
    await harness.emulator.control.advanceClock(DAY_AND_AN_HOUR_S);
    const again = await planPrice("pl_price");

    const prices = await harness.stripe.prices.list({ product: "susu_plan_pl_price", limit: 100 });
    expect({ again, prices: prices.data.map((p) => p.id) }).toEqual({ again: first, prices: [first] });
  });

  it("answers the customer the first call made for the person: one customer carries the key", async () => {
    // A person's customer is made before their first membership (ensureCustomer): its answer
    // lost, the person subscribes again the next day under the same key.
    const notBefore = (await harness.emulator.control.now()) * 1000;
    const create = () =>
      payments.createCustomer({
        idempotencyKey: "person:gus:customer",
        name: "Gus",
        references: { personId: "gus" },
        notBefore,
      });
    const first = (await create())._unsafeUnwrap();
    // Other people's customers made meanwhile: the look-up reads past them.
    for (const name of ["hal", "ivy", "jo"])
      await payments.createCustomer({
        idempotencyKey: `person:${name}:customer`,
        name,
        references: { personId: name },
        // A first request: made now, under a key Stripe keeps.
        notBefore: Date.now(),
        effectCreatedAt: Date.now(),
      });
    await harness.emulator.control.advanceClock(DAY_AND_AN_HOUR_S);
    const again = (await create())._unsafeUnwrap();

    const made = (await harness.stripe.customers.list({ limit: 100 })).data.filter(
      (c) => c.metadata?.person_id === "gus",
    );
    expect({ again: again.customerId, made: made.map((c) => c.id) }).toEqual({
      again: first.customerId,
      made: [first.customerId],
    });
  });
});
