import type { SettledDelivery } from "@susu/adapters";
import { Counter, type Registry } from "prom-client";

/** The notification deliveries' metrics, kept apart from the scheduler's other metrics. */
export interface NotificationMetrics {
  /** For the delivery worker's settled deliveries. */
  deliverySettled(settled: SettledDelivery): void;
}

/**
 * Registers `susu_notification_endpoints_disabled_total` (endpoints a failed send disabled)
 * and `susu_notification_deliveries_total{channel,outcome}` on `registry`: every
 * settled notification delivery, by channel (email, webhook) and outcome (sent, retrying,
 * failed, bounced, withdrawn: not sent, the person having switched it off or moved). Bounded
 * labels; never recipients or ids.
 */
export function createNotificationMetrics(registry: Registry): NotificationMetrics {
  const deliveries = new Counter({
    name: "susu_notification_deliveries_total",
    help: "Notification deliveries settled, by channel (email, webhook) and outcome (sent, retrying, failed, bounced, withdrawn).",
    labelNames: ["channel", "outcome"] as const,
    registers: [registry],
  });
  // Every series exists from the start, so rate() and alerts see zeros rather than nothing.
  for (const channel of ["email", "webhook"])
    for (const outcome of ["sent", "retrying", "failed", "bounced", "withdrawn"])
      deliveries.inc({ channel, outcome }, 0);
  const disabled = new Counter({
    name: "susu_notification_endpoints_disabled_total",
    help: "Notification webhook endpoints disabled on their own after failing every send for SUSU_NOTIFY_ENDPOINT_DISABLE_AFTER_HOURS.",
    registers: [registry],
  });
  return {
    deliverySettled(settled) {
      deliveries.inc({ channel: settled.channel, outcome: settled.outcome });
      if (settled.endpointDisabled !== undefined) disabled.inc();
    },
  };
}
