/**
 * In-memory adapters for every port, and a driver that runs the whole domain without
 * infrastructure. For tests — susu's own and other teams'.
 *
 * @module
 */

export { FakeBillingGateway } from "./fake-billing-gateway.js";
export {
  FAKE_DECLINED_CARDS,
  type FakeCheckout,
  type FakeCheckoutPayment,
  type FakeDebit,
  type FakeDebitOutcome,
  FakePaymentGateway,
  type FakeRefund,
  type FakeReversal,
  type FakeTransfer,
} from "./fake-payment-gateway.js";
export { InMemoryLedgerStore } from "./in-memory-ledger.js";
export { InMemoryStore } from "./in-memory-store.js";
export { InMemorySusu } from "./in-memory-susu.js";
export { ManualClock } from "./manual-clock.js";
export {
  anActiveGroup,
  aReadyPerson,
  aRoundOf,
  debitFailed,
  debitProcessing,
  debitSucceeded,
  peopleOf,
} from "./mothers.js";
export { onboardThroughUseCases, saveCardThroughUseCases } from "./onboarding.js";
export {
  InMemoryTimerScheduler,
  loggingReads,
  RecordingNotifier,
  RecordingSupportDesk,
} from "./recorders.js";
export { SequentialIds } from "./sequential-ids.js";
export { type SurplusRaceStep, surplusRaceOrders } from "./surplus-refund-race.js";
