import type { ResultAsync } from "neverthrow";
import type { RoundTimer } from "../round/round-input.js";
import type { Instant } from "../shared/time.js";

/** A timer to fire once at `at`, then fed back to the round as a `timer` input. */
export interface ScheduledTimer {
  /** Stable id: scheduling the same id twice creates one timer. */
  readonly id: string;
  readonly roundId: string;
  readonly at: Instant;
  readonly timer: RoundTimer;
}

/** Why a timer could not be scheduled; the dispatcher retries it. */
export type SchedulerError = {
  readonly type: "schedule_failed";
  readonly code: "schedule_failed";
  readonly message: string;
};

/** Fires timers later (pg-boss in production). */
export interface TimerScheduler {
  schedule(timer: ScheduledTimer): ResultAsync<void, SchedulerError>;
}
