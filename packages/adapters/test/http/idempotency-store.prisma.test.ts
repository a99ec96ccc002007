// PrismaIdempotencyStore on a real PostgreSQL: the decisions of `begin`, lock ownership,
// expiry, clean-up, the table's lock constraints, and racing first requests from two
// "processes" (two Prisma clients with their own pools).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrismaClient, type PrismaClient } from "../../src/db/prisma-client.js";
import { sqlStateOf } from "../../src/db/sql-state.js";
import { HttpStoreError, PrismaIdempotencyStore } from "../../src/http/index.js";
import { createTestDatabase, type TestDatabase } from "../support/test-database.js";

const T = Date.UTC(2026, 5, 1, 12);
const HOUR = 3600_000;
const timing = (nowMs: number, lockToken: string) => ({ nowMs, lockMs: 60_000, ttlMs: 24 * HOUR, lockToken });
const request = (key: string, requestHash = "hash-a", scope = "ana") => ({
  scope,
  key,
  method: "POST",
  path: "/v1/groups",
  requestHash,
});
const response = {
  status: 201,
  headers: { "content-type": "application/json", location: "/v1/groups/g1" },
  body: '{ "id": "g1",  "name":"Ünïcode ✓" }',
};

describe("PrismaIdempotencyStore", () => {
  let db: TestDatabase;
  let otherClient: PrismaClient;
  let store: PrismaIdempotencyStore;
  let other: PrismaIdempotencyStore;

  beforeAll(async () => {
    db = await createTestDatabase();
    otherClient = createPrismaClient(db.connectionString, { maxConnections: 4 });
    store = new PrismaIdempotencyStore(db.prisma);
    other = new PrismaIdempotencyStore(otherClient);
  });
  afterAll(async () => {
    await otherClient.$disconnect();
    await db.drop();
  });

  it("executes a new key once, then says in_progress while it runs and replays the exact response after", async () => {
    expect(await store.begin(request("k1"), timing(T, "t1"))).toEqual({ outcome: "execute" });
    expect(await store.begin(request("k1"), timing(T + 10, "t2"))).toEqual({ outcome: "in_progress" });
    expect(await store.complete({ scope: "ana", key: "k1", lockToken: "t1" }, response)).toBe(true);
    expect(await store.begin(request("k1"), timing(T + 20, "t3"))).toEqual({ outcome: "replay", response });
    const row = await db.prisma.idempotencyKey.findUniqueOrThrow({
      where: { scope_key: { scope: "ana", key: "k1" } },
    });
    expect(row).toMatchObject({
      status: "completed",
      responseStatus: 201,
      lockedBy: null,
      lockedUntil: null,
    });
    expect(row.expiresAt.getTime()).toBe(T + 24 * HOUR);
  });

  it("refuses the same key with another request, in flight or completed, and scopes keys by caller", async () => {
    await store.begin(request("k2"), timing(T, "t1"));
    expect(await store.begin(request("k2", "hash-b"), timing(T, "t2"))).toEqual({ outcome: "mismatch" });
    await store.complete({ scope: "ana", key: "k2", lockToken: "t1" }, response);
    expect(await store.begin(request("k2", "hash-b"), timing(T, "t3"))).toEqual({ outcome: "mismatch" });
    expect(await store.begin(request("k2", "hash-b", "ben"), timing(T, "t4"))).toEqual({
      outcome: "execute",
    });
  });

  it("lets only the lock holder complete or release", async () => {
    await store.begin(request("k3"), timing(T, "owner"));
    expect(await store.complete({ scope: "ana", key: "k3", lockToken: "intruder" }, response)).toBe(false);
    expect(await store.release({ scope: "ana", key: "k3", lockToken: "intruder" })).toBe(false);
    expect(await store.release({ scope: "ana", key: "k3", lockToken: "owner" })).toBe(true);
    // Released: nothing stored, so the key is free, even for another body.
    expect(await store.begin(request("k3", "hash-b"), timing(T, "next"))).toEqual({ outcome: "execute" });
    // A completed key cannot be released.
    await store.complete({ scope: "ana", key: "k3", lockToken: "next" }, response);
    expect(await store.release({ scope: "ana", key: "k3", lockToken: "next" })).toBe(false);
  });

  it("after a crash, the same request takes over once the lock has expired; the old attempt cannot finish", async () => {
    await store.begin(request("k4"), timing(T, "crashed"));
    expect(await store.begin(request("k4"), timing(T + 59_999, "early"))).toEqual({ outcome: "in_progress" });
    expect(await store.begin(request("k4", "hash-b"), timing(T + 60_000, "other-body"))).toEqual({
      outcome: "mismatch",
    });
    expect(await store.begin(request("k4"), timing(T + 60_000, "retry"))).toEqual({ outcome: "execute" });
    expect(await store.complete({ scope: "ana", key: "k4", lockToken: "crashed" }, response)).toBe(false);
    expect(await store.complete({ scope: "ana", key: "k4", lockToken: "retry" }, response)).toBe(true);
  });

  it("lets an expired key be used again, for any request", async () => {
    await store.begin(request("k5"), timing(T, "t1"));
    await store.complete({ scope: "ana", key: "k5", lockToken: "t1" }, response);
    expect(await store.begin(request("k5", "hash-b"), timing(T + 24 * HOUR - 1, "t2"))).toEqual({
      outcome: "mismatch",
    });
    expect(await store.begin(request("k5", "hash-b"), timing(T + 24 * HOUR, "t3"))).toEqual({
      outcome: "execute",
    });
    const row = await db.prisma.idempotencyKey.findUniqueOrThrow({
      where: { scope_key: { scope: "ana", key: "k5" } },
    });
    expect(row).toMatchObject({
      status: "in_progress",
      requestHash: "hash-b",
      responseStatus: null,
      lockedBy: "t3",
    });
  });

  it("replays an empty body and a status without headers", async () => {
    await store.begin(request("k6"), timing(T, "t1"));
    const empty = { status: 204, headers: {}, body: "" };
    await store.complete({ scope: "ana", key: "k6", lockToken: "t1" }, empty);
    expect(await store.begin(request("k6"), timing(T, "t2"))).toEqual({ outcome: "replay", response: empty });
  });

  it("of 16 racing first requests from two processes, exactly one executes", async () => {
    for (let round = 0; round < 5; round++) {
      const key = `race-${round}`;
      const results = await Promise.all(
        Array.from({ length: 16 }, (_, i) =>
          (i % 2 === 0 ? store : other).begin(request(key), timing(T, `t${i}`)),
        ),
      );
      const outcomes = results.map((r) => r.outcome);
      expect(outcomes.filter((o) => o === "execute")).toHaveLength(1);
      expect(outcomes.filter((o) => o === "in_progress")).toHaveLength(15);
    }
  });

  it("deletes expired keys in batches and keeps the rest", async () => {
    await db.prisma.idempotencyKey.deleteMany();
    for (const [key, at] of [
      ["old-1", T - 48 * HOUR],
      ["old-2", T - 30 * HOUR],
      ["old-3", T - 25 * HOUR],
      ["fresh", T],
    ] as const)
      await store.begin(request(key), timing(at, key));
    expect(await store.deleteExpired(T, 2)).toBe(2);
    expect(await store.deleteExpired(T)).toBe(1);
    expect(await store.deleteExpired(T)).toBe(0);
    expect((await db.prisma.idempotencyKey.findMany()).map((r) => r.key)).toEqual(["fresh"]);
  });

  it("refuses rows whose lock contradicts their status (CHECK constraints)", async () => {
    const at = new Date(T);
    const attempt = (
      lockedBy: string | null,
      lockedUntil: Date | null,
      status: "in_progress" | "completed",
    ) =>
      db.prisma.$executeRaw`
        INSERT INTO idempotency_keys (scope, key, request_method, request_path, request_hash, status,
          response_status, locked_by, locked_until, created_at, expires_at)
        VALUES ('ana', ${`bad-${Math.random()}`}, 'POST', '/x', 'h', ${status}::idempotency_key_status,
          ${status === "completed" ? 200 : null}, ${lockedBy}, ${lockedUntil}, ${at}, ${at})`;
    for (const [lockedBy, lockedUntil, status] of [
      ["t", null, "in_progress"],
      [null, at, "in_progress"],
      [null, null, "in_progress"],
      ["t", at, "completed"],
    ] as const) {
      const error = await attempt(lockedBy, lockedUntil, status).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(sqlStateOf(error), `${lockedBy} ${lockedUntil} ${status}`).toBe("23514");
    }
  });

  it("reports a lost database as an HttpStoreError naming the operation, not the driver's text", async () => {
    const lost = createPrismaClient(
      db.connectionString.replace(/\/[^/?]+(\?|$)/, "/susu_no_such_database$1"),
    );
    try {
      const error = await new PrismaIdempotencyStore(lost).begin(request("x"), timing(T, "t")).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(HttpStoreError);
      expect((error as Error).message).toMatch(/^idempotency begin: database error \(/);
    } finally {
      await lost.$disconnect();
    }
  });
});
