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
