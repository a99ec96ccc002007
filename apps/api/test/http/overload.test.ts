// The overload guard: requests under /v1 past the process's in-flight limit are refused at
// once with 503 `overloaded` (nothing runs for them), the rest are served; health checks and
// Stripe's webhooks are never refused.

import { Hono } from "hono";
import { AggregatorRegistry, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createOverloadGuard, type OverloadLimits, problemOnError } from "../../src/http/index.js";

/** A request that waits until `release` is called, so requests can be held in flight. */
function gate() {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, release: () => open() };
}

function guarded(limits: OverloadLimits) {
  const registry = new Registry();
  const guard = createOverloadGuard(limits, { registry });
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
  app.get("/v1x", (c) => c.json({ ok: true }));
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.post("/webhooks/stripe", (c) => c.json({ received: true }));
  app.onError(problemOnError);
  return { app, guard, registry, served: () => served, release: held.release };
}

describe("the overload guard", () => {
  it("refuses a request past the in-flight limit with 503 overloaded and Retry-After, without running it", async () => {
    const { app, guard, registry, served, release } = guarded({ maxInFlight: 2 });
    // Counted from the start, so a rate over it sees the first refusals.
    expect(await registry.metrics()).toContain('susu_http_requests_shed_total{reason="in_flight"} 0');
    const first = app.request("/v1/slow");
    const second = app.request("/v1/slow");
    await new Promise((r) => setImmediate(r));
    expect(guard.inFlight()).toBe(2);

    const refused = await app.request("/v1/fast");
    expect(refused.status).toBe(503);
    expect(refused.headers.get("content-type")).toBe("application/problem+json");
    expect(refused.headers.get("retry-after")).toBe("1");
    const body = (await refused.json()) as { code: string; detail: string };
    expect(body.code).toBe("overloaded");
    expect(body.detail).toContain("limit of 2 requests at once");
    expect((await app.request("/v1")).status).toBe(503);
    expect(served()).toBe(2);
    // Outside /v1 (a path that only begins with its letters included): never refused, and not counted.
    expect((await app.request("/healthz")).status).toBe(200);
    expect((await app.request("/webhooks/stripe", { method: "POST" })).status).toBe(200);
    expect((await app.request("/v1x")).status).toBe(200);

    release();
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
    expect(guard.inFlight()).toBe(0);
    expect((await app.request("/v1/fast")).status).toBe(200);

    const metrics = await registry.metrics();
    expect(metrics).toContain('susu_http_requests_shed_total{reason="in_flight"} 2');
    expect(metrics).toContain("susu_http_in_flight 0");
  });

  it("frees a request's place when its handler throws", async () => {
    const { app, guard } = guarded({ maxInFlight: 1 });
    expect((await app.request("/v1/boom")).status).toBe(500);
    expect(guard.inFlight()).toBe(0);
    expect((await app.request("/v1/fast")).status).toBe(200);
  });

  it("with a limit of 0, refuses nothing", async () => {
    const { app, release } = guarded({ maxInFlight: 0 });
    const slow = Array.from({ length: 50 }, () => app.request("/v1/slow"));
    await new Promise((r) => setImmediate(r));
    expect((await app.request("/v1/fast")).status).toBe(200);
    release();
    for (const r of await Promise.all(slow)) expect(r.status).toBe(200);
  });

  it("refuses a limit that is not a whole number of 0 or more", () => {
    expect(() => createOverloadGuard({ maxInFlight: -1 })).toThrow(RangeError);
    expect(() => createOverloadGuard({ maxInFlight: 1.5 })).toThrow(RangeError);
  });

  it("several processes' in-flight gauges aggregate to the busiest one's, comparable to the limit", async () => {
    const workers = [40, 64].map(async (n) => {
      const registry = new Registry();
      const guard = createOverloadGuard({ maxInFlight: 64 }, { registry });
      const app = new Hono();
      app.use("*", guard.middleware("/v1"));
      const held = gate();
      app.get("/v1/slow", async (c) => {
        await held.opened;
        return c.json({});
      });
      const pending = Array.from({ length: n }, () => app.request("/v1/slow"));
      await new Promise((r) => setImmediate(r));
      const metrics = await registry.getMetricsAsJSON();
      held.release();
      await Promise.all(pending);
      return metrics;
    });
    const aggregated = AggregatorRegistry.aggregate(await Promise.all(workers));
    expect(await aggregated.metrics()).toContain("susu_http_in_flight 64");
  });
});
