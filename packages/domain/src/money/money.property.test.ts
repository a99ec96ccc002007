import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CURRENCY_CODES } from "./currency.js";
import type { CurrencyCode } from "./currency-code.js";
import { add, compare, type Money, money, subtract, sum } from "./money.js";

// numRuns 300 each: pure arithmetic, a few ms per hundred runs.
const NUM_RUNS = 300;
const currency = fc.constantFrom(...CURRENCY_CODES);
const twoCurrencies = fc.tuple(currency, currency).filter(([a, b]) => a !== b) as fc.Arbitrary<
  [CurrencyCode, CurrencyCode]
>;
const amountMinor = fc.oneof(fc.integer({ min: -1_000_000, max: 1_000_000 }), fc.maxSafeInteger());
const isSafe = (x: bigint) => x >= BigInt(Number.MIN_SAFE_INTEGER) && x <= BigInt(Number.MAX_SAFE_INTEGER);

describe("money arithmetic (properties)", () => {
  it("add, subtract and compare always refuse mixed currencies", () => {
    fc.assert(
      fc.property(amountMinor, amountMinor, twoCurrencies, (x, y, [c1, c2]) => {
        const a: Money = money(x, c1);
        const b: Money = money(y, c2);
        expect(add(a, b)._unsafeUnwrapErr().code).toBe("currency_mismatch");
        expect(subtract(a, b)._unsafeUnwrapErr().code).toBe("currency_mismatch");
        expect(compare(a, b)._unsafeUnwrapErr().code).toBe("currency_mismatch");
        expect(sum([a, b], c1)._unsafeUnwrapErr().code).toBe("currency_mismatch");
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("add and subtract are exact, or refuse with overflow exactly when the result is not a safe integer", () => {
    fc.assert(
      fc.property(amountMinor, amountMinor, currency, (x, y, c) => {
        const exactSum = BigInt(x) + BigInt(y);
        const added = add(money(x, c), money(y, c));
        if (isSafe(exactSum)) expect(BigInt(added._unsafeUnwrap().amountMinor)).toBe(exactSum);
        else expect(added._unsafeUnwrapErr().code).toBe("overflow");

        const exactDifference = BigInt(x) - BigInt(y);
        const subtracted = subtract(money(x, c), money(y, c));
        if (isSafe(exactDifference))
          expect(BigInt(subtracted._unsafeUnwrap().amountMinor)).toBe(exactDifference);
        else expect(subtracted._unsafeUnwrapErr().code).toBe("overflow");
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("sum matches an exact bigint sum, or refuses with overflow", () => {
    fc.assert(
      fc.property(fc.array(amountMinor, { maxLength: 8 }), currency, (xs, c) => {
        const result = sum(
          xs.map((x) => money(x, c)),
          c,
        );
        // sum refuses as soon as a partial sum leaves the range, even if a later item would bring it back
        let partial = 0n;
        let overflowed = false;
        for (const x of xs) {
          partial += BigInt(x);
          if (!isSafe(partial)) overflowed = true;
        }
        if (overflowed) expect(result._unsafeUnwrapErr().code).toBe("overflow");
        else expect(BigInt(result._unsafeUnwrap().amountMinor)).toBe(partial);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
