// A throw while the dispatcher records an effect's result (a bug in a use case or a store:
// a rejection, not an err result — here the commit of a debit's answer): the pass still
// rejects, but the run is recorded as a failed attempt (`effect_crashed`) at once, told to
// `onSettled` (so it is counted), and its claim given back on its backoff — not left claimed
// until the next pass of a loop that kept it (`DispatchOptions.crashed`), or, for a caller
// that keeps nothing, until its lease ends, uncounted.
import { describe, expect, it } from "vitest";
import type { Changeset } from "../ports/storage.js";
import { DAY_MS } from "../shared/time.js";
import { InMemorySusu } from "../testing/in-memory-susu.js";
import type { UseCaseDeps } from "./deps.js";
import { dispatchOutbox, type SettledEffect } from "./dispatch-outbox.js";
import { activateGroup, createGroup, joinGroup } from "./group-use-cases.js";
import { startRound } from "./round-use-cases.js";

/** A group of one round open, its debits due; the commit carrying `poisoned`'s result throws. */
async function openRound() {
  const sim = new InMemorySusu();
  const created = await createGroup(sim.deps, {
    name: "Family savings",
    currency: "AUD",
    contributionMinor: 50_00,
    cadence: "weekly",
    startsAt: sim.clock.now() + DAY_MS,
    payoutOrderMethod: "join_order",
    creator: { id: "ana", displayName: "Ana" },
  });
  const groupId = created._unsafeUnwrap().id;
  (await joinGroup(sim.deps, groupId, { id: "ben", displayName: "Ben" }))._unsafeUnwrap();
  for (const n of ["ana", "ben"]) (await sim.onboardMember(groupId, n))._unsafeUnwrap();
  (await activateGroup(sim.deps, groupId, "ana"))._unsafeUnwrap();
  sim.clock.advance(DAY_MS);
  const round = (await startRound(sim.deps, groupId, { memberId: "ana" }))._unsafeUnwrap().state;
  const poisoned = round.contributions[0]?.attempts[0]?.effectId ?? "";
  const deps: UseCaseDeps = {
    ...sim.deps,
    uow: {
      commit: (changes: Changeset) => {
        if (changes.outboxDone?.effectId === poisoned)
          throw new TypeError("cannot read properties of undefined");
        return sim.store.commit(changes);
      },
    },
  };
  return { sim, deps, poisoned };
}

describe("a throw while the dispatcher records an effect's result", () => {
  it("is a failed attempt recorded at once, counted, its claim given back; the pass still rejects", async () => {
    const { sim, deps, poisoned } = await openRound();
    const settled: SettledEffect[] = [];
    // A caller that keeps nothing across passes (no `held`, `started`, `crashed`).
    await expect(
      Promise.resolve(
        dispatchOutbox(deps, sim.ports, sim.store, { workerId: "w1", onSettled: (s) => settled.push(s) }),
      ),
    ).rejects.toThrow(/cannot read properties of undefined/);
    expect(settled.filter((s) => s.effectId === poisoned).map((s) => [s.outcome, s.code])).toEqual([
      ["retried", "effect_crashed"],
    ]);
    const row = (await sim.store.listOutbox({ status: "pending", limit: 100 }))
      ._unsafeUnwrap()
      .items.find((e) => e.id === poisoned);
    expect(row).toMatchObject({ attempts: 1 });
    expect(row?.lastError).toMatch(/^effect_crashed: TypeError: cannot read properties of undefined/);
    // No longer w1's: nothing to give back; due again on its backoff, for any dispatcher.
    expect((await sim.store.release("w1", [poisoned]))._unsafeUnwrap()).toBe(0);
    sim.clock.advance(2 * 3_600_000);
    const again = (await sim.store.claimDue("w2", sim.clock.now(), 60_000, 100))._unsafeUnwrap();
    expect(again.map((r) => r.effect.id)).toContain(poisoned);
  });
});
