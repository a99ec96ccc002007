import {
  type PrismaClient,
  previousUtcDay,
  type ReconciliationRun,
  reconciliationSummary,
  runReconciliation,
} from "@susu/adapters";
import type { Clock, SupportDesk } from "@susu/domain";
import type PgBoss from "pg-boss";
import type Stripe from "stripe";
import type { Logger } from "../logger.js";
import { type SchedulerMetrics, timedJob } from "../metrics.js";

/** The pg-boss queue (and cron) that reconciles the previous UTC day with Stripe. */
export const RECONCILIATION_QUEUE = "reconcile-with-stripe";

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

/**
 * Reconciles the UTC day before now with Stripe and stores the report. A report with
 * differences opens a support ticket for the platform's admins (once per period) and is
 * logged as an error; a ticket that cannot be opened fails the job, so pg-boss retries it.
 */
export async function reconcilePreviousDay(
  deps: ReconciliationJobDeps,
  log: Logger,
): Promise<ReconciliationRun> {
  const period = previousUtcDay(deps.clock.now());
  const run = await runReconciliation(
    { prisma: deps.prisma, stripe: deps.stripe, now: () => deps.clock.now() },
    period,
    "scheduler",
  );
  const differences = run.report.differences.length;
  const context = {
    reportId: run.stored.id,
    from: new Date(period.from).toISOString(),
    to: new Date(period.to).toISOString(),
    differences,
    matched: run.report.matched,
  };
  if (differences === 0) {
    log.info(context, "reconciliation with Stripe: no differences");
    return run;
  }
  log.error(context, "reconciliation with Stripe found differences");
  const opened = await deps.desk.openTicket({
    id: reconciliationTicketId(period.from, period.to),
    reason: "reconciliation_differences",
    summary: `Reconciliation with Stripe found ${differences} difference(s) for ${context.from} to ${context.to} (report ${run.stored.id})\n${reconciliationSummary(run.report)}`,
  });
  if (opened.isErr()) throw new Error(`opening the reconciliation ticket failed: ${opened.error.message}`);
  return run;
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
    // Counted as job `reconciliation`: `agrees` or `differences`, `crashed` when it throws.
    await timedJob(
      metrics,
      "reconciliation",
      () => reconcilePreviousDay(deps, log),
      (run) => (run.report.differences.length === 0 ? "agrees" : "differences"),
    );
  });
}
