import type Stripe from "stripe";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { becs, DAY, type Harness, harness, MANDATE_DATA } from "./support.js";

const SETTLE = 3 * DAY;
const AVAILABLE = 2 * DAY;
let h: Harness;
beforeAll(async () => {
  h = await harness({ settlementDelaySeconds: SETTLE, availabilityDelaySeconds: AVAILABLE });
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

async function txnsOf(source: string, account?: string): Promise<Stripe.BalanceTransaction[]> {
  const list = await h.stripe.balanceTransactions.list(
    { source, limit: 100 },
    account ? { stripeAccount: account } : {},
  );
  return list.data;
}

describe("balance transactions of non-card payments", () => {
  it("a BECS debit books a pending `payment` when submitted, available after settlement", async () => {
    const pi = await becsDebit("000123456", 10_000);
    const charge = await h.stripe.charges.retrieve(pi.latest_charge as string, {
      expand: ["balance_transaction"],
    });
    const txn = charge.balance_transaction as Stripe.BalanceTransaction;
    expect(txn.type).toBe("payment");
    expect(txn.status).toBe("pending");
    expect(txn.amount).toBe(10_000);
    expect(txn.fee).toBe(130); // 1% + 30c
    expect(txn.available_on).toBe(charge.created + SETTLE + AVAILABLE);
    expect(await balance()).toEqual({ available: 0, pending: 9870 });

    await h.emu.control.advanceClock(SETTLE);
    expect((await h.stripe.paymentIntents.retrieve(pi.id)).status).toBe("succeeded");
    expect(await balance()).toEqual({ available: 0, pending: 9870 });
    await h.emu.control.advanceClock(AVAILABLE);
    expect(await balance()).toEqual({ available: 9870, pending: 0 });
    expect((await h.stripe.balanceTransactions.retrieve(txn.id)).status).toBe("available");
  });

  it("a failed BECS debit adds a `payment_failure_refund` that cancels the pending payment", async () => {
    const pi = await becsDebit("111111113", 10_000);
    await h.emu.control.advanceClock(SETTLE);
    const charge = await h.stripe.charges.retrieve(pi.latest_charge as string);
    expect(charge.status).toBe("failed");
    const failure = await h.stripe.balanceTransactions.retrieve(charge.failure_balance_transaction as string);
    expect(failure).toMatchObject({
      type: "payment_failure_refund",
      amount: -10_000,
      fee: -130,
      net: -9870,
      source: charge.id,
    });
    expect((await txnsOf(charge.id)).map((t) => t.type).sort()).toEqual([
      "payment",
      "payment_failure_refund",
    ]);
    expect(await balance()).toEqual({ available: 0, pending: 0 });
    await h.emu.control.advanceClock(AVAILABLE);
    expect(await balance()).toEqual({ available: 0, pending: 0 });
  });

  it("refunds of BECS debits are `payment_refund`; card charges keep `charge` and `refund`", async () => {
    const pi = await becsDebit("000123456", 10_000);
    await h.emu.control.advanceClock(SETTLE + AVAILABLE);
    const refund = await h.stripe.refunds.create({ payment_intent: pi.id, amount: 4000 });
    const refundTxn = await h.stripe.balanceTransactions.retrieve(refund.balance_transaction as string);
    expect(refundTxn).toMatchObject({ type: "payment_refund", amount: -4000 });

    const card = await h.stripe.paymentIntents.create({
      amount: 2000,
      currency: "aud",
      payment_method: "pm_card_bypassPending",
      payment_method_types: ["card"],
      confirm: true,
    });
    const cardCharge = await h.stripe.charges.retrieve(card.latest_charge as string, {
      expand: ["balance_transaction"],
    });
    expect((cardCharge.balance_transaction as Stripe.BalanceTransaction).type).toBe("charge");
    const cardRefund = await h.stripe.refunds.create({ charge: cardCharge.id });
    expect((await h.stripe.balanceTransactions.retrieve(cardRefund.balance_transaction as string)).type).toBe(
      "refund",
    );
    const payments = await h.stripe.balanceTransactions.list({ type: "payment" });
    expect(payments.data).toHaveLength(1);
  });
});

describe("asynchronous refund test cards", () => {
  async function cardCharge(paymentMethod: string, amount = 3000): Promise<Stripe.Charge> {
    const pi = await h.stripe.paymentIntents.create({
      amount,
      currency: "aud",
      payment_method: paymentMethod,
      payment_method_types: ["card"],
      confirm: true,
    });
    return h.stripe.charges.retrieve(pi.latest_charge as string);
  }

  async function eventTypes(): Promise<string[]> {
    const events = await h.stripe.events.list({ limit: 100 });
    return events.data.map((e) => e.type).reverse();
  }

  it("pm_card_refundFail: the refund begins succeeded, then fails and the money comes back", async () => {
    const charge = await cardCharge("pm_card_refundFail");
    await h.emu.control.topUp({ amount: 10_000 });
    const before = await balance();
    const refund = await h.stripe.refunds.create({ charge: charge.id, amount: 1000 });
    expect(refund.status).toBe("succeeded");
    expect((await balance()).available).toBe(before.available - 1000);
    expect((await h.stripe.charges.retrieve(charge.id)).amount_refunded).toBe(1000);

    await h.emu.control.advanceClock(60);
    const failed = await h.stripe.refunds.retrieve(refund.id);
    expect(failed.status).toBe("failed");
    expect(failed.failure_reason).toBe("expired_or_canceled_card");
    const txn = await h.stripe.balanceTransactions.retrieve(failed.failure_balance_transaction as string);
    expect(txn).toMatchObject({
      type: "refund_failure",
      amount: 1000,
      source: refund.id,
      status: "available",
    });
    expect((await balance()).available).toBe(before.available);
    const after = await h.stripe.charges.retrieve(charge.id);
    expect(after.amount_refunded).toBe(0);
    expect(after.refunded).toBe(false);
    const types = await eventTypes();
    expect(types.slice(-3)).toEqual(["refund.updated", "charge.refund.updated", "refund.failed"]);
  });

  it("a refund sent again under its key after it failed gets its first answer back (succeeded), replayed", async () => {
    // What a caller whose reply was lost sees: the re-sent call is answered as the first one
    // was, not with the refund as it is now, as Stripe documents for idempotent requests.
    const charge = await cardCharge("pm_card_refundFail");
    const params = { charge: charge.id, amount: 1000, metadata: { effect_id: "r1:refund:m2" } };
    const first = await h.stripe.refunds.create(params, { idempotencyKey: "r1:refund:m2" });
    await h.emu.control.advanceClock(60);
    expect((await h.stripe.refunds.retrieve(first.id)).status).toBe("failed");
    const again = await h.stripe.refunds.create(params, { idempotencyKey: "r1:refund:m2" });
    expect(again.lastResponse.headers["idempotent-replayed"]).toBe("true");
    expect(again).toMatchObject({ id: first.id, status: "succeeded" });
    expect((await h.stripe.refunds.list({ charge: charge.id })).data.map((r) => r.id)).toEqual([first.id]);
  });

  it("the card number 4000000000005126 behaves the same", async () => {
    const pm = await h.stripe.paymentMethods.create({
      type: "card",
      card: { number: "4000000000005126", exp_month: 12, exp_year: 2040, cvc: "123" },
    });
    const charge = await cardCharge(pm.id);
    const refund = await h.stripe.refunds.create({ charge: charge.id });
    await h.emu.control.advanceClock(60);
    expect((await h.stripe.refunds.retrieve(refund.id)).status).toBe("failed");
  });

  it("4000000000007726: the refund begins pending, then succeeds", async () => {
    const pm = await h.stripe.paymentMethods.create({
      type: "card",
      card: { number: "4000000000007726", exp_month: 12, exp_year: 2040, cvc: "123" },
    });
    const charge = await cardCharge(pm.id);
    const refund = await h.stripe.refunds.create({ charge: charge.id });
    expect(refund.status).toBe("pending");
    expect(refund.pending_reason).toBe("processing");
    await h.emu.control.advanceClock(59);
    expect((await h.stripe.refunds.retrieve(refund.id)).status).toBe("pending");
    await h.emu.control.advanceClock(1);
    expect((await h.stripe.refunds.retrieve(refund.id)).status).toBe("succeeded");
    expect((await eventTypes()).slice(-2)).toEqual(["refund.updated", "charge.refund.updated"]);
  });
});

describe("currency conversion", () => {
  async function chargeIn(currency: string, amount: number, account?: string): Promise<Stripe.Charge> {
    const opts = account ? { stripeAccount: account } : {};
    const pi = await h.stripe.paymentIntents.create(
      {
        amount,
        currency,
        payment_method: "pm_card_bypassPending",
        payment_method_types: ["card"],
        confirm: true,
      },
      opts,
    );
    return h.stripe.charges.retrieve(pi.latest_charge as string, { expand: ["balance_transaction"] }, opts);
  }

  it("a charge in another currency than the account's settles converted, with exchange_rate", async () => {
    const charge = await chargeIn("usd", 10_000);
    expect(charge.currency).toBe("usd");
    const txn = charge.balance_transaction as Stripe.BalanceTransaction;
    expect(txn).toMatchObject({ currency: "aud", amount: 15_000, exchange_rate: 1.5, fee: 293 }); // 1.75% + 30c of A$150
    const b = await h.stripe.balance.retrieve();
    expect(b.available.map((x) => x.currency)).toEqual(["aud"]);

    const refund = await h.stripe.refunds.create({ charge: charge.id, amount: 4000 });
    const refundTxn = await h.stripe.balanceTransactions.retrieve(refund.balance_transaction as string);
    expect(refundTxn).toMatchObject({ currency: "aud", amount: -6000, exchange_rate: 1.5 });

    // Zero-decimal currencies convert by their major unit: ¥1,500 is US$10, so A$15.
    const yen = await chargeIn("jpy", 1500);
    expect(yen.balance_transaction).toMatchObject({ currency: "aud", amount: 1500, exchange_rate: 0.01 });
    // The settlement currency itself is not converted.
    const aud = await chargeIn("aud", 1000);
    expect(aud.balance_transaction).toMatchObject({ currency: "aud", amount: 1000, exchange_rate: null });
  });

  it("rates and the platform's settlement currency are configurable; connected accounts settle in theirs", async () => {
    const other = await harness({ settlementCurrency: "usd", exchangeRates: { aud: 2 }, fees: false });
    try {
      const pi = await other.stripe.paymentIntents.create({
        amount: 5000,
        currency: "aud",
        payment_method: "pm_card_bypassPending",
        payment_method_types: ["card"],
        confirm: true,
      });
      const charge = await other.stripe.charges.retrieve(pi.latest_charge as string, {
        expand: ["balance_transaction"],
      });
      expect(charge.balance_transaction).toMatchObject({ currency: "usd", amount: 2500, exchange_rate: 0.5 });
      expect((await other.stripe.accounts.retrieveCurrent()).default_currency).toBe("usd");

      const account = await other.stripe.accounts.create({
        type: "express",
        country: "NZ",
        default_currency: "nzd",
        capabilities: { card_payments: { requested: true }, transfers: { requested: true } },
      });
      await other.emu.control.completeAccountOnboarding(account.id);
      const direct = await other.stripe.paymentIntents.create(
        {
          amount: 1000,
          currency: "usd",
          payment_method: "pm_card_bypassPending",
          payment_method_types: ["card"],
          confirm: true,
        },
        { stripeAccount: account.id },
      );
      const directCharge = await other.stripe.charges.retrieve(
        direct.latest_charge as string,
        { expand: ["balance_transaction"] },
        { stripeAccount: account.id },
      );
      expect(directCharge.balance_transaction).toMatchObject({
        currency: "nzd",
        amount: 1650,
        exchange_rate: 1.65,
      });
    } finally {
      await other.emu.stop();
    }
  });
});

describe("a refund still pending when its charge is disputed (charge_for_pending_refund_disputed)", () => {
  async function eventsSince(first: string): Promise<Stripe.Event[]> {
    const events = await h.stripe.events.list({ limit: 100, ending_before: first });
    return events.data.reverse();
  }

  async function lastEventId(): Promise<string> {
    return (await h.stripe.events.list({ limit: 1 })).data[0]!.id;
  }

  it("card: the pending refund fails, its money comes back (refund_failure), and the dispute takes the whole charge", async () => {
    const pi = await h.stripe.paymentIntents.create({
      amount: 3000,
      currency: "aud",
      payment_method: "pm_card_refundPending",
      payment_method_types: ["card"],
      confirm: true,
    });
    const chargeId = pi.latest_charge as string;
    await h.emu.control.topUp({ amount: 10_000 });
    const refund = await h.stripe.refunds.create({ charge: chargeId, amount: 1000 });
    expect(refund).toMatchObject({ status: "pending", pending_reason: "processing" });
    const afterRefund = await balance();
    expect((await h.stripe.charges.retrieve(chargeId)).amount_refunded).toBe(1000);
    const mark = await lastEventId();

    const dispute = await h.emu.control.forceDispute(chargeId, { reason: "fraudulent" });
    expect(dispute.amount).toBe(3000);
    expect(dispute.balance_transactions[0]?.amount).toBe(-3000);

    const failed = await h.stripe.refunds.retrieve(refund.id);
    expect(failed.status).toBe("failed");
    expect(failed.failure_reason).toBe("charge_for_pending_refund_disputed");
    expect(failed.pending_reason).toBeUndefined();
    const txn = await h.stripe.balanceTransactions.retrieve(failed.failure_balance_transaction as string);
    expect(txn).toMatchObject({
      type: "refund_failure",
      amount: 1000,
      source: refund.id,
      status: "available",
    });
    const charge = await h.stripe.charges.retrieve(chargeId);
    expect(charge).toMatchObject({ amount_refunded: 0, refunded: false, disputed: true });
    // The refund's 1000 is back; the dispute withdrew the whole charge and its fee.
    expect((await balance()).available).toBe(afterRefund.available + 1000 - 3000 - 2500);

    const events = await eventsSince(mark);
    expect(events.map((e) => e.type)).toEqual([
      "charge.dispute.created",
      "charge.dispute.funds_withdrawn",
      "refund.updated",
      "charge.refund.updated",
      "refund.failed",
    ]);
    for (const e of events.slice(2)) {
      expect(e.data.object).toMatchObject({
        id: refund.id,
        status: "failed",
        failure_reason: "charge_for_pending_refund_disputed",
      });
      expect(e.data.previous_attributes).toMatchObject({ status: "pending" });
    }

    // The refund's later outcome no longer comes: it stays failed.
    await h.emu.control.advanceClock(60);
    expect((await h.stripe.refunds.retrieve(refund.id)).status).toBe("failed");
    expect((await h.stripe.charges.retrieve(chargeId)).amount_refunded).toBe(0);
    // Lost, the dispute keeps the whole charge.
    const lost = await h.emu.control.resolveDispute(dispute.id, "lost");
    expect(lost.amount).toBe(3000);
  });

  it("card: an inquiry withdraws nothing, so the pending refund goes on and succeeds", async () => {
    const pi = await h.stripe.paymentIntents.create({
      amount: 3000,
      currency: "aud",
      payment_method: "pm_card_refundPending",
      payment_method_types: ["card"],
      confirm: true,
    });
    const chargeId = pi.latest_charge as string;
    const refund = await h.stripe.refunds.create({ charge: chargeId, amount: 1000 });
    const inquiry = await h.emu.control.forceDispute(chargeId, { inquiry: true });
    expect(inquiry.status).toBe("warning_needs_response");
    expect((await h.stripe.refunds.retrieve(refund.id)).status).toBe("pending");
    await h.emu.control.advanceClock(60);
    expect((await h.stripe.refunds.retrieve(refund.id)).status).toBe("succeeded");
  });

  it("BECS: a refund waits while the debit is processing, when it cannot be disputed yet", async () => {
    const pi = await becsDebit("000123456", 8000);
    const refund = await h.stripe.refunds.create({ payment_intent: pi.id, amount: 3000 });
    expect(refund).toMatchObject({ status: "pending", pending_reason: "charge_pending" });
    await expect(h.emu.control.forceDispute(pi.latest_charge as string)).rejects.toThrow(/not succeeded/);
    expect((await h.stripe.refunds.retrieve(refund.id)).status).toBe("pending");
  });

  it("BECS 666666660: disputed as the debit succeeds, the refund waiting for it fails and the dispute takes the whole debit", async () => {
    const pi = await becsDebit("666666660", 8000);
    const chargeId = pi.latest_charge as string;
    const refund = await h.stripe.refunds.create({ payment_intent: pi.id, amount: 3000 });
    expect(refund).toMatchObject({ status: "pending", pending_reason: "charge_pending" });
    const mark = await lastEventId();
    await h.emu.control.advanceClock(SETTLE);

    const [dispute] = (await h.stripe.disputes.list({ charge: chargeId })).data;
    expect(dispute).toMatchObject({ amount: 8000, status: "lost" });
    expect(dispute?.balance_transactions[0]?.amount).toBe(-8000);
    const failed = await h.stripe.refunds.retrieve(refund.id);
    expect(failed.status).toBe("failed");
    expect(failed.failure_reason).toBe("charge_for_pending_refund_disputed");
    // It never took money (it waited for the debit), so nothing comes back.
    expect(failed.balance_transaction).toBeNull();
    expect(failed.failure_balance_transaction ?? null).toBeNull();
    expect((await txnsOf(refund.id)).map((t) => t.type)).toEqual([]);
    expect(await h.stripe.charges.retrieve(chargeId)).toMatchObject({ amount_refunded: 0, refunded: false });

    const types = (await eventsSince(mark)).map((e) => e.type);
    expect(types.filter((t) => t.startsWith("charge.dispute.") || t.includes("refund"))).toEqual([
      "charge.dispute.created",
      "charge.dispute.funds_withdrawn",
      "charge.dispute.closed",
      "refund.updated",
      "charge.refund.updated",
      "refund.failed",
    ]);
  });
});
