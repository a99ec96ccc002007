// Reads and writes of reconciliation in PostgreSQL: the ledger transactions and stored
// Stripe balance transactions of a period, and the stored reports.
import type { LedgerTransaction } from "@susu/domain";
import type { PrismaClient } from "../db/prisma-client.js";
import { fromBigIntMinor } from "../prisma/conversions.js";
import { parseLedgerTransaction } from "../prisma/snapshots.js";
import { DAILY_RECONCILIATION_RAN_BY, OPERATOR_RAN_BY_PREFIX } from "./daily-days.js";
import type { ReconciliationDifference } from "./reconcile.js";
import type { ReconciliationReport } from "./report-format.js";
import type { StripeBalanceRecord } from "./stripe-items.js";

/** A stored report, as listed (without its differences). */
export interface StoredReconciliationSummary {
  readonly id: string;
  readonly from: number;
  readonly to: number;
  readonly ranBy: string;
  readonly differencesCount: number;
  readonly matched: number;
  readonly createdAt: number;
}

/** A stored report with everything in it. */
export interface StoredReconciliationReport extends StoredReconciliationSummary {
  readonly report: ReconciliationReport;
}

/** How a charge settled, from its balance transaction: both amounts and the rate. */
export interface ChargeSettlement {
  readonly balanceTransactionId: string;
  readonly chargeId: string;
  readonly presentmentMinor: number;
  readonly presentmentCurrency: string;
  readonly settlementMinor: number;
  readonly settlementCurrency: string;
  readonly feeMinor: number;
  readonly netMinor: number;
  /** Null when the charge settled in its own currency. */
  readonly exchangeRate: number | null;
}

/** Most stored reports one listing returns. */
export const RECONCILIATION_REPORTS_PAGE_MAX = 100;

type BalanceRow = Awaited<ReturnType<PrismaClient["stripeBalanceTransaction"]["findMany"]>>[number];

function recordOf(row: BalanceRow): StripeBalanceRecord {
  return {
    id: row.id,
    type: row.type,
    reportingCategory: row.reportingCategory,
    status: row.status,
    sourceId: row.sourceId,
    sourceObject: row.sourceObject,
    amountMinor: fromBigIntMinor(row.amountMinor),
    currency: row.currency,
    feeMinor: fromBigIntMinor(row.feeMinor),
    netMinor: fromBigIntMinor(row.netMinor),
    exchangeRate: row.exchangeRate === null ? null : Number(row.exchangeRate),
    created: row.created.getTime(),
    availableOn: row.availableOn.getTime(),
    presentmentMinor: row.presentmentMinor === null ? null : fromBigIntMinor(row.presentmentMinor),
    presentmentCurrency: row.presentmentCurrency,
    effectId: row.effectId,
    heldPaymentId: row.heldPaymentId,
    groupId: row.groupId,
    roundId: row.roundId,
    marketplaceChargeId: row.marketplaceChargeId,
    sellerId: row.sellerId,
    membershipInvoiceId: row.membershipInvoiceId,
    membershipLookupFailure: row.membershipLookupFailure,
    transferId: row.transferId,
    transferEffectId: row.transferEffectId,
    sourceStatus: row.sourceStatus,
  };
}

/** The reports, ledger and Stripe records of reconciliation, on PostgreSQL. */
export class PrismaReconciliationStore {
  readonly #prisma: PrismaClient;

  constructor(prisma: PrismaClient) {
    this.#prisma = prisma;
  }

  /** Stored balance transactions created in [from, to), oldest first. */
  async balanceRecords(from: number, to: number): Promise<StripeBalanceRecord[]> {
    const rows = await this.#prisma.stripeBalanceTransaction.findMany({
      where: { created: { gte: new Date(from), lt: new Date(to) } },
      orderBy: [{ created: "asc" }, { id: "asc" }],
    });
    return rows.map(recordOf);
  }

  /** Ledger transactions that occurred in [from, to), oldest first; a stored one the domain refuses throws (corrupt storage). */
  async ledgerTransactions(from: number, to: number): Promise<LedgerTransaction[]> {
    const rows = await this.#prisma.ledgerTransaction.findMany({
      where: { occurredAt: { gte: new Date(from), lt: new Date(to) } },
      include: { postings: { orderBy: { position: "asc" } } },
      orderBy: [{ occurredAt: "asc" }, { id: "asc" }],
    });
    return rows.map((row) => {
      const parsed = parseLedgerTransaction({
        id: row.id,
        kind: row.kind,
        occurredAt: row.occurredAt.getTime(),
        refs: row.refs,
        postings: row.postings.map((p) => ({
          account: p.accountId,
          side: p.direction,
          amount: { amountMinor: fromBigIntMinor(p.amountMinor), currency: p.currency },
        })),
      });
      if (parsed.isErr()) throw new Error(`stored ledger transaction ${row.id} is invalid: ${parsed.error}`);
      return parsed.value;
    });
  }

  /**
   * How a held payment's charge settled: its charge's balance transaction as last pulled, or
   * `undefined` when none was pulled yet.
   */
  async heldPaymentSettlement(heldPaymentId: string): Promise<ChargeSettlement | undefined> {
    const row = await this.#prisma.stripeBalanceTransaction.findFirst({
      where: { heldPaymentId, type: { in: ["charge", "payment"] }, sourceObject: "charge" },
      orderBy: [{ created: "asc" }, { id: "asc" }],
    });
    if (row === null || row.sourceId === null) return undefined;
    const r = recordOf(row);
    return {
      balanceTransactionId: r.id,
      chargeId: row.sourceId,
      presentmentMinor: r.presentmentMinor ?? r.amountMinor,
      presentmentCurrency: r.presentmentCurrency ?? r.currency,
      settlementMinor: r.amountMinor,
      settlementCurrency: r.currency,
      feeMinor: r.feeMinor,
      netMinor: r.netMinor,
      exchangeRate: r.exchangeRate,
    };
  }

  /**
   * Stores a report under `id`. Its `createdAt` is made later than every report stored of
   * the same period, whoever ran it (by a millisecond when the clock says otherwise: two runs
   * in one millisecond, or a clock set back), so "the newest report of a period" — what a
   * later run compares itself with — never depends on how ids sort.
   */
  async saveReport(
    id: string,
    report: ReconciliationReport,
    ranBy: string,
    at: number,
  ): Promise<StoredReconciliationSummary> {
    const { differences, ...summary } = report;
    const latest = await this.#prisma.reconciliationReport.findFirst({
      where: { periodFrom: new Date(report.from), periodTo: new Date(report.to) },
      orderBy: [{ createdAt: "desc" }],
      select: { createdAt: true },
    });
    const createdAt = latest === null ? at : Math.max(at, latest.createdAt.getTime() + 1);
    await this.#prisma.reconciliationReport.create({
      data: {
        id,
        periodFrom: new Date(report.from),
        periodTo: new Date(report.to),
        ranBy,
        differencesCount: differences.length,
        matched: report.matched,
        summary: JSON.parse(JSON.stringify(summary)),
        differences: JSON.parse(JSON.stringify(differences)),
        createdAt: new Date(createdAt),
      },
    });
    return {
      id,
      from: report.from,
      to: report.to,
      ranBy,
      differencesCount: differences.length,
      matched: report.matched,
      createdAt,
    };
  }

  /**
   * The end of the latest period reported by `ranBy` (the newest by its start), or
   * `undefined` when it stored none: how far the scheduler's daily job has reconciled.
   * Read through the index on the period.
   */
  async lastPeriodEnd(ranBy: string): Promise<number | undefined> {
    const row = await this.#prisma.reconciliationReport.findFirst({
      where: { ranBy },
      orderBy: [{ periodFrom: "desc" }, { periodTo: "desc" }],
      select: { periodTo: true },
    });
    return row?.periodTo.getTime();
  }

  /**
   * The periods `ranBy` reported that start in [`since`, `until`), oldest first, each with
   * when its newest report was stored (`lastRunAt`, epoch ms): the days the scheduler may run
   * again. One statement, through the index on the period.
   */
  async reportedPeriods(
    ranBy: string,
    since: number,
    until: number,
  ): Promise<{ readonly from: number; readonly to: number; readonly lastRunAt: number }[]> {
    const rows = await this.#prisma.reconciliationReport.groupBy({
      by: ["periodFrom", "periodTo"],
      where: { ranBy, periodFrom: { gte: new Date(since), lt: new Date(until) } },
      _max: { createdAt: true },
      orderBy: [{ periodFrom: "asc" }, { periodTo: "asc" }],
    });
    return rows.flatMap((r) =>
      r._max.createdAt === null
        ? []
        : [{ from: r.periodFrom.getTime(), to: r.periodTo.getTime(), lastRunAt: r._max.createdAt.getTime() }],
    );
  }

  /**
   * The newest report of exactly the period `from`–`to` by a run that tells (the scheduler's,
   * `scheduler`, or an operator's, `operator:<who>`), or `undefined`: what the previous such
   * run of the period found and said. Read through the index on the period.
   */
  async latestToldReportOf(from: number, to: number): Promise<StoredReconciliationReport | undefined> {
    const row = await this.#prisma.reconciliationReport.findFirst({
      where: {
        periodFrom: new Date(from),
        periodTo: new Date(to),
        OR: [{ ranBy: DAILY_RECONCILIATION_RAN_BY }, { ranBy: { startsWith: OPERATOR_RAN_BY_PREFIX } }],
      },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      select: { id: true },
    });
    return row === null ? undefined : this.getReport(row.id);
  }

  /**
   * Stored reports, newest first (created, then id): at most `limit`
   * (1..{@link RECONCILIATION_REPORTS_PAGE_MAX}) after the report `startingAfter` (an
   * unknown one is an empty page), and whether more follow.
   */
  async listReports(
    limit: number,
    startingAfter?: string,
  ): Promise<{ readonly items: StoredReconciliationSummary[]; readonly hasMore: boolean }> {
    const take = Math.max(1, Math.min(RECONCILIATION_REPORTS_PAGE_MAX, Math.floor(limit)));
    let after = {};
    if (startingAfter !== undefined) {
      const cursor = await this.#prisma.reconciliationReport.findUnique({
        where: { id: startingAfter },
        select: { createdAt: true, id: true },
      });
      if (cursor === null) return { items: [], hasMore: false };
      after = {
        OR: [{ createdAt: { lt: cursor.createdAt } }, { createdAt: cursor.createdAt, id: { lt: cursor.id } }],
      };
    }
    const rows = await this.#prisma.reconciliationReport.findMany({
      where: after,
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: take + 1,
      select: {
        id: true,
        periodFrom: true,
        periodTo: true,
        ranBy: true,
        differencesCount: true,
        matched: true,
        createdAt: true,
      },
    });
    return {
      items: rows.slice(0, take).map((r) => ({
        id: r.id,
        from: r.periodFrom.getTime(),
        to: r.periodTo.getTime(),
        ranBy: r.ranBy,
        differencesCount: r.differencesCount,
        matched: r.matched,
        createdAt: r.createdAt.getTime(),
      })),
      hasMore: rows.length > take,
    };
  }

  /** A stored report with its differences, or `undefined`. */
  async getReport(id: string): Promise<StoredReconciliationReport | undefined> {
    const r = await this.#prisma.reconciliationReport.findUnique({ where: { id } });
    if (r === null) return undefined;
    const summary = r.summary as unknown as Omit<ReconciliationReport, "differences">;
    return {
      id: r.id,
      from: r.periodFrom.getTime(),
      to: r.periodTo.getTime(),
      ranBy: r.ranBy,
      differencesCount: r.differencesCount,
      matched: r.matched,
      createdAt: r.createdAt.getTime(),
      report: { ...summary, differences: r.differences as unknown as ReconciliationDifference[] },
    };
  }
}
