import type { Clock, Instant, ScheduledTimer, SchedulerError, TimerScheduler } from "@susu/domain";
import { ResultAsync } from "neverthrow";
import type PgBoss from "pg-boss";
import { deterministicUuid } from "./deterministic-uuid.js";
import { TIMER_QUEUE, type TimerJob, timerJobData, timerJobOf } from "./timer-job.js";

/** How long a timer job may stay started before it is run again (see the constructor). */
export const TIMER_JOB_EXPIRE_SECONDS = 120;

/**
 * How often pg-boss's maintenance (which fails expired jobs so they run again) runs in the
 * scheduler: with {@link TIMER_JOB_EXPIRE_SECONDS}, a dead process's timer runs again within
 * about two and a half minutes.
 */
export const TIMER_MAINTENANCE_INTERVAL_SECONDS = 30;

/**
 * Every aggregate's timers as pg-boss jobs that start at the timer's time. The job id is derived
 * from the timer id, so a timer scheduled twice (an outbox effect re-run after a crash)
 * is one job; and a job runs once however many scheduler processes work the queue.
 *
 * A timer whose application fails is retried by the retry-or-park policy
 * ({@link settleTimerFailure}), as a new job; pg-boss's own retries (the queue's
 * `retryLimit`) only re-run a job whose worker crashed or could not record the outcome.
 */
export class PgBossTimerScheduler implements TimerScheduler {
  /**
   * `clock`: the clock the timers' instants are on, when it is not the machine's (the
   * simulation's offset clock): a timer is due at the real time that is that instant now.
   */
  constructor(
    private readonly boss: PgBoss,
    private readonly clock?: Clock,
    /**
     * How long a started job may run before pg-boss's maintenance fails it and it is run
     * again (by a live process). Applying a timer is one short transaction, so a job still
     * active after this was started by a process that died (SIGKILL, a lost machine): it
     * waits this, plus up to the maintenance interval, not pg-boss's default 15 minutes.
     */
    private readonly expireInSeconds: number = TIMER_JOB_EXPIRE_SECONDS,
  ) {}

  /** Creates the queue; call once at start-up (idempotent). */
  static async prepare(boss: PgBoss): Promise<void> {
    await boss.createQueue(TIMER_QUEUE, {
      name: TIMER_QUEUE,
      retryLimit: 20,
      retryDelay: 5,
      retryBackoff: true,
      retentionDays: 30,
    });
  }

  schedule(timer: ScheduledTimer): ResultAsync<void, SchedulerError> {
    return this.#send(timerJobOf(timer), deterministicUuid(timer.id), timer.at);
  }

  /**
   * Schedules another attempt at a timer whose application failed `attempts` times, at
   * `at`. The job id is derived from the timer id and the count, so settling the same
   * failure twice (a job re-run after a crash) schedules one retry.
   */
  scheduleRetry(job: TimerJob, attempts: number, at: Instant): ResultAsync<void, SchedulerError> {
    return this.#send(
      { ...job, attempts },
      deterministicUuid(`retry-of:${job.timerId}:after:${attempts}`),
      at,
    );
  }

  /** pg-boss starts jobs on the database's clock, the machine's time. */
  #realTimeOf(at: Instant): number {
    return this.clock === undefined ? at : at - (this.clock.now() - Date.now());
  }

  /**
   * The job's data carries `dueAt`, the timer's instant on the timers' clock (epoch ms),
   * besides the real time it starts at: whoever moves that clock (the simulation, which jumps
   * it while PostgreSQL's stays put) can set `start_after` from it absolutely, whatever offset
   * the sender read. `parseTimerJob` ignores it.
   */
  #send(job: TimerJob, id: string, at: Instant): ResultAsync<void, SchedulerError> {
    return ResultAsync.fromPromise(
      this.boss.send(
        TIMER_QUEUE,
        { ...timerJobData(job), dueAt: at },
        {
          id,
          startAfter: new Date(this.#realTimeOf(at)),
          expireInSeconds: this.expireInSeconds,
        },
      ),
      (e): SchedulerError => ({
        type: "schedule_failed",
        code: "schedule_failed",
        message: e instanceof Error ? e.message : String(e),
      }),
    ).map(() => undefined);
  }
}
