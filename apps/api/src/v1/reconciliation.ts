import { createRoute, z } from "@hono/zod-openapi";
import {
  checkReconciliationPeriod,
  DIFFERENCE_CODES,
  operatorRanBy,
  RECONCILIATION_CATEGORIES,
  RECONCILIATION_PERIOD_MAX_DAYS,
  type ReconciliationPeriod,
  type ReconciliationReport,
  reconciliationCsv,
  reconciliationDayDue,
  type StoredReconciliationReport,
  type StoredReconciliationSummary,
  type ToldReconciliationRun,
} from "@susu/adapters";
import type { Context, MiddlewareHandler } from "hono";
import { problemDoc } from "../http/problem-response.js";
import { problem } from "../problem.js";
import { isPlatformOperator, refuseUnlessOperator } from "./authz.js";
import { type V1Env, v1Router } from "./context.js";
import type { HeldPaymentSettlements } from "./held-payments.js";
import { PageQuerySchema, pageSchema } from "./pagination.js";
import {
  commonResponses,
  conflictResponse,
  forbiddenResponse,
  json,
  notFoundResponse,
  postResponses,
} from "./schemas.js";

// Reconciliation with Stripe, for platform admins (role `admin`; a service token gets 403
// `admin_only`, anyone else 403 `operator_only` as on every operations route):
// - `GET /v1/operations/reconciliation?from=&to=` pulls Stripe's balance transactions of
//   the period and compares them with susu's ledger, now. It stores no report (a GET is
//   safe to repeat); the daily job and `npm run reconcile` store theirs. `Accept: text/csv`
//   answers the differences as CSV.
// - `GET /v1/operations/reconciliation/reports` lists stored reports, newest first, and
//   `…/reports/{reportId}` reads one (CSV too).
// - `POST /v1/operations/reconciliation/days/{date}/runs` reconciles a whole UTC day that is
//   over, as the scheduler's daily run does (`reconcileAndTell`): it stores the report as
//   `operator:<subject>`, opens, notes, reopens or resolves the day's differences ticket and
//   tells the admins, with the ids the scheduler uses, so a second identical run sends nothing.
//   The way to have a day checked again after its ticket was resolved by hand.

/** What the reconciliation routes need (built in the composition root). */
export interface ReconciliationDeps {
  /** Pulls Stripe's records of the period and reconciles them with the ledger. */
  readonly reconcile: (period: ReconciliationPeriod) => Promise<ReconciliationReport>;
  /** How a held payment's charge settled (the held payment's read shows it to operators). */
  readonly settlements: HeldPaymentSettlements;
  readonly reports: {
    listReports(
      limit: number,
      startingAfter?: string,
    ): Promise<{ readonly items: readonly StoredReconciliationSummary[]; readonly hasMore: boolean }>;
    getReport(id: string): Promise<StoredReconciliationReport | undefined>;
  };
  /** Runs that tell (`reconcileAndTell` on the desk and the admins' notifier); none: no runs route. */
  readonly runs?: {
    run(period: ReconciliationPeriod, ranBy: string): Promise<ToldReconciliationRun>;
    /** Now, epoch ms: a day not over yet is not run. */
    now(): number;
  };
}

const Instant = z.string().max(40).openapi({
  description:
    "A date (midnight UTC) or an ISO 8601 instant with a zone; a day or time that does not exist (2026-02-30, hour 24) is refused with reconciliation_period_invalid, not rolled over",
  example: "2026-12-01",
});

const PeriodQuery = z.object({
  from: Instant.openapi({ description: "Start of the period, inclusive", example: "2026-12-01" }),
  to: Instant.openapi({ description: "End of the period, exclusive", example: "2026-12-02" }),
});

const DifferenceSchema = z
  .object({
    code: z.enum(DIFFERENCE_CODES),
    category: z.enum(RECONCILIATION_CATEGORIES),
    key: z.string().openapi({ description: "What both sides were matched on", example: "object:tr_1" }),
    susuMinor: z.number().int().nullable(),
    susuCurrency: z.string().nullable(),
    stripeMinor: z.number().int().nullable(),
    stripeCurrency: z.string().nullable(),
    ledgerTransactionIds: z.array(z.string()),
    stripeObjectIds: z.array(z.string()),
    balanceTransactionIds: z.array(z.string()),
    at: z.string().openapi({ example: "2026-12-01T09:00:00.000Z" }),
    detail: z.string(),
  })
  .openapi("ReconciliationDifference");

const TotalSchema = z
  .object({
    currency: z.string(),
    category: z.enum(RECONCILIATION_CATEGORIES),
    susuMinor: z.number().int(),
    susuCount: z.number().int(),
    stripeMinor: z.number().int(),
    stripeCount: z.number().int(),
  })
  .openapi("ReconciliationTotal");

const SettlementSchema = z
  .object({
    currency: z.string(),
    amountMinor: z.number().int(),
    feeMinor: z.number().int(),
    netMinor: z.number().int(),
    count: z.number().int(),
  })
  .openapi("ReconciliationSettlement");

const ReportSchema = z
  .object({
    object: z.literal("reconciliation"),
    id: z
      .string()
      .nullable()
      .openapi({ description: "The stored report's id; null for one computed on request" }),
    from: z.string(),
    to: z.string(),
    matched: z.number().int(),
    ledgerTransactions: z.number().int(),
    balanceTransactions: z.number().int(),
    payoutsNotTracked: z
      .number()
      .int()
      .openapi({ description: "Payouts to the platform's bank: counted, not tracked by susu's ledger" }),
    stripeAccountMovements: z.number().int().openapi({
      description:
        "Stripe's own movements on the platform's balance (stripe_fee, reserves, tax, top-ups): counted, not differences; 0 in reports stored before they were counted",
    }),
    undoneAtStripe: z.number().int().openapi({
      description:
        "Movements at Stripe undone within the period (a failed payment, a dispute won): no money moved",
    }),
    totals: z.array(TotalSchema),
    settlement: z.array(SettlementSchema),
    differences: z.array(DifferenceSchema),
  })
  .openapi("Reconciliation", {
    description:
      "susu's ledger against Stripe's balance transactions for [from, to): totals per currency and category on both sides (money into the platform balance positive, minor units of the charge currency), Stripe's settlement with its fees, and every difference with a stable code.",
  });

const SummarySchema = z
  .object({
    object: z.literal("reconciliation_report"),
    id: z.string(),
    from: z.string(),
    to: z.string(),
    ranBy: z.string(),
    differences: z.number().int(),
    matched: z.number().int(),
    createdAt: z.string(),
  })
  .openapi("ReconciliationReportSummary");

const iso = (ms: number) => new Date(ms).toISOString();

function reportView(report: ReconciliationReport, id: string | null) {
  return {
    object: "reconciliation" as const,
    id,
    from: iso(report.from),
    to: iso(report.to),
    matched: report.matched,
    ledgerTransactions: report.ledgerTransactions,
    balanceTransactions: report.balanceTransactions,
    payoutsNotTracked: report.payoutsNotTracked,
    undoneAtStripe: report.undoneAtStripe ?? 0,
    stripeAccountMovements: report.stripeAccountMovements ?? 0,
    totals: report.totals.map((t) => ({ ...t })),
    settlement: report.settlement.map((s) => ({ ...s })),
    differences: report.differences.map((d) => ({
      ...d,
      ledgerTransactionIds: [...d.ledgerTransactionIds],
      stripeObjectIds: [...d.stripeObjectIds],
      balanceTransactionIds: [...d.balanceTransactionIds],
      at: iso(d.at),
    })),
  };
}

function summaryView(r: StoredReconciliationSummary) {
  return {
    object: "reconciliation_report" as const,
    id: r.id,
    from: iso(r.from),
    to: iso(r.to),
    ranBy: r.ranBy,
    differences: r.differencesCount,
    matched: r.matched,
    createdAt: iso(r.createdAt),
  };
}

const INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?(Z|[+-](\d{2}):(\d{2})))?$/;

/**
 * `2026-12-01` (midnight UTC) or an ISO 8601 instant with a zone; undefined otherwise, and for
 * a day or a time that does not exist (2026-02-30, hour 24, second 60, an offset of 24 hours),
 * which `Date.parse` would roll over (2026-02-30T00:00Z is 2 March) instead of refusing.
 */
function instantOf(text: string): number | undefined {
  const parts = INSTANT.exec(text);
  if (parts === null) return undefined;
  const [, year, month, day, hour, minute, second, zone, offsetHours, offsetMinutes] = parts;
  // Only a complete date-time has a zone; `2026-12-01T10:00` without one was refused above.
  if (hour !== undefined && zone === undefined) return undefined;
  const y = Number(year);
  const m = Number(month);
  const d = Number(day);
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0–99 as 1900–1999.
  const calendar = new Date(0);
  calendar.setUTCFullYear(y, m - 1, d);
  if (calendar.getUTCFullYear() !== y || calendar.getUTCMonth() !== m - 1 || calendar.getUTCDate() !== d)
    return undefined;
  if (Number(hour ?? 0) > 23 || Number(minute ?? 0) > 59 || Number(second ?? 0) > 59) return undefined;
  if (Number(offsetHours ?? 0) > 23 || Number(offsetMinutes ?? 0) > 59) return undefined;
  const ms = Date.parse(hour === undefined ? `${text}T00:00:00Z` : text);
  return Number.isNaN(ms) ? undefined : ms;
}

/** An error of the Stripe SDK (its classes set `type` to `StripeConnectionError`, `StripeAPIError`, …). */
function isStripeSdkError(error: unknown): error is Error & { readonly type: string } {
  if (!(error instanceof Error)) return false;
  const type: unknown = (error as Error & { type?: unknown }).type;
  return typeof type === "string" && type.startsWith("Stripe");
}

const wantsCsv = (c: Context) => /\btext\/csv\b/i.test(c.req.header("accept") ?? "");

function csvResponse(c: Context, report: ReconciliationReport, name: string): Response {
  return c.body(reconciliationCsv(report), 200, {
    "content-type": "text/csv; charset=utf-8",
    "content-disposition": `attachment; filename="${name}.csv"`,
  });
}

const CsvContent = {
  "text/csv": {
    schema: z.string().openapi({
      description:
        "One row per difference: code, category, date, key, susu_amount, susu_currency, stripe_amount, stripe_currency, ledger_transaction_ids, stripe_object_ids, balance_transaction_ids, detail (amounts in major units)",
    }),
  },
};

const adminOnly = forbiddenResponse(["operator_only", "admin_only"]);

const reconcileRoute = createRoute({
  method: "get",
  path: "/operations/reconciliation",
  tags: ["operations"],
  summary: `Reconcile susu's ledger with Stripe for [from, to), at most ${RECONCILIATION_PERIOD_MAX_DAYS} days (platform admins). Pulls Stripe's balance transactions of the period; stores no report. \`Accept: text/csv\` for the differences as CSV.`,
  security: [{ bearer: [] }],
  request: { query: PeriodQuery },
  responses: {
    200: {
      description: "The reconciliation",
      content: { "application/json": { schema: ReportSchema }, ...CsvContent },
    },
    ...commonResponses,
    400: problemDoc("The request or its period is not valid.", [
      "invalid_request",
      "reconciliation_period_invalid",
      "reconciliation_period_too_long",
    ]),
    ...adminOnly,
    502: problemDoc("Stripe could not be read; nothing was compared.", ["stripe_unavailable"]),
  },
});

const listReportsRoute = createRoute({
  method: "get",
  path: "/operations/reconciliation/reports",
  tags: ["operations"],
  summary:
    "Stored reconciliation reports (the daily job's and the command's), newest first (platform admins)",
  security: [{ bearer: [] }],
  request: {
    query: PageQuerySchema.extend({
      starting_after: z
        .string()
        .min(1)
        .max(100)
        .regex(/^[A-Za-z0-9_-]+$/, "letters, digits, _ and - only")
        .optional()
        .openapi({ description: "The id of the last report of the previous page" }),
    }),
  },
  responses: {
    200: json(pageSchema(SummarySchema, "ReconciliationReportList"), "A page of reports, newest first"),
    ...commonResponses,
    ...adminOnly,
  },
});

const ReportIdParam = z.object({
  reportId: z
    .string()
    .min(1)
    .max(100)
    .regex(/^[A-Za-z0-9_-]+$/, "letters, digits, _ and - only")
    .openapi({ param: { name: "reportId", in: "path" }, example: "rec_0b5c" }),
});

const getReportRoute = createRoute({
  method: "get",
  path: "/operations/reconciliation/reports/{reportId}",
  tags: ["operations"],
  summary:
    "A stored reconciliation report with its differences (platform admins); `Accept: text/csv` for CSV",
  security: [{ bearer: [] }],
  request: { params: ReportIdParam },
  responses: {
    200: {
      description: "The report",
      content: { "application/json": { schema: ReportSchema }, ...CsvContent },
    },
    ...commonResponses,
    ...adminOnly,
    ...notFoundResponse(["reconciliation_report_not_found"]),
  },
});

const DAY_MS = 86_400_000;

const DayParam = z.object({
  date: z
    .string()
    .min(1)
    .max(40)
    .openapi({
      param: { name: "date", in: "path" },
      description:
        "A UTC day (`YYYY-MM-DD`) that is over, with the 6 hours after it (from 06:00 UTC the next day)",
      example: "2026-12-01",
    }),
});

const RunSchema = z
  .object({
    object: z.literal("reconciliation_run"),
    change: z.enum(["first", "same", "changed", "cleared"]).openapi({
      description:
        "How the report compares with the day's previous run by the scheduler or an operator: `first` (none before: with differences, the ticket is opened and the admins told), `same` (the differences the last run found: nothing is sent), `changed` (other differences: a note on the ticket, reopened if it was resolved, and a follow-up), `cleared` (none any more: the ticket resolved and a follow-up)",
    }),
    ticketId: z.string().nullable().openapi({
      description: "The day's differences ticket, when the run found differences or cleared them",
    }),
    noticeId: z.string().nullable().openapi({
      description: "The admins' notice this run queued; null when it had nothing new to say",
    }),
    report: ReportSchema,
  })
  .openapi("ReconciliationRun", {
    example: {
      object: "reconciliation_run",
      change: "first",
      ticketId: "reconciliation:2026-12-01T00:00:00.000Z:2026-12-02T00:00:00.000Z",
      noticeId:
        "reconciliation:2026-12-01T00:00:00.000Z:2026-12-02T00:00:00.000Z:notify:reconciliation_differences",
      report: {
        object: "reconciliation",
        id: "rec_0b5c",
        from: "2026-12-01T00:00:00.000Z",
        to: "2026-12-02T00:00:00.000Z",
        matched: 12,
        ledgerTransactions: 14,
        balanceTransactions: 13,
        payoutsNotTracked: 0,
        undoneAtStripe: 0,
        stripeAccountMovements: 0,
        totals: [],
        settlement: [],
        differences: [],
      },
    },
  });

const runDayRoute = createRoute({
  method: "post",
  path: "/operations/reconciliation/days/{date}/runs",
  tags: ["operations"],
  summary:
    "Reconcile a UTC day that is over (from 06:00 UTC the next day, as the scheduler does) with Stripe again and tell the admins, as the scheduler's daily run does (platform admins): the report is stored (`ranBy: operator:<subject>`); the day's `reconciliation_differences` ticket is opened, noted (and reopened if it was resolved) or resolved, and the admins told, with the ids the scheduler uses, so a run that finds what the last one found sends nothing. The way to have a day whose ticket was resolved by hand checked again. Send an `Idempotency-Key` to retry safely (the same key answers the same).",
  security: [{ bearer: [] }],
  request: { params: DayParam },
  responses: {
    200: json(RunSchema, "What the run found and did"),
    ...postResponses,
    400: problemDoc("The request or its day is not valid.", [
      "invalid_request",
      "reconciliation_day_invalid",
    ]),
    ...adminOnly,
    ...conflictResponse(["reconciliation_day_not_over", "idempotency_key_in_use"]),
    502: problemDoc("Stripe could not be read; nothing was compared, stored or sent.", [
      "stripe_unavailable",
    ]),
  },
});

/**
 * Runs `work` against Stripe: a failure of the Stripe SDK is 502 `stripe_unavailable` (logged);
 * anything else is ours and is thrown (a 500 with a request id).
 */
async function readingStripe<T>(c: Context<V1Env>, work: () => Promise<T>): Promise<T | Response> {
  try {
    return await work();
  } catch (error) {
    if (!isStripeSdkError(error)) throw error;
    c.var.log.error(
      { error: error.message, stripeError: error.type },
      "reconciliation could not read Stripe",
    );
    return problem(c, 502, "stripe_unavailable", "Stripe could not be read; try again later");
  }
}

/** `/v1/operations/reconciliation…`: reconciliation with Stripe, for platform admins. */
export function reconciliationV1(deps: ReconciliationDeps) {
  const app = v1Router();
  const adminsOnly: MiddlewareHandler<V1Env> = async (c, next) => {
    const principal = c.get("principal");
    const refused = refuseUnlessOperator(c, principal);
    if (refused !== undefined) return refused;
    if (!isPlatformOperator(principal) || !principal.roles.includes("admin"))
      return problem(c, 403, "admin_only", "only platform admins may read reconciliations");
    await next();
  };
  for (const path of ["/operations/reconciliation", "/operations/reconciliation/*"])
    app.use(path, adminsOnly);

  app.openapi(reconcileRoute, async (c) => {
    const query = c.req.valid("query");
    const from = instantOf(query.from);
    const to = instantOf(query.to);
    if (from === undefined || to === undefined)
      return problem(
        c,
        400,
        "reconciliation_period_invalid",
        `${from === undefined ? "from" : "to"} must be a date (2026-12-01) or an ISO 8601 instant with a zone`,
      );
    const period = checkReconciliationPeriod(from, to);
    if (period.isErr()) return problem(c, 400, period.error.code, period.error.message);
    const report = await readingStripe(c, () => deps.reconcile(period.value));
    if (report instanceof Response) return report;
    if (wantsCsv(c)) return csvResponse(c, report, `reconciliation_${query.from}_${query.to}`);
    return c.json(reportView(report, null), 200);
  });

  app.openapi(listReportsRoute, async (c) => {
    const { limit, starting_after } = c.req.valid("query");
    const page = await deps.reports.listReports(limit, starting_after);
    return c.json(
      {
        object: "list" as const,
        url: "/v1/operations/reconciliation/reports",
        data: page.items.map(summaryView),
        has_more: page.hasMore,
      },
      200,
    );
  });

  app.openapi(getReportRoute, async (c) => {
    const { reportId } = c.req.valid("param");
    const stored = await deps.reports.getReport(reportId);
    if (stored === undefined)
      return problem(c, 404, "reconciliation_report_not_found", `no reconciliation report ${reportId}`);
    if (wantsCsv(c)) return csvResponse(c, stored.report, reportId);
    return c.json(reportView(stored.report, stored.id), 200);
  });

  const runs = deps.runs;
  if (runs !== undefined)
    app.openapi(runDayRoute, async (c) => {
      const { date } = c.req.valid("param");
      const from = /^\d{4}-\d{2}-\d{2}$/.test(date) ? instantOf(date) : undefined;
      if (from === undefined || checkReconciliationPeriod(from, from + DAY_MS).isErr())
        return problem(
          c,
          400,
          "reconciliation_day_invalid",
          `the day must be a date that exists from 1970-01-01 on, written YYYY-MM-DD (e.g. 2026-12-01): ${JSON.stringify(date.slice(0, 40))} is not`,
        );
      if (!reconciliationDayDue(from, runs.now()))
        return problem(
          c,
          409,
          "reconciliation_day_not_over",
          `${date} is not over yet (UTC), with the 6 hours after it in which susu may still book its movements: a day is reconciled from 06:00 UTC the next day`,
        );
      const principal = c.get("principal");
      const run = await readingStripe(c, () =>
        runs.run({ from, to: from + DAY_MS }, operatorRanBy(principal?.subject ?? "unknown")),
      );
      if (run instanceof Response) return run;
      return c.json(
        {
          object: "reconciliation_run" as const,
          change: run.change,
          ticketId: run.ticketId ?? null,
          noticeId: run.noticeId ?? null,
          report: reportView(run.report, run.stored.id),
        },
        200,
      );
    });

  return app;
}
