// Every id format a round makes, pinned with literal strings. These are stored keys
// (outbox rows, Stripe idempotency keys, ledger transactions, timers, notifications,
// tickets): if one of these expectations has to change, the change is a data migration.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { roundIds } from "./round-ids.js";

const debit = "r1:contribution:m2:attempt:3";
const transfer = "r1:transfer:m2:attempt:2";

describe("round ids (stored keys: a format change is a data migration)", () => {
  it("the round's own id, derived from its group, rotation and sequence (every other id starts with it)", () => {
    expect(roundIds.round("grp_3f9c", 2, 5)).toBe("round_grp_3f9c_r2_s5");
    expect(roundIds.round("grp_1", 1, 0)).toBe("round_grp_1_r1_s0");
  });

  it("round ids: the same references give the same id, different ones never the same id, and no colon", () => {
    // Group ids as the id generator makes them (prefix, underscore, anything without a colon),
    // including ones that end like a rotation/sequence suffix, to try to fool the format.
    const groupId = fc.oneof(
      fc.stringMatching(/^grp_[0-9a-f]{1,32}$/),
      fc.stringMatching(/^[a-z0-9_]{1,12}$/),
      fc
        .tuple(fc.stringMatching(/^[a-z]{1,4}$/), fc.nat(9), fc.nat(9))
        .map(([g, r, q]) => `${g}_r${r}_s${q}`),
    );
    const ref = fc.tuple(groupId, fc.integer({ min: 1, max: 50 }), fc.nat(2000));
    fc.assert(
      fc.property(ref, ref, ([g1, r1, s1], [g2, r2, s2]) => {
        const a = roundIds.round(g1, r1, s1);
        const b = roundIds.round(g2, r2, s2);
        expect(a).toBe(roundIds.round(g1, r1, s1));
        expect(a.includes(":")).toBe(false);
        expect(a === b).toBe(g1 === g2 && r1 === r2 && s1 === s2);
      }),
      { numRuns: 2000 },
    );
  });

  it("effects that reach Stripe", () => {
    expect(roundIds.transferGroup("r1")).toBe("round_r1");
    expect(roundIds.debit("r1", "m2", 3)).toBe(debit);
    expect(roundIds.transfer("r1", "m2", 2)).toBe(transfer);
    // Attempt 1 keeps the key refunds had before they could be retried (refunds in flight
    // and rows in outboxes carry it); an admin's retries get their own.
    expect(roundIds.refund("r1", "m2")).toBe("r1:refund:m2");
    expect(roundIds.refund("r1", "m2", 1)).toBe("r1:refund:m2");
    expect(roundIds.refund("r1", "m2", 2)).toBe("r1:refund:m2:attempt:2");
    // A surplus charge's refund (a debit recorded as failed that took the money after all).
    expect(roundIds.surplusRefund("r1", "m2", 1)).toBe("r1:refund:m2:debit:1");
    expect(roundIds.surplusRefund("r1", "m2", 1, 1)).toBe("r1:refund:m2:debit:1");
    expect(roundIds.surplusRefund("r1", "m2", 3, 2)).toBe("r1:refund:m2:debit:3:attempt:2");
  });

  it("timers, with the re-arm suffix", () => {
    expect(roundIds.timer("r1", { kind: "collection_deadline" })).toBe("r1:timer:collection_deadline");
    expect(roundIds.timer("r1", { kind: "collection_deadline" }, 4)).toBe("r1:timer:collection_deadline:v4");
    expect(roundIds.timer("r1", { kind: "grace_end" })).toBe("r1:timer:grace_end");
    expect(roundIds.timer("r1", { kind: "payout_due" }, 7)).toBe("r1:timer:payout_due:v7");
    expect(roundIds.timer("r1", { kind: "retry_debit", memberId: "m2", attempt: 2 })).toBe(
      "r1:timer:retry_debit:m2:2",
    );
    expect(roundIds.timer("r1", { kind: "retry_payout", attempt: 3 })).toBe("r1:timer:retry_payout:3");
  });

  it("group effects and the round's end", () => {
    expect(roundIds.pauseGroup("r1", "m1", 2, 9)).toBe("r1:pause:m1:2:v9");
    expect(roundIds.resumeGroup("r1", 9)).toBe("r1:resume:9");
    expect(roundIds.roundEnded("r1")).toBe("r1:ended");
  });

  it("ledger transactions", () => {
    const l = roundIds.ledger;
    expect(l.debitInitiated(debit)).toBe("r1:contribution:m2:attempt:3:initiated");
    expect(l.debitInitiatedLate(debit)).toBe("r1:contribution:m2:attempt:3:initiated:late");
    expect(l.debitSettled(debit)).toBe("r1:contribution:m2:attempt:3:settled");
    expect(l.debitFailed(debit)).toBe("r1:contribution:m2:attempt:3:failed");
    expect(l.contributionRefunded("r1", "m2")).toBe("r1:refund:m2:ledger");
    expect(l.contributionRefundFailed("r1", "m2")).toBe("r1:refund:m2:ledger:failed");
    expect(l.contributionRefunded("r1", "m2", 2)).toBe("r1:refund:m2:attempt:2:ledger");
    expect(l.contributionRefundFailed("r1", "m2", 2)).toBe("r1:refund:m2:attempt:2:ledger:failed");
    expect(l.surplusRefunded("r1", "m2", 1)).toBe("r1:refund:m2:debit:1:ledger");
    expect(l.surplusRefundFailed("r1", "m2", 1)).toBe("r1:refund:m2:debit:1:ledger:failed");
    expect(l.surplusRefunded("r1", "m2", 1, 2)).toBe("r1:refund:m2:debit:1:attempt:2:ledger");
    expect(l.surplusRefundFailed("r1", "m2", 1, 2)).toBe("r1:refund:m2:debit:1:attempt:2:ledger:failed");
    expect(l.payoutTransferred(transfer)).toBe("r1:transfer:m2:attempt:2:ledger");
    expect(l.transferReversed(transfer, 4000)).toBe("r1:transfer:m2:attempt:2:reversed:4000");
    expect(l.disputeLoss("r1", "dp_1")).toBe("r1:dispute:dp_1");
    expect(l.disputeWithdrawn("r1", "dp_1")).toBe("r1:dispute:dp_1:withdrawn");
    expect(l.disputeRestOwed("r1", "dp_1")).toBe("r1:dispute:dp_1:rest_owed");
    expect(l.disputeLossUndone("r1", "dp_1")).toBe("r1:dispute:dp_1:reinstated");
    expect(l.disputeWon("r1", "dp_1")).toBe("r1:dispute:dp_1:won");
    expect(l.disputeWonOwed("r1", "dp_1")).toBe("r1:dispute:dp_1:won:owed");
    expect(l.disputeWithdrawalUndone("r1", "dp_1")).toBe("r1:dispute:dp_1:withdrawn:undone");
    expect(l.disputeWithdrawnAgain("r1", "dp_1")).toBe("r1:dispute:dp_1:withdrawn:again");
  });

  it("notifications", () => {
    const n = roundIds.notice;
    expect(n.debitInitiated("r1", "m2", 1)).toBe("r1:notify:debit_initiated:m2:1");
    expect(n.contributionRetryScheduled("r1", "m2", 1)).toBe("r1:notify:contribution_retry_scheduled:m2:1");
    expect(n.contributionFailed("r1", "m2", 1)).toBe("r1:notify:contribution_failed:m2:1");
    expect(n.contributionCollectedLate("r1", "m2", 1)).toBe("r1:notify:contribution_collected_late:m2:1");
    expect(n.contributionFailedToAdmins("r1", "m2", 1)).toBe("r1:notify:contribution_failed:admins:m2:1");
    expect(n.roundCancelling("r1")).toBe("r1:notify:round_cancelling:all");
    expect(n.roundWaitingForMember("r1", "m2", ["payout_account", "mandate"])).toBe(
      "r1:notify:round_waiting_for_you:m2:mandate+payout_account",
    );
    expect(n.roundWaitingForMembersToAdmins("r1", "2-0a1b2c3d")).toBe(
      "r1:notify:round_waiting_for_members:admins:2-0a1b2c3d",
    );
    expect(n.roundCancelled("r1")).toBe("r1:notify:round_cancelled:all");
    expect(n.payoutBlocked("r1", "m1", 2, 9)).toBe("r1:notify:payout_blocked:m1:2:v9");
    expect(n.payoutBlockedToAdmins("r1", "m1", 2, 9)).toBe("r1:notify:payout_blocked:admins:m1:2:v9");
    expect(n.payoutSent("r1", "m1")).toBe("r1:notify:payout_sent:m1");
    expect(n.refundFailed("r1", "m2")).toBe("r1:notify:refund_failed:m2");
    expect(n.refundFailedAfterSuccess("r1", "m2")).toBe("r1:notify:refund_failed:m2:after_success");
    expect(n.refundFailed("r1", "m2", 1)).toBe("r1:notify:refund_failed:m2");
    expect(n.refundFailed("r1", "m2", 2)).toBe("r1:notify:refund_failed:m2:attempt:2");
    expect(n.surplusRefundFailed("r1", "m2", 1)).toBe("r1:notify:refund_failed:m2:debit:1");
    expect(n.surplusRefundFailed("r1", "m2", 1, 2)).toBe("r1:notify:refund_failed:m2:debit:1:attempt:2");
    expect(n.surplusRefundFailedAfterSuccess("r1", "m2", 1)).toBe(
      "r1:notify:refund_failed:m2:debit:1:after_success",
    );
    expect(n.refundFailedAfterSuccess("r1", "m2", 2)).toBe(
      "r1:notify:refund_failed:m2:attempt:2:after_success",
    );
    expect(n.disputeOpened("r1", "dp_1")).toBe("r1:notify:dispute_opened:dp_1");
    expect(n.transferReversed("r1", "tr_1", 4000)).toBe("r1:notify:transfer_reversed:tr_1:4000");
    expect(n.lateDebitSuccess("r1", "m2", 3)).toBe("r1:notify:unexpected_money:m2:3");
    expect(n.lateTransfer("r1", "tr_1")).toBe("r1:notify:unexpected_money:transfer:tr_1");
  });

  it("support tickets", () => {
    const t = roundIds.ticket;
    expect(t.lateDebitSuccess("r1", "m2", 3)).toBe("r1:ticket:unexpected_money:late_success:m2:3");
    expect(t.lateTransfer("r1", "tr_1")).toBe("r1:ticket:unexpected_money:transfer:tr_1");
    expect(t.payoutBlocked("r1", "m1", 2, 9)).toBe("r1:ticket:payout_blocked:m1:2:v9");
    expect(t.refundFailed("r1", "m2")).toBe("r1:ticket:refund_failed:m2");
    expect(t.refundFailedAfterSuccess("r1", "m2")).toBe("r1:ticket:refund_failed:m2:after_success");
    expect(t.refundFailed("r1", "m2", 1)).toBe("r1:ticket:refund_failed:m2");
    expect(t.refundFailed("r1", "m2", 2)).toBe("r1:ticket:refund_failed:m2:attempt:2");
    expect(t.surplusRefundFailed("r1", "m2", 1)).toBe("r1:ticket:refund_failed:m2:debit:1");
    expect(t.surplusRefundFailed("r1", "m2", 1, 2)).toBe("r1:ticket:refund_failed:m2:debit:1:attempt:2");
    expect(t.surplusRefundFailedAfterSuccess("r1", "m2", 1, 2)).toBe(
      "r1:ticket:refund_failed:m2:debit:1:attempt:2:after_success",
    );
    expect(t.refundFailedAfterSuccess("r1", "m2", 2)).toBe(
      "r1:ticket:refund_failed:m2:attempt:2:after_success",
    );
    expect(t.dispute("r1", "dp_1")).toBe("r1:ticket:dispute:dp_1");
    expect(t.disputeAfterPayout("r1", "dp_1")).toBe("r1:ticket:dispute_after_payout:dp_1");
    expect(t.disputePending("r1", "dp_1")).toBe("r1:ticket:dispute:dp_1:pending");
    expect(t.disputeRestOwed("r1", "dp_1")).toBe("r1:ticket:dispute:dp_1:rest_owed");
    expect(t.disputeWon("r1", "dp_1")).toBe("r1:ticket:dispute:dp_1:won");
    expect(t.disputeWithdrawalUnknown("r1", "dp_1")).toBe("r1:ticket:dispute:dp_1:withdrawal_unknown");
    expect(t.transferReversed("r1", "tr_1", 4000)).toBe("r1:ticket:transfer_reversed:tr_1:4000");
  });

  it("retry jitter seeds (replayed after a crash, so as fixed as the ids)", () => {
    expect(roundIds.seed.debitRetry(debit)).toBe("r1:contribution:m2:attempt:3:retry");
    expect(roundIds.seed.payoutRetry(transfer)).toBe("r1:transfer:m2:attempt:2:retry");
  });

  it("no two kinds of id coincide for the same references", () => {
    // One id of every kind, all built from the same few references: a collision here
    // would let two different steps share a key.
    const [r, m, d, t] = ["r1", "m", "x", "x"];
    const { ledger: l, notice: n, ticket: k } = roundIds;
    const ids = [
      roundIds.round(r, 1, 1),
      roundIds.debit(r, m, 1),
      roundIds.transfer(r, m, 1),
      roundIds.refund(r, m),
      roundIds.refund(r, m, 2),
      roundIds.surplusRefund(r, m, 1),
      roundIds.surplusRefund(r, m, 1, 2),
      roundIds.timer(r, { kind: "collection_deadline" }),
      roundIds.timer(r, { kind: "collection_deadline" }, 1),
      roundIds.timer(r, { kind: "grace_end" }),
      roundIds.timer(r, { kind: "payout_due" }, 1),
      roundIds.timer(r, { kind: "retry_debit", memberId: m, attempt: 1 }),
      roundIds.timer(r, { kind: "retry_payout", attempt: 1 }),
      roundIds.pauseGroup(r, m, 1, 1),
      roundIds.resumeGroup(r, 1),
      roundIds.roundEnded(r),
      l.debitInitiated(roundIds.debit(r, m, 1)),
      l.debitInitiatedLate(roundIds.debit(r, m, 1)),
      l.debitSettled(roundIds.debit(r, m, 1)),
      l.debitFailed(roundIds.debit(r, m, 1)),
      l.contributionRefunded(r, m),
      l.contributionRefunded(r, m, 2),
      l.contributionRefundFailed(r, m),
      l.contributionRefundFailed(r, m, 2),
      l.surplusRefunded(r, m, 1),
      l.surplusRefunded(r, m, 1, 2),
      l.surplusRefundFailed(r, m, 1),
      l.surplusRefundFailed(r, m, 1, 2),
      l.payoutTransferred(roundIds.transfer(r, m, 1)),
      l.transferReversed(roundIds.transfer(r, m, 1), 1),
      l.disputeLoss(r, d),
      l.disputeWithdrawn(r, d),
      l.disputeRestOwed(r, d),
      l.disputeLossUndone(r, d),
      l.disputeWon(r, d),
      l.disputeWonOwed(r, d),
      l.disputeWithdrawalUndone(r, d),
      l.disputeWithdrawnAgain(r, d),
      n.debitInitiated(r, m, 1),
      n.contributionRetryScheduled(r, m, 1),
      n.contributionFailed(r, m, 1),
      n.contributionCollectedLate(r, m, 1),
      n.contributionFailedToAdmins(r, m, 1),
      n.roundCancelling(r),
      n.roundCancelled(r),
      n.roundWaitingForMember(r, m, ["mandate"]),
      n.roundWaitingForMembersToAdmins(r, "1-x"),
      n.payoutBlocked(r, m, 1, 1),
      n.payoutBlockedToAdmins(r, m, 1, 1),
      n.payoutSent(r, m),
      n.refundFailed(r, m),
      n.refundFailed(r, m, 2),
      n.refundFailedAfterSuccess(r, m),
      n.refundFailedAfterSuccess(r, m, 2),
      n.surplusRefundFailed(r, m, 1),
      n.surplusRefundFailed(r, m, 1, 2),
      n.surplusRefundFailedAfterSuccess(r, m, 1),
      n.surplusRefundFailedAfterSuccess(r, m, 1, 2),
      n.disputeOpened(r, d),
      n.transferReversed(r, t, 1),
      n.lateDebitSuccess(r, m, 1),
      n.lateTransfer(r, t),
      k.lateDebitSuccess(r, m, 1),
      k.lateTransfer(r, t),
      k.payoutBlocked(r, m, 1, 1),
      k.refundFailed(r, m),
      k.refundFailed(r, m, 2),
      k.refundFailedAfterSuccess(r, m),
      k.refundFailedAfterSuccess(r, m, 2),
      k.surplusRefundFailed(r, m, 1),
      k.surplusRefundFailed(r, m, 1, 2),
      k.surplusRefundFailedAfterSuccess(r, m, 1),
      k.surplusRefundFailedAfterSuccess(r, m, 1, 2),
      k.dispute(r, d),
      k.disputeAfterPayout(r, d),
      k.disputePending(r, d),
      k.disputeRestOwed(r, d),
      k.disputeWon(r, d),
      k.disputeWithdrawalUnknown(r, d),
      k.transferReversed(r, t, 1),
    ];
    expect(new Set(ids).size).toBe(ids.length);
    // Every builder is in the list above: a new id kind must join it.
    const builders =
      Object.values(roundIds).filter((v) => typeof v === "function").length +
      Object.keys(l).length +
      Object.keys(n).length +
      Object.keys(k).length -
      1; // transferGroup is a Stripe field, not a key of ours
    // One timer builder, six timer ids (five kinds, one re-armed); fourteen builders with a
    // refund attempt (seven of a contribution's refund, seven of a surplus charge's), each
    // listed for attempts 1 and 2.
    expect(ids.length).toBe(builders + 5 + 14);
  });
});
