import type { Env, Hono, MiddlewareHandler } from "hono";
import { type AuthVariables, bearerAuth, requireRole, type TokenVerifier } from "./auth.js";
import type { ClientIpResolver } from "./client-ip.js";
import type { HttpConfig } from "./config.js";
import { bodyLimit, corsFor, jsonBodies, methodNotAllowed, problemOnError } from "./edge.js";
import { type IdempotencyStore, idempotency } from "./idempotency.js";
import type { HttpMetrics } from "./metrics.js";
import type { OverloadGuard } from "./overload.js";
import { type RateLimitStore, rateLimit } from "./rate-limit.js";
import { type Logger, type RequestLogVariables, requestLog } from "./request-log.js";

/** The Hono variables the infrastructure provides to handlers. */
export type HttpVariables = AuthVariables & RequestLogVariables;

/** What {@link installHttpInfrastructure} needs, built once in the composition root. */
export interface HttpInfrastructure {
  readonly config: HttpConfig;
  readonly logger: Logger;
  readonly metrics: HttpMetrics;
  readonly verifier: TokenVerifier;
  readonly idempotencyStore: IdempotencyStore;
  readonly rateLimitStore: RateLimitStore;
  readonly clientIp: ClientIpResolver;
  /** Refuses new requests under the prefix while the process is overloaded (overload.ts). */
  readonly overload: OverloadGuard;
}

/**
 * Mounts the infrastructure on `app` in the order it must run, before the routes are added
 * (Hono runs handlers in registration order):
 *
 * 1. every path: request id and log line, metrics, CORS;
 * 2. under `prefix` (default `/v1`): the overload guard (503 `overloaded`), bearer auth, rate limit, body limit, JSON bodies,
 *    idempotency;
 * 3. `GET /metrics` for `service` and `admin` tokens;
 * 4. `notFound` (404, or 405 with `Allow`) and `onError` (problem+json, nothing leaked).
 *
 * Routes outside `prefix` (health, the Stripe webhook, docs) get only step 1, so they stay
 * reachable without a token; give them their own body limit.
 */
export function installHttpInfrastructure<E extends Env & { Variables: HttpVariables }>(
  app: Hono<E>,
  infra: HttpInfrastructure,
  prefix = "/v1",
  /** Paths under `prefix` served without a token (the API's own description). */
  publicPaths: readonly string[] = [],
): void {
  const { config } = infra;
  app.use("*", requestLog({ logger: infra.logger }));
  app.use("*", infra.metrics.middleware);
  app.use("*", corsFor(config.corsOrigins));
  const scoped = `${prefix}/*`;
  // First under the prefix: a refusal must cost next to nothing, or refusing does not relieve.
  app.use(scoped, infra.overload.middleware(prefix));
  // Authentication and the rate limit read only headers, so they come first: an anonymous
  // or throttled client never gets its body read or parsed.
  const auth = bearerAuth(infra.verifier) as unknown as MiddlewareHandler<E>;
  app.use(scoped, (c, next) => (publicPaths.includes(c.req.path) ? next() : auth(c, next)));
  app.use(
    scoped,
    rateLimit({
      store: infra.rateLimitStore,
      perSubject: config.rateLimit.perSubjectPerMinute,
      perIp: config.rateLimit.perIpPerMinute,
      clientIp: infra.clientIp,
    }),
  );
  app.use(scoped, bodyLimit(config.bodyLimitBytes));
  app.use(scoped, jsonBodies());
  app.use(
    scoped,
    idempotency({
      store: infra.idempotencyStore,
      ttlMs: config.idempotency.ttlHours * 3600 * 1000,
      lockMs: config.idempotency.lockSeconds * 1000,
    }),
  );
  app.get("/metrics", bearerAuth(infra.verifier), requireRole("service", "admin"), infra.metrics.handler);
  app.notFound(methodNotAllowed(app));
  app.onError(problemOnError);
}
