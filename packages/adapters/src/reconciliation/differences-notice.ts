// The platform admins' notice of a reconciled period with differences: what it says (the
// period, the differences by kind, their amounts per currency) and its id, one per period;
// and the follow-up of a later run of the period that found other differences, or none.
import { createHash } from "node:crypto";
import type { Notification } from "@susu/domain";
import { DIFFERENCE_CODES, type ReconciliationDifference } from "./reconcile.js";
import { majorUnits, type ReconciliationReport } from "./report-format.js";

const iso = (ms: number): string => new Date(ms).toISOString();

/** `missing_in_susu: 1, amount_mismatch: 2`: the report's differences counted by code, in the codes' order. */
export function differencesByKind(report: ReconciliationReport): string {
  return DIFFERENCE_CODES.flatMap((code) => {
    const n = report.differences.filter((d) => d.code === code).length;
    return n === 0 ? [] : [`${code}: ${n}`];
  }).join(", ");
}

/**
 * `AUD: at Stripe 25.00, in susu 0.00; NZD: …`: per currency (alphabetical), the sums of the
 * differences' amounts on each side in major units, signed as the report signs them (money
 * into the platform balance positive). A side with nothing in a currency counts 0.
 */
export function differenceAmountsByCurrency(report: ReconciliationReport): string {
  const sums = new Map<string, { stripe: number; susu: number }>();
  const add = (currency: string | null, minor: number | null, side: "stripe" | "susu") => {
    if (currency === null || minor === null) return;
    const code = currency.toUpperCase();
    const sum = sums.get(code) ?? { stripe: 0, susu: 0 };
    sum[side] += minor;
    sums.set(code, sum);
  };
  for (const d of report.differences) {
    add(d.stripeCurrency, d.stripeMinor, "stripe");
    add(d.susuCurrency, d.susuMinor, "susu");
  }
  return [...sums.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([c, s]) => `${c}: at Stripe ${majorUnits(s.stripe, c)}, in susu ${majorUnits(s.susu, c)}`)
    .join("; ");
}

/**
 * What the differences are, as a digest: the same for two runs that found the same
 * differences, in any order. Their sentences are left out (a reworded one is no new difference).
 */
export function differencesDigest(differences: readonly ReconciliationDifference[]): string {
  const lines = differences
    .map((d) =>
      JSON.stringify([
        d.code,
        d.category,
        d.key,
        d.susuMinor,
        d.susuCurrency,
        d.stripeMinor,
        d.stripeCurrency,
        [...d.ledgerTransactionIds].sort(),
        [...d.balanceTransactionIds].sort(),
        [...d.stripeObjectIds].sort(),
      ]),
    )
    .sort();
  return createHash("sha256").update(lines.join("\n")).digest("hex");
}

/** The previous run of a period, as stored: its report's id and what it found. */
export interface PreviousReconciliation {
  readonly id: string;
  readonly report: ReconciliationReport;
}

/**
 * What a run of a period must say after the previous one: `first` (none before: the period's
 * first notice and ticket, when it found differences), `same` (the differences the previous
 * run found: nothing), `changed` (other differences: a follow-up and a note on the ticket),
 * `cleared` (none any more: a follow-up and the ticket resolved). `key` names the change: a
 * digest of the previous report's id and of the differences found now, the same for a retry
 * of the run (the previous report is the same until this one is stored) and for two runs at
 * once, new for each change.
 */
export type ReconciliationChange =
  | { readonly kind: "first" }
  | { readonly kind: "same" }
  | {
      readonly kind: "changed" | "cleared";
      readonly key: string;
      readonly previous: PreviousReconciliation;
    };

/** Compares a run's report with the previous run's of the same period (see {@link ReconciliationChange}). */
export function reconciliationChange(
  report: ReconciliationReport,
  previous: PreviousReconciliation | undefined,
): ReconciliationChange {
  if (previous === undefined) return { kind: "first" };
  const digest = differencesDigest(report.differences);
  if (digest === differencesDigest(previous.report.differences)) return { kind: "same" };
  const key = createHash("sha256").update(`${previous.id}\n${digest}`).digest("hex").slice(0, 16);
  return { kind: report.differences.length === 0 ? "cleared" : "changed", key, previous };
}

const noticeData = (report: ReconciliationReport) => ({
  periodFrom: iso(report.from),
  periodTo: iso(report.to),
  differences: report.differences.length,
  differencesByKind: differencesByKind(report),
  amountsByCurrency: differenceAmountsByCurrency(report),
});

/**
 * The notice to the platform's admins of a period's differences (`reconciliation_differences`,
 * role `platform_admins`), linking the period's ticket `ticketId`, whose id is the period's
 * and names the notice (`aggregateId`, and its id): the first run of the period with
 * differences sends it, once (a retry queues the same notice, which the notifier queues once).
 */
export function reconciliationDifferencesNotice(
  report: ReconciliationReport,
  ticketId: string,
): Notification {
  return {
    id: `${ticketId}:notify:reconciliation_differences`,
    aggregate: "reconciliation",
    aggregateId: ticketId,
    ticketId,
    personIds: [],
    roles: ["platform_admins"],
    template: "reconciliation_differences",
    data: noticeData(report),
  };
}

/**
 * The follow-up of a later run of the period that found other differences than the previous
 * one (`change: changed`), or none any more (`cleared`): the same template and ticket, its id
 * the first notice's with the change's key (once per change, however often the run is
 * retried), and its own admin-alert key, so that no window after the first notice holds it
 * back. `previousDifferences`: what the previous run found. When the previous run found none
 * (the period's first run was clean, or its differences had cleared) and this one finds some,
 * it reads as a first notice (no `change`): there is nothing the admins were last told to
 * compare it with.
 */
export function reconciliationFollowUpNotice(
  report: ReconciliationReport,
  change: Extract<ReconciliationChange, { readonly key: string }>,
  ticketId: string,
): Notification {
  const { previous } = change;
  const id = `${ticketId}:notify:reconciliation_differences:${change.key}`;
  const fresh = change.kind === "changed" && previous.report.differences.length === 0;
  return {
    ...reconciliationDifferencesNotice(report, ticketId),
    id,
    alertKey: id,
    data: {
      ...noticeData(report),
      ...(fresh ? {} : { change: change.kind, previousDifferences: previous.report.differences.length }),
      previousReportId: previous.id,
    },
  };
}
