import { describe, expect, it } from "vitest";
import { DEFAULT_ROUND_POLICY, type RoundPolicy } from "../policy/round-policy.js";
import { DAY_MS } from "../shared/time.js";
import { debitSucceeded as succeeded } from "../testing/mothers.js";
import { decide } from "./decide.js";
import { newRound, type Round, type RoundStatus } from "./round.js";
import type { RoundInput } from "./round-input.js";
import { isRoundMoveAllowed, moveRound, ROUND_TRANSITIONS } from "./round-transitions.js";

const T0 = Date.UTC(2026, 0, 5);
const delayed: RoundPolicy = { ...DEFAULT_ROUND_POLICY, payoutDelayMs: DAY_MS };

function round(recipientCanReceive = true): Round {
  return newRound({
    id: "r1",
    groupId: "g1",
    rotation: 1,
    sequence: 0,
    recipientMemberId: "m1",
    recipientCanReceive,
    contributorIds: ["m1", "m2"],
    currency: "AUD",
    contributionMinor: 10_000,
    scheduledFor: T0,
  })._unsafeUnwrap();
}

function after(state: Round, inputs: readonly RoundInput[], now = T0, policy = delayed): Round {
  return inputs.reduce((s, i) => decide(s, i, { now, policy })._unsafeUnwrap().state, state);
}

const opened = () => after(round(), [{ type: "open" }]);
const settled = (canReceive = true) =>
  after(round(canReceive), [{ type: "open" }, succeeded("m1"), succeeded("m2")]);
const paying = () => after(settled(), [{ type: "timer", timer: { kind: "payout_due" } }]);

describe("ROUND_TRANSITIONS", () => {
  it("final statuses go nowhere; every other status can end", () => {
    expect(ROUND_TRANSITIONS.paid_out).toEqual([]);
    expect(ROUND_TRANSITIONS.cancelled).toEqual([]);
    const reach = (from: RoundStatus, seen = new Set<RoundStatus>()): Set<RoundStatus> => {
      for (const to of ROUND_TRANSITIONS[from])
        if (!seen.has(to)) {
          seen.add(to);
          reach(to, seen);
        }
      return seen;
    };
    for (const status of Object.keys(ROUND_TRANSITIONS) as RoundStatus[]) {
      if (ROUND_TRANSITIONS[status].length === 0) continue;
      const ends = reach(status);
      expect(ends.has("paid_out") || ends.has("cancelled"), status).toBe(true);
    }
  });

  it("moveRound throws on a move the table does not list: a bug, not an outcome", () => {
    expect(() => moveRound(opened(), "paid_out")).toThrow(
      /round .*: collecting → paid_out is not in its transition table/,
    );
    expect(() => moveRound({ ...opened(), status: "paid_out" }, "collecting")).toThrow(
      /paid_out → collecting/,
    );
    expect(() => moveRound({ ...opened(), status: "cancelled" }, "refunding")).toThrow(Error);
    expect(() => moveRound({ ...opened(), status: "payout_blocked" }, "refunding")).toThrow(Error);
    expect(isRoundMoveAllowed("refunding", "collecting")).toBe(false);
  });

  it("staying in a status is not a move; leaving payout_blocked clears blockedReason", () => {
    const blocked = moveRound({ ...opened(), status: "settled" }, "payout_blocked", {
      blockedReason: "no account",
    });
    expect(blocked.blockedReason).toBe("no account");
    expect(moveRound(blocked, "payout_blocked", { blockedReason: "still none" }).blockedReason).toBe(
      "still none",
    );
    const unblocked = moveRound(blocked, "paying_out");
    expect(unblocked.status).toBe("paying_out");
    expect("blockedReason" in unblocked).toBe(false);
  });

  // Each listed move is made by decide in one step: the table is what the round does,
  // not a wish. (The model-based test checks the other way: every change it sees is listed.)
  // [what the round does, state before, input, move made, status after the decision if it moves on]
  const moves: [string, () => Round, RoundInput, RoundStatus, RoundStatus, RoundStatus?][] = [
    ["opens", () => round(), { type: "open" }, "scheduled", "collecting"],
    // Nothing to refund yet: it passes through refunding (and says so) to cancelled at once.
    [
      "is cancelled before it opens",
      () => round(),
      { type: "cancel", reason: "x" },
      "scheduled",
      "refunding",
      "cancelled",
    ],
    [
      "collects every contribution",
      () => after(round(), [{ type: "open" }, succeeded("m1")]),
      succeeded("m2"),
      "collecting",
      "settled",
    ],
    [
      "misses its deadline",
      () => after(round(), [{ type: "open" }, succeeded("m1")]),
      { type: "timer", timer: { kind: "collection_deadline" } },
      "collecting",
      "refunding",
    ],
    ["starts the payout", settled, { type: "timer", timer: { kind: "payout_due" } }, "settled", "paying_out"],
    [
      "cannot start the payout",
      () => settled(false),
      { type: "timer", timer: { kind: "payout_due" } },
      "settled",
      "payout_blocked",
    ],
    [
      "is short again after a dispute",
      settled,
      { type: "dispute_opened", memberId: "m2", disputeId: "dp_1", amountMinor: 10_000 },
      "settled",
      "collecting",
    ],
    ["is cancelled once settled", settled, { type: "cancel", reason: "x" }, "settled", "refunding"],
    [
      "lands the last transfer",
      () =>
        after(paying(), [
          { type: "transfer_created", sourceMemberId: "m1", attempt: 1, transferId: "tr_m1" },
        ]),
      { type: "transfer_created", sourceMemberId: "m2", attempt: 1, transferId: "tr_m2" },
      "paying_out",
      "paid_out",
    ],
    [
      "has a transfer fail for good",
      paying,
      { type: "transfer_failed", sourceMemberId: "m2", attempt: 1, failureCode: "account_invalid" },
      "paying_out",
      "payout_blocked",
    ],
    [
      "is unblocked",
      () => after(settled(false), [{ type: "timer", timer: { kind: "payout_due" } }]),
      { type: "recipient_readiness", canReceive: true },
      "payout_blocked",
      "paying_out",
    ],
    [
      "has its last refund done",
      () =>
        after(round(), [
          { type: "open" },
          succeeded("m1"),
          {
            type: "debit_failed",
            memberId: "m2",
            attempt: 1,
            paymentIntentId: "pi_m2_1",
            failureCode: "account_closed",
          },
          { type: "timer", timer: { kind: "collection_deadline" } },
        ]),
      { type: "refund_succeeded", memberId: "m1", refundId: "re_1" },
      "refunding",
      "cancelled",
    ],
  ];

  it.each(moves)("decide makes every listed move: a round that %s", (_, before, input, from, to, then) => {
    const state = before();
    expect(state.status).toBe(from);
    const next = decide(state, input, { now: T0, policy: delayed })._unsafeUnwrap();
    expect(next.state.status).toBe(then ?? to);
    if (to === "refunding")
      expect(next.effects).toContainEqual(expect.objectContaining({ template: "round_cancelling" }));
  });

  it("the examples cover the whole table", () => {
    const listed = Object.entries(ROUND_TRANSITIONS).flatMap(([from, tos]) =>
      tos.map((to) => `${from}→${to}`),
    );
    expect(moves.map(([, , , from, to]) => `${from}→${to}`).sort()).toEqual(listed.sort());
  });
});
