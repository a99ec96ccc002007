// The e-mails of a round's payout that is blocked: an undeliverable payout (Stripe's reason, its
// numbers masked), and a payout transfer that came back (reversed), which
// is sent again when the payout resumes and which an admin cannot reassign.

import type { Notification } from "@susu/domain";
import { describe, expect, it } from "vitest";
import { renderMail } from "../../src/notify/index.js";

const where = { locale: "en-AU", timeZone: "Australia/Sydney" } as const;

function blocked(data: Notification["data"]): Notification {
  return {
    id: "r1:notice:payout_blocked",
    aggregate: "round",
    aggregateId: "r1",
    groupId: "g1",
    personIds: [],
    template: "payout_blocked",
    data: { roundId: "r1", recipientMemberId: "m1", ...data },
  };
}

describe("a blocked payout's e-mail", () => {
  it("for a transfer that came back: says how much came back, that it is sent again on resume, and offers no reassignment", () => {
    const m = renderMail(
      blocked({
        reason:
          "payout transfer tr_m2_1 was reversed (2500 came back); it is sent again when the payout resumes",
        cause: "transfer_reversed",
        transferId: "tr_m2_1",
        amountMinor: 2_500,
        currency: "AUD",
      }),
      where,
    );
    expect(m.subject).toBe("A round's payout is blocked");
    expect(m.text).toContain(
      "$25.00 of the payout of round r1 to member m1 came back (transfer tr_m2_1 was reversed)",
    );
    expect(m.text).toContain("sent again when the payout resumes");
    expect(m.text).not.toContain("reassign");
  });

  it("for an undeliverable payout: gives Stripe's reason, and the admins may reassign it", () => {
    const m = renderMail(blocked({ reason: "a payout transfer failed: account_closed" }), where);
    expect(m.text).toContain("could not be made: a payout transfer failed: account_closed.");
    expect(m.text).toContain("administrators can reassign it");
  });
});

describe("the admins' transfer_reversed e-mail", () => {
  const reversed = (roundEnded: string): Notification => ({
    id: "r1:notice:transfer_reversed",
    aggregate: "round",
    aggregateId: "r1",
    groupId: "g1",
    personIds: [],
    template: "transfer_reversed",
    data: {
      roundId: "r1",
      transferId: "tr_m2_1",
      amountMinor: 2_500,
      currency: "AUD",
      recipientMemberId: "m1",
      roundEnded,
    },
  });

  it("while the round pays out: the money is sent again on resume, nothing to pay by hand", () => {
    const m = renderMail(reversed("no"), where);
    expect(m.text).toContain("sends the money again when it resumes");
    expect(m.text).not.toContain("must be paid again");
  });

  it("after the round ended: an admin decides whether it must be paid again", () => {
    expect(renderMail(reversed("yes"), where).text).toContain("decide whether the money must be paid again");
  });
});
