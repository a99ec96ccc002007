import type { Instant } from "../shared/time.js";
import { DAY_MS } from "../shared/time.js";

/** How often a group's rounds open. */
export type Cadence = "weekly" | "fortnightly" | "monthly";

/** Every cadence, for validation at the edges. */
export const CADENCES: readonly Cadence[] = ["weekly", "fortnightly", "monthly"];

/**
 * When round number `roundSequence` (0-based, counted across rotations) opens, for a
 * group starting at `startsAt`. Monthly rounds keep the start's day of month, clamped to
 * the month's last day (a group starting on 31 January opens on 28/29 February).
 */
export function roundOpensAt(startsAt: Instant, cadence: Cadence, roundSequence: number): Instant {
  switch (cadence) {
    case "weekly":
      return startsAt + roundSequence * 7 * DAY_MS;
    case "fortnightly":
      return startsAt + roundSequence * 14 * DAY_MS;
    case "monthly": {
      const start = new Date(startsAt);
      const monthIndex = start.getUTCMonth() + roundSequence;
      const year = start.getUTCFullYear() + Math.floor(monthIndex / 12);
      const month = ((monthIndex % 12) + 12) % 12;
      const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
      const day = Math.min(start.getUTCDate(), lastDay);
      return Date.UTC(
        year,
        month,
        day,
        start.getUTCHours(),
        start.getUTCMinutes(),
        start.getUTCSeconds(),
        start.getUTCMilliseconds(),
      );
    }
  }
}
