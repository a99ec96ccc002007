import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BILLING_METADATA_KEYS,
  type StripeEventTranslation,
  SUBSCRIPTION_METADATA_KEY,
  translateStripeEvent,
  translateStripeEventWith,
} from "../../src/stripe/index.js";
import { type Stripe, type StripeHarness, startStripeHarness } from "./emulator-harness.js";

// A refund made in Stripe's dashboard, or a dispute, of a membership invoice's charge: nothing
// on it names susu (Stripe Billing's PaymentIntent carries no metadata, and since 2025 neither
// it nor the charge names its invoice). The gateway resolves it through the invoice payments.

let harness: StripeHarness;
beforeAll(async () => {
  harness = await startStripeHarness();
});
afterAll(async () => harness.emulator.stop());

/** A subscription paid by card (with susu's metadata, or none), and its invoice's PaymentIntent and charge. */
async function paidSubscription(metadata: Record<string, string>): Promise<{
  readonly invoiceId: string;
  readonly paymentIntentId: string;
  readonly chargeId: string;
}> {
  const stripe = harness.stripe;
  const price = await stripe.prices.create({
    currency: "aud",
    unit_amount: 20_00,
    recurring: { interval: "month" },
    product_data: { name: "membership" },
  });
  const customer = await stripe.customers.create({ email: "m@example.test" });
  const pm = await stripe.paymentMethods.attach("pm_card_visa", { customer: customer.id });
  const sub = await stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: price.id }],
    default_payment_method: pm.id,
    metadata,
  });
  const invoiceId = sub.latest_invoice as string;
  const payment = (await stripe.invoicePayments.list({ invoice: invoiceId })).data[0];
  const paymentIntentId = payment?.payment.payment_intent as string;
  const charge = (await stripe.charges.list({ payment_intent: paymentIntentId })).data[0] as Stripe.Charge;
  return { invoiceId, paymentIntentId, chargeId: charge.id };
}

async function translated(
  types: readonly string[],
): Promise<{ event: Stripe.Event; t: StripeEventTranslation }[]> {
  const out: { event: Stripe.Event; t: StripeEventTranslation }[] = [];
  for (const event of await harness.events.next()) {
    if (!types.includes(event.type)) continue;
    const t = await translateStripeEventWith(
      event,
      (ids) => harness.gateway.getPaymentReferences(ids),
      undefined,
      (ids) => harness.gateway.getInvoiceReferences(ids),
    );
    if (t.isErr()) throw new Error(t.error.message);
    out.push({ event, t: t.value });
  }
  return out;
}

describe("a membership invoice's charge, news from outside susu", () => {
  it("a dashboard refund needs the invoice; resolved, it is a membership_charge_refunded fact naming the membership and the invoice", async () => {
    const paid = await paidSubscription({ [BILLING_METADATA_KEYS.subscriptionId]: "mbr_7" });
    await harness.events.skipExisting();
    const refund = await harness.stripe.refunds.create({
      payment_intent: paid.paymentIntentId,
      amount: 5_00,
    });
    const events = await translated(["refund.created"]);
    expect(translateStripeEvent(events[0]!.event)).toEqual({
      kind: "charge_needs_invoice",
      eventType: "refund.created",
      paymentIntentId: paid.paymentIntentId,
      chargeId: paid.chargeId,
      chargeFact: {
        kind: "membership_charge_refunded",
        refundId: refund.id,
        amountMinor: 5_00,
        outcome: "succeeded",
      },
    });
    expect(events.map((e) => e.t)).toEqual([
      {
        kind: "fact",
        fact: {
          kind: "membership_charge_refunded",
          refs: { subscriptionId: "mbr_7", invoiceId: paid.invoiceId },
          refundId: refund.id,
          amountMinor: 5_00,
          outcome: "succeeded",
        },
      },
    ]);
  });

  it("a dispute of it (no references on the payment) is a dispute fact naming the membership and the invoice", async () => {
    const paid = await paidSubscription({ [BILLING_METADATA_KEYS.subscriptionId]: "mbr_8" });
    await harness.events.skipExisting();
    const dispute = await harness.emulator.control.forceDispute(paid.chargeId, { reason: "fraudulent" });
    const events = await translated(["charge.dispute.created"]);
    expect(events.map((e) => e.t)).toEqual([
      {
        kind: "fact",
        fact: expect.objectContaining({
          kind: "dispute_opened",
          refs: { subscriptionId: "mbr_8", invoiceId: paid.invoiceId },
          disputeId: dispute.id,
          amountMinor: 20_00,
          status: "needs_response",
        }),
      },
    ]);
  });

  it("stays ignored, with why, when the invoice's subscription is not susu's or the payment paid no invoice", async () => {
    const theirs = await paidSubscription({});
    await harness.events.skipExisting();
    await harness.stripe.refunds.create({ payment_intent: theirs.paymentIntentId });
    const [notOurs] = await translated(["refund.created"]);
    expect(notOurs?.t).toMatchObject({ kind: "ignored", eventType: "refund.created" });
    expect(notOurs?.t.kind === "ignored" ? notOurs.t.reason : "").toContain(
      `invoice ${theirs.invoiceId}, whose subscription`,
    );
    const stray = await harness.stripe.paymentIntents.create({
      amount: 7_00,
      currency: "aud",
      payment_method: "pm_card_visa",
      confirm: true,
    });
    await harness.stripe.refunds.create({ payment_intent: stray.id });
    const [noInvoice] = await translated(["refund.created"]);
    expect(noInvoice?.t.kind === "ignored" ? noInvoice.t.reason : "").toContain(
      `payment ${stray.id} paid no invoice`,
    );
    // Without an invoice lookup (an older worker), it is ignored as before.
    const plain = await translateStripeEventWith(noInvoice!.event, (ids) =>
      harness.gateway.getPaymentReferences(ids),
    );
    expect(plain._unsafeUnwrap()).toMatchObject({ kind: "ignored" });
  });

  it("the lookup reads susu's subscription id under the key the billing gateway writes", () => {
    expect(SUBSCRIPTION_METADATA_KEY).toBe(BILLING_METADATA_KEYS.subscriptionId);
  });
});
