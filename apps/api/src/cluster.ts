import cluster, { type Worker } from "node:cluster";
import { AggregatorRegistry, type Registry } from "prom-client";

// Several API processes on one port (node:cluster: the primary accepts connections and
// hands them to the workers in turn). The workers share nothing in memory: idempotency
// keys and rate-limit counters are in PostgreSQL, so running N of them is safe. The
// primary only supervises: it starts the workers, says ready once they all serve, stops
// them on a signal (each drains its requests), and answers the workers' requests for the
// metrics of all of them (prom-client's AggregatorRegistry).

const METRICS_REQUEST = "susu:metrics-request";
const METRICS_REPLY = "susu:metrics-reply";
const READY = "susu:ready";

interface MetricsRequest {
  readonly type: typeof METRICS_REQUEST;
  readonly id: number;
}
interface MetricsReply {
  readonly type: typeof METRICS_REPLY;
  readonly id: number;
  readonly text?: string;
  readonly error?: string;
}

/** True in a worker started by {@link startWorkers}. */
export const isApiWorker = (): boolean => cluster.isWorker;

/** What {@link startWorkers} reports. */
export interface ApiWorkers {
  /** Resolves once every worker serves; rejects if one exits first (with its exit code). */
  readonly ready: Promise<void>;
  /** Resolves with the first worker that exits while {@link stop} was not called. */
  readonly exitedOnItsOwn: Promise<{ readonly code: number | null; readonly signal: string | null }>;
  /** SIGTERM to every worker (each drains), resolved when all have exited. */
  stop(): Promise<void>;
  /** SIGKILL to every worker still running. */
  kill(): void;
}

/** Forks `count` workers running this same entry point, with `env` added to theirs. */
export function startWorkers(count: number, env: Readonly<Record<string, string>>): ApiWorkers {
  // Created before the workers, so it listens for their metric replies.
  const aggregator = new AggregatorRegistry();
  const workers: Worker[] = [];
  let stopping = false;
  let readyCount = 0;
  let onReady: () => void = () => undefined;
  let onEarlyExit: (error: Error) => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => {
    onReady = resolve;
    onEarlyExit = reject;
  });
  ready.catch(() => undefined);
  let onOwnExit: (exit: { code: number | null; signal: string | null }) => void = () => undefined;
  const exitedOnItsOwn = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    onOwnExit = resolve;
  });
  for (let i = 0; i < count; i++) {
    const worker = cluster.fork(env);
    workers.push(worker);
    worker.on("message", (message: { type?: string; id?: number }) => {
      if (message?.type === READY && ++readyCount === count) onReady();
      if (message?.type === METRICS_REQUEST && typeof message.id === "number") {
        const id = message.id;
        aggregator.clusterMetrics().then(
          (text) => sendTo(worker, { type: METRICS_REPLY, id, text }),
          (error: unknown) => sendTo(worker, { type: METRICS_REPLY, id, error: String(error) }),
        );
      }
    });
    worker.once("exit", (code, signal) => {
      if (readyCount < count) onEarlyExit(new Error(`an API process exited before it was ready (${code})`));
      if (!stopping) onOwnExit({ code, signal });
    });
  }
  const running = () => workers.filter((w) => w.process.exitCode === null && w.process.signalCode === null);
  const exited = (w: Worker) =>
    w.process.exitCode !== null || w.process.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((resolve) => w.process.once("exit", () => resolve()));
  return {
    ready,
    exitedOnItsOwn,
    async stop() {
      stopping = true;
      const left = running();
      for (const w of left) w.process.kill("SIGTERM");
      await Promise.all(left.map(exited));
    },
    kill() {
      stopping = true;
      for (const w of running()) w.process.kill("SIGKILL");
    },
  };
}

function sendTo(worker: Worker, reply: MetricsReply): void {
  if (worker.isConnected()) worker.send(reply);
}

/** Most a scrape waits for the primary; prom-client's own limit per worker is 5 s. */
const SCRAPE_TIMEOUT_MS = 10_000;
let nextScrapeId = 0;
const pendingScrapes = new Map<number, (reply: MetricsReply) => void>();

/**
 * In a worker: the metrics of every API process, aggregated by the primary (counters and
 * histograms summed, each metric's own aggregator otherwise). Pass as `scrape` to
 * `createHttpMetrics`.
 */
export function scrapeAllWorkers(): Promise<string> {
  if (pendingScrapes.size === 0) process.on("message", onScrapeReply);
  const id = nextScrapeId++;
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => settle({ type: METRICS_REPLY, id, error: "the primary did not answer" }),
      SCRAPE_TIMEOUT_MS,
    );
    const settle = (reply: MetricsReply) => {
      clearTimeout(timer);
      pendingScrapes.delete(id);
      if (pendingScrapes.size === 0) process.off("message", onScrapeReply);
      if (reply.text !== undefined) resolve(reply.text);
      else reject(new Error(`metrics of all API processes: ${reply.error ?? "no answer"}`));
    };
    pendingScrapes.set(id, settle);
    process.send?.({ type: METRICS_REQUEST, id } satisfies MetricsRequest);
  });
}

function onScrapeReply(message: Partial<MetricsReply>): void {
  if (message?.type === METRICS_REPLY && typeof message.id === "number")
    pendingScrapes.get(message.id)?.(message as MetricsReply);
}

/** In a worker: makes prom-client answer the primary with `registry` (not its global one). */
export function shareWorkerMetrics(registry: Registry): void {
  // prom-client starts answering the primary when an AggregatorRegistry is first made.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
}
