import { availableParallelism } from "node:os";
import { type AdminNoticeEnv, NOTIFY_ENDPOINT_ENV, parseAdminNoticeEnv } from "@susu/adapters";
import {
  type CurrencyCode,
  canonicalTimeZone,
  DEFAULT_HELD_PAYMENT_POLICY,
  DEFAULT_MARKETPLACE_POLICY,
  type HeldPaymentPolicy,
  heldPaymentPolicyProblem,
  isCurrencyCode,
  isEntitlements,
  MAX_OPEN_GROUPS_LIMIT,
  type MarketplacePolicy,
  parsePayoutSchedule,
} from "@susu/domain";
import { z } from "zod";
import { type ConfigProblem, type HttpConfig, HttpConfigError, readHttpConfig } from "./http/config.js";
import { readPaymentAttemptLimits } from "./http/payment-attempt-config.js";
import type { PaymentAttemptLimits } from "./http/payment-attempts.js";

const PROCESSES_RULE = "must be a whole number from 1 to 64, or auto";
const PAYOUT_SCHEDULE_RULE = "must be manual, daily, weekly:<monday…sunday> or monthly:<1-31>";

/** A whole number from `min` to `max`. */
function wholeNumberFrom(min: number, max: number) {
  const rule = `must be a whole number from ${min} to ${max}`;
  return z.coerce.number({ error: rule }).int(rule).min(min, rule).max(max, rule);
}

/** A blank value read as unset. */
function blankIsUnset<T extends z.ZodType>(schema: T) {
  return z.preprocess(
    (value) => (typeof value === "string" && value.trim() === "" ? undefined : value),
    schema,
  );
}

/** A whole number from `min` to `max`; unset or blank: `fallback`. */
function wholeNumber(min: number, max: number, fallback: number) {
  return blankIsUnset(wholeNumberFrom(min, max).default(fallback));
}

/** A whole number from `min` to `max`; unset or blank: undefined. */
function optionalWholeNumber(min: number, max: number) {
  return blankIsUnset(wholeNumberFrom(min, max).optional());
}

const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
  HOST: z.string().default("127.0.0.1"),
  DATABASE_URL: z.string().url().optional(),
  /** The Stripe webhook endpoint's signing secret (`whsec_…`). */
  STRIPE_WEBHOOK_SECRET: z.string().min(1),
  STRIPE_SECRET_KEY: z.string().min(1),
  /** Where the Stripe API is: unset for Stripe itself, e.g. http://127.0.0.1:12111 for the emulator. */
  STRIPE_API_URL: z.string().url().optional(),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /**
   * When the connected accounts susu creates pay out to their bank: `manual` (default: the
   * platform holds the funds and the scheduler's payout run pays them out), `daily`,
   * `weekly:<weekday>` or `monthly:<day>` (Stripe's automatic schedules). Only new accounts get
   * it: an existing account keeps its schedule at Stripe, which decides whether susu pays it
   * out (this setting only when Stripe does not say). See the README.
   */
  SUSU_CONNECTED_PAYOUT_SCHEDULE: z
    .string()
    .default("manual")
    .transform((text, ctx) => {
      const schedule = parsePayoutSchedule(text);
      if (schedule === undefined) {
        ctx.addIssue({ code: "custom", message: PAYOUT_SCHEDULE_RULE });
        return z.NEVER;
      }
      return schedule;
    }),
  /**
   * The held payments' dispute window when a payment names none (72 h), and the shortest a
   * payment may name (1 h), in seconds. `npm start` on the emulator lowers the shortest to a
   * minute so a walkthrough can see a release.
   */
  SUSU_HELD_DISPUTE_WINDOW_SECONDS: z.coerce
    .number()
    .int()
    .positive()
    .default(72 * 3600),
  SUSU_HELD_DISPUTE_WINDOW_MIN_SECONDS: z.coerce.number().int().positive().default(3600),
  /**
   * The currencies the platform's Stripe balance settles in (its default currency, and any it
   * has a bank account in), comma-separated: held payments and marketplace charges pay their
   * sellers by transfers in the charge's settlement currency (funded by the charge, or made by
   * Stripe for a destination charge) and susu books and reverses them in the charge's amounts,
   * so they are taken only in these (422 `currency_not_settled`). Default AUD (the emulator's
   * platform, and the BECS rounds'); blank as unset.
   */
  SUSU_SETTLEMENT_CURRENCIES: z
    .string()
    .optional()
    .transform((raw, ctx) => {
      const text = raw === undefined || raw.trim() === "" ? "AUD" : raw;
      const codes = text
        .split(",")
        .map((c) => c.trim().toUpperCase())
        .filter((c) => c.length > 0);
      const unknown = codes.filter((c) => !isCurrencyCode(c));
      if (codes.length === 0 || unknown.length > 0) {
        ctx.addIssue({
          code: "custom",
          message:
            codes.length === 0
              ? "must name at least one currency, e.g. AUD or AUD,USD"
              : `names currencies susu does not know: ${unknown.join(", ")}`,
        });
        return z.NEVER;
      }
      return [...new Set(codes)] as CurrencyCode[];
    }),
  /**
   * What people without a membership may do, as JSON: `{"createGroups":bool,
   * "maxOpenGroups":int|null,"sellBookings":bool}`. Unset: everything (today's behaviour);
   * a membership's plan widens it. See the README.
   */
  SUSU_DEFAULT_ENTITLEMENTS: z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined || text.trim() === "") return undefined;
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      if (!isEntitlements(parsed)) {
        ctx.addIssue({
          code: "custom",
          message: `must be JSON like {"createGroups":true,"maxOpenGroups":null,"sellBookings":true} (maxOpenGroups a whole number 0–${MAX_OPEN_GROUPS_LIMIT} or null)`,
        });
        return z.NEVER;
      }
      return parsed;
    }),
  /**
   * The IANA time zone of a group created without one (its rounds open on the start's local
   * day and time there). Default `Australia/Sydney`: BECS debits are Australian.
   */
  SUSU_DEFAULT_TIME_ZONE: z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined || text.trim() === "") return "Australia/Sydney";
      const zone = canonicalTimeZone(text);
      if (zone === undefined) {
        ctx.addIssue({ code: "custom", message: "must be an IANA time zone name, e.g. Australia/Sydney" });
        return z.NEVER;
      }
      return zone;
    }),
  /**
   * How many API processes serve the port (node:cluster): a whole number from 1 to 64, or
   * `auto` for one per CPU. Default 1 (`npm start` also runs the scheduler, PostgreSQL and
   * the emulator on the same machine); a machine that only serves the API wants `auto`.
   */
  /** Most PostgreSQL connections each API process opens (its pool). Default 10. */
  API_DB_POOL_SIZE: wholeNumber(1, 1_000, 10),
  /**
   * How many of those connections stay open while idle (opened before the API listens);
   * above it, idle ones close after 10 s. Default: all of them (`API_DB_POOL_SIZE`). Every
   * API process holds these for good: keep API_PROCESSES × this, plus the schedulers'
   * pools, under PostgreSQL's max_connections.
   */
  API_DB_POOL_MIN: optionalWholeNumber(0, 1_000),
  /**
   * The webhook endpoint stores concurrent deliveries in one transaction: at most this
   * many events (default 64), gathered for at most `SUSU_WEBHOOK_BATCH_WAIT_MS` ms (default 0:
   * whatever arrived in the same turn of the event loop, or while earlier batches were being
   * written; a wait only adds latency, see DEFAULT_WEBHOOK_INGEST_BATCHING). Each delivery is answered only
   * once its batch has committed.
   */
  SUSU_WEBHOOK_BATCH_MAX: wholeNumber(1, 1_000, 64),
  SUSU_WEBHOOK_BATCH_WAIT_MS: wholeNumber(0, 1_000, 0),
  /**
   * Most Stripe events waiting to be stored (behind the batches being written) before the
   * webhook endpoint answers new deliveries 503 `overloaded`, so Stripe delivers them again
   * later, instead of holding them in memory for longer than Stripe waits. Default 4,096.
   */
  SUSU_WEBHOOK_MAX_WAITING: wholeNumber(1, 1_000_000, 4_096),
  /**
   * Which URLs `POST /v1/notification-endpoints` takes (the scheduler reads it too, and checks
   * again before each send): `public` (default) https only, no credentials, no loopback,
   * private, link-local, CGNAT… address or `localhost`; `any` also plain http and those
   * addresses, for development and tests (`npm start` on the emulator sets it). See the README.
   */
  ...NOTIFY_ENDPOINT_ENV,
  API_PROCESSES: z
    .preprocess(
      (value) => (value === "" ? undefined : value),
      z
        .union([z.literal("auto"), z.coerce.number().int().min(1, PROCESSES_RULE).max(64, PROCESSES_RULE)], {
          error: PROCESSES_RULE,
        })
        .optional(),
    )
    .transform((value) =>
      value === undefined ? 1 : value === "auto" ? Math.min(64, availableParallelism()) : value,
    ),
});

/** The API's settings, parsed once from the environment. */
export type ApiEnv = z.infer<typeof schema>;

/** Parses the API's own environment; throws with every problem listed when it is invalid. */
export function readApiEnv(env: NodeJS.ProcessEnv = process.env): ApiEnv {
  return schema.parse(env);
}

/** Everything the API reads from its environment: its own settings, the HTTP layer's, the payment-attempt limits. */
export interface ApiConfig {
  readonly env: ApiEnv;
  readonly http: HttpConfig;
  readonly paymentAttempts: PaymentAttemptLimits;
  /**
   * How the platform's admins are told (SUSU_SMTP_URL, SUSU_ADMIN_EMAILS, …), read as the
   * scheduler reads them: an admin's reconciliation run queues their notices.
   */
  readonly adminNotice: AdminNoticeEnv;
}

/**
 * Reads the whole configuration at once and, when anything is wrong, throws one
 * {@link HttpConfigError} naming every missing or wrong variable of both parts — so an
 * operator fixes the environment in one go, not one variable per restart.
 */
export function readApiConfig(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  const problems: ConfigProblem[] = [];
  const own = schema.safeParse(env);
  if (!own.success)
    for (const issue of own.error.issues)
      problems.push({ variable: String(issue.path[0] ?? "environment"), message: issue.message });
  let http: HttpConfig | undefined;
  try {
    http = readHttpConfig(env);
  } catch (error) {
    if (!(error instanceof HttpConfigError)) throw error;
    problems.push(...error.problems);
  }
  if (own.success) {
    const policy = heldPaymentPolicyProblem(heldPaymentPolicyOf(own.data));
    if (policy !== null)
      problems.push({
        variable: "SUSU_HELD_DISPUTE_WINDOW_MIN_SECONDS",
        message: `must not exceed SUSU_HELD_DISPUTE_WINDOW_SECONDS, which must not exceed 90 days (${policy.message})`,
      });
  }
  const limits = readPaymentAttemptLimits(env);
  if ("problems" in limits) problems.push(...limits.problems);
  const adminNotice = parseAdminNoticeEnv(env);
  if ("problems" in adminNotice) problems.push(...adminNotice.problems);
  if (
    problems.length > 0 ||
    !own.success ||
    http === undefined ||
    !("limits" in limits) ||
    !("env" in adminNotice)
  )
    throw new HttpConfigError(problems);
  return { env: own.data, http, paymentAttempts: limits.limits, adminNotice: adminNotice.env };
}

/** The held-payment policy the API creates payments under: the defaults, with the dispute windows from the environment. */
export function heldPaymentPolicyOf(env: ApiEnv): HeldPaymentPolicy {
  return {
    ...DEFAULT_HELD_PAYMENT_POLICY,
    disputeWindowMs: env.SUSU_HELD_DISPUTE_WINDOW_SECONDS * 1000,
    disputeWindowMinMs: env.SUSU_HELD_DISPUTE_WINDOW_MIN_SECONDS * 1000,
    settlementCurrencies: env.SUSU_SETTLEMENT_CURRENCIES,
  };
}

/** The marketplace policy the API creates charges under: the defaults, with the platform's settlement currencies. */
export function marketplacePolicyOf(env: ApiEnv): MarketplacePolicy {
  return { ...DEFAULT_MARKETPLACE_POLICY, settlementCurrencies: env.SUSU_SETTLEMENT_CURRENCIES };
}
