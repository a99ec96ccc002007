// Reconciling memberships on the real adapters: subscriptions run through PostgreSQL and the
// emulator as production runs them (outbox, Stripe Billing through the SDK, webhooks), then
// Stripe's balance transactions are pulled through the SDK and compared with susu's ledger.
// Stripe Billing's charges carry no susu metadata: the pull finds their invoice through the
// charge's PaymentIntent and its invoice payment.
import {
  membershipInvoicePaid,
  money,
  type Plan,
  type Subscription,
  type UseCaseDeps,
  useCases,
} from "@susu/domain";
import { ManualClock } from "@susu/domain/testing";
import type Stripe from "stripe";
import { beforeAll, describe, expect, it } from "vitest";
import type { PrismaLedgerStore } from "../../src/prisma/index.js";
import {
  type ReconciliationPeriod,
  type ReconciliationReport,
  runReconciliation,
} from "../../src/reconciliation/index.js";
import { processWebhookEvent, type WebhookContext } from "../../src/webhooks/index.js";
import { useMembershipStack } from "../e2e/membership-stack.js";
import type { StripeHarness } from "../stripe/emulator-harness.js";
import { useTestDatabase } from "../support/index.js";

const db = useTestDatabase();
const START = Date.UTC(2026, 7, 1);
const HOUR = 3_600;
const DAY = 86_400;

describe("reconciling memberships on PostgreSQL with the emulator", () => {
  const clock = new ManualClock(START);
  const stack = useMembershipStack(db, {
    clock,
    plan: {
      name: "Pay as you go",
      entitlements: { createGroups: true, maxOpenGroups: 2, sellBookings: true },
      trialDays: 0,
      prices: [{ currency: "AUD", interval: "month", amountMinor: 20_00 }],
    },
  });
  const { settle, advanceSeconds, aPerson, subscribed, subscribeThroughCheckout, current } = stack;
  let harness: StripeHarness;
  let ledger: PrismaLedgerStore;
  let deps: UseCaseDeps;
  let ctx: WebhookContext;
  let plan: Plan;
  beforeAll(() => {
    ({ harness, ledger, deps, ctx, plan } = stack);
  });

  /** A period of its own for each test: it starts an hour after everything before it. */
  async function window(): Promise<() => ReconciliationPeriod> {
    await advanceSeconds(HOUR);
    const from = Math.floor(clock.now() / 1000) * 1000;
    return () => ({ from, to: Math.ceil((clock.now() + 1) / 1000) * 1000 });
  }

  const reconciled = async (period: ReconciliationPeriod) =>
    (
      await runReconciliation(
        { prisma: db.prisma, stripe: harness.stripe, now: () => clock.now() },
        period,
        "test",
      )
    ).report;

  /** A membership paid with a saved card: its first invoice and that invoice's PaymentIntent and charge. */
  async function aPaidMembership(personId: string): Promise<{
    readonly s: Subscription;
    readonly invoiceId: string;
    readonly intentId: string;
    readonly charge: Stripe.Charge;
  }> {
    const { paymentMethodId } = await aPerson(personId, "pm_card_visa");
    const s = await subscribed(personId, paymentMethodId);
    expect(s.status).toBe("active");
    const invoiceId = s.invoices[0]?.id as string;
    const payment = (await harness.stripe.invoicePayments.list({ invoice: invoiceId })).data[0];
    const intentId = payment?.payment.payment_intent as string;
    const charge = (await harness.stripe.charges.list({ payment_intent: intentId })).data[0] as Stripe.Charge;
    return { s, invoiceId, intentId, charge };
  }

  /**
   * Canceled before its Checkout page was paid, paid anyway with card `pm`: susu refunds the
   * invoice. With `dashboardMinor`, support refunds that much (all of it when null) in Stripe's
   * dashboard after susu heard of the payment and before susu's refund call reaches Stripe.
   */
  async function aLatePaymentRefundedBySusu(
    personId: string,
    pm: string,
    dashboardMinor?: number | null,
  ): Promise<Subscription> {
    const created = await subscribeThroughCheckout(personId, plan.id);
    await settle();
    const page = (await current(created.id)).start;
    if (page.kind !== "checkout" || page.sessionId === undefined)
      throw new Error("no checkout page recorded");
    (await useCases.cancelSubscription(deps, created.id, false, personId))._unsafeUnwrap();
    await harness.emulator.control.completeCheckoutSession(page.sessionId, { paymentMethod: pm });
    if (dashboardMinor !== undefined) {
      for (let events = await harness.events.next(); events.length > 0; events = await harness.events.next())
        for (const event of events) (await processWebhookEvent(event, ctx))._unsafeUnwrap();
      const invoiceId = (await current(created.id)).invoices[0]?.id as string;
      const payment = (await harness.stripe.invoicePayments.list({ invoice: invoiceId })).data[0];
      const intentId = payment?.payment.payment_intent as string;
      await harness.stripe.refunds.create({
        payment_intent: intentId,
        ...(dashboardMinor !== null ? { amount: dashboardMinor } : {}),
      });
    }
    await settle();
    const s = await current(created.id);
    expect(s.invoices[0]).toMatchObject({
      status: "paid",
      amountPaidMinor: 20_00,
      refund: { status: "succeeded" },
    });
    return s;
  }

  it("a paid membership invoice agrees with its charge at Stripe: no differences", async () => {
    const period = await window();
    await aPaidMembership("ana");
    const report = await reconciled(period());
    expect(report.differences).toEqual([]);
    expect(report.matched).toBe(1);
    expect(report.totals).toEqual([
      {
        currency: "AUD",
        category: "charge",
        susuMinor: 20_00,
        susuCount: 1,
        stripeMinor: 20_00,
        stripeCount: 1,
      },
    ]);
    // Stripe's side is totalled apart, with its fees (never a difference).
    expect(report.settlement).toEqual([
      expect.objectContaining({ currency: "AUD", amountMinor: 20_00, count: 1 }),
    ]);
  });

  it("a membership charge Stripe took that susu never booked, and a payment susu booked that Stripe never took, are differences", async () => {
    const period = await window();
    // A subscription of susu's at Stripe (its metadata names it) whose news never reached susu.
    const customer = await harness.stripe.customers.create({ name: "ghost" });
    const pm = await harness.stripe.paymentMethods.attach("pm_card_visa", { customer: customer.id });
    const price = plan.prices[0]?.stripePriceId as string;
    const unbooked = await harness.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price }],
      default_payment_method: pm.id,
      metadata: { susu_subscription_id: "sub_never_heard_of" },
    });
    await harness.events.skipExisting();
    // And a payment susu booked for an invoice Stripe never charged.
    (
      await ledger.post(
        membershipInvoicePaid({
          id: "sub_booked_only:invoice:in_never_charged:paid",
          subscriptionId: "sub_booked_only",
          invoiceId: "in_never_charged",
          amount: money(20_00, "AUD"),
          occurredAt: clock.now(),
        })._unsafeUnwrap(),
      )
    )._unsafeUnwrap();
    // A payment that is nobody's (no susu metadata, no invoice) is reported as it always was.
    const stray = await harness.stripe.paymentIntents.create({
      amount: 7_00,
      currency: "aud",
      payment_method: "pm_card_visa",
      confirm: true,
    });
    await harness.events.skipExisting();

    const report = await reconciled(period());
    const unbookedCharge = (await harness.stripe.charges.list({ customer: customer.id })).data[0];
    expect(
      report.differences.map((d) => [
        d.code,
        d.category,
        d.key,
        d.susuMinor,
        d.stripeMinor,
        d.stripeObjectIds,
      ]),
    ).toEqual(
      expect.arrayContaining([
        // Named by the charge, as every difference at Stripe is by its object.
        ["missing_in_susu", "charge", `object:${unbookedCharge?.id}`, null, 20_00, [unbookedCharge?.id]],
        ["missing_at_stripe", "charge", "membership_invoice:in_never_charged", 20_00, null, []],
        [
          "missing_in_susu",
          "charge",
          `object:${stray.latest_charge as string}`,
          null,
          7_00,
          [stray.latest_charge],
        ],
      ]),
    );
    expect(report.differences).toHaveLength(3);
    // The pull found the unbooked charge's invoice (through its PaymentIntent's invoice payment); the stray paid none.
    const stored = async (sourceId: string | undefined) =>
      (await db.prisma.stripeBalanceTransaction.findFirst({ where: { sourceId: sourceId ?? "" } }))
        ?.membershipInvoiceId;
    expect(await stored(unbookedCharge?.id)).toBe(unbooked.latest_invoice);
    expect(await stored(stray.latest_charge as string)).toBeNull();
  });

  it("susu's refund of a late payment agrees with Stripe's refund: no differences", async () => {
    const period = await window();
    await aLatePaymentRefundedBySusu("lea", "pm_card_visa");
    const report = await reconciled(period());
    expect(report.differences).toEqual([]);
    const totals = Object.fromEntries(
      report.totals.map((t) => [`${t.currency} ${t.category}`, [t.susuMinor, t.stripeMinor]]),
    );
    expect(totals).toEqual({ "AUD charge": [20_00, 20_00], "AUD refund": [-20_00, -20_00] });
  });

  it("a dashboard refund that answered susu's own refund call (booked as susu's) agrees with Stripe: no differences", async () => {
    const period = await window();
    const s = await aLatePaymentRefundedBySusu("ned", "pm_card_visa", null);
    // Booked as susu's refund, not as one outside susu: the ledger names no Stripe refund.
    expect(s.invoices[0]?.outsideRefunds?.[0]).toMatchObject({ amountMinor: 20_00, postedMinor: 0 });
    const report = await reconciled(period());
    expect(report.differences).toEqual([]);
    const totals = Object.fromEntries(
      report.totals.map((t) => [`${t.currency} ${t.category}`, [t.susuMinor, t.stripeMinor]]),
    );
    expect(totals).toEqual({ "AUD charge": [20_00, 20_00], "AUD refund": [-20_00, -20_00] });
  });

  it("a dashboard refund of part of a late payment (booked outside susu) and susu's refund of the rest agree with Stripe: no differences", async () => {
    const period = await window();
    const s = await aLatePaymentRefundedBySusu("pia", "pm_card_visa", 5_00);
    expect(s.invoices[0]?.outsideRefunds?.[0]).toMatchObject({ amountMinor: 5_00, postedMinor: 5_00 });
    const report = await reconciled(period());
    expect(report.differences).toEqual([]);
    const totals = Object.fromEntries(
      report.totals.map((t) => [`${t.currency} ${t.category}`, [t.susuMinor, t.stripeMinor]]),
    );
    expect(totals).toEqual({ "AUD charge": [20_00, 20_00], "AUD refund": [-20_00, -20_00] });
  });

  it("susu's refund that Stripe failed after its success agrees with Stripe's refund and its failure", async () => {
    const period = await window();
    await aLatePaymentRefundedBySusu("mia", "pm_card_refundFail");
    await advanceSeconds(DAY); // Stripe fails the refund; susu reverses its posting
    const report = await reconciled(period());
    expect(report.differences).toEqual([]);
    const totals = Object.fromEntries(
      report.totals.map((t) => [`${t.currency} ${t.category}`, [t.susuMinor, t.stripeMinor]]),
    );
    expect(totals).toEqual({ "AUD charge": [20_00, 20_00], "AUD refund": [0, 0] });
  });

  it("a refund made in Stripe's dashboard and a dispute lost of a membership invoice agree with Stripe: no differences", async () => {
    const period = await window();
    const { s, intentId, charge } = await aPaidMembership("oli");
    await harness.stripe.refunds.create({ payment_intent: intentId, amount: 5_00 });
    await settle();
    const dispute = await harness.emulator.control.forceDispute(charge.id, { reason: "fraudulent" });
    await settle();
    await harness.emulator.control.resolveDispute(dispute.id, "lost");
    await settle();
    expect((await current(s.id)).invoices[0]?.disputes?.[0]).toMatchObject({
      status: "lost",
      lossMinor: 15_00,
    });

    const report = await reconciled(period());
    expect(report.differences).toEqual([]);
    const totals = Object.fromEntries(
      report.totals.map((t) => [`${t.currency} ${t.category}`, [t.susuMinor, t.stripeMinor]]),
    );
    expect(totals).toEqual({
      "AUD charge": [20_00, 20_00],
      "AUD refund": [-5_00, -5_00],
      "AUD dispute": [-15_00, -15_00],
    });
  });

  /** The SDK's calls while `run` runs, by method and route (ids masked): what a pull costs at Stripe. */
  async function callsDuring(run: () => Promise<unknown>): Promise<Record<string, number>> {
    const calls: Record<string, number> = {};
    const count = (r: { method: string; path: string }) => {
      const route = `${r.method} ${r.path.replace(/\?.*/, "").replace(/\/(pi|ch|in|re|txn)_[A-Za-z0-9]+/g, "/$1_*")}`;
      calls[route] = (calls[route] ?? 0) + 1;
    };
    harness.stripe.on("response", count as never);
    try {
      await run();
    } finally {
      harness.stripe.off("response", count as never);
    }
    return calls;
  }

  it("a pull looks each membership charge's invoice up once; pulled again, it reuses what it stored and asks Stripe nothing more", async () => {
    const period = await window();
    for (const who of ["c1", "c2", "c3", "c4"]) await aPaidMembership(who);
    const first = await callsDuring(() => reconciled(period()));
    // One PaymentIntent and one invoice payment per membership charge.
    expect(first["GET /v1/payment_intents/pi_*"]).toBe(4);
    expect(first["GET /v1/invoice_payments"]).toBe(4);
    let again: ReconciliationReport | undefined;
    const second = await callsDuring(async () => {
      again = await reconciled(period());
    });
    expect(second["GET /v1/payment_intents/pi_*"] ?? 0).toBe(0);
    expect(second["GET /v1/invoice_payments"] ?? 0).toBe(0);
    expect(again?.differences).toEqual([]);
    expect(again?.matched).toBe(4);
  });

  it("an invoice look-up Stripe refuses for good is its own difference: the run completes, and a later run that can look it up clears it", async () => {
    const period = await window();
    const { invoiceId, charge } = await aPaidMembership("d1");
    // A restricted key without read access to invoice payments: 403, which the SDK does not retry.
    await harness.emulator.control.injectFault({
      route: "GET /v1/invoice_payments",
      kind: "error",
      status: 403,
    });
    let report: ReconciliationReport;
    try {
      report = await reconciled(period());
    } finally {
      await harness.emulator.control.clearFaults();
    }
    expect(report.differences.map((d) => [d.code, d.key, d.susuMinor, d.stripeMinor])).toEqual([
      ["missing_at_stripe", `membership_invoice:${invoiceId}`, 20_00, null],
      ["membership_lookup_failed", `object:${charge.id}`, null, 20_00],
    ]);
    expect(report.differences[1]?.detail).toMatch(/refused to say which membership invoice/);
    const row = await db.prisma.stripeBalanceTransaction.findFirst({ where: { sourceId: charge.id } });
    expect(row?.membershipLookupFailure).toMatch(/could not be looked up/);
    expect(row?.membershipInvoiceId).toBeNull();

    const later = await reconciled(period());
    expect(later.differences).toEqual([]);
    const again = await db.prisma.stripeBalanceTransaction.findFirst({ where: { sourceId: charge.id } });
    expect(again).toMatchObject({ membershipInvoiceId: invoiceId, membershipLookupFailure: null });
  });

  it("an invoice look-up that may pass later (5xx past the SDK's retries) fails the run: nothing is stored, the period stays due", async () => {
    const period = await window();
    await aPaidMembership("d2");
    await harness.emulator.control.injectFault({
      route: "GET /v1/invoice_payments",
      kind: "error",
      count: 3,
    });
    const before = await db.prisma.reconciliationReport.count();
    try {
      await expect(reconciled(period())).rejects.toThrow(/could not be looked up/);
    } finally {
      await harness.emulator.control.clearFaults();
    }
    expect(await db.prisma.reconciliationReport.count()).toBe(before);
  });
});
