import pg from "pg";

/** What a {@link startPgListener} listener logs. */
export interface PgListenerLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

/** Options of {@link startPgListener}. */
export interface PgListenerOptions {
  readonly connectionString: string;
  /** The channels to `LISTEN` on (plain identifiers: letters, digits, `_`). */
  readonly channels: readonly string[];
  /**
   * Told of each notification on one of the channels, and of every channel at once each time
   * the listener (re)connects: notifications sent while it was not listening are lost, so
   * whoever waits on them must look for work once. Must not throw.
   */
  readonly onNotify: (channel: string) => void;
  readonly log?: PgListenerLog;
  /** The first wait before reconnecting (ms, default 100); doubled per failure up to `maxBackoffMs`. */
  readonly minBackoffMs?: number;
  /** The longest wait before reconnecting (ms, default 5,000). */
  readonly maxBackoffMs?: number;
  /** A fraction in [0, 1) for the backoff's jitter (default `Math.random`). */
  readonly random?: () => number;
  /**
   * Run on each new connection before its `LISTEN`s (for a session-level lock that should live
   * exactly as long as the connection, such as {@link holdWorkerLiveness}). A throw counts as a
   * lost connection: it is retried with the same backoff.
   */
  readonly onConnect?: (client: pg.Client) => Promise<void>;
}

/** A running listener. */
export interface PgListener {
  /** Whether it is connected and listening now. */
  readonly listening: boolean;
  /** Resolves once it has first listened (or been stopped): for tests and start-up logs. */
  readonly ready: Promise<void>;
  /** Stops listening and closes its connection; no reconnect after. */
  stop(): Promise<void>;
}

const CHANNEL = /^[a-z_][a-z0-9_]*$/;

/**
 * Listens for PostgreSQL notifications (`NOTIFY`, `pg_notify`) on a dedicated connection,
 * outside any pool: a pooled connection is handed to other work and its `LISTEN`s with it.
 * When the connection goes away (the server restarted, the network dropped, an operator
 * ended it) it reconnects with backoff and jitter and listens again, and then wakes every
 * channel once ({@link PgListenerOptions.onNotify}). It never throws and never gives up: a
 * listener that cannot connect leaves its waiters to their polling, which is the fallback.
 */
export function startPgListener(options: PgListenerOptions): PgListener {
  for (const channel of options.channels)
    if (!CHANNEL.test(channel)) throw new RangeError(`not a channel name: ${JSON.stringify(channel)}`);
  const minBackoff = options.minBackoffMs ?? 100;
  const maxBackoff = Math.max(minBackoff, options.maxBackoffMs ?? 5_000);
  const random = options.random ?? Math.random;
  let stopped = false;
  let listening = false;
  let client: pg.Client | undefined;
  let failures = 0;
  let retry: NodeJS.Timeout | undefined;
  let becameReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    becameReady = resolve;
  });

  const wakeAll = () => {
    for (const channel of options.channels) options.onNotify(channel);
  };

  const scheduleReconnect = (reason: string) => {
    listening = false;
    if (stopped || retry !== undefined) return;
    failures += 1;
    const backoff = Math.min(maxBackoff, minBackoff * 2 ** Math.min(failures - 1, 20));
    // Half the backoff plus a random share of the other half: never a tight loop.
    const wait = Math.round(backoff / 2 + (backoff / 2) * random());
    options.log?.warn({ reason, retryInMs: wait, failures }, "notification listener disconnected");
    retry = setTimeout(() => {
      retry = undefined;
      void connect();
    }, wait);
    retry.unref();
  };

  const connect = async (): Promise<void> => {
    if (stopped) return;
    const next = new pg.Client({ connectionString: options.connectionString, keepAlive: true });
    client = next;
    let lost = false;
    const onLost = (reason: string) => {
      if (lost) return;
      lost = true;
      void next.end().catch(() => {});
      if (client === next) scheduleReconnect(reason);
    };
    next.on("error", (error: Error) => onLost(error.message));
    next.on("end", () => onLost("connection ended"));
    next.on("notification", (message) => {
      if (options.channels.includes(message.channel)) options.onNotify(message.channel);
    });
    try {
      await next.connect();
      await options.onConnect?.(next);
      for (const channel of options.channels) await next.query(`LISTEN ${channel}`);
    } catch (error) {
      onLost(error instanceof Error ? error.message : String(error));
      return;
    }
    if (stopped || lost) return;
    listening = true;
    if (failures > 0) options.log?.info({ channels: options.channels }, "notification listener reconnected");
    failures = 0;
    becameReady();
    // Whatever was notified while nobody listened is lost: look once.
    wakeAll();
  };

  void connect();
  return {
    get listening() {
      return listening;
    },
    ready,
    async stop() {
      stopped = true;
      listening = false;
      if (retry !== undefined) clearTimeout(retry);
      becameReady();
      const last = client;
      client = undefined;
      await last?.end().catch(() => {});
    },
  };
}
