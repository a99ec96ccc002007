import { errAsync } from "neverthrow";
// The admin use cases end to end in memory: settings, pause, close, removal, platform
// operators, and a person's onboarding status.
import { describe, expect, it } from "vitest";
import { gatewayError } from "../ports/payment-gateway.js";
import { DAY_MS } from "../shared/time.js";
import { InMemorySusu } from "../testing/in-memory-susu.js";
import * as useCases from "./index.js";

const ops = { operator: "ops_1" } as const;

async function formingGroup(sim: InMemorySusu, names: string[]) {
  const group = (
    await useCases.createGroup(sim.deps, {
      name: "Admin savers",
      currency: "AUD",
      contributionMinor: 50_00,
      cadence: "weekly",
      startsAt: sim.clock.now() + DAY_MS,
      payoutOrderMethod: "join_order",
      creator: { id: names[0] ?? "a", displayName: names[0] ?? "a" },
    })
  )._unsafeUnwrap();
  for (const n of names.slice(1))
    (await useCases.joinGroup(sim.deps, group.id, { id: n, displayName: n }))._unsafeUnwrap();
  return group.id;
}

async function activeGroup(sim: InMemorySusu, names: string[]) {
  const groupId = await formingGroup(sim, names);
  for (const n of names) (await sim.onboardPerson(n))._unsafeUnwrap();
  (await useCases.activateGroup(sim.deps, groupId, ops))._unsafeUnwrap();
  return groupId;
}

const lastAudit = (sim: InMemorySusu) => sim.store.audit().at(-1);

describe("group admin use cases", () => {
  it("updates settings before the start with the amount rules of creation; audited; nothing stored on refusal", async () => {
    const sim = new InMemorySusu();
    const groupId = await formingGroup(sim, ["ana", "ben"]);
    const updated = (
      await useCases.updateGroupSettings(sim.deps, groupId, "ana", { contributionMinor: 80_00 })
    )._unsafeUnwrap();
    expect(updated).toMatchObject({ contributionMinor: 80_00, version: 2 });
    expect(lastAudit(sim)).toMatchObject({ action: "update_group_settings", actor: "ana" });
    const before = (await sim.store.getGroup(groupId))._unsafeUnwrap();
    const refusals = [
      [{ contributionMinor: 10 }, "amount_below_minimum"],
      [{ startsAt: sim.clock.now() - 1 }, "invalid_group"],
      [{ startsAt: sim.clock.now() + 366 * DAY_MS + 1 }, "invalid_group"],
      [{ startsAt: Date.UTC(9999, 11, 31) }, "invalid_group"],
      [{ currency: "USD" as const }, "currency_not_supported"],
    ] as const;
    for (const [settings, code] of refusals)
      expect(
        (await useCases.updateGroupSettings(sim.deps, groupId, "ana", settings))._unsafeUnwrapErr().code,
      ).toBe(code);
    expect((await sim.store.getGroup(groupId))._unsafeUnwrap()).toEqual(before);
  });

  it("a group starts from now to a year ahead (366 days, so the same date next year always fits): later is invalid_group, nothing stored", async () => {
    const sim = new InMemorySusu();
    const create = (startsAt: number, id: string) =>
      useCases.createGroup(sim.deps, {
        name: "Far savers",
        currency: "AUD",
        contributionMinor: 50_00,
        cadence: "monthly",
        startsAt,
        payoutOrderMethod: "join_order",
        creator: { id, displayName: id },
      });
    const now = sim.clock.now();
    for (const startsAt of [now + 366 * DAY_MS + 1, Date.UTC(2028, 0, 5), Date.UTC(9999, 11, 31)]) {
      const refused = (await create(startsAt, "far"))._unsafeUnwrapErr();
      expect(refused).toMatchObject({ code: "invalid_group" });
      expect(refused.message).toMatch(/startsAt .*more than 366 days ahead/);
    }
    expect(sim.store.groups()).toEqual([]);
    expect((await create(now, "now"))._unsafeUnwrap().startsAt).toBe(now);
    expect((await create(now + 366 * DAY_MS, "year"))._unsafeUnwrap().startsAt).toBe(now + 366 * DAY_MS);
  });

  it("operators activate, pause, resume and close any group, audited as operator:<id>", async () => {
    const sim = new InMemorySusu();
    const groupId = await activeGroup(sim, ["ana", "ben"]);
    expect(sim.store.audit().find((a) => a.action === "activate_group")?.actor).toBe("operator:ops_1");
    (await useCases.pauseGroup(sim.deps, groupId, ops, "checking a dispute"))._unsafeUnwrap();
    expect(lastAudit(sim)).toMatchObject({ action: "pause_group", actor: "operator:ops_1" });
    (await useCases.resumeGroup(sim.deps, groupId, ops))._unsafeUnwrap();
    expect(lastAudit(sim)).toMatchObject({ action: "resume_group", actor: "operator:ops_1" });
    const closed = (await useCases.closeGroup(sim.deps, groupId, ops, "wound up"))._unsafeUnwrap();
    expect(closed.status).toBe("closed");
    expect(lastAudit(sim)).toMatchObject({ action: "close_group", actor: "operator:ops_1" });
    // A closed group opens no round, for the scheduler or an admin.
    await sim.advance(7 * DAY_MS);
    expect((await useCases.startRound(sim.deps, groupId, "scheduler"))._unsafeUnwrapErr().code).toBe(
      "group_not_active",
    );
  });

  it("an admin's pause holds when a blocked payout goes through: the round pays out, the group stays paused", async () => {
    const sim = new InMemorySusu();
    const groupId = await activeGroup(sim, ["ana", "ben"]);
    await sim.advance(7 * DAY_MS);
    const round = (await useCases.startRound(sim.deps, groupId, { memberId: "ana" }))._unsafeUnwrap().state;
    (await sim.accountUpdated("ana", false))._unsafeUnwrap();
    await sim.advance(4 * DAY_MS);
    expect((await sim.store.getGroup(groupId))._unsafeUnwrap()?.adminPause).toBeUndefined();
    expect((await useCases.closeGroup(sim.deps, groupId, "ana", "give up"))._unsafeUnwrapErr().code).toBe(
      "round_in_progress",
    );
    (await useCases.pauseGroup(sim.deps, groupId, "ana", "until we talk"))._unsafeUnwrap();
    (await sim.accountUpdated("ana", true))._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect((await sim.store.getRound(round.id))._unsafeUnwrap()?.status).toBe("paid_out");
    expect((await sim.store.getGroup(groupId))._unsafeUnwrap()).toMatchObject({
      status: "paused",
      adminPause: { by: "ana", reason: "until we talk" },
    });
    expect((await useCases.resumeGroup(sim.deps, groupId, "ana"))._unsafeUnwrap().status).toBe("active");
  });

  it("an admin's pause holds when a blocked payout is reassigned: the round pays out, the group stays paused", async () => {
    const sim = new InMemorySusu();
    const groupId = await activeGroup(sim, ["ana", "ben", "cy"]);
    await sim.advance(7 * DAY_MS);
    const round = (await useCases.startRound(sim.deps, groupId, { memberId: "ana" }))._unsafeUnwrap().state;
    (await sim.accountUpdated("ana", false))._unsafeUnwrap();
    await sim.advance(4 * DAY_MS);
    (await useCases.pauseGroup(sim.deps, groupId, ops, "checking the accounts"))._unsafeUnwrap();
    (await useCases.reassignPayout(sim.deps, groupId, "ana", "ben"))._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect((await sim.store.getRound(round.id))._unsafeUnwrap()).toMatchObject({
      status: "paid_out",
      recipientMemberId: "ben",
    });
    expect((await sim.store.getGroup(groupId))._unsafeUnwrap()).toMatchObject({
      status: "paused",
      adminPause: { by: "operator:ops_1", reason: "checking the accounts" },
    });
    // No round opens (and debits everyone) until an admin resumes the group.
    await sim.advance(7 * DAY_MS);
    expect((await useCases.startRound(sim.deps, groupId, "scheduler"))._unsafeUnwrapErr().code).toBe(
      "group_not_active",
    );
  });

  it("refuses to close mid-rotation while members who paid in are owed their pot (rotation_in_progress), nothing stored; closes at the rotation's boundary with nobody out of pocket", async () => {
    const sim = new InMemorySusu();
    const created = (
      await useCases.createGroup(sim.deps, {
        name: "Two rotations",
        currency: "AUD",
        contributionMinor: 50_00,
        cadence: "weekly",
        startsAt: sim.clock.now() + DAY_MS,
        payoutOrderMethod: "join_order",
        rotationsPlanned: 2,
        creator: { id: "ana", displayName: "ana" },
      })
    )._unsafeUnwrap();
    const groupId = created.id;
    for (const n of ["ben", "cy"])
      (await useCases.joinGroup(sim.deps, groupId, { id: n, displayName: n }))._unsafeUnwrap();
    for (const n of ["ana", "ben", "cy"]) (await sim.onboardPerson(n))._unsafeUnwrap();
    (await useCases.activateGroup(sim.deps, groupId, "ana"))._unsafeUnwrap();
    /** What each person paid in and received, in cents: debits that succeeded less refunds, transfers. */
    const net = (id: string) =>
      [...sim.gateway.debits.values()]
        .filter((d) => d.references.memberId === id && d.status === "succeeded")
        .reduce((s, d) => s - d.amount.amountMinor, 0) +
      sim.gateway.transfers
        .filter((t) => t.destinationAccountId === `acct_${id}`)
        .reduce((s, t) => s + t.amount.amountMinor, 0);
    const payOneRound = async () => {
      await sim.advance(7 * DAY_MS);
      (await useCases.startRound(sim.deps, groupId, { memberId: "ana" }))._unsafeUnwrap();
      await sim.advance(4 * DAY_MS);
    };
    await payOneRound();
    // ana has the pot (150.00); ben and cy paid 50.00 each and are owed theirs.
    expect(["ana", "ben", "cy"].map(net)).toEqual([100_00, -50_00, -50_00]);
    const before = (await sim.store.getGroup(groupId))._unsafeUnwrap();
    const audited = sim.store.audit().length;
    for (const actor of ["ana", ops] as const) {
      const refused = (await useCases.closeGroup(sim.deps, groupId, actor, "we give up"))._unsafeUnwrapErr();
      expect(refused.code).toBe("rotation_in_progress");
      expect(refused.message).toContain("ben, cy have paid into rotation 1");
    }
    expect((await sim.store.getGroup(groupId))._unsafeUnwrap()).toEqual(before);
    expect(sim.store.audit()).toHaveLength(audited);
    // The rotation runs to its end: everyone has had back what they paid in, and it may close.
    await payOneRound();
    expect((await useCases.closeGroup(sim.deps, groupId, "ana", "x"))._unsafeUnwrapErr().code).toBe(
      "rotation_in_progress",
    );
    await payOneRound();
    expect(["ana", "ben", "cy"].map(net)).toEqual([0, 0, 0]);
    const closed = (
      await useCases.closeGroup(sim.deps, groupId, "ana", "one rotation was enough")
    )._unsafeUnwrap();
    expect(closed).toMatchObject({ status: "closed", rotation: { number: 2, receivedMemberIds: [] } });
  });

  it("an admin who left the group can no longer resume it nor reassign its payout (member_not_found, as every admin command), nothing stored", async () => {
    const sim = new InMemorySusu();
    const groupId = await activeGroup(sim, ["ana", "ben", "cy"]);
    // Between rounds, before any round collected, Ana (the creator and admin) leaves.
    const left = (await useCases.leaveGroup(sim.deps, groupId, "ana"))._unsafeUnwrap();
    expect(left.members.find((m) => m.id === "ana")?.status).toBe("left");
    (await useCases.pauseGroup(sim.deps, groupId, ops, "checking"))._unsafeUnwrap();
    const audited = sim.store.audit().length;
    expect((await useCases.closeGroup(sim.deps, groupId, "ana", "x"))._unsafeUnwrapErr().code).toBe(
      "member_not_found",
    );
    expect((await useCases.resumeGroup(sim.deps, groupId, "ana"))._unsafeUnwrapErr().code).toBe(
      "member_not_found",
    );
    expect((await useCases.resumeGroup(sim.deps, groupId, "ben"))._unsafeUnwrapErr().code).toBe("not_admin");
    expect((await useCases.resumeGroup(sim.deps, groupId, "zed"))._unsafeUnwrapErr().code).toBe(
      "member_not_found",
    );
    expect((await sim.store.getGroup(groupId))._unsafeUnwrap()?.status).toBe("paused");
    expect(sim.store.audit()).toHaveLength(audited);

    // Ben's payout blocks; the admin who left may not give it to Cy, an operator may.
    (await useCases.resumeGroup(sim.deps, groupId, ops))._unsafeUnwrap();
    await sim.advance(7 * DAY_MS);
    const round = (await useCases.startRound(sim.deps, groupId, ops))._unsafeUnwrap().state;
    expect(round.recipientMemberId).toBe("ben");
    (await sim.accountUpdated("ben", false))._unsafeUnwrap();
    await sim.advance(4 * DAY_MS);
    expect((await sim.store.getRound(round.id))._unsafeUnwrap()?.status).toBe("payout_blocked");
    expect((await useCases.reassignPayout(sim.deps, groupId, "ana", "cy"))._unsafeUnwrapErr().code).toBe(
      "member_not_found",
    );
    expect((await sim.store.getRound(round.id))._unsafeUnwrap()?.recipientMemberId).toBe("ben");
    (await useCases.reassignPayout(sim.deps, groupId, ops, "cy"))._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect((await sim.store.getRound(round.id))._unsafeUnwrap()).toMatchObject({
      status: "paid_out",
      recipientMemberId: "cy",
    });
  });

  it("an admin removes a member before the start; members leave for themselves after", async () => {
    const sim = new InMemorySusu();
    const groupId = await formingGroup(sim, ["ana", "ben", "cy"]);
    (await useCases.removeMember(sim.deps, groupId, "ana", "cy"))._unsafeUnwrap();
    expect(lastAudit(sim)).toMatchObject({ action: "remove_member", actor: "ana" });
    for (const n of ["ana", "ben"]) (await sim.onboardPerson(n))._unsafeUnwrap();
    (await useCases.activateGroup(sim.deps, groupId, "ana"))._unsafeUnwrap();
    expect((await useCases.removeMember(sim.deps, groupId, "ana", "ben"))._unsafeUnwrapErr().code).toBe(
      "member_removal_not_allowed",
    );
  });
});

describe("a person's onboarding status", () => {
  const urls = { refreshUrl: "https://app.example/r", returnUrl: "https://app.example/d", country: "AU" };

  it("says what is due, and the account's requirements from the provider", async () => {
    const sim = new InMemorySusu();
    await formingGroup(sim, ["ana"]);
    const fresh = (await useCases.personOnboarding(sim.deps, sim.gateway, "ana"))._unsafeUnwrap();
    expect(fresh).toMatchObject({
      readiness: { mandateActive: false, payoutsEnabled: false },
      due: ["mandate_missing", "payout_account_missing"],
      requirementsDue: undefined,
    });
    (await useCases.startPersonPayoutOnboarding(sim.deps, sim.gateway, "ana", urls))._unsafeUnwrap();
    const started = (await useCases.personOnboarding(sim.deps, sim.gateway, "ana"))._unsafeUnwrap();
    expect(started.due).toEqual(["mandate_missing", "payouts_not_enabled"]);
    expect(started.requirementsDue).toEqual(["external_account"]);
    (await sim.onboardPerson("ana"))._unsafeUnwrap();
    (
      await useCases.updatePersonReadiness(sim.deps, "ana", { mandateActive: false }, "stripe")
    )._unsafeUnwrap();
    const lapsed = (await useCases.personOnboarding(sim.deps, sim.gateway, "ana"))._unsafeUnwrap();
    expect(lapsed).toMatchObject({ due: ["mandate_inactive"], requirementsDue: [] });
    expect((await useCases.personOnboarding(sim.deps, sim.gateway, "nobody"))._unsafeUnwrapErr().code).toBe(
      "person_not_found",
    );
  });

  it("an account the provider no longer shows is due again, not a failure; a provider that may answer later is", async () => {
    const sim = new InMemorySusu();
    await formingGroup(sim, ["ana"]);
    (
      await useCases.updatePersonPayment(sim.deps, "ana", { connectedAccountId: "acct_deleted" }, "test")
    )._unsafeUnwrap();
    const gone = (await useCases.personOnboarding(sim.deps, sim.gateway, "ana"))._unsafeUnwrap();
    expect(gone).toMatchObject({
      due: ["mandate_missing", "payouts_not_enabled", "payout_account_gone"],
      requirementsDue: undefined,
    });
    const down = {
      ...sim.gateway,
      getConnectedAccount: () =>
        errAsync(gatewayError("gateway_outcome_unknown", "api_connection_error", "timed out")),
    } as unknown as typeof sim.gateway;
    expect((await useCases.personOnboarding(sim.deps, down, "ana"))._unsafeUnwrapErr()).toMatchObject({
      type: "gateway_outcome_unknown",
    });
  });
});

describe("createGroupWithReadiness", () => {
  const command = (creator: string) => ({
    name: "Readiness savers",
    currency: "AUD" as const,
    contributionMinor: 50_00,
    cadence: "weekly" as const,
    startsAt: Date.UTC(2026, 1, 1),
    payoutOrderMethod: "join_order" as const,
    creator: { id: creator, displayName: creator },
  });

  it("gives the creator's readiness as the people read after the commit give it: new, and onboarded", async () => {
    const sim = new InMemorySusu();
    const first = (await useCases.createGroupWithReadiness(sim.deps, command("ana")))._unsafeUnwrap();
    const read = (await useCases.readinessOfMembers(sim.deps, first.group))._unsafeUnwrap();
    expect(first.readinessOf("ana")).toEqual(read("ana"));
    expect(first.readinessOf("ana")).toEqual({ mandateActive: false, payoutsEnabled: false });

    (await sim.onboardPerson("ana"))._unsafeUnwrap();
    const second = (await useCases.createGroupWithReadiness(sim.deps, command("ana")))._unsafeUnwrap();
    const readAgain = (await useCases.readinessOfMembers(sim.deps, second.group))._unsafeUnwrap();
    expect(second.readinessOf("ana")).toEqual({ mandateActive: true, payoutsEnabled: true });
    expect(second.readinessOf("ana")).toEqual(readAgain("ana"));
    // The group is the one createGroup stores.
    expect((await sim.deps.groups.getGroup(second.group.id))._unsafeUnwrap()).toEqual(second.group);
  });
});

describe("joinGroupWithReadiness", () => {
  it("stores what joinGroup stores and gives the readiness the people read after the commit give", async () => {
    const sim = new InMemorySusu();
    const groupId = await formingGroup(sim, ["ana", "ben"]);
    await formingGroup(sim, ["cat"]);
    (await sim.onboardPerson("cat"))._unsafeUnwrap();
    (await sim.onboardPerson("ana"))._unsafeUnwrap();

    const cat = (
      await useCases.joinGroupWithReadiness(sim.deps, groupId, { id: "cat", displayName: "Cat" })
    )._unsafeUnwrap();
    const dee = (
      await useCases.joinGroupWithReadiness(sim.deps, groupId, { id: "dee", displayName: "Dee" })
    )._unsafeUnwrap();

    const stored = (await sim.deps.groups.getGroup(groupId))._unsafeUnwrap();
    expect(dee.group).toEqual(stored);
    expect(stored?.members.map((m) => m.id)).toEqual(["ana", "ben", "cat", "dee"]);
    const read = (await useCases.readinessOfMembers(sim.deps, dee.group))._unsafeUnwrap();
    for (const id of ["ana", "ben", "cat", "dee"]) expect(dee.readinessOf(id)).toEqual(read(id));
    expect(cat.readinessOf("cat")).toEqual({ mandateActive: true, payoutsEnabled: true });
    expect(dee.readinessOf("dee")).toEqual({ mandateActive: false, payoutsEnabled: false });
    expect((await sim.deps.people.getPerson("dee"))._unsafeUnwrap()?.displayName).toBe("Dee");
  });

  it("refuses a missing group, then the group's rule, storing nothing", async () => {
    const sim = new InMemorySusu();
    const groupId = await formingGroup(sim, ["eve"]);
    const before = (await sim.deps.groups.getGroup(groupId))._unsafeUnwrap();
    for (const [id, member, code] of [
      ["grp_missing", { id: "fay", displayName: "Fay" }, "group_not_found"],
      [groupId, { id: "eve", displayName: "Eve" }, "member_exists"],
    ] as const) {
      const refused = (await useCases.joinGroupWithReadiness(sim.deps, id, member))._unsafeUnwrapErr();
      expect(refused.code).toBe(code);
    }
    expect((await sim.deps.groups.getGroup(groupId))._unsafeUnwrap()).toEqual(before);
    expect((await sim.deps.people.getPerson("fay"))._unsafeUnwrap()).toBeUndefined();
  });
});
