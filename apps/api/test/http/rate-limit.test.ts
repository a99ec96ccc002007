// Rate limiting: the sliding-window arithmetic, the middleware's headers and 429s with the
// in-memory store, client addresses behind proxies. Across processes on PostgreSQL:
// rate-limit.prisma.test.ts.
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import {
  type AuthVariables,
  bearerAuth,
  clientIpResolver,
  createTokenVerifier,
  InMemoryRateLimitStore,
  mintToken,
  normalizeIp,
  type RateLimitStore,
  rateLimit,
  slidingWindowDecision,
} from "../../src/http/index.js";
import { SECRET } from "./support.js";

const MINUTE = 60_000;
const W = Math.floor(Date.UTC(2026, 5, 1, 12) / MINUTE) * MINUTE;
const window = { startMs: W, lengthMs: MINUTE };

describe("slidingWindowDecision", () => {
  it("weights the previous window by how much of it the sliding window still covers", () => {
    // 30 s into the window: half of the previous window's 10 plus this window's 4.
    const d = slidingWindowDecision({ current: 4, previous: 10 }, 10, W + 30_000, window);
    expect(d).toEqual({ allowed: true, limit: 10, remaining: 1, resetSeconds: 30, retryAfterSeconds: 0 });
    expect(slidingWindowDecision({ current: 6, previous: 10 }, 10, W + 30_000, window).allowed).toBe(false);
    expect(slidingWindowDecision({ current: 10, previous: 0 }, 10, W, window).allowed).toBe(true);
    expect(slidingWindowDecision({ current: 11, previous: 0 }, 10, W, window).allowed).toBe(false);
  });

  it("says when the next request would fit", () => {
    // Over the limit within this window: wait for the next, where 12 × (1 − e) + 1 ≤ 10,
    // e ≥ 0.25: 45 s to the boundary + 15 s.
    expect(
      slidingWindowDecision({ current: 12, previous: 0 }, 10, W + 15_000, window).retryAfterSeconds,
    ).toBe(60);
    // Room in this window once enough of the previous one slides out: 10 × (1 − e) + 6 + 1 ≤ 10,
    // e ≥ 0.7 → 42 s; now at 30 s → 12 s.
    expect(
      slidingWindowDecision({ current: 6, previous: 10 }, 10, W + 30_000, window).retryAfterSeconds,
    ).toBe(12);
    // At the very end of the window: 0.1 s, then 11 × (1 − e) + 1 ≤ 10, e ≥ 2/11 → 10.9 s.
    expect(
      slidingWindowDecision({ current: 11, previous: 0 }, 10, W + 59_900, window).retryAfterSeconds,
    ).toBe(12);
  });
});

describe("rateLimit middleware", () => {
  const verifier = createTokenVerifier({ sharedSecret: SECRET });

  function limitedApp(options: {
    perSubject: number;
    perIp: number;
    store?: RateLimitStore;
    now?: () => number;
  }) {
    const app = new Hono<{ Variables: AuthVariables }>();
    app.use("/v1/*", bearerAuth(verifier));
    app.use(
      "*",
      rateLimit({
        store: options.store ?? new InMemoryRateLimitStore(),
        perSubject: options.perSubject,
        perIp: options.perIp,
        clientIp: (c) => c.req.header("x-test-ip"),
        now: options.now ?? (() => W + 1_000),
      }),
    );
    app.get("/v1/groups", (c) => c.json({ data: [] }));
    app.post("/webhooks/stripe", (c) => c.json({ received: true }));
    return app;
  }

  const asPerson = async (subject: string, ip = "198.51.100.1") => ({
    headers: {
      authorization: `Bearer ${await mintToken({ subject, ttlSeconds: 600 }, SECRET)}`,
      "x-test-ip": ip,
    },
  });

  it("counts per subject, with RateLimit headers, then 429 rate_limited with Retry-After", async () => {
    const app = limitedApp({ perSubject: 3, perIp: 0 });
    const ana = await asPerson("ana");
    const remaining: (string | null)[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await app.request("/v1/groups", ana);
      expect(res.status).toBe(200);
      remaining.push(res.headers.get("ratelimit-remaining"));
    }
    expect(remaining).toEqual(["2", "1", "0"]);
    const refused = await app.request("/v1/groups", ana);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("content-type")).toBe("application/problem+json");
    expect(((await refused.json()) as { code: string }).code).toBe("rate_limited");
    // The refused request counts too: 4 in this window, so the next one fits where
    // 4 × (1 − e) + 1 ≤ 3 in the next window, e = 0.5: 59 s + 30 s.
    expect(refused.headers.get("retry-after")).toBe("89");
    expect(refused.headers.get("ratelimit-limit")).toBe("3");
    expect(refused.headers.get("ratelimit-remaining")).toBe("0");
    expect(refused.headers.get("ratelimit-reset")).toBe("59");
    expect(refused.headers.get("ratelimit-policy")).toBe("3;w=60");
    // Another person is not limited by ana's use.
    expect((await app.request("/v1/groups", await asPerson("ben"))).status).toBe(200);
  });

  it("counts per IP too, for routes without a token", async () => {
    const app = limitedApp({ perSubject: 100, perIp: 2 });
    const hook = { method: "POST", headers: { "x-test-ip": "203.0.113.9" } };
    expect((await app.request("/webhooks/stripe", hook)).status).toBe(200);
    expect((await app.request("/webhooks/stripe", hook)).status).toBe(200);
    expect((await app.request("/webhooks/stripe", hook)).status).toBe(429);
    // The subject's bucket is not the one that is full, yet the IP's is.
    const res = await app.request("/v1/groups", await asPerson("ana", "203.0.113.9"));
    expect(res.status).toBe(429);
    expect(res.headers.get("ratelimit-policy")).toBe("100;w=60, 2;w=60");
    expect(
      (await app.request("/webhooks/stripe", { method: "POST", headers: { "x-test-ip": "203.0.113.10" } }))
        .status,
    ).toBe(200);
  });

  it("starts afresh as the window slides", async () => {
    let now = W + 59_000;
    const app = limitedApp({ perSubject: 2, perIp: 0, now: () => now });
    const ana = await asPerson("ana");
    await app.request("/v1/groups", ana);
    await app.request("/v1/groups", ana);
    expect((await app.request("/v1/groups", ana)).status).toBe(429);
    // Just into the next window, the previous 3 weigh almost fully: still refused.
    now = W + MINUTE + 1_000;
    expect((await app.request("/v1/groups", ana)).status).toBe(429);
    now = W + 2 * MINUTE + 1_000;
    expect((await app.request("/v1/groups", ana)).status).toBe(200);
  });

  it("leases units a block at a time: one take for both buckets, then none until they are spent", async () => {
    const memory = new InMemoryRateLimitStore();
    const takes: Record<string, number>[] = [];
    const counting: RateLimitStore = {
      take: (units, w) => {
        takes.push(Object.fromEntries(units));
        return memory.take(units, w);
      },
      deleteExpired: (n) => memory.deleteExpired(n),
    };
    const app = limitedApp({ perSubject: 640, perIp: 1280, store: counting });
    const ana = await asPerson("ana");
    const remaining: (string | null)[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await app.request("/v1/groups", ana);
      expect(res.status).toBe(200);
      remaining.push(res.headers.get("ratelimit-remaining"));
    }
    // Blocks of limit / 64 first: 10 units of ana's, 20 of the address's, in one statement.
    expect(takes).toEqual([{ "sub:ana": 10, "ip:198.51.100.1": 20 }]);
    expect(remaining).toEqual(["639", "638", "637", "636", "635", "634", "633", "632", "631", "630"]);
    // The 11th request needs ana's next block (doubled) only.
    expect((await app.request("/v1/groups", ana)).status).toBe(200);
    expect(takes.at(-1)).toEqual({ "sub:ana": 20 });
    // Requests waiting together share a take.
    const burst = await Promise.all(Array.from({ length: 30 }, () => app.request("/v1/groups", ana)));
    expect(burst.every((r) => r.status === 200)).toBe(true);
    expect(takes.length).toBeLessThanOrEqual(4);
  });

  it("lets requests through when the store fails", async () => {
    const broken: RateLimitStore = {
      take: () => Promise.reject(new Error("connection refused")),
      deleteExpired: () => Promise.reject(new Error("connection refused")),
    };
    const app = limitedApp({ perSubject: 1, perIp: 1, store: broken });
    const res = await app.request("/v1/groups", await asPerson("ana"));
    expect(res.status).toBe(200);
    expect(res.headers.get("ratelimit-limit")).toBeNull();
  });

  it("refuses bad settings", () => {
    const store = new InMemoryRateLimitStore();
    expect(() => rateLimit({ store, perSubject: -1, perIp: 0 })).toThrow(RangeError);
    expect(() => rateLimit({ store, perSubject: 1, perIp: 1.5 })).toThrow(RangeError);
    expect(() => rateLimit({ store, perSubject: 1, perIp: 1, windowMs: 10 })).toThrow(RangeError);
  });
});

describe("client addresses", () => {
  function ipApp(hops: number) {
    const app = new Hono();
    const resolve = clientIpResolver({ trustedProxyHops: hops });
    app.get("/ip", (c) => c.json({ ip: resolve(c) ?? null }));
    return app;
  }
  const ipOf = async (app: Hono, headers: Record<string, string>, env?: unknown) =>
    ((await (await app.request("/ip", { headers }, env)).json()) as { ip: string | null }).ip;

  it("uses the socket's peer unless proxies are trusted", async () => {
    const env = { incoming: { socket: { remoteAddress: "::ffff:192.0.2.4" } } };
    expect(await ipOf(ipApp(0), { "x-forwarded-for": "1.1.1.1" }, env)).toBe("192.0.2.4");
    expect(await ipOf(ipApp(0), {})).toBeNull();
  });

  it("takes the address the trusted proxies saw, not what the client wrote", async () => {
    const forged = { "x-forwarded-for": "6.6.6.6, 203.0.113.50, 10.0.0.2" };
    expect(await ipOf(ipApp(1), forged)).toBe("10.0.0.2");
    expect(await ipOf(ipApp(2), forged)).toBe("203.0.113.50");
    expect(await ipOf(ipApp(5), { "x-forwarded-for": "203.0.113.50" })).toBe("203.0.113.50");
  });

  it("groups IPv6 by /64 and refuses non-addresses", () => {
    expect(normalizeIp("2001:db8:abcd:12:1:2:3:4")).toBe("2001:db8:abcd:12::/64");
    expect(normalizeIp("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(normalizeIp("[2001:db8:abcd:0012::ff]")).toBe("2001:db8:abcd:12::/64");
    expect(normalizeIp("::1")).toBe("0:0:0:0::/64");
    expect(normalizeIp("198.51.100.7")).toBe("198.51.100.7");
    expect(normalizeIp("unknown")).toBeUndefined();
    expect(normalizeIp("999.1.1.1")).toBeUndefined();
  });
});
