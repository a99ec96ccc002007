// Counters read at scrape time: exported as counters, the values read at each scrape, a
// failed read counted and leaving no samples, and several processes' copies of the same
// database count aggregated as one (not summed).
import { AggregatorRegistry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createMetricsRegistry } from "../../src/metrics/index.js";

describe("registerCounter", () => {
  it("exports the values read at scrape time as a counter", async () => {
    const metrics = createMetricsRegistry({ defaultMetrics: false });
    let created = 3;
    metrics.registerCounter({
      name: "things_total",
      help: "Things.",
      labelNames: ["outcome"],
      collect: async () => [
        { labels: { outcome: "created" }, value: created },
        { labels: { outcome: "done" }, value: 1 },
      ],
    });
    let text = await metrics.text();
    expect(text).toContain("# TYPE things_total counter");
    expect(text).toMatch(/^things_total\{outcome="created"\} 3$/m);
    expect(text).toMatch(/^things_total\{outcome="done"\} 1$/m);
    created = 5;
    text = await metrics.text();
    expect(text).toMatch(/^things_total\{outcome="created"\} 5$/m);
  });

  it("a failed read leaves no samples and is counted", async () => {
    const metrics = createMetricsRegistry({ defaultMetrics: false });
    metrics.registerCounter({
      name: "broken_total",
      help: "Broken.",
      labelNames: ["outcome"],
      collect: async () => {
        throw new Error("database down");
      },
    });
    const text = await metrics.text();
    expect(text).not.toMatch(/^broken_total\{/m);
    expect(text).toMatch(/^susu_gauge_collect_errors_total\{gauge="broken_total"\} 1$/m);
  });

  it("aggregates the copies of several processes as one, not their sum", async () => {
    const worker = async () => {
      const metrics = createMetricsRegistry({ defaultMetrics: false });
      metrics.registerCounter({
        name: "shared_total",
        help: "Shared.",
        labelNames: ["outcome"],
        collect: async () => [{ labels: { outcome: "created" }, value: 7 }],
      });
      return metrics.registry.getMetricsAsJSON();
    };
    const aggregated = AggregatorRegistry.aggregate([await worker(), await worker()]);
    expect(await aggregated.metrics()).toMatch(/^shared_total\{outcome="created"\} 7$/m);
  });
});
