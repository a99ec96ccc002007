import { parseRoundTimerJob, ROUND_TIMER_QUEUE } from "@susu/adapters";
import { type UseCaseDeps, useCases } from "@susu/domain";
import type PgBoss from "pg-boss";
import type { Logger } from "../logger.js";

/**
 * Feeds due round timers to their rounds. A timer that no longer applies is ignored by the
 * round (and audited); a lost optimistic race is retried here; anything else fails the
 * job so pg-boss retries it with backoff.
 */
export async function workRoundTimers(boss: PgBoss, deps: UseCaseDeps, log: Logger): Promise<void> {
  await boss.work(ROUND_TIMER_QUEUE, { batchSize: 10, pollingIntervalSeconds: 1 }, async (jobs) => {
    for (const job of jobs) {
      const timer = parseRoundTimerJob(job.data);
      if (!timer) {
        log.error({ jobId: job.id }, "round timer job with unreadable data; dropped");
        continue;
      }
      const applied = await useCases.retryOnConflict(() =>
        useCases.applyRoundInput(deps, timer.roundId, { type: "timer", timer: timer.timer }, "timer"),
      );
      if (applied.isErr()) {
        if (applied.error.type === "not_found") {
          log.warn(
            { roundId: timer.roundId, timerId: timer.timerId },
            "timer for a round that does not exist",
          );
          continue;
        }
        throw new Error(`timer ${timer.timerId}: ${applied.error.code}: ${applied.error.message}`);
      }
      log.info(
        {
          roundId: timer.roundId,
          timerId: timer.timerId,
          ignored: applied.value.ignored ?? null,
          status: applied.value.state.status,
        },
        "round timer applied",
      );
    }
  });
}
