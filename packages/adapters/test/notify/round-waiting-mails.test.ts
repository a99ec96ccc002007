// The e-mails of a round that is due but cannot start because members are not ready: the
// member hears what they lack and where to set it up; the admins hear who lacks what.

import { type Notification, useCases } from "@susu/domain";
import { anActiveGroup } from "@susu/domain/testing";
import { describe, expect, it } from "vitest";
import { renderMail } from "../../src/notify/index.js";

const DUE = Date.UTC(2026, 2, 2, 22); // 09:00 on 3 March in Sydney
const group = anActiveGroup({ id: "grp_1", memberIds: ["ana", "ben", "cy"] });
const [toBen, toCy, toAdmins] = useCases.roundWaitingEffects(group, "round_grp_1_r1_s0", DUE, [
  { memberId: "ben", lacks: ["mandate"] },
  { memberId: "cy", lacks: ["mandate", "payout_account"] },
]);

/** The notification the dispatcher hands the notifier for an effect (the group's name added). */
function notificationOf(effect: typeof toBen): Notification {
  if (effect?.kind !== "notify") throw new Error("a notice expected");
  return {
    id: effect.id,
    aggregate: effect.aggregate,
    aggregateId: effect.aggregateId,
    groupId: "grp_1",
    personIds: [],
    template: effect.template,
    data: { groupName: "Friday savers", ...effect.data },
  };
}

describe("a round waiting for its members", () => {
  it("tells the member what they lack and where to set it up", () => {
    const m = renderMail(notificationOf(toBen), { locale: "en-AU", timeZone: "Australia/Sydney" });
    expect(m.subject).toBe("Your savings group's round is waiting for you");
    expect(m.text).toContain('The next round of "Friday savers" (round round_grp_1_r1_s0) was due on');
    expect(m.text).toContain("3 March 2026");
    expect(m.text).toContain("you still need an active direct debit mandate.");
    expect(m.text).toContain("Please set up your direct debit (through /v1/people/ben/debit-setup).");
    expect(m.text).not.toContain("payout-onboarding");
    const both = renderMail(notificationOf(toCy), { locale: "en-AU", timeZone: "Australia/Sydney" });
    expect(both.text).toContain(
      "you still need an active direct debit mandate and a payout account that can receive.",
    );
    expect(both.text).toContain(
      "Please set up your direct debit (through /v1/people/cy/debit-setup) and finish your payout account (through /v1/people/cy/payout-onboarding).",
    );
  });

  it("tells the admins who lacks what", () => {
    const m = renderMail(notificationOf(toAdmins), { locale: "en-AU", timeZone: "Australia/Sydney" });
    expect(m.subject).toBe("A round of your group cannot start: members are not ready");
    expect(m.text).toContain(
      "Not ready: BEN (ben) needs an active direct debit mandate; CY (cy) needs an active direct debit mandate and a payout account that can receive.",
    );
    expect(m.html).toContain("Not ready: BEN (ben)");
  });

  it("writes the due date in the reader's locale and time zone", () => {
    for (const [where, date] of [
      [{ locale: "en-AU", timeZone: "Australia/Sydney" }, "3 March 2026"],
      [{ locale: "en-US", timeZone: "America/New_York" }, "March 2, 2026"],
      [{ locale: "de-DE", timeZone: "Europe/Berlin" }, "2. März 2026"],
    ] as const) {
      for (const effect of [toBen, toAdmins]) {
        const text = renderMail(notificationOf(effect), where).text;
        expect(text).toContain(date);
        expect(text).not.toMatch(/undefined|NaN|\[object/);
      }
    }
  });
});
