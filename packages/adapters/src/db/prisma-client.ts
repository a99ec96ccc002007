import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaClient } from "../prisma/generated/client.js";
import { settledWithin } from "../settled-within.js";

/** Options of {@link createPrismaClient}. */
export interface PrismaClientOptions {
  /** Most connections the pool opens. Default 10 (pg's default). */
  readonly maxConnections?: number;
  /**
   * Connections the pool keeps open however long they sit idle (default 0; at most
   * `maxConnections`). Above this many, an idle connection is closed after `idleTimeoutMs`.
   * The pool does not open them by itself: {@link openConnections} does, and a connection
   * that dies (the server restarted) is replaced when next needed. Why: connections closed
   * in a quiet moment are opened again by the next burst, each on a request's time (a
   * connection costs PostgreSQL a process and a few milliseconds to start).
   */
  readonly minConnections?: number;
  /** How long a connection above `minConnections` stays open idle, in ms (default 10,000, pg's). */
  readonly idleTimeoutMs?: number;
  /**
   * PostgreSQL's `plan_cache_mode` on every connection of the pool (set when it opens, with
   * no round trip of its own); unset: the server's (`auto`). It decides how the named
   * statements sent on the pool are planned after their fifth run: `auto` plans each run
   * with its parameters (a custom plan) while the generic plan's estimate is costlier, which
   * it often is for statements fed JSON or arrays; `force_generic_plan` plans each statement
   * once per connection. Prisma's queries are unnamed: planned on every run whatever this
   * says, but under `force_generic_plan` without their parameters' values too. Only for
   * clients whose statements have a good generic plan (the scheduler's claims are proven in
   * both modes by their plan tests).
   */
  readonly planCacheMode?: PlanCacheMode;
}

/** The values of PostgreSQL's `plan_cache_mode`. */
export const PLAN_CACHE_MODES = ["auto", "force_generic_plan", "force_custom_plan"] as const;

/** How PostgreSQL plans a prepared statement: see {@link PrismaClientOptions.planCacheMode}. */
export type PlanCacheMode = (typeof PLAN_CACHE_MODES)[number];

/**
 * The server options (libpq's `options`) a connection of the pool starts with: the connection
 * string's own, else PGOPTIONS (node-postgres reads either only when the pool's config has
 * none, and the connection string's replace the config's), then the plan cache mode's. The
 * connection string without its `options`, since they are passed here.
 */
function startupOptions(
  connectionString: string,
  planCacheMode: PlanCacheMode | undefined,
): { readonly connectionString: string; readonly options?: string } {
  if (planCacheMode === undefined) return { connectionString };
  const url = new URL(connectionString);
  const own = url.searchParams.get("options") ?? process.env.PGOPTIONS;
  url.searchParams.delete("options");
  return {
    connectionString: url.toString(),
    options: [own, `-c plan_cache_mode=${planCacheMode}`]
      .filter((o) => o !== undefined && o !== "")
      .join(" "),
  };
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
  const max = options.maxConnections ?? 10;
  const min = Math.min(options.minConnections ?? 0, max);
  const pool = new pg.Pool({
    ...startupOptions(connectionString, options.planCacheMode),
    max,
    min,
    // TCP keep-alives on every connection: a connection kept open idle for long (see
    // minConnections) whose path a NAT or load balancer dropped silently is found dead by
    // the kernel, instead of hanging the next statement sent on it until TCP gives up.
    keepAlive: true,
    keepAliveInitialDelayMillis: 30_000,
    ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMillis: options.idleTimeoutMs } : {}),
  });
  // An idle connection that dies (the server restarted, an operator ended it) is dropped by
  // the pool and the next query opens another. The adapter listens for this only once
  // Prisma connects; statements sent straight to the pool may come first.
  pool.on("error", () => {});
  // The pool listens for errors only while a connection is idle in it. One that dies while
  // checked out (in a transaction between statements, waiting for its turn, held by code
  // that bypasses Prisma) would emit an `error` nobody hears, and node ends the process:
  // both schedulers died so when PostgreSQL restarted mid-run. Heard here, the death surfaces
  // as the failure of the connection's next statement, and the pool drops it on release.
  pool.on("connect", (client) => {
    client.on("error", () => {});
  });
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

/**
 * The statement {@link openConnections} sends through Prisma's query pipeline to start it
 * (the comment names it in `pg_stat_activity`).
 */
export const ENGINE_START_SQL = "SELECT 1 /* susu: start Prisma's query engine */";

/**
 * Readies a client made by {@link createPrismaClient} to serve, within about `withinMs`: opens the
 * connections its pool keeps (`minConnections`) that are not open yet, all at once, and gives
 * them back to the pool; then runs one statement through Prisma's query pipeline
 * ({@link ENGINE_START_SQL}). Prisma starts its engine (loads and instantiates its WASM query
 * compiler) on a client's first query: about 0.3 s here, most of it blocking the event loop.
 * The hot statements bypass Prisma (see {@link poolOf}), so in the API that first query came
 * from a rare route or the first clean-up a minute in, and every request in flight waited
 * behind it (a 1–2 s stall at 500 requests/s in `bench/api.ts`). Resolves to how many of the
 * pool's connections are open after the first step (or at `withinMs`). Meant for start-up,
 * before the client serves. Best effort: a connection that cannot be opened now (the database
 * is down, or refuses more clients) or a statement that fails is not an error; the pool opens
 * a connection when a statement needs it. The count is of connections open when the first
 * step ends (those checked out by other work included), not of those still opening. The
 * engine's load cannot be cut short, so it may end up to its length past `withinMs`; a
 * statement still waiting at `withinMs` goes on, and the engine loads when it runs.
 */
export async function openConnections(prisma: PrismaClient, withinMs = 5_000): Promise<number> {
  const pool = poolOf(prisma);
  if (pool === undefined) return 0;
  const deadline = Date.now() + withinMs;
  const open = await openPoolConnections(pool, withinMs);
  await startEngine(prisma, deadline - Date.now());
  return open;
}

/** Runs {@link ENGINE_START_SQL} through Prisma, waiting at most `withinMs` for it. */
async function startEngine(prisma: PrismaClient, withinMs: number): Promise<void> {
  if (withinMs <= 0) return;
  await settledWithin(prisma.$executeRawUnsafe(ENGINE_START_SQL), withinMs);
}

/** {@link openConnections}' first step: the pool's kept connections; resolves to how many are open. */
async function openPoolConnections(pool: pg.Pool, withinMs: number): Promise<number> {
  const missing = (pool.options.min ?? 0) - pool.totalCount;
  if (missing <= 0) return pool.totalCount;
  // The pool hands out its idle connections first: holding those too makes it open the rest.
  // Each is given back as soon as it opens; a database that does not answer (packets dropped)
  // is not waited for past `withinMs`: those still opening are given back when they open.
  // Counted as they open: the pool's own count would include those still opening at the limit.
  // Those checked out now (by work that started before this, e.g. a timer job at start-up) are
  // open too: without them a busy connection read as one the database refused.
  const busy = pool.totalCount - pool.idleCount;
  let opened = 0;
  const opening = Array.from({ length: pool.idleCount + missing }, () =>
    pool.connect().then(
      (client) => {
        opened += 1;
        return client;
      },
      () => undefined,
    ),
  );
  await settledWithin(Promise.all(opening), withinMs);
  const open = busy + opened;
  for (const p of opening) void p.then((client) => client?.release());
  return open;
}

export type { PrismaClient };

/** A parameterised SQL statement with a name, so the pool prepares it once per connection. */
export interface NamedStatement {
  readonly name: string;
  readonly text: string;
  readonly values: readonly unknown[];
  /**
   * The same write as a part of another statement's `WITH` (a data-modifying CTE), so the
   * two can be sent as one statement: one `UPDATE`/`INSERT`/`DELETE … RETURNING` (no `WITH`
   * of its own: CTEs cannot nest one), its parameters numbered from `$${after + 1}` in the
   * order of `values`, writing only where the SQL condition `gate` holds, and returning what
   * the statement returns. Absent: it can only be sent on its own.
   */
  readonly part?: (after: number, gate: string) => string;
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

/** Runs one statement inside a transaction opened by {@link runTransaction}. */
export type StatementRunner = <T>(
  statement: NamedStatement,
) => Promise<{ readonly rows: readonly T[]; readonly rowCount: number }>;

/** Limits of {@link runTransaction}. */
export interface TransactionLimits {
  /** Longest the transaction may run before it is rolled back, in ms. */
  readonly timeoutMs: number;
  /** Longest to wait for a connection to start it, in ms. */
  readonly maxWaitMs: number;
}

/** The transaction did not start or finish within its {@link TransactionLimits}. */
export class TransactionTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TransactionTimeoutError";
  }
}

/**
 * Runs `work` in one READ COMMITTED transaction: on one connection of the client's pool
 * (`BEGIN` … `COMMIT`, statements prepared as by {@link runStatement}) when it has one,
 * else in a Prisma interactive transaction with the same SQL. A throw from `work` rolls
 * everything back and is rethrown. The pool path keeps Prisma's limits: no connection
 * within `maxWaitMs`, or a transaction still running after `timeoutMs` (checked before each
 * statement and the COMMIT; a single statement is cut by `statement_timeout` at the same
 * bound), is a {@link TransactionTimeoutError} and stores nothing. `first`, SQL statements
 * with no parameters and no result the work needs (a `SET LOCAL`, taking a lock), run
 * before the work, in order, in the same round trip as the BEGIN on the pool.
 */
export async function runTransaction<T>(
  prisma: PrismaClient,
  limits: TransactionLimits,
  work: (run: StatementRunner) => Promise<T>,
  first?: string | readonly string[],
): Promise<T> {
  const firsts = first === undefined ? [] : typeof first === "string" ? [first] : first;
  const pool = poolOf(prisma);
  if (pool === undefined)
    return prisma.$transaction(
      async (tx) => {
        for (const statement of firsts) await tx.$executeRawUnsafe(statement);
        return work(async <R>(statement: NamedStatement) => {
          const rows = await tx.$queryRawUnsafe<R[]>(statement.text, ...statement.values);
          return { rows, rowCount: rows.length };
        });
      },
      { isolationLevel: "ReadCommitted", timeout: limits.timeoutMs, maxWait: limits.maxWaitMs },
    );
  const open = await openOn(pool, limits, firsts);
  try {
    const result = await work(open.run);
    await open.commit();
    return result;
  } catch (error) {
    await open.rollback();
    throw error;
  }
}

/**
 * A READ COMMITTED transaction left open on one connection of the pool: statements run as
 * by {@link runTransaction} (within the same limits, checked before each statement and the
 * COMMIT), and the caller ends it with exactly one of `commit` or `rollback`, each of which
 * gives the connection back (a connection that failed is dropped, not reused). After a
 * failed `commit` nothing more is to be done: the transaction is over either way.
 */
export interface OpenTransaction {
  readonly run: StatementRunner;
  commit(): Promise<void>;
  rollback(): Promise<void>;
}

/**
 * Opens a transaction on the client's pool ({@link OpenTransaction}); `undefined` when the
 * client has none (its transactions are Prisma's interactive ones, which cannot be left open).
 */
export async function openTransaction(
  prisma: PrismaClient,
  limits: TransactionLimits,
): Promise<OpenTransaction | undefined> {
  const pool = poolOf(prisma);
  return pool === undefined ? undefined : openOn(pool, limits);
}

async function openOn(
  pool: pg.Pool,
  limits: TransactionLimits,
  first: readonly string[] = [],
): Promise<OpenTransaction> {
  const client = await connectWithin(pool, limits.maxWaitMs);
  const deadline = performance.now() + limits.timeoutMs;
  const inTime = (step: string) => {
    if (performance.now() > deadline)
      throw new TransactionTimeoutError(`transaction ran past ${limits.timeoutMs} ms (before ${step})`);
  };
  let ended = false;
  const end = (broken?: Error) => {
    if (ended) return;
    ended = true;
    client.release(broken);
  };
  const rollback = async () => {
    if (ended) return;
    let broken: Error | undefined;
    try {
      await client.query("ROLLBACK");
    } catch (rollbackFailed) {
      // The connection is gone or unusable: the pool must not hand it out again.
      broken = rollbackFailed instanceof Error ? rollbackFailed : new Error(String(rollbackFailed));
    }
    end(broken);
  };
  try {
    // One round trip: the simple protocol takes both statements (no parameters) at once.
    await client.query(
      [
        "BEGIN ISOLATION LEVEL READ COMMITTED",
        `SET LOCAL statement_timeout = ${Math.max(1, Math.round(limits.timeoutMs))}`,
        ...first,
      ].join("; "),
    );
  } catch (error) {
    await rollback();
    throw error;
  }
  return {
    run: async <R>(statement: NamedStatement) => {
      if (ended) throw new Error(`statement ${statement.name} after the transaction ended`);
      inTime(statement.name);
      const { rows, rowCount } = await client.query({
        name: statement.name,
        text: statement.text,
        values: [...statement.values],
      });
      return { rows: rows as R[], rowCount: rowCount ?? 0 };
    },
    commit: async () => {
      if (ended) throw new Error("COMMIT after the transaction ended");
      try {
        inTime("COMMIT");
        await client.query("COMMIT");
      } catch (error) {
        await rollback();
        throw error;
      }
      end();
    },
    rollback,
  };
}

/**
 * Runs one statement that must be atomic on its own (data-modifying CTEs: all of it or
 * nothing, with no transaction around it): as {@link runStatement}, but waiting at most
 * `maxWaitMs` for a connection (a {@link TransactionTimeoutError} otherwise). It has no
 * `statement_timeout` of its own; the one wait it can have is for the row locks of a
 * concurrent writer, whose transaction is bounded by its own limits.
 */
export async function runAtomicStatement<T>(
  prisma: PrismaClient,
  limits: Pick<TransactionLimits, "maxWaitMs">,
  statement: NamedStatement,
): Promise<{ readonly rows: readonly T[]; readonly rowCount: number }> {
  const pool = poolOf(prisma);
  if (pool === undefined) return runStatement<T>(prisma, statement);
  const client = await connectWithin(pool, limits.maxWaitMs);
  let broken: Error | undefined;
  try {
    const result = await client.query({
      name: statement.name,
      text: statement.text,
      values: [...statement.values],
    });
    return { rows: result.rows as T[], rowCount: result.rowCount ?? 0 };
  } catch (error) {
    // A failure of the connection itself (not an error the server answered with): drop it.
    if (!(error instanceof Error && "severity" in error))
      broken = error instanceof Error ? error : new Error(String(error));
    throw error;
  } finally {
    client.release(broken);
  }
}

/** A client of `pool`, or a TransactionTimeoutError after `ms` (the late client is given back). */
function connectWithin(pool: pg.Pool, ms: number): Promise<pg.PoolClient> {
  const connecting = pool.connect();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      connecting.then(
        (late) => late.release(),
        () => undefined,
      );
      reject(new TransactionTimeoutError(`no database connection within ${ms} ms`));
    }, ms);
  });
  return Promise.race([connecting, timedOut]).finally(() => clearTimeout(timer));
}
