// The e-mails about saved payment methods: what the person and the group's admins read,
// with what to do, and never more of a number than its last four digits.
import type { Notification } from "@susu/domain";
import { describe, expect, it } from "vitest";
import { renderMail } from "../../src/notify/index.js";

const where = { locale: "en-AU", timeZone: "Australia/Sydney" };
const base = { aggregate: "payment_method", aggregateId: "pm_1", personIds: ["ben"] } as const;

function mail(template: Notification["template"], data: Notification["data"]) {
  return renderMail({ ...base, id: `n:${template}`, template, data } as Notification, where);
}

describe("payment method e-mails", () => {
  it("a debit removed behind susu's back: save another account, through the set-up path", () => {
    const m = mail("payment_method_detached", {
      method: "bank account 000-000 ending 3456",
      setupPath: "/v1/people/me/payment-methods/setup",
    });
    expect(m.subject).toBe("The bank account your savings group debits was removed");
    expect(m.text).toContain("cannot be collected until you save another account");
    expect(m.text).toContain("/v1/people/me/payment-methods/setup");
  });

  it("the same news when another account took over says which, and asks nothing", () => {
    const m = mail("payment_method_detached", {
      method: "bank account 000-000 ending 3456",
      movedTo: "bank account 000-000 ending 1111",
    });
    expect(m.subject).toBe("Your savings groups now debit your other bank account");
    expect(m.text).toContain("now collected from your bank account 000-000 ending 1111");
    expect(m.text).not.toContain("What to do");
  });

  it("the debit the person removed themselves while another account works: says so, and which account is debited now", () => {
    const m = mail("payment_method_detached", {
      method: "bank account 000-000 ending 3456",
      removedBy: "person",
      movedTo: "bank account 000-000 ending 1111",
    });
    expect(m.subject).toBe("Your savings groups now debit your other bank account");
    expect(m.text).toContain("You removed your bank account 000-000 ending 3456");
    expect(m.text).not.toContain("not through the app");
    expect(m.text).toContain("now collected from your bank account 000-000 ending 1111");
  });

  it("the admins hear which member's account went, and that support has a ticket", () => {
    const m = mail("member_payment_method_detached", {
      memberName: "Ben",
      method: "bank account 000-000 ending 3456",
    });
    expect(m.text).toContain("Ben's bank account 000-000 ending 3456 was removed");
    expect(m.text).toContain("a ticket was opened");
  });

  it("an inactive mandate of the debit: save an account again and accept the request; never a full number", () => {
    const m = mail("mandate_inactive", {
      method: "bank account 000-000 ending 3456",
      usedForDebits: "yes",
      setupPath: "/v1/people/me/payment-methods/setup",
      accountNumber: "000123456",
    });
    expect(m.text).toContain("cannot collect your contributions from it");
    expect(m.text).toContain("it becomes the one your groups debit");
    expect(`${m.text}${m.html}`).not.toContain("000123456");
  });
});
