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
