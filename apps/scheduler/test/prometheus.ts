import parsePrometheusTextFormat from "parse-prometheus-text-format";
import type { Registry } from "prom-client";

/** A scrape, parsed (which throws on anything that is not valid Prometheus text). */
export interface Scrape {
  /** A counter's or gauge's value for exactly these labels; 0 when the series is absent. */
  value(name: string, labels?: Record<string, string>): number;
  /**
   * An unlabelled histogram's count and sum; zeros when absent. (The parser merges a
   * labelled histogram's series into one: read those with {@link histogramOf}.)
   */
  histogram(name: string): { count: number; sum: number };
  /** The family's type, e.g. `COUNTER`; undefined when it is not exported. */
  typeOf(name: string): string | undefined;
}

/** Parses Prometheus text with a parser of its own (not prom-client, which wrote it). */
export function parseScrape(text: string): Scrape {
  const families = parsePrometheusTextFormat(text);
  const series = (name: string, labels: Record<string, string>) =>
    families
      .find((f) => f.name === name)
      ?.metrics.find((m) => {
        const own = m.labels ?? {};
        const keys = Object.keys(own);
        return keys.length === Object.keys(labels).length && keys.every((k) => own[k] === labels[k]);
      });
  return {
    value: (name, labels = {}) => Number(series(name, labels)?.value ?? 0),
    histogram: (name) => {
      const s = series(name, {});
      return { count: Number(s?.count ?? 0), sum: Number(s?.sum ?? 0) };
    },
    typeOf: (name) => families.find((f) => f.name === name)?.type,
  };
}

/** A labelled histogram's count and sum for exactly these labels, read from the registry. */
export async function histogramOf(
  registry: Registry,
  name: string,
  labels: Record<string, string>,
): Promise<{ count: number; sum: number }> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`no metric ${name}`);
  // Histograms' values name their series (`_bucket`, `_sum`, `_count`).
  const values = (await metric.get()).values as { metricName?: string; labels: object; value: number }[];
  const of = (suffix: string) =>
    values.find(
      (v) =>
        v.metricName === `${name}_${suffix}` &&
        Object.keys(labels).length === Object.keys(v.labels).length &&
        Object.entries(labels).every(([k, value]) => (v.labels as Record<string, unknown>)[k] === value),
    )?.value ?? 0;
  return { count: of("count"), sum: of("sum") };
}
