// Stripe's own movements on the platform's balance (its fees billed, reserves, tax) name
// nothing of susu's: every day has some, so they are counted, not reported missing in susu.
import { describe, expect, it } from "vitest";
import { reconcile } from "../../src/reconciliation/reconcile.js";
import { reconciliationSummary } from "../../src/reconciliation/report-format.js";
import { stripeItemOf } from "../../src/reconciliation/stripe-items.js";
import { balanceRecord } from "./balance-record.js";

describe("Stripe's own movements on the platform account", () => {
  it("stripe_fee, reserve_transaction and tax_fee are counted, not differences; an unknown charge still is one", () => {
    const records = [
      balanceRecord({ id: "txn_fee", type: "stripe_fee", reportingCategory: "fee", amountMinor: -200 }),
      balanceRecord({
        id: "txn_reserve",
        type: "reserve_transaction",
        reportingCategory: "risk_reserved_funds",
        amountMinor: -5000,
      }),
      balanceRecord({ id: "txn_tax", type: "tax_fee", reportingCategory: "fee", amountMinor: -30 }),
      balanceRecord({
        id: "txn_unknown",
        type: "charge",
        sourceId: "ch_unknown",
        sourceObject: "charge",
        amountMinor: 900,
      }),
    ];
    const result = reconcile([], records.map(stripeItemOf));
    expect(result.differences.map((d) => [d.code, d.balanceTransactionIds])).toEqual([
      ["missing_in_susu", ["txn_unknown"]],
    ]);
    expect(result.stripeAccountMovements).toBe(3);
    // Still in Stripe's settlement totals: the balance moved by them.
    expect(result.settlement).toEqual([
      { currency: "AUD", amountMinor: 900 - 200 - 5000 - 30, feeMinor: 0, netMinor: 0, count: 4 },
    ]);
    const summary = reconciliationSummary({
      from: 0,
      to: 86_400_000,
      ledgerTransactions: 0,
      balanceTransactions: 4,
      ...result,
    });
    expect(summary).toContain("3 movement(s) of Stripe's own on the platform's balance");
  });
});
