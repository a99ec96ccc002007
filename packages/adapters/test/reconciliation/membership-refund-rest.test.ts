// A membership invoice's 10.00 charge: dashboard refund re_A (6.00) succeeded and was booked,
// then Stripe failed it; the charge refundable in full again, re_B refunded all 10.00. When
// re_B's news is heard before re_A's failure, the books have room for only 4.00 of it: its
// rest (6.00) is booked when re_A's failure is heard, under re_B's own id. The reconciliation
// then finds Stripe's balance transactions and the books equal, refund by refund.
import {
  decideSubscription,
  type LedgerTransaction,
  type Subscription,
  type SubscriptionInput,
} from "@susu/domain";
import { describe, expect, it } from "vitest";
import { reconcile } from "../../src/reconciliation/reconcile.js";
import { type StripeBalanceRecord, stripeItemOf } from "../../src/reconciliation/stripe-items.js";
import { susuItemsOf } from "../../src/reconciliation/susu-items.js";
import { aMembership } from "../support/membership-fixture.js";
import { balanceRecord } from "./balance-record.js";

const T = Date.UTC(2026, 0, 6);

const membership = (start: "checkout" | "saved_method"): Subscription => aMembership(start, T);

function postedAlong(s: Subscription, inputs: readonly SubscriptionInput[]): LedgerTransaction[] {
  let state = s;
  const out: LedgerTransaction[] = [];
  for (const input of inputs) {
    const d = decideSubscription(state, input, { now: T })._unsafeUnwrap();
    state = d.state;
    for (const e of d.effects) if (e.kind === "post_ledger") out.push(e.transaction);
  }
  return out;
}

const paid: SubscriptionInput = {
  type: "invoice_paid",
  invoice: {
    invoiceId: "in_1",
    amountDueMinor: 10_00,
    amountPaidMinor: 10_00,
    currency: "AUD",
    observedAt: T,
  },
  paidAt: T,
};
const outside = (
  refundId: string,
  amountMinor: number,
  outcome: "succeeded" | "failed",
): SubscriptionInput => ({
  type: "invoice_refunded_outside",
  invoiceId: "in_1",
  refundId,
  amountMinor,
  outcome,
  ...(outcome === "failed" ? { failureCode: "expired_or_canceled_card" } : {}),
});
const susuAnswered: SubscriptionInput[] = [
  { type: "invoice_refunds_made", invoiceId: "in_1", refundIds: ["re_B"] },
  {
    type: "invoice_refund_settled",
    invoiceId: "in_1",
    outcome: "succeeded",
    refundId: "re_B",
    amountMinor: 10_00,
  },
];

const record = (o: Partial<StripeBalanceRecord> & Pick<StripeBalanceRecord, "id">): StripeBalanceRecord =>
  balanceRecord({ created: T, availableOn: T, membershipInvoiceId: "in_1", ...o });
const refundRecord = (id: string, type: "refund" | "refund_failure", refundId: string, amountMinor: number) =>
  record({ id, type, reportingCategory: type, sourceId: refundId, sourceObject: "refund", amountMinor });
const stripeSide = [
  record({ id: "txn_ch", sourceId: "ch_1", sourceObject: "charge", amountMinor: 10_00 }),
  refundRecord("txn_a", "refund", "re_A", -6_00),
  refundRecord("txn_a_failed", "refund_failure", "re_A", 6_00),
  refundRecord("txn_b", "refund", "re_B", -10_00),
].map(stripeItemOf);

const revenue = (txs: readonly LedgerTransaction[]) =>
  txs
    .flatMap((t) => t.postings)
    .filter((p) => p.account === "platform:membership_revenue")
    .reduce((n, p) => n + (p.side === "debit" ? p.amount.amountMinor : -p.amount.amountMinor), 0);

describe("a refund's rest, booked when another refund's failure frees room, reconciles with Stripe", () => {
  it("an active membership: re_B heard before re_A's failure", () => {
    const txs = postedAlong(membership("saved_method"), [
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
      paid,
      outside("re_A", 6_00, "succeeded"),
      outside("re_B", 10_00, "succeeded"),
      outside("re_A", 6_00, "failed"),
    ]);
    expect(txs.map((t) => t.id)).toContain("mbr_1:invoice:in_1:refunded-outside:re_B:rest");
    expect(revenue(txs)).toBe(0);
    const r = reconcile(susuItemsOf(txs), stripeSide);
    expect(r.differences.map((d) => [d.code, d.key, d.susuMinor, d.stripeMinor])).toEqual([]);
  });

  it("susu's refund of a late-paid membership answered by re_B, re_B's own news first, re_A's failure last", () => {
    const txs = postedAlong(membership("checkout"), [
      { type: "cancel", atPeriodEnd: false },
      paid,
      outside("re_A", 6_00, "succeeded"),
      outside("re_B", 10_00, "succeeded"),
      ...susuAnswered,
      outside("re_A", 6_00, "failed"),
    ]);
    expect(revenue(txs)).toBe(0);
    const r = reconcile(susuItemsOf(txs), stripeSide);
    expect(r.differences.map((d) => [d.code, d.key, d.susuMinor, d.stripeMinor])).toEqual([]);
  });

  it("susu's refund answered by re_B before re_B's own news: susu's refund books its rest", () => {
    const txs = postedAlong(membership("checkout"), [
      { type: "cancel", atPeriodEnd: false },
      paid,
      outside("re_A", 6_00, "succeeded"),
      ...susuAnswered,
      outside("re_A", 6_00, "failed"),
      outside("re_B", 10_00, "succeeded"),
    ]);
    expect(txs.map((t) => t.id)).toContain("mbr_1:invoice:in_1:refunded:re_B:rest");
    expect(revenue(txs)).toBe(0);
    const r = reconcile(susuItemsOf(txs), stripeSide);
    expect(r.differences.map((d) => [d.code, d.key, d.susuMinor, d.stripeMinor])).toEqual([]);
  });
});
