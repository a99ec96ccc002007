export type { BillingGateway } from "./billing-gateway.js";
export type { Clock } from "./clock.js";
export type { IdGenerator } from "./id-generator.js";
export type {
  LedgerAccountBalance,
  LedgerPage,
  LedgerPageRequest,
  LedgerReader,
  LedgerStore,
  RecordedLedgerTransaction,
} from "./ledger-store.js";
export type {
  Notification,
  Notifier,
  NotifyError,
  PlatformNotificationTemplate,
  ReconciliationRef,
} from "./notifier.js";
export { type OutboxAggregate, outboxAggregateOf } from "./outbox-aggregate.js";
export {
  isHeldPaymentEffect,
  isMarketplaceChargeEffect,
  isPaymentMethodEffect,
  isPayoutEffect,
  isPlanEffect,
  isSubscriptionEffect,
  type OutboxEffect,
} from "./outbox-effect.js";
export {
  type AccountBalance,
  type CardPaymentConfirmation,
  type CheckoutSession,
  type ConnectedAccountStatus,
  type DebitOutcome,
  type EffectCreatedAt,
  type GatewayError,
  gatewayError,
  type MandateStatus,
  type PaymentGateway,
  type PaymentReader,
  type PaymentReferences,
  type PaymentStatus,
  type PayoutCreated,
  type RefundOutcome,
} from "./payment-gateway.js";
export type { PaymentMethodRepository } from "./payment-method-repository.js";
export {
  AUDIT_PAGE_MAX,
  AUDIT_SUBJECTS_MAX,
  type AuditEntry,
  type AuditLog,
  type AuditQuery,
  type AuditRecord,
  auditIdOf,
  auditSequenceOf,
  type Changeset,
  type DueGroupCursor,
  dueGroupCursor,
  type GroupRepository,
  type GroupWithPeople,
  type HeldPaymentQuery,
  type HeldPaymentRepository,
  isAfterDueGroupCursor,
  type MarketplaceChargeQuery,
  type MarketplaceChargeRepository,
  type OutboxCompletion,
  type OutboxEntry,
  type OutboxOperations,
  type OutboxRecord,
  type OutboxStore,
  type PayableAccount,
  type PayoutQuery,
  type PayoutRepository,
  type PersonRepository,
  type PlanRepository,
  type RequeueOutcome,
  type RoundRepository,
  type StorageError,
  type StoredAggregate,
  type SubscriptionRepository,
  storageError,
  type UnitOfWork,
  type VersionedChange,
} from "./storage.js";
export type {
  ResolveOutcome,
  SupportDesk,
  SupportDeskError,
  SupportTicket,
  SupportTicketRecord,
  SupportTicketStore,
  TicketQuery,
} from "./support-desk.js";
export type { FiredTimer, ScheduledTimer, SchedulerError, TimerScheduler } from "./timer-scheduler.js";
