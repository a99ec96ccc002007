// StripeBillingGateway through the official SDK against the emulator: a plan's product
// created safely by every price effect (a rename between them included), and a membership's
// Checkout Session expired when the membership is canceled before the page is paid.
import { money } from "@susu/domain";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StripeBillingGateway } from "../../src/stripe/index.js";
import { type StripeHarness, startStripeHarness } from "./emulator-harness.js";

describe("StripeBillingGateway on the emulator", () => {
  let harness: StripeHarness;
  let billing: StripeBillingGateway;

  beforeAll(async () => {
    harness = await startStripeHarness();
    billing = new StripeBillingGateway(harness.stripe);
  });
  afterAll(async () => {
    await harness?.emulator.stop();
  });

  const price = (effectId: string, productName: string, amountMinor: number) =>
    billing.createPlanPrice({
      idempotencyKey: effectId,
      productId: "susu_plan_pl_rename",
      productName,
      amount: money(amountMinor, "AUD"),
      interval: "month",
      references: { planId: "pl_rename" },
    });

  it("a price after the plan was renamed (another name for the same product) is created, not refused as a reused key", async () => {
    const first = (await price("pl_rename:price:aud_month:r1", "Plus", 10_00))._unsafeUnwrap();
    (
      await billing.updatePlanProduct({
        idempotencyKey: "pl_rename:product:v1",
        productId: "susu_plan_pl_rename",
        name: "Plus Max",
        active: true,
      })
    )._unsafeUnwrap();
    const second = (await price("pl_rename:price:aud_month:r2", "Plus Max", 12_00))._unsafeUnwrap();
    expect(second.priceId).not.toBe(first.priceId);
    const made = await harness.stripe.prices.retrieve(second.priceId);
    expect(made).toMatchObject({ product: "susu_plan_pl_rename", unit_amount: 12_00 });
    const product = await harness.stripe.products.retrieve("susu_plan_pl_rename");
    expect(product.name).toBe("Plus Max");
    // The same effect again (a retry) answers the same price: its keys replay.
    const again = (await price("pl_rename:price:aud_month:r2", "Plus Max", 12_00))._unsafeUnwrap();
    expect(again.priceId).toBe(second.priceId);
  });

  async function aCheckout(effectId: string): Promise<string> {
    const customer = await harness.stripe.customers.create({ email: `${effectId}@example.test` });
    const { priceId } = (await price("pl_rename:price:aud_month:r1", "Plus", 10_00))._unsafeUnwrap();
    const session = (
      await billing.createSubscriptionCheckout({
        idempotencyKey: effectId,
        customerId: customer.id,
        priceId,
        trialDays: 0,
        successUrl: "https://app.example/ok",
        cancelUrl: "https://app.example/no",
        references: { subscriptionId: effectId, personId: "sam" },
      })
    )._unsafeUnwrap();
    return session.sessionId;
  }

  it("expires an open membership Checkout Session: the page can no longer be paid", async () => {
    const sessionId = await aCheckout("mbr_1:checkout");
    const answer = await billing.expireCheckoutSession({
      idempotencyKey: "mbr_1:checkout:expire",
      sessionId,
    });
    expect(answer._unsafeUnwrap()).toEqual({ status: "expired" });
    expect((await harness.stripe.checkout.sessions.retrieve(sessionId)).status).toBe("expired");
    await expect(
      harness.emulator.control.completeCheckoutSession(sessionId, { paymentMethod: "pm_card_visa" }),
    ).rejects.toThrow();
    const subscriptions = await harness.stripe.subscriptions.list({ limit: 100 });
    expect(subscriptions.data.filter((s) => s.metadata.susu_subscription_id === "mbr_1")).toEqual([]);
    // A retry of the effect (same key) answers the same.
    const retried = await billing.expireCheckoutSession({
      idempotencyKey: "mbr_1:checkout:expire",
      sessionId,
    });
    expect(retried._unsafeUnwrap()).toEqual({ status: "expired" });
  });

  it("a session paid before it could be expired answers complete (the subscription's own news follows)", async () => {
    const sessionId = await aCheckout("mbr_2:checkout");
    await harness.emulator.control.completeCheckoutSession(sessionId, { paymentMethod: "pm_card_visa" });
    const answer = await billing.expireCheckoutSession({
      idempotencyKey: "mbr_2:checkout:expire",
      sessionId,
    });
    expect(answer._unsafeUnwrap()).toEqual({ status: "complete" });
  });

  it("a session Stripe does not know is a definite refusal (parked for an operator)", async () => {
    const answer = await billing.expireCheckoutSession({
      idempotencyKey: "mbr_3:checkout:expire",
      sessionId: "cs_test_nobody",
    });
    expect(answer._unsafeUnwrapErr()).toMatchObject({ type: "gateway_definite", code: "resource_missing" });
  });
});
