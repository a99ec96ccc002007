import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { allocate } from "./allocate.js";
import { CURRENCY_CODES } from "./currency.js";
import { money } from "./money.js";

// Small and huge totals (up to ±2^53-1) and ratios, so both the remainder logic and the
// bigint path are exercised. Each property: numRuns 200, well under 1 s.
const NUM_RUNS = 200;
const currency = fc.constantFrom(...CURRENCY_CODES);
const totalMinor = fc.oneof(fc.integer({ min: -10_000, max: 10_000 }), fc.maxSafeInteger());
const ratio = fc.oneof(fc.nat(10), fc.nat(1_000_000), fc.maxSafeNat());
const ratios = fc.array(ratio, { minLength: 1, maxLength: 25 }).filter((rs) => rs.some((r) => r > 0));

const bigSum = (xs: readonly number[]) => xs.reduce((acc, x) => acc + BigInt(x), 0n);

describe("allocate (properties)", () => {
  it("preserves the total: the shares add up to exactly the total, in its currency", () => {
    fc.assert(
      fc.property(totalMinor, currency, ratios, (t, c, rs) => {
        const shares = allocate(money(t, c), rs)._unsafeUnwrap();
        expect(shares).toHaveLength(rs.length);
        expect(shares.every((s) => s.currency === c)).toBe(true);
        expect(bigSum(shares.map((s) => s.amountMinor))).toBe(BigInt(t));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("keeps every share between the floor and the ceiling of its exact share", () => {
    fc.assert(
      fc.property(totalMinor, ratios, (t, rs) => {
        const shares = allocate(money(t, "AUD"), rs)._unsafeUnwrap();
        const ratioSum = bigSum(rs);
        rs.forEach((r, i) => {
          // exact share = t·r / Σr; share·Σr must lie in [t·r - (Σr-1), t·r + (Σr-1)], i.e. |share - exact| < 1
          const scaled = BigInt(shares[i]!.amountMinor) * ratioSum;
          const exact = BigInt(t) * BigInt(r);
          const gap = scaled > exact ? scaled - exact : exact - scaled;
          expect(gap < ratioSum).toBe(true);
        });
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("never produces a negative share from a non-negative total, nor a positive one from a negative total", () => {
    fc.assert(
      fc.property(totalMinor, ratios, (t, rs) => {
        const shares = allocate(money(t, "USD"), rs)._unsafeUnwrap();
        for (const s of shares) {
          if (t >= 0) expect(s.amountMinor).toBeGreaterThanOrEqual(0);
          else expect(s.amountMinor).toBeLessThanOrEqual(0);
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("is deterministic, gives zero ratios nothing, and splits -t as the negation of t", () => {
    fc.assert(
      fc.property(totalMinor, ratios, (t, rs) => {
        const once = allocate(money(t, "JPY"), rs)._unsafeUnwrap();
        expect(allocate(money(t, "JPY"), [...rs])._unsafeUnwrap()).toEqual(once);
        rs.forEach((r, i) => {
          if (r === 0) expect(once[i]!.amountMinor).toBe(0);
        });
        const negated = allocate(money(-t, "JPY"), rs)._unsafeUnwrap();
        expect(negated.map((s) => s.amountMinor)).toEqual(once.map((s) => -s.amountMinor + 0));
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
