// A membership invoice's 10.00 charge: dashboard refund re_A (6.00) succeeded and was booked,
// then Stripe failed it; the charge held all 10.00 again and the person's bank disputed all of
// it (Stripe withdrew 10.00). When the dispute's news is heard before re_A's failure, the books
// have room for only 4.00 of the loss: its rest (6.00) is booked when re_A's failure is heard,
// under the dispute's own id. The subscription's own decisions post the ledger on PostgreSQL,
// Stripe's balance transactions are stored as the puller stores them, and the period,
// reconciled from what is stored, shows no difference. The same when re_A stands (the dispute
// lost gives back its 6.00: Stripe's "partially won", the rest never booked) and when the
// dispute is won after its rest was booked.
import {
  decideSubscription,
  type LedgerTransaction,
  type Subscription,
  type SubscriptionInput,
} from "@susu/domain";
import { describe, expect, it } from "vitest";
import { reconcileStored } from "../../src/reconciliation/index.js";
import type { StripeBalanceRecord } from "../../src/reconciliation/stripe-items.js";
import { useTestDatabase } from "../support/index.js";
import { aMembership } from "../support/membership-fixture.js";
import { balanceRecord, store } from "./balance-record.js";

const DAY = 86_400_000;
const T = Date.UTC(2026, 0, 6);
const period = { from: T, to: T + 5 * DAY };

/** Each input decided in turn, a day apart, on Sam's active membership; every ledger posting asked for. */
function postedAlong(inputs: readonly SubscriptionInput[]): LedgerTransaction[] {
  let s: Subscription = aMembership("saved_method", T);
  const out: LedgerTransaction[] = [];
  const steps: SubscriptionInput[] = [
    {
      type: "subscription_changed",
      snapshot: {
        stripeSubscriptionId: "sub_1",
        status: "active",
        stripePriceId: "price_1",
        cancelAtPeriodEnd: false,
        observedAt: T,
      },
    },
    {
      type: "invoice_paid",
      invoice: {
        invoiceId: "in_1",
        amountDueMinor: 10_00,
        amountPaidMinor: 10_00,
        currency: "AUD",
        observedAt: T,
      },
      paidAt: T,
    },
    ...inputs,
  ];
  steps.forEach((input, i) => {
    const d = decideSubscription(s, input, { now: T + Math.max(0, i - 1) * (DAY / 2) })._unsafeUnwrap();
    s = d.state;
    for (const e of d.effects) if (e.kind === "post_ledger") out.push(e.transaction);
  });
  return out;
}

const refundA = (outcome: "succeeded" | "failed"): SubscriptionInput => ({
  type: "invoice_refunded_outside",
  invoiceId: "in_1",
  refundId: "re_A",
  amountMinor: 6_00,
  outcome,
  ...(outcome === "failed" ? { failureCode: "charge_for_pending_refund_disputed" } : {}),
});
const dispute = (news: { stripeStatus?: string; closed?: "won" | "lost" }): SubscriptionInput => ({
  type: "invoice_disputed",
  invoiceId: "in_1",
  disputeId: "du_1",
  amountMinor: 10_00,
  ...news,
});

/** Stripe's balance transactions of the invoice's charge, its refund and its dispute (AUD, no fee). */
const record = (
  id: string,
  day: number,
  o: Pick<StripeBalanceRecord, "type" | "reportingCategory" | "sourceId" | "sourceObject" | "amountMinor">,
): StripeBalanceRecord =>
  balanceRecord({
    id,
    created: T + day * DAY,
    availableOn: T + day * DAY,
    netMinor: o.amountMinor,
    membershipInvoiceId: o.sourceObject === "dispute" ? null : "in_1",
    ...o,
  });
const charge = record("txn_ch", 0, {
  type: "charge",
  reportingCategory: "charge",
  sourceId: "ch_1",
  sourceObject: "charge",
  amountMinor: 10_00,
});
const refunded = record("txn_re", 1, {
  type: "refund",
  reportingCategory: "refund",
  sourceId: "re_A",
  sourceObject: "refund",
  amountMinor: -6_00,
});
const refundFailed = record("txn_re_failed", 2, {
  type: "refund_failure",
  reportingCategory: "refund_failure",
  sourceId: "re_A",
  sourceObject: "refund",
  amountMinor: 6_00,
});
const withdrawn = record("txn_du", 2, {
  type: "adjustment",
  reportingCategory: "dispute",
  sourceId: "du_1",
  sourceObject: "dispute",
  amountMinor: -10_00,
});
const reinstated = (minor: number) =>
  record("txn_du_back", 3, {
    type: "adjustment",
    reportingCategory: "dispute_reversal",
    sourceId: "du_1",
    sourceObject: "dispute",
    amountMinor: minor,
  });

describe("a membership dispute's loss the books had no room for, reconciled on PostgreSQL", () => {
  const failedFirst = useTestDatabase();
  const standing = useTestDatabase();
  const won = useTestDatabase();

  it("re_A failed at Stripe before the dispute, heard after its closure lost: the rest is booked, and the period has no difference", async () => {
    const txs = postedAlong([
      refundA("succeeded"),
      dispute({ stripeStatus: "needs_response" }),
      dispute({ closed: "lost" }),
      refundA("failed"),
    ]);
    await store(failedFirst.prisma, txs, [charge, refunded, refundFailed, withdrawn], T + 4 * DAY);
    const report = await reconcileStored(failedFirst.prisma, period);
    expect(report.balanceTransactions).toBe(4);
    expect(report.differences.map((d) => [d.code, d.key, d.susuMinor, d.stripeMinor])).toEqual([]);
    expect(
      txs.filter((t) => t.refs.disputeId === "du_1").map((t) => [t.id, t.postings[0]?.amount.amountMinor]),
    ).toEqual([
      ["mbr_1:invoice:in_1:dispute:du_1:lost", 4_00],
      ["mbr_1:invoice:in_1:dispute:du_1:lost:rest", 6_00],
    ]);
  });

  it("re_A stands: the dispute lost gives its 6.00 back at Stripe, the rest is never booked, and the period has no difference", async () => {
    const txs = postedAlong([
      refundA("succeeded"),
      dispute({ stripeStatus: "needs_response" }),
      dispute({ closed: "lost" }),
    ]);
    await store(standing.prisma, txs, [charge, refunded, withdrawn, reinstated(6_00)], T + 4 * DAY);
    const report = await reconcileStored(standing.prisma, period);
    expect(report.differences.map((d) => [d.code, d.key, d.susuMinor, d.stripeMinor])).toEqual([]);
  });

  it("won after its rest was booked: exactly what was booked is undone, and the period has no difference", async () => {
    const txs = postedAlong([
      refundA("succeeded"),
      dispute({ stripeStatus: "needs_response" }),
      refundA("failed"),
      dispute({ closed: "won" }),
    ]);
    await store(won.prisma, txs, [charge, refunded, refundFailed, withdrawn, reinstated(10_00)], T + 4 * DAY);
    const report = await reconcileStored(won.prisma, period);
    expect(report.differences.map((d) => [d.code, d.key, d.susuMinor, d.stripeMinor])).toEqual([]);
    expect(
      txs.filter((t) => t.refs.disputeId === "du_1").map((t) => [t.id, t.postings[0]?.amount.amountMinor]),
    ).toEqual([
      ["mbr_1:invoice:in_1:dispute:du_1:lost", 4_00],
      ["mbr_1:invoice:in_1:dispute:du_1:lost:rest", 6_00],
      ["mbr_1:invoice:in_1:dispute:du_1:won", 10_00],
    ]);
  });
});
