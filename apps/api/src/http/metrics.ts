import type { Handler, MiddlewareHandler } from "hono";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { routePatternOf } from "./route-pattern.js";

/** One value of a gauge, with its labels. */
export interface GaugeSample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A gauge whose values are read at scrape time (rounds by status, outbox depth, …). */
export interface GaugeSpec {
  /** Prometheus name, e.g. `susu_rounds`; must be unique in the registry. */
  readonly name: string;
  readonly help: string;
  /** Every label the samples use; none for a single-value gauge. */
  readonly labelNames?: readonly string[];
  /** Reads the current values, e.g. one `SELECT status, count(*) … GROUP BY status`. */
  readonly collect: () => Promise<readonly GaugeSample[]>;
}

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
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
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
  // The registry starts every metric's collect in registration order without waiting for
  // the previous one. The error counter is kept last (re-registered after each gauge) and
  // waits for the gauges' reads, so a scrape counts its own failures.
  const gaugeReads = new Set<Promise<void>>();
  const collectErrorsName = "susu_gauge_collect_errors_total";
  const collectErrors = new Counter({
    name: collectErrorsName,
    help: "Scrapes in which a gauge could not read its values (its samples are missing from that scrape).",
    labelNames: ["gauge"] as const,
    registers: [registry],
    collect: async () => {
      await Promise.all([...gaugeReads]);
    },
  });

  const middleware: MiddlewareHandler = async (c, next) => {
    const startedAt = performance.now();
    await next();
    const route = routePatternOf(c);
    // Methods are bounded too: anything outside the standard set is one label value.
    const method = STANDARD_METHODS.has(c.req.method) ? c.req.method : "OTHER";
    requests.inc({ method, route, status: String(c.res.status) });
    duration.observe({ method, route }, (performance.now() - startedAt) / 1000);
  };

  const scrape = options.scrape ?? (() => registry.metrics());
  const handler: Handler = async (c) => c.body(await scrape(), 200, { "content-type": registry.contentType });

  const registerGauge = (spec: GaugeSpec): void => {
    const labelNames = [...(spec.labelNames ?? [])];
    const gauge: Gauge = new Gauge({
      name: spec.name,
      help: spec.help,
      labelNames,
      registers: [registry],
      // Every API process reads the same rows: with several, one's values are the truth, not their sum.
      aggregator: "first",
      // prom-client awaits this before each scrape. A rejection would fail the whole
      // scrape (every metric lost for one broken query), so it is caught and counted.
      collect: async () => {
        const read = (async () => {
          try {
            const samples = await spec.collect();
            gauge.reset();
            for (const sample of samples) gauge.set({ ...sample.labels }, sample.value);
          } catch {
            gauge.reset();
            // A gauge without labels would read 0 after a reset, which looks like a healthy
            // empty outbox; NaN says "unknown". Labelled gauges simply have no samples.
            if (labelNames.length === 0) gauge.set(Number.NaN);
            collectErrors.inc({ gauge: spec.name });
          }
        })();
        gaugeReads.add(read);
        try {
          await read;
        } finally {
          gaugeReads.delete(read);
        }
      },
    });
    registry.removeSingleMetric(collectErrorsName);
    registry.registerMetric(collectErrors);
  };

  return { registry, middleware, handler, registerGauge };
}

const STANDARD_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);
