// PrismaRateLimitStore on a real PostgreSQL: one statement counts every bucket of a request,
// increments (one unit, or a lease's block) are exact under concurrency from two "processes",
// and old windows are deleted.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrismaClient, type PrismaClient } from "../../src/db/prisma-client.js";
import { PrismaRateLimitStore } from "../../src/http/index.js";
import { createTestDatabase, type TestDatabase } from "../support/test-database.js";

const MINUTE = 60_000;
const W0 = Math.floor(Date.UTC(2026, 5, 1, 12) / MINUTE) * MINUTE;
const window = (startMs: number) => ({ startMs, lengthMs: MINUTE });

describe("PrismaRateLimitStore", () => {
  let db: TestDatabase;
  let otherClient: PrismaClient;
  let store: PrismaRateLimitStore;
  let other: PrismaRateLimitStore;

  beforeAll(async () => {
    db = await createTestDatabase();
    otherClient = createPrismaClient(db.connectionString, { maxConnections: 4 });
    store = new PrismaRateLimitStore(db.prisma);
    other = new PrismaRateLimitStore(otherClient);
  });
  afterAll(async () => {
    await otherClient.$disconnect();
    await db.drop();
  });

  it("counts each bucket per window and reports the previous window's count", async () => {
    expect(await store.hit(["sub:ana", "ip:203.0.113.7"], window(W0))).toEqual(
      new Map([
        ["ip:203.0.113.7", { current: 1, previous: 0 }],
        ["sub:ana", { current: 1, previous: 0 }],
      ]),
    );
    await store.hit(["sub:ana"], window(W0));
    expect((await store.hit(["sub:ana", "ip:203.0.113.7"], window(W0))).get("sub:ana")).toEqual({
      current: 3,
      previous: 0,
    });
    // The next window starts at 1 and sees this one's 3.
    expect(await store.hit(["sub:ana"], window(W0 + MINUTE))).toEqual(
      new Map([["sub:ana", { current: 1, previous: 3 }]]),
    );
    // A bucket listed twice is counted once.
    expect((await store.hit(["sub:ben", "sub:ben"], window(W0))).get("sub:ben")).toEqual({
      current: 1,
      previous: 0,
    });
    expect(await store.hit([], window(W0))).toEqual(new Map());
  });

  it("counts exactly under 60 concurrent requests from two processes", async () => {
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        (i % 2 === 0 ? store : other).hit(["sub:race", `ip:10.0.0.${i % 3}`], window(W0)),
      ),
    );
    const seen = results.map((r) => r.get("sub:race")?.current).sort((a = 0, b = 0) => a - b);
    expect(seen).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    const rows = await db.prisma.rateLimit.findMany({ where: { bucket: { startsWith: "ip:10.0.0." } } });
    expect(rows.map((r) => r.count).sort()).toEqual([20, 20, 20]);
  });

  it("takes blocks of units: concurrent takes from two stores get disjoint ranges", async () => {
    const takes = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        (i % 2 === 0 ? store : other).take(new Map([["sub:lease", 1 + (i % 5)]]), window(W0)),
      ),
    );
    // Each take's range is (current − units, current]: together they tile 1 … total exactly.
    const ranges = takes
      .map((t, i) => {
        const current = t.get("sub:lease")?.current ?? 0;
        return [current - (1 + (i % 5)), current] as const;
      })
      .sort((x, y) => x[0] - y[0]);
    const total = Array.from({ length: 30 }, (_, i) => 1 + (i % 5)).reduce((a, b) => a + b, 0);
    expect(ranges[0]?.[0]).toBe(0);
    for (let i = 1; i < ranges.length; i++) expect(ranges[i]?.[0]).toBe(ranges[i - 1]?.[1]);
    expect(ranges.at(-1)?.[1]).toBe(total);
    // The next window sees the whole count as its previous one.
    expect(await other.take(new Map([["sub:lease", 7]]), window(W0 + MINUTE))).toEqual(
      new Map([["sub:lease", { current: 7, previous: total }]]),
    );
    await expect(store.take(new Map([["sub:lease", 0]]), window(W0))).rejects.toThrow(RangeError);
  });

  it("deletes windows once the next one no longer needs them", async () => {
    await db.prisma.rateLimit.deleteMany();
    await store.hit(["sub:old"], window(W0 - 3 * MINUTE));
    await store.hit(["sub:old"], window(W0 - 2 * MINUTE));
    await store.hit(["sub:old"], window(W0 - MINUTE));
    await store.hit(["sub:old"], window(W0));
    // At W0, a window is needed while it is current or previous: W0 − 1 min and W0 stay.
    expect(await store.deleteExpired(W0, 1)).toBe(1);
    expect(await store.deleteExpired(W0)).toBe(1);
    const left = await db.prisma.rateLimit.findMany({ orderBy: { windowStart: "asc" } });
    expect(left.map((r) => r.windowStart.getTime())).toEqual([W0 - MINUTE, W0]);
  });
});
