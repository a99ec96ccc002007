import { type PrismaClient, sweepStuckWork } from "@susu/adapters";
import type { Logger } from "../logger.js";
import { type SchedulerMetrics, timedJob } from "../metrics.js";
import { type PassResult, type PollingLoop, startPollingLoop } from "./polling-loop.js";

/**
 * Sweeps for stuck work every `intervalMs` (a minute by default) until stopped: outbox
 * effects whose lease expired — their worker died, or was cut off longer than the lease —
 * are cleared and the dispatcher woken to take them at once; pg-boss jobs active past their
 * expiry are counted (pg-boss's own maintenance fails them by timeout and retries them).
 * Each is logged and counted (`susu_stuck_work_total`). Every scheduler may run it.
 */
export function startStuckWorkSweep(
  prisma: PrismaClient,
  options: {
    readonly intervalMs?: number;
    readonly log: Logger;
    readonly metrics?: SchedulerMetrics;
    /** Told when expired outbox leases were cleared (wake the dispatcher). */
    readonly onOutboxResumed?: () => void;
    readonly bossSchema?: string | false;
    readonly now?: () => number;
  },
): PollingLoop {
  const { log, metrics } = options;
  const now = options.now ?? Date.now;
  const pass = async (): Promise<PassResult> => {
    let found: Awaited<ReturnType<typeof sweepStuckWork>>;
    try {
      found = await sweepStuckWork(prisma, now(), {
        ...(options.bossSchema !== undefined ? { bossSchema: options.bossSchema } : {}),
      });
    } catch (error) {
      log.error({ error: error instanceof Error ? error.message : String(error) }, "stuck-work sweep failed");
      return "failed";
    }
    const expired = found.outboxLeasesExpired;
    if (expired.length > 0) {
      log.warn(
        {
          count: expired.length,
          workers: [...new Set(expired.map((e) => e.claimedBy))],
          effects: expired.slice(0, 20).map((e) => e.id),
        },
        "outbox effects whose lease expired resumed",
      );
      metrics?.stuckWork("outbox_lease_expired", expired.length);
      options.onOutboxResumed?.();
    }
    if (found.bossJobsPastExpiry > 0) {
      log.warn(
        { count: found.bossJobsPastExpiry },
        "pg-boss jobs active past their expiry (pg-boss retries them)",
      );
      metrics?.stuckWork("boss_job_expired", found.bossJobsPastExpiry);
    }
    // Always wait the interval: a sweep is a check, not a queue to drain.
    return "idle";
  };
  return startPollingLoop(() => timedJob(metrics, "stuck_work_sweep", pass, (result) => result), {
    name: "stuck-work sweep",
    intervalMs: options.intervalMs ?? 60_000,
    log,
  });
}
