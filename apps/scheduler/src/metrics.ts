import {
  createMetricsRegistry,
  type MetricsRegistry,
  type SettledWebhookEvent,
  type TimerJobPayload,
} from "@susu/adapters";
import type { SettledEffect } from "@susu/domain";
import { Counter, Histogram } from "prom-client";

/**
 * The scheduler's Prometheus metrics: what became of each webhook event, outbox effect,
 * round timer and loop pass. Scrape-time gauges of the tables (rounds by status, outbox and
 * inbox depth) are the API's (`registerOperationsGauges`): one process reads them, so two
 * do not count the same rows.
 */
export interface SchedulerMetrics {
  readonly metrics: MetricsRegistry;
  /** For `processWebhookInbox`'s `onSettled`. */
  readonly webhookSettled: (settled: SettledWebhookEvent) => void;
  /** For `dispatchOutbox`'s `onSettled`. */
  readonly effectSettled: (settled: SettledEffect) => void;
  /** Counts one run of a job or timer and observes how long it took. */
  jobRan(job: string, outcome: string, seconds: number): void;
  /** Counts work found stuck and resumed (`susu_stuck_work_total`). */
  stuckWork(what: StuckWorkKind, count: number): void;
  /** Counts the due groups one due-round run looked at, by what became of them (`susu_due_rounds_total`). */
  dueRounds(run: { readonly opened: number; readonly waiting: number; readonly failed: number }): void;
}

/**
 * Work found stuck: `outbox_claim_released` — this process's own claims given back once its
 * database answered again; `outbox_lease_expired` — a dead worker's claims cleared by the
 * sweep; `dead_worker_outbox_claims` and `dead_worker_webhook_claims` — live claims of a worker
 * whose liveness lock is gone, given back before their lease ends; `boss_job_expired` — pg-boss jobs seen active past their expiry (pg-boss's
 * maintenance retries them).
 */
export type StuckWorkKind =
  | "outbox_claim_released"
  | "outbox_lease_expired"
  | "dead_worker_outbox_claims"
  | "dead_worker_webhook_claims"
  | "boss_job_expired";

/** Options of {@link createSchedulerMetrics}. */
export interface SchedulerMetricsOptions {
  /** Also export the process's CPU, memory, event loop lag and GC metrics. Default true. */
  readonly defaultMetrics?: boolean;
}

/** Label values of outcomes, the same words for events and effects. */
const WEBHOOK_OUTCOME = {
  applied: "applied",
  ignored: "ignored",
  retried: "failed_will_retry",
  parked: "parked",
  lease_lost: "lease_lost",
} as const;
const EFFECT_OUTCOME = {
  completed: "completed",
  retried: "failed_will_retry",
  parked: "parked",
  lease_lost: "lease_lost",
} as const;

/** The failure code of an outbox run that threw (the domain's dispatcher records it so). */
const EFFECT_CRASHED = "effect_crashed";

/**
 * Every timer kind of every aggregate, for the timer tasks' names (`<aggregate>_timer.<kind>`,
 * as `startTimerWorker` counts them). Typed against the timer jobs, so a kind added there and
 * not here does not compile.
 */
const TIMER_KINDS = {
  round: {
    collection_deadline: true,
    grace_end: true,
    payout_due: true,
    retry_debit: true,
    retry_payout: true,
  },
  held_payment: {
    release_due: true,
    retry_transfer: true,
    checkout_expired: true,
    checkout_recheck: true,
    refund_overdue: true,
  },
  marketplace_charge: {
    retry_transfer: true,
    action_expired: true,
    cancel_recheck: true,
    refund_overdue: true,
  },
  subscription: { refund_overdue: true, void_recheck: true },
} as const satisfies {
  readonly [A in TimerJobPayload["aggregate"]]: Record<
    Extract<TimerJobPayload, { aggregate: A }>["timer"]["kind"],
    true
  >;
};

/**
 * The scheduler's tasks (the `task` label of `susu_scheduler_job_runs_total`): its polling
 * passes, its crons and every timer.
 */
export const SCHEDULER_TASKS: readonly string[] = [
  "outbox_pass",
  "webhook_pass",
  "notification_deliveries",
  "stuck_work_sweep",
  "dead_worker_release",
  "open_due_rounds",
  "reconciliation",
  "pay_out_balances",
  ...Object.entries(TIMER_KINDS).flatMap(([aggregate, kinds]) =>
    Object.keys(kinds).map((kind) => `${aggregate}_timer.${kind}`),
  ),
];

// From a fast database write to a slow provider call.
const WORK_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
// Stripe delivers in seconds; retries with backoff run to about an hour; a replay, days.
const LAG_BUCKETS = [0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3_600, 21_600, 86_400];

/**
 * Creates the scheduler's metrics (names in the scheduler's README). Label values are
 * bounded: Stripe's event types, the effect kinds, the job names, fixed outcome words;
 * never ids.
 */
export function createSchedulerMetrics(options: SchedulerMetricsOptions = {}): SchedulerMetrics {
  const metrics = createMetricsRegistry({ defaultMetrics: options.defaultMetrics ?? true });
  const registers = [metrics.registry];
  const webhookEvents = new Counter({
    name: "susu_webhook_events_processed_total",
    help: "Stripe webhook events processed, by event type and outcome (applied, ignored, failed_will_retry, parked, lease_lost).",
    labelNames: ["type", "outcome"] as const,
    registers,
  });
  const webhookDuration = new Histogram({
    name: "susu_webhook_event_duration_seconds",
    help: "Time to process one webhook event and record its result, by outcome.",
    labelNames: ["outcome"] as const,
    buckets: WORK_BUCKETS,
    registers,
  });
  const webhookLag = new Histogram({
    name: "susu_webhook_lag_seconds",
    help: "From Stripe creating an event (its `created`) to susu recording it applied.",
    buckets: LAG_BUCKETS,
    registers,
  });
  const effects = new Counter({
    name: "susu_outbox_effects_settled_total",
    help: "Outbox effects executed, by effect kind and outcome (completed, failed_will_retry, parked, lease_lost: its claim taken over mid-run, its result not recorded by this worker).",
    labelNames: ["kind", "outcome"] as const,
    registers,
  });
  const effectCrashes = new Counter({
    name: "susu_outbox_effects_crashed_total",
    help: "Outbox effect runs that threw (a bug in a port or a use case, the effect's result unrecorded), by effect kind; each is also in susu_outbox_effects_settled_total as failed_will_retry or parked.",
    labelNames: ["kind"] as const,
    registers,
  });
  const effectDuration = new Histogram({
    name: "susu_outbox_effect_duration_seconds",
    help: "Time to execute one outbox effect (provider call included) and record its result, by kind.",
    labelNames: ["kind"] as const,
    buckets: WORK_BUCKETS,
    registers,
  });
  const jobRuns = new Counter({
    name: "susu_scheduler_job_runs_total",
    help: "Runs of the scheduler's jobs and timers (round timers, the due-round cron, outbox and webhook passes), by job and outcome.",
    // Not `job`: Prometheus gives every scraped series a `job` label of its own.
    labelNames: ["task", "outcome"] as const,
    registers,
  });
  // The series the alerts watch are exported at 0 from the start: `increase()` over a series
  // that first appears at 1 reads 0, so the first failure after each start would not fire
  // SusuSchedulerJobsFailing (crashed|failed), SusuPayoutRunPartlyFailed or SusuTransfersFailing.
  for (const task of SCHEDULER_TASKS)
    for (const outcome of ["crashed", "failed"]) jobRuns.inc({ task, outcome }, 0);
  jobRuns.inc({ task: "pay_out_balances", outcome: "partly_failed" }, 0);
  for (const kind of ["transfer", "reverse_transfer"])
    for (const outcome of [EFFECT_OUTCOME.retried, EFFECT_OUTCOME.parked]) effects.inc({ kind, outcome }, 0);
  const jobDuration = new Histogram({
    name: "susu_scheduler_job_duration_seconds",
    help: "Time one run of a scheduler job or timer took, by job and outcome.",
    labelNames: ["task", "outcome"] as const,
    buckets: WORK_BUCKETS,
    registers,
  });

  const stuck = new Counter({
    name: "susu_stuck_work_total",
    help: "Work found stuck and resumed, by what (outbox_claim_released, outbox_lease_expired, dead_worker_outbox_claims, dead_worker_webhook_claims, boss_job_expired).",
    labelNames: ["what"] as const,
    registers,
  });

  const dueRounds = new Counter({
    name: "susu_due_rounds_total",
    help: "Due groups the due-round cron looked at, by outcome: opened (a round opened), waiting (members not ready; they and the admins were told), failed (could not open for another reason). A group waiting is counted on every run.",
    labelNames: ["outcome"] as const,
    registers,
  });
  // Every outcome is exported from the start, so an alert on `failed` sees a 0 before the first one.
  for (const outcome of ["opened", "waiting", "failed"]) dueRounds.inc({ outcome }, 0);

  return {
    metrics,
    stuckWork(what, count) {
      if (count > 0) stuck.inc({ what }, count);
    },
    dueRounds(run) {
      dueRounds.inc({ outcome: "opened" }, run.opened);
      dueRounds.inc({ outcome: "waiting" }, run.waiting);
      dueRounds.inc({ outcome: "failed" }, run.failed);
    },
    webhookSettled(e) {
      const outcome = WEBHOOK_OUTCOME[e.outcome];
      webhookEvents.inc({ type: e.type, outcome });
      webhookDuration.observe({ outcome }, seconds(e.settledAt - e.startedAt));
      if (e.outcome === "applied") webhookLag.observe(seconds(e.settledAt - e.stripeCreatedAt));
    },
    effectSettled(e) {
      effects.inc({ kind: e.kind, outcome: EFFECT_OUTCOME[e.outcome] });
      if (e.code === EFFECT_CRASHED) effectCrashes.inc({ kind: e.kind });
      effectDuration.observe({ kind: e.kind }, seconds(e.settledAt - e.startedAt));
    },
    jobRan(task, outcome, duration) {
      jobRuns.inc({ task, outcome });
      jobDuration.observe({ task, outcome }, duration);
    },
  };
}

/** Milliseconds as seconds; never negative (Stripe's clock and ours differ a little). */
function seconds(ms: number): number {
  return Math.max(0, ms) / 1000;
}

/**
 * Runs `work` and reports it to `metrics` (when given) under `task`, with the outcome
 * `outcomeOf` names, or `crashed` when it throws (the error is rethrown).
 */
export async function timedJob<T>(
  metrics: SchedulerMetrics | undefined,
  task: string,
  work: () => Promise<T>,
  outcomeOf: (value: T) => string,
): Promise<T> {
  if (metrics === undefined) return work();
  const startedAt = performance.now();
  const elapsed = () => (performance.now() - startedAt) / 1000;
  let value: T;
  try {
    value = await work();
  } catch (error) {
    metrics.jobRan(task, "crashed", elapsed());
    throw error;
  }
  metrics.jobRan(task, outcomeOf(value), elapsed());
  return value;
}
