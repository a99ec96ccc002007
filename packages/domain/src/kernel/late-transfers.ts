// What the held payment and the marketplace charge share about transfer attempts that land
// late: an attempt susu had written off (a look-up that missed it, Stripe's list lagging
// behind), or one beside another attempt. At most one landed attempt per payee is booked; the
// others are flagged (`unbooked`) for a person, and once one is booked every other attempt
// still in flight is written off, so that neither the aggregate nor the outbox asks Stripe
// for it again — and one of unknown outcome among them is looked up once, so that a second
// payment is heard even should its webhook never come.

/** A transfer attempt as both aggregates record it. */
export interface TransferAttemptState {
  readonly status: "requested" | "created" | "failed" | "unknown";
  /** Landed late and not booked: money paid beyond what the books owe (a person recovers it). */
  readonly unbooked?: true;
}

/** The failure code of an attempt written off because another attempt landed and was booked. */
export const ANOTHER_ATTEMPT_LANDED = "another_attempt_landed";

/** Whether an attempt landed and is booked as the payee's payment (the one reversals are asked of). */
export function isBookedTransfer(t: TransferAttemptState): boolean {
  return t.status === "created" && t.unbooked !== true;
}

/** Whether an attempt may still land: asked for, or its outcome unknown. */
export function isTransferInFlight(t: TransferAttemptState): boolean {
  return t.status === "requested" || t.status === "unknown";
}

/** What an attempt written off because another landed and was booked becomes. */
export interface WrittenOffAttempt {
  readonly status: "failed";
  readonly failureCode: typeof ANOTHER_ATTEMPT_LANDED;
}

/** How an aggregate records an attempt written off, and asks Stripe whether one landed (its transfer look-up). */
export interface WriteOffRules<T> {
  readonly writeOff: (attempt: T, patch: WrittenOffAttempt) => void;
  readonly lookUp: (attempt: T) => void;
}

/**
 * Once one of `attempts` (the payee's) was booked as their one payment, writes off (`failed`,
 * {@link ANOTHER_ATTEMPT_LANDED}) every other one still in flight: should one of them land too,
 * its success is late and flagged, never booked. One whose outcome was unknown (a timeout, a
 * 5xx) may have landed already, and its webhook may never come: it is looked up once at
 * Stripe, whose answer is handled as for any attempt written off — found, a late transfer,
 * flagged (`unbooked`) with a ticket; not found, nothing changes.
 */
export function writeOffOtherAttempts<T extends TransferAttemptState>(
  attempts: readonly T[],
  rules: WriteOffRules<T>,
): void {
  for (const attempt of attempts.filter(isTransferInFlight)) {
    rules.writeOff(attempt, { status: "failed", failureCode: ANOTHER_ATTEMPT_LANDED });
    if (attempt.status === "unknown") rules.lookUp(attempt);
  }
}

/**
 * Whether a queued transfer effect is still wanted, from its attempt as the stored aggregate
 * has it now: only an attempt still `requested` is (an aggregate not stored yet, `stored`
 * false, is sent as asked; a stored one without the attempt is not). One written off since the effect was queued (another
 * attempt landed late and was booked) would pay the payee twice.
 */
export function transferStillAsked(attempt: TransferAttemptState | undefined, stored: boolean): boolean {
  return !stored || attempt?.status === "requested";
}
