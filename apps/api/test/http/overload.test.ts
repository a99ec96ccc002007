// The overload guard: requests under /v1 past the process's limits are refused at once with
// 503 `overloaded` (nothing runs for them), the rest are served; health checks and Stripe's
// webhooks are never refused.
import { Hono } from "hono";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import {
  createOverloadGuard,
  eventLoopDelay,
  type LoopDelaySource,
  type OverloadLimits,
  problemOnError,
} from "../../src/http/index.js";

/** A request that waits until `release` is called, so requests can be held in flight. */
function gate() {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, release: () => open() };
}

function guarded(limits: OverloadLimits, loopDelay?: LoopDelaySource) {
  const registry = new Registry();
  const guard = createOverloadGuard(limits, { registry, ...(loopDelay !== undefined ? { loopDelay } : {}) });
  const app = new Hono();
  app.use("*", guard.middleware("/v1"));
  let served = 0;
  const held = gate();
  app.get("/v1/slow", async (c) => {
    served++;
    await held.opened;
    return c.json({ ok: true });
  });
  app.get("/v1/fast", (c) => {
    served++;
    return c.json({ ok: true });
  });
  app.get("/v1/boom", () => {
    served++;
    throw new Error("boom");
  });
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.post("/webhooks/stripe", (c) => c.json({ received: true }));
  app.onError(problemOnError);
  return { app, guard, registry, served: () => served, release: held.release };
}

/** A loop delay the test sets. */
function fakeDelay(initial: number): LoopDelaySource & { set(ms: number): void } {
  let ms = initial;
  return {
    current: () => ms,
    close() {},
    set(v) {
      ms = v;
    },
  };
}

describe("the overload guard", () => {
  it("refuses a request past the in-flight limit with 503 overloaded and Retry-After, without running it", async () => {
    const { app, guard, registry, served, release } = guarded({ maxInFlight: 2, maxEventLoopDelayMs: 0 });
    const first = app.request("/v1/slow");
    const second = app.request("/v1/slow");
    await new Promise((r) => setImmediate(r));
    expect(guard.state().inFlight).toBe(2);

    const refused = await app.request("/v1/fast");
    expect(refused.status).toBe(503);
    expect(refused.headers.get("content-type")).toBe("application/problem+json");
    expect(refused.headers.get("retry-after")).toBe("1");
    const body = (await refused.json()) as { code: string; detail: string };
    expect(body.code).toBe("overloaded");
    expect(body.detail).toContain("limit of 2 requests at once");
    expect(served()).toBe(2);
    // Outside /v1: never refused, and not counted.
    expect((await app.request("/healthz")).status).toBe(200);
    expect((await app.request("/webhooks/stripe", { method: "POST" })).status).toBe(200);

    release();
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
    expect(guard.state().inFlight).toBe(0);
    expect((await app.request("/v1/fast")).status).toBe(200);

    const metrics = await registry.metrics();
    expect(metrics).toContain('susu_http_requests_shed_total{reason="in_flight"} 1');
    expect(metrics).toContain("susu_http_in_flight 0");
  });

  it("frees a request's place when its handler throws", async () => {
    const { app, guard } = guarded({ maxInFlight: 1, maxEventLoopDelayMs: 0 });
    expect((await app.request("/v1/boom")).status).toBe(500);
    expect(guard.state().inFlight).toBe(0);
    expect((await app.request("/v1/fast")).status).toBe(200);
  });

  it("refuses requests under /v1 while the event loop runs late, and serves them once it catches up", async () => {
    const delay = fakeDelay(350);
    const { app, registry, served } = guarded({ maxInFlight: 0, maxEventLoopDelayMs: 200 }, delay);
    const refused = await app.request("/v1/fast");
    expect(refused.status).toBe(503);
    const body = (await refused.json()) as { code: string; detail: string };
    expect(body.code).toBe("overloaded");
    expect(body.detail).toContain("350 ms late");
    expect(served()).toBe(0);
    expect((await app.request("/webhooks/stripe", { method: "POST" })).status).toBe(200);

    delay.set(200); // at the limit is not over it
    expect((await app.request("/v1/fast")).status).toBe(200);
    expect(await registry.metrics()).toContain('susu_http_requests_shed_total{reason="event_loop_delay"} 1');
  });

  it("with both limits 0, refuses nothing", async () => {
    const { app, release } = guarded({ maxInFlight: 0, maxEventLoopDelayMs: 0 }, fakeDelay(10_000));
    const slow = Array.from({ length: 50 }, () => app.request("/v1/slow"));
    await new Promise((r) => setImmediate(r));
    expect((await app.request("/v1/fast")).status).toBe(200);
    release();
    for (const r of await Promise.all(slow)) expect(r.status).toBe(200);
  });
});

describe("eventLoopDelay", () => {
  it("sees a loop kept busy, as its mean delay over a period", async () => {
    const source = eventLoopDelay(100);
    try {
      // Busy 80 ms at a time with a moment's yield between: the monitor's timer fires ~70 ms late each time.
      const until = Date.now() + 700;
      while (Date.now() < until) {
        const end = Date.now() + 80;
        while (Date.now() < end) {
          // busy
        }
        await new Promise((r) => setImmediate(r));
      }
      await new Promise((r) => setTimeout(r, 5));
      expect(source.current()).toBeGreaterThan(30);
    } finally {
      source.close();
    }
  });
});
