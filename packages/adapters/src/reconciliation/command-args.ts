// The arguments of `npm run reconcile`, parsed without I/O so they can be tested.
import { parseArgs } from "node:util";
import { err, ok, type Result } from "neverthrow";
import {
  checkReconciliationPeriod,
  type ReconciliationPeriod,
  reconciliationDayDue,
} from "./run-reconciliation.js";

const DAY_MS = 86_400_000;

/** What `npm run reconcile -- (--from <date> --to <date> | --day <date>) [--csv <file>]` asks for. */
export interface ReconcileCommand {
  readonly period: ReconciliationPeriod;
  /** Where to write the CSV, if anywhere. */
  readonly csvPath?: string;
}

/** `2026-12-01` (midnight UTC) or a full ISO 8601 instant with a zone (`2026-12-01T06:00:00Z`). */
export function parseInstant(text: string): number | undefined {
  const date = /^\d{4}-\d{2}-\d{2}$/.test(text)
    ? `${text}T00:00:00Z`
    : /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/.test(text)
      ? text
      : undefined;
  if (date === undefined) return undefined;
  const ms = Date.parse(date);
  // Date.parse rolls 2026-02-31 over to March: refuse a day that does not exist.
  if (Number.isNaN(ms)) return undefined;
  if (/^\d{4}-\d{2}-\d{2}$/.test(text) && new Date(ms).toISOString().slice(0, 10) !== text) return undefined;
  return ms;
}

export const RECONCILE_USAGE =
  "usage: npm run reconcile -- --from 2026-12-01 --to 2026-12-02 [--csv out.csv]\n" +
  "       npm run reconcile -- --day 2026-12-01 [--csv out.csv]\n" +
  "  --from, --to  the period [from, to): a date (midnight UTC) or an ISO 8601 instant with a zone\n" +
  "  --day         a whole UTC day that is over, with the 6 hours after it (as the scheduler reconciles it)\n" +
  "  --csv         also write every difference as CSV to this file";

/**
 * Parses the command's arguments (`now`, epoch ms: a `--day` not over yet is refused); the
 * error is a message for the person who typed them.
 */
export function parseReconcileArgs(
  args: readonly string[],
  now: number = Date.now(),
): Result<ReconcileCommand, string> {
  let values: { from?: string; to?: string; day?: string; csv?: string };
  try {
    values = parseArgs({
      args: [...args],
      options: {
        from: { type: "string" },
        to: { type: "string" },
        day: { type: "string" },
        csv: { type: "string" },
      },
      allowPositionals: false,
      strict: true,
    }).values;
  } catch (error) {
    return err(`${error instanceof Error ? error.message : String(error)}\n${RECONCILE_USAGE}`);
  }
  if (values.csv === "") return err("--csv needs a file name");
  const csv = values.csv !== undefined ? { csvPath: values.csv } : {};
  if (values.day !== undefined) {
    if (values.from !== undefined || values.to !== undefined)
      return err(`--day or --from and --to, not both\n${RECONCILE_USAGE}`);
    const from = /^\d{4}-\d{2}-\d{2}$/.test(values.day) ? parseInstant(values.day) : undefined;
    if (from === undefined)
      return err(`--day: not a date that exists, written YYYY-MM-DD (e.g. 2026-12-01): ${values.day}`);
    if (!reconciliationDayDue(from, now))
      return err(
        `reconciliation_day_not_over: ${values.day} is not over yet (UTC), with the 6 hours after it in which susu may still book its movements: a day is reconciled from 06:00 UTC the next day`,
      );
    return ok({ period: { from, to: from + DAY_MS }, ...csv });
  }
  if (values.from === undefined || values.to === undefined)
    return err(`--from and --to are required (or --day)\n${RECONCILE_USAGE}`);
  const from = parseInstant(values.from);
  const to = parseInstant(values.to);
  if (from === undefined) return err(`--from: not a date or an ISO 8601 instant: ${values.from}`);
  if (to === undefined) return err(`--to: not a date or an ISO 8601 instant: ${values.to}`);
  const period = checkReconciliationPeriod(from, to);
  if (period.isErr()) return err(`${period.error.code}: ${period.error.message}`);
  return ok({ period: period.value, ...csv });
}
