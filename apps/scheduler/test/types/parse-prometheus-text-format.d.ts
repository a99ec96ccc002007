// The package ships no types. Its output follows prom2json: values are strings.
declare module "parse-prometheus-text-format" {
  interface Sample {
    readonly labels?: Record<string, string>;
    readonly value?: string;
    readonly buckets?: Record<string, string>;
    readonly count?: string;
    readonly sum?: string;
  }
  interface MetricFamily {
    readonly name: string;
    readonly help: string;
    readonly type: "COUNTER" | "GAUGE" | "HISTOGRAM" | "SUMMARY" | "UNTYPED";
    readonly metrics: readonly Sample[];
  }
  /** Parses the Prometheus text format; throws on a line that is not valid. */
  export default function parsePrometheusTextFormat(text: string): MetricFamily[];
}
