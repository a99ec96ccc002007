import { describe, expect, it } from "vitest";
import { DAY_MS, HOUR_MS } from "../shared/time.js";
import { DEFAULT_HELD_PAYMENT_POLICY, heldPaymentPolicyProblem } from "./held-payment-policy.js";

describe("held payment policy", () => {
  it("the default is valid and leaves an hour below Stripe's 24-hour checkout limit", () => {
    expect(heldPaymentPolicyProblem(DEFAULT_HELD_PAYMENT_POLICY)).toBeNull();
    expect(DEFAULT_HELD_PAYMENT_POLICY.checkoutTtlMs).toBeLessThanOrEqual(DAY_MS - HOUR_MS);
  });

  it("refuses a checkout lifetime Stripe could refuse once the session is made later or on another clock", () => {
    for (const checkoutTtlMs of [DAY_MS, DAY_MS - HOUR_MS + 1, 30 * 60_000, 0, 1.5])
      expect(heldPaymentPolicyProblem({ ...DEFAULT_HELD_PAYMENT_POLICY, checkoutTtlMs })?.message).toMatch(
        /checkoutTtlMs/,
      );
    for (const checkoutTtlMs of [90 * 60_000, DAY_MS - HOUR_MS])
      expect(heldPaymentPolicyProblem({ ...DEFAULT_HELD_PAYMENT_POLICY, checkoutTtlMs })).toBeNull();
  });

  it("keeps the dispute windows ordered: shortest ≤ default ≤ longest, all positive", () => {
    const d = DEFAULT_HELD_PAYMENT_POLICY;
    expect(heldPaymentPolicyProblem({ ...d, disputeWindowMinMs: 60_000 })).toBeNull();
    expect(heldPaymentPolicyProblem({ ...d, disputeWindowMinMs: d.disputeWindowMs + 1 })?.message).toMatch(
      /ordered/,
    );
    expect(heldPaymentPolicyProblem({ ...d, disputeWindowMs: d.disputeWindowMaxMs + 1 })?.message).toMatch(
      /ordered/,
    );
    expect(heldPaymentPolicyProblem({ ...d, disputeWindowMinMs: 0 })?.message).toMatch(/positive/);
  });
});
