export { classifyFailure, type FailureClass, type FailureRail, isGoneCode } from "./failure-codes.js";
export { type RetryPolicy, type RetryPolicyError, retryDelayMs, retryPolicyProblem } from "./retry-policy.js";
export { DEFAULT_ROUND_POLICY, type RoundPolicy, roundPolicyProblem } from "./round-policy.js";
