import {
  type CrashedRun,
  type EffectPorts,
  type OutboxStore,
  type SettledEffect,
  type UseCaseDeps,
  useCases,
} from "@susu/domain";
import type { Logger } from "../logger.js";
import { type SchedulerMetrics, timedJob } from "../metrics.js";
import { type PassResult, type PollingLoop, startPollingLoop } from "./polling-loop.js";

/** A running dispatcher loop; `stop()` resolves once the pass in progress has finished. */
export type DispatcherLoop = PollingLoop;

/**
 * Runs outbox passes until stopped: at once again while there was work or when woken
 * (`wake()`, on a `susu_outbox` notification), otherwise after `intervalMs`, and backing off
 * while passes fail. Each pass runs up to `concurrency` aggregates' effects at once, one
 * aggregate's in order, claiming again while half its slots are idle (for `refillForMs`). Leases make several dispatchers (in several processes) safe
 * together; the claims a pass could not settle because the database went away are given
 * back by the next pass that reaches it, so they do not wait out their lease (those whose run
 * had started as interrupted: their next run looks first for what that try made), as are any
 * other claims of this worker (one whose answer was lost with the database). A run that threw
 * is recorded as a failed attempt by its pass (by the next one when the database was away),
 * logged at error with the effect's id; an effect whose claim was lost mid-run is counted
 * `lease_lost` and logged at warn.
 */
export function startOutboxDispatcher(
  deps: UseCaseDeps,
  ports: EffectPorts,
  outbox: OutboxStore,
  options: {
    readonly workerId: string;
    readonly intervalMs: number;
    /** How many aggregates' effects run at once (default 1). */
    readonly concurrency?: number;
    /** Most effects one pass claims (default: four per concurrent slot, at least 50, at most 500). */
    readonly limit?: number;
    /**
     * For how long a pass claims again while half its slots are idle and nothing claimed waits
     * (default 2,000 ms): a claim cut by `limit` holds few aggregates when each has many
     * effects due (a round's ten debits), which would leave the other slots idle until the
     * pass's longest aggregate is done. Bounded so that a busy dispatcher still ends its
     * passes (and gives back a failed pass's claims) every few seconds.
     */
    readonly refillForMs?: number;
    readonly maxBackoffMs?: number;
    readonly log: Logger;
    /** Counts each effect's outcome and each pass (`outbox_pass`). */
    readonly metrics?: SchedulerMetrics;
  },
): DispatcherLoop {
  const { workerId, log, metrics } = options;
  const onSettled = (settled: SettledEffect): void => {
    metrics?.effectSettled(settled);
    // Ran, but its claim was another worker's by the time its result was recorded: that
    // worker settles it (running it again under the same idempotency key).
    if (settled.outcome === "lease_lost")
      log.warn(
        {
          effectId: settled.effectId,
          kind: settled.kind,
          outcome: settled.outcome,
          ...(settled.code !== undefined ? { code: settled.code } : {}),
        },
        "outbox effect's lease lost before its result was recorded; another worker settles it",
      );
    // Its run threw (a bug): a failed attempt, retried on its backoff or parked (`outcome`).
    if (settled.code === "effect_crashed")
      log.error(
        { effectId: settled.effectId, kind: settled.kind, outcome: settled.outcome, code: settled.code },
        "outbox effect's run threw (a failed attempt: effect_crashed)",
      );
  };
  const concurrency = options.concurrency ?? 1;
  const limit = options.limit ?? Math.min(500, Math.max(50, concurrency * 4));
  // This loop's claims not yet settled (see DispatchOptions.held): what a pass cut off by a
  // database outage leaves is given back by the next pass that reaches the database — those
  // whose run had started (`started`) as interrupted, so that their next run is a retry.
  const held = new Set<string>();
  const started = new Set<string>();
  // The claims whose run threw (a bug, not a dead process) and whose failed attempt the pass
  // could not record (the database away): the next pass records each, so it retries on its
  // backoff and parks with a ticket, not rerun every pass.
  const crashed = new Map<string, CrashedRun>();
  // Whether this loop's last pass failed or crashed (or none ran yet): the next gives back
  // every claim of this worker, those whose claim it never heard of included.
  let releaseOwnClaims = true;
  const pass = async (): Promise<PassResult> => {
    const stranded = held.size;
    const release = releaseOwnClaims;
    releaseOwnClaims = true; // until this pass is known to have succeeded
    const report = await useCases.dispatchOutbox(deps, ports, outbox, {
      workerId,
      concurrency,
      limit,
      held,
      started,
      crashed,
      releaseOwnClaims: release,
      refillForMs: options.refillForMs ?? 2_000,
      // Measured in real time: a pass ends whatever the domain's clock does.
      passClock: () => performance.now(),
      onSettled,
    });
    releaseOwnClaims = report.isErr();
    if (report.isErr()) {
      log.error({ code: report.error.code, held: held.size }, "outbox pass failed");
      return "failed";
    }
    if (report.value.released > 0 || stranded > 0) {
      log.warn(
        { released: report.value.released, stranded },
        "outbox claims of a failed pass given back (not waiting for their lease)",
      );
      metrics?.stuckWork("outbox_claim_released", report.value.released);
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
