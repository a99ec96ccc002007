// A plan change is asked of Stripe as a pending update (`payment_behavior:
// pending_if_incomplete`, Stripe's "Pending updates"): Stripe makes it only once its invoice is
// paid. With the default (`allow_incomplete`) Stripe applied it "regardless of whether payment on
// the new invoice succeeds", so a member whose card declined was moved to the dearer plan
// anyway: the answer named the new price and the membership confirmed the change while the
// proration invoice was unpaid. Through the official SDK against the emulator.
import { money, type PaymentFact } from "@susu/domain";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StripeBillingGateway, translateMembershipEvent } from "../../src/stripe/index.js";
import { type StripeHarness, startStripeHarness } from "./emulator-harness.js";

describe("a plan change whose proration payment declines (emulator, official SDK)", () => {
  let harness: StripeHarness;
  let billing: StripeBillingGateway;

  beforeAll(async () => {
    harness = await startStripeHarness();
    billing = new StripeBillingGateway(harness.stripe);
  });
  afterAll(async () => {
    await harness?.emulator.stop();
  });

  const price = async (key: string, amountMinor: number) =>
    (
      await billing.createPlanPrice({
        idempotencyKey: key,
        productId: "susu_plan_pl_up",
        productName: "Up",
        amount: money(amountMinor, "AUD"),
        interval: "month",
        references: { planId: "pl_up" },
      })
    )._unsafeUnwrap().priceId;

  it("is not made at Stripe until its invoice is paid: the answer still names the old price", async () => {
    const basic = await price("pl_up:price:aud_month:r1", 10_00);
    const pro = await price("pl_up:price:aud_month:r2", 90_00);
    const customer = await harness.stripe.customers.create({ name: "up" });
    const good = await harness.stripe.paymentMethods.attach("pm_card_visa", { customer: customer.id });
    const started = (
      await billing.createSubscription({
        idempotencyKey: "mbr_up:create",
        customerId: customer.id,
        priceId: basic,
        paymentMethodId: good.id,
        trialDays: 0,
        references: { subscriptionId: "mbr_up" },
      })
    )._unsafeUnwrap();
    expect(started.status).toBe("active");
    // The person's card now declines (their new default card, saved while it still attached).
    const failing = await harness.stripe.paymentMethods.attach("pm_card_chargeCustomerFail", {
      customer: customer.id,
    });
    (
      await billing.setSubscriptionPaymentMethod({
        idempotencyKey: "mbr_up:payment-method:1",
        subscriptionId: started.stripeSubscriptionId,
        paymentMethodId: failing.id,
      })
    )._unsafeUnwrap();

    const answer = (
      await billing.changeSubscriptionPrice({
        idempotencyKey: "mbr_up:change:1",
        subscriptionId: started.stripeSubscriptionId,
        priceId: pro,
        prorationBehavior: "always_invoice",
      })
    )._unsafeUnwrap();
    const sub = await harness.stripe.subscriptions.retrieve(started.stripeSubscriptionId);
    const invoice = await harness.stripe.invoices.retrieve(sub.latest_invoice as string);
    // The proration invoice was not paid...
    expect(invoice.status).toBe("open");
    // ...so the dearer plan must not be in force: neither in Stripe nor in the answer susu confirms the change by.
    expect({ answerPrice: answer.stripePriceId, stripePrice: sub.items.data[0]?.price.id }).toEqual({
      answerPrice: basic,
      stripePrice: basic,
    });
  });

  /** A subscription of `basic` paid by card, charged on a declining card from now on. */
  const subscribedThenDeclining = async (tag: string, basic: string) => {
    const customer = await harness.stripe.customers.create({ name: tag });
    const good = await harness.stripe.paymentMethods.attach("pm_card_visa", { customer: customer.id });
    const started = (
      await billing.createSubscription({
        idempotencyKey: `${tag}:create`,
        customerId: customer.id,
        priceId: basic,
        paymentMethodId: good.id,
        trialDays: 0,
        references: { subscriptionId: tag },
      })
    )._unsafeUnwrap();
    const failing = await harness.stripe.paymentMethods.attach("pm_card_chargeCustomerFail", {
      customer: customer.id,
    });
    (
      await billing.setSubscriptionPaymentMethod({
        idempotencyKey: `${tag}:payment-method:1`,
        subscriptionId: started.stripeSubscriptionId,
        paymentMethodId: failing.id,
      })
    )._unsafeUnwrap();
    return { customer, started };
  };

  /** The membership facts of the subscription's events since `since` (seconds), in order. */
  const factsSince = async (stripeSubscriptionId: string, since: number): Promise<PaymentFact[]> => {
    const events = (await harness.stripe.events.list({ limit: 100, created: { gte: since } })).data.reverse();
    return events.flatMap((e) => {
      const t = translateMembershipEvent(e);
      if (t.kind !== "fact") return [];
      const f = t.fact;
      const sub =
        f.kind === "subscription_changed"
          ? f.snapshot.stripeSubscriptionId
          : "stripeSubscriptionId" in f
            ? f.stripeSubscriptionId
            : undefined;
      return sub === stripeSubscriptionId ? [f] : [];
    });
  };

  it("answers the change held (pendingUpdate: the new price, its expiry, its invoice); the failure is the change's; its expiry is heard as a view without it", async () => {
    const basic = await price("pl_up:price:aud_month:r3", 10_00);
    const pro = await price("pl_up:price:aud_month:r4", 90_00);
    const { started } = await subscribedThenDeclining("mbr_held", basic);
    const since = (await harness.stripe.subscriptions.retrieve(started.stripeSubscriptionId)).created;
    const answer = (
      await billing.changeSubscriptionPrice({
        idempotencyKey: "mbr_held:change:1",
        subscriptionId: started.stripeSubscriptionId,
        priceId: pro,
        prorationBehavior: "always_invoice",
      })
    )._unsafeUnwrap();
    const sub = await harness.stripe.subscriptions.retrieve(started.stripeSubscriptionId);
    expect(answer.stripePriceId).toBe(basic);
    expect(answer.pendingUpdate).toEqual({
      stripePriceId: pro,
      expiresAt: (sub.pending_update?.expires_at ?? 0) * 1000,
      invoiceId: sub.latest_invoice,
    });
    const facts = await factsSince(started.stripeSubscriptionId, since);
    const failure = facts.find((f) => f.kind === "invoice_payment_failed");
    expect(failure).toMatchObject({ invoice: { invoiceId: sub.latest_invoice, forChange: true } });
    expect(failure && "nextPaymentAttemptAt" in failure).toBe(false);
    // The held view came as an event too.
    expect(
      facts.some((f) => f.kind === "subscription_changed" && f.snapshot.pendingUpdate?.stripePriceId === pro),
    ).toBe(true);

    // 23 hours later Stripe discards it: the invoice is voided, the views name the old price with no pending update.
    const expiry = sub.pending_update!.expires_at;
    await harness.emulator.control.advanceClock(23 * 3600);
    const after = await factsSince(started.stripeSubscriptionId, expiry);
    const views = after.flatMap((f) => (f.kind === "subscription_changed" ? [f.snapshot] : []));
    expect(views.length).toBeGreaterThanOrEqual(2);
    for (const v of views) {
      expect(v.pendingUpdate).toBeUndefined();
      expect(v.stripePriceId).toBe(basic);
      expect(v.observedAt).toBeGreaterThanOrEqual(expiry * 1000);
    }
    // One of them is Stripe's word that a held update expired (pending_update_expired): it
    // drops the change even when heard before any view showing it held.
    expect(views.filter((v) => v.pendingUpdateExpired === true)).toHaveLength(1);
    // The change's invoice voided is news too (invoice.voided), naming the change's invoice.
    expect(
      after.some(
        (f) =>
          f.kind === "invoice_voided" && f.invoice.invoiceId === sub.latest_invoice && f.invoice.forChange,
      ),
    ).toBe(true);
    expect((await harness.stripe.invoices.retrieve(sub.latest_invoice as string)).status).toBe("void");
  });

  it("a downgrade is made at once with a declining card: its invoice is a credit, nothing to pay", async () => {
    const basic = await price("pl_up:price:aud_month:r5", 10_00);
    const pro = await price("pl_up:price:aud_month:r6", 90_00);
    const customer = await harness.stripe.customers.create({ name: "down" });
    const good = await harness.stripe.paymentMethods.attach("pm_card_visa", { customer: customer.id });
    const started = (
      await billing.createSubscription({
        idempotencyKey: "mbr_down:create",
        customerId: customer.id,
        priceId: pro,
        paymentMethodId: good.id,
        trialDays: 0,
        references: { subscriptionId: "mbr_down" },
      })
    )._unsafeUnwrap();
    const failing = await harness.stripe.paymentMethods.attach("pm_card_chargeCustomerFail", {
      customer: customer.id,
    });
    (
      await billing.setSubscriptionPaymentMethod({
        idempotencyKey: "mbr_down:payment-method:1",
        subscriptionId: started.stripeSubscriptionId,
        paymentMethodId: failing.id,
      })
    )._unsafeUnwrap();
    await harness.emulator.control.advanceClock(86_400);
    const answer = (
      await billing.changeSubscriptionPrice({
        idempotencyKey: "mbr_down:change:1",
        subscriptionId: started.stripeSubscriptionId,
        priceId: basic,
        prorationBehavior: "always_invoice",
      })
    )._unsafeUnwrap();
    expect({ price: answer.stripePriceId, pending: answer.pendingUpdate }).toEqual({
      price: basic,
      pending: undefined,
    });
    const sub = await harness.stripe.subscriptions.retrieve(started.stripeSubscriptionId);
    const invoice = await harness.stripe.invoices.retrieve(sub.latest_invoice as string);
    expect(invoice).toMatchObject({ status: "paid", amount_paid: 0 });
  });
});
