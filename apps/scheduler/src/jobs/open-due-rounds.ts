import { type UseCaseDeps, useCases } from "@susu/domain";
import type PgBoss from "pg-boss";
import type { Logger } from "../logger.js";
import { type SchedulerMetrics, timedJob } from "../metrics.js";

/** The pg-boss queue (and cron) that opens rounds that are due. */
export const OPEN_DUE_ROUNDS_QUEUE = "open-due-rounds";

/**
 * Opens every round that is due. Safe to run from several schedulers at once: opening a
 * round records it on the group with a version check, so a second opener gets
 * `round_in_progress` (or loses the race) and moves on.
 */
export async function openDueRounds(deps: UseCaseDeps, log: Logger, limit = 100): Promise<number> {
  const due = await deps.groups.findGroupsDueForRound(deps.clock.now(), limit);
  if (due.isErr()) throw new Error(`finding due groups failed: ${due.error.code}`);
  let opened = 0;
  for (const group of due.value) {
    const started = await useCases.startRound(deps, group.id, "scheduler");
    if (started.isOk()) {
      opened += 1;
      log.info({ groupId: group.id, roundId: started.value.state.id }, "round opened");
    } else if (started.error.type === "members_not_ready") {
      // Not a fault of the scheduler: the round waits for its members, and says who lacks what.
      log.warn(
        { groupId: group.id, code: started.error.code, notReady: started.error.notReady },
        "round due, but members are not ready",
      );
    } else if (
      !["round_in_progress", "no_round_due", "version_conflict", "group_not_active"].includes(
        started.error.code,
      )
    ) {
      log.error(
        { groupId: group.id, code: started.error.code, detail: started.error.message },
        "could not open round",
      );
    }
  }
  return opened;
}

/** Schedules the cron and works its queue. */
export async function scheduleOpenDueRounds(
  boss: PgBoss,
  deps: UseCaseDeps,
  log: Logger,
  cron: string,
  metrics?: SchedulerMetrics,
): Promise<void> {
  await boss.createQueue(OPEN_DUE_ROUNDS_QUEUE, { name: OPEN_DUE_ROUNDS_QUEUE, policy: "singleton" });
  await boss.schedule(OPEN_DUE_ROUNDS_QUEUE, cron);
  await boss.work(OPEN_DUE_ROUNDS_QUEUE, async () => {
    // Counted as job `open_due_rounds`: `opened` or `none_due`, `crashed` when it throws.
    await timedJob(
      metrics,
      "open_due_rounds",
      () => openDueRounds(deps, log),
      (opened) => (opened > 0 ? "opened" : "none_due"),
    );
  });
}
