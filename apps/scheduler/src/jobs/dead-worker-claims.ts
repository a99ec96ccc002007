import { performance } from "node:perf_hooks";
import { claimersWithoutLiveness, type PrismaClient, releaseClaimsOfDeadWorkers } from "@susu/adapters";
import type { Logger } from "../logger.js";
import { type SchedulerMetrics, timedJob } from "../metrics.js";
import { type PassResult, type PollingLoop, startPollingLoop } from "./polling-loop.js";

/** Options of {@link startDeadWorkerRelease}. */
export interface DeadWorkerReleaseOptions {
  /** This process's worker id: never judged here (its own listener may be reconnecting). */
  readonly workerId: string;
  /** How often to look (ms, default 5,000). */
  readonly intervalMs?: number;
  /**
   * How long a worker must stay without its liveness lock before its claims are given back
   * (ms, default 15,000): longer than a listener takes to reconnect (its backoff is at most
   * 5 s), so a database restart, which drops every scheduler's lock at once, gives back nothing.
   */
  readonly confirmMs?: number;
  /** The clock leases are stamped with (the use cases'). */
  readonly now: () => number;
  /** A steady clock for the wait above (default `performance.now`): clock jumps do not shorten it. */
  readonly steadyNow?: () => number;
  readonly log: Logger;
  readonly metrics?: SchedulerMetrics;
  /** Told when outbox effects were given back (wake the dispatcher). */
  readonly onOutboxReleased?: () => void;
  /** Told when webhook events were given back (wake the processor). */
  readonly onWebhooksReleased?: () => void;
}

/**
 * Gives back, well before their leases end, the claims of schedulers that died: every
 * scheduler holds a liveness lock for as long as its connection to PostgreSQL lives (see
 * `holdWorkerLiveness` in the adapters), so a worker holding live claims (outbox effects,
 * webhook events) without one, and still without one `confirmMs` later, is gone. Its claims
 * are cleared, logged and counted (`susu_stuck_work_total{what="dead_worker_…"}`), and the
 * dispatcher and the processor woken. A worker cut off rather than dead is treated like one
 * whose lease ran out: the work may be done again under the same idempotency keys, and its own
 * results are refused once its lease is gone. Every scheduler may run it.
 */
export function startDeadWorkerRelease(prisma: PrismaClient, options: DeadWorkerReleaseOptions): PollingLoop {
  const { log, metrics } = options;
  const confirmMs = options.confirmMs ?? 15_000;
  const steadyNow = options.steadyNow ?? (() => performance.now());
  /** Workers seen without their lock, and when first seen so (steady clock). */
  const suspects = new Map<string, number>();
  const pass = async (): Promise<PassResult> => {
    try {
      const found = await claimersWithoutLiveness(prisma, options.now());
      const seenAt = steadyNow();
      for (const worker of suspects.keys()) if (!found.includes(worker)) suspects.delete(worker);
      for (const worker of found)
        if (worker !== options.workerId && !suspects.has(worker)) suspects.set(worker, seenAt);
      const dead = [...suspects].filter(([, since]) => seenAt - since >= confirmMs).map(([worker]) => worker);
      if (dead.length === 0) return "idle";
      const released = await releaseClaimsOfDeadWorkers(prisma, dead, options.now());
      for (const worker of dead) suspects.delete(worker);
      const effects = released.outboxEffects;
      const events = released.webhookEvents;
      if (effects.length + events.length > 0)
        log.warn(
          {
            workers: dead,
            outboxEffects: effects.length,
            webhookEvents: events.length,
            effects: effects.slice(0, 20).map((e) => e.id),
            events: events.slice(0, 20).map((e) => e.id),
          },
          "claims of schedulers without a live connection given back before their lease ended",
        );
      metrics?.stuckWork("dead_worker_outbox_claims", effects.length);
      metrics?.stuckWork("dead_worker_webhook_claims", events.length);
      if (effects.length > 0) options.onOutboxReleased?.();
      if (events.length > 0) options.onWebhooksReleased?.();
      return "idle";
    } catch (error) {
      // Start over once the database answers again: a restart drops every lock at once.
      suspects.clear();
      log.error(
        { error: error instanceof Error ? error.message : String(error) },
        "dead-worker check failed",
      );
      return "failed";
    }
  };
  return startPollingLoop(() => timedJob(metrics, "dead_worker_release", pass, (result) => result), {
    name: "dead-worker release",
    intervalMs: options.intervalMs ?? 5_000,
    log,
  });
}
