import { type Instant, instantAt, localDateTime, type TimeZone } from "../shared/time.js";

/** How often a group's rounds open. */
export type Cadence = "weekly" | "fortnightly" | "monthly";

/** Every cadence, for validation at the edges. */
export const CADENCES: readonly Cadence[] = ["weekly", "fortnightly", "monthly"];

/**
 * When round number `roundSequence` (0-based, counted across rotations) opens, for a group
 * starting at `startsAt` whose schedule is kept in `timeZone` (default UTC). Every cadence
 * counts in the zone's wall-clock time, so members are debited on the same local day and at
 * the same local time whatever daylight saving does:
 * - weekly and fortnightly: the start's local time, 7 or 14 local days later each round
 *   (a round across a change of the clocks is 167 or 169 hours after the one before);
 * - monthly: the start's local day of month, clamped to the month's last day (a group
 *   starting on 31 January opens on 28/29 February, then on 31 March), at its local time.
 * A local time that happens twice (clocks go back) is the first; one that never happens
 * (clocks go forward) is moved forward by the gap ({@link instantAt}); round 0 opens at
 * `startsAt` itself. In UTC this is the plain arithmetic it always was.
 */
export function roundOpensAt(
  startsAt: Instant,
  cadence: Cadence,
  roundSequence: number,
  timeZone: TimeZone = "UTC",
): Instant {
  // The first round opens at the start itself, even a start in the hour the clocks repeat
  // (whose local time, read back, is the first of its two instants).
  if (roundSequence === 0) return startsAt;
  const start = localDateTime(startsAt, timeZone);
  switch (cadence) {
    case "weekly":
      return instantAt({ ...start, day: start.day + roundSequence * 7 }, timeZone);
    case "fortnightly":
      return instantAt({ ...start, day: start.day + roundSequence * 14 }, timeZone);
    case "monthly": {
      const monthIndex = start.month + roundSequence;
      const year = start.year + Math.floor(monthIndex / 12);
      const month = ((monthIndex % 12) + 12) % 12;
      const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
      return instantAt({ ...start, year, month, day: Math.min(start.day, lastDay) }, timeZone);
    }
  }
}
