import type { Logger } from "./request-log.js";

/** A periodic clean-up: deletes what expired at `nowMs` and says how many rows went. */
export interface MaintenanceTask {
  readonly name: string;
  readonly run: (nowMs: number) => Promise<number>;
}

/**
 * Runs clean-ups (expired idempotency keys, old rate-limit windows) every `intervalMs`,
 * without keeping the process alive. Every API process may run it: the deletes are
 * idempotent, so running it in several processes costs a few queries, not correctness.
 * Returns a function that stops it.
 */
export function startMaintenance(options: {
  readonly tasks: readonly MaintenanceTask[];
  readonly intervalMs: number;
  readonly log?: Logger;
  readonly now?: () => number;
}): () => void {
  const now = options.now ?? Date.now;
  let running = false;
  const tick = async () => {
    // A slow database must not stack runs on top of each other.
    if (running) return;
    running = true;
    try {
      for (const task of options.tasks) {
        try {
          const deleted = await task.run(now());
          if (deleted > 0) options.log?.info({ task: task.name, deleted }, "maintenance");
        } catch (error) {
          options.log?.warn(
            { task: task.name, err: error },
            "maintenance task failed; retried next interval",
          );
        }
      }
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), options.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
