import { describe, expect, it } from "vitest";
import { checkChargeAmount, maximumChargeMinor } from "./charge-amount.js";
import { money } from "./money.js";

describe("checkChargeAmount", () => {
  it("accepts amounts from the minimum to the maximum", () => {
    expect(checkChargeAmount(money(50, "AUD"))._unsafeUnwrap()).toEqual(money(50, "AUD"));
    expect(checkChargeAmount(money(99_999_999, "AUD")).isOk()).toBe(true);
    expect(checkChargeAmount(money(50, "JPY")).isOk()).toBe(true);
    expect(checkChargeAmount(money(1230, "KWD")).isOk()).toBe(true);
  });

  it("refuses amounts below the currency's minimum with amount_below_minimum", () => {
    expect(checkChargeAmount(money(49, "AUD"))._unsafeUnwrapErr()).toMatchObject({
      type: "amount_below_minimum",
      code: "amount_below_minimum",
      currency: "AUD",
      amountMinor: 49,
      minimumMinor: 50,
    });
    expect(checkChargeAmount(money(29, "GBP"))._unsafeUnwrapErr().code).toBe("amount_below_minimum");
    expect(checkChargeAmount(money(30, "GBP")).isOk()).toBe(true);
    expect(checkChargeAmount(money(0, "USD"))._unsafeUnwrapErr().code).toBe("amount_below_minimum");
    expect(checkChargeAmount(money(-100, "USD"))._unsafeUnwrapErr().code).toBe("amount_below_minimum");
  });

  it("refuses more digits than Stripe allows with amount_too_large", () => {
    expect(checkChargeAmount(money(100_000_000, "AUD"))._unsafeUnwrapErr()).toMatchObject({
      code: "amount_too_large",
      maximumMinor: 99_999_999,
    });
    expect(maximumChargeMinor("IDR")).toBe(999_999_999_999);
    expect(checkChargeAmount(money(100_000_000, "IDR")).isOk()).toBe(true);
  });

  it("refuses three-decimal amounts not ending in 0 with amount_invalid_step", () => {
    expect(checkChargeAmount(money(1235, "KWD"))._unsafeUnwrapErr()).toMatchObject({
      code: "amount_invalid_step",
      currency: "KWD",
      stepMinor: 10,
    });
    expect(checkChargeAmount(money(5001, "TND"))._unsafeUnwrapErr().code).toBe("amount_invalid_step");
  });
});
