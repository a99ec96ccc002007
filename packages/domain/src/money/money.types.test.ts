// Compile-time tests: `tsc --noEmit` (the typecheck script) fails if any line marked
// `@ts-expect-error` compiles, so mixing currencies that are known statically is refused
// by the compiler. At run time the same calls are refused with currency_mismatch.
import { describe, expect, it } from "vitest";
import { allocate } from "./allocate.js";
import type { CurrencyCode } from "./currency-code.js";
import { add, type Money, money, subtract, sum } from "./money.js";

describe("types: mixed currencies do not compile", () => {
  it("add, subtract and sum refuse statically different currencies", () => {
    const aud = money(100, "AUD");
    const usd = money(100, "USD");

    // @ts-expect-error AUD + USD does not compile
    expect(add(aud, usd).isErr()).toBe(true);
    // @ts-expect-error AUD - USD does not compile
    expect(subtract(aud, usd).isErr()).toBe(true);
    // @ts-expect-error a USD item in an AUD sum does not compile
    expect(sum([aud, usd], "AUD").isErr()).toBe(true);
    // @ts-expect-error a currency outside the table does not compile
    expect(() => money(1, "XXX")).toThrow();
  });

  it("keeps the static currency through operations", () => {
    const total: Money<"AUD"> = add(money(1, "AUD"), money(2, "AUD"))._unsafeUnwrap();
    const shares: Money<"AUD">[] = allocate(total, [1, 2])._unsafeUnwrap();
    // @ts-expect-error an AUD result is not a USD amount
    const wrong: Money<"USD"> = total;
    expect([total.amountMinor, shares.length, wrong.currency]).toEqual([3, 2, "AUD"]);
  });

  it("amounts whose currency is only known at run time still type-check, and are checked at run time", () => {
    const fromDb = (code: CurrencyCode): Money => money(100, code);
    expect(add(fromDb("AUD"), fromDb("USD"))._unsafeUnwrapErr().code).toBe("currency_mismatch");
  });
});
