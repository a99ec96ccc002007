// A round's id is derived from the group's state when it opens, so the same round opened
// twice — once before a database was lost, once again by the scheduler on the restored
// backup — is the same round, with the same debit keys at Stripe. A round opened after a
// cancelled one is a different round, with keys of its own.
import { describe, expect, it } from "vitest";
import { roundIds } from "../round/round-ids.js";
import { DAY_MS } from "../shared/time.js";
import { InMemorySusu } from "../testing/in-memory-susu.js";
import * as useCases from "./index.js";

const members = ["ana", "ben", "cy"];

/** A susu whose group (three ready members, weekly) is due its first round. */
async function dueGroup(): Promise<{ sim: InMemorySusu; groupId: string }> {
  const sim = new InMemorySusu();
  const created = await useCases.createGroup(sim.deps, {
    name: "Family savings",
    currency: "AUD",
    contributionMinor: 50_00,
    cadence: "weekly",
    startsAt: sim.clock.now() + DAY_MS,
    payoutOrderMethod: "join_order",
    creator: { id: "ana", displayName: "ana" },
  });
  const groupId = created._unsafeUnwrap().id;
  for (const n of members.slice(1))
    (await useCases.joinGroup(sim.deps, groupId, { id: n, displayName: n }))._unsafeUnwrap();
  for (const n of members) (await sim.onboardMember(groupId, n))._unsafeUnwrap();
  (await useCases.activateGroup(sim.deps, groupId, "ana"))._unsafeUnwrap();
  await sim.advance(7 * DAY_MS);
  return { sim, groupId };
}

/** The ids of the debit effects waiting in a susu's outbox (each one a Stripe Idempotency-Key). */
async function pendingDebitKeys(sim: InMemorySusu): Promise<string[]> {
  const { items } = (await sim.store.listOutbox({ status: "pending", limit: 500 }))._unsafeUnwrap();
  return items
    .filter((e) => e.kind === "collect_contribution")
    .map((e) => e.id)
    .sort();
}

/** The Idempotency-Keys the (fake) Stripe has made debits under. */
function keysAtStripe(sim: InMemorySusu): string[] {
  return [...sim.gateway.debits.values()].map((d) => d.idempotencyKey ?? "").sort();
}

describe("a round's id is derived from its group, rotation and sequence", () => {
  it("the same group state opens the same round, whose debits carry the same keys", async () => {
    // Two databases holding the same group (the one that was lost, and its restored backup)
    // that have otherwise drawn different numbers of ids: the round does not depend on them.
    const first = await dueGroup();
    const second = await dueGroup();
    second.sim.ids.newId("round");
    second.sim.ids.newId("round");
    expect(second.groupId).toBe(first.groupId);

    const a = (await useCases.startRound(first.sim.deps, first.groupId, "scheduler"))._unsafeUnwrap().state;
    const b = (await useCases.startRound(second.sim.deps, second.groupId, "scheduler"))._unsafeUnwrap().state;
    expect(a.id).toBe(roundIds.round(first.groupId, 1, 0));
    expect(b.id).toBe(a.id);
    expect(b.transferGroup).toBe(a.transferGroup);
    expect(await pendingDebitKeys(second.sim)).toEqual(await pendingDebitKeys(first.sim));
    expect(await pendingDebitKeys(first.sim)).toEqual(members.map((m) => roundIds.debit(a.id, m, 1)));
    expect((await first.sim.store.getGroup(first.groupId))._unsafeUnwrap()?.currentRoundId).toBe(a.id);

    // Opening it again while it runs is refused, and stores nothing.
    const again = await useCases.startRound(first.sim.deps, first.groupId, "scheduler");
    expect(again._unsafeUnwrapErr().code).toBe("round_in_progress");
    expect((await first.sim.store.listRoundsOfGroup(first.groupId))._unsafeUnwrap()).toHaveLength(1);
  });

  it("the round opened after a cancelled one (same recipient, same rotation) gets a new id and new keys", async () => {
    const { sim, groupId } = await dueGroup();
    sim.gateway.setDebitOutcomes("cy", [{ fail: "insufficient_funds" }]);
    const cancelled = (await useCases.startRound(sim.deps, groupId, "scheduler"))._unsafeUnwrap().state;
    await sim.advance(20 * DAY_MS);
    expect((await sim.store.getRound(cancelled.id))._unsafeUnwrap()?.status).toBe("cancelled");
    const keysBefore = keysAtStripe(sim);

    sim.gateway.setDebitOutcomes("cy", []);
    const next = (await useCases.startRound(sim.deps, groupId, "scheduler"))._unsafeUnwrap().state;
    expect(next.recipientMemberId).toBe(cancelled.recipientMemberId);
    expect(next.rotation).toBe(cancelled.rotation);
    expect(next.sequence).toBe(cancelled.sequence + 1);
    expect(next.id).toBe(roundIds.round(groupId, 1, 1));
    expect(next.id).not.toBe(cancelled.id);
    await sim.advance(4 * DAY_MS);
    const newKeys = keysAtStripe(sim).filter((key) => !keysBefore.includes(key));
    expect(newKeys).toEqual(members.map((m) => roundIds.debit(next.id, m, 1)));
    expect((await sim.store.getRound(next.id))._unsafeUnwrap()?.status).toBe("paid_out");
    expect((await sim.store.getRound(cancelled.id))._unsafeUnwrap()?.status).toBe("cancelled");
    const rounds = (await sim.store.listRoundsOfGroup(groupId))._unsafeUnwrap();
    expect(rounds.map((r) => r.id)).toEqual([cancelled.id, next.id]);
  });
});
