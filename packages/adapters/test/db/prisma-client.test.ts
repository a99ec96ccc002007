import { describe, expect, it } from "vitest";
import {
  createPrismaClient,
  ENGINE_START_SQL,
  openConnections,
  poolOf,
  runStatement,
  runTransaction,
} from "../../src/db/prisma-client.js";
import { useTestDatabase } from "../support/test-database.js";
import { at, seedRound } from "./fixtures.js";

describe("createPrismaClient", () => {
  const db = useTestDatabase();

  it("round-trips a round with bigint amounts, JSON, enums and instants", async () => {
    const seed = await seedRound(db.prisma, "rt");
    const round = await db.prisma.round.findUniqueOrThrow({
      where: { id: seed.roundId },
      include: { contributions: true, recipient: { include: { person: true } } },
    });
    expect(round).toMatchObject({
      state: "collecting",
      currency: "AUD",
      contributionAmountMinor: 10_000n,
      snapshot: { id: seed.roundId, version: 0, status: "collecting" },
      createdAt: at,
      version: 0,
      recipient: { id: seed.alice, person: { id: seed.alice, mandateActive: true, stripeCustomerId: null } },
    });
    expect(round.contributions.map((c) => [c.memberId, c.amountMinor])).toEqual([[seed.bob, 10_000n]]);
  });

  it("keeps amounts beyond 2^53 exact", async () => {
    // Through a bigint column with no range rule of its own (ledger balances refuse values
    // beyond ±(2^53 − 1): the trigger ledger_accounts_balance_safe).
    const huge = 2n ** 62n + 1n;
    const [row] = await db.prisma.$queryRaw<{ v: bigint }[]>`SELECT ${huge}::bigint AS v`;
    expect(row?.v).toBe(huge);
    const [sum] = await db.prisma.$queryRaw<{ v: bigint }[]>`SELECT ${huge}::bigint + 1 AS v`;
    expect(sum?.v).toBe(huge + 1n);
  });

  it("supports the optimistic version check the repositories rely on", async () => {
    const seed = await seedRound(db.prisma, "ov");
    const bump = (expected: number) =>
      db.prisma.round.updateMany({
        where: { id: seed.roundId, version: expected },
        // The snapshot moves with the version (a CHECK ties them together).
        data: {
          state: "settled",
          version: expected + 1,
          snapshot: { id: seed.roundId, version: expected + 1 },
        },
      });
    expect((await bump(0)).count).toBe(1);
    expect((await bump(0)).count).toBe(0);
  });

  it("a connection that dies while checked out fails its next statement, not the process", async () => {
    const pool = poolOf(db.prisma);
    if (pool === undefined) throw new Error("the test database's client has no pool");
    const client = await pool.connect();
    const {
      rows: [row],
    } = await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
    // What a PostgreSQL restart does to every connection: the server ends it (57P01). This
    // one is checked out and idle, as in a transaction between statements.
    await db.prisma.$queryRawUnsafe(`SELECT pg_terminate_backend(${Number(row?.pid)})`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Unheard, its `error` event would have ended the test process by now.
    await expect(client.query("SELECT 1")).rejects.toThrow();
    client.release(true);
    expect(await db.prisma.$queryRaw`SELECT 1::int AS one`).toEqual([{ one: 1 }]);
  });
  it("runTransaction runs a list of first statements inside the transaction only: a SET LOCAL ends with it", async () => {
    const pool = poolOf(db.prisma);
    if (pool === undefined) throw new Error("the test database's client has no pool");
    const show = async (
      run: (s: {
        name: string;
        text: string;
        values: never[];
      }) => Promise<{ readonly rows: readonly Record<string, string>[] }>,
    ) => ({
      sync: (await run({ name: "show_sync_commit", text: "SHOW synchronous_commit", values: [] })).rows[0]
        ?.synchronous_commit,
      lock: (await run({ name: "show_lock_timeout", text: "SHOW lock_timeout", values: [] })).rows[0]
        ?.lock_timeout,
    });
    const inside = await runTransaction(
      db.prisma,
      { timeoutMs: 5_000, maxWaitMs: 5_000 },
      (run) => show(run),
      ["SET LOCAL synchronous_commit = off", "SET LOCAL lock_timeout = '7s'"],
    );
    expect(inside).toEqual({ sync: "off", lock: "7s" });
    // Every connection of the pool is back on the server's settings afterwards.
    const clients = await Promise.all(Array.from({ length: pool.totalCount || 1 }, () => pool.connect()));
    try {
      for (const client of clients) {
        // (The test server runs with synchronous_commit off throughout; lock_timeout tells.)
        expect((await show((s) => client.query(s.text))).lock).toBe("0");
      }
    } finally {
      for (const client of clients) client.release();
    }
  });
  it("sets plan_cache_mode on every connection of its pool, beside the connection string's and PGOPTIONS' own options", async () => {
    /** plan_cache_mode and statement_timeout as every connection of `client`'s pool, its named statements, transactions and Prisma's queries see them. */
    const settings = async (client: ReturnType<typeof createPrismaClient>) => {
      const pool = poolOf(client);
      if (pool === undefined) throw new Error("no pool");
      const show =
        "SELECT current_setting('plan_cache_mode') AS mode, current_setting('statement_timeout') AS timeout";
      await openConnections(client);
      const held = await Promise.all(Array.from({ length: pool.totalCount }, () => pool.connect()));
      const seen: { mode: string; timeout: string }[] = [];
      try {
        for (const c of held) seen.push(...(await c.query<{ mode: string; timeout: string }>(show)).rows);
      } finally {
        for (const c of held) c.release();
      }
      seen.push(
        ...(
          await runStatement<{ mode: string; timeout: string }>(client, {
            name: "show_plan_mode",
            text: show,
            values: [],
          })
        ).rows,
      );
      const inTransaction = await runTransaction(
        client,
        { timeoutMs: 5_000, maxWaitMs: 5_000 },
        async (run) => run<{ mode: string }>({ name: "show_plan_mode_tx", text: show, values: [] }),
      );
      seen.push({ mode: inTransaction.rows[0]?.mode ?? "", timeout: "(transaction)" });
      seen.push(...(await client.$queryRawUnsafe<{ mode: string; timeout: string }[]>(show)));
      return {
        modes: [...new Set(seen.map((s) => s.mode))],
        timeouts: [...new Set(seen.map((s) => s.timeout))],
        count: held.length,
      };
    };
    const withOptions = new URL(db.connectionString);
    withOptions.searchParams.set("options", "-c statement_timeout=4321");
    const clients = {
      generic: createPrismaClient(db.connectionString, {
        maxConnections: 3,
        minConnections: 3,
        planCacheMode: "force_generic_plan",
      }),
      custom: createPrismaClient(withOptions.toString(), {
        maxConnections: 2,
        minConnections: 2,
        planCacheMode: "force_custom_plan",
      }),
      unset: createPrismaClient(withOptions.toString(), { maxConnections: 2, minConnections: 2 }),
    };
    const pgOptions = process.env.PGOPTIONS;
    try {
      expect(await settings(clients.generic)).toEqual({
        modes: ["force_generic_plan"],
        timeouts: ["0", "(transaction)"],
        count: 3,
      });
      // The connection string's options are kept (the pool's own would otherwise replace them).
      expect(await settings(clients.custom)).toEqual({
        modes: ["force_custom_plan"],
        timeouts: ["4321ms", "(transaction)"],
        count: 2,
      });
      // Not given: the server's setting, as before.
      expect(await settings(clients.unset)).toEqual({
        modes: ["auto"],
        timeouts: ["4321ms", "(transaction)"],
        count: 2,
      });
      // With no options in the connection string, libpq's PGOPTIONS still applies.
      process.env.PGOPTIONS = "-c statement_timeout=1234";
      const fromEnv = createPrismaClient(db.connectionString, {
        maxConnections: 1,
        minConnections: 1,
        planCacheMode: "force_generic_plan",
      });
      try {
        expect(await settings(fromEnv)).toEqual({
          modes: ["force_generic_plan"],
          timeouts: ["1234ms", "(transaction)"],
          count: 1,
        });
      } finally {
        await fromEnv.$disconnect();
      }
    } finally {
      if (pgOptions === undefined) delete process.env.PGOPTIONS;
      else process.env.PGOPTIONS = pgOptions;
      for (const client of Object.values(clients)) await client.$disconnect();
    }
  });
  it("keeps minConnections open however long they idle, opens them up front, and replaces one the server ended", async () => {
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    /** Waits for a condition, however long the machine takes (the test's timeout bounds it). */
    const until = async (condition: () => boolean) => {
      while (!condition()) await sleep(10);
    };
    const pids = async (client: ReturnType<typeof createPrismaClient>) => {
      const pool = poolOf(client);
      if (pool === undefined) throw new Error("no pool");
      const held = await Promise.all(Array.from({ length: pool.totalCount }, () => pool.connect()));
      try {
        return (
          await Promise.all(held.map((c) => c.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")))
        )
          .map((r) => r.rows[0]?.pid)
          .sort();
      } finally {
        for (const c of held) c.release();
      }
    };
    const kept = createPrismaClient(db.connectionString, {
      maxConnections: 5,
      minConnections: 3,
      idleTimeoutMs: 50,
    });
    const plain = createPrismaClient(db.connectionString, { maxConnections: 5, idleTimeoutMs: 50 });
    try {
      expect(poolOf(kept)?.totalCount).toBe(0);
      expect(await openConnections(kept)).toBe(3);
      // Opened already: nothing more to open.
      expect(await openConnections(kept)).toBe(3);
      expect(await openConnections(plain)).toBe(0);
      const before = await pids(kept);
      expect(before).toHaveLength(3);
      await Promise.all([1, 2, 3].map(() => plain.$queryRaw`SELECT 1`));
      expect(poolOf(plain)?.totalCount).toBeGreaterThan(0);
      // Past the idle timeout (the plain pool has closed all of its connections): the kept
      // connections are the same ones.
      await until(() => poolOf(plain)?.totalCount === 0);
      await sleep(100);
      expect(await pids(kept)).toEqual(before);
      // The server ends one (as a restart ends all): dropped, and opened again on demand.
      await db.prisma.$queryRawUnsafe(`SELECT pg_terminate_backend(${before[0]})`);
      await until(() => poolOf(kept)?.totalCount === 2);
      expect(await kept.$queryRaw`SELECT 1::int AS one`).toEqual([{ one: 1 }]);
      expect(await openConnections(kept)).toBe(3);
    } finally {
      await kept.$disconnect();
      await plain.$disconnect();
    }
    expect(poolOf(kept)).toBeUndefined();
  });

  it("counts a connection checked out while it opens the rest as open: a busy pool is not a refusing database", async () => {
    const client = createPrismaClient(db.connectionString, { maxConnections: 3, minConnections: 3 });
    try {
      const pool = poolOf(client);
      if (pool === undefined) throw new Error("no pool");
      // Work that started first holds one connection (a timer job at a scheduler's start-up).
      const held = await pool.connect();
      try {
        expect(await openConnections(client)).toBe(3);
        expect(pool.totalCount).toBe(3);
      } finally {
        held.release();
      }
    } finally {
      await client.$disconnect();
    }
  });

  it("starts Prisma's query engine up front: its first query runs at start-up, not on a request's time", async () => {
    // Its own application name: other clients of the test server (one ending just now) ran the statement too.
    const url = new URL(db.connectionString);
    url.searchParams.set("application_name", "susu_engine_start_test");
    const client = createPrismaClient(url.toString(), { maxConnections: 2 });
    const seen = async () =>
      (
        await db.prisma.$queryRawUnsafe<{ n: number }[]>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = $1 AND application_name = $2",
          ENGINE_START_SQL,
          "susu_engine_start_test",
        )
      )[0]?.n;
    try {
      expect(await seen()).toBe(0);
      // No connection kept (minConnections 0): nothing to open, the engine is started all the same.
      expect(await openConnections(client)).toBe(0);
      // The server saw the statement on the client's connection, which the pool keeps idle for its timeout.
      expect(await seen()).toBe(1);
    } finally {
      await client.$disconnect();
    }
  });
});
