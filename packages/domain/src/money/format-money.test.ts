import { describe, expect, it } from "vitest";
import { formatMoney } from "./format-money.js";
import { type Money, money } from "./money.js";

describe("formatMoney", () => {
  it("writes the currency's exact decimals and the code", () => {
    expect(formatMoney(money(1234, "AUD"))).toBe("12.34 AUD");
    expect(formatMoney(money(500, "JPY"))).toBe("500 JPY");
    expect(formatMoney(money(1230, "KWD"))).toBe("1.230 KWD");
    expect(formatMoney(money(5, "USD"))).toBe("0.05 USD");
    expect(formatMoney(money(0, "EUR"))).toBe("0.00 EUR");
    expect(formatMoney(money(7, "BHD"))).toBe("0.007 BHD");
  });

  it("puts a leading - on negatives", () => {
    expect(formatMoney(money(-5, "USD"))).toBe("-0.05 USD");
    expect(formatMoney(money(-500, "JPY"))).toBe("-500 JPY");
  });

  it("writes the largest amounts without exponent notation", () => {
    expect(formatMoney(money(Number.MAX_SAFE_INTEGER, "USD"))).toBe("90071992547409.91 USD");
  });

  it("throws for a hand-built Money that is not a safe integer (a bug)", () => {
    expect(() => formatMoney({ amountMinor: 1.5, currency: "USD" } as Money)).toThrow(RangeError);
  });
});
