// When a group's rounds open: on the group's schedule, and never sooner than one cadence
// after the previous round opened (a round that overran its slot — a pause, a blocked
// payout, the collection window itself — does not make the next ones open back to back).
import { describe, expect, it } from "vitest";
import { DAY_MS } from "../shared/time.js";
import { InMemorySusu } from "../testing/in-memory-susu.js";
import * as useCases from "./index.js";

async function weeklyGroup(sim: InMemorySusu, names: string[]) {
  const group = (
    await useCases.createGroup(sim.deps, {
      name: "Weekly savers",
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
  for (const n of names) (await sim.onboardPerson(n))._unsafeUnwrap();
  (await useCases.activateGroup(sim.deps, group.id, names[0] ?? "a"))._unsafeUnwrap();
  return group.id;
}

describe("round schedule", () => {
  it("does not debit members again a few days after the last round", async () => {
    const sim = new InMemorySusu();
    const groupId = await weeklyGroup(sim, ["ana", "ben", "cy", "dee"]);
    await sim.advance(DAY_MS);
    (await useCases.startRound(sim.deps, groupId, "scheduler"))._unsafeUnwrap();
    await sim.advance(4 * DAY_MS);
    (await useCases.pauseGroup(sim.deps, groupId, "ana", "holidays"))._unsafeUnwrap();
    await sim.advance(35 * DAY_MS);
    (await useCases.resumeGroup(sim.deps, groupId, "ana"))._unsafeUnwrap();
    const r2 = (await useCases.startRound(sim.deps, groupId, "scheduler"))._unsafeUnwrap().state;
    await sim.advance(4 * DAY_MS);
    const r3 = await useCases.startRound(sim.deps, groupId, "scheduler");
    const gap = r3.isOk() ? ((r3.value.state.openedAt ?? 0) - (r2.openedAt ?? 0)) / DAY_MS : undefined;
    expect(r3.isErr() ? r3.error.code : `opened ${gap} days after r2`).toBe("no_round_due");
  });
});
