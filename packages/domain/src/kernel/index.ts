export {
  AGGREGATE_KINDS,
  type AggregateKind,
  type AggregateRef,
  isAggregateKind,
  type NoAggregateRef,
  type TimerOf,
} from "./aggregate-ref.js";
export { type CodedError, type CodedErrorConstructor, codedErrorConstructor } from "./coded-error.js";
export { type Decision, type Ignored, ignore } from "./decision.js";
export {
  closeLossThatWaited,
  DISPUTE_IGNORED_CODES,
  type Dispute,
  type DisputeDraft,
  type DisputedState,
  type DisputeIgnoredCode,
  type DisputeRules,
  disputeClosed,
  disputeOpened,
  disputeUpdated,
  waitingLoss,
} from "./disputes.js";
export {
  type AggregateState,
  Draft,
  type DraftOptions,
  type MovePatch,
  type PartyRecipient,
  PaymentDraft,
  type PaymentDraftOptions,
  type PaymentState,
} from "./draft.js";
export * from "./effect-address.js";
export {
  ANOTHER_ATTEMPT_LANDED,
  EARLIER_TRY_UNHEARD,
  isBookedTransfer,
  isTransferInFlight,
  mayHaveLandedAfterWriteOff,
  reportsUnheardTry,
  type TransferAttemptState,
  transferStillAsked,
  type WriteOffRules,
  type WrittenOffAttempt,
  writeOffOtherAttempts,
} from "./late-transfers.js";
export { type GroupAudience, NOTIFY_ROLES, type NotifyAudience, type NotifyRole } from "./notify-audience.js";
export { type OwedCause, owedCauseData, owedCauseRefs, owedCauseSummary } from "./owed-cause.js";
export type * from "./payment-facts.js";
export { clipText, textLength, textLengthWithin } from "./text.js";
export { defineTransitions, type Transitions, type TransitionTable } from "./transitions.js";
