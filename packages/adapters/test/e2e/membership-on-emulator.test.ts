// Memberships on the real adapters — PostgreSQL (PrismaStore, PrismaLedgerStore), Stripe
// Billing through the official SDK (StripeBillingGateway), the emulator — driven as
// production drives them: the use cases store plans and subscriptions with their effects,
// the outbox dispatcher calls Stripe, the emulator's clock runs trials, renewals and
// retries, and its events go through the webhook processor.
import {
  type EffectPorts,
  invoiceRevenueLeftMinor,
  membershipAccounts,
  type Plan,
  type Subscription,
  type SubscriptionInvoice,
  type UseCaseDeps,
  useCases,
} from "@susu/domain";
import { ManualClock, RecordingNotifier, RecordingSupportDesk } from "@susu/domain/testing";
import type Stripe from "stripe";
import { beforeAll, describe, expect, it } from "vitest";
import type { PrismaLedgerStore, PrismaStore } from "../../src/prisma/index.js";
import { processWebhookEvent, type WebhookContext } from "../../src/webhooks/index.js";
import type { StripeHarness } from "../stripe/emulator-harness.js";
import { useTestDatabase } from "../support/index.js";
import { useMembershipStack } from "./membership-stack.js";

const db = useTestDatabase();
const START = Date.UTC(2026, 6, 1);
const DAY = 86_400;
const ADMIN = { operator: "olga" };

describe("memberships on PostgreSQL and the emulator", () => {
  const clock = new ManualClock(START);
  const notifier = new RecordingNotifier();
  const desk = new RecordingSupportDesk();
  const outcomes: string[] = [];
  /** Every event delivered, in order (a test may deliver some again). */
  const delivered: Stripe.Event[] = [];
  const stack = useMembershipStack(db, {
    clock,
    notifier,
    desk,
    plan: {
      name: "Organiser",
      entitlements: { createGroups: true, maxOpenGroups: 10, sellBookings: true },
      trialDays: 14,
      prices: [
        { currency: "AUD", interval: "month", amountMinor: 15_00 },
        { currency: "AUD", interval: "year", amountMinor: 150_00 },
      ],
    },
    onDelivered: (event) => delivered.push(event),
    onOutcome: (event, o) =>
      outcomes.push(
        `${event.type} ${o.status === "processed" ? `processed: ${o.outcome}` : `ignored: ${o.reason}`}`,
      ),
  });
  const { settle, advanceDays, advanceSeconds, aPerson, subscribed, subscribeThroughCheckout, current } =
    stack;
  let harness: StripeHarness;
  let store: PrismaStore;
  let ledger: PrismaLedgerStore;
  let deps: UseCaseDeps;
  let ports: EffectPorts;
  let ctx: WebhookContext;
  let plan: Plan;
  beforeAll(() => {
    ({ harness, store, ledger, deps, ports, ctx, plan } = stack);
  });

  const notices = (s: Subscription, template: string) =>
    notifier.sent.filter((n) => n.aggregateId === s.id && n.template === template);

  /** What the person paid in (the source account's credit balance). */
  const paidIn = async (s: Subscription) => {
    const balance = (await ledger.balance(membershipAccounts.paidIn(s.id), "AUD"))._unsafeUnwrap()
      .amountMinor;
    return balance === 0 ? 0 : -balance;
  };

  it("creates the plan's product and prices at Stripe, keyed by the plan", async () => {
    expect(plan.prices.every((p) => p.stripePriceId?.startsWith("price_"))).toBe(true);
    const product = await harness.stripe.products.retrieve(`susu_plan_${plan.id}`);
    expect(product.name).toBe("Organiser");
    const prices = await harness.stripe.prices.list({ product: product.id });
    expect(prices.data.map((p) => [p.unit_amount, p.recurring?.interval]).sort()).toEqual([
      [1500, "month"],
      [15000, "year"],
    ]);
  });

  it("trial, trial ending notice, renewal paid, a failed renewal with dunning, recovery", async () => {
    const { paymentMethodId } = await aPerson("ana", "pm_card_visa");
    let s = await subscribed("ana", paymentMethodId);
    expect(s.status).toBe("trialing");
    expect(s.stripeSubscriptionId).toMatch(/^sub_/);

    await advanceDays(12); // Stripe tells three days before the trial ends
    expect(notices(s, "membership_trial_ending")).toHaveLength(1);

    await advanceDays(3); // the trial ends: the first invoice is paid
    s = await current(s.id);
    expect(s.status).toBe("active");
    expect(await paidIn(s)).toBe(15_00);

    // The card starts failing before the next renewal.
    const stripeSub = s.stripeSubscriptionId as string;
    const failing = await harness.stripe.paymentMethods.attach("pm_card_chargeCustomerFail", {
      customer: s.stripeCustomerId,
    });
    // Made the person's default card through susu: the membership is charged on it.
    await settle();
    (await useCases.setDefaultPaymentMethod(deps, s.personId, failing.id, s.personId))._unsafeUnwrap();
    await settle();
    await advanceDays(31);
    s = await current(s.id);
    expect(s.status).toBe("past_due");
    const failed = notices(s, "membership_payment_failed");
    expect(failed).toHaveLength(1);
    expect(failed[0]?.data).toMatchObject({ attempt: 1, lastAttempt: "no" });
    expect(String(failed[0]?.data.hostedInvoiceUrl)).toMatch(/\/_emulator\/invoices\/in_/);
    // The deadline is Stripe's next retry of the failed invoice.
    const openInvoice = (await harness.stripe.invoices.list({ subscription: stripeSub, status: "open" }))
      .data[0];
    expect(openInvoice?.next_payment_attempt).toEqual(expect.any(Number));
    expect(failed[0]?.data.deadline).toBe(
      new Date((openInvoice?.next_payment_attempt ?? 0) * 1000).toISOString(),
    );

    // The person fixes their card; Stripe's next retry succeeds.
    const fixed = await harness.stripe.paymentMethods.attach("pm_card_visa", {
      customer: s.stripeCustomerId,
    });
    await settle();
    (await useCases.setDefaultPaymentMethod(deps, s.personId, fixed.id, s.personId))._unsafeUnwrap();
    await settle();
    expect((await harness.stripe.subscriptions.retrieve(stripeSub)).default_payment_method).toBe(fixed.id);
    await advanceDays(3);
    s = await current(s.id);
    expect(s.status).toBe("active");
    expect(await paidIn(s)).toBe(30_00);
    expect(notices(s, "membership_lapsed")).toHaveLength(0);
    expect((await ledger.checkLedger())._unsafeUnwrap().agrees).toBe(true);
  });

  it("lapses after the last failed retry, and tells the person at each step", async () => {
    const { paymentMethodId } = await aPerson("ben", "pm_card_chargeCustomerFail");
    let s = await subscribed("ben", paymentMethodId);
    expect(s.status).toBe("trialing");
    await advanceDays(15); // the trial ends; the first invoice is charged an hour later, and fails
    s = await current(s.id);
    expect(s.status).toBe("past_due");
    await advanceDays(3 + 5 + 7); // Stripe's retries, all failing
    s = await current(s.id);
    expect(s.status).toBe("lapsed");
    expect(notices(s, "membership_payment_failed").map((n) => n.data.attempt)).toEqual([1, 2, 3, 4]);
    // Stripe sends the last failure, then cancels the subscription for non-payment: the lapse
    // is told with the invoice to pay, then, once the cancel is heard and susu voids that
    // invoice, told again as the end it is (nothing to pay), once.
    expect(notices(s, "membership_lapsed").map((n) => [n.id, n.data.ended])).toEqual([
      [`${s.id}:notify:membership_lapsed:1`, undefined],
      [`${s.id}:notify:membership_lapsed:1:ended`, "yes"],
    ]);
    const lastInvoice = (
      await harness.stripe.invoices.list({ subscription: s.stripeSubscriptionId as string })
    ).data.find((i) => i.amount_due > 0);
    expect(lastInvoice?.status).toBe("void");
    expect(await paidIn(s)).toBe(0);
    const entitled = (
      await useCases.entitlementsOfPerson(
        { ...deps, defaultEntitlements: { createGroups: false, maxOpenGroups: 0, sellBookings: false } },
        "ben",
      )
    )._unsafeUnwrap();
    expect(entitled.createGroups).toBe(false);
    // A lapsed membership cannot be changed; a new one can be started.
    expect((await useCases.cancelSubscription(deps, s.id, true, "ben"))._unsafeUnwrapErr().code).toBe(
      "subscription_ended",
    );
  });

  it("cancels at period end, then resumes, at Stripe", async () => {
    const { paymentMethodId } = await aPerson("cy", "pm_card_visa");
    let s = await subscribed("cy", paymentMethodId);
    (await useCases.cancelSubscription(deps, s.id, true, "cy"))._unsafeUnwrap();
    await settle();
    const stripeSub = s.stripeSubscriptionId as string;
    expect((await harness.stripe.subscriptions.retrieve(stripeSub)).cancel_at_period_end).toBe(true);
    s = await current(s.id);
    expect(s).toMatchObject({ status: "trialing", cancelAtPeriodEnd: true });
    (await useCases.resumeSubscription(deps, s.id, "cy"))._unsafeUnwrap();
    await settle();
    expect((await harness.stripe.subscriptions.retrieve(stripeSub)).cancel_at_period_end).toBe(false);
    s = await current(s.id);
    expect(s.cancelAtPeriodEnd).toBe(false);
    // Cancelled now: Stripe's deletion ends it.
    (await useCases.cancelSubscription(deps, s.id, false, "cy"))._unsafeUnwrap();
    await settle();
    expect((await current(s.id)).status).toBe("canceled");
  });

  it("through Checkout: the page, then the subscription it starts, found by its metadata", async () => {
    const created = await subscribeThroughCheckout("dee", plan.id);
    await settle();
    let s = await current(created.id);
    const start = s.start;
    if (start.kind !== "checkout" || start.sessionId === undefined)
      throw new Error("no checkout page recorded");
    expect(start.url).toMatch(/\/_emulator\/checkout\/sessions\/cs_/);
    await harness.emulator.control.completeCheckoutSession(start.sessionId, {
      paymentMethod: "pm_card_visa",
    });
    await settle();
    s = await current(created.id);
    expect(s.status).toBe("trialing");
    expect(s.stripeSubscriptionId).toMatch(/^sub_/);
  });

  it("an upgrade mid-period: Stripe's prorated invoice is paid once and its exact amount booked once", async () => {
    const pro = (
      await useCases.createPlan(
        deps,
        {
          name: "Pro",
          entitlements: { createGroups: true, maxOpenGroups: 50, sellBookings: true },
          trialDays: 14,
          prices: [{ currency: "AUD", interval: "month", amountMinor: 40_00 }],
        },
        ADMIN,
      )
    )._unsafeUnwrap();
    await settle();
    const { paymentMethodId } = await aPerson("eve", "pm_card_visa");
    let s = await subscribed("eve", paymentMethodId);
    await advanceDays(15); // the trial ends: the first month (15.00) is paid
    s = await current(s.id);
    expect(s.status).toBe("active");
    expect(await paidIn(s)).toBe(15_00);
    const stripeSub = s.stripeSubscriptionId as string;
    const period = (await harness.stripe.subscriptions.retrieve(stripeSub)).items.data[0]!;

    await advanceDays(10);
    (await useCases.changeSubscriptionPlan(deps, s.id, { planId: pro.id }, "eve"))._unsafeUnwrap();
    await settle();
    s = await current(s.id);
    expect(s.status).toBe("active");
    expect(s.price).toMatchObject({ planId: pro.id, amountMinor: 40_00 });
    const at = await harness.emulator.control.now();
    // A 31-day period with 20 days left: −1500 × 20/31 = −967.74 → −968 and 4000 × 20/31 = 2580.65 → 2581.
    expect([period.current_period_end - at, period.current_period_end - period.current_period_start]).toEqual(
      [20 * DAY, 31 * DAY],
    );
    const invoices = await harness.stripe.invoices.list({ subscription: stripeSub });
    const prorated = invoices.data.filter((i) => i.billing_reason === "subscription_update");
    expect(prorated).toHaveLength(1);
    expect(prorated[0]!.lines.data.map((l) => l.amount)).toEqual([-968, 2581]);
    expect(prorated[0]).toMatchObject({ status: "paid", amount_paid: 16_13 });
    expect(await paidIn(s)).toBe(15_00 + 16_13);

    // Stripe delivers invoice.paid again: nothing is booked twice.
    const paidEvents = await harness.stripe.events.list({ type: "invoice.paid", limit: 100 });
    const again = paidEvents.data.find((e) => (e.data.object as { id: string }).id === prorated[0]!.id)!;
    expect((await processWebhookEvent(again, ctx))._unsafeUnwrap().status).toBe("ignored");
    expect(await paidIn(s)).toBe(15_00 + 16_13);

    // The next renewal charges the new price, in full.
    await advanceDays(21);
    s = await current(s.id);
    expect(await paidIn(s)).toBe(15_00 + 16_13 + 40_00);
    expect((await ledger.checkLedger())._unsafeUnwrap().agrees).toBe(true);
  });

  it("monthly to yearly: Stripe restarts the period now and bills the year less the unused month", async () => {
    const { paymentMethodId } = await aPerson("gus", "pm_card_visa");
    let s = await subscribed("gus", paymentMethodId);
    await advanceDays(15);
    await advanceDays(10);
    const month = (await harness.stripe.subscriptions.retrieve(s.stripeSubscriptionId as string)).items
      .data[0]!;
    const at = await harness.emulator.control.now();
    // This person's month has 30 days, 19 of them left: 1500 × 19/30 = 950 back.
    expect([month.current_period_end - at, month.current_period_end - month.current_period_start]).toEqual([
      19 * DAY,
      30 * DAY,
    ]);
    (
      await useCases.changeSubscriptionPlan(deps, s.id, { planId: plan.id, interval: "year" }, "gus")
    )._unsafeUnwrap();
    await settle();
    s = await current(s.id);
    expect(s.status).toBe("active");
    expect(s.price).toMatchObject({ interval: "year", amountMinor: 150_00 });
    const now = (await harness.emulator.control.now()) * 1000;
    expect(s.currentPeriodEnd).toBe(
      Date.UTC(new Date(now).getUTCFullYear() + 1, new Date(now).getUTCMonth(), new Date(now).getUTCDate()),
    );
    const invoices = await harness.stripe.invoices.list({ subscription: s.stripeSubscriptionId as string });
    const update = invoices.data.find((i) => i.billing_reason === "subscription_update")!;
    expect(update.lines.data.map((l) => l.amount)).toEqual([-950, 150_00]);
    expect(await paidIn(s)).toBe(15_00 + 140_50);
    expect((await ledger.checkLedger())._unsafeUnwrap().agrees).toBe(true);
  });

  it("a change to a price archived at Stripe meanwhile: refused, the plan and its entitlements stay, the person is told, nothing parked", async () => {
    const team = (
      await useCases.createPlan(
        deps,
        {
          name: "Team",
          entitlements: { createGroups: true, maxOpenGroups: 99, sellBookings: true },
          prices: [{ currency: "AUD", interval: "month", amountMinor: 60_00 }],
        },
        ADMIN,
      )
    )._unsafeUnwrap();
    await settle();
    const teamPrice = (await useCases.getPlan(deps, team.id))._unsafeUnwrap().prices[0]!
      .stripePriceId as string;
    const { paymentMethodId } = await aPerson("hal", "pm_card_visa");
    let s = await subscribed("hal", paymentMethodId);
    await advanceDays(15);
    s = await current(s.id);
    expect(s.status).toBe("active");
    const asked = (
      await useCases.changeSubscriptionPlan(deps, s.id, { planId: team.id }, "hal")
    )._unsafeUnwrap();
    expect(asked.price.planId).toBe(plan.id);
    expect(asked.pendingChange?.price.planId).toBe(team.id);
    // Archived at Stripe before the outbox makes the call: Stripe refuses the inactive price.
    await harness.stripe.prices.update(teamPrice, { active: false });
    await settle(); // fails if an effect is parked
    s = await current(s.id);
    expect(s.price).toMatchObject({ planId: plan.id, amountMinor: 15_00 });
    expect(s.pendingChange).toBeUndefined();
    const stripeSub = await harness.stripe.subscriptions.retrieve(s.stripeSubscriptionId as string);
    expect(stripeSub.items.data[0]?.price.id).toBe(s.price.stripePriceId);
    expect(notices(s, "membership_change_refused")).toEqual([
      expect.objectContaining({
        data: expect.objectContaining({ requestedPlanId: team.id, failureCode: "invalid_request" }),
      }),
    ]);
    expect(desk.tickets.filter((t) => t.id.startsWith(`${s.id}:`))).toEqual([]);
    const narrowed = {
      ...deps,
      defaultEntitlements: { createGroups: false, maxOpenGroups: 0, sellBookings: false },
    };
    expect((await useCases.entitlementsOfPerson(narrowed, "hal"))._unsafeUnwrap().maxOpenGroups).toBe(10);
  });

  it("a renewal that needs 3-D Secure: the person is asked once, and is active after authenticating", async () => {
    const { paymentMethodId } = await aPerson("fay", "pm_card_visa");
    let s = await subscribed("fay", paymentMethodId);
    await advanceDays(15);
    s = await current(s.id);
    expect(await paidIn(s)).toBe(15_00);
    const stripeSub = s.stripeSubscriptionId as string;
    const threeDs = await harness.stripe.paymentMethods.attach("pm_card_authenticationRequired", {
      customer: s.stripeCustomerId,
    });
    await harness.stripe.subscriptions.update(stripeSub, { default_payment_method: threeDs.id });
    await advanceDays(31);
    s = await current(s.id);
    expect(s.status).toBe("past_due");
    const asked = notices(s, "membership_payment_action_required");
    expect(asked).toHaveLength(1);
    expect(asked[0]?.data).toMatchObject({ amountMinor: 15_00 });
    expect(String(asked[0]?.data.hostedInvoiceUrl)).toMatch(/\/_emulator\/invoices\/in_/);
    expect(notices(s, "membership_payment_failed")).toHaveLength(0);

    // Stripe delivers the event again: the person is not asked twice.
    const actionEvents = await harness.stripe.events.list({
      type: "invoice.payment_action_required",
      limit: 100,
    });
    const invoiceId = String(asked[0]?.data.invoiceId);
    const again = actionEvents.data.find((e) => (e.data.object as { id: string }).id === invoiceId)!;
    expect((await processWebhookEvent(again, ctx))._unsafeUnwrap().status).toBe("ignored");
    await settle();
    expect(notices(s, "membership_payment_action_required")).toHaveLength(1);

    // The person authenticates on the invoice's page.
    const invoice = await harness.stripe.invoices.retrieve(invoiceId, { expand: ["payments"] });
    const piId = invoice.payments?.data[0]?.payment.payment_intent as string;
    await harness.emulator.control.authenticatePaymentIntent(piId, true);
    await settle();
    s = await current(s.id);
    expect(s.status).toBe("active");
    expect(await paidIn(s)).toBe(30_00);
    expect((await ledger.checkLedger())._unsafeUnwrap().agrees).toBe(true);
  });

  it("canceled before its Checkout page was paid, paid anyway: the late subscription is canceled and the payment refunded in full, once", async () => {
    const noTrial = (
      await useCases.createPlan(
        deps,
        {
          name: "Pay as you go",
          entitlements: { createGroups: true, maxOpenGroups: 2, sellBookings: true },
          trialDays: 0,
          prices: [{ currency: "AUD", interval: "month", amountMinor: 12_00 }],
        },
        ADMIN,
      )
    )._unsafeUnwrap();
    await settle();
    const created = await subscribeThroughCheckout("lea", noTrial.id);
    await settle();
    const page = (await current(created.id)).start;
    if (page.kind !== "checkout" || page.sessionId === undefined)
      throw new Error("no checkout page recorded");
    // The person cancels; before susu's expiry of the page reaches Stripe, the page is paid.
    const canceled = (await useCases.cancelSubscription(deps, created.id, false, "lea"))._unsafeUnwrap();
    expect(canceled.status).toBe("canceled");
    const from = delivered.length;
    await harness.emulator.control.completeCheckoutSession(page.sessionId, { paymentMethod: "pm_card_visa" });
    await settle();

    const s = await current(created.id);
    expect(s.status).toBe("canceled");
    expect(s.stripeSubscriptionId).toMatch(/^sub_/);
    const atStripe = await harness.stripe.subscriptions.retrieve(s.stripeSubscriptionId as string);
    expect(atStripe.status).toBe("canceled");
    expect(s.invoices).toHaveLength(1);
    const inv = s.invoices[0];
    expect(inv).toMatchObject({ status: "paid", amountPaidMinor: 12_00, refund: { status: "succeeded" } });
    // The money is back at Stripe: the invoice's PaymentIntent's charge is refunded in full, by one refund.
    const stripeInvoice = await harness.stripe.invoices.retrieve(inv?.id as string, { expand: ["payments"] });
    const pi = stripeInvoice.payments?.data[0]?.payment.payment_intent;
    const piId = typeof pi === "string" ? pi : pi?.id;
    if (piId === undefined) throw new Error("the invoice names no PaymentIntent");
    const intent = await harness.stripe.paymentIntents.retrieve(piId, { expand: ["latest_charge"] });
    const charge = intent.latest_charge as Stripe.Charge;
    expect(charge).toMatchObject({ amount: 12_00, amount_refunded: 12_00, refunded: true });
    const refunds = await harness.stripe.refunds.list({ payment_intent: piId });
    expect(refunds.data.map((r) => [r.amount, r.status, r.metadata?.susu_invoice_id])).toEqual([
      [12_00, "succeeded", inv?.id],
    ]);
    expect(inv?.refund?.refundId).toBe(refunds.data[0]?.id);
    expect(notices(s, "membership_refunded")).toHaveLength(1);
    expect(await paidIn(s)).toBe(0);
    expect((await ledger.checkLedger())._unsafeUnwrap().agrees).toBe(true);

    // Stripe delivers every event of it again, newest first: nothing changes.
    const again = delivered.slice(from);
    expect(again.map((e) => e.type)).toEqual(
      expect.arrayContaining(["invoice.paid", "customer.subscription.created", "refund.created"]),
    );
    for (const event of [...again].reverse()) {
      const outcome = await processWebhookEvent(event, ctx);
      if (outcome.isErr()) throw new Error(`${event.type} ${event.id}: ${outcome.error.message}`);
    }
    await settle();
    const after = await current(created.id);
    expect(after.invoices).toEqual(s.invoices);
    expect(after.status).toBe("canceled");
    expect((await harness.stripe.refunds.list({ payment_intent: piId })).data).toHaveLength(1);
    expect(notices(after, "membership_refunded")).toHaveLength(1);
    expect(await paidIn(after)).toBe(0);
  });

  it("a late payment's refund that Stripe fails after it succeeded: the ledger holds the money again, one ticket says so, the person is told", async () => {
    const noTrial = (
      await useCases.createPlan(
        deps,
        {
          name: "Pay as you go (refund fails)",
          entitlements: { createGroups: true, maxOpenGroups: 2, sellBookings: true },
          trialDays: 0,
          prices: [{ currency: "AUD", interval: "month", amountMinor: 12_00 }],
        },
        ADMIN,
      )
    )._unsafeUnwrap();
    await settle();
    const created = await subscribeThroughCheckout("mia", noTrial.id);
    await settle();
    const page = (await current(created.id)).start;
    if (page.kind !== "checkout" || page.sessionId === undefined)
      throw new Error("no checkout page recorded");
    (await useCases.cancelSubscription(deps, created.id, false, "mia"))._unsafeUnwrap();
    // Paid anyway, with Stripe's test card whose refunds succeed and then fail.
    await harness.emulator.control.completeCheckoutSession(page.sessionId, {
      paymentMethod: "pm_card_refundFail",
    });
    await settle();
    const refunded = await current(created.id);
    const invoiceId = refunded.invoices[0]?.id as string;
    expect(refunded.invoices[0]?.refund).toMatchObject({ status: "succeeded" });
    expect(await paidIn(refunded)).toBe(0);
    expect(desk.tickets.filter((t) => t.id.startsWith(`${created.id}:`))).toEqual([]);
    expect(notices(refunded, "membership_refunded")).toHaveLength(1);
    expect(notices(refunded, "membership_refund_reversed")).toEqual([]);

    // Some time later Stripe fails the refund (refund.updated, charge.refund.updated, refund.failed).
    const from = delivered.length;
    await advanceDays(1);
    const s = await current(created.id);
    expect(delivered.slice(from).map((e) => e.type)).toEqual(
      expect.arrayContaining(["refund.updated", "charge.refund.updated", "refund.failed"]),
    );
    const stripeRefunds = await harness.stripe.refunds.list({ limit: 100 });
    const ours = stripeRefunds.data.filter((r) => r.metadata?.susu_subscription_id === created.id);
    expect(ours.map((r) => [r.amount, r.status, r.failure_reason])).toEqual([
      [12_00, "failed", "expired_or_canceled_card"],
    ]);
    expect(s.invoices[0]?.refund).toEqual({
      status: "failed",
      refundId: ours[0]?.id,
      failureCode: "expired_or_canceled_card",
      failedAfterSuccess: true,
      payments: [
        {
          refundId: ours[0]?.id,
          amountMinor: 12_00,
          status: "failed",
          failureCode: "expired_or_canceled_card",
          posted: true,
        },
      ],
      refundIds: [ours[0]?.id],
      deadlineAt: expect.any(Number),
    });
    // The person, told their money was back, is told it did not reach them.
    expect(notices(s, "membership_refund_reversed").map((n) => [n.id, n.data.amountMinor])).toEqual([
      [`${created.id}:notify:membership_refund_reversed:${invoiceId}:${ours[0]?.id}`, 12_00],
    ]);
    // The ledger says what happened: paid, refunded, the refund reversed. The platform holds 12.00.
    expect(await paidIn(s)).toBe(12_00);
    expect((await ledger.checkLedger())._unsafeUnwrap().agrees).toBe(true);
    const txs = await db.prisma.ledgerTransaction.findMany({
      where: { id: { startsWith: `${created.id}:` } },
      orderBy: { id: "asc" },
    });
    expect(txs.map((t) => [t.id, t.kind])).toEqual([
      [`${created.id}:invoice:${invoiceId}:paid`, "membership_invoice_paid"],
      [`${created.id}:invoice:${invoiceId}:refund-failed:${ours[0]?.id}`, "membership_invoice_refund_failed"],
      [`${created.id}:invoice:${invoiceId}:refunded`, "membership_invoice_refunded"],
    ]);
    const tickets = desk.tickets.filter((t) => t.id.startsWith(`${created.id}:`));
    expect(tickets).toHaveLength(1);
    expect(tickets[0]?.summary).toContain("holds it again");
    expect(tickets[0]?.summary).toContain("no ledger fix is needed");
    expect(tickets[0]?.summary).not.toContain("correct the ledger");

    // Every event of it delivered again, newest first: nothing more is posted or opened.
    for (const event of [...delivered.slice(from)].reverse()) {
      const outcome = await processWebhookEvent(event, ctx);
      if (outcome.isErr()) throw new Error(`${event.type} ${event.id}: ${outcome.error.message}`);
    }
    await settle();
    const after = await current(created.id);
    expect(after.invoices).toEqual(s.invoices);
    expect(await paidIn(after)).toBe(12_00);
    expect(await db.prisma.ledgerTransaction.count({ where: { id: { startsWith: `${created.id}:` } } })).toBe(
      3,
    );
    expect(desk.tickets.filter((t) => t.id.startsWith(`${created.id}:`))).toHaveLength(1);
    expect(notices(after, "membership_refund_reversed")).toHaveLength(1);
  });

  it("a late payment partly refunded from the dashboard first: that refund is booked, and susu's pending refund of the rest ends the refund when it succeeds", async () => {
    const noTrial = (
      await useCases.createPlan(
        deps,
        {
          name: "Pay as you go (refunded elsewhere)",
          entitlements: { createGroups: true, maxOpenGroups: 2, sellBookings: true },
          trialDays: 0,
          prices: [{ currency: "AUD", interval: "month", amountMinor: 12_00 }],
        },
        ADMIN,
      )
    )._unsafeUnwrap();
    await settle();
    const created = await subscribeThroughCheckout("noa", noTrial.id);
    await settle();
    const page = (await current(created.id)).start;
    if (page.kind !== "checkout" || page.sessionId === undefined)
      throw new Error("no checkout page recorded");
    (await useCases.cancelSubscription(deps, created.id, false, "noa"))._unsafeUnwrap();
    // Paid anyway, with the emulator's card whose refunds stay pending a while.
    await harness.emulator.control.completeCheckoutSession(page.sessionId, {
      paymentMethod: "pm_card_refundPending",
    });
    // Before susu hears of it, support refunds 3.00 from the dashboard (no susu metadata).
    const invoices = await harness.stripe.invoices.list({
      customer: created.stripeCustomerId,
      status: "paid",
    });
    const invoiceId = invoices.data[0]?.id as string;
    const invoice = await harness.stripe.invoices.retrieve(invoiceId, { expand: ["payments"] });
    const intent = invoice.payments?.data[0]?.payment.payment_intent;
    const intentId = typeof intent === "string" ? intent : (intent?.id as string);
    const dashboard = await harness.stripe.refunds.create({ payment_intent: intentId, amount: 3_00 });
    await settle();
    // Susu's refund makes the other 9.00, pending: the refund waits for it (its id is known).
    const waiting = await current(created.id);
    const ours = (await harness.stripe.refunds.list({ payment_intent: intentId, limit: 100 })).data.filter(
      (r) => r.metadata?.susu_subscription_id === created.id,
    );
    expect(ours.map((r) => [r.amount, r.status])).toEqual([[9_00, "pending"]]);
    expect(waiting.invoices[0]?.refund).toEqual({
      status: "requested",
      refundIds: [ours[0]?.id],
      deadlineAt: expect.any(Number),
    });
    // The dashboard's refund is pending too (this card's refunds are): nothing booked yet.
    expect(waiting.invoices[0]?.outsideRefunds).toBeUndefined();
    expect(await paidIn(waiting)).toBe(12_00);

    // Both succeed: the dashboard's refund (no susu metadata) is resolved to the invoice and
    // booked, and susu's refund ends with the 9.00 posted and the person told; the books hold
    // nothing more, so no ticket asks for a correction.
    await advanceDays(1);
    const s = await current(created.id);
    expect(s.invoices[0]?.refund).toMatchObject({
      status: "succeeded",
      refundIds: [ours[0]?.id],
      payments: [{ refundId: ours[0]?.id, amountMinor: 9_00, status: "succeeded", posted: true }],
    });
    expect(s.invoices[0]?.outsideRefunds).toEqual([
      { refundId: dashboard.id, amountMinor: 3_00, status: "succeeded", postedMinor: 3_00 },
    ]);
    expect(await paidIn(s)).toBe(0);
    expect((await ledger.checkLedger())._unsafeUnwrap().agrees).toBe(true);
    // The notice says what went back and what was collected: its e-mail does not say "in full".
    expect(notices(s, "membership_refunded").map((n) => [n.data.amountMinor, n.data.collectedMinor])).toEqual(
      [[9_00, 12_00]],
    );
    const txs = await db.prisma.ledgerTransaction.findMany({
      where: { id: { startsWith: `${created.id}:` } },
      orderBy: { id: "asc" },
    });
    expect(txs.map((t) => [t.id, t.kind])).toEqual([
      [`${created.id}:invoice:${invoiceId}:paid`, "membership_invoice_paid"],
      [`${created.id}:invoice:${invoiceId}:refunded`, "membership_invoice_refunded"],
      [
        `${created.id}:invoice:${invoiceId}:refunded-outside:${dashboard.id}`,
        "membership_refunded_outside_susu",
      ],
    ]);
    expect(desk.tickets.filter((t) => t.id.startsWith(`${created.id}:`))).toEqual([]);
  });

  it.each([
    ["the dashboard's refund heard first", "dashboard-first"],
    ["susu's refund call answered first", "susu-first"],
  ] as const)(
    "a late payment refunded in full from the dashboard, which susu's refund call reports as its own, then failed by Stripe (%s): the platform holds the money again, susu's refund reads failed with one ticket and the person is told",
    async (_what, order) => {
      const name = order === "dashboard-first" ? "rae" : "sam";
      const noTrial = (
        await useCases.createPlan(
          deps,
          {
            name: `Pay as you go (dashboard refund fails, ${order})`,
            entitlements: { createGroups: true, maxOpenGroups: 2, sellBookings: true },
            trialDays: 0,
            prices: [{ currency: "AUD", interval: "month", amountMinor: 12_00 }],
          },
          ADMIN,
        )
      )._unsafeUnwrap();
      await settle();
      const created = await subscribeThroughCheckout(name, noTrial.id);
      await settle();
      const page = (await current(created.id)).start;
      if (page.kind !== "checkout" || page.sessionId === undefined)
        throw new Error("no checkout page recorded");
      (await useCases.cancelSubscription(deps, created.id, false, name))._unsafeUnwrap();
      // Paid anyway, with Stripe's test card whose refunds succeed and then fail.
      await harness.emulator.control.completeCheckoutSession(page.sessionId, {
        paymentMethod: "pm_card_refundFail",
      });
      if (order === "susu-first") {
        // The payment is heard (susu's refund is asked for, not yet made) before support refunds it.
        for (
          let events = await harness.events.next();
          events.length > 0;
          events = await harness.events.next()
        )
          for (const event of events) {
            delivered.push(event);
            (await processWebhookEvent(event, ctx))._unsafeUnwrap();
          }
      }
      // Support refunds all of it from the dashboard (no susu metadata): susu's refund call is
      // refused as charge_already_refunded and answered with that refund.
      const invoices = await harness.stripe.invoices.list({
        customer: created.stripeCustomerId,
        status: "paid",
      });
      const invoiceId = invoices.data[0]?.id as string;
      const invoice = await harness.stripe.invoices.retrieve(invoiceId, { expand: ["payments"] });
      const intent = invoice.payments?.data[0]?.payment.payment_intent;
      const intentId = typeof intent === "string" ? intent : (intent?.id as string);
      const dashboard = await harness.stripe.refunds.create({ payment_intent: intentId });
      await settle();
      const refunded = await current(created.id);
      expect(refunded.invoices[0]?.refund).toMatchObject({
        status: "succeeded",
        refundIds: [dashboard.id],
        payments: [{ refundId: dashboard.id, amountMinor: 12_00, status: "succeeded", posted: true }],
      });
      expect(refunded.invoices[0]?.outsideRefunds).toEqual([
        {
          refundId: dashboard.id,
          amountMinor: 12_00,
          status: "succeeded",
          postedMinor: order === "dashboard-first" ? 12_00 : 0,
        },
      ]);
      expect(await paidIn(refunded)).toBe(0);
      expect(notices(refunded, "membership_refunded")).toHaveLength(1);

      // Some time later Stripe fails the dashboard's refund: its news carries no susu metadata.
      const from = delivered.length;
      await advanceDays(1);
      const failed = await harness.stripe.refunds.retrieve(dashboard.id);
      expect([failed.status, failed.failure_reason]).toEqual(["failed", "expired_or_canceled_card"]);
      const s = await current(created.id);
      expect(s.invoices[0]?.refund).toMatchObject({
        status: "failed",
        failedAfterSuccess: true,
        payments: [{ refundId: dashboard.id, status: "failed", failureCode: "expired_or_canceled_card" }],
      });
      expect(s.invoices[0]?.outsideRefunds).toEqual([
        {
          refundId: dashboard.id,
          amountMinor: 12_00,
          status: "failed",
          failureCode: "expired_or_canceled_card",
          postedMinor: 0,
        },
      ]);
      // The platform holds the 12.00 again, once: what each path booked is undone by its own posting.
      expect(await paidIn(s)).toBe(12_00);
      expect((await ledger.checkLedger())._unsafeUnwrap().agrees).toBe(true);
      const txs = await db.prisma.ledgerTransaction.findMany({
        where: { id: { startsWith: `${created.id}:` } },
        orderBy: { id: "asc" },
      });
      const at = `${created.id}:invoice:${invoiceId}`;
      expect(txs.map((t) => [t.id, t.kind])).toEqual(
        order === "dashboard-first"
          ? [
              [`${at}:paid`, "membership_invoice_paid"],
              [`${at}:refunded-outside:${dashboard.id}`, "membership_refunded_outside_susu"],
              [`${at}:refunded-outside:${dashboard.id}:failed`, "membership_outside_refund_failed"],
            ]
          : [
              [`${at}:paid`, "membership_invoice_paid"],
              [`${at}:refund-failed:${dashboard.id}`, "membership_invoice_refund_failed"],
              [`${at}:refunded`, "membership_invoice_refunded"],
            ],
      );
      const tickets = desk.tickets.filter((t) => t.id.startsWith(`${created.id}:`));
      expect(tickets.map((t) => t.id)).toEqual([`${at}:refund:${dashboard.id}:ticket`]);
      expect(tickets[0]?.summary).toContain("holds it again");
      expect(notices(s, "membership_refund_reversed").map((n) => n.id)).toEqual([
        `${created.id}:notify:membership_refund_reversed:${invoiceId}:${dashboard.id}`,
      ]);

      // Every event of the failure delivered again: nothing more is posted, opened or told.
      for (const event of [...delivered.slice(from)].reverse()) {
        const outcome = await processWebhookEvent(event, ctx);
        if (outcome.isErr()) throw new Error(`${event.type} ${event.id}: ${outcome.error.message}`);
      }
      await settle();
      const after = await current(created.id);
      expect(after.invoices).toEqual(s.invoices);
      expect(await paidIn(after)).toBe(12_00);
      expect(
        await db.prisma.ledgerTransaction.count({ where: { id: { startsWith: `${created.id}:` } } }),
      ).toBe(3);
      expect(desk.tickets.filter((t) => t.id.startsWith(`${created.id}:`))).toHaveLength(1);
      expect(notices(after, "membership_refund_reversed")).toHaveLength(1);
    },
  );

  it.each([
    ["the dashboard's refunds heard first", "dashboard-first"],
    ["susu's refund call answered first", "susu-first"],
  ] as const)(
    "a late payment refunded from the dashboard in two parts, which susu's refund call reports as its own, each by its id; Stripe fails the first, then the second (%s): each failure holds exactly its own amount again, once",
    async (_what, order) => {
      const name = order === "dashboard-first" ? "tia" : "uma";
      const noTrial = (
        await useCases.createPlan(
          deps,
          {
            name: `Pay as you go (two dashboard refunds fail, ${order})`,
            entitlements: { createGroups: true, maxOpenGroups: 2, sellBookings: true },
            trialDays: 0,
            prices: [{ currency: "AUD", interval: "month", amountMinor: 12_00 }],
          },
          ADMIN,
        )
      )._unsafeUnwrap();
      await settle();
      const created = await subscribeThroughCheckout(name, noTrial.id);
      await settle();
      const page = (await current(created.id)).start;
      if (page.kind !== "checkout" || page.sessionId === undefined)
        throw new Error("no checkout page recorded");
      (await useCases.cancelSubscription(deps, created.id, false, name))._unsafeUnwrap();
      /** The platform's membership revenue (debits less credits: what it keeps), from here on. */
      const revenueAtStart = (await ledger.balance(membershipAccounts.revenue(), "AUD"))._unsafeUnwrap()
        .amountMinor;
      const revenue = async () =>
        (await ledger.balance(membershipAccounts.revenue(), "AUD"))._unsafeUnwrap().amountMinor -
        revenueAtStart;
      // Paid anyway, with Stripe's test card whose refunds succeed and fail a minute later.
      await harness.emulator.control.completeCheckoutSession(page.sessionId, {
        paymentMethod: "pm_card_refundFail",
      });
      if (order === "susu-first")
        for (
          let events = await harness.events.next();
          events.length > 0;
          events = await harness.events.next()
        )
          for (const event of events) {
            delivered.push(event);
            (await processWebhookEvent(event, ctx))._unsafeUnwrap();
          }
      // Support refunds it from the dashboard in two parts, 20 seconds apart (no susu metadata):
      // susu's refund call is refused as charge_already_refunded and answered with both.
      const invoices = await harness.stripe.invoices.list({
        customer: created.stripeCustomerId,
        status: "paid",
      });
      const invoiceId = invoices.data[0]?.id as string;
      const invoice = await harness.stripe.invoices.retrieve(invoiceId, { expand: ["payments"] });
      const intent = invoice.payments?.data[0]?.payment.payment_intent;
      const intentId = typeof intent === "string" ? intent : (intent?.id as string);
      const a = await harness.stripe.refunds.create({ payment_intent: intentId, amount: 4_00 });
      await advanceSeconds(20, { settle: false });
      const b = await harness.stripe.refunds.create({ payment_intent: intentId, amount: 8_00 });
      await settle();
      const refunded = await current(created.id);
      expect(refunded.invoices[0]?.refund).toMatchObject({
        status: "succeeded",
        refundIds: [a.id, b.id],
        payments: [
          { refundId: a.id, amountMinor: 4_00, status: "succeeded", posted: true },
          { refundId: b.id, amountMinor: 8_00, status: "succeeded", posted: true },
        ],
      });
      expect(
        refunded.invoices[0]?.outsideRefunds?.map((r) => [r.refundId, r.amountMinor, r.postedMinor]),
      ).toEqual([
        [a.id, 4_00, order === "dashboard-first" ? 4_00 : 0],
        [b.id, 8_00, order === "dashboard-first" ? 8_00 : 0],
      ]);
      expect(await paidIn(refunded)).toBe(0);
      expect(await revenue()).toBe(0);
      const at = `${created.id}:invoice:${invoiceId}`;
      const ticketsNow = () => desk.tickets.filter((t) => t.id.startsWith(`${created.id}:`));
      expect(ticketsNow()).toEqual([]);

      // A minute after it was made, Stripe fails the first (its news carries no susu metadata).
      await advanceSeconds(45);
      expect((await harness.stripe.refunds.retrieve(a.id)).status).toBe("failed");
      expect((await harness.stripe.refunds.retrieve(b.id)).status).toBe("succeeded");
      const oneFailed = await current(created.id);
      expect(oneFailed.invoices[0]?.refund?.payments?.map((p) => [p.refundId, p.status])).toEqual([
        [a.id, "failed"],
        [b.id, "succeeded"],
      ]);
      expect(await paidIn(oneFailed)).toBe(4_00);
      expect(await revenue()).toBe(4_00);
      expect(invoiceRevenueLeftMinor(oneFailed.invoices[0] as SubscriptionInvoice)).toBe(4_00);
      expect(ticketsNow().map((t) => t.id)).toEqual([`${at}:refund:${a.id}:ticket`]);
      expect(ticketsNow()[0]?.summary).toContain(`Stripe failed refund ${a.id} of 400 AUD (minor units)`);

      // Then the second: the platform holds all 12.00 again, each refund's amount reversed once.
      const from = delivered.length;
      await advanceSeconds(20);
      expect((await harness.stripe.refunds.retrieve(b.id)).status).toBe("failed");
      const s = await current(created.id);
      expect(s.invoices[0]?.refund?.payments?.map((p) => [p.refundId, p.amountMinor, p.status])).toEqual([
        [a.id, 4_00, "failed"],
        [b.id, 8_00, "failed"],
      ]);
      expect(await paidIn(s)).toBe(12_00);
      expect(await revenue()).toBe(12_00);
      expect(invoiceRevenueLeftMinor(s.invoices[0] as SubscriptionInvoice)).toBe(12_00);
      expect((await ledger.checkLedger())._unsafeUnwrap().agrees).toBe(true);
      expect(ticketsNow().map((t) => t.id)).toEqual([
        `${at}:refund:${a.id}:ticket`,
        `${at}:refund:${b.id}:ticket`,
      ]);
      expect(ticketsNow()[1]?.summary).toContain(`Stripe failed refund ${b.id} of 800 AUD (minor units)`);
      const txs = await db.prisma.ledgerTransaction.findMany({
        where: { id: { startsWith: `${created.id}:` } },
        orderBy: { id: "asc" },
      });
      // Compared by id, in one order (the database's collation is not JavaScript's).
      const byId = (x: readonly string[], y: readonly string[]) => ((x[0] ?? "") < (y[0] ?? "") ? -1 : 1);
      expect(txs.map((t) => [t.id, t.kind]).sort(byId)).toEqual(
        order === "dashboard-first"
          ? [
              [`${at}:paid`, "membership_invoice_paid"],
              [`${at}:refunded-outside:${a.id}`, "membership_refunded_outside_susu"],
              [`${at}:refunded-outside:${a.id}:failed`, "membership_outside_refund_failed"],
              [`${at}:refunded-outside:${b.id}`, "membership_refunded_outside_susu"],
              [`${at}:refunded-outside:${b.id}:failed`, "membership_outside_refund_failed"],
            ].sort(byId)
          : [
              [`${at}:paid`, "membership_invoice_paid"],
              [`${at}:refund-failed:${a.id}`, "membership_invoice_refund_failed"],
              [`${at}:refund-failed:${b.id}`, "membership_invoice_refund_failed"],
              [`${at}:refunded`, "membership_invoice_refunded"],
            ].sort(byId),
      );

      // Every event of the second failure delivered again: nothing more is posted or opened.
      for (const event of [...delivered.slice(from)].reverse()) {
        const outcome = await processWebhookEvent(event, ctx);
        if (outcome.isErr()) throw new Error(`${event.type} ${event.id}: ${outcome.error.message}`);
      }
      await settle();
      const after = await current(created.id);
      expect(after.invoices).toEqual(s.invoices);
      expect(await revenue()).toBe(12_00);
      expect(
        await db.prisma.ledgerTransaction.count({ where: { id: { startsWith: `${created.id}:` } } }),
      ).toBe(txs.length);
      expect(ticketsNow()).toHaveLength(2);
    },
  );

  it("an invoice's charge refunded from Stripe's dashboard (no susu metadata) is booked once; a chargeback lost books the loss", async () => {
    const noTrial = (
      await useCases.createPlan(
        deps,
        {
          name: "Pay as you go (disputed)",
          entitlements: { createGroups: true, maxOpenGroups: 2, sellBookings: true },
          trialDays: 0,
          prices: [{ currency: "AUD", interval: "month", amountMinor: 20_00 }],
        },
        ADMIN,
      )
    )._unsafeUnwrap();
    await settle();
    const { paymentMethodId } = await aPerson("oli", "pm_card_visa");
    const created = (
      await useCases.subscribe(deps, {
        personId: "oli",
        planId: noTrial.id,
        currency: "AUD",
        interval: "month",
        start: { kind: "saved_method", paymentMethodId },
      })
    )._unsafeUnwrap();
    await settle();
    let s = await current(created.id);
    expect(s.status).toBe("active");
    expect(await paidIn(s)).toBe(20_00);
    const invoiceId = s.invoices[0]?.id as string;
    // Stripe's current API: the invoice's PaymentIntent is named only by its invoice payment.
    const payment = (await harness.stripe.invoicePayments.list({ invoice: invoiceId })).data[0];
    const intentId = payment?.payment.payment_intent as string;
    const charge = (await harness.stripe.charges.list({ payment_intent: intentId })).data[0] as Stripe.Charge;

    // Support refunds 5.00 in the dashboard: no susu metadata on the refund, charge or payment.
    const before = outcomes.length;
    const dashboard = await harness.stripe.refunds.create({ payment_intent: intentId, amount: 5_00 });
    await settle();
    expect(outcomes.slice(before)).toContainEqual(
      `refund.created processed: subscription ${s.id}: invoice_refunded_outside applied`,
    );
    s = await current(s.id);
    expect(await paidIn(s)).toBe(15_00);
    // Its news again (a redelivery, a later event about the same refund) books nothing more.
    for (const event of delivered.filter((e) => (e.data.object as { id?: string }).id === dashboard.id)) {
      const again = (await processWebhookEvent(event, ctx))._unsafeUnwrap();
      expect(again).toMatchObject({ status: "ignored" });
      expect(again.status === "ignored" ? again.reason : "").toContain("outside_refund_known");
    }
    expect(await paidIn(await current(s.id))).toBe(15_00);

    // The person's bank charges the rest back, and the dispute is lost.
    const dispute = await harness.emulator.control.forceDispute(charge.id, { reason: "fraudulent" });
    await settle();
    await harness.emulator.control.resolveDispute(dispute.id, "lost");
    await settle();
    s = await current(s.id);
    expect(s.invoices[0]?.disputes).toEqual([
      { disputeId: dispute.id, amountMinor: 15_00, stripeStatus: "lost", status: "lost", lossMinor: 15_00 },
    ]);
    const losses = (await ledger.balance(membershipAccounts.disputeLosses(s.id), "AUD"))._unsafeUnwrap();
    expect(losses.amountMinor).toBe(15_00);
    const txs = await db.prisma.ledgerTransaction.findMany({
      where: { id: { startsWith: `${s.id}:` } },
      orderBy: { id: "asc" },
    });
    expect(txs.map((t) => [t.id, t.kind])).toEqual([
      [`${s.id}:invoice:${invoiceId}:dispute:${dispute.id}:lost`, "membership_dispute_lost"],
      [`${s.id}:invoice:${invoiceId}:paid`, "membership_invoice_paid"],
      [`${s.id}:invoice:${invoiceId}:refunded-outside:${dashboard.id}`, "membership_refunded_outside_susu"],
    ]);
    expect((await ledger.checkLedger())._unsafeUnwrap().agrees).toBe(true);

    // A payment that paid no invoice (made outside susu, no metadata) stays ignored, with why.
    const stray = await harness.stripe.paymentIntents.create({
      amount: 7_00,
      currency: "aud",
      payment_method: "pm_card_visa",
      confirm: true,
    });
    const strayBefore = outcomes.length;
    await harness.stripe.refunds.create({ payment_intent: stray.id });
    await settle();
    expect(outcomes.slice(strayBefore)).toContainEqual(
      expect.stringMatching(new RegExp(`^refund\\.created ignored: .*payment ${stray.id} paid no invoice`)),
    );
  });

  it("a dashboard refund and a chargeback heard before the invoice's payment fail retryably, then are booked once when it is in", async () => {
    const noTrial = (
      await useCases.createPlan(
        deps,
        {
          name: "Pay as you go (news before payment)",
          entitlements: { createGroups: true, maxOpenGroups: 2, sellBookings: true },
          trialDays: 0,
          prices: [{ currency: "AUD", interval: "month", amountMinor: 20_00 }],
        },
        ADMIN,
      )
    )._unsafeUnwrap();
    await settle();
    const { paymentMethodId } = await aPerson("pia", "pm_card_visa");
    const created = (
      await useCases.subscribe(deps, {
        personId: "pia",
        planId: noTrial.id,
        currency: "AUD",
        interval: "month",
        start: { kind: "saved_method", paymentMethodId },
      })
    )._unsafeUnwrap();
    // Stripe makes the subscription and collects its first invoice; susu has heard none of its events yet.
    expect(
      (await useCases.dispatchOutbox(deps, ports, store, { workerId: "dispatcher" }))._unsafeUnwrap().parked,
    ).toBe(0);
    expect((await current(created.id)).invoices).toEqual([]);
    const invoice = (await harness.stripe.invoices.list({ customer: created.stripeCustomerId })).data[0];
    const invoiceId = invoice?.id as string;
    const payment = (await harness.stripe.invoicePayments.list({ invoice: invoiceId })).data[0];
    const intentId = payment?.payment.payment_intent as string;
    const charge = (await harness.stripe.charges.list({ payment_intent: intentId })).data[0] as Stripe.Charge;
    // Support refunds 5.00 in the dashboard and the bank charges the rest back, all before
    // susu hears of the payment (Stripe does not promise the order of its events).
    const dashboard = await harness.stripe.refunds.create({ payment_intent: intentId, amount: 5_00 });
    const dispute = await harness.emulator.control.forceDispute(charge.id, { reason: "fraudulent" });
    const events = await harness.events.next();
    const isNews = (e: Stripe.Event) =>
      e.type.startsWith("refund.") ||
      e.type.startsWith("charge.refund") ||
      e.type.startsWith("charge.dispute.");
    const news = events.filter(isNews);
    expect(news.map((e) => e.type)).toEqual(
      expect.arrayContaining(["refund.created", "charge.dispute.created", "charge.dispute.funds_withdrawn"]),
    );
    const failed: Stripe.Event[] = [];
    for (const event of news) {
      const outcome = await processWebhookEvent(event, ctx);
      if (outcome.isErr()) {
        // Retried by the inbox with backoff (parked with a ticket only when the retries run out).
        expect(outcome.error).toMatchObject({ code: "invoice_not_paid_yet", retryable: true });
        failed.push(event);
      } else expect(outcome.value.status).toBe("ignored");
    }
    // (funds_withdrawn is ignored whenever it comes: the dispute's opening carries its money.)
    expect(failed.map((e) => e.type)).toEqual(
      expect.arrayContaining(["refund.created", "charge.dispute.created"]),
    );
    // Then the payment's own events: the invoice is paid, and nothing else is booked yet.
    for (const event of events.filter((e) => !isNews(e)))
      (await processWebhookEvent(event, ctx))._unsafeUnwrap();
    await settle();
    let s = await current(created.id);
    expect(s.invoices[0]).toMatchObject({ id: invoiceId, status: "paid", amountPaidMinor: 20_00 });
    expect(await paidIn(s)).toBe(20_00);

    // The retries, after the payment: the refund and the chargeback are booked, once.
    for (const event of failed) (await processWebhookEvent(event, ctx))._unsafeUnwrap();
    await settle();
    // Their news again (a redelivery, or another retry) books nothing more.
    for (const event of news) (await processWebhookEvent(event, ctx))._unsafeUnwrap();
    await settle();
    s = await current(s.id);
    expect(s.invoices[0]?.outsideRefunds).toEqual([
      { refundId: dashboard.id, amountMinor: 5_00, status: "succeeded", postedMinor: 5_00 },
    ]);
    expect(s.invoices[0]?.disputes).toEqual([
      {
        disputeId: dispute.id,
        amountMinor: 15_00,
        stripeStatus: "needs_response",
        status: "open",
        lossMinor: 15_00,
      },
    ]);
    expect(await paidIn(s)).toBe(15_00);
    const losses = (await ledger.balance(membershipAccounts.disputeLosses(s.id), "AUD"))._unsafeUnwrap();
    expect(losses.amountMinor).toBe(15_00);
    const txs = await db.prisma.ledgerTransaction.findMany({
      where: { id: { startsWith: `${s.id}:` } },
      orderBy: { id: "asc" },
    });
    expect(txs.map((t) => [t.id, t.kind])).toEqual([
      [`${s.id}:invoice:${invoiceId}:dispute:${dispute.id}:lost`, "membership_dispute_lost"],
      [`${s.id}:invoice:${invoiceId}:paid`, "membership_invoice_paid"],
      [`${s.id}:invoice:${invoiceId}:refunded-outside:${dashboard.id}`, "membership_refunded_outside_susu"],
    ]);
    expect((await ledger.checkLedger())._unsafeUnwrap().agrees).toBe(true);
    // The dispute is ticketed and told to the admins once, however often its news came.
    expect(desk.tickets.filter((t) => t.id.startsWith(`${s.id}:`)).map((t) => [t.id, t.reason])).toEqual([
      [`${s.id}:invoice:${invoiceId}:dispute:${dispute.id}:ticket`, "dispute"],
    ]);
    expect(notices(s, "dispute_opened").map((n) => n.id)).toEqual([
      `${s.id}:notify:dispute_opened:${invoiceId}:${dispute.id}`,
    ]);
  });

  it("every membership event was understood (none not handled)", () => {
    const billing = outcomes.filter(
      (o) => o.startsWith("customer.subscription.") || o.startsWith("invoice."),
    );
    expect(billing.length).toBeGreaterThan(20);
    expect(billing.filter((o) => o.includes("not handled") || o.includes("no susu"))).toEqual([]);
  });
});
