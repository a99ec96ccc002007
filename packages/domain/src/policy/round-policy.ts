import { DAY_MS, type DurationMs, HOUR_MS } from "../shared/time.js";
import { type RetryPolicy, type RetryPolicyError, retryPolicyProblem } from "./retry-policy.js";

/**
 * The settings that govern one group's rounds. Every group may override them; the
 * defaults suit BECS, whose debits take up to three business days to settle.
 */
export interface RoundPolicy {
  /** How long after a round opens its contributions must all have succeeded. */
  readonly collectionWindowMs: DurationMs;
  /**
   * When the deadline passes and the only contributions not yet succeeded are still
   * processing (BECS takes days), how much longer the round waits for them before it
   * refunds everyone; it stops waiting as soon as none is left processing. 0 = refund at
   * the deadline.
   */
  readonly settlementGraceMs: DurationMs;
  /** How long after the last contribution settles the payout starts (0 = at once). */
  readonly payoutDelayMs: DurationMs;
  /** Retries of failed debits. The deadline also stops retries: none is scheduled past it. */
  readonly debitRetry: RetryPolicy;
  /** Retries of payout transfers that failed for a retryable reason. */
  readonly payoutRetry: RetryPolicy;
  /**
   * The latest an admin may extend the collection deadline to, after the round opened (absent:
   * {@link MAX_COLLECTION_MS}). The round holds collected contributions until then, and must
   * still be able to refund them: Stripe refunds a charge within 90 days (STRIPE.md).
   */
  readonly maxCollectionMs?: DurationMs;
}

/**
 * How long after opening a round may keep collecting at most, extensions included: 60 days.
 * Stripe refunds a charge for 90 days (STRIPE.md); the round's first charges are made when it
 * opens, and after the deadline come the grace period (3 days by default), the refunds
 * themselves (a BECS refund takes days) and time for a failed refund to be retried.
 */
export const MAX_COLLECTION_MS: DurationMs = 60 * DAY_MS;

/**
 * The defaults: a 10-day collection window plus 3 days' grace for debits still processing,
 * payout at once, 4 debit attempts a day or more apart.
 */
export const DEFAULT_ROUND_POLICY: RoundPolicy = {
  collectionWindowMs: 10 * DAY_MS,
  settlementGraceMs: 3 * DAY_MS,
  payoutDelayMs: 0,
  debitRetry: { baseDelayMs: DAY_MS, factor: 2, maxDelayMs: 3 * DAY_MS, jitter: "equal", attemptsMax: 4 },
  payoutRetry: { baseDelayMs: HOUR_MS, factor: 2, maxDelayMs: 12 * HOUR_MS, jitter: "equal", attemptsMax: 5 },
};

/**
 * Checks a round policy: windows positive, retry policies valid, and the collection
 * window long enough for at least one BECS settlement (three days).
 */
export function roundPolicyProblem(policy: RoundPolicy): RetryPolicyError | null {
  if (!Number.isSafeInteger(policy.collectionWindowMs) || policy.collectionWindowMs < 3 * DAY_MS)
    return {
      type: "invalid_retry_policy",
      code: "invalid_retry_policy",
      message: "collectionWindowMs must be at least three days (a BECS debit takes up to three)",
    };
  if (!Number.isSafeInteger(policy.settlementGraceMs) || policy.settlementGraceMs < 0)
    return {
      type: "invalid_retry_policy",
      code: "invalid_retry_policy",
      message: "settlementGraceMs must be ≥ 0",
    };
  if (!Number.isSafeInteger(policy.payoutDelayMs) || policy.payoutDelayMs < 0)
    return {
      type: "invalid_retry_policy",
      code: "invalid_retry_policy",
      message: "payoutDelayMs must be ≥ 0",
    };
  return retryPolicyProblem(policy.debitRetry) ?? retryPolicyProblem(policy.payoutRetry);
}
