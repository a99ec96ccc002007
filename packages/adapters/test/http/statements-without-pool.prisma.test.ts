// The hot statements run prepared on createPrismaClient's pool; a client made any other way
// has no pool, and runStatement sends the same SQL through Prisma. Both paths must agree.
import { PrismaPg } from "@prisma/adapter-pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { poolOf } from "../../src/db/prisma-client.js";
import { PrismaIdempotencyStore, PrismaRateLimitStore } from "../../src/http/index.js";
import { PrismaClient } from "../../src/prisma/generated/client.js";
import { createTestDatabase, type TestDatabase } from "../support/test-database.js";

const T = Date.UTC(2026, 5, 1, 12);
const MINUTE = 60_000;

describe("the idempotency and rate-limit stores on a Prisma client without a pool of ours", () => {
  let db: TestDatabase;
  let bare: PrismaClient;

  beforeAll(async () => {
    db = await createTestDatabase();
    bare = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.connectionString }) });
  });
  afterAll(async () => {
    await bare.$disconnect();
    await db.drop();
  });

  it("begins, completes and replays a key, and counts rate-limit buckets, as on the pool", async () => {
    expect(poolOf(bare)).toBeUndefined();
    const keys = new PrismaIdempotencyStore(bare);
    const request = { scope: "ana", key: "k1", method: "POST", path: "/v1/groups", requestHash: "h" };
    const timing = (nowMs: number, lockToken: string) => ({
      nowMs,
      lockMs: MINUTE,
      ttlMs: 24 * 60 * MINUTE,
      lockToken,
    });
    const response = { status: 201, headers: { "content-type": "application/json" }, body: '{"id":"g1"}' };
    expect(await keys.begin(request, timing(T, "t1"))).toEqual({ outcome: "execute" });
    expect(await keys.begin(request, timing(T + 1, "t2"))).toEqual({ outcome: "in_progress" });
    expect(await keys.complete({ scope: "ana", key: "k1", lockToken: "t2" }, response)).toBe(false);
    expect(await keys.complete({ scope: "ana", key: "k1", lockToken: "t1" }, response)).toBe(true);
    expect(await keys.begin(request, timing(T + 2, "t3"))).toEqual({ outcome: "replay", response });

    const limits = new PrismaRateLimitStore(bare);
    const start = Math.floor(T / MINUTE) * MINUTE;
    await limits.hit(["sub:ana"], { startMs: start - MINUTE, lengthMs: MINUTE });
    await limits.hit(["sub:ana", "ip:1"], { startMs: start, lengthMs: MINUTE });
    expect(await limits.hit(["sub:ana", "ip:1"], { startMs: start, lengthMs: MINUTE })).toEqual(
      new Map([
        ["ip:1", { current: 2, previous: 0 }],
        ["sub:ana", { current: 2, previous: 1 }],
      ]),
    );
  });
});
