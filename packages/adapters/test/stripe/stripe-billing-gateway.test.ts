// StripeBillingGateway through the official SDK against the emulator: a plan's product
// created safely by every price effect (a rename between them included), and a membership's
// Checkout Session expired when the membership is canceled before the page is paid, and the
// payment of an invoice paid anyway refunded in full, once.
import { money } from "@susu/domain";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  StripeBillingGateway,
  translateMembershipEvent,
  translateStripeEvent,
} from "../../src/stripe/index.js";
import { SETTLEMENT_SECONDS, type StripeHarness, startStripeHarness } from "./emulator-harness.js";

describe("StripeBillingGateway on the emulator", () => {
  let harness: StripeHarness;
  let billing: StripeBillingGateway;

  beforeAll(async () => {
    harness = await startStripeHarness();
    billing = new StripeBillingGateway(harness.stripe);
  });

  /** Susu's refund of `invoiceId`'s payments under the membership `effect`'s key. */
  const refundOf = (effect: string, invoiceId: string) =>
    billing.refundInvoicePayments({
      idempotencyKey: `${effect}:invoice:${invoiceId}:refund`,
      invoiceId,
      references: { subscriptionId: effect, invoiceId },
    });
  /** Someone else's refund of `amountMinor` of the payment, past the bank's two minutes: it ends `status`. */
  const settledRefund = async (
    paymentIntentId: string,
    amountMinor: number,
    status: "succeeded" | "failed",
  ) => {
    const refund = await harness.stripe.refunds.create({
      payment_intent: paymentIntentId,
      amount: amountMinor,
    });
    await harness.emulator.control.advanceClock(120);
    expect((await harness.stripe.refunds.retrieve(refund.id)).status).toBe(status);
  };
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

  /** The paid first invoice of the subscription a paid Checkout page started. */
  async function aPaidInvoice(
    effectId: string,
    paymentMethod = "pm_card_visa",
  ): Promise<{ invoiceId: string; paymentIntentId: string }> {
    const sessionId = await aCheckout(effectId);
    await harness.emulator.control.completeCheckoutSession(sessionId, { paymentMethod });
    const session = await harness.stripe.checkout.sessions.retrieve(sessionId);
    const sub = await harness.stripe.subscriptions.retrieve(session.subscription as string);
    const invoice = await harness.stripe.invoices.retrieve(sub.latest_invoice as string, {
      expand: ["payments"],
    });
    expect(invoice.status).toBe("paid");
    const pi = invoice.payments?.data[0]?.payment.payment_intent;
    return {
      invoiceId: invoice.id as string,
      paymentIntentId: typeof pi === "string" ? pi : (pi?.id as string),
    };
  }

  it("charges a subscription on another card: its own default_payment_method, named in the answer's snapshot, the same on a retry", async () => {
    const sessionId = await aCheckout("mbr_pm:checkout");
    await harness.emulator.control.completeCheckoutSession(sessionId, { paymentMethod: "pm_card_visa" });
    const session = await harness.stripe.checkout.sessions.retrieve(sessionId);
    const subId = session.subscription as string;
    const sub = await harness.stripe.subscriptions.retrieve(subId);
    const other = await harness.stripe.paymentMethods.attach("pm_card_mastercard", {
      customer: sub.customer as string,
    });
    const change = () =>
      billing.setSubscriptionPaymentMethod({
        idempotencyKey: "mbr_pm:payment-method:1",
        subscriptionId: subId,
        paymentMethodId: other.id,
      });
    const answer = (await change())._unsafeUnwrap();
    expect(answer).toMatchObject({ stripeSubscriptionId: subId, defaultPaymentMethodId: other.id });
    expect((await change())._unsafeUnwrap()).toMatchObject({ defaultPaymentMethodId: other.id });
    expect((await harness.stripe.subscriptions.retrieve(subId)).default_payment_method).toBe(other.id);
  });

  it("voids an open invoice so it can no longer be paid; a paid one is answered paid, not refused", async () => {
    // A membership whose first payment failed: its invoice is open.
    const { priceId } = (await price("pl_void:price:aud_month:r1", "Void", 15_00))._unsafeUnwrap();
    const customer = await harness.stripe.customers.create({ name: "vi" });
    const pm = await harness.stripe.paymentMethods.attach("pm_card_chargeCustomerFail", {
      customer: customer.id,
    });
    const started = (
      await billing.createSubscription({
        idempotencyKey: "mbr_v:create",
        customerId: customer.id,
        priceId,
        paymentMethodId: pm.id,
        trialDays: 0,
        references: { subscriptionId: "mbr_v" },
      })
    )._unsafeUnwrap();
    const sub = await harness.stripe.subscriptions.retrieve(started.stripeSubscriptionId);
    const open = await harness.stripe.invoices.retrieve(sub.latest_invoice as string);
    expect(open.status).toBe("open");
    const voided = (
      await billing.voidInvoice({ idempotencyKey: "mbr_v:invoice:a:void", invoiceId: open.id as string })
    )._unsafeUnwrap();
    expect(voided).toEqual({ status: "void" });
    expect((await harness.stripe.invoices.retrieve(open.id as string)).status).toBe("void");
    // Again under another key: void already, answered so.
    expect(
      (
        await billing.voidInvoice({ idempotencyKey: "mbr_v:invoice:a:void:2", invoiceId: open.id as string })
      )._unsafeUnwrap(),
    ).toEqual({ status: "void" });
    const { invoiceId } = await aPaidInvoice("mbr_v:checkout");
    expect(
      (await billing.voidInvoice({ idempotencyKey: "mbr_v:invoice:b:void", invoiceId }))._unsafeUnwrap(),
    ).toEqual({ status: "paid" });
  });

  it("an invoice whose BECS debit is processing is not voided and not refused: answered payment_processing, paid once the debit succeeds", async () => {
    // Stripe cannot call a bank debit back: the void waits for the debit's news (a payment
    // after the membership ended is refunded; a failed one leaves the invoice open).
    const { priceId } = (await price("pl_void_becs:price:aud_month:r1", "VoidBecs", 15_00))._unsafeUnwrap();
    const { customerId, paymentMethodId } = await harness.customerWithMandate("void_becs", "000123456");
    const started = (
      await billing.createSubscription({
        idempotencyKey: "mbr_vb:create",
        customerId,
        priceId,
        paymentMethodId,
        trialDays: 0,
        references: { subscriptionId: "mbr_vb" },
      })
    )._unsafeUnwrap();
    const sub = await harness.stripe.subscriptions.retrieve(started.stripeSubscriptionId);
    const invoiceId = sub.latest_invoice as string;
    const answer = await billing.voidInvoice({ idempotencyKey: "mbr_vb:invoice:a:void", invoiceId });
    expect(answer._unsafeUnwrap()).toEqual({ status: "payment_processing" });
    expect((await harness.stripe.invoices.retrieve(invoiceId)).status).toBe("open");
    await harness.emulator.control.advanceClock(SETTLEMENT_SECONDS);
    expect((await harness.stripe.invoices.retrieve(invoiceId)).status).toBe("paid");
  });

  it("an ended subscription's invoice whose BECS debit fails after its void was answered payment_processing: the failure is news, and a void under a new key voids it", async () => {
    // Stripe cannot void an invoice while its debit is processing; once the debit failed the
    // invoice is open again (payable by hand) and can be voided. Stripe keeps the first call's
    // refusal for its key (at least 24 hours; the debit's outcome comes days later, when it may
    // or may not be gone), so the membership asks again under a key of its own.
    const { priceId } = (await price("pl_void_fail:price:aud_month:r1", "VoidFail", 15_00))._unsafeUnwrap();
    const { customerId, paymentMethodId } = await harness.customerWithMandate("void_fail", "922222227");
    const started = (
      await billing.createSubscription({
        idempotencyKey: "mbr_vf:create",
        customerId,
        priceId,
        paymentMethodId,
        trialDays: 0,
        references: { subscriptionId: "mbr_vf" },
      })
    )._unsafeUnwrap();
    const subscriptionId = started.stripeSubscriptionId;
    const invoiceId = (await harness.stripe.subscriptions.retrieve(subscriptionId)).latest_invoice as string;
    await harness.stripe.subscriptions.cancel(subscriptionId);
    const first = await billing.voidInvoice({ idempotencyKey: "mbr_vf:invoice:a:void", invoiceId });
    expect(first._unsafeUnwrap()).toEqual({ status: "payment_processing" });
    await harness.events.skipExisting();
    await harness.emulator.control.advanceClock(SETTLEMENT_SECONDS + 600);
    // The debit failed: the ended subscription's invoice is open again, and Stripe says so.
    expect((await harness.stripe.invoices.retrieve(invoiceId)).status).toBe("open");
    const failures = (await harness.events.next())
      .map((e) => translateMembershipEvent(e))
      .flatMap((t) => (t.kind === "fact" && t.fact.kind === "invoice_payment_failed" ? [t.fact] : []));
    expect(failures).toEqual([
      expect.objectContaining({
        refs: expect.objectContaining({ subscriptionId: "mbr_vf" }),
        stripeSubscriptionId: subscriptionId,
        invoice: expect.objectContaining({ invoiceId }),
      }),
    ]);
    // Under the second call's key it voids the invoice; asked again, the same answer.
    const second = await billing.voidInvoice({ idempotencyKey: "mbr_vf:invoice:a:void:2", invoiceId });
    expect(second._unsafeUnwrap()).toEqual({ status: "void" });
    const invoice = await harness.stripe.invoices.retrieve(invoiceId);
    expect(invoice.status).toBe("void");
    expect(
      (await billing.voidInvoice({ idempotencyKey: "mbr_vf:invoice:a:void:2", invoiceId }))._unsafeUnwrap(),
    ).toEqual({ status: "void" });
  });

  it("refunds a paid invoice's payment in full, once per key, and its refund's events name the membership and invoice", async () => {
    const { invoiceId, paymentIntentId } = await aPaidInvoice("mbr_4:checkout");
    const before = (await harness.stripe.events.list({ limit: 1 })).data[0]?.id;
    const refund = () => refundOf("mbr_4", invoiceId);
    const first = (await refund())._unsafeUnwrap();
    expect(first).toEqual([
      { refundId: expect.stringMatching(/^re_/), status: "succeeded", amountMinor: 10_00 },
    ]);
    // A retry (the answer was lost) answers the same refund and makes none.
    expect((await refund())._unsafeUnwrap()).toEqual(first);
    const refunds = await harness.stripe.refunds.list({ payment_intent: paymentIntentId });
    expect(refunds.data).toHaveLength(1);
    expect(refunds.data[0]?.metadata).toEqual({
      susu_subscription_id: "mbr_4",
      susu_invoice_id: invoiceId,
      effect_id: `mbr_4:invoice:${invoiceId}:refund:${paymentIntentId}`,
    });
    const intent = await harness.stripe.paymentIntents.retrieve(paymentIntentId, {
      expand: ["latest_charge"],
    });
    expect(intent.latest_charge).toMatchObject({ refunded: true, amount_refunded: 10_00 });
    const events = await harness.stripe.events.list({
      limit: 100,
      ...(before ? { ending_before: before } : {}),
    });
    const created = events.data.find((e) => e.type === "refund.created");
    if (created === undefined) throw new Error("no refund.created");
    expect(translateStripeEvent(created)).toEqual({
      kind: "fact",
      fact: {
        kind: "refund_succeeded",
        refs: { subscriptionId: "mbr_4", invoiceId },
        refundId: first[0]?.refundId,
        amountMinor: 10_00,
      },
    });
  });

  it.each([
    ["pm_card_visa", "succeeded"],
    ["pm_card_refundPending", "pending"],
  ] as const)(
    "a payment someone else refunded already (%s, their refund %s): a settled refund answers, a pending one is retried",
    async (card, theirs) => {
      const effect = `mbr_elsewhere_${card}`;
      const { invoiceId, paymentIntentId } = await aPaidInvoice(`${effect}:checkout`, card);
      // Refunded from the dashboard: no susu metadata.
      const elsewhere = await harness.stripe.refunds.create({ payment_intent: paymentIntentId });
      expect(elsewhere.status).toBe(theirs);
      const answer = await refundOf(effect, invoiceId);
      if (theirs === "succeeded")
        expect(answer._unsafeUnwrap()).toEqual([
          { refundId: elsewhere.id, status: "succeeded", amountMinor: elsewhere.amount },
        ]);
      else
        expect(answer._unsafeUnwrapErr()).toMatchObject({
          type: "gateway_retryable",
          code: "refund_pending_elsewhere",
        });
      // Either way no second refund.
      expect((await harness.stripe.refunds.list({ payment_intent: paymentIntentId })).data).toHaveLength(1);
    },
  );

  it("a payment someone else refunds between susu's look at its refunds and its own refund: the refunds are read again, so one still pending is waited for", async () => {
    const effect = "mbr_elsewhere_race";
    const { invoiceId, paymentIntentId } = await aPaidInvoice(`${effect}:checkout`, "pm_card_refundPending");
    await settledRefund(paymentIntentId, 3_00, "succeeded");
    // The dashboard refunds the rest just after susu listed the refunds (still pending at Stripe).
    const list = harness.stripe.refunds.list.bind(harness.stripe.refunds);
    let raced = false;
    harness.stripe.refunds.list = ((...args: Parameters<typeof list>) =>
      list(...args).then(async (page) => {
        if (!raced) {
          raced = true;
          const rest = await harness.stripe.refunds.create({ payment_intent: paymentIntentId });
          expect(rest.status).toBe("pending");
        }
        return page;
      })) as typeof list;
    try {
      const answer = await refundOf(effect, invoiceId);
      expect(raced).toBe(true);
      expect(answer._unsafeUnwrapErr()).toMatchObject({
        type: "gateway_retryable",
        code: "refund_pending_elsewhere",
      });
    } finally {
      harness.stripe.refunds.list = list;
    }
  });

  it("a payment someone else refunded in two parts, one settled and one still pending: retried until both settled, then answered with what succeeded", async () => {
    const effect = "mbr_elsewhere_mixed";
    const { invoiceId, paymentIntentId } = await aPaidInvoice(`${effect}:checkout`, "pm_card_refundPending");
    await settledRefund(paymentIntentId, 4_00, "succeeded");
    const second = await harness.stripe.refunds.create({ payment_intent: paymentIntentId, amount: 6_00 });
    expect(second.status).toBe("pending");
    const refund = () => refundOf(effect, invoiceId);
    // 6.00 is still in flight: not money back yet, whatever the settled part says.
    expect((await refund())._unsafeUnwrapErr()).toMatchObject({
      type: "gateway_retryable",
      code: "refund_pending_elsewhere",
    });
    await harness.emulator.control.advanceClock(120);
    const [first] = (await harness.stripe.refunds.list({ payment_intent: paymentIntentId })).data.filter(
      (r) => r.id !== second.id,
    );
    // Each refund answers for itself, oldest first, with its own amount.
    expect((await refund())._unsafeUnwrap()).toEqual([
      { refundId: first?.id, status: "succeeded", amountMinor: 4_00 },
      { refundId: second.id, status: "succeeded", amountMinor: 6_00 },
    ]);
    expect((await harness.stripe.refunds.list({ payment_intent: paymentIntentId })).data).toHaveLength(2);
  });

  it("a payment someone else refunded after an earlier refund of theirs failed: the failed one counts nothing", async () => {
    const effect = "mbr_elsewhere_failed";
    const { invoiceId, paymentIntentId } = await aPaidInvoice(`${effect}:checkout`, "pm_card_refundFail");
    // 4.00 refunded, then failed at the bank: back on the payment, refundable again.
    await settledRefund(paymentIntentId, 4_00, "failed");
    const second = await harness.stripe.refunds.create({ payment_intent: paymentIntentId });
    expect(second).toMatchObject({ status: "succeeded", amount: 10_00 });
    const answer = await refundOf(effect, invoiceId);
    expect(answer._unsafeUnwrap()).toEqual([
      { refundId: second.id, status: "succeeded", amountMinor: 10_00 },
    ]);
    expect((await harness.stripe.refunds.list({ payment_intent: paymentIntentId })).data).toHaveLength(2);
  });

  it("a payment someone else refunded in two parts (two dashboard refunds) answers with both, each by its id with its own amount, oldest first, the same on a retry", async () => {
    const effect = "mbr_elsewhere_parts";
    const { invoiceId, paymentIntentId } = await aPaidInvoice(`${effect}:checkout`);
    const a = await harness.stripe.refunds.create({ payment_intent: paymentIntentId, amount: 4_00 });
    await harness.emulator.control.advanceClock(5);
    const b = await harness.stripe.refunds.create({ payment_intent: paymentIntentId, amount: 6_00 });
    const answer = (await refundOf(effect, invoiceId))._unsafeUnwrap();
    // Either may fail later at Stripe: the membership must know each, with its own amount.
    expect(answer).toEqual([
      { refundId: a.id, status: "succeeded", amountMinor: 4_00 },
      { refundId: b.id, status: "succeeded", amountMinor: 6_00 },
    ]);
    expect((await refundOf(effect, invoiceId))._unsafeUnwrap()).toEqual(answer);
    expect((await harness.stripe.refunds.list({ payment_intent: paymentIntentId })).data).toHaveLength(2);
  });

  it("an invoice whose payment has not settled is a retryable answer that refunds nothing", async () => {
    const customer = await harness.stripe.customers.create({ email: "open@example.test" });
    const { priceId } = (await price("pl_rename:price:aud_month:r1", "Plus", 10_00))._unsafeUnwrap();
    const sub = await harness.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: priceId }],
      payment_behavior: "default_incomplete",
    });
    const invoiceId = sub.latest_invoice as string;
    const answer = await refundOf("mbr_5", invoiceId);
    expect(answer._unsafeUnwrapErr()).toMatchObject({
      type: "gateway_retryable",
      code: "invoice_payment_not_settled",
    });
    const refunds = await harness.stripe.refunds.list({ limit: 100 });
    expect(refunds.data.filter((r) => r.metadata?.susu_subscription_id === "mbr_5")).toEqual([]);
  });

  it.each([
    ["pm_card_refundPending", "pending", "refund_succeeded"],
    ["pm_card_refundFail", "succeeded", "refund_failed"],
  ] as const)(
    "a refund that settles later (%s): answered %s, its refund.updated event is %s naming the membership and invoice",
    async (card, answered, later) => {
      const effect = `mbr_${card}`;
      const { invoiceId } = await aPaidInvoice(`${effect}:checkout`, card);
      const [outcome] = (await refundOf(effect, invoiceId))._unsafeUnwrap();
      expect(outcome?.status).toBe(answered);
      const before = (await harness.stripe.events.list({ limit: 1 })).data[0]?.id;
      await harness.emulator.control.advanceClock(120);
      const events = await harness.stripe.events.list({
        limit: 100,
        ...(before ? { ending_before: before } : {}),
      });
      const updated = events.data.filter(
        (e) => e.type === "refund.updated" && (e.data.object as { id: string }).id === outcome?.refundId,
      );
      expect(updated).toHaveLength(1);
      const translated = translateStripeEvent(updated[0] as (typeof updated)[number]);
      expect(translated).toMatchObject({
        kind: "fact",
        fact: {
          kind: later,
          refs: { subscriptionId: effect, invoiceId },
          refundId: outcome?.refundId,
          amountMinor: outcome?.amountMinor,
        },
      });
    },
  );
});
