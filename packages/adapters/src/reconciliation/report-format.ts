// What an accountant reads: a reconciliation as CSV (one row per difference) and as a
// plain-text summary. Amounts are in major units with the currency's decimals.
import { currencyInfo, isCurrencyCode } from "@susu/domain";
import type { ReconciliationCategory, ReconciliationResult } from "./reconcile.js";

/** A reconciliation of one period, as stored and served. */
export interface ReconciliationReport extends ReconciliationResult {
  /** Start of the period, inclusive, epoch ms. */
  readonly from: number;
  /** End of the period, exclusive, epoch ms. */
  readonly to: number;
  /** Ledger transactions and balance transactions looked at. */
  readonly ledgerTransactions: number;
  readonly balanceTransactions: number;
}

/** Minor units as major units with the currency's decimals (`1234` AUD → `12.34`); unknown currencies get 2. */
export function majorUnits(minor: number, currency: string): string {
  const exponent = isCurrencyCode(currency) ? currencyInfo(currency).exponent : 2;
  const sign = minor < 0 ? "-" : "";
  const digits = String(Math.abs(minor));
  if (exponent === 0) return `${sign}${digits}`;
  const padded = digits.padStart(exponent + 1, "0");
  return `${sign}${padded.slice(0, -exponent)}.${padded.slice(-exponent)}`;
}

/** One CSV field: quoted when it holds a comma, quote or line break; a leading formula character is neutralised. */
function field(value: string | number | null): string {
  if (value === null) return "";
  let text = String(value);
  // A spreadsheet would run a field starting with = + @ (or - not starting a number) as a formula.
  if (/^[=+@\t\r]|^-(?![0-9])/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** The CSV's header row. */
export const RECONCILIATION_CSV_COLUMNS = [
  "code",
  "category",
  "date",
  "key",
  "susu_amount",
  "susu_currency",
  "stripe_amount",
  "stripe_currency",
  "ledger_transaction_ids",
  "stripe_object_ids",
  "balance_transaction_ids",
  "detail",
] as const;

/** The report as CSV: a header, then one row per difference (CRLF line ends, as RFC 4180 says). */
export function reconciliationCsv(report: ReconciliationResult): string {
  const rows = report.differences.map((d) =>
    [
      d.code,
      d.category,
      iso(d.at),
      d.key,
      d.susuMinor === null || d.susuCurrency === null ? null : majorUnits(d.susuMinor, d.susuCurrency),
      d.susuCurrency,
      d.stripeMinor === null || d.stripeCurrency === null
        ? null
        : majorUnits(d.stripeMinor, d.stripeCurrency),
      d.stripeCurrency,
      d.ledgerTransactionIds.join(" "),
      d.stripeObjectIds.join(" "),
      d.balanceTransactionIds.join(" "),
      d.detail,
    ]
      .map(field)
      .join(","),
  );
  return `${[RECONCILIATION_CSV_COLUMNS.join(","), ...rows].join("\r\n")}\r\n`;
}

const CATEGORY_LABEL: Record<ReconciliationCategory, string> = {
  charge: "charges",
  refund: "refunds",
  transfer: "transfers",
  transfer_reversal: "reversals",
  dispute: "disputes",
  application_fee: "application fees",
  payout: "payouts",
  other: "other",
};

/** A summary for a person: the period, totals per currency and category on both sides, and the differences by code. */
export function reconciliationSummary(report: ReconciliationReport): string {
  const lines: string[] = [];
  lines.push(`Reconciliation ${iso(report.from)} to ${iso(report.to)} (end exclusive)`);
  lines.push(
    `Looked at ${report.ledgerTransactions} ledger transactions and ${report.balanceTransactions} Stripe balance transactions.`,
  );
  lines.push(
    report.differences.length === 0
      ? `No differences: ${report.matched} movements agree.`
      : `${report.differences.length} difference(s); ${report.matched} movements agree.`,
  );
  lines.push("");
  lines.push("Totals (charge currency; money into the platform balance positive):");
  lines.push(
    `  ${"currency".padEnd(8)} ${"category".padEnd(17)} ${"susu".padStart(14)} ${"stripe".padStart(14)}`,
  );
  for (const t of report.totals) {
    lines.push(
      `  ${t.currency.padEnd(8)} ${CATEGORY_LABEL[t.category].padEnd(17)} ${majorUnits(t.susuMinor, t.currency).padStart(14)} ${majorUnits(t.stripeMinor, t.currency).padStart(14)}`,
    );
  }
  if (report.settlement.length > 0) {
    lines.push("");
    lines.push("Stripe balance (settlement currency): gross, Stripe fees, net:");
    for (const s of report.settlement) {
      lines.push(
        `  ${s.currency.padEnd(8)} ${majorUnits(s.amountMinor, s.currency).padStart(14)} ${majorUnits(-s.feeMinor, s.currency).padStart(14)} ${majorUnits(s.netMinor, s.currency).padStart(14)}`,
      );
    }
  }
  if (report.undoneAtStripe > 0)
    lines.push(
      "",
      `${report.undoneAtStripe} movement(s) at Stripe undone within the period (a failed payment, a dispute won): no money moved.`,
    );
  if ((report.stripeAccountMovements ?? 0) > 0)
    lines.push(
      "",
      `${report.stripeAccountMovements} movement(s) of Stripe's own on the platform's balance (its fees billed, reserves, tax, top-ups): not susu's, not differences.`,
    );
  if (report.payoutsNotTracked > 0)
    lines.push(
      "",
      `${report.payoutsNotTracked} payout(s) to the platform's bank, not tracked by susu's ledger.`,
    );
  if (report.differences.length > 0) {
    lines.push("", "Differences:");
    const byCode = new Map<string, number>();
    for (const d of report.differences) byCode.set(d.code, (byCode.get(d.code) ?? 0) + 1);
    for (const [code, count] of byCode) lines.push(`  ${code}: ${count}`);
    lines.push("");
    for (const d of report.differences) {
      const susu =
        d.susuMinor === null ? "—" : `${majorUnits(d.susuMinor, d.susuCurrency ?? "")} ${d.susuCurrency}`;
      const stripe =
        d.stripeMinor === null
          ? "—"
          : `${majorUnits(d.stripeMinor, d.stripeCurrency ?? "")} ${d.stripeCurrency}`;
      lines.push(
        `  ${iso(d.at)} ${d.code} ${d.category} ${d.key}: susu ${susu}, Stripe ${stripe}. ${d.detail}`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}
