import {
  type AttemptFailure,
  HOUR_MS,
  type Instant,
  type RetryPolicy,
  retryOrPark,
  type SchedulerError,
  type SupportDesk,
  useCases,
} from "@susu/domain";
import { okAsync, type ResultAsync } from "neverthrow";
import type { PgBossTimerScheduler } from "./pg-boss-timer-scheduler.js";
import type { TimerJob } from "./timer-job.js";

/**
 * How timers whose application failed are retried: 5 s, 10 s, 20 s … capped at an
 * hour, each delay drawn uniformly below its backoff, 21 attempts in all (the first and 20
 * retries, as pg-boss's queue settings used to give): at most about 11 hours of waits
 * (about half that on average) before the timer is parked with a ticket. A lost deadline
 * leaves a round collecting, so a person hears of it within the day.
 */
export const DEFAULT_TIMER_RETRY: RetryPolicy = {
  baseDelayMs: 5_000,
  factor: 2,
  maxDelayMs: HOUR_MS,
  jitter: "full",
  attemptsMax: 21,
};

/**
 * What happened to a failed timer: another attempt scheduled at `at`, or parked with a
 * ticket. `attempts` counts the failed attempts so far; `note` is the last error.
 */
export type TimerSettlement =
  | { readonly outcome: "retried"; readonly at: Instant; readonly attempts: number; readonly note: string }
  | {
      readonly outcome: "parked";
      readonly ticketId: string;
      readonly attempts: number;
      readonly note: string;
    };

/**
 * Settles a timer whose application failed, by the domain's retry-or-park policy:
 * another attempt as a new job at the policy's time, or — at the policy's limit, or at
 * once when retrying cannot help — a support ticket, after which the timer is parked (its
 * job completes with nothing scheduled). If the ticket cannot be opened, another attempt
 * is scheduled instead: a timer is never dropped while nobody knows of it. An error means
 * the retry could not be scheduled; the caller fails the job so pg-boss runs it again.
 */
export function settleTimerFailure(
  timers: PgBossTimerScheduler,
  desk: SupportDesk,
  job: TimerJob,
  failure: AttemptFailure,
  ctx: { readonly now: Instant; readonly retry?: RetryPolicy },
): ResultAsync<TimerSettlement, SchedulerError> {
  const ticketId = `${job.timerId}:failed`;
  const decision = retryOrPark(
    {
      itemId: job.timerId,
      attempts: job.attempts ?? 0,
      failure,
      ticket: {
        id: ticketId,
        reason: "effect_parked",
        subject: `${job.aggregate} timer ${job.timerId} (${job.timer.kind})`,
        aggregate: job.aggregate,
        aggregateId: job.aggregateId,
      },
    },
    { policy: ctx.retry ?? DEFAULT_TIMER_RETRY, now: ctx.now },
  );
  const attempts = decision.failedAttempt;
  return useCases
    .settleFailure(decision, {
      retry: (at, note) =>
        timers
          .scheduleRetry(job, attempts, at)
          .map((): TimerSettlement => ({ outcome: "retried", at, attempts, note })),
      openTicket: (ticket) => desk.openTicket(ticket),
      // The ticket is the record of a parked timer (it names the timer and its aggregate); the
      // job then completes with this settlement as its output.
      park: (note) =>
        okAsync<TimerSettlement, SchedulerError>({ outcome: "parked", ticketId, attempts, note }),
    })
    .map(({ value }) => value);
}
