// Every id format plans and subscriptions make, pinned with literal strings. These are stored
// keys (outbox rows, Stripe idempotency keys and object ids, ledger transactions, notices):
// if one of these expectations has to change, the change is a data migration.
import { describe, expect, it } from "vitest";
import { subscriptionIds as ids, planIds } from "./membership-ids.js";

describe("membership ids (stored keys: a format change is a data migration)", () => {
  it("a plan's Stripe objects and effects", () => {
    expect(planIds.product("pl1")).toBe("susu_plan_pl1");
    expect(planIds.priceKey("AUD", "month")).toBe("aud_month");
    expect(planIds.price("pl1", "aud_month", 2)).toBe("pl1:price:aud_month:r2");
    expect(planIds.productUpdate("pl1", 4)).toBe("pl1:product:v4");
  });

  it("a subscription's effects that reach Stripe", () => {
    expect(ids.create("s1")).toBe("s1:create");
    expect(ids.checkout("s1")).toBe("s1:checkout");
    expect(ids.checkoutExpiry("s1")).toBe("s1:checkout:expire");
    expect(ids.change("s1", 3)).toBe("s1:change:3");
    expect(ids.cancellation("s1", 2)).toBe("s1:cancel:2");
    expect(ids.paymentMethod("s1", 2)).toBe("s1:payment-method:2");
    expect(ids.invoiceRefund("s1", "in_9")).toBe("s1:invoice:in_9:refund");
    expect(ids.invoiceVoid("s1", "in_9")).toBe("s1:invoice:in_9:void");
    expect(ids.invoiceRefundTicket("s1", "in_9")).toBe("s1:invoice:in_9:refund:ticket");
    expect(ids.invoiceRefundDeadline("s1", "in_9")).toBe("s1:invoice:in_9:refund:overdue");
    expect(ids.invoiceRefundOverdueTicket("s1", "in_9")).toBe("s1:invoice:in_9:refund:overdue:ticket");
    expect(ids.paymentRefundTicket("s1", "in_9", "re_2")).toBe("s1:invoice:in_9:refund:re_2:ticket");
    expect(ids.disputeTicket("s1", "in_9", "du_1")).toBe("s1:invoice:in_9:dispute:du_1:ticket");
    expect(ids.disputeTicketResolved("s1", "in_9", "du_1")).toBe(
      "s1:invoice:in_9:dispute:du_1:ticket:resolve",
    );
  });

  it("ledger transactions and notices", () => {
    expect(ids.ledger.invoicePaid("s1", "in_9")).toBe("s1:invoice:in_9:paid");
    expect(ids.ledger.invoiceRefunded("s1", "in_9")).toBe("s1:invoice:in_9:refunded");
    expect(ids.ledger.paymentRefunded("s1", "in_9", "re_2")).toBe("s1:invoice:in_9:refunded:re_2");
    expect(ids.ledger.paymentRefundFailed("s1", "in_9", "re_2")).toBe("s1:invoice:in_9:refund-failed:re_2");
    expect(ids.ledger.refundedOutside("s1", "in_9", "re_3")).toBe("s1:invoice:in_9:refunded-outside:re_3");
    expect(ids.ledger.outsideRefundFailed("s1", "in_9", "re_3")).toBe(
      "s1:invoice:in_9:refunded-outside:re_3:failed",
    );
    expect(ids.ledger.disputeLost("s1", "in_9", "du_1")).toBe("s1:invoice:in_9:dispute:du_1:lost");
    expect(ids.ledger.disputeWon("s1", "in_9", "du_1")).toBe("s1:invoice:in_9:dispute:du_1:won");
    // The rests the books had no room for, booked when room frees (the n-th posting of each).
    expect(ids.ledger.refundedOutsideRest("s1", "in_9", "re_3", 1)).toBe(
      "s1:invoice:in_9:refunded-outside:re_3:rest",
    );
    expect(ids.ledger.refundedOutsideRest("s1", "in_9", "re_3", 2)).toBe(
      "s1:invoice:in_9:refunded-outside:re_3:rest-2",
    );
    expect(ids.ledger.paymentRefundRest("s1", "in_9", "re_2", 1)).toBe("s1:invoice:in_9:refunded:re_2:rest");
    expect(ids.ledger.paymentRefundRest("s1", "in_9", "re_2", 3)).toBe(
      "s1:invoice:in_9:refunded:re_2:rest-3",
    );
    expect(ids.ledger.disputeLostRest("s1", "in_9", "du_1", 1)).toBe(
      "s1:invoice:in_9:dispute:du_1:lost:rest",
    );
    expect(ids.ledger.disputeLostRest("s1", "in_9", "du_1", 2)).toBe(
      "s1:invoice:in_9:dispute:du_1:lost:rest-2",
    );
    expect(ids.notice.trialEnding("s1", 1700000000000)).toBe(
      "s1:notify:membership_trial_ending:1700000000000",
    );
    expect(ids.notice.paymentFailed("s1", "in_9", 2)).toBe("s1:notify:membership_payment_failed:in_9:2");
    expect(ids.notice.actionRequired("s1", "in_9")).toBe("s1:notify:membership_payment_action_required:in_9");
    expect(ids.notice.lapsed("s1", 1)).toBe("s1:notify:membership_lapsed:1");
    expect(ids.notice.lapseEnded("s1", 1)).toBe("s1:notify:membership_lapsed:1:ended");
    expect(ids.notice.refunded("s1", "in_9")).toBe("s1:notify:membership_refunded:in_9");
    expect(ids.notice.refundReversed("s1", "in_9", "re_2")).toBe(
      "s1:notify:membership_refund_reversed:in_9:re_2",
    );
    expect(ids.notice.changeRefused("s1", 2)).toBe("s1:notify:membership_change_refused:2");
    expect(ids.notice.disputeOpened("s1", "in_9", "du_1")).toBe("s1:notify:dispute_opened:in_9:du_1");
    expect(ids.notice.disputeClosed("s1", "in_9", "du_1")).toBe("s1:notify:dispute_closed:in_9:du_1");
  });
});
