import { textLengthWithin } from "../kernel/text.js";

/**
 * A point in time as milliseconds since the Unix epoch (UTC). The domain never reads the
 * system clock: every `Instant` comes from the `Clock` port or from an input.
 */
export type Instant = number;

/** A length of time in milliseconds. */
export type DurationMs = number;

/** Milliseconds in one minute. */
export const MINUTE_MS: DurationMs = 60_000;
/** Milliseconds in one hour. */
export const HOUR_MS: DurationMs = 60 * MINUTE_MS;
/** Milliseconds in one day. */
export const DAY_MS: DurationMs = 24 * HOUR_MS;

/** Formats an instant as an ISO-8601 UTC string, for notifications and logs. */
export function isoString(at: Instant): string {
  return new Date(at).toISOString();
}

/**
 * An IANA time zone name (`Australia/Sydney`, `UTC`): where a group's schedule is kept in
 * wall-clock time. Checked with {@link isTimeZone} at the edges.
 */
export type TimeZone = string;

/** A wall-clock date and time in some time zone (month 0-based, as `Date.UTC` takes it). */
export interface LocalDateTime {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  readonly millisecond: number;
}

const formatters = new Map<TimeZone, Intl.DateTimeFormat>();

/** The (cached) formatter giving an instant's wall-clock fields in `timeZone`; throws on an unknown zone. */
function formatterFor(timeZone: TimeZone): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
      era: "short",
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/**
 * The canonical IANA name of a time zone this runtime knows (`australia/sydney` →
 * `Australia/Sydney`; `UTC`), or undefined. Offsets such as `+10:00` are refused: a fixed
 * offset ignores daylight saving, which is what a group's schedule must follow.
 */
export function canonicalTimeZone(name: string): TimeZone | undefined {
  const zone = name.trim();
  if (!textLengthWithin(zone, 1, 64) || /^[+-]/.test(zone)) return undefined;
  try {
    // A formatter of its own, not the cache's: a client's spellings of one zone
    // (`AUSTRALIA/sydney`, …) must not each stay in memory; only canonical names are cached.
    const canonical = new Intl.DateTimeFormat("en-US", { timeZone: zone }).resolvedOptions().timeZone;
    return /^[+-]/.test(canonical) ? undefined : canonical;
  } catch {
    return undefined;
  }
}

/** The wall-clock date and time at `at` in `timeZone`. */
export function localDateTime(at: Instant, timeZone: TimeZone): LocalDateTime {
  const parts: Record<string, string> = {};
  for (const p of formatterFor(timeZone).formatToParts(new Date(at))) parts[p.type] = p.value;
  const yearOfEra = Number(parts.year);
  const millisecond = ((at % 1000) + 1000) % 1000;
  return {
    year: parts.era === "BC" || parts.era === "B" ? 1 - yearOfEra : yearOfEra,
    month: Number(parts.month) - 1,
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    second: Number(parts.second),
    millisecond,
  };
}

/** The wall-clock fields read as if they were UTC (a number to compare and add to). */
function asIfUtc(t: LocalDateTime): number {
  const d = new Date(0);
  d.setUTCFullYear(t.year, t.month, t.day);
  d.setUTCHours(t.hour, t.minute, t.second, t.millisecond);
  return d.getTime();
}

/** How far `timeZone`'s wall clock is ahead of UTC at `at`, in milliseconds. */
function offsetAt(at: Instant, timeZone: TimeZone): DurationMs {
  return asIfUtc(localDateTime(at, timeZone)) - at;
}

/**
 * The instant at which `timeZone`'s wall clock reads `local`. Days, months and times out of
 * range roll over (day 32 of January is 1 February), as with `Date.UTC`. Where daylight
 * saving makes the wall-clock time ambiguous, the choice is fixed (as Temporal's
 * `compatible` disambiguation, and as most calendars do):
 * - a time that happens twice (clocks go back) is the earlier of the two;
 * - a time that never happens (clocks go forward) is moved forward by the length of the gap
 *   (02:30 on a night clocks go from 02:00 to 03:00 is 03:30).
 */
export function instantAt(local: LocalDateTime, timeZone: TimeZone): Instant {
  const wall = asIfUtc(local);
  // The offsets a day either side: a zone changes its offset at most once within two days.
  const offsetBefore = offsetAt(wall - DAY_MS, timeZone);
  const offsetAfter = offsetAt(wall + DAY_MS, timeZone);
  const byBefore = wall - offsetBefore;
  const byAfter = wall - offsetAfter;
  const beforeFits = offsetAt(byBefore, timeZone) === offsetBefore;
  const afterFits = offsetAt(byAfter, timeZone) === offsetAfter;
  if (beforeFits && afterFits) return Math.min(byBefore, byAfter); // the same, or twice: the earlier
  if (beforeFits) return byBefore;
  if (afterFits) return byAfter;
  // In the gap: read with the offset from before it, the wall time lands after the gap.
  return byBefore;
}
