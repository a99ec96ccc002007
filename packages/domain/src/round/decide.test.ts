import { describe, expect, it } from "vitest";
import { checkRoundMoney, ledgerFromTransactions } from "../ledger/index.js";
import { DEFAULT_ROUND_POLICY, type RoundPolicy } from "../policy/round-policy.js";
import { DAY_MS, HOUR_MS } from "../shared/time.js";
import {
  debitFailed as failed,
  debitProcessing as processing,
  debitSucceeded as succeeded,
} from "../testing/mothers.js";
import { type DecideContext, decide, type RoundDecision } from "./decide.js";
import { newRound, type Round } from "./round.js";
import type { RoundEffect } from "./round-effect.js";
import { ROUND_IGNORED_CODES, type RoundIgnoredCode } from "./round-ignored.js";
import type { RoundInput } from "./round-input.js";

const T0 = Date.UTC(2026, 0, 5);
const policy: RoundPolicy = { ...DEFAULT_ROUND_POLICY };
const ctx = (now: number, p: RoundPolicy = policy): DecideContext => ({ now, policy: p });

function round(members = ["m1", "m2", "m3"], recipientCanReceive = true): Round {
  return newRound({
    id: "r1",
    groupId: "g1",
    rotation: 1,
    sequence: 0,
    recipientMemberId: "m1",
    recipientCanReceive,
    contributorIds: members,
    currency: "AUD",
    contributionMinor: 10_000,
    scheduledFor: T0,
  })._unsafeUnwrap();
}

function step(state: Round, input: RoundInput, now = T0, p: RoundPolicy = policy): RoundDecision {
  const r = decide(state, input, ctx(now, p));
  if (r.isErr()) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.value;
}

function run(state: Round, inputs: readonly RoundInput[], now = T0): RoundDecision {
  let d: RoundDecision = { state, effects: [] };
  const effects = [];
  for (const i of inputs) {
    d = step(d.state, i, now);
    effects.push(...d.effects);
  }
  return { ...d, effects };
}

const kinds = (d: RoundDecision) => d.effects.map((e) => e.kind);

function collected(members = ["m1", "m2", "m3"]): RoundDecision {
  return run(round(members), [{ type: "open" }, ...members.flatMap((m) => [processing(m), succeeded(m)])]);
}

describe("opening a round", () => {
  it("asks for one debit per member with stable ids and sets the deadline timer", () => {
    const d = step(round(), { type: "open" });
    expect(d.state.status).toBe("collecting");
    expect(d.state.collectionDeadlineAt).toBe(T0 + policy.collectionWindowMs);
    const debits = d.effects.filter((e) => e.kind === "collect_contribution");
    expect(debits.map((e) => e.id)).toEqual([
      "r1:contribution:m1:attempt:1",
      "r1:contribution:m2:attempt:1",
      "r1:contribution:m3:attempt:1",
    ]);
    expect(d.effects).toContainEqual(
      expect.objectContaining({
        kind: "schedule_timer",
        timer: { kind: "collection_deadline" },
        at: T0 + policy.collectionWindowMs,
      }),
    );
  });

  it("ignores a second open and records why", () => {
    const once = step(round(), { type: "open" });
    const twice = step(once.state, { type: "open" });
    expect(twice.state).toBe(once.state);
    expect(twice.effects).toEqual([]);
    expect(twice.ignored).toEqual({
      code: "round_not_scheduled",
      detail: "round is collecting, not scheduled",
    });
  });

  it("refuses a round with fewer than two members or a recipient outside it", () => {
    const base = {
      id: "r",
      groupId: "g",
      rotation: 1,
      sequence: 0,
      recipientCanReceive: true,
      currency: "AUD" as const,
      contributionMinor: 100,
      scheduledFor: T0,
    };
    expect(newRound({ ...base, recipientMemberId: "a", contributorIds: ["a"] })._unsafeUnwrapErr().code).toBe(
      "invalid_round",
    );
    expect(
      newRound({ ...base, recipientMemberId: "z", contributorIds: ["a", "b"] })._unsafeUnwrapErr().code,
    ).toBe("invalid_round");
    expect(
      newRound({ ...base, recipientMemberId: "a", contributorIds: ["a", "a"] })._unsafeUnwrapErr().code,
    ).toBe("invalid_round");
  });
});

describe("collecting", () => {
  it("posts 'debit initiated' when a debit is processing and 'settled' when it succeeds", () => {
    const d = run(round(), [{ type: "open" }, processing("m2"), succeeded("m2")]);
    const ledger = d.effects
      .filter((e) => e.kind === "post_ledger")
      .map((e) => (e.kind === "post_ledger" ? e.transaction.kind : ""));
    expect(ledger).toEqual(["debit_initiated", "debit_settled"]);
    expect(d.state.contributions.find((c) => c.memberId === "m2")?.status).toBe("succeeded");
  });

  it("tells the member when their debit is submitted: amount, group and expected settlement (3 business days)", () => {
    const opened = step(round(), { type: "open" });
    // T0 is Monday 5 January 2026, 11:00 in Sydney: three business days on is Thursday 8 January.
    const d = step(opened.state, processing("m2"));
    expect(d.effects.map((e) => e.kind)).toEqual(["post_ledger", "notify"]);
    expect(d.effects[1]).toEqual({
      kind: "notify",
      id: "r1:notify:debit_initiated:m2:1",
      aggregate: "round",
      aggregateId: "r1",
      to: { kind: "group", groupId: "g1", members: { kind: "member", memberId: "m2" } },
      template: "debit_initiated",
      data: {
        roundId: "r1",
        currency: "AUD",
        memberId: "m2",
        groupId: "g1",
        amountMinor: 10_000,
        attempt: 1,
        expectedSettlementBy: "2026-01-08T00:00:00.000Z",
      },
    });
    // A repeated "processing" event tells nobody again.
    expect(step(d.state, processing("m2")).effects).toEqual([]);
  });

  it("a debit that succeeds before it was seen processing sends no 'debit initiated' notice", () => {
    const d = run(round(), [{ type: "open" }, succeeded("m2"), processing("m2")]);
    expect(d.effects.filter((e) => e.kind === "notify")).toEqual([]);
  });

  it("a success that overtakes its 'processing' event still posts both ledger entries, once", () => {
    const d = run(round(), [{ type: "open" }, succeeded("m2"), processing("m2"), succeeded("m2")]);
    const ledger = d.effects.filter((e) => e.kind === "post_ledger");
    expect(ledger.map((e) => e.id)).toEqual([
      "r1:contribution:m2:attempt:1:initiated",
      "r1:contribution:m2:attempt:1:settled",
    ]);
  });

  it("when the last debit succeeds the round settles and pays out at once: one transfer per charge", () => {
    const d = collected();
    expect(d.state.status).toBe("paying_out");
    const transfers = d.effects.filter((e) => e.kind === "transfer");
    expect(transfers).toHaveLength(3);
    for (const t of transfers) {
      if (t.kind !== "transfer") continue;
      expect(t.recipientMemberId).toBe("m1");
      expect(t.transferGroup).toBe("round_r1");
      expect(t.sourceChargeId).toBe(`ch_${t.sourceMemberId}_1`);
      expect(t.id).toBe(`r1:transfer:${t.sourceMemberId}:attempt:1`);
    }
  });

  it("with a payout delay, settles first and pays out when the timer fires", () => {
    const delayed = { ...policy, payoutDelayMs: DAY_MS };
    let s = round();
    for (const i of [{ type: "open" } as const, ...["m1", "m2", "m3"].flatMap((m) => [succeeded(m)])])
      s = step(s, i, T0, delayed).state;
    expect(s.status).toBe("settled");
    const paying = step(s, { type: "timer", timer: { kind: "payout_due" } }, T0 + DAY_MS, delayed);
    expect(paying.state.status).toBe("paying_out");
  });
});

describe("a failed debit", () => {
  it("retryable: schedules a new attempt with backoff and tells the member", () => {
    const d = run(round(), [{ type: "open" }, processing("m2"), failed("m2", "insufficient_funds")]);
    const c = d.state.contributions.find((x) => x.memberId === "m2");
    expect(c?.status).toBe("retry_scheduled");
    const timer = d.effects.find((e) => e.kind === "schedule_timer" && e.timer.kind === "retry_debit");
    expect(timer).toMatchObject({ timer: { kind: "retry_debit", memberId: "m2", attempt: 2 } });
    // Equal jitter: between half the base delay and the base delay.
    const at = timer?.kind === "schedule_timer" ? timer.at : 0;
    expect(at - T0).toBeGreaterThanOrEqual(policy.debitRetry.baseDelayMs / 2);
    expect(at - T0).toBeLessThanOrEqual(policy.debitRetry.baseDelayMs);
    expect(kinds(d)).toContain("notify");
    // The failure undoes the "initiated" posting.
    const ledger = d.effects
      .filter((e) => e.kind === "post_ledger")
      .map((e) => (e.kind === "post_ledger" ? e.transaction.kind : ""));
    expect(ledger).toEqual(["debit_initiated", "debit_failed"]);
  });

  it("the retry timer asks for attempt 2 with a new idempotency key", () => {
    const failedOnce = run(round(), [{ type: "open" }, processing("m2"), failed("m2", "insufficient_funds")]);
    const retried = step(
      failedOnce.state,
      { type: "timer", timer: { kind: "retry_debit", memberId: "m2", attempt: 2 } },
      T0 + DAY_MS,
    );
    expect(retried.effects).toContainEqual(
      expect.objectContaining({
        kind: "collect_contribution",
        id: "r1:contribution:m2:attempt:2",
        attempt: 2,
      }),
    );
    // A duplicate timer does nothing.
    const again = step(
      retried.state,
      { type: "timer", timer: { kind: "retry_debit", memberId: "m2", attempt: 2 } },
      T0 + DAY_MS,
    );
    expect(again.ignored).toEqual({ code: "timer_no_longer_due", detail: "retry 2 for m2 no longer due" });
  });

  it("a retry timer that fires after the collection deadline (the scheduler late) asks for no debit, as a member asking then is refused; the deadline timer then refunds", () => {
    let s = step(round(), { type: "open" }).state;
    for (const m of ["m1", "m2"]) s = run(s, [processing(m), succeeded(m)], T0 + 3 * DAY_MS).state;
    s = step(s, processing("m3"), T0 + HOUR_MS).state;
    // m3's debit fails a day before the deadline: its retry is armed before the deadline.
    s = step(s, failed("m3", "insufficient_funds"), T0 + 9 * DAY_MS).state;
    const deadline = s.collectionDeadlineAt ?? 0;
    const m3 = s.contributions.find((c) => c.memberId === "m3");
    expect(m3?.status).toBe("retry_scheduled");
    expect(m3?.retryAt).toBeLessThan(deadline);

    // The scheduler was down over the deadline; on restart the retry timer fires first.
    const late = deadline + HOUR_MS;
    expect(decide(s, { type: "retry_contribution", memberId: "m3" }, ctx(late))._unsafeUnwrapErr().code).toBe(
      "contribution_not_retryable",
    );
    const fired = step(
      s,
      { type: "timer", timer: { kind: "retry_debit", memberId: "m3", attempt: 2 } },
      late,
    );
    expect(fired.effects).toEqual([]);
    expect(fired.state).toBe(s);
    expect(fired.ignored?.code).toBe("timer_no_longer_due");
    // A retry armed before a deadline an admin then extended still fires before the new one.
    const extended = step(s, { type: "extend_deadline", deadline: deadline + 2 * DAY_MS }, T0 + 9 * DAY_MS);
    const retried = step(
      extended.state,
      { type: "timer", timer: { kind: "retry_debit", memberId: "m3", attempt: 2 } },
      late,
    );
    expect(retried.effects.map((e) => e.kind)).toContain("collect_contribution");
    // The deadline timer, firing next, refunds the two who paid.
    const due = step(s, { type: "timer", timer: { kind: "collection_deadline" } }, late);
    expect(due.state.status).toBe("refunding");
    expect(due.effects.filter((e) => e.kind === "refund")).toHaveLength(2);
  });

  it("stops after the attempts limit", () => {
    let s = step(round(), { type: "open" }).state;
    let now = T0;
    for (let attempt = 1; attempt <= policy.debitRetry.attemptsMax; attempt++) {
      s = step(s, failed("m2", "insufficient_funds", attempt), now).state;
      if (attempt < policy.debitRetry.attemptsMax) {
        const c = s.contributions.find((x) => x.memberId === "m2");
        expect(c?.status).toBe("retry_scheduled");
        now = c?.retryAt ?? now;
        s = step(
          s,
          { type: "timer", timer: { kind: "retry_debit", memberId: "m2", attempt: attempt + 1 } },
          now,
        ).state;
      }
    }
    expect(s.contributions.find((x) => x.memberId === "m2")?.status).toBe("failed");
    expect(s.contributions.find((x) => x.memberId === "m2")?.attempts).toHaveLength(
      policy.debitRetry.attemptsMax,
    );
  });

  it("permanent (account closed): no retry; the member and admins are told the deadline", () => {
    const d = run(round(), [{ type: "open" }, processing("m3"), failed("m3", "account_closed")]);
    expect(d.state.contributions.find((x) => x.memberId === "m3")?.status).toBe("failed");
    expect(d.effects.some((e) => e.kind === "schedule_timer" && e.timer.kind === "retry_debit")).toBe(false);
    const notes = d.effects.filter((e) => e.kind === "notify");
    expect(notes.map((n) => (n.kind === "notify" ? [n.template, n.to] : null))).toEqual([
      ["debit_initiated", { kind: "group", groupId: "g1", members: { kind: "member", memberId: "m3" } }],
      ["contribution_failed", { kind: "group", groupId: "g1", members: { kind: "member", memberId: "m3" } }],
      ["contribution_failed", { kind: "group", groupId: "g1", members: { kind: "admins" } }],
    ]);
    expect(notes[1]?.kind === "notify" && notes[1].data.deadline).toBe(
      new Date(T0 + policy.collectionWindowMs).toISOString(),
    );
  });

  it("a member with a permanent failure can try again with fixed bank details before the deadline", () => {
    const d = run(round(), [{ type: "open" }, failed("m3", "debit_not_authorized")]);
    const retried = step(
      d.state,
      { type: "retry_contribution", memberId: "m3", mandateActive: true },
      T0 + DAY_MS,
    );
    expect(retried.effects).toContainEqual(
      expect.objectContaining({ kind: "collect_contribution", attempt: 2 }),
    );
    const late = decide(
      d.state,
      { type: "retry_contribution", memberId: "m3" },
      ctx(T0 + policy.collectionWindowMs + 1),
    );
    expect(late._unsafeUnwrapErr().code).toBe("contribution_not_retryable");
    expect(
      decide(d.state, { type: "retry_contribution", memberId: "nobody" }, ctx(T0))._unsafeUnwrapErr().code,
    ).toBe("contribution_not_found");
  });

  it("no retry is scheduled past the deadline", () => {
    const opened = step(round(), { type: "open" }).state;
    const nearDeadline = T0 + policy.collectionWindowMs - 60_000;
    const d = step(opened, failed("m2", "insufficient_funds"), nearDeadline);
    expect(d.state.contributions.find((x) => x.memberId === "m2")?.status).toBe("failed");
  });
});

describe("the collection deadline", () => {
  it("refunds every succeeded contribution, then cancels", () => {
    const d = run(round(), [
      { type: "open" },
      succeeded("m1"),
      succeeded("m2"),
      failed("m3", "account_closed"),
    ]);
    const refunding = step(
      d.state,
      { type: "timer", timer: { kind: "collection_deadline" } },
      T0 + policy.collectionWindowMs,
    );
    expect(refunding.state.status).toBe("refunding");
    const refunds = refunding.effects.filter((e) => e.kind === "refund");
    expect(refunds.map((r) => r.id)).toEqual(["r1:refund:m1", "r1:refund:m2"]);
    const one = step(refunding.state, { type: "refund_succeeded", memberId: "m1", refundId: "re_1" });
    expect(one.state.status).toBe("refunding");
    const done = step(one.state, { type: "refund_succeeded", memberId: "m2", refundId: "re_2" });
    expect(done.state.status).toBe("cancelled");
    expect(done.effects).toContainEqual(
      expect.objectContaining({ kind: "round_ended", outcome: { cancelled: true } }),
    );
  });

  it("waits out the grace period when only processing debits remain", () => {
    const d = run(round(), [{ type: "open" }, succeeded("m1"), succeeded("m2"), processing("m3")]);
    const at = T0 + policy.collectionWindowMs;
    const waiting = step(d.state, { type: "timer", timer: { kind: "collection_deadline" } }, at);
    expect(waiting.state.status).toBe("collecting");
    expect(waiting.state.graceEndsAt).toBe(at + policy.settlementGraceMs);
    const paid = step(waiting.state, succeeded("m3"), at + DAY_MS);
    expect(paid.state.status).toBe("paying_out");
  });

  it("ends the grace period at once when the last debit it waited for fails with no retry left", () => {
    const d = run(round(), [{ type: "open" }, succeeded("m1"), succeeded("m2"), processing("m3")]);
    const at = T0 + policy.collectionWindowMs;
    const waiting = step(d.state, { type: "timer", timer: { kind: "collection_deadline" } }, at);
    expect(waiting.state.graceEndsAt).toBe(at + policy.settlementGraceMs);
    // Past the deadline no retry is scheduled: nothing more can arrive, so nothing to wait for.
    const failedLate = step(waiting.state, failed("m3", "insufficient_funds"), at + DAY_MS);
    expect(failedLate.state.status).toBe("refunding");
    expect(failedLate.effects.filter((e) => e.kind === "refund").map((e) => e.id)).toEqual([
      "r1:refund:m1",
      "r1:refund:m2",
    ]);
    const graceEnd = step(
      failedLate.state,
      { type: "timer", timer: { kind: "grace_end" } },
      at + policy.settlementGraceMs,
    );
    expect(graceEnd.ignored?.code).toBe("timer_no_longer_due");
  });

  it("keeps waiting while another debit is still processing; refunds once none is and someone has not paid", () => {
    const d = run(round(), [{ type: "open" }, succeeded("m1"), processing("m2"), processing("m3")]);
    const at = T0 + policy.collectionWindowMs;
    const waiting = step(d.state, { type: "timer", timer: { kind: "collection_deadline" } }, at);
    const oneFailed = step(waiting.state, failed("m2", "account_closed"), at + DAY_MS);
    expect(oneFailed.state.status).toBe("collecting");
    const lastLanded = step(oneFailed.state, succeeded("m3"), at + 2 * DAY_MS);
    expect(lastLanded.state.status).toBe("refunding");
    expect(lastLanded.effects.filter((e) => e.kind === "refund").map((e) => e.id)).toEqual([
      "r1:refund:m1",
      "r1:refund:m3",
    ]);
  });

  it("before the deadline, a member whose debits all failed may still pay: the round waits for the deadline", () => {
    const d = run(round(), [{ type: "open" }, succeeded("m1"), succeeded("m2"), processing("m3")]);
    const failedEarly = step(d.state, failed("m3", "account_closed"), T0 + DAY_MS);
    expect(failedEarly.state.status).toBe("collecting");
    const atDeadline = step(
      failedEarly.state,
      { type: "timer", timer: { kind: "collection_deadline" } },
      T0 + policy.collectionWindowMs,
    );
    expect(atDeadline.state.status).toBe("refunding");
    expect(atDeadline.state.graceEndsAt).toBeUndefined();
  });

  it("a debit that succeeds while refunding is refunded too; one that fails is not", () => {
    const d = run(round(), [
      { type: "open" },
      succeeded("m1"),
      processing("m2"),
      failed("m3", "account_closed"),
    ]);
    const refunding = step(
      d.state,
      { type: "timer", timer: { kind: "collection_deadline" } },
      T0 + policy.collectionWindowMs,
    );
    expect(refunding.state.status).toBe("refunding");
    const late = step(refunding.state, succeeded("m2"));
    expect(late.effects).toContainEqual(expect.objectContaining({ kind: "refund", memberId: "m2" }));
    const r1 = step(late.state, { type: "refund_succeeded", memberId: "m1", refundId: "re_1" });
    const r2 = step(r1.state, { type: "refund_succeeded", memberId: "m2", refundId: "re_2" });
    expect(r2.state.status).toBe("cancelled");
  });

  it("a refund that fails keeps the round open with a ticket", () => {
    const d = run(round(), [{ type: "open" }, succeeded("m1"), failed("m3", "account_closed")]);
    const refunding = step(
      d.state,
      { type: "timer", timer: { kind: "collection_deadline" } },
      T0 + policy.collectionWindowMs,
    );
    const failedRefund = step(refunding.state, {
      type: "refund_failed",
      memberId: "m1",
      failureCode: "charge_expired_for_refund",
    });
    expect(failedRefund.state.status).toBe("refunding");
    expect(kinds(failedRefund)).toContain("open_ticket");
  });

  it("is ignored once the round has settled", () => {
    const d = collected();
    const late = step(
      d.state,
      { type: "timer", timer: { kind: "collection_deadline" } },
      T0 + policy.collectionWindowMs,
    );
    expect(late.ignored).toEqual({ code: "timer_no_longer_due", detail: "deadline passed while paying_out" });
  });
});

describe("payout", () => {
  it("completes when every transfer is created: ledger, round ended, recipient told", () => {
    let d = collected();
    const effects = [];
    for (const m of ["m1", "m2", "m3"]) {
      d = step(d.state, { type: "transfer_created", sourceMemberId: m, attempt: 1, transferId: `tr_${m}` });
      effects.push(...d.effects);
    }
    expect(d.state.status).toBe("paid_out");
    expect(effects.filter((e) => e.kind === "post_ledger")).toHaveLength(3);
    expect(effects).toContainEqual(
      expect.objectContaining({ kind: "round_ended", outcome: { paidTo: "m1" } }),
    );
    expect(effects).toContainEqual(expect.objectContaining({ kind: "notify", template: "payout_sent" }));
  });

  it("a recipient who cannot receive blocks the round, pauses the group and tells recipient and admins", () => {
    const blocked = run(round(["m1", "m2"], false), [{ type: "open" }, succeeded("m1"), succeeded("m2")]);
    expect(blocked.state.status).toBe("payout_blocked");
    expect(kinds(blocked)).toEqual(expect.arrayContaining(["pause_group", "notify", "open_ticket"]));
    expect(blocked.effects.some((e) => e.kind === "transfer")).toBe(false);
    // account.updated: the account can now receive → the payout resumes.
    const resumed = step(blocked.state, { type: "recipient_readiness", canReceive: true });
    expect(resumed.state.status).toBe("paying_out");
    expect(resumed.effects.filter((e) => e.kind === "transfer")).toHaveLength(2);
  });

  it("a payout blocked by a refused transfer, while susu thought the account could receive, is tried again when the account says it can", () => {
    let d = collected();
    d = step(d.state, {
      type: "transfer_failed",
      sourceMemberId: "m1",
      attempt: 1,
      failureCode: "insufficient_capabilities_for_transfer",
    });
    expect(d.state).toMatchObject({ status: "payout_blocked", recipientCanReceive: true });
    const retried = step(d.state, { type: "recipient_readiness", canReceive: true });
    expect(retried.ignored).toBeUndefined();
    expect(retried.state.status).toBe("paying_out");
    expect(retried.effects.filter((e) => e.kind === "transfer").map((e) => e.id)).toEqual([
      "r1:transfer:m1:attempt:2",
    ]);
  });

  it("a permanently failed transfer blocks; resuming re-issues only the failed one, with a new key", async () => {
    let d = collected();
    d = step(d.state, { type: "transfer_created", sourceMemberId: "m1", attempt: 1, transferId: "tr_m1" });
    d = step(d.state, {
      type: "transfer_failed",
      sourceMemberId: "m2",
      attempt: 1,
      failureCode: "insufficient_capabilities_for_transfer",
    });
    expect(d.state.status).toBe("payout_blocked");
    const resumed = step(d.state, { type: "resume_payout" });
    expect(resumed.state.status).toBe("paying_out");
    // m3's transfer is still in flight under its first key: asking again under a new key could pay twice.
    expect(resumed.effects.filter((e) => e.kind === "transfer").map((e) => e.id)).toEqual([
      "r1:transfer:m2:attempt:2",
    ]);
    expect(resumed.effects).toContainEqual(expect.objectContaining({ kind: "resume_group" }));
    // The in-flight transfer lands under its own attempt and counts.
    const landed = step(resumed.state, {
      type: "transfer_created",
      sourceMemberId: "m3",
      attempt: 1,
      transferId: "tr_m3",
    });
    expect(landed.state.payouts.find((p) => p.sourceMemberId === "m3")?.status).toBe("created");
    const done = step(landed.state, {
      type: "transfer_created",
      sourceMemberId: "m2",
      attempt: 2,
      transferId: "tr_m2",
    });
    expect(done.state.status).toBe("paid_out");
  });

  it("a transfer that lands for an attempt recorded as failed is never ignored: a ticket says money moved", () => {
    let d = collected();
    d = step(d.state, {
      type: "transfer_failed",
      sourceMemberId: "m2",
      attempt: 1,
      failureCode: "account_invalid",
    });
    d = step(d.state, { type: "resume_payout" });
    const late = step(d.state, {
      type: "transfer_created",
      sourceMemberId: "m2",
      attempt: 1,
      transferId: "tr_ghost",
    });
    expect(late.ignored).toBeUndefined();
    expect(late.effects).toContainEqual(
      expect.objectContaining({ kind: "open_ticket", reason: "unexpected_money" }),
    );
  });

  it("no reassignment while a transfer is in flight (it could still reach the first recipient)", () => {
    let d = collected();
    d = step(d.state, {
      type: "transfer_failed",
      sourceMemberId: "m2",
      attempt: 1,
      failureCode: "account_invalid",
    });
    expect(d.state.status).toBe("payout_blocked");
    const refused = decide(
      d.state,
      { type: "reassign_payout", toMemberId: "m2", toCanReceive: true },
      ctx(T0),
    );
    expect(refused._unsafeUnwrapErr().code).toBe("payout_in_flight");
  });

  it("many transfers failing together use one retry of the budget, not one each", () => {
    let d = run(round(["m1", "m2", "m3", "m4", "m5"]), [
      { type: "open" },
      ...["m1", "m2", "m3", "m4", "m5"].map((m) => succeeded(m)),
    ]);
    for (const m of ["m1", "m2", "m3", "m4", "m5"])
      d = step(d.state, {
        type: "transfer_failed",
        sourceMemberId: m,
        attempt: 1,
        failureCode: "balance_insufficient",
      });
    expect(d.state.status).toBe("paying_out");
    expect(d.state.payoutFailures).toBe(1);
  });

  it("a dispute that drops the failed transfer which armed the retry does not let a second failure arm it again", () => {
    const failure = (m: string): RoundInput => ({
      type: "transfer_failed",
      sourceMemberId: m,
      attempt: 1,
      failureCode: "balance_insufficient",
    });
    const first = step(collected().state, failure("m1"));
    expect(first.effects.filter((e) => e.kind === "schedule_timer")).toHaveLength(1);
    const disputed = step(first.state, {
      type: "dispute_opened",
      memberId: "m1",
      disputeId: "dp_1",
      amountMinor: 10_000,
    });
    expect(disputed.state.payouts.map((p) => p.sourceMemberId)).toEqual(["m2", "m3"]);
    const second = step(disputed.state, failure("m2"), T0 + 60_000);
    expect(second.effects.filter((e) => e.kind === "schedule_timer")).toEqual([]);
    expect(second.state.payoutFailures).toBe(1);
  });

  it("a retryable transfer failure retries after backoff", () => {
    let d = collected();
    d = step(d.state, {
      type: "transfer_failed",
      sourceMemberId: "m2",
      attempt: 1,
      failureCode: "balance_insufficient",
    });
    expect(d.state.status).toBe("paying_out");
    expect(d.effects).toContainEqual(
      expect.objectContaining({ kind: "schedule_timer", timer: { kind: "retry_payout", attempt: 2 } }),
    );
  });

  it("an admin can reassign a blocked payout only before any transfer was created", () => {
    const blocked = run(round(["m1", "m2"], false), [{ type: "open" }, succeeded("m1"), succeeded("m2")]);
    const reassigned = step(blocked.state, { type: "reassign_payout", toMemberId: "m2", toCanReceive: true });
    expect(reassigned.state.recipientMemberId).toBe("m2");
    expect(reassigned.state.status).toBe("paying_out");
    expect(
      decide(
        blocked.state,
        { type: "reassign_payout", toMemberId: "x", toCanReceive: true },
        ctx(T0),
      )._unsafeUnwrapErr().code,
    ).toBe("invalid_reassignment");
    expect(decide(collected().state, { type: "resume_payout" }, ctx(T0))._unsafeUnwrapErr().code).toBe(
      "round_not_blocked",
    );
  });
});

describe("after payout", () => {
  it("a dispute records the loss against the member and opens a ticket, without clawing back", () => {
    let d = collected();
    for (const m of ["m1", "m2", "m3"])
      d = step(d.state, { type: "transfer_created", sourceMemberId: m, attempt: 1, transferId: `tr_${m}` });
    const disputed = step(d.state, {
      type: "dispute_opened",
      memberId: "m2",
      disputeId: "dp_1",
      amountMinor: 10_000,
    });
    expect(disputed.state.status).toBe("paid_out");
    expect(kinds(disputed)).toEqual(["post_ledger", "open_ticket", "notify"]);
    expect(disputed.effects.some((e) => e.kind === "transfer" || e.kind === "refund")).toBe(false);
    const twice = step(disputed.state, {
      type: "dispute_opened",
      memberId: "m2",
      disputeId: "dp_1",
      amountMinor: 10_000,
    });
    expect(twice.ignored).toEqual({ code: "duplicate_dispute", detail: "dispute dp_1 already recorded" });
  });
});

describe("money that moves unexpectedly is never ignored (review findings)", () => {
  it("a debit that succeeds after susu recorded it as failed is booked: the contribution while it is still owed, else ticketed", () => {
    const d = run(round(), [{ type: "open" }, processing("m2"), failed("m2", "account_closed")]);
    const postings = (effects: readonly RoundEffect[]) =>
      effects.flatMap((e) => (e.kind === "post_ledger" ? [e.transaction.kind] : []));
    // The round still collects and m2 owes: the late charge is their contribution.
    const owed = step(d.state, succeeded("m2"));
    expect(owed.ignored).toBeUndefined();
    expect(postings(owed.effects)).toEqual(["debit_initiated", "debit_settled"]);
    expect(owed.state.contributions.find((c) => c.memberId === "m2")?.status).toBe("succeeded");
    expect(owed.effects.some((e) => e.kind === "open_ticket" || e.kind === "refund")).toBe(false);
    // The round was cancelled meanwhile: a charge nothing counts, ticketed and refunded.
    const cancelled = step(d.state, { type: "cancel", reason: "admin" });
    const late = step(cancelled.state, succeeded("m2"));
    expect(late.ignored).toBeUndefined();
    expect(postings(late.effects)).toEqual(["debit_initiated", "debit_settled"]);
    expect(late.effects).toContainEqual(
      expect.objectContaining({ kind: "open_ticket", reason: "unexpected_money" }),
    );
  });

  it("partial reversals add up; the transfer counts as reversed only when all of it came back", () => {
    let d = collected();
    for (const m of ["m1", "m2", "m3"])
      d = step(d.state, { type: "transfer_created", sourceMemberId: m, attempt: 1, transferId: `tr_${m}` });
    const part = step(d.state, {
      type: "transfer_reversed",
      sourceMemberId: "m2",
      transferId: "tr_m2",
      amountMinor: 4_000,
    });
    expect(part.state.payouts.find((p) => p.sourceMemberId === "m2")).toMatchObject({
      status: "created",
      reversedMinor: 4_000,
    });
    const rest = step(part.state, {
      type: "transfer_reversed",
      sourceMemberId: "m2",
      transferId: "tr_m2",
      amountMinor: 6_000,
    });
    expect(rest.state.payouts.find((p) => p.sourceMemberId === "m2")).toMatchObject({
      status: "reversed",
      reversedMinor: 10_000,
    });
    expect(rest.effects.filter((e) => e.kind === "post_ledger")).toHaveLength(1);
    const tooMuch = step(rest.state, {
      type: "transfer_reversed",
      sourceMemberId: "m2",
      transferId: "tr_m2",
      amountMinor: 1,
    });
    expect(tooMuch.ignored).toEqual({
      code: "transfer_not_reversible",
      detail: "no transfer tr_m2 left to reverse",
    });
  });

  it("a refund that fails after it succeeded is ticketed, not ignored", () => {
    const d = run(round(), [{ type: "open" }, succeeded("m1"), failed("m3", "account_closed")]);
    const refunding = step(
      d.state,
      { type: "timer", timer: { kind: "collection_deadline" } },
      T0 + policy.collectionWindowMs,
    );
    const refunded = step(refunding.state, { type: "refund_succeeded", memberId: "m1", refundId: "re_1" });
    const reverted = step(refunded.state, {
      type: "refund_failed",
      memberId: "m1",
      failureCode: "refund_failed",
    });
    expect(reverted.ignored).toBeUndefined();
    expect(reverted.state.contributions.find((c) => c.memberId === "m1")?.status).toBe("refund_failed");
    expect(reverted.effects).toContainEqual(
      expect.objectContaining({ kind: "open_ticket", reason: "refund_failed" }),
    );
  });

  it("a late copy of a refund's success, after that refund failed, changes nothing and posts nothing", () => {
    const d = run(round(), [{ type: "open" }, succeeded("m1"), failed("m3", "account_closed")]);
    const refunding = step(
      d.state,
      { type: "timer", timer: { kind: "collection_deadline" } },
      T0 + policy.collectionWindowMs,
    );
    const success: RoundInput = { type: "refund_succeeded", memberId: "m1", refundId: "re_1" };
    const refunded = step(refunding.state, success);
    const reverted = step(refunded.state, {
      type: "refund_failed",
      memberId: "m1",
      failureCode: "refund_failed",
    });
    const stale = step(reverted.state, success, T0 + policy.collectionWindowMs + DAY_MS);
    // The failed refund is out of the books (no refundId kept): the detail names the attempt.
    expect(stale.ignored).toEqual({
      code: "no_refund_pending",
      detail: "refund attempt 1 of m1 failed; its success (re_1) was reported before the failure",
    });
    expect(stale.effects).toEqual([]);
    expect(stale.state.contributions.find((c) => c.memberId === "m1")?.status).toBe("refund_failed");
    // A success of the failed attempt under another refund id is older news too (Stripe's
    // failed is final): only a new attempt pays the member.
    const unknown = step(reverted.state, { type: "refund_succeeded", memberId: "m1", refundId: "re_2" });
    expect(unknown.ignored?.code).toBe("no_refund_pending");
    // A new refund (an admin's retry, attempt 2) that succeeds settles the contribution: the
    // failed one was taken out of the books, so this one is posted, under its attempt's id.
    const retried = step(reverted.state, { type: "retry_refund", memberId: "m1" });
    const again = step(retried.state, {
      type: "refund_succeeded",
      memberId: "m1",
      refundId: "re_2",
      attempt: 2,
    });
    expect(again.state.contributions.find((c) => c.memberId === "m1")).toMatchObject({
      status: "refunded",
      refundId: "re_2",
    });
    expect(again.effects.flatMap((e) => (e.kind === "post_ledger" ? [e.id] : []))).toEqual([
      "r1:refund:m1:attempt:2:ledger",
    ]);
  });

  it("a dispute while settled re-arms the deadline under a new timer id, or refunds if the deadline has passed", () => {
    const delayed = { ...policy, payoutDelayMs: DAY_MS };
    let s = round();
    for (const i of [{ type: "open" } as const, succeeded("m1"), succeeded("m2"), succeeded("m3")])
      s = step(s, i, T0, delayed).state;
    expect(s.status).toBe("settled");
    const dispute: RoundInput = {
      type: "dispute_opened",
      memberId: "m2",
      disputeId: "dp_1",
      amountMinor: 10_000,
    };
    const early = step({ ...s, version: 4 }, dispute, T0 + DAY_MS / 2, delayed);
    expect(early.state.status).toBe("collecting");
    expect(early.effects).toContainEqual(
      expect.objectContaining({
        kind: "schedule_timer",
        id: "r1:timer:collection_deadline:v4",
        at: T0 + policy.collectionWindowMs,
      }),
    );
    const late = step(s, dispute, T0 + policy.collectionWindowMs + 1, delayed);
    expect(late.state.status).toBe("refunding");
  });

  it("each settling arms its own payout timer id", () => {
    const delayed = { ...policy, payoutDelayMs: DAY_MS };
    let s = round();
    for (const i of [{ type: "open" } as const, succeeded("m1"), succeeded("m2")])
      s = step(s, i, T0, delayed).state;
    const settled = step({ ...s, version: 7 }, succeeded("m3"), T0, delayed);
    expect(settled.effects).toContainEqual(
      expect.objectContaining({ kind: "schedule_timer", id: "r1:timer:payout_due:v7" }),
    );
  });
});

describe("a dispute while the payout is in progress", () => {
  it("a contribution whose transfer failed and has not left the pot is withdrawn, not paid out", () => {
    let d = collected();
    d = step(d.state, { type: "transfer_created", sourceMemberId: "m1", attempt: 1, transferId: "tr_m1" });
    d = step(d.state, { type: "transfer_created", sourceMemberId: "m3", attempt: 1, transferId: "tr_m3" });
    d = step(d.state, {
      type: "transfer_failed",
      sourceMemberId: "m2",
      attempt: 1,
      failureCode: "balance_insufficient",
    });
    const disputed = step(d.state, {
      type: "dispute_opened",
      memberId: "m2",
      disputeId: "dp_9",
      amountMinor: 10_000,
    });
    expect(disputed.state.contributions.find((c) => c.memberId === "m2")?.status).toBe("disputed");
    expect(disputed.effects.find((e) => e.kind === "post_ledger")).toMatchObject({
      transaction: { kind: "contribution_refunded" },
    });
    // Everything else has arrived: the round is paid out, with no transfer funded by the disputed charge.
    expect(disputed.state.status).toBe("paid_out");
    const retried = step(disputed.state, { type: "timer", timer: { kind: "retry_payout", attempt: 2 } });
    expect(retried.ignored).toEqual({ code: "timer_no_longer_due", detail: "payout retry 2 no longer due" });
  });

  it("a contribution disputed while the payout is blocked before any transfer is withdrawn, not paid out later", () => {
    // The recipient cannot receive: the round blocks before asking for a single transfer.
    const blocked = run(round(["m1", "m2", "m3"], false), [
      { type: "open" },
      succeeded("m1"),
      succeeded("m2"),
      succeeded("m3"),
    ]);
    expect(blocked.state).toMatchObject({ status: "payout_blocked", payouts: [] });
    const disputed = step(blocked.state, {
      type: "dispute_opened",
      memberId: "m2",
      disputeId: "dp_7",
      amountMinor: 10_000,
    });
    // The money never left the pot: the bank took it back out of the pot, as before a payout.
    expect(disputed.state.contributions.find((c) => c.memberId === "m2")?.status).toBe("disputed");
    expect(disputed.effects.find((e) => e.kind === "post_ledger")).toMatchObject({
      transaction: { kind: "contribution_refunded" },
    });
    // The account is fixed: the pot paid out is what is left in it, with no transfer funded by the disputed charge.
    const resumed = step(disputed.state, { type: "recipient_readiness", canReceive: true });
    expect(resumed.state.status).toBe("paying_out");
    expect(resumed.effects.filter((e) => e.kind === "transfer").map((e) => e.id)).toEqual([
      "r1:transfer:m1:attempt:1",
      "r1:transfer:m3:attempt:1",
    ]);
  });
});

describe("a bug throws; it is never an outcome", () => {
  it("a posting the ledger would refuse (a dispute of nothing, which Stripe never sends) throws", () => {
    const paying = collected().state;
    const nothing: RoundInput = { type: "dispute_opened", memberId: "m2", disputeId: "dp_0", amountMinor: 0 };
    expect(() => decide(paying, nothing, ctx(T0))).toThrow(/posting was refused.*bug/);
  });
});

describe("one meaning per field", () => {
  it("why a round is refunding or cancelled is its cancellationReason; blockedReason stays unset", () => {
    const d = run(round(), [
      { type: "open" },
      succeeded("m1"),
      succeeded("m2"),
      failed("m3", "account_closed"),
    ]);
    const refunding = step(
      d.state,
      { type: "timer", timer: { kind: "collection_deadline" } },
      T0 + policy.collectionWindowMs,
    );
    const reason = "the collection deadline passed before every contribution succeeded";
    expect(refunding.state).toMatchObject({ status: "refunding", cancellationReason: reason });
    expect(refunding.state.blockedReason).toBeUndefined();
    const cancelled = run(refunding.state, [
      { type: "refund_succeeded", memberId: "m1", refundId: "re_1" },
      { type: "refund_succeeded", memberId: "m2", refundId: "re_2" },
    ]);
    expect(cancelled.state).toMatchObject({ status: "cancelled", cancellationReason: reason });
    expect(cancelled.effects).toContainEqual(
      expect.objectContaining({
        template: "round_cancelled",
        data: { roundId: "r1", currency: "AUD", reason },
      }),
    );
  });

  it("blockedReason says why the payout is blocked, and goes when the block ends", () => {
    const blocked = run(round(["m1", "m2"], false), [{ type: "open" }, succeeded("m1"), succeeded("m2")]);
    expect(blocked.state.blockedReason).toBe("the recipient's account cannot receive transfers yet");
    expect(blocked.state.cancellationReason).toBeUndefined();
    const resumed = step(blocked.state, { type: "recipient_readiness", canReceive: true });
    expect(resumed.state.status).toBe("paying_out");
    expect(resumed.state).not.toHaveProperty("blockedReason");
  });
});

describe("a failed refund is retried (retry_refund)", () => {
  const deadline = T0 + policy.collectionWindowMs;
  const refundSucceeded = (m: string, refundId: string, attempt?: number): RoundInput => ({
    type: "refund_succeeded",
    memberId: m,
    refundId,
    ...(attempt !== undefined ? { attempt } : {}),
  });
  const refundFailed = (m: string, attempt?: number): RoundInput => ({
    type: "refund_failed",
    memberId: m,
    failureCode: "charge_expired_for_refund",
    ...(attempt !== undefined ? { attempt } : {}),
  });
  /** The reviewer's round: m1 and m2 paid, m3 failed for good, the deadline passed, m1's refund landed and m2's failed. */
  function stuck(): { state: Round; effects: RoundDecision["effects"] } {
    const collecting = run(round(), [
      { type: "open" },
      processing("m1"),
      succeeded("m1"),
      processing("m2"),
      succeeded("m2"),
      failed("m3", "account_closed"),
    ]);
    const refunding = step(
      collecting.state,
      { type: "timer", timer: { kind: "collection_deadline" } },
      deadline,
    );
    const after = run(refunding.state, [refundSucceeded("m1", "re_m1"), refundFailed("m2")], deadline);
    return { state: after.state, effects: [...collecting.effects, ...refunding.effects, ...after.effects] };
  }
  const postings = (effects: RoundDecision["effects"]) =>
    effects.flatMap((e) => (e.kind === "post_ledger" ? [e.transaction] : []));
  const contribution = (r: Round, m: string) => r.contributions.find((c) => c.memberId === m);

  it("the stuck round: a failed refund kept it refunding, and no other command moves it", () => {
    const { state, effects } = stuck();
    expect(state.status).toBe("refunding");
    expect(contribution(state, "m2")).toMatchObject({ status: "refund_failed" });
    // The ticket and the admins' notice say how to get out.
    const ticket = effects.find((e) => e.kind === "open_ticket" && e.reason === "refund_failed");
    expect(ticket).toMatchObject({ id: "r1:ticket:refund_failed:m2" });
    expect(ticket?.kind === "open_ticket" && ticket.summary).toContain(
      "retry_refund (POST /v1/rounds/r1/contributions/m2/retry-refund)",
    );
    expect(effects).toContainEqual(
      expect.objectContaining({
        kind: "notify",
        id: "r1:notify:refund_failed:m2",
        template: "refund_failed",
        data: expect.objectContaining({
          memberId: "m2",
          attempt: 1,
          retryWith: "POST /v1/rounds/r1/contributions/m2/retry-refund",
        }),
      }),
    );
    const refused = (input: RoundInput) =>
      decide(state, input, ctx(deadline + DAY_MS))._unsafeUnwrapErr().code;
    expect(refused({ type: "cancel", reason: "x" })).toBe("round_not_cancellable");
    expect(refused({ type: "retry_contribution", memberId: "m2" })).toBe("contribution_not_retryable");
    expect(refused({ type: "resume_payout" })).toBe("round_not_blocked");
    expect(refused({ type: "extend_deadline", deadline: deadline + 7 * DAY_MS })).toBe(
      "deadline_not_extendable",
    );
  });

  it("asks Stripe for a new refund under a new id, and the round ends cancelled with an empty pot", () => {
    const before = stuck();
    const retried = step(before.state, { type: "retry_refund", memberId: "m2" }, deadline + DAY_MS);
    expect(retried.effects).toEqual([
      {
        kind: "refund",
        id: "r1:refund:m2:attempt:2",
        roundId: "r1",
        groupId: "g1",
        memberId: "m2",
        attempt: 2,
        paymentIntentId: "pi_m2_1",
        amountMinor: 10_000,
        currency: "AUD",
      },
    ]);
    expect(retried.state.status).toBe("refunding");
    expect(contribution(retried.state, "m2")).toMatchObject({ status: "refund_requested", refundAttempt: 2 });
    const done = step(retried.state, refundSucceeded("m2", "re_m2_2", 2), deadline + DAY_MS);
    expect(done.state.status).toBe("cancelled");
    expect(contribution(done.state, "m2")).toMatchObject({ status: "refunded", refundId: "re_m2_2" });
    expect(done.effects).toContainEqual(
      expect.objectContaining({ kind: "round_ended", outcome: { cancelled: true } }),
    );
    // The ledger balances, the pot is empty, and each contribution was refunded once.
    const txs = postings([...before.effects, ...retried.effects, ...done.effects]);
    const ledger = ledgerFromTransactions(txs)._unsafeUnwrap();
    expect(checkRoundMoney(ledger, "r1", "AUD")._unsafeUnwrap()).toMatchObject({
      contributedMinor: 20_000,
      inFlightMinor: 0,
      heldMinor: 0,
      refundedMinor: 20_000,
      paidOutMinor: 0,
    });
    // m2's refund is posted by the attempt that landed.
    expect(txs.filter((t) => t.kind === "contribution_refunded").map((t) => t.id)).toEqual([
      "r1:refund:m1:ledger",
      "r1:refund:m2:attempt:2:ledger",
    ]);
  });

  it("late news of the replaced attempt changes nothing, before or after the new one lands", () => {
    const retried = step(stuck().state, { type: "retry_refund", memberId: "m2" }).state;
    const superseded = {
      code: "refund_attempt_superseded",
      detail: "refund attempt 1 of m2 was replaced by attempt 2",
    };
    // Attempt 1's refunds carry no attempt in their metadata: its facts come without one.
    for (const late of [refundFailed("m2"), refundFailed("m2", 1), refundSucceeded("m2", "re_m2_1")])
      expect(step(retried, late)).toEqual({ state: retried, effects: [], ignored: superseded });
    const done = step(retried, refundSucceeded("m2", "re_m2_2", 2)).state;
    expect(done.status).toBe("cancelled");
    expect(step(done, refundFailed("m2"))).toEqual({ state: done, effects: [], ignored: superseded });
    // A success of an attempt never asked for is not this refund either.
    expect(step(retried, refundSucceeded("m2", "re_x", 3)).ignored).toEqual({
      code: "no_refund_pending",
      detail: "no refund attempt 3 for m2",
    });
  });

  it("a retry that fails again opens a new ticket, and can be retried again", () => {
    const retried = step(stuck().state, { type: "retry_refund", memberId: "m2" }).state;
    const failedAgain = step(retried, refundFailed("m2", 2));
    expect(failedAgain.state.status).toBe("refunding");
    expect(contribution(failedAgain.state, "m2")).toMatchObject({
      status: "refund_failed",
      refundAttempt: 2,
    });
    expect(failedAgain.effects.map((e) => e.id)).toEqual([
      "r1:ticket:refund_failed:m2:attempt:2",
      "r1:notify:refund_failed:m2:attempt:2",
    ]);
    const third = step(failedAgain.state, { type: "retry_refund", memberId: "m2" });
    expect(third.effects.map((e) => e.id)).toEqual(["r1:refund:m2:attempt:3"]);
    expect(step(third.state, refundSucceeded("m2", "re_m2_3", 3)).state.status).toBe("cancelled");
  });

  it("a refund that failed after it succeeded is taken out of the books, and the retry that lands is posted", () => {
    const collecting = run(round(), [
      { type: "open" },
      succeeded("m1"),
      succeeded("m2"),
      failed("m3", "account_closed"),
    ]);
    const refunding = step(
      collecting.state,
      { type: "timer", timer: { kind: "collection_deadline" } },
      deadline,
    );
    const reverted = run(refunding.state, [refundSucceeded("m1", "re_m1_1"), refundFailed("m1")]);
    expect(reverted.state.status).toBe("refunding");
    const retried = step(reverted.state, { type: "retry_refund", memberId: "m1" });
    expect(retried.effects.map((e) => e.id)).toEqual(["r1:refund:m1:attempt:2"]);
    const landed = run(retried.state, [refundSucceeded("m1", "re_m1_2", 2), refundSucceeded("m2", "re_m2")]);
    expect(landed.state.status).toBe("cancelled");
    const txs = postings([
      ...collecting.effects,
      ...refunding.effects,
      ...reverted.effects,
      ...landed.effects,
    ]);
    expect(txs.filter((t) => t.kind === "contribution_refunded").map((t) => t.id)).toEqual([
      "r1:refund:m1:ledger",
      "r1:refund:m1:attempt:2:ledger",
      "r1:refund:m2:ledger",
    ]);
    expect(txs.filter((t) => t.kind === "contribution_refund_failed").map((t) => t.id)).toEqual([
      "r1:refund:m1:ledger:failed",
    ]);
    expect(
      checkRoundMoney(ledgerFromTransactions(txs)._unsafeUnwrap(), "r1", "AUD")._unsafeUnwrap(),
    ).toMatchObject({ heldMinor: 0, refundedMinor: 20_000 });
  });

  it("is refused when no refund of that member failed, and for someone not in the round", () => {
    const { state } = stuck();
    const refused = (r: Round, memberId: string) =>
      decide(r, { type: "retry_refund", memberId }, ctx(deadline))._unsafeUnwrapErr();
    expect(refused(state, "m1")).toEqual({
      type: "no_failed_refund",
      code: "no_failed_refund",
      message:
        "no refund of m1 waits for a retry: neither the contribution's (retried in a refunding or cancelled round) nor a surplus charge's (the round is refunding, the contribution refunded)",
    });
    expect(refused(state, "m3").code).toBe("no_failed_refund");
    expect(refused(step(state, { type: "retry_refund", memberId: "m2" }).state, "m2").code).toBe(
      "no_failed_refund",
    );
    expect(refused(collected().state, "m1").code).toBe("no_failed_refund");
    expect(refused(state, "zz").code).toBe("contribution_not_found");
  });
});

describe("every input decide ignores says why, with a code", () => {
  const opened = () => step(round(), { type: "open" }).state;
  const after = (...inputs: RoundInput[]) => run(round(), [{ type: "open" }, ...inputs]).state;
  const paying = () => collected().state;
  const created = (m: string, attempt = 1): RoundInput => ({
    type: "transfer_created",
    sourceMemberId: m,
    attempt,
    transferId: `tr_${m}`,
  });
  const paid = () => run(paying(), [created("m1"), created("m2"), created("m3")]).state;
  const dispute: RoundInput = {
    type: "dispute_opened",
    memberId: "m2",
    disputeId: "dp_1",
    amountMinor: 10_000,
  };
  const timer = (t: Extract<RoundInput, { type: "timer" }>["timer"]): RoundInput => ({
    type: "timer",
    timer: t,
  });
  const refunding = () =>
    step(
      after(succeeded("m1"), failed("m3", "account_closed")),
      timer({ kind: "collection_deadline" }),
      T0 + policy.collectionWindowMs,
    ).state;
  const retried = () =>
    step(
      after(processing("m2"), failed("m2", "insufficient_funds")),
      timer({ kind: "retry_debit", memberId: "m2", attempt: 2 }),
    ).state;

  const cases: [string, () => Round, RoundInput, RoundIgnoredCode, string][] = [
    ["open, twice", opened, { type: "open" }, "round_not_scheduled", "round is collecting, not scheduled"],
    [
      "processing of an attempt never asked for",
      opened,
      processing("m2", 2),
      "no_such_attempt",
      "no debit attempt 2 for m2",
    ],
    [
      "processing for someone not in the round",
      opened,
      processing("zz"),
      "no_such_attempt",
      "no debit attempt 1 for zz",
    ],
    [
      "processing, twice",
      () => after(processing("m2")),
      processing("m2"),
      "attempt_already_processing",
      "debit attempt is already processing",
    ],
    [
      "processing after the success",
      () => after(succeeded("m2")),
      processing("m2"),
      "attempt_already_settled",
      "debit attempt is already succeeded",
    ],
    [
      "success of an attempt never asked for",
      opened,
      succeeded("m2", 2),
      "no_such_attempt",
      "no debit attempt 2 for m2",
    ],
    [
      "success, twice",
      () => after(succeeded("m2")),
      succeeded("m2"),
      "attempt_already_settled",
      "debit attempt is already succeeded",
    ],
    [
      "failure of an attempt never asked for",
      opened,
      failed("m2", "insufficient_funds", 3),
      "no_such_attempt",
      "no debit attempt 3 for m2",
    ],
    [
      "failure after the success",
      () => after(succeeded("m2")),
      failed("m2", "insufficient_funds"),
      "attempt_already_settled",
      "debit attempt is already succeeded",
    ],
    [
      "failure, twice",
      () => after(failed("m2", "account_closed")),
      failed("m2", "account_closed"),
      "attempt_already_settled",
      "debit attempt is already failed",
    ],
    [
      "the deadline once paying out",
      paying,
      timer({ kind: "collection_deadline" }),
      "timer_no_longer_due",
      "deadline passed while paying_out",
    ],
    [
      "the grace end once paying out",
      paying,
      timer({ kind: "grace_end" }),
      "timer_no_longer_due",
      "grace ended while paying_out",
    ],
    [
      "a debit retry once refunding",
      refunding,
      timer({ kind: "retry_debit", memberId: "m3", attempt: 2 }),
      "timer_no_longer_due",
      "retry timer while refunding",
    ],
    [
      "a debit retry already made",
      retried,
      timer({ kind: "retry_debit", memberId: "m2", attempt: 2 }),
      "timer_no_longer_due",
      "retry 2 for m2 no longer due",
    ],
    [
      "the payout timer once paying out",
      paying,
      timer({ kind: "payout_due" }),
      "timer_no_longer_due",
      "payout timer while paying_out",
    ],
    [
      "a payout retry not due",
      paying,
      timer({ kind: "retry_payout", attempt: 3 }),
      "timer_no_longer_due",
      "payout retry 3 no longer due",
    ],
    [
      "the deadline armed before an extension",
      () => step(opened(), { type: "extend_deadline", deadline: T0 + 30 * DAY_MS }).state,
      timer({ kind: "collection_deadline" }),
      "timer_no_longer_due",
      "the deadline was extended after this timer was armed",
    ],
    [
      "a grace end armed before an extension",
      () => step(opened(), { type: "extend_deadline", deadline: T0 + 30 * DAY_MS }).state,
      timer({ kind: "grace_end" }),
      "timer_no_longer_due",
      "the deadline was extended after this grace period began",
    ],
    [
      "a refund success with no refund asked for",
      paying,
      { type: "refund_succeeded", memberId: "m1", refundId: "re_1" },
      "no_refund_pending",
      "no refund pending for m1",
    ],
    [
      "a refund failure of an attempt a retry replaced",
      () =>
        run(refunding(), [
          { type: "refund_failed", memberId: "m1", failureCode: "x" },
          { type: "retry_refund", memberId: "m1" },
        ]).state,
      { type: "refund_failed", memberId: "m1", failureCode: "x" },
      "refund_attempt_superseded",
      "refund attempt 1 of m1 was replaced by attempt 2",
    ],
    [
      "a refund failure with no refund asked for",
      paying,
      { type: "refund_failed", memberId: "m1", failureCode: "x" },
      "no_refund_pending",
      "no refund pending for m1",
    ],
    ["a transfer before the payout", opened, created("m1"), "no_such_transfer", "no transfer from m1"],
    [
      "a transfer attempt never asked for",
      paying,
      created("m1", 2),
      "no_such_transfer",
      "no transfer attempt 2 from m1",
    ],
    ["a transfer created twice", paid, created("m1"), "transfer_already_created", "transfer already created"],
    [
      "a transfer failure no longer awaited",
      paid,
      { type: "transfer_failed", sourceMemberId: "m1", attempt: 1, failureCode: "x" },
      "transfer_not_pending",
      "no pending transfer attempt 1 from m1",
    ],
    [
      "readiness as it was",
      opened,
      { type: "recipient_readiness", canReceive: true },
      "readiness_unchanged",
      "recipient readiness unchanged",
    ],
    [
      "a reversal of a transfer not made",
      paying,
      { type: "transfer_reversed", sourceMemberId: "m1", transferId: "tr_x", amountMinor: 1 },
      "transfer_not_reversible",
      "no transfer tr_x left to reverse",
    ],
    [
      "a reversal of nothing",
      paid,
      { type: "transfer_reversed", sourceMemberId: "m1", transferId: "tr_m1", amountMinor: 0 },
      "reversal_amount_invalid",
      "reversal of 0 exceeds what is left of transfer tr_m1",
    ],
    [
      "a reversal of more than was sent",
      paid,
      { type: "transfer_reversed", sourceMemberId: "m1", transferId: "tr_m1", amountMinor: 10_001 },
      "reversal_amount_invalid",
      "reversal of 10001 exceeds what is left of transfer tr_m1",
    ],
    [
      "a dispute from someone not in the round",
      paying,
      { ...dispute, memberId: "zz" },
      "no_such_contribution",
      "zz does not contribute to this round",
    ],
    [
      "a dispute, twice",
      () => step(paid(), dispute).state,
      dispute,
      "duplicate_dispute",
      "dispute dp_1 already recorded",
    ],
    [
      "a dispute's closure won, twice",
      () => step(step(paid(), dispute).state, { ...dispute, type: "dispute_won" }).state,
      { ...dispute, type: "dispute_won" },
      "dispute_already_closed",
      "dispute dp_1 was closed won already",
    ],
  ];

  it.each(cases)("%s", (_, before, input, code, detail) => {
    const state = before();
    expect(step(state, input)).toEqual({ state, effects: [], ignored: { code, detail } });
  });

  it("the cases above use every code", () => {
    expect(new Set(cases.map(([, , , code]) => code))).toEqual(new Set(ROUND_IGNORED_CODES));
  });
});

describe("extending the collection deadline", () => {
  const window = policy.collectionWindowMs;
  const extend = (deadline: number): RoundInput => ({ type: "extend_deadline", deadline });
  const deadlineTimer: RoundInput = { type: "timer", timer: { kind: "collection_deadline" } };

  it("refuses a deadline past the longest a round may collect (60 days after opening), saying the latest allowed; nothing changes", () => {
    const opened = step(round(), { type: "open" }).state;
    const latest = T0 + 60 * DAY_MS;
    const far = decide(opened, extend(Date.UTC(9999, 11, 31)), ctx(T0 + DAY_MS));
    expect(far._unsafeUnwrapErr().code).toBe("deadline_not_extendable");
    expect(far._unsafeUnwrapErr().message).toContain(new Date(latest).toISOString());
    expect(decide(opened, extend(latest + 1), ctx(T0 + DAY_MS))._unsafeUnwrapErr().code).toBe(
      "deadline_not_extendable",
    );
    expect(step(opened, extend(latest), T0 + DAY_MS).state.collectionDeadlineAt).toBe(latest);
    // A group's own policy may allow less.
    const shorter = { ...policy, maxCollectionMs: 20 * DAY_MS };
    expect(decide(opened, extend(T0 + 21 * DAY_MS), ctx(T0 + DAY_MS, shorter))._unsafeUnwrapErr().code).toBe(
      "deadline_not_extendable",
    );
  });

  it("moves the deadline and arms a timer under a new id; the old timer is ignored when it fires", () => {
    const opened = { ...step(round(), { type: "open" }).state, version: 3 };
    const later = T0 + window + 2 * DAY_MS;
    const d = step(opened, extend(later), T0 + DAY_MS);
    expect(d.state).toMatchObject({ status: "collecting", collectionDeadlineAt: later });
    expect(d.effects).toEqual([
      {
        kind: "schedule_timer",
        id: "r1:timer:collection_deadline:v3",
        aggregate: "round",
        aggregateId: "r1",
        at: later,
        timer: { kind: "collection_deadline", extension: 1 },
      },
    ]);
    expect(d.state.deadlineExtensions).toBe(1);
    // The first timer still fires at the old deadline: it is stale, whatever the clocks say.
    const old = step(d.state, deadlineTimer, later + 1);
    expect(old.ignored).toEqual({
      code: "timer_no_longer_due",
      detail: "the deadline was extended after this timer was armed",
    });
    // Members can still be retried until the new deadline, and it refunds at the new one.
    const failedOne = step(d.state, failed("m2", "account_closed"), T0 + DAY_MS);
    const retried = step(
      failedOne.state,
      { type: "retry_contribution", memberId: "m2", mandateActive: true },
      T0 + window + DAY_MS,
    );
    expect(retried.state.contributions.find((c) => c.memberId === "m2")?.attempts).toHaveLength(2);
    const newTimer: RoundInput = { type: "timer", timer: { kind: "collection_deadline", extension: 1 } };
    const refunding = step(failedOne.state, newTimer, later);
    expect(refunding.state.status).toBe("refunding");
    // Extended twice: the first extension's timer is stale too.
    const twice = step({ ...d.state, version: 4 }, extend(later + DAY_MS), T0 + DAY_MS);
    expect(twice.effects).toEqual([
      expect.objectContaining({
        id: "r1:timer:collection_deadline:v4",
        timer: { kind: "collection_deadline", extension: 2 },
      }),
    ]);
    expect(step(twice.state, newTimer, later).ignored?.code).toBe("timer_no_longer_due");
  });

  it("ends a grace period the old deadline started: its timer is ignored, the new deadline decides", () => {
    const d = run(round(), [{ type: "open" }, succeeded("m1"), succeeded("m2"), processing("m3")]);
    const waiting = step(d.state, deadlineTimer, T0 + window);
    expect(waiting.state.graceEndsAt).toBeDefined();
    const later = T0 + window + 5 * DAY_MS;
    const extended = step(waiting.state, extend(later), T0 + window + 1);
    expect(extended.state.graceEndsAt).toBeUndefined();
    const graceEnd = step(
      extended.state,
      { type: "timer", timer: { kind: "grace_end" } },
      T0 + window + DAY_MS * 3,
    );
    expect(graceEnd.ignored?.code).toBe("timer_no_longer_due");
    const paid = step(extended.state, succeeded("m3"), T0 + window + 4 * DAY_MS);
    expect(paid.state.status).toBe("paying_out");
    // At the new deadline, debits still processing get a grace period of their own, under a new timer id.
    const graceAgain = step(
      { ...extended.state, version: 7 },
      { type: "timer", timer: { kind: "collection_deadline", extension: 1 } },
      later,
    );
    expect(graceAgain.effects).toEqual([
      expect.objectContaining({
        id: "r1:timer:grace_end:v7",
        at: later + policy.settlementGraceMs,
        timer: { kind: "grace_end", extension: 1 },
      }),
    ]);
  });

  it("while settled, moves the deadline without a timer (a dispute re-arms it at the new deadline)", () => {
    const delayed = { ...policy, payoutDelayMs: DAY_MS };
    let s = round();
    for (const i of [{ type: "open" } as const, succeeded("m1"), succeeded("m2"), succeeded("m3")])
      s = step(s, i, T0, delayed).state;
    expect(s.status).toBe("settled");
    const later = T0 + window + DAY_MS;
    const d = step(s, extend(later), T0, delayed);
    expect(d.state).toMatchObject({ status: "settled", collectionDeadlineAt: later });
    expect(d.effects).toEqual([]);
    const disputed = step(
      { ...d.state, version: 6 },
      { type: "dispute_opened", memberId: "m2", disputeId: "dp_1", amountMinor: 10_000 },
      T0 + window + 1,
      delayed,
    );
    expect(disputed.state.status).toBe("collecting");
    expect(disputed.effects).toContainEqual(
      expect.objectContaining({ kind: "schedule_timer", id: "r1:timer:collection_deadline:v6", at: later }),
    );
  });

  it("refuses a deadline that is not later than the current one or than now (invalid_deadline)", () => {
    const opened = step(round(), { type: "open" }).state;
    const current = T0 + window;
    for (const [deadline, now] of [
      [current, T0],
      [current - 1, T0],
      [current + DAY_MS, current + 2 * DAY_MS],
      [Number.NaN, T0],
    ] as const) {
      const r = decide(opened, extend(deadline), ctx(now));
      expect(r._unsafeUnwrapErr().code, String(deadline)).toBe("invalid_deadline");
    }
  });

  it("refuses outside collecting and settled (deadline_not_extendable)", () => {
    const scheduled = round();
    const paying = collected().state;
    const refunding = step(
      run(round(), [{ type: "open" }, failed("m3", "account_closed")]).state,
      deadlineTimer,
      T0 + window,
    ).state;
    for (const state of [scheduled, paying, refunding]) {
      const r = decide(state, extend(T0 + 30 * DAY_MS), ctx(T0 + window));
      expect(r._unsafeUnwrapErr(), state.status).toMatchObject({
        code: "deadline_not_extendable",
        message: `the round is ${state.status}; only a collecting round has a deadline`,
      });
    }
  });
});
