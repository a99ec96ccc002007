import {
  processWebhookInbox,
  type SettledWebhookEvent,
  type WebhookPassOptions,
  type WebhookProcessorContext,
} from "@susu/adapters";
import type { Logger } from "../logger.js";
import { type SchedulerMetrics, timedJob } from "../metrics.js";
import { type PassResult, type PollingLoop, startPollingLoop } from "./polling-loop.js";

/** A running webhook processor loop; `stop()` resolves once the pass in progress has finished. */
export type WebhookProcessorLoop = PollingLoop;

/**
 * Drains the Stripe webhook inbox until stopped: a pass at once again while there was
 * work, otherwise after `intervalMs`, and backing off while passes fail. Leases make
 * several processors (in several scheduler processes) safe together; a processor killed
 * mid-pass loses its claims when their lease ends and another picks the events up.
 */
export function startWebhookProcessor(
  ctx: WebhookProcessorContext,
  options: Omit<WebhookPassOptions, "workerId"> & {
    readonly workerId: string;
    readonly intervalMs: number;
    readonly maxBackoffMs?: number;
    readonly log: Logger;
    /** Counts each event's outcome and its lag, and each pass (`webhook_pass`). */
    readonly metrics?: SchedulerMetrics;
  },
): WebhookProcessorLoop {
  const { intervalMs, maxBackoffMs, log, metrics, ...settings } = options;
  const told = settings.onSettled;
  const onSettled =
    metrics === undefined
      ? told
      : (settled: SettledWebhookEvent) => {
          metrics.webhookSettled(settled);
          told?.(settled);
        };
  const passOptions: WebhookPassOptions = { ...settings, ...(onSettled !== undefined ? { onSettled } : {}) };
  // Claims left behind are given back by the first pass and after a failed one; a pass that
  // succeeded leaves none that are not free already, so the next skips that statement.
  let releaseOwnClaims = true;
  // Wake-ups reach a pass in progress too: one with free slots claims the new events at once.
  const listeners = new Set<() => void>();
  const onWake = (listener: () => void) => {
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
    };
  };
  const pass = async (): Promise<PassResult> => {
    const release = releaseOwnClaims;
    releaseOwnClaims = true; // until this pass is known to have succeeded
    const report = await processWebhookInbox(ctx, { ...passOptions, releaseOwnClaims: release, onWake });
    releaseOwnClaims = report.isErr();
    if (report.isErr()) {
      log.error({ code: report.error.code, detail: report.error.message }, "webhook pass failed");
      return "failed";
    }
    if (report.value.claimed === 0) return "idle";
    log.info(report.value, "webhook pass");
    if (report.value.parked > 0) log.warn({ parked: report.value.parked }, "webhook events parked");
    return "worked";
  };
  const loop = startPollingLoop(() => timedJob(metrics, "webhook_pass", pass, (result) => result), {
    name: "webhook",
    intervalMs,
    log,
    ...(maxBackoffMs !== undefined ? { maxBackoffMs } : {}),
  });
  return {
    wake() {
      for (const listener of listeners) listener();
      loop.wake();
    },
    stop: () => loop.stop(),
  };
}
