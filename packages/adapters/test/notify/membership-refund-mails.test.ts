// The e-mails about a membership refunded after it was cancelled: "in full" only when all that
// was collected went back, and a reversal that says what happened whether or not the person
// had heard of the refund.
import type { Notification } from "@susu/domain";
import { describe, expect, it } from "vitest";
import { renderMail } from "../../src/notify/index.js";

const where = { locale: "en-AU", timeZone: "Australia/Sydney" };
const base = { aggregate: "subscription", aggregateId: "sub_1", personIds: ["ana"] } as const;

function mail(template: Notification["template"], data: Notification["data"]) {
  return renderMail({ ...base, id: `n:${template}`, template, data } as Notification, where);
}

describe("membership refund e-mails", () => {
  it("all of the payment back: refunded in full", () => {
    const m = mail("membership_refunded", {
      invoiceId: "in_1",
      amountMinor: 10_00,
      collectedMinor: 10_00,
      currency: "AUD",
    });
    expect(m.subject).toBe("Your membership payment has been refunded");
    expect(m.text).toContain("the payment of $10.00 went through anyway");
    expect(m.text).toContain("refunded that payment in full");
  });

  it("part of it back (some refunded before, outside susu): names both amounts and never says in full", () => {
    const m = mail("membership_refunded", {
      invoiceId: "in_1",
      amountMinor: 7_00,
      collectedMinor: 10_00,
      currency: "AUD",
    });
    expect(m.subject).toBe("Part of your membership payment has been refunded");
    expect(m.text).toContain("the payment of $10.00 went through anyway");
    expect(m.text).toContain("We have refunded $7.00 of that payment");
    expect(m.text).toContain("someone from our team is checking the rest");
    expect(m.text).not.toContain("in full");
  });

  it("a notice sent before the collected amount was carried reads as before (those were all in full)", () => {
    const m = mail("membership_refunded", { invoiceId: "in_1", amountMinor: 10_00, currency: "AUD" });
    expect(m.text).toContain("the payment of $10.00 went through anyway");
    expect(m.text).toContain("in full");
  });

  it("a refund that came back says it was made and did not reach them, without claiming they were told", () => {
    const m = mail("membership_refund_reversed", {
      invoiceId: "in_1",
      amountMinor: 4_00,
      currency: "AUD",
      failureCode: "expired_or_canceled_card",
    });
    expect(m.text).toContain("We refunded $4.00 to you, but your bank or card could not take the refund");
    expect(m.text).not.toContain("We told you");
  });
});

describe("a plan change Stripe refused", () => {
  it("says the plan asked for was not made, nothing was charged, and which plan stays", () => {
    const m = mail("membership_change_refused", {
      subscriptionId: "sub_1",
      planId: "plan_basic",
      amountMinor: 15_00,
      currency: "AUD",
      interval: "month",
      requestedPlanId: "plan_pro",
      requestedAmountMinor: 40_00,
      requestedInterval: "month",
      failureCode: "invalid_request",
    });
    expect(m.subject).toBe("Your membership plan was not changed");
    expect(m.text).toContain("change your membership to plan plan_pro ($40.00 per month)");
    expect(m.text).toContain("refused the change (invalid_request)");
    expect(m.text).toContain("stays on plan plan_basic at $15.00 per month");
  });
});
