import type { MiddlewareHandler } from "hono";
import type { Principal } from "./auth.js";
import type { ClientIpResolver } from "./client-ip.js";
import { problemDoc, problemResponse, type ResponseDoc } from "./problem-response.js";
import {
  type RateGrant,
  RateLeases,
  type RateLimitStore,
  type RateWindow,
  type WindowCounts,
} from "./rate-lease.js";
import type { Logger } from "./request-log.js";
import { setResponseHeaders } from "./response-headers.js";

export type { RateLimitStore, RateWindow, WindowCounts } from "./rate-lease.js";

/** One limit the request is counted against. */
export interface RateBucket {
  /** The bucket's key, e.g. `sub:ana` or `ip:203.0.113.7`. */
  readonly key: string;
  /** Requests allowed per window. */
  readonly limit: number;
}

/** The sliding-window verdict for one bucket. */
export interface RateDecision {
  readonly allowed: boolean;
  readonly limit: number;
  /** Requests left in the window (never negative). */
  readonly remaining: number;
  /** Seconds until the current fixed window ends (`RateLimit-Reset`). */
  readonly resetSeconds: number;
  /** When refused: seconds until a request would be allowed (`Retry-After`). */
  readonly retryAfterSeconds: number;
}

/**
 * Decides one bucket with the sliding-window counter: the estimate is this window's count
 * plus the previous window's weighted by how much of it still overlaps the sliding
 * window. Unlike a plain fixed window it does not let through twice the limit around a
 * window boundary, yet needs only two counters per bucket.
 */
export function slidingWindowDecision(
  counts: WindowCounts,
  limit: number,
  nowMs: number,
  window: RateWindow,
): RateDecision {
  const elapsed = Math.min(1, Math.max(0, (nowMs - window.startMs) / window.lengthMs));
  const estimate = counts.previous * (1 - elapsed) + counts.current;
  const resetMs = window.startMs + window.lengthMs - nowMs;
  const allowed = estimate <= limit;
  return {
    allowed,
    limit,
    remaining: Math.max(0, Math.floor(limit - estimate)),
    resetSeconds: Math.max(0, Math.ceil(resetMs / 1000)),
    retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil(waitMs(counts, limit, elapsed, window) / 1000)),
  };
}

/** How long until one more request fits under the limit, if no other request arrives meanwhile. */
function waitMs(counts: WindowCounts, limit: number, elapsed: number, window: RateWindow): number {
  const W = window.lengthMs;
  // In this window: previous × (1 − e) + current + 1 ≤ limit.
  if (counts.current + 1 <= limit) {
    if (counts.previous === 0) return 0;
    const e = 1 - (limit - counts.current - 1) / counts.previous;
    return Math.max(0, (e - elapsed) * W);
  }
  // Not before the next window, where this window's count becomes the weighted one:
  // current × (1 − e′) + 1 ≤ limit.
  const untilNext = (1 - elapsed) * W;
  const e = limit >= 1 ? Math.max(0, 1 - (limit - 1) / counts.current) : 1;
  return untilNext + e * W;
}

/**
 * The verdict for one bucket from what its lease gave: allowed when a unit was spent;
 * `remaining` counts the units this process still holds plus the room the store's count
 * leaves (other processes' unspent units count as used, so it never overstates).
 */
export function grantDecision(
  grant: RateGrant,
  limit: number,
  nowMs: number,
  window: RateWindow,
): RateDecision {
  const estimate = slidingWindowDecision(grant.counts, limit, nowMs, window);
  if (grant.allowed)
    return {
      ...estimate,
      allowed: true,
      remaining: estimate.remaining + grant.unitsLeft,
      retryAfterSeconds: 0,
    };
  return {
    ...estimate,
    allowed: false,
    remaining: 0,
    retryAfterSeconds: estimate.allowed ? 1 : estimate.retryAfterSeconds,
  };
}

/** Options of {@link rateLimit}. */
export interface RateLimitOptions {
  readonly store: RateLimitStore;
  /** Requests per window per token subject (after `bearerAuth`); 0 turns it off. */
  readonly perSubject: number;
  /** Requests per window per client address; 0 turns it off. */
  readonly perIp: number;
  /** Default 60 000 (the limits are per minute). */
  readonly windowMs?: number;
  /** The client's address; see `clientIpResolver`. Without one, only the subject is limited. */
  readonly clientIp?: ClientIpResolver;
  /** The current time in ms; default `Date.now`. */
  readonly now?: () => number;
}

/**
 * Limits requests per token subject and per client IP with a sliding window counted in a
 * shared store, so the limits hold across API processes. The units of a bucket's window are
 * leased from the store a block at a time and spent in memory ({@link RateLeases}): a
 * bucket's first request in a window costs a statement (one for all its buckets), most
 * others none, and what every process admits together never exceeds the limit. Answers 429 `rate_limited` with `Retry-After` when any bucket is over,
 * and sets `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` and
 * `RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers) from the tightest bucket on
 * every response. Refused requests count too: a client that ignores `Retry-After` stays
 * limited. Mount after `bearerAuth` so the subject is known; requests it refuses (401) are
 * not counted (verifying a token needs no database, so they cost little).
 *
 * If the store fails the request is let through and a warning logged: a database outage
 * should surface as the handlers' own errors, not as every client being refused.
 */
export function rateLimit(
  options: RateLimitOptions,
): MiddlewareHandler<{ Variables: { principal?: Principal; log?: Logger } }> {
  const windowMs = options.windowMs ?? 60_000;
  if (!Number.isInteger(windowMs) || windowMs < 1_000)
    throw new RangeError(`windowMs must be a whole number of at least 1000, got ${windowMs}`);
  for (const [name, value] of [
    ["perSubject", options.perSubject],
    ["perIp", options.perIp],
  ] as const)
    if (!Number.isInteger(value) || value < 0)
      throw new RangeError(`${name} must be a non-negative whole number, got ${value}`);
  const now = options.now ?? Date.now;
  const policySeconds = Math.round(windowMs / 1000);
  const leases = new RateLeases(options.store);

  return async (c, next) => {
    const buckets: RateBucket[] = [];
    const subject = c.get("principal")?.subject;
    if (options.perSubject > 0 && subject !== undefined)
      buckets.push({ key: `sub:${subject}`, limit: options.perSubject });
    const ip = options.clientIp?.(c);
    if (options.perIp > 0 && ip !== undefined) buckets.push({ key: `ip:${ip}`, limit: options.perIp });
    if (buckets.length === 0) return next();

    const nowMs = now();
    const window = { startMs: Math.floor(nowMs / windowMs) * windowMs, lengthMs: windowMs };
    let grants: readonly RateGrant[];
    try {
      grants = await Promise.all(buckets.map((b) => leases.take(b.key, b.limit, window, nowMs)));
    } catch (error) {
      c.get("log")?.warn(
        { err: error instanceof Error ? { name: error.name, code: codeOf(error) } : String(error) },
        "rate limit store failed; request let through",
      );
      return next();
    }
    const decisions = buckets.map((bucket, i) =>
      grantDecision(grants[i] as RateGrant, bucket.limit, nowMs, window),
    );
    const refused = decisions.filter((d) => !d.allowed);
    const tightest = decisions.reduce((a, b) => (b.remaining < a.remaining ? b : a));
    const headers: Record<string, string> = {
      "ratelimit-limit": String(tightest.limit),
      "ratelimit-remaining": String(tightest.remaining),
      "ratelimit-reset": String(tightest.resetSeconds),
      "ratelimit-policy": decisions.map((d) => `${d.limit};w=${policySeconds}`).join(", "),
    };
    if (refused.length > 0) {
      const retryAfter = Math.max(...refused.map((d) => d.retryAfterSeconds));
      return problemResponse(429, "rate_limited", `too many requests; retry in ${retryAfter} s`, {
        ...headers,
        "retry-after": String(retryAfter),
      });
    }
    await next();
    setResponseHeaders(c, headers);
  };
}

function codeOf(error: Error): string | undefined {
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

/** The response {@link rateLimit} may give, for a route's OpenAPI `responses`. */
export const rateLimitResponses = {
  429: problemDoc("Too many requests from this caller or address.", ["rate_limited"], {
    "Retry-After": { description: "Seconds until a request would be accepted." },
    "RateLimit-Limit": { description: "Requests allowed per window (tightest limit)." },
    "RateLimit-Remaining": { description: "Requests left in the window." },
    "RateLimit-Reset": { description: "Seconds until the window ends." },
  }),
} satisfies Record<number, ResponseDoc>;
