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
import { reconcileAround } from "./reconcile.js";
import type { ReconciliationReport } from "./report-format.js";
import { stripeItemOf } from "./stripe-items.js";
import { type PullResult, StripeRecordsPuller } from "./stripe-records.js";
import { susuItemsOf } from "./susu-items.js";

const DAY_MS = 86_400_000;

/**
 * How far around a period reconciliation looks for a movement's other record (6 hours): susu's
 * ledger dates a movement when susu processed it, Stripe when it created it, so a payment Stripe
 * created at 23:59:59 may be in susu's ledger at 00:00:01 the next day, or hours later after a
 * backlog of webhooks or effects. A movement whose two records are further apart than this is
 * reported (`missing_in_susu` on the day of Stripe's). See `reconcileAround`.
 */
export const RECONCILIATION_MATCH_MARGIN_MS = 6 * 3_600_000;

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
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from % 1000 !== 0 || to % 1000 !== 0)
    return err({
      code: "reconciliation_period_invalid",
      message: "from and to must be instants on whole seconds",
    });
  if (from < 0)
    return err({
      code: "reconciliation_period_invalid",
      message: "a period starts on or after 1970-01-01T00:00:00Z",
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

/**
 * Whether the UTC day starting at `from` may be reconciled and told at `now`: once it is over
 * and the margin after it ({@link RECONCILIATION_MATCH_MARGIN_MS}) too, as the scheduler does,
 * since susu's ledger may book hours after midnight a movement Stripe made before it (an
 * operator's run before then would tell the admins of a difference that is none).
 */
export function reconciliationDayDue(from: number, now: number): boolean {
  return from + DAY_MS + RECONCILIATION_MATCH_MARGIN_MS <= now;
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

/**
 * Compares what is stored for the period (no pull, no store): the pure part over PostgreSQL.
 * Both sides are read for the period widened by `marginMs` (default
 * {@link RECONCILIATION_MATCH_MARGIN_MS}) on each side, to find the other record of a movement
 * across the period's bounds; the report is the period's own (see `reconcileAround`).
 */
export async function reconcileStored(
  prisma: PrismaClient,
  period: ReconciliationPeriod,
  options: { readonly marginMs?: number } = {},
): Promise<ReconciliationReport> {
  const margin = options.marginMs ?? RECONCILIATION_MATCH_MARGIN_MS;
  const store = new PrismaReconciliationStore(prisma);
  const [ledger, records] = await Promise.all([
    store.ledgerTransactions(period.from - margin, period.to + margin),
    store.balanceRecords(period.from - margin, period.to + margin),
  ]);
  const within = (t: number) => t >= period.from && t < period.to;
  const result = reconcileAround(susuItemsOf(ledger), records.map(stripeItemOf), period);
  return {
    from: period.from,
    to: period.to,
    ledgerTransactions: ledger.filter((tx) => within(tx.occurredAt)).length,
    balanceTransactions: records.filter((r) => within(r.created)).length,
    ...result,
  };
}

/**
 * Pulls the period from Stripe and compares it with the ledger, storing no report and telling
 * no one: what an admin's comparison on request (`GET /v1/operations/reconciliation`) shows.
 */
export async function reconcileOnRequest(
  deps: ReconciliationRunDeps,
  period: ReconciliationPeriod,
): Promise<ReconciliationReport> {
  await pullAround(deps, period);
  return reconcileStored(deps.prisma, period);
}

/**
 * Pulls Stripe's records of the period and of the margin around it
 * ({@link RECONCILIATION_MATCH_MARGIN_MS}), so the other record of a movement across its bounds
 * is there to match (up to now: nothing later exists yet).
 */
async function pullAround(deps: ReconciliationRunDeps, period: ReconciliationPeriod): Promise<PullResult> {
  const now = deps.now ?? Date.now;
  const pullTo = Math.min(period.to + RECONCILIATION_MATCH_MARGIN_MS, Math.ceil(now() / 1000) * 1000);
  return new StripeRecordsPuller(deps.stripe, deps.prisma, now).pull(
    period.from - RECONCILIATION_MATCH_MARGIN_MS,
    Math.max(period.to, pullTo),
  );
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
  const pulled = await pullAround(deps, period);
  const report = await reconcileStored(deps.prisma, period);
  const id = `rec_${randomUUID()}`;
  await options.beforeStore?.(report, id);
  const stored = await new PrismaReconciliationStore(deps.prisma).saveReport(id, report, ranBy, now());
  return { report, stored, pulled };
}
