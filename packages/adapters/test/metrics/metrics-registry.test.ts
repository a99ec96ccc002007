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

describe("registerHistogram", () => {
  it("exports the cumulative counts read at scrape time as a histogram, with +Inf, sum and count", async () => {
    const metrics = createMetricsRegistry({ defaultMetrics: false });
    let counts = [1, 3];
    metrics.registerHistogram({
      name: "wait_seconds",
      help: "Waits.",
      labelNames: ["method"],
      buckets: [10, 60],
      collect: async () => [{ labels: { method: "card" }, cumulativeCounts: counts, sum: 150, count: 4 }],
    });
    let text = await metrics.text();
    expect(text).toContain("# TYPE wait_seconds histogram");
    expect(text).toMatch(/^wait_seconds_bucket\{method="card",le="10"\} 1$/m);
    expect(text).toMatch(/^wait_seconds_bucket\{method="card",le="60"\} 3$/m);
    expect(text).toMatch(/^wait_seconds_bucket\{method="card",le="\+Inf"\} 4$/m);
    expect(text).toMatch(/^wait_seconds_sum\{method="card"\} 150$/m);
    expect(text).toMatch(/^wait_seconds_count\{method="card"\} 4$/m);
    counts = [2, 4];
    text = await metrics.text();
    expect(text).toMatch(/^wait_seconds_bucket\{method="card",le="10"\} 2$/m);
  });

  it("refuses buckets out of order, and counts a read that fails or does not fit its buckets", async () => {
    const metrics = createMetricsRegistry({ defaultMetrics: false });
    expect(() =>
      metrics.registerHistogram({ name: "bad_seconds", help: "x", buckets: [5, 1], collect: async () => [] }),
    ).toThrow(/ascending/);
    metrics.registerHistogram({
      name: "broken_seconds",
      help: "Broken.",
      buckets: [1],
      collect: async () => {
        throw new Error("database down");
      },
    });
    metrics.registerHistogram({
      name: "misfit_seconds",
      help: "Misfit.",
      buckets: [1, 2],
      // Fewer observations under 2 than under 1 cannot be.
      collect: async () => [{ labels: {}, cumulativeCounts: [3, 2], sum: 1, count: 3 }],
    });
    const text = await metrics.text();
    expect(text).not.toMatch(/^broken_seconds_/m);
    expect(text).not.toMatch(/^misfit_seconds_/m);
    expect(text).toMatch(/^susu_gauge_collect_errors_total\{gauge="broken_seconds"\} 1$/m);
    expect(text).toMatch(/^susu_gauge_collect_errors_total\{gauge="misfit_seconds"\} 1$/m);
  });

  it("aggregates the copies of several processes as one, not their sum", async () => {
    const worker = async () => {
      const metrics = createMetricsRegistry({ defaultMetrics: false });
      metrics.registerHistogram({
        name: "shared_seconds",
        help: "Shared.",
        buckets: [1],
        collect: async () => [{ labels: {}, cumulativeCounts: [2], sum: 3, count: 5 }],
      });
      return metrics.registry.getMetricsAsJSON();
    };
    const aggregated = AggregatorRegistry.aggregate([await worker(), await worker()]);
    const text = await aggregated.metrics();
    expect(text).toMatch(/^shared_seconds_bucket\{le="1"\} 2$/m);
    expect(text).toMatch(/^shared_seconds_count 5$/m);
  });
});
