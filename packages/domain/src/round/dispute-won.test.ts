// A member's dispute that Stripe closes `won` (charge.dispute.closed): the bank gave the money
// back to the platform's Stripe balance. Whether a BECS dispute can end so is not documented;
// if one does, the round books the money back, to whoever is owed it, once.
import { describe, expect, it } from "vitest";
import {
  balanceOf,
  checkRoundMoney,
  type LedgerTransaction,
  ledgerFromTransactions,
  roundAccounts,
} from "../ledger/index.js";
import { money } from "../money/index.js";
import { decideRoundOwedPayment } from "../owed/round-owed.js";
import { DEFAULT_ROUND_POLICY } from "../policy/round-policy.js";
import { DAY_MS } from "../shared/time.js";
import {
  debitFailed as failed,
  debitProcessing as processing,
  debitSucceeded as succeeded,
} from "../testing/mothers.js";
import { surplusLandedBesideWithdrawal } from "../testing/round-old-releases.js";
import { decide, type RoundDecision } from "./decide.js";
import { newRound, type Round } from "./round.js";
import type { RoundEffect } from "./round-effect.js";
import type { RoundInput } from "./round-input.js";

const T0 = Date.UTC(2026, 0, 5);
const policy = DEFAULT_ROUND_POLICY;
const deadline = T0 + policy.collectionWindowMs;

class Run {
  readonly effects: RoundEffect[] = [];
  constructor(public state: Round) {}

  step(input: RoundInput, now = T0): RoundDecision {
    const r = decide(this.state, input, { now, policy });
    if (r.isErr()) throw new Error(`${r.error.code}: ${r.error.message}`);
    this.state = r.value.state;
    this.effects.push(...r.value.effects);
    return r.value;
  }

  contribution(m: string) {
    return this.state.contributions.find((c) => c.memberId === m);
  }

  surplus(m: string, attempt: number) {
    return this.contribution(m)?.attempts.find((a) => a.number === attempt)?.surplus;
  }

  #ledger() {
    const txs = new Map<string, LedgerTransaction>(
      this.effects.flatMap((e) => (e.kind === "post_ledger" ? [[e.transaction.id, e.transaction]] : [])),
    );
    return ledgerFromTransactions([...txs.values()])._unsafeUnwrap();
  }

  money() {
    return checkRoundMoney(this.#ledger(), "r1", "AUD")._unsafeUnwrap();
  }

  /** What the member owes the platform (dispute losses). */
  memberOwes(m: string): number {
    return balanceOf(this.#ledger(), roundAccounts.member(m), "AUD").amountMinor;
  }

  /**
   * m1's surplus charge's refund (attempt 1), out beside a dispute, lands as the release that
   * recorded `withdrawnBooked` booked it: only the rest of the charge posted beside the withdrawal.
   */
  landedAsBefore(refundId: string, now: number): void {
    const old = surplusLandedBesideWithdrawal(this.state, "m1", 1, refundId, now, "kept");
    this.state = old.state;
    this.effects.push(...old.effects);
  }

  /** The postings whose id names `part`, as [id, kind]. */
  posted(part: string) {
    return this.effects.flatMap((e) =>
      e.kind === "post_ledger" && e.id.includes(part) ? [[e.id, e.transaction.kind]] : [],
    );
  }
}

function round(members: readonly string[] = ["m1", "m2"]): Round {
  return newRound({
    id: "r1",
    groupId: "g1",
    rotation: 1,
    sequence: 0,
    recipientMemberId: "m1",
    recipientCanReceive: true,
    contributorIds: [...members],
    currency: "AUD",
    contributionMinor: 10_000,
    scheduledFor: T0,
  })._unsafeUnwrap();
}

const opened = (amountMinor: number, attempt = 1, disputeId = "dp_1"): RoundInput => ({
  type: "dispute_opened",
  memberId: "m1",
  disputeId,
  amountMinor,
  attempt,
  paymentIntentId: `pi_m1_${attempt}`,
});
const won = (amountMinor: number, attempt = 1, disputeId = "dp_1"): RoundInput => ({
  type: "dispute_won",
  memberId: "m1",
  disputeId,
  amountMinor,
  attempt,
  paymentIntentId: `pi_m1_${attempt}`,
});

/** Both paid; the round pays out m1. */
function paidOut(): Run {
  const r = new Run(round());
  r.step({ type: "open" });
  r.step(succeeded("m1"));
  r.step(succeeded("m2"));
  for (const m of ["m1", "m2"])
    r.step({ type: "transfer_created", sourceMemberId: m, attempt: 1, transferId: `tr_${m}` });
  expect(r.state.status).toBe("paid_out");
  return r;
}

/** m1 paid, m2's account is closed: past the deadline the round refunds m1 and is cancelled. */
function cancelledAndRefunded(): Run {
  const r = new Run(round());
  r.step({ type: "open" });
  r.step(succeeded("m1"));
  r.step(failed("m2", "account_closed"));
  r.step({ type: "timer", timer: { kind: "collection_deadline" } }, deadline);
  r.step({ type: "refund_succeeded", memberId: "m1", refundId: "re_1" }, deadline);
  expect(r.state.status).toBe("cancelled");
  return r;
}

const ticketOf = (d: RoundDecision) =>
  d.effects.find((e) => e.kind === "open_ticket" && e.id === "r1:ticket:dispute:dp_1:won");

describe("a contribution's dispute closed won", () => {
  it("after the payout: the member's loss is undone, once; a late or repeated closure changes nothing", () => {
    const r = paidOut();
    r.step(opened(10_000), T0 + 5 * DAY_MS);
    expect(r.memberOwes("m1")).toBe(10_000);
    const closed = r.step(won(10_000), T0 + 30 * DAY_MS);
    expect(r.posted("dp_1")).toEqual([
      ["r1:dispute:dp_1", "dispute_loss"],
      ["r1:dispute:dp_1:won", "dispute_reinstated"],
    ]);
    expect(r.memberOwes("m1")).toBe(0);
    expect(ticketOf(closed)).toMatchObject({ reason: "dispute", groupId: "g1" });
    expect(r.state.status).toBe("paid_out");
    expect(r.money()).toMatchObject({ heldMinor: 0, paidOutMinor: 20_000 });
    const again = r.step(won(10_000), T0 + 31 * DAY_MS);
    expect(again.ignored).toEqual({
      code: "dispute_already_closed",
      detail: "dispute dp_1 was closed won already",
    });
    expect(r.step(opened(10_000), T0 + 31 * DAY_MS).ignored?.code).toBe("duplicate_dispute");
    expect(r.memberOwes("m1")).toBe(0);
  });

  it("before the payout: the bank's part comes back, and it is owed to the member outside Stripe with the rest", () => {
    const r = new Run(round());
    r.step({ type: "open" });
    r.step(processing("m1"));
    r.step(succeeded("m1"), T0 + 3 * DAY_MS);
    r.step(failed("m2", "account_closed"), T0 + 3 * DAY_MS);
    r.step(opened(1), T0 + 4 * DAY_MS);
    expect(r.money()).toMatchObject({ heldMinor: 0, refundedMinor: 1, owedToMemberMinor: 9_999 });
    const closed = r.step(won(1), T0 + 5 * DAY_MS);
    // The bank took its 0.01 back from the member: the whole charge is theirs, owed outside Stripe.
    expect(r.posted("dp_1:won")).toEqual([
      ["r1:dispute:dp_1:won", "contribution_refund_failed"],
      ["r1:dispute:dp_1:won:owed", "contribution_owed_to_member"],
    ]);
    expect(r.money()).toMatchObject({ heldMinor: 0, refundedMinor: 0, owedToMemberMinor: 10_000 });
    // The contribution's owed figure follows the books (an admin records it paid against it), and
    // the member hears of the 0.01 as of the 99.99 before it, in a notice of its own.
    expect(r.contribution("m1")?.owedOutsideStripeMinor).toBe(10_000);
    expect(
      closed.effects
        .filter((e) => e.kind === "notify" && e.template === "owed_outside_stripe")
        .map((e) => e.id),
    ).toEqual(["r1:notify:owed_outside_stripe:m1:dp_1:won"]);
    expect(r.memberOwes("m1")).toBe(0);
    const ticket = ticketOf(closed);
    expect(ticket?.kind === "open_ticket" && ticket.summary).toContain("owed to m1 outside Stripe");
    // The contribution stays as it was (the member pays again, or the round refunds the rest).
    expect(r.contribution("m1")?.status).toBe("disputed");
    r.step({ type: "timer", timer: { kind: "collection_deadline" } }, deadline);
    expect(r.state.status).toBe("cancelled");
    expect(r.money()).toMatchObject({ heldMinor: 0, owedToMemberMinor: 10_000 });
    expect(r.step(won(1), deadline).ignored?.code).toBe("dispute_already_closed");
  });

  it("heard before its opening: nothing is booked, and the opening is then ignored", () => {
    const r = paidOut();
    const early = r.step(won(10_000), T0 + 5 * DAY_MS);
    expect(early.effects.filter((e) => e.kind === "post_ledger")).toEqual([]);
    expect(r.contribution("m1")?.disputesWon).toEqual(["dp_1"]);
    const late = r.step(opened(10_000), T0 + 6 * DAY_MS);
    expect(late.ignored).toEqual({
      code: "dispute_already_closed",
      detail: "dispute dp_1 was closed won already",
    });
    expect(r.memberOwes("m1")).toBe(0);
    expect(r.posted("dp_1")).toEqual([]);
  });

  it("after susu refunded it (paid twice): the loss is undone; a later failure of the refund is an undisputed one", () => {
    const r = cancelledAndRefunded();
    r.step(opened(10_000), deadline + DAY_MS);
    expect(r.memberOwes("m1")).toBe(10_000);
    r.step(won(10_000), deadline + 2 * DAY_MS);
    expect(r.memberOwes("m1")).toBe(0);
    expect(r.contribution("m1")?.disputedAfterRefund).toBeUndefined();
    // Stripe fails our refund after its success: taken out of the books, retried, nothing owed outside Stripe.
    r.step({ type: "refund_failed", memberId: "m1", failureCode: "refund_failed" }, deadline + 3 * DAY_MS);
    expect(r.contribution("m1")?.status).toBe("refund_failed");
    expect(r.money()).toMatchObject({ heldMinor: 10_000, refundedMinor: 0, owedToMemberMinor: 0 });
    expect(r.posted("dp_1")).toEqual([
      ["r1:dispute:dp_1", "dispute_loss"],
      ["r1:dispute:dp_1:won", "dispute_reinstated"],
    ]);
  });

  it("a loss already undone (the refund beside it failed after its success) is not undone again: the bank's part comes back, owed", () => {
    const r = cancelledAndRefunded();
    r.step(opened(1), deadline + DAY_MS);
    r.step({ type: "refund_failed", memberId: "m1", failureCode: "refund_failed" }, deadline + 2 * DAY_MS);
    expect(r.memberOwes("m1")).toBe(0);
    expect(r.money()).toMatchObject({ heldMinor: 0, refundedMinor: 1, owedToMemberMinor: 9_999 });
    r.step(won(1), deadline + 3 * DAY_MS);
    expect(r.posted("dp_1")).toEqual([
      ["r1:dispute:dp_1", "dispute_loss"],
      ["r1:dispute:dp_1:reinstated", "dispute_reinstated"],
      ["r1:dispute:dp_1:withdrawn", "contribution_refunded"],
      ["r1:dispute:dp_1:rest_owed", "contribution_owed_to_member"],
      ["r1:dispute:dp_1:won", "contribution_refund_failed"],
      ["r1:dispute:dp_1:won:owed", "contribution_owed_to_member"],
    ]);
    expect(r.memberOwes("m1")).toBe(0);
    expect(r.money()).toMatchObject({ heldMinor: 0, refundedMinor: 0, owedToMemberMinor: 10_000 });
  });

  it("disputed while its refund was out: nothing was booked, so nothing is; the refund's success is then no double payment", () => {
    const r = new Run(round());
    r.step({ type: "open" });
    r.step(succeeded("m1"));
    r.step(failed("m2", "account_closed"));
    r.step({ type: "timer", timer: { kind: "collection_deadline" } }, deadline);
    r.step(opened(10_000), deadline);
    const closed = r.step(won(10_000), deadline + DAY_MS);
    expect(closed.effects.filter((e) => e.kind === "post_ledger")).toEqual([]);
    r.step({ type: "refund_succeeded", memberId: "m1", refundId: "re_1" }, deadline + DAY_MS);
    expect(r.state.status).toBe("cancelled");
    expect(r.memberOwes("m1")).toBe(0);
    expect(r.money()).toMatchObject({ heldMinor: 0, refundedMinor: 10_000 });
  });
});

describe("a surplus charge's dispute closed won", () => {
  /** m1's attempt 1 recorded failed, attempt 2 paid; the round paid out; attempt 1 took the money after all. */
  function paidOutWithSurplus(): Run {
    const r = new Run(round());
    r.step({ type: "open" });
    r.step(processing("m1"));
    r.step(failed("m1", "insufficient_funds"));
    const retryAt = r.contribution("m1")?.retryAt ?? T0;
    r.step({ type: "timer", timer: { kind: "retry_debit", memberId: "m1", attempt: 2 } }, retryAt);
    r.step(succeeded("m1", 2), retryAt);
    r.step(succeeded("m2"), retryAt);
    for (const m of ["m1", "m2"])
      r.step({ type: "transfer_created", sourceMemberId: m, attempt: 1, transferId: `tr_${m}` }, retryAt);
    r.step(succeeded("m1", 1), retryAt + DAY_MS);
    expect(r.state.status).toBe("paid_out");
    expect(r.surplus("m1", 1)).toEqual({ status: "refund_requested" });
    return r;
  }
  const at = T0 + 10 * DAY_MS;

  it("our refund refused, then disputed in part (charged back): the bank's part is owed to the member with the rest", () => {
    const r = paidOutWithSurplus();
    r.step({ type: "refund_failed", memberId: "m1", failureCode: "charge_disputed", debitAttempt: 1 }, at);
    r.step(opened(1), at);
    expect(r.money()).toMatchObject({ heldMinor: 0, refundedMinor: 1, owedToMemberMinor: 9_999 });
    r.step(won(1), at + DAY_MS);
    expect(r.surplus("m1", 1)).toEqual({ status: "charged_back" });
    expect(r.money()).toMatchObject({ heldMinor: 0, refundedMinor: 0, owedToMemberMinor: 10_000 });
    expect(r.contribution("m1")?.owedOutsideStripeMinor).toBe(10_000);
    expect(r.contribution("m1")?.status).toBe("succeeded");
  });

  it("our refund landed too (paid twice, the member's loss): the loss is undone", () => {
    const r = paidOutWithSurplus();
    r.step({ type: "refund_succeeded", memberId: "m1", refundId: "re_s", debitAttempt: 1 }, at);
    r.step(opened(10_000), at);
    expect(r.memberOwes("m1")).toBe(10_000);
    r.step(won(10_000), at + DAY_MS);
    expect(r.memberOwes("m1")).toBe(0);
    expect(r.surplus("m1", 1)).toEqual({ status: "refunded", refundId: "re_s" });
    expect(r.money()).toMatchObject({ heldMinor: 0, refundedMinor: 10_000 });
  });

  it("our refund still out: the bank's part comes back into the pot, and the refund that lands takes the whole charge", () => {
    const r = paidOutWithSurplus();
    r.step(opened(10_000), at);
    expect(r.money()).toMatchObject({ heldMinor: 0, refundedMinor: 10_000 });
    r.step(won(10_000), at + DAY_MS);
    expect(r.money()).toMatchObject({ heldMinor: 10_000, refundedMinor: 0 });
    expect(r.surplus("m1", 1)).toEqual({ status: "refund_requested" });
    r.step({ type: "refund_succeeded", memberId: "m1", refundId: "re_s", debitAttempt: 1 }, at + DAY_MS);
    expect(r.money()).toMatchObject({ heldMinor: 0, refundedMinor: 10_000 });
    expect(r.memberOwes("m1")).toBe(0);
  });
});

describe("a surplus charge's dispute closed won, then our refund fails after its success", () => {
  // Stripe's side of that charge: the member paid 100.00 (+C), our refund took all of it (−C), the
  // bank took the disputed amount (−T), the won dispute gave it back (+T), and the refund's failure
  // gave the refund back (+C). The round holds the whole charge again, owes nothing outside Stripe,
  // and a retried refund pays it.
  const C = 10_000;
  const at = T0 + 10 * DAY_MS;
  const refundPosting = "r1:refund:m1:debit:1:ledger";
  const reversal = "r1:refund:m1:debit:1:ledger:failed";
  const landed = { type: "refund_succeeded", memberId: "m1", refundId: "re_s", debitAttempt: 1 } as const;
  const failedAfter: RoundInput = {
    type: "refund_failed",
    memberId: "m1",
    failureCode: "refund_failed",
    debitAttempt: 1,
  };

  function paidOutWithSurplus(): Run {
    const r = new Run(round());
    r.step({ type: "open" });
    r.step(processing("m1"));
    r.step(failed("m1", "insufficient_funds"));
    const retryAt = r.contribution("m1")?.retryAt ?? T0;
    r.step({ type: "timer", timer: { kind: "retry_debit", memberId: "m1", attempt: 2 } }, retryAt);
    r.step(succeeded("m1", 2), retryAt);
    r.step(succeeded("m2"), retryAt);
    for (const m of ["m1", "m2"])
      r.step({ type: "transfer_created", sourceMemberId: m, attempt: 1, transferId: `tr_${m}` }, retryAt);
    r.step(succeeded("m1", 1), retryAt + DAY_MS);
    expect(r.surplus("m1", 1)).toEqual({ status: "refund_requested" });
    return r;
  }

  const postings = (r: Run) => r.effects.flatMap((e) => (e.kind === "post_ledger" ? [e] : []));
  const amountOf = (r: Run, id: string) =>
    postings(r)
      .filter((e) => e.id === id)
      .map((e) =>
        e.transaction.postings
          .filter((p) => p.side === "debit")
          .reduce((n, p) => n + p.amount.amountMinor, 0),
      );

  function expectHeldAgain(r: Run): void {
    // Every posting once.
    const ids = postings(r).map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    // The refund's reversal is what the refund posted (both absent when it posted nothing).
    expect(amountOf(r, reversal)).toEqual(amountOf(r, refundPosting));
    expect(r.money()).toMatchObject({
      heldMinor: C,
      paidOutMinor: 20_000,
      refundedMinor: 0,
      owedToMemberMinor: 0,
    });
    expect(r.memberOwes("m1")).toBe(0);
    expect(r.surplus("m1", 1)).toEqual({ status: "refund_failed" });
    // Nothing is owed outside Stripe: no ticket or notice asks for it.
    expect(r.contribution("m1")?.owedOutsideStripeMinor ?? 0).toBe(0);
    const tickets = r.effects.flatMap((e) => (e.kind === "open_ticket" ? [e.id] : []));
    expect(tickets.filter((id) => id.includes("rest_owed") || id.includes("withdrawal_unknown"))).toEqual([]);
    expect(r.effects.some((e) => e.kind === "notify" && e.template === "owed_outside_stripe")).toBe(false);
    expect(tickets).toContain("r1:ticket:refund_failed:m1:debit:1:after_success");
    // The admins' retry pays the whole charge, and the round ends as if the refund had landed once.
    r.step({ type: "retry_refund", memberId: "m1" }, at + 4 * DAY_MS);
    r.step({ ...landed, refundId: "re_s2", attempt: 2 }, at + 4 * DAY_MS);
    expect(amountOf(r, "r1:refund:m1:debit:1:attempt:2:ledger")).toEqual([C]);
    expect(r.money()).toMatchObject({ heldMinor: 0, refundedMinor: C, owedToMemberMinor: 0 });
  }

  it("stored by the release that posted only the rest beside the withdrawal: closed won, then disputed again: the refund's failure reverses what each posted, the rest is owed", () => {
    const r = paidOutWithSurplus();
    r.step(opened(1), at);
    r.landedAsBefore("re_s", at + DAY_MS);
    r.step(won(1), at + 2 * DAY_MS);
    r.step(opened(40, 1, "dp_2"), at + 3 * DAY_MS);
    r.step(failedAfter, at + 4 * DAY_MS);
    // Stripe: +C −C −1 +1 −40 +C: the bank holds 40 of it, the other C − 40 is the member's.
    const ids = postings(r).map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(amountOf(r, refundPosting)).toEqual([C - 1]);
    expect(amountOf(r, reversal)).toEqual([C - 1]);
    expect(amountOf(r, "r1:dispute:dp_1:withdrawn:undone")).toEqual([1]);
    expect(amountOf(r, "r1:dispute:dp_2:withdrawn")).toEqual([40]);
    expect(r.money()).toMatchObject({ heldMinor: 0, refundedMinor: 40, owedToMemberMinor: C - 40 });
    expect(r.memberOwes("m1")).toBe(0);
    expect(r.surplus("m1", 1)).toEqual({
      status: "charged_back",
      refundId: "re_s",
      disputeId: "dp_2",
      disputedMinor: 40,
      withdrawnBooked: true,
    });
    expect(r.contribution("m1")?.owedOutsideStripeMinor).toBe(C - 40);
  });

  for (const taken of [1, C]) {
    const part = taken === C ? "the whole charge" : "in part";
    it(`disputed ${part} while our refund was out, which landed; closed won; the refund fails after its success`, () => {
      const r = paidOutWithSurplus();
      r.step(opened(taken), at);
      r.step(landed, at + DAY_MS);
      // As at Stripe: the refund took the whole charge; the withdrawal is undone beside it.
      expect(amountOf(r, refundPosting)).toEqual([C]);
      expect(amountOf(r, "r1:dispute:dp_1:withdrawn:undone")).toEqual([taken]);
      r.step(won(taken), at + 2 * DAY_MS);
      expect(r.money()).toMatchObject({ heldMinor: 0, refundedMinor: C });
      expect(r.surplus("m1", 1)).toEqual({ status: "refunded", refundId: "re_s" });
      const failure = r.step(failedAfter, at + 3 * DAY_MS);
      // Stripe gave back the refund (C): the books reverse it whole; the dispute is settled.
      expect(
        failure.effects.flatMap((e) => (e.kind === "post_ledger" ? [[e.id, e.transaction.kind]] : [])),
      ).toEqual([[reversal, "contribution_refund_failed"]]);
      expectHeldAgain(r);
    });

    it(`stored by the release that posted only the rest: disputed ${part} while our refund was out, which landed; closed won; the refund fails after its success`, () => {
      const r = paidOutWithSurplus();
      r.step(opened(taken), at);
      r.landedAsBefore("re_s", at + DAY_MS);
      expect(amountOf(r, refundPosting)).toEqual(taken === C ? [] : [C - taken]);
      r.step(won(taken), at + 2 * DAY_MS);
      expect(r.money()).toMatchObject({ heldMinor: 0, refundedMinor: C });
      // The withdrawal stays beside the refund that posted only the rest: kept for its failure.
      expect(r.surplus("m1", 1)).toEqual({
        status: "refunded",
        refundId: "re_s",
        wonWithdrawal: { disputeId: "dp_1", amountMinor: taken },
      });
      const failure = r.step(failedAfter, at + 3 * DAY_MS);
      // Stripe gave back the refund (C): the books reverse what the refund posted, and undo the
      // withdrawal the won dispute gave back.
      expect(
        failure.effects.flatMap((e) => (e.kind === "post_ledger" ? [[e.id, e.transaction.kind]] : [])),
      ).toEqual([
        ...(taken < C ? [[reversal, "contribution_refund_failed"]] : []),
        ["r1:dispute:dp_1:withdrawn:undone", "contribution_refund_failed"],
      ]);
      expect(amountOf(r, "r1:dispute:dp_1:withdrawn:undone")).toEqual([taken]);
      expectHeldAgain(r);
    });

    it(`our refund landed, then disputed ${part}; closed won; the refund fails after its success`, () => {
      const r = paidOutWithSurplus();
      r.step(landed, at);
      r.step(opened(taken), at + DAY_MS);
      r.step(won(taken), at + 2 * DAY_MS);
      expect(r.money()).toMatchObject({ heldMinor: 0, refundedMinor: C });
      r.step(failedAfter, at + 3 * DAY_MS);
      expect(amountOf(r, reversal)).toEqual([C]);
      expectHeldAgain(r);
    });

    it(`disputed ${part} while our refund was out; closed won; the refund lands, then fails after its success`, () => {
      const r = paidOutWithSurplus();
      r.step(opened(taken), at);
      r.step(won(taken), at + DAY_MS);
      r.step(landed, at + 2 * DAY_MS);
      expect(r.money()).toMatchObject({ heldMinor: 0, refundedMinor: C });
      r.step(failedAfter, at + 3 * DAY_MS);
      expect(amountOf(r, reversal)).toEqual([C]);
      expectHeldAgain(r);
    });
  }
});

describe("a dispute closed won that left money owed: recording it paid resolves the won ticket with the rest-owed one", () => {
  const paid = (r: Run, amountMinor: number, reference: string, now: number) => {
    const d = decideRoundOwedPayment(
      r.state,
      "m1",
      { type: "record_owed_payment", amount: money(amountMinor, "AUD"), reference, by: "operator:olga" },
      { now },
    )._unsafeUnwrap();
    r.state = d.state;
    r.effects.push(...d.effects);
    return d.effects.flatMap((e) => (e.kind === "resolve_ticket" ? [[e.id, e.ticketId]] : []));
  };
  const opens = (r: Run) =>
    r.effects.flatMap((e) => (e.kind === "open_ticket" && e.id.includes("dp_1") ? [e.id] : []));

  it("the contribution's, before the payout: a part resolves nothing; the rest resolves both tickets", () => {
    const r = new Run(round());
    r.step({ type: "open" });
    r.step(succeeded("m1"), T0 + 3 * DAY_MS);
    r.step(failed("m2", "account_closed"), T0 + 3 * DAY_MS);
    r.step(opened(3_000), T0 + 4 * DAY_MS);
    r.step(won(3_000), T0 + 5 * DAY_MS);
    expect(opens(r)).toEqual([
      "r1:ticket:dispute:dp_1:rest_owed",
      "r1:ticket:dispute:dp_1",
      "r1:ticket:dispute:dp_1:won",
    ]);
    expect(r.contribution("m1")?.owedOutsideStripeMinor).toBe(10_000);
    expect(paid(r, 4_000, "NAB 1", T0 + 6 * DAY_MS)).toEqual([]);
    expect(paid(r, 6_000, "NAB 2", T0 + 7 * DAY_MS)).toEqual([
      ["r1:ticket:dispute:dp_1:rest_owed:resolve", "r1:ticket:dispute:dp_1:rest_owed"],
      ["r1:ticket:dispute:dp_1:won:resolve", "r1:ticket:dispute:dp_1:won"],
    ]);
    expect(r.money()).toMatchObject({ owedToMemberMinor: 0, paidOutsideStripeMinor: 10_000 });
  });

  it("a surplus charge's, charged back: paid in full, its won ticket is resolved with its rest-owed one", () => {
    const r = new Run(round());
    r.step({ type: "open" });
    r.step(processing("m1"));
    r.step(failed("m1", "insufficient_funds"));
    const retryAt = r.contribution("m1")?.retryAt ?? T0;
    r.step({ type: "timer", timer: { kind: "retry_debit", memberId: "m1", attempt: 2 } }, retryAt);
    r.step(succeeded("m1", 2), retryAt);
    r.step(succeeded("m2"), retryAt);
    for (const m of ["m1", "m2"])
      r.step({ type: "transfer_created", sourceMemberId: m, attempt: 1, transferId: `tr_${m}` }, retryAt);
    r.step(succeeded("m1", 1), retryAt + DAY_MS);
    const at = retryAt + 2 * DAY_MS;
    r.step({ type: "refund_failed", memberId: "m1", failureCode: "charge_disputed", debitAttempt: 1 }, at);
    r.step(opened(1), at);
    r.step(won(1), at + DAY_MS);
    expect(opens(r)).toEqual([
      "r1:ticket:dispute:dp_1",
      "r1:ticket:dispute:dp_1:rest_owed",
      "r1:ticket:dispute:dp_1:won",
    ]);
    expect(paid(r, 10_000, "NAB 1", at + 2 * DAY_MS)).toEqual([
      ["r1:ticket:dispute:dp_1:rest_owed:resolve", "r1:ticket:dispute:dp_1:rest_owed"],
      ["r1:ticket:dispute:dp_1:won:resolve", "r1:ticket:dispute:dp_1:won"],
    ]);
  });

  it("a won closure that left nothing owed (a loss undone) keeps its ticket: paying another dispute's rest does not resolve it", () => {
    // m1's surplus charge was refunded and disputed (paid twice: their loss), then that dispute
    // closed won (the loss undone: nothing owed). m1's contribution was disputed in part before
    // the payout (dp_2: 70.00 owed). Paying the 70.00 resolves dp_2's ticket, not dp_1's.
    const r = new Run(round(["m1", "m2", "m3"]));
    r.step({ type: "open" });
    r.step(processing("m1"));
    r.step(failed("m1", "insufficient_funds"));
    const retryAt = r.contribution("m1")?.retryAt ?? T0;
    r.step({ type: "timer", timer: { kind: "retry_debit", memberId: "m1", attempt: 2 } }, retryAt);
    r.step(succeeded("m1", 2), retryAt);
    r.step(succeeded("m1", 1), retryAt);
    r.step({ type: "refund_succeeded", memberId: "m1", refundId: "re_s", debitAttempt: 1 }, retryAt);
    r.step(opened(10_000), retryAt);
    r.step(won(10_000), retryAt + DAY_MS);
    r.step(opened(3_000, 2, "dp_2"), retryAt + DAY_MS);
    expect(r.contribution("m1")?.owedOutsideStripeMinor).toBe(7_000);
    const resolved = paid(r, 7_000, "NAB 1", retryAt + 2 * DAY_MS);
    expect(resolved).toContainEqual([
      "r1:ticket:dispute:dp_2:rest_owed:resolve",
      "r1:ticket:dispute:dp_2:rest_owed",
    ]);
    expect(resolved.map(([, ticket]) => ticket)).not.toContain("r1:ticket:dispute:dp_1:won");
  });
});
