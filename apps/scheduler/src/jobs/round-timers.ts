import { parseRoundTimerJob, ROUND_TIMER_QUEUE } from "@susu/adapters";
import { type SupportDesk, type UseCaseDeps, useCases } from "@susu/domain";
import type PgBoss from "pg-boss";
import type { Logger } from "../logger.js";

/**
 * Feeds due round timers to their rounds, one job at a time (one failing timer must not
 * fail others). A timer that no longer applies is ignored by the round (and audited); a
 * lost optimistic race is retried here; anything else fails the job so pg-boss retries it
 * with backoff — and on its last try a support ticket is opened first, because a lost
 * deadline would leave a round collecting forever.
 */
export async function workRoundTimers(
  boss: PgBoss,
  deps: UseCaseDeps,
  desk: SupportDesk,
  log: Logger,
): Promise<void> {
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
      const detail = `timer ${timer.timerId}: ${applied.error.code}: ${applied.error.message}`;
      if (job.retryCount >= job.retryLimit) {
        const ticket = await desk.openTicket({
          id: `${timer.timerId}:failed`,
          roundId: timer.roundId,
          reason: "effect_parked",
          summary: `round timer ${timer.timerId} failed ${job.retryCount + 1} times and was given up: ${applied.error.code}`,
        });
        if (ticket.isErr())
          log.error(
            { timerId: timer.timerId, code: ticket.error.code },
            "could not open a ticket for a failed timer",
          );
      }
      log.error(
        { roundId: timer.roundId, timerId: timer.timerId, code: applied.error.code, retry: job.retryCount },
        "round timer failed",
      );
      throw new Error(detail);
    },
  );
}
