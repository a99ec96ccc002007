export {
  applyPaymentFact,
  applyRoundFact,
  type FactError,
  type FactOutcome,
  type FactPorts,
} from "./apply-fact.js";
export { type NotFoundError, notFound, type UseCaseDeps, type UseCaseError } from "./deps.js";
export {
  DEFAULT_EFFECT_RETRY,
  type DispatchOptions,
  type DispatchReport,
  dispatchOutbox,
} from "./dispatch-outbox.js";
export { type EffectFailure, type EffectPorts, executeEffect } from "./execute-effect.js";
export {
  acceptSwap,
  activateGroup,
  type CreateGroupCommand,
  createGroup,
  drawPayoutOrder,
  joinGroup,
  leaveGroup,
  loadGroup,
  proposeSwap,
  setPayoutOrder,
  updateMemberPayment,
  updateMemberReadiness,
  usePayoutOrderMethod,
} from "./group-use-cases.js";
export { type OnboardingError, startDebitSetup, startPayoutOnboarding } from "./onboarding.js";
export { retryOnConflict } from "./retry-on-conflict.js";
export { applyRoundInput, reassignPayout, resumeGroup, startRound } from "./round-use-cases.js";
export { type FailureSteps, type SettledFailure, settleFailure } from "./settle-failure.js";
