export {
  AGGREGATE_KINDS,
  type AggregateKind,
  type AggregateRef,
  isAggregateKind,
  type NoAggregateRef,
  type TimerOf,
} from "./aggregate-ref.js";
export type { Decision, Ignored } from "./decision.js";
export { type GroupAudience, NOTIFY_ROLES, type NotifyAudience, type NotifyRole } from "./notify-audience.js";
export { defineTransitions, type Transitions, type TransitionTable } from "./transitions.js";
