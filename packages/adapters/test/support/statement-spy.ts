import pg from "pg";
import type { PrismaClient } from "../../src/db/index.js";
import { poolOf } from "../../src/db/prisma-client.js";

/**
 * Records the statements sent straight to `prisma`'s pool (prepared statements by name, the
 * others by their SQL) while `work` runs, for tests of how many statements a write takes.
 * Statements sent on a connection checked out of the pool (a transaction) are not seen.
 */
export async function statementsSentDuring<T>(
  prisma: PrismaClient,
  work: () => Promise<T>,
): Promise<{ readonly result: T; readonly sent: readonly string[] }> {
  const pool = poolOf(prisma);
  if (pool === undefined) throw new Error("the client has no pool of its own");
  const sent: string[] = [];
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  pool.query = ((...args: unknown[]) => {
    const [config] = args as [{ name?: string; text?: string } | string];
    sent.push(typeof config === "string" ? config : (config.name ?? config.text ?? "?"));
    return query(...args);
  }) as typeof pool.query;
  try {
    return { result: await work(), sent };
  } finally {
    pool.query = query as typeof pool.query;
  }
}

/**
 * Records every statement any node-postgres connection sends while `work` runs (prepared
 * statements by name, others by their first word): those on a connection checked out of a
 * pool (a transaction, an atomic statement) too, which {@link statementsSentDuring} misses.
 * Other work running meanwhile in this process is recorded as well.
 */
export async function allStatementsSentDuring<T>(
  work: () => Promise<T>,
): Promise<{ readonly result: T; readonly sent: readonly string[] }> {
  const query = pg.Client.prototype.query;
  const sent: string[] = [];
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const [config] = args as [{ name?: string; text?: string } | string];
    sent.push(
      typeof config === "string" ? (config.split(" ")[0] ?? "") : (config.name ?? config.text ?? "?"),
    );
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query;
  try {
    return { result: await work(), sent };
  } finally {
    pg.Client.prototype.query = query;
  }
}
