// A membership invoice's refunds at Stripe against the ledger: susu's refunds of the invoice,
// refunds made outside susu (Stripe's dashboard) and their failures are one movement per
// invoice, however the ledger split one Stripe refund between susu's refund call and the
// refund's own news (from the reviewer's probe P1 on s21-reader).
import {
  type LedgerTransaction,
  membershipDisputeLost,
  membershipInvoicePaid,
  membershipInvoiceRefunded,
  membershipOutsideRefundFailed,
  membershipRefundedOutsideSusu,
  money,
  subscriptionIds,
} from "@susu/domain";
import type { Result } from "neverthrow";
import { describe, expect, it } from "vitest";
import { reconcile } from "../../src/reconciliation/reconcile.js";
import { type StripeBalanceRecord, stripeItemOf } from "../../src/reconciliation/stripe-items.js";
import { susuItemsOf } from "../../src/reconciliation/susu-items.js";
import { balanceRecord } from "./balance-record.js";

const T = Date.UTC(2026, 11, 1, 9);
const S = "sub_1";
const I = "in_1";
const ids = subscriptionIds.ledger;
const tx = (r: Result<LedgerTransaction, unknown>) => r._unsafeUnwrap();
const on = (minor: number) => ({
  subscriptionId: S,
  invoiceId: I,
  amount: money(minor, "AUD"),
  occurredAt: T,
});
const by = (refundId: string, minor: number) => ({ ...on(minor), ref: { refundId } });

const record = (o: Partial<StripeBalanceRecord> & Pick<StripeBalanceRecord, "id">): StripeBalanceRecord =>
  balanceRecord({ created: T, availableOn: T, membershipInvoiceId: I, ...o });
const refund = (id: string, sourceId: string, amountMinor: number, failure = false) =>
  record({
    id,
    type: failure ? "refund_failure" : "refund",
    reportingCategory: failure ? "refund_failure" : "refund",
    sourceId,
    sourceObject: "refund",
    amountMinor,
  });

// At Stripe: the invoice's 10.00 charge; dashboard refund re_A of 6.00, which Stripe failed
// after its success; then dashboard refund re_B of 10.00 (the whole charge refundable again).
const stripeSide = [
  record({ id: "txn_ch", sourceId: "ch_1", sourceObject: "charge", amountMinor: 10_00 }),
  refund("txn_a", "re_A", -6_00),
  refund("txn_a_failed", "re_A", 6_00, true),
  refund("txn_b", "re_B", -10_00),
].map(stripeItemOf);

describe("a membership invoice's refunds, however the ledger booked them", () => {
  it("one Stripe refund booked partly by susu's refund call and partly by its own news is no difference", () => {
    // susu's refund of the late payment was answered by re_B while re_A (6.00) was booked: susu
    // booked the 4.00 left; re_A then failed (6.00 back) and re_B's own news booked the 6.00 more.
    const ledger = [
      tx(membershipInvoicePaid({ id: ids.invoicePaid(S, I), ...on(10_00) })),
      tx(
        membershipRefundedOutsideSusu({
          id: ids.refundedOutside(S, I, "re_A"),
          ...by("re_A", 6_00),
        }),
      ),
      tx(
        membershipInvoiceRefunded({
          id: ids.paymentRefunded(S, I, "re_B"),
          ...by("re_B", 4_00),
        }),
      ),
      tx(
        membershipOutsideRefundFailed({
          id: ids.outsideRefundFailed(S, I, "re_A"),
          ...by("re_A", 6_00),
        }),
      ),
      tx(
        membershipRefundedOutsideSusu({
          id: ids.refundedOutside(S, I, "re_B"),
          ...by("re_B", 6_00),
        }),
      ),
    ];
    const r = reconcile(susuItemsOf(ledger), stripeSide);
    expect(r.differences.map((d) => [d.code, d.key, d.susuMinor, d.stripeMinor])).toEqual([]);
    expect(r.matched).toBe(2); // the invoice's payment, and its refunds
  });

  it("a difference in an invoice's refunds names every Stripe refund involved, on both sides", () => {
    // The ledger missed re_B's own news: 6.00 short.
    const ledger = [
      tx(membershipInvoicePaid({ id: ids.invoicePaid(S, I), ...on(10_00) })),
      tx(
        membershipRefundedOutsideSusu({
          id: ids.refundedOutside(S, I, "re_A"),
          ...by("re_A", 6_00),
        }),
      ),
      tx(
        membershipInvoiceRefunded({
          id: ids.paymentRefunded(S, I, "re_B"),
          ...by("re_B", 4_00),
        }),
      ),
      tx(
        membershipOutsideRefundFailed({
          id: ids.outsideRefundFailed(S, I, "re_A"),
          ...by("re_A", 6_00),
        }),
      ),
    ];
    const r = reconcile(susuItemsOf(ledger), stripeSide);
    expect(r.differences).toMatchObject([
      {
        code: "amount_mismatch",
        key: "refunds_of_invoice:in_1",
        susuMinor: -4_00,
        stripeMinor: -10_00,
        stripeObjectIds: ["re_A", "re_B"],
      },
    ]);
    // Susu's own refund missing at Stripe still names the Stripe refund the ledger knows.
    const alone = reconcile(susuItemsOf(ledger.slice(2, 3)), []);
    expect(alone.differences).toMatchObject([
      { code: "missing_at_stripe", key: "refunds_of_invoice:in_1", stripeObjectIds: ["re_B"] },
    ]);
  });

  it("a membership dispute is matched by the dispute's id on both sides: no other path books it", () => {
    const ledger = [
      tx(membershipInvoicePaid({ id: ids.invoicePaid(S, I), ...on(10_00) })),
      tx(
        membershipDisputeLost({
          id: ids.disputeLost(S, I, "du_1"),
          ...on(10_00),
          ref: { disputeId: "du_1" },
        }),
      ),
    ];
    const stripe = [
      record({ id: "txn_ch", sourceId: "ch_1", sourceObject: "charge", amountMinor: 10_00 }),
      record({
        id: "txn_du",
        type: "adjustment",
        reportingCategory: "dispute",
        sourceId: "du_1",
        sourceObject: "dispute",
        amountMinor: -10_00,
        membershipInvoiceId: null,
      }),
    ].map(stripeItemOf);
    const r = reconcile(susuItemsOf(ledger), stripe);
    expect(r.differences).toEqual([]);
    expect(r.matched).toBe(2);
  });
});
