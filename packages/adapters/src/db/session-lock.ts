import pg from "pg";
import { type PrismaClient, poolOf } from "./prisma-client.js";

/** A session-level advisory lock held on a connection of its own (see {@link trySessionLock}). */
export interface SessionLock {
  /** Whether the lock's connection was lost: PostgreSQL released the lock with it. */
  readonly lost: () => boolean;
  /**
   * Releases the lock (`pg_advisory_unlock`) and closes its connection. Never throws: a lock
   * that cannot be unlocked (the connection lost) goes with its connection, closed here.
   * Safe to call twice.
   */
  release(): Promise<void>;
}

/**
 * Takes the session-level advisory lock named `name` (`hashtextextended(name, 0)`) if no one
 * holds it, on a connection opened for it alone, outside the client's pool: no transaction
 * is opened, so the lock can be held for a long run without a connection left `idle in
 * transaction` (which holds back vacuum and the pool's slot for the whole run). The lock is
 * PostgreSQL's, released by {@link SessionLock.release} or, should the process die or the
 * connection be lost, by PostgreSQL when the session ends. A session lock and a transaction
 * lock (`pg_try_advisory_xact_lock`) of the same key exclude each other, so a process of an
 * older release that takes the transaction form still finds it held.
 *
 * `undefined` when someone else holds it. Needs a client made by `createPrismaClient` (its
 * pool's settings open the connection).
 */
export function trySessionLock(prisma: PrismaClient, name: string): Promise<SessionLock | undefined> {
  return sessionLockOf(prisma, name, "try");
}

/**
 * Takes the session-level advisory lock named `name` as {@link trySessionLock} does, waiting
 * (`pg_advisory_lock`) while someone else holds it: for work that must take its turn rather
 * than be skipped (two runs of one reconciliation period). Its connection waits, not the pool's.
 */
export async function waitForSessionLock(prisma: PrismaClient, name: string): Promise<SessionLock> {
  const lock = await sessionLockOf(prisma, name, "wait");
  if (lock === undefined) throw new Error(`the session lock ${name} was not taken`);
  return lock;
}

async function sessionLockOf(
  prisma: PrismaClient,
  name: string,
  how: "try" | "wait",
): Promise<SessionLock | undefined> {
  const pool = poolOf(prisma);
  if (pool === undefined) throw new Error("a session lock needs a client made by createPrismaClient");
  // The pool's connection settings (its connection string, keep-alives), for one connection of its own.
  const client = new pg.Client(pool.options);
  let lost = false;
  // A connection that dies while the lock is held (the server restarted, an operator ended it)
  // emits `error`: heard here, so the process lives on; the lock went with the session.
  client.on("error", () => {
    lost = true;
  });
  client.on("end", () => {
    lost = true;
  });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await client.end().catch(() => undefined);
  };
  try {
    await client.connect();
    const { rows } = await client.query<{ locked: boolean }>(
      how === "try"
        ? "SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked"
        : "SELECT true AS locked FROM pg_advisory_lock(hashtextextended($1, 0))",
      [name],
    );
    if (rows[0]?.locked !== true) {
      await close();
      return undefined;
    }
  } catch (error) {
    await close();
    throw error;
  }
  return {
    lost: () => lost,
    release: async () => {
      if (closed) return;
      if (!lost)
        // Ending the session releases the lock too; unlocking first says so in the server's own terms.
        await client
          .query("SELECT pg_advisory_unlock(hashtextextended($1, 0))", [name])
          .catch(() => undefined);
      await close();
    },
  };
}
