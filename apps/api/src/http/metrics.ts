import { createMetricsRegistry, type GaugeSpec, type HistogramSpec } from "@susu/adapters";
import type { Handler, MiddlewareHandler } from "hono";
import { Counter, Histogram, type Registry } from "prom-client";
import { routePatternOf } from "./route-pattern.js";

export type { GaugeSample, GaugeSpec } from "@susu/adapters";

/** The API's Prometheus metrics. */
export interface HttpMetrics {
  /** This instance's registry (not prom-client's global one, so tests can make several). */
  readonly registry: Registry;
  /** Counts and times every request by method, route pattern and status. Mount early. */
  readonly middleware: MiddlewareHandler;
  /** `GET /metrics`: the registry in Prometheus text format. */
  readonly handler: Handler;
  /**
   * Adds a gauge read at scrape time. A failing `collect` leaves the gauge without samples
   * (NaN when it has no labels) and counts the failure in `susu_gauge_collect_errors_total`.
   */
  registerGauge(spec: GaugeSpec): void;
  /** Adds a counter read at scrape time (a cumulative count kept in the database); see `registerCounter` in @susu/adapters. */
  registerCounter(spec: GaugeSpec): void;
  /** Adds a histogram read at scrape time (counts kept in the database); see `registerHistogram` in @susu/adapters. */
  registerHistogram(spec: HistogramSpec): void;
}

/** Options of {@link createHttpMetrics}. */
export interface HttpMetricsOptions {
  /** Also export the process's CPU, memory, event loop lag and GC metrics. Default true. */
  readonly defaultMetrics?: boolean;
  /** Latency histogram buckets in seconds. */
  readonly durationBuckets?: readonly number[];
  /**
   * What `GET /metrics` answers, in Prometheus text format. Default: this registry. With
   * several API processes, the metrics of all of them (see `scrapeAllWorkers` in cluster.ts).
   */
  readonly scrape?: () => Promise<string>;
}

// Around the API's goal (p95 under 50 ms) with room for slow provider calls.
const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Creates the API's metrics: `http_requests_total{method,route,status}`,
 * `http_request_duration_seconds{method,route}`, the gauges the app registers, and
 * `susu_gauge_collect_errors_total{gauge}`. Routes are labelled by their registered
 * pattern (`/v1/groups/:groupId`), never the raw path, so label values stay bounded;
 * requests that match no route are `unmatched`.
 */
export function createHttpMetrics(options: HttpMetricsOptions = {}): HttpMetrics {
  const metrics = createMetricsRegistry({ defaultMetrics: options.defaultMetrics ?? true });
  const registry = metrics.registry;
  const requests = new Counter({
    name: "http_requests_total",
    help: "HTTP requests answered, by method, route pattern and status.",
    labelNames: ["method", "route", "status"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "http_request_duration_seconds",
    help: "Time to answer HTTP requests, by method and route pattern.",
    labelNames: ["method", "route"] as const,
    buckets: [...(options.durationBuckets ?? DEFAULT_BUCKETS)],
    registers: [registry],
  });

  const middleware: MiddlewareHandler = async (c, next) => {
    const startedAt = performance.now();
    await next();
    // Refused by the overload guard: counted in susu_http_requests_shed_total (overload.ts),
    // not here, where the requests served are (their rate, status and latency).
    if (c.get("shed") !== undefined) return;
    const route = routePatternOf(c);
    // Methods are bounded too: anything outside the standard set is one label value.
    const method = STANDARD_METHODS.has(c.req.method) ? c.req.method : "OTHER";
    requests.inc({ method, route, status: String(c.res.status) });
    duration.observe({ method, route }, (performance.now() - startedAt) / 1000);
  };

  const scrape = options.scrape ?? (() => metrics.text());
  const handler: Handler = async (c) => c.body(await scrape(), 200, { "content-type": metrics.contentType });

  return {
    registry,
    middleware,
    handler,
    registerGauge: metrics.registerGauge,
    registerCounter: metrics.registerCounter,
    registerHistogram: metrics.registerHistogram,
  };
}

const STANDARD_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);
