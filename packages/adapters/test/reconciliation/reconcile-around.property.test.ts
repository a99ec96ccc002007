// reconcileAround over consecutive days: movements whose two records are less than the margin
// apart match on every day, whichever side of midnight each fell; one with a different amount
// is reported on exactly one day, the day of Stripe's record.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type ReconciliationDifference,
  reconcileAround,
  type StripeMoneyItem,
  type SusuMoneyItem,
} from "../../src/reconciliation/reconcile.js";
import { RECONCILIATION_MATCH_MARGIN_MS } from "../../src/reconciliation/run-reconciliation.js";

const DAY = 86_400_000;
const D0 = Date.UTC(2026, 11, 1);
const M = RECONCILIATION_MATCH_MARGIN_MS;

const susuItem = (i: number, at: number, minor: number): SusuMoneyItem => ({
  ledgerTransactionId: `ltx_${i}`,
  kind: "debit_initiated",
  category: "charge",
  key: `effect:e${i}`,
  signedMinor: minor,
  currency: "AUD",
  occurredAt: at,
});
const stripeItem = (i: number, at: number, minor: number): StripeMoneyItem => ({
  balanceTransactionId: `txn_${i}`,
  type: "payment",
  category: "charge",
  sourceId: `py_${i}`,
  keys: [`object:py_${i}`, `effect:e${i}`],
  signedMinor: minor,
  currency: "AUD",
  settlementMinor: minor,
  settlementCurrency: "AUD",
  feeMinor: 0,
  netMinor: minor,
  exchangeRate: null,
  created: at,
});

/** Each of three days, reconciled over what a store read for it (the day and its margins). */
function days(susu: SusuMoneyItem[], stripe: StripeMoneyItem[]): (readonly ReconciliationDifference[])[] {
  return [0, 1, 2].map((d) => {
    const from = D0 + d * DAY;
    const to = from + DAY;
    const near = (t: number) => t >= from - M && t < to + M;
    return reconcileAround(
      susu.filter((i) => near(i.occurredAt)),
      stripe.filter((i) => near(i.created)),
      { from, to },
    ).differences;
  });
}

const movements = fc.array(
  fc.record({
    // Stripe's record anywhere in the middle day, most near its bounds.
    stripeAt: fc.oneof(
      fc.integer({ min: D0 + DAY, max: D0 + 2 * DAY - 1 }),
      fc.integer({ min: D0 + DAY - 5_000, max: D0 + DAY + 5_000 }),
      fc.integer({ min: D0 + 2 * DAY - 5_000, max: D0 + 2 * DAY - 1 }),
    ),
    // susu's record before or after it, by less than the margin.
    lag: fc.integer({ min: -(M - 1), max: M - 1 }),
    minor: fc.integer({ min: 1, max: 1_000_000 }),
  }),
  { minLength: 1, maxLength: 12 },
);

describe("reconcileAround over consecutive days", () => {
  it("matches every movement whose records are less than the margin apart, on every day", () => {
    fc.assert(
      fc.property(movements, (ms) => {
        const susu = ms.map((m, i) => susuItem(i, m.stripeAt + m.lag, m.minor));
        const stripe = ms.map((m, i) => stripeItem(i, m.stripeAt, m.minor));
        for (const differences of days(susu, stripe)) expect(differences).toEqual([]);
      }),
    );
  });

  it("reports a movement with a different amount once, on the day of Stripe's record", () => {
    fc.assert(
      fc.property(movements, fc.nat(), (ms, pick) => {
        const wrong = pick % ms.length;
        const susu = ms.map((m, i) => susuItem(i, m.stripeAt + m.lag, m.minor + (i === wrong ? 1 : 0)));
        const stripe = ms.map((m, i) => stripeItem(i, m.stripeAt, m.minor));
        const reported = days(susu, stripe).map((ds) =>
          ds.map((d) => [d.code, d.balanceTransactionIds, d.ledgerTransactionIds]),
        );
        const stripeDay = Math.floor((ms[wrong]!.stripeAt - D0) / DAY);
        expect(reported).toEqual(
          [0, 1, 2].map((d) =>
            d === stripeDay ? [["amount_mismatch", [`txn_${wrong}`], [`ltx_${wrong}`]]] : [],
          ),
        );
      }),
    );
  });
});
