import { errAsync } from "neverthrow";
import { describe, expect, it } from "vitest";
import { roundPaymentRefs } from "../facts/index.js";
import { roundAccounts, roundMoney } from "../ledger/index.js";
import { gatewayError } from "../ports/payment-gateway.js";
import { storageError } from "../ports/storage.js";
import { DAY_MS } from "../shared/time.js";
import { InMemorySusu } from "../testing/in-memory-susu.js";
import * as useCases from "./index.js";

/** The admin who opens rounds in these tests (the first member of every group here). */
const byAna = { memberId: "ana" } as const;

async function groupOf(sim: InMemorySusu, names: string[], rotationsPlanned = 1) {
  const created = await useCases.createGroup(sim.deps, {
    name: "Family savings",
    currency: "AUD",
    contributionMinor: 50_00,
    cadence: "weekly",
    startsAt: sim.clock.now() + DAY_MS,
    payoutOrderMethod: "join_order",
    rotationsPlanned,
    creator: { id: names[0] ?? "a", displayName: names[0] ?? "a" },
  });
  const group = created._unsafeUnwrap();
  for (const n of names.slice(1))
    (await useCases.joinGroup(sim.deps, group.id, { id: n, displayName: n }))._unsafeUnwrap();
  for (const n of names) (await sim.onboardMember(group.id, n))._unsafeUnwrap();
  (await useCases.activateGroup(sim.deps, group.id, names[0] ?? "a"))._unsafeUnwrap();
  return group.id;
}

describe("a whole rotation in memory", () => {
  it("pays every member the pot exactly once, with balanced books and empty pots", async () => {
    const sim = new InMemorySusu();
    const members = ["ana", "ben", "cy"];
    const groupId = await groupOf(sim, members);
    const paidTo: string[] = [];
    for (let i = 0; i < members.length; i++) {
      await sim.advance(7 * DAY_MS);
      const started = await useCases.startRound(sim.deps, groupId, byAna);
      expect(started.isOk(), started.isErr() ? started.error.message : "").toBe(true);
      await sim.advance(4 * DAY_MS);
      const round = started._unsafeUnwrap().state;
      const stored = (await sim.store.getRound(round.id))._unsafeUnwrap();
      expect(stored?.status).toBe("paid_out");
      paidTo.push(stored?.recipientMemberId ?? "");
      const money = roundMoney(sim.ledger.snapshot(), round.id, "AUD");
      expect(money).toMatchObject({ heldMinor: 0, inFlightMinor: 0 });
      expect(
        (
          await sim.ledger.balance(roundAccounts.payouts(round.id, stored?.recipientMemberId ?? ""), "AUD")
        )._unsafeUnwrap().amountMinor,
      ).toBe(150_00);
    }
    expect(paidTo).toEqual(members);
    const group = (await sim.store.getGroup(groupId))._unsafeUnwrap();
    expect(group?.status).toBe("completed");
    // One transfer per contribution charge, 3 rounds × 3 contributions, each to the round's recipient.
    expect(sim.gateway.transfers).toHaveLength(9);
    expect(new Set(sim.gateway.transfers.map((t) => t.sourceChargeId)).size).toBe(9);
    expect(sim.desk.tickets).toEqual([]);
  });

  it("a recipient without a payout account pauses the group until the account is fixed, then both resume", async () => {
    const sim = new InMemorySusu();
    const groupId = await groupOf(sim, ["ana", "ben"]);
    await sim.advance(7 * DAY_MS);
    const round = (await useCases.startRound(sim.deps, groupId, byAna))._unsafeUnwrap().state;
    // While the round collects, Stripe restricts ana's account (account.updated).
    (await sim.accountUpdated("ana", false))._unsafeUnwrap();
    await sim.advance(4 * DAY_MS);
    expect((await sim.store.getRound(round.id))._unsafeUnwrap()?.status).toBe("payout_blocked");
    expect((await sim.store.getGroup(groupId))._unsafeUnwrap()?.status).toBe("paused");
    expect(sim.notifier.sent.filter((n) => n.template === "payout_blocked").map((n) => n.personIds)).toEqual([
      ["ana"],
      ["ana"],
    ]);
    // account.updated: payouts enabled → the round resumes and pays out; the admin resumes the group.
    sim.gateway.setAccount("acct_ana", true);
    (
      await useCases.updatePersonReadiness(sim.deps, "ana", { payoutsEnabled: true }, "stripe")
    )._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect((await sim.store.getRound(round.id))._unsafeUnwrap()?.status).toBe("paid_out");
    // The block that paused the group is over: the group resumes with the payout.
    expect((await sim.store.getGroup(groupId))._unsafeUnwrap()?.status).toBe("active");
    expect((await useCases.resumeGroup(sim.deps, groupId, "ana"))._unsafeUnwrapErr().code).toBe(
      "group_not_paused",
    );
  });

  it("an admin reassigns a blocked payout; the two members swap positions", async () => {
    const sim = new InMemorySusu();
    const groupId = await groupOf(sim, ["ana", "ben", "cy"]);
    await sim.advance(7 * DAY_MS);
    const round = (await useCases.startRound(sim.deps, groupId, byAna))._unsafeUnwrap().state;
    (await sim.accountUpdated("ana", false))._unsafeUnwrap();
    await sim.advance(4 * DAY_MS);
    (await useCases.reassignPayout(sim.deps, groupId, "ana", "ben"))._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect((await sim.store.getRound(round.id))._unsafeUnwrap()).toMatchObject({
      status: "paid_out",
      recipientMemberId: "ben",
    });
    const group = (await sim.store.getGroup(groupId))._unsafeUnwrap();
    expect(group?.payoutOrder.memberIds).toEqual(["ben", "ana", "cy"]);
    expect(group?.rotation.receivedMemberIds).toEqual(["ben"]);
    expect(group?.status).toBe("active");
  });

  it("a refund that fails keeps the round refunding until an admin retries it under a new key; the old attempt's late news changes nothing", async () => {
    const sim = new InMemorySusu();
    const groupId = await groupOf(sim, ["ana", "ben", "cy"]);
    sim.gateway.setDebitOutcomes("cy", [{ fail: "account_closed" }]);
    // The first refund asked for (ana's; contributions are in member order) is refused by Stripe.
    sim.gateway.injectFault(
      "refund",
      "before",
      gatewayError("gateway_definite", "charge_expired_for_refund", "too late to refund"),
    );
    await sim.advance(7 * DAY_MS);
    const round = (await useCases.startRound(sim.deps, groupId, byAna))._unsafeUnwrap().state;
    await sim.advance(20 * DAY_MS);
    const stuck = (await sim.store.getRound(round.id))._unsafeUnwrap();
    expect(stuck?.status).toBe("refunding");
    expect(stuck?.contributions.map((c) => c.status)).toEqual(["refund_failed", "refunded", "failed"]);
    expect(sim.desk.tickets.find((t) => t.reason === "refund_failed")?.summary).toContain(
      `POST /v1/rounds/${round.id}/contributions/ana/retry-refund`,
    );

    (
      await useCases.applyRoundInput(sim.deps, round.id, { type: "retry_refund", memberId: "ana" }, "ana")
    )._unsafeUnwrap();
    await sim.runUntilQuiet();
    const ended = (await sim.store.getRound(round.id))._unsafeUnwrap();
    expect(ended?.status).toBe("cancelled");
    // Stripe made a new refund for ana, whose metadata names attempt 2; ben's carries no attempt.
    expect(
      [...sim.gateway.refunds.values()].map((r) => [r.references.memberId, r.references.attempt, r.status]),
    ).toEqual([
      ["ben", undefined, "succeeded"],
      ["ana", 2, "succeeded"],
    ]);
    expect(roundMoney(sim.ledger.snapshot(), round.id, "AUD")).toMatchObject({
      heldMinor: 0,
      inFlightMinor: 0,
      refundedMinor: 100_00,
    });
    expect((await sim.store.getGroup(groupId))._unsafeUnwrap()?.currentRoundId).toBeUndefined();

    // Attempt 1's failure, delivered again late (a webhook), is not the new refund's.
    const late = await useCases.applyRoundFact(
      sim.deps,
      { kind: "refund_failed", refs: roundPaymentRefs(groupId, round.id, "ana"), failureCode: "x" },
      "stripe",
    );
    expect(late._unsafeUnwrap()).toMatchObject({
      status: "ignored",
      detail: expect.stringContaining("refund_attempt_superseded"),
    });
    expect((await sim.store.getRound(round.id))._unsafeUnwrap()).toEqual(ended);
  });

  it("a member whose debits keep failing: the round refunds everyone at the deadline and the same recipient is due next", async () => {
    const sim = new InMemorySusu();
    const groupId = await groupOf(sim, ["ana", "ben", "cy"]);
    sim.gateway.setDebitOutcomes("cy", [{ fail: "insufficient_funds" }]);
    await sim.advance(7 * DAY_MS);
    const round = (await useCases.startRound(sim.deps, groupId, byAna))._unsafeUnwrap().state;
    await sim.advance(20 * DAY_MS);
    const stored = (await sim.store.getRound(round.id))._unsafeUnwrap();
    expect(stored?.status).toBe("cancelled");
    expect(stored?.contributions.find((c) => c.memberId === "cy")?.attempts.length).toBeGreaterThan(1);
    expect(sim.gateway.transfers).toHaveLength(0);
    expect([...sim.gateway.refunds.values()].map((r) => r.status)).toEqual(["succeeded", "succeeded"]);
    expect(roundMoney(sim.ledger.snapshot(), round.id, "AUD")).toMatchObject({
      heldMinor: 0,
      inFlightMinor: 0,
    });
    const group = (await sim.store.getGroup(groupId))._unsafeUnwrap();
    expect(group?.currentRoundId).toBeUndefined();
    expect(group?.rotation.receivedMemberIds).toEqual([]);
  });

  it("a lost reply from the gateway is retried with the same key: one debit, one transfer per charge", async () => {
    const sim = new InMemorySusu();
    const groupId = await groupOf(sim, ["ana", "ben"]);
    sim.gateway.injectFault("createDebit", "lost_reply");
    sim.gateway.injectFault("createTransfer", "lost_reply");
    await sim.advance(7 * DAY_MS);
    const round = (await useCases.startRound(sim.deps, groupId, byAna))._unsafeUnwrap().state;
    await sim.advance(4 * DAY_MS);
    await sim.advance(DAY_MS); // the dispatcher's backoff
    expect((await sim.store.getRound(round.id))._unsafeUnwrap()?.status).toBe("paid_out");
    expect(sim.gateway.debits.size).toBe(2);
    expect(sim.gateway.transfers).toHaveLength(2);
  });

  it("starting a round twice is refused while the first runs", async () => {
    const sim = new InMemorySusu();
    const groupId = await groupOf(sim, ["ana", "ben"]);
    expect((await useCases.startRound(sim.deps, groupId, byAna))._unsafeUnwrapErr().code).toBe(
      "no_round_due",
    );
    await sim.advance(7 * DAY_MS);
    (await useCases.startRound(sim.deps, groupId, byAna))._unsafeUnwrap();
    expect((await useCases.startRound(sim.deps, groupId, byAna))._unsafeUnwrapErr().code).toBe(
      "round_in_progress",
    );
  });
});

describe("the last member still due leaving between rounds", () => {
  /** ana and ben paid in the first rotation; cy is the only one still due. */
  async function twoPaid(rotationsPlanned: number) {
    const sim = new InMemorySusu();
    const groupId = await groupOf(sim, ["ana", "ben", "cy"], rotationsPlanned);
    for (let i = 0; i < 2; i++) {
      await sim.advance(7 * DAY_MS);
      (await useCases.startRound(sim.deps, groupId, byAna))._unsafeUnwrap();
      await sim.advance(4 * DAY_MS);
    }
    const group = (await sim.store.getGroup(groupId))._unsafeUnwrap();
    expect(group?.rotation.receivedMemberIds).toEqual(["ana", "ben"]);
    return { sim, groupId };
  }

  it("is refused while they have paid in and not had the pot (member_awaiting_payout): nothing changes, and the last round pays them", async () => {
    // This test had cy leave here and the rotation close (cy paid 100.00, got nothing).
    const { sim, groupId } = await twoPaid(1);
    const before = (await sim.store.getGroup(groupId))._unsafeUnwrap();
    const refused = (await useCases.leaveGroup(sim.deps, groupId, "cy"))._unsafeUnwrapErr();
    expect(refused.code).toBe("member_awaiting_payout");
    expect((await sim.store.getGroup(groupId))._unsafeUnwrap()).toEqual(before);
    await sim.advance(7 * DAY_MS);
    (await useCases.startRound(sim.deps, groupId, "scheduler"))._unsafeUnwrap();
    await sim.advance(4 * DAY_MS);
    expect((await sim.store.getGroup(groupId))._unsafeUnwrap()?.status).toBe("completed");
    // cy got back exactly what cy paid in; now cy may leave (the group is done).
    const paidIn = [...sim.gateway.debits.values()]
      .filter((d) => d.references.memberId === "cy" && d.status === "succeeded")
      .reduce((s, d) => s + d.amount.amountMinor, 0);
    const received = sim.gateway.transfers
      .filter((t) => t.destinationAccountId === "acct_cy")
      .reduce((s, t) => s + t.amount.amountMinor, 0);
    expect(paidIn).toBe(150_00);
    expect(received).toBe(paidIn);
  });
  it("a group an older version left waiting (its order all paid, no round) is moved on when a round is looked for", async () => {
    const { sim, groupId } = await twoPaid(2);
    // What leaveGroup stored before it closed the rotation: cy left, out of the order, nothing else.
    const group = (await sim.store.getGroup(groupId))._unsafeUnwrap();
    if (group === undefined) throw new Error("no group");
    const stuck = {
      ...group,
      version: group.version + 1,
      members: group.members.map((m) => (m.id === "cy" ? { ...m, status: "left" as const } : m)),
      payoutOrder: { ...group.payoutOrder, memberIds: ["ana", "ben"] },
    };
    (
      await sim.deps.uow.commit({
        people: [],
        groups: [{ state: stuck, expectedVersion: group.version }],
        rounds: [],
        outbox: [],
        audit: [],
      })
    )._unsafeUnwrap();
    await sim.advance(7 * DAY_MS);
    const round = (await useCases.startRound(sim.deps, groupId, "scheduler"))._unsafeUnwrap().state;
    expect(round).toMatchObject({ rotation: 2, recipientMemberId: "ana" });
    const stored = (await sim.store.getGroup(groupId))._unsafeUnwrap();
    expect(stored).toMatchObject({ status: "active", currentRoundId: round.id, rotation: { number: 2 } });
    expect(sim.store.audit().filter((a) => a.action === "close_rotation")).toMatchObject([
      { aggregate: "group", aggregateId: groupId, actor: "scheduler" },
    ]);
  });
});

describe("a member who leaves before their turn (the review's case)", () => {
  it("cannot leave with money in the group: refused, or given back what they paid in", async () => {
    const sim = new InMemorySusu();
    const groupId = await groupOf(sim, ["ana", "ben", "cy"]);
    await sim.advance(7 * DAY_MS);
    (await useCases.startRound(sim.deps, groupId, byAna))._unsafeUnwrap();
    await sim.advance(4 * DAY_MS);
    expect((await sim.store.getGroup(groupId))._unsafeUnwrap()?.rotation.receivedMemberIds).toEqual(["ana"]);
    const left = await useCases.leaveGroup(sim.deps, groupId, "cy");
    if (left.isOk()) {
      await sim.advance(DAY_MS);
      (await useCases.startRound(sim.deps, groupId, "scheduler"))._unsafeUnwrap();
      await sim.advance(7 * DAY_MS);
    }
    const paidIn = [...sim.gateway.debits.values()]
      .filter((d) => d.references.memberId === "cy" && d.status === "succeeded")
      .reduce((s, d) => s + d.amount.amountMinor, 0);
    const gotBack =
      [...sim.gateway.refunds.values()]
        .filter((r) => r.references.memberId === "cy" && r.status === "succeeded")
        .reduce((s, r) => s + r.amount.amountMinor, 0) +
      sim.gateway.transfers
        .filter((t) => t.destinationAccountId === "acct_cy")
        .reduce((s, t) => s + t.amount.amountMinor, 0);
    expect(left.isErr() || gotBack === paidIn).toBe(true);
    expect(left.isErr() && left.error.code).toBe("member_awaiting_payout");
  });

  it("a round in progress: a member being debited for it cannot leave", async () => {
    const sim = new InMemorySusu();
    const groupId = await groupOf(sim, ["ana", "ben", "cy"]);
    await sim.advance(7 * DAY_MS);
    (await useCases.startRound(sim.deps, groupId, byAna))._unsafeUnwrap();
    expect((await useCases.leaveGroup(sim.deps, groupId, "cy"))._unsafeUnwrapErr().code).toBe(
      "member_awaiting_payout",
    );
    // Nor may an admin remove them: removal is only before the group starts.
    expect((await useCases.removeMember(sim.deps, groupId, "ana", "cy"))._unsafeUnwrapErr().code).toBe(
      "member_removal_not_allowed",
    );
    const group = (await sim.store.getGroup(groupId))._unsafeUnwrap();
    expect(group?.members.find((m) => m.id === "cy")?.status).toBe("active");
    expect(group?.payoutOrder.memberIds).toEqual(["ana", "ben", "cy"]);
  });
});

describe("the dispatcher and the review's findings", () => {
  it("a debit whose mandate went inactive after it was submitted is asked of the provider again, which finds it: one debit", async () => {
    const sim = new InMemorySusu();
    const groupId = await groupOf(sim, ["ana", "ben"]);
    sim.gateway.injectFault("createDebit", "lost_reply");
    await sim.advance(7 * DAY_MS);
    (await useCases.startRound(sim.deps, groupId, byAna))._unsafeUnwrap();
    // The reply was lost; meanwhile ana's mandate is reported inactive.
    (
      await useCases.updatePersonReadiness(sim.deps, "ana", { mandateActive: false }, "stripe")
    )._unsafeUnwrap();
    await sim.advance(DAY_MS);
    expect(sim.gateway.debits.size).toBe(2);
    const round = sim.store.rounds()[0];
    expect(round?.contributions.map((c) => c.status)).not.toContain("failed");
  });

  it("an effect that cannot succeed is parked only once its ticket exists", async () => {
    const sim = new InMemorySusu();
    // A notification for a group that does not exist can never be sent: not retryable.
    const orphan = {
      kind: "notify" as const,
      id: "round_x:notify:payout_sent:x",
      aggregate: "round" as const,
      aggregateId: "round_x",
      to: { kind: "group" as const, groupId: "grp_gone", members: { kind: "admins" as const } },
      template: "payout_sent" as const,
      data: {},
    };
    (
      await sim.store.commit({ people: [], groups: [], rounds: [], outbox: [orphan], audit: [] })
    )._unsafeUnwrap();
    const downDesk = {
      openTicket: () =>
        errAsync({ type: "ticket_failed" as const, code: "ticket_failed" as const, message: "desk down" }),
    };
    const settled: useCases.SettledEffect[] = [];
    const onSettled = (s: useCases.SettledEffect) => settled.push(s);
    const first = await useCases.dispatchOutbox(sim.deps, { ...sim.ports, desk: downDesk }, sim.store, {
      workerId: "w",
      onSettled,
    });
    expect(first._unsafeUnwrap()).toMatchObject({ claimed: 1, parked: 0, retried: 1 });
    expect(sim.store.outbox("parked")).toEqual([]);
    sim.clock.advance(2 * 60 * 60 * 1000);
    const second = await useCases.dispatchOutbox(sim.deps, sim.ports, sim.store, {
      workerId: "w",
      onSettled,
    });
    expect(second._unsafeUnwrap()).toMatchObject({ claimed: 1, parked: 1 });
    // Each pass tells what became of the effect, with the failure's code (for metrics).
    expect(settled.map((s) => [s.effectId, s.kind, s.outcome])).toEqual([
      [orphan.id, "notify", "retried"],
      [orphan.id, "notify", "parked"],
    ]);
    expect(settled.every((s) => typeof s.code === "string" && s.settledAt >= s.startedAt)).toBe(true);
    expect(sim.store.outbox("parked").map((e) => e.id)).toEqual([orphan.id]);
    expect(sim.desk.tickets.map((t) => [t.id, t.reason])).toEqual([[`${orphan.id}:parked`, "effect_parked"]]);
  });

  it("tells of every effect it completed, and of none a refused commit left unrecorded", async () => {
    const sim = new InMemorySusu();
    const groupId = await groupOf(sim, ["ana", "ben"]);
    await sim.advance(7 * DAY_MS);
    (await useCases.startRound(sim.deps, groupId, byAna))._unsafeUnwrap();
    const settled: useCases.SettledEffect[] = [];
    const report = await useCases.dispatchOutbox(sim.deps, sim.ports, sim.store, {
      workerId: "w",
      onSettled: (s) => settled.push(s),
    });
    const { claimed, completed } = report._unsafeUnwrap();
    expect(completed).toBe(claimed);
    expect(settled).toHaveLength(claimed);
    expect(settled.every((s) => s.outcome === "completed" && s.code === undefined)).toBe(true);
    expect(settled.map((s) => s.kind)).toContain("collect_contribution");
  });

  it("a result the store refuses is parked with a ticket at once, not retried", async () => {
    const sim = new InMemorySusu();
    const groupId = await groupOf(sim, ["ana", "ben"]);
    await sim.advance(7 * DAY_MS);
    (await useCases.startRound(sim.deps, groupId, byAna))._unsafeUnwrap();
    // Executing the first debit succeeds at the gateway; recording its result is refused.
    sim.store.failNextCommitWith = storageError.refused("the state breaks a stored rule");
    const report = await useCases.dispatchOutbox(sim.deps, sim.ports, sim.store, { workerId: "w", limit: 1 });
    expect(report._unsafeUnwrap()).toMatchObject({ claimed: 1, parked: 1, retried: 0 });
    expect(sim.desk.tickets.map((t) => t.reason)).toEqual(["effect_parked"]);
  });
});

describe("the audit log", () => {
  it("records an ignored input with its code and why", async () => {
    const sim = new InMemorySusu();
    const groupId = await groupOf(sim, ["ana", "ben"]);
    await sim.advance(DAY_MS);
    const round = (await useCases.startRound(sim.deps, groupId, "scheduler"))._unsafeUnwrap().state;
    (await useCases.applyRoundInput(sim.deps, round.id, { type: "open" }, "replay"))._unsafeUnwrap();
    expect(sim.store.audit().at(-1)).toMatchObject({
      aggregateId: round.id,
      action: "open",
      outcome: "ignored",
      detail: "round_not_scheduled: round is collecting, not scheduled",
      actor: "replay",
    });
  });
});
