// Edges of a round's refunds: a member charged twice (a debit recorded as failed that took
// the money after all), refunds that fail once the round is cancelled, and a retry debit
// still awaited when the deadline passes.
import { describe, expect, it } from "vitest";
import { checkRoundMoney, ledgerFromTransactions } from "../ledger/index.js";
import { DEFAULT_ROUND_POLICY, type RoundPolicy } from "../policy/round-policy.js";
import { DAY_MS } from "../shared/time.js";
import {
  debitFailed as failed,
  debitProcessing as processing,
  debitSucceeded as succeeded,
} from "../testing/mothers.js";
import { surplusLandedBesideWithdrawal } from "../testing/round-old-releases.js";
import { type DecideContext, decide, type RoundDecision } from "./decide.js";
import { newRound, type Round } from "./round.js";
import type { RoundEffect } from "./round-effect.js";
import type { RoundInput } from "./round-input.js";

const T0 = Date.UTC(2026, 0, 5);
const policy: RoundPolicy = { ...DEFAULT_ROUND_POLICY };
const deadline = T0 + policy.collectionWindowMs;
const ctx = (now: number): DecideContext => ({ now, policy });

/** Decisions in a row, with every effect they asked for. */
class Run {
  readonly effects: RoundEffect[] = [];
  constructor(public state: Round) {}

  step(input: RoundInput, now = T0): RoundDecision {
    const r = decide(this.state, input, ctx(now));
    if (r.isErr()) throw new Error(`${r.error.code}: ${r.error.message}`);
    this.state = r.value.state;
    this.effects.push(...r.value.effects);
    return r.value;
  }

  refused(input: RoundInput, now = T0): string {
    return decide(this.state, input, ctx(now))._unsafeUnwrapErr().code;
  }

  contribution(m: string) {
    return this.state.contributions.find((c) => c.memberId === m);
  }

  /** Where the round's money is, from every posting made so far (each id once). */
  money() {
    const txs = new Map(
      this.effects.flatMap((e) => (e.kind === "post_ledger" ? [[e.transaction.id, e.transaction]] : [])),
    );
    return checkRoundMoney(
      ledgerFromTransactions([...txs.values()])._unsafeUnwrap(),
      "r1",
      "AUD",
    )._unsafeUnwrap();
  }

  refunds(): Extract<RoundEffect, { kind: "refund" }>[] {
    return this.effects.flatMap((e) => (e.kind === "refund" ? [e] : []));
  }

  count(kind: RoundEffect["kind"]): number {
    return this.effects.filter((e) => e.kind === kind).length;
  }

  /**
   * m1's surplus charge's refund (attempt 1), out beside a dispute, lands as an earlier release
   * booked it: only the rest of the charge posted beside the dispute's withdrawal.
   */
  landedAsBefore(refundId: string, now: number, withdrawnBooked: "kept" | "absent"): void {
    const old = surplusLandedBesideWithdrawal(this.state, "m1", 1, refundId, now, withdrawnBooked);
    this.state = old.state;
    this.effects.push(...old.effects);
  }
}

function round(): Round {
  return newRound({
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
}

const deadlineTimer: RoundInput = { type: "timer", timer: { kind: "collection_deadline" } };

/**
 * m1's first debit is recorded as failed (insufficient funds) and its retry (attempt 2)
 * succeeds; m2 pays; m3's account is closed. The bank did take attempt 1's money after
 * all: its success arrives late, whenever `lateAt` says.
 */
function chargedTwice(): Run {
  const r = new Run(round());
  r.step({ type: "open" });
  r.step(processing("m1"));
  r.step(failed("m1", "insufficient_funds"));
  const retryAt = r.contribution("m1")?.retryAt ?? T0;
  r.step({ type: "timer", timer: { kind: "retry_debit", memberId: "m1", attempt: 2 } }, retryAt);
  for (const input of [processing("m1", 2), succeeded("m1", 2), processing("m2"), succeeded("m2")])
    r.step(input, retryAt);
  r.step(failed("m3", "account_closed"), retryAt);
  return r;
}

describe("a member charged twice (a debit recorded as failed took the money after all)", () => {
  it("while the round refunds: both charges go back, each once, and the pot ends empty", () => {
    const r = chargedTwice();
    r.step(deadlineTimer, deadline);
    expect(r.state.status).toBe("refunding");
    // The contribution is refunded from the charge it counts (attempt 2's).
    expect(r.refunds().map((e) => [e.id, e.paymentIntentId])).toEqual([
      ["r1:refund:m1", "pi_m1_2"],
      ["r1:refund:m2", "pi_m2_1"],
    ]);
    const late = r.step(succeeded("m1", 1), deadline + DAY_MS);
    // The late charge is booked, and refunded on its own, from its own PaymentIntent.
    expect(late.effects).toContainEqual({
      kind: "refund",
      id: "r1:refund:m1:debit:1",
      roundId: "r1",
      groupId: "g1",
      memberId: "m1",
      debitAttempt: 1,
      paymentIntentId: "pi_m1_1",
      amountMinor: 10_000,
      currency: "AUD",
    });
    // The contribution's own refund is untouched by the late success.
    expect(r.contribution("m1")).toMatchObject({ status: "refund_requested" });
    r.step({ type: "refund_succeeded", memberId: "m1", refundId: "re_m1" }, deadline + DAY_MS);
    r.step({ type: "refund_succeeded", memberId: "m2", refundId: "re_m2" }, deadline + DAY_MS);
    // Not cancelled while the second charge's refund is still out.
    expect(r.state.status).toBe("refunding");
    const extra: RoundInput = {
      type: "refund_succeeded",
      memberId: "m1",
      refundId: "re_m1_d1",
      debitAttempt: 1,
    };
    r.step(extra, deadline + DAY_MS);
    expect(r.state.status).toBe("cancelled");
    expect(r.money()).toMatchObject({
      contributedMinor: 30_000,
      inFlightMinor: 0,
      heldMinor: 0,
      refundedMinor: 30_000,
      paidOutMinor: 0,
    });
    // The same news again posts nothing and asks for nothing.
    const again = r.step(extra, deadline + 2 * DAY_MS);
    expect(again.effects).toEqual([]);
    expect(again.ignored?.code).toBe("no_refund_pending");
    expect(r.count("round_ended")).toBe(1);
  });

  it("after the round was cancelled: the late charge is refunded, the round stays cancelled and ends once", () => {
    const r = chargedTwice();
    r.step(deadlineTimer, deadline);
    r.step({ type: "refund_succeeded", memberId: "m1", refundId: "re_m1" }, deadline);
    r.step({ type: "refund_succeeded", memberId: "m2", refundId: "re_m2" }, deadline);
    expect(r.state.status).toBe("cancelled");
    const late = r.step(succeeded("m1", 1), deadline + 3 * DAY_MS);
    expect(late.effects).toContainEqual(
      expect.objectContaining({ kind: "refund", id: "r1:refund:m1:debit:1", paymentIntentId: "pi_m1_1" }),
    );
    expect(r.money()).toMatchObject({ heldMinor: 10_000 });
    r.step(
      { type: "refund_succeeded", memberId: "m1", refundId: "re_m1_d1", debitAttempt: 1 },
      deadline + 3 * DAY_MS,
    );
    expect(r.state.status).toBe("cancelled");
    expect(r.money()).toMatchObject({ heldMinor: 0, refundedMinor: 30_000 });
    expect(r.count("round_ended")).toBe(1);
    expect(r.contribution("m1")).toMatchObject({ status: "refunded", refundId: "re_m1" });
  });

  it("while still collecting: refunded at once; the round then refunds the rest and asks for nothing twice", () => {
    const r = chargedTwice();
    const late = r.step(succeeded("m1", 1), T0 + 2 * DAY_MS);
    expect(late.effects.filter((e) => e.kind === "refund").map((e) => [e.id, e.paymentIntentId])).toEqual([
      ["r1:refund:m1:debit:1", "pi_m1_1"],
    ]);
    expect(late.effects).toContainEqual(
      expect.objectContaining({ kind: "open_ticket", reason: "unexpected_money" }),
    );
    r.step(deadlineTimer, deadline);
    expect(
      r
        .refunds()
        .map((e) => [e.id, e.paymentIntentId])
        .sort(),
    ).toEqual([
      ["r1:refund:m1", "pi_m1_2"],
      ["r1:refund:m1:debit:1", "pi_m1_1"],
      ["r1:refund:m2", "pi_m2_1"],
    ]);
    for (const input of [
      { type: "refund_succeeded", memberId: "m1", refundId: "re_m1" },
      { type: "refund_succeeded", memberId: "m2", refundId: "re_m2" },
    ] as const)
      r.step(input, deadline);
    // Not cancelled while the second charge's refund is still out.
    expect(r.state.status).toBe("refunding");
    r.step({ type: "refund_succeeded", memberId: "m1", refundId: "re_m1_d1", debitAttempt: 1 }, deadline);
    expect(r.state.status).toBe("cancelled");
    expect(r.money()).toMatchObject({ heldMinor: 0, refundedMinor: 30_000 });
  });

  it("the only charge of a member whose contribution failed is their contribution: refunded with the others when the round refunds", () => {
    const r = new Run(round());
    r.step({ type: "open" });
    for (const input of [
      processing("m1"),
      succeeded("m1"),
      processing("m2"),
      failed("m2", "account_closed"),
      failed("m3", "account_closed"),
    ])
      r.step(input);
    r.step(succeeded("m2", 1), T0 + DAY_MS);
    expect(r.contribution("m2")?.status).toBe("succeeded");
    expect(r.refunds()).toEqual([]);
    r.step(deadlineTimer, deadline);
    expect(r.refunds().map((e) => [e.id, e.paymentIntentId])).toEqual([
      ["r1:refund:m1", "pi_m1_1"],
      ["r1:refund:m2", "pi_m2_1"],
    ]);
    r.step({ type: "refund_succeeded", memberId: "m1", refundId: "re_m1" }, deadline);
    r.step({ type: "refund_succeeded", memberId: "m2", refundId: "re_m2" }, deadline);
    expect(r.state.status).toBe("cancelled");
    expect(r.money()).toMatchObject({ heldMinor: 0, refundedMinor: 20_000 });
  });
});
/**
 * m1's first debit is recorded as failed (insufficient funds) and its retry (attempt 2) is
 * processing; m2 and m3 have paid. The round pays out once attempt 2 succeeds.
 */
function retrying(): { r: Run; retryAt: number } {
  const r = new Run(round());
  r.step({ type: "open" });
  r.step(processing("m1"));
  r.step(failed("m1", "insufficient_funds"));
  const retryAt = r.contribution("m1")?.retryAt ?? T0;
  r.step({ type: "timer", timer: { kind: "retry_debit", memberId: "m1", attempt: 2 } }, retryAt);
  for (const input of [processing("m1", 2), succeeded("m2"), succeeded("m3")]) r.step(input, retryAt);
  return { r, retryAt };
}

/** Attempt 2 succeeds and every transfer lands: the round is paid out. */
function payOut(r: Run, at: number): void {
  r.step(succeeded("m1", 2), at);
  expect(r.state.status).toBe("paying_out");
  for (const m of ["m1", "m2", "m3"])
    r.step({ type: "transfer_created", sourceMemberId: m, attempt: 1, transferId: `tr_${m}` }, at);
  expect(r.state.status).toBe("paid_out");
}

describe("a member charged twice in a round that pays out", () => {
  const surplusRefund = {
    kind: "refund",
    id: "r1:refund:m1:debit:1",
    roundId: "r1",
    groupId: "g1",
    memberId: "m1",
    debitAttempt: 1,
    paymentIntentId: "pi_m1_1",
    amountMinor: 10_000,
    currency: "AUD",
  } as const;
  const landed: RoundInput = {
    type: "refund_succeeded",
    memberId: "m1",
    refundId: "re_m1_d1",
    debitAttempt: 1,
  };

  it("lands while collecting: refunded at once from its own PaymentIntent; the pot is paid out from the counted charges and ends at zero", () => {
    const { r, retryAt } = retrying();
    const late = r.step(succeeded("m1", 1), retryAt + DAY_MS);
    expect(late.effects).toContainEqual(surplusRefund);
    expect(r.state.status).toBe("collecting");
    payOut(r, retryAt + 2 * DAY_MS);
    // The transfers are funded by the charges the contributions count, never the surplus one.
    expect(r.effects.flatMap((e) => (e.kind === "transfer" ? [e.sourceChargeId] : [])).sort()).toEqual([
      "ch_m1_2",
      "ch_m2_1",
      "ch_m3_1",
    ]);
    // Paid out while the refund is still out: the round ended once, holding only that charge.
    expect(r.money()).toMatchObject({ heldMinor: 10_000, paidOutMinor: 30_000 });
    r.step(landed, retryAt + 3 * DAY_MS);
    expect(r.state.status).toBe("paid_out");
    expect(r.money()).toMatchObject({
      contributedMinor: 40_000,
      inFlightMinor: 0,
      heldMinor: 0,
      paidOutMinor: 30_000,
      refundedMinor: 10_000,
    });
    const again = r.step(landed, retryAt + 4 * DAY_MS);
    expect(again.ignored?.code).toBe("no_refund_pending");
    expect(r.refunds().map((e) => e.id)).toEqual(["r1:refund:m1:debit:1"]);
    expect(r.count("round_ended")).toBe(1);
  });

  it("lands after the round was paid out: refunded at once; the round stays paid out", () => {
    const { r, retryAt } = retrying();
    payOut(r, retryAt + DAY_MS);
    const late = r.step(succeeded("m1", 1), retryAt + 5 * DAY_MS);
    expect(late.effects).toContainEqual(surplusRefund);
    expect(late.effects).toContainEqual(
      expect.objectContaining({ kind: "open_ticket", id: "r1:ticket:unexpected_money:late_success:m1:1" }),
    );
    // The admins' notice names the refund under way, so its mail does not ask for one by hand.
    expect(late.effects).toContainEqual(
      expect.objectContaining({
        kind: "notify",
        id: "r1:notify:unexpected_money:m1:1",
        data: expect.objectContaining({ refundId: "r1:refund:m1:debit:1" }),
      }),
    );
    expect(r.money()).toMatchObject({ heldMinor: 10_000 });
    r.step(landed, retryAt + 6 * DAY_MS);
    expect(r.state.status).toBe("paid_out");
    expect(r.money()).toMatchObject({ heldMinor: 0, paidOutMinor: 30_000, refundedMinor: 10_000 });
    expect(r.count("round_ended")).toBe(1);
  });

  it("its refund failing on a paid-out round is retried with retry_refund; nothing else can be retried", () => {
    const { r, retryAt } = retrying();
    payOut(r, retryAt + DAY_MS);
    r.step(succeeded("m1", 1), retryAt + 5 * DAY_MS);
    r.step(
      { type: "refund_failed", memberId: "m1", failureCode: "charge_expired_for_refund", debitAttempt: 1 },
      retryAt + 5 * DAY_MS,
    );
    const ticket = r.effects.find((e) => e.id === "r1:ticket:refund_failed:m1:debit:1");
    expect(ticket?.kind === "open_ticket" && ticket.summary).toContain("retry_refund");
    expect(r.effects).toContainEqual(
      expect.objectContaining({
        kind: "notify",
        id: "r1:notify:refund_failed:m1:debit:1",
        data: expect.objectContaining({ retryWith: "POST /v1/rounds/r1/contributions/m1/retry-refund" }),
      }),
    );
    expect(r.refused({ type: "retry_refund", memberId: "m2" })).toBe("no_failed_refund");
    const retried = r.step({ type: "retry_refund", memberId: "m1" }, retryAt + 6 * DAY_MS);
    expect(retried.effects).toEqual([{ ...surplusRefund, id: "r1:refund:m1:debit:1:attempt:2", attempt: 2 }]);
    r.step({ ...landed, refundId: "re_m1_d1_2", attempt: 2 }, retryAt + 6 * DAY_MS);
    expect(r.state.status).toBe("paid_out");
    expect(r.money()).toMatchObject({ heldMinor: 0, refundedMinor: 10_000 });
    expect(r.count("round_ended")).toBe(1);
  });

  it("its refund failing after it succeeded (no dispute) is taken out of the books: the round holds the money until a retry lands, posted under its attempt's id", () => {
    const { r, retryAt } = retrying();
    payOut(r, retryAt + DAY_MS);
    r.step(succeeded("m1", 1), retryAt + 2 * DAY_MS);
    r.step(landed, retryAt + 2 * DAY_MS);
    expect(r.money()).toMatchObject({ heldMinor: 0, refundedMinor: 10_000 });
    const failedAfter = r.step(
      { type: "refund_failed", memberId: "m1", failureCode: "refund_failed", debitAttempt: 1 },
      retryAt + 3 * DAY_MS,
    );
    // Stripe has the money back on the platform's balance (the refund's failure): the books
    // no longer count it refunded, and the paid-out round holds it until a new refund pays it.
    expect(r.money()).toMatchObject({ heldMinor: 10_000, paidOutMinor: 30_000, refundedMinor: 0 });
    expect(
      failedAfter.effects.flatMap((e) => (e.kind === "post_ledger" ? [[e.id, e.transaction.kind]] : [])),
    ).toEqual([["r1:refund:m1:debit:1:ledger:failed", "contribution_refund_failed"]]);
    const ticket = failedAfter.effects.find(
      (e) => e.id === "r1:ticket:refund_failed:m1:debit:1:after_success",
    );
    expect(ticket?.kind === "open_ticket" && ticket.summary).toContain("retry_refund");
    expect(ticket?.kind === "open_ticket" && ticket.summary).not.toContain("still shows it refunded");
    expect(r.contribution("m1")?.attempts.find((a) => a.number === 1)?.surplus).toEqual({
      status: "refund_failed",
    });
    // A replay of the failure, or of the success it followed, changes nothing more.
    expect(
      r.step(
        { type: "refund_failed", memberId: "m1", failureCode: "refund_failed", debitAttempt: 1 },
        retryAt + 3 * DAY_MS,
      ).effects,
    ).toEqual([]);
    expect(r.step(landed, retryAt + 3 * DAY_MS).effects).toEqual([]);
    expect(r.money()).toMatchObject({ heldMinor: 10_000, refundedMinor: 0 });
    // The admins' retry asks Stripe for a new refund; when it lands it is posted under its own id.
    r.step({ type: "retry_refund", memberId: "m1" }, retryAt + 4 * DAY_MS);
    const again = r.step({ ...landed, refundId: "re_m1_d1_2", attempt: 2 }, retryAt + 4 * DAY_MS);
    expect(again.effects.flatMap((e) => (e.kind === "post_ledger" ? [e.id] : []))).toEqual([
      "r1:refund:m1:debit:1:attempt:2:ledger",
    ]);
    expect(r.money()).toMatchObject({ heldMinor: 0, paidOutMinor: 30_000, refundedMinor: 10_000 });
    // That one failing after its success too is reversed under its attempt's id.
    const second = r.step(
      { type: "refund_failed", memberId: "m1", failureCode: "refund_failed", debitAttempt: 1, attempt: 2 },
      retryAt + 5 * DAY_MS,
    );
    expect(second.effects.flatMap((e) => (e.kind === "post_ledger" ? [e.id] : []))).toEqual([
      "r1:refund:m1:debit:1:attempt:2:ledger:failed",
    ]);
    expect(r.money()).toMatchObject({ heldMinor: 10_000, refundedMinor: 0 });
    expect(r.state.status).toBe("paid_out");
    expect(r.count("round_ended")).toBe(1);
  });

  it("a charge stored held (before it was refunded at once) is refunded when the round pays out, or by retry_refund once it has", () => {
    // As the previous version stored it: booked, held, no refund asked for.
    const held = (r: Run) => {
      r.state = {
        ...r.state,
        contributions: r.state.contributions.map((c) =>
          c.memberId !== "m1"
            ? c
            : {
                ...c,
                attempts: c.attempts.map((a) =>
                  a.number === 1
                    ? {
                        ...a,
                        status: "succeeded" as const,
                        chargeId: "ch_m1_1",
                        surplus: { status: "held" as const },
                      }
                    : a,
                ),
              },
        ),
      };
    };
    const paying = retrying();
    held(paying.r);
    payOut(paying.r, paying.retryAt + DAY_MS);
    expect(paying.r.refunds()).toEqual([surplusRefund]);

    const paid = retrying();
    payOut(paid.r, paid.retryAt + DAY_MS);
    held(paid.r);
    const asked = paid.r.step({ type: "retry_refund", memberId: "m1" }, paid.retryAt + 2 * DAY_MS);
    expect(asked.effects).toEqual([surplusRefund]);
    paid.r.step(landed, paid.retryAt + 2 * DAY_MS);
    expect(paid.r.state.status).toBe("paid_out");
  });
});
/** The round as the release before `withdrawnBooked` stored it: the surplus charge without the field. */
const withoutWithdrawnBooked = (state: Round): Round => ({
  ...state,
  contributions: state.contributions.map((c) =>
    c.memberId !== "m1"
      ? c
      : {
          ...c,
          attempts: c.attempts.map((a) => {
            if (a.surplus === undefined) return a;
            const { withdrawnBooked: _w, ...s } = a.surplus;
            return { ...a, surplus: s };
          }),
        },
  ),
});

describe("a dispute of a member's surplus charge (booked by the charge it names, never against the contribution)", () => {
  // The member disputes the second charge (attempt 1's) with their bank. The dispute names
  // that charge's PaymentIntent, whose metadata names the debit attempt.
  const disputed: RoundInput = {
    type: "dispute_opened",
    memberId: "m1",
    disputeId: "dp_s",
    amountMinor: 10_000,
    attempt: 1,
    paymentIntentId: "pi_m1_1",
  };
  const refused: RoundInput = {
    type: "refund_failed",
    memberId: "m1",
    failureCode: "charge_disputed",
    debitAttempt: 1,
  };
  const landed: RoundInput = {
    type: "refund_succeeded",
    memberId: "m1",
    refundId: "re_m1_d1",
    debitAttempt: 1,
  };
  const surplusOf = (r: Run) => r.contribution("m1")?.attempts.find((a) => a.number === 1)?.surplus;
  const posted = (r: Run, kind: string) =>
    r.effects.flatMap((e) =>
      e.kind === "post_ledger" && e.transaction.kind === kind ? [e.transaction.id] : [],
    );
  const tickets = (r: Run) => r.effects.flatMap((e) => (e.kind === "open_ticket" ? [[e.id, e.reason]] : []));

  it("while collecting: the counted contribution stays paid and the round goes on; the bank gave the charge back, so a refund Stripe refuses (charge_disputed) is not owed", () => {
    const r = chargedTwice();
    r.step(succeeded("m1", 1), T0 + 2 * DAY_MS);
    const opened = r.step(disputed, T0 + 2 * DAY_MS);
    expect(r.contribution("m1")).toMatchObject({ status: "succeeded", disputeIds: [] });
    expect(r.state.status).toBe("collecting");
    expect(surplusOf(r)).toMatchObject({ status: "refund_requested", disputeId: "dp_s" });
    // The bank took the second charge back out of the pot; the counted ones are still there.
    expect(r.money()).toMatchObject({ contributedMinor: 30_000, heldMinor: 20_000, refundedMinor: 10_000 });
    expect(opened.effects).toContainEqual(
      expect.objectContaining({ kind: "open_ticket", id: "r1:ticket:dispute:dp_s", reason: "dispute" }),
    );
    expect(r.step(disputed, T0 + 2 * DAY_MS).ignored?.code).toBe("duplicate_dispute");
    // Stripe refuses our refund of a disputed charge: nothing is owed, nothing is retried.
    const answer = r.step(refused, T0 + 2 * DAY_MS);
    expect(surplusOf(r)).toMatchObject({ status: "charged_back", disputeId: "dp_s" });
    expect(answer.effects.filter((e) => e.kind === "open_ticket" || e.kind === "notify")).toEqual([]);
    expect(r.refused({ type: "retry_refund", memberId: "m1" }, T0 + 2 * DAY_MS)).toBe("no_failed_refund");
    // At the deadline m1's counted contribution is refunded from its own charge, as anyone's.
    r.step(deadlineTimer, deadline);
    expect(r.refunds().map((e) => e.id)).toEqual(["r1:refund:m1:debit:1", "r1:refund:m1", "r1:refund:m2"]);
    r.step({ type: "refund_succeeded", memberId: "m1", refundId: "re_m1" }, deadline);
    r.step({ type: "refund_succeeded", memberId: "m2", refundId: "re_m2" }, deadline);
    expect(r.state.status).toBe("cancelled");
    expect(r.money()).toMatchObject({ heldMinor: 0, refundedMinor: 30_000 });
    expect(posted(r, "dispute_loss")).toEqual([]);
  });

  it("after payout, our refund still out: nothing touches the contribution or the payout; if the refund lands anyway the member was paid twice, booked once as their loss", () => {
    const { r, retryAt } = retrying();
    payOut(r, retryAt + DAY_MS);
    r.step(succeeded("m1", 1), retryAt + 2 * DAY_MS);
    r.step(disputed, retryAt + 2 * DAY_MS);
    expect(r.state.status).toBe("paid_out");
    expect(r.contribution("m1")).toMatchObject({ status: "succeeded", disputeIds: [] });
    expect(r.state.payouts.every((p) => p.status === "created")).toBe(true);
    expect(posted(r, "dispute_loss")).toEqual([]);
    expect(r.money()).toMatchObject({ heldMinor: 0, paidOutMinor: 30_000, refundedMinor: 10_000 });
    // The refund had reached Stripe before the dispute: the member got the money twice.
    r.step(landed, retryAt + 3 * DAY_MS);
    expect(surplusOf(r)).toMatchObject({ status: "refunded", refundId: "re_m1_d1", disputeId: "dp_s" });
    expect(posted(r, "dispute_loss")).toEqual(["r1:dispute:dp_s"]);
    expect(tickets(r)).toContainEqual(["r1:ticket:dispute_after_payout:dp_s", "dispute_after_payout"]);
    expect(r.money()).toMatchObject({ heldMinor: 0, paidOutMinor: 30_000, refundedMinor: 10_000 });
    expect(r.step(landed, retryAt + 4 * DAY_MS).ignored?.code).toBe("no_refund_pending");
    expect(posted(r, "dispute_loss")).toEqual(["r1:dispute:dp_s"]);
    expect(r.count("round_ended")).toBe(1);
  });

  it("after our refund landed: the member was paid twice; the loss is booked once, for the second charge", () => {
    const { r, retryAt } = retrying();
    payOut(r, retryAt + DAY_MS);
    r.step(succeeded("m1", 1), retryAt + 2 * DAY_MS);
    r.step(landed, retryAt + 2 * DAY_MS);
    r.step(disputed, retryAt + 3 * DAY_MS);
    expect(r.contribution("m1")).toMatchObject({ status: "succeeded", disputeIds: [] });
    expect(surplusOf(r)).toMatchObject({ status: "refunded", disputeId: "dp_s" });
    expect(posted(r, "dispute_loss")).toEqual(["r1:dispute:dp_s"]);
    expect(tickets(r)).toContainEqual(["r1:ticket:dispute_after_payout:dp_s", "dispute_after_payout"]);
    expect(r.money()).toMatchObject({ heldMinor: 0, paidOutMinor: 30_000, refundedMinor: 10_000 });
    // Stripe failing our refund after its success: the bank's refund is the only one, the loss is undone.
    r.step({ ...refused, failureCode: "refund_failed" }, retryAt + 4 * DAY_MS);
    expect(surplusOf(r)).toMatchObject({ status: "charged_back", disputeId: "dp_s" });
    expect(posted(r, "dispute_reinstated")).toEqual(["r1:dispute:dp_s:reinstated"]);
    // As at Stripe: the refund came back whole, and the bank's return left instead.
    expect(posted(r, "contribution_refund_failed")).toEqual(["r1:refund:m1:debit:1:ledger:failed"]);
    expect(posted(r, "contribution_refunded")).toEqual([
      "r1:refund:m1:debit:1:ledger",
      "r1:dispute:dp_s:withdrawn",
    ]);
    expect(r.money()).toMatchObject({ heldMinor: 0, paidOutMinor: 30_000, refundedMinor: 10_000 });
    expect(r.refused({ type: "retry_refund", memberId: "m1" }, retryAt + 4 * DAY_MS)).toBe(
      "no_failed_refund",
    );
  });

  it("stored before withdrawnBooked: disputed whole while our refund was out, which landed and failed after its success: nothing doubtful is booked, a person checks", () => {
    const { r, retryAt } = retrying();
    payOut(r, retryAt + DAY_MS);
    r.step(succeeded("m1", 1), retryAt + 2 * DAY_MS);
    r.step(disputed, retryAt + 2 * DAY_MS);
    r.landedAsBefore("re_m1_d1", retryAt + 3 * DAY_MS, "absent");
    r.step({ ...refused, failureCode: "refund_failed" }, retryAt + 4 * DAY_MS);
    expect(surplusOf(r)).toMatchObject({ status: "charged_back", disputeId: "dp_s" });
    expect(surplusOf(r)?.withdrawnBooked).toBeUndefined();
    // The withdrawal booked when the dispute was heard is the only one; the refund posted nothing.
    expect(posted(r, "contribution_refunded")).toEqual(["r1:dispute:dp_s:withdrawn"]);
    expect(posted(r, "contribution_refund_failed")).toEqual([]);
    expect(r.money()).toMatchObject({ heldMinor: 0, paidOutMinor: 30_000, refundedMinor: 10_000 });
    expect(tickets(r)).toContainEqual(["r1:ticket:dispute:dp_s:withdrawal_unknown", "dispute"]);
  });

  it("our refund refused (charge_disputed) before the dispute's news: the dispute settles it, nothing is refunded again", () => {
    const { r, retryAt } = retrying();
    payOut(r, retryAt + DAY_MS);
    r.step(succeeded("m1", 1), retryAt + 2 * DAY_MS);
    r.step(refused, retryAt + 2 * DAY_MS);
    expect(surplusOf(r)).toMatchObject({ status: "refund_failed" });
    r.step(disputed, retryAt + 3 * DAY_MS);
    expect(surplusOf(r)).toMatchObject({ status: "charged_back", disputeId: "dp_s" });
    expect(r.contribution("m1")).toMatchObject({ status: "succeeded", disputeIds: [] });
    expect(posted(r, "dispute_loss")).toEqual([]);
    expect(r.money()).toMatchObject({ heldMinor: 0, paidOutMinor: 30_000, refundedMinor: 10_000 });
    expect(r.refused({ type: "retry_refund", memberId: "m1" }, retryAt + 3 * DAY_MS)).toBe(
      "no_failed_refund",
    );
  });

  it("a dispute of the counted charge is still the contribution's", () => {
    const { r, retryAt } = retrying();
    payOut(r, retryAt + DAY_MS);
    r.step(succeeded("m1", 1), retryAt + 2 * DAY_MS);
    r.step({ ...disputed, disputeId: "dp_c", attempt: 2, paymentIntentId: "pi_m1_2" }, retryAt + 2 * DAY_MS);
    expect(r.contribution("m1")?.disputeIds).toEqual(["dp_c"]);
    expect(surplusOf(r)).toEqual({ status: "refund_requested" });
    expect(posted(r, "dispute_loss")).toEqual(["r1:dispute:dp_c"]);
  });
});
describe("a dispute heard before the success of the charge it names (neither the counted charge nor a surplus yet)", () => {
  // Events are unordered: the dispute of a charge may be processed before the success that
  // books that charge (its event parked, or late). It names its charge's attempt and
  // PaymentIntent; whatever the order, the outcome must be the one of the success first.
  const dispute = (attempt: number): RoundInput => ({
    type: "dispute_opened",
    memberId: "m1",
    disputeId: "dp_e",
    amountMinor: 10_000,
    attempt,
    paymentIntentId: `pi_m1_${attempt}`,
  });
  const ledgerIds = (r: Run) =>
    r.effects.flatMap((e) => (e.kind === "post_ledger" ? [e.transaction.id] : [])).sort();
  const posted = (r: Run, kind: string) =>
    r.effects.flatMap((e) =>
      e.kind === "post_ledger" && e.transaction.kind === kind ? [e.transaction.id] : [],
    );
  const surplusOf = (r: Run) => r.contribution("m1")?.attempts.find((a) => a.number === 1)?.surplus;
  /** The dispute, heard first, books nothing and touches neither the contribution nor the round. */
  function heardEarly(r: Run, attempt: number, at: number): void {
    const before = { state: r.state.status, contribution: r.contribution("m1"), money: r.money() };
    const early = r.step(dispute(attempt), at);
    expect(r.contribution("m1")).toMatchObject({ status: before.contribution?.status, disputeIds: [] });
    expect(r.state.status).toBe(before.state);
    expect(early.effects.filter((e) => e.kind === "post_ledger")).toEqual([]);
    expect(r.money()).toEqual(before.money);
    expect(early.effects).toContainEqual(
      expect.objectContaining({
        kind: "open_ticket",
        id: "r1:ticket:dispute:dp_e:pending",
        reason: "dispute",
      }),
    );
    expect(r.step(dispute(attempt), at).ignored?.code).toBe("duplicate_dispute");
  }

  it("attempt 1, recorded failed, disputed while collecting: once its success arrives the dispute is the surplus charge's; the contribution stays paid", () => {
    const at = T0 + 2 * DAY_MS;
    const inOrder = chargedTwice();
    inOrder.step(succeeded("m1", 1), at);
    inOrder.step(dispute(1), at);
    const r = chargedTwice();
    heardEarly(r, 1, at);
    r.step(succeeded("m1", 1), at);
    expect(r.contribution("m1")).toMatchObject({ status: "succeeded", disputeIds: [] });
    expect(surplusOf(r)).toMatchObject({
      status: "refund_requested",
      disputeId: "dp_e",
      disputedMinor: 10_000,
    });
    expect(r.money()).toMatchObject({ contributedMinor: 30_000, heldMinor: 20_000, refundedMinor: 10_000 });
    expect(r.state).toEqual(inOrder.state);
    expect(ledgerIds(r)).toEqual(ledgerIds(inOrder));
    expect(r.step(dispute(1), at).ignored?.code).toBe("duplicate_dispute");
  });

  it("attempt 1, recorded failed, disputed after payout: nothing is booked against the contribution or the payout, and the member's loss only if our refund lands too", () => {
    const { r, retryAt } = retrying();
    payOut(r, retryAt + DAY_MS);
    const inOrder = retrying().r;
    payOut(inOrder, retryAt + DAY_MS);
    inOrder.step(succeeded("m1", 1), retryAt + 2 * DAY_MS);
    inOrder.step(dispute(1), retryAt + 2 * DAY_MS);
    heardEarly(r, 1, retryAt + 2 * DAY_MS);
    r.step(succeeded("m1", 1), retryAt + 2 * DAY_MS);
    expect(r.state.status).toBe("paid_out");
    expect(r.contribution("m1")).toMatchObject({ status: "succeeded", disputeIds: [] });
    expect(surplusOf(r)).toMatchObject({ status: "refund_requested", disputeId: "dp_e" });
    expect(posted(r, "dispute_loss")).toEqual([]);
    expect(r.money()).toMatchObject({ heldMinor: 0, paidOutMinor: 30_000, refundedMinor: 10_000 });
    expect(r.state).toEqual(inOrder.state);
    expect(ledgerIds(r)).toEqual(ledgerIds(inOrder));
  });

  it("the success of another attempt leaves it pending: heard while attempt 2 was processing, it waits through the payout for attempt 1's success", () => {
    const { r, retryAt } = retrying();
    heardEarly(r, 1, retryAt);
    payOut(r, retryAt + DAY_MS);
    expect(r.contribution("m1")).toMatchObject({
      status: "succeeded",
      disputeIds: [],
      pendingDisputes: [{ disputeId: "dp_e", amountMinor: 10_000, attempt: 1, paymentIntentId: "pi_m1_1" }],
    });
    expect(posted(r, "dispute_loss")).toEqual([]);
    r.step(succeeded("m1", 1), retryAt + 2 * DAY_MS);
    expect(r.contribution("m1")?.pendingDisputes).toBeUndefined();
    expect(r.contribution("m1")).toMatchObject({ status: "succeeded", disputeIds: [] });
    expect(surplusOf(r)).toMatchObject({ status: "refund_requested", disputeId: "dp_e" });
    expect(posted(r, "dispute_loss")).toEqual([]);
    expect(r.money()).toMatchObject({ heldMinor: 0, paidOutMinor: 30_000, refundedMinor: 10_000 });
  });

  it("the counted attempt, still processing: once it succeeds the dispute is the contribution's, as in order (not dropped)", () => {
    const { r, retryAt } = retrying();
    const inOrder = retrying().r;
    inOrder.step(succeeded("m1", 2), retryAt);
    inOrder.step(dispute(2), retryAt);
    heardEarly(r, 2, retryAt);
    r.step(succeeded("m1", 2), retryAt);
    // Its success settles the round and starts the payout (no payout delay): the dispute
    // comes after the payout started, so it is booked as the member's loss.
    expect(r.state.status).toBe("paying_out");
    expect(r.contribution("m1")).toMatchObject({ disputeIds: ["dp_e"] });
    expect(r.contribution("m1")?.pendingDisputes).toBeUndefined();
    expect(posted(r, "dispute_loss")).toEqual(["r1:dispute:dp_e"]);
    expect(r.state).toEqual(inOrder.state);
    expect(ledgerIds(r)).toEqual(ledgerIds(inOrder));
  });
});
describe("a refund that fails once the round is cancelled (refund.failed after refund.succeeded)", () => {
  function cancelledThenFailed(): Run {
    const r = new Run(round());
    r.step({ type: "open" });
    for (const input of [succeeded("m1"), succeeded("m2"), failed("m3", "account_closed")]) r.step(input);
    r.step(deadlineTimer, deadline);
    r.step({ type: "refund_succeeded", memberId: "m1", refundId: "re_m1" }, deadline);
    r.step({ type: "refund_succeeded", memberId: "m2", refundId: "re_m2" }, deadline);
    expect(r.state.status).toBe("cancelled");
    r.step({ type: "refund_failed", memberId: "m2", failureCode: "refund_failed" }, deadline + DAY_MS);
    return r;
  }

  it("takes the refund back out of the books: the money is on the platform's balance again, held by the round", () => {
    const r = cancelledThenFailed();
    expect(r.money()).toMatchObject({ heldMinor: 10_000, refundedMinor: 10_000 });
    expect(
      r.effects.flatMap((e) =>
        e.kind === "post_ledger" && e.id.startsWith("r1:refund:m2") ? [[e.id, e.transaction.kind]] : [],
      ),
    ).toEqual([
      ["r1:refund:m2:ledger", "contribution_refunded"],
      ["r1:refund:m2:ledger:failed", "contribution_refund_failed"],
    ]);
    const ticket = r.effects.find((e) => e.id === "r1:ticket:refund_failed:m2:after_success");
    expect(ticket?.kind === "open_ticket" && ticket.summary).not.toContain("still shows it refunded");
    // A replay of the failure changes nothing more.
    expect(
      r.step({ type: "refund_failed", memberId: "m2", failureCode: "refund_failed" }, deadline + 2 * DAY_MS)
        .effects,
    ).toEqual([]);
    expect(r.money()).toMatchObject({ heldMinor: 10_000, refundedMinor: 10_000 });
  });

  it("tells the admins how to retry it, and retry_refund asks for a new refund", () => {
    const r = cancelledThenFailed();
    expect(r.contribution("m2")).toMatchObject({ status: "refund_failed" });
    expect(r.effects).toContainEqual(
      expect.objectContaining({
        kind: "notify",
        id: "r1:notify:refund_failed:m2:after_success",
        data: expect.objectContaining({ retryWith: "POST /v1/rounds/r1/contributions/m2/retry-refund" }),
      }),
    );
    const ticket = r.effects.find((e) => e.id === "r1:ticket:refund_failed:m2:after_success");
    expect(ticket?.kind === "open_ticket" && ticket.summary).toContain("retry_refund");
    const retried = r.step({ type: "retry_refund", memberId: "m2" }, deadline + 2 * DAY_MS);
    expect(retried.effects.map((e) => e.id)).toEqual(["r1:refund:m2:attempt:2"]);
    expect(r.state.status).toBe("cancelled");
    const landed = r.step(
      { type: "refund_succeeded", memberId: "m2", refundId: "re_m2_2", attempt: 2 },
      deadline + 2 * DAY_MS,
    );
    // The failed refund was taken back out of the books: the new one is posted, under its
    // attempt's id; the round does not end a second time.
    expect(landed.effects.map((e) => e.id)).toEqual(["r1:refund:m2:attempt:2:ledger"]);
    expect(r.state.status).toBe("cancelled");
    expect(r.contribution("m2")).toMatchObject({ status: "refunded", refundId: "re_m2_2" });
    expect(r.count("round_ended")).toBe(1);
    expect(r.money()).toMatchObject({ heldMinor: 0, refundedMinor: 20_000 });
  });

  it("a retry that fails again can be retried again; nobody else's refund can be retried", () => {
    const r = cancelledThenFailed();
    expect(r.refused({ type: "retry_refund", memberId: "m1" })).toBe("no_failed_refund");
    r.step({ type: "retry_refund", memberId: "m2" });
    r.step({ type: "refund_failed", memberId: "m2", failureCode: "refund_failed", attempt: 2 });
    expect(r.contribution("m2")).toMatchObject({ status: "refund_failed", refundAttempt: 2 });
    expect(r.effects.map((e) => e.id)).toContain("r1:ticket:refund_failed:m2:attempt:2");
    r.step({ type: "retry_refund", memberId: "m2" });
    r.step({ type: "refund_succeeded", memberId: "m2", refundId: "re_m2_3", attempt: 3 });
    expect(r.state.status).toBe("cancelled");
    expect(r.count("round_ended")).toBe(1);
    expect(r.money()).toMatchObject({ heldMinor: 0, refundedMinor: 20_000 });
  });

  it("a late charge's refund that fails on a cancelled round is retried the same way", () => {
    const r = chargedTwice();
    r.step(deadlineTimer, deadline);
    r.step({ type: "refund_succeeded", memberId: "m1", refundId: "re_m1" }, deadline);
    r.step({ type: "refund_succeeded", memberId: "m2", refundId: "re_m2" }, deadline);
    r.step(succeeded("m1", 1), deadline + DAY_MS);
    r.step(
      { type: "refund_failed", memberId: "m1", failureCode: "charge_expired_for_refund", debitAttempt: 1 },
      deadline + DAY_MS,
    );
    expect(r.money()).toMatchObject({ heldMinor: 10_000 });
    expect(r.effects.map((e) => e.id)).toContain("r1:ticket:refund_failed:m1:debit:1");
    const retried = r.step({ type: "retry_refund", memberId: "m1" }, deadline + 2 * DAY_MS);
    expect(retried.effects).toEqual([
      expect.objectContaining({
        kind: "refund",
        id: "r1:refund:m1:debit:1:attempt:2",
        debitAttempt: 1,
        attempt: 2,
        paymentIntentId: "pi_m1_1",
      }),
    ]);
    // Late news of the replaced attempt changes nothing.
    const stale = r.step(
      { type: "refund_failed", memberId: "m1", failureCode: "charge_expired_for_refund", debitAttempt: 1 },
      deadline + 2 * DAY_MS,
    );
    expect(stale.ignored?.code).toBe("refund_attempt_superseded");
    r.step(
      { type: "refund_succeeded", memberId: "m1", refundId: "re_m1_d1_2", debitAttempt: 1, attempt: 2 },
      deadline + 2 * DAY_MS,
    );
    expect(r.money()).toMatchObject({ heldMinor: 0, refundedMinor: 30_000 });
    expect(r.state.status).toBe("cancelled");
    expect(r.count("round_ended")).toBe(1);
  });
});
describe("a retry debit still awaited when the deadline passes", () => {
  /** m1 and m2 paid; m3's first debit failed and its retry was asked for just before the deadline. */
  function awaitedAtTheDeadline(): Run {
    const r = new Run(round());
    r.step({ type: "open" });
    for (const input of [succeeded("m1"), succeeded("m2"), processing("m3")]) r.step(input);
    r.step(failed("m3", "insufficient_funds"), deadline - 2 * DAY_MS);
    const retryAt = r.contribution("m3")?.retryAt ?? 0;
    expect(retryAt).toBeLessThan(deadline);
    r.step({ type: "timer", timer: { kind: "retry_debit", memberId: "m3", attempt: 2 } }, retryAt);
    expect(r.contribution("m3")).toMatchObject({ status: "awaiting_debit" });
    r.step(deadlineTimer, deadline);
    return r;
  }

  it("the round refunds and waits for it; when it succeeds it is refunded too, once", () => {
    const r = awaitedAtTheDeadline();
    expect(r.state.status).toBe("refunding");
    r.step({ type: "refund_succeeded", memberId: "m1", refundId: "re_m1" }, deadline);
    r.step({ type: "refund_succeeded", memberId: "m2", refundId: "re_m2" }, deadline);
    expect(r.state.status).toBe("refunding");
    r.step(processing("m3", 2), deadline);
    r.step(succeeded("m3", 2), deadline + 3 * DAY_MS);
    expect(r.refunds().filter((e) => e.memberId === "m3")).toEqual([
      expect.objectContaining({ id: "r1:refund:m3", paymentIntentId: "pi_m3_2" }),
    ]);
    r.step({ type: "refund_succeeded", memberId: "m3", refundId: "re_m3" }, deadline + 3 * DAY_MS);
    expect(r.state.status).toBe("cancelled");
    expect(r.money()).toMatchObject({ contributedMinor: 30_000, heldMinor: 0, refundedMinor: 30_000 });
  });

  it("when it fails, the round is cancelled with nothing held", () => {
    const r = awaitedAtTheDeadline();
    r.step({ type: "refund_succeeded", memberId: "m1", refundId: "re_m1" }, deadline);
    r.step({ type: "refund_succeeded", memberId: "m2", refundId: "re_m2" }, deadline);
    r.step(failed("m3", "insufficient_funds", 2), deadline + DAY_MS);
    expect(r.state.status).toBe("cancelled");
    expect(r.money()).toMatchObject({ inFlightMinor: 0, heldMinor: 0, refundedMinor: 20_000 });
  });
});

describe("a refund's news out of order (its failure delivered before its earlier success)", () => {
  it("the late success of a refund that failed changes nothing: the member is still owed, nothing is posted, a retry pays them", () => {
    const r = new Run(round());
    r.step({ type: "open" });
    for (const input of [succeeded("m1"), succeeded("m2"), failed("m3", "account_closed")]) r.step(input);
    r.step(deadlineTimer, deadline);
    r.step({ type: "refund_succeeded", memberId: "m1", refundId: "re_m1" }, deadline);
    // Stripe failed m2's refund after reporting it succeeded; the failure is delivered first.
    r.step({ type: "refund_failed", memberId: "m2", failureCode: "refund_failed" }, deadline + DAY_MS);
    const posted = r.count("post_ledger");
    const late = r.step({ type: "refund_succeeded", memberId: "m2", refundId: "re_m2" }, deadline + DAY_MS);
    expect(late.ignored?.code).toBe("no_refund_pending");
    expect(r.contribution("m2")).toMatchObject({ status: "refund_failed" });
    expect(r.count("post_ledger")).toBe(posted);
    expect(r.state.status).toBe("refunding");
    // The retry is a new refund; when it lands the member is refunded once and the round ends.
    r.step({ type: "retry_refund", memberId: "m2" }, deadline + 2 * DAY_MS);
    r.step(
      { type: "refund_succeeded", memberId: "m2", refundId: "re_m2_2", attempt: 2 },
      deadline + 2 * DAY_MS,
    );
    expect(r.state.status).toBe("cancelled");
    expect(r.money()).toMatchObject({ heldMinor: 0, refundedMinor: 20_000 });
  });

  // The reply to a refund call is lost; the outbox sends the call again under the same key
  // while Stripe fails the refund, and its refund.failed is heard first. Stripe answers the
  // re-sent call with the ORIGINAL response (status succeeded, a refund id susu never saw):
  // older news of an attempt that has failed since.
  it("a retried refund's failure heard before its replayed success: still owed, nothing posted, only a new attempt pays them", () => {
    const r = new Run(round());
    r.step({ type: "open" });
    for (const input of [succeeded("m1"), succeeded("m2"), failed("m3", "account_closed")]) r.step(input);
    r.step(deadlineTimer, deadline);
    r.step({ type: "refund_succeeded", memberId: "m1", refundId: "re_m1" }, deadline);
    // m2's first refund succeeded, then failed: an admin asks again (attempt 2).
    r.step({ type: "refund_succeeded", memberId: "m2", refundId: "re_m2" }, deadline);
    r.step({ type: "refund_failed", memberId: "m2", failureCode: "refund_failed" }, deadline + DAY_MS);
    r.step({ type: "retry_refund", memberId: "m2" }, deadline + 2 * DAY_MS);
    // Attempt 2's reply is lost; its failure arrives by webhook, then the re-sent call's replay.
    r.step(
      { type: "refund_failed", memberId: "m2", failureCode: "expired_or_canceled_card", attempt: 2 },
      deadline + 2 * DAY_MS,
    );
    const posted = r.count("post_ledger");
    const replayed = r.step(
      { type: "refund_succeeded", memberId: "m2", refundId: "re_m2_2", attempt: 2 },
      deadline + 2 * DAY_MS,
    );
    expect(replayed.ignored?.code).toBe("no_refund_pending");
    expect(replayed.effects).toEqual([]);
    expect(r.contribution("m2")).toMatchObject({ status: "refund_failed", refundAttempt: 2 });
    expect(r.count("post_ledger")).toBe(posted);
    expect(r.state.status).toBe("cancelled");
    // Only a third attempt pays the member.
    expect(r.step({ type: "retry_refund", memberId: "m2" }).effects.map((e) => e.id)).toEqual([
      "r1:refund:m2:attempt:3",
    ]);
  });

  it("a second charge's refund failure heard before its replayed success: still held, nothing posted, the round waits", () => {
    const r = chargedTwice();
    r.step(deadlineTimer, deadline);
    r.step(succeeded("m1", 1), deadline + DAY_MS);
    r.step({ type: "refund_succeeded", memberId: "m1", refundId: "re_m1" }, deadline + DAY_MS);
    r.step({ type: "refund_succeeded", memberId: "m2", refundId: "re_m2" }, deadline + DAY_MS);
    expect(r.state.status).toBe("refunding");
    // The second charge's refund reply is lost; its failure arrives first, then the replay.
    r.step(
      { type: "refund_failed", memberId: "m1", failureCode: "expired_or_canceled_card", debitAttempt: 1 },
      deadline + DAY_MS,
    );
    const posted = r.count("post_ledger");
    const replayed = r.step(
      { type: "refund_succeeded", memberId: "m1", refundId: "re_m1_d1", debitAttempt: 1 },
      deadline + DAY_MS,
    );
    expect(replayed.ignored?.code).toBe("no_refund_pending");
    expect(replayed.effects).toEqual([]);
    expect(r.count("post_ledger")).toBe(posted);
    expect(r.state.status).toBe("refunding");
    expect(r.money()).toMatchObject({ heldMinor: 10_000, refundedMinor: 30_000 - 10_000 });
    // The retry is a new refund; when it lands the charge is refunded once and the round ends.
    r.step({ type: "retry_refund", memberId: "m1" }, deadline + 2 * DAY_MS);
    r.step(
      { type: "refund_succeeded", memberId: "m1", refundId: "re_m1_d1_2", debitAttempt: 1, attempt: 2 },
      deadline + 2 * DAY_MS,
    );
    expect(r.state.status).toBe("cancelled");
    expect(r.money()).toMatchObject({ heldMinor: 0, refundedMinor: 30_000 });
  });
});
describe("a late charge while the member still owes the round's contribution (a slow bank, not a second charge)", () => {
  /** m2 and m3 paid; m1's only debit was recorded as failed (insufficient funds) and a retry is scheduled. */
  function owing(): { r: Run; retryAt: number } {
    const r = new Run(round());
    r.step({ type: "open" });
    for (const input of [processing("m1"), processing("m2"), processing("m3")]) r.step(input);
    r.step(failed("m1", "insufficient_funds"), T0 + DAY_MS);
    for (const input of [succeeded("m2"), succeeded("m3")]) r.step(input, T0 + DAY_MS);
    expect(r.contribution("m1")).toMatchObject({ status: "retry_scheduled" });
    return { r, retryAt: r.contribution("m1")?.retryAt ?? 0 };
  }

  it("is the contribution: counted as an on-time success, nothing refunded, the retry never asked for, the round pays out from it", () => {
    const { r, retryAt } = owing();
    const late = r.step(succeeded("m1", 1), T0 + 2 * DAY_MS);
    expect(r.contribution("m1")).toMatchObject({ status: "succeeded" });
    expect(r.contribution("m1")?.retryAt).toBeUndefined();
    expect(r.contribution("m1")?.attempts).toEqual([
      expect.objectContaining({ number: 1, status: "succeeded", chargeId: "ch_m1_1" }),
    ]);
    expect(r.contribution("m1")?.attempts[0]?.surplus).toBeUndefined();
    expect(late.effects.filter((e) => e.kind === "refund")).toEqual([]);
    expect(late.effects.filter((e) => e.kind === "open_ticket")).toEqual([]);
    // Everyone paid: the payout starts at once, funded by the late charge.
    expect(r.state.status).toBe("paying_out");
    expect(r.effects.flatMap((e) => (e.kind === "transfer" ? [e.sourceChargeId] : [])).sort()).toEqual([
      "ch_m1_1",
      "ch_m2_1",
      "ch_m3_1",
    ]);
    // The retry timer armed by the failure fires and asks for nothing.
    const retry = r.step(
      { type: "timer", timer: { kind: "retry_debit", memberId: "m1", attempt: 2 } },
      retryAt,
    );
    expect(retry.ignored?.code).toBe("timer_no_longer_due");
    expect(r.count("collect_contribution")).toBe(3);
    for (const m of ["m1", "m2", "m3"])
      r.step({ type: "transfer_created", sourceMemberId: m, attempt: 1, transferId: `tr_${m}` }, retryAt);
    expect(r.state.status).toBe("paid_out");
    expect(r.refunds()).toEqual([]);
    expect(r.money()).toMatchObject({
      contributedMinor: 30_000,
      inFlightMinor: 0,
      heldMinor: 0,
      paidOutMinor: 30_000,
      refundedMinor: 0,
    });
  });

  it("in the grace period after the deadline: a debit recorded as failed for good that succeeds after all lets the round pay out", () => {
    const r = new Run(round());
    r.step({ type: "open" });
    for (const input of [succeeded("m1"), processing("m2"), processing("m3")]) r.step(input);
    r.step(deadlineTimer, deadline);
    expect(r.state.graceEndsAt).toBeDefined();
    // Past the deadline a failure gets no retry; m2 is still processing, so the round waits.
    r.step(failed("m3", "insufficient_funds"), deadline + DAY_MS);
    expect(r.contribution("m3")).toMatchObject({ status: "failed" });
    expect(r.state.status).toBe("collecting");
    const late = r.step(succeeded("m3", 1), deadline + DAY_MS);
    expect(late.effects.filter((e) => e.kind === "refund")).toEqual([]);
    expect(r.contribution("m3")).toMatchObject({ status: "succeeded" });
    r.step(succeeded("m2"), deadline + 2 * DAY_MS);
    expect(r.state.status).toBe("paying_out");
    expect(r.effects.flatMap((e) => (e.kind === "transfer" ? [e.sourceChargeId] : [])).sort()).toEqual([
      "ch_m1_1",
      "ch_m2_1",
      "ch_m3_1",
    ]);
  });

  it("a dispute of that charge, heard after or before its success, is the contribution's", () => {
    const dispute: RoundInput = {
      type: "dispute_opened",
      memberId: "m1",
      disputeId: "dp_l",
      amountMinor: 10_000,
      attempt: 1,
      paymentIntentId: "pi_m1_1",
    };
    const after = owing().r;
    after.step(succeeded("m1", 1), T0 + 2 * DAY_MS);
    after.step(dispute, T0 + 3 * DAY_MS);
    // The payout had started: the dispute is booked as the member's loss, as for any contribution.
    expect(after.contribution("m1")).toMatchObject({ status: "succeeded", disputeIds: ["dp_l"] });
    const before = owing().r;
    before.step(dispute, T0 + 2 * DAY_MS);
    before.step(succeeded("m1", 1), T0 + 2 * DAY_MS);
    expect(before.contribution("m1")).toMatchObject({ status: "succeeded", disputeIds: ["dp_l"] });
    expect(before.contribution("m1")?.pendingDisputes).toBeUndefined();
    for (const r of [after, before]) {
      expect(r.contribution("m1")?.attempts[0]?.surplus).toBeUndefined();
      expect(r.refunds()).toEqual([]);
      expect(
        r.effects.flatMap((e) =>
          e.kind === "post_ledger" && e.transaction.kind === "dispute_loss" ? [e.transaction.id] : [],
        ),
      ).toEqual(["r1:dispute:dp_l"]);
    }
  });

  it("after a later charge of theirs was counted and disputed it stays a second charge; a charge after that one is the contribution", () => {
    const r = new Run(round());
    r.step({ type: "open" });
    for (const input of [processing("m1"), processing("m2"), processing("m3")]) r.step(input);
    r.step(failed("m1", "insufficient_funds"), T0 + DAY_MS);
    r.step(succeeded("m2"), T0 + DAY_MS);
    const retryAt = r.contribution("m1")?.retryAt ?? 0;
    r.step({ type: "timer", timer: { kind: "retry_debit", memberId: "m1", attempt: 2 } }, retryAt);
    r.step(succeeded("m1", 2), retryAt);
    // Before the payout (m3 is still processing), the bank takes attempt 2's money back.
    r.step({ type: "dispute_opened", memberId: "m1", disputeId: "dp_2", amountMinor: 10_000 }, retryAt);
    expect(r.contribution("m1")).toMatchObject({ status: "disputed" });
    r.step({ type: "retry_contribution", memberId: "m1" }, retryAt);
    r.step(failed("m1", "insufficient_funds", 3), retryAt + DAY_MS);
    expect(r.contribution("m1")).toMatchObject({ status: "retry_scheduled" });
    // Attempt 1 is older than the disputed charge the contribution counted: a second charge.
    const first = r.step(succeeded("m1", 1), retryAt + DAY_MS);
    expect(first.effects.filter((e) => e.kind === "refund").map((e) => e.id)).toEqual([
      "r1:refund:m1:debit:1",
    ]);
    expect(r.contribution("m1")).toMatchObject({ status: "retry_scheduled" });
    // Attempt 3 is newer: the member's contribution.
    const third = r.step(succeeded("m1", 3), retryAt + DAY_MS);
    expect(third.effects.filter((e) => e.kind === "refund")).toEqual([]);
    expect(r.contribution("m1")).toMatchObject({ status: "succeeded" });
    r.step(succeeded("m3"), retryAt + DAY_MS);
    expect(r.state.status).toBe("paying_out");
    expect(r.effects.flatMap((e) => (e.kind === "transfer" ? [e.sourceChargeId] : [])).sort()).toEqual([
      "ch_m1_3",
      "ch_m2_1",
      "ch_m3_1",
    ]);
  });

  it("with the member's retry already asked for at Stripe it stays a second charge: refunded at once, the retry counts", () => {
    const { r, retryAt } = owing();
    r.step({ type: "timer", timer: { kind: "retry_debit", memberId: "m1", attempt: 2 } }, retryAt);
    const late = r.step(succeeded("m1", 1), retryAt);
    expect(late.effects.filter((e) => e.kind === "refund").map((e) => e.id)).toEqual([
      "r1:refund:m1:debit:1",
    ]);
    expect(r.contribution("m1")).toMatchObject({ status: "awaiting_debit" });
    r.step(succeeded("m1", 2), retryAt + DAY_MS);
    expect(r.state.status).toBe("paying_out");
    expect(r.effects.flatMap((e) => (e.kind === "transfer" ? [e.sourceChargeId] : [])).sort()).toEqual([
      "ch_m1_2",
      "ch_m2_1",
      "ch_m3_1",
    ]);
  });
});

describe("a surplus charge disputed for part of it while our refund failed (or failed once disputed)", () => {
  // The surplus charge (attempt 1's) of a round paid out; the member disputes 0.01 of it. Stripe
  // refuses any refund of a disputed charge (charge_disputed), so what the bank did not give
  // back is owed to the member outside Stripe, never asked of Stripe again.
  const disputed: RoundInput = {
    type: "dispute_opened",
    memberId: "m1",
    disputeId: "dp_s",
    amountMinor: 1,
    attempt: 1,
    paymentIntentId: "pi_m1_1",
  };
  const failedRefund = (failureCode: string): RoundInput => ({
    type: "refund_failed",
    memberId: "m1",
    failureCode,
    debitAttempt: 1,
  });
  const landed: RoundInput = {
    type: "refund_succeeded",
    memberId: "m1",
    refundId: "re_m1_d1",
    debitAttempt: 1,
  };
  const surplusOf = (r: Run) => r.contribution("m1")?.attempts.find((a) => a.number === 1)?.surplus;
  const ids = (r: Run, part: string) =>
    r.effects.flatMap((e) => (e.kind === "post_ledger" && e.id.includes(part) ? [e.id] : []));
  /** The postings whose id holds one of `parts`, in order: id, kind and amount. */
  const amounts = (r: Run, ...parts: string[]) =>
    r.effects.flatMap((e) =>
      e.kind === "post_ledger" && parts.some((part) => e.id.includes(part))
        ? [
            [
              e.id,
              e.transaction.kind,
              e.transaction.postings
                .filter((p) => p.side === "debit")
                .reduce((n, p) => n + p.amount.amountMinor, 0),
            ],
          ]
        : [],
    );
  const withdrawalTicket = "r1:ticket:dispute:dp_s:withdrawal_unknown";
  const ticketIds = (r: Run) => r.effects.flatMap((e) => (e.kind === "open_ticket" ? [e.id] : []));
  /** One ticket asks a person to check the postings that tell how the dispute was booked. */
  function expectWithdrawalChecked(r: Run): void {
    expect(ticketIds(r).filter((id) => id === withdrawalTicket)).toHaveLength(1);
    const ticket = r.effects.find((e) => e.kind === "open_ticket" && e.id === withdrawalTicket);
    expect(ticket).toMatchObject({ reason: "dispute" });
    for (const id of [
      "r1:dispute:dp_s:withdrawn",
      "r1:refund:m1:debit:1:ledger",
      "r1:refund:m1:debit:1:ledger:failed",
    ])
      expect(ticket?.kind === "open_ticket" ? ticket.summary : "").toContain(id);
    expect(surplusOf(r)?.withdrawnBooked).toBeUndefined();
  }
  /** The bank gave back 0.01; the other 99.99 is owed outside Stripe; the round holds nothing of it. */
  const settled = { heldMinor: 0, paidOutMinor: 30_000, refundedMinor: 1, owedToMemberMinor: 9_999 };

  function paidOutWithSurplus(): { r: Run; at: number } {
    const { r, retryAt } = retrying();
    payOut(r, retryAt + DAY_MS);
    r.step(succeeded("m1", 1), retryAt + 2 * DAY_MS);
    return { r, at: retryAt + 3 * DAY_MS };
  }

  function expectSettled(r: Run, at: number): void {
    expect(surplusOf(r)).toMatchObject({ status: "charged_back", disputeId: "dp_s", disputedMinor: 1 });
    expect(r.money()).toMatchObject(settled);
    expect(r.effects).toContainEqual(
      expect.objectContaining({ kind: "open_ticket", id: "r1:ticket:dispute:dp_s:rest_owed" }),
    );
    // What is owed is on the contribution too, so an admin can record it paid, and the member is told.
    expect(r.contribution("m1")?.owedOutsideStripeMinor).toBe(9_999);
    expect(r.effects).toContainEqual(
      expect.objectContaining({
        kind: "notify",
        template: "owed_outside_stripe",
        data: expect.objectContaining({ amountMinor: 9_999 }),
      }),
    );
    expect(r.refused({ type: "retry_refund", memberId: "m1" }, at)).toBe("no_failed_refund");
    expect(r.state.status).toBe("paid_out");
  }

  it("refused when made, then disputed: the bank's part and the rest owed leave the pot", () => {
    const { r, at } = paidOutWithSurplus();
    r.step(failedRefund("charge_expired_for_refund"), at);
    r.step(disputed, at + DAY_MS);
    expectSettled(r, at + DAY_MS);
    expect(ids(r, "dp_s")).toEqual(["r1:dispute:dp_s:withdrawn", "r1:dispute:dp_s:rest_owed"]);
  });

  it("failed after its success, then disputed: the refund is reversed, then the rest is owed", () => {
    const { r, at } = paidOutWithSurplus();
    r.step(landed, at);
    r.step(failedRefund("refund_failed"), at + DAY_MS);
    r.step(disputed, at + 2 * DAY_MS);
    expectSettled(r, at + 2 * DAY_MS);
    expect(ids(r, ":debit:1:ledger")).toEqual([
      "r1:refund:m1:debit:1:ledger",
      "r1:refund:m1:debit:1:ledger:failed",
    ]);
  });

  it("disputed while the refund is out, then the refund fails: the rest is owed, nothing is retried", () => {
    const { r, at } = paidOutWithSurplus();
    r.step(disputed, at);
    expect(surplusOf(r)).toMatchObject({ status: "refund_requested", disputeId: "dp_s" });
    const answer = r.step(failedRefund("charge_for_pending_refund_disputed"), at + DAY_MS);
    expectSettled(r, at + DAY_MS);
    expect(answer.effects.some((e) => e.kind === "open_ticket" && e.reason === "refund_failed")).toBe(false);
  });

  it("disputed after the refund landed (booked as the member's loss), then the refund fails after its success: the loss is undone and the rest is owed", () => {
    const { r, at } = paidOutWithSurplus();
    r.step(landed, at);
    r.step(disputed, at + DAY_MS);
    expect(ids(r, "dp_s")).toEqual(["r1:dispute:dp_s"]);
    r.step(failedRefund("refund_failed"), at + 2 * DAY_MS);
    expectSettled(r, at + 2 * DAY_MS);
    // The books say what Stripe shows for that charge: the refund (100.00) and its failure
    // (100.00 back), and the dispute's 0.01 withdrawn; the rest is owed outside Stripe.
    expect(amounts(r, "dp_s", ":debit:1:ledger")).toEqual([
      ["r1:refund:m1:debit:1:ledger", "contribution_refunded", 10_000],
      ["r1:dispute:dp_s", "dispute_loss", 1],
      ["r1:dispute:dp_s:reinstated", "dispute_reinstated", 1],
      ["r1:refund:m1:debit:1:ledger:failed", "contribution_refund_failed", 10_000],
      ["r1:dispute:dp_s:withdrawn", "contribution_refunded", 1],
      ["r1:dispute:dp_s:rest_owed", "contribution_owed_to_member", 9_999],
    ]);
  });

  it("disputed while the refund was out, which then landed (posted whole, the withdrawal undone) and failed after its success: the refund is reversed whole, the bank's part withdrawn again", () => {
    const { r, at } = paidOutWithSurplus();
    r.step(disputed, at);
    r.step(landed, at + DAY_MS);
    // As at Stripe: the refund took the whole charge, the dispute its 0.01 besides (the member's loss).
    expect(surplusOf(r)).toMatchObject({
      status: "refunded",
      lossBooked: true,
      withdrawnBooked: false,
      withdrawalUndone: true,
    });
    r.step(failedRefund("refund_failed"), at + 2 * DAY_MS);
    expectSettled(r, at + 2 * DAY_MS);
    // Stripe: the refund (100.00) and its failure (100.00 back); the dispute's 0.01 withdrawn once.
    expect(amounts(r, "dp_s", ":debit:1:ledger")).toEqual([
      ["r1:dispute:dp_s:withdrawn", "contribution_refunded", 1],
      ["r1:refund:m1:debit:1:ledger", "contribution_refunded", 10_000],
      ["r1:dispute:dp_s:withdrawn:undone", "contribution_refund_failed", 1],
      ["r1:dispute:dp_s", "dispute_loss", 1],
      ["r1:dispute:dp_s:reinstated", "dispute_reinstated", 1],
      ["r1:refund:m1:debit:1:ledger:failed", "contribution_refund_failed", 10_000],
      ["r1:dispute:dp_s:withdrawn:again", "contribution_refunded", 1],
      ["r1:dispute:dp_s:rest_owed", "contribution_owed_to_member", 9_999],
    ]);
    expect(surplusOf(r)).toMatchObject({ status: "charged_back", withdrawnBooked: true });
    expect(ticketIds(r)).not.toContain(withdrawalTicket);
  });

  it("stored by the release that posted only the rest beside the withdrawal (withdrawnBooked kept): the refund's failure reverses the rest", () => {
    const { r, at } = paidOutWithSurplus();
    r.step(disputed, at);
    r.landedAsBefore("re_m1_d1", at + DAY_MS, "kept");
    r.step(failedRefund("refund_failed"), at + 2 * DAY_MS);
    expectSettled(r, at + 2 * DAY_MS);
    expect(amounts(r, "dp_s", ":debit:1:ledger")).toEqual([
      ["r1:dispute:dp_s:withdrawn", "contribution_refunded", 1],
      ["r1:refund:m1:debit:1:ledger", "contribution_refunded", 9_999],
      ["r1:dispute:dp_s", "dispute_loss", 1],
      ["r1:dispute:dp_s:reinstated", "dispute_reinstated", 1],
      ["r1:refund:m1:debit:1:ledger:failed", "contribution_refund_failed", 9_999],
      ["r1:dispute:dp_s:rest_owed", "contribution_owed_to_member", 9_999],
    ]);
    expect(ticketIds(r)).not.toContain(withdrawalTicket);
  });

  it("stored before withdrawnBooked: disputed while the refund was out, landed, then failed after its success", () => {
    const { r, at } = paidOutWithSurplus();
    r.step(disputed, at);
    r.landedAsBefore("re_m1_d1", at + DAY_MS, "absent");
    r.step(failedRefund("refund_failed"), at + 2 * DAY_MS);
    expectSettled(r, at + 2 * DAY_MS);
    expect(ids(r, "r1:dispute:dp_s:withdrawn")).toEqual(["r1:dispute:dp_s:withdrawn"]);
    // That release stored this charge as it stores one disputed after the refund landed (below):
    // the round cannot tell which, so it reverses the rest (posted either way), books no
    // withdrawal, and asks a person to check the two postings that tell.
    expect(amounts(r, "dp_s", ":debit:1:ledger")).toEqual([
      ["r1:dispute:dp_s:withdrawn", "contribution_refunded", 1],
      ["r1:refund:m1:debit:1:ledger", "contribution_refunded", 9_999],
      ["r1:dispute:dp_s", "dispute_loss", 1],
      ["r1:dispute:dp_s:reinstated", "dispute_reinstated", 1],
      ["r1:refund:m1:debit:1:ledger:failed", "contribution_refund_failed", 9_999],
      ["r1:dispute:dp_s:rest_owed", "contribution_owed_to_member", 9_999],
    ]);
    expectWithdrawalChecked(r);
  });

  it("stored before withdrawnBooked: disputed after the refund landed, then it failed after its success: the same, in doubt", () => {
    const { r, at } = paidOutWithSurplus();
    r.step(landed, at);
    r.step(disputed, at + DAY_MS);
    expect(surplusOf(r)).toMatchObject({ status: "refunded", lossBooked: true, withdrawnBooked: false });
    r.state = withoutWithdrawnBooked(r.state);
    r.step(failedRefund("refund_failed"), at + 2 * DAY_MS);
    expectSettled(r, at + 2 * DAY_MS);
    // 1 of the refund stays counted refunded instead of withdrawn by the dispute: the ticket
    // says how to tell and what to move; the round's totals are right.
    expect(amounts(r, "dp_s", ":debit:1:ledger")).toEqual([
      ["r1:refund:m1:debit:1:ledger", "contribution_refunded", 10_000],
      ["r1:dispute:dp_s", "dispute_loss", 1],
      ["r1:dispute:dp_s:reinstated", "dispute_reinstated", 1],
      ["r1:refund:m1:debit:1:ledger:failed", "contribution_refund_failed", 9_999],
      ["r1:dispute:dp_s:rest_owed", "contribution_owed_to_member", 9_999],
    ]);
    expectWithdrawalChecked(r);
    // Heard again, the failure is ignored: no second ticket, no posting.
    const again = r.step(failedRefund("refund_failed"), at + 3 * DAY_MS);
    expect(again.ignored?.code).toBe("no_refund_pending");
    expect(again.effects).toEqual([]);
  });

  it("stored before withdrawnBooked while the refund was out (disputed), then it landed and failed after its success: read from the charge, no doubt", () => {
    const { r, at } = paidOutWithSurplus();
    r.step(disputed, at);
    r.state = withoutWithdrawnBooked(r.state);
    // No refund of ours in the books when the dispute was heard: that release booked the
    // withdrawal, which the refund landing whole undoes.
    r.step(landed, at + DAY_MS);
    expect(surplusOf(r)).toMatchObject({
      status: "refunded",
      withdrawnBooked: false,
      withdrawalUndone: true,
    });
    r.step(failedRefund("refund_failed"), at + 2 * DAY_MS);
    expectSettled(r, at + 2 * DAY_MS);
    expect(amounts(r, "dp_s", ":debit:1:ledger")).toEqual([
      ["r1:dispute:dp_s:withdrawn", "contribution_refunded", 1],
      ["r1:refund:m1:debit:1:ledger", "contribution_refunded", 10_000],
      ["r1:dispute:dp_s:withdrawn:undone", "contribution_refund_failed", 1],
      ["r1:dispute:dp_s", "dispute_loss", 1],
      ["r1:dispute:dp_s:reinstated", "dispute_reinstated", 1],
      ["r1:refund:m1:debit:1:ledger:failed", "contribution_refund_failed", 10_000],
      ["r1:dispute:dp_s:withdrawn:again", "contribution_refunded", 1],
      ["r1:dispute:dp_s:rest_owed", "contribution_owed_to_member", 9_999],
    ]);
    expect(surplusOf(r)).toMatchObject({ withdrawnBooked: true });
    expect(ticketIds(r)).not.toContain(withdrawalTicket);
  });

  it("stored before withdrawnBooked while the refund was out (disputed), then it failed: read from the charge, no doubt", () => {
    const { r, at } = paidOutWithSurplus();
    r.step(disputed, at);
    r.state = withoutWithdrawnBooked(r.state);
    r.step(failedRefund("charge_for_pending_refund_disputed"), at + DAY_MS);
    expectSettled(r, at + DAY_MS);
    expect(ids(r, "dp_s")).toEqual(["r1:dispute:dp_s:withdrawn", "r1:dispute:dp_s:rest_owed"]);
    expect(surplusOf(r)).toMatchObject({ withdrawnBooked: true });
    expect(ticketIds(r)).not.toContain(withdrawalTicket);
  });

  it("new snapshots record withdrawnBooked, true or false, once the charge is disputed", () => {
    const out = paidOutWithSurplus();
    out.r.step(disputed, out.at);
    expect(surplusOf(out.r)).toMatchObject({ status: "refund_requested", withdrawnBooked: true });
    out.r.step(landed, out.at + DAY_MS);
    expect(surplusOf(out.r)).toMatchObject({
      status: "refunded",
      withdrawnBooked: false,
      withdrawalUndone: true,
    });
    const after = paidOutWithSurplus();
    after.r.step(landed, after.at);
    after.r.step(disputed, after.at + DAY_MS);
    expect(surplusOf(after.r)).toMatchObject({ status: "refunded", withdrawnBooked: false });
    after.r.step(failedRefund("refund_failed"), after.at + 2 * DAY_MS);
    expect(surplusOf(after.r)).toMatchObject({ status: "charged_back", withdrawnBooked: true });
    const refused = paidOutWithSurplus();
    refused.r.step(failedRefund("charge_expired_for_refund"), refused.at);
    refused.r.step(disputed, refused.at + DAY_MS);
    expect(surplusOf(refused.r)).toMatchObject({ status: "charged_back", withdrawnBooked: true });
    for (const { r } of [out, after, refused]) expect(ticketIds(r)).not.toContain(withdrawalTicket);
  });
});
