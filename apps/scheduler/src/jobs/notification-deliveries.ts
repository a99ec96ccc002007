import type { NotificationDeliveryWorker, SettledDelivery } from "@susu/adapters";
import type { Logger } from "../logger.js";
import { type SchedulerMetrics, timedJob } from "../metrics.js";
import { type PassResult, type PollingLoop, startPollingLoop } from "./polling-loop.js";

/**
 * Sends notification deliveries until stopped: a pass at once again while there was work,
 * otherwise after `intervalMs`, backing off while passes fail. Claims use SKIP LOCKED and a
 * lease, so any number of schedulers can run it together. Each pass is timed and counted
 * (`susu_scheduler_job_runs_total{task="notification_deliveries"}`): a pass that throws counts
 * as `crashed`, which SusuSchedulerJobsFailing watches.
 */
export function startNotificationDeliveries(
  worker: Pick<NotificationDeliveryWorker, "runOnce"> &
    Partial<Pick<NotificationDeliveryWorker, "stopClaiming">>,
  options: {
    readonly intervalMs: number;
    readonly log: Logger;
    readonly onSettled?: (settled: SettledDelivery) => void;
    readonly metrics?: SchedulerMetrics;
  },
): PollingLoop {
  const pass = async (): Promise<PassResult> => {
    const settled = await worker.runOnce();
    if (settled.length === 0) return "idle";
    for (const s of settled) {
      options.onSettled?.(s);
      if (s.endpointDisabled !== undefined)
        options.log.error(
          {
            endpointId: s.endpointDisabled.endpointId,
            failingSince: new Date(s.endpointDisabled.failingSince).toISOString(),
            deliveryId: s.id,
          },
          "notification endpoint disabled: it failed every send for SUSU_NOTIFY_ENDPOINT_DISABLE_AFTER_HOURS; an admin enables it again (POST /v1/notification-endpoints/{id}/enable)",
        );
      if (s.outcome === "failed" || s.outcome === "bounced")
        options.log.warn(
          { deliveryId: s.id, channel: s.channel, outcome: s.outcome },
          "notification delivery failed",
        );
    }
    options.log.info({ settled: settled.length }, "notification delivery pass");
    return "worked";
  };
  const loop = startPollingLoop(
    () => timedJob(options.metrics, "notification_deliveries", pass, (result) => result),
    {
      name: "notification deliveries",
      intervalMs: options.intervalMs,
      log: options.log,
    },
  );
  return {
    wake: () => loop.wake(),
    // A pass in progress claims no more, so the stop waits for its sends in flight only.
    stop: () => {
      worker.stopClaiming?.();
      return loop.stop();
    },
  };
}
