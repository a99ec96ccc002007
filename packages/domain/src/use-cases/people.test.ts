// People own their Stripe set-up once for all their groups, and the rules that keep a
// group from starting (or a round from opening) with someone who cannot pay or be paid.
import { describe, expect, it } from "vitest";
import type { GroupError } from "../group/group.errors.js";
import { DAY_MS } from "../shared/time.js";
import { InMemorySusu } from "../testing/in-memory-susu.js";
import * as useCases from "./index.js";

async function formingGroup(
  sim: InMemorySusu,
  names: readonly string[],
  overrides: Partial<useCases.CreateGroupCommand> = {},
) {
  const [admin = "ana", ...others] = names;
  const group = (
    await useCases.createGroup(sim.deps, {
      name: `${admin}'s group`,
      currency: "AUD",
      contributionMinor: 50_00,
      cadence: "weekly",
      startsAt: sim.clock.now() + DAY_MS,
      payoutOrderMethod: "join_order",
      creator: { id: admin, displayName: admin },
      ...overrides,
    })
  )._unsafeUnwrap();
  for (const n of others)
    (await useCases.joinGroup(sim.deps, group.id, { id: n, displayName: n }))._unsafeUnwrap();
  return group.id;
}

/** What a use case stored: every group and round, every audit line (to prove a refusal stored nothing). */
function stored(sim: InMemorySusu) {
  return JSON.stringify([sim.store.people(), sim.store.groups(), sim.store.rounds(), sim.store.audit()]);
}

describe("people", () => {
  it("creating and joining groups makes each person once; their readiness is theirs, not the membership's", async () => {
    const sim = new InMemorySusu();
    const first = await formingGroup(sim, ["ana", "ben"]);
    const second = await formingGroup(sim, ["ben", "ana", "cy"]);
    expect(sim.store.people().map((p) => [p.id, p.version])).toEqual([
      ["ana", 0],
      ["ben", 0],
      ["cy", 0],
    ]);
    (await sim.onboardPerson("ana"))._unsafeUnwrap();
    const groupsOfAna = (await sim.store.listGroupsOfPerson("ana"))._unsafeUnwrap().map((g) => g.id);
    expect(groupsOfAna).toEqual([first, second].sort());
    // Both groups see ana ready, ben not, from the one person each is.
    for (const groupId of [first, second]) {
      const refused = (await useCases.activateGroup(sim.deps, groupId, "ana"))._unsafeUnwrapErr();
      if (groupId === first) expect(refused.code).toBe("members_not_ready");
      else expect(refused.code).toBe("not_admin");
    }
    const notReady = (await useCases.activateGroup(sim.deps, first, "ana"))._unsafeUnwrapErr() as GroupError;
    expect(notReady).toMatchObject({ notReady: [{ memberId: "ben", lacks: ["mandate", "payout_account"] }] });
  });

  it("a readiness change is one write to the person, and reaches the rounds of every group where they are the recipient", async () => {
    const sim = new InMemorySusu();
    const first = await formingGroup(sim, ["ana", "ben"]);
    const second = await formingGroup(sim, ["ana", "cy"], { contributionMinor: 70_00 });
    for (const id of ["ana", "ben", "cy"]) (await sim.onboardPerson(id))._unsafeUnwrap();
    for (const groupId of [first, second])
      (await useCases.activateGroup(sim.deps, groupId, "ana"))._unsafeUnwrap();
    await sim.advance(DAY_MS);
    const rounds = [];
    for (const groupId of [first, second])
      rounds.push((await useCases.startRound(sim.deps, groupId, { memberId: "ana" }))._unsafeUnwrap().state);
    expect(rounds.map((r) => r.recipientMemberId)).toEqual(["ana", "ana"]);
    // Stripe restricts ana's one account: both rounds block at payout, both groups pause.
    const before = sim.store.audit().length;
    (await sim.accountUpdated("ana", false))._unsafeUnwrap();
    const lines = sim.store.audit().slice(before);
    expect(lines.filter((a) => a.aggregate === "person")).toEqual([
      expect.objectContaining({ aggregateId: "ana", action: "update_person_readiness", outcome: "applied" }),
    ]);
    expect(lines.filter((a) => a.aggregate === "round").map((a) => [a.aggregateId, a.action])).toEqual(
      rounds.map((r) => [r.id, "recipient_readiness"]),
    );
    await sim.advance(4 * DAY_MS);
    for (const r of rounds)
      expect((await sim.store.getRound(r.id))._unsafeUnwrap()?.status).toBe("payout_blocked");
    // The account is fixed once: both payouts resume and both groups with them.
    (await sim.accountUpdated("ana", true))._unsafeUnwrap();
    await sim.runUntilQuiet();
    for (const r of rounds) expect((await sim.store.getRound(r.id))._unsafeUnwrap()?.status).toBe("paid_out");
    for (const groupId of [first, second])
      expect((await sim.store.getGroup(groupId))._unsafeUnwrap()?.status).toBe("active");
    // Each round's pot went to ana's one account.
    expect(new Set(sim.gateway.transfers.map((t) => t.destinationAccountId))).toEqual(new Set(["acct_ana"]));
  });

  it("a repeated readiness report stores nothing new and is recorded as ignored", async () => {
    const sim = new InMemorySusu();
    await formingGroup(sim, ["ana", "ben"]);
    const onboarded = (await sim.onboardPerson("ana"))._unsafeUnwrap();
    const again = (
      await useCases.updatePersonReadiness(sim.deps, "ana", { mandateActive: true }, "stripe:evt_2")
    )._unsafeUnwrap();
    expect(again).toEqual(onboarded);
    expect(sim.store.audit().at(-1)).toMatchObject({
      aggregate: "person",
      outcome: "ignored",
      actor: "stripe:evt_2",
    });
    expect(
      (
        await useCases.updatePersonReadiness(sim.deps, "nobody", { mandateActive: false }, "x")
      )._unsafeUnwrapErr().code,
    ).toBe("person_not_found");
  });
});

describe("a group currency some debit method collects", () => {
  it("is required at creation; nothing is stored otherwise", async () => {
    const sim = new InMemorySusu();
    for (const currency of ["USD", "NZD", "EUR"] as const) {
      const refused = await useCases.createGroup(sim.deps, {
        name: "Dollars",
        currency,
        contributionMinor: 50_00,
        cadence: "weekly",
        startsAt: sim.clock.now() + DAY_MS,
        payoutOrderMethod: "join_order",
        creator: { id: "ana", displayName: "Ana" },
      });
      expect(refused._unsafeUnwrapErr().code).toBe("currency_not_supported");
    }
    expect(stored(sim)).toBe(stored(new InMemorySusu()));
  });
});

describe("activation needs everyone ready", () => {
  it("names who lacks what, and stores nothing", async () => {
    const sim = new InMemorySusu();
    const groupId = await formingGroup(sim, ["ana", "ben", "cy"]);
    (await sim.onboardPerson("ana"))._unsafeUnwrap();
    (await sim.onboardPerson("cy", { canReceive: false }))._unsafeUnwrap();
    const before = stored(sim);
    const refused = (await useCases.activateGroup(sim.deps, groupId, "ana"))._unsafeUnwrapErr();
    expect(refused).toMatchObject({
      code: "members_not_ready",
      notReady: [
        { memberId: "ben", lacks: ["mandate", "payout_account"] },
        { memberId: "cy", lacks: ["payout_account"] },
      ],
    });
    expect(refused.message).toContain(
      "ben needs an active debit mandate and a payout account that can receive",
    );
    expect(stored(sim)).toBe(before);
    (await sim.onboardPerson("ben"))._unsafeUnwrap();
    (await sim.accountUpdated("cy", true))._unsafeUnwrap();
    expect((await useCases.activateGroup(sim.deps, groupId, "ana"))._unsafeUnwrap().status).toBe("active");
  });
});

describe("opening a round", () => {
  async function dueGroup(sim: InMemorySusu) {
    const groupId = await formingGroup(sim, ["ana", "ben", "cy"]);
    for (const id of ["ana", "ben", "cy"]) (await sim.onboardPerson(id))._unsafeUnwrap();
    (await useCases.activateGroup(sim.deps, groupId, "ana"))._unsafeUnwrap();
    await sim.advance(DAY_MS);
    return groupId;
  }

  it("only an admin or the scheduler may; the audit line names who did", async () => {
    const sim = new InMemorySusu();
    const groupId = await dueGroup(sim);
    const before = stored(sim);
    expect((await useCases.startRound(sim.deps, groupId, { memberId: "ben" }))._unsafeUnwrapErr().code).toBe(
      "not_admin",
    );
    expect((await useCases.startRound(sim.deps, groupId, { memberId: "zed" }))._unsafeUnwrapErr().code).toBe(
      "member_not_found",
    );
    expect(stored(sim)).toBe(before);
    const opened = (await useCases.startRound(sim.deps, groupId, { memberId: "ana" }))._unsafeUnwrap();
    expect(
      sim.store.audit().find((a) => a.aggregateId === opened.state.id && a.action === "open")?.actor,
    ).toBe("ana");
    // The next one, by the scheduler's cron, once this one is paid out and the next is due.
    await sim.advance(7 * DAY_MS);
    const next = (await useCases.startRound(sim.deps, groupId, "scheduler"))._unsafeUnwrap();
    expect(sim.store.audit().find((a) => a.aggregateId === next.state.id && a.action === "open")?.actor).toBe(
      "scheduler",
    );
  });

  it("a member who left cannot open one", async () => {
    const sim = new InMemorySusu();
    const groupId = await formingGroup(sim, ["ana", "ben", "cy"]);
    (await useCases.leaveGroup(sim.deps, groupId, "ana"))._unsafeUnwrap();
    expect((await useCases.startRound(sim.deps, groupId, { memberId: "ana" }))._unsafeUnwrapErr().code).toBe(
      "member_not_found",
    );
  });

  it("needs everyone in the rotation ready: a mandate gone inactive refuses it, naming the member", async () => {
    const sim = new InMemorySusu();
    const groupId = await dueGroup(sim);
    (
      await useCases.updatePersonReadiness(sim.deps, "cy", { mandateActive: false }, "stripe")
    )._unsafeUnwrap();
    const before = stored(sim);
    for (const opener of [{ memberId: "ana" }, "scheduler"] as const) {
      const refused = (await useCases.startRound(sim.deps, groupId, opener))._unsafeUnwrapErr();
      expect(refused).toMatchObject({
        code: "members_not_ready",
        notReady: [{ memberId: "cy", lacks: ["mandate"] }],
      });
    }
    expect(stored(sim)).toBe(before);
    (await useCases.updatePersonReadiness(sim.deps, "cy", { mandateActive: true }, "stripe"))._unsafeUnwrap();
    expect((await useCases.startRound(sim.deps, groupId, "scheduler")).isOk()).toBe(true);
  });

  it("the scheduler finding the round waiting tells the members not ready what they lack and the admins who, once per round", async () => {
    const sim = new InMemorySusu();
    const groupId = await dueGroup(sim);
    const dueSince = sim.clock.now();
    (
      await useCases.updatePersonReadiness(sim.deps, "cy", { mandateActive: false }, "stripe")
    )._unsafeUnwrap();
    const before = stored(sim);
    // The cron finds it waiting run after run; an admin asking is refused without notices.
    for (let run = 0; run < 3; run++) {
      const refused = (await useCases.startRound(sim.deps, groupId, "scheduler"))._unsafeUnwrapErr();
      expect(refused.code).toBe("members_not_ready");
      await sim.advance(60_000);
    }
    expect((await useCases.startRound(sim.deps, groupId, { memberId: "ana" }))._unsafeUnwrapErr().code).toBe(
      "members_not_ready",
    );
    await sim.advance(60_000);
    // Nothing stored but the notices (no audit line a minute), each sent once.
    expect(stored(sim)).toBe(before);
    const roundId = `round_${groupId}_r1_s0`;
    const waiting = () =>
      sim.notifier.sent.filter(
        (n) => n.template === "round_waiting_for_you" || n.template === "round_waiting_for_members",
      );
    expect(waiting().map((n) => [n.id, n.template, n.personIds])).toEqual([
      [`${roundId}:notify:round_waiting_for_you:cy:mandate`, "round_waiting_for_you", ["cy"]],
      [
        `${roundId}:notify:round_waiting_for_members:admins:${useCases.membersNotReadyKey([{ memberId: "cy", lacks: ["mandate"] }])}`,
        "round_waiting_for_members",
        ["ana"],
      ],
    ]);
    expect(waiting()[0]).toMatchObject({
      aggregate: "round",
      aggregateId: roundId,
      groupId,
      data: {
        roundId,
        groupName: "ana's group",
        dueSince: new Date(dueSince).toISOString(),
        gaps: "mandate",
        lacks: "an active direct debit mandate",
        debitSetupPath: "/v1/people/cy/debit-setup",
      },
    });
    expect(waiting()[1]?.data).toMatchObject({
      notReadyCount: 1,
      notReady: "cy (cy) needs an active direct debit mandate",
    });
    // Someone else not ready as well: they are told, and the admins hear the new set; cy is not told again.
    (await sim.accountUpdated("ben", false))._unsafeUnwrap();
    for (let run = 0; run < 2; run++) {
      (await useCases.startRound(sim.deps, groupId, "scheduler"))._unsafeUnwrapErr();
      await sim.advance(60_000);
    }
    expect(waiting().map((n) => [n.template, n.personIds])).toEqual([
      ["round_waiting_for_you", ["cy"]],
      ["round_waiting_for_members", ["ana"]],
      ["round_waiting_for_you", ["ben"]],
      ["round_waiting_for_members", ["ana"]],
    ]);
    expect(waiting()[2]?.data).toMatchObject({
      gaps: "payout_account",
      onboardingPath: "/v1/people/ben/payout-onboarding",
    });
    // Once they are ready the round opens under the id the notices named.
    (await useCases.updatePersonReadiness(sim.deps, "cy", { mandateActive: true }, "stripe"))._unsafeUnwrap();
    (await sim.accountUpdated("ben", true))._unsafeUnwrap();
    expect((await useCases.startRound(sim.deps, groupId, "scheduler"))._unsafeUnwrap().state.id).toBe(
      roundId,
    );
  });

  it("a recipient whose payouts were disabled is refused before a round is opened to block", async () => {
    const sim = new InMemorySusu();
    const groupId = await dueGroup(sim);
    (await sim.accountUpdated("ana", false))._unsafeUnwrap();
    expect((await useCases.startRound(sim.deps, groupId, "scheduler"))._unsafeUnwrapErr()).toMatchObject({
      code: "members_not_ready",
      notReady: [{ memberId: "ana", lacks: ["payout_account"] }],
    });
    expect(sim.store.rounds()).toEqual([]);
  });
});
