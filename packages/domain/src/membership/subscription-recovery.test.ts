// A past-due or lapsed membership is back (`active`, granting its plan) only when what made it so
// is paid — every invoice that failed — or when Stripe's view of the subscription says active.
// Other paid invoices (a zero invoice, such as a downgrade's proration credit, paid at once
// with nothing; a renewal paid while an older invoice is still retried) only book their money.
import { describe, expect, it } from "vitest";
import {
  activeSubscription,
  failedInvoice,
  feed,
  paidInvoice,
  snapshot,
} from "../testing/membership-mothers.js";
import { grantsEntitlements } from "./subscription.js";

const lapsedUnpaid = () =>
  feed(activeSubscription(), [
    failedInvoice("in_2", 30, 1, 3),
    failedInvoice("in_2", 33, 2, 5),
    failedInvoice("in_2", 38, 3),
    snapshot("unpaid", 38),
  ]);

describe("a lapsed (Stripe: unpaid) membership hears a zero invoice paid", () => {
  it("stays lapsed and grants nothing while its open invoice is unpaid (the view heard first)", () => {
    const lapsed = lapsedUnpaid();
    expect(lapsed.status).toBe("lapsed");
    // Day 50: a zero-amount invoice (in_3) is finalized and paid with nothing; Stripe's view of
    // the same second still says unpaid, and is heard first.
    const after = feed(lapsed, [snapshot("unpaid", 50), paidInvoice("in_3", 50, 0)]);
    expect(after.invoices.find((i) => i.id === "in_2")?.status).toBe("open");
    expect({ status: after.status, grants: grantsEntitlements(after.status) }).toEqual({
      status: "lapsed",
      grants: false,
    });
  });

  it("stays lapsed when the zero invoice is heard first, and Stripe's view of the same second still applies", () => {
    const after = feed(lapsedUnpaid(), [paidInvoice("in_3", 50, 0), snapshot("unpaid", 50)]);
    expect(after.status).toBe("lapsed");
    // Stripe forgives the open invoice (written off by hand) and says active in the same second:
    // the held-back zero invoice is no floor against it.
    const forgiven = feed(lapsedUnpaid(), [paidInvoice("in_3", 50, 0), snapshot("active", 50)]);
    expect(forgiven.status).toBe("active");
  });

  it("is active again once the invoice that failed is paid, the zero invoice booked nothing", () => {
    const after = feed(lapsedUnpaid(), [paidInvoice("in_3", 50, 0), paidInvoice("in_2", 52)]);
    expect({ status: after.status, grants: grantsEntitlements(after.status) }).toEqual({
      status: "active",
      grants: true,
    });
  });
});

describe("a past-due membership hears another invoice paid", () => {
  const pastDue = () => feed(activeSubscription(), [failedInvoice("in_2", 30, 1, 3)]);

  it("stays past due while its failed invoice is retried (a zero invoice, or another paid)", () => {
    expect(pastDue().status).toBe("past_due");
    expect(feed(pastDue(), [paidInvoice("in_3", 31, 0)]).status).toBe("past_due");
    expect(feed(pastDue(), [paidInvoice("in_3", 31)]).status).toBe("past_due");
  });

  it("is active once every invoice that failed is paid", () => {
    const two = feed(pastDue(), [failedInvoice("in_3", 31, 1, 3)]);
    expect(feed(two, [paidInvoice("in_2", 32)]).status).toBe("past_due");
    expect(feed(two, [paidInvoice("in_2", 32), paidInvoice("in_3", 33)]).status).toBe("active");
  });

  it("is active when Stripe's view says so, whatever the invoices heard", () => {
    expect(feed(pastDue(), [paidInvoice("in_3", 31, 0), snapshot("active", 31)]).status).toBe("active");
  });
});
