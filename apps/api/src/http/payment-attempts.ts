import { createHash } from "node:crypto";
import { z } from "@hono/zod-openapi";
import { Counter, type Registry } from "prom-client";
import type { Principal } from "./auth.js";
import { ProblemSchema, problemBody, problemDoc, type ResponseDoc } from "./problem-response.js";

// Limits on payment attempts, on top of Stripe's own fraud checks: how many payments one
// person, one card (a saved payment method, a card fingerprint) and one customer email may
// start in a window, and a card whose charges Stripe reported failed several times is
// refused for a while. Counted in PostgreSQL (`PrismaPaymentAttemptStore` in @susu/adapters)
// so the limits hold across API processes. Any route that starts a payment calls
// `PaymentAttemptLimiter.admit` before it stores anything, and answers a refusal with
// `paymentAttemptRefused`.

/** One limit: at most `max` attempts in any `windowMs`; `max` 0 turns it off. */
export interface PaymentAttemptLimit {
  readonly max: number;
  readonly windowMs: number;
}

/** Every limit the limiter applies (see `payment-attempt-config.ts` for the defaults and why). */
export interface PaymentAttemptLimits {
  /** Per person: the principal asking (unless a `service` token) and the paying customer, when a person. */
  readonly perPerson: PaymentAttemptLimit;
  /** Per card: the saved payment method paid with, and its card fingerprint when known. */
  readonly perCard: PaymentAttemptLimit;
  /** Per customer email (Checkout payments: the card is only known at Stripe). */
  readonly perCustomerEmail: PaymentAttemptLimit;
  /** Failed charges of one card fingerprint after which it is refused, in the window. */
  readonly cardFailures: PaymentAttemptLimit;
}

/** Which limit refused an attempt (the problem's `limit`). */
export const PAYMENT_ATTEMPT_LIMIT_NAMES = ["person", "card", "customer_email", "card_failures"] as const;
export type PaymentAttemptLimitName = (typeof PAYMENT_ATTEMPT_LIMIT_NAMES)[number];

/** What a route knows about the payment it is about to start. */
export interface PaymentAttempt {
  /**
   * What makes a repeat the same attempt, e.g. `held_payment:<caller>:<clientReference>`:
   * an attempt already counted under this key is admitted again without counting twice.
   */
  readonly key: string;
  readonly principal: Principal;
  /** The paying customer, when they are a susu person. */
  readonly customerPersonId?: string;
  /** The saved payment method the payment uses (`pm_…`), when one is given. */
  readonly paymentMethodId?: string;
  /** The card's fingerprint, when known before the payment (a saved card's). */
  readonly cardFingerprint?: string;
  /** The customer's email (any case; compared lower-cased, stored only as a hash). */
  readonly customerEmail?: string;
}

/** A refusal: which limit, its terms, and when an attempt would be admitted again. */
export interface PaymentAttemptRefusal {
  readonly limit: PaymentAttemptLimitName;
  readonly max: number;
  readonly windowSeconds: number;
  /** Attempts left in the window: always 0 for a refusal. */
  readonly remaining: 0;
  readonly retryAfterSeconds: number;
}

/** The limiter's answer. */
export type PaymentAttemptVerdict =
  | {
      readonly admitted: true;
      /** The attempt was counted before (a repeat), so it was not counted again. */
      readonly repeat: boolean;
      /** Attempts left after this one under the tightest counted limit (undefined: no limit applied). */
      readonly remaining: number | undefined;
    }
  | { readonly admitted: false; readonly refusal: PaymentAttemptRefusal };

/** One bucket's log in the window at the time of an attempt, as the store reads it. */
export interface AttemptBucketLog {
  readonly key: string;
  /** When the bucket's other attempts in the window were admitted (ms), oldest first. */
  readonly times: readonly number[];
  /** This attempt's key is already in the bucket. */
  readonly repeat: boolean;
}

/** A bucket to check: its key, its window, whether an admitted attempt is written to it. */
export interface AttemptBucketSpan {
  readonly key: string;
  readonly windowMs: number;
  readonly counted: boolean;
}

/**
 * Where attempts are counted: shared by every API process (`PrismaPaymentAttemptStore`),
 * or each process would admit the limit on its own. `admit` reads the buckets' logs, calls
 * `decide` and writes the attempt to the counted buckets if it returns true — atomically
 * with respect to any other `admit` on the same buckets.
 */
export interface PaymentAttemptStore {
  admit(
    attemptKey: string,
    buckets: readonly AttemptBucketSpan[],
    nowMs: number,
    decide: (logs: readonly AttemptBucketLog[]) => boolean,
  ): Promise<{ readonly admitted: boolean; readonly logs: readonly AttemptBucketLog[] }>;
  /** Deletes attempts and failures past their window at `nowMs` (a bounded batch); returns how many. */
  deleteExpired(nowMs: number): Promise<number>;
}

/** The sliding-log verdict for one bucket. */
export interface SlidingLogDecision {
  readonly allowed: boolean;
  /** Attempts left in the window after this one (0 when refused). */
  readonly remaining: number;
  /** When refused: ms until an attempt would be allowed, if no other arrives meanwhile. */
  readonly retryAfterMs: number;
}

/**
 * The sliding log: an attempt at `nowMs` is allowed when fewer than `limit` attempts were
 * admitted in the window `(nowMs − windowMs, nowMs]`. Refused, it may be retried when enough
 * of the oldest have left the window for one more to fit: the (n − limit + 1)-th oldest of
 * the n in the window leaves at its time + `windowMs`. Exact, unlike a windowed counter's
 * estimate: no burst at a window's edge, and `Retry-After` is when it is allowed, not a guess.
 */
export function slidingLogDecision(
  times: readonly number[],
  limit: number,
  windowMs: number,
  nowMs: number,
): SlidingLogDecision {
  const inWindow = times.filter((t) => t > nowMs - windowMs && t <= nowMs).sort((a, b) => a - b);
  if (inWindow.length < limit)
    return { allowed: true, remaining: limit - inWindow.length - 1, retryAfterMs: 0 };
  const leaving = inWindow[inWindow.length - limit] as number;
  return { allowed: false, remaining: 0, retryAfterMs: leaving + windowMs - nowMs };
}

/** The bucket of a card fingerprint's failed charges; the webhook processor records them (adapters). */
export const CARD_FAILED_BUCKET_PREFIX = "card_failed:";

interface Bucket extends AttemptBucketSpan {
  readonly limit: PaymentAttemptLimitName;
  readonly max: number;
}

/** Options of {@link PaymentAttemptLimiter}. */
export interface PaymentAttemptLimiterOptions {
  readonly store: PaymentAttemptStore;
  readonly limits: PaymentAttemptLimits;
  /** The current time in ms; default `Date.now`. */
  readonly now?: () => number;
  /** Told of every refusal (a metric: `susu_payment_attempts_refused_total{limit}`). */
  readonly onRefused?: (refusal: PaymentAttemptRefusal) => void;
}

/**
 * Admits or refuses payment attempts under {@link PaymentAttemptLimits}. An attempt is
 * checked against every bucket it falls in (`person:<id>`, `pm:<id>`, `card:<fingerprint>`,
 * `email:<sha-256>`, and the fingerprint's failed charges) and admitted only when all
 * allow it; then it counts in each of them, whatever the payment's outcome. A refused
 * attempt writes nothing. A repeat (the same `key` already counted) is admitted again
 * without counting, so retries of a request already admitted are not counted twice.
 */
export class PaymentAttemptLimiter {
  readonly #store: PaymentAttemptStore;
  readonly #limits: PaymentAttemptLimits;
  readonly #now: () => number;
  readonly #onRefused: (refusal: PaymentAttemptRefusal) => void;

  constructor(options: PaymentAttemptLimiterOptions) {
    for (const [name, limit] of Object.entries(options.limits) as [string, PaymentAttemptLimit][]) {
      if (!Number.isInteger(limit.max) || limit.max < 0)
        throw new RangeError(`${name}.max must be a non-negative whole number, got ${limit.max}`);
      if (!Number.isInteger(limit.windowMs) || limit.windowMs < 1)
        throw new RangeError(`${name}.windowMs must be a positive whole number, got ${limit.windowMs}`);
    }
    this.#store = options.store;
    this.#limits = options.limits;
    this.#now = options.now ?? Date.now;
    this.#onRefused = options.onRefused ?? (() => undefined);
  }

  /** The buckets `attempt` falls in, for the limits turned on. */
  bucketsOf(attempt: PaymentAttempt): readonly Bucket[] {
    const buckets = new Map<string, Bucket>();
    const add = (key: string, limit: PaymentAttemptLimitName, terms: PaymentAttemptLimit, counted = true) => {
      if (terms.max > 0) buckets.set(key, { key, limit, max: terms.max, windowMs: terms.windowMs, counted });
    };
    const { perPerson, perCard, perCustomerEmail, cardFailures } = this.#limits;
    // A service token is a client app's backend asking for many customers: its customers
    // are limited (by person or email), not the app itself.
    if (!attempt.principal.roles.includes("service"))
      add(`person:${attempt.principal.subject}`, "person", perPerson);
    if (attempt.customerPersonId !== undefined)
      add(`person:${attempt.customerPersonId}`, "person", perPerson);
    if (attempt.paymentMethodId !== undefined) add(`pm:${attempt.paymentMethodId}`, "card", perCard);
    if (attempt.cardFingerprint !== undefined) {
      add(`card:${attempt.cardFingerprint}`, "card", perCard);
      add(`${CARD_FAILED_BUCKET_PREFIX}${attempt.cardFingerprint}`, "card_failures", cardFailures, false);
    }
    if (attempt.customerEmail !== undefined)
      add(`email:${emailDigest(attempt.customerEmail)}`, "customer_email", perCustomerEmail);
    return [...buckets.values()];
  }

  /**
   * Admits `attempt` (counting it) or refuses it (changing nothing). Rejects when the store
   * fails: the caller answers 503 rather than let payments through unlimited.
   */
  async admit(attempt: PaymentAttempt): Promise<PaymentAttemptVerdict> {
    const buckets = this.bucketsOf(attempt);
    if (buckets.length === 0) return { admitted: true, repeat: false, remaining: undefined };
    const nowMs = this.#now();
    const byKey = new Map(buckets.map((b) => [b.key, b]));
    let refusal: PaymentAttemptRefusal | undefined;
    let repeat = false;
    let remaining: number | undefined;
    await this.#store.admit(attempt.key, buckets, nowMs, (logs) => {
      const counted = logs.filter((log) => byKey.get(log.key)?.counted === true);
      // Counted before in every bucket it counts in: a repeat, admitted as it was.
      repeat = counted.length > 0 && counted.every((log) => log.repeat);
      if (repeat) return false;
      refusal = undefined;
      remaining = undefined;
      for (const log of logs) {
        const bucket = byKey.get(log.key) as Bucket;
        const decision = slidingLogDecision(log.times, bucket.max, bucket.windowMs, nowMs);
        if (!decision.allowed) {
          const retryAfterSeconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
          if (refusal === undefined || retryAfterSeconds > refusal.retryAfterSeconds)
            refusal = {
              limit: bucket.limit,
              max: bucket.max,
              windowSeconds: Math.ceil(bucket.windowMs / 1000),
              remaining: 0,
              retryAfterSeconds,
            };
        } else if (bucket.counted) remaining = Math.min(remaining ?? decision.remaining, decision.remaining);
      }
      return refusal === undefined;
    });
    if (repeat) return { admitted: true, repeat: true, remaining: undefined };
    if (refusal !== undefined) {
      this.#onRefused(refusal);
      return { admitted: false, refusal };
    }
    return { admitted: true, repeat: false, remaining };
  }

  /** Deletes what left every window at `nowMs` (the API's maintenance runs it). */
  deleteExpired(nowMs: number): Promise<number> {
    return this.#store.deleteExpired(nowMs);
  }
}

/**
 * `susu_payment_attempts_refused_total{limit}` in `metrics`' registry, as an `onRefused`:
 * each process counts its own refusals (summed across cluster workers, as counters are).
 */
export function countRefusals(metrics: {
  readonly registry: Registry;
}): (refusal: PaymentAttemptRefusal) => void {
  const refused = new Counter({
    name: "susu_payment_attempts_refused_total",
    help: "Payment attempts refused by the payment-attempt limits, by limit (person, card, customer_email, card_failures).",
    labelNames: ["limit"] as const,
    registers: [metrics.registry],
  });
  return (refusal) => refused.inc({ limit: refusal.limit });
}

/** A customer email as the limiter keys it: trimmed, lower-cased, SHA-256 (no address is stored). */
export function emailDigest(email: string): string {
  return createHash("sha256").update(email.trim().toLowerCase()).digest("hex");
}

const LIMIT_WORDS: Record<PaymentAttemptLimitName, string> = {
  person: "payment attempts by this person",
  card: "payment attempts with this card",
  customer_email: "payment attempts for this customer email",
  card_failures: "failed payments with this card",
};

/** The problem {@link paymentAttemptRefused} sends: a problem with the refusing limit's terms. */
export const PaymentAttemptsProblemSchema = ProblemSchema.extend({
  limit: z.enum(PAYMENT_ATTEMPT_LIMIT_NAMES).optional().openapi({
    description:
      "`payment_attempts_exceeded`: the limit that refused: attempts by the person, with the card, for the customer email, or failed payments with the card",
  }),
  max: z
    .number()
    .int()
    .optional()
    .openapi({ description: "`payment_attempts_exceeded`: the attempts the limit allows in its window" }),
  windowSeconds: z
    .number()
    .int()
    .optional()
    .openapi({ description: "`payment_attempts_exceeded`: the limit's window" }),
  remaining: z
    .number()
    .int()
    .optional()
    .openapi({ description: "`payment_attempts_exceeded`: attempts left in the window (0)" }),
  retryAfterSeconds: z.number().int().optional().openapi({
    description: "`payment_attempts_exceeded`: seconds until an attempt would be admitted (as `Retry-After`)",
  }),
}).openapi("PaymentAttemptsProblem");

/**
 * The refusal as a response: 429 problem+json `payment_attempts_exceeded` naming the limit,
 * its terms and the wait, with `Retry-After`.
 */
export function paymentAttemptRefused(refusal: PaymentAttemptRefusal): Response {
  // Typed by the documented schema: a field added here and not there fails to compile.
  const body: z.infer<typeof PaymentAttemptsProblemSchema> = {
    ...problemBody(
      429,
      "payment_attempts_exceeded",
      `too many ${LIMIT_WORDS[refusal.limit]}: at most ${refusal.max} in ${refusal.windowSeconds} s; retry in ${refusal.retryAfterSeconds} s`,
    ),
    limit: refusal.limit,
    max: refusal.max,
    windowSeconds: refusal.windowSeconds,
    remaining: refusal.remaining,
    retryAfterSeconds: refusal.retryAfterSeconds,
  };
  return new Response(JSON.stringify(body), {
    status: 429,
    headers: { "content-type": "application/problem+json", "retry-after": String(refusal.retryAfterSeconds) },
  });
}

/** The 429 a route that starts payments may answer, for its OpenAPI `responses`. */
export const paymentAttemptResponses = {
  429: problemDoc(
    "Too many requests, or too many payment attempts by this person, card or customer email (`limit`, `max`, `windowSeconds`, `retryAfterSeconds` say which and when).",
    ["rate_limited", "payment_attempts_exceeded"],
    { "Retry-After": { description: "Seconds until a request would be accepted." } },
    PaymentAttemptsProblemSchema,
  ),
  503: problemDoc(
    "The identity provider's keys, or the payment-attempt limits, could not be checked; retry.",
    ["auth_unavailable", "payment_attempt_limits_unavailable"],
  ),
} satisfies Record<number, ResponseDoc>;
