import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DAY_MS } from "../shared/time.js";
import { roundOpensAt } from "./cadence.js";
import {
  acceptSwap,
  activateGroup,
  closeGroup,
  contributingMembers,
  createGroup,
  drawGroupPayoutOrder,
  type Group,
  isFinal,
  joinGroup,
  leaveGroup,
  MEMBERS_MIN,
  markRoundEnded,
  markRoundOpened,
  membersNotReady,
  nextRecipient,
  pauseGroupByAdmin,
  proposeSwap,
  reassignPosition,
  resumeGroup,
  setFixedPayoutOrder,
} from "./group.js";
import { drawPayoutOrder, type PayoutOrderMethod } from "./payout-order.js";

const T0 = Date.UTC(2026, 0, 31, 9, 0);

/** Everyone has an active mandate and a payout account that can receive. */
const allReady = () => ({ mandateActive: true, payoutsEnabled: true });

function forming(members = ["b", "c"], method: PayoutOrderMethod = "join_order"): Group {
  let g = createGroup({
    id: "g1",
    name: " Savers ",
    currency: "AUD",
    contributionMinor: 100_00,
    cadence: "monthly",
    startsAt: T0,
    payoutOrderMethod: method,
    creator: { id: "a", displayName: "Ana" },
    createdAt: T0 - DAY_MS,
  })._unsafeUnwrap();
  for (const m of members) g = joinGroup(g, { id: m, displayName: m, joinedAt: T0 - DAY_MS })._unsafeUnwrap();
  return g;
}

describe("group set-up", () => {
  it("the creator is the admin; join order is the default order", () => {
    const g = forming();
    expect(g.name).toBe("Savers");
    expect(g.members[0]).toMatchObject({ id: "a", role: "admin", status: "active" });
    expect(g.payoutOrder.memberIds).toEqual(["a", "b", "c"]);
  });

  it("refuses bad groups and duplicate members", () => {
    const base = {
      id: "g",
      name: "x",
      currency: "AUD" as const,
      contributionMinor: 100,
      cadence: "weekly" as const,
      startsAt: T0,
      payoutOrderMethod: "join_order" as const,
      creator: { id: "a", displayName: "a" },
      createdAt: T0,
    };
    expect(createGroup({ ...base, name: "  " })._unsafeUnwrapErr().code).toBe("invalid_group");
    expect(createGroup({ ...base, contributionMinor: 0 })._unsafeUnwrapErr().code).toBe("invalid_group");
    expect(createGroup({ ...base, contributionMinor: 1.5 })._unsafeUnwrapErr().code).toBe("invalid_group");
    expect(joinGroup(forming(), { id: "b", displayName: "b", joinedAt: T0 })._unsafeUnwrapErr().code).toBe(
      "member_exists",
    );
  });

  it("refuses a currency no supported debit method collects (BECS debits AUD only)", () => {
    const base = {
      id: "g",
      name: "x",
      contributionMinor: 100_00,
      cadence: "weekly" as const,
      startsAt: T0,
      payoutOrderMethod: "join_order" as const,
      creator: { id: "a", displayName: "a" },
      createdAt: T0,
    };
    for (const currency of ["USD", "EUR", "NZD", "JPY"] as const) {
      const refused = createGroup({ ...base, currency })._unsafeUnwrapErr();
      expect(refused.code).toBe("currency_not_supported");
      expect(refused.message).toContain(currency);
      expect(refused.message).toContain("AUD");
    }
    expect(createGroup({ ...base, currency: "AUD" }).isOk()).toBe(true);
  });

  it("an admin sets a fixed order that must list every member once", () => {
    const g = forming();
    expect(setFixedPayoutOrder(g, "a", ["c", "a", "b"])._unsafeUnwrap().payoutOrder).toEqual({
      method: "fixed",
      memberIds: ["c", "a", "b"],
    });
    expect(setFixedPayoutOrder(g, "a", ["c", "a"])._unsafeUnwrapErr().code).toBe("invalid_payout_order");
    expect(setFixedPayoutOrder(g, "a", ["c", "a", "a"])._unsafeUnwrapErr().code).toBe("invalid_payout_order");
    expect(setFixedPayoutOrder(g, "b", ["c", "a", "b"])._unsafeUnwrapErr().code).toBe("not_admin");
  });

  it("a seeded draw is recorded and anyone can re-derive it", () => {
    const g = drawGroupPayoutOrder(forming(["b", "c", "d", "e"]), "a", "public-seed-2026")._unsafeUnwrap();
    expect(g.payoutOrder.seed).toBe("public-seed-2026");
    expect(drawPayoutOrder(["e", "d", "c", "b", "a"], "public-seed-2026")).toEqual(g.payoutOrder.memberIds);
    expect(activateGroup(forming([], "seeded_draw"), "a", allReady)._unsafeUnwrapErr().code).toBe(
      "too_few_members",
    );
  });

  it("draws are permutations, and depend on the seed (property)", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 30 }),
        fc.string({ minLength: 8 }),
        (ids, seed) => {
          const order = drawPayoutOrder(ids, seed);
          expect([...order].sort()).toEqual([...ids].sort());
          expect(drawPayoutOrder([...ids].reverse(), seed)).toEqual(order);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("a group needs a drawn order before a seeded-draw group starts", () => {
    expect(activateGroup(forming(["b"], "seeded_draw"), "a", allReady)._unsafeUnwrapErr().code).toBe(
      "invalid_payout_order",
    );
  });
});

describe("readiness: nobody starts a rotation who cannot pay or be paid", () => {
  const readiness: Record<string, { mandateActive: boolean; payoutsEnabled: boolean }> = {
    a: { mandateActive: true, payoutsEnabled: true },
    b: { mandateActive: false, payoutsEnabled: true },
    c: { mandateActive: false, payoutsEnabled: false },
  };
  const readinessOf = (id: string) => readiness[id] ?? { mandateActive: false, payoutsEnabled: false };

  it("activation names every member who is not ready and what each lacks", () => {
    const refused = activateGroup(forming(), "a", readinessOf)._unsafeUnwrapErr();
    expect(refused.code).toBe("members_not_ready");
    if (refused.type !== "members_not_ready") throw new Error("wrong error");
    expect(refused.notReady).toEqual([
      { memberId: "b", lacks: ["mandate"] },
      { memberId: "c", lacks: ["mandate", "payout_account"] },
    ]);
    expect(refused.message).toBe(
      "not every member is ready for money to move: b needs an active debit mandate; " +
        "c needs an active debit mandate and a payout account that can receive",
    );
  });

  it("structural refusals come first: an admin, a forming group, enough members", () => {
    expect(activateGroup(forming(), "b", readinessOf)._unsafeUnwrapErr().code).toBe("not_admin");
    expect(activateGroup(forming([]), "a", readinessOf)._unsafeUnwrapErr().code).toBe("too_few_members");
  });

  it("a member already paid this rotation needs a mandate but no payout account until the next one", () => {
    let g = activateGroup(forming(), "a", allReady)._unsafeUnwrap();
    g = markRoundEnded(markRoundOpened(g, "r0")._unsafeUnwrap(), "r0", { paidTo: "a" })._unsafeUnwrap();
    const aCannotReceive = (id: string) => ({ mandateActive: true, payoutsEnabled: id !== "a" });
    expect(membersNotReady(g, aCannotReceive)).toEqual([]);
    expect(membersNotReady(g, (id) => ({ mandateActive: id !== "a", payoutsEnabled: true }))).toEqual([
      { memberId: "a", lacks: ["mandate"] },
    ]);
  });

  it("members who joined mid-rotation are not in it and are not checked", () => {
    let g = activateGroup(forming(), "a", allReady)._unsafeUnwrap();
    g = joinGroup(g, { id: "d", displayName: "d", joinedAt: T0 })._unsafeUnwrap();
    expect(membersNotReady(g, (id) => ({ mandateActive: id !== "d", payoutsEnabled: id !== "d" }))).toEqual(
      [],
    );
  });
});

describe("rotation rules", () => {
  const active = () => activateGroup(forming(), "a", allReady)._unsafeUnwrap();

  it("everyone receives exactly once per rotation; then the next rotation starts", () => {
    let g = { ...active(), rotationsPlanned: 2 };
    const received: string[] = [];
    for (let i = 0; i < 6; i++) {
      const recipient = nextRecipient(g) ?? "";
      received.push(recipient);
      g = markRoundOpened(g, `r${i}`)._unsafeUnwrap();
      g = markRoundEnded(g, `r${i}`, { paidTo: recipient })._unsafeUnwrap();
    }
    expect(received).toEqual(["a", "b", "c", "a", "b", "c"]);
    expect(g.status).toBe("completed");
  });

  it("a cancelled round leaves the same recipient due next", () => {
    let g = markRoundOpened(active(), "r0")._unsafeUnwrap();
    g = markRoundEnded(g, "r0", { cancelled: true })._unsafeUnwrap();
    expect(nextRecipient(g)).toBe("a");
    expect(markRoundEnded(g, "r0", { cancelled: true })._unsafeUnwrap()).toBe(g);
  });

  it("one round at a time", () => {
    const g = markRoundOpened(active(), "r0")._unsafeUnwrap();
    expect(markRoundOpened(g, "r1")._unsafeUnwrapErr().code).toBe("round_in_progress");
  });

  it("a member joining mid-rotation waits for the next rotation", () => {
    let g = { ...active(), rotationsPlanned: 2 };
    g = joinGroup(g, { id: "d", displayName: "d", joinedAt: T0 })._unsafeUnwrap();
    expect(g.members.find((m) => m.id === "d")?.status).toBe("pending");
    expect(g.payoutOrder.memberIds).toEqual(["a", "b", "c"]);
    for (const [i, m] of ["a", "b", "c"].entries())
      g = markRoundEnded(markRoundOpened(g, `r${i}`)._unsafeUnwrap(), `r${i}`, { paidTo: m })._unsafeUnwrap();
    expect(g.rotation.number).toBe(2);
    expect(g.payoutOrder.memberIds).toEqual(["a", "b", "c", "d"]);
  });

  it("a member who already received cannot leave before the rotation ends; the current recipient cannot leave", () => {
    let g = markRoundOpened(active(), "r0")._unsafeUnwrap();
    g = markRoundEnded(g, "r0", { paidTo: "a" })._unsafeUnwrap();
    expect(leaveGroup(g, "a")._unsafeUnwrapErr().code).toBe("member_owes_contributions");
    g = markRoundOpened(g, "r1")._unsafeUnwrap();
    expect(leaveGroup(g, "b", "b")._unsafeUnwrapErr().code).toBe("member_is_current_recipient");
    // c paid into r0 and r1 and has not had the pot: c stays until paid (this test let c
    // leave, out of the order and unpaid, until member_awaiting_payout).
    expect(leaveGroup(g, "c", "b")._unsafeUnwrapErr().code).toBe("member_awaiting_payout");
  });

  it("a member who paid into this rotation and is still due the pot cannot leave (member_awaiting_payout); nothing changes", () => {
    const three = { ...active(), rotationsPlanned: 2 };
    // A round in progress: every member in the rotation is being debited for it.
    const during = markRoundOpened(three, "r0")._unsafeUnwrap();
    const refused = leaveGroup(during, "c", "a")._unsafeUnwrapErr();
    expect(refused.code).toBe("member_awaiting_payout");
    expect(refused.message).toMatch(/paid into this rotation/);
    // Between rounds after a payout: b and c each paid into r0, neither has had the pot.
    const after = markRoundEnded(during, "r0", { paidTo: "a" })._unsafeUnwrap();
    expect(leaveGroup(after, "b")._unsafeUnwrapErr().code).toBe("member_awaiting_payout");
    expect(leaveGroup(after, "c")._unsafeUnwrapErr().code).toBe("member_awaiting_payout");
    // The last one still due, too: c paid into r0 and r1 and is owed r2's pot.
    const twoPaid = markRoundEnded(markRoundOpened(after, "r1")._unsafeUnwrap(), "r1", {
      paidTo: "b",
    })._unsafeUnwrap();
    expect(leaveGroup(twoPaid, "c")._unsafeUnwrapErr().code).toBe("member_awaiting_payout");
    // A paused group keeps the rule: the money is in the group either way.
    const paused = pauseGroupByAdmin(after, "a", "holiday", T0)._unsafeUnwrap();
    expect(leaveGroup(paused, "c")._unsafeUnwrapErr().code).toBe("member_awaiting_payout");
  });

  it("leaving stays open where none of the member's money is in play", () => {
    // Forming: nothing collected.
    expect(
      leaveGroup(forming(), "c")
        ._unsafeUnwrap()
        .members.find((m) => m.id === "c")?.status,
    ).toBe("left");
    // Started, no round opened yet in this rotation.
    const fresh = leaveGroup({ ...active(), rotationsPlanned: 2 }, "c")._unsafeUnwrap();
    expect(fresh.members.find((m) => m.id === "c")?.status).toBe("left");
    expect(fresh.payoutOrder.memberIds).toEqual(["a", "b"]);
    // Only cancelled rounds so far: their debits were refunded, nobody has paid in.
    let cancelled = markRoundOpened({ ...active(), rotationsPlanned: 2 }, "r0")._unsafeUnwrap();
    cancelled = markRoundEnded(cancelled, "r0", { cancelled: true })._unsafeUnwrap();
    expect(leaveGroup(cancelled, "c").isOk()).toBe(true);
    // A whole rotation paid: everyone got back what they paid in; the next has not begun.
    let g = { ...active(), rotationsPlanned: 2 };
    g = joinGroup(g, { id: "d", displayName: "d", joinedAt: T0 })._unsafeUnwrap();
    for (const [i, m] of ["a", "b", "c"].entries())
      g = markRoundEnded(markRoundOpened(g, `r${i}`)._unsafeUnwrap(), `r${i}`, { paidTo: m })._unsafeUnwrap();
    expect(g.rotation).toMatchObject({ number: 2, receivedMemberIds: [] });
    expect(leaveGroup(g, "c").isOk()).toBe(true);
    // A member who joined mid-rotation (pending) pays nothing until the next one.
    let mid = markRoundEnded(markRoundOpened(active(), "r0")._unsafeUnwrap(), "r0", {
      paidTo: "a",
    })._unsafeUnwrap();
    mid = joinGroup(mid, { id: "d", displayName: "d", joinedAt: T0 })._unsafeUnwrap();
    expect(
      leaveGroup(mid, "d")
        ._unsafeUnwrap()
        .members.find((m) => m.id === "d")?.status,
    ).toBe("left");
  });

  it("a member an older version stored as leaving stays leaving when asked again, and leaves when the round ends", () => {
    // Older versions let a member due the pot leave during a round (`leaving`); such stored
    // groups still end that way. (Asked again is a retried DELETE: nothing changes.)
    let g = markRoundOpened(active(), "r0")._unsafeUnwrap();
    g = {
      ...g,
      members: g.members.map((m) => (m.id === "c" ? { ...m, status: "leaving" as const } : m)),
      payoutOrder: { ...g.payoutOrder, memberIds: ["a", "b"] },
    };
    const again = leaveGroup(g, "c", "a")._unsafeUnwrap();
    expect(again).toBe(g);
    expect(contributingMembers(again).map((m) => m.id)).toEqual(["a", "b", "c"]);
    const ended = markRoundEnded(again, "r0", { paidTo: "a" })._unsafeUnwrap();
    expect(ended.members.find((m) => m.id === "c")?.status).toBe("left");
  });

  it("a group fewer than two members would take part in completes, whether a leave or a round's end leaves it so", () => {
    // Three members, nobody paid yet: two leave between rounds.
    let three = { ...active(), rotationsPlanned: 2 };
    three = leaveGroup(three, "b")._unsafeUnwrap();
    expect(three.status).toBe("active");
    expect(leaveGroup(three, "c")._unsafeUnwrap().status).toBe("completed");
    // Two that an older version let leave during a round (stored `leaving`): it runs to its
    // end with them, then the group completes.
    let during = markRoundOpened({ ...active(), rotationsPlanned: 2 }, "r0")._unsafeUnwrap();
    during = {
      ...during,
      members: during.members.map((m) => (m.id === "a" ? m : { ...m, status: "leaving" as const })),
      payoutOrder: { ...during.payoutOrder, memberIds: ["a"] },
    };
    expect(during.status).toBe("active");
    const ended = markRoundEnded(during, "r0", { paidTo: "a" })._unsafeUnwrap();
    expect(ended.status).toBe("completed");
    expect(ended.members.map((m) => m.status)).toEqual(["active", "left", "left"]);
  });

  it("property: a started group between rounds always has someone due the pot, unless it has ended; it closes only when nobody's money is in it", () => {
    type Step =
      | { readonly kind: "round"; readonly cancelled: boolean }
      | { readonly kind: "leave"; readonly who: number; readonly duringRound: boolean }
      | { readonly kind: "join" }
      | { readonly kind: "pause" }
      | { readonly kind: "resume" }
      | { readonly kind: "swap"; readonly a: number; readonly b: number; readonly duringRound: boolean }
      | { readonly kind: "reassign"; readonly to: number }
      | { readonly kind: "close" };
    const step = fc.oneof(
      fc.record({ kind: fc.constant("round" as const), cancelled: fc.boolean() }),
      fc.record({ kind: fc.constant("leave" as const), who: fc.nat(9), duringRound: fc.boolean() }),
      fc.record({ kind: fc.constant("join" as const) }),
      fc.record({ kind: fc.constant("pause" as const) }),
      fc.record({ kind: fc.constant("resume" as const) }),
      fc.record({
        kind: fc.constant("swap" as const),
        a: fc.nat(9),
        b: fc.nat(9),
        duringRound: fc.boolean(),
      }),
      fc.record({ kind: fc.constant("reassign" as const), to: fc.nat(9) }),
      fc.record({ kind: fc.constant("close" as const) }),
    );
    type How = "join_order" | "reverse_join_order" | "seeded_draw" | "fixed";
    const method = fc.constantFrom<How>("join_order", "reverse_join_order", "seeded_draw", "fixed");
    const started = (how: How, planned: number, size: number, shuffle: readonly number[]): Group => {
      let g = forming(["b", "c", "d"].slice(0, size - 1), how === "reverse_join_order" ? how : "join_order");
      if (how === "seeded_draw") g = drawGroupPayoutOrder(g, "a", "property-seed")._unsafeUnwrap();
      if (how === "fixed") {
        // The admin's own order: the members sorted by drawn keys.
        const ids = g.members.map((m) => m.id);
        const order = ids
          .map((id, i) => ({ id, key: shuffle[i] ?? 0 }))
          .sort((x, y) => x.key - y.key)
          .map((x) => x.id);
        g = setFixedPayoutOrder(g, "a", order)._unsafeUnwrap();
      }
      return { ...activateGroup(g, "a", allReady)._unsafeUnwrap(), rotationsPlanned: planned };
    };
    fc.assert(
      fc.property(
        method,
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 2, max: 4 }),
        fc.array(fc.nat(100), { minLength: 4, maxLength: 4 }),
        fc.array(step, { maxLength: 40 }),
        (how, planned, size, shuffle, steps: Step[]) => {
          let g = started(how, planned, size, shuffle);
          let rounds = 0;
          let joined = 0;
          // Kept here, apart from the group's own record: who was paid in which rotation, and
          // who was in each rotation's order when it began.
          const paid = new Map<number, string[]>();
          let rotation = g.rotation.number;
          let orderAtStart = [...g.payoutOrder.memberIds];
          // Each member's money, in contributions: -1 for each paid-out round they paid into,
          // + the pot (one per contributor) for each they received. Cancelled rounds refund.
          const balance = new Map<string, number>();
          const book = (id: string, n: number) => balance.set(id, (balance.get(id) ?? 0) + n);
          for (const s of steps) {
            if (isFinal(g)) break;
            const roundId = `r${rounds++}`;
            const recipient = nextRecipient(g);
            if (recipient === undefined) break; // checked below
            const ids = g.members.map((m) => m.id);
            const pick = (n: number) => ids[n % ids.length] as string;
            const who = pick(s.kind === "leave" ? s.who : 0);
            let paidTo: string | undefined;
            if (s.kind === "join") {
              const joinedNow = joinGroup(g, { id: `n${joined++}`, displayName: "n", joinedAt: T0 });
              if (joinedNow.isOk()) g = joinedNow.value;
            } else if (s.kind === "pause") {
              // An admin's pause (refused once every admin has left).
              const paused = pauseGroupByAdmin(g, "a", "holiday", T0);
              if (paused.isOk()) g = paused.value;
            } else if (s.kind === "resume") {
              const resumed = resumeGroup(g);
              if (resumed.isOk()) g = resumed.value;
            } else if (s.kind === "close") {
              // A platform operator closes between rounds (an operator: the admin may have
              // left). It goes through exactly when every member has had back what they
              // paid in; otherwise it is refused and changes nothing.
              const owed = g.members.filter((m) => (balance.get(m.id) ?? 0) !== 0).map((m) => m.id);
              const closed = closeGroup(g, { operator: "ops" }, "wound up", T0);
              if (owed.length === 0) g = closed._unsafeUnwrap();
              else expect(closed._unsafeUnwrapErr().code).toBe("rotation_in_progress");
              if (isFinal(g)) break;
            } else if (s.kind === "leave" && !s.duringRound) {
              const left = leaveGroup(g, who);
              if (left.isOk()) g = left.value;
            } else if (s.kind === "swap" && !s.duringRound) {
              const proposed = proposeSwap(g, pick(s.a), pick(s.b), T0);
              const accepted = proposed.andThen((p) => acceptSwap(p, pick(s.b), pick(s.a)));
              if (accepted.isOk()) g = accepted.value;
            } else if (g.status === "active") {
              // Rounds open only in an active group, as the scheduler opens them.
              g = markRoundOpened(g, roundId)._unsafeUnwrap();
              const payers = contributingMembers(g).map((m) => m.id);
              let to = recipient;
              if (s.kind === "leave") {
                const left = leaveGroup(g, who, recipient);
                if (left.isOk()) g = left.value;
              } else if (s.kind === "swap") {
                // The round's recipient may not swap until paid; two others may.
                const proposed = proposeSwap(g, pick(s.a), pick(s.b), T0);
                const accepted = proposed.andThen((p) => acceptSwap(p, pick(s.b), pick(s.a), recipient));
                if (accepted.isOk()) g = accepted.value;
              } else if (s.kind === "reassign") {
                // An admin gives the round's payout to another member still due.
                const moved = reassignPosition(g, recipient, pick(s.to));
                if (moved.isOk()) {
                  g = moved.value;
                  to = pick(s.to);
                }
              }
              const cancelled = s.kind === "round" && s.cancelled;
              g = markRoundEnded(
                g,
                roundId,
                cancelled ? { cancelled: true } : { paidTo: to },
              )._unsafeUnwrap();
              if (!cancelled) {
                paidTo = to;
                for (const id of payers) book(id, -1);
                book(to, payers.length);
              }
            }
            // Nobody leaves with money in the group: what they paid in came back to them.
            for (const m of g.members)
              if (m.status === "left") expect([m.id, balance.get(m.id) ?? 0]).toEqual([m.id, 0]);
            if (paidTo !== undefined) paid.set(rotation, [...(paid.get(rotation) ?? []), paidTo]);
            // Nobody receives twice in a rotation, and only members in its order receive.
            const paidNow = paid.get(rotation) ?? [];
            expect(new Set(paidNow).size).toBe(paidNow.length);
            expect(new Set(g.rotation.receivedMemberIds).size).toBe(g.rotation.receivedMemberIds.length);
            if (g.rotation.number !== rotation) {
              // A rotation closed: everyone in its order who is still a member was paid in it.
              const stayed = orderAtStart.filter(
                (id) => g.members.find((m) => m.id === id)?.status === "active",
              );
              for (const id of stayed) expect(paid.get(rotation) ?? []).toContain(id);
              rotation = g.rotation.number;
              orderAtStart = [...g.payoutOrder.memberIds];
            }
            if (!isFinal(g)) {
              for (const id of g.rotation.receivedMemberIds) expect(g.payoutOrder.memberIds).toContain(id);
              expect(g.rotation.receivedMemberIds).toEqual(paid.get(g.rotation.number) ?? []);
              // Someone is due, and a round can open: it needs two contributors.
              expect(nextRecipient(g)).toBeDefined();
              expect(contributingMembers(g).length).toBeGreaterThanOrEqual(MEMBERS_MIN);
            }
          }
          // A group that ended (completed, or closed) owes nobody anything and holds nobody's money.
          if (isFinal(g))
            for (const m of g.members) expect([m.id, balance.get(m.id) ?? 0]).toEqual([m.id, 0]);
        },
      ),
      { numRuns: 400 },
    );
  });

  it("two consenting members swap positions; a paid member cannot swap", () => {
    let g = active();
    g = proposeSwap(g, "b", "c", T0)._unsafeUnwrap();
    expect(acceptSwap(g, "b", "c")._unsafeUnwrapErr().code).toBe("swap_not_found");
    g = acceptSwap(g, "c", "b")._unsafeUnwrap();
    expect(g.payoutOrder.memberIds).toEqual(["a", "c", "b"]);
    expect(g.pendingSwaps).toEqual([]);
    g = markRoundEnded(markRoundOpened(g, "r0")._unsafeUnwrap(), "r0", { paidTo: "a" })._unsafeUnwrap();
    expect(proposeSwap(g, "a", "b", T0)._unsafeUnwrapErr().code).toBe("swap_not_allowed");
    expect(proposeSwap(g, "b", "b", T0)._unsafeUnwrapErr().code).toBe("swap_not_allowed");
  });
});

describe("cadence", () => {
  it("weekly and fortnightly add whole weeks", () => {
    expect(roundOpensAt(T0, "weekly", 2) - T0).toBe(14 * DAY_MS);
    expect(roundOpensAt(T0, "fortnightly", 1) - T0).toBe(14 * DAY_MS);
  });
  it("monthly keeps the day of month, clamped to the month's end", () => {
    expect(new Date(roundOpensAt(T0, "monthly", 1)).toISOString()).toBe("2026-02-28T09:00:00.000Z");
    expect(new Date(roundOpensAt(T0, "monthly", 2)).toISOString()).toBe("2026-03-31T09:00:00.000Z");
    expect(new Date(roundOpensAt(T0, "monthly", 13)).toISOString()).toBe("2027-02-28T09:00:00.000Z");
  });
});
