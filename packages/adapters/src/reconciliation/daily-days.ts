/** Who the scheduler's daily reconciliation stores its reports as: its newest is the last day it reconciled. */
export const DAILY_RECONCILIATION_RAN_BY = "scheduler";

/**
 * What an operator's run that tells (`npm run reconcile`, an admin's run of a day) is stored
 * as: `operator:<who>`. Its reports and the scheduler's are a period's told runs, the ones a
 * later run compares itself with; the command's reports of earlier releases (`command`),
 * which told nobody, are not.
 */
export const OPERATOR_RAN_BY_PREFIX = "operator:";

const DAY_MS = 86_400_000;

/**
 * The whole UTC days the daily reconciliation has still to reconcile at `now`: from the end
 * of the last one it reconciled (`lastEnd`, its newest report; a report not ending on a
 * midnight counts from its day's start) up to the start of today. With no report yet, the
 * day before today alone (the job does not reach back before its first run), or, for the
 * gauge, when `since` is given (the platform's first money movement, its oldest ledger
 * transaction), every day from that one's up to today, at least 1: a deployment whose every
 * run crashed, or whose job never ran, falls behind a day a day instead of reading 1 for
 * ever. 0 when the last day reconciled is yesterday or later (a clock behind the reports
 * included). Between midnight UTC and the morning's run it is 1; more means runs were missed
 * or are catching up.
 */
export function reconciliationDaysBehind(lastEnd: number | undefined, now: number, since?: number): number {
  const today = Math.floor(now / DAY_MS) * DAY_MS;
  if (lastEnd === undefined && since !== undefined)
    return Math.max(1, (today - Math.floor(since / DAY_MS) * DAY_MS) / DAY_MS);
  const first = lastEnd === undefined ? today - DAY_MS : Math.floor(lastEnd / DAY_MS) * DAY_MS;
  return Math.max(0, (today - first) / DAY_MS);
}
