// A reconciliation run that tells: the scheduler's daily job, `npm run reconcile` and an
// admin's run of a day (POST /v1/operations/reconciliation/days/{date}/runs) all reconcile a
// period this way, so a period's ticket and the admins' notices follow every such run of it,
// whoever ran it, with the same ids.
import type { Clock, Notification, Notifier, SupportDesk } from "@susu/domain";
import type Stripe from "stripe";
import type { PrismaClient } from "../db/prisma-client.js";
import { waitForSessionLock } from "../db/session-lock.js";
import { OPERATOR_RAN_BY_PREFIX } from "./daily-days.js";
import {
  type ReconciliationChange,
  reconciliationChange,
  reconciliationDifferencesNotice,
  reconciliationFollowUpNotice,
} from "./differences-notice.js";
import { PrismaReconciliationStore } from "./prisma-reconciliation-store.js";
import { type ReconciliationReport, reconciliationSummary } from "./report-format.js";
import {
  type ReconciliationPeriod,
  type ReconciliationRun,
  runReconciliation,
} from "./run-reconciliation.js";

/** The ticket of a period's differences: one per period, however often it is reconciled and by whom. */
export function reconciliationTicketId(from: number, to: number): string {
  return `reconciliation:${new Date(from).toISOString()}:${new Date(to).toISOString()}`;
}

/** Who an operator's run is stored as: `operator:<who>` (an admin's subject, or `command`). */
export function operatorRanBy(who: string): string {
  return `${OPERATOR_RAN_BY_PREFIX}${who}`;
}

/** What a run that tells uses: PostgreSQL, Stripe, the support desk and the admins' notifier. */
export interface ReconcileAndTellDeps {
  readonly prisma: PrismaClient;
  readonly stripe: Stripe;
  readonly desk: SupportDesk;
  /** Tells the platform's admins of a period with differences (the admin alerts of the delivery log). */
  readonly notifier: Notifier;
  readonly clock: Clock;
}

/**
 * What a run that tells did, besides the run: how its report compares with the period's
 * previous one (`change`), the period's ticket when the run found differences or cleared
 * them (`ticketId`), and the notice it queued (`noticeId`; none when it had nothing to say).
 */
export interface ToldReconciliationRun extends ReconciliationRun {
  readonly change: ReconciliationChange["kind"];
  readonly ticketId?: string;
  readonly noticeId?: string;
}

/**
 * Reconciles one period with Stripe and stores the report as `ranBy` (`scheduler`, or
 * {@link operatorRanBy}). Before it is stored, the report is compared with the period's
 * previous one of any run that tells (`reconciliationChange`; `latestToldReportOf`):
 *
 * - the period's first run, with differences: a support ticket for the platform's admins
 *   (its id the period's), then a `reconciliation_differences` notice to `platform_admins`
 *   (e-mail and webhooks as the notifier is configured, linking the ticket and its runbook);
 * - a later run that found the same differences: nothing more;
 * - one that found other differences (more, fewer, other amounts): a note on the ticket (its
 *   subject then says what the run found; a resolved ticket is opened again), then a
 *   follow-up notice (`change: changed`);
 * - one that found none any more: the ticket resolved, then a follow-up (`change: cleared`).
 *
 * Runs of one period take their turn (a session advisory lock per period, waited for), so each
 * is compared with the report of the one before it. The note and the follow-up are named after
 * the change (the previous report's id and a digest of the differences), so a retry or a second
 * run says each change once,
 * whichever of the scheduler and an operator runs it. A ticket that cannot be opened,
 * updated or resolved, or a notice that cannot be queued, throws with nothing stored: the
 * run is done again (the scheduler's next run, the operator's retry), compared with the same
 * previous report, and nothing is doubled.
 */
export async function reconcileAndTell(
  deps: ReconcileAndTellDeps,
  period: ReconciliationPeriod,
  ranBy: string,
): Promise<ToldReconciliationRun> {
  // Runs of one period take their turn (the scheduler's and an operator's at once): each is
  // compared with the one stored before it, so one that cleared the period cannot resolve its
  // ticket after another reopened it for a new difference, nor store its report after it.
  // The lock is held on a PostgreSQL connection of its own, outside the pool: one that cannot
  // be opened (the server's or the role's connection limit, the server unreachable) fails the
  // run, saying which period's lock it was.
  const name = `susu:reconciliation-period:${reconciliationTicketId(period.from, period.to)}`;
  let lock: Awaited<ReturnType<typeof waitForSessionLock>>;
  try {
    lock = await waitForSessionLock(deps.prisma, name);
  } catch (error) {
    throw new Error(
      `reconciliation of ${new Date(period.from).toISOString()} to ${new Date(period.to).toISOString()}: its period's lock (${name}, a PostgreSQL connection of its own) could not be taken: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  try {
    return await reconcileAndTellInTurn(deps, period, ranBy);
  } finally {
    await lock.release();
  }
}

async function reconcileAndTellInTurn(
  deps: ReconcileAndTellDeps,
  period: ReconciliationPeriod,
  ranBy: string,
): Promise<ToldReconciliationRun> {
  const reports = new PrismaReconciliationStore(deps.prisma);
  let told: { change: ReconciliationChange["kind"]; ticketId?: string; noticeId?: string } = {
    change: "first",
  };
  const tell = async (notice: Notification) => {
    // After the ticket, which it links. Queued in PostgreSQL (the delivery worker sends and
    // retries it); failing to queue it fails the run as a ticket's failure does.
    const sent = await deps.notifier.send(notice);
    if (sent.isErr())
      throw new Error(`telling the admins of the reconciliation's differences failed: ${sent.error.message}`);
    told = { ...told, noticeId: notice.id };
  };
  const run = await runReconciliation(
    { prisma: deps.prisma, stripe: deps.stripe, now: () => deps.clock.now() },
    period,
    ranBy,
    {
      beforeStore: async (report) => {
        const change = reconciliationChange(report, await reports.latestToldReportOf(period.from, period.to));
        const ticketId = reconciliationTicketId(period.from, period.to);
        told = {
          change: change.kind,
          ...(report.differences.length > 0 || change.kind === "cleared" ? { ticketId } : {}),
        };
        if (change.kind === "same") return;
        if (change.kind === "first" && report.differences.length === 0) return;
        await tellChange(deps, report, change, ticketId, ranBy, tell);
      },
    },
  );
  return { ...run, ...told };
}

/** Opens, notes or resolves the period's ticket for `change`, then tells the admins. */
async function tellChange(
  deps: ReconcileAndTellDeps,
  report: ReconciliationReport,
  change: Exclude<ReconciliationChange, { readonly kind: "same" }>,
  ticketId: string,
  ranBy: string,
  tell: (notice: Notification) => Promise<void>,
): Promise<void> {
  const from = new Date(report.from).toISOString();
  const to = new Date(report.to).toISOString();
  // The ticket's words name the period's reports, not this run's id, which a failed store
  // would leave pointing at nothing.
  const reportsRoute = "the period's reports: GET /v1/operations/reconciliation/reports";
  const was =
    change.kind === "first"
      ? ""
      : `; its last run found ${change.previous.report.differences.length || "none"}`;
  if (change.kind === "cleared") {
    const resolved = await deps.desk.resolveTicket?.(ticketId, {
      by: ranBy,
      note: `A later reconciliation with Stripe found no differences for ${from} to ${to}${was} (${reportsRoute})`,
      at: deps.clock.now(),
    });
    if (resolved?.isErr())
      throw new Error(`resolving the reconciliation ticket failed: ${resolved.error.message}`);
    return tell(reconciliationFollowUpNotice(report, change, ticketId));
  }
  const found = `found ${report.differences.length} difference(s) for ${from} to ${to}`;
  // The ticket is opened before the report is stored (a stored report of the scheduler's
  // means its day is done), and kept by its id per period.
  const opened = await deps.desk.openTicket({
    id: ticketId,
    reason: "reconciliation_differences",
    summary: `Reconciliation with Stripe ${found} (${reportsRoute})\n${reconciliationSummary(report)}`,
  });
  if (opened.isErr()) throw new Error(`opening the reconciliation ticket failed: ${opened.error.message}`);
  if (change.kind === "first") return tell(reconciliationDifferencesNotice(report, ticketId));
  const noted = await deps.desk.updateTicket?.(ticketId, {
    noteId: `reconciliation:${change.key}`,
    summary: `A later reconciliation with Stripe ${found}${was} (${reportsRoute})\n${reconciliationSummary(report)}`,
    at: deps.clock.now(),
    reopen: true,
  });
  if (noted?.isErr()) throw new Error(`updating the reconciliation ticket failed: ${noted.error.message}`);
  return tell(reconciliationFollowUpNotice(report, change, ticketId));
}
