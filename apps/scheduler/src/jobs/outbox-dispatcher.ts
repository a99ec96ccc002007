import { type EffectPorts, type OutboxStore, type UseCaseDeps, useCases } from "@susu/domain";
import type { Logger } from "../logger.js";

/** A running dispatcher loop; `stop()` resolves once the pass in progress has finished. */
export interface DispatcherLoop {
  stop(): Promise<void>;
}

/**
 * Runs outbox passes until stopped: at once again while there was work, otherwise after
 * `intervalMs`. Leases make several dispatchers (in several processes) safe together.
 */
export function startOutboxDispatcher(
  deps: UseCaseDeps,
  ports: EffectPorts,
  outbox: OutboxStore,
  options: { readonly workerId: string; readonly intervalMs: number; readonly log: Logger },
): DispatcherLoop {
  let stopped = false;
  let wake: (() => void) | undefined;
  const loop = (async () => {
    while (!stopped) {
      let claimed = 0;
      try {
        const report = await useCases.dispatchOutbox(deps, ports, outbox, { workerId: options.workerId });
        if (report.isErr()) options.log.error({ code: report.error.code }, "outbox pass failed");
        else {
          claimed = report.value.claimed;
          if (claimed > 0) options.log.info(report.value, "outbox pass");
        }
      } catch (error) {
        options.log.error(
          { error: error instanceof Error ? error.message : String(error) },
          "outbox pass crashed",
        );
      }
      if (claimed === 0 && !stopped)
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, options.intervalMs).unref();
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
