import { describe, expect, it } from "vitest";
import { CURRENCY_CODES, currencyInfo, isCurrencyCode, parseCurrencyCode } from "./currency.js";

describe("the currency table", () => {
  it("holds at least 25 currencies, sorted, without duplicates", () => {
    expect(CURRENCY_CODES.length).toBeGreaterThanOrEqual(25);
    expect([...CURRENCY_CODES].sort()).toEqual(CURRENCY_CODES);
    expect(new Set(CURRENCY_CODES).size).toBe(CURRENCY_CODES.length);
  });

  it("knows zero-decimal currencies", () => {
    for (const code of ["JPY", "KRW", "VND", "CLP", "PYG"] as const) {
      expect(currencyInfo(code).exponent).toBe(0);
      expect(currencyInfo(code).amountStepMinor).toBe(1);
    }
  });

  it("knows three-decimal currencies, whose amounts must end in 0", () => {
    for (const code of ["BHD", "JOD", "KWD", "OMR", "TND"] as const) {
      expect(currencyInfo(code).exponent).toBe(3);
      expect(currencyInfo(code).amountStepMinor).toBe(10);
    }
  });

  it("knows that Stripe pays HUF out in whole forints only, every other currency by the minor unit", () => {
    for (const code of CURRENCY_CODES)
      expect(currencyInfo(code).payoutStepMinor).toBe(code === "HUF" ? 100 : 1);
  });

  it("has Stripe's published minimum charges", () => {
    expect(currencyInfo("AUD")).toMatchObject({ minimumChargeMinor: 50, minimumChargeSource: "stripe" });
    expect(currencyInfo("USD").minimumChargeMinor).toBe(50);
    expect(currencyInfo("EUR").minimumChargeMinor).toBe(50);
    expect(currencyInfo("GBP").minimumChargeMinor).toBe(30);
    expect(currencyInfo("JPY").minimumChargeMinor).toBe(50);
    expect(currencyInfo("HUF").minimumChargeMinor).toBe(17500);
  });

  it("gives every currency a consistent entry", () => {
    for (const code of CURRENCY_CODES) {
      const info = currencyInfo(code);
      expect(info.code).toBe(code);
      expect(Number.isSafeInteger(info.minimumChargeMinor) && info.minimumChargeMinor > 0).toBe(true);
      expect(info.minimumChargeMinor % info.amountStepMinor).toBe(0);
      expect(info.maxAmountDigits).toBe(code === "IDR" ? 12 : 8);
      expect(Object.isFrozen(info)).toBe(true);
    }
  });

  it("throws for a code outside the type (a bug)", () => {
    expect(() => currencyInfo("XXX" as never)).toThrow(RangeError);
  });
});

describe("parseCurrencyCode", () => {
  it("trims and ignores case", () => {
    expect(parseCurrencyCode(" aud ")._unsafeUnwrap()).toBe("AUD");
    expect(parseCurrencyCode("Kwd")._unsafeUnwrap()).toBe("KWD");
  });

  it("refuses unknown codes with unknown_currency", () => {
    for (const input of ["", "XXX", "AU", "AUDD", "A UD"]) {
      expect(parseCurrencyCode(input)._unsafeUnwrapErr()).toMatchObject({
        type: "unknown_currency",
        code: "unknown_currency",
      });
    }
  });

  it("cuts a long input in the error", () => {
    const error = parseCurrencyCode("x".repeat(1000))._unsafeUnwrapErr();
    expect(error.type === "unknown_currency" && error.input.length).toBeLessThanOrEqual(65);
  });
});

describe("isCurrencyCode", () => {
  it("is exact and case-sensitive", () => {
    expect(isCurrencyCode("AUD")).toBe(true);
    expect(isCurrencyCode("aud")).toBe(false);
    expect(isCurrencyCode(" AUD")).toBe(false);
  });
});
