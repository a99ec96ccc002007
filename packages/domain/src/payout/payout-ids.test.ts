import { describe, expect, it } from "vitest";
import { payoutIds } from "./payout-ids.js";

// Stored keys (Stripe Idempotency-Keys, outbox ids): a changed format pays or notifies twice.
describe("payout ids", () => {
  it("pins every format", () => {
    expect(payoutIds.scheduled("acct_1", "AUD", "2030-01-02")).toBe("payout:acct_1:AUD:2030-01-02");
    expect(payoutIds.scheduled("acct_1", "AUD", "2030-01-02", 1)).toBe("payout:acct_1:AUD:2030-01-02");
    expect(payoutIds.scheduled("acct_1", "AUD", "2030-01-02", 2)).toBe("payout:acct_1:AUD:2030-01-02:2");
    expect(payoutIds.requested("acct_1", "NZD", "key-9")).toBe("payout:acct_1:NZD:request:key-9");
    expect(payoutIds.requested("acct_1", "NZD", "key-9", 1)).toBe("payout:acct_1:NZD:request:key-9");
    expect(payoutIds.requested("acct_1", "NZD", "ops:key-9", 2)).toBe(
      "payout:acct_1:NZD:request-2:ops:key-9",
    );
    expect(payoutIds.failedNotice("po_1")).toBe("payout:po_1:failed:notify");
    expect(payoutIds.failedTicket("po_1")).toBe("payout:po_1:failed:ticket");
    expect(payoutIds.onboardingIncompleteNotice("acct_1", "2-00ff")).toBe(
      "account:acct_1:onboarding_incomplete:2-00ff:notify",
    );
  });

  it("no two different payouts or effects share an id", () => {
    const ids = [
      payoutIds.scheduled("acct_1", "AUD", "2030-01-02"),
      payoutIds.scheduled("acct_1", "AUD", "2030-01-03"),
      payoutIds.scheduled("acct_1", "AUD", "2030-01-02", 2),
      payoutIds.scheduled("acct_1", "AUD", "2030-01-02", 10),
      payoutIds.refusedNotice("acct_1", "AUD", "2030-01-02"),
      payoutIds.refusedTicket("acct_1", "AUD", "2030-01-02"),
      payoutIds.scheduled("acct_1", "NZD", "2030-01-02"),
      payoutIds.scheduled("acct_2", "AUD", "2030-01-02"),
      payoutIds.requested("acct_1", "AUD", "2030-01-02"),
      // A request's key that looks like another's next attempt is still another key.
      payoutIds.requested("acct_1", "AUD", "k1", 2),
      payoutIds.requested("acct_1", "AUD", "2:k1"),
      payoutIds.requested("acct_1", "AUD", "k1:2"),
      payoutIds.requested("acct_1", "AUD", "k1", 3),
      payoutIds.failedNotice("po_1"),
      payoutIds.failedTicket("po_1"),
      payoutIds.failedNotice("po_2"),
      payoutIds.onboardingIncompleteNotice("acct_1", "1-0"),
      payoutIds.onboardingIncompleteNotice("acct_1", "1-1"),
    ];
    expect(new Set(ids).size).toBe(ids.length);
  });
});
