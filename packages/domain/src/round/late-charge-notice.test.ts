// What a member hears when a debit susu told them had failed is taken by their bank after all
// and counts as their contribution (a slow bank): that it was collected, once, and that the
// retry they were told of will not be made. A late charge that does not count (a second
// charge, refunded) is the admins' matter, as before.
import { describe, expect, it } from "vitest";
import { DEFAULT_ROUND_POLICY, type RoundPolicy } from "../policy/round-policy.js";
import { DAY_MS } from "../shared/time.js";
import {
  debitFailed as failed,
  debitProcessing as processing,
  debitSucceeded as succeeded,
} from "../testing/mothers.js";
import { decide } from "./decide.js";
import { newRound, type Round } from "./round.js";
import type { RoundEffect } from "./round-effect.js";
import type { RoundInput } from "./round-input.js";

const T0 = Date.UTC(2026, 0, 5);
const policy: RoundPolicy = { ...DEFAULT_ROUND_POLICY };

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

/** The state after `inputs`, and the effects of the last one. */
function run(inputs: readonly (readonly [RoundInput, number])[]): { state: Round; effects: RoundEffect[] } {
  let state = round();
  let effects: RoundEffect[] = [];
  for (const [input, now] of inputs) {
    const d = decide(state, input, { now, policy })._unsafeUnwrap();
    state = d.state;
    effects = [...d.effects];
  }
  return { state, effects };
}

const memberNotices = (effects: readonly RoundEffect[], memberId: string) =>
  effects.flatMap((e) =>
    e.kind === "notify" &&
    e.to.kind === "group" &&
    e.to.members.kind === "member" &&
    e.to.members.memberId === memberId
      ? [e]
      : [],
  );

/** m1's debit failed (a retry is scheduled, m1 was told so); m2 and m3 are still processing. */
const owing: readonly (readonly [RoundInput, number])[] = [
  [{ type: "open" }, T0],
  [processing("m1"), T0],
  [processing("m2"), T0],
  [processing("m3"), T0],
  [failed("m1", "insufficient_funds"), T0 + DAY_MS],
];

describe("a late charge that counts as the member's contribution", () => {
  it("tells the member it was collected after all, and that the retry is off", () => {
    const before = run(owing);
    expect(before.state.contributions.find((c) => c.memberId === "m1")?.status).toBe("retry_scheduled");
    expect(memberNotices(before.effects, "m1").map((e) => e.template)).toEqual([
      "contribution_retry_scheduled",
    ]);

    const late = run([...owing, [succeeded("m1", 1), T0 + 2 * DAY_MS]]);
    expect(late.state.contributions.find((c) => c.memberId === "m1")?.status).toBe("succeeded");
    const told = memberNotices(late.effects, "m1");
    expect(told.map((e) => [e.id, e.template])).toEqual([
      ["r1:notify:contribution_collected_late:m1:1", "contribution_collected_late"],
    ]);
    expect(told[0]?.data).toMatchObject({
      roundId: "r1",
      memberId: "m1",
      groupId: "g1",
      amountMinor: 10_000,
      currency: "AUD",
      attempt: 1,
    });
    // Nobody else hears of it: it is the member's contribution, nothing unexpected.
    expect(late.effects.filter((e) => e.kind === "notify")).toHaveLength(1);
  });

  it("is told once: the same success heard again asks for nothing", () => {
    const again = run([
      ...owing,
      [succeeded("m1", 1), T0 + 2 * DAY_MS],
      [succeeded("m1", 1), T0 + 2 * DAY_MS + 1],
    ]);
    expect(again.effects).toEqual([]);
  });

  it("an on-time success tells the member nothing more than the debit's start did", () => {
    const onTime = run([...owing, [succeeded("m2", 1), T0 + 2 * DAY_MS]]);
    expect(memberNotices(onTime.effects, "m2")).toEqual([]);
  });

  it("a late charge that is not the contribution (a second charge, refunded) is not announced to the member as one", () => {
    // m1 paid by a retry; the first debit, recorded as failed, is taken after all.
    const second = run([
      ...owing,
      [{ type: "timer", timer: { kind: "retry_debit", memberId: "m1", attempt: 2 } }, T0 + 3 * DAY_MS],
      [processing("m1", 2), T0 + 3 * DAY_MS],
      [succeeded("m1", 2), T0 + 4 * DAY_MS],
      [succeeded("m1", 1), T0 + 4 * DAY_MS],
    ]);
    expect(second.effects.some((e) => e.kind === "refund")).toBe(true);
    expect(memberNotices(second.effects, "m1").map((e) => e.template)).not.toContain(
      "contribution_collected_late",
    );
  });
});
