// One reconciliation run: pull Stripe's records of the period, read susu's ledger of the
// period, compare, store the report. The command, the scheduler's job and the admin API
// all run it.
import { randomUUID } from "node:crypto";
import { err, ok, type Result } from "neverthrow";
import type Stripe from "stripe";
import type { PrismaClient } from "../db/prisma-client.js";
import {
  PrismaReconciliationStore,
  type StoredReconciliationSummary,
} from "./prisma-reconciliation-store.js";
import { reconcile } from "./reconcile.js";
import type { ReconciliationReport } from "./report-format.js";
import { stripeItemOf } from "./stripe-items.js";
import { type PullResult, StripeRecordsPuller } from "./stripe-records.js";
import { susuItemsOf } from "./susu-items.js";

const DAY_MS = 86_400_000;

/** Longest period one reconciliation covers. */
export const RECONCILIATION_PERIOD_MAX_DAYS = 31;

/** Why a period cannot be reconciled. */
export interface ReconciliationPeriodError {
  readonly code: "reconciliation_period_invalid" | "reconciliation_period_too_long";
  readonly message: string;
}

/** A period [from, to) in epoch ms. */
export interface ReconciliationPeriod {
  readonly from: number;
  readonly to: number;
}

/** Checks a period: both bounds whole seconds (Stripe's `created` is in seconds), from < to, at most {@link RECONCILIATION_PERIOD_MAX_DAYS} days. */
export function checkReconciliationPeriod(
  from: number,
  to: number,
): Result<ReconciliationPeriod, ReconciliationPeriodError> {
  if (
    !Number.isSafeInteger(from) ||
    !Number.isSafeInteger(to) ||
    from < 0 ||
    from % 1000 !== 0 ||
    to % 1000 !== 0
  )
    return err({
      code: "reconciliation_period_invalid",
      message: "from and to must be instants on whole seconds",
    });
  if (from >= to)
    return err({
      code: "reconciliation_period_invalid",
      message: "from must be before to (to is exclusive)",
    });
  if (to - from > RECONCILIATION_PERIOD_MAX_DAYS * DAY_MS)
    return err({
      code: "reconciliation_period_too_long",
      message: `a period covers at most ${RECONCILIATION_PERIOD_MAX_DAYS} days`,
    });
  return ok({ from, to });
}

/** The UTC day before the one `now` falls in: what the daily job reconciles. */
export function previousUtcDay(now: number): ReconciliationPeriod {
  const to = Math.floor(now / DAY_MS) * DAY_MS;
  return { from: to - DAY_MS, to };
}

/** What a run needs. */
export interface ReconciliationRunDeps {
  readonly prisma: PrismaClient;
  readonly stripe: Stripe;
  readonly now?: () => number;
}

/** What a run produced. */
export interface ReconciliationRun {
  readonly report: ReconciliationReport;
  readonly stored: StoredReconciliationSummary;
  readonly pulled: PullResult;
}

/** Compares what is stored for the period (no pull, no store): the pure part over PostgreSQL. */
export async function reconcileStored(
  prisma: PrismaClient,
  period: ReconciliationPeriod,
): Promise<ReconciliationReport> {
  const store = new PrismaReconciliationStore(prisma);
  const [ledger, records] = await Promise.all([
    store.ledgerTransactions(period.from, period.to),
    store.balanceRecords(period.from, period.to),
  ]);
  const result = reconcile(susuItemsOf(ledger), records.map(stripeItemOf));
  return {
    from: period.from,
    to: period.to,
    ledgerTransactions: ledger.length,
    balanceTransactions: records.length,
    ...result,
  };
}

/** What a run may do besides pulling, comparing and storing. */
export interface ReconciliationRunOptions {
  /**
   * Runs after the comparison and before the report is stored, with the id the report will
   * be stored under; when it throws, nothing is stored. The scheduler opens its ticket here,
   * so a stored report of its means the period is done (see `lastPeriodEnd`).
   */
  readonly beforeStore?: (report: ReconciliationReport, reportId: string) => Promise<void>;
}

/** Pulls the period from Stripe, reconciles it and stores the report (ran by `ranBy`). */
export async function runReconciliation(
  deps: ReconciliationRunDeps,
  period: ReconciliationPeriod,
  ranBy: string,
  options: ReconciliationRunOptions = {},
): Promise<ReconciliationRun> {
  const now = deps.now ?? Date.now;
  const pulled = await new StripeRecordsPuller(deps.stripe, deps.prisma, now).pull(period.from, period.to);
  const report = await reconcileStored(deps.prisma, period);
  const id = `rec_${randomUUID()}`;
  await options.beforeStore?.(report, id);
  const stored = await new PrismaReconciliationStore(deps.prisma).saveReport(id, report, ranBy, now());
  return { report, stored, pulled };
}
