/**
 * susu's domain: money, the ledger, savings groups and their rounds, held payments and
 * marketplace charges as pure state machines, the ports that infrastructure implements, and the use cases that tie them
 * together. Imports nothing but neverthrow; no I/O, no clock, no randomness.
 *
 * In-memory adapters for tests live in the `@susu/domain/testing` entry point.
 *
 * @module
 */
export * from "./facts/index.js";
export * from "./group/index.js";
export * from "./held-payment/index.js";
export * from "./kernel/index.js";
export * from "./ledger/index.js";
export * from "./marketplace/index.js";
export * from "./membership/index.js";
export * from "./money/index.js";
export * from "./notification/index.js";
export * from "./owed/index.js";
export * from "./payment-method/index.js";
export * from "./payout/index.js";
export * from "./person/index.js";
export * from "./policy/index.js";
export * from "./ports/index.js";
export * from "./round/index.js";
export * from "./shared/index.js";
export type {
  AdjustmentOwnerRepositories,
  CrashedRun,
  CreatedHeldPayment,
  CreatedMarketplaceCharge,
  CreateGroupCommand,
  CreateHeldPaymentCommand,
  CreateMarketplaceChargeCommand,
  DispatchOptions,
  DispatchReport,
  EffectFailure,
  EffectPorts,
  ExecuteOptions,
  FactError,
  FactOutcome,
  FactPorts,
  FailureSteps,
  MarketplaceRefundRequester,
  MethodNewsOutcome,
  NotFoundError,
  NotifyOutboxEffect,
  OnboardingDue,
  PaymentMethodView,
  PayoutRecordOutcome,
  PayoutRun,
  PayoutRunReport,
  PayoutTrigger,
  PersonBalance,
  PersonOnboarding,
  RemovedPaymentMethod,
  RoundOpener,
  SettledEffect,
  SettledEffectOutcome,
  SettledFailure,
  SkippedPayout,
  TimerOutcome,
  UseCaseDeps,
  UseCaseError,
  UseCaseStore,
} from "./use-cases/index.js";
/**
 * The use cases: load aggregates through the ports, decide, and store atomically. A
 * namespace, because several share a name with the pure group functions they wrap
 * (`useCases.joinGroup` stores what `joinGroup` computes).
 */
export * as useCases from "./use-cases/index.js";
/** The use cases' ports on one store that is every repository (what the apps and the tests wire). */
export { useCaseDepsOn } from "./use-cases/index.js";
