import type { DurationMs } from "../shared/time.js";

/**
 * How failed work is retried: exponential backoff from `baseDelayMs`, multiplied by
 * `factor` per attempt, capped at `maxDelayMs`, with jitter, and at most `attemptsMax`
 * attempts in all (the first attempt counts).
 */
export interface RetryPolicy {
  readonly baseDelayMs: DurationMs;
  readonly factor: number;
  readonly maxDelayMs: DurationMs;
  /**
   * `full`: a uniform delay in [0, backoff]; `equal`: backoff/2 plus a uniform share of
   * the other half (never retries at once); `none`: exactly the backoff.
   */
  readonly jitter: "full" | "equal" | "none";
  readonly attemptsMax: number;
}

/** Errors in a retry policy's settings. */
export type RetryPolicyError = {
  readonly type: "invalid_retry_policy";
  readonly code: "invalid_retry_policy";
  readonly message: string;
};

/**
 * Checks a policy's settings: positive base, factor ≥ 1, cap ≥ base, 1–100 attempts.
 * Returns the problem, or null when the policy is valid.
 */
export function retryPolicyProblem(policy: RetryPolicy): RetryPolicyError | null {
  const problem = (message: string): RetryPolicyError => ({
    type: "invalid_retry_policy",
    code: "invalid_retry_policy",
    message,
  });
  if (!Number.isSafeInteger(policy.baseDelayMs) || policy.baseDelayMs <= 0)
    return problem("baseDelayMs must be a positive integer");
  if (!Number.isFinite(policy.factor) || policy.factor < 1) return problem("factor must be at least 1");
  if (!Number.isSafeInteger(policy.maxDelayMs) || policy.maxDelayMs < policy.baseDelayMs)
    return problem("maxDelayMs must be an integer no smaller than baseDelayMs");
  if (!Number.isSafeInteger(policy.attemptsMax) || policy.attemptsMax < 1 || policy.attemptsMax > 100)
    return problem("attemptsMax must be between 1 and 100");
  return null;
}

/**
 * The delay before attempt `failedAttempt + 1`, given that attempt `failedAttempt`
 * (1-based) failed, or `null` when the policy allows no further attempt.
 *
 * @param fraction a number in [0, 1) from an injected source; the domain derives it from
 *   the attempt's stable id so a replay computes the same delay.
 */
export function retryDelayMs(
  policy: RetryPolicy,
  failedAttempt: number,
  fraction: number,
): DurationMs | null {
  if (failedAttempt >= policy.attemptsMax) return null;
  const exponential = policy.baseDelayMs * policy.factor ** Math.max(0, failedAttempt - 1);
  const backoff = Math.min(policy.maxDelayMs, exponential);
  const f = Math.min(Math.max(fraction, 0), 0.999_999_999);
  switch (policy.jitter) {
    case "none":
      return Math.round(backoff);
    case "full":
      return Math.round(backoff * f);
    case "equal":
      return Math.round(backoff / 2 + (backoff / 2) * f);
  }
}
