/**
 * Prometheus metrics (prom-client): a registry per process with gauges read at scrape time,
 * and a small HTTP server for a process that has no HTTP app of its own (the scheduler).
 *
 * @module
 */
export {
  createMetricsRegistry,
  type GaugeSample,
  type GaugeSpec,
  type HistogramSample,
  type HistogramSpec,
  type MetricsRegistry,
  type MetricsRegistryOptions,
} from "./metrics-registry.js";
export { type MetricsServer, type MetricsServerOptions, serveMetrics } from "./metrics-server.js";
export {
  DEBIT_SETTLEMENT_BUCKETS,
  type PaymentMetricsReader,
  registerPaymentMetrics,
  type ScrapeTimeMetrics,
} from "./payment-metrics.js";
