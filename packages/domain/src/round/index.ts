export { type DecideContext, decide, type RoundDecision } from "./decide.js";
export { type RoundError, roundError } from "./round.errors.js";
export {
  type Contribution,
  type ContributionStatus,
  type DebitAttempt,
  type EarlierTransfer,
  isRoundEnded,
  type NewRound,
  newRound,
  type PayoutTransfer,
  payoutDueMinor,
  potMinor,
  type Round,
  type RoundStatus,
  sentNetMinor,
  TERMINAL_ROUND_STATUSES,
} from "./round.js";
export {
  type GroupLocalEffect,
  isGroupLocalEffect,
  NOTIFICATION_TEMPLATES,
  type NotificationTemplate,
  type RoundEffect,
  type RoundOutboxEffect,
  TICKET_REASONS,
  type TicketReason,
} from "./round-effect.js";
export { roundIds } from "./round-ids.js";
export {
  ROUND_IGNORED_CODES,
  type RoundIgnored,
  type RoundIgnoredCode,
} from "./round-ignored.js";
export type { RoundInput, RoundTimer } from "./round-input.js";
export { isRoundMoveAllowed, ROUND_TRANSITIONS } from "./round-transitions.js";
