// When rounds open, in the group's own time zone: the local day and local time of the
// start, whatever daylight saving does.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DAY_MS, localDateTime } from "../shared/time.js";
import { type Cadence, roundOpensAt } from "./cadence.js";

const iso = (at: number) => new Date(at).toISOString();

/** The schedule as it was computed before groups had a time zone (plain UTC arithmetic). */
function utcReference(startsAt: number, cadence: Cadence, n: number): number {
  if (cadence === "weekly") return startsAt + n * 7 * DAY_MS;
  if (cadence === "fortnightly") return startsAt + n * 14 * DAY_MS;
  const s = new Date(startsAt);
  const monthIndex = s.getUTCMonth() + n;
  const year = s.getUTCFullYear() + Math.floor(monthIndex / 12);
  const month = ((monthIndex % 12) + 12) % 12;
  const day = Math.min(s.getUTCDate(), new Date(Date.UTC(year, month + 1, 0)).getUTCDate());
  return Date.UTC(
    year,
    month,
    day,
    s.getUTCHours(),
    s.getUTCMinutes(),
    s.getUTCSeconds(),
    s.getUTCMilliseconds(),
  );
}

const ZONES = [
  "UTC",
  "Australia/Sydney",
  "Australia/Lord_Howe", // half an hour of daylight saving
  "Australia/Perth",
  "Pacific/Auckland",
  "Pacific/Chatham",
  "America/New_York",
  "America/Sao_Paulo",
  "Europe/London",
  "Asia/Kolkata",
];
const CADENCE = fc.constantFrom<Cadence>("weekly", "fortnightly", "monthly");
// 2000 to 2100, to the millisecond.
const START = fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2100, 0, 1) });

describe("roundOpensAt in a time zone", () => {
  it("a BECS group starting at 09:00 on the 1st (Sydney) opens on the 1st at 09:00 local, every month", () => {
    const startsAt = Date.parse("2030-03-01T09:00:00+11:00");
    const opens = [1, 2, 3].map((n) => iso(roundOpensAt(startsAt, "monthly", n, "Australia/Sydney")));
    // April 1st is still daylight time (+11); May and June are standard time (+10).
    expect(opens).toEqual([
      "2030-03-31T22:00:00.000Z",
      "2030-04-30T23:00:00.000Z",
      "2030-05-31T23:00:00.000Z",
    ]);
  });

  it("monthly clamps to the month's last local day, then returns to the start's day", () => {
    const startsAt = Date.parse("2030-01-31T08:30:00+11:00");
    const opens = [1, 2].map((n) => iso(roundOpensAt(startsAt, "monthly", n, "Australia/Sydney")));
    expect(opens).toEqual(["2030-02-27T21:30:00.000Z", "2030-03-30T21:30:00.000Z"]);
  });

  it("weekly keeps 09:00 local across the end of daylight saving (a 169-hour week)", () => {
    const startsAt = Date.parse("2030-03-29T09:00:00+11:00"); // DST ends 7 April 2030
    const opens = [1, 2].map((n) => iso(roundOpensAt(startsAt, "weekly", n, "Australia/Sydney")));
    expect(opens).toEqual(["2030-04-04T22:00:00.000Z", "2030-04-11T23:00:00.000Z"]);
  });

  it("a local time the clocks skip is moved forward by the gap; one they repeat is the first", () => {
    // New York: 10 March 2030 02:00 → 03:00; 3 November 2030 02:00 → 01:00.
    const gap = Date.parse("2030-03-03T02:30:00-05:00");
    expect(iso(roundOpensAt(gap, "weekly", 1, "America/New_York"))).toBe("2030-03-10T07:30:00.000Z"); // 03:30 EDT
    expect(iso(roundOpensAt(gap, "weekly", 2, "America/New_York"))).toBe("2030-03-17T06:30:00.000Z"); // 02:30 EDT
    const overlap = Date.parse("2030-10-27T01:30:00-04:00");
    expect(iso(roundOpensAt(overlap, "weekly", 1, "America/New_York"))).toBe("2030-11-03T05:30:00.000Z"); // 01:30 EDT
  });

  it("round 0 opens at the start itself, even a start in the hour the clocks repeat", () => {
    // 02:30 on 5 April 2026 in Sydney happens twice; this is the second (16:30Z, standard time).
    const startsAt = Date.UTC(2026, 3, 4, 16, 30);
    for (const cadence of ["weekly", "fortnightly", "monthly"] as const)
      expect(roundOpensAt(startsAt, cadence, 0, "Australia/Sydney")).toBe(startsAt);
  });

  it("property: in UTC it is the schedule as it always was", () => {
    fc.assert(
      fc.property(START, CADENCE, fc.integer({ min: 0, max: 600 }), (startsAt, cadence, n) => {
        expect(roundOpensAt(startsAt, cadence, n, "UTC")).toBe(utcReference(startsAt, cadence, n));
        expect(roundOpensAt(startsAt, cadence, n)).toBe(utcReference(startsAt, cadence, n));
      }),
    );
  });

  it("property: in any zone, openings are in order, on the start's local day (monthly) and local time of day", () => {
    fc.assert(
      fc.property(
        START,
        CADENCE,
        fc.constantFrom(...ZONES),
        fc.integer({ min: 0, max: 300 }),
        (startsAt, cadence, zone, n) => {
          const at = roundOpensAt(startsAt, cadence, n, zone);
          const next = roundOpensAt(startsAt, cadence, n + 1, zone);
          expect(next).toBeGreaterThan(at);
          const start = localDateTime(startsAt, zone);
          const local = localDateTime(at, zone);
          if (cadence === "monthly") {
            const month = (start.month + n) % 12;
            const lastDay = new Date(Date.UTC(2001, month + 1, 0)).getUTCDate(); // 2001: not a leap year
            const leapFeb = month === 1 && new Date(Date.UTC(local.year, 2, 0)).getUTCDate() === 29;
            expect(local.month).toBe(month);
            expect(local.day).toBe(Math.min(start.day, leapFeb ? 29 : lastDay));
          }
          const timeOfDay = (t: typeof start) =>
            ((t.hour * 60 + t.minute) * 60 + t.second) * 1000 + t.millisecond;
          const drift = timeOfDay(local) - timeOfDay(start);
          if (drift !== 0) {
            // Only in a gap the clocks skipped: moved forward by exactly the gap.
            const gapMs = asOffset(at + DAY_MS, zone) - asOffset(at - DAY_MS, zone);
            expect(drift).toBe(gapMs);
            expect(gapMs).toBeGreaterThan(0);
          }
        },
      ),
    );
  });
});

/** The zone's offset from UTC at `at`, in milliseconds. */
function asOffset(at: number, zone: string): number {
  const l = localDateTime(at, zone);
  return Date.UTC(l.year, l.month, l.day, l.hour, l.minute, l.second, l.millisecond) - at;
}
