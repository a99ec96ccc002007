import { ResultAsync } from "neverthrow";
import type { RetryOrPark } from "../policy/retry-or-park.js";
import type { SupportDeskError, SupportTicket } from "../ports/support-desk.js";
import type { Instant } from "../shared/time.js";

/** How one queue (the outbox, the webhook inbox, the timer queue) carries out a retry-or-park decision. */
export interface FailureSteps<T, E> {
  /** Keeps the item due again at `at`, recording `note` as its last error. */
  readonly retry: (at: Instant, note: string) => ResultAsync<T, E>;
  /** Opens the ticket the item is parked with (idempotent: the ticket id is stable). */
  readonly openTicket: (ticket: SupportTicket) => ResultAsync<void, SupportDeskError>;
  /** Parks the item: no more attempts until a person requeues it. */
  readonly park: (note: string) => ResultAsync<T, E>;
}

/** What {@link settleFailure} did, with what the queue's own step returned. */
export interface SettledFailure<T> {
  readonly outcome: "retried" | "parked";
  readonly value: T;
}

/**
 * Carries out a {@link RetryOrPark} decision through a queue's steps. An item is parked
 * only once its ticket exists: a parked item nobody hears of would leave a round (or a
 * Stripe fact) waiting forever. When the ticket cannot be opened, the item stays due at
 * `retryAtIfTicketFails` and the ticket is tried again then. A failure of the queue's own
 * write is returned: the item keeps its lease until it ends, and comes back.
 */
export function settleFailure<T, E>(
  decision: RetryOrPark,
  steps: FailureSteps<T, E>,
): ResultAsync<SettledFailure<T>, E> {
  if (decision.action === "retry")
    return steps.retry(decision.at, decision.note).map((value) => ({ outcome: "retried" as const, value }));
  return ResultAsync.fromSafePromise(steps.openTicket(decision.ticket)).andThen((opened) =>
    opened.isOk()
      ? steps.park(decision.note).map((value) => ({ outcome: "parked" as const, value }))
      : steps
          .retry(
            decision.retryAtIfTicketFails,
            `${decision.note} (support ticket not opened: ${opened.error.message})`,
          )
          .map((value) => ({ outcome: "retried" as const, value })),
  );
}
