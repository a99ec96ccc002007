import { type EffectPorts, type OutboxStore, type UseCaseDeps, useCases } from "@susu/domain";
import type { Logger } from "../logger.js";
import { type SchedulerMetrics, timedJob } from "../metrics.js";
import { type PassResult, type PollingLoop, startPollingLoop } from "./polling-loop.js";

/** A running dispatcher loop; `stop()` resolves once the pass in progress has finished. */
export type DispatcherLoop = PollingLoop;

/**
 * Runs outbox passes until stopped: at once again while there was work, otherwise after
 * `intervalMs`, and backing off while passes fail. Leases make several dispatchers (in
 * several processes) safe together.
 */
export function startOutboxDispatcher(
  deps: UseCaseDeps,
  ports: EffectPorts,
  outbox: OutboxStore,
  options: {
    readonly workerId: string;
    readonly intervalMs: number;
    readonly maxBackoffMs?: number;
    readonly log: Logger;
    /** Counts each effect's outcome and each pass (`outbox_pass`). */
    readonly metrics?: SchedulerMetrics;
  },
): DispatcherLoop {
  const { workerId, log, metrics } = options;
  const onSettled = metrics?.effectSettled;
  const pass = async (): Promise<PassResult> => {
    const report = await useCases.dispatchOutbox(deps, ports, outbox, {
      workerId,
      ...(onSettled !== undefined ? { onSettled } : {}),
    });
    if (report.isErr()) {
      log.error({ code: report.error.code }, "outbox pass failed");
      return "failed";
    }
    if (report.value.claimed === 0) return "idle";
    log.info(report.value, "outbox pass");
    return "worked";
  };
  return startPollingLoop(() => timedJob(metrics, "outbox_pass", pass, (result) => result), {
    name: "outbox",
    intervalMs: options.intervalMs,
    log,
    ...(options.maxBackoffMs !== undefined ? { maxBackoffMs: options.maxBackoffMs } : {}),
  });
}
