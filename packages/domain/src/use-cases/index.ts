export {
  applyHeldPaymentFact,
  applyMarketplaceChargeFact,
  applyPaymentFact,
  applyPaymentObjectFact,
  applyRoundFact,
  type FactError,
  type FactOutcome,
  type FactPorts,
} from "./apply-fact.js";
export { applyTimer, type TimerOutcome } from "./apply-timer.js";
export {
  type NotFoundError,
  notFound,
  type UseCaseDeps,
  type UseCaseError,
  type UseCaseStore,
  useCaseDepsOn,
} from "./deps.js";
export {
  type CrashedRun,
  DEFAULT_EFFECT_RETRY,
  type DispatchOptions,
  type DispatchReport,
  dispatchOutbox,
  type SettledEffect,
  type SettledEffectOutcome,
} from "./dispatch-outbox.js";
export {
  type EntitledAction,
  entitlementsOfPerson as personEntitlements,
  requireEntitled,
} from "./entitlements.js";
export {
  type EffectFailure,
  type EffectPorts,
  type ExecuteOptions,
  executeEffect,
  type NotifyOutboxEffect,
  notificationOf,
} from "./execute-effect.js";
export { type BillingEffect, executeBillingEffect, isBillingEffect } from "./execute-membership-effect.js";
export {
  acceptSwap,
  activateGroup,
  type CreateGroupCommand,
  closeGroup,
  createGroup,
  createGroupWithReadiness,
  drawPayoutOrder,
  joinGroup,
  joinGroupWithReadiness,
  leaveGroup,
  loadGroup,
  pauseGroup,
  proposeSwap,
  removeMember,
  setPayoutOrder,
  updateGroupSettings,
  usePayoutOrderMethod,
} from "./group-use-cases.js";
export {
  adminHold,
  adminRelease,
  applyHeldPaymentInput,
  type CreatedHeldPayment,
  type CreateHeldPaymentCommand,
  checkHeldPaymentRequest,
  confirmFulfilled,
  createHeldPayment,
  getHeldPayment,
  refundHeldPayment,
  reportUnfulfilled,
  retryHeldPaymentReversal,
  retryRefund,
  tellHeldPaymentsOfSeller,
} from "./held-payment-use-cases.js";
export {
  type AdjustmentOwnerRepositories,
  adjustmentAudit,
  type LedgerAdjustmentRequest,
  postLedgerAdjustment,
} from "./ledger-adjustment.js";
export {
  groupWithReadiness,
  loadPerson,
  readinessOfGroups,
  readinessOfMembers,
  readinessOfPeople,
} from "./load-people.js";
export {
  applyMarketplaceChargeInput,
  type CreatedMarketplaceCharge,
  type CreateMarketplaceChargeCommand,
  checkMarketplaceChargeRequest,
  createMarketplaceCharge,
  getMarketplaceCharge,
  listMarketplaceCharges,
  type MarketplaceRefundRequester,
  refundMarketplaceCharge,
  retryMarketplaceRefund,
  retryMarketplaceReversal,
  retryMarketplaceTransfers,
} from "./marketplace-charge-use-cases.js";
export {
  applyMembershipFact,
  applyPlanInput,
  applySubscriptionInput,
  cancelSubscription,
  cancelSubscriptionChange,
  changePlan,
  changeSubscriptionPlan,
  createPlan,
  entitlementsOfPerson,
  getPlan,
  getSubscription,
  isMembershipFact,
  listPlans,
  listSubscriptionsOfPerson,
  type MembershipFactOutcome,
  resumeSubscription,
  type SubscribeCommand,
  subscribe,
} from "./membership-use-cases.js";
export {
  type OnboardingDue,
  type OnboardingError,
  type PersonOnboarding,
  personOnboarding,
  startDebitSetup,
  startPayoutOnboarding,
  startPersonDebitSetup,
  startPersonPayoutOnboarding,
} from "./onboarding.js";
export {
  ledgerOwedOfRounds,
  type OwedPaymentCommand,
  type OwedRecoveryCommand,
  recordHeldPaymentOwedPaid,
  recordHeldPaymentOwedRecovered,
  recordMarketplaceChargeOwedPaid,
  recordMarketplaceChargeOwedRecovered,
  recordRoundOwedPaid,
} from "./owed-payment-use-cases.js";
export {
  describeMethod,
  groupsRelyingOnDebit,
  listPaymentMethods,
  type MethodNewsOutcome,
  type PaymentMethodView,
  type RemovedPaymentMethod,
  recordPaymentMethodNews,
  removePaymentMethod,
  setDefaultPaymentMethod,
  startPaymentMethodSetup,
} from "./payment-method-use-cases.js";
export { listPayoutPauses, pausePayouts, resumePayouts } from "./payout-pause-use-cases.js";
export {
  type PayoutRecheckReport,
  type PayoutRecordOutcome,
  type PayoutRequestsRecheck,
  type PayoutRun,
  type PayoutRunReport,
  type PayoutTrigger,
  type PersonBalance,
  payOutEveryone,
  payOutPerson,
  payoutScheduleOf,
  personBalance,
  recheckPayouts,
  recordPayout,
  type SkippedPayout,
} from "./payout-use-cases.js";
export { updatePersonPayment, updatePersonReadiness } from "./person-use-cases.js";
export { retryOnConflict } from "./retry-on-conflict.js";
export {
  type AdminActor,
  applyRoundInput,
  operatorActor,
  type PlatformOperator,
  type RoundOpener,
  reassignPayout,
  resumeGroup,
  retryContribution,
  startRound,
} from "./round-use-cases.js";
export { membersNotReadyKey, noticeRoundWaiting, roundWaitingEffects } from "./round-waiting-notice.js";
export { type FailureSteps, type SettledFailure, settleFailure } from "./settle-failure.js";
