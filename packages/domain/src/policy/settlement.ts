import { DAY_MS, type Instant } from "../shared/time.js";
import type { DebitMethod } from "./debit-methods.js";

/**
 * How a debit method settles: how many business days its outcome may take (Stripe: a BECS
 * debit stays `processing` for up to three business days), counted in the calendar of the
 * banks that clear it (BECS: Australia's, `Australia/Sydney`).
 */
export const DEBIT_SETTLEMENT: {
  readonly [M in DebitMethod]: { readonly businessDays: number; readonly timeZone: string };
} = {
  au_becs_debit: { businessDays: 3, timeZone: "Australia/Sydney" },
};

// One formatter per time zone: making one costs far more than using it, and every decision
// about a debit asks for its settlement date (a few time zones at most, so never pruned).
const localFormats = new Map<string, Intl.DateTimeFormat>();

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/** An instant's wall-clock reading in an IANA time zone: its weekday (0 = Sunday) and UTC offset. */
function localIn(at: Instant, timeZone: string): { readonly weekday: number; readonly offsetMs: number } {
  let format = localFormats.get(timeZone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      weekday: "short",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    localFormats.set(timeZone, format);
  }
  const part: Record<string, string> = {};
  for (const p of format.formatToParts(at)) part[p.type] = p.value;
  const wall = Date.UTC(
    Number(part.year),
    Number(part.month) - 1,
    Number(part.day),
    Number(part.hour),
    Number(part.minute),
    Number(part.second),
  );
  return { weekday: WEEKDAYS.indexOf(part.weekday ?? ""), offsetMs: wall - (at - (at % 1000)) };
}

/**
 * `from` moved on by `businessDays` business days (Monday to Friday in `timeZone`; a day
 * that falls on a weekend does not count), at the same time of day there: a day across a
 * daylight-saving change is 23 or 25 hours long (a wall-clock time the change skips lands an
 * hour later). Public holidays are not known to the domain and are not skipped: the result
 * is an estimate, never a promise.
 */
export function addBusinessDays(from: Instant, businessDays: number, timeZone: string): Instant {
  const { offsetMs } = localIn(from, timeZone);
  // Wall-clock time as if it were UTC: days are added to it, then it is read back in the zone.
  const fromWall = from + offsetMs;
  let at = from;
  let counted = 0;
  for (let days = 1; counted < businessDays; days++) {
    // Whole days of 24 hours, unless the clocks changed meanwhile (one reading per day then).
    at = from + days * DAY_MS;
    let local = localIn(at, timeZone);
    if (local.offsetMs !== offsetMs) {
      at = instantAtWall(fromWall + days * DAY_MS, timeZone, local.offsetMs);
      local = localIn(at, timeZone);
    }
    if (local.weekday !== 0 && local.weekday !== 6) counted += 1;
  }
  return at;
}

/**
 * The instant a wall-clock time (given as if it were UTC) is read in `timeZone`, from `first`,
 * the zone's offset at an instant near it. A time read twice (clocks set back) is its first
 * reading; a time never read (clocks set forward) is the instant an hour later on the clock.
 */
function instantAtWall(wall: number, timeZone: string, first: number): Instant {
  const second = localIn(wall - first, timeZone).offsetMs;
  if (first === second) return wall - first;
  // Either both readings are valid (a repeated hour: the earlier instant, the larger offset)
  // or neither is (a skipped hour: the smaller offset gives the later instant).
  const early = wall - Math.max(first, second);
  const late = wall - Math.min(first, second);
  return localIn(early, timeZone).offsetMs === Math.max(first, second) ? early : late;
}

/** When a debit submitted at `submittedAt` is expected to have settled (its outcome known) at the latest. */
export function expectedSettlementAt(method: DebitMethod, submittedAt: Instant): Instant {
  const { businessDays, timeZone } = DEBIT_SETTLEMENT[method];
  return addBusinessDays(submittedAt, businessDays, timeZone);
}
