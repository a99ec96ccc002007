import type Stripe from "stripe";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DAY, failure, type Harness, harness } from "./support.js";

let h: Harness;
beforeAll(async () => {
  h = await harness({ fees: false, availabilityDelaySeconds: 2 * DAY });
});
afterAll(async () => h.emu.stop());
beforeEach(async () => h.emu.control.reset());

async function expressAccount(): Promise<Stripe.Account> {
  const account = await h.stripe.accounts.create({
    type: "express",
    country: "AU",
    capabilities: { transfers: { requested: true }, card_payments: { requested: true } },
  });
  await h.emu.control.completeAccountOnboarding(account.id);
  return account;
}

async function balance(account?: string): Promise<{ available: number; pending: number }> {
  const b = await h.stripe.balance.retrieve({}, account ? { stripeAccount: account } : {});
  const aud = (list: Array<{ currency: string; amount: number }>) =>
    list.find((x) => x.currency === "aud")?.amount ?? 0;
  return { available: aud(b.available), pending: aud(b.pending) };
}

async function destinationCharge(destination: string, amount = 10_000, fee = 1000): Promise<Stripe.Charge> {
  const pi = await h.stripe.paymentIntents.create({
    amount,
    currency: "aud",
    payment_method: "pm_card_bypassPending",
    payment_method_types: ["card"],
    transfer_data: { destination },
    application_fee_amount: fee,
    transfer_group: "booking_1",
    confirm: true,
  });
  return h.stripe.charges.retrieve(pi.latest_charge as string);
}

describe("application fees", () => {
  it("a destination charge with application_fee_amount creates an application fee on the platform", async () => {
    const account = await expressAccount();
    const charge = await destinationCharge(account.id);
    expect(charge.application_fee).toMatch(/^fee_/);
    const fee = await h.stripe.applicationFees.retrieve(charge.application_fee as string, {
      expand: ["balance_transaction"],
    });
    const transfer = await h.stripe.transfers.retrieve(charge.transfer as string);
    expect(fee).toMatchObject({
      object: "application_fee",
      amount: 1000,
      amount_refunded: 0,
      account: account.id,
      charge: transfer.destination_payment,
      originating_transaction: charge.id,
      currency: "aud",
      refunded: false,
    });
    expect((fee.balance_transaction as Stripe.BalanceTransaction).type).toBe("application_fee");
    const payment = await h.stripe.charges.retrieve(
      transfer.destination_payment as string,
      { expand: ["balance_transaction"] },
      { stripeAccount: account.id },
    );
    expect(payment.application_fee).toBe(fee.id);
    expect(payment.application_fee_amount).toBe(1000);
    expect((payment.balance_transaction as Stripe.BalanceTransaction).fee).toBe(1000);
    expect(await balance()).toEqual({ available: 1000, pending: 0 });
    expect(await balance(account.id)).toEqual({ available: 9000, pending: 0 });

    expect((await h.stripe.applicationFees.list({ charge: charge.id })).data.map((f) => f.id)).toEqual([
      fee.id,
    ]);
    expect((await h.stripe.applicationFees.list({ charge: "ch_other" })).data).toHaveLength(0);
    const events = await h.stripe.events.list({ type: "application_fee.created" });
    expect(events.data).toHaveLength(1);
    expect(events.data[0]!.account).toBeUndefined();
    // Application fees belong to the platform.
    expect(
      (await failure(h.stripe.applicationFees.retrieve(fee.id, {}, { stripeAccount: account.id })))
        .statusCode,
    ).toBe(404);
  });

  it("refund_application_fee and reverse_transfer give back the fee and the transfer in proportion", async () => {
    const account = await expressAccount();
    const charge = await destinationCharge(account.id);
    await h.emu.control.topUp({ amount: 10_000 });
    const refund = await h.stripe.refunds.create({
      charge: charge.id,
      amount: 4000,
      reverse_transfer: true,
      refund_application_fee: true,
    });
    const reversal = await h.stripe.transfers.retrieveReversal(
      charge.transfer as string,
      refund.transfer_reversal as string,
    );
    expect(reversal.amount).toBe(4000);
    expect(reversal.source_refund).toBe(refund.id);
    const fee = await h.stripe.applicationFees.retrieve(charge.application_fee as string);
    expect(fee.amount_refunded).toBe(400);
    expect(fee.refunds.data).toHaveLength(1);
    const feeRefund = fee.refunds.data[0]!;
    expect(feeRefund).toMatchObject({ object: "fee_refund", amount: 400, fee: fee.id });
    expect(feeRefund.id).toMatch(/^fr_/);
    const txn = await h.stripe.balanceTransactions.retrieve(feeRefund.balance_transaction as string);
    expect(txn).toMatchObject({ type: "application_fee_refund", amount: -400 });
    // Connected account: 9000 − 4000 reversed + 400 fee back; platform: 1000 + 10000 − 4000 + 4000 − 400.
    expect(await balance(account.id)).toEqual({ available: 5400, pending: 0 });
    expect(await balance()).toEqual({ available: 10_600, pending: 0 });
    expect((await h.stripe.events.list({ type: "application_fee.refunded" })).data).toHaveLength(1);

    // Without refund_application_fee the fee is kept.
    await h.stripe.refunds.create({ charge: charge.id, amount: 1000, reverse_transfer: true });
    expect((await h.stripe.applicationFees.retrieve(fee.id)).amount_refunded).toBe(400);
  });

  it("after a partial capture, reverse_transfer and refund_application_fee follow the part of the captured amount refunded", async () => {
    // Stripe: the transfer (and the fee) is reversed "proportionally to the amount being
    // refunded (either the entire or partial amount)"; what was transferred is the capture.
    const account = await expressAccount();
    const pi = await h.stripe.paymentIntents.create({
      amount: 10_000,
      currency: "aud",
      payment_method: "pm_card_bypassPending",
      payment_method_types: ["card"],
      capture_method: "manual",
      transfer_data: { destination: account.id },
      application_fee_amount: 1000,
      confirm: true,
    });
    await h.stripe.paymentIntents.capture(pi.id, { amount_to_capture: 6000 });
    const charge = await h.stripe.charges.retrieve(pi.latest_charge as string);
    const transferId = charge.transfer as string;
    expect((await h.stripe.transfers.retrieve(transferId)).amount).toBe(6000);
    const feeId = charge.application_fee as string;
    expect((await h.stripe.applicationFees.retrieve(feeId)).amount).toBe(1000);
    await h.emu.control.topUp({ amount: 10_000 });

    // Half the capture: half the transfer, half the fee.
    const half = await h.stripe.refunds.create({
      payment_intent: pi.id,
      amount: 3000,
      reverse_transfer: true,
      refund_application_fee: true,
    });
    expect(
      (await h.stripe.transfers.retrieveReversal(transferId, half.transfer_reversal as string)).amount,
    ).toBe(3000);
    expect((await h.stripe.applicationFees.retrieve(feeId)).amount_refunded).toBe(500);

    // The rest: the whole transfer is back.
    await h.stripe.refunds.create({
      payment_intent: pi.id,
      reverse_transfer: true,
      refund_application_fee: true,
    });
    const transfer = await h.stripe.transfers.retrieve(transferId);
    expect(transfer.amount_reversed).toBe(6000);
    expect(transfer.reversed).toBe(true);
    expect((await h.stripe.applicationFees.retrieve(feeId)).amount_refunded).toBe(1000);
  });

  it("after a partial capture, the refund that finishes the captured amount gives back the whole rest of the fee", async () => {
    const account = await expressAccount();
    const pi = await h.stripe.paymentIntents.create({
      amount: 10_000,
      currency: "aud",
      payment_method: "pm_card_bypassPending",
      payment_method_types: ["card"],
      capture_method: "manual",
      transfer_data: { destination: account.id },
      application_fee_amount: 1000,
      confirm: true,
    });
    await h.stripe.paymentIntents.capture(pi.id, { amount_to_capture: 7000 });
    const feeId = (await h.stripe.charges.retrieve(pi.latest_charge as string)).application_fee as string;
    await h.emu.control.topUp({ amount: 10_000 });
    // Shares of 1000 × refund / 7000: 333.29 → 333 twice; the last refund completes the capture.
    const refunded: number[] = [];
    for (const amount of [2333, 2333, 2334]) {
      await h.stripe.refunds.create({ payment_intent: pi.id, amount, refund_application_fee: true });
      refunded.push((await h.stripe.applicationFees.retrieve(feeId)).amount_refunded);
    }
    expect(refunded).toEqual([333, 666, 1000]);
    const fee = await h.stripe.applicationFees.retrieve(feeId);
    expect(fee.refunded).toBe(true);
    const charge = await h.stripe.charges.retrieve(pi.latest_charge as string);
    expect([charge.amount_captured, charge.refunded]).toEqual([7000, true]);
  });

  it("a destination charge's transfer is reversed up to the charge's amount even when the account's balance is short: it goes negative", async () => {
    const account = await expressAccount();
    const charge = await destinationCharge(account.id);
    await h.emu.control.topUp({ amount: 10_000 });
    // The account holds 9000 (the fee went back to the platform); the whole refund reverses 10000.
    const refund = await h.stripe.refunds.create({ charge: charge.id, reverse_transfer: true });
    expect(refund.status).toBe("succeeded");
    const transfer = await h.stripe.transfers.retrieve(charge.transfer as string);
    expect(transfer.amount_reversed).toBe(10_000);
    expect(await balance(account.id)).toEqual({ available: -1000, pending: 0 });
    // A transfer of its own still needs the account's balance to cover its reversal.
    const own = await h.stripe.transfers.create({ amount: 500, currency: "aud", destination: account.id });
    const refused = await failure(h.stripe.transfers.createReversal(own.id, { amount: 500 }));
    expect(refused.code).toBe("balance_insufficient");
  });

  it("refunds an application fee directly, lists and retrieves its refunds", async () => {
    const account = await expressAccount();
    const charge = await destinationCharge(account.id);
    const feeId = charge.application_fee as string;
    const first = await h.stripe.applicationFees.createRefund(feeId, {
      amount: 300,
      metadata: { why: "goodwill" },
    });
    const second = await h.stripe.applicationFees.createRefund(feeId);
    expect(second.amount).toBe(700);
    const fee = await h.stripe.applicationFees.retrieve(feeId);
    expect(fee.refunded).toBe(true);
    const list = await h.stripe.applicationFees.listRefunds(feeId);
    expect(list.data.map((r) => r.id)).toEqual([second.id, first.id]);
    expect((await h.stripe.applicationFees.retrieveRefund(feeId, first.id)).metadata).toEqual({
      why: "goodwill",
    });
    const updated = await h.stripe.applicationFees.updateRefund(feeId, first.id, { metadata: { n: "1" } });
    expect(updated.metadata).toEqual({ why: "goodwill", n: "1" });
    const again = await failure(h.stripe.applicationFees.createRefund(feeId, { amount: 1 }));
    expect(again.statusCode).toBe(400);
    expect(await balance(account.id)).toEqual({ available: 10_000, pending: 0 });
  });

  it("a direct charge with an application fee credits the platform with a fee object", async () => {
    const account = await expressAccount();
    const pi = await h.stripe.paymentIntents.create(
      {
        amount: 5000,
        currency: "aud",
        payment_method: "pm_card_bypassPending",
        payment_method_types: ["card"],
        application_fee_amount: 250,
        confirm: true,
      },
      { stripeAccount: account.id },
    );
    const charge = await h.stripe.charges.retrieve(
      pi.latest_charge as string,
      {},
      { stripeAccount: account.id },
    );
    const fee = await h.stripe.applicationFees.retrieve(charge.application_fee as string);
    expect(fee).toMatchObject({
      amount: 250,
      account: account.id,
      charge: charge.id,
      originating_transaction: null,
    });
    expect(await balance()).toEqual({ available: 250, pending: 0 });
    await h.stripe.refunds.create(
      { charge: charge.id, refund_application_fee: true },
      { stripeAccount: account.id },
    );
    expect((await h.stripe.applicationFees.retrieve(fee.id)).refunded).toBe(true);
    expect(await balance()).toEqual({ available: 0, pending: 0 });
    expect(await balance(account.id)).toEqual({ available: 0, pending: 0 });
  });
});

describe("payouts", () => {
  async function fundedAccount(amount = 10_000): Promise<Stripe.Account> {
    const account = await expressAccount();
    await h.emu.control.topUp({ amount: 50_000 });
    await h.stripe.transfers.create({ amount, currency: "aud", destination: account.id });
    return account;
  }

  async function eventsOf(account?: string): Promise<Stripe.Event[]> {
    const events = await h.stripe.events.list(
      { limit: 100, type: "payout.*" },
      account ? { stripeAccount: account } : {},
    );
    return events.data.reverse();
  }

  it("pays out a connected account's balance: pending, in_transit, paid on the emulator clock", async () => {
    const account = await fundedAccount();
    const opts = { stripeAccount: account.id };
    const tooMuch = await failure(h.stripe.payouts.create({ amount: 10_001, currency: "aud" }, opts));
    expect(tooMuch.code).toBe("balance_insufficient");

    const payout = await h.stripe.payouts.create(
      { amount: 6000, currency: "aud", metadata: { run: "1" } },
      opts,
    );
    expect(payout).toMatchObject({ status: "pending", automatic: false, amount: 6000, method: "standard" });
    expect(payout.destination).toMatch(/^ba_/);
    expect(payout.arrival_date).toBe(payout.created + 2 * DAY);
    const txn = await h.stripe.balanceTransactions.retrieve(payout.balance_transaction as string, {}, opts);
    expect(txn).toMatchObject({ type: "payout", amount: -6000, status: "available" });
    expect(await balance(account.id)).toEqual({ available: 4000, pending: 0 });

    await h.emu.control.advanceClock(3600);
    expect((await h.stripe.payouts.retrieve(payout.id, {}, opts)).status).toBe("in_transit");
    await h.emu.control.advanceClock(2 * DAY);
    expect((await h.stripe.payouts.retrieve(payout.id, {}, opts)).status).toBe("paid");
    const events = await eventsOf(account.id);
    expect(events.map((e) => e.type)).toEqual([
      "payout.created",
      "payout.updated",
      "payout.updated",
      "payout.paid",
    ]);
    expect(events.every((e) => e.account === account.id)).toBe(true);
    expect((await h.stripe.payouts.list({ status: "paid" }, opts)).data.map((p) => p.id)).toEqual([
      payout.id,
    ]);
    // Payouts belong to their account.
    expect((await failure(h.stripe.payouts.retrieve(payout.id))).statusCode).toBe(404);
  });

  it("the platform pays out too, and a pending payout can be canceled", async () => {
    await h.emu.control.topUp({ amount: 5000 });
    const payout = await h.stripe.payouts.create({ amount: 5000, currency: "aud" });
    expect(await balance()).toEqual({ available: 0, pending: 0 });
    const canceled = await h.stripe.payouts.cancel(payout.id);
    expect(canceled.status).toBe("canceled");
    expect(await balance()).toEqual({ available: 5000, pending: 0 });
    expect((await h.stripe.balanceTransactions.list({ type: "payout_cancel" })).data).toHaveLength(1);
    expect((await eventsOf()).map((e) => e.type)).toEqual([
      "payout.created",
      "payout.updated",
      "payout.canceled",
    ]);
    const again = await failure(h.stripe.payouts.cancel(payout.id));
    expect(again.statusCode).toBe(400);
  });

  it("a canceled payout names the transaction that returned its funds (failure_balance_transaction)", async () => {
    // Stripe's Payout: "If the payout fails or cancels, this is the ID of the balance
    // transaction that reverses the initial balance transaction".
    await h.emu.control.topUp({ amount: 5000 });
    const payout = await h.stripe.payouts.create({ amount: 3000, currency: "aud" });
    const canceled = await h.stripe.payouts.cancel(payout.id);
    expect(canceled.failure_balance_transaction).toMatch(/^txn_/);
    const txn = await h.stripe.balanceTransactions.retrieve(canceled.failure_balance_transaction as string);
    expect(txn).toMatchObject({ type: "payout_cancel", amount: 3000, source: payout.id });
    const event = (await h.stripe.events.list({ type: "payout.canceled" })).data[0]!;
    expect((event.data.object as Stripe.Payout).failure_balance_transaction).toBe(txn.id);
    const updated = (await h.stripe.events.list({ type: "payout.updated" })).data[0]!;
    expect(updated.data.previous_attributes).toEqual({
      status: "pending",
      failure_balance_transaction: null,
    });
    expect((await h.stripe.payouts.retrieve(payout.id)).failure_balance_transaction).toBe(txn.id);
  });

  it("fails a payout to Stripe's failing test bank account, returning the funds", async () => {
    const account = await fundedAccount();
    await h.stripe.accounts.update(account.id, {
      external_account: {
        object: "bank_account",
        country: "AU",
        currency: "aud",
        routing_number: "110000",
        account_number: "111111113",
      },
    } as Stripe.AccountUpdateParams);
    const opts = { stripeAccount: account.id };
    const payout = await h.stripe.payouts.create({ amount: 10_000, currency: "aud" }, opts);
    await h.emu.control.advanceClock(2 * DAY);
    const failed = await h.stripe.payouts.retrieve(payout.id, {}, opts);
    expect(failed.status).toBe("failed");
    expect(failed.failure_code).toBe("account_closed");
    const txn = await h.stripe.balanceTransactions.retrieve(
      failed.failure_balance_transaction as string,
      {},
      opts,
    );
    expect(txn).toMatchObject({ type: "payout_failure", amount: 10_000 });
    expect(await balance(account.id)).toEqual({ available: 10_000, pending: 0 });
    expect((await eventsOf(account.id)).map((e) => e.type).slice(-2)).toEqual([
      "payout.updated",
      "payout.failed",
    ]);
  });

  it("a failed payout leaves its bank account errored: no scheduled payout to it until it is replaced or updated", async () => {
    const account = await fundedAccount();
    const opts = { stripeAccount: account.id };
    // Onboarding gave the account a bank account in its currency, the default for it.
    const onboarded = await h.stripe.accounts.listExternalAccounts(account.id, { object: "bank_account" });
    expect(onboarded.data).toEqual([
      expect.objectContaining({ currency: "aud", last4: "3456", status: "new", default_for_currency: true }),
    ]);
    // A bank account given with the account update replaces the default (the old one is deleted).
    const updated = await h.stripe.accounts.update(account.id, {
      external_account: {
        object: "bank_account",
        country: "AU",
        currency: "aud",
        routing_number: "110000",
        account_number: "111111116",
      },
    } as Stripe.AccountUpdateParams);
    const failing = updated.external_accounts?.data ?? [];
    expect(failing).toEqual([
      expect.objectContaining({ last4: "1116", status: "new", default_for_currency: true }),
    ]);
    const failingId = failing[0]?.id ?? "";
    const payout = await h.stripe.payouts.create({ amount: 4000, currency: "aud" }, opts);
    expect(payout.destination).toBe(failingId);
    await h.emu.control.advanceClock(2 * DAY);
    expect((await h.stripe.payouts.retrieve(payout.id, {}, opts)).failure_code).toBe("no_account");
    const bank = await h.stripe.accounts.retrieveExternalAccount(account.id, failingId);
    expect(bank).toMatchObject({ object: "bank_account", status: "errored" });
    const events = (
      await h.stripe.events.list({ limit: 100, type: "account.external_account.*" }, opts)
    ).data.reverse();
    expect(events.map((e) => e.type)).toEqual([
      "account.external_account.created",
      "account.external_account.deleted",
      "account.external_account.created",
      "account.external_account.updated",
    ]);
    expect(events[3]?.data.previous_attributes).toEqual({ status: "new" });
    expect(events.every((e) => e.account === account.id)).toBe(true);
    // Scheduled payouts stop while the default bank account is errored.
    await h.stripe.accounts.update(account.id, {
      settings: { payouts: { schedule: { interval: "daily" } } },
    });
    await h.emu.control.advanceClock(2 * DAY);
    expect((await h.stripe.payouts.list({}, opts)).data).toHaveLength(1);
    expect(await balance(account.id)).toEqual({ available: 10_000, pending: 0 });
    // An update of the bank account, even one changing nothing, re-enables it (Stripe's docs).
    const enabled = await h.stripe.accounts.updateExternalAccount(account.id, failingId, {});
    expect(enabled.status).toBe("new");
    // A new bank account added as the default takes the payouts; the old one can then be deleted.
    const good = await h.stripe.accounts.createExternalAccount(account.id, {
      external_account: {
        object: "bank_account",
        country: "AU",
        currency: "aud",
        account_number: "000123456",
      },
      default_for_currency: true,
    } as Stripe.AccountCreateExternalAccountParams);
    expect(good).toMatchObject({ default_for_currency: true, status: "new" });
    expect(
      (await h.stripe.accounts.retrieveExternalAccount(account.id, failingId)).default_for_currency,
    ).toBe(false);
    await h.stripe.accounts.deleteExternalAccount(account.id, failingId);
    await h.emu.control.advanceClock(DAY);
    const all = await h.stripe.payouts.list({}, opts);
    expect(all.data[0]).toMatchObject({ automatic: true, amount: 10_000, destination: good.id });
    const stillDefault = await failure(h.stripe.accounts.deleteExternalAccount(account.id, good.id));
    expect(stillDefault.statusCode).toBe(400);
  });

  it("a control endpoint makes any payout fail", async () => {
    await h.emu.control.topUp({ amount: 5000 });
    const payout = await h.stripe.payouts.create({ amount: 5000, currency: "aud" });
    const failed = await h.emu.control.failPayout(payout.id, "account_frozen");
    expect(failed.status).toBe("failed");
    expect(failed.failure_code).toBe("account_frozen");
    expect(await balance()).toEqual({ available: 5000, pending: 0 });
  });

  it("a connected account without payouts enabled cannot pay out", async () => {
    const account = await h.stripe.accounts.create({
      type: "express",
      capabilities: { transfers: { requested: true } },
    });
    const err = await failure(
      h.stripe.payouts.create({ amount: 100, currency: "aud" }, { stripeAccount: account.id }),
    );
    expect(err.code).toBe("payouts_not_allowed");
  });

  it("pays out automatically on the account's schedule; manual pays out only on request", async () => {
    const account = await fundedAccount(7000);
    expect(account.settings?.payouts?.schedule.interval).toBe("manual");
    const opts = { stripeAccount: account.id };
    await h.emu.control.advanceClock(2 * DAY);
    expect((await h.stripe.payouts.list({}, opts)).data).toHaveLength(0);

    const updated = await h.stripe.accounts.update(account.id, {
      settings: { payouts: { schedule: { interval: "daily", delay_days: 3 } } },
    });
    expect(updated.settings?.payouts?.schedule).toMatchObject({ interval: "daily", delay_days: 3 });
    await h.emu.control.advanceClock(DAY);
    const payouts = await h.stripe.payouts.list({}, opts);
    expect(payouts.data).toHaveLength(1);
    expect(payouts.data[0]).toMatchObject({ automatic: true, amount: 7000 });
    expect(await balance(account.id)).toEqual({ available: 0, pending: 0 });

    await h.stripe.accounts.update(account.id, {
      settings: { payouts: { schedule: { interval: "weekly", weekly_anchor: "friday" } } },
    });
    const weekly = await h.stripe.accounts.retrieve(account.id);
    expect(weekly.settings?.payouts?.schedule).toMatchObject({ interval: "weekly", weekly_anchor: "friday" });
    await h.stripe.transfers.create({ amount: 1000, currency: "aud", destination: account.id });
    await h.emu.control.advanceClock(7 * DAY);
    const all = await h.stripe.payouts.list({}, opts);
    expect(all.data).toHaveLength(2);
    expect(new Date(all.data[0]!.created * 1000).getUTCDay()).toBe(5);

    await h.stripe.accounts.update(account.id, {
      settings: { payouts: { schedule: { interval: "manual" } } },
    });
    await h.stripe.transfers.create({ amount: 1000, currency: "aud", destination: account.id });
    await h.emu.control.advanceClock(14 * DAY);
    expect((await h.stripe.payouts.list({}, opts)).data).toHaveLength(2);
  });
});

describe("held funds", () => {
  it("a card dispute nobody answers is past due and lost at evidence_details.due_by", async () => {
    const pi = await h.stripe.paymentIntents.create({
      amount: 4000,
      currency: "aud",
      payment_method: "pm_card_createDispute",
      payment_method_types: ["card"],
      confirm: true,
    });
    const dispute = (await h.stripe.disputes.list({ payment_intent: pi.id })).data[0]!;
    expect(dispute.status).toBe("needs_response");
    const dueBy = dispute.evidence_details.due_by!;
    expect(dueBy).toBe(dispute.created + 7 * DAY);
    await h.emu.control.advanceClockTo(dueBy - 1);
    expect((await h.stripe.disputes.retrieve(dispute.id)).status).toBe("needs_response");
    await h.emu.control.advanceClock(1);
    const lost = await h.stripe.disputes.retrieve(dispute.id);
    expect(lost.status).toBe("lost");
    expect(lost.evidence_details.past_due).toBe(true);
    const types = (await h.stripe.events.list({ type: "charge.dispute.*" })).data
      .map((e) => e.type)
      .reverse();
    expect(types).toEqual([
      "charge.dispute.created",
      "charge.dispute.funds_withdrawn",
      "charge.dispute.updated",
      "charge.dispute.closed",
    ]);
  });

  it("answered disputes are not closed at the due date; winning reinstates the funds", async () => {
    const pi = await h.stripe.paymentIntents.create({
      amount: 4000,
      currency: "aud",
      payment_method: "pm_card_createDispute",
      payment_method_types: ["card"],
      confirm: true,
    });
    const dispute = (await h.stripe.disputes.list({ payment_intent: pi.id })).data[0]!;
    const updated = await h.stripe.disputes.update(dispute.id, {
      evidence: { product_description: "Room booking" },
      submit: true,
    });
    expect(updated.status).toBe("under_review");
    await h.emu.control.advanceClock(8 * DAY);
    expect((await h.stripe.disputes.retrieve(dispute.id)).status).toBe("under_review");
    const won = await h.emu.control.resolveDispute(dispute.id, "won");
    expect(won.status).toBe("won");
    expect(won.balance_transactions.map((t) => t.amount)).toEqual([-4000, 4000]);
    const types = (await h.stripe.events.list({ type: "charge.dispute.*" })).data.map((e) => e.type);
    expect(types.slice(0, 2)).toEqual(["charge.dispute.closed", "charge.dispute.funds_reinstated"]);
  });
});
