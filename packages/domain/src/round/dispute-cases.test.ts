// Counterexamples the rounds model (testing/round-model.property.test.ts) found once it
// generated disputes, shrunk to the decisions that matter.
import { describe, expect, it } from "vitest";
import { checkRoundMoney, ledgerFromTransactions } from "../ledger/index.js";
import { DEFAULT_ROUND_POLICY } from "../policy/round-policy.js";
import {
  debitFailed as failed,
  debitProcessing as processing,
  debitSucceeded as succeeded,
} from "../testing/mothers.js";
import { decide, type RoundDecision } from "./decide.js";
import { newRound, type Round } from "./round.js";
import type { RoundEffect } from "./round-effect.js";
import type { RoundInput } from "./round-input.js";

const T0 = Date.UTC(2026, 0, 5);
const policy = DEFAULT_ROUND_POLICY;

function round(members: readonly string[]): Round {
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

/** Decides `inputs` in order (at `now`), keeping every effect. */
function run(state: Round, inputs: readonly (readonly [RoundInput, number])[]): RoundDecision {
  let d: RoundDecision = { state, effects: [] };
  const effects: RoundEffect[] = [];
  for (const [input, now] of inputs) {
    const r = decide(d.state, input, { now, policy });
    if (r.isErr()) throw new Error(`${r.error.code}: ${r.error.message}`);
    d = r.value;
    effects.push(...d.effects);
  }
  return { ...d, effects };
}

/** Where the round's money is, from every posting (each id once). */
function money(effects: readonly RoundEffect[]) {
  const txs = new Map(
    effects.flatMap((e) => (e.kind === "post_ledger" ? [[e.transaction.id, e.transaction] as const] : [])),
  );
  return checkRoundMoney(
    ledgerFromTransactions([...txs.values()])._unsafeUnwrap(),
    "r1",
    "AUD",
  )._unsafeUnwrap();
}

const deadline = T0 + policy.collectionWindowMs;

describe("a counted contribution disputed for part of it before payout", () => {
  // Model counterexample: two members, m0 paid, m1's debit failed; m0 disputed 0.01 of their
  // charge before the deadline; the round was cancelled holding the other 99.99, which
  // Stripe will not refund (charge_disputed) and nothing else ever moved.
  it("takes all of the contribution out of the pot: the part the bank took, and the rest owed to the member outside Stripe", () => {
    const d = run(round(["m1", "m2"]), [
      [{ type: "open" }, T0],
      [processing("m1"), T0],
      [succeeded("m1"), T0 + 3 * 86_400_000],
      [failed("m2", "account_closed"), T0 + 3 * 86_400_000],
      [
        {
          type: "dispute_opened",
          memberId: "m1",
          disputeId: "dp_1",
          amountMinor: 1,
          attempt: 1,
          paymentIntentId: "pi_m1_1",
        },
        T0 + 4 * 86_400_000,
      ],
      [{ type: "timer", timer: { kind: "collection_deadline" } }, deadline],
    ]);
    expect(d.state.status).toBe("cancelled");
    expect(money(d.effects)).toMatchObject({ heldMinor: 0, inFlightMinor: 0, refundedMinor: 10_000 });
    // No refund is asked of Stripe (it refuses one of a disputed charge); a ticket says what is owed.
    expect(d.effects.filter((e) => e.kind === "refund")).toEqual([]);
    expect(d.effects).toContainEqual(
      expect.objectContaining({
        kind: "post_ledger",
        id: "r1:dispute:dp_1:rest_owed",
        transaction: expect.objectContaining({ kind: "contribution_refunded" }),
      }),
    );
    expect(d.effects).toContainEqual(
      expect.objectContaining({ kind: "open_ticket", id: "r1:ticket:dispute:dp_1:rest_owed" }),
    );
  });

  it("a dispute of all of it owes nothing more", () => {
    const d = run(round(["m1", "m2"]), [
      [{ type: "open" }, T0],
      [succeeded("m1"), T0],
      [{ type: "dispute_opened", memberId: "m1", disputeId: "dp_1", amountMinor: 10_000, attempt: 1 }, T0],
    ]);
    expect(money(d.effects)).toMatchObject({ heldMinor: 0, refundedMinor: 10_000 });
    expect(d.effects.some((e) => e.id.endsWith(":rest_owed"))).toBe(false);
  });
});

describe("a contribution disputed after susu refunded it", () => {
  // Model counterexample: three members, one debit failed for good; past the deadline the
  // round refunded the other two and was cancelled; then m0 disputed 0.01 of their charge.
  // The bank gave it back a second time, and nothing was booked: the books had 0.01 more
  // than Stripe.
  it("books what the bank took as the member's loss: they were paid twice", () => {
    const d = run(round(["m1", "m2"]), [
      [{ type: "open" }, T0],
      [succeeded("m1"), T0],
      [failed("m2", "account_closed"), T0],
      [{ type: "timer", timer: { kind: "collection_deadline" } }, deadline],
      [{ type: "refund_succeeded", memberId: "m1", refundId: "re_1" }, deadline],
      [
        {
          type: "dispute_opened",
          memberId: "m1",
          disputeId: "dp_1",
          amountMinor: 1,
          attempt: 1,
          paymentIntentId: "pi_m1_1",
        },
        deadline + 86_400_000,
      ],
    ]);
    expect(d.state.status).toBe("cancelled");
    expect(d.effects).toContainEqual(
      expect.objectContaining({
        kind: "post_ledger",
        id: "r1:dispute:dp_1",
        transaction: expect.objectContaining({ kind: "dispute_loss" }),
      }),
    );
    expect(money(d.effects)).toMatchObject({ heldMinor: 0, refundedMinor: 10_000 });
  });
});
