import Stripe from "stripe";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { becs, DAY, failure, type Harness, harness, MANDATE_DATA } from "./support.js";

const SETTLE = 3 * DAY;
let h: Harness;
beforeAll(async () => {
  h = await harness({ settlementDelaySeconds: SETTLE, fees: false });
});
afterAll(async () => h.emu.stop());
beforeEach(async () => h.emu.control.reset());

async function balance(account?: string): Promise<{ available: number; pending: number }> {
  const b = await h.stripe.balance.retrieve({}, account ? { stripeAccount: account } : {});
  const aud = (list: Array<{ currency: string; amount: number }>) =>
    list.find((x) => x.currency === "aud")?.amount ?? 0;
  return { available: aud(b.available), pending: aud(b.pending) };
}

async function expressAccount(onboarded = true): Promise<Stripe.Account> {
  const account = await h.stripe.accounts.create({
    type: "express",
    country: "AU",
    email: "recipient@example.com",
    capabilities: { transfers: { requested: true } },
  });
  if (onboarded) await h.emu.control.completeAccountOnboarding(account.id);
  return account;
}

async function fundPlatform(amount: number): Promise<void> {
  await h.stripe.paymentIntents.create({
    amount,
    currency: "aud",
    payment_method: "pm_card_bypassPending",
    confirm: true,
  });
}

describe("express accounts and onboarding", () => {
  it("starts restricted with requirements due, and an account link completes onboarding once", async () => {
    const account = await expressAccount(false);
    expect(account.type).toBe("express");
    expect(account.details_submitted).toBe(false);
    expect(account.charges_enabled).toBe(false);
    expect(account.payouts_enabled).toBe(false);
    expect(account.capabilities?.transfers).toBe("inactive");
    expect(account.requirements?.currently_due).toContain("external_account");
    expect(account.requirements?.disabled_reason).toBe("requirements.past_due");

    const link = await h.stripe.accountLinks.create({
      account: account.id,
      type: "account_onboarding",
      refresh_url: "https://susu.test/refresh",
      return_url: "https://susu.test/return",
    });
    expect(link.expires_at - link.created).toBe(300);
    expect(await h.emu.control.visitAccountLink(link.url)).toBe("https://susu.test/return");
    expect(await h.emu.control.visitAccountLink(link.url)).toBe("https://susu.test/refresh");

    const ready = await h.stripe.accounts.retrieve(account.id);
    expect(ready.details_submitted).toBe(true);
    expect(ready.payouts_enabled).toBe(true);
    expect(ready.capabilities?.transfers).toBe("active");
    expect(ready.requirements?.currently_due).toEqual([]);
    const events = await h.stripe.events.list({}, { stripeAccount: account.id });
    // The bank account the person gave while onboarding is announced too.
    expect(events.data.map((e) => e.type).sort()).toEqual([
      "account.external_account.created",
      "account.updated",
      "capability.updated",
    ]);
    expect(ready.external_accounts?.data).toEqual([
      expect.objectContaining({
        object: "bank_account",
        currency: "aud",
        default_for_currency: true,
        status: "new",
      }),
    ]);
    expect(events.data.every((e) => e.account === account.id)).toBe(true);
    const updated = events.data.find((e) => e.type === "account.updated")!;
    expect(updated.data.previous_attributes).toMatchObject({
      details_submitted: false,
      payouts_enabled: false,
    });
  });

  it("tells the platform when an account disconnects", async () => {
    const account = await expressAccount();
    await h.emu.control.deauthorizeAccount(account.id);
    const [event] = (
      await h.stripe.events.list({ type: "account.application.deauthorized" }, { stripeAccount: account.id })
    ).data;
    expect(event?.account).toBe(account.id);
    expect((event?.data.object as Stripe.Application | undefined)?.object).toBe("application");
  });

  it("sends an expired link to refresh_url", async () => {
    const account = await expressAccount(false);
    const link = await h.stripe.accountLinks.create({
      account: account.id,
      type: "account_onboarding",
      refresh_url: "https://susu.test/refresh",
      return_url: "https://susu.test/return",
    });
    await h.emu.control.advanceClock(301);
    expect(await h.emu.control.visitAccountLink(link.url)).toBe("https://susu.test/refresh");
    expect((await h.stripe.accounts.retrieve(account.id)).details_submitted).toBe(false);
  });

  it("lists capabilities and retrieves, updates and deletes accounts", async () => {
    const account = await expressAccount();
    const caps = await h.stripe.accounts.listCapabilities(account.id);
    expect(caps.data.map((c) => [c.id, c.status])).toEqual([["transfers", "active"]]);
    const updated = await h.stripe.accounts.update(account.id, { metadata: { member: "m1" } });
    expect(updated.metadata).toEqual({ member: "m1" });
    expect((await h.stripe.accounts.list()).data.map((a) => a.id)).toEqual([account.id]);
    expect((await h.stripe.accounts.del(account.id)).deleted).toBe(true);
    expect((await failure(h.stripe.accounts.retrieve(account.id))).statusCode).toBe(404);
  });
});

describe("transfers", () => {
  it("refuses a destination without an active transfers capability", async () => {
    await fundPlatform(10_000);
    const account = await expressAccount(false);
    const error = await failure(
      h.stripe.transfers.create({ amount: 1000, currency: "aud", destination: account.id }),
    );
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error.code).toBe("insufficient_capabilities_for_transfer");
  });

  it("draws on the platform's available balance and fails without enough", async () => {
    const account = await expressAccount();
    const broke = await failure(
      h.stripe.transfers.create({ amount: 1000, currency: "aud", destination: account.id }),
    );
    expect(broke.code).toBe("balance_insufficient");
    await fundPlatform(10_000);
    const transfer = await h.stripe.transfers.create({
      amount: 4000,
      currency: "aud",
      destination: account.id,
      transfer_group: "round_1",
      metadata: { round: "1" },
    });
    expect(transfer.destination_payment).toMatch(/^py_/);
    expect(await balance()).toEqual({ available: 6000, pending: 0 });
    expect(await balance(account.id)).toEqual({ available: 4000, pending: 0 });
    const txns = await h.stripe.balanceTransactions.list({ type: "payment" }, { stripeAccount: account.id });
    expect(txns.data[0]?.source).toBe(transfer.destination_payment);
    expect((await h.stripe.transfers.list({ transfer_group: "round_1" })).data.map((t) => t.id)).toEqual([
      transfer.id,
    ]);
  });

  it("with source_transaction on a charge in another currency than the platform's: only in the settlement currency (the charge's balance transaction's), never in the charge's own", async () => {
    const account = await expressAccount();
    const pi = await h.stripe.paymentIntents.create({
      amount: 10_000,
      currency: "usd",
      payment_method: "pm_card_bypassPending",
      confirm: true,
      expand: ["latest_charge.balance_transaction"],
    });
    const charge = pi.latest_charge as Stripe.Charge;
    const settled = charge.balance_transaction as Stripe.BalanceTransaction;
    expect(settled.currency).toBe("aud");
    const inUsd = await failure(
      h.stripe.transfers.create({
        amount: 5_000,
        currency: "usd",
        destination: account.id,
        source_transaction: charge.id,
      }),
    );
    expect(inUsd.statusCode).toBe(400);
    expect(inUsd.message).toContain("must be the same as the transfer currency (usd)");
    const inAud = await h.stripe.transfers.create({
      amount: 5_000,
      currency: "aud",
      destination: account.id,
      source_transaction: charge.id,
    });
    expect(inAud.source_transaction).toBe(charge.id);
  });

  it("with source_transaction on a processing BECS debit: created at once, funds follow the debit", async () => {
    const account = await expressAccount();
    const customer = await h.stripe.customers.create({});
    const pi = await h.stripe.paymentIntents.create({
      amount: 10_000,
      currency: "aud",
      customer: customer.id,
      payment_method_types: ["au_becs_debit"],
      payment_method_data: becs("000123456") as Stripe.PaymentIntentCreateParams.PaymentMethodData,
      mandate_data: MANDATE_DATA,
      transfer_group: "round_2",
      confirm: true,
    });
    const transfer = await h.stripe.transfers.create({
      amount: 10_000,
      currency: "aud",
      destination: account.id,
      source_transaction: pi.latest_charge as string,
      transfer_group: "round_2",
    });
    expect(transfer.source_transaction).toBe(pi.latest_charge);
    expect(await balance(account.id)).toEqual({ available: 0, pending: 10_000 });
    const over = await failure(
      h.stripe.transfers.create({
        amount: 1,
        currency: "aud",
        destination: account.id,
        source_transaction: pi.latest_charge as string,
      }),
    );
    expect(over.statusCode).toBe(400);
    await h.emu.control.advanceClock(SETTLE);
    expect(await balance(account.id)).toEqual({ available: 0, pending: 10_000 });
    expect(await balance()).toEqual({ available: 0, pending: 0 });
    await h.emu.control.advanceClock(2 * DAY);
    expect(await balance(account.id)).toEqual({ available: 10_000, pending: 0 });
    expect(await balance()).toEqual({ available: 0, pending: 0 });
  });

  it("when the source debit fails the platform covers the transfer and must reverse it", async () => {
    const account = await expressAccount();
    const customer = await h.stripe.customers.create({});
    const pi = await h.stripe.paymentIntents.create({
      amount: 7000,
      currency: "aud",
      customer: customer.id,
      payment_method_types: ["au_becs_debit"],
      payment_method_data: becs("111111113") as Stripe.PaymentIntentCreateParams.PaymentMethodData,
      mandate_data: MANDATE_DATA,
      confirm: true,
    });
    const transfer = await h.stripe.transfers.create({
      amount: 7000,
      currency: "aud",
      destination: account.id,
      source_transaction: pi.latest_charge as string,
    });
    await h.emu.control.advanceClock(SETTLE);
    expect(await balance()).toEqual({ available: -7000, pending: 0 });
    expect((await balance(account.id)).pending).toBe(7000);
    const reversal = await h.stripe.transfers.createReversal(transfer.id);
    expect(reversal.amount).toBe(7000);
    expect(await balance()).toEqual({ available: 0, pending: 0 });
    expect(await balance(account.id)).toEqual({ available: 0, pending: 0 });
    const reversed = await h.stripe.transfers.retrieve(transfer.id);
    expect(reversed.reversed).toBe(true);
    expect(reversed.amount_reversed).toBe(7000);
    expect((await failure(h.stripe.transfers.createReversal(transfer.id))).statusCode).toBe(400);
  });

  it("a reversal gives back to the source charge what it reverses: a new transfer from the same charge may take that much again, no more (Stripe's docs are silent: README)", async () => {
    const account = await expressAccount();
    const pi = await h.stripe.paymentIntents.create({
      amount: 6000,
      currency: "aud",
      payment_method: "pm_card_bypassPending",
      confirm: true,
    });
    const charge = pi.latest_charge as string;
    const first = await h.stripe.transfers.create({
      amount: 6000,
      currency: "aud",
      destination: account.id,
      source_transaction: charge,
    });
    const more = { amount: 1, currency: "aud", destination: account.id, source_transaction: charge };
    expect((await failure(h.stripe.transfers.create(more))).code).toBe("balance_insufficient");
    await h.stripe.transfers.createReversal(first.id, { amount: 2500 });
    // What came back may be sent again from the same charge (a round's payout re-sent after a
    // reversal), and only that.
    expect((await failure(h.stripe.transfers.create({ ...more, amount: 2501 }))).code).toBe(
      "balance_insufficient",
    );
    const again = await h.stripe.transfers.create({ ...more, amount: 2500 });
    expect(again).toMatchObject({ amount: 2500, source_transaction: charge });
    expect((await failure(h.stripe.transfers.create(more))).code).toBe("balance_insufficient");
    expect(await balance(account.id)).toEqual({ available: 6000, pending: 0 });
  });

  it("reverses partially, credits the platform, and needs the connected balance to cover it", async () => {
    await fundPlatform(10_000);
    const account = await expressAccount();
    const transfer = await h.stripe.transfers.create({
      amount: 6000,
      currency: "aud",
      destination: account.id,
    });
    const partial = await h.stripe.transfers.createReversal(transfer.id, {
      amount: 1000,
      metadata: { why: "refund" },
    });
    expect(partial.metadata).toEqual({ why: "refund" });
    expect(await balance()).toEqual({ available: 5000, pending: 0 });
    expect(await balance(account.id)).toEqual({ available: 5000, pending: 0 });
    const again = await h.stripe.transfers.retrieve(transfer.id);
    expect(again.reversed).toBe(false);
    expect(again.reversals.data.map((r) => r.id)).toEqual([partial.id]);
    const tooMuch = await failure(h.stripe.transfers.createReversal(transfer.id, { amount: 5001 }));
    expect(tooMuch.statusCode).toBe(400);
    const events = await h.stripe.events.list({ type: "transfer.reversed" });
    expect(events.data).toHaveLength(1);
  });

  it("a restricted account cannot receive transfers and the platform hears about it", async () => {
    await fundPlatform(10_000);
    const account = await expressAccount();
    const restricted = await h.emu.control.restrictAccount(account.id);
    expect(restricted.payouts_enabled).toBe(false);
    expect(restricted.requirements?.disabled_reason).toBe("requirements.past_due");
    const error = await failure(
      h.stripe.transfers.create({ amount: 100, currency: "aud", destination: account.id }),
    );
    expect(error.code).toBe("insufficient_capabilities_for_transfer");
    const types = (await h.stripe.events.list({}, { stripeAccount: account.id })).data.map((e) => e.type);
    expect(types.slice(0, 2).sort()).toEqual(["account.updated", "capability.updated"]);
    await h.emu.control.completeAccountOnboarding(account.id);
    expect(
      (await h.stripe.transfers.create({ amount: 100, currency: "aud", destination: account.id })).amount,
    ).toBe(100);
    await h.emu.control.disableTransfers(account.id);
    expect(
      (await failure(h.stripe.transfers.create({ amount: 100, currency: "aud", destination: account.id })))
        .code,
    ).toBe("insufficient_capabilities_for_transfer");
  });
});

describe("destination charges", () => {
  it("transfers the whole amount to the destination and takes the application fee back", async () => {
    const account = await expressAccount();
    const pi = await h.stripe.paymentIntents.create({
      amount: 10_000,
      currency: "aud",
      payment_method: "pm_card_bypassPending",
      transfer_data: { destination: account.id },
      application_fee_amount: 500,
      confirm: true,
      expand: ["latest_charge"],
    });
    const charge = pi.latest_charge as Stripe.Charge;
    expect(charge.transfer).toMatch(/^tr_/);
    const transfer = await h.stripe.transfers.retrieve(charge.transfer as string);
    expect(transfer.amount).toBe(10_000);
    expect(transfer.source_transaction).toBe(charge.id);
    expect(await balance()).toEqual({ available: 500, pending: 0 });
    expect(await balance(account.id)).toEqual({ available: 9500, pending: 0 });
    const noDestination = await failure(
      h.stripe.paymentIntents.create({ amount: 1000, currency: "aud", application_fee_amount: 100 }),
    );
    expect(noDestination.param).toBe("application_fee_amount");
  });

  it("refuses an application_fee_amount over the amount, or on a payment with no destination, when a PaymentIntent is updated or captured too; a refused update changes nothing", async () => {
    const account = await expressAccount();
    const destination = await h.stripe.paymentIntents.create({
      amount: 10_000,
      currency: "aud",
      transfer_data: { destination: account.id },
      application_fee_amount: 500,
    });
    const over = await failure(
      h.stripe.paymentIntents.update(destination.id, { application_fee_amount: 50_000 }),
    );
    expect([over.statusCode, over.param]).toEqual([400, "application_fee_amount"]);
    // A smaller amount under the fee it already has is refused the same way.
    const under = await failure(h.stripe.paymentIntents.update(destination.id, { amount: 400 }));
    expect(under.param).toBe("application_fee_amount");
    expect(await h.stripe.paymentIntents.retrieve(destination.id)).toMatchObject({
      amount: 10_000,
      application_fee_amount: 500,
    });
    const plain = await h.stripe.paymentIntents.create({ amount: 10_000, currency: "aud" });
    const noDestination = await failure(
      h.stripe.paymentIntents.update(plain.id, { application_fee_amount: 100 }),
    );
    expect(noDestination.param).toBe("application_fee_amount");
    const manual = await h.stripe.paymentIntents.create({
      amount: 10_000,
      currency: "aud",
      payment_method: "pm_card_visa",
      capture_method: "manual",
      confirm: true,
    });
    const atCapture = await failure(
      h.stripe.paymentIntents.capture(manual.id, { application_fee_amount: 100 }),
    );
    expect(atCapture.param).toBe("application_fee_amount");
    expect((await h.stripe.paymentIntents.retrieve(manual.id)).status).toBe("requires_capture");
  });
});
