import {
  PgBossTimerScheduler,
  parseRoundTimerJob,
  ROUND_TIMER_QUEUE,
  settleRoundTimerFailure,
} from "@susu/adapters";
import { type RetryPolicy, type SupportDesk, type UseCaseDeps, useCases } from "@susu/domain";
import type PgBoss from "pg-boss";
import type { Logger } from "../logger.js";

/** Settings of the round-timer worker. */
export interface RoundTimerOptions {
  /** How failed timers are retried before they are parked (default `DEFAULT_TIMER_RETRY`). */
  readonly retry?: RetryPolicy;
}

/**
 * Feeds due round timers to their rounds, one job at a time (one failing timer must not
 * fail others). A timer that no longer applies is ignored by the round (and audited); a
 * lost optimistic race is retried here; any other failure is settled by the retry-or-park
 * policy: another attempt later, or a support ticket and then parked — a lost deadline
 * would leave a round collecting forever, so a timer is never dropped before its ticket
 * exists. Only when even the next attempt cannot be scheduled does the job fail, and
 * pg-boss runs it again.
 */
export async function workRoundTimers(
  boss: PgBoss,
  deps: UseCaseDeps,
  desk: SupportDesk,
  log: Logger,
  options: RoundTimerOptions = {},
): Promise<void> {
  const timers = new PgBossTimerScheduler(boss);
  await boss.work(
    ROUND_TIMER_QUEUE,
    { batchSize: 1, pollingIntervalSeconds: 1, includeMetadata: true },
    async ([job]) => {
      if (!job) return;
      const timer = parseRoundTimerJob(job.data);
      if (!timer) {
        log.error({ jobId: job.id }, "round timer job with unreadable data; dropped");
        return;
      }
      const applied = await useCases.retryOnConflict(() =>
        useCases.applyRoundInput(deps, timer.roundId, { type: "timer", timer: timer.timer }, "timer"),
      );
      if (applied.isOk()) {
        log.info(
          {
            roundId: timer.roundId,
            timerId: timer.timerId,
            ignored: applied.value.ignored ?? null,
            status: applied.value.state.status,
          },
          "round timer applied",
        );
        return;
      }
      if (applied.error.type === "not_found") {
        log.warn({ roundId: timer.roundId, timerId: timer.timerId }, "timer for a round that does not exist");
        return;
      }
      const failure = {
        code: applied.error.code,
        message: applied.error.message,
        // A state the store refuses will be refused again; anything else may pass (as before).
        retryable: applied.error.type !== "storage_refused",
      };
      const settled = await settleRoundTimerFailure(timers, desk, timer, failure, {
        now: deps.clock.now(),
        ...(options.retry !== undefined ? { retry: options.retry } : {}),
      });
      const about = { roundId: timer.roundId, timerId: timer.timerId, code: applied.error.code };
      if (settled.isErr()) {
        log.error({ ...about, detail: settled.error.message }, "round timer failed; its retry not scheduled");
        // pg-boss runs this job again; settling it then schedules the same retry (same job id).
        throw new Error(`timer ${timer.timerId}: ${applied.error.code}; retry not scheduled`);
      }
      const s = settled.value;
      if (s.outcome === "parked")
        log.error({ ...about, attempts: s.attempts, ticketId: s.ticketId }, "round timer parked");
      else
        log.warn(
          { ...about, attempts: s.attempts, retryAt: new Date(s.at).toISOString() },
          "round timer failed; retry scheduled",
        );
      return s;
    },
  );
}
