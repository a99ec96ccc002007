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
