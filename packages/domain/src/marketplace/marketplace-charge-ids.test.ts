// Every id format a marketplace charge makes, pinned with literal strings. These are stored
// keys (outbox rows, Stripe idempotency keys, ledger transactions, timers, notifications,
// tickets): if one of these expectations has to change, the change is a data migration.
import { describe, expect, it } from "vitest";
import { marketplaceChargeIds as ids } from "./marketplace-charge-ids.js";

describe("marketplace charge ids (stored keys: a format change is a data migration)", () => {
  it("effects that reach Stripe", () => {
    expect(ids.transferGroup("mc1")).toBe("marketplace_mc1");
    expect(ids.payment("mc1")).toBe("mc1:payment");
    expect(ids.transfer("mc1", "sel_2", 3)).toBe("mc1:transfer:sel_2:attempt:3");
    expect(ids.transferLookup("mc1", "sel_2", 3, 1)).toBe("mc1:transfer:sel_2:attempt:3:lookup:1");
    expect(ids.reversal("mc1", 4)).toBe("mc1:reversal:4");
    expect(ids.refund("mc1", 1, 2)).toBe("mc1:refund:1:attempt:2");
    expect(ids.refundLookup("mc1", 1, 2, 3)).toBe("mc1:refund:1:attempt:2:lookup:3");
  });

  it("timers", () => {
    expect(ids.timer("mc1", { kind: "action_expired" })).toBe("mc1:timer:action_expired");
    expect(ids.cancelPayment("mc1")).toBe("mc1:payment:cancel");
    // A recheck's ask keeps the expiry's key for ask 1 and has its own after.
    expect(ids.cancelPayment("mc1", 1)).toBe("mc1:payment:cancel");
    expect(ids.cancelPayment("mc1", 2)).toBe("mc1:payment:cancel:2");
    expect(ids.timer("mc1", { kind: "cancel_recheck", ask: 2 })).toBe("mc1:timer:cancel_recheck:2");
    expect(ids.timer("mc1", { kind: "retry_transfer", sellerId: "sel_2", attempt: 2 })).toBe(
      "mc1:timer:retry_transfer:sel_2:2",
    );
    expect(ids.timer("mc1", { kind: "refund_overdue", refund: 2, attempt: 3 })).toBe(
      "mc1:timer:refund_overdue:2:3",
    );
    // Look-up 1's timer keeps the key it had before look-ups were repeated.
    expect(ids.timer("mc1", { kind: "refund_overdue", refund: 2, attempt: 3, lookup: 1 })).toBe(
      "mc1:timer:refund_overdue:2:3",
    );
    expect(ids.timer("mc1", { kind: "refund_overdue", refund: 2, attempt: 3, lookup: 4 })).toBe(
      "mc1:timer:refund_overdue:2:3:lookup:4",
    );
  });

  it("ledger transactions", () => {
    const l = ids.ledger;
    expect(l.captured("mc1")).toBe("mc1:ledger:captured");
    expect(l.feeEarned("mc1")).toBe("mc1:ledger:fee_earned");
    expect(l.sellerPayable("mc1", "sel_2")).toBe("mc1:ledger:seller_payable:sel_2");
    expect(l.transferred("mc1", "sel_2")).toBe("mc1:ledger:transferred:sel_2");
    expect(l.transferReversed("mc1:reversal:4")).toBe("mc1:reversal:4:ledger");
    expect(l.refundReversed("mc1", 2)).toBe("mc1:refund:2:ledger:reversed");
    expect(l.feeRefunded("mc1", 2)).toBe("mc1:refund:2:ledger:fee_refunded");
    expect(l.refunded("mc1", 2)).toBe("mc1:refund:2:ledger");
    expect(l.refundedAgain("mc1:refund:2:attempt:3")).toBe("mc1:refund:2:attempt:3:ledger");
    expect(l.feeRefundedAgain("mc1:refund:2:attempt:3")).toBe("mc1:refund:2:attempt:3:ledger:fee_refunded");
    expect(l.refundFailed("mc1:refund:2:attempt:3")).toBe("mc1:refund:2:attempt:3:ledger:failed");
    expect(l.disputeLost("mc1", "dp_1")).toBe("mc1:dispute:dp_1:lost");
    expect(l.disputeLostFromOwed("mc1", "dp_1", 2)).toBe("mc1:dispute:dp_1:lost:owed:2");
    expect(l.owedToCustomer("mc1", 2)).toBe("mc1:refund:2:ledger:owed");
  });

  it("notifications", () => {
    const n = ids.notice;
    expect(n.paymentFailed("mc1")).toBe("mc1:notify:payment_failed:customer");
    expect(n.actionRequired("mc1")).toBe("mc1:notify:payment_action_required:customer");
    expect(n.paymentExpired("mc1")).toBe("mc1:notify:payment_expired:customer");
    expect(n.sellerPaid("mc1", "sel_2")).toBe("mc1:notify:seller_paid:sel_2");
    expect(n.refundStarted("mc1", 2)).toBe("mc1:notify:refund_started:2");
    expect(n.refundFailed("mc1", 2, 1)).toBe("mc1:notify:refund_failed:2:1");
    expect(n.transferBlocked("mc1", "sel_2", 3)).toBe("mc1:notify:transfer_blocked:sel_2:3");
    expect(n.disputeOpened("mc1", "seller", "dp_1", "sel_2")).toBe(
      "mc1:notify:dispute_opened:seller:sel_2:dp_1",
    );
    expect(n.disputeOpened("mc1", "admins", "dp_1")).toBe("mc1:notify:dispute_opened:admins:dp_1");
    expect(n.disputeClosed("mc1", "seller", "dp_1", "sel_2")).toBe(
      "mc1:notify:dispute_closed:seller:sel_2:dp_1",
    );
    expect(n.disputeClosed("mc1", "admins", "dp_1")).toBe("mc1:notify:dispute_closed:admins:dp_1");
    expect(n.reversalFailed("mc1", 4)).toBe("mc1:notify:reversal_failed:4");
    expect(n.refundOwed("mc1", 2)).toBe("mc1:notify:refund_owed:2");
    expect(n.latePayment("mc1")).toBe("mc1:notify:unexpected_money:late_payment");
    expect(n.lateTransfer("mc1", "tr_9")).toBe("mc1:notify:unexpected_money:transfer:tr_9");
  });

  it("tickets", () => {
    const t = ids.ticket;
    expect(t.refundFailed("mc1", 2, 1)).toBe("mc1:ticket:refund_failed:2:1");
    expect(t.refundOverdue("mc1", 2, 3)).toBe("mc1:ticket:refund_overdue:2:3");
    expect(t.refundOverdueLast("mc1", 2, 3)).toBe("mc1:ticket:refund_overdue:2:3:last");
    expect(t.transferParked("mc1", "sel_2", 3)).toBe("mc1:ticket:transfer_parked:sel_2:3");
    expect(t.transferOutcomeUnknown("mc1", "sel_2", 3)).toBe("mc1:ticket:transfer_outcome_unknown:sel_2:3");
    expect(t.dispute("mc1", "dp_1")).toBe("mc1:ticket:dispute:dp_1");
    expect(t.reversalFailed("mc1", 4)).toBe("mc1:ticket:reversal_failed:4");
    expect(t.refundOwed("mc1", 2)).toBe("mc1:ticket:refund_owed:2");
    expect(t.owedOverpaid("mc1", "dp_1")).toBe("mc1:ticket:owed_overpaid:dp_1");
    expect(t.feeRefundMismatch("mc1", 2)).toBe("mc1:ticket:amount_mismatch:fee_refund:2");
    expect(t.latePayment("mc1")).toBe("mc1:ticket:unexpected_money:late_payment");
    expect(t.lateTransfer("mc1", "tr_9")).toBe("mc1:ticket:unexpected_money:transfer:tr_9");
    expect(t.cancelUnconfirmed("mc1")).toBe("mc1:ticket:payment_cancel_unconfirmed:last");
    expect(t.cancelUnconfirmed("mc1", 1)).toBe("mc1:ticket:payment_cancel_unconfirmed:last");
    expect(t.cancelUnconfirmed("mc1", 2)).toBe("mc1:ticket:payment_cancel_unconfirmed:wait:2:last");
  });
});
