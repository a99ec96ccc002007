// What PostgreSQL adds to the storage contract: projection rows kept in step with the
// snapshots, constraints that refuse impossible states, snapshots validated on load, and
// the due-groups query served by its partial index.
import {
  activateGroup,
  type Changeset,
  closeFinishedRotation,
  createGroup,
  DAY_MS,
  DEFAULT_ROUND_POLICY,
  decide,
  drawGroupPayoutOrder,
  type Group,
  joinGroup,
  leaveGroup,
  type MemberId,
  markRoundEnded,
  markRoundOpened,
  nextRecipient,
  type PayoutOrderMethod,
  pauseGroup,
  type Round,
  type RoundInput,
  reassignPosition,
  removeMember,
  setFixedPayoutOrder,
  updateGroupSettings,
} from "@susu/domain";
import { anActiveGroup, aReadyPerson, aRoundOf, peopleOf } from "@susu/domain/testing";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Prisma } from "../../src/prisma/generated/client.js";
import { PrismaStore } from "../../src/prisma/index.js";
import { dueGroupsQuery } from "../../src/prisma/prisma-store.js";
import { createTestDatabase, type TestDatabase } from "../support/test-database.js";

/**
 * The group as older versions stored a leave by a member still due the pot (leaveGroup now
 * refuses it, member_awaiting_payout): `leaving` during a round, else `left`; out of the
 * order; a rotation all paid closed at once. Such groups are still stored, so the store must
 * still write them.
 */
function olderVersionsLeave(group: Group, memberId: MemberId): Group {
  const status = group.currentRoundId !== undefined ? ("leaving" as const) : ("left" as const);
  return closeFinishedRotation({
    ...group,
    members: group.members.map((m) => (m.id === memberId ? { ...m, status } : m)),
    payoutOrder: {
      ...group.payoutOrder,
      memberIds: group.payoutOrder.memberIds.filter((id) => id !== memberId),
    },
  });
}

const T = Date.UTC(2026, 0, 6);
const empty: Changeset = { people: [], groups: [], rounds: [], outbox: [], audit: [] };
const ctx = { now: T, policy: DEFAULT_ROUND_POLICY };

function apply(round: Round, inputs: readonly RoundInput[]): Round {
  return inputs.reduce((r, input) => decide(r, input, ctx)._unsafeUnwrap().state, round);
}

describe("PostgreSQL storage beyond the contract", () => {
  let db: TestDatabase;
  let store: PrismaStore;
  let group: Group;

  beforeAll(async () => {
    db = await createTestDatabase();
    store = new PrismaStore(db.prisma, { clock: { now: () => T } });
    group = anActiveGroup();
    (
      await store.commit({
        ...empty,
        people: peopleOf(group).map((state) => ({ state, expectedVersion: undefined })),
        groups: [{ state: group, expectedVersion: undefined }],
      })
    )._unsafeUnwrap();
  });
  afterAll(async () => {
    await db.drop();
  });

  it("projects a group's time zone and its next round in it; a snapshot stored without one reads as UTC", async () => {
    const base = anActiveGroup({
      id: "grp_tz",
      memberIds: ["tz_ana", "tz_ben"],
      startsAt: Date.parse("2030-03-01T09:00:00+11:00"),
    });
    const sydney: Group = {
      ...base,
      cadence: "monthly",
      timeZone: "Australia/Sydney",
      rotation: { ...base.rotation, roundSequence: 1 },
    };
    (
      await store.commit({
        ...empty,
        people: peopleOf(sydney).map((state) => ({ state, expectedVersion: undefined })),
        groups: [{ state: sydney, expectedVersion: undefined }],
      })
    )._unsafeUnwrap();
    const row = async () =>
      await db.prisma.group.findUniqueOrThrow({
        where: { id: sydney.id },
        select: { timeZone: true, nextRoundAt: true },
      });
    // The 1st of April, 09:00 in Sydney (still daylight time), not the 28th of March in UTC.
    expect(await row()).toEqual({
      timeZone: "Australia/Sydney",
      nextRoundAt: new Date("2030-03-31T22:00:00.000Z"),
    });
    expect((await store.getGroup(sydney.id))._unsafeUnwrap()).toEqual(sydney);
    await db.prisma.$executeRaw`UPDATE groups SET snapshot = snapshot - 'timeZone' WHERE id = ${sydney.id}`;
    expect((await store.getGroup(sydney.id))._unsafeUnwrap()?.timeZone).toBe("UTC");
  });

  it("keeps members, contributions, attempts and payouts in step with the snapshots", async () => {
    let round = aRoundOf(group, [], { id: "round_life" });
    (
      await store.commit({ ...empty, rounds: [{ state: round, expectedVersion: undefined }] })
    )._unsafeUnwrap();
    const paid = apply(round, [
      ...["ana", "ben", "cy"].map((m) => ({
        type: "debit_succeeded" as const,
        memberId: m,
        attempt: 1,
        paymentIntentId: `pi_${m}`,
        chargeId: `ch_${m}`,
      })),
      { type: "transfer_failed", sourceMemberId: "ana", attempt: 1, failureCode: "balance_insufficient" },
      { type: "timer", timer: { kind: "retry_payout", attempt: 2 } },
    ]);
    (await store.commit({ ...empty, rounds: [{ state: paid, expectedVersion: 0 }] }))._unsafeUnwrap();
    round = { ...paid, version: 1 };

    const members = await db.prisma.member.findMany({
      where: { groupId: group.id },
      orderBy: { id: "asc" },
      include: { person: true },
    });
    // Each member row points at its person, who holds the Stripe ids and readiness.
    expect(
      members.map((m) => [
        m.id,
        m.status,
        m.rotationPosition,
        m.person.mandateActive,
        m.person.stripeCustomerId,
      ]),
    ).toEqual(
      group.members
        .map((m) => [m.id, m.status, group.payoutOrder.memberIds.indexOf(m.id), true, `cus_${m.id}`])
        .sort(),
    );
    const contributions = await db.prisma.contribution.findMany({ where: { roundId: round.id } });
    expect(contributions.map((c) => [c.memberId, c.status, c.amountMinor, c.attemptsCount]).sort()).toEqual(
      round.contributions.map((c) => [c.memberId, c.status, BigInt(c.amountMinor), c.attempts.length]).sort(),
    );
    const attempts = await db.prisma.contributionAttempt.findMany({ where: { roundId: round.id } });
    expect(attempts.map((a) => [a.memberId, a.attempt, a.effectId, a.stripeChargeId]).sort()).toEqual(
      round.contributions
        .flatMap((c) => c.attempts.map((a) => [c.memberId, a.number, a.effectId, a.chargeId ?? null]))
        .sort(),
    );
    // ana's failed first transfer was replaced by the retry's: the row went with it.
    const payouts = await db.prisma.payoutTransfer.findMany({
      where: { roundId: round.id },
      orderBy: { sourceMemberId: "asc" },
    });
    expect(payouts.map((p) => [p.sourceMemberId, p.attempt, p.status, p.effectId])).toEqual(
      round.payouts.map((p) => [p.sourceMemberId, p.attempt, p.status, p.effectId]),
    );
    expect(payouts[0]).toMatchObject({ sourceMemberId: "ana", attempt: 2, sourceChargeId: "ch_ana" });
    const row = await db.prisma.round.findUniqueOrThrow({ where: { id: round.id } });
    expect(row).toMatchObject({ state: "paying_out", version: 1, sequence: 0, recipientMemberId: "ana" });
  });

  it("a group's write gives new row versions only to the members it changed; swapped positions are stored", async () => {
    const mine = anActiveGroup({ id: "grp_member_rows", memberIds: ["mr_ana", "mr_ben", "mr_cy", "mr_dee"] });
    (
      await store.commit({
        ...empty,
        people: peopleOf(mine).map((state) => ({ state, expectedVersion: undefined })),
        groups: [{ state: mine, expectedVersion: undefined }],
      })
    )._unsafeUnwrap();
    // xmin: the transaction that wrote the row's current version.
    const rows = async () =>
      new Map(
        (
          await db.prisma.$queryRawUnsafe<
            { id: string; position: number | null; xmin: string; xmax: string }[]
          >(
            "SELECT id, rotation_position AS position, xmin::text AS xmin, xmax::text AS xmax FROM members WHERE group_id = $1",
            mine.id,
          )
        ).map((r) => [r.id, r]),
      );
    const before = await rows();
    const swapped = reassignPosition(mine, "mr_ana", "mr_cy")._unsafeUnwrap();
    (await store.commit({ ...empty, groups: [{ state: swapped, expectedVersion: 0 }] }))._unsafeUnwrap();
    const afterSwap = await rows();
    for (const id of ["mr_ana", "mr_ben", "mr_cy", "mr_dee"])
      expect(afterSwap.get(id)?.position).toBe(swapped.payoutOrder.memberIds.indexOf(id));
    expect(afterSwap.get("mr_ana")?.position).toBe(before.get("mr_cy")?.position);
    expect(afterSwap.get("mr_cy")?.position).toBe(before.get("mr_ana")?.position);
    // Only the two who swapped have new versions; ben and dee were not written.
    const rewritten = (a: typeof before, b: typeof before) =>
      [...b.values()]
        .filter((r) => a.get(r.id)?.xmin !== r.xmin)
        .map((r) => r.id)
        .sort();
    expect(rewritten(before, afterSwap)).toEqual(["mr_ana", "mr_cy"]);
    // A pause changes no member: no member row is written.
    const paused = pauseGroup({ ...swapped, version: 1 }, "payout blocked");
    (await store.commit({ ...empty, groups: [{ state: paused, expectedVersion: 1 }] }))._unsafeUnwrap();
    const afterPause = await rows();
    expect(rewritten(afterSwap, afterPause)).toEqual([]);
    // Nor locked (xmax: a lock taken leaves its transaction there, and a dirtied page).
    expect([...afterPause.values()].map((r) => [r.id, r.xmax]).sort()).toEqual(
      [...afterSwap.values()].map((r) => [r.id, r.xmax]).sort(),
    );
  });

  // The domain never drops a member from a group: one who leaves (or is removed) stays, `leaving`
  // or `left`, without a place in the payout order, and the members after them move up one. The
  // upsert takes its rows in the order its plan yields them (a hash anti join's: the hash
  // table's, not the snapshot's), so a member moving up may reach a position another row still
  // holds: the changed positions are released first (without that, a chain of members moving up
  // is refused by members_group_id_rotation_position_key unless the plan happens to take it in order).
  describe("a member leaving while the members after them move up, in one write", () => {
    const joinedAt = Date.UTC(2026, 0, 5);
    /** A forming group of `ids` (the first its admin), made by the domain's own operations. */
    const formingGroup = (id: string, ids: readonly string[], method: PayoutOrderMethod): Group => {
      const [admin = "", ...others] = ids;
      const created = createGroup({
        id,
        name: "Leavers",
        currency: "AUD",
        contributionMinor: 100_00,
        cadence: "weekly",
        startsAt: joinedAt + DAY_MS,
        payoutOrderMethod: method,
        creator: { id: admin, displayName: admin.toUpperCase() },
        createdAt: joinedAt,
      })._unsafeUnwrap();
      return others.reduce(
        (g, m) => joinGroup(g, { id: m, displayName: m.toUpperCase(), joinedAt })._unsafeUnwrap(),
        created,
      );
    };
    const activeGroup = (id: string, ids: readonly string[], method: PayoutOrderMethod): Group =>
      activateGroup(formingGroup(id, ids, method), ids[0] ?? "", () => ({
        mandateActive: true,
        payoutsEnabled: true,
      }))._unsafeUnwrap();

    interface StoredMember {
      readonly id: string;
      readonly status: string;
      readonly position: number | null;
      /** The transaction that wrote the row's current version. */
      readonly xmin: string;
    }
    const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    const storedMembers = async (groupId: string): Promise<StoredMember[]> =>
      (
        await db.prisma.$queryRawUnsafe<StoredMember[]>(
          `SELECT id, status::text AS status, rotation_position AS position, xmin::text AS xmin
             FROM members WHERE group_id = $1`,
          groupId,
        )
      ).sort(byId);
    /** The member rows `group` stands for: each member, their status and place in the payout order. */
    const rowsOf = (group: Group) =>
      group.members
        .map((m) => {
          const position = group.payoutOrder.memberIds.indexOf(m.id);
          return { id: m.id, status: m.status, position: position >= 0 ? position : null };
        })
        .sort(byId);

    async function storeNew(group: Group): Promise<Group> {
      (
        await store.commit({
          ...empty,
          people: peopleOf(group).map((state) => ({ state, expectedVersion: undefined })),
          groups: [{ state: group, expectedVersion: undefined }],
        })
      )._unsafeUnwrap();
      return group;
    }

    /**
     * Commits `next`, made by the domain from `group` as stored (with `joining`, people new to
     * storage), and checks what it stored: the commit succeeded, the member rows are `next`'s,
     * exactly the members in `rewritten` have new row versions (the others were not written),
     * and the group reloaded through the store is `next`. Returns `next` as stored.
     */
    async function writeAndCheck(
      group: Group,
      next: Group,
      rewritten: readonly string[],
      joining: readonly string[] = [],
    ): Promise<Group> {
      const before = new Map((await storedMembers(group.id)).map((r) => [r.id, r.xmin]));
      const committed = await store.commit({
        ...empty,
        people: joining.map((id) => ({ state: aReadyPerson(id), expectedVersion: undefined })),
        groups: [{ state: next, expectedVersion: group.version }],
      });
      expect(committed.isErr() ? committed.error : "ok").toBe("ok");
      const rows = await storedMembers(group.id);
      expect(rows.map(({ xmin: _, ...row }) => row)).toEqual(rowsOf(next));
      expect(rows.filter((r) => before.get(r.id) !== r.xmin).map((r) => r.id)).toEqual(rewritten);
      const stored = { ...next, version: group.version + 1 };
      expect((await store.getGroup(group.id))._unsafeUnwrap()).toEqual(stored);
      return stored;
    }

    it.each([
      ["join_order", "lmj_"],
      ["reverse_join_order", "lmr_"],
    ] as const)(
      "from the middle of the order during a round (%s): the leaver is leaving, those after move up",
      async (method, prefix) => {
        const ids = ["ana", "ben", "cy", "dee", "eve", "fay", "gus", "hal"].map((m) => `${prefix}${m}`);
        const group = await storeNew(activeGroup(`grp_leave_middle_${method}`, ids, method));
        const order = group.payoutOrder.memberIds;
        const leaver = order[2] ?? "";
        const opened = await writeAndCheck(
          group,
          markRoundOpened(group, `round_${prefix}`)._unsafeUnwrap(),
          [],
        );
        const left = olderVersionsLeave(opened, leaver);
        expect(left.members.find((m) => m.id === leaver)?.status).toBe("leaving");
        // The five after the leaver move up one; the two before stay where they were.
        expect(left.payoutOrder.memberIds).toEqual([...order.slice(0, 2), ...order.slice(3)]);
        await writeAndCheck(opened, left, [...order.slice(2)].sort());
      },
    );

    it.each([
      ["join_order", "lf_ana"],
      ["reverse_join_order", "lr_dee"],
    ] as const)("from the first position (%s): every later member moves up one", async (method, first) => {
      const prefix = first.slice(0, 3);
      const ids = ["ana", "ben", "cy", "dee"].map((m) => `${prefix}${m}`);
      const active = await storeNew(activeGroup(`grp_leave_first_${method}`, ids, method));
      expect(active.payoutOrder.memberIds[0]).toBe(first);
      // Someone who joined mid-rotation is pending, with no place: the leave below leaves their row alone.
      const pending = `${prefix}fay`;
      const joined = await writeAndCheck(
        active,
        joinGroup(active, { id: pending, displayName: "Fay", joinedAt })._unsafeUnwrap(),
        [pending],
        [pending],
      );
      const left = leaveGroup(joined, first)._unsafeUnwrap();
      expect(left.members.find((m) => m.id === first)?.status).toBe("left");
      expect(left.payoutOrder.memberIds).toEqual(joined.payoutOrder.memberIds.slice(1));
      await writeAndCheck(joined, left, ids);
    });

    it("removed before the group starts while another joins, in one write: the newcomer takes the freed last position", async () => {
      // The admin's order is the reverse of joining: [dee, cy, ben, ana].
      const forming = formingGroup("grp_leave_join", ["lj_ana", "lj_ben", "lj_cy", "lj_dee"], "join_order");
      const group = await storeNew(
        setFixedPayoutOrder(forming, "lj_ana", ["lj_dee", "lj_cy", "lj_ben", "lj_ana"])._unsafeUnwrap(),
      );
      const removed = removeMember(group, "lj_ana", "lj_ben")._unsafeUnwrap();
      const next = joinGroup(removed, { id: "lj_fay", displayName: "Fay", joinedAt })._unsafeUnwrap();
      expect(next.members.find((m) => m.id === "lj_ben")?.status).toBe("left");
      // ana moves into ben's place, fay takes ana's, the last; dee and cy stay.
      expect(next.payoutOrder.memberIds).toEqual(["lj_dee", "lj_cy", "lj_ana", "lj_fay"]);
      await writeAndCheck(group, next, ["lj_ana", "lj_ben", "lj_fay"], ["lj_fay"]);
    });

    // The end of a rotation's last round (markRoundEnded paying the last member still due) is one
    // write where a member who left during that round goes from `leaving` to `left` and whoever
    // joined mid-rotation (`pending`) becomes active with a place in the next rotation's order,
    // derived again by the group's method. Every round's end turns `leaving` into `left`, so the
    // leaver left during that very round; in a rotation's planned last round nobody can (those
    // paid owe contributions until it ends, the recipient is due the pot), so the leaver is the
    // one still due after the recipient of the round before, and their leave makes it the last.
    // Their place was freed by the write of their leave (leaveGroup takes them out of the order
    // at once): a newcomer may take the position the leaver held, but no row holds it any longer.
    // Whether the others move depends on the method: join_order appends the newcomer;
    // reverse_join_order puts them first and every other member moves down one; seeded_draw draws
    // the whole order again.
    describe("at a rotation's end: the leaver left, the newcomer placed, in one write", () => {
      /** Opens the group's next round and ends it paid to its recipient: two writes, each checked. */
      async function payNextRound(group: Group, roundId: string): Promise<Group> {
        const opened = await writeAndCheck(group, markRoundOpened(group, roundId)._unsafeUnwrap(), []);
        const paidTo = nextRecipient(opened) ?? "";
        return writeAndCheck(opened, markRoundEnded(opened, roundId, { paidTo })._unsafeUnwrap(), []);
      }

      /**
       * Eight members (`prefix` + ana … hal) in a group of two rotations ordered by `method`
       * (seeded_draw: drawn before it starts), stored, then `paid` rounds opened and paid in
       * order, every write checked; after the second, ivy joins (pending, with no place in this
       * rotation). Returns the group as stored, the first rotation's order and ivy's id.
       */
      async function paidInOrder(groupId: string, method: PayoutOrderMethod, prefix: string, paid: number) {
        const ids = ["ana", "ben", "cy", "dee", "eve", "fay", "gus", "hal"].map((m) => `${prefix}${m}`);
        const admin = ids[0] ?? "";
        // Two rotations: at the first one's end the next begins (with one, the group completes).
        const two = { rotationsPlanned: 2 };
        const planned = updateGroupSettings(formingGroup(groupId, ids, method), admin, two);
        const forming =
          method === "seeded_draw"
            ? planned.andThen((g) => drawGroupPayoutOrder(g, admin, "rotation-end-seed"))
            : planned;
        const ready = () => ({ mandateActive: true, payoutsEnabled: true });
        let group = await storeNew(forming.andThen((g) => activateGroup(g, admin, ready))._unsafeUnwrap());
        const order = group.payoutOrder.memberIds;
        const newcomer = `${prefix}ivy`;
        for (let n = 0; n < paid; n++) {
          if (n === 2)
            group = await writeAndCheck(
              group,
              joinGroup(group, { id: newcomer, displayName: "Ivy", joinedAt })._unsafeUnwrap(),
              [newcomer],
              [newcomer],
            );
          group = await payNextRound(group, `round_${prefix}${n}`);
        }
        return { group, order, newcomer };
      }

      it.each([
        ["join_order", 0, "rej_"],
        ["reverse_join_order", 7, "rer_"],
        ["seeded_draw", 5, "res_"],
      ] as const)(
        "the one due after the last recipient leaves during that round (%s): %i others change place",
        async (method, moving, prefix) => {
          // Six rounds paid in order; after the second, ivy joins: pending, with no place in this rotation.
          const { group, order, newcomer } = await paidInOrder(
            `grp_rotation_end_${method}`,
            method,
            prefix,
            6,
          );
          // The seventh round pays order[6]; order[7], the only other one still due, leaves during it:
          // `leaving`, out of the order (last in it, so nobody moves up), and that round becomes the last.
          const roundId = `round_${prefix}6`;
          const opened = await writeAndCheck(group, markRoundOpened(group, roundId)._unsafeUnwrap(), []);
          const [recipient = "", leaver = ""] = order.slice(6);
          expect(nextRecipient(opened)).toBe(recipient);
          const leaving = olderVersionsLeave(opened, leaver);
          const left = await writeAndCheck(opened, leaving, [leaver]);
          expect(left.members.find((m) => m.id === leaver)?.status).toBe("leaving");
          expect(left.payoutOrder.memberIds).toEqual(order.slice(0, 7));

          // It ends paid: everyone in the order has received, so the second rotation begins.
          const ended = markRoundEnded(left, roundId, { paidTo: recipient })._unsafeUnwrap();
          expect(ended.rotation).toEqual({ number: 2, receivedMemberIds: [], roundSequence: 7 });
          expect(ended.members.find((m) => m.id === leaver)?.status).toBe("left");
          expect(ended.members.find((m) => m.id === newcomer)?.status).toBe("active");
          const next = ended.payoutOrder.memberIds;
          const stay = order.slice(0, 7);
          if (method === "join_order") {
            // ivy takes the last position, the one the leaver held; nobody else moves.
            expect(next).toEqual([...stay, newcomer]);
            expect(next.indexOf(newcomer)).toBe(order.indexOf(leaver));
          } else if (method === "reverse_join_order") {
            // ivy takes the first position; the seven others move down one, the last into the leaver's.
            expect(next).toEqual([newcomer, ...stay]);
            expect(next.indexOf(recipient)).toBe(order.indexOf(leaver));
          } else expect([...next].sort()).toEqual([...stay, newcomer].sort());
          // Rewritten: the leaver (status), the newcomer (status and place), and whoever changed place.
          const moved = stay.filter((id) => next.indexOf(id) !== order.indexOf(id));
          expect(moved.length).toBe(moving);
          await writeAndCheck(left, ended, [leaver, newcomer, ...moved].sort());
        },
      );

      // Between rounds the last member still due could leave too (before member_awaiting_payout;
      // such groups are stored, and opening a round closes their rotation with
      // closeFinishedRotation), and no round's end follows: the rotation closes in that write. Then it is one write where
      // the leaver goes from `active` straight to `left` AND gives up their place, the newcomer
      // becomes active with a place, and rotation 2's order is derived again: unlike the case
      // above, the leaver's place is freed in the very write that may hand it to someone else
      // (join_order: the newcomer; reverse_join_order: the recipient of the round before, who
      // moves down one like every other member; seeded_draw: whoever the draw puts there).
      it.each([
        ["join_order", 0, "lcj_"],
        ["reverse_join_order", 7, "lcr_"],
        ["seeded_draw", 5, "lcs_"],
      ] as const)(
        "the last one due leaves between rounds (%s): left, placeless, and rotation 2 ordered, %i others change place",
        async (method, moving, prefix) => {
          // Seven rounds paid in order: order[7] is the only member still due, and no round is open.
          const { group, order, newcomer } = await paidInOrder(
            `grp_leave_closes_${method}`,
            method,
            prefix,
            7,
          );
          const leaver = order[7] ?? "";
          expect(group.currentRoundId).toBeUndefined();
          expect(group.rotation).toEqual({
            number: 1,
            receivedMemberIds: order.slice(0, 7),
            roundSequence: 7,
          });
          expect(nextRecipient(group)).toBe(leaver);
          const stored = await db.prisma.member.findUniqueOrThrow({
            where: { groupId_id: { groupId: group.id, id: leaver } },
          });
          expect([stored.status, stored.rotationPosition]).toEqual(["active", 7]);

          // No round in progress, so no current recipient: the leave alone closes the rotation.
          const closed = olderVersionsLeave(group, leaver);
          expect(closed.status).toBe("active");
          expect(closed.rotation).toEqual({ number: 2, receivedMemberIds: [], roundSequence: 7 });
          expect(closed.members.find((m) => m.id === leaver)?.status).toBe("left");
          expect(closed.members.find((m) => m.id === newcomer)?.status).toBe("active");
          const next = closed.payoutOrder.memberIds;
          const stay = order.slice(0, 7);
          if (method === "join_order") {
            // ivy takes the last position, the leaver's, in the write that takes it from them.
            expect(next).toEqual([...stay, newcomer]);
          } else if (method === "reverse_join_order") {
            // ivy first; the seven others move down one, the last of them into the leaver's position.
            expect(next).toEqual([newcomer, ...stay]);
          } else expect([...next].sort()).toEqual([...stay, newcomer].sort());
          // Eight places again: someone holds the leaver's (7) once this write is stored.
          expect(next).toHaveLength(8);
          // Rewritten: the leaver (status, place), the newcomer (status, place), whoever changed place.
          const moved = stay.filter((id) => next.indexOf(id) !== order.indexOf(id));
          expect(moved.length).toBe(moving);
          await writeAndCheck(group, closed, [leaver, newcomer, ...moved].sort());
          const row = await db.prisma.group.findUniqueOrThrow({ where: { id: group.id } });
          expect([row.status, row.rotationNumber, row.currentRoundId]).toEqual(["active", 2, null]);
        },
      );
    });
  });

  it("a round loaded by the store rewrites only the child rows its change touched", async () => {
    const opened = { ...aRoundOf(group, [], { id: "round_diff" }), sequence: 5, rotation: 7 };
    (
      await store.commit({ ...empty, rounds: [{ state: opened, expectedVersion: undefined }] })
    )._unsafeUnwrap();
    // A row's xmin is the transaction that last wrote it: rows left alone keep theirs.
    const writers = async () =>
      new Map(
        (
          await db.prisma.$queryRaw<{ key: string; xmin: string }[]>`
            SELECT 'c:' || member_id AS key, xmin::text FROM contributions WHERE round_id = 'round_diff'
            UNION ALL
            SELECT 'a:' || member_id || ':' || attempt, xmin::text FROM contribution_attempts WHERE round_id = 'round_diff'
            UNION ALL
            SELECT 'p:' || effect_id, xmin::text FROM payout_transfers WHERE round_id = 'round_diff'`
        ).map((r) => [r.key, r.xmin]),
      );
    // The statements the commits send (by prepared name, or a simple query's first word).
    let sent: string[] = [];
    const commitFromStore = async (inputs: readonly RoundInput[], extra: Partial<Changeset> = {}) => {
      const loaded = (await store.getRound("round_diff"))._unsafeUnwrap() as Round;
      const next = apply(loaded, inputs);
      const query = pg.Client.prototype.query;
      sent = [];
      pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
        const first = args[0] as string | { name?: string };
        sent.push(typeof first === "string" ? (first.split(" ")[0] ?? "") : (first.name ?? "?"));
        return (query as (...a: unknown[]) => unknown).apply(this, args);
      } as typeof query;
      try {
        const committed = await store.commit({
          ...empty,
          ...extra,
          rounds: [{ state: next, expectedVersion: loaded.version }],
        });
        expect(committed.isErr() ? committed.error : "ok").toBe("ok");
      } finally {
        pg.Client.prototype.query = query;
      }
      return next;
    };
    const before = await writers();
    const succeeded = (m: string) => ({
      type: "debit_succeeded" as const,
      memberId: m,
      attempt: 1,
      paymentIntentId: `pi_diff_${m}`,
      chargeId: `ch_diff_${m}`,
    });
    await commitFromStore([succeeded("ana")]);
    const afterOne = await writers();
    expect([...afterOne.keys()].sort()).toEqual([...before.keys()].sort());
    const rewritten = [...afterOne].filter(([key, xmin]) => before.get(key) !== xmin).map(([key]) => key);
    expect(rewritten.sort()).toEqual(["a:ana:1", "c:ana"]);
    // Only rows changed, none gone: the commit is one statement, no BEGIN/COMMIT.
    expect(sent).toEqual(["susu_commit_round"]);

    // Through a failed transfer and its retry (a payout row replaced: the sweep still runs),
    // the rows stay those of the snapshot.
    await commitFromStore([
      succeeded("ben"),
      succeeded("cy"),
      { type: "transfer_failed", sourceMemberId: "ana", attempt: 1, failureCode: "balance_insufficient" },
    ]);
    const round = await commitFromStore([{ type: "timer", timer: { kind: "retry_payout", attempt: 2 } }]);
    const payouts = await db.prisma.payoutTransfer.findMany({
      where: { roundId: "round_diff" },
      orderBy: { sourceMemberId: "asc" },
    });
    expect(payouts.map((p) => [p.sourceMemberId, p.attempt, p.status, p.effectId])).toEqual(
      round.payouts.map((p) => [p.sourceMemberId, p.attempt, p.status, p.effectId]),
    );
    const contributions = await db.prisma.contribution.findMany({ where: { roundId: "round_diff" } });
    expect(contributions.map((c) => [c.memberId, c.status, c.attemptsCount]).sort()).toEqual(
      round.contributions.map((c) => [c.memberId, c.status, c.attempts.length]).sort(),
    );

    // With outbox effects, audit lines and the completion of a claimed effect: still one
    // statement, and each part written.
    const timer = (id: string) => ({
      kind: "schedule_timer" as const,
      id,
      aggregate: "round" as const,
      aggregateId: "round_diff",
      at: T,
      timer: { kind: "collection_deadline" as const },
    });
    (await store.commit({ ...empty, outbox: [timer("round_diff:claimed")] }))._unsafeUnwrap();
    expect(
      (await store.claimDue("w_diff", T, 60_000, 100))._unsafeUnwrap().map((r) => r.effect.id),
    ).toContain("round_diff:claimed");
    const audit = { at: T, aggregate: "round" as const, aggregateId: "round_diff", actor: "test" };
    await commitFromStore(
      [{ type: "transfer_created", sourceMemberId: "ben", attempt: 1, transferId: "tr_diff_ben" }],
      {
        outbox: [timer("round_diff:next")],
        audit: [{ ...audit, action: "transfer_created", outcome: "applied" }],
        outboxDone: { effectId: "round_diff:claimed", workerId: "w_diff", at: T },
      },
    );
    expect(sent).toEqual(["susu_commit_round_outbox"]);
    const effects = await db.prisma.outboxEffect.findMany({
      where: { aggregateId: "round_diff" },
      orderBy: { id: "asc" },
    });
    expect(effects.map((e) => [e.id, e.status])).toEqual([
      ["round_diff:claimed", "done"],
      ["round_diff:next", "pending"],
    ]);
    expect(
      await db.prisma.$queryRawUnsafe<{ action: string }[]>(
        "SELECT action FROM audit_log WHERE aggregate_id = 'round_diff'",
      ),
    ).toEqual([{ action: "transfer_created" }]);
    const ben = await db.prisma.payoutTransfer.findFirstOrThrow({
      where: { roundId: "round_diff", sourceMemberId: "ben" },
    });
    expect(ben.stripeTransferId).toBe("tr_diff_ben");
    // Leave no due effect to the tests after.
    for (const r of (await store.claimDue("w_diff", T, 60_000, 100))._unsafeUnwrap())
      (await store.complete(r.effect.id, "w_diff", T))._unsafeUnwrap();
  });

  it("a round whose stored snapshot is not the one loaded at its version is a version conflict, nothing written", async () => {
    const opened = { ...aRoundOf(group, [], { id: "round_forked" }), sequence: 6 };
    (
      await store.commit({ ...empty, rounds: [{ state: opened, expectedVersion: undefined }] })
    )._unsafeUnwrap();
    const loaded = (await store.getRound("round_forked"))._unsafeUnwrap() as Round;
    // Another history at the same version (as a restore could leave): the rows stored are not the loaded state's.
    await db.prisma.$executeRaw`
      UPDATE rounds SET snapshot = jsonb_set(snapshot, '{transferGroup}', '"tg_other_history"')
       WHERE id = 'round_forked'`;
    const next = apply(loaded, [
      {
        type: "debit_succeeded",
        memberId: "ana",
        attempt: 1,
        paymentIntentId: "pi_forked",
        chargeId: "ch_forked",
      },
    ]);
    const result = await store.commit({
      ...empty,
      rounds: [{ state: next, expectedVersion: loaded.version }],
    });
    expect(result._unsafeUnwrapErr()).toMatchObject({ type: "version_conflict" });
    const row = await db.prisma.round.findUniqueOrThrow({ where: { id: "round_forked" } });
    expect(row.version).toBe(loaded.version);
    expect(
      (await db.prisma.contribution.findMany({ where: { roundId: "round_forked", status: "succeeded" } }))
        .length,
    ).toBe(0);
  });

  describe("refuses impossible states, storing nothing of the changeset", () => {
    // Each forged round gets its own sequence: (group_id, sequence) is unique too.
    let sequence = 10;
    const roundOf = (id: string): Round => ({ ...aRoundOf(group, [], { id }), sequence: sequence++ });

    async function refused(round: Round, sqlState: string): Promise<void> {
      const result = await store.commit({ ...empty, rounds: [{ state: round, expectedVersion: undefined }] });
      expect(result._unsafeUnwrapErr()).toMatchObject({ type: "storage_refused" });
      expect(result._unsafeUnwrapErr().message).toContain(`SQLSTATE ${sqlState}`);
      expect((await store.getRound(round.id))._unsafeUnwrap()).toBeUndefined();
    }

    it("a payout funded by a charge the round never collected", async () => {
      const round = roundOf("round_bad_payout");
      const forged: Round = {
        ...round,
        // ben, not ana: ana is being paid in this rotation already (a refusal of its own, below).
        recipientMemberId: "ben",
        status: "paying_out",
        payoutAttempt: 1,
        payouts: [
          {
            sourceMemberId: "ben",
            sourceChargeId: "ch_from_elsewhere",
            amountMinor: 100_00,
            attempt: 1,
            effectId: "round_bad_payout:transfer:ben:attempt:1",
            status: "requested",
          },
        ],
      };
      await refused(forged, "23503");
    });

    it("a contribution from someone who is not a member of the group", async () => {
      const round = roundOf("round_stranger");
      const first = round.contributions[0];
      if (first === undefined) throw new Error("a round has contributions");
      const forged: Round = {
        ...round,
        contributions: [...round.contributions, { ...first, memberId: "eve" }],
      };
      await refused(forged, "23503");
    });

    it("two debits with the same attempt number", async () => {
      const round = roundOf("round_twice");
      const forged: Round = {
        ...round,
        contributions: round.contributions.map((c) => ({ ...c, attempts: [...c.attempts, ...c.attempts] })),
      };
      // The attempts' key (round, member, attempt) admits one row: the upsert refuses
      // to touch it twice (cardinality_violation).
      await refused(forged, "21000");
    });

    it("a round of a group that is not stored", async () => {
      const stranger = anActiveGroup({ id: "grp_unknown" });
      await refused(aRoundOf(stranger, [], { id: "round_orphan" }), "23503");
    });

    it("a second round paying the same member in one rotation", async () => {
      // round_life (first test) is paying ana in rotation 1 already.
      const again: Round = { ...roundOf("round_pays_ana_twice"), status: "paying_out" };
      const result = await store.commit({ ...empty, rounds: [{ state: again, expectedVersion: undefined }] });
      expect(result._unsafeUnwrapErr()).toMatchObject({ type: "duplicate" });
      expect(result._unsafeUnwrapErr().message).toContain("rounds_one_payout_per_rotation_key");
      expect((await store.getRound(again.id))._unsafeUnwrap()).toBeUndefined();
    });

    it("a state that is not a valid aggregate (a fractional amount)", async () => {
      const round = { ...aRoundOf(group, [], { id: "round_fraction" }), contributionMinor: 10.5 };
      const result = await store.commit({ ...empty, rounds: [{ state: round, expectedVersion: undefined }] });
      expect(result._unsafeUnwrapErr()).toMatchObject({ type: "storage_refused" });
      expect(result._unsafeUnwrapErr().message).toContain("contributionMinor");
    });
  });

  it("reads group snapshots written before people: members' Stripe ids and readiness are ignored", async () => {
    const current = anActiveGroup({ id: "grp_legacy" });
    (
      await store.commit({ ...empty, groups: [{ state: current, expectedVersion: undefined }] })
    )._unsafeUnwrap();
    // What the snapshot of this group looked like before the people migration.
    const legacyMembers = current.members.map((m) => ({
      ...m,
      readiness: { mandateActive: true, payoutsEnabled: false },
      payment: { customerId: `cus_old_${m.id}`, mandateId: `mandate_old_${m.id}` },
    }));
    await db.prisma.$executeRaw`
      UPDATE groups SET snapshot = jsonb_set(snapshot, '{members}', ${JSON.stringify(legacyMembers)}::jsonb)
       WHERE id = 'grp_legacy'`;
    const loaded = (await store.getGroup("grp_legacy"))._unsafeUnwrap();
    expect(loaded).toEqual({ ...current, version: 0 });
    // Its next write stores the snapshot without them.
    (
      await store.commit({
        ...empty,
        groups: [{ state: { ...current, name: "Renamed" }, expectedVersion: 0 }],
      })
    )._unsafeUnwrap();
    const row = await db.prisma.group.findUniqueOrThrow({ where: { id: "grp_legacy" } });
    expect(JSON.stringify(row.snapshot)).not.toContain("cus_old_");
    // Unknown member fields other than those two are still refused (as from a newer susu:
    // storage_unavailable, retried rather than parked as corrupted; see rolling-deploy test).
    await db.prisma.$executeRaw`
      UPDATE groups SET snapshot = jsonb_set(snapshot, '{members,0,nickname}', '"x"') WHERE id = 'grp_legacy'`;
    const refused = (await store.getGroup("grp_legacy"))._unsafeUnwrapErr();
    expect(refused.type).toBe("storage_unavailable");
    expect(refused.message).toMatch(/does not know.*nickname/);
  });

  it("reports a corrupted snapshot as an error, never as a thrown exception", async () => {
    const other = anActiveGroup({ id: "grp_corrupt" });
    (
      await store.commit({ ...empty, groups: [{ state: other, expectedVersion: undefined }] })
    )._unsafeUnwrap();
    // A snapshot that still passes the row's CHECK (same id and version) but not the domain's type.
    await db.prisma.$executeRaw`
      UPDATE groups SET snapshot = jsonb_set(snapshot, '{contributionMinor}', '"lots"') WHERE id = 'grp_corrupt'`;
    const loaded = await store.getGroup("grp_corrupt");
    expect(loaded._unsafeUnwrapErr()).toMatchObject({ type: "storage_refused" });
    expect(loaded._unsafeUnwrapErr().message).toContain("contributionMinor");
  });

  it("loads a round stored before cancellationReason existed, with its blockedReason as that reason", async () => {
    const other = anActiveGroup({ id: "grp_legacy_round" });
    (
      await store.commit({ ...empty, groups: [{ state: other, expectedVersion: undefined }] })
    )._unsafeUnwrap();
    const refunding = aRoundOf(other, [{ type: "cancel", reason: "called off" }], { id: "round_legacy" });
    (
      await store.commit({ ...empty, rounds: [{ state: refunding, expectedVersion: undefined }] })
    )._unsafeUnwrap();
    // As an older release stored it: the reason for cancelling in blockedReason.
    await db.prisma.$executeRaw`
      UPDATE rounds
      SET snapshot = (snapshot - 'cancellationReason')
            || jsonb_build_object('blockedReason', snapshot->'cancellationReason'),
          blocked_reason = snapshot->>'cancellationReason'
      WHERE id = 'round_legacy'`;
    const loaded = (await store.getRound("round_legacy"))._unsafeUnwrap();
    expect(loaded).toMatchObject({ status: "refunding", cancellationReason: "called off" });
    expect(loaded).not.toHaveProperty("blockedReason");
  });

  it("parks an outbox row whose payload is not an effect, and hands out the others", async () => {
    const timer = {
      kind: "schedule_timer" as const,
      id: "good",
      aggregate: "round" as const,
      aggregateId: "round_life",
      at: T,
      timer: { kind: "collection_deadline" as const },
    };
    (await store.commit({ ...empty, outbox: [timer] }))._unsafeUnwrap();
    await db.prisma.$executeRaw`
      INSERT INTO outbox_effects (id, aggregate_type, aggregate_id, kind, payload, available_at, created_at)
      VALUES ('bad', 'round', 'round_life', 'notify', '{"id": "bad", "kind": "notify"}', to_timestamp(0), now())`;
    const claimed = (await store.claimDue("w1", T, 60_000, 10))._unsafeUnwrap();
    expect(claimed.map((r) => r.effect)).toEqual([timer]);
    const bad = await db.prisma.outboxEffect.findUniqueOrThrow({ where: { id: "bad" } });
    expect(bad).toMatchObject({ status: "parked", attempts: 1, claimedBy: null });
    expect(bad.lastError).toContain("malformed payload");
  });

  it("finds due groups through the partial index groups_due_for_round_idx", async () => {
    const plan = await db.prisma.$transaction(async (tx) => {
      // With a handful of rows a sequential scan is cheapest; forbid it to see whether
      // the index can serve the query at all.
      await tx.$executeRaw`SET LOCAL enable_seqscan = off`;
      return tx.$queryRaw<{ "QUERY PLAN": string }[]>(Prisma.sql`EXPLAIN ${dueGroupsQuery(T, 10)}`);
    });
    expect(plan.map((line) => line["QUERY PLAN"]).join("\n")).toContain("groups_due_for_round_idx");
  });

  it("pages due groups after a cursor in the index's order: the cursor is an index condition, nothing is sorted", async () => {
    const plan = await db.prisma.$transaction(async (tx) => {
      await tx.$executeRaw`SET LOCAL enable_seqscan = off`;
      return tx.$queryRaw<{ "QUERY PLAN": string }[]>(
        Prisma.sql`EXPLAIN ${dueGroupsQuery(T, 10, { nextRoundAt: T - 60_000, groupId: "grp_m" })}`,
      );
    });
    const text = plan.map((line) => line["QUERY PLAN"]).join("\n");
    expect(text).toContain("Index Scan using groups_due_for_round_idx");
    // The row comparison bounds the scan (Index Cond), so a page starts at the cursor
    // instead of reading and filtering every group due before it (or sharing its instant).
    expect(text).toMatch(/Index Cond: .*ROW\(next_round_at, id\) > ROW\(/);
    expect(text).not.toMatch(/Sort/);
  });
});
