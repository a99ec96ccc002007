import { describe, expect, it } from "vitest";
import { ALLOCATE_SHARES_MAX, allocate, allocateEvenly } from "./allocate.js";
import { money } from "./money.js";

const amounts = (shares: readonly { amountMinor: number }[]) => shares.map((s) => s.amountMinor);

describe("allocate", () => {
  it("splits evenly when it can", () => {
    expect(amounts(allocate(money(300, "AUD"), [1, 1, 1])._unsafeUnwrap())).toEqual([100, 100, 100]);
  });

  it("gives the leftover minor units to the largest remainders, ties to the earlier share", () => {
    expect(amounts(allocate(money(100, "AUD"), [1, 1, 1])._unsafeUnwrap())).toEqual([34, 33, 33]);
    expect(amounts(allocate(money(5, "AUD"), [1, 1, 1, 1])._unsafeUnwrap())).toEqual([2, 1, 1, 1]);
    // exact shares 3.5, 1.5, 5: remainders tie, so the first takes the unit
    expect(amounts(allocate(money(10, "AUD"), [7, 3, 10])._unsafeUnwrap())).toEqual([4, 1, 5]);
    // exact shares 0.3, 0.7: the larger remainder wins
    expect(amounts(allocate(money(1, "AUD"), [3, 7])._unsafeUnwrap())).toEqual([0, 1]);
  });

  it("splits by ratios such as a platform fee", () => {
    expect(amounts(allocate(money(1999, "AUD"), [95, 5])._unsafeUnwrap())).toEqual([1899, 100]);
  });

  it("gives zero to zero ratios", () => {
    expect(amounts(allocate(money(7, "JPY"), [0, 1, 0, 1])._unsafeUnwrap())).toEqual([0, 4, 0, 3]);
  });

  it("splits a negative total as the negated split of its absolute value", () => {
    expect(amounts(allocate(money(-100, "AUD"), [1, 1, 1])._unsafeUnwrap())).toEqual([-34, -33, -33]);
  });

  it("keeps the currency and never produces -0", () => {
    const shares = allocate(money(-1, "KWD"), [1, 1])._unsafeUnwrap();
    expect(shares.every((s) => s.currency === "KWD")).toBe(true);
    expect(Object.is(shares[1]?.amountMinor, 0)).toBe(true);
  });

  it("is exact for huge totals and ratios", () => {
    const total = money(Number.MAX_SAFE_INTEGER, "USD");
    const shares = allocate(total, [Number.MAX_SAFE_INTEGER, 1])._unsafeUnwrap();
    expect(amounts(shares)).toEqual([Number.MAX_SAFE_INTEGER - 1, 1]);
  });

  it("refuses invalid ratios with invalid_ratios", () => {
    const total = money(100, "AUD");
    for (const ratios of [[], [0, 0], [-1, 2], [1.5, 1], [Number.NaN], [Number.MAX_SAFE_INTEGER + 1]]) {
      expect(allocate(total, ratios)._unsafeUnwrapErr()).toMatchObject({
        type: "invalid_ratios",
        code: "invalid_ratios",
      });
    }
    expect(allocate(total, new Array(ALLOCATE_SHARES_MAX + 1).fill(1))._unsafeUnwrapErr().code).toBe(
      "invalid_ratios",
    );
  });
});

describe("allocateEvenly", () => {
  it("splits into count shares, larger first", () => {
    expect(amounts(allocateEvenly(money(1000, "AUD"), 3)._unsafeUnwrap())).toEqual([334, 333, 333]);
  });

  it("refuses a count outside [1, ALLOCATE_SHARES_MAX]", () => {
    for (const count of [0, -1, 1.5, ALLOCATE_SHARES_MAX + 1]) {
      expect(allocateEvenly(money(1000, "AUD"), count)._unsafeUnwrapErr().code).toBe("invalid_ratios");
    }
  });
});
