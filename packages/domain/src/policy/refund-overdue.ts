import { DAY_MS, type DurationMs } from "../shared/time.js";

/**
 * How long a held payment's or a marketplace charge's refund may wait for Stripe's outcome
 * before susu asks Stripe for it (`refund_overdue`, then a `find_refund` look-up). Stripe
 * retries a webhook for up to 3 days in live mode: a refund still `requested` a day after
 * that was left pending at Stripe (a balance too low to fund it) or its news was lost for
 * good, and nothing else in susu will hear of it — a dispute lost meanwhile waits for it
 * (`DisputeRules.lossWaits`). The alert `SusuRefundOutcomeOverdue` fires on the same age.
 */
export const REFUND_OUTCOME_OVERDUE_MS: DurationMs = 4 * DAY_MS;

/**
 * After a look-up found the refund still pending at Stripe (or found none), how long until
 * susu asks again: slow on purpose, a pending refund waits for money or a bank, not for susu.
 */
export const REFUND_OUTCOME_RECHECK_MS: DurationMs = 2 * DAY_MS;

/**
 * How many look-ups one refund attempt gets (the first at `REFUND_OUTCOME_OVERDUE_MS`, then
 * one every `REFUND_OUTCOME_RECHECK_MS`): 8 asks over 18 days, then susu stops asking and
 * the last ticket says so (the refund still ends when Stripe's news comes).
 */
export const REFUND_OUTCOME_LOOKUPS = 8;
