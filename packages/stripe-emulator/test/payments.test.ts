import Stripe from "stripe";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { BECS_TEST_ACCOUNTS } from "../src/index.js";
import { becs, DAY, failure, type Harness, harness, MANDATE_DATA } from "./support.js";

const SETTLE = 3 * DAY;
let h: Harness;
beforeAll(async () => {
  h = await harness({ settlementDelaySeconds: SETTLE });
});
afterAll(async () => h.emu.stop());
beforeEach(async () => h.emu.control.reset());

async function becsDebit(accountNumber: string, amount = 5000): Promise<Stripe.PaymentIntent> {
  const customer = await h.stripe.customers.create({ email: "member@example.com" });
  return h.stripe.paymentIntents.create({
    amount,
    currency: "aud",
    customer: customer.id,
    payment_method_types: ["au_becs_debit"],
    payment_method_data: becs(accountNumber) as Stripe.PaymentIntentCreateParams.PaymentMethodData,
    mandate_data: MANDATE_DATA,
    confirm: true,
  });
}

async function balance(account?: string): Promise<{ available: number; pending: number }> {
  const b = await h.stripe.balance.retrieve({}, account ? { stripeAccount: account } : {});
  const aud = (list: Array<{ currency: string; amount: number }>) =>
    list.find((x) => x.currency === "aud")?.amount ?? 0;
  return { available: aud(b.available), pending: aud(b.pending) };
}

describe("BECS Direct Debit test numbers", () => {
  const cases: Array<
    [string, "succeeded" | "requires_payment_method", string | null, "active" | "inactive", number]
  > = [
    ["000123456", "succeeded", null, "active", SETTLE],
    ["900123456", "succeeded", null, "active", SETTLE + 180],
    ["111111113", "requires_payment_method", "account_closed", "inactive", SETTLE],
    ["111111116", "requires_payment_method", "no_account", "inactive", SETTLE],
    ["222222227", "requires_payment_method", "refer_to_customer", "active", SETTLE],
    ["922222227", "requires_payment_method", "refer_to_customer", "active", SETTLE + 180],
    ["333333335", "requires_payment_method", "debit_not_authorized", "inactive", SETTLE],
    ["444444447", "requires_payment_method", "insufficient_funds", "active", SETTLE],
  ];

  it.each(cases)(
    "%s stays processing, then ends %s (%s), mandate %s",
    async (number, status, code, mandateStatus, delay) => {
      const pi = await becsDebit(number);
      expect(pi.status).toBe("processing");
      const charge = await h.stripe.charges.retrieve(pi.latest_charge as string);
      expect(charge.status).toBe("pending");
      expect(charge.payment_method_details?.au_becs_debit?.last4).toBe(number.slice(-4));
      const mandateId = charge.payment_method_details?.au_becs_debit?.mandate as string;

      await h.emu.control.advanceClock(delay - 1);
      expect((await h.stripe.paymentIntents.retrieve(pi.id)).status).toBe("processing");
      await h.emu.control.advanceClock(1);

      const settled = await h.stripe.paymentIntents.retrieve(pi.id, { expand: ["latest_charge"] });
      expect(settled.status).toBe(status);
      expect(settled.last_payment_error?.code ?? null).toBe(code);
      expect((settled.latest_charge as Stripe.Charge).status).toBe(
        status === "succeeded" ? "succeeded" : "failed",
      );
      expect((settled.latest_charge as Stripe.Charge).failure_code).toBe(code);
      const mandate = await h.stripe.mandates.retrieve(mandateId);
      expect(mandate.status).toBe(mandateStatus);
      expect(mandate.type).toBe("multi_use");
    },
  );

  it("666666660 succeeds and is disputed at once, final and lost, debiting amount plus fee", async () => {
    const pi = await becsDebit("666666660", 10_000);
    await h.emu.control.advanceClock(SETTLE);
    const charge = await h.stripe.charges.retrieve(
      (await h.stripe.paymentIntents.retrieve(pi.id)).latest_charge as string,
    );
    expect(charge.status).toBe("succeeded");
    expect(charge.disputed).toBe(true);
    const [dispute] = (await h.stripe.disputes.list({ charge: charge.id })).data;
    expect(dispute?.status).toBe("lost");
    expect(dispute?.balance_transactions[0]?.amount).toBe(-10_000);
    expect(dispute?.balance_transactions[0]?.fee).toBeGreaterThan(0);
    const updateError = await failure(
      h.stripe.disputes.update(dispute!.id, { evidence: { uncategorized_text: "x" } }),
    );
    expect(updateError.statusCode).toBe(400);
  });

  it("covers every test number in the table it documents", () => {
    const tested = new Set(["666666660", ...cases.map((c) => c[0])]);
    expect(Object.keys(BECS_TEST_ACCOUNTS).sort()).toEqual([...tested].sort());
    expect(BECS_TEST_ACCOUNTS["444444447"]?.emulatorOnly).toBe(true);
  });

  it("settles what is due in timestamp order when the clock jumps past several debits", async () => {
    const late = await becsDebit("900123456");
    const early = await becsDebit("000123456");
    const failing = await becsDebit("111111113");
    await h.emu.control.advanceClock(10 * DAY);
    const events = (await h.stripe.events.list({ limit: 100 })).data.reverse();
    const outcomes = events
      .filter((e) => e.type === "payment_intent.succeeded" || e.type === "payment_intent.payment_failed")
      .map((e) => (e.data.object as Stripe.PaymentIntent).id);
    expect(outcomes).toEqual([early.id, failing.id, late.id]);
    const created = events.filter((e) => e.type === "payment_intent.succeeded").map((e) => e.created);
    expect(created[1]! - created[0]!).toBe(180);
  });

  it("requires a mandate and AUD", async () => {
    const customer = await h.stripe.customers.create({});
    const noMandate = await failure(
      h.stripe.paymentIntents.create({
        amount: 1000,
        currency: "aud",
        customer: customer.id,
        payment_method_types: ["au_becs_debit"],
        payment_method_data: becs("000123456") as Stripe.PaymentIntentCreateParams.PaymentMethodData,
        confirm: true,
      }),
    );
    expect(noMandate.param).toBe("mandate_data");
    const usd = await failure(
      h.stripe.paymentIntents.create({
        amount: 1000,
        currency: "usd",
        payment_method_types: ["au_becs_debit"],
        payment_method_data: becs("000123456") as Stripe.PaymentIntentCreateParams.PaymentMethodData,
        mandate_data: MANDATE_DATA,
        confirm: true,
      }),
    );
    expect(usd.param).toBe("currency");
    const noName = await failure(
      h.stripe.paymentMethods.create({
        type: "au_becs_debit",
        au_becs_debit: { bsb_number: "000000", account_number: "000123456" },
      }),
    );
    expect(noName.param).toBe("billing_details[name]");
  });

  it("debits off-session with the mandate from a SetupIntent; a mandate revoked in flight fails the debit", async () => {
    const customer = await h.stripe.customers.create({ email: "m@example.com" });
    const si = await h.stripe.setupIntents.create({
      customer: customer.id,
      payment_method_types: ["au_becs_debit"],
      payment_method_data: becs("000123456") as Stripe.SetupIntentCreateParams.PaymentMethodData,
      mandate_data: MANDATE_DATA,
      confirm: true,
    });
    expect(si.status).toBe("succeeded");
    expect(si.mandate).toMatch(/^mandate_/);
    const pm = await h.stripe.paymentMethods.retrieve(si.payment_method as string);
    expect(pm.customer).toBe(customer.id);
    const debit = () =>
      h.stripe.paymentIntents.create({
        amount: 2500,
        currency: "aud",
        customer: customer.id,
        payment_method: pm.id,
        payment_method_types: ["au_becs_debit"],
        off_session: true,
        confirm: true,
      });
    const first = await debit();
    expect(first.status).toBe("processing");
    await h.emu.control.advanceClock(SETTLE);
    expect((await h.stripe.paymentIntents.retrieve(first.id)).status).toBe("succeeded");

    const second = await debit();
    expect(second.status).toBe("processing");
    await h.emu.control.revokeMandate(si.mandate as string);
    await h.emu.control.advanceClock(SETTLE);
    const failed = await h.stripe.paymentIntents.retrieve(second.id);
    expect(failed.last_payment_error?.code).toBe("debit_not_authorized");
    const mandateEvents = await h.stripe.events.list({ type: "mandate.updated" });
    expect(mandateEvents.data).toHaveLength(1);
  });

  it("refuses a debit under an inactive mandate at once (payment_intent_mandate_invalid), keeping the answer for its key", async () => {
    // Stripe: an inactive mandate "may not be used to initiate future payments" (Mandate object);
    // using one is the error payment_intent_mandate_invalid (Stripe's error codes).
    const customer = await h.stripe.customers.create({ email: "closed@example.com" });
    const si = await h.stripe.setupIntents.create({
      customer: customer.id,
      payment_method_types: ["au_becs_debit"],
      payment_method_data: becs("111111113") as Stripe.SetupIntentCreateParams.PaymentMethodData,
      mandate_data: MANDATE_DATA,
      confirm: true,
    });
    const params: Stripe.PaymentIntentCreateParams = {
      amount: 2500,
      currency: "aud",
      customer: customer.id,
      payment_method: si.payment_method as string,
      mandate: si.mandate as string,
      payment_method_types: ["au_becs_debit"],
      off_session: true,
      confirm: true,
    };
    const first = await h.stripe.paymentIntents.create(params);
    await h.emu.control.advanceClock(SETTLE);
    expect((await h.stripe.paymentIntents.retrieve(first.id)).last_payment_error?.code).toBe(
      "account_closed",
    );
    expect((await h.stripe.mandates.retrieve(si.mandate as string)).status).toBe("inactive");

    const pending = (await balance()).pending;
    const refused = await failure(h.stripe.paymentIntents.create(params, { idempotencyKey: "retry-1" }));
    expect(refused).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(refused.statusCode).toBe(400);
    expect(refused.code).toBe("payment_intent_mandate_invalid");
    expect(refused.param).toBe("mandate");
    const refusedPi = refused.payment_intent as Stripe.PaymentIntent;
    expect(refusedPi.status).toBe("requires_payment_method");
    expect(refusedPi.latest_charge).toBeNull();
    // Nothing was submitted to the bank: no charge, no pending funds, no processing event.
    expect((await balance()).pending).toBe(pending);
    expect((await h.stripe.charges.list({ payment_intent: refusedPi.id })).data).toHaveLength(0);
    // The same key answers the same refusal, without a second PaymentIntent.
    const again = await failure(h.stripe.paymentIntents.create(params, { idempotencyKey: "retry-1" }));
    expect((again.payment_intent as Stripe.PaymentIntent).id).toBe(refusedPi.id);
    expect((await h.stripe.paymentIntents.list({ customer: customer.id })).data).toHaveLength(2);
  });
});

describe("cards", () => {
  it("pm_card_visa succeeds at once with a charge net of fees, pending until the availability delay", async () => {
    const pi = await h.stripe.paymentIntents.create({
      amount: 10_000,
      currency: "aud",
      payment_method: "pm_card_visa",
      confirm: true,
      expand: ["latest_charge.balance_transaction"],
    });
    expect(pi.status).toBe("succeeded");
    expect(pi.amount_received).toBe(10_000);
    const txn = (pi.latest_charge as Stripe.Charge).balance_transaction as Stripe.BalanceTransaction;
    expect(txn.type).toBe("charge");
    expect(txn.fee).toBe(205);
    expect(txn.net).toBe(10_000 - 205);
    expect(txn.status).toBe("pending");
    expect(await balance()).toEqual({ available: 0, pending: 9795 });
    await h.emu.control.advanceClock(2 * DAY);
    expect(await balance()).toEqual({ available: 9795, pending: 0 });
    expect((await h.stripe.balanceTransactions.retrieve(txn.id)).status).toBe("available");
  });

  it("pm_card_bypassPending makes funds available at once", async () => {
    await h.stripe.paymentIntents.create({
      amount: 5000,
      currency: "aud",
      payment_method: "pm_card_bypassPending",
      confirm: true,
    });
    expect((await balance()).available).toBe(5000 - 118);
  });

  it.each([
    ["pm_card_chargeDeclined", "card_declined", "generic_decline"],
    ["pm_card_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds"],
    ["pm_card_chargeDeclinedExpiredCard", "expired_card", "expired_card"],
    ["pm_card_chargeDeclinedProcessingError", "processing_error", "processing_error"],
  ])(
    "%s is a card error (402) that leaves the PaymentIntent requiring a payment method",
    async (pm, code, declineCode) => {
      const error = await failure(
        h.stripe.paymentIntents.create({ amount: 1000, currency: "aud", payment_method: pm, confirm: true }),
      );
      expect(error).toBeInstanceOf(Stripe.errors.StripeCardError);
      expect(error.statusCode).toBe(402);
      expect(error.code).toBe(code);
      expect(error.decline_code).toBe(declineCode);
      const pi = await h.stripe.paymentIntents.retrieve(error.payment_intent!.id);
      expect(pi.status).toBe("requires_payment_method");
      expect(pi.last_payment_error?.decline_code).toBe(declineCode);
      const charge = await h.stripe.charges.retrieve(pi.latest_charge as string);
      expect(charge.status).toBe("failed");
      expect(charge.balance_transaction).toBeNull();
      const retried = await h.stripe.paymentIntents.confirm(pi.id, { payment_method: "pm_card_visa" });
      expect(retried.status).toBe("succeeded");
    },
  );

  it("pm_card_createDispute succeeds, then a dispute withdraws amount plus fee; winning evidence reinstates it", async () => {
    const pi = await h.stripe.paymentIntents.create({
      amount: 4000,
      currency: "aud",
      payment_method: "pm_card_createDispute",
      confirm: true,
    });
    const [dispute] = (await h.stripe.disputes.list({ payment_intent: pi.id })).data;
    expect(dispute?.status).toBe("needs_response");
    expect(dispute?.reason).toBe("fraudulent");
    const before = await balance();
    expect(before.available).toBe(-4000 - 2500);
    const won = await h.stripe.disputes.update(dispute!.id, {
      evidence: { uncategorized_text: "winning_evidence" },
    });
    expect(won.status).toBe("won");
    expect((await balance()).available).toBe(-2500);
    const types = (
      await h.stripe.events.list({ types: ["charge.dispute.*"] } as Stripe.EventListParams)
    ).data.map((e) => e.type);
    expect(types).toEqual([
      "charge.dispute.closed",
      "charge.dispute.funds_reinstated",
      "charge.dispute.updated",
      "charge.dispute.funds_withdrawn",
      "charge.dispute.created",
    ]);
  });

  it("a forced dispute on any charge can be lost, keeping the funds withdrawn", async () => {
    const pi = await h.stripe.paymentIntents.create({
      amount: 3000,
      currency: "aud",
      payment_method: "pm_card_bypassPending",
      confirm: true,
    });
    const dispute = await h.emu.control.forceDispute(pi.latest_charge as string, {
      reason: "product_not_received",
    });
    expect(dispute.status).toBe("needs_response");
    expect(dispute.reason).toBe("product_not_received");
    const refund = await failure(h.stripe.refunds.create({ payment_intent: pi.id }));
    expect(refund.code).toBe("charge_disputed");
    const lost = await h.emu.control.resolveDispute(dispute.id, "lost");
    expect(lost.status).toBe("lost");
    expect((await balance()).available).toBe(3000 - 83 - 3000 - 2500);
    expect((await h.stripe.events.list({ type: "charge.dispute.closed" })).data).toHaveLength(1);
    await expect(h.emu.control.forceDispute(pi.latest_charge as string)).rejects.toThrow(/already disputed/);
  });

  it("only captured money can be disputed: an authorisation is refused, a partial capture disputes what was captured and not refunded", async () => {
    const pi = await h.stripe.paymentIntents.create({
      amount: 3000,
      currency: "aud",
      payment_method: "pm_card_bypassPending",
      capture_method: "manual",
      confirm: true,
    });
    const chargeId = pi.latest_charge as string;
    await expect(h.emu.control.forceDispute(chargeId)).rejects.toThrow(/not been captured/);
    expect((await h.stripe.disputes.list()).data).toEqual([]);
    expect(await balance()).toEqual({ available: 0, pending: 0 });
    await h.stripe.paymentIntents.capture(pi.id, { amount_to_capture: 2000 });
    await h.stripe.refunds.create({ payment_intent: pi.id, amount: 500 });
    const dispute = await h.emu.control.forceDispute(chargeId);
    expect(dispute.amount).toBe(1500);
    // Captured 2000 less its fee, 500 refunded, 1500 withdrawn and the dispute fee.
    expect(await balance()).toEqual({ available: 2000 - 65 - 500 - 1500 - 2500, pending: 0 });
  });

  it("a declining card fails a SetupIntent with a card error", async () => {
    const customer = await h.stripe.customers.create({});
    const error = await failure(
      h.stripe.setupIntents.create({
        customer: customer.id,
        payment_method: "pm_card_chargeDeclined",
        confirm: true,
      }),
    );
    expect(error).toBeInstanceOf(Stripe.errors.StripeCardError);
    const si = await h.stripe.setupIntents.retrieve(
      (error.raw as { setup_intent: { id: string } }).setup_intent.id,
    );
    expect(si.status).toBe("requires_payment_method");
    expect(si.last_setup_error?.decline_code).toBe("generic_decline");
    expect((await h.stripe.events.list({ type: "setup_intent.setup_failed" })).data).toHaveLength(1);
    const ok = await h.stripe.setupIntents.create({
      customer: customer.id,
      payment_method: "pm_card_visa",
      confirm: true,
    });
    expect(ok.status).toBe("succeeded");
    expect((await h.stripe.paymentMethods.retrieve(ok.payment_method as string)).customer).toBe(customer.id);
  });

  it("pm_card_chargeCustomerFail attaches to a customer but its charges decline", async () => {
    const customer = await h.stripe.customers.create({});
    const pm = await h.stripe.paymentMethods.attach("pm_card_chargeCustomerFail", { customer: customer.id });
    expect(pm.customer).toBe(customer.id);
    const declined = await failure(
      h.stripe.paymentMethods.attach("pm_card_chargeDeclined", { customer: customer.id }),
    );
    expect(declined).toBeInstanceOf(Stripe.errors.StripeCardError);
    const error = await failure(
      h.stripe.paymentIntents.create({
        amount: 1000,
        currency: "aud",
        customer: customer.id,
        payment_method: pm.id,
        off_session: true,
        confirm: true,
      }),
    );
    expect(error.decline_code).toBe("generic_decline");
  });

  it("3D Secure cards require action on-session and decline off-session", async () => {
    const pi = await h.stripe.paymentIntents.create({
      amount: 1000,
      currency: "aud",
      payment_method: "pm_card_authenticationRequired",
      confirm: true,
    });
    expect(pi.status).toBe("requires_action");
    expect(pi.next_action?.type).toBe("use_stripe_sdk");
    expect((await h.emu.control.authenticatePaymentIntent(pi.id)).status).toBe("succeeded");
    const off = await failure(
      h.stripe.paymentIntents.create({
        amount: 1000,
        currency: "aud",
        payment_method: "pm_card_authenticationRequired",
        off_session: true,
        confirm: true,
      }),
    );
    expect(off.code).toBe("authentication_required");
  });

  it("captures manually, partially, and cancels an authorization", async () => {
    const pi = await h.stripe.paymentIntents.create({
      amount: 3000,
      currency: "aud",
      payment_method: "pm_card_visa",
      capture_method: "manual",
      confirm: true,
    });
    expect(pi.status).toBe("requires_capture");
    expect(pi.amount_capturable).toBe(3000);
    expect(await balance()).toEqual({ available: 0, pending: 0 });
    const captured = await h.stripe.paymentIntents.capture(pi.id, { amount_to_capture: 2000 });
    expect(captured.status).toBe("succeeded");
    expect(captured.amount_received).toBe(2000);
    expect((await balance()).pending).toBe(2000 - 65);
    const other = await h.stripe.paymentIntents.create({
      amount: 3000,
      currency: "aud",
      payment_method: "pm_card_visa",
      capture_method: "manual",
      confirm: true,
    });
    const canceled = await h.stripe.paymentIntents.cancel(other.id);
    expect(canceled.status).toBe("canceled");
    const notCancelable = await failure(h.stripe.paymentIntents.cancel(captured.id));
    expect(notCancelable.code).toBe("payment_intent_unexpected_state");
  });

  it("follows the PaymentIntent lifecycle: create, update, confirm, and refuses to confirm twice", async () => {
    const pi = await h.stripe.paymentIntents.create({
      amount: 1200,
      currency: "aud",
      metadata: { booking: "b1" },
    });
    expect(pi.status).toBe("requires_payment_method");
    expect(pi.client_secret).toMatch(new RegExp(`^${pi.id}_secret_`));
    const noPm = await failure(h.stripe.paymentIntents.confirm(pi.id));
    expect(noPm.code).toBe("payment_intent_unexpected_state");
    const updated = await h.stripe.paymentIntents.update(pi.id, {
      amount: 1300,
      payment_method: "pm_card_visa",
    });
    expect(updated.status).toBe("requires_confirmation");
    const confirmed = await h.stripe.paymentIntents.confirm(pi.id);
    expect(confirmed.status).toBe("succeeded");
    expect(confirmed.amount_received).toBe(1300);
    const twice = await failure(h.stripe.paymentIntents.confirm(pi.id));
    expect(twice.code).toBe("payment_intent_unexpected_state");
    const charges = await h.stripe.charges.list({ payment_intent: pi.id });
    expect(charges.data[0]?.metadata).toEqual({ booking: "b1" });
  });

  it("an update refused for its amount changes nothing, and a new currency is checked against the amount", async () => {
    const pi = await h.stripe.paymentIntents.create({ amount: 1200, currency: "aud" });
    // 10 yen is below Stripe's minimum (¥50): refused, and the currency stays AUD.
    const tooSmall = await failure(h.stripe.paymentIntents.update(pi.id, { currency: "jpy", amount: 10 }));
    expect(tooSmall.code).toBe("amount_too_small");
    expect(await h.stripe.paymentIntents.retrieve(pi.id)).toMatchObject({ currency: "aud", amount: 1200 });
    // A three-decimal currency needs amounts ending in 0: 1205 KWD-fils is refused as is.
    const odd = await h.stripe.paymentIntents.create({ amount: 1205, currency: "aud" });
    const refused = await failure(h.stripe.paymentIntents.update(odd.id, { currency: "kwd" }));
    expect(refused.code).toBe("invalid_amount");
    expect((await h.stripe.paymentIntents.retrieve(odd.id)).currency).toBe("aud");
  });

  it("saves the card to the customer with setup_future_usage", async () => {
    const customer = await h.stripe.customers.create({});
    const pi = await h.stripe.paymentIntents.create({
      amount: 1000,
      currency: "aud",
      customer: customer.id,
      payment_method: "pm_card_visa",
      setup_future_usage: "off_session",
      confirm: true,
    });
    const saved = await h.stripe.customers.listPaymentMethods(customer.id);
    expect(saved.data.map((p) => p.id)).toEqual([pi.payment_method]);
    const events = await h.stripe.events.list({ type: "payment_method.attached" });
    expect(events.data).toHaveLength(1);
  });
});

describe("refunds", () => {
  it("refunds partially then fully, and refuses more than what is left", async () => {
    const pi = await h.stripe.paymentIntents.create({
      amount: 5000,
      currency: "aud",
      payment_method: "pm_card_bypassPending",
      confirm: true,
    });
    const partial = await h.stripe.refunds.create({ payment_intent: pi.id, amount: 2000 });
    expect(partial.status).toBe("succeeded");
    expect((await h.stripe.charges.retrieve(pi.latest_charge as string)).amount_refunded).toBe(2000);
    const tooMuch = await failure(h.stripe.refunds.create({ payment_intent: pi.id, amount: 3001 }));
    expect(tooMuch.code).toBe("amount_too_large");
    const rest = await h.stripe.refunds.create({ charge: pi.latest_charge as string });
    expect(rest.amount).toBe(3000);
    const charge = await h.stripe.charges.retrieve(pi.latest_charge as string);
    expect(charge.refunded).toBe(true);
    expect((await failure(h.stripe.refunds.create({ charge: charge.id }))).code).toBe(
      "charge_already_refunded",
    );
    expect((await balance()).available).toBe(5000 - 118 - 5000);
    expect((await h.stripe.refunds.list({ payment_intent: pi.id })).data).toHaveLength(2);
  });

  it("a refund on a processing BECS debit waits, then goes through when the debit succeeds", async () => {
    const pi = await becsDebit("000123456", 8000);
    const refund = await h.stripe.refunds.create({ payment_intent: pi.id, amount: 3000 });
    expect(refund.status).toBe("pending");
    expect(refund.balance_transaction).toBeNull();
    await h.emu.control.advanceClock(SETTLE);
    const done = await h.stripe.refunds.retrieve(refund.id);
    expect(done.status).toBe("succeeded");
    expect(done.balance_transaction).toMatch(/^txn_/);
  });

  it("a refund on a processing BECS debit is cancelled when the debit fails", async () => {
    const pi = await becsDebit("111111116", 8000);
    const refund = await h.stripe.refunds.create({ payment_intent: pi.id });
    await h.emu.control.advanceClock(SETTLE);
    expect((await h.stripe.refunds.retrieve(refund.id)).status).toBe("canceled");
    const charge = await h.stripe.charges.retrieve(pi.latest_charge as string);
    expect(charge.amount_refunded).toBe(0);
    expect(await balance()).toEqual({ available: 0, pending: 0 });
    const types = (await h.stripe.events.list({ type: "charge.refund.updated" })).data;
    expect((types[0]!.data.object as Stripe.Refund).status).toBe("canceled");
  });
});

describe("customers and payment methods", () => {
  it("creates, updates, lists by email, attaches and detaches, deletes", async () => {
    const customer = await h.stripe.customers.create({ email: "x@example.com", name: "X" });
    await h.stripe.customers.create({ email: "y@example.com" });
    expect((await h.stripe.customers.list({ email: "x@example.com" })).data.map((c) => c.id)).toEqual([
      customer.id,
    ]);
    const pm = await h.stripe.paymentMethods.create(becs("000123456"));
    expect(pm.au_becs_debit?.bsb_number).toBe("000000");
    expect(pm.au_becs_debit?.last4).toBe("3456");
    await h.stripe.paymentMethods.attach(pm.id, { customer: customer.id });
    const updated = await h.stripe.customers.update(customer.id, {
      invoice_settings: { default_payment_method: pm.id },
    });
    expect(updated.invoice_settings.default_payment_method).toBe(pm.id);
    expect((await h.stripe.paymentMethods.list({ customer: customer.id })).data).toHaveLength(1);
    const detached = await h.stripe.paymentMethods.detach(pm.id);
    expect(detached.customer).toBeNull();
    const deleted = await h.stripe.customers.del(customer.id);
    expect(deleted.deleted).toBe(true);
    expect((await h.stripe.customers.retrieve(customer.id)).deleted).toBe(true);
    const types = (await h.stripe.events.list()).data.map((e) => e.type);
    expect(types).toContain("payment_method.detached");
    expect(types).toContain("customer.deleted");
  });
});

describe("create-and-confirm refused by a 400", () => {
  // A refused create-and-confirm leaves no PaymentIntent (nor its payment_method_data method,
  // nor an event). Stripe keeps the answer for an idempotency key once the endpoint began
  // executing, and saves nothing when the incoming parameters fail validation ("Idempotent
  // requests"): a refusal that looked at objects (the payment method's type or customer, the
  // destination's capabilities) is replayed; a missing parameter is not.
  async function intentsAndMethods(): Promise<{ intents: number; created: number; methods: number }> {
    return {
      intents: (await h.stripe.paymentIntents.list({ limit: 100 })).data.length,
      created: (await h.stripe.events.list({ type: "payment_intent.created" })).data.length,
      methods: (await h.stripe.paymentMethods.list({ limit: 100 } as Stripe.PaymentMethodListParams)).data
        .length,
    };
  }

  /**
   * Sends `params` twice with one key: both 400, nothing left behind, and the second a replay
   * unless the refusal was the parameters' own validation (`kept` false).
   */
  async function refusedTwice(
    params: Stripe.PaymentIntentCreateParams,
    key: string,
    kept = true,
  ): Promise<Stripe.errors.StripeError> {
    const before = await intentsAndMethods();
    const first = await failure(h.stripe.paymentIntents.create(params, { idempotencyKey: key }));
    const again = await failure(h.stripe.paymentIntents.create(params, { idempotencyKey: key }));
    expect([first.statusCode, again.statusCode]).toEqual([400, 400]);
    expect(first).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(again.code).toBe(first.code);
    expect(again.headers?.["idempotent-replayed"]).toBe(kept ? "true" : undefined);
    expect(first.payment_intent).toBeUndefined();
    expect(await intentsAndMethods()).toEqual(before);
    return first;
  }

  it("a create-and-confirm refused with a 400 leaves no PaymentIntent a retry with its key would double", async () => {
    const customer = await h.stripe.customers.create({});
    const params: Stripe.PaymentIntentCreateParams = {
      amount: 1000,
      currency: "aud",
      customer: customer.id,
      payment_method_types: ["au_becs_debit"],
      payment_method_data: becs("000123456") as Stripe.PaymentIntentCreateParams.PaymentMethodData,
      confirm: true, // no mandate_data: refused (parameter_missing)
    };
    const first = await failure(h.stripe.paymentIntents.create(params, { idempotencyKey: "debit-1" }));
    const again = await failure(h.stripe.paymentIntents.create(params, { idempotencyKey: "debit-1" }));
    expect([first.statusCode, again.statusCode]).toEqual([400, 400]);
    expect([first.code, first.param]).toEqual(["parameter_missing", "mandate_data"]);
    expect((await h.stripe.paymentIntents.list({ customer: customer.id })).data.length).toBe(0);
    expect((await h.stripe.events.list({ type: "payment_intent.created" })).data.length).toBe(0);
    expect((await h.stripe.paymentMethods.list({} as Stripe.PaymentMethodListParams)).data.length).toBe(0);
    // The key was not kept: the corrected request (other parameters) runs under it, once.
    const fixed = await h.stripe.paymentIntents.create(
      { ...params, mandate_data: MANDATE_DATA },
      { idempotencyKey: "debit-1" },
    );
    expect(fixed.status).toBe("processing");
    expect((await h.stripe.paymentIntents.list({ customer: customer.id })).data.map((p) => p.id)).toEqual([
      fixed.id,
    ]);
    expect((await h.stripe.events.list({ type: "payment_intent.created" })).data.length).toBe(1);
  });

  it("a BECS debit in another currency than AUD creates nothing", async () => {
    const customer = await h.stripe.customers.create({});
    const error = await refusedTwice(
      {
        amount: 1000,
        currency: "usd",
        customer: customer.id,
        payment_method_types: ["au_becs_debit"],
        payment_method_data: becs("000123456") as Stripe.PaymentIntentCreateParams.PaymentMethodData,
        mandate_data: MANDATE_DATA,
        confirm: true,
      },
      "usd-1",
    );
    expect([error.code, error.param]).toEqual(["payment_intent_invalid_parameter", "currency"]);
  });

  it("payment_method_data missing its billing details creates nothing", async () => {
    const customer = await h.stripe.customers.create({});
    const error = await refusedTwice(
      {
        amount: 1000,
        currency: "aud",
        customer: customer.id,
        payment_method_types: ["au_becs_debit"],
        payment_method_data: {
          type: "au_becs_debit",
          au_becs_debit: { bsb_number: "000000", account_number: "000123456" },
        },
        mandate_data: MANDATE_DATA,
        confirm: true,
      },
      "no-name-1",
      false,
    );
    expect(error.code).toBe("parameter_missing");
    expect(error.param).toBe("payment_method_data[billing_details][name]");
  });

  it("a payment method of another customer (or of a customer, with none on the intent) creates nothing", async () => {
    const payer = await h.stripe.customers.create({});
    const other = await h.stripe.customers.create({});
    const pm = await h.stripe.paymentMethods.create({ type: "card", card: { token: "tok_visa" } });
    await h.stripe.paymentMethods.attach(pm.id, { customer: other.id });
    const params: Stripe.PaymentIntentCreateParams = {
      amount: 1000,
      currency: "aud",
      customer: payer.id,
      payment_method: pm.id,
      confirm: true,
    };
    const error = await refusedTwice(params, "other-1");
    expect([error.code, error.param]).toEqual(["payment_intent_invalid_parameter", "payment_method"]);
    expect(error.message).toContain("different Customer");
    const { customer: _, ...anonymous } = params;
    const noCustomer = await refusedTwice(anonymous, "other-2");
    expect(noCustomer.message).toContain("previously attached to a Customer");
    expect((await h.stripe.paymentMethods.retrieve(pm.id)).customer).toBe(other.id);
  });

  it("a destination without an active transfers capability creates nothing", async () => {
    const account = await h.stripe.accounts.create({
      type: "express",
      country: "AU",
      capabilities: { transfers: { requested: true } },
    });
    expect(account.capabilities?.transfers).toBe("inactive");
    const error = await refusedTwice(
      {
        amount: 1000,
        currency: "aud",
        payment_method: "pm_card_visa",
        transfer_data: { destination: account.id },
        confirm: true,
      },
      "dest-1",
    );
    expect(error.code).toBe("insufficient_capabilities_for_transfer");
    expect((await h.stripe.charges.list()).data).toHaveLength(0);
  });

  it("a payment method type the intent does not allow, or no payment method at all, creates nothing", async () => {
    const wrongType = await refusedTwice(
      {
        amount: 1000,
        currency: "aud",
        payment_method_types: ["au_becs_debit"],
        payment_method: "pm_card_visa",
        confirm: true,
      },
      "type-1",
    );
    expect(wrongType.code).toBe("payment_intent_incompatible_payment_method");
    const none = await refusedTwice({ amount: 1000, currency: "aud", confirm: true }, "none-1");
    expect(none.code).toBe("payment_intent_unexpected_state");
  });

  it("confirming an existing intent refused with a 400 leaves it as it was and makes no payment method", async () => {
    const customer = await h.stripe.customers.create({});
    const pi = await h.stripe.paymentIntents.create({
      amount: 1000,
      currency: "aud",
      customer: customer.id,
      payment_method_types: ["au_becs_debit"],
    });
    const before = await intentsAndMethods();
    const refused = await failure(
      h.stripe.paymentIntents.confirm(pi.id, {
        payment_method_data: becs("000123456") as Stripe.PaymentIntentConfirmParams.PaymentMethodData,
        setup_future_usage: "off_session",
      }),
    );
    expect([refused.statusCode, refused.code]).toEqual([400, "parameter_missing"]);
    expect(await intentsAndMethods()).toEqual(before);
    const after = await h.stripe.paymentIntents.retrieve(pi.id);
    expect([after.status, after.payment_method, after.setup_future_usage]).toEqual([
      "requires_payment_method",
      null,
      null,
    ]);
  });

  it("a card decline is different: the PaymentIntent exists, the 402 names it and is kept for the key", async () => {
    const params = { amount: 2000, currency: "aud", payment_method: "pm_card_chargeDeclined", confirm: true };
    const first = await failure(h.stripe.paymentIntents.create(params, { idempotencyKey: "declined-1" }));
    const again = await failure(h.stripe.paymentIntents.create(params, { idempotencyKey: "declined-1" }));
    expect([first.statusCode, again.statusCode]).toEqual([402, 402]);
    expect(again.headers?.["idempotent-replayed"]).toBe("true");
    const pi = first.payment_intent as Stripe.PaymentIntent;
    expect(pi.status).toBe("requires_payment_method");
    expect((again.payment_intent as Stripe.PaymentIntent).id).toBe(pi.id);
    expect(await intentsAndMethods()).toEqual({ intents: 1, created: 1, methods: 1 });
    expect((await h.stripe.paymentIntents.retrieve(pi.id)).last_payment_error?.code).toBe("card_declined");
  });
});

describe("SetupIntent create-and-confirm refused by a 400", () => {
  async function left(): Promise<{ intents: number; created: number; methods: number }> {
    return {
      intents: (await h.stripe.setupIntents.list({ limit: 100 })).data.length,
      created: (await h.stripe.events.list({ type: "setup_intent.created" })).data.length,
      methods: (await h.stripe.paymentMethods.list({ limit: 100 } as Stripe.PaymentMethodListParams)).data
        .length,
    };
  }

  /** As for PaymentIntents: replayed unless the parameters' own validation refused (`kept` false). */
  async function refusedTwice(
    params: Stripe.SetupIntentCreateParams,
    key: string,
    kept = true,
  ): Promise<Stripe.errors.StripeError> {
    const before = await left();
    const first = await failure(h.stripe.setupIntents.create(params, { idempotencyKey: key }));
    const again = await failure(h.stripe.setupIntents.create(params, { idempotencyKey: key }));
    expect([first.statusCode, again.statusCode]).toEqual([400, 400]);
    expect(again.code).toBe(first.code);
    expect(again.headers?.["idempotent-replayed"]).toBe(kept ? "true" : undefined);
    expect(await left()).toEqual(before);
    return first;
  }

  it("a BECS setup without mandate_data creates no SetupIntent, method or event", async () => {
    const customer = await h.stripe.customers.create({});
    const params: Stripe.SetupIntentCreateParams = {
      customer: customer.id,
      payment_method_types: ["au_becs_debit"],
      payment_method_data: becs("000123456") as Stripe.SetupIntentCreateParams.PaymentMethodData,
      confirm: true,
    };
    const error = await refusedTwice(params, "setup-1", false);
    expect([error.code, error.param]).toEqual(["parameter_missing", "mandate_data"]);
    expect(await left()).toEqual({ intents: 0, created: 0, methods: 0 });
    const incomplete = await refusedTwice(
      { ...params, mandate_data: { customer_acceptance: { type: "online" } } },
      "setup-2",
      false,
    );
    expect(incomplete.param).toBe("mandate_data[customer_acceptance][online][ip_address]");
    const fixed = await h.stripe.setupIntents.create(
      { ...params, mandate_data: MANDATE_DATA },
      { idempotencyKey: "setup-1" },
    );
    expect(fixed.status).toBe("succeeded");
    expect(await left()).toEqual({ intents: 1, created: 1, methods: 1 });
  });

  it("a payment method of another customer, a type not allowed, or none at all creates nothing", async () => {
    const payer = await h.stripe.customers.create({});
    const other = await h.stripe.customers.create({});
    const pm = await h.stripe.paymentMethods.create({ type: "card", card: { token: "tok_visa" } });
    await h.stripe.paymentMethods.attach(pm.id, { customer: other.id });
    const taken = await refusedTwice({ customer: payer.id, payment_method: pm.id, confirm: true }, "taken-1");
    expect(taken.code).toBe("payment_method_unexpected_state");
    expect((await h.stripe.paymentMethods.retrieve(pm.id)).customer).toBe(other.id);
    const wrongType = await refusedTwice(
      {
        customer: payer.id,
        payment_method_types: ["au_becs_debit"],
        payment_method: "pm_card_visa",
        confirm: true,
      },
      "type-1",
    );
    expect(wrongType.code).toBe("setup_intent_invalid_parameter");
    const none = await refusedTwice({ customer: payer.id, confirm: true }, "none-1");
    expect(none.code).toBe("setup_intent_unexpected_state");
  });
});
