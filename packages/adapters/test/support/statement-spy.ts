import type pg from "pg";
import type { PrismaClient } from "../../src/db/index.js";
import { poolOf } from "../../src/db/prisma-client.js";

type Connect = (callback: (error: Error | undefined, client?: pg.PoolClient, done?: unknown) => void) => void;

/**
 * Records every statement sent through `prisma`'s pool while `work` runs (prepared
 * statements by name, the others by their SQL), for tests of how many statements a write
 * takes: those sent with `pool.query` and those sent on a connection checked out of the
 * pool (a transaction's `BEGIN …`, its statements and its `COMMIT`; a single statement run on
 * a connection of its own), in the order they were sent. `pool.query` checks a connection
 * out too, so each statement is recorded once, on the connection that sends it.
 */
export async function statementsSentDuring<T>(
  prisma: PrismaClient,
  work: () => Promise<T>,
): Promise<{ readonly result: T; readonly sent: readonly string[] }> {
  const { result, sent } = await statementTextsSentDuring(prisma, work);
  return { result, sent: sent.map((s) => s.name ?? s.text) };
}

/** A statement as it was sent: its name when prepared, its SQL and its parameters. */
export interface SentStatement {
  readonly name: string | undefined;
  readonly text: string;
  readonly values: readonly unknown[];
}

/**
 * {@link statementsSentDuring} with each statement's SQL and parameters, for tests that ask
 * the planner about the statements a call really sends (`EXPLAIN` of the same text and values).
 */
export async function statementTextsSentDuring<T>(
  prisma: PrismaClient,
  work: () => Promise<T>,
): Promise<{ readonly result: T; readonly sent: readonly SentStatement[] }> {
  const pool = poolOf(prisma);
  if (pool === undefined) throw new Error("the client has no pool of its own");
  const sent: SentStatement[] = [];
  // The connections handed out while recording, each with its own `query` wrapped once, and
  // how to undo each wrapper (a connection the pool hands out again must not keep recording).
  const watched = new Set<pg.PoolClient>();
  const undo: (() => void)[] = [];
  const watch = (client: pg.PoolClient) => {
    if (watched.has(client)) return;
    watched.add(client);
    undo.push(replaced(client, "query"));
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    client.query = ((...args: unknown[]) => {
      const [config, values] = args as [
        { name?: string; text?: string; values?: readonly unknown[] } | string,
        unknown,
      ];
      sent.push(
        typeof config === "string"
          ? { name: undefined, text: config, values: Array.isArray(values) ? values : [] }
          : { name: config.name, text: config.text ?? "?", values: config.values ?? [] },
      );
      return query(...args);
    }) as typeof client.query;
  };
  // Both of the pool's forms: `connect()` (a promise) and `connect(callback)` (what
  // `pool.query` uses).
  undo.push(replaced(pool, "connect"));
  const connect = pool.connect.bind(pool) as unknown as Connect & (() => Promise<pg.PoolClient>);
  pool.connect = ((callback?: Parameters<Connect>[0]) => {
    if (callback === undefined)
      return connect().then((client) => {
        watch(client);
        return client;
      });
    return connect((error, client, done) => {
      if (client !== undefined) watch(client);
      callback(error, client, done);
    });
  }) as typeof pool.connect;
  try {
    return { result: await work(), sent };
  } finally {
    for (const restore of undo.reverse()) restore();
  }
}

/** Undoes a replacement of `target[key]` about to be made: its own property again, or none (the prototype's). */
function replaced(target: object, key: string): () => void {
  const own = Object.getOwnPropertyDescriptor(target, key);
  return () => {
    if (own === undefined) Reflect.deleteProperty(target, key);
    else Object.defineProperty(target, key, own);
  };
}
