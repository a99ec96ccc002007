// Recording money owed outside Stripe as paid: a held payment's customer (the rest of a
// partial loss owed to them), a marketplace charge's customer, a round's member. What is owed
// moves to `<agg>:paid_outside_stripe`, the person is told, and once nothing is left the
// tickets that asked an admin to pay it are resolved; every refusal changes nothing.
import { describe, expect, it } from "vitest";
import { checkRoundMoney, ledgerFromTransactions, postTransaction } from "../ledger/index.js";
import { money } from "../money/index.js";
import { DEFAULT_ROUND_POLICY } from "../policy/round-policy.js";
import { decide, type RoundDecision } from "../round/decide.js";
import { newRound, type Round } from "../round/round.js";
import type { RoundEffect } from "../round/round-effect.js";
import type { RoundInput } from "../round/round-input.js";
import {
  HELD_T0,
  type HeldRun,
  heldBooks,
  heldDisputeLost,
  heldDisputeOpened,
  heldPaid,
  heldRefundFailed,
  runHeld,
  startHeld,
} from "../testing/held-payment-mothers.js";
import {
  closed,
  created,
  dispute,
  marketplaceBooks,
  paid,
  refund,
  refundFailed,
  run as runCharge,
} from "../testing/marketplace-charge-mothers.js";
import { debitFailed, debitProcessing, debitSucceeded } from "../testing/mothers.js";
import { decideOwedPayment, type RecordOwedPayment } from "./owed-payment.js";
import { decideHeldOwedPayment, decideMarketplaceOwedPayment, paymentOwed } from "./payment-owed.js";
import { decideRoundOwedPayment, roundOwed } from "./round-owed.js";

const pay = (
  amountMinor: number,
  currency: "AUD" | "NZD" = "AUD",
  reference = "bank ref 1",
): RecordOwedPayment => ({
  type: "record_owed_payment",
  amount: money(amountMinor, currency),
  reference,
  by: "operator:olga",
});

/** A held payment whose partial loss (6,000 of 10,000) left 4,000 owed to the customer. */
function heldOwing(): HeldRun {
  return runHeld(startHeld(), [
    heldPaid,
    { type: "report_unfulfilled", reason: "cancelled" },
    heldRefundFailed("charge_disputed"),
    heldDisputeOpened(6_000),
    heldDisputeLost(6_000),
  ]);
}

/** Applies a held decision's postings to the run's ledger. */
function applyHeld(r: HeldRun, command: RecordOwedPayment, now = HELD_T0): HeldRun {
  const d = decideHeldOwedPayment(r.state, command, { now })._unsafeUnwrap();
  let ledger = r.ledger;
  for (const e of d.effects)
    if (e.kind === "post_ledger") ledger = postTransaction(ledger, e.transaction)._unsafeUnwrap();
  return { state: d.state, ledger, effects: [...r.effects, ...d.effects], last: d.effects };
}

describe("the rule: currency, something owed, at most what is left, a reference", () => {
  const owed = { currency: "AUD" as const, bookedMinor: 4_000, payments: [] };
  it("records a part, numbered, with who and when", () => {
    const d = decideOwedPayment(owed, pay(1_500), 7)._unsafeUnwrap();
    expect(d.payment).toEqual({
      number: 1,
      amountMinor: 1_500,
      reference: "bank ref 1",
      paidBy: "operator:olga",
      recordedAt: 7,
    });
    expect(d.leftMinor).toBe(2_500);
  });
  it.each([
    ["more than is owed", pay(4_001), "amount_exceeds_owed"],
    ["another currency", pay(1_000, "NZD"), "currency_mismatch"],
    ["nothing", pay(0), "invalid_owed_payment"],
    ["a negative amount", pay(-5), "invalid_owed_payment"],
    ["no reference", pay(1_000, "AUD", "   "), "invalid_owed_payment"],
    ["a reference too long", pay(1_000, "AUD", "x".repeat(201)), "invalid_owed_payment"],
  ])("refuses %s", (_what, command, code) => {
    expect(decideOwedPayment(owed, command, 7)._unsafeUnwrapErr().code).toBe(code);
  });
  it("refuses a payment whose reference was recorded already (a retry, a second admin): recorded once", () => {
    const first = decideOwedPayment(owed, pay(1_500, "AUD", "NAB 0042"), 7)._unsafeUnwrap();
    const again = { ...owed, payments: first.payments };
    for (const reference of ["NAB 0042", " nab 0042 "])
      expect(decideOwedPayment(again, pay(1_500, "AUD", reference), 8)._unsafeUnwrapErr().code).toBe(
        "duplicate_owed_payment",
      );
    // All of it paid by that reference: a retry says so rather than nothing_owed.
    const all = decideOwedPayment(owed, pay(4_000, "AUD", "NAB 0042"), 7)._unsafeUnwrap();
    expect(
      decideOwedPayment(
        { ...owed, payments: all.payments },
        pay(4_000, "AUD", "NAB 0042"),
        8,
      )._unsafeUnwrapErr().code,
    ).toBe("duplicate_owed_payment");
    expect(decideOwedPayment(again, pay(1_500, "AUD", "NAB 0043"), 8).isOk()).toBe(true);
  });
  it("refuses when nothing was booked, or all of it was paid", () => {
    expect(decideOwedPayment({ ...owed, bookedMinor: 0 }, pay(1), 7)._unsafeUnwrapErr().code).toBe(
      "nothing_owed",
    );
    const paidAll = decideOwedPayment(owed, pay(4_000), 7)._unsafeUnwrap();
    expect(
      decideOwedPayment(
        { ...owed, payments: paidAll.payments },
        pay(1, "AUD", "bank ref 2"),
        8,
      )._unsafeUnwrapErr().code,
    ).toBe("nothing_owed");
  });
});

describe("a held payment's customer owed the rest of a partial loss", () => {
  it("the customer is told what is owed when it is booked", () => {
    const r = heldOwing();
    expect(r.last.filter((e) => e.kind === "notify" && e.template === "owed_outside_stripe")).toMatchObject([
      {
        id: "hp1:notify:owed_outside_stripe:2",
        to: { kind: "customer", email: "c@x.io" },
        data: { refund: 2, amountMinor: 4_000, currency: "AUD", heldPaymentId: "hp1" },
      },
    ]);
  });

  it("a part paid: moved out of what is owed, the customer told, the ticket left open", () => {
    const r = applyHeld(heldOwing(), pay(1_500));
    expect(r.state.owedPayments).toMatchObject([{ number: 1, amountMinor: 1_500, reference: "bank ref 1" }]);
    expect(heldBooks(r)).toMatchObject({ owedToCustomerMinor: 2_500, paidOutsideStripeMinor: 1_500 });
    expect(r.last.map((e) => [e.kind, e.id])).toEqual([
      ["post_ledger", "hp1:owed:paid:1:ledger"],
      ["notify", "hp1:notify:owed_paid_outside_stripe:1"],
    ]);
    const tx = r.last.find((e) => e.kind === "post_ledger");
    expect(tx?.kind === "post_ledger" && tx.transaction.kind).toBe("held_paid_outside_stripe");
    expect(r.last.find((e) => e.kind === "notify")).toMatchObject({
      to: { kind: "customer", email: "c@x.io" },
      template: "owed_paid_outside_stripe",
      data: { amountMinor: 1_500, leftMinor: 2_500, reference: "bank ref 1", currency: "AUD" },
    });
  });

  it("the rest paid: nothing owed, the refund_owed ticket resolved, a further payment refused", () => {
    const r = applyHeld(applyHeld(heldOwing(), pay(1_500)), pay(2_500, "AUD", "bank ref 2"));
    expect(heldBooks(r)).toMatchObject({ owedToCustomerMinor: 0, paidOutsideStripeMinor: 4_000 });
    expect(paymentOwed(r.state)).toMatchObject({ bookedMinor: 4_000 });
    expect(r.last.filter((e) => e.kind === "resolve_ticket")).toEqual([
      {
        kind: "resolve_ticket",
        id: "hp1:ticket:refund_owed:2:resolve",
        aggregate: "held_payment",
        aggregateId: "hp1",
        ticketId: "hp1:ticket:refund_owed:2",
        by: "operator:olga",
        note: "paid outside Stripe: 4000 AUD in 2 payment(s), the last bank ref 2",
      },
    ]);
    expect(
      decideHeldOwedPayment(r.state, pay(1, "AUD", "bank ref 3"), { now: HELD_T0 })._unsafeUnwrapErr().code,
    ).toBe("nothing_owed");
  });

  it("a payment with nothing owed is refused", () => {
    const r = runHeld(startHeld(), [heldPaid]);
    expect(decideHeldOwedPayment(r.state, pay(1), { now: HELD_T0 })._unsafeUnwrapErr().code).toBe(
      "nothing_owed",
    );
  });
});

describe("a marketplace charge's customer owed the rest of a partial loss", () => {
  it("booked: the customer told; paid in full: moved, told, the ticket resolved", () => {
    const settled = runCharge(created(), [paid()]);
    const l = runCharge(settled.state, [
      refund(),
      refundFailed("charge_disputed"),
      dispute(6_000),
      closed("lost", 6_000),
    ]);
    expect(
      l.last.effects.filter((e) => e.kind === "notify" && e.template === "owed_outside_stripe"),
    ).toMatchObject([
      { id: "mc1:notify:owed_outside_stripe:2", to: { kind: "customer", email: "cy@example.com" } },
    ]);
    const d = decideMarketplaceOwedPayment(l.state, pay(4_000), { now: l.state.createdAt })._unsafeUnwrap();
    expect(d.effects.map((e) => [e.kind, e.id])).toEqual([
      ["post_ledger", "mc1:owed:paid:1:ledger"],
      ["notify", "mc1:notify:owed_paid_outside_stripe:1"],
      ["resolve_ticket", "mc1:ticket:refund_owed:2:resolve"],
    ]);
    expect(marketplaceBooks([...settled.effects, ...l.effects, ...d.effects], d.state)).toMatchObject({
      owedToCustomerMinor: 0,
      paidOutsideStripeMinor: 4_000,
    });
  });
});

describe("a round's member owed the rest of a contribution disputed in part", () => {
  const T0 = Date.UTC(2026, 0, 5);
  const policy = DEFAULT_ROUND_POLICY;
  function owing(): RoundDecision {
    const round: Round = newRound({
      id: "r1",
      groupId: "g1",
      rotation: 1,
      sequence: 0,
      recipientMemberId: "m1",
      recipientCanReceive: true,
      contributorIds: ["m1", "m2"],
      currency: "AUD",
      contributionMinor: 10_000,
      scheduledFor: T0,
    })._unsafeUnwrap();
    const inputs: RoundInput[] = [
      { type: "open" },
      debitSucceeded("m1"),
      { type: "dispute_opened", memberId: "m1", disputeId: "dp_1", amountMinor: 3_000, attempt: 1 },
    ];
    let d: RoundDecision = { state: round, effects: [] };
    const effects: RoundEffect[] = [];
    for (const input of inputs) {
      d = decide(d.state, input, { now: T0, policy })._unsafeUnwrap();
      effects.push(...d.effects);
    }
    return { ...d, effects };
  }
  const books = (effects: readonly RoundEffect[]) =>
    checkRoundMoney(
      ledgerFromTransactions(
        effects.flatMap((e) => (e.kind === "post_ledger" ? [e.transaction] : [])),
      )._unsafeUnwrap(),
      "r1",
      "AUD",
    )._unsafeUnwrap();

  it("booked: the contribution keeps what is owed, the member is told", () => {
    const d = owing();
    expect(d.state.contributions[0]).toMatchObject({ memberId: "m1", owedOutsideStripeMinor: 7_000 });
    expect(d.effects.filter((e) => e.kind === "notify" && e.template === "owed_outside_stripe")).toEqual([
      {
        kind: "notify",
        id: "r1:notify:owed_outside_stripe:m1:dp_1",
        aggregate: "round",
        aggregateId: "r1",
        to: { kind: "group", groupId: "g1", members: { kind: "member", memberId: "m1" } },
        template: "owed_outside_stripe",
        data: { roundId: "r1", memberId: "m1", currency: "AUD", amountMinor: 7_000, disputeId: "dp_1" },
      },
    ]);
  });

  it("paid in two parts: the books follow, the rest-owed ticket is resolved at the end", () => {
    const d = owing();
    const first = decideRoundOwedPayment(d.state, "m1", pay(2_000), { now: T0 })._unsafeUnwrap();
    const second = decideRoundOwedPayment(first.state, "m1", pay(5_000, "AUD", "bank ref 2"), {
      now: T0,
    })._unsafeUnwrap();
    expect(first.effects.some((e) => e.kind === "resolve_ticket")).toBe(false);
    expect(second.effects.map((e) => [e.kind, e.id])).toEqual([
      ["post_ledger", "r1:owed:m1:paid:2:ledger"],
      ["notify", "r1:notify:owed_paid_outside_stripe:m1:2"],
      ["resolve_ticket", "r1:ticket:dispute:dp_1:rest_owed:resolve"],
    ]);
    expect(books([...d.effects, ...first.effects, ...second.effects])).toMatchObject({
      owedToMemberMinor: 0,
      paidOutsideStripeMinor: 7_000,
    });
    expect(roundOwed(second.state, second.state.contributions[0]!)).toMatchObject({ bookedMinor: 7_000 });
  });

  it("a member owed nothing, or not in the round, is refused", () => {
    const d = owing();
    expect(decideRoundOwedPayment(d.state, "m2", pay(1), { now: T0 })._unsafeUnwrapErr().code).toBe(
      "nothing_owed",
    );
    expect(decideRoundOwedPayment(d.state, "zed", pay(1), { now: T0 })._unsafeUnwrapErr().code).toBe(
      "nothing_owed",
    );
  });

  it("a round stored before it kept what it owes: the ledger's balance is owed, then kept", () => {
    const d = owing();
    const { owedOutsideStripeMinor: _, ...old } = d.state.contributions[0]!;
    const before: Round = { ...d.state, contributions: [old, ...d.state.contributions.slice(1)] };
    expect(decideRoundOwedPayment(before, "m1", pay(1), { now: T0 })._unsafeUnwrapErr().code).toBe(
      "nothing_owed",
    );
    const paidPart = decideRoundOwedPayment(before, "m1", pay(1_000), { now: T0 }, 7_000)._unsafeUnwrap();
    expect(paidPart.state.contributions[0]).toMatchObject({ owedOutsideStripeMinor: 7_000 });
    expect(
      decideRoundOwedPayment(paidPart.state, "m1", pay(6_001, "AUD", "bank ref 2"), {
        now: T0,
      })._unsafeUnwrapErr().code,
    ).toBe("amount_exceeds_owed");
  });
});

describe("a member owed for their contribution and for a second charge, both disputed in part", () => {
  // m1's first debit was recorded as failed, the retry succeeded, then the first took the money
  // after all (a surplus charge, its refund asked). The payout to m1 failed, m1 disputed 30.00
  // of the contribution's charge (70.00 owed), the surplus's refund failed, and m1 disputed
  // 10.00 of the surplus charge (90.00 more owed): 160.00 owed, with two rest-owed tickets.
  const T0 = Date.UTC(2026, 0, 5);
  const policy = DEFAULT_ROUND_POLICY;
  const DAY = 86_400_000;
  function run(strip: (r: Round) => Round = (r) => r): {
    readonly state: Round;
    readonly effects: RoundEffect[];
  } {
    let state: Round = newRound({
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
    const effects: RoundEffect[] = [];
    const step = (input: RoundInput, now: number) => {
      const d = decide(state, input, { now, policy })._unsafeUnwrap();
      state = d.state;
      effects.push(...d.effects);
    };
    step({ type: "open" }, T0);
    step(debitProcessing("m1"), T0);
    step(debitFailed("m1", "insufficient_funds"), T0);
    const retryAt = state.contributions[0]?.retryAt ?? T0;
    step({ type: "timer", timer: { kind: "retry_debit", memberId: "m1", attempt: 2 } }, retryAt);
    for (const input of [debitProcessing("m1", 2), debitSucceeded("m2"), debitSucceeded("m3")])
      step(input, retryAt);
    step(debitSucceeded("m1", 2), retryAt + DAY);
    step(debitSucceeded("m1", 1), retryAt + DAY);
    step(
      { type: "transfer_failed", sourceMemberId: "m1", attempt: 1, failureCode: "account_closed" },
      retryAt + DAY,
    );
    const main: RoundInput = {
      type: "dispute_opened",
      memberId: "m1",
      disputeId: "dp_main",
      amountMinor: 3_000,
      attempt: 2,
      paymentIntentId: "pi_m1_2",
    };
    step(main, retryAt + 2 * DAY);
    // What the code before rounds kept what they owe stored: the round, without the figure.
    state = strip(state);
    step(
      { type: "refund_failed", memberId: "m1", failureCode: "charge_expired_for_refund", debitAttempt: 1 },
      retryAt + 2 * DAY,
    );
    step(
      {
        type: "dispute_opened",
        memberId: "m1",
        disputeId: "dp_s",
        amountMinor: 1_000,
        attempt: 1,
        paymentIntentId: "pi_m1_1",
      },
      retryAt + 3 * DAY,
    );
    return { state, effects };
  }
  const owedInLedger = (effects: readonly RoundEffect[]) =>
    checkRoundMoney(
      ledgerFromTransactions(
        effects.flatMap((e) => (e.kind === "post_ledger" ? [e.transaction] : [])),
      )._unsafeUnwrap(),
      "r1",
      "AUD",
    )._unsafeUnwrap().owedToMemberMinor;
  const resolved = (effects: readonly RoundEffect[]) =>
    effects.flatMap((e) => (e.kind === "resolve_ticket" ? [e.ticketId] : []));

  it("paid in full: both rest-owed tickets are resolved, the second charge's too", () => {
    const { state, effects } = run();
    expect(owedInLedger(effects)).toBe(16_000);
    expect(
      effects.flatMap((e) => (e.kind === "open_ticket" && e.id.endsWith(":rest_owed") ? [e.id] : [])),
    ).toEqual(["r1:ticket:dispute:dp_main:rest_owed", "r1:ticket:dispute:dp_s:rest_owed"]);
    const paid = decideRoundOwedPayment(state, "m1", pay(16_000), { now: T0 })._unsafeUnwrap();
    expect(resolved(paid.effects).sort()).toEqual([
      "r1:ticket:dispute:dp_main:rest_owed",
      "r1:ticket:dispute:dp_s:rest_owed",
    ]);
  });

  it("a round stored before it kept what it owes, owed more by a later dispute: all the ledger owes can be paid, and no ticket is resolved before", () => {
    const { state, effects } = run((r) => ({
      ...r,
      contributions: r.contributions.map(({ owedOutsideStripeMinor: _, ...c }) => c),
    }));
    const ledgerOwed = owedInLedger(effects);
    expect(ledgerOwed).toBe(16_000);
    // What the newer dispute booked alone is not all that is owed: paying it leaves 70.00.
    const part = decideRoundOwedPayment(state, "m1", pay(9_000), { now: T0 }, ledgerOwed)._unsafeUnwrap();
    expect(resolved(part.effects)).toEqual([]);
    expect(roundOwed(part.state, part.state.contributions[0]!)).toMatchObject({ bookedMinor: 16_000 });
    const rest = decideRoundOwedPayment(part.state, "m1", pay(7_000, "AUD", "bank ref 2"), {
      now: T0,
    })._unsafeUnwrap();
    expect(resolved(rest.effects).length).toBeGreaterThan(0);
  });
});
