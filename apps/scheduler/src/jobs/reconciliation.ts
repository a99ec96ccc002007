import {
  type PrismaClient,
  PrismaReconciliationStore,
  type ReconciliationPeriod,
  type ReconciliationRun,
  reconciliationSummary,
  runReconciliation,
} from "@susu/adapters";
import type { Clock, SupportDesk } from "@susu/domain";
import type PgBoss from "pg-boss";
import type Stripe from "stripe";
import type { Logger } from "../logger.js";
import { type SchedulerMetrics, timedJob } from "../metrics.js";

/** The pg-boss queue (and cron) that reconciles the days since the last one with Stripe. */
export const RECONCILIATION_QUEUE = "reconcile-with-stripe";

/** Who the job's stored reports are by: its newest report is the last day it reconciled. */
export const RECONCILED_BY_SCHEDULER = "scheduler";

/** Most days one run reconciles; older days left over wait for the next run. */
export const RECONCILIATION_DAYS_PER_RUN = 7;

const DAY_MS = 86_400_000;

/** What the reconciliation job uses. */
export interface ReconciliationJobDeps {
  readonly prisma: PrismaClient;
  readonly stripe: Stripe;
  readonly desk: SupportDesk;
  readonly clock: Clock;
}

/** The ticket of a period's differences: one per period, however often the job runs for it. */
export function reconciliationTicketId(from: number, to: number): string {
  return `reconciliation:${new Date(from).toISOString()}:${new Date(to).toISOString()}`;
}

/** The days a run reconciles: oldest first, at most the run's share, and how many wait for the next run. */
export interface DueReconciliationDays {
  readonly periods: readonly ReconciliationPeriod[];
  readonly remaining: number;
}

/**
 * The UTC days to reconcile at `now`: every whole day from the end of the last one reconciled
 * (`lastEnd`, the newest report of the job) up to the start of today, oldest first, at most
 * `maxDays`. With no report yet, the day before today alone (the job does not reach back
 * before its first run). Nothing when the last day reconciled is yesterday or later.
 */
export function dueReconciliationDays(
  lastEnd: number | undefined,
  now: number,
  maxDays: number = RECONCILIATION_DAYS_PER_RUN,
): DueReconciliationDays {
  const today = Math.floor(now / DAY_MS) * DAY_MS;
  // A report not ending on a midnight (none the job writes) counts from its day's start.
  const first = lastEnd === undefined ? today - DAY_MS : Math.floor(lastEnd / DAY_MS) * DAY_MS;
  const due = Math.max(0, (today - first) / DAY_MS);
  const periods: ReconciliationPeriod[] = [];
  for (let i = 0; i < Math.min(due, Math.max(0, maxDays)); i++)
    periods.push({ from: first + i * DAY_MS, to: first + (i + 1) * DAY_MS });
  return { periods, remaining: due - periods.length };
}

/**
 * Reconciles one period with Stripe and stores the report. A report with differences opens
 * a support ticket for the platform's admins (once per period, however often the period is
 * reconciled: the ticket's id is the period's) before the report is stored, and is logged as
 * an error; a ticket that cannot be opened fails the run with nothing stored, so the day
 * stays due and the next run (or pg-boss's retry) reconciles it again.
 */
export async function reconcilePeriod(
  deps: ReconciliationJobDeps,
  log: Logger,
  period: ReconciliationPeriod,
): Promise<ReconciliationRun> {
  const context = (reportId: string, run: { differences: readonly unknown[]; matched: number }) => ({
    reportId,
    from: new Date(period.from).toISOString(),
    to: new Date(period.to).toISOString(),
    differences: run.differences.length,
    matched: run.matched,
  });
  const run = await runReconciliation(
    { prisma: deps.prisma, stripe: deps.stripe, now: () => deps.clock.now() },
    period,
    RECONCILED_BY_SCHEDULER,
    {
      beforeStore: async (report, reportId) => {
        if (report.differences.length === 0) return;
        const c = context(reportId, report);
        const opened = await deps.desk.openTicket({
          id: reconciliationTicketId(period.from, period.to),
          reason: "reconciliation_differences",
          // The ticket is opened before the report is stored (a stored report means the day is done),
          // and kept by its id per day: it names the period's reports, not this run's id, which a
          // failed store would leave pointing at nothing.
          summary: `Reconciliation with Stripe found ${c.differences} difference(s) for ${c.from} to ${c.to} (the period's reports: GET /v1/operations/reconciliation/reports)\n${reconciliationSummary(report)}`,
        });
        if (opened.isErr())
          throw new Error(`opening the reconciliation ticket failed: ${opened.error.message}`);
      },
    },
  );
  const c = context(run.stored.id, run.report);
  if (c.differences === 0) log.info(c, "reconciliation with Stripe: no differences");
  else log.error(c, "reconciliation with Stripe found differences");
  return run;
}

/** What one run of the job did: the days it reconciled, oldest first, and how many wait for the next run. */
export interface ReconciliationCatchUp {
  readonly runs: readonly ReconciliationRun[];
  readonly remaining: number;
}

/**
 * Reconciles every UTC day since the last one the job reconciled (its newest stored report),
 * up to yesterday, oldest first, at most `maxDays` a run: a day the scheduler was down or the
 * job crashed is caught up by the next run, not lost. Each day's report is stored as it is
 * done, so a run that fails part-way resumes from the first day it did not store. Run by one
 * scheduler at a time (the queue is a pg-boss singleton); should two run at once anyway, a
 * day reconciled twice has two reports and still one ticket.
 */
export async function reconcileDueDays(
  deps: ReconciliationJobDeps,
  log: Logger,
  maxDays: number = RECONCILIATION_DAYS_PER_RUN,
): Promise<ReconciliationCatchUp> {
  const lastEnd = await new PrismaReconciliationStore(deps.prisma).lastPeriodEnd(RECONCILED_BY_SCHEDULER);
  const due = dueReconciliationDays(lastEnd, deps.clock.now(), maxDays);
  const runs: ReconciliationRun[] = [];
  for (const period of due.periods) runs.push(await reconcilePeriod(deps, log, period));
  if (due.remaining > 0)
    log.warn(
      { reconciled: runs.length, remaining: due.remaining },
      "reconciliation with Stripe is catching up: the days left wait for the next run",
    );
  return { runs, remaining: due.remaining };
}

/** Schedules the daily cron and works its queue. */
export async function scheduleReconciliation(
  boss: PgBoss,
  deps: ReconciliationJobDeps,
  log: Logger,
  cron: string,
  metrics?: SchedulerMetrics,
): Promise<void> {
  await boss.createQueue(RECONCILIATION_QUEUE, { name: RECONCILIATION_QUEUE, policy: "singleton" });
  await boss.schedule(RECONCILIATION_QUEUE, cron);
  await boss.work(RECONCILIATION_QUEUE, async () => {
    // Counted as job `reconciliation`: `agrees`, `differences` (a day had some), `up_to_date`
    // (no day due), `crashed` when it throws.
    await timedJob(
      metrics,
      "reconciliation",
      () => reconcileDueDays(deps, log),
      (done) =>
        done.runs.length === 0
          ? "up_to_date"
          : done.runs.some((r) => r.report.differences.length > 0)
            ? "differences"
            : "agrees",
    );
  });
}
