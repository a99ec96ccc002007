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
