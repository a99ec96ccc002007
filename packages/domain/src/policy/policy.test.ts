import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { classifyFailure } from "./failure-codes.js";
import { type RetryPolicy, retryDelayMs, retryPolicyProblem } from "./retry-policy.js";
import { DEFAULT_ROUND_POLICY, roundPolicyProblem } from "./round-policy.js";

const policy: RetryPolicy = {
  baseDelayMs: 1_000,
  factor: 2,
  maxDelayMs: 10_000,
  jitter: "none",
  attemptsMax: 5,
};

describe("retry policy", () => {
  it("backs off exponentially up to the cap, then stops at the attempts limit", () => {
    expect([1, 2, 3, 4].map((n) => retryDelayMs(policy, n, 0.5))).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(retryDelayMs({ ...policy, attemptsMax: 10 }, 6, 0.5)).toBe(10_000);
    expect(retryDelayMs(policy, 5, 0.5)).toBeNull();
  });

  it("jitter stays within its band (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (n, f) => {
          const p = { ...policy, attemptsMax: 21 };
          const backoff = Math.min(p.maxDelayMs, p.baseDelayMs * 2 ** (n - 1));
          const full = retryDelayMs({ ...p, jitter: "full" }, n, f) ?? -1;
          const equal = retryDelayMs({ ...p, jitter: "equal" }, n, f) ?? -1;
          expect(full).toBeGreaterThanOrEqual(0);
          expect(full).toBeLessThanOrEqual(backoff);
          expect(equal).toBeGreaterThanOrEqual(backoff / 2 - 1);
          expect(equal).toBeLessThanOrEqual(backoff);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("validates settings", () => {
    expect(retryPolicyProblem(policy)).toBeNull();
    expect(retryPolicyProblem({ ...policy, factor: 0.5 })?.code).toBe("invalid_retry_policy");
    expect(retryPolicyProblem({ ...policy, attemptsMax: 0 })?.code).toBe("invalid_retry_policy");
    expect(retryPolicyProblem({ ...policy, maxDelayMs: 10 })?.code).toBe("invalid_retry_policy");
    expect(roundPolicyProblem(DEFAULT_ROUND_POLICY)).toBeNull();
    expect(roundPolicyProblem({ ...DEFAULT_ROUND_POLICY, collectionWindowMs: 1_000 })?.code).toBe(
      "invalid_retry_policy",
    );
  });
});

describe("failure classification", () => {
  it("sorts BECS codes from Stripe's test numbers", () => {
    expect(classifyFailure("becs_debit", "insufficient_funds")).toBe("retryable");
    expect(classifyFailure("becs_debit", "refer_to_customer")).toBe("retryable");
    expect(classifyFailure("becs_debit", "account_closed")).toBe("permanent");
    expect(classifyFailure("becs_debit", "no_account")).toBe("permanent");
    expect(classifyFailure("becs_debit", "debit_not_authorized")).toBe("permanent");
    expect(classifyFailure("becs_debit", "something_new")).toBe("permanent");
  });
  it("sorts card and transfer codes; unknown transfer outcomes are re-read, not retried blindly", () => {
    expect(classifyFailure("card", "insufficient_funds")).toBe("retryable");
    expect(classifyFailure("card", "stolen_card")).toBe("permanent");
    expect(classifyFailure("transfer", "insufficient_capabilities_for_transfer")).toBe("permanent");
    expect(classifyFailure("transfer", "balance_insufficient")).toBe("retryable");
    expect(classifyFailure("transfer", "weird")).toBe("outcome_unknown");
    expect(classifyFailure("transfer", undefined)).toBe("outcome_unknown");
  });
});
