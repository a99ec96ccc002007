import { describe, expect, it } from "vitest";
import { owedIds } from "./owed-ids.js";

describe("the ids of money owed outside Stripe are stored keys: pinned", () => {
  it("a held payment's or a marketplace charge's", () => {
    const p = owedIds.payment;
    expect(p.ledgerPaid("hp1", 2)).toBe("hp1:owed:paid:2:ledger");
    expect(p.noticeBooked("hp1", 3)).toBe("hp1:notify:owed_outside_stripe:3");
    expect(p.noticePaid("mc1", 1)).toBe("mc1:notify:owed_paid_outside_stripe:1");
    expect(p.resolveRefundOwed("mc1", 2)).toBe("mc1:ticket:refund_owed:2:resolve");
    expect(p.noteRefundOwed("hp1", 1, "dp_1")).toBe("hp1:ticket:refund_owed:1:note:dispute:dp_1");
    expect(p.noteRefundOwed("hp1", 1, "dp_1:2")).toBe("hp1:ticket:refund_owed:1:note:dispute:dp_1:2");
    expect(p.noticeReduced("mc1", "dp_1")).toBe("mc1:notify:owed_reduced_by_dispute:dp_1");
    expect(p.ledgerRecovered("hp1", 2)).toBe("hp1:owed:recovered:2:ledger");
    expect(p.resolveOwedOverpaid("mc1", "dp_1")).toBe("mc1:ticket:owed_overpaid:dp_1:resolve");
  });

  it("a round's, per member", () => {
    const r = owedIds.round;
    expect(r.ledgerPaid("r1", "m1", 2)).toBe("r1:owed:m1:paid:2:ledger");
    expect(r.noticeBooked("r1", "m1", "dp_1")).toBe("r1:notify:owed_outside_stripe:m1:dp_1");
    expect(r.noticePaid("r1", "m1", 1)).toBe("r1:notify:owed_paid_outside_stripe:m1:1");
    expect(r.resolveRestOwed("r1", "dp_1")).toBe("r1:ticket:dispute:dp_1:rest_owed:resolve");
    expect(r.resolveWonOwed("r1", "dp_1")).toBe("r1:ticket:dispute:dp_1:won:resolve");
  });
});
