import { describe, expect, it } from "vitest";
import {
  add,
  compare,
  equals,
  isNegative,
  isPositive,
  isZero,
  type Money,
  money,
  multiply,
  negate,
  subtract,
  sum,
  zero,
} from "./money.js";

const MAX = Number.MAX_SAFE_INTEGER;

describe("money", () => {
  it("holds a safe integer amount and a currency, frozen", () => {
    const m = money(1234, "AUD");
    expect(m).toEqual({ amountMinor: 1234, currency: "AUD" });
    expect(Object.isFrozen(m)).toBe(true);
  });

  it("throws RangeError for an amount that is not a safe integer (a bug)", () => {
    for (const bad of [1.5, Number.NaN, Number.POSITIVE_INFINITY, MAX + 1, -(MAX + 1)]) {
      expect(() => money(bad, "AUD")).toThrow(RangeError);
    }
  });

  it("never holds -0", () => {
    expect(Object.is(money(-0, "AUD").amountMinor, 0)).toBe(true);
    expect(Object.is(negate(zero("AUD")).amountMinor, 0)).toBe(true);
    expect(Object.is(multiply(zero("AUD"), -3)._unsafeUnwrap().amountMinor, 0)).toBe(true);
  });

  it("zero is zero", () => {
    expect(zero("JPY")).toEqual({ amountMinor: 0, currency: "JPY" });
  });
});

describe("add and subtract", () => {
  it("add sums amounts of one currency", () => {
    expect(add(money(150, "AUD"), money(275, "AUD"))._unsafeUnwrap()).toEqual(money(425, "AUD"));
  });

  it("subtract can go negative", () => {
    expect(subtract(money(100, "AUD"), money(250, "AUD"))._unsafeUnwrap()).toEqual(money(-150, "AUD"));
  });

  it("refuse mixed currencies with currency_mismatch", () => {
    const aud: Money = money(1, "AUD");
    const usd: Money = money(1, "USD");
    expect(add(aud, usd)._unsafeUnwrapErr()).toMatchObject({
      type: "currency_mismatch",
      code: "currency_mismatch",
      expected: "AUD",
      actual: "USD",
    });
    expect(subtract(aud, usd)._unsafeUnwrapErr().code).toBe("currency_mismatch");
  });

  it("refuse results outside the safe integer range with overflow", () => {
    expect(add(money(MAX, "AUD"), money(1, "AUD"))._unsafeUnwrapErr()).toMatchObject({
      type: "overflow",
      operation: "add",
    });
    expect(subtract(money(-MAX, "AUD"), money(1, "AUD"))._unsafeUnwrapErr().code).toBe("overflow");
    expect(add(money(MAX, "AUD"), money(-1, "AUD"))._unsafeUnwrap().amountMinor).toBe(MAX - 1);
  });

  it("throw for a hand-built Money whose amount is not a safe integer (a bug)", () => {
    const forged = { amountMinor: 0.5, currency: "AUD" } as Money<"AUD">;
    expect(() => add(forged, money(1, "AUD"))).toThrow(RangeError);
  });
});

describe("sum", () => {
  it("adds a list, and an empty list is zero in the given currency", () => {
    const items = [money(1, "EUR"), money(2, "EUR"), money(3, "EUR")];
    expect(sum(items, "EUR")._unsafeUnwrap()).toEqual(money(6, "EUR"));
    expect(sum([], "KWD")._unsafeUnwrap()).toEqual(zero("KWD"));
  });

  it("refuses an item in another currency", () => {
    const items: Money[] = [money(1, "EUR"), money(2, "GBP")];
    expect(sum(items, "EUR" as Money["currency"])._unsafeUnwrapErr()).toMatchObject({
      code: "currency_mismatch",
      expected: "EUR",
      actual: "GBP",
    });
  });

  it("refuses overflow of a partial sum", () => {
    expect(sum([money(MAX, "USD"), money(1, "USD"), money(-5, "USD")], "USD")._unsafeUnwrapErr().code).toBe(
      "overflow",
    );
  });
});

describe("multiply", () => {
  it("multiplies by an integer", () => {
    expect(multiply(money(2500, "AUD"), 6)._unsafeUnwrap()).toEqual(money(15000, "AUD"));
    expect(multiply(money(2500, "AUD"), -1)._unsafeUnwrap()).toEqual(money(-2500, "AUD"));
  });

  it("fails with overflow", () => {
    expect(multiply(money(MAX, "AUD"), 2)._unsafeUnwrapErr()).toMatchObject({ code: "overflow" });
  });

  it("throws for a factor that is not a safe integer (a bug: use allocate)", () => {
    expect(() => multiply(money(100, "AUD"), 0.5)).toThrow(RangeError);
  });
});

describe("compare, equals and predicates", () => {
  it("compare orders amounts of one currency", () => {
    expect(compare(money(1, "AUD"), money(2, "AUD"))._unsafeUnwrap()).toBe(-1);
    expect(compare(money(2, "AUD"), money(2, "AUD"))._unsafeUnwrap()).toBe(0);
    expect(compare(money(3, "AUD"), money(2, "AUD"))._unsafeUnwrap()).toBe(1);
  });

  it("compare refuses mixed currencies", () => {
    expect(compare(money(1, "AUD"), money(1, "NZD"))._unsafeUnwrapErr().code).toBe("currency_mismatch");
  });

  it("equals needs the same currency and amount", () => {
    expect(equals(money(5, "AUD"), money(5, "AUD"))).toBe(true);
    expect(equals(money(5, "AUD"), money(5, "USD"))).toBe(false);
    expect(equals(money(5, "AUD"), money(6, "AUD"))).toBe(false);
  });

  it("isZero, isPositive, isNegative", () => {
    expect([isZero(zero("AUD")), isPositive(zero("AUD")), isNegative(zero("AUD"))]).toEqual([
      true,
      false,
      false,
    ]);
    expect([isZero(money(1, "AUD")), isPositive(money(1, "AUD")), isNegative(money(1, "AUD"))]).toEqual([
      false,
      true,
      false,
    ]);
    expect([isZero(money(-1, "AUD")), isPositive(money(-1, "AUD")), isNegative(money(-1, "AUD"))]).toEqual([
      false,
      false,
      true,
    ]);
  });

  it("negate flips the sign and keeps the currency", () => {
    expect(negate(money(MAX, "JPY"))).toEqual(money(-MAX, "JPY"));
  });
});
