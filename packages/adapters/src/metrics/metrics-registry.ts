import { Counter, collectDefaultMetrics, Gauge, type Metric, Registry } from "prom-client";

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

/** One label set of a histogram read at scrape time: its cumulative bucket counts, sum and count. */
export interface HistogramSample {
  readonly labels: Readonly<Record<string, string>>;
  /** How many observations were at most each bound, in the order of {@link HistogramSpec.buckets}. */
  readonly cumulativeCounts: readonly number[];
  /** The sum of the observations. */
  readonly sum: number;
  /** How many observations there were (the `+Inf` bucket). */
  readonly count: number;
}

/**
 * A histogram whose values are read at scrape time: observations that are facts kept
 * elsewhere (rows that are only ever added), bucketed by the query that reads them, e.g.
 * how long each settled debit took.
 */
export interface HistogramSpec {
  /** Prometheus name, without `_bucket`, `_sum` or `_count`; unique in the registry. */
  readonly name: string;
  readonly help: string;
  readonly labelNames?: readonly string[];
  /** Upper bounds, ascending (`+Inf` is added). */
  readonly buckets: readonly number[];
  readonly collect: () => Promise<readonly HistogramSample[]>;
}

/** A process's Prometheus metrics: its own registry, and gauges read at scrape time. */
export interface MetricsRegistry {
  /** This instance's registry (not prom-client's global one, so tests can make several). */
  readonly registry: Registry;
  /**
   * Adds a gauge read at scrape time. A failing `collect` leaves the gauge without samples
   * (NaN when it has no labels) and counts the failure in `susu_gauge_collect_errors_total`.
   */
  registerGauge(spec: GaugeSpec): void;
  /**
   * Adds a counter read at scrape time: a cumulative count kept elsewhere (rows of an
   * append-only fact, never fewer at a later scrape), exported with counter semantics so
   * `rate()` and `increase()` apply. `spec.name` ends in `_total`. Failures as for gauges
   * (the counter has no samples in that scrape).
   */
  registerCounter(spec: GaugeSpec): void;
  /**
   * Adds a histogram read at scrape time (cumulative bucket counts kept elsewhere, e.g.
   * computed from rows that are only ever added). Failures as for gauges (no samples in
   * that scrape). A sample whose counts are not one per bucket, or not ascending, is a
   * failure too: Prometheus would misread it.
   */
  registerHistogram(spec: HistogramSpec): void;
  /** The registry in Prometheus text format (what `/metrics` answers). */
  text(): Promise<string>;
  /** The text format's content type. */
  readonly contentType: string;
}

/** Options of {@link createMetricsRegistry}. */
export interface MetricsRegistryOptions {
  /** Also export the process's CPU, memory, event loop lag and GC metrics. Default true. */
  readonly defaultMetrics?: boolean;
}

const COLLECT_ERRORS = "susu_gauge_collect_errors_total";

/**
 * Creates a registry with `susu_gauge_collect_errors_total{gauge}` and, unless turned off,
 * prom-client's process metrics. The apps add their own counters to `registry` and their
 * scrape-time gauges through `registerGauge`.
 */
export function createMetricsRegistry(options: MetricsRegistryOptions = {}): MetricsRegistry {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  // The registry starts every metric's collect in registration order without waiting for
  // the previous one. The error counter is kept last (re-registered after each gauge) and
  // waits for the gauges' reads, so a scrape counts its own failures.
  const gaugeReads = new Set<Promise<void>>();
  const collectErrors = new Counter({
    name: COLLECT_ERRORS,
    help: "Scrapes in which a gauge could not read its values (its samples are missing from that scrape).",
    labelNames: ["gauge"] as const,
    registers: [registry],
    collect: async () => {
      await Promise.all([...gaugeReads]);
    },
  });

  const registerGauge = (spec: GaugeSpec): void => {
    const labelNames = [...(spec.labelNames ?? [])];
    const gauge: Gauge = new Gauge({
      name: spec.name,
      help: spec.help,
      labelNames,
      registers: [registry],
      // Several processes of one service read the same rows: one's values are the truth, not
      // their sum (prom-client's AggregatorRegistry, used by a multi-process API).
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
    // Exported at 0 from the start, so SusuGaugeCollectFailing's `increase()` sees the first failure.
    collectErrors.inc({ gauge: spec.name }, 0);
    registry.removeSingleMetric(COLLECT_ERRORS);
    registry.registerMetric(collectErrors);
  };

  const registerCounter = (spec: GaugeSpec): void => {
    const labelNames = [...(spec.labelNames ?? [])];
    const counter: Counter = new Counter({
      name: spec.name,
      help: spec.help,
      labelNames,
      registers: [registry],
      // Every process reads the same rows: one's count is the truth, not their sum.
      aggregator: "first",
      collect: async () => {
        const read = (async () => {
          try {
            const samples = await spec.collect();
            counter.reset();
            for (const sample of samples) counter.inc({ ...sample.labels }, sample.value);
          } catch {
            counter.reset();
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
    // Exported at 0 from the start, so SusuGaugeCollectFailing's `increase()` sees the first failure.
    collectErrors.inc({ gauge: spec.name }, 0);
    registry.removeSingleMetric(COLLECT_ERRORS);
    registry.registerMetric(collectErrors);
  };

  const registerHistogram = (spec: HistogramSpec): void => {
    const bounds = [...spec.buckets];
    if (bounds.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= (bounds[i - 1] ?? b))))
      throw new Error(`${spec.name}: buckets must be finite and ascending`);
    type Value = {
      readonly labels: Record<string, string | number>;
      readonly value: number;
      readonly metricName: string;
    };
    const valuesOf = (sample: HistogramSample): Value[] => {
      const counts = sample.cumulativeCounts;
      if (counts.length !== bounds.length || counts.some((c, i) => c > (counts[i + 1] ?? sample.count)))
        throw new Error(`${spec.name}: a sample's bucket counts do not match its buckets`);
      return [
        ...bounds.map((le, i) => ({
          labels: { ...sample.labels, le },
          value: counts[i] ?? 0,
          metricName: `${spec.name}_bucket`,
        })),
        { labels: { ...sample.labels, le: "+Inf" }, value: sample.count, metricName: `${spec.name}_bucket` },
        { labels: { ...sample.labels }, value: sample.sum, metricName: `${spec.name}_sum` },
        { labels: { ...sample.labels }, value: sample.count, metricName: `${spec.name}_count` },
      ];
    };
    // prom-client's Histogram can only observe one value at a time; this one reports counts
    // read elsewhere, so it is a metric object of its own, in prom-client's shape.
    const histogram = {
      name: spec.name,
      help: spec.help,
      type: "histogram",
      labelNames: [...(spec.labelNames ?? [])],
      // As for the counters: every process reads the same rows.
      aggregator: "first",
      get: async () => {
        let values: Value[] = [];
        const read = (async () => {
          try {
            values = (await spec.collect()).flatMap(valuesOf);
          } catch {
            values = [];
            collectErrors.inc({ gauge: spec.name });
          }
        })();
        gaugeReads.add(read);
        try {
          await read;
        } finally {
          gaugeReads.delete(read);
        }
        return { name: spec.name, help: spec.help, type: "histogram", values, aggregator: "first" };
      },
      reset: () => {},
    };
    registry.registerMetric(histogram as unknown as Metric);
    // Exported at 0 from the start, so SusuGaugeCollectFailing's `increase()` sees the first failure.
    collectErrors.inc({ gauge: spec.name }, 0);
    registry.removeSingleMetric(COLLECT_ERRORS);
    registry.registerMetric(collectErrors);
  };

  return {
    registry,
    registerGauge,
    registerCounter,
    registerHistogram,
    text: () => registry.metrics(),
    contentType: registry.contentType,
  };
}
