import { DAY_MS, type DurationMs } from "../shared/time.js";

/**
 * How long a held payment's or a marketplace charge's refund may wait for Stripe's outcome
 * before it is ticketed (`refund_overdue`). Stripe retries a webhook for up to 3 days in live
 * mode: a refund still `requested` a day after that was left pending at Stripe (a balance too
 * low to fund it) or its news was lost for good, and nothing else in susu will hear of it — a
 * dispute lost meanwhile waits for it (`DisputeRules.lossWaits`). The alert
 * `SusuRefundOutcomeOverdue` fires on the same age.
 */
export const REFUND_OUTCOME_OVERDUE_MS: DurationMs = 4 * DAY_MS;
