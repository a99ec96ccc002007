import type { AggregateRef, NoAggregateRef } from "../kernel/aggregate-ref.js";
import type { SupportTicket } from "../ports/support-desk.js";
import { unitFraction } from "../shared/hash.js";
import type { Instant } from "../shared/time.js";
import { type RetryPolicy, retryDelayMs } from "./retry-policy.js";

/** Why one attempt at an item of work (an outbox effect, a Stripe event, a round timer) failed. */
export interface AttemptFailure {
  readonly code: string;
  readonly message: string;
  /** `false`: the same attempt will fail the same way, so waiting only delays the ticket. */
  readonly retryable: boolean;
}

/**
 * The support ticket an item is parked with; the policy adds why it was parked. It names
 * the aggregate the item concerns (`aggregate`, `aggregateId`) when one is known.
 */
export type ParkingTicket = (AggregateRef | NoAggregateRef) & {
  /** Stable id (opening it twice keeps one ticket), e.g. `<effect id>:parked`. */
  readonly id: string;
  readonly reason: SupportTicket["reason"];
  /** What the item is, for a person: e.g. `effect round_1:notify:x (notify)`. */
  readonly subject: string;
  readonly groupId?: string;
};

/**
 * A fraction in [0, 1) that places an item's retry inside its jitter band. It must be a
 * function of the item and the attempt only, so that a replay after a crash (or a second
 * worker deciding the same failure) computes the same time.
 */
export type JitterSource = (itemId: string, failedAttempt: number) => number;

/** The default {@link JitterSource}: a hash of the item id and the attempt number. */
export const jitterFromId: JitterSource = (itemId, failedAttempt) =>
  unitFraction(`${itemId}:${failedAttempt}`);

/** A failed attempt at one item, as the retry-or-park policy sees it. */
export interface FailedItem {
  /** The item's stable id (effect id, Stripe event id, timer id): the jitter source. */
  readonly itemId: string;
  /** Failed attempts recorded for the item before this one (0 when its first attempt failed). */
  readonly attempts: number;
  readonly failure: AttemptFailure;
  /** The ticket to open should the item be parked. */
  readonly ticket: ParkingTicket;
}

/** What {@link retryOrPark} needs besides the failure. */
export interface RetryOrParkContext {
  readonly policy: RetryPolicy;
  readonly now: Instant;
  /** Default {@link jitterFromId}. */
  readonly jitter?: JitterSource;
}

/**
 * What to do with a failed item:
 * - `retry`: keep it due again at `at` (backoff with jitter), recording `note`;
 * - `park`: open `ticket`, then park the item with `note`. Parking comes only after the
 *   ticket exists; if the ticket cannot be opened, the item stays due at
 *   `retryAtIfTicketFails` (and the same decision is taken then), never dropped.
 *
 * `failedAttempt` is the 1-based number of the attempt that failed (`attempts + 1`).
 */
export type RetryOrPark =
  | {
      readonly action: "retry";
      readonly at: Instant;
      readonly failedAttempt: number;
      readonly note: string;
    }
  | {
      readonly action: "park";
      readonly ticket: SupportTicket;
      readonly retryAtIfTicketFails: Instant;
      readonly failedAttempt: number;
      readonly note: string;
    };

/**
 * The one retry-or-park rule for every failed effect, event or timer. A retryable failure
 * is retried after the policy's exponential backoff with jitter until the policy's
 * attempts are used up; a failure retrying cannot help, or the last allowed attempt, parks
 * the item with a support ticket. Pure: the same item, attempts, policy and time always
 * give the same answer.
 *
 * @example
 * ```ts
 * const decision = retryOrPark(
 *   {
 *     itemId: effect.id,
 *     attempts: record.attempts,
 *     failure: { code: "gateway_unavailable", message: "timeout", retryable: true },
 *     ticket: { id: `${effect.id}:parked`, reason: "effect_parked", subject: `effect ${effect.id}` },
 *   },
 *   { policy: DEFAULT_EFFECT_RETRY, now: clock.now() },
 * );
 * // { action: "retry", at: …, failedAttempt: 1, note: "gateway_unavailable: timeout" }
 * ```
 */
export function retryOrPark(item: FailedItem, ctx: RetryOrParkContext): RetryOrPark {
  const failedAttempt = item.attempts + 1;
  const note = `${item.failure.code}: ${item.failure.message}`;
  if (item.failure.retryable) {
    const jitter = ctx.jitter ?? jitterFromId;
    // null once the policy's attempts are used up.
    const delay = retryDelayMs(ctx.policy, failedAttempt, jitter(item.itemId, failedAttempt));
    if (delay !== null) return { action: "retry", at: ctx.now + delay, failedAttempt, note };
  }
  const why = item.failure.retryable
    ? `after ${failedAttempt} attempt${failedAttempt === 1 ? "" : "s"}`
    : "at once (retrying cannot help)";
  const { subject, ...ticket } = item.ticket;
  return {
    action: "park",
    ticket: { ...ticket, summary: `${subject} was parked ${why}: ${note}` },
    // The longest wait the policy knows: a desk that is down is not asked again at once.
    retryAtIfTicketFails: ctx.now + ctx.policy.maxDelayMs,
    failedAttempt,
    note,
  };
}
