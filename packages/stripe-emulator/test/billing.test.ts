import type Stripe from "stripe";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { becs, DAY, failure, type Harness, harness, MANDATE_DATA } from "./support.js";

let h: Harness;
beforeAll(async () => {
  h = await harness({ startTime: Date.UTC(2026, 0, 31, 12) / 1000 });
});
afterAll(async () => h.emu.stop());
beforeEach(async () => h.emu.control.reset());

async function monthlyPrice(amount = 1500): Promise<Stripe.Price> {
  return h.stripe.prices.create({
    currency: "aud",
    unit_amount: amount,
    recurring: { interval: "month" },
    product_data: { name: "susu platform" },
    nickname: "monthly",
  });
}

async function customerWith(pm: string, testClock?: string): Promise<Stripe.Customer> {
  const customer = await h.stripe.customers.create({
    email: "admin@group.test",
    ...(testClock ? { test_clock: testClock } : {}),
  });
  const attached = await h.stripe.paymentMethods.attach(pm, { customer: customer.id });
  return h.stripe.customers.update(customer.id, {
    invoice_settings: { default_payment_method: attached.id },
  });
}

async function eventTypes(): Promise<string[]> {
  return (await h.stripe.events.list({ limit: 100 })).data.map((e) => e.type).reverse();
}

describe("products and prices", () => {
  it("takes a product id the caller chooses, and refuses it a second time (resource_already_exists)", async () => {
    const product = await h.stripe.products.create({ id: "susu_plan_x", name: "Plan X" });
    expect(product.id).toBe("susu_plan_x");
    const again = await h.stripe.products
      .create({ id: "susu_plan_x", name: "Other" })
      .catch((e: unknown) => e);
    expect(again).toMatchObject({ statusCode: 400, code: "resource_already_exists", param: "id" });
    expect((await h.stripe.products.retrieve("susu_plan_x")).name).toBe("Plan X");
  });

  it("creates, lists and updates products and prices", async () => {
    const product = await h.stripe.products.create({
      name: "Plan",
      default_price_data: { currency: "aud", unit_amount: 990 },
    });
    expect(product.default_price).toMatch(/^price_/);
    const price = await h.stripe.prices.retrieve(product.default_price as string);
    expect(price.type).toBe("one_time");
    const recurring = await monthlyPrice();
    expect(recurring.recurring?.interval).toBe("month");
    expect((await h.stripe.prices.list({ type: "recurring" })).data.map((p) => p.id)).toEqual([recurring.id]);
    const off = await h.stripe.prices.update(price.id, { active: false });
    expect(off.active).toBe(false);
    expect((await h.stripe.products.update(product.id, { name: "Plan 2" })).name).toBe("Plan 2");
  });
});

describe("monthly subscription", () => {
  it("charges the first month at once and renews on the month boundary, an hour after the draft invoice", async () => {
    const price = await monthlyPrice();
    const customer = await customerWith("pm_card_visa");
    const sub = await h.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id }],
      expand: ["latest_invoice"],
    });
    expect(sub.status).toBe("active");
    const first = sub.latest_invoice as Stripe.Invoice;
    expect(first.status).toBe("paid");
    expect(first.amount_paid).toBe(1500);
    expect(first.billing_reason).toBe("subscription_create");
    const item = sub.items.data[0]!;
    // Anchored on the 31st: the next period ends on the last day of February.
    expect(new Date(item.current_period_end * 1000).toISOString()).toBe("2026-02-28T12:00:00.000Z");

    await h.emu.control.advanceClockTo(item.current_period_end);
    const draft = (await h.stripe.invoices.list({ subscription: sub.id })).data[0]!;
    expect(draft.status).toBe("draft");
    expect(draft.billing_reason).toBe("subscription_cycle");
    await h.emu.control.advanceClock(3600);
    const paid = await h.stripe.invoices.retrieve(draft.id);
    expect(paid.status).toBe("paid");
    expect(paid.number).toMatch(/-0002$/);
    const renewed = await h.stripe.subscriptions.retrieve(sub.id);
    expect(new Date(renewed.items.data[0]!.current_period_end * 1000).toISOString()).toBe(
      "2026-03-31T12:00:00.000Z",
    );
    const charges = await h.stripe.charges.list({ customer: customer.id });
    expect(charges.data.map((c) => c.amount)).toEqual([1500, 1500]);
    expect(await eventTypes()).toEqual(
      expect.arrayContaining([
        "customer.subscription.created",
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_succeeded",
      ]),
    );
  });

  it("runs a trial: free first invoice, trial_will_end three days before, then the first charge", async () => {
    const price = await monthlyPrice(2000);
    const customer = await customerWith("pm_card_visa");
    const sub = await h.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id }],
      trial_period_days: 14,
    });
    expect(sub.status).toBe("trialing");
    expect(sub.trial_end! - sub.trial_start!).toBe(14 * DAY);
    const zero = await h.stripe.invoices.retrieve(sub.latest_invoice as string);
    expect(zero.amount_due).toBe(0);
    expect(zero.status).toBe("paid");
    await h.emu.control.advanceClock(11 * DAY);
    expect((await h.stripe.events.list({ type: "customer.subscription.trial_will_end" })).data).toHaveLength(
      1,
    );
    await h.emu.control.advanceClock(3 * DAY + 3600);
    const active = await h.stripe.subscriptions.retrieve(sub.id);
    expect(active.status).toBe("active");
    expect((await h.stripe.invoices.retrieve(active.latest_invoice as string)).amount_paid).toBe(2000);
  });

  it("retries a failing renewal, goes past_due, then cancels and marks the invoice uncollectible", async () => {
    const price = await monthlyPrice();
    const customer = await customerWith("pm_card_chargeCustomerFail");
    const sub = await h.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id }],
      trial_period_days: 7,
    });
    await h.emu.control.advanceClock(7 * DAY + 3600);
    expect((await h.stripe.subscriptions.retrieve(sub.id)).status).toBe("past_due");
    const invoice = await h.stripe.invoices.retrieve(
      (await h.stripe.subscriptions.retrieve(sub.id)).latest_invoice as string,
    );
    expect(invoice.status).toBe("open");
    expect(invoice.attempt_count).toBe(1);
    expect(invoice.next_payment_attempt).toBe(invoice.status_transitions.finalized_at! + 3 * DAY);
    await h.emu.control.advanceClock(3 * DAY + 5 * DAY);
    expect((await h.stripe.invoices.retrieve(invoice.id)).attempt_count).toBe(3);
    await h.emu.control.advanceClock(7 * DAY);
    const ended = await h.stripe.subscriptions.retrieve(sub.id);
    expect(ended.status).toBe("canceled");
    expect(ended.cancellation_details?.reason).toBe("payment_failed");
    expect((await h.stripe.invoices.retrieve(invoice.id)).status).toBe("uncollectible");
    const types = await eventTypes();
    expect(types.filter((t) => t === "invoice.payment_failed")).toHaveLength(4);
    expect(types).toContain("invoice.marked_uncollectible");
    expect(types.at(-1)).toBe("customer.subscription.deleted");
  });

  it("recovers a past_due subscription when the invoice is paid with another card", async () => {
    const price = await monthlyPrice();
    const customer = await customerWith("pm_card_chargeCustomerFail");
    const sub = await h.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id }],
      trial_period_days: 7,
    });
    await h.emu.control.advanceClock(7 * DAY + 3600);
    const invoiceId = (await h.stripe.subscriptions.retrieve(sub.id)).latest_invoice as string;
    const good = await h.stripe.paymentMethods.attach("pm_card_visa", { customer: customer.id });
    const paid = await h.stripe.invoices.pay(invoiceId, { payment_method: good.id });
    expect(paid.status).toBe("paid");
    expect((await h.stripe.subscriptions.retrieve(sub.id)).status).toBe("active");
  });

  it("cancelling a past_due subscription stops the automatic collection of its open invoice", async () => {
    // "By default, upon subscription cancellation, Stripe stops automatic collection of all
    // finalized invoices" (docs.stripe.com/api/subscriptions/cancel).
    const price = await monthlyPrice();
    const customer = await customerWith("pm_card_chargeCustomerFail");
    const sub = await h.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id }],
      trial_period_days: 7,
    });
    await h.emu.control.advanceClock(7 * DAY + 3600);
    const invoiceId = (await h.stripe.subscriptions.retrieve(sub.id)).latest_invoice as string;
    const open = await h.stripe.invoices.retrieve(invoiceId);
    expect(open.next_payment_attempt).not.toBeNull();
    expect(open.auto_advance).toBe(true);
    await h.stripe.subscriptions.cancel(sub.id);
    const stopped = await h.stripe.invoices.retrieve(invoiceId);
    expect(stopped.status).toBe("open");
    expect(stopped.auto_advance).toBe(false);
    expect(stopped.next_payment_attempt).toBeNull();
    await h.emu.control.advanceClock(30 * DAY);
    const later = await h.stripe.invoices.retrieve(invoiceId);
    expect(later.attempt_count).toBe(1);
    expect(later.status).toBe("open");
    // A payment by hand that fails brings back neither the retries nor the subscription.
    await expect(h.stripe.invoices.pay(invoiceId)).rejects.toMatchObject({ statusCode: 402 });
    const failed = await h.stripe.invoices.retrieve(invoiceId);
    expect(failed.next_payment_attempt).toBeNull();
    expect(failed.status).toBe("open");
    expect((await h.stripe.subscriptions.retrieve(sub.id)).status).toBe("canceled");
    await h.emu.control.advanceClock(30 * DAY);
    expect((await h.stripe.invoices.retrieve(invoiceId)).attempt_count).toBe(failed.attempt_count);
    // Still payable by hand.
    const good = await h.stripe.paymentMethods.attach("pm_card_visa", { customer: customer.id });
    expect((await h.stripe.invoices.pay(invoiceId, { payment_method: good.id })).status).toBe("paid");
  });

  it("cancelling during a renewal's draft hour charges nothing more: the draft is not finalized or attempted", async () => {
    // "Cancels a customer's subscription immediately. The customer won't be charged again for
    // the subscription" (docs.stripe.com/api/subscriptions/cancel).
    const price = await monthlyPrice();
    const customer = await customerWith("pm_card_visa");
    const sub = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }] });
    await h.emu.control.advanceClockTo(sub.items.data[0]!.current_period_end);
    const draft = (await h.stripe.invoices.list({ subscription: sub.id })).data[0]!;
    expect(draft).toMatchObject({
      status: "draft",
      billing_reason: "subscription_cycle",
      auto_advance: true,
    });
    await h.stripe.subscriptions.cancel(sub.id);
    await h.emu.control.advanceClock(2 * 3600);
    const after = await h.stripe.invoices.retrieve(draft.id);
    expect(after.status).toBe("draft");
    expect(after.auto_advance).toBe(false);
    expect(after.attempt_count).toBe(0);
    expect((await h.stripe.charges.list({ customer: customer.id })).data.map((c) => c.amount)).toEqual([
      1500,
    ]);
    const finalized = (await h.stripe.events.list({ type: "invoice.finalized", limit: 100 })).data;
    expect(finalized.map((e) => (e.data.object as Stripe.Invoice).id)).not.toContain(draft.id);
    // Still the merchant's to finalize by hand, as any draft whose auto_advance is off.
    expect((await h.stripe.invoices.finalizeInvoice(draft.id)).status).toBe("open");
  });

  it("cancels now, or at the period end", async () => {
    const price = await monthlyPrice();
    const customer = await customerWith("pm_card_visa");
    const now = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }] });
    const canceled = await h.stripe.subscriptions.cancel(now.id);
    expect(canceled.status).toBe("canceled");
    expect(canceled.ended_at).not.toBeNull();
    const later = await h.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id }],
    });
    await h.stripe.subscriptions.update(later.id, { cancel_at_period_end: true });
    await h.emu.control.advanceClockTo(later.items.data[0]!.current_period_end);
    expect((await h.stripe.subscriptions.retrieve(later.id)).status).toBe("canceled");
    expect((await h.stripe.subscriptions.list({ customer: customer.id })).data).toEqual([]);
    expect(
      (await h.stripe.subscriptions.list({ customer: customer.id, status: "canceled" })).data,
    ).toHaveLength(2);
  });

  it("default_incomplete waits for the client to confirm the first payment, and expires after 23 hours", async () => {
    const price = await monthlyPrice();
    const customer = await h.stripe.customers.create({});
    const sub = await h.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id }],
      payment_behavior: "default_incomplete",
      expand: ["latest_invoice.payments"],
    });
    expect(sub.status).toBe("incomplete");
    const invoice = sub.latest_invoice as Stripe.Invoice;
    const piId = invoice.payments!.data[0]!.payment.payment_intent as string;
    const pi = await h.stripe.paymentIntents.confirm(piId, { payment_method: "pm_card_visa" });
    expect(pi.status).toBe("succeeded");
    expect((await h.stripe.subscriptions.retrieve(sub.id)).status).toBe("active");
    // `payments` is includable: only there when asked for, and never in events.
    expect("payments" in (await h.stripe.invoices.retrieve(invoice.id))).toBe(false);
    const withPayments = await h.stripe.invoices.retrieve(invoice.id, { expand: ["payments"] });
    expect(withPayments.payments?.data[0]?.payment.payment_intent).toBe(piId);
    const listed = await h.stripe.invoices.list({ customer: customer.id, expand: ["data.payments"] });
    expect(listed.data.every((i) => i.payments !== undefined)).toBe(true);
    expect((await h.stripe.invoices.list({ customer: customer.id })).data.some((i) => "payments" in i)).toBe(
      false,
    );
    const expandedSub = await h.stripe.subscriptions.retrieve(sub.id, { expand: ["latest_invoice"] });
    expect("payments" in (expandedSub.latest_invoice as Stripe.Invoice)).toBe(false);
    const paid = await h.stripe.events.list({ type: "invoice.paid" });
    expect(paid.data.length).toBeGreaterThan(0);
    expect(paid.data.some((e) => "payments" in e.data.object)).toBe(false);

    const abandoned = await h.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id }],
      payment_behavior: "default_incomplete",
    });
    await h.emu.control.advanceClock(23 * 3600);
    expect((await h.stripe.subscriptions.retrieve(abandoned.id)).status).toBe("incomplete_expired");
    expect((await h.stripe.invoices.retrieve(abandoned.latest_invoice as string)).status).toBe("void");
  });

  it("a first invoice on a BECS account whose mandate is inactive fails its payment: incomplete, no error", async () => {
    const price = await monthlyPrice();
    const customer = await h.stripe.customers.create({ email: "becs@group.test" });
    const si = await h.stripe.setupIntents.create({
      customer: customer.id,
      payment_method_types: ["au_becs_debit"],
      payment_method_data: becs("000123456") as Stripe.SetupIntentCreateParams.PaymentMethodData,
      mandate_data: MANDATE_DATA,
      confirm: true,
    });
    await h.emu.control.revokeMandate(si.mandate as string);
    const sub = await h.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id }],
      default_payment_method: si.payment_method as string,
      payment_behavior: "allow_incomplete",
      expand: ["latest_invoice.payments"],
    });
    expect(sub.status).toBe("incomplete");
    const invoice = sub.latest_invoice as Stripe.Invoice;
    expect(invoice.status).toBe("open");
    const pi = await h.stripe.paymentIntents.retrieve(
      invoice.payments?.data[0]?.payment.payment_intent as string,
    );
    expect(pi.last_payment_error?.code).toBe("payment_intent_mandate_invalid");
    expect(await eventTypes()).toContain("invoice.payment_failed");
  });

  it("refuses a customer without a payment method and a one-time price", async () => {
    const price = await monthlyPrice();
    const customer = await h.stripe.customers.create({});
    const noPm = await failure(
      h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }] }),
    );
    expect(noPm.statusCode).toBe(400);
    const oneTime = await h.stripe.prices.create({
      currency: "aud",
      unit_amount: 100,
      product_data: { name: "x" },
    });
    const error = await failure(
      h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: oneTime.id }] }),
    );
    expect(error.param).toBe("items[0][price]");
  });

  it("refuses another customer's payment method as the default, on create and on update", async () => {
    const price = await monthlyPrice();
    const ana = await customerWith("pm_card_visa");
    const ben = await customerWith("pm_card_visa");
    const bensCard = String(ben.invoice_settings.default_payment_method);
    const created = await failure(
      h.stripe.subscriptions.create({
        customer: ana.id,
        items: [{ price: price.id }],
        default_payment_method: bensCard,
      }),
    );
    expect(created).toMatchObject({ statusCode: 400, param: "default_payment_method" });
    const sub = await h.stripe.subscriptions.create({ customer: ana.id, items: [{ price: price.id }] });
    const updated = await failure(
      h.stripe.subscriptions.update(sub.id, { default_payment_method: bensCard }),
    );
    expect(updated).toMatchObject({ statusCode: 400, param: "default_payment_method" });
    expect((await h.stripe.subscriptions.retrieve(sub.id)).default_payment_method).toBeNull();
    // Its own card is taken.
    const anasCard = String(ana.invoice_settings.default_payment_method);
    expect(
      (await h.stripe.subscriptions.update(sub.id, { default_payment_method: anasCard }))
        .default_payment_method,
    ).toBe(anasCard);
  });
});

describe("test clocks", () => {
  it("moves only the billing objects attached to it", async () => {
    const start = await h.emu.control.now();
    const clock = await h.stripe.testHelpers.testClocks.create({ frozen_time: start, name: "round" });
    expect(clock.status).toBe("ready");
    const price = await monthlyPrice();
    const customer = await customerWith("pm_card_visa", clock.id);
    expect(customer.test_clock).toBe(clock.id);
    const sub = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }] });
    expect(sub.test_clock).toBe(clock.id);
    await h.emu.control.advanceClock(40 * DAY);
    expect((await h.stripe.invoices.list({ subscription: sub.id })).data).toHaveLength(1);

    const target = start + 31 * DAY + 7200;
    const advancing = await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: target });
    expect(advancing.status).toBe("advancing");
    await expect
      .poll(async () => (await h.stripe.testHelpers.testClocks.retrieve(clock.id)).status)
      .toBe("ready");
    expect((await h.stripe.testHelpers.testClocks.retrieve(clock.id)).frozen_time).toBe(target);
    const invoices = (await h.stripe.invoices.list({ subscription: sub.id })).data;
    expect(invoices.map((i) => i.status)).toEqual(["paid", "paid"]);
    expect(invoices[0]!.created).toBe(start + 28 * DAY);
    const back = await failure(h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: start }));
    expect(back.param).toBe("frozen_time");
    expect((await h.stripe.testHelpers.testClocks.del(clock.id)).deleted).toBe(true);
  });
});

describe("price changes with prorations", () => {
  // Created at the start time (Jan 31 12:00): the period ends Feb 28 12:00, 28 days = 2,419,200 s.
  // Changed 10 days, 3 hours and 7 seconds in: 1,544,393 s are left.
  const CHANGE_AFTER = 10 * DAY + 3 * 3600 + 7;

  async function subscribedAt(amount: number) {
    const from = await monthlyPrice(amount);
    const customer = await customerWith("pm_card_visa");
    const sub = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: from.id }] });
    return { customer, sub, item: sub.items.data[0]! };
  }

  it("refuses a change to an archived (inactive) price: 400, the item, its price and the invoices unchanged, no event", async () => {
    // Stripe: a price's `active` says "whether the price can be used for new purchases"; an
    // inactive one is refused ("The price specified is inactive. This field only accepts active prices.").
    const { sub, item } = await subscribedAt(1500);
    const to = await monthlyPrice(4000);
    await h.stripe.prices.update(to.id, { active: false });
    const before = (await h.stripe.events.list({ limit: 100 })).data.length;
    const refused = await h.stripe.subscriptions
      .update(sub.id, { items: [{ id: item.id, price: to.id }], proration_behavior: "always_invoice" })
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({
      statusCode: 400,
      type: "StripeInvalidRequestError",
      param: "items[0][price]",
      message: "The price specified is inactive. This field only accepts active prices.",
    });
    const after = await h.stripe.subscriptions.retrieve(sub.id);
    expect(after.items.data[0]!.price.id).toBe(item.price.id);
    expect((await h.stripe.invoices.list({ subscription: sub.id })).data).toHaveLength(1);
    expect((await h.stripe.events.list({ limit: 100 })).data.length).toBe(before);
  });

  it("always_invoice upgrades at once: credit for the unused time, charge for the rest, paid on one invoice", async () => {
    const { customer, sub, item } = await subscribedAt(1500);
    const to = await monthlyPrice(4000);
    await h.emu.control.advanceClock(CHANGE_AFTER + 60);
    const updated = await h.stripe.subscriptions.update(sub.id, {
      items: [{ id: item.id, price: to.id }],
      proration_behavior: "always_invoice",
      proration_date: sub.created + CHANGE_AFTER,
      expand: ["latest_invoice"],
    });
    expect(updated.items.data[0]!.price.id).toBe(to.id);
    expect(updated.items.data[0]!.current_period_end).toBe(item.current_period_end);
    const invoice = updated.latest_invoice as Stripe.Invoice;
    expect(invoice.billing_reason).toBe("subscription_update");
    // 1500 × 1544393 / 2419200 = 957.58 → 958; 4000 × 1544393 / 2419200 = 2553.56 → 2554.
    expect(invoice.lines.data.map((l) => l.amount)).toEqual([-958, 2554]);
    expect(invoice.lines.data.every((l) => l.parent?.subscription_item_details?.proration)).toBe(true);
    expect(invoice.lines.data[0]!.period).toEqual({
      start: sub.created + CHANGE_AFTER,
      end: item.current_period_end,
    });
    expect(invoice.lines.data[0]!.description).toMatch(/^Unused time on 1 × monthly after 10 Feb 2026$/);
    expect(invoice).toMatchObject({ status: "paid", total: 1596, amount_due: 1596, amount_paid: 1596 });
    const charges = await h.stripe.charges.list({ customer: customer.id });
    expect(charges.data.map((c) => c.amount).sort()).toEqual([1500, 1596]);

    const events = (await h.stripe.events.list({ limit: 100 })).data.reverse();
    const previousOf = (e: Stripe.Event) =>
      e.data.previous_attributes as { items?: Stripe.ApiList<Stripe.SubscriptionItem> } | undefined;
    const change = events.find((e) => e.type === "customer.subscription.updated" && previousOf(e)?.items);
    const previousItems = previousOf(change!)!.items!;
    expect(previousItems.data[0]!.price.unit_amount).toBe(1500);
    const invoiceEvents = events.filter((e) => (e.data.object as { id: string }).id === invoice.id);
    expect(invoiceEvents.map((e) => e.type)).toEqual([
      "invoice.created",
      "invoice.finalized",
      "invoice.paid",
      "invoice.payment_succeeded",
    ]);

    // The next renewal charges the new price in full, once.
    await h.emu.control.advanceClockTo(item.current_period_end + 3600);
    const renewal = (await h.stripe.invoices.list({ subscription: sub.id, limit: 1 })).data[0]!;
    expect(renewal).toMatchObject({
      billing_reason: "subscription_cycle",
      status: "paid",
      amount_paid: 4000,
    });
  });

  it("always_invoice downgrades into a credit balance that pays the next invoices", async () => {
    const { customer, sub, item } = await subscribedAt(4000);
    const to = await monthlyPrice(1500);
    await h.emu.control.advanceClock(CHANGE_AFTER);
    const updated = await h.stripe.subscriptions.update(sub.id, {
      items: [{ id: item.id, price: to.id }],
      proration_behavior: "always_invoice",
      expand: ["latest_invoice"],
    });
    const invoice = updated.latest_invoice as Stripe.Invoice;
    expect(invoice.lines.data.map((l) => l.amount)).toEqual([-2554, 958]);
    expect(invoice).toMatchObject({
      status: "paid",
      total: -1596,
      amount_due: 0,
      amount_paid: 0,
      starting_balance: 0,
      ending_balance: -1596,
    });
    expect((await h.stripe.customers.retrieve(customer.id)) as Stripe.Customer).toMatchObject({
      balance: -1596,
    });
    expect((await h.stripe.charges.list({ customer: customer.id })).data).toHaveLength(1);

    await h.emu.control.advanceClockTo(item.current_period_end + 3600);
    const renewal = (await h.stripe.invoices.list({ subscription: sub.id, limit: 1 })).data[0]!;
    expect(renewal).toMatchObject({
      total: 1500,
      amount_due: 0,
      status: "paid",
      starting_balance: -1596,
      ending_balance: -96,
    });
    const after = (await h.stripe.subscriptions.retrieve(sub.id)).items.data[0]!;
    await h.emu.control.advanceClockTo(after.current_period_end + 3600);
    const third = (await h.stripe.invoices.list({ subscription: sub.id, limit: 1 })).data[0]!;
    expect(third).toMatchObject({ total: 1500, amount_due: 1404, amount_paid: 1404, ending_balance: 0 });
    expect((await h.stripe.charges.list({ customer: customer.id })).data.map((c) => c.amount)).toEqual([
      1404, 4000,
    ]);
  });

  it("create_prorations leaves the prorations for the next invoice; none leaves them out", async () => {
    const prorated = await subscribedAt(1500);
    const plain = await subscribedAt(1500);
    const to = await monthlyPrice(4000);
    await h.emu.control.advanceClock(CHANGE_AFTER);
    const before = (await h.stripe.invoices.list({ limit: 100 })).data.length;
    await h.stripe.subscriptions.update(prorated.sub.id, {
      items: [{ id: prorated.item.id, price: to.id }],
      proration_behavior: "create_prorations",
    });
    await h.stripe.subscriptions.update(plain.sub.id, {
      items: [{ id: plain.item.id, price: to.id }],
      proration_behavior: "none",
    });
    expect((await h.stripe.invoices.list({ limit: 100 })).data).toHaveLength(before);

    await h.emu.control.advanceClockTo(prorated.item.current_period_end + 3600);
    const next = (await h.stripe.invoices.list({ subscription: prorated.sub.id, limit: 1 })).data[0]!;
    expect(next.lines.data.map((l) => l.amount)).toEqual([-958, 2554, 4000]);
    expect(next).toMatchObject({ billing_reason: "subscription_cycle", amount_paid: 5596 });
    const plainNext = (await h.stripe.invoices.list({ subscription: plain.sub.id, limit: 1 })).data[0]!;
    expect(plainNext.lines.data.map((l) => l.amount)).toEqual([4000]);
  });

  it("a price of another interval restarts the billing cycle now and invoices the new period at once", async () => {
    const { customer, sub, item } = await subscribedAt(1500);
    const yearly = await h.stripe.prices.create({
      currency: "aud",
      unit_amount: 15000,
      recurring: { interval: "year" },
      product_data: { name: "susu platform" },
      nickname: "yearly",
    });
    await h.emu.control.advanceClock(CHANGE_AFTER);
    const at = sub.created + CHANGE_AFTER;
    const updated = await h.stripe.subscriptions.update(sub.id, {
      items: [{ id: item.id, price: yearly.id }],
      proration_behavior: "create_prorations",
      expand: ["latest_invoice"],
    });
    expect(updated.billing_cycle_anchor).toBe(at);
    const period = updated.items.data[0]!;
    expect([period.current_period_start, new Date(period.current_period_end * 1000).toISOString()]).toEqual([
      at,
      "2027-02-10T15:00:07.000Z",
    ]);
    const invoice = updated.latest_invoice as Stripe.Invoice;
    expect(invoice.lines.data.map((l) => l.amount)).toEqual([-958, 15000]);
    expect(invoice).toMatchObject({
      billing_reason: "subscription_update",
      status: "paid",
      amount_paid: 14042,
    });
    // The old monthly renewal is gone: nothing more is charged until the year is over.
    await h.emu.control.advanceClockTo(item.current_period_end + 3600);
    expect((await h.stripe.charges.list({ customer: customer.id })).data.map((c) => c.amount)).toEqual([
      14042, 1500,
    ]);
  });

  it("refuses an item of another subscription, a price in another currency and a proration_date outside the period", async () => {
    const { sub, item } = await subscribedAt(1500);
    const to = await monthlyPrice(4000);
    const usd = await h.stripe.prices.create({
      currency: "usd",
      unit_amount: 100,
      recurring: { interval: "month" },
      product_data: { name: "usd" },
    });
    expect(
      await failure(h.stripe.subscriptions.update(sub.id, { items: [{ id: "si_other", price: to.id }] })),
    ).toMatchObject({ statusCode: 400, param: "items[0][id]" });
    expect(
      await failure(h.stripe.subscriptions.update(sub.id, { items: [{ id: item.id, price: usd.id }] })),
    ).toMatchObject({ statusCode: 400, param: "items[0][price]" });
    expect(
      await failure(
        h.stripe.subscriptions.update(sub.id, {
          items: [{ id: item.id, price: to.id }],
          proration_date: sub.created - 1,
        }),
      ),
    ).toMatchObject({ statusCode: 400, param: "proration_date" });
    const unchanged = await h.stripe.subscriptions.retrieve(sub.id);
    expect(unchanged.items.data[0]!.price.id).toBe(item.price.id);
  });
});

describe("invoice payments that need 3-D Secure", () => {
  it("a renewal waits in requires_action, sends invoice.payment_action_required, and is paid once authenticated", async () => {
    const price = await monthlyPrice();
    const customer = await customerWith("pm_card_visa");
    const sub = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }] });
    const threeDs = await h.stripe.paymentMethods.attach("pm_card_authenticationRequired", {
      customer: customer.id,
    });
    await h.stripe.customers.update(customer.id, {
      invoice_settings: { default_payment_method: threeDs.id },
    });
    await h.emu.control.advanceClockTo(sub.items.data[0]!.current_period_end + 3600);

    const listed = (await h.stripe.invoices.list({ subscription: sub.id, limit: 1 })).data[0]!;
    const renewal = await h.stripe.invoices.retrieve(listed.id, { expand: ["payments"] });
    expect(renewal).toMatchObject({ status: "open", attempted: true, next_payment_attempt: null });
    const piId = renewal.payments?.data[0]?.payment.payment_intent as string;
    const pi = await h.stripe.paymentIntents.retrieve(piId);
    expect(pi.status).toBe("requires_action");
    expect(pi.next_action?.type).toBe("use_stripe_sdk");
    expect((await h.stripe.subscriptions.retrieve(sub.id)).status).toBe("past_due");
    const types = await eventTypes();
    expect(types).toContain("invoice.payment_action_required");
    expect(types).toContain("payment_intent.requires_action");
    expect(types).not.toContain("invoice.payment_failed");
    // Days pass: no automatic retry declines it meanwhile.
    await h.emu.control.advanceClock(5 * DAY);
    expect((await h.stripe.paymentIntents.retrieve(piId)).status).toBe("requires_action");

    await h.emu.control.authenticatePaymentIntent(piId, true);
    expect(await h.stripe.invoices.retrieve(renewal.id)).toMatchObject({ status: "paid", amount_paid: 1500 });
    expect((await h.stripe.subscriptions.retrieve(sub.id)).status).toBe("active");
    const after = await eventTypes();
    expect(after.filter((t) => t === "invoice.paid")).toHaveLength(2);
    expect(after.filter((t) => t === "invoice.payment_action_required")).toHaveLength(1);
  });

  it("a first invoice that needs authentication leaves the subscription incomplete until it is", async () => {
    const price = await monthlyPrice();
    const customer = await customerWith("pm_card_authenticationRequired");
    const sub = await h.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id }],
      expand: ["latest_invoice.payments"],
    });
    expect(sub.status).toBe("incomplete");
    const invoice = sub.latest_invoice as Stripe.Invoice;
    expect(invoice.status).toBe("open");
    const piId = invoice.payments?.data[0]?.payment.payment_intent as string;
    expect((await h.stripe.paymentIntents.retrieve(piId)).status).toBe("requires_action");
    expect(await eventTypes()).toContain("invoice.payment_action_required");
    await h.emu.control.authenticatePaymentIntent(piId, true);
    expect((await h.stripe.subscriptions.retrieve(sub.id)).status).toBe("active");
  });
});

describe("voiding and writing off invoices", () => {
  /** A renewal declined by the customer's card: an open invoice whose PaymentIntent waits for a new method. */
  async function declinedRenewal(): Promise<{
    sub: Stripe.Subscription;
    invoice: Stripe.Invoice;
    piId: string;
  }> {
    const price = await monthlyPrice();
    const customer = await customerWith("pm_card_chargeCustomerFail");
    const sub = await h.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id }],
      trial_period_days: 7,
    });
    await h.emu.control.advanceClock(7 * DAY + 3600);
    const invoiceId = (await h.stripe.subscriptions.retrieve(sub.id)).latest_invoice as string;
    const invoice = await h.stripe.invoices.retrieve(invoiceId, { expand: ["payments"] });
    expect(invoice.status).toBe("open");
    const piId = invoice.payments?.data[0]?.payment.payment_intent as string;
    expect((await h.stripe.paymentIntents.retrieve(piId)).status).toBe("requires_payment_method");
    return { sub, invoice, piId };
  }

  /** A customer whose default payment method is a BECS account with an active mandate. */
  async function becsCustomer(accountNumber = "000123456"): Promise<Stripe.Customer> {
    const customer = await h.stripe.customers.create({ email: "becs@group.test" });
    const si = await h.stripe.setupIntents.create({
      customer: customer.id,
      payment_method_types: ["au_becs_debit"],
      payment_method_data: becs(accountNumber) as Stripe.SetupIntentCreateParams.PaymentMethodData,
      mandate_data: MANDATE_DATA,
      confirm: true,
    });
    return h.stripe.customers.update(customer.id, {
      invoice_settings: { default_payment_method: si.payment_method as string },
    });
  }

  it("voiding an open invoice cancels its PaymentIntent (void_invoice) and its invoice payment", async () => {
    const { invoice, piId } = await declinedRenewal();
    const voided = await h.stripe.invoices.voidInvoice(invoice.id);
    expect(voided.status).toBe("void");
    const pi = await h.stripe.paymentIntents.retrieve(piId);
    expect(pi).toMatchObject({ status: "canceled", cancellation_reason: "void_invoice" });
    expect(pi.canceled_at).toBe(voided.status_transitions.voided_at);
    const payment = (await h.stripe.invoices.retrieve(invoice.id, { expand: ["payments"] })).payments
      ?.data[0];
    expect(payment?.status).toBe("canceled");
    expect(payment?.status_transitions.canceled_at).toBe(voided.status_transitions.voided_at);
    const types = await eventTypes();
    expect(types.slice(-2)).toEqual(["payment_intent.canceled", "invoice.voided"]);
    // The retry that was scheduled does not charge the void invoice.
    await h.emu.control.advanceClock(20 * DAY);
    expect((await h.stripe.paymentIntents.retrieve(piId)).status).toBe("canceled");
    expect((await h.stripe.invoices.retrieve(invoice.id)).status).toBe("void");
  });

  it("an incomplete subscription that expires voids its first invoice and cancels its PaymentIntent", async () => {
    const price = await monthlyPrice();
    const customer = await h.stripe.customers.create({});
    const sub = await h.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id }],
      payment_behavior: "default_incomplete",
      expand: ["latest_invoice.payments"],
    });
    const invoice = sub.latest_invoice as Stripe.Invoice;
    const piId = invoice.payments!.data[0]!.payment.payment_intent as string;
    await h.emu.control.advanceClock(23 * 3600);
    expect((await h.stripe.invoices.retrieve(invoice.id)).status).toBe("void");
    expect(await h.stripe.paymentIntents.retrieve(piId)).toMatchObject({
      status: "canceled",
      cancellation_reason: "void_invoice",
    });
  });

  it("refuses to void an invoice whose BECS debit is processing; the debit then pays it", async () => {
    const price = await monthlyPrice();
    const customer = await becsCustomer();
    const sub = await h.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id }],
      expand: ["latest_invoice.payments"],
    });
    const invoice = sub.latest_invoice as Stripe.Invoice;
    const piId = invoice.payments!.data[0]!.payment.payment_intent as string;
    expect((await h.stripe.paymentIntents.retrieve(piId)).status).toBe("processing");
    const refused = await failure(h.stripe.invoices.voidInvoice(invoice.id));
    expect(refused.statusCode).toBe(400);
    expect(refused.type).toBe("StripeInvalidRequestError");
    expect((await h.stripe.invoices.retrieve(invoice.id)).status).toBe("open");
    expect(await eventTypes()).not.toContain("invoice.voided");

    await h.emu.control.advanceClock(3 * DAY + 60);
    expect(await h.stripe.invoices.retrieve(invoice.id)).toMatchObject({ status: "paid", amount_paid: 1500 });
    expect((await h.stripe.paymentIntents.retrieve(piId)).status).toBe("succeeded");
  });

  it("a failed BECS debit leaves the invoice open, and it can be voided then", async () => {
    const price = await monthlyPrice();
    const customer = await becsCustomer("222222227");
    const sub = await h.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id }],
      expand: ["latest_invoice.payments"],
    });
    const invoice = sub.latest_invoice as Stripe.Invoice;
    const piId = invoice.payments!.data[0]!.payment.payment_intent as string;
    expect((await failure(h.stripe.invoices.voidInvoice(invoice.id))).statusCode).toBe(400);
    await h.emu.control.advanceClock(3 * DAY + 60);
    expect((await h.stripe.paymentIntents.retrieve(piId)).status).toBe("requires_payment_method");
    expect((await h.stripe.invoices.voidInvoice(invoice.id)).status).toBe("void");
    expect(await h.stripe.paymentIntents.retrieve(piId)).toMatchObject({
      status: "canceled",
      cancellation_reason: "void_invoice",
    });
  });

  it("an uncollectible invoice can be paid: paid with a good card, still uncollectible after a decline", async () => {
    const { sub, invoice } = await declinedRenewal();
    const written = await h.stripe.invoices.markUncollectible(invoice.id);
    expect(written.status).toBe("uncollectible");

    const declined = await failure(
      h.stripe.invoices.pay(invoice.id, { payment_method: "pm_card_chargeDeclined" }),
    );
    expect(declined.statusCode).toBe(402);
    const after = await h.stripe.invoices.retrieve(invoice.id);
    expect(after).toMatchObject({ status: "uncollectible", next_payment_attempt: null });
    expect((await eventTypes()).at(-1)).toBe("invoice.payment_failed");

    const customerId = invoice.customer as string;
    const good = await h.stripe.paymentMethods.attach("pm_card_visa", { customer: customerId });
    const paid = await h.stripe.invoices.pay(invoice.id, { payment_method: good.id });
    expect(paid).toMatchObject({ status: "paid", amount_paid: 1500, amount_remaining: 0 });
    expect(paid.status_transitions.marked_uncollectible_at).not.toBeNull();
    expect(await eventTypes()).toEqual(expect.arrayContaining(["invoice.paid", "invoice.payment_succeeded"]));
    expect((await h.stripe.subscriptions.retrieve(sub.id)).status).toBe("active");
  });

  it("an uncollectible invoice can be voided, which cancels its PaymentIntent", async () => {
    const { invoice, piId } = await declinedRenewal();
    await h.stripe.invoices.markUncollectible(invoice.id);
    expect((await h.stripe.invoices.voidInvoice(invoice.id)).status).toBe("void");
    expect((await h.stripe.paymentIntents.retrieve(piId)).cancellation_reason).toBe("void_invoice");
    expect((await failure(h.stripe.invoices.pay(invoice.id))).statusCode).toBe(400);
  });
});
