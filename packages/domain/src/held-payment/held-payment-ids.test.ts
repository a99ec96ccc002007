// Every id format a held payment makes, pinned with literal strings. These are stored
// keys (outbox rows, Stripe idempotency keys, ledger transactions, timers, notifications,
// tickets): if one of these expectations has to change, the change is a data migration.
import { describe, expect, it } from "vitest";
import { heldPaymentIds as ids } from "./held-payment-ids.js";

const transfer = "hp1:transfer:attempt:2";
const reversal = "hp1:reversal:3";

describe("held payment ids (stored keys: a format change is a data migration)", () => {
  it("effects that reach Stripe", () => {
    expect(ids.transferGroup("hp1")).toBe("held_hp1");
    expect(ids.checkoutSession("hp1")).toBe("hp1:checkout_session");
    expect(ids.expireCheckoutSession("hp1")).toBe("hp1:checkout_session:expire");
    // A recheck's ask keeps the backstop's key for ask 1 and has its own after.
    expect(ids.expireCheckoutSession("hp1", 1)).toBe("hp1:checkout_session:expire");
    expect(ids.expireCheckoutSession("hp1", 2)).toBe("hp1:checkout_session:expire:2");
    expect(ids.transfer("hp1", 2)).toBe(transfer);
    expect(ids.transferLookup("hp1", 2, 1)).toBe("hp1:transfer:attempt:2:lookup:1");
    expect(ids.reversal("hp1", 3)).toBe(reversal);
    expect(ids.refund("hp1", 1, 2)).toBe("hp1:refund:1:attempt:2");
    expect(ids.refundLookup("hp1", 1, 2, 3)).toBe("hp1:refund:1:attempt:2:lookup:3");
  });

  it("timers", () => {
    expect(ids.timer("hp1", { kind: "release_due" })).toBe("hp1:timer:release_due");
    expect(ids.timer("hp1", { kind: "retry_transfer", attempt: 2 })).toBe("hp1:timer:retry_transfer:2");
    expect(ids.timer("hp1", { kind: "refund_overdue", refund: 2, attempt: 3 })).toBe(
      "hp1:timer:refund_overdue:2:3",
    );
    // Look-up 1's timer keeps the key it had before look-ups were repeated.
    expect(ids.timer("hp1", { kind: "refund_overdue", refund: 2, attempt: 3, lookup: 1 })).toBe(
      "hp1:timer:refund_overdue:2:3",
    );
    expect(ids.timer("hp1", { kind: "refund_overdue", refund: 2, attempt: 3, lookup: 4 })).toBe(
      "hp1:timer:refund_overdue:2:3:lookup:4",
    );
    expect(ids.timer("hp1", { kind: "checkout_expired" })).toBe("hp1:timer:checkout_expired");
    expect(ids.timer("hp1", { kind: "checkout_recheck", ask: 2 })).toBe("hp1:timer:checkout_recheck:2");
  });

  it("ledger transactions", () => {
    const l = ids.ledger;
    expect(l.captured("hp1")).toBe("hp1:ledger:captured");
    expect(l.feeEarned("hp1")).toBe("hp1:ledger:fee_earned");
    expect(l.sellerPayable("hp1")).toBe("hp1:ledger:seller_payable");
    expect(l.transferred(transfer)).toBe("hp1:transfer:attempt:2:ledger");
    expect(l.transferReversed(reversal)).toBe("hp1:reversal:3:ledger");
    expect(l.refunded("hp1", 1)).toBe("hp1:refund:1:ledger");
    expect(l.refundedAgain("hp1:refund:1:attempt:2")).toBe("hp1:refund:1:attempt:2:ledger");
    expect(l.refundFailed("hp1:refund:1:attempt:2")).toBe("hp1:refund:1:attempt:2:ledger:failed");
    expect(l.disputeLost("hp1", "dp_1")).toBe("hp1:dispute:dp_1:lost");
    expect(l.disputeLostFromOwed("hp1", "dp_1", 2)).toBe("hp1:dispute:dp_1:lost:owed:2");
    expect(l.owedToCustomer("hp1", 2)).toBe("hp1:refund:2:ledger:owed");
    expect(l.refundSuperseded("hp1", 1, "transferred")).toBe("hp1:refund:1:ledger:superseded:transferred");
    expect(l.refundSuperseded("hp1", 2, "earmarked")).toBe("hp1:refund:2:ledger:superseded:earmarked");
  });

  it("notifications", () => {
    const n = ids.notice;
    expect(n.bookingPaid("hp1", "customer")).toBe("hp1:notify:booking_paid:customer");
    expect(n.bookingPaid("hp1", "seller")).toBe("hp1:notify:booking_paid:seller");
    expect(n.paymentFailed("hp1")).toBe("hp1:notify:payment_failed:customer");
    expect(n.checkoutExpired("hp1")).toBe("hp1:notify:checkout_expired:customer");
    expect(n.refundStarted("hp1", 2)).toBe("hp1:notify:refund_started:2");
    expect(n.refundFailed("hp1", 2, 1)).toBe("hp1:notify:refund_failed:2:1");
    expect(n.refundFailedAfterSuccess("hp1", 2)).toBe("hp1:notify:refund_failed:2:after_success");
    expect(n.refundFailedAfterSuccess("hp1", 2, 1)).toBe("hp1:notify:refund_failed:2:after_success");
    expect(n.refundFailedAfterSuccess("hp1", 2, 3)).toBe("hp1:notify:refund_failed:2:after_success:3");
    expect(n.releaseBlocked("hp1", "seller", 7)).toBe("hp1:notify:release_blocked:seller:v7");
    expect(n.releaseBlocked("hp1", "admins", 7)).toBe("hp1:notify:release_blocked:admins:v7");
    expect(n.payoutSent("hp1")).toBe("hp1:notify:payout_sent:seller");
    expect(n.disputeOpened("hp1", "seller", "dp_1")).toBe("hp1:notify:dispute_opened:seller:dp_1");
    expect(n.disputeOpened("hp1", "admins", "dp_1")).toBe("hp1:notify:dispute_opened:admins:dp_1");
    expect(n.disputeClosed("hp1", "seller", "dp_1")).toBe("hp1:notify:dispute_closed:seller:dp_1");
    expect(n.disputeClosed("hp1", "admins", "dp_1")).toBe("hp1:notify:dispute_closed:admins:dp_1");
    expect(n.reversalFailed("hp1", 3)).toBe("hp1:notify:reversal_failed:3");
    expect(n.refundOwed("hp1", 2)).toBe("hp1:notify:refund_owed:2");
    expect(n.latePayment("hp1")).toBe("hp1:notify:unexpected_money:late_payment");
    expect(n.lateTransfer("hp1", "tr_1")).toBe("hp1:notify:unexpected_money:transfer:tr_1");
  });

  it("support tickets", () => {
    const t = ids.ticket;
    expect(t.refundFailed("hp1", 2, 1)).toBe("hp1:ticket:refund_failed:2:1");
    expect(t.refundFailedAfterSuccess("hp1", 2)).toBe("hp1:ticket:refund_failed:2:after_success");
    expect(t.refundFailedAfterSuccess("hp1", 2, 3)).toBe("hp1:ticket:refund_failed:2:after_success:3");
    expect(t.refundOverdue("hp1", 2, 3)).toBe("hp1:ticket:refund_overdue:2:3");
    expect(t.refundOverdueLast("hp1", 2, 3)).toBe("hp1:ticket:refund_overdue:2:3:last");
    expect(t.releaseBlocked("hp1", 7)).toBe("hp1:ticket:release_blocked:v7");
    expect(t.transferParked("hp1", 3)).toBe("hp1:ticket:transfer_parked:3");
    expect(t.transferOutcomeUnknown("hp1", 3)).toBe("hp1:ticket:transfer_outcome_unknown:3");
    expect(t.dispute("hp1", "dp_1")).toBe("hp1:ticket:dispute:dp_1");
    expect(t.reversalFailed("hp1", 3)).toBe("hp1:ticket:reversal_failed:3");
    expect(t.refundOwed("hp1", 2)).toBe("hp1:ticket:refund_owed:2");
    expect(t.owedOverpaid("hp1", "dp_1")).toBe("hp1:ticket:owed_overpaid:dp_1");
    expect(t.latePayment("hp1")).toBe("hp1:ticket:unexpected_money:late_payment");
    expect(t.lateTransfer("hp1", "tr_1")).toBe("hp1:ticket:unexpected_money:transfer:tr_1");
    expect(t.lateTransferUnbooked("hp1", "tr_1")).toBe("hp1:ticket:release_blocked:late_transfer:tr_1");
    expect(t.checkoutExpiryUnconfirmed("hp1")).toBe("hp1:ticket:checkout_expiry_unconfirmed:last");
  });

  it("no two kinds of id coincide for the same references", () => {
    const [p, d, tr] = ["hp1", "x", "x"];
    const { ledger: l, notice: n, ticket: k } = ids;
    const all = [
      ids.checkoutSession(p),
      ids.expireCheckoutSession(p),
      ids.expireCheckoutSession(p, 2),
      ids.transfer(p, 1),
      ids.transferLookup(p, 1, 1),
      ids.reversal(p, 1),
      ids.refund(p, 1, 1),
      ids.refundLookup(p, 1, 1, 1),
      ids.timer(p, { kind: "release_due" }),
      ids.timer(p, { kind: "retry_transfer", attempt: 1 }),
      ids.timer(p, { kind: "checkout_expired" }),
      ids.timer(p, { kind: "checkout_recheck", ask: 2 }),
      ids.timer(p, { kind: "refund_overdue", refund: 1, attempt: 1 }),
      ids.timer(p, { kind: "refund_overdue", refund: 1, attempt: 1, lookup: 2 }),
      l.captured(p),
      l.feeEarned(p),
      l.sellerPayable(p),
      l.transferred(ids.transfer(p, 1)),
      l.transferReversed(ids.reversal(p, 1)),
      l.refunded(p, 1),
      l.refundedAgain(ids.refund(p, 1, 2)),
      l.refundFailed(ids.refund(p, 1, 2)),
      l.disputeLost(p, d),
      l.disputeLostFromOwed(p, d, 1),
      l.owedToCustomer(p, 1),
      l.refundSuperseded(p, 1, "earmarked"),
      l.refundSuperseded(p, 1, "transferred"),
      n.bookingPaid(p, "customer"),
      n.bookingPaid(p, "seller"),
      n.paymentFailed(p),
      n.checkoutExpired(p),
      n.refundStarted(p, 1),
      n.refundFailed(p, 1, 1),
      n.refundFailedAfterSuccess(p, 1),
      n.refundFailedAfterSuccess(p, 1, 2),
      n.releaseBlocked(p, "seller", 1),
      n.releaseBlocked(p, "admins", 1),
      n.payoutSent(p),
      n.disputeOpened(p, "seller", d),
      n.disputeOpened(p, "admins", d),
      n.disputeClosed(p, "seller", d),
      n.disputeClosed(p, "admins", d),
      n.reversalFailed(p, 1),
      n.refundOwed(p, 1),
      n.latePayment(p),
      n.lateTransfer(p, tr),
      k.refundFailed(p, 1, 1),
      k.refundFailedAfterSuccess(p, 1),
      k.refundFailedAfterSuccess(p, 1, 2),
      k.refundOverdue(p, 1, 1),
      k.refundOverdueLast(p, 1, 1),
      k.releaseBlocked(p, 1),
      k.transferParked(p, 1),
      k.transferOutcomeUnknown(p, 1),
      k.dispute(p, d),
      k.reversalFailed(p, 1),
      k.refundOwed(p, 1),
      k.owedOverpaid(p, d),
      k.latePayment(p),
      k.lateTransfer(p, tr),
      k.lateTransferUnbooked(p, tr),
      k.checkoutExpiryUnconfirmed(p),
    ];
    expect(new Set(all).size).toBe(all.length);
    // Every builder is in the list above: a new id kind must join it.
    const builders =
      Object.values(ids).filter((v) => typeof v === "function").length +
      Object.keys(l).length +
      Object.keys(n).length +
      Object.keys(k).length -
      1; // transferGroup is a Stripe field, not a key of ours
    // timer: five kinds (and a later look-up's) from one builder; expireCheckoutSession: the
    // backstop's ask and a recheck's; bookingPaid, releaseBlocked, disputeOpened, disputeClosed:
    // two audiences each; refundFailedAfterSuccess (notice and ticket): attempt 1 and a later
    // one; refundSuperseded: two stages
    expect(all.length).toBe(builders + 5 + 1 + 4 + 2 + 1);
  });
});
