import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaClient } from "../prisma/generated/client.js";

/** Options of {@link createPrismaClient}. */
export interface PrismaClientOptions {
  /** Most connections the pool opens. Default 10 (pg's default). */
  readonly maxConnections?: number;
}

// The node-postgres pool under each client made by createPrismaClient. The hottest
// statements (rate limits, idempotency keys, snapshot reads) go straight to it: a Prisma
// query costs ~0.5–0.7 ms of CPU in its query pipeline, a prepared statement on the pool
// ~0.1 ms. Same connections, same database, so the guarantees are those of the SQL.
const pools = new WeakMap<PrismaClient, pg.Pool>();

/**
 * A Prisma client over `@prisma/adapter-pg`: queries are compiled in-process (WASM) and
 * sent through node-postgres, so no native query engine is downloaded or started.
 */
export function createPrismaClient(
  connectionString: string,
  options: PrismaClientOptions = {},
): PrismaClient {
  const pool = new pg.Pool({ connectionString, max: options.maxConnections ?? 10 });
  // An idle connection that dies (the server restarted, an operator ended it) is dropped by
  // the pool and the next query opens another. The adapter listens for this only once
  // Prisma connects; statements sent straight to the pool may come first.
  pool.on("error", () => {});
  // `$disconnect` ends the pool, as it did when the adapter made the pool itself.
  const adapter = new PrismaPg(pool, { disposeExternalPool: true });
  const client = new PrismaClient({ adapter });
  // Prisma ends the pool only if it connected; a client only ever used through poolOf must
  // not leave its connections open after `$disconnect`.
  const disconnect = client.$disconnect.bind(client);
  client.$disconnect = async () => {
    await disconnect();
    if (!pool.ended) await pool.end();
  };
  pools.set(client, pool);
  return client;
}

/**
 * The node-postgres pool of a client made by {@link createPrismaClient}, for the few hot
 * statements that bypass Prisma's query pipeline; undefined for any other client (callers
 * then use Prisma).
 */
export function poolOf(prisma: PrismaClient): pg.Pool | undefined {
  const pool = pools.get(prisma);
  // After `$disconnect` the adapter has ended it; a reconnected client gets a new pool.
  return pool?.ended ? undefined : pool;
}

export type { PrismaClient };

/** A parameterised SQL statement with a name, so the pool prepares it once per connection. */
export interface NamedStatement {
  readonly name: string;
  readonly text: string;
  readonly values: readonly unknown[];
}

/**
 * Runs one statement: prepared on the client's pool when it has one ({@link poolOf}),
 * through Prisma's raw query otherwise — the same SQL and parameters either way, so a
 * statement is written once. Returns the rows and how many rows it touched.
 */
export async function runStatement<T>(
  prisma: PrismaClient,
  statement: NamedStatement,
): Promise<{ readonly rows: readonly T[]; readonly rowCount: number }> {
  const pool = poolOf(prisma);
  if (pool !== undefined) {
    const result = await pool.query({
      name: statement.name,
      text: statement.text,
      values: [...statement.values],
    });
    return { rows: result.rows as T[], rowCount: result.rowCount ?? 0 };
  }
  const rows = await prisma.$queryRawUnsafe<T[]>(statement.text, ...statement.values);
  return { rows, rowCount: rows.length };
}
