import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Stripe from "stripe";
import { afterAll, expect, it } from "vitest";
import { startEmulator } from "../src/index.js";
import { becs, DAY, MANDATE_DATA } from "./support.js";

const dir = mkdtempSync(join(tmpdir(), "stripe-emulator-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("keeps objects, balances, pending settlements and idempotency keys across a restart", async () => {
  const first = await startEmulator({ dataDir: dir, settlementDelaySeconds: 3 * DAY });
  const stripe = first.stripe({ maxNetworkRetries: 0 });
  const customer = await stripe.customers.create({ email: "kept@example.com" }, { idempotencyKey: "kept-1" });
  const pi = await stripe.paymentIntents.create({
    amount: 4200,
    currency: "aud",
    customer: customer.id,
    payment_method_types: ["au_becs_debit"],
    payment_method_data: becs("000123456") as Stripe.PaymentIntentCreateParams.PaymentMethodData,
    mandate_data: MANDATE_DATA,
    confirm: true,
  });
  const clockBefore = await first.control.now();
  await first.stop();

  const second = await startEmulator({ dataDir: dir, settlementDelaySeconds: 3 * DAY });
  try {
    const again = second.stripe({ maxNetworkRetries: 0 });
    expect((await again.customers.retrieve(customer.id)) as Stripe.Customer).toMatchObject({
      email: "kept@example.com",
    });
    const replay = await again.customers.create({ email: "kept@example.com" }, { idempotencyKey: "kept-1" });
    expect(replay.id).toBe(customer.id);
    expect(await second.control.now()).toBeGreaterThanOrEqual(clockBefore);
    expect((await again.paymentIntents.retrieve(pi.id)).status).toBe("processing");
    await second.control.advanceClock(3 * DAY);
    expect((await again.paymentIntents.retrieve(pi.id)).status).toBe("succeeded");
    const events = await again.events.list({ limit: 100 });
    expect(events.data.map((e) => e.type)).toContain("customer.created");
  } finally {
    await second.stop();
  }
});

it("keeps an invoice's payments as their own objects: one paid after a restart is paid in the list and on the invoice", async () => {
  const sub = mkdtempSync(join(tmpdir(), "stripe-emulator-invoice-payments-"));
  try {
    const first = await startEmulator({ dataDir: sub, settlementDelaySeconds: 3 * DAY });
    const stripe = first.stripe({ maxNetworkRetries: 0 });
    const price = await stripe.prices.create({
      currency: "aud",
      unit_amount: 1500,
      recurring: { interval: "month" },
      product_data: { name: "membership" },
    });
    const customer = await stripe.customers.create({ email: "becs@example.com" });
    const si = await stripe.setupIntents.create({
      customer: customer.id,
      payment_method_types: ["au_becs_debit"],
      payment_method_data: becs("000123456") as Stripe.SetupIntentCreateParams.PaymentMethodData,
      mandate_data: MANDATE_DATA,
      confirm: true,
    });
    const created = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id }],
      default_payment_method: si.payment_method as string,
    });
    const invoiceId = created.latest_invoice as string;
    expect((await stripe.invoicePayments.list({ invoice: invoiceId })).data[0]?.status).toBe("open");
    await first.stop();

    const second = await startEmulator({ dataDir: sub, settlementDelaySeconds: 3 * DAY });
    try {
      const again = second.stripe({ maxNetworkRetries: 0 });
      await second.control.advanceClock(3 * DAY);
      const listed = (await again.invoicePayments.list({ invoice: invoiceId })).data;
      expect(listed.map((p) => p.status)).toEqual(["paid"]);
      const invoice = await again.invoices.retrieve(invoiceId, { expand: ["payments"] });
      expect(invoice.status).toBe("paid");
      expect(invoice.payments?.data).toEqual(listed);
    } finally {
      await second.stop();
    }
  } finally {
    rmSync(sub, { recursive: true, force: true });
  }
});
