import {
  firedTimerOf,
  PgBossTimerScheduler,
  parseTimerJob,
  settleTimerFailure,
  TIMER_QUEUE,
  type TimerJob,
  type TimerSettlement,
} from "@susu/adapters";
import { type RetryPolicy, type SupportDesk, type UseCaseDeps, useCases } from "@susu/domain";
import type PgBoss from "pg-boss";
import type { Logger } from "../logger.js";
import { type SchedulerMetrics, timedJob } from "../metrics.js";

/** Settings of the timer worker. */
export interface TimerOptions {
  /** How failed timers are retried before they are parked (default `DEFAULT_TIMER_RETRY`). */
  readonly retry?: RetryPolicy;
  /**
   * Counts each timer as job `<aggregate>_timer.<kind>` (`round_timer.collection_deadline`) with its outcome: `applied`, `ignored`
   * (no longer applies), `not_found`, `unreadable`, `failed_will_retry`, `parked`, or
   * `crashed` (its retry could not be scheduled: pg-boss runs the job again).
   */
  readonly metrics?: SchedulerMetrics;
  /** Most due timers one fetch takes and applies at once (default {@link DEFAULT_TIMER_BATCH}). */
  readonly batchSize?: number;
  /** The wait between fetches that found nothing (pg-boss's minimum is 0.5 s; default 1 s). */
  readonly pollingIntervalSeconds?: number;
}

/** Due timers applied at once by one process's timer worker. */
export const DEFAULT_TIMER_BATCH = 16;

/** What became of one timer job, as the metrics name it. */
type TimerOutcome = "applied" | "ignored" | "not_found" | "unreadable" | "failed_will_retry" | "parked";

/**
 * Feeds due timers to the aggregates they name, up to a batch at once, each job settled on
 * its own (one failing timer must not fail others), through the domain's one router of timers (`useCases.applyTimer`). A
 * timer that no longer applies is ignored by its aggregate (and audited); a lost
 * optimistic race is retried here; any other failure is settled by the retry-or-park
 * policy: another attempt later, or a support ticket and then parked — a lost deadline
 * would leave a round collecting forever, so a timer is never dropped before its ticket
 * exists. Only when even the next attempt cannot be scheduled does the job fail, and
 * pg-boss runs it again.
 */
export async function workTimers(
  boss: PgBoss,
  deps: UseCaseDeps,
  desk: SupportDesk,
  log: Logger,
  options: TimerOptions = {},
): Promise<void> {
  const timers = new PgBossTimerScheduler(boss, deps.clock);
  /** Applies one timer; what became of it, and the settlement pg-boss keeps as the job's output. */
  const applyTimer = async (
    timer: TimerJob,
  ): Promise<{ outcome: TimerOutcome; output?: TimerSettlement }> => {
    const about = { aggregate: timer.aggregate, aggregateId: timer.aggregateId, timerId: timer.timerId };
    const applied = await useCases.retryOnConflict(() => useCases.applyTimer(deps, firedTimerOf(timer)));
    if (applied.isOk()) {
      log.info(
        { ...about, ignored: applied.value.ignored ?? null, status: applied.value.status },
        "timer applied",
      );
      return { outcome: applied.value.ignored === undefined ? "applied" : "ignored" };
    }
    if (applied.error.type === "not_found") {
      log.warn(about, "timer for an aggregate that does not exist");
      return { outcome: "not_found" };
    }
    const failure = {
      code: applied.error.code,
      message: applied.error.message,
      // A state the store refuses will be refused again; anything else may pass (as before).
      retryable: applied.error.type !== "storage_refused",
    };
    const settled = await settleTimerFailure(timers, desk, timer, failure, {
      now: deps.clock.now(),
      ...(options.retry !== undefined ? { retry: options.retry } : {}),
    });
    const failed = { ...about, code: applied.error.code };
    if (settled.isErr()) {
      log.error({ ...failed, detail: settled.error.message }, "timer failed; its retry not scheduled");
      // pg-boss runs this job again; settling it then schedules the same retry (same job id).
      throw new Error(`timer ${timer.timerId}: ${applied.error.code}; retry not scheduled`);
    }
    const s = settled.value;
    if (s.outcome === "parked")
      log.error({ ...failed, attempts: s.attempts, ticketId: s.ticketId }, "timer parked");
    else
      log.warn(
        { ...failed, attempts: s.attempts, retryAt: new Date(s.at).toISOString() },
        "timer failed; retry scheduled",
      );
    return { outcome: s.outcome === "parked" ? "parked" : "failed_will_retry", output: s };
  };
  const runJob = async (job: {
    readonly id: string;
    readonly data: unknown;
  }): Promise<TimerSettlement | undefined> => {
    const timer = parseTimerJob(job.data);
    if (!timer) {
      // A timer of a kind a newer release added (a rolling deploy), or corrupted data: failed,
      // so pg-boss runs it again (the queue's retryLimit, backing off) and a newer process can
      // apply it; never dropped. One that no process can read ends `failed` in pg-boss's table.
      log.error({ jobId: job.id }, "timer job with unreadable data; failed, to be retried");
      options.metrics?.jobRan("timer", "unreadable", 0);
      throw new Error("timer job with unreadable data (a newer release's timer, or corrupted)");
    }
    const ran = await timedJob(
      options.metrics,
      `${timer.aggregate}_timer.${timer.timer.kind}`,
      () => applyTimer(timer),
      (r) => r.outcome,
    );
    return ran.output;
  };
  // pg-boss 10 waits its polling interval after every fetch, even one that found work, so one
  // job per fetch would cap timers at one a second per process (a hundred releases falling due
  // together took 100 s), and a batch per fetch at one batch a second (5,000 releases falling due
  // together took 300 s at 16 a second). A fetch takes up to `batchSize` due jobs and applies them
  // at once; a full batch asks pg-boss to fetch again at once (`notifyWorker`: no wait), so the
  // interval is only waited after a fetch that left nothing due. Each job is completed or failed
  // on its own, so one failing timer never fails the others (the batch-wide completion pg-boss
  // makes afterwards finds none of them active and changes nothing).
  const batchSize = options.batchSize ?? DEFAULT_TIMER_BATCH;
  let workerId: string | undefined;
  workerId = await boss.work(
    TIMER_QUEUE,
    {
      batchSize,
      pollingIntervalSeconds: options.pollingIntervalSeconds ?? 1,
      includeMetadata: true,
    },
    async (jobs) => {
      // Settled: one job's bookkeeping failing (the database went away) must not end the batch
      // while others are still being applied; pg-boss would then fail and retry them mid-run.
      await Promise.allSettled(
        jobs.map(async (job) => {
          let output: TimerSettlement | undefined;
          try {
            output = await runJob(job);
          } catch (error) {
            // pg-boss runs it again after its retry delay (the queue's retryLimit).
            await boss
              .fail(TIMER_QUEUE, job.id, { message: error instanceof Error ? error.message : String(error) })
              .catch((e: unknown) =>
                log.error({ jobId: job.id, error: String(e) }, "timer job not marked failed"),
              );
            return;
          }
          await boss
            .complete(TIMER_QUEUE, job.id, output === undefined ? {} : { ...output })
            .catch((e: unknown) =>
              log.error({ jobId: job.id, error: String(e) }, "timer job not marked complete"),
            );
        }),
      );
      // More may be due: fetch again without waiting the polling interval.
      if (jobs.length >= batchSize && workerId !== undefined) boss.notifyWorker(workerId);
    },
  );
}
