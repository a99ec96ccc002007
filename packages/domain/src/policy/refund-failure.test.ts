import { describe, expect, it } from "vitest";
import { REFUND_FAILURES_UNREACHABLE, refundFailureOutcome } from "./refund-failure.js";

describe("refundFailureOutcome", () => {
  it("a card that can no longer take money: a retry would fail too, so it is paid outside Stripe", () => {
    expect(REFUND_FAILURES_UNREACHABLE).toEqual(["lost_or_stolen_card", "expired_or_canceled_card"]);
    for (const code of REFUND_FAILURES_UNREACHABLE)
      expect(refundFailureOutcome(code)).toBe("pay_outside_stripe");
  });

  it("every other reason Stripe names, a canceled refund, an unknown or missing code: retry", () => {
    for (const code of [
      "insufficient_funds",
      "declined",
      "merchant_request",
      "unknown",
      "charge_for_pending_refund_disputed",
      "canceled",
      "refund_failed",
      "a_reason_newer_than_this_code",
      "",
      undefined,
      null,
    ])
      expect(refundFailureOutcome(code)).toBe("retry");
  });
});
