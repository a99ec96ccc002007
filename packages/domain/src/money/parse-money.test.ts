import { describe, expect, it } from "vitest";
import { money } from "./money.js";
import { MONEY_TEXT_MAX_CHARS, parseMoney } from "./parse-money.js";

describe("parseMoney", () => {
  it("reads major units into minor units by the currency's exponent", () => {
    expect(parseMoney("12.34", "AUD")._unsafeUnwrap()).toEqual(money(1234, "AUD"));
    expect(parseMoney("500", "JPY")._unsafeUnwrap()).toEqual(money(500, "JPY"));
    expect(parseMoney("1.230", "KWD")._unsafeUnwrap()).toEqual(money(1230, "KWD"));
    expect(parseMoney("12", "AUD")._unsafeUnwrap()).toEqual(money(1200, "AUD"));
    expect(parseMoney("12.3", "AUD")._unsafeUnwrap()).toEqual(money(1230, "AUD"));
    expect(parseMoney("0.05", "USD")._unsafeUnwrap()).toEqual(money(5, "USD"));
    expect(parseMoney("007.50", "USD")._unsafeUnwrap()).toEqual(money(750, "USD"));
  });

  it("reads negatives and never gives -0", () => {
    expect(parseMoney("-0.50", "AUD")._unsafeUnwrap()).toEqual(money(-50, "AUD"));
    expect(Object.is(parseMoney("-0", "AUD")._unsafeUnwrap().amountMinor, 0)).toBe(true);
  });

  it("ignores surrounding spaces and accepts its own currency code after the number", () => {
    expect(parseMoney("  12.34 ", "AUD")._unsafeUnwrap()).toEqual(money(1234, "AUD"));
    expect(parseMoney("12.34 AUD", "AUD")._unsafeUnwrap()).toEqual(money(1234, "AUD"));
    expect(parseMoney("1.230 kwd", "KWD")._unsafeUnwrap()).toEqual(money(1230, "KWD"));
  });

  it("refuses another currency's code with currency_mismatch, an unknown one with unknown_currency", () => {
    expect(parseMoney("12.34 USD", "AUD")._unsafeUnwrapErr()).toMatchObject({
      code: "currency_mismatch",
      expected: "AUD",
      actual: "USD",
    });
    expect(parseMoney("12.34 XYZ", "AUD")._unsafeUnwrapErr().code).toBe("unknown_currency");
  });

  it("refuses junk with invalid_amount", () => {
    for (const junk of [
      "",
      " ",
      "abc",
      "12,34",
      "1e3",
      ".5",
      "5.",
      "+5",
      "--5",
      "1 000",
      "0x10",
      "١٢",
      "12.34AUD",
    ]) {
      expect(parseMoney(junk, "AUD")._unsafeUnwrapErr(), junk).toMatchObject({
        type: "invalid_amount",
        code: "invalid_amount",
      });
    }
    expect(parseMoney("1".repeat(MONEY_TEXT_MAX_CHARS + 1), "AUD")._unsafeUnwrapErr().code).toBe(
      "invalid_amount",
    );
  });

  it("refuses more decimals than the currency has with too_many_decimals", () => {
    expect(parseMoney("12.345", "AUD")._unsafeUnwrapErr()).toMatchObject({
      code: "too_many_decimals",
      currency: "AUD",
      exponent: 2,
    });
    expect(parseMoney("5.0", "JPY")._unsafeUnwrapErr().code).toBe("too_many_decimals");
    expect(parseMoney("1.2345", "KWD")._unsafeUnwrapErr().code).toBe("too_many_decimals");
  });

  it("refuses amounts beyond the safe integer range with amount_out_of_range", () => {
    expect(parseMoney("90071992547409.91", "USD")._unsafeUnwrap().amountMinor).toBe(Number.MAX_SAFE_INTEGER);
    expect(parseMoney("90071992547409.92", "USD")._unsafeUnwrapErr()).toMatchObject({
      code: "amount_out_of_range",
      currency: "USD",
    });
    expect(parseMoney("-9007199254740992", "JPY")._unsafeUnwrapErr().code).toBe("amount_out_of_range");
    expect(parseMoney("99999999999999999999", "JPY")._unsafeUnwrapErr().code).toBe("amount_out_of_range");
    expect(parseMoney("0000000000000000000001", "JPY")._unsafeUnwrap().amountMinor).toBe(1);
  });
});
