// A payout transfer reversed (whole or in part): while the round pays out it is not done —
// the payout blocks as an undeliverable one does and its resume sends the money again, so the
// round never ends `paid_out` holding money with its recipient short; after the round ended,
// the money in its pot is ticketed for an admin. Examples here; the invariants, over any
// order of transfers, reversals and resumes, in payout-reversal.property.test.ts.
import { describe, expect, it } from "vitest";
import { checkRoundMoney, ledgerFromTransactions } from "../ledger/index.js";
import { DEFAULT_ROUND_POLICY, type RoundPolicy } from "../policy/round-policy.js";
import { DAY_MS, HOUR_MS } from "../shared/time.js";
import { debitProcessing as processing, debitSucceeded as succeeded } from "../testing/mothers.js";
import { decide, type RoundDecision } from "./decide.js";
import { newRound, sentNetMinor } from "./round.js";
import type { RoundEffect } from "./round-effect.js";
import type { RoundInput } from "./round-input.js";

const T0 = Date.UTC(2026, 0, 5);
const policy: RoundPolicy = { ...DEFAULT_ROUND_POLICY };
const T = T0 + 3 * DAY_MS + HOUR_MS;

/** A round of m1 (the recipient), m2 and m3, 100.00 each, collected and paying out; every effect kept. */
function payingOut() {
  const effects: RoundEffect[] = [];
  let s = newRound({
    id: "r1",
    groupId: "g1",
    rotation: 1,
    sequence: 0,
    recipientMemberId: "m1",
    recipientCanReceive: true,
    contributorIds: ["m1", "m2", "m3"],
    currency: "AUD",
    contributionMinor: 10_000,
    scheduledFor: T0,
  })._unsafeUnwrap();
  const apply = (input: RoundInput, now = T): RoundDecision => {
    const r = decide(s, input, { now, policy });
    if (r.isErr()) throw new Error(`${r.error.code}: ${r.error.message}`);
    effects.push(...r.value.effects);
    s = r.value.state;
    return r.value;
  };
  apply({ type: "open" }, T0);
  for (const m of ["m1", "m2", "m3"]) {
    apply(processing(m), T0 + HOUR_MS);
    apply(succeeded(m), T0 + 3 * DAY_MS);
  }
  const money = () =>
    checkRoundMoney(
      ledgerFromTransactions(
        effects.flatMap((e) => (e.kind === "post_ledger" ? [e.transaction] : [])),
      )._unsafeUnwrap(),
      "r1",
      "AUD",
    )._unsafeUnwrap();
  const created = (m: string, attempt: number) =>
    apply({ type: "transfer_created", sourceMemberId: m, attempt, transferId: `tr_${m}_${attempt}` });
  const reversed = (m: string, transferId: string, amountMinor: number) =>
    apply({ type: "transfer_reversed", sourceMemberId: m, transferId, amountMinor });
  return { apply, money, created, reversed, state: () => s, effects };
}

const kinds = (d: RoundDecision) => d.effects.map((e) => e.kind);

describe("a payout transfer reversed while the round pays out", () => {
  it("whole, before the last transfer lands: the payout blocks (group paused, recipient and admins told, a ticket), nothing ends; once the account can receive, the reversed money is sent again and the round ends holding nothing", () => {
    const r = payingOut();
    expect(r.state().status).toBe("paying_out");
    r.created("m1", 1);
    r.created("m2", 1);
    const back = r.reversed("m2", "tr_m2_1", 10_000);
    expect(r.state()).toMatchObject({ status: "payout_blocked" });
    expect(r.state().blockedReason).toContain("tr_m2_1 was reversed");
    expect(kinds(back)).toEqual([
      "post_ledger",
      "open_ticket",
      "notify",
      "pause_group",
      "notify",
      "notify",
      "open_ticket",
    ]);
    const told = back.effects.flatMap((e) =>
      e.kind === "notify" ? [[e.template, e.to.kind === "group" ? e.to.members : e.to]] : [],
    );
    expect(told).toEqual([
      ["transfer_reversed", { kind: "admins" }],
      ["payout_blocked", { kind: "member", memberId: "m1" }],
      ["payout_blocked", { kind: "admins" }],
    ]);
    // The last transfer lands while blocked: the round does not end with m2's 100.00 in the pot.
    const last = r.created("m3", 1);
    expect(kinds(last)).not.toContain("round_ended");
    expect(r.state().status).toBe("payout_blocked");
    expect(r.money()).toMatchObject({ heldMinor: 10_000, paidOutMinor: 20_000 });
    // Reassigning is refused: most of the pot already reached m1.
    expect(
      decide(
        r.state(),
        { type: "reassign_payout", toMemberId: "m2", toCanReceive: true },
        { now: T, policy },
      )._unsafeUnwrapErr().code,
    ).toBe("payout_partially_sent");

    // The account can receive again: the reversed 100.00 goes again, under a new key, from the same charge.
    const resumed = r.apply({ type: "recipient_readiness", canReceive: true });
    expect(r.state().status).toBe("paying_out");
    expect(resumed.effects.filter((e) => e.kind === "transfer")).toEqual([
      expect.objectContaining({
        id: "r1:transfer:m2:attempt:2",
        sourceMemberId: "m2",
        sourceChargeId: "ch_m2_1",
        amountMinor: 10_000,
        attempt: 2,
      }),
    ]);
    expect(kinds(resumed)).toContain("resume_group");
    // Stripe repeats the first transfer's creation: known, ignored.
    expect(r.created("m2", 1).ignored?.code).toBe("transfer_already_created");
    const done = r.created("m2", 2);
    expect(r.state().status).toBe("paid_out");
    expect(kinds(done)).toContain("round_ended");
    expect(r.money()).toMatchObject({ heldMinor: 0, paidOutMinor: 30_000 });
    expect(done.effects.find((e) => e.kind === "notify" && e.template === "payout_sent")).toMatchObject({
      data: { amountMinor: 30_000 },
    });
    expect(r.state().payouts.map(sentNetMinor)).toEqual([10_000, 10_000, 10_000]);
  });

  it("in part, twice (the second after the first was sent again): each reversal blocks, each resume sends what came back, and the round ends with every contribution paid in full", () => {
    const r = payingOut();
    r.created("m1", 1);
    r.created("m2", 1);
    r.created("m3", 1);
    expect(r.state().status).toBe("paid_out");
    const again = payingOut();
    again.created("m1", 1);
    again.created("m2", 1);
    again.reversed("m1", "tr_m1_1", 4_000);
    expect(again.state().status).toBe("payout_blocked");
    again.apply({ type: "resume_payout" });
    expect(again.effects.filter((e) => e.kind === "transfer").at(-1)).toMatchObject({
      sourceMemberId: "m1",
      amountMinor: 4_000,
      attempt: 2,
    });
    // m3's first transfer is asked for again only if it failed: it is still in flight, under attempt 1.
    expect(again.state().payouts.find((p) => p.sourceMemberId === "m3")).toMatchObject({
      status: "requested",
      attempt: 1,
    });
    // More of the first transfer comes back while its top-up is in flight: blocked again.
    again.reversed("m1", "tr_m1_1", 1_000);
    expect(again.state().status).toBe("payout_blocked");
    again.created("m1", 2);
    again.created("m3", 1);
    expect(again.state().status).toBe("payout_blocked");
    again.apply({ type: "resume_payout" });
    const topUp = again.state().payouts.find((p) => p.sourceMemberId === "m1");
    expect(topUp).toMatchObject({ status: "requested", amountMinor: 1_000, attempt: 3 });
    expect(topUp?.earlier?.map((e) => [e.transferId, e.amountMinor, e.reversedMinor])).toEqual([
      ["tr_m1_1", 10_000, 5_000],
      ["tr_m1_2", 4_000, 0],
    ]);
    again.created("m1", 3);
    expect(again.state().status).toBe("paid_out");
    expect(again.money()).toMatchObject({ heldMinor: 0, paidOutMinor: 30_000 });
  });
});

describe("a payout transfer reversed after the round was paid out", () => {
  it("is booked back into the ended round's pot and made visible: a ticket and the admins say the recipient is short and what to do; the round stays paid_out", () => {
    const r = payingOut();
    for (const m of ["m1", "m2", "m3"]) r.created(m, 1);
    expect(r.state().status).toBe("paid_out");
    const late = r.reversed("m3", "tr_m3_1", 2_500);
    expect(r.state().status).toBe("paid_out");
    expect(kinds(late)).toEqual(["post_ledger", "open_ticket", "notify"]);
    expect(late.effects.find((e) => e.kind === "open_ticket")).toMatchObject({
      reason: "transfer_reversed",
      summary: expect.stringContaining("after the round was paid out"),
    });
    expect(late.effects.find((e) => e.kind === "notify")).toMatchObject({
      template: "transfer_reversed",
      data: { transferId: "tr_m3_1", amountMinor: 2_500, recipientMemberId: "m1", roundEnded: "yes" },
    });
    expect(r.money()).toMatchObject({ heldMinor: 2_500, paidOutMinor: 27_500 });
  });
});

describe("the payout_blocked notices of a reversal", () => {
  it("name the cause, the transfer and the amount that came back as their own fields (the e-mail masks a blocked payout's free-text reason, which can carry account data)", () => {
    const r = payingOut();
    r.created("m1", 1);
    r.created("m2", 1);
    const back = r.reversed("m2", "tr_m2_1", 2_500);
    const blocked = back.effects.filter((e) => e.kind === "notify" && e.template === "payout_blocked");
    expect(blocked).toHaveLength(2);
    for (const n of blocked)
      expect(n.kind === "notify" ? n.data : undefined).toMatchObject({
        recipientMemberId: "m1",
        cause: "transfer_reversed",
        transferId: "tr_m2_1",
        amountMinor: 2_500,
        currency: "AUD",
      });
  });

  it("of an undeliverable payout carry no such cause", () => {
    const r = payingOut();
    const failed = r.apply({
      type: "transfer_failed",
      sourceMemberId: "m2",
      attempt: 1,
      failureCode: "account_closed",
    });
    const blocked = failed.effects.filter((e) => e.kind === "notify" && e.template === "payout_blocked");
    expect(blocked).toHaveLength(2);
    for (const n of blocked) expect(n.kind === "notify" ? n.data.cause : "none").toBeUndefined();
  });
});
