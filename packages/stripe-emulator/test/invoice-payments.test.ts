import type Stripe from "stripe";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DAY, type Harness, harness } from "./support.js";

// Stripe's current API names the invoice a payment paid only through its InvoicePayments
// (`GET /v1/invoice_payments`): the PaymentIntent and the charge no longer carry `invoice`.

let h: Harness;
beforeAll(async () => {
  h = await harness({ startTime: Date.UTC(2026, 0, 31, 12) / 1000 });
});
afterAll(async () => h.emu.stop());
beforeEach(async () => h.emu.control.reset());

async function subscribed(
  pm = "pm_card_visa",
): Promise<{ sub: Stripe.Subscription; invoice: Stripe.Invoice }> {
  const price = await h.stripe.prices.create({
    currency: "aud",
    unit_amount: 1500,
    recurring: { interval: "month" },
    product_data: { name: "susu platform" },
  });
  const customer = await h.stripe.customers.create({ email: "member@group.test" });
  const attached = await h.stripe.paymentMethods.attach(pm, { customer: customer.id });
  await h.stripe.customers.update(customer.id, { invoice_settings: { default_payment_method: attached.id } });
  const sub = await h.stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: price.id }],
    metadata: { susu_subscription_id: "sub_susu_1" },
  });
  const invoice = await h.stripe.invoices.retrieve(sub.latest_invoice as string, { expand: ["payments"] });
  return { sub, invoice };
}

function paymentIntentOf(invoice: Stripe.Invoice): string {
  const pi = invoice.payments?.data[0]?.payment.payment_intent;
  if (typeof pi !== "string") throw new Error(`invoice ${invoice.id} names no PaymentIntent`);
  return pi;
}

describe("GET /v1/invoice_payments", () => {
  it("finds the invoice a PaymentIntent paid, and an invoice's payments, as the invoice lists them", async () => {
    const { sub, invoice } = await subscribed();
    const pi = paymentIntentOf(invoice);
    const byPayment = await h.stripe.invoicePayments.list({
      payment: { type: "payment_intent", payment_intent: pi },
    });
    expect(byPayment.url).toBe("/v1/invoice_payments");
    expect(byPayment.data).toHaveLength(1);
    const found = byPayment.data[0]!;
    expect(found).toMatchObject({
      object: "invoice_payment",
      invoice: invoice.id,
      is_default: true,
      amount_requested: 1500,
      amount_paid: 1500,
      currency: "aud",
      status: "paid",
      payment: { type: "payment_intent", payment_intent: pi },
    });
    expect(found.id).toMatch(/^inpay_/);
    expect(found.status_transitions.paid_at).toBeTypeOf("number");
    expect(invoice.payments?.data).toEqual([found]);
    expect((await h.stripe.invoicePayments.list({ invoice: invoice.id })).data).toEqual([found]);
    expect(await h.stripe.invoicePayments.retrieve(found.id)).toEqual(found);

    // The invoice names its subscription (and its metadata), so the payment leads to it.
    const withInvoice = await h.stripe.invoicePayments.retrieve(found.id, { expand: ["invoice"] });
    const expanded = withInvoice.invoice as Stripe.Invoice;
    expect(expanded.parent?.subscription_details?.subscription).toBe(sub.id);
    expect(expanded.parent?.subscription_details?.metadata).toEqual({ susu_subscription_id: "sub_susu_1" });
    // The charge of a Billing payment names no invoice (removed from charges in 2025-03-31.basil).
    const charge = (await h.stripe.charges.list({ payment_intent: pi })).data[0]!;
    expect("invoice" in charge).toBe(false);
  });

  it("lists newest first across renewals, filters by status, pages, and matches nothing for another payment", async () => {
    const { sub } = await subscribed();
    await h.emu.control.advanceClock(31 * DAY); // the renewal is drafted, finalized an hour later and paid
    const all = await h.stripe.invoicePayments.list();
    expect(all.data).toHaveLength(2);
    const [newest, oldest] = all.data;
    expect(newest!.created).toBeGreaterThan(oldest!.created);
    const invoices = await h.stripe.invoices.list({ subscription: sub.id });
    expect(new Set(all.data.map((p) => p.invoice))).toEqual(new Set(invoices.data.map((i) => i.id)));
    expect((await h.stripe.invoicePayments.list({ status: "paid" })).data).toHaveLength(2);
    expect((await h.stripe.invoicePayments.list({ status: "open" })).data).toHaveLength(0);
    const first = await h.stripe.invoicePayments.list({ limit: 1 });
    expect(first).toMatchObject({ has_more: true, data: [{ id: newest!.id }] });
    const next = await h.stripe.invoicePayments.list({ limit: 1, starting_after: newest!.id });
    expect(next).toMatchObject({ has_more: false, data: [{ id: oldest!.id }] });
    const none = await h.stripe.invoicePayments.list({
      payment: { type: "payment_intent", payment_intent: "pi_not_an_invoice_payment" },
    });
    expect(none.data).toEqual([]);
    const records = await h.stripe.invoicePayments.list({
      payment: { type: "payment_record", payment_record: "pr_none" },
    });
    expect(records.data).toEqual([]);
  });

  it("keeps a failed attempt's payment open, with nothing paid", async () => {
    const { invoice } = await subscribed("pm_card_chargeCustomerFail");
    expect(invoice.status).toBe("open");
    const open = await h.stripe.invoicePayments.list({ invoice: invoice.id, status: "open" });
    expect(open.data).toHaveLength(1);
    expect(open.data[0]!.amount_paid).toBeNull();
  });

  it("refuses a payment filter without its type, an unknown status, and an unknown id", async () => {
    const noType = await h.stripe.invoicePayments
      .list({ payment: { payment_intent: "pi_x" } as Stripe.InvoicePaymentListParams.Payment })
      .catch((e: unknown) => e);
    expect(noType).toMatchObject({ statusCode: 400, code: "parameter_missing", param: "payment[type]" });
    const badStatus = await h.stripe.invoicePayments
      .list({ status: "settled" as Stripe.InvoicePaymentListParams.Status })
      .catch((e: unknown) => e);
    expect(badStatus).toMatchObject({ statusCode: 400, param: "status" });
    const missing = await h.stripe.invoicePayments.retrieve("inpay_missing").catch((e: unknown) => e);
    expect(missing).toMatchObject({ statusCode: 404, code: "resource_missing" });
  });
});

describe("an invoice's charge refunded or disputed outside the integration", () => {
  async function eventsSince(count: number): Promise<Stripe.Event[]> {
    const all = (await h.stripe.events.list({ limit: 100 })).data.reverse();
    return all.slice(count);
  }

  it("a refund made directly (no metadata) sends refund.created and charge.refunded; its payment leads to the invoice", async () => {
    const { invoice } = await subscribed();
    const pi = paymentIntentOf(invoice);
    const before = (await h.stripe.events.list({ limit: 100 })).data.length;
    const refund = await h.stripe.refunds.create({ payment_intent: pi, amount: 500 });
    expect(refund).toMatchObject({ status: "succeeded", amount: 500, payment_intent: pi, metadata: {} });
    const events = await eventsSince(before);
    expect(events.map((e) => e.type)).toEqual(["refund.created", "charge.refunded"]);
    expect((events[0]!.data.object as Stripe.Refund).id).toBe(refund.id);
    const charge = events[1]!.data.object as Stripe.Charge;
    expect(charge).toMatchObject({ amount_refunded: 500, refunded: false, payment_intent: pi, metadata: {} });
    const found = await h.stripe.invoicePayments.list({
      payment: { type: "payment_intent", payment_intent: refund.payment_intent as string },
    });
    expect(found.data.map((p) => p.invoice)).toEqual([invoice.id]);
  });

  it("a chargeback of the invoice's charge sends the dispute's events, and closing it lost sends charge.dispute.closed", async () => {
    const { invoice } = await subscribed();
    const pi = paymentIntentOf(invoice);
    const charge = (await h.stripe.charges.list({ payment_intent: pi })).data[0]!;
    const before = (await h.stripe.events.list({ limit: 100 })).data.length;
    const dispute = await h.emu.control.forceDispute(charge.id, { reason: "fraudulent" });
    expect(dispute).toMatchObject({ charge: charge.id, payment_intent: pi, amount: 1500, metadata: {} });
    await h.emu.control.resolveDispute(dispute.id, "lost");
    const events = await eventsSince(before);
    expect(events.map((e) => e.type)).toEqual([
      "charge.dispute.created",
      "charge.dispute.funds_withdrawn",
      "charge.dispute.closed",
    ]);
    expect((events[2]!.data.object as Stripe.Dispute).status).toBe("lost");
  });
});
