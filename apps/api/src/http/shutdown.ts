/** The part of a node `http.Server` (what @hono/node-server's `serve` returns) a shutdown uses. */
export interface ClosableServer {
  close(callback?: (error?: Error) => void): unknown;
  closeIdleConnections(): void;
  closeAllConnections(): void;
}

/** What happened during {@link closeGracefully}. */
export interface ShutdownOutcome {
  /** True when the timeout passed and in-flight requests' connections were cut. */
  readonly forced: boolean;
  readonly durationMs: number;
}

/**
 * Stops the server accepting connections, lets in-flight requests finish, and resolves
 * once the server is closed, or, after `timeoutMs`, cuts the remaining connections and
 * resolves with `forced: true`. Close the database and queues after it resolves, not before:
 * the in-flight requests still use them.
 */
export function closeGracefully(
  server: ClosableServer,
  options: { readonly timeoutMs: number },
): Promise<ShutdownOutcome> {
  const startedAt = performance.now();
  return new Promise((resolve) => {
    let forced = false;
    // Keep-alive connections that are idle now close at once; those serving a request
    // become idle when their response ends, and would then hold the server open until the
    // client closes them. Sweeping idle connections until close completes ends them promptly.
    const sweep = setInterval(() => server.closeIdleConnections(), 50);
    const deadline = setTimeout(() => {
      forced = true;
      server.closeAllConnections();
    }, options.timeoutMs);
    server.close(() => {
      clearInterval(sweep);
      clearTimeout(deadline);
      resolve({ forced, durationMs: Math.round(performance.now() - startedAt) });
    });
    server.closeIdleConnections();
  });
}

/**
 * Runs `shutdown` once on the first SIGTERM or SIGINT (a second signal while it runs is
 * ignored; the process manager's own kill timeout is the last resort). Returns a function
 * that removes the handlers.
 */
export function onShutdownSignal(
  shutdown: (signal: NodeJS.Signals) => Promise<void>,
  signals: readonly NodeJS.Signals[] = ["SIGTERM", "SIGINT"],
): () => void {
  let started = false;
  const handler = (signal: NodeJS.Signals) => {
    if (started) return;
    started = true;
    void shutdown(signal);
  };
  for (const signal of signals) process.on(signal, handler);
  return () => {
    for (const signal of signals) process.off(signal, handler);
  };
}
