// An admin's commands on a group: settings before it starts, pause, close, removal, and
// platform operators acting as admins. Every status move goes through GROUP_TRANSITIONS.
import { describe, expect, it } from "vitest";
import { DAY_MS } from "../shared/time.js";
import {
  activateGroup,
  actorName,
  closeGroup,
  createGroup,
  endPayoutPause,
  type Group,
  type GroupStatus,
  joinGroup,
  markRoundEnded,
  markRoundOpened,
  pauseGroup,
  pauseGroupByAdmin,
  removeMember,
  resumeGroup,
  updateGroupSettings,
} from "./group.js";
import { GROUP_TRANSITIONS } from "./group-transitions.js";

const T0 = Date.UTC(2026, 0, 31, 9, 0);
const allReady = () => ({ mandateActive: true, payoutsEnabled: true });
const ops = { operator: "ops_1" } as const;

function forming(members = ["b", "c"]): Group {
  let g = createGroup({
    id: "g1",
    name: "Savers",
    currency: "AUD",
    contributionMinor: 100_00,
    cadence: "monthly",
    startsAt: T0,
    payoutOrderMethod: "join_order",
    creator: { id: "a", displayName: "Ana" },
    createdAt: T0 - DAY_MS,
  })._unsafeUnwrap();
  for (const m of members) g = joinGroup(g, { id: m, displayName: m, joinedAt: T0 - DAY_MS })._unsafeUnwrap();
  return g;
}

const active = (members = ["b", "c"]) => activateGroup(forming(members), "a", allReady)._unsafeUnwrap();

describe("group settings before it starts", () => {
  it("an admin changes what was sent and keeps the rest; a new method re-derives the order", () => {
    const g = updateGroupSettings(forming(), "a", {
      name: " Weekend savers ",
      contributionMinor: 150_00,
      cadence: "weekly",
      rotationsPlanned: 2,
      payoutOrderMethod: "reverse_join_order",
    })._unsafeUnwrap();
    expect(g).toMatchObject({
      name: "Weekend savers",
      contributionMinor: 150_00,
      cadence: "weekly",
      rotationsPlanned: 2,
      currency: "AUD",
      startsAt: T0,
      payoutOrder: { method: "reverse_join_order", memberIds: ["c", "b", "a"] },
    });
    const drawn = updateGroupSettings(g, "a", { payoutOrderMethod: "seeded_draw" })._unsafeUnwrap();
    expect(drawn.payoutOrder).toEqual({ method: "seeded_draw", memberIds: ["a", "b", "c"] });
  });

  it("refuses members, strangers, bad values, unsupported currencies, and any change once started", () => {
    const g = forming();
    expect(updateGroupSettings(g, "b", { name: "x" })._unsafeUnwrapErr().code).toBe("not_admin");
    expect(updateGroupSettings(g, "zed", { name: "x" })._unsafeUnwrapErr().code).toBe("member_not_found");
    expect(updateGroupSettings(g, "a", { name: "  " })._unsafeUnwrapErr().code).toBe("invalid_group");
    expect(updateGroupSettings(g, "a", { contributionMinor: 0 })._unsafeUnwrapErr().code).toBe(
      "invalid_group",
    );
    expect(updateGroupSettings(g, "a", { rotationsPlanned: 13 })._unsafeUnwrapErr().code).toBe(
      "invalid_group",
    );
    expect(updateGroupSettings(g, "a", { currency: "USD" })._unsafeUnwrapErr().code).toBe(
      "currency_not_supported",
    );
    expect(updateGroupSettings(active(), "a", { name: "x" })._unsafeUnwrapErr().code).toBe(
      "group_not_forming",
    );
  });

  it("a platform operator may change them too", () => {
    expect(updateGroupSettings(forming(), ops, { name: "Ops named" })._unsafeUnwrap().name).toBe("Ops named");
  });
});

describe("an admin's pause", () => {
  it("records who, when and why; only an admin's resume lifts it, not the end of a blocked payout", () => {
    const paused = pauseGroupByAdmin(active(), "a", " holiday ", T0)._unsafeUnwrap();
    expect(paused).toMatchObject({
      status: "paused",
      pausedReason: "holiday",
      adminPause: { by: "a", at: T0, reason: "holiday" },
    });
    expect(endPayoutPause(paused)).toBe(paused);
    // A payout blocking during the admin's pause keeps the admin's record.
    expect(pauseGroup(paused, "payout blocked")).toBe(paused);
    const resumed = resumeGroup(paused)._unsafeUnwrap();
    expect(resumed.status).toBe("active");
    expect(resumed.adminPause).toBeUndefined();
    expect(resumed.pausedReason).toBeUndefined();
  });

  it("a pause a blocked payout caused lifts itself; an admin may hold it so it does not", () => {
    const blocked = pauseGroup(active(), "recipient cannot receive");
    expect(blocked.adminPause).toBeUndefined();
    expect(endPayoutPause(blocked).status).toBe("active");
    const held = pauseGroupByAdmin(blocked, ops, "investigating", T0)._unsafeUnwrap();
    expect(held.adminPause).toEqual({ by: "operator:ops_1", at: T0, reason: "investigating" });
    expect(endPayoutPause(held).status).toBe("paused");
  });

  it("refuses before the group starts, twice, once ended, without a reason, and for members", () => {
    expect(pauseGroupByAdmin(forming(), "a", "x", T0)._unsafeUnwrapErr().code).toBe("group_not_active");
    const paused = pauseGroupByAdmin(active(), "a", "x", T0)._unsafeUnwrap();
    expect(pauseGroupByAdmin(paused, "a", "again", T0)._unsafeUnwrapErr().code).toBe("group_not_active");
    const closed = closeGroup(active(), "a", "done", T0)._unsafeUnwrap();
    expect(pauseGroupByAdmin(closed, "a", "x", T0)._unsafeUnwrapErr().code).toBe("group_not_active");
    expect(pauseGroupByAdmin(active(), "a", "  ", T0)._unsafeUnwrapErr().code).toBe("invalid_group");
    expect(pauseGroupByAdmin(active(), "b", "x", T0)._unsafeUnwrapErr().code).toBe("not_admin");
  });

  it("a round in progress during the pause may end the last rotation: the group completes, unpaused", () => {
    let g = active(["b"]);
    g = markRoundOpened(g, "r1")._unsafeUnwrap();
    g = markRoundEnded(g, "r1", { paidTo: "a" })._unsafeUnwrap();
    g = markRoundOpened(g, "r2")._unsafeUnwrap();
    g = pauseGroupByAdmin(g, "a", "hold", T0)._unsafeUnwrap();
    const done = markRoundEnded(g, "r2", { paidTo: "b" })._unsafeUnwrap();
    expect(done.status).toBe("completed");
    expect(done.adminPause).toBeUndefined();
    expect(done.pausedReason).toBeUndefined();
  });
});

describe("closing a group", () => {
  it("between rounds: closed for good, with who and why; no joins, no swaps, no rounds", () => {
    const closed = closeGroup(active(), ops, "we are done", T0)._unsafeUnwrap();
    expect(closed).toMatchObject({
      status: "closed",
      closure: { by: "operator:ops_1", at: T0, reason: "we are done" },
    });
    expect(joinGroup(closed, { id: "d", displayName: "d", joinedAt: T0 })._unsafeUnwrapErr().code).toBe(
      "group_not_active",
    );
    expect(markRoundOpened(closed, "r1")._unsafeUnwrapErr().code).toBe("group_not_active");
    expect(resumeGroup(closed)._unsafeUnwrapErr().code).toBe("group_not_paused");
    expect(closeGroup(closed, "a", "again", T0)._unsafeUnwrapErr().code).toBe("group_not_active");
    expect(pauseGroup(closed, "blocked")).toBe(closed);
  });

  it("refuses while a round is in progress, and for members; a forming or paused group may close", () => {
    const running = markRoundOpened(active(), "r1")._unsafeUnwrap();
    expect(closeGroup(running, "a", "x", T0)._unsafeUnwrapErr().code).toBe("round_in_progress");
    expect(closeGroup(active(), "b", "x", T0)._unsafeUnwrapErr().code).toBe("not_admin");
    expect(closeGroup(forming(), "a", "never mind", T0)._unsafeUnwrap().status).toBe("closed");
    const paused = pauseGroupByAdmin(active(), "a", "x", T0)._unsafeUnwrap();
    const closed = closeGroup(paused, "a", "over", T0)._unsafeUnwrap();
    expect(closed.status).toBe("closed");
    expect(closed.adminPause).toBeUndefined();
  });

  it("refuses mid-rotation once a round paid out (rotation_in_progress): closing would keep what the unpaid members paid in", () => {
    // Before this rule the close went through: b and c had paid 100.00 each into r1 and
    // would never receive their pot; a kept 300.00 having paid 100.00.
    let g = active();
    g = markRoundEnded(markRoundOpened(g, "r1")._unsafeUnwrap(), "r1", { paidTo: "a" })._unsafeUnwrap();
    for (const actor of ["a", ops] as const) {
      const refused = closeGroup(g, actor, "we are done", T0)._unsafeUnwrapErr();
      expect(refused.code).toBe("rotation_in_progress");
      expect(refused.message).toMatch(/b, c have paid into rotation 1/);
    }
    // Paused between rounds changes nothing: their money is still in the rotation.
    const paused = pauseGroupByAdmin(g, "a", "holiday", T0)._unsafeUnwrap();
    expect(closeGroup(paused, "a", "x", T0)._unsafeUnwrapErr().code).toBe("rotation_in_progress");
    // The last round pays the last member due: a two-rotation group is at a rotation's
    // boundary, where everyone has had back what they paid in, and may close.
    g = { ...g, rotationsPlanned: 2 };
    g = markRoundEnded(markRoundOpened(g, "r2")._unsafeUnwrap(), "r2", { paidTo: "b" })._unsafeUnwrap();
    expect(closeGroup(g, "a", "x", T0)._unsafeUnwrapErr().code).toBe("rotation_in_progress");
    g = markRoundEnded(markRoundOpened(g, "r3")._unsafeUnwrap(), "r3", { paidTo: "c" })._unsafeUnwrap();
    expect(g.rotation).toMatchObject({ number: 2, receivedMemberIds: [] });
    expect(closeGroup(g, "a", "x", T0)._unsafeUnwrap().status).toBe("closed");
  });

  it("a cancelled round refunded what it collected: before any payout of the rotation the group may close", () => {
    const g = markRoundEnded(markRoundOpened(active(), "r1")._unsafeUnwrap(), "r1", {
      cancelled: true,
    })._unsafeUnwrap();
    expect(closeGroup(g, "a", "refunded, done", T0)._unsafeUnwrap().status).toBe("closed");
  });
});

describe("removing a member", () => {
  it("an admin or an operator removes a member while forming; the order follows", () => {
    const g = removeMember(forming(), "a", "b")._unsafeUnwrap();
    expect(g.members.find((m) => m.id === "b")?.status).toBe("left");
    expect(g.payoutOrder.memberIds).toEqual(["a", "c"]);
    expect(removeMember(forming(), ops, "c")._unsafeUnwrap().payoutOrder.memberIds).toEqual(["a", "b"]);
  });

  it("not once the group started, not an admin, not by a member, not someone absent", () => {
    expect(removeMember(active(), "a", "b")._unsafeUnwrapErr().code).toBe("member_removal_not_allowed");
    expect(removeMember(forming(), ops, "a")._unsafeUnwrapErr().code).toBe("member_removal_not_allowed");
    expect(removeMember(forming(), "b", "c")._unsafeUnwrapErr().code).toBe("not_admin");
    expect(removeMember(forming(), "a", "zed")._unsafeUnwrapErr().code).toBe("member_not_found");
  });
});

describe("GROUP_TRANSITIONS", () => {
  it("lists the moves, and one command makes each of them", () => {
    const made = new Set<string>();
    const seen = (from: Group, to: Group) => made.add(`${from.status}→${to.status}`);
    const f = forming();
    const a = activateGroup(f, "a", allReady)._unsafeUnwrap();
    seen(f, a);
    seen(f, closeGroup(f, "a", "x", T0)._unsafeUnwrap());
    const p = pauseGroupByAdmin(a, "a", "x", T0)._unsafeUnwrap();
    seen(a, p);
    seen(a, closeGroup(a, "a", "x", T0)._unsafeUnwrap());
    seen(p, resumeGroup(p)._unsafeUnwrap());
    seen(p, closeGroup(p, "a", "x", T0)._unsafeUnwrap());
    const two = activateGroup(forming(["b"]), "a", allReady)._unsafeUnwrap();
    let r = markRoundEnded(markRoundOpened(two, "r1")._unsafeUnwrap(), "r1", { paidTo: "a" })._unsafeUnwrap();
    r = markRoundOpened(r, "r2")._unsafeUnwrap();
    seen(r, markRoundEnded(r, "r2", { paidTo: "b" })._unsafeUnwrap());
    const held = pauseGroupByAdmin(r, "a", "x", T0)._unsafeUnwrap();
    seen(held, markRoundEnded(held, "r2", { paidTo: "b" })._unsafeUnwrap());
    const table = Object.entries(GROUP_TRANSITIONS.table).flatMap(([from, tos]) =>
      (tos as readonly GroupStatus[]).map((to) => `${from}→${to}`),
    );
    expect([...made].sort()).toEqual([...table].sort());
  });

  it("refuses any other move, and final statuses move nowhere", () => {
    expect(() => GROUP_TRANSITIONS.assertMove("g1", "completed", "active")).toThrow(
      /not in its transition table/,
    );
    expect(() => GROUP_TRANSITIONS.assertMove("g1", "forming", "paused")).toThrow();
    expect(GROUP_TRANSITIONS.table.closed).toEqual([]);
  });

  it("names operators in the audit log as operator:<id>", () => {
    expect(actorName("ana")).toBe("ana");
    expect(actorName({ operator: "ops" })).toBe("operator:ops");
  });
});
