// The rate limit across processes: two API instances with their own Prisma clients count
// in one PostgreSQL table, so a limit holds for the pair, under concurrency too.
import { createPrismaClient, type PrismaClient, PrismaRateLimitStore } from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AuthVariables,
  bearerAuth,
  createTokenVerifier,
  mintToken,
  type RateLimitStore,
  rateLimit,
  startMaintenance,
} from "../../src/http/index.js";
import { SECRET } from "./support.js";

const db = useTestDatabase();
const MINUTE = 60_000;

describe("rate limit shared by two API instances", () => {
  let otherClient: PrismaClient;
  let token: string;
  let now = Math.floor(Date.UTC(2026, 5, 1, 12) / MINUTE) * MINUTE + 5_000;

  const instance = (prisma: PrismaClient, perSubject: number, perIp: number) => {
    // Compile-time: the adapter satisfies the API's port.
    const store: RateLimitStore = new PrismaRateLimitStore(prisma);
    const app = new Hono<{ Variables: AuthVariables }>();
    app.use("*", bearerAuth(createTokenVerifier({ sharedSecret: SECRET })));
    app.use(
      "*",
      rateLimit({ store, perSubject, perIp, clientIp: (c) => c.req.header("x-test-ip"), now: () => now }),
    );
    app.get("/v1/groups", (c) => c.json({ data: [] }));
    return app;
  };

  beforeAll(async () => {
    otherClient = createPrismaClient(db.connectionString, { maxConnections: 4 });
    token = await mintToken({ subject: "ana", ttlSeconds: 3600 }, SECRET);
  });
  afterAll(async () => {
    await otherClient.$disconnect();
  });

  const get = (app: Hono<{ Variables: AuthVariables }>, ip = "198.51.100.1") =>
    app.request("/v1/groups", { headers: { authorization: `Bearer ${token}`, "x-test-ip": ip } });

  it("holds the per-subject limit across instances", async () => {
    const a = instance(db.prisma, 5, 0);
    const b = instance(otherClient, 5, 0);
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await get(i % 2 === 0 ? a : b)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
  });

  it("lets exactly the limit through when 40 requests race on two instances", async () => {
    now += 10 * MINUTE;
    const a = instance(db.prisma, 1000, 12);
    const b = instance(otherClient, 1000, 12);
    const responses = await Promise.all(
      Array.from({ length: 40 }, (_, i) => get(i % 2 === 0 ? a : b, "203.0.113.77")),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(12);
    expect(statuses.filter((s) => s === 429)).toHaveLength(28);
    const row = await db.prisma.rateLimit.findFirstOrThrow({ where: { bucket: "ip:203.0.113.77" } });
    expect(row.count).toBe(40);
  });

  it("never admits more than the limit across two instances leasing blocks of units", async () => {
    now += 10 * MINUTE;
    // 640 a minute: blocks of 10 units at first, up to 40; each instance spends its own.
    const a = instance(db.prisma, 640, 0);
    const b = instance(otherClient, 640, 0);
    let admitted = 0;
    let refused = 0;
    for (let round = 0; round < 20; round++) {
      const responses = await Promise.all(
        Array.from({ length: 40 }, (_, i) => get(i % 3 === 0 ? a : b, `198.51.100.${round}`)),
      );
      for (const r of responses) {
        if (r.status === 200) admitted++;
        else if (r.status === 429) refused++;
        else throw new Error(`unexpected ${r.status}`);
      }
    }
    expect(admitted + refused).toBe(800);
    expect(admitted).toBeLessThanOrEqual(640);
    // Unspent leased units only make it stricter, and near the limit a lease is one unit per request.
    expect(admitted).toBeGreaterThanOrEqual(600);
    const row = await db.prisma.rateLimit.findFirstOrThrow({
      where: { bucket: "sub:ana", windowStart: new Date(Math.floor(now / MINUTE) * MINUTE) },
    });
    // Every request is counted (refused ones too), with the units leased and not spent.
    expect(row.count).toBeGreaterThanOrEqual(800);
  });

  it("takes a new lease in the next window and weighs the leased units as the previous window's", async () => {
    now = (Math.floor(now / MINUTE) + 10) * MINUTE + 30_000;
    const a = instance(db.prisma, 640, 0);
    const windowStart = (t: number) => new Date(Math.floor(t / MINUTE) * MINUTE);
    const countAt = async (t: number) =>
      (await db.prisma.rateLimit.findFirst({ where: { bucket: "sub:ana", windowStart: windowStart(t) } }))
        ?.count;
    const first = await get(a);
    expect(first.status).toBe(200);
    // One take of the first block (640 / 64 = 10 units); this request spent one, 9 are held.
    expect(await countAt(now)).toBe(10);
    expect(first.headers.get("ratelimit-remaining")).toBe("639");
    for (let i = 0; i < 9; i++) expect((await get(a)).status).toBe(200);
    expect(await countAt(now)).toBe(10);
    // The 11th takes the next block (twice the first).
    expect((await get(a)).status).toBe(200);
    expect(await countAt(now)).toBe(30);
    // Into the next window: the 19 units held are of the past window and cannot be spent.
    const previous = now;
    now = (Math.floor(now / MINUTE) + 1) * MINUTE + 15_000;
    const next = await get(a);
    expect(next.status).toBe(200);
    expect(await countAt(previous)).toBe(30);
    expect(await countAt(now)).toBe(10);
    // 30 leased units weigh as the previous window's count: 640 − 30 × 0.75 − 10 + 9 held.
    expect(next.headers.get("ratelimit-remaining")).toBe(String(Math.floor(640 - 30 * 0.75 - 10) + 9));
  });

  it("cleans up old windows periodically", async () => {
    const store = new PrismaRateLimitStore(db.prisma);
    expect(await db.prisma.rateLimit.count()).toBeGreaterThan(0);
    const stop = startMaintenance({
      tasks: [{ name: "rate limits", run: (nowMs) => store.deleteExpired(nowMs) }],
      intervalMs: 20,
      now: () => now + 60 * MINUTE,
    });
    try {
      await expect.poll(() => db.prisma.rateLimit.count(), { timeout: 5_000 }).toBe(0);
    } finally {
      stop();
    }
  });
});
