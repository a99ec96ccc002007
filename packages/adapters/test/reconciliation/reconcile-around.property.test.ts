// reconcileAround over consecutive days: movements whose two records are less than the margin
// apart match on every day, whichever side of midnight each fell; one with a different amount
// is reported on the day of each of its records (once when both fall on one day), never on
// none; a payment booked twice is reported whatever lies across the bound.
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

  it("reports a movement with a different amount on the day of Stripe's record, and only across a bound also on the other side", () => {
    fc.assert(
      fc.property(movements, fc.nat(), (ms, pick) => {
        const wrong = pick % ms.length;
        const susuAt = (i: number) => ms[i]!.stripeAt + ms[i]!.lag;
        const susu = ms.map((m, i) => susuItem(i, susuAt(i), m.minor + (i === wrong ? 1 : 0)));
        const stripe = ms.map((m, i) => stripeItem(i, m.stripeAt, m.minor));
        const reported = days(susu, stripe).map((ds) =>
          ds.map((d) => [d.code, d.balanceTransactionIds, d.ledgerTransactionIds]),
        );
        const dayOf = (t: number) => Math.floor((t - D0) / DAY);
        const reportingDays = new Set([dayOf(ms[wrong]!.stripeAt), dayOf(susuAt(wrong))]);
        expect(reported).toEqual(
          [0, 1, 2].map((d) =>
            reportingDays.has(d) ? [["amount_mismatch", [`txn_${wrong}`], [`ltx_${wrong}`]]] : [],
          ),
        );
      }),
    );
  });

  it("never hides a second booking of a payment matched just before midnight", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: M / 1000 }),
        fc.integer({ min: 0, max: DAY / 1000 - 1 }),
        (beforeMidnightS, nextDayS) => {
          const matchedAt = D0 + 2 * DAY - beforeMidnightS * 1000;
          const susu = [
            susuItem(0, matchedAt + 5_000, 100_00),
            susuItem(1, D0 + 2 * DAY + nextDayS * 1000, 100_00),
          ];
          const stripe = [stripeItem(0, matchedAt, 100_00)];
          // One key for all three: the duplicate books the same payment again.
          const same = { ...susu[1]!, key: susu[0]!.key };
          const reported = [1, 2, 3].map((d) => {
            const from = D0 + d * DAY;
            const near = (t: number) => t >= from - M && t < from + DAY + M;
            return reconcileAround(
              [susu[0]!, same].filter((i) => near(i.occurredAt)),
              stripe.filter((i) => near(i.created)),
              { from, to: from + DAY },
            ).differences;
          });
          expect(reported.flat().flatMap((d) => d.ledgerTransactionIds)).toContain(same.ledgerTransactionId);
        },
      ),
    );
  });
});
