/**
 * The domain's storage ports on PostgreSQL through Prisma: {@link PrismaStore} (people,
 * groups, rounds, held payments, unit of work, outbox) and {@link PrismaLedgerStore} (the double-entry ledger).
 * The generated Prisma client in `./generated` is an implementation detail; build a
 * client with `createPrismaClient` from the db module.
 *
 * @module
 */

export { OUTBOX_ERROR_MAX_CHARS } from "./interrupted-try.js";
export { type CheckoutSessionCounts, PrismaOperationsCounts, type StatusCount } from "./operations-counts.js";
export {
  HELD_FUNDS_AGES,
  type HeldFundsAge,
  type HeldFundsBand,
  type PaymentFlow,
  type PaymentOutcomeCount,
  PrismaPaymentMetricsReads,
  type SettlementTimes,
  type TicketKindCount,
} from "./payment-metrics-reads.js";
export {
  LEDGER_CHECK_REPORT_MAX,
  type LedgerBalanceMismatch,
  type LedgerCheckReport,
  PrismaLedgerStore,
  type PrismaLedgerStoreOptions,
  type UnbalancedLedgerTransaction,
} from "./prisma-ledger-store.js";
export {
  type DeferredCommit,
  DUE_GROUPS_MAX,
  GROUPS_OF_PERSON_MAX,
  HELD_PAYMENTS_PAGE_MAX,
  OPEN_HELD_PAYMENTS_OF_SELLER_MAX,
  OUTBOX_CLAIM_MAX,
  outboxClaimStatement,
  PEOPLE_READ_MAX,
  PrismaStore,
  type PrismaStoreOptions,
} from "./prisma-store.js";
export { classifyDatabaseError, type DatabaseFailure } from "./storage-errors.js";
export { type ExpiredOutboxLease, type StuckWork, sweepStuckWork } from "./stuck-work.js";
export {
  claimersWithoutLiveness,
  holdWorkerLiveness,
  LIVENESS_LOCK_CLASS,
  livenessOnConnect,
  type ReleasedClaims,
  releaseClaimsOfDeadWorkers,
} from "./worker-liveness.js";
