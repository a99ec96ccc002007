import type Stripe from "stripe";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DAY, failure, type Harness, harness } from "./support.js";

let h: Harness;
beforeAll(async () => {
  h = await harness({ settlementDelaySeconds: 3 * DAY });
});
afterAll(async () => h.emu.stop());
beforeEach(async () => h.emu.control.reset());

function session(extra: Partial<Stripe.Checkout.SessionCreateParams> = {}): Promise<Stripe.Checkout.Session> {
  return h.stripe.checkout.sessions.create({
    mode: "payment",
    success_url: "https://susu.test/success",
    line_items: [
      { price_data: { currency: "aud", unit_amount: 2500, product_data: { name: "Booking" } }, quantity: 2 },
    ],
    payment_intent_data: { transfer_group: "booking_9", metadata: { booking: "b9" } },
    metadata: { booking: "b9" },
    ...extra,
  });
}

async function types(): Promise<string[]> {
  return (await h.stripe.events.list({ limit: 100 })).data.map((e) => e.type).reverse();
}

describe("checkout sessions", () => {
  it("is open with no PaymentIntent until the customer pays by card, then complete and paid", async () => {
    const s = await session();
    expect(s.status).toBe("open");
    expect(s.amount_total).toBe(5000);
    expect(s.payment_intent).toBeNull();
    expect(s.url).toContain(s.id);
    const items = await h.stripe.checkout.sessions.listLineItems(s.id);
    expect(items.data.map((i) => [i.quantity, i.amount_total, i.description])).toEqual([
      [2, 5000, "Booking"],
    ]);

    const done = await h.emu.control.completeCheckoutSession(s.id, {
      paymentMethod: "pm_card_visa",
      email: "guest@example.com",
    });
    expect(done.status).toBe("complete");
    expect(done.payment_status).toBe("paid");
    const retrieved = await h.stripe.checkout.sessions.retrieve(s.id, { expand: ["payment_intent"] });
    const pi = retrieved.payment_intent as Stripe.PaymentIntent;
    expect(pi.status).toBe("succeeded");
    expect(pi.amount).toBe(5000);
    expect(pi.transfer_group).toBe("booking_9");
    expect(pi.metadata).toEqual({ booking: "b9" });
    expect(retrieved.customer_details?.email).toBe("guest@example.com");
    expect(await types()).toContain("checkout.session.completed");
    expect((await h.stripe.checkout.sessions.list({ payment_intent: pi.id })).data.map((x) => x.id)).toEqual([
      s.id,
    ]);
  });

  it("stays open after a declined card, so the customer can try again", async () => {
    const s = await session();
    await expect(
      h.emu.control.completeCheckoutSession(s.id, { paymentMethod: "pm_card_chargeDeclined" }),
    ).rejects.toThrow(/declined/);
    expect((await h.stripe.checkout.sessions.retrieve(s.id)).status).toBe("open");
    const done = await h.emu.control.completeCheckoutSession(s.id, { paymentMethod: "pm_card_visa" });
    expect(done.payment_status).toBe("paid");
  });

  it("completes unpaid with BECS, then reports the async outcome", async () => {
    const ok = await session({ payment_method_types: ["au_becs_debit"] });
    const bad = await session({ payment_method_types: ["au_becs_debit"] });
    const okDone = await h.emu.control.completeCheckoutSession(ok.id, {
      becs: { accountNumber: "000123456" },
    });
    await h.emu.control.completeCheckoutSession(bad.id, { becs: { accountNumber: "111111113" } });
    expect(okDone.status).toBe("complete");
    expect(okDone.payment_status).toBe("unpaid");
    await h.emu.control.advanceClock(3 * DAY);
    expect((await h.stripe.checkout.sessions.retrieve(ok.id)).payment_status).toBe("paid");
    const asyncEvents = (
      await h.stripe.events.list({
        types: ["checkout.session.async_payment_succeeded", "checkout.session.async_payment_failed"],
      })
    ).data;
    expect(asyncEvents.map((e) => [e.type, (e.data.object as Stripe.Checkout.Session).id]).sort()).toEqual(
      [
        ["checkout.session.async_payment_failed", bad.id],
        ["checkout.session.async_payment_succeeded", ok.id],
      ].sort(),
    );
  });

  it("expires on request or after 24 hours", async () => {
    const a = await session();
    const expired = await h.stripe.checkout.sessions.expire(a.id);
    expect(expired.status).toBe("expired");
    expect((await failure(h.stripe.checkout.sessions.expire(a.id))).statusCode).toBe(400);
    const b = await session();
    await h.emu.control.advanceClock(DAY);
    expect((await h.stripe.checkout.sessions.retrieve(b.id)).status).toBe("expired");
    expect((await types()).filter((t) => t === "checkout.session.expired")).toHaveLength(2);
  });

  it("of many sessions due to expire at the same second, completing some leaves the others' expiry in place", async () => {
    const sessions: Stripe.Checkout.Session[] = [];
    for (let i = 0; i < 9; i++) sessions.push(await session());
    expect(new Set(sessions.map((s) => s.expires_at)).size).toBe(1);
    const paid = sessions.filter((_, i) => i % 3 === 1);
    for (const s of paid)
      await h.emu.control.completeCheckoutSession(s.id, { paymentMethod: "pm_card_visa" });
    await h.stripe.checkout.sessions.expire(sessions[8]!.id);
    await h.emu.control.advanceClock(DAY);
    const statuses = await Promise.all(
      sessions.map(async (s) => (await h.stripe.checkout.sessions.retrieve(s.id)).status),
    );
    expect(statuses).toEqual(sessions.map((_, i) => (i % 3 === 1 ? "complete" : "expired")));
    const expiredEvents = (await h.stripe.events.list({ type: "checkout.session.expired", limit: 100 })).data;
    expect(expiredEvents.map((e) => (e.data.object as Stripe.Checkout.Session).id).sort()).toEqual(
      sessions
        .filter((_, i) => i % 3 !== 1)
        .map((s) => s.id)
        .sort(),
    );
  });

  it("expires at expires_at (30 minutes to 24 hours away), and hands transfer_group and metadata to its payment", async () => {
    const now = await h.emu.control.now();
    const tooSoon = await failure(session({ expires_at: now + 29 * 60 }));
    expect(tooSoon.param).toBe("expires_at");
    expect((await failure(session({ expires_at: now + DAY + 1 }))).param).toBe("expires_at");
    const soon = await session({ expires_at: now + 45 * 60 });
    expect(soon.expires_at).toBe(now + 45 * 60);
    await h.emu.control.advanceClock(45 * 60 - 1);
    expect((await h.stripe.checkout.sessions.retrieve(soon.id)).status).toBe("open");
    await h.emu.control.advanceClock(1);
    expect((await h.stripe.checkout.sessions.retrieve(soon.id)).status).toBe("expired");
    const expired = (await h.stripe.events.list({ type: "checkout.session.expired" })).data[0]!;
    expect((expired.data.object as Stripe.Checkout.Session).metadata).toEqual({ booking: "b9" });

    const paid = await session();
    await h.emu.control.completeCheckoutSession(paid.id, { paymentMethod: "pm_card_visa" });
    const done = await h.stripe.checkout.sessions.retrieve(paid.id, { expand: ["payment_intent"] });
    const pi = done.payment_intent as Stripe.PaymentIntent;
    expect(pi.transfer_group).toBe("booking_9");
    expect(pi.metadata).toEqual({ booking: "b9" });
    const charge = await h.stripe.charges.retrieve(pi.latest_charge as string);
    expect(charge.transfer_group).toBe("booking_9");
  });

  it("validates its parameters", async () => {
    expect(
      (await failure(h.stripe.checkout.sessions.create({ mode: "payment", success_url: "https://x.test" })))
        .param,
    ).toBe("line_items");
    const noUrl = await failure(
      h.stripe.checkout.sessions.create({
        mode: "payment",
        line_items: [{ price: "price_missing", quantity: 1 }],
      }),
    );
    expect(noUrl.param).toBe("success_url");
  });
});

describe("checkout sessions that name no payment method types", () => {
  let dyn: Harness;
  beforeAll(async () => {
    dyn = await harness({ dynamicPaymentMethodTypes: { AUD: ["card", "au_becs_debit"] } });
  });
  afterAll(async () => dyn.emu.stop());

  const create = (currency: string) =>
    dyn.stripe.checkout.sessions.create({
      mode: "payment",
      success_url: "https://susu.test/success",
      line_items: [
        { price_data: { currency, unit_amount: 2500, product_data: { name: "Stay" } }, quantity: 1 },
      ],
    });

  it("offer the Dashboard's payment methods for the currency (dynamic payment methods): BECS pays an AUD page", async () => {
    const aud = await create("aud");
    expect(aud.payment_method_types).toEqual(["card", "au_becs_debit"]);
    const done = await dyn.emu.control.completeCheckoutSession(aud.id, {
      becs: { accountNumber: "000123456" },
    });
    expect(done.payment_status).toBe("unpaid");
    const pi = await dyn.stripe.paymentIntents.retrieve(String(done.payment_intent));
    expect(pi.status).toBe("processing");
    expect(pi.payment_method_types).toEqual(["card", "au_becs_debit"]);
  });

  it("offer cards alone in a currency with nothing turned on, as by default", async () => {
    const usd = await create("usd");
    expect(usd.payment_method_types).toEqual(["card"]);
    await expect(
      dyn.emu.control.completeCheckoutSession(usd.id, { becs: { accountNumber: "000123456" } }),
    ).rejects.toThrow(/not allowed/);
    expect((await session()).payment_method_types).toEqual(["card"]);
  });
});

describe("Checkout in subscription mode", () => {
  async function recurring(): Promise<{ price: Stripe.Price; customer: Stripe.Customer }> {
    const product = await h.stripe.products.create({ name: "Membership" });
    const price = await h.stripe.prices.create({
      product: product.id,
      currency: "aud",
      unit_amount: 1500,
      recurring: { interval: "month" },
    });
    const customer = await h.stripe.customers.create({ name: "Ana" });
    return { price, customer };
  }

  it("completes into a subscription on the saved card, with subscription_data's metadata and trial", async () => {
    const { price, customer } = await recurring();
    const s = await h.stripe.checkout.sessions.create({
      mode: "subscription",
      customer: customer.id,
      line_items: [{ price: price.id, quantity: 1 }],
      success_url: "https://app.example/ok",
      subscription_data: { metadata: { member: "ana" }, trial_period_days: 7 },
    });
    expect([s.status, s.subscription]).toEqual(["open", null]);
    const done = await h.emu.control.completeCheckoutSession(s.id, { paymentMethod: "pm_card_visa" });
    expect(done).toMatchObject({ status: "complete", payment_status: "no_payment_required" });
    const sub = await h.stripe.subscriptions.retrieve(done.subscription as string);
    expect(sub).toMatchObject({ status: "trialing", customer: customer.id, metadata: { member: "ana" } });
    expect(sub.items.data[0]?.price.id).toBe(price.id);
    expect(typeof sub.default_payment_method).toBe("string");
    const types = (await h.stripe.events.list({ limit: 100 })).data.map((e) => e.type);
    expect(types).toEqual(
      expect.arrayContaining(["checkout.session.completed", "customer.subscription.created"]),
    );
  });

  it("without a trial charges the first invoice: paid; a recurring price outside subscription mode is refused", async () => {
    const { price, customer } = await recurring();
    const s = await h.stripe.checkout.sessions.create({
      mode: "subscription",
      customer: customer.id,
      line_items: [{ price: price.id, quantity: 1 }],
      success_url: "https://app.example/ok",
    });
    const done = await h.emu.control.completeCheckoutSession(s.id, {});
    expect(done.payment_status).toBe("paid");
    expect((await h.stripe.subscriptions.retrieve(done.subscription as string)).status).toBe("active");
    expect(done.invoice).toMatch(/^in_/);
    const refused = await h.stripe.checkout.sessions
      .create({
        mode: "payment",
        customer: customer.id,
        line_items: [{ price: price.id, quantity: 1 }],
        success_url: "https://app.example/ok",
      })
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ statusCode: 400, param: "line_items" });
  });
});
