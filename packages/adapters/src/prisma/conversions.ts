// Crossing between the domain's numbers and PostgreSQL's types. The domain holds money
// and instants as safe integers; the database holds amounts as BIGINT and instants as
// timestamptz(3). Every crossing is explicit and asserted: a value that does not fit is
// a bug (or corrupted data), never something to round.
import type { Instant } from "@susu/domain";

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);

/** A domain amount (a safe integer of minor units) as a BIGINT parameter. Throws on anything else. */
export function toBigIntMinor(amountMinor: number): bigint {
  if (!Number.isSafeInteger(amountMinor))
    throw new RangeError(`amount ${String(amountMinor)} is not a safe integer of minor units`);
  return BigInt(amountMinor);
}

/** Whether a BIGINT read from the database fits the domain's safe-integer amounts. */
export function isSafeMinor(value: bigint): boolean {
  return value >= MIN_SAFE && value <= MAX_SAFE;
}

/** A BIGINT read from the database as a domain amount. Throws when it is outside the safe range. */
export function fromBigIntMinor(value: bigint): number {
  if (!isSafeMinor(value)) throw new RangeError(`stored amount ${value} is outside the safe integer range`);
  return Number(value);
}

/** An instant as a timestamptz(3) parameter. Throws on a value that is not a whole millisecond. */
export function toDate(at: Instant): Date {
  if (!Number.isSafeInteger(at)) throw new RangeError(`instant ${String(at)} is not whole milliseconds`);
  const date = new Date(at);
  if (Number.isNaN(date.getTime())) throw new RangeError(`instant ${at} is outside the range of a date`);
  return date;
}

/** A timestamptz read from the database as an instant. */
export function fromDate(date: Date): Instant {
  const at = date.getTime();
  if (!Number.isSafeInteger(at)) throw new RangeError("stored timestamp is not a valid instant");
  return at;
}

/** An optional instant as a nullable timestamptz parameter. */
export function toDateOrNull(at: Instant | undefined): Date | null {
  return at === undefined ? null : toDate(at);
}
