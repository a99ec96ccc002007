import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DAY_MS } from "../shared/time.js";
import { addBusinessDays, expectedSettlementAt } from "./settlement.js";

const SYDNEY = "Australia/Sydney";
const weekday = (at: number) =>
  new Intl.DateTimeFormat("en-US", { weekday: "short", timeZone: SYDNEY }).format(at);

describe("settlement estimate", () => {
  it("a BECS debit submitted on a Sydney Wednesday settles by Monday; on a Friday, by Wednesday", () => {
    // Wednesday 7 January 2026, 10:00 in Sydney (23:00 UTC the day before).
    const wednesday = Date.UTC(2026, 0, 6, 23);
    expect(weekday(wednesday)).toBe("Wed");
    expect(new Date(expectedSettlementAt("au_becs_debit", wednesday)).toISOString()).toBe(
      "2026-01-11T23:00:00.000Z", // Monday 12 January, 10:00 in Sydney
    );
    const friday = Date.UTC(2026, 0, 8, 23);
    expect(new Date(expectedSettlementAt("au_becs_debit", friday)).toISOString()).toBe(
      "2026-01-13T23:00:00.000Z", // Wednesday 14 January, 10:00 in Sydney
    );
    // Saturday and Sunday do not count: Monday, Tuesday, Wednesday.
    const saturday = Date.UTC(2026, 0, 9, 23);
    expect(weekday(saturday)).toBe("Sat");
    expect(weekday(expectedSettlementAt("au_becs_debit", saturday))).toBe("Wed");
  });

  it("lands on a weekday, 3 to 5 calendar days later, for any start", () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(2025, 0, 1), max: Date.UTC(2030, 0, 1) }), (from) => {
        const at = addBusinessDays(from, 3, SYDNEY);
        expect(["Sat", "Sun"]).not.toContain(weekday(at));
        expect(at - from).toBeGreaterThanOrEqual(3 * DAY_MS);
        expect(at - from).toBeLessThanOrEqual(5 * DAY_MS);
        expect(addBusinessDays(from, 0, SYDNEY)).toBe(from);
      }),
    );
  });
});
