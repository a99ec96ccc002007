import type { Instant } from "../shared/time.js";

/**
 * The aggregates that decide effects (state machines with a `decide`): what outbox
 * effects, timers, notifications and support tickets belong to. A new aggregate adds its
 * name here (`"held_payment"`, …), which adds an arm to {@link AggregateRef}.
 */
// `payout` is a projection, not a state machine: a recorded payout that failed makes the
// notice and ticket it owes, addressed like any aggregate's.
// `payment_method` is a projection too: a saved method's news makes notices, tickets and provider calls.
export const AGGREGATE_KINDS = [
  "round",
  "held_payment",
  "marketplace_charge",
  "payout",
  "payment_method",
  "plan",
  "subscription",
] as const;

/** One of {@link AGGREGATE_KINDS}. */
export type AggregateKind = (typeof AGGREGATE_KINDS)[number];

/**
 * Which aggregate something belongs to: its kind and its id. A union with one arm per
 * aggregate (`{ aggregate: "round"; aggregateId }`, `{ aggregate: "held_payment"; aggregateId }`), so a switch on `aggregate`
 * narrows and the compiler lists the arms a new aggregate needs. `AggregateRef<"round">`
 * is the round's arm alone.
 */
export type AggregateRef<A extends AggregateKind = AggregateKind> = A extends AggregateKind
  ? { readonly aggregate: A; readonly aggregateId: string }
  : never;

/** The absence of an {@link AggregateRef}: neither field (a ticket about a webhook nobody could route). */
export interface NoAggregateRef {
  readonly aggregate?: never;
  readonly aggregateId?: never;
}

/** Whether `value` names an aggregate kind (for text read back from storage). */
export function isAggregateKind(value: string): value is AggregateKind {
  return (AGGREGATE_KINDS as readonly string[]).includes(value);
}

/**
 * A timer one aggregate sets: its stable `id`, when it fires (`at`), the aggregate it is
 * fed back to, and that aggregate's own timer payload (`timer`, e.g. a `RoundTimer`).
 * The `schedule_timer` effect is this plus its `kind`; the scheduler's `ScheduledTimer`
 * is the union of every aggregate's `TimerOf`.
 */
export type TimerOf<A extends AggregateKind, T> = AggregateRef<A> & {
  /** Stable id: scheduling the same id twice creates one timer. */
  readonly id: string;
  readonly at: Instant;
  readonly timer: T;
};
