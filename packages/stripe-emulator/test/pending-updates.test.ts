// Pending updates (`payment_behavior: pending_if_incomplete`, Stripe's "Pending updates" and
// its reference): a price change that invoices is made only once its invoice is paid. Unpaid,
// the subscription goes on as it was, with the change in `pending_update`; paid later, the
// change applies; unpaid at `expires_at` (23 hours after the update at the latest, or the
// period's end if sooner), the invoice is voided and the change discarded.
import type Stripe from "stripe";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { becs, DAY, type Harness, harness, MANDATE_DATA } from "./support.js";

let h: Harness;
beforeAll(async () => {
  h = await harness({ startTime: Date.UTC(2026, 0, 31, 12) / 1000 });
});
afterAll(async () => h.emu.stop());
beforeEach(async () => h.emu.control.reset());

async function monthlyPrice(amount: number): Promise<Stripe.Price> {
  return h.stripe.prices.create({
    currency: "aud",
    unit_amount: amount,
    recurring: { interval: "month" },
    product_data: { name: "susu platform" },
    nickname: "monthly",
  });
}

/** A monthly subscription paid by card, its first invoice paid; later charges go to `later`. */
async function subscribed(amount: number, later: string) {
  const from = await monthlyPrice(amount);
  const customer = await h.stripe.customers.create({ email: "member@susu.test" });
  const good = await h.stripe.paymentMethods.attach("pm_card_visa", { customer: customer.id });
  const sub = await h.stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: from.id }],
    default_payment_method: good.id,
  });
  expect(sub.status).toBe("active");
  const next = await h.stripe.paymentMethods.attach(later, { customer: customer.id });
  await h.stripe.subscriptions.update(sub.id, { default_payment_method: next.id });
  return { customer, sub, item: sub.items.data[0]!, from };
}

async function eventsOf(subId: string): Promise<Stripe.Event[]> {
  return (await h.stripe.events.list({ limit: 100 })).data.reverse().filter((e) => {
    const o = e.data.object as { id: string; parent?: { subscription_details?: { subscription?: string } } };
    return o.id === subId || o.parent?.subscription_details?.subscription === subId;
  });
}

const pendingIfIncomplete = (itemId: string, price: string): Stripe.SubscriptionUpdateParams => ({
  items: [{ id: itemId, price }],
  proration_behavior: "always_invoice",
  payment_behavior: "pending_if_incomplete",
});

describe("an upgrade with payment_behavior=pending_if_incomplete", () => {
  it("whose payment declines is not made: the old price stays, pending_update holds the change, the invoice stays open", async () => {
    const { sub, item, from } = await subscribed(1500, "pm_card_chargeCustomerFail");
    const to = await monthlyPrice(4000);
    await h.emu.control.advanceClock(10 * DAY);
    const now = sub.created + 10 * DAY;
    const answer = await h.stripe.subscriptions.update(sub.id, {
      ...pendingIfIncomplete(item.id, to.id),
      expand: ["latest_invoice"],
    });
    expect(answer.status).toBe("active");
    expect(answer.items.data[0]!.price.id).toBe(from.id);
    expect(answer.pending_update).toMatchObject({
      expires_at: now + 23 * 3600,
      billing_cycle_anchor: null,
      trial_end: null,
      trial_from_plan: null,
    });
    expect(answer.pending_update!.subscription_items!.map((i) => [i.id, i.price.id])).toEqual([
      [item.id, to.id],
    ]);
    const invoice = answer.latest_invoice as Stripe.Invoice;
    expect(invoice).toMatchObject({
      billing_reason: "subscription_update",
      status: "open",
      attempt_count: 1,
      next_payment_attempt: null,
    });
    const stored = await h.stripe.subscriptions.retrieve(sub.id);
    expect({ price: stored.items.data[0]!.price.id, status: stored.status }).toEqual({
      price: from.id,
      status: "active",
    });
    const events = await eventsOf(sub.id);
    const types = events.map((e) => e.type);
    expect(types).toContain("invoice.payment_failed");
    // The subscription changed only by its pending update (and the invoice it points to).
    const updated = events.filter((e) => e.type === "customer.subscription.updated").at(-1)!;
    expect(Object.keys(updated.data.previous_attributes ?? {})).toContain("pending_update");
    expect(Object.keys(updated.data.previous_attributes ?? {})).not.toContain("items");
    expect(types).not.toContain("customer.subscription.pending_update_applied");
  });

  it("is made when its invoice is paid later: the new price, pending_update cleared, pending_update_applied", async () => {
    const { customer, sub, item } = await subscribed(1500, "pm_card_chargeCustomerFail");
    const to = await monthlyPrice(4000);
    await h.emu.control.advanceClock(10 * DAY);
    const answer = await h.stripe.subscriptions.update(sub.id, pendingIfIncomplete(item.id, to.id));
    await h.emu.control.advanceClock(3600);
    const card = await h.stripe.paymentMethods.attach("pm_card_visa", { customer: customer.id });
    const paid = await h.stripe.invoices.pay(answer.latest_invoice as string, { payment_method: card.id });
    expect(paid.status).toBe("paid");
    const after = await h.stripe.subscriptions.retrieve(sub.id);
    expect({ price: after.items.data[0]!.price.id, pending: after.pending_update }).toEqual({
      price: to.id,
      pending: null,
    });
    expect(after.items.data[0]!.current_period_end).toBe(item.current_period_end);
    const types = (await eventsOf(sub.id)).map((e) => e.type);
    expect(types.slice(-4)).toEqual([
      "invoice.paid",
      "invoice.payment_succeeded",
      "customer.subscription.updated",
      "customer.subscription.pending_update_applied",
    ]);
    // The expiry no longer comes, and the renewal charges the new price once.
    await h.emu.control.advanceClockTo(item.current_period_end + 3600);
    expect((await eventsOf(sub.id)).map((e) => e.type)).not.toContain(
      "customer.subscription.pending_update_expired",
    );
    const renewal = (await h.stripe.invoices.list({ subscription: sub.id, limit: 1 })).data[0]!;
    expect(renewal).toMatchObject({ billing_reason: "subscription_cycle", amount_due: 4000 });
  });

  it("expires unpaid: the invoice is voided, the change discarded, and nothing of it is charged", async () => {
    const { customer, sub, item, from } = await subscribed(1500, "pm_card_chargeCustomerFail");
    const to = await monthlyPrice(4000);
    await h.emu.control.advanceClock(10 * DAY);
    const answer = await h.stripe.subscriptions.update(sub.id, pendingIfIncomplete(item.id, to.id));
    await h.emu.control.advanceClock(23 * 3600);
    const after = await h.stripe.subscriptions.retrieve(sub.id);
    expect({
      price: after.items.data[0]!.price.id,
      pending: after.pending_update,
      status: after.status,
    }).toEqual({
      price: from.id,
      pending: null,
      status: "active",
    });
    expect((await h.stripe.invoices.retrieve(answer.latest_invoice as string)).status).toBe("void");
    const types = (await eventsOf(sub.id)).map((e) => e.type);
    expect(types.slice(-3)).toEqual([
      "invoice.voided",
      "customer.subscription.updated",
      "customer.subscription.pending_update_expired",
    ]);
    // The person pays their old price at the renewal, with a card that works again.
    const card = await h.stripe.paymentMethods.attach("pm_card_visa", { customer: customer.id });
    await h.stripe.subscriptions.update(sub.id, { default_payment_method: card.id });
    await h.emu.control.advanceClockTo(item.current_period_end + 3600);
    const renewal = (await h.stripe.invoices.list({ subscription: sub.id, limit: 1 })).data[0]!;
    expect(renewal).toMatchObject({
      billing_reason: "subscription_cycle",
      status: "paid",
      amount_paid: 1500,
    });
    // Only the first month and the renewal were charged; the upgrade's charge failed and nothing retried it.
    const charges = (await h.stripe.charges.list({ customer: customer.id })).data;
    expect(charges.filter((c) => c.status === "succeeded").map((c) => c.amount)).toEqual([1500, 1500]);
    expect(charges.filter((c) => c.status === "failed")).toHaveLength(1);
  });

  it("expires at the period's end when that comes before 23 hours", async () => {
    const { sub, item } = await subscribed(1500, "pm_card_chargeCustomerFail");
    // Dear enough for an hour's proration to pass the card minimum.
    const to = await monthlyPrice(1_500_000);
    await h.emu.control.advanceClockTo(item.current_period_end - 3600);
    const answer = await h.stripe.subscriptions.update(sub.id, pendingIfIncomplete(item.id, to.id));
    expect(answer.pending_update?.expires_at).toBe(item.current_period_end);
  });

  it("whose payment succeeds is made at once, with no pending update", async () => {
    const { sub, item } = await subscribed(1500, "pm_card_visa");
    const to = await monthlyPrice(4000);
    await h.emu.control.advanceClock(10 * DAY);
    const answer = await h.stripe.subscriptions.update(sub.id, {
      ...pendingIfIncomplete(item.id, to.id),
      expand: ["latest_invoice"],
    });
    expect({ price: answer.items.data[0]!.price.id, pending: answer.pending_update }).toEqual({
      price: to.id,
      pending: null,
    });
    expect((answer.latest_invoice as Stripe.Invoice).status).toBe("paid");
    expect((await eventsOf(sub.id)).map((e) => e.type)).not.toContain(
      "customer.subscription.pending_update_applied",
    );
  });
});

describe("a downgrade with payment_behavior=pending_if_incomplete", () => {
  it("is made at once with a declining card: its invoice is a credit, paid with nothing", async () => {
    const { customer, sub, item } = await subscribed(4000, "pm_card_chargeCustomerFail");
    const to = await monthlyPrice(1500);
    await h.emu.control.advanceClock(10 * DAY);
    const answer = await h.stripe.subscriptions.update(sub.id, {
      ...pendingIfIncomplete(item.id, to.id),
      expand: ["latest_invoice"],
    });
    expect({ price: answer.items.data[0]!.price.id, pending: answer.pending_update }).toEqual({
      price: to.id,
      pending: null,
    });
    expect(answer.latest_invoice).toMatchObject({ status: "paid", amount_due: 0, amount_paid: 0 });
    expect(((await h.stripe.customers.retrieve(customer.id)) as Stripe.Customer).balance).toBeLessThan(0);
  });
});

describe("pending_if_incomplete refusals", () => {
  it("refuses a parameter pending updates do not take, changing nothing", async () => {
    const { sub, item, from } = await subscribed(1500, "pm_card_chargeCustomerFail");
    const to = await monthlyPrice(4000);
    const refused = await h.stripe.subscriptions
      .update(sub.id, { ...pendingIfIncomplete(item.id, to.id), description: "upgrade" })
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ statusCode: 400, param: "description" });
    const after = await h.stripe.subscriptions.retrieve(sub.id);
    expect({ price: after.items.data[0]!.price.id, pending: after.pending_update }).toEqual({
      price: from.id,
      pending: null,
    });
    expect((await h.stripe.invoices.list({ subscription: sub.id })).data).toHaveLength(1);
  });

  it("refuses a subscription paid by BECS debit (pending updates do not support bank debits)", async () => {
    const from = await monthlyPrice(1500);
    const to = await monthlyPrice(4000);
    const customer = await h.stripe.customers.create({ email: "becs@susu.test" });
    const si = await h.stripe.setupIntents.create({
      customer: customer.id,
      payment_method_types: ["au_becs_debit"],
      payment_method_data: becs("000123456") as Stripe.SetupIntentCreateParams.PaymentMethodData,
      mandate_data: MANDATE_DATA,
      confirm: true,
    });
    const sub = await h.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: from.id }],
      default_payment_method: si.payment_method as string,
    });
    const refused = await h.stripe.subscriptions
      .update(sub.id, pendingIfIncomplete(sub.items.data[0]!.id, to.id))
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ statusCode: 400, param: "payment_behavior" });
    expect((await h.stripe.subscriptions.retrieve(sub.id)).items.data[0]!.price.id).toBe(from.id);
  });
});
