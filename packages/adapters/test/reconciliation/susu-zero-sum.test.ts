// What susu's ledger alone records but undid within the period moved nothing: no difference,
// as on Stripe's side (from the reviewer's probe P6 on s21-reader).
import { contributionRefundFailed, disputeLoss, money, roundIds } from "@susu/domain";
import { describe, expect, it } from "vitest";
import { reconcile } from "../../src/reconciliation/reconcile.js";
import { susuItemsOf } from "../../src/reconciliation/susu-items.js";

const ref = {
  roundId: "rnd_1",
  memberId: "ana",
  amount: money(30_00, "AUD"),
  occurredAt: Date.UTC(2026, 11, 2),
};

describe("susu's movements undone within the period", () => {
  it("a dispute's withdrawal undone and the member's loss on the day a surplus refund lands are no difference", () => {
    // The dispute was heard on day 1 while our refund was out (its withdrawal booked on day 1);
    // the refund landed on day 2: day 2 holds the withdrawal undone (+T) and the loss (−T).
    const day2 = [
      contributionRefundFailed({
        id: roundIds.ledger.disputeWithdrawalUndone("rnd_1", "du_1"),
        ...ref,
      })._unsafeUnwrap(),
      disputeLoss({ id: roundIds.ledger.disputeLoss("rnd_1", "du_1"), ...ref })._unsafeUnwrap(),
    ];
    const r = reconcile(susuItemsOf(day2), []);
    expect(r.differences).toEqual([]);
    expect(r.matched).toBe(0);
  });

  it("a susu-only movement that nothing undid is still missing at Stripe", () => {
    // Only a failure, reversal or withdrawal undone makes a susu-only group nothing.
    const lossOnly = [
      disputeLoss({ id: roundIds.ledger.disputeLoss("rnd_1", "du_2"), ...ref })._unsafeUnwrap(),
    ];
    expect(reconcile(susuItemsOf(lossOnly), []).differences).toMatchObject([
      { code: "missing_at_stripe", key: "object:du_2", susuMinor: -30_00 },
    ]);
  });
});
