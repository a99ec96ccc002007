// People own their Stripe set-up once for all their groups.
import { describe, expect, it } from "vitest";
import { personReadiness } from "../person/person.js";
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
    // Both memberships of ana read her one person's readiness.
    const people = (await sim.store.getPeople(["ana", "ben"]))._unsafeUnwrap();
    expect(people.map((p) => [p.id, personReadiness(p)])).toEqual([
      ["ana", { mandateActive: true, payoutsEnabled: true }],
      ["ben", { mandateActive: false, payoutsEnabled: false }],
    ]);
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
      rounds.push((await useCases.startRound(sim.deps, groupId))._unsafeUnwrap().state);
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
