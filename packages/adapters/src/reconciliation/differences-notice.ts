// The platform admins' notice of a reconciled period with differences: what it says (the
// period, the differences by kind, their amounts per currency) and its id, one per period.
import type { Notification } from "@susu/domain";
import { DIFFERENCE_CODES } from "./reconcile.js";
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
 * The notice to the platform's admins of a period's differences (`reconciliation_differences`,
 * role `platform_admins`), linking the period's ticket `ticketId`, whose id is the period's
 * and names the notice (`aggregateId`, and its id): sent for every run of the period, it is
 * the same notice, which the notifier queues once.
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
    data: {
      periodFrom: iso(report.from),
      periodTo: iso(report.to),
      differences: report.differences.length,
      differencesByKind: differencesByKind(report),
      amountsByCurrency: differenceAmountsByCurrency(report),
    },
  };
}
