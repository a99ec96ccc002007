import { monitorEventLoopDelay } from "node:perf_hooks";
import type { MiddlewareHandler } from "hono";
import { Counter, Gauge, type Registry } from "prom-client";
import { problemDoc, problemResponse } from "./problem-response.js";
import type { RequestLogVariables } from "./request-log.js";

/**
 * When an API process stops taking new requests under its prefix (`/v1`), answering them
 * 503 `overloaded` with `Retry-After` at once instead of queueing them.
 *
 * An API past its capacity that queues everything answers everyone late: at 800 requests/s
 * on the 2-core bench machine, with no limit, the median request took 2.9 s and one in seven
 * got no answer within 5 s. A client that gets a fast 503 retries (with the same
 * Idempotency-Key: nothing was stored for it), and the requests the process did take are
 * answered at their usual speed.
 */
export interface OverloadLimits {
  /**
   * Requests under the prefix this process serves at once; one more is refused. 0: no limit.
   * The queue this bounds is the wait for a database connection (10 per process by default).
   */
  readonly maxInFlight: number;
  /**
   * The event loop's mean delay over the last sampling period (ms) above which requests under
   * the prefix are refused until a period is under it again: the process is short of CPU, and
   * requests wait unparsed in its sockets where no count sees them. 0: not watched.
   */
  readonly maxEventLoopDelayMs: number;
}

/** Why a request was refused: too many at once, or a process short of CPU. */
export type OverloadReason = "in_flight" | "event_loop_delay";

/** A source of the event loop's recent delay, ms (a test's stand-in for the real monitor). */
export interface LoopDelaySource {
  /** The mean delay over the last sampling period, ms. */
  current(): number;
  close(): void;
}

/** The guard: its middleware and what it sees. */
export interface OverloadGuard {
  /**
   * Counts the requests under `prefix` being served and refuses new ones while a limit is
   * passed. Requests outside it (health checks, Stripe's webhooks, metrics) are never
   * refused: the webhooks are cheap to take, stored durably, and a refused one waits for
   * Stripe's next retry.
   */
  middleware(prefix: string): MiddlewareHandler<{ Variables: Pick<RequestLogVariables, "shed"> }>;
  /** Requests under the prefix being served now, and the loop's last measured delay. */
  state(): { readonly inFlight: number; readonly eventLoopDelayMs: number };
  /** Stops watching the event loop. */
  close(): void;
}

/** How long a refused client is asked to wait, seconds. */
export const OVERLOAD_RETRY_AFTER_SECONDS = 1;

/** The event loop delay's sampling period, ms. */
const SAMPLE_MS = 500;
/** The delay monitor's resolution, ms (its own timer's period: subtracted from the mean). */
const RESOLUTION_MS = 10;

/** The event loop's delay, watched with Node's own histogram and read every {@link SAMPLE_MS}. */
export function eventLoopDelay(sampleMs: number = SAMPLE_MS): LoopDelaySource {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  let last = 0;
  const timer = setInterval(() => {
    // The mean of an empty period is NaN (no timer fired: the loop was blocked throughout,
    // and the next period's samples carry that delay).
    const mean = histogram.mean / 1e6;
    if (Number.isFinite(mean)) last = Math.max(0, mean - RESOLUTION_MS);
    histogram.reset();
  }, sampleMs);
  timer.unref();
  return {
    current: () => last,
    close: () => {
      clearInterval(timer);
      histogram.disable();
    },
  };
}

/**
 * Creates the guard. `registry` gets `susu_http_in_flight` (requests under the prefix being
 * served) and `susu_http_requests_shed_total{reason}` (requests refused, by reason); the
 * refused requests are also counted as every response is (503, code `overloaded`) and logged at
 * `warn` with the reason.
 */
export function createOverloadGuard(
  limits: OverloadLimits,
  options: { readonly registry?: Registry; readonly loopDelay?: LoopDelaySource } = {},
): OverloadGuard {
  const loop =
    options.loopDelay ??
    (limits.maxEventLoopDelayMs > 0 ? eventLoopDelay() : { current: () => 0, close() {} });
  let inFlight = 0;
  const shed =
    options.registry === undefined
      ? undefined
      : new Counter({
          name: "susu_http_requests_shed_total",
          help: "Requests under /v1 refused with 503 overloaded, by reason (in_flight, event_loop_delay).",
          labelNames: ["reason"] as const,
          registers: [options.registry],
        });
  if (options.registry !== undefined)
    new Gauge({
      name: "susu_http_in_flight",
      help: "Requests under /v1 this process is serving now.",
      registers: [options.registry],
      collect() {
        this.set(inFlight);
      },
    });

  const refusal = (reason: OverloadReason): Response => {
    shed?.inc({ reason });
    const detail =
      reason === "in_flight"
        ? `this API process is serving its limit of ${limits.maxInFlight} requests at once; retry after ${OVERLOAD_RETRY_AFTER_SECONDS} s`
        : `this API process is short of CPU (its event loop runs ${Math.round(loop.current())} ms late); retry after ${OVERLOAD_RETRY_AFTER_SECONDS} s`;
    return problemResponse(503, "overloaded", detail, {
      "retry-after": String(OVERLOAD_RETRY_AFTER_SECONDS),
    });
  };

  return {
    middleware(prefix) {
      const under = `${prefix}/`;
      return async (c, next) => {
        if (!c.req.path.startsWith(under)) return next();
        const reason: OverloadReason | undefined =
          limits.maxInFlight > 0 && inFlight >= limits.maxInFlight
            ? "in_flight"
            : limits.maxEventLoopDelayMs > 0 && loop.current() > limits.maxEventLoopDelayMs
              ? "event_loop_delay"
              : undefined;
        if (reason !== undefined) {
          // The request log writes it at warn, with the reason (request-log.ts).
          c.set("shed", reason);
          return refusal(reason);
        }
        inFlight++;
        try {
          await next();
        } finally {
          inFlight--;
        }
      };
    },
    state: () => ({ inFlight, eventLoopDelayMs: loop.current() }),
    close: () => loop.close(),
  };
}

/** The 503 the guard answers, for the OpenAPI document. */
export const overloadResponses = {
  503: problemDoc("The API process is overloaded; retry after the time given.", ["overloaded"], {
    "Retry-After": { description: "Seconds to wait." },
  }),
} as const;
