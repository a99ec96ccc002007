import type { Notification } from "@susu/domain";
import { describe, expect, it } from "vitest";
import { renderMail } from "../../src/notify/mail-templates.js";

const sydney = { locale: "en-AU", timeZone: "Australia/Sydney" };
const berlin = { locale: "de-DE", timeZone: "Europe/Berlin" };
/** Intl writes narrow no-break spaces in some locales' times and amounts. */
const plain = (s: string) => s.replace(/[\u202f\u00a0]/g, " ");

const debitInitiated: Notification = {
  id: "r1:notify:debit_initiated:ana:1",
  aggregate: "round",
  aggregateId: "r1",
  groupId: "g1",
  personIds: ["ana"],
  template: "debit_initiated",
  data: {
    groupName: "Sunday savers",
    roundId: "r1",
    currency: "AUD",
    memberId: "ana",
    groupId: "g1",
    amountMinor: 150_00,
    attempt: 1,
    expectedSettlementBy: "2026-01-08T00:00:00.000Z",
  },
};

describe("the debit-initiated notice", () => {
  it("says how much, for which group, and by when it settles, in the reader's locale and time zone", () => {
    const mail = renderMail(debitInitiated, sydney);
    const text = plain(mail.text);
    expect(mail.subject).toBe("Your contribution is being debited");
    expect(text).toContain('We asked your bank for $150.00, your contribution to "Sunday savers" (round r1)');
    expect(text).toMatch(
      /it should have gone through by Thursday,? 8 January 2026 at 11:00\s?am \(Australia\/Sydney\)/,
    );
    expect(text).toMatch(/By: Thursday,? 8 January 2026 at 11:00/);
    const de = plain(renderMail(debitInitiated, berlin).text);
    expect(de).toContain("150,00 AU$");
    expect(de).toMatch(/Donnerstag, 8\. Januar 2026 um 01:00 \(Europe\/Berlin\)/);
    expect(plain(mail.html)).toContain("&quot;Sunday savers&quot;");
  });
});

const bookingPaid = (
  recipient: "customer" | "seller",
  hold: Record<string, string | number>,
): Notification => ({
  id: `hp1:notify:booking_paid:${recipient}`,
  aggregate: "held_payment",
  aggregateId: "hp1",
  personIds: recipient === "seller" ? ["sel_1"] : [],
  ...(recipient === "customer" ? { emails: ["cy@example.com"] } : {}),
  template: "booking_paid",
  data: {
    heldPaymentId: "hp1",
    clientReference: "booking_42",
    currency: "AUD",
    description: "Two nights",
    amountMinor: 100_00,
    paidAt: "2026-03-02T00:00:00.000Z",
    ...hold,
    recipient,
    ...(recipient === "seller" ? { sellerShareMinor: 90_00, feeMinor: 10_00 } : {}),
  },
});

describe("the booking-paid notice", () => {
  it("gives the customer a receipt: what, how much, when, and until when it is held", () => {
    const text = plain(renderMail(bookingPaid("customer", { holdDaysAfterFulfilment: 3 }), sydney).text);
    expect(text).toContain('You paid $100.00 for "Two nights" (booking booking_42) on Monday, 2 March 2026');
    expect(text).toContain("We hold the payment until 3 days after the booking has taken place");
    expect(text).not.toContain("share");
  });

  it("tells the seller their share, the fee, and the date the hold ends", () => {
    const mail = renderMail(bookingPaid("seller", { holdEndsAt: "2026-03-05T00:00:00.000Z" }), sydney);
    const text = plain(mail.text);
    expect(mail.subject).toBe("A booking was paid");
    expect(text).toContain("The customer paid $100.00");
    expect(text).toMatch(
      /Your share of \$90\.00 \(after the platform fee of \$10\.00\) is held until Thursday,? 5 March 2026 at 11:00/,
    );
    expect(text).not.toContain("cy@example.com");
  });
});

describe("the onboarding-incomplete notice", () => {
  const notice = (data: Record<string, string | number>): Notification => ({
    id: "account:acct_ana:onboarding_incomplete:2-00:notify",
    aggregate: "payout",
    aggregateId: "acct_ana",
    personIds: ["ana"],
    template: "onboarding_incomplete",
    data: { accountId: "acct_ana", onboardingPath: "/v1/people/ana/payout-onboarding", ...data },
  });

  it("lists what is missing and where to continue", () => {
    const text = renderMail(
      notice({ requirements: "external_account, individual.dob.day", moreRequirements: 2 }),
      sydney,
    ).text;
    expect(text).toContain("It asks for: external_account, individual.dob.day and 2 more.");
    expect(text).toContain(
      "What to do: Continue your payout onboarding (through /v1/people/ana/payout-onboarding) and give what is asked.",
    );
  });

  it("with nothing listed, says why the account is paused", () => {
    const text = renderMail(notice({ requirements: "", disabledReason: "rejected.other" }), sydney).text;
    expect(text).toContain("It has paused the account (rejected.other).");
  });
});

describe("the membership payment-failed notice", () => {
  const failed = (data: Record<string, string | number>): Notification => ({
    id: "mbr_1:notify:membership_payment_failed:in_1:1",
    aggregate: "subscription",
    aggregateId: "mbr_1",
    personIds: ["ana"],
    template: "membership_payment_failed",
    data: {
      subscriptionId: "mbr_1",
      invoiceId: "in_1",
      currency: "AUD",
      amountMinor: 15_00,
      attempt: 1,
      ...data,
    },
  });

  it("a declined first payment says the membership has not started, not that it lapsed", () => {
    const text = plain(renderMail(failed({ lastAttempt: "no", firstPayment: "yes" }), sydney).text);
    expect(text).toContain("We could not collect $15.00 for your membership (attempt 1).");
    expect(text).toContain("Your membership has not started");
    expect(text).not.toContain("lapsed");
    expect(text).not.toContain("We will try again");
  });

  it("a renewal's last attempt says it lapsed; an earlier one says when it is tried again", () => {
    expect(plain(renderMail(failed({ lastAttempt: "yes" }), sydney).text)).toContain(
      "That was the last automatic attempt: your membership has lapsed.",
    );
    expect(
      plain(renderMail(failed({ lastAttempt: "no", deadline: "2026-01-08T00:00:00.000Z" }), sydney).text),
    ).toMatch(/We will try again on Thursday,? 8 January 2026/);
  });
});

describe("the membership lapsed notice", () => {
  const lapsed = (data: Record<string, string | number>): Notification => ({
    id: "mbr_1:notify:membership_lapsed:1",
    aggregate: "subscription",
    aggregateId: "mbr_1",
    personIds: ["ana"],
    template: "membership_lapsed",
    data: { subscriptionId: "mbr_1", currency: "AUD", amountMinor: 15_00, ...data },
  });

  it("a lapse Stripe has not ended says the open invoice restores the membership", () => {
    const mail = renderMail(lapsed({}), sydney);
    expect(mail.subject).toBe("Your membership has lapsed");
    expect(plain(mail.text)).toContain("Pay the open invoice to restore your membership.");
  });

  it("one Stripe ended for non-payment says it ended, with nothing to pay: its invoice is being voided", () => {
    const mail = renderMail(lapsed({ ended: "yes" }), sydney);
    const text = plain(mail.text);
    expect(mail.subject).toBe("Your membership has ended");
    expect(text).toContain("We could not collect your membership payment of $15.00 after every attempt");
    expect(text).toContain("you do not need to pay it");
    expect(text).toContain("subscribe again");
    expect(text).not.toMatch(/pay the open invoice|restore/i);
  });
});

describe("a round's failed refund", () => {
  const failed = (data: Record<string, string | number>): Notification => ({
    id: "r1:notify:refund_failed:ben",
    aggregate: "round",
    aggregateId: "r1",
    groupId: "g1",
    personIds: ["ana"],
    template: "refund_failed",
    data: {
      groupName: "Sunday savers",
      roundId: "r1",
      currency: "AUD",
      memberId: "ben",
      failureCode: "expired",
      ...data,
    },
  });

  it("tells the admins how to ask for the refund again", () => {
    const text = plain(
      renderMail(
        failed({ attempt: 1, retryWith: "POST /v1/rounds/r1/contributions/ben/retry-refund" }),
        sydney,
      ).text,
    );
    expect(text).toContain("could not be made (expired)");
    expect(text).toContain("ask Stripe for a new refund: POST /v1/rounds/r1/contributions/ben/retry-refund");
  });

  it("without a way to retry (a notice from before, or a round already ended), says to check the ticket", () => {
    const text = plain(renderMail(failed({}), sydney).text);
    expect(text).toContain("fix the cause and retry the refund, or refund by hand");
    expect(text).not.toContain("retry-refund");
  });
});

describe("the unexpected-money notice", () => {
  const unexpected = (data: Record<string, string>): Notification => ({
    id: "r1:notify:unexpected_money:ben:1",
    aggregate: "round",
    aggregateId: "r1",
    groupId: "g1",
    personIds: [],
    template: "unexpected_money",
    data: { roundId: "r1", memberId: "ben", paymentIntentId: "pi_1", ...data },
  });

  it("for a round's surplus charge, says susu refunds it on its own and names the refund", () => {
    const text = plain(renderMail(unexpected({ refundId: "r1:refund:ben:debit:1" }), sydney).text);
    expect(text).toContain("that susu did not expect (payment pi_1)");
    expect(text).toContain("susu is refunding it to the member on its own (refund r1:refund:ben:debit:1)");
    expect(text).not.toContain("by hand");
  });

  it("without a refund under way (a notice from before, a late transfer), asks for a look by hand", () => {
    const text = plain(renderMail(unexpected({}), sydney).text);
    expect(text).toContain("refund or reassign the money by hand if needed");
  });
});

const owedNotice = (
  template: "refund_owed" | "owed_outside_stripe",
  why: Record<string, string>,
): Notification => ({
  id: `hp1:notify:${template}:1`,
  aggregate: "held_payment",
  aggregateId: "hp1",
  personIds: [],
  emails: ["cy@example.com"],
  template,
  data: {
    heldPaymentId: "hp1",
    clientReference: "booking_42",
    currency: "AUD",
    refund: 1,
    amountMinor: 40_00,
    customerEmail: "cy@example.com",
    ...why,
  },
});

describe("the notices of a refund owed outside Stripe say why Stripe cannot refund it", () => {
  it("a card that can no longer take money: no dispute is named", () => {
    const why = { failureCode: "expired_or_canceled_card" };
    const admins = plain(renderMail(owedNotice("refund_owed", why), sydney).text);
    expect(admins).toContain("Stripe failed the refund (expired_or_canceled_card)");
    expect(admins).not.toContain("Dispute");
    const customer = plain(renderMail(owedNotice("owed_outside_stripe", why), sydney).text);
    expect(customer).toContain("$40.00 of your payment is owed back to you");
    expect(customer).toContain("the card is no longer valid");
    expect(customer).not.toContain("dispute");
  });

  it("a lost dispute: as before", () => {
    const why = { disputeId: "dp_1" };
    expect(plain(renderMail(owedNotice("refund_owed", why), sydney).text)).toContain("Dispute dp_1 was lost");
    expect(plain(renderMail(owedNotice("owed_outside_stripe", why), sydney).text)).toContain(
      "after a dispute",
    );
  });
});

describe("the customer's notice that a lost dispute lessened what is owed", () => {
  const reduced = (leftMinor: number): Notification => ({
    id: "hp1:notify:owed_reduced_by_dispute:dp_1",
    aggregate: "held_payment",
    aggregateId: "hp1",
    personIds: [],
    emails: ["cy@example.com"],
    template: "owed_reduced_by_dispute",
    data: { heldPaymentId: "hp1", currency: "AUD", disputeId: "dp_1", amountMinor: 40_00, leftMinor },
  });

  it("says what the bank gave back and what is still owed", () => {
    const text = plain(renderMail(reduced(60_00), sydney).text);
    expect(text).toContain("Your bank returned $40.00 to you");
    expect(text).toContain("$60.00 is still owed to you");
  });

  it("says nothing more is owed when the bank gave back all of it", () => {
    expect(plain(renderMail(reduced(0), sydney).text)).toContain("Nothing more is owed to you");
  });
});
