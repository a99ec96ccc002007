import {
  ADMIN_NOTICE_ENV,
  DEFAULT_DELIVERY_CONCURRENCY,
  NOTIFY_ENDPOINT_ENV,
  PLAN_CACHE_MODES,
} from "@susu/adapters";
import {
  DEFAULT_MARKETPLACE_POLICY,
  MARKETPLACE_ACTION_EXPIRY_MAX_MS,
  MARKETPLACE_ACTION_EXPIRY_MIN_MS,
  parsePayoutSchedule,
} from "@susu/domain";
import { z } from "zod";

const port = (fallback: number) =>
  z.coerce
    .number({ error: "must be a port number (0-65535)" })
    .int({ error: "must be a port number (0-65535)" })
    .min(0, { error: "must be a port number (0-65535)" })
    .max(65_535, { error: "must be a port number (0-65535)" })
    .default(fallback);

const { SUSU_SMTP_URL, ...ADMIN_NOTICE_REST } = ADMIN_NOTICE_ENV;

const PAYOUT_SCHEDULE_RULE = "must be manual, daily, weekly:<monday…sunday> or monthly:<1-31>";

/** A whole number from `min` to `max`, refused with one message naming the range. */
function wholeNumber(min: number, max: number) {
  const rule = { error: `must be a whole number from ${min} to ${max}` };
  return z.coerce.number(rule).int(rule).min(min, rule).max(max, rule);
}

const schema = z.object({
  DATABASE_URL: z.string().url().optional(),
  /** Names this process in leases (a random suffix is always added, so ids never collide); several schedulers may run at once. */
  SUSU_WORKER_ID: z.string().min(1).optional(),
  SUSU_DISPATCH_INTERVAL_MS: z.coerce.number().int().min(50).max(60_000).default(1_000),
  /**
   * Stripe events the webhook processor works at once (default 16): one at a time per
   * payment or aggregate (their ordering key), different ones side by side. An event holds a
   * connection only for its statements, not while Stripe answers its reads, so the pool's
   * default counts half of them. At 200 events/s with one scheduler (bench/webhooks.ts (b),
   * 10 s, runs alternating on the 2-core machine), 2xx → committed p95 was 117–251 ms with 8,
   * 37–82 ms with 16 (55 and 82 with the pool at 28), 47–54 ms with 32.
   */
  SUSU_WEBHOOK_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(16),
  /**
   * How many aggregates' outbox effects this scheduler runs at once (each a provider call and
   * a commit); one aggregate's effects always run one at a time, in order. 1 to 256, 16 by default.
   */
  SUSU_DISPATCH_CONCURRENCY: wholeNumber(1, 256).default(16),
  /**
   * Most PostgreSQL connections the scheduler's pool opens (pg-boss and the notification
   * listener have their own); at least SUSU_DISPATCH_CONCURRENCY. Unset: the dispatcher's
   * concurrency, half the webhook processor's (rounded up), plus 4 for deliveries and jobs
   * beside them (28 by default). The deliveries' sends (up to SUSU_NOTIFY_CONCURRENCY at
   * once) hold a connection for one short statement at a time and wait for one when these 4
   * are busy: not more connections, which two schedulers and an API must share (see the
   * scheduler's README).
   */
  SUSU_DB_POOL_SIZE: wholeNumber(1, 500).optional(),
  /**
   * Connections of that pool kept open while idle, opened before the loops start (0 to 500,
   * at most SUSU_DB_POOL_SIZE). Unset: half the webhook processor's concurrency (rounded up)
   * plus 4 (12 by default), what a burst of Stripe events needs at once, capped at the pool; the
   * dispatcher's slots above that wait on Stripe calls far longer than a connection takes to
   * open. Above it, a connection idle for 10 s is closed, and the next burst opens it again.
   */
  SUSU_DB_POOL_MIN: wholeNumber(0, 500).optional(),
  /**
   * PostgreSQL's `plan_cache_mode` on the pool's connections: `force_generic_plan` (default)
   * plans each named statement once per connection instead of on every run, `auto` is the
   * server's choice (custom plans while the generic one looks costlier, as it does for the
   * statements fed JSON or arrays), `force_custom_plan` plans every run. Prisma's queries are
   * planned on every run either way, under `force_generic_plan` without their parameters'
   * values. The claims' plans are tested in both modes. See the README for what it saves.
   */
  SUSU_DB_PLAN_CACHE_MODE: z
    .enum(PLAN_CACHE_MODES, {
      error: `must be ${PLAN_CACHE_MODES.slice(0, -1).join(", ")} or ${PLAN_CACHE_MODES.at(-1)}`,
    })
    .default("force_generic_plan"),
  SUSU_OPEN_ROUNDS_CRON: z.string().default("* * * * *"),
  /**
   * How long a marketplace charge's payment may wait for the customer's action (a new card
   * to confirm, 3-D Secure) before it expires and its PaymentIntent is cancelled: 300 s to
   * 7 days, 24 hours by default.
   */
  SUSU_MARKETPLACE_ACTION_EXPIRY_SECONDS: z.coerce
    .number({ error: "must be a whole number of seconds from 300 to 604800" })
    .int({ error: "must be a whole number of seconds from 300 to 604800" })
    .min(MARKETPLACE_ACTION_EXPIRY_MIN_MS / 1000, {
      error: "must be a whole number of seconds from 300 to 604800",
    })
    .max(MARKETPLACE_ACTION_EXPIRY_MAX_MS / 1000, {
      error: "must be a whole number of seconds from 300 to 604800",
    })
    .default(DEFAULT_MARKETPLACE_POLICY.actionExpiryMs / 1000),
  /**
   * The payout schedule new connected accounts get, as the API reads it: `manual` (default)
   * makes this scheduler pay their balances out (SUSU_PAYOUT_CRON); the others are Stripe's
   * own. The run goes by each account's schedule at Stripe (accounts keep the one they were
   * created with); this setting decides only when Stripe does not say.
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
   * When the payout run rechecks payouts in flight and pays out every seller whose account is
   * manual at Stripe (cron, UTC), whatever SUSU_CONNECTED_PAYOUT_SCHEDULE says; daily at 02:00 by default.
   * Never `off` (refused at start): accounts keep the schedule they were created with.
   */
  SUSU_PAYOUT_CRON: z.string().min(1).default("0 2 * * *"),
  /**
   * When the reconciliation with Stripe of the UTC days since the last one reconciled runs (pg-boss cron, UTC);
   * `off` turns the job off. Daily at 06:15 UTC by default: a day is reconciled once the 6-hour
   * margin after it (RECONCILIATION_MATCH_MARGIN_MS) is over too, so a run before 06:00 would
   * reconcile the day before yesterday, and yesterday only the next morning.
   */
  SUSU_RECONCILE_CRON: z
    .string()
    .regex(/^(off|(\S+\s+){4}\S+)$/, { error: 'must be a 5-field cron expression or "off"' })
    .default("15 6 * * *"),
  /**
   * How far back (UTC days before today) the reconciliation job runs again the days whose
   * differences ticket is still open, so that a day whose ledger caught up is resolved and
   * one whose differences changed says so: 0 (never) to 366, 35 by default.
   */
  SUSU_RECONCILE_RERUN_DAYS: wholeNumber(0, 366).default(35),
  /**
   * Most such days one run of the job reconciles again (0 to 50, 5 by default): the ones
   * reconciled longest ago first; the rest wait for the next day's run.
   */
  SUSU_RECONCILE_RERUNS_PER_RUN: wholeNumber(0, 50).default(5),
  /** Where the scheduler serves `GET /metrics`; 0 picks a free port (logged at start). */
  SUSU_SCHEDULER_METRICS_PORT: port(9464),
  /** The metrics endpoint's address; 0.0.0.0 for a Prometheus on another machine. */
  SUSU_SCHEDULER_METRICS_HOST: z.string().min(1).default("127.0.0.1"),
  /**
   * Where notifications are e-mailed (`smtp://127.0.0.1:1025`, `smtps://user:pass@host:465`);
   * unset: they are log lines.
   */
  SUSU_SMTP_URL,
  /** The e-mails' `From` (`susu <no-reply@example.com>`); required with SUSU_SMTP_URL. */
  SUSU_MAIL_FROM: z
    .string()
    .regex(/^([^<>@]*<[^<>@\s]+@[^<>@\s]+>|[^<>@\s]+@[^<>@\s]+)$/, {
      error: "must be an address, e.g. no-reply@example.com or susu <no-reply@example.com>",
    })
    .optional(),
  // How the admins are told (SUSU_ADMIN_EMAILS, SUSU_MAIL_LOCALE, SUSU_MAIL_TIME_ZONE,
  // SUSU_PUBLIC_URL, SUSU_RUNBOOKS_URL, SUSU_ADMIN_ALERT_WINDOW_MINUTES), read as the API and
  // `npm run reconcile` read them.
  ...ADMIN_NOTICE_REST,
  /** Sends of a notification delivery (e-mail or webhook) before it is marked failed. */
  SUSU_NOTIFY_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(8),
  /** The wait after a delivery's first failure (ms); doubled after each further one, up to an hour. */
  SUSU_NOTIFY_RETRY_BASE_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
  /**
   * A notification webhook endpoint that has failed every send for this many hours is
   * disabled when a send to it fails again (an admin enables it again); 0: never on its own.
   */
  SUSU_NOTIFY_ENDPOINT_DISABLE_AFTER_HOURS: z.coerce.number().int().min(0).max(8_760).default(72),
  /** How long a notification webhook endpoint has to answer (ms). */
  SUSU_NOTIFY_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  /**
   * Notification deliveries (e-mails, webhooks) the scheduler sends at once, 1 to 256 (8 by
   * default); with SUSU_SMTP_URL, also the most SMTP connections it keeps open (a pool).
   */
  SUSU_NOTIFY_CONCURRENCY: wholeNumber(1, 256).default(DEFAULT_DELIVERY_CONCURRENCY),
  /**
   * Which notification endpoints webhooks go to, checked before each send, as the API checks
   * them at creation: `public` (default) https only, and no host that is or resolves to a
   * loopback, private, link-local, CGNAT… address (the delivery fails at once, not retried);
   * `any` also plain http and those addresses, for development and tests.
   */
  ...NOTIFY_ENDPOINT_ENV,
  STRIPE_SECRET_KEY: z.string().min(1),
  /** Where the Stripe API is: unset for Stripe itself, e.g. http://127.0.0.1:12111 for the emulator. */
  STRIPE_API_URL: z.string().url().optional(),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

/** The scheduler's settings, parsed once from the environment. */
export type SchedulerEnv = Omit<z.infer<typeof schema>, "SUSU_DB_POOL_SIZE" | "SUSU_DB_POOL_MIN"> & {
  /** Always set: the default is derived from SUSU_DISPATCH_CONCURRENCY. */
  readonly SUSU_DB_POOL_SIZE: number;
  /** Always set: the default is ⌈SUSU_WEBHOOK_CONCURRENCY / 2⌉ + 4, at most SUSU_DB_POOL_SIZE. */
  readonly SUSU_DB_POOL_MIN: number;
};

/**
 * Connections beside the dispatcher's and the webhook processor's, in the default pool size:
 * the deliveries' statements (one at a time per send) and the jobs share them.
 */
export const POOL_HEADROOM = 4;

/** The webhook processor's share of the default pool: half its slots, rounded up (see SUSU_WEBHOOK_CONCURRENCY). */
export const webhookConnections = (concurrency: number): number => Math.ceil(concurrency / 2);

/** One wrong or missing environment variable. */
export interface ConfigProblem {
  readonly variable: string;
  readonly message: string;
}

/** The environment is not a valid configuration; `problems` names every variable at fault. */
export class SchedulerConfigError extends Error {
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(
      `invalid configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${problems
        .map((p) => `  - ${p.variable}: ${p.message}`)
        .join("\n")}`,
    );
    this.name = "SchedulerConfigError";
  }
}

/**
 * Parses the scheduler's environment. An empty value (`FOO=` in an env file) counts as
 * unset. When anything is wrong, throws one {@link SchedulerConfigError} naming every
 * missing or wrong variable, so an operator fixes them in one go, not one per restart.
 */
export function readSchedulerEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
): SchedulerEnv {
  const present = Object.fromEntries(
    Object.keys(schema.shape).map((name) => [name, env[name]?.trim() === "" ? undefined : env[name]?.trim()]),
  );
  const parsed = schema.safeParse(present);
  // Nothing but the payout run moves a manual account's money to its bank, and an account keeps
  // the schedule it was created with: under any setting, accounts created while it was manual
  // (which this process cannot list without asking Stripe for every one) still need the run,
  // and the run is also the recheck of payouts whose news was lost. So it is never off.
  if (parsed.success && parsed.data.SUSU_PAYOUT_CRON === "off")
    throw new SchedulerConfigError([
      {
        variable: "SUSU_PAYOUT_CRON",
        message:
          "cannot be off: the payout run pays every account still manual at Stripe (accounts keep the schedule they were created with, whatever SUSU_CONNECTED_PAYOUT_SCHEDULE says now) and rechecks payouts whose webhooks were lost; set a cron such as 0 2 * * *",
      },
    ]);
  if (parsed.success && parsed.data.SUSU_SMTP_URL !== undefined && parsed.data.SUSU_MAIL_FROM === undefined)
    throw new SchedulerConfigError([
      {
        variable: "SUSU_MAIL_FROM",
        message: "is required when SUSU_SMTP_URL is set (the e-mails' From address)",
      },
    ]);
  if (
    parsed.success &&
    parsed.data.SUSU_DB_POOL_SIZE !== undefined &&
    parsed.data.SUSU_DB_POOL_SIZE < parsed.data.SUSU_DISPATCH_CONCURRENCY
  )
    throw new SchedulerConfigError([
      {
        variable: "SUSU_DB_POOL_SIZE",
        message: `must be at least SUSU_DISPATCH_CONCURRENCY (${parsed.data.SUSU_DISPATCH_CONCURRENCY}): each effect in flight commits on a connection of its own`,
      },
    ]);
  if (!parsed.success)
    throw new SchedulerConfigError(
      parsed.error.issues.map((issue) => ({
        variable: String(issue.path[0] ?? "environment"),
        message: issue.message,
      })),
    );
  const poolSize =
    parsed.data.SUSU_DB_POOL_SIZE ??
    parsed.data.SUSU_DISPATCH_CONCURRENCY +
      webhookConnections(parsed.data.SUSU_WEBHOOK_CONCURRENCY) +
      POOL_HEADROOM;
  if (parsed.data.SUSU_DB_POOL_MIN !== undefined && parsed.data.SUSU_DB_POOL_MIN > poolSize)
    throw new SchedulerConfigError([
      {
        variable: "SUSU_DB_POOL_MIN",
        message: `must be at most SUSU_DB_POOL_SIZE (${poolSize}): the pool keeps no more than it may open`,
      },
    ]);
  return {
    ...parsed.data,
    SUSU_DB_POOL_SIZE: poolSize,
    SUSU_DB_POOL_MIN:
      parsed.data.SUSU_DB_POOL_MIN ??
      Math.min(poolSize, webhookConnections(parsed.data.SUSU_WEBHOOK_CONCURRENCY) + POOL_HEADROOM),
  };
}
