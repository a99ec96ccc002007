import type Stripe from "stripe";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Harness, harness } from "./support.js";

// Saved payment methods through the official SDK: a card saved by a SetupIntent, made the
// customer's default, updated by its card network (an emulator control endpoint plays the
// network), and detached.

let h: Harness;
beforeAll(async () => {
  h = await harness();
});
afterAll(async () => h.emu.stop());
beforeEach(async () => h.emu.control.reset());

async function savedCard() {
  const customer = await h.stripe.customers.create({ name: "Ben" });
  const si = await h.stripe.setupIntents.create({
    customer: customer.id,
    payment_method_types: ["card"],
    usage: "off_session",
  });
  const confirmed = await h.stripe.setupIntents.confirm(si.id, { payment_method: "pm_card_visa" });
  expect(confirmed.status).toBe("succeeded");
  return { customer, pmId: confirmed.payment_method as string };
}

describe("saved cards", () => {
  it("a card network's update replaces the expiry and last four and sends payment_method.automatically_updated", async () => {
    const { customer, pmId } = await savedCard();
    const before = await h.stripe.paymentMethods.retrieve(pmId);
    const updated = await h.emu.control.updateCardFromNetwork(pmId, {
      exp_month: 4,
      exp_year: 2033,
      last4: "1881",
    });
    expect(updated.card).toMatchObject({
      exp_month: 4,
      exp_year: 2033,
      last4: "1881",
      brand: before.card?.brand,
    });
    const now = await h.stripe.paymentMethods.retrieve(pmId);
    expect(now.card).toMatchObject({ exp_month: 4, exp_year: 2033, last4: "1881" });
    expect(now.customer).toBe(customer.id);
    const events = await h.stripe.events.list({ type: "payment_method.automatically_updated" });
    expect(events.data).toHaveLength(1);
    expect(events.data[0]?.data.object).toMatchObject({ id: pmId, card: { last4: "1881" } });
    expect(events.data[0]?.data.previous_attributes).toEqual({
      card: { exp_month: before.card?.exp_month, exp_year: before.card?.exp_year, last4: before.card?.last4 },
    });
  });

  it("only an attached card is updated; bad values change nothing", async () => {
    const { pmId } = await savedCard();
    await expect(h.emu.control.updateCardFromNetwork(pmId, { exp_month: 13 })).rejects.toThrow(/exp_month/);
    await expect(h.emu.control.updateCardFromNetwork(pmId, { last4: "12345" })).rejects.toThrow(/last4/);
    await expect(h.emu.control.updateCardFromNetwork("pm_missing", { exp_month: 1 })).rejects.toThrow(
      /No such/,
    );
    await h.stripe.paymentMethods.detach(pmId);
    await expect(h.emu.control.updateCardFromNetwork(pmId, { exp_month: 1 })).rejects.toThrow(
      /saved to a customer/,
    );
    expect((await h.stripe.events.list({ type: "payment_method.automatically_updated" })).data).toHaveLength(
      0,
    );
  });

  it("the customer's default must be a payment method attached to it: another's or a detached one is refused, nothing changes", async () => {
    const { customer, pmId } = await savedCard();
    const other = await savedCard();
    await expect(
      h.stripe.customers.update(customer.id, { invoice_settings: { default_payment_method: other.pmId } }),
    ).rejects.toMatchObject({ statusCode: 400, param: "invoice_settings[default_payment_method]" });
    const loose = await h.stripe.paymentMethods.create({ type: "card", card: { token: "tok_visa" } });
    await expect(
      h.stripe.customers.update(customer.id, { invoice_settings: { default_payment_method: loose.id } }),
    ).rejects.toMatchObject({ statusCode: 400 });
    expect((await h.stripe.customers.retrieve(customer.id)) as Stripe.Customer).toMatchObject({
      invoice_settings: { default_payment_method: null },
    });
    // Its own card, and clearing it, are taken.
    const set = await h.stripe.customers.update(customer.id, {
      invoice_settings: { default_payment_method: pmId },
    });
    expect(set.invoice_settings.default_payment_method).toBe(pmId);
    const cleared = await h.stripe.customers.update(customer.id, {
      invoice_settings: { default_payment_method: "" },
    });
    expect(cleared.invoice_settings.default_payment_method).toBeNull();
    // On creation, the card it attaches (payment_method) may be its default at once.
    const card = await h.stripe.paymentMethods.create({ type: "card", card: { token: "tok_visa" } });
    const created = await h.stripe.customers.create({
      payment_method: card.id,
      invoice_settings: { default_payment_method: card.id },
    });
    expect(created.invoice_settings.default_payment_method).toBe(card.id);
    await expect(
      h.stripe.customers.create({ invoice_settings: { default_payment_method: loose.id } }),
    ).rejects.toMatchObject({ statusCode: 400 });
  });

  it("a detached card can no longer be used for payments nor attached again: a 400 naming the payment method, no PaymentIntent made, nothing charged", async () => {
    const { customer, pmId } = await savedCard();
    await h.stripe.paymentMethods.detach(pmId);
    const refused = { statusCode: 400, type: "StripeInvalidRequestError", param: "payment_method" };
    await expect(
      h.stripe.paymentIntents.create({
        amount: 20_00,
        currency: "aud",
        customer: customer.id,
        payment_method: pmId,
        confirm: true,
        off_session: true,
      }),
    ).rejects.toMatchObject({ ...refused, code: "payment_method_unexpected_state" });
    expect((await h.stripe.paymentIntents.list({ customer: customer.id })).data).toEqual([]);
    // Nor later, on confirming a PaymentIntent made without it.
    const pi = await h.stripe.paymentIntents.create({
      amount: 20_00,
      currency: "aud",
      customer: customer.id,
    });
    await expect(h.stripe.paymentIntents.confirm(pi.id, { payment_method: pmId })).rejects.toMatchObject({
      ...refused,
      code: "payment_method_unexpected_state",
    });
    expect((await h.stripe.paymentIntents.retrieve(pi.id)).status).toBe("requires_payment_method");
    await expect(h.stripe.paymentMethods.attach(pmId, { customer: customer.id })).rejects.toMatchObject({
      statusCode: 400,
      code: "payment_method_unexpected_state",
    });
    expect((await h.stripe.paymentMethods.retrieve(pmId)).customer).toBeNull();
  });

  it("the customer's default is set through invoice_settings; detaching sends payment_method.detached once", async () => {
    const { customer, pmId } = await savedCard();
    const updated = await h.stripe.customers.update(customer.id, {
      invoice_settings: { default_payment_method: pmId },
    });
    expect(updated.invoice_settings.default_payment_method).toBe(pmId);
    const detached = await h.stripe.paymentMethods.detach(pmId);
    expect(detached.customer).toBeNull();
    const events = await h.stripe.events.list({ type: "payment_method.detached" });
    expect(events.data).toHaveLength(1);
    expect(events.data[0]?.data.previous_attributes).toEqual({ customer: customer.id });
    const again = await h.stripe.paymentMethods.detach(pmId).catch((e: { code?: string }) => e);
    expect(again).toMatchObject({ code: "payment_method_unexpected_state" });
  });
});
