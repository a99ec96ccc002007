import { describe, expect, it } from "vitest";
import { DAY_MS } from "../shared/time.js";
import { InMemorySusu } from "../testing/in-memory-susu.js";
import * as useCases from "./index.js";

async function openRound(sim: InMemorySusu) {
  const group = (
    await useCases.createGroup(sim.deps, {
      name: "Timers",
      currency: "AUD",
      contributionMinor: 50_00,
      cadence: "weekly",
      startsAt: sim.clock.now() + DAY_MS,
      payoutOrderMethod: "join_order",
      creator: { id: "ana", displayName: "Ana" },
    })
  )._unsafeUnwrap();
  (await useCases.joinGroup(sim.deps, group.id, { id: "ben", displayName: "Ben" }))._unsafeUnwrap();
  for (const id of ["ana", "ben"]) (await sim.onboardPerson(id))._unsafeUnwrap();
  (await useCases.activateGroup(sim.deps, group.id, "ana"))._unsafeUnwrap();
  await sim.advance(DAY_MS);
  const opened = (await useCases.startRound(sim.deps, group.id, { memberId: "ana" }))._unsafeUnwrap();
  await sim.runUntilQuiet(); // the outbox schedules the round's timers
  return opened.state;
}

describe("applyTimer (the router of fired timers)", () => {
  it("feeds a round's timer to its round, which ignores one that no longer applies", async () => {
    const sim = new InMemorySusu();
    const round = await openRound(sim);
    const armed = sim.timers.pending().find((t) => t.timer.kind === "collection_deadline");
    expect(armed).toMatchObject({ aggregate: "round", aggregateId: round.id });
    // A payout timer while the round still collects: the round ignores it (and audits that).
    const outcome = await useCases.applyTimer(sim.deps, {
      id: `${round.id}:timer:payout_due`,
      aggregate: "round",
      aggregateId: round.id,
      timer: { kind: "payout_due" },
    });
    expect(outcome._unsafeUnwrap()).toEqual({
      aggregate: "round",
      aggregateId: round.id,
      status: "collecting",
      ignored: { code: "timer_no_longer_due", detail: "payout timer while collecting" },
    });
    const audit = (
      await sim.deps.audit.listAudit({
        subjects: [{ aggregate: "round", aggregateId: round.id }],
        limit: 100,
      })
    )._unsafeUnwrap();
    expect(audit.at(-1)).toMatchObject({ action: "timer:payout_due", outcome: "ignored", actor: "timer" });
  });

  it("a timer for an aggregate that does not exist is not_found", async () => {
    const sim = new InMemorySusu();
    const fired = await useCases.applyTimer(sim.deps, {
      id: "round_gone:timer:payout_due",
      aggregate: "round",
      aggregateId: "round_gone",
      timer: { kind: "payout_due" },
    });
    expect(fired._unsafeUnwrapErr()).toMatchObject({ type: "not_found", code: "round_not_found" });
  });
});
