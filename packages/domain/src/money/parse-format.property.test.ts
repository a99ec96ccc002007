import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkChargeAmount, maximumChargeMinor } from "./charge-amount.js";
import { CURRENCY_CODES, currencyInfo } from "./currency.js";
import { formatMoney } from "./format-money.js";
import { money } from "./money.js";
import { parseMoney } from "./parse-money.js";

// numRuns 500 for the round trip (34 currencies × amounts from tiny to 2^53-1), 300 for the rest.
const currency = fc.constantFrom(...CURRENCY_CODES);
const amountMinor = fc.oneof(fc.integer({ min: -100_000, max: 100_000 }), fc.maxSafeInteger());

describe("parseMoney and formatMoney (properties)", () => {
  it("round-trip: parseMoney(formatMoney(m)) is m, for every currency", () => {
    fc.assert(
      fc.property(amountMinor, currency, (x, c) => {
        const m = money(x, c);
        const text = formatMoney(m);
        expect(parseMoney(text, c)._unsafeUnwrap()).toEqual(m);
        // and the number alone, without the code
        expect(parseMoney(text.slice(0, text.lastIndexOf(" ")), c)._unsafeUnwrap()).toEqual(m);
      }),
      { numRuns: 500 },
    );
  });

  it("formats with exactly the currency's decimals", () => {
    fc.assert(
      fc.property(amountMinor, currency, (x, c) => {
        const [number = ""] = formatMoney(money(x, c)).split(" ");
        const decimals = number.includes(".") ? (number.split(".")[1] ?? "").length : 0;
        expect(decimals).toBe(currencyInfo(c).exponent);
      }),
      { numRuns: 300 },
    );
  });

  it("refuses any text with more decimals than the currency has", () => {
    fc.assert(
      fc.property(fc.nat(1_000_000), currency, fc.integer({ min: 1, max: 3 }), (whole, c, extra) => {
        const decimals = "1".repeat(currencyInfo(c).exponent + extra);
        expect(parseMoney(`${whole}.${decimals}`, c)._unsafeUnwrapErr().code).toBe("too_many_decimals");
      }),
      { numRuns: 300 },
    );
  });
});

describe("checkChargeAmount (property)", () => {
  it("accepts exactly the amounts within Stripe's minimum, maximum and step", () => {
    const charge = fc.oneof(
      fc.integer({ min: -100, max: 20_000 }),
      fc.integer({ min: 0, max: 2_000_000_000_000 }),
    );
    fc.assert(
      fc.property(charge, currency, (x, c) => {
        const info = currencyInfo(c);
        const acceptable =
          x >= info.minimumChargeMinor && x <= maximumChargeMinor(c) && x % info.amountStepMinor === 0;
        expect(checkChargeAmount(money(x, c)).isOk()).toBe(acceptable);
      }),
      { numRuns: 300 },
    );
  });
});
