import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DAY_MS, HOUR_MS } from "../shared/time.js";
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

  it("counts Sydney's calendar days across a change of daylight saving, at the same time of day", () => {
    // Wednesday 2 April 2025, 00:06 in Sydney (summer time, UTC+11); clocks go back an hour
    // early on Sunday 6 April. Thursday, Friday, Monday: Monday 7 April, 00:06 (UTC+10).
    const wednesday = Date.UTC(2025, 3, 1, 13, 6);
    expect(weekday(wednesday)).toBe("Wed");
    expect(new Date(addBusinessDays(wednesday, 3, SYDNEY)).toISOString()).toBe("2025-04-06T14:06:00.000Z");
    // Spring: Friday 3 October 2025, 09:00 (UTC+10); clocks go forward on Sunday 5 October.
    // Monday, Tuesday, Wednesday: Wednesday 8 October, 09:00 (UTC+11).
    const friday = Date.UTC(2025, 9, 2, 23);
    expect(new Date(addBusinessDays(friday, 3, SYDNEY)).toISOString()).toBe("2025-10-07T22:00:00.000Z");
  });

  it("lands on a weekday, 3 to 5 calendar days later at the same time of day, for any start", () => {
    const timeOfDay = (at: number) =>
      new Intl.DateTimeFormat("en-GB", {
        timeZone: SYDNEY,
        hour: "2-digit",
        minute: "2-digit",
        hourCycle: "h23",
      }).format(at);
    // Any instant of five years, and, as often, one within a week of a change of daylight
    // saving (Sydney: the first Sundays of April and October), which a uniform draw rarely hits.
    const changes = [2025, 2026, 2027, 2028, 2029].flatMap((y) =>
      [3, 9].map((month) => {
        const first = Date.UTC(y, month, 1);
        return first + ((7 - new Date(first).getUTCDay()) % 7) * DAY_MS;
      }),
    );
    const nearChange = fc
      .tuple(fc.constantFrom(...changes), fc.integer({ min: -7 * DAY_MS, max: 7 * DAY_MS }))
      .map(([change, by]) => change + by);
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: Date.UTC(2025, 0, 1), max: Date.UTC(2030, 0, 1) }), nearChange),
        (from) => {
          const at = addBusinessDays(from, 3, SYDNEY);
          expect(["Sat", "Sun"]).not.toContain(weekday(at));
          // A day across a change of daylight saving is 23 or 25 hours long.
          expect(at - from).toBeGreaterThanOrEqual(3 * DAY_MS - HOUR_MS);
          expect(at - from).toBeLessThanOrEqual(5 * DAY_MS + HOUR_MS);
          // The same wall-clock time, unless the clocks skipped it that day (an hour later then).
          if (timeOfDay(at) !== timeOfDay(from)) expect(timeOfDay(at - HOUR_MS)).toBe(timeOfDay(from));
          expect(addBusinessDays(from, 0, SYDNEY)).toBe(from);
        },
      ),
    );
  });
});
