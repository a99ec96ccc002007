// The scheduler's /metrics endpoint: the registry's text on GET, nothing else served, a
// free port when asked for 0, and a taken port refused so the caller can say which.
import { Counter } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { createMetricsRegistry, type MetricsServer, serveMetrics } from "../../src/metrics/index.js";

const servers: MetricsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function served() {
  const metrics = createMetricsRegistry({ defaultMetrics: false });
  const things = new Counter({ name: "things_total", help: "Things.", registers: [metrics.registry] });
  const server = await serveMetrics(metrics, { port: 0 });
  servers.push(server);
  return { metrics, things, server };
}

describe("serveMetrics", () => {
  it("serves the registry in Prometheus text format on a free port", async () => {
    const { things, server } = await served();
    things.inc(3);
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/metrics`);
    const res = await fetch(server.url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(await res.text()).toContain("things_total 3");
  });

  it("answers 404 elsewhere and 405 to other methods", async () => {
    const { server } = await served();
    const base = `http://127.0.0.1:${server.port}`;
    expect((await fetch(`${base}/`)).status).toBe(404);
    expect((await fetch(`${base}/metrics/x`)).status).toBe(404);
    const post = await fetch(server.url, { method: "POST", body: "x" });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD");
    expect((await fetch(`${server.url}?name[]=x`)).status).toBe(200);
  });

  it("refuses a port that is taken", async () => {
    const { server } = await served();
    const again = serveMetrics(createMetricsRegistry({ defaultMetrics: false }), { port: server.port });
    await expect(again).rejects.toMatchObject({ code: "EADDRINUSE" });
  });
});
