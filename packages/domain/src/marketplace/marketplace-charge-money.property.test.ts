import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type CurrencyCode, currencyInfo } from "../money/index.js";
import type { MarketplaceRefundRules } from "../policy/marketplace-policy.js";
import {
  destinationRefundParts,
  MARKETPLACE_BASIS_POINTS,
  platformFeeMinor,
  splitAmongSellers,
  takeBackParts,
} from "./marketplace-charge-money.js";

const currencies: CurrencyCode[] = ["AUD", "JPY", "KWD", "USD"];
const rulesArb: fc.Arbitrary<MarketplaceRefundRules> = fc.record({
  reverseTransfer: fc.boolean(),
  refundApplicationFee: fc.boolean(),
});

/** A charge: currency, amount (in steps), fee, and 1–6 seller weights, that the constructor accepts. */
const chargeArb = fc
  .record({
    currency: fc.constantFrom(...currencies),
    steps: fc.integer({ min: 100, max: 5_000_000 }),
    bps: fc.integer({ min: 0, max: MARKETPLACE_BASIS_POINTS - 1 }),
    minimum: fc.integer({ min: 0, max: 200 }),
    weights: fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 6 }),
  })
  .map((c) => ({ ...c, step: currencyInfo(c.currency).amountStepMinor }))
  .map((c) => ({ ...c, amountMinor: c.steps * c.step }));

type Charge = typeof chargeArb extends fc.Arbitrary<infer T> ? T : never;

function split(c: Charge) {
  const fee = platformFeeMinor(
    c.amountMinor,
    c.currency,
    { kind: "rate", basisPoints: c.bps },
    c.minimum,
    c.weights.length,
  );
  if (fee.isErr()) return undefined;
  const sellers = splitAmongSellers(c.amountMinor, fee.value, c.currency, c.weights);
  if (sellers.isErr()) return undefined;
  return { feeMinor: fee.value, sellers: sellers.value };
}

describe("a marketplace charge's money (properties)", () => {
  it("the fee and the sellers' shares add up to the amount: no minor unit lost or invented, every part a whole step", () => {
    fc.assert(
      fc.property(chargeArb, (c) => {
        const s = split(c);
        if (!s) return;
        const shares = s.sellers.map((x) => x.shareMinor);
        expect(s.feeMinor + shares.reduce((a, b) => a + b, 0)).toBe(c.amountMinor);
        expect(s.sellers.reduce((a, x) => a + x.feeMinor, 0)).toBe(s.feeMinor);
        for (const part of [s.feeMinor, ...shares, ...s.sellers.map((x) => x.feeMinor)]) {
          expect(part % c.step).toBe(0);
          expect(part).toBeGreaterThanOrEqual(0);
        }
        expect(Math.min(...shares)).toBeGreaterThan(0);
        // The rate is honoured to within a step (before the minimum raises it).
        const exact = (c.amountMinor * c.bps) / MARKETPLACE_BASIS_POINTS;
        expect(s.feeMinor).toBeGreaterThanOrEqual(
          Math.min(exact - c.step, Math.ceil(c.minimum / c.step) * c.step),
        );
      }),
    );
  });

  it("partial refunds (and losses) in any sizes never exceed what was paid, never take a party below zero, and sum exactly across sellers", () => {
    fc.assert(
      fc.property(
        chargeArb,
        fc.array(fc.tuple(fc.integer({ min: 1, max: 10_000 }), rulesArb), { maxLength: 12 }),
        fc.boolean(),
        (c, refunds, finish) => {
          const s = split(c);
          if (!s) return;
          let sellersLeft = s.sellers.map((x) => x.shareMinor);
          let feeLeft = s.feeMinor;
          let refundable = c.amountMinor;
          let given = 0;
          const steps = [...refunds];
          if (finish)
            steps.push([MARKETPLACE_BASIS_POINTS, { reverseTransfer: true, refundApplicationFee: true }]);
          for (const [per10k, rules] of steps) {
            // A refund of a share of what is left, in whole steps, at least one step.
            const amount = Math.max(
              c.step,
              Math.floor((refundable * per10k) / MARKETPLACE_BASIS_POINTS / c.step) * c.step,
            );
            if (refundable === 0 || amount > refundable) break;
            const p = takeBackParts(amount, sellersLeft, feeLeft, rules, c.currency);
            const total =
              p.sellerPartsMinor.reduce((a, b) => a + b, 0) + p.feePartMinor + p.platformFundedMinor;
            expect(total).toBe(amount);
            p.sellerPartsMinor.forEach((part, i) => {
              expect(part).toBeGreaterThanOrEqual(0);
              expect(part).toBeLessThanOrEqual(sellersLeft[i] ?? 0);
              expect(part % c.step).toBe(0);
            });
            expect(p.feePartMinor).toBeGreaterThanOrEqual(0);
            expect(p.feePartMinor).toBeLessThanOrEqual(feeLeft);
            expect(p.platformFundedMinor).toBeGreaterThanOrEqual(0);
            if (!rules.reverseTransfer) expect(p.sellerPartsMinor.every((x) => x === 0)).toBe(true);
            if (!rules.refundApplicationFee) expect(p.feePartMinor).toBe(0);
            if (rules.reverseTransfer && rules.refundApplicationFee) expect(p.platformFundedMinor).toBe(0);
            sellersLeft = sellersLeft.map((x, i) => x - (p.sellerPartsMinor[i] ?? 0));
            feeLeft -= p.feePartMinor;
            refundable -= amount;
            given += amount;
          }
          expect(given).toBeLessThanOrEqual(c.amountMinor);
          // Refunding everything that was never paid from the platform's pocket takes back
          // exactly every seller's whole share and the whole fee.
          const allReversed = steps.every(([, r]) => r.reverseTransfer && r.refundApplicationFee);
          if (allReversed && refundable === 0) {
            expect(sellersLeft.every((x) => x === 0)).toBe(true);
            expect(feeLeft).toBe(0);
          }
        },
      ),
    );
  });

  it("losses of any amount, a part of a step too (a dispute's amount need not be in steps): sellers' parts stay whole steps within what they hold, the fee takes the part of a step while it lasts, nothing is lost or invented", () => {
    fc.assert(
      fc.property(
        chargeArb,
        fc.array(fc.integer({ min: 1, max: 10_000 }), { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        (c, losses, finish) => {
          const s = split(c);
          if (!s) return;
          let sellersLeft = s.sellers.map((x) => x.shareMinor);
          let feeLeft = s.feeMinor;
          let left = c.amountMinor;
          let platformFunded = 0;
          const rules = { reverseTransfer: true, refundApplicationFee: true };
          const amounts = losses.map((per10k) =>
            Math.max(1, Math.floor((c.amountMinor * per10k) / 1_000_000)),
          );
          if (finish) amounts.push(Number.POSITIVE_INFINITY);
          for (const wanted of amounts) {
            const amount = Math.min(wanted, left);
            if (amount === 0) break;
            const p = takeBackParts(amount, sellersLeft, feeLeft, rules, c.currency);
            const subStep = amount % c.step;
            expect(
              p.sellerPartsMinor.reduce((a, b) => a + b, 0) + p.feePartMinor + p.platformFundedMinor,
            ).toBe(amount);
            p.sellerPartsMinor.forEach((part, i) => {
              expect(part % c.step).toBe(0);
              expect(part).toBeGreaterThanOrEqual(0);
              expect(part).toBeLessThanOrEqual(sellersLeft[i] ?? 0);
            });
            expect(p.feePartMinor).toBeGreaterThanOrEqual(0);
            expect(p.feePartMinor).toBeLessThanOrEqual(feeLeft);
            // Only a part of a step that neither the fee (all of it taken) nor a seller (a whole
            // step more than its part) could cover comes from the platform's own money.
            expect(p.platformFundedMinor).toBeGreaterThanOrEqual(0);
            expect(p.platformFundedMinor).toBeLessThanOrEqual(subStep);
            if (p.platformFundedMinor > 0) {
              expect(p.feePartMinor).toBe(feeLeft);
              const sellerRoom = sellersLeft.some((x, i) => x - (p.sellerPartsMinor[i] ?? 0) >= c.step);
              if (sellerRoom) expect(p.feePartMinor).toBeLessThan(c.step);
            }
            sellersLeft = sellersLeft.map((x, i) => x - (p.sellerPartsMinor[i] ?? 0));
            feeLeft -= p.feePartMinor;
            platformFunded += p.platformFundedMinor;
            left -= amount;
          }
          // Everything lost: the sellers gave back their whole shares but for what the platform's
          // own money covered of parts of a step (each loss's part of a step, at most).
          if (left === 0) {
            const kept = sellersLeft.reduce((a, b) => a + b, 0);
            expect(kept).toBeLessThanOrEqual(platformFunded);
            expect(kept % c.step).toBe(0);
          }
        },
      ),
    );
  });

  it("proportional reversals: each refund's seller parts stay within one step of the exact proportion of what is left", () => {
    fc.assert(
      fc.property(chargeArb, fc.integer({ min: 1, max: MARKETPLACE_BASIS_POINTS }), (c, per10k) => {
        const s = split(c);
        if (!s) return;
        const amount = Math.max(
          c.step,
          Math.floor((c.amountMinor * per10k) / MARKETPLACE_BASIS_POINTS / c.step) * c.step,
        );
        const shares = s.sellers.map((x) => x.shareMinor);
        const p = takeBackParts(
          amount,
          shares,
          s.feeMinor,
          { reverseTransfer: true, refundApplicationFee: true },
          c.currency,
        );
        shares.forEach((share, i) => {
          const exact = (amount * share) / c.amountMinor;
          expect(Math.abs((p.sellerPartsMinor[i] ?? 0) - exact)).toBeLessThan(c.step);
        });
      }),
    );
  });

  it("destination refunds: the reversal is the refund, each fee refund is Stripe's proportion of the original fee (nearest unit), and refunding everything in pieces gives back exactly the whole fee", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...currencies),
        fc.integer({ min: 100, max: 1_000_000 }),
        fc.integer({ min: 0, max: 9_999 }),
        fc.array(fc.integer({ min: 1, max: 10_000 }), { maxLength: 10 }),
        (currency, steps, bps, pieces) => {
          const step = currencyInfo(currency).amountStepMinor;
          const amountMinor = steps * step;
          const fee = platformFeeMinor(amountMinor, currency, { kind: "rate", basisPoints: bps });
          if (fee.isErr()) return;
          let left = amountMinor;
          let feeLeft = fee.value;
          const rules = { reverseTransfer: true, refundApplicationFee: true };
          for (const per10k of [...pieces, MARKETPLACE_BASIS_POINTS]) {
            const amount = Math.min(
              left,
              Math.max(step, Math.floor((left * per10k) / MARKETPLACE_BASIS_POINTS / step) * step),
            );
            if (amount === 0) break;
            const p = destinationRefundParts(
              amount,
              { chargeMinor: amountMinor, feeMinor: fee.value, chargeLeftMinor: left, feeLeftMinor: feeLeft },
              rules,
              currency,
            );
            expect(p.reversalMinor).toBe(amount);
            expect(p.platformFundedMinor).toBe(0);
            expect(p.feeRefundMinor).toBeLessThanOrEqual(feeLeft);
            if (amount < left) {
              expect(p.feeRefundMinor).toBeLessThanOrEqual(amount);
              // Over the original amounts, to the nearest minor unit (half up), unless what is left is less.
              const nearest = Math.floor((2 * fee.value * amount + amountMinor) / (2 * amountMinor));
              expect(p.feeRefundMinor).toBe(Math.min(feeLeft, nearest));
            } else expect(p.feeRefundMinor).toBe(feeLeft); // the rest, even if more than this refund
            left -= amount;
            feeLeft -= p.feeRefundMinor;
          }
          expect(left).toBe(0);
          expect(feeLeft).toBe(0);
        },
      ),
    );
  });

  it("destination refunds: 3 × 33.33 of a 100.00 charge give back what Stripe's proportion gives (the emulator's figures), the last cent the fee's rest", () => {
    const rules = { reverseTransfer: true, refundApplicationFee: true };
    for (const [feeMinor, expected] of [
      [10_00, [3_33, 3_33, 3_33, 1]],
      [2_90, [97, 97, 96, 0]],
    ] as const) {
      let left = 100_00;
      let feeLeft: number = feeMinor;
      const got: number[] = [];
      for (const amount of [33_33, 33_33, 33_33, 1]) {
        const p = destinationRefundParts(
          amount,
          { chargeMinor: 100_00, feeMinor, chargeLeftMinor: left, feeLeftMinor: feeLeft },
          rules,
          "AUD",
        );
        got.push(p.feeRefundMinor);
        left -= amount;
        feeLeft -= p.feeRefundMinor;
      }
      expect(got).toEqual(expected);
    }
  });
});
