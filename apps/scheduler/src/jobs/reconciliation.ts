import {
  DAILY_RECONCILIATION_RAN_BY,
  type PrismaClient,
  PrismaReconciliationStore,
  RECONCILIATION_MATCH_MARGIN_MS,
  type ReconcileAndTellDeps,
  type ReconciliationPeriod,
  type ReconciliationRun,
  reconcileAndTell,
  reconciliationDaysBehind,
  reconciliationTicketId,
  trySessionLock,
} from "@susu/adapters";
import type PgBoss from "pg-boss";
import type { Logger } from "../logger.js";
import { type SchedulerMetrics, timedJob } from "../metrics.js";

/** The pg-boss queue (and cron) that reconciles the days since the last one with Stripe. */
export const RECONCILIATION_QUEUE = "reconcile-with-stripe";

/** Who the job's stored reports are by: its newest report is the last day it reconciled. */
export const RECONCILED_BY_SCHEDULER = DAILY_RECONCILIATION_RAN_BY;

/** Most days one run reconciles; the days left over go to the run it queues at once. */
export const RECONCILIATION_DAYS_PER_RUN = 7;

/**
 * How far back (UTC days before today) a run looks for days to run again: days whose
 * differences ticket is still open (`SUSU_RECONCILE_RERUN_DAYS`).
 */
export const RECONCILIATION_RERUN_WITHIN_DAYS = 35;

/** Most days a run reconciles again (`SUSU_RECONCILE_RERUNS_PER_RUN`); the others wait for the next run. */
export const RECONCILIATION_RERUNS_PER_RUN = 5;

/**
 * After this long (steady clock) a run starts no new day: the days left go to the run it
 * queues at once. Far below {@link RECONCILIATION_JOB_EXPIRE_SECONDS}, so that a run ends
 * (its last day included) well before pg-boss would fail its job by timeout.
 */
export const RECONCILIATION_RUN_BUDGET_MS = 10 * 60_000;

/**
 * The queue's job expiry: pg-boss fails a job still running after this and retries it, while
 * the first handler runs on (pg-boss does not stop it). One hour: six times the run's
 * budget, room for its last day; a dead scheduler's job is given back after it (the day's
 * reconciliation waits as long). Should a day still take longer, the retry finds the run's
 * lock held and ends ({@link RECONCILIATION_LOCK}).
 */
export const RECONCILIATION_JOB_EXPIRE_SECONDS = 60 * 60;

/**
 * The lock a run of the job holds from its start to its end: a PostgreSQL session-level
 * advisory lock of this name, on a connection of its own ({@link trySessionLock}; no
 * transaction stays open for the run). A second run (pg-boss's retry of a job that outlived
 * its expiry, a cron job let through meanwhile) finds it held and ends at once. Released when
 * the run ends, or by PostgreSQL with its connection (a dead scheduler, a lost connection).
 * Releases before this one took the same key as a transaction lock
 * (`pg_try_advisory_xact_lock(hashtextextended(name, 0))`): the two forms exclude each other,
 * so runs of both releases never overlap during a rolling deploy.
 */
export const RECONCILIATION_LOCK = "susu:reconciliation-job";

const DAY_MS = 86_400_000;

/** What the reconciliation job uses: PostgreSQL, Stripe, the support desk, the admins' notifier, the clock. */
export type ReconciliationJobDeps = ReconcileAndTellDeps;

/** The ticket of a period's differences (one per period, whoever reconciles it), as the job's tests name it. */
export { reconciliationTicketId };

/** The days a run reconciles: oldest first, at most the run's share, and how many wait for the next run. */
export interface DueReconciliationDays {
  readonly periods: readonly ReconciliationPeriod[];
  readonly remaining: number;
}

/**
 * The UTC days to reconcile at `now`: every whole day from the end of the last one reconciled
 * (`lastEnd`, the newest report of the job) up to the last day whose margin
 * ({@link RECONCILIATION_MATCH_MARGIN_MS}, 6 hours after its end) has passed, oldest first, at
 * most `maxDays`. A day is not due at midnight: susu's ledger may record a movement Stripe made
 * just before it hours later (a webhook backlog), and reconciling the day before then would
 * tell the admins of a difference that is none. With no report yet, that last day alone (the
 * job does not reach back before its first run). Nothing when it is reconciled already.
 */
export function dueReconciliationDays(
  lastEnd: number | undefined,
  now: number,
  maxDays: number = RECONCILIATION_DAYS_PER_RUN,
): DueReconciliationDays {
  // As if it were the margin earlier: the days over by then are the days whose margin has passed.
  const settled = now - RECONCILIATION_MATCH_MARGIN_MS;
  const today = Math.floor(settled / DAY_MS) * DAY_MS;
  const due = reconciliationDaysBehind(lastEnd, settled);
  const first = today - due * DAY_MS;
  const periods: ReconciliationPeriod[] = [];
  for (let i = 0; i < Math.min(due, Math.max(0, maxDays)); i++)
    periods.push({ from: first + i * DAY_MS, to: first + (i + 1) * DAY_MS });
  return { periods, remaining: due - periods.length };
}

/**
 * Reconciles one period with Stripe as the scheduler (`reconcileAndTell`: the report compared
 * with the period's previous one, the ticket opened, noted or resolved and the admins told,
 * all before the report is stored, so a day whose ticket or notice failed stays due and the
 * next run, or pg-boss's retry, reconciles it again with nothing doubled). A report with
 * differences is logged as an error; so is a run that fails (its period's lock connection
 * refused, Stripe or the database failing), with the period, before it is thrown.
 */
export async function reconcilePeriod(
  deps: ReconciliationJobDeps,
  log: Logger,
  period: ReconciliationPeriod,
): Promise<ReconciliationRun> {
  let run: Awaited<ReturnType<typeof reconcileAndTell>>;
  try {
    run = await reconcileAndTell(deps, period, RECONCILED_BY_SCHEDULER);
  } catch (error) {
    // Logged here with the period (its lock's own connection refused, Stripe or the database
    // failing), then thrown for the job to fail and be retried.
    log.error(
      {
        from: new Date(period.from).toISOString(),
        to: new Date(period.to).toISOString(),
        err: error,
      },
      "reconciliation with Stripe failed for the period",
    );
    throw error;
  }
  const c = {
    reportId: run.stored.id,
    from: new Date(period.from).toISOString(),
    to: new Date(period.to).toISOString(),
    differences: run.report.differences.length,
    matched: run.report.matched,
  };
  if (run.change === "cleared")
    log.info(
      { ...c, ticketId: run.ticketId },
      "reconciliation with Stripe: the period has no differences any more",
    );
  if (c.differences === 0) log.info(c, "reconciliation with Stripe: no differences");
  else log.error(c, "reconciliation with Stripe found differences");
  return run;
}

/**
 * What one run of the job did: the days it reconciled, oldest first, and how many wait for the
 * next run; then the days it reconciled again (`reruns`, see {@link reconciliationDaysToRerun}).
 */
export interface ReconciliationCatchUp {
  readonly runs: readonly ReconciliationRun[];
  readonly remaining: number;
  readonly reruns: readonly ReconciliationRun[];
}

/** Options of {@link reconcileDueDays}. */
export interface ReconcileDueDaysOptions {
  /** Most days this run reconciles (default {@link RECONCILIATION_DAYS_PER_RUN}). */
  readonly maxDays?: number;
  /** After this long the run starts no new day (default {@link RECONCILIATION_RUN_BUDGET_MS}). */
  readonly budgetMs?: number;
  /** Milliseconds since the run started (default: the steady clock). */
  readonly elapsedMs?: () => number;
  /** How far back days are run again (default {@link RECONCILIATION_RERUN_WITHIN_DAYS}; 0: none). */
  readonly rerunWithinDays?: number;
  /** Most days run again in this run (default {@link RECONCILIATION_RERUNS_PER_RUN}; 0: none). */
  readonly maxReruns?: number;
}

/**
 * The days a run at `now` reconciles again: days the job reconciled before (its stored
 * reports) that start within the last `withinDays` UTC days before today, were last
 * reconciled before today (each at most once a UTC day, and never the day a run has just
 * reconciled) and whose differences ticket ({@link reconciliationTicketId}) is still open —
 * at most `max`, the ones reconciled longest ago first (then the oldest day), so that every
 * open day has its turn. A day without a ticket, or whose ticket is resolved (by a run that
 * found no differences any more, or by an admin), is not run again; nor is an older one.
 */
export async function reconciliationDaysToRerun(
  prisma: PrismaClient,
  now: number,
  withinDays: number,
  max: number,
): Promise<ReconciliationPeriod[]> {
  if (withinDays <= 0 || max <= 0) return [];
  const today = Math.floor(now / DAY_MS) * DAY_MS;
  const checked = (
    await new PrismaReconciliationStore(prisma).reportedPeriods(
      RECONCILED_BY_SCHEDULER,
      today - withinDays * DAY_MS,
      today,
    )
  ).filter((p) => p.lastRunAt < today);
  if (checked.length === 0) return [];
  const open = new Set(
    (
      await prisma.supportTicket.findMany({
        where: { id: { in: checked.map((p) => reconciliationTicketId(p.from, p.to)) }, status: "open" },
        select: { id: true },
      })
    ).map((t) => t.id),
  );
  return checked
    .filter((p) => open.has(reconciliationTicketId(p.from, p.to)))
    .sort((a, b) => a.lastRunAt - b.lastRunAt || a.from - b.from || a.to - b.to)
    .slice(0, max)
    .map(({ from, to }) => ({ from, to }));
}

/**
 * Reconciles every UTC day since the last one the job reconciled (its newest stored report),
 * up to yesterday, oldest first, at most `maxDays` a run and no new day once the run's budget
 * is spent (it always does one): a day the scheduler was down or the job crashed is caught up,
 * not lost. Each day's report is stored as it is done, so a run that fails part-way resumes
 * from the first day it did not store. `remaining` is the days still due after the run (the
 * job queues its next run at once when there are some). Run by one scheduler at a time (the
 * job's lock, see {@link runReconciliationJob}); called twice at once anyway, a day reconciled
 * twice has two reports and still one ticket.
 *
 * Then, when no day is left due and the budget is not spent, it reconciles again the days
 * that still have an open differences ticket ({@link reconciliationDaysToRerun}), so that a
 * day whose ledger caught up (a late event processed, a dispute decided) is resolved and the
 * admins told (`cleared`), and one whose differences changed says so (`changed`), as
 * {@link reconcilePeriod} does for any later run of a period. These runs are not counted in
 * `remaining`: the days left over wait for the next run of the cron.
 */
export async function reconcileDueDays(
  deps: ReconciliationJobDeps,
  log: Logger,
  options: ReconcileDueDaysOptions = {},
): Promise<ReconciliationCatchUp> {
  const startedAt = performance.now();
  const elapsedMs = options.elapsedMs ?? (() => performance.now() - startedAt);
  const budgetMs = options.budgetMs ?? RECONCILIATION_RUN_BUDGET_MS;
  const lastEnd = await new PrismaReconciliationStore(deps.prisma).lastPeriodEnd(RECONCILED_BY_SCHEDULER);
  const due = dueReconciliationDays(
    lastEnd,
    deps.clock.now(),
    options.maxDays ?? RECONCILIATION_DAYS_PER_RUN,
  );
  const runs: ReconciliationRun[] = [];
  for (const period of due.periods) {
    if (runs.length > 0 && elapsedMs() >= budgetMs) break;
    runs.push(await reconcilePeriod(deps, log, period));
  }
  const remaining = due.remaining + (due.periods.length - runs.length);
  if (remaining > 0) {
    log.warn(
      { reconciled: runs.length, remaining, elapsedMs: Math.round(elapsedMs()) },
      "reconciliation with Stripe is catching up: the days left go to the next run, queued at once",
    );
    return { runs, remaining, reruns: [] };
  }
  const reruns: ReconciliationRun[] = [];
  if (elapsedMs() >= budgetMs) return { runs, remaining, reruns };
  const again = await reconciliationDaysToRerun(
    deps.prisma,
    deps.clock.now(),
    options.rerunWithinDays ?? RECONCILIATION_RERUN_WITHIN_DAYS,
    options.maxReruns ?? RECONCILIATION_RERUNS_PER_RUN,
  );
  for (const period of again) {
    if (elapsedMs() >= budgetMs) break;
    reruns.push(await reconcilePeriod(deps, log, period));
  }
  if (again.length > 0)
    log.info(
      {
        rerun: reruns.map((r) => new Date(r.report.from).toISOString()),
        stillDifferent: reruns.filter((r) => r.report.differences.length > 0).length,
      },
      "reconciliation with Stripe: days with an open differences ticket reconciled again",
    );
  return { runs, remaining, reruns };
}

/** What one job of the queue did: a run, or nothing because another run holds the lock. */
export type ReconciliationJobResult =
  | ({ readonly busy: false } & ReconciliationCatchUp)
  | {
      readonly busy: true;
      readonly runs: readonly [];
      readonly remaining: number;
      readonly reruns: readonly [];
    };

/** Options of {@link runReconciliationJob} and {@link scheduleReconciliation}. */
export interface ReconciliationJobOptions extends ReconcileDueDaysOptions {
  /** The queue's job expiry, in seconds (default {@link RECONCILIATION_JOB_EXPIRE_SECONDS}). */
  readonly expireInSeconds?: number;
}

/**
 * One job of the queue: under the job's lock ({@link RECONCILIATION_LOCK}), reconciles
 * the days due ({@link reconcileDueDays}) and, when some remain, queues the next job at once
 * (`followUp`; the singleton queue starts it once this one has ended, on whichever scheduler).
 * When another run holds the lock it does nothing (`busy`): that run queues its own follow-up.
 */
export async function runReconciliationJob(
  boss: PgBoss,
  deps: ReconciliationJobDeps,
  log: Logger,
  options: ReconcileDueDaysOptions = {},
): Promise<ReconciliationJobResult> {
  const lock = await trySessionLock(deps.prisma, RECONCILIATION_LOCK);
  if (lock === undefined) {
    log.info("reconciliation with Stripe: another run holds the job's lock; this one ends");
    return { busy: true, runs: [], remaining: 0, reruns: [] };
  }
  let done: ReconciliationJobResult;
  try {
    done = { busy: false, ...(await reconcileDueDays(deps, log, options)) };
  } finally {
    if (lock.lost())
      log.warn(
        "reconciliation with Stripe: the job's lock was lost with its connection during the run; another run may have started",
      );
    await lock.release();
  }
  if (!done.busy && done.remaining > 0) await boss.send(RECONCILIATION_QUEUE, { followUp: true });
  return done;
}

/** The outcome label of a job: `busy` (another run holds the lock), `up_to_date` (nothing reconciled or re-run), `differences` (some day had) or `agrees`. */
export function reconciliationOutcome(done: ReconciliationJobResult): string {
  if (done.busy) return "busy";
  const all = [...done.runs, ...done.reruns];
  if (all.length === 0) return "up_to_date";
  return all.some((r) => r.report.differences.length > 0) ? "differences" : "agrees";
}

/**
 * Schedules the daily cron and works its queue: a singleton queue (one job active at a time)
 * whose jobs expire after `expireInSeconds` (set on a queue made by an older release too).
 */
export async function scheduleReconciliation(
  boss: PgBoss,
  deps: ReconciliationJobDeps,
  log: Logger,
  cron: string,
  metrics?: SchedulerMetrics,
  options: ReconciliationJobOptions = {},
): Promise<void> {
  const queue = {
    policy: "singleton" as const,
    expireInSeconds: options.expireInSeconds ?? RECONCILIATION_JOB_EXPIRE_SECONDS,
  };
  await boss.createQueue(RECONCILIATION_QUEUE, { name: RECONCILIATION_QUEUE, ...queue });
  await boss.updateQueue(RECONCILIATION_QUEUE, { name: RECONCILIATION_QUEUE, ...queue });
  await boss.schedule(RECONCILIATION_QUEUE, cron);
  await boss.work(RECONCILIATION_QUEUE, async () => {
    // Counted as job `reconciliation` (`reconciliationOutcome`, `crashed` when it throws).
    await timedJob(
      metrics,
      "reconciliation",
      () => runReconciliationJob(boss, deps, log, options),
      reconciliationOutcome,
    );
  });
}
