import type { ResultAsync } from "neverthrow";
import type { HeldPaymentTimer } from "../held-payment/held-payment-timer.js";
import type { TimerOf } from "../kernel/aggregate-ref.js";
import type { MarketplaceChargeTimer } from "../marketplace/marketplace-charge-timer.js";
import type { SubscriptionTimer } from "../membership/subscription-timer.js";
import type { RoundTimer } from "../round/round-input.js";

/**
 * A timer to fire once at `at`, then fed back to the aggregate it names (`aggregate`,
 * `aggregateId`) as that aggregate's timer input: one arm per aggregate that sets timers,
 * keyed by `aggregate`. A new aggregate adds its arm here and its case where fired timers
 * are routed (`useCases.applyTimer`).
 */
export type ScheduledTimer =
  | TimerOf<"round", RoundTimer>
  | TimerOf<"held_payment", HeldPaymentTimer>
  | TimerOf<"marketplace_charge", MarketplaceChargeTimer>
  | TimerOf<"subscription", SubscriptionTimer>;

/**
 * A timer that fired, as its aggregate hears it: its id, the aggregate and that
 * aggregate's payload (its time has passed; the queue may have run it later).
 */
export type FiredTimer = ScheduledTimer extends infer T ? (T extends unknown ? Omit<T, "at"> : never) : never;

/** Why a timer could not be scheduled; the dispatcher retries it. */
export type SchedulerError = {
  readonly type: "schedule_failed";
  readonly code: "schedule_failed";
  readonly message: string;
};

/** Fires timers later (pg-boss in production). */
export interface TimerScheduler {
  schedule(timer: ScheduledTimer): ResultAsync<void, SchedulerError>;
}
