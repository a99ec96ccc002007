/**
 * Reconciliation with Stripe: pulling Stripe's balance transactions into PostgreSQL, the
 * pure comparison with susu's ledger, the report (CSV and summary) and the stored reports.
 *
 * @module
 */

export {
  DAILY_RECONCILIATION_RAN_BY,
  OPERATOR_RAN_BY_PREFIX,
  reconciliationDaysBehind,
} from "./daily-days.js";
export {
  differenceAmountsByCurrency,
  differencesByKind,
  differencesDigest,
  type PreviousReconciliation,
  type ReconciliationChange,
  reconciliationChange,
  reconciliationDifferencesNotice,
  reconciliationFollowUpNotice,
} from "./differences-notice.js";
export {
  type ChargeSettlement,
  PrismaReconciliationStore,
  RECONCILIATION_REPORTS_PAGE_MAX,
  type StoredReconciliationReport,
  type StoredReconciliationSummary,
} from "./prisma-reconciliation-store.js";
export {
  DIFFERENCE_CODES,
  type DifferenceCode,
  RECONCILIATION_CATEGORIES,
  type ReconciliationCategory,
  type ReconciliationDifference,
  type ReconciliationResult,
  type ReconciliationTotal,
  reconcile,
  reconcileAround,
  type SettlementTotal,
  type StripeMoneyItem,
  type SusuMoneyItem,
} from "./reconcile.js";
export {
  operatorRanBy,
  type ReconcileAndTellDeps,
  reconcileAndTell,
  reconciliationTicketId,
  type ToldReconciliationRun,
} from "./reconcile-and-tell.js";
export {
  majorUnits,
  RECONCILIATION_CSV_COLUMNS,
  type ReconciliationReport,
  reconciliationCsv,
  reconciliationSummary,
} from "./report-format.js";
export {
  checkReconciliationPeriod,
  previousUtcDay,
  RECONCILIATION_MATCH_MARGIN_MS,
  RECONCILIATION_PERIOD_MAX_DAYS,
  type ReconciliationPeriod,
  type ReconciliationPeriodError,
  type ReconciliationRun,
  type ReconciliationRunDeps,
  type ReconciliationRunOptions,
  reconcileOnRequest,
  reconcileStored,
  reconciliationDayDue,
  runReconciliation,
} from "./run-reconciliation.js";
export { type StripeBalanceRecord, stripeItemOf } from "./stripe-items.js";
export { type PullResult, StripeRecordsPuller } from "./stripe-records.js";
export { effectKey, heldChargeKey, objectKey, reversalsKey, susuItemOf, susuItemsOf } from "./susu-items.js";
