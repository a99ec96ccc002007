import { processWebhookInbox, type WebhookPassOptions, type WebhookProcessorContext } from "@susu/adapters";
import type { Logger } from "../logger.js";

/** A running webhook processor loop; `stop()` resolves once the pass in progress has finished. */
export interface WebhookProcessorLoop {
  stop(): Promise<void>;
}

/**
 * Drains the Stripe webhook inbox until stopped: a pass at once again while there was
 * work, otherwise after `intervalMs`. Leases make several processors (in several
 * scheduler processes) safe together; a processor killed mid-pass loses its claims when
 * their lease ends and another picks the events up.
 */
export function startWebhookProcessor(
  ctx: WebhookProcessorContext,
  options: Omit<WebhookPassOptions, "workerId"> & {
    readonly workerId: string;
    readonly intervalMs: number;
    readonly log: Logger;
  },
): WebhookProcessorLoop {
  const { intervalMs, log, ...pass } = options;
  let stopped = false;
  let wake: (() => void) | undefined;
  const loop = (async () => {
    while (!stopped) {
      let claimed = 0;
      try {
        const report = await processWebhookInbox(ctx, pass);
        if (report.isErr())
          log.error({ code: report.error.code, detail: report.error.message }, "webhook pass failed");
        else {
          claimed = report.value.claimed;
          if (claimed > 0) log.info(report.value, "webhook pass");
          if (report.value.parked > 0) log.warn({ parked: report.value.parked }, "webhook events parked");
        }
      } catch (error) {
        log.error({ error: error instanceof Error ? error.message : String(error) }, "webhook pass crashed");
      }
      if (claimed === 0 && !stopped)
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, intervalMs).unref();
        });
    }
  })();
  return {
    async stop() {
      stopped = true;
      wake?.();
      await loop;
    },
  };
}
