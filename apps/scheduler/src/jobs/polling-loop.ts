import { type RetryPolicy, retryDelayMs } from "@susu/domain";
import type { Logger } from "../logger.js";

/**
 * What one pass of a loop found: `worked` (there may be more: run again at once), `idle`
 * (nothing to do: wait the interval), or `failed` (wait longer each time it fails again).
 */
export type PassResult = "worked" | "idle" | "failed";

/** Settings of a {@link startPollingLoop} loop. */
export interface PollingLoopOptions {
  /** Names the loop in logs (`"outbox"` logs `outbox pass crashed`). */
  readonly name: string;
  /** The wait after an idle pass, and the first wait after a failed one. */
  readonly intervalMs: number;
  /** The longest wait after failed passes (default 30 s, never below `intervalMs`). */
  readonly maxBackoffMs?: number;
  readonly log: Logger;
  /** A fraction in [0, 1) for the backoff's jitter (default `Math.random`). */
  readonly random?: () => number;
}

/** A running loop. */
export interface PollingLoop {
  /**
   * There may be work (a notification said so): a loop that is waiting — the interval or a
   * failure's backoff — runs a pass at once; one in a pass runs another right after it, so
   * a wake-up during a pass is never lost. Polling stays the fallback when none come.
   */
  wake(): void;
  /** Stops the loop: wakes it if it is waiting, and resolves once the pass in progress has finished. */
  stop(): Promise<void>;
}

/**
 * Runs `pass` until stopped: at once again after a pass that worked or when woken
 * ({@link PollingLoop.wake}), after `intervalMs` when it was idle, and after a growing wait (exponential from `intervalMs`, capped at
 * `maxBackoffMs`, with jitter) while passes keep failing, so a database that is down is
 * not hammered by every scheduler at once. A pass that throws is logged and counts as
 * failed; the loop keeps going. The one loop shape for the scheduler's pollers (outbox
 * dispatcher, webhook processor).
 */
export function startPollingLoop(pass: () => Promise<PassResult>, options: PollingLoopOptions): PollingLoop {
  const random = options.random ?? Math.random;
  const backoff: RetryPolicy = {
    baseDelayMs: options.intervalMs,
    factor: 2,
    maxDelayMs: Math.max(options.intervalMs, options.maxBackoffMs ?? 30_000),
    // Never shorter than half the backoff: a failing loop never spins.
    jitter: "equal",
    attemptsMax: 100,
  };
  let stopped = false;
  // Set by wake(); cleared when a pass starts (that pass will see the work).
  let woken = false;
  let interrupt: (() => void) | undefined;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      // A waiting loop does not keep the process alive; stop() and wake() end the wait at once.
      timer.unref();
      interrupt = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const loop = (async () => {
    let failures = 0;
    while (!stopped) {
      woken = false;
      let result: PassResult;
      try {
        result = await pass();
      } catch (error) {
        options.log.error(
          { error: error instanceof Error ? error.message : String(error) },
          `${options.name} pass crashed`,
        );
        result = "failed";
      }
      if (stopped) break;
      if (result === "worked") {
        failures = 0;
        // Let timers and I/O in between passes that find work every time.
        await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      if (result === "idle") failures = 0;
      else failures = Math.min(failures + 1, backoff.attemptsMax - 1);
      // Woken during the pass: what woke it may have come after the pass looked.
      if (woken) continue;
      await sleep(
        result === "idle"
          ? options.intervalMs
          : (retryDelayMs(backoff, failures, random()) ?? backoff.maxDelayMs),
      );
      interrupt = undefined;
    }
  })();

  return {
    wake() {
      woken = true;
      interrupt?.();
    },
    async stop() {
      stopped = true;
      interrupt?.();
      await loop;
    },
  };
}
