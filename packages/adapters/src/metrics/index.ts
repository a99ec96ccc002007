/**
 * Prometheus metrics (prom-client): a registry per process, with gauges read at scrape time.
 *
 * @module
 */
export {
  createMetricsRegistry,
  type GaugeSample,
  type GaugeSpec,
  type MetricsRegistry,
  type MetricsRegistryOptions,
} from "./metrics-registry.js";
