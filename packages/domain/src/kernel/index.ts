export type { Decision, Ignored } from "./decision.js";
export { defineTransitions, type Transitions, type TransitionTable } from "./transitions.js";
