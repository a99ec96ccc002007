import { describe, expect, it } from "vitest";
import {
  activeSubscription,
  failedInvoice,
  feed,
  MEMBERSHIP_T0,
  paidInvoice,
  snapshot,
} from "../testing/membership-mothers.js";
import { decideSubscription } from "./subscription-decide.js";
import type { SubscriptionInput } from "./subscription-input.js";

const DAY_MS = 86_400_000;
const now = { now: MEMBERSHIP_T0 + 60 * DAY_MS };

/** Lapsed for good: attempts 1–4 failed and Stripe canceled the subscription for non-payment on day 45. */
function lapsedForGood() {
  return feed(activeSubscription(), [
    failedInvoice("in_2", 30, 1, 3),
    failedInvoice("in_2", 33, 2, 5),
    failedInvoice("in_2", 38, 3, 7),
    failedInvoice("in_2", 45, 4),
    snapshot("canceled", 45, { cancellationReason: "payment_failed", endedAt: MEMBERSHIP_T0 + 45 * DAY_MS }),
  ]);
}

/** Canceled now on day 31 while invoice in_2 was past due. */
function canceledWhilePastDue() {
  return feed(activeSubscription(), [
    failedInvoice("in_2", 30, 1, 3),
    snapshot("canceled", 31, {
      cancellationReason: "cancellation_requested",
      endedAt: MEMBERSHIP_T0 + 31 * DAY_MS,
    }),
  ]);
}

describe("an open invoice paid after the Stripe subscription ended", () => {
  it.each([
    ["lapsed for good (canceled for non-payment)", lapsedForGood, "lapsed"],
    ["canceled now while past due", canceledWhilePastDue, "canceled"],
  ] as const)("%s: the payment is booked and refunded in full, the status stays", (_, ended, status) => {
    const s = ended();
    expect(s.status).toBe(status);
    expect(s.endedAt).toBeDefined();
    const d = decideSubscription(s, paidInvoice("in_2", 50), now)._unsafeUnwrap();
    expect(d.state.status).toBe(status);
    expect(d.effects.map((e) => e.kind)).toEqual([
      "post_ledger",
      "refund_subscription_invoice",
      "schedule_timer",
    ]);
    expect(d.effects[1]).toMatchObject({
      kind: "refund_subscription_invoice",
      id: "sub1:invoice:in_2:refund",
      stripeInvoiceId: "in_2",
      amountMinor: 10_00,
      currency: "AUD",
    });
    const refunded: SubscriptionInput = {
      type: "invoice_refund_settled",
      invoiceId: "in_2",
      outcome: "succeeded",
      refundId: "re_9",
      amountMinor: 10_00,
    };
    const made: SubscriptionInput = { type: "invoice_refunds_made", invoiceId: "in_2", refundIds: ["re_9"] };
    const done = feed(d.state, [made]);
    const back = decideSubscription(done, refunded, now)._unsafeUnwrap();
    // The ledger nets to zero: what the payment booked as revenue, the refund gives back.
    const posted = [...d.effects, ...back.effects].flatMap((e) =>
      e.kind === "post_ledger" ? [e.transaction] : [],
    );
    expect(posted.map((t) => t.kind)).toEqual(["membership_invoice_paid", "membership_invoice_refunded"]);
    const revenue = posted
      .flatMap((t) => t.postings)
      .filter((p) => p.account === "platform:membership_revenue")
      .reduce((n, p) => n + (p.side === "credit" ? -1 : 1) * p.amount.amountMinor, 0);
    expect(revenue).toBe(0);
    // The person is told their money is back.
    expect(back.effects).toContainEqual(
      expect.objectContaining({ kind: "notify", template: "membership_refunded" }),
    );
    expect(back.state.status).toBe(status);
  });

  it("an invoice paid before the end, heard after it, is kept (a normal payment)", () => {
    const s = canceledWhilePastDue();
    const d = decideSubscription(s, paidInvoice("in_2", 30.5), now)._unsafeUnwrap();
    expect(d.effects.map((e) => e.kind)).toEqual(["post_ledger"]);
    expect(d.state.status).toBe("canceled");
  });

  it("an invoice paid while lapsed but not ended (Stripe keeps it unpaid) makes it active, kept", () => {
    const s = feed(activeSubscription(), [
      failedInvoice("in_2", 30, 1, 3),
      failedInvoice("in_2", 45, 2),
      snapshot("unpaid", 45),
    ]);
    expect(s.status).toBe("lapsed");
    const d = decideSubscription(s, paidInvoice("in_2", 50), now)._unsafeUnwrap();
    expect(d.effects.map((e) => e.kind)).toEqual(["post_ledger"]);
    expect(d.state.status).toBe("active");
  });
});

describe("the invoices still unpaid when Stripe ends the subscription are voided", () => {
  it("canceled for non-payment, or canceled while past due: its open invoice is voided, once", () => {
    const failing = feed(activeSubscription(), [
      failedInvoice("in_2", 30, 1, 3),
      failedInvoice("in_2", 45, 2),
    ]);
    const lapsedView = snapshot("canceled", 45, {
      cancellationReason: "payment_failed",
      endedAt: MEMBERSHIP_T0 + 45 * DAY_MS,
    });
    const d = decideSubscription(failing, lapsedView, now)._unsafeUnwrap();
    expect(d.state.status).toBe("lapsed");
    expect(d.effects.filter((e) => e.kind === "void_subscription_invoice")).toEqual([
      {
        kind: "void_subscription_invoice",
        id: "sub1:invoice:in_2:void",
        aggregate: "subscription",
        aggregateId: "sub1",
        stripeInvoiceId: "in_2",
      },
    ]);
    // The same end heard again voids nothing more.
    const again = decideSubscription(d.state, { ...lapsedView }, now)._unsafeUnwrap();
    expect(again.effects.filter((e) => e.kind === "void_subscription_invoice")).toEqual([]);
    const pastDue = feed(activeSubscription(), [failedInvoice("in_2", 30, 1, 3)]);
    const canceled = decideSubscription(
      pastDue,
      snapshot("canceled", 31, {
        cancellationReason: "cancellation_requested",
        endedAt: MEMBERSHIP_T0 + 31 * DAY_MS,
      }),
      now,
    )._unsafeUnwrap();
    expect(canceled.effects.map((e) => e.kind)).toEqual(["void_subscription_invoice"]);
  });

  it("a membership with every invoice paid voids nothing", () => {
    const d = decideSubscription(activeSubscription(), snapshot("canceled", 20), now)._unsafeUnwrap();
    expect(d.state.status).toBe("canceled");
    expect(d.effects).toEqual([]);
  });

  it("a payment heard before the (earlier) end is refunded once the end is heard, and the membership ends", () => {
    // Stripe canceled for non-payment on day 45; the person paid the open invoice on day 50, and
    // that news was processed first (the deleted event was retried after a 5xx).
    const failing = feed(activeSubscription(), [
      failedInvoice("in_2", 30, 1, 3),
      failedInvoice("in_2", 45, 2),
    ]);
    const paid = decideSubscription(failing, paidInvoice("in_2", 50), now)._unsafeUnwrap();
    const ended = decideSubscription(
      paid.state,
      snapshot("canceled", 45, {
        cancellationReason: "payment_failed",
        endedAt: MEMBERSHIP_T0 + 45 * DAY_MS,
      }),
      now,
    )._unsafeUnwrap();
    expect(ended.state.status).toBe("lapsed");
    expect(ended.effects.filter((e) => e.kind === "refund_subscription_invoice")).toMatchObject([
      { stripeInvoiceId: "in_2" },
    ]);
    // Heard again, the end refunds nothing more.
    const again = decideSubscription(
      ended.state,
      snapshot("canceled", 45, {
        cancellationReason: "payment_failed",
        endedAt: MEMBERSHIP_T0 + 45 * DAY_MS,
      }),
      now,
    )._unsafeUnwrap();
    expect(again.effects.filter((e) => e.kind === "refund_subscription_invoice")).toEqual([]);
  });

  it("a payment made before the end and heard before it is kept when the end comes", () => {
    const failing = feed(activeSubscription(), [failedInvoice("in_2", 30, 1, 3)]);
    const paid = decideSubscription(failing, paidInvoice("in_2", 33), now)._unsafeUnwrap();
    const ended = decideSubscription(
      paid.state,
      snapshot("canceled", 40, {
        cancellationReason: "cancellation_requested",
        endedAt: MEMBERSHIP_T0 + 40 * DAY_MS,
      }),
      now,
    )._unsafeUnwrap();
    expect(ended.state.status).toBe("canceled");
    expect(ended.effects.filter((e) => e.kind === "refund_subscription_invoice")).toEqual([]);
  });
});
