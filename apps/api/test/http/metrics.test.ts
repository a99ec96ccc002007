// Prometheus metrics: counts and latency by route pattern (bounded labels), gauges read at
// scrape time, separate registries per instance, and the /metrics handler.
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { createHttpMetrics, methodNotAllowed } from "../../src/http/index.js";

function meteredApp() {
  const metrics = createHttpMetrics({ defaultMetrics: false });
  const app = new Hono();
  app.use("*", metrics.middleware);
  const groups = new Hono();
  groups.get("/:groupId", (c) => c.json({ id: c.req.param("groupId") }));
  groups.post("/", (c) => c.json({}, 201));
  app.route("/v1/groups", groups);
  app.get("/metrics", metrics.handler);
  app.notFound(methodNotAllowed(app));
  return { app, metrics };
}

describe("metrics", () => {
  it("counts requests by method, route pattern and status, never by raw path", async () => {
    const { app } = meteredApp();
    for (let i = 0; i < 25; i++) await app.request(`/v1/groups/grp_${i}`);
    await app.request("/v1/groups", { method: "POST" });
    await app.request(`/v1/groups/grp_1`, { method: "DELETE" });
    await app.request(`/random/${Math.random()}`);
    const text = await (await app.request("/metrics")).text();
    expect(text).toContain('http_requests_total{method="GET",route="/v1/groups/:groupId",status="200"} 25');
    expect(text).toContain('http_requests_total{method="POST",route="/v1/groups",status="201"} 1');
    expect(text).toContain('http_requests_total{method="DELETE",route="unmatched",status="405"} 1');
    expect(text).toContain('http_requests_total{method="GET",route="unmatched",status="404"} 1');
    expect(text).toContain(
      'http_request_duration_seconds_count{method="GET",route="/v1/groups/:groupId"} 25',
    );
    expect(text).toContain(
      'http_request_duration_seconds_bucket{le="0.05",method="GET",route="/v1/groups/:groupId"}',
    );
    expect(text).not.toContain("grp_1");
  });

  it("serves the text format with Prometheus' content type", async () => {
    const { app } = meteredApp();
    const res = await app.request("/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(await res.text()).toContain("# TYPE http_requests_total counter");
  });

  it("reads registered gauges at scrape time; a failing one is counted, not fatal", async () => {
    const { app, metrics } = meteredApp();
    let rounds = [
      { labels: { status: "collecting" }, value: 3 },
      { labels: { status: "paid_out" }, value: 7 },
    ];
    metrics.registerGauge({
      name: "susu_rounds",
      help: "Rounds by status.",
      labelNames: ["status"],
      collect: async () => rounds,
    });
    metrics.registerGauge({
      name: "susu_outbox_depth",
      help: "Outbox effects waiting.",
      collect: async () => {
        // Fails after a real wait, as a query timing out would.
        await new Promise((resolve) => setTimeout(resolve, 20));
        throw new Error("database down");
      },
    });
    let text = await (await app.request("/metrics")).text();
    expect(text).toContain('susu_rounds{status="collecting"} 3');
    expect(text).toContain('susu_rounds{status="paid_out"} 7');
    expect(text).toContain('susu_gauge_collect_errors_total{gauge="susu_outbox_depth"} 1');
    // Unknown, not a reassuring 0.
    expect(text).toMatch(/^susu_outbox_depth nan$/im);
    // Values are replaced, not accumulated: a status that disappears disappears.
    rounds = [{ labels: { status: "collecting" }, value: 1 }];
    text = await (await app.request("/metrics")).text();
    expect(text).toContain('susu_rounds{status="collecting"} 1');
    expect(text).not.toContain('susu_rounds{status="paid_out"}');
  });

  it("keeps instances apart (no global registry)", async () => {
    const a = meteredApp();
    const b = meteredApp();
    await a.app.request("/v1/groups/g1");
    expect(await b.metrics.registry.metrics()).not.toContain('route="/v1/groups/:groupId"');
    expect(() =>
      a.metrics.registerGauge({ name: "http_requests_total", help: "dup", collect: async () => [] }),
    ).toThrow();
  });

  it("includes process metrics by default", async () => {
    const metrics = createHttpMetrics();
    expect(await metrics.registry.metrics()).toContain("process_cpu_user_seconds_total");
  });
});
