import type { Context, MiddlewareHandler } from "hono";
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
 * answered sooner.
 */
export interface OverloadLimits {
  /**
   * Requests under the prefix this process serves at once; one more is refused. 0: no limit.
   * The queue this bounds is the wait for a database connection (10 per process by default).
   * A process short of CPU finishes its requests late, so they fill it too.
   */
  readonly maxInFlight: number;
}

/** The guard: its middleware and what it sees. */
export interface OverloadGuard {
  /**
   * Counts the requests under `prefix` being served and refuses new ones past the limit.
   * Requests outside it (health checks, Stripe's webhooks, metrics) are not counted: a
   * webhook is cheap to take and stored durably, and the endpoint refuses one only when the
   * events waiting to be stored reach their own limit ({@link OverloadGuard.refuse}). A request counts until its handler returns its response: a streamed body (no
   * `/v1` route streams) would be sent after.
   */
  middleware(prefix: string): MiddlewareHandler<{ Variables: Pick<RequestLogVariables, "shed"> }>;
  /** Requests under the prefix being served now. */
  inFlight(): number;
  /**
   * The same 503 `overloaded` for a refusal decided elsewhere (the webhook endpoint's backlog
   * of events waiting to be stored): counted, logged at `warn` and left out of the served
   * requests' metrics as the guard's own.
   */
  refuse(
    c: Context<{ Variables: Pick<RequestLogVariables, "shed"> }>,
    reason: Exclude<OverloadReason, "in_flight">,
    detail: string,
  ): Response;
}

/** How long a refused client is asked to wait, seconds. */
export const OVERLOAD_RETRY_AFTER_SECONDS = 1;

/**
 * Why a request was refused: `in_flight`, the process's limit of `/v1` requests at once;
 * `webhook_backlog`, Stripe events waiting to be stored reached their limit.
 */
export type OverloadReason = "in_flight" | "webhook_backlog";

const REASONS: readonly OverloadReason[] = ["in_flight", "webhook_backlog"];

/**
 * Creates the guard. `registry` gets `susu_http_requests_shed_total{reason}` (requests
 * refused; at 0 from the start, so a rate over it never misses the first refusals) and
 * `susu_http_in_flight` (requests under the prefix being served; with several processes
 * behind one scrape, the busiest one's). A refused request is logged at `warn` with the
 * reason (request-log.ts) and left out of `http_requests_total` and the latency histogram
 * (metrics.ts): those describe the requests served. One guard per registry.
 */
export function createOverloadGuard(
  limits: OverloadLimits,
  options: { readonly registry?: Registry } = {},
): OverloadGuard {
  if (!Number.isInteger(limits.maxInFlight) || limits.maxInFlight < 0)
    throw new RangeError(`maxInFlight must be a whole number, 0 or more, got ${limits.maxInFlight}`);
  let inFlight = 0;
  const registry = options.registry;
  const shed =
    registry === undefined
      ? undefined
      : new Counter({
          name: "susu_http_requests_shed_total",
          help: "Requests refused with 503 overloaded, by reason (in_flight: the process's limit of /v1 requests at once; webhook_backlog: Stripe events waiting to be stored reached their limit).",
          labelNames: ["reason"] as const,
          registers: [registry],
        });
  for (const reason of REASONS) shed?.inc({ reason }, 0);
  if (registry !== undefined)
    new Gauge({
      name: "susu_http_in_flight",
      help: "Requests under /v1 the process serves now (several processes: the busiest one's).",
      registers: [registry],
      aggregator: "max",
      collect() {
        this.set(inFlight);
      },
    });

  const refusal = (reason: OverloadReason, detail: string): Response => {
    shed?.inc({ reason });
    return problemResponse(503, "overloaded", `${detail}; retry after ${OVERLOAD_RETRY_AFTER_SECONDS} s`, {
      "retry-after": String(OVERLOAD_RETRY_AFTER_SECONDS),
    });
  };

  return {
    middleware(prefix) {
      const under = `${prefix}/`;
      return async (c, next) => {
        const path = c.req.path;
        // Hono's `${prefix}/*` matches the prefix itself too.
        if (path !== prefix && !path.startsWith(under)) return next();
        if (limits.maxInFlight > 0 && inFlight >= limits.maxInFlight) {
          // The request log writes it at warn with the reason, and the metrics leave it out.
          c.set("shed", "in_flight");
          return refusal(
            "in_flight",
            `this API process is serving its limit of ${limits.maxInFlight} requests at once`,
          );
        }
        inFlight++;
        try {
          await next();
        } finally {
          inFlight--;
        }
      };
    },
    inFlight: () => inFlight,
    refuse(c, reason, detail) {
      c.set("shed", reason);
      return refusal(reason, detail);
    },
  };
}

/** The 503 the guard answers, for the OpenAPI document. */
export const overloadResponses = {
  503: problemDoc("The API process is overloaded; retry after the time given.", ["overloaded"], {
    "Retry-After": { description: "Seconds to wait." },
  }),
} as const;
