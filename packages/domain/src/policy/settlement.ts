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
const weekdayFormats = new Map<string, Intl.DateTimeFormat>();

/** The weekday (0 = Sunday … 6 = Saturday) of an instant in an IANA time zone. */
function weekdayIn(at: Instant, timeZone: string): number {
  let format = weekdayFormats.get(timeZone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat("en-US", { weekday: "short", timeZone });
    weekdayFormats.set(timeZone, format);
  }
  return ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"].indexOf(format.format(at));
}

/**
 * `from` moved on by `businessDays` business days (Monday to Friday in `timeZone`; a day
 * that falls on a weekend does not count), at the same time of day. Public holidays are
 * not known to the domain and are not skipped: the result is an estimate, never a promise.
 */
export function addBusinessDays(from: Instant, businessDays: number, timeZone: string): Instant {
  let at = from;
  let counted = 0;
  while (counted < businessDays) {
    at += DAY_MS;
    const day = weekdayIn(at, timeZone);
    if (day !== 0 && day !== 6) counted += 1;
  }
  return at;
}

/** When a debit submitted at `submittedAt` is expected to have settled (its outcome known) at the latest. */
export function expectedSettlementAt(method: DebitMethod, submittedAt: Instant): Instant {
  const { businessDays, timeZone } = DEBIT_SETTLEMENT[method];
  return addBusinessDays(submittedAt, businessDays, timeZone);
}
