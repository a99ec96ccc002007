import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type DifferenceCode,
  type ReconciliationCategory,
  reconcile,
  type StripeMoneyItem,
  type SusuMoneyItem,
} from "../../src/reconciliation/reconcile.js";

/** One movement both sides know: a key, a category, a currency, and how each side splits its amount. */
interface Movement {
  readonly key: string;
  readonly category: ReconciliationCategory;
  readonly currency: string;
  readonly parts: readonly number[];
  readonly stripeSplit: boolean;
}

const categories: ReconciliationCategory[] = [
  "charge",
  "refund",
  "transfer",
  "transfer_reversal",
  "dispute",
  "application_fee",
];

const movement = (index: number) =>
  fc.record({
    key: fc.constant(`effect:m${index}`),
    category: fc.constantFrom(...categories),
    currency: fc.constantFrom("AUD", "USD", "JPY", "NZD"),
    parts: fc.array(
      fc.integer({ min: -1_000_000, max: 1_000_000 }).filter((n) => n !== 0),
      {
        minLength: 1,
        maxLength: 3,
      },
    ),
    stripeSplit: fc.boolean(),
  });

const movements = fc
  .integer({ min: 1, max: 12 })
  .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => movement(i))));

const T0 = Date.UTC(2026, 11, 1);

function susuOf(m: Movement, index: number): SusuMoneyItem[] {
  return m.parts.map((signedMinor, part) => ({
    ledgerTransactionId: `${m.key}:tx${part}`,
    kind: "test",
    category: m.category,
    key: m.key,
    signedMinor,
    currency: m.currency,
    occurredAt: T0 + index * 1_000 + part,
  }));
}

function stripeItem(
  id: string,
  m: Pick<Movement, "category" | "currency">,
  signedMinor: number,
  keys: string[],
  extra: Partial<StripeMoneyItem> = {},
): StripeMoneyItem {
  return {
    balanceTransactionId: `txn_${id}`,
    type: "test",
    category: m.category,
    sourceId: `src_${id}`,
    keys,
    signedMinor,
    currency: m.currency,
    settlementMinor: signedMinor,
    settlementCurrency: m.currency,
    feeMinor: 0,
    netMinor: signedMinor,
    exchangeRate: null,
    created: T0,
    ...extra,
  };
}

/** Stripe's side of a movement: the same total, in one item or in the same parts. */
function stripeOf(m: Movement, index: number): StripeMoneyItem[] {
  const keys = (part: number) => [`object:src_${index}_${part}`, m.key];
  if (!m.stripeSplit)
    return [
      stripeItem(
        `${index}_0`,
        m,
        m.parts.reduce((a, b) => a + b, 0),
        keys(0),
      ),
    ];
  return m.parts.map((p, part) => stripeItem(`${index}_${part}`, m, p, keys(part)));
}

function sides(ms: readonly Movement[]) {
  return {
    susu: ms.flatMap((m, i) => susuOf(m, i)),
    stripe: ms.flatMap((m, i) => stripeOf(m, i)),
  };
}

/** A paid payout to the platform's bank: Stripe only, never a difference. */
const paidPayout = stripeItem(
  "po_paid",
  { category: "payout", currency: "AUD" },
  -5_000,
  ["object:po_paid"],
  {
    payoutStatus: "paid",
  },
);

describe("reconcile", () => {
  it("finds no difference when both sides record the same movements, however they are split, and their totals agree", () => {
    fc.assert(
      fc.property(movements, (ms) => {
        const { susu, stripe } = sides(ms);
        const result = reconcile(susu, [...stripe, paidPayout]);
        expect(result.differences).toEqual([]);
        expect(result.matched).toBe(ms.length);
        expect(result.payoutsNotTracked).toBe(1);
        for (const t of result.totals) {
          if (t.category === "payout") continue;
          expect(t.susuMinor).toBe(t.stripeMinor);
        }
      }),
    );
  });

  type Injection =
    | "drop_susu"
    | "drop_stripe"
    | "amount"
    | "currency"
    | "unknown_at_stripe"
    | "failure_at_stripe"
    | "reversal_of_susu_transfer"
    | "failed_payout";

  const injections: Injection[] = [
    "drop_susu",
    "drop_stripe",
    "amount",
    "currency",
    "unknown_at_stripe",
    "failure_at_stripe",
    "reversal_of_susu_transfer",
    "failed_payout",
  ];

  function inject(
    ms: readonly Movement[],
    which: number,
    injection: Injection,
  ): { susu: SusuMoneyItem[]; stripe: StripeMoneyItem[]; code: DifferenceCode; key: string } {
    const i = which % ms.length;
    const m = ms[i]!;
    const { susu, stripe } = sides(ms);
    const theirs = (item: StripeMoneyItem) => item.keys.includes(m.key);
    switch (injection) {
      case "drop_susu": {
        const kept = susu.filter((x) => x.key !== m.key);
        const first = stripe.find(theirs)!;
        return { susu: kept, stripe, code: "missing_in_susu", key: first.keys[0]! };
      }
      case "drop_stripe":
        return { susu, stripe: stripe.filter((x) => !theirs(x)), code: "missing_at_stripe", key: m.key };
      case "amount": {
        const first = stripe.findIndex(theirs);
        const changed = stripe.map((x, n) => (n === first ? { ...x, signedMinor: x.signedMinor + 1 } : x));
        return {
          susu,
          stripe: changed,
          code: m.category === "application_fee" ? "fee_mismatch" : "amount_mismatch",
          key: m.key,
        };
      }
      case "currency":
        return {
          susu,
          stripe: stripe.map((x) => (theirs(x) ? { ...x, currency: "EUR" } : x)),
          code: "currency_mismatch",
          key: m.key,
        };
      case "unknown_at_stripe":
        return {
          susu,
          stripe: [...stripe, stripeItem("unknown", m, 1_234, ["object:src_unknown"])],
          code: "missing_in_susu",
          key: "object:src_unknown",
        };
      case "failure_at_stripe": {
        const total = m.parts.reduce((a, b) => a + b, 0);
        const failure = stripeItem("failure", m, total === 0 ? -1 : -total, ["object:src_failure", m.key], {
          statusChange: true,
        });
        return {
          susu,
          stripe: [...stripe, failure],
          code: m.category === "application_fee" ? "fee_mismatch" : "status_mismatch",
          key: m.key,
        };
      }
      case "reversal_of_susu_transfer":
        return {
          susu,
          stripe: [
            ...stripe,
            stripeItem(
              "trr_x",
              { category: "transfer_reversal", currency: m.currency },
              700,
              ["object:trr_x"],
              {
                reversesSusuTransfer: true,
              },
            ),
          ],
          code: "status_mismatch",
          key: "object:trr_x",
        };
      case "failed_payout":
        return {
          susu,
          stripe: [
            ...stripe,
            stripeItem(
              "po_failed",
              { category: "payout", currency: m.currency },
              5_000,
              ["object:po_failed"],
              {
                payoutStatus: "failed",
                statusChange: true,
              },
            ),
          ],
          code: "unmatched_payout",
          key: "object:po_failed",
        };
    }
  }

  it("reports every injected discrepancy once, with its code and key, and nothing else", () => {
    fc.assert(
      fc.property(movements, fc.nat(), fc.constantFrom(...injections), (ms, which, injection) => {
        const { susu, stripe, code, key } = inject(ms, which, injection);
        const result = reconcile(susu, [...stripe, paidPayout]);
        expect(result.differences.map((d) => [d.code, d.key])).toEqual([[code, key]]);
        const [d] = result.differences;
        if (code === "missing_at_stripe") {
          expect(d?.stripeMinor).toBeNull();
          expect(d?.ledgerTransactionIds.length).toBeGreaterThan(0);
        }
        if (code === "missing_in_susu") {
          expect(d?.susuMinor).toBeNull();
          expect(d?.balanceTransactionIds.length).toBeGreaterThan(0);
        }
      }),
    );
  });

  it("does not report what Stripe undid within the period (a payment and its failure, a dispute won back)", () => {
    fc.assert(
      fc.property(movements, fc.integer({ min: 1, max: 1_000_000 }), (ms, amount) => {
        const { susu, stripe } = sides(ms);
        const m = { category: "dispute" as const, currency: "AUD" };
        const withdrawn = stripeItem("du_w", m, -amount, ["object:du_x"]);
        const reinstated = stripeItem("du_r", m, amount, ["object:du_x"], { statusChange: true });
        const result = reconcile(susu, [...stripe, withdrawn, reinstated]);
        expect(result.differences).toEqual([]);
        expect(result.undoneAtStripe).toBe(1);
        // Only the withdrawal, as while the dispute is open: Stripe moved money susu has not booked.
        expect(reconcile(susu, [...stripe, withdrawn]).differences.map((d) => d.code)).toEqual([
          "missing_in_susu",
        ]);
      }),
    );
  });

  it("does not report what susu alone booked and undid within the period; reports it when nothing undid it", () => {
    fc.assert(
      fc.property(movements, fc.integer({ min: 1, max: 1_000_000 }), fc.boolean(), (ms, amount, undone) => {
        const { susu, stripe } = sides(ms);
        const base = { category: "dispute" as const, key: "object:du_y", currency: "AUD", kind: "test" };
        const withdrawn = { ...base, ledgerTransactionId: "y:w", signedMinor: -amount, occurredAt: T0 };
        // A withdrawal undone (the status change), or a second movement that leaves it short.
        const other = undone
          ? { ...base, ledgerTransactionId: "y:u", signedMinor: amount, occurredAt: T0, statusChange: true }
          : {
              ...base,
              ledgerTransactionId: "y:u",
              signedMinor: amount - 1,
              occurredAt: T0,
              statusChange: true,
            };
        const result = reconcile([...susu, withdrawn, other], stripe);
        expect(result.differences.map((d) => [d.code, d.key])).toEqual(
          undone ? [] : [["missing_at_stripe", "object:du_y"]],
        );
        // Without the status change, a zero sum is still two movements Stripe does not have.
        const plain = { ...other, statusChange: undefined, signedMinor: amount };
        expect(reconcile([...susu, withdrawn, plain], stripe).differences.map((d) => d.code)).toEqual([
          "missing_at_stripe",
        ]);
      }),
    );
  });

  it("claims each Stripe item once: two susu keys a Stripe item offers do not both match it", () => {
    const m = { category: "refund" as const, currency: "AUD" };
    const item = stripeItem("re_1", m, -500, ["object:re_1", "effect:r1"]);
    const susu: SusuMoneyItem[] = [
      {
        ledgerTransactionId: "a",
        kind: "held_refunded",
        category: "refund",
        key: "effect:r1",
        signedMinor: -500,
        currency: "AUD",
        occurredAt: T0,
      },
      {
        ledgerTransactionId: "b",
        kind: "held_refunded",
        category: "refund",
        key: "object:re_1",
        signedMinor: -500,
        currency: "AUD",
        occurredAt: T0,
      },
    ];
    const result = reconcile(susu, [item]);
    expect(result.matched).toBe(1);
    expect(result.differences.map((d) => [d.code, d.ledgerTransactionIds])).toEqual([
      ["missing_at_stripe", ["b"]],
    ]);
  });

  it("totals both sides per currency and category, and Stripe's settlement with its fees", () => {
    const charge = stripeItem("ch_1", { category: "charge", currency: "USD" }, 10_00, ["effect:c"], {
      settlementMinor: 15_23,
      settlementCurrency: "AUD",
      feeMinor: 45,
      netMinor: 14_78,
      exchangeRate: 1.523,
    });
    const result = reconcile(
      [
        {
          ledgerTransactionId: "c:tx",
          kind: "held_captured",
          category: "charge",
          key: "effect:c",
          signedMinor: 10_00,
          currency: "USD",
          occurredAt: T0,
        },
      ],
      [charge],
    );
    expect(result.totals).toEqual([
      {
        currency: "USD",
        category: "charge",
        susuMinor: 10_00,
        susuCount: 1,
        stripeMinor: 10_00,
        stripeCount: 1,
      },
    ]);
    expect(result.settlement).toEqual([
      { currency: "AUD", amountMinor: 15_23, feeMinor: 45, netMinor: 14_78, count: 1 },
    ]);
  });
});
