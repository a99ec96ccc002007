// What the held payment and the marketplace charge share about transfer attempts that land
// late: an attempt susu had written off (a look-up that missed it, Stripe's list lagging
// behind), or one beside another attempt. At most one landed attempt per payee is booked; the
// others are flagged (`unbooked`) for a person, and once one is booked every other attempt
// still in flight is written off, so that neither the aggregate nor the outbox asks Stripe
// for it again — and one that may have landed (of unknown outcome then, or whose answer heard
// after is of unknown outcome) is looked up once, so that a second payment is heard even
// should its webhook never come.

import { classifyFailure } from "../policy/failure-codes.js";

/** A transfer attempt as both aggregates record it. */
export interface TransferAttemptState {
  readonly status: "requested" | "created" | "failed" | "unknown";
  readonly failureCode?: string;
  /** Look-ups of the attempt's transfer at Stripe asked for. */
  readonly lookups?: number;
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
 * The failure code with which the outbox reports a transfer effect it drops, its attempt
 * written off ({@link ANOTHER_ATTEMPT_LANDED}) since it was queued, after an earlier try of it
 * failed: whether that try made the transfer (a timeout, a 5xx, an answer lost) was never
 * heard. An outcome unknown (`classifyFailure`): the aggregate looks the attempt up once.
 */
export const EARLIER_TRY_UNHEARD = "earlier_try_unheard";

/**
 * Whether `failureCode`, heard of an attempt written off as {@link ANOTHER_ATTEMPT_LANDED} while
 * it was still asked for (not looked up since), says its transfer may have been made after all:
 * an outcome unknown (a timeout, a 5xx, {@link EARLIER_TRY_UNHEARD}). Its webhook may never
 * come, so it is looked up once, as one of unknown outcome is when written off
 * ({@link writeOffOtherAttempts}); found, it is a late transfer, flagged, never booked; not
 * found, nothing changes. A definite failure needs nothing, and a success
 * (`transfer_created`) is a late transfer already.
 */
export function mayHaveLandedAfterWriteOff(attempt: TransferAttemptState, failureCode: string): boolean {
  return (
    attempt.status === "failed" &&
    attempt.failureCode === ANOTHER_ATTEMPT_LANDED &&
    (attempt.lookups ?? 0) === 0 &&
    classifyFailure("transfer", failureCode) === "outcome_unknown"
  );
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

/**
 * Whether a transfer effect not sent any more (see {@link transferStillAsked}) reports its
 * attempt's earlier try as unheard ({@link EARLIER_TRY_UNHEARD}): when it was tried before
 * (`triedBefore`: a try failed, and may have made the transfer) and its attempt, written off
 * while asked for, was not looked up since ({@link mayHaveLandedAfterWriteOff}).
 */
export function reportsUnheardTry(attempt: TransferAttemptState | undefined, triedBefore: boolean): boolean {
  return triedBefore && attempt !== undefined && mayHaveLandedAfterWriteOff(attempt, EARLIER_TRY_UNHEARD);
}
