// Payouts paused by an operator: the whole platform's, or one seller's. A paused run pays
// nothing to whom it holds back and says why; resuming pays what is due.
import { describe, expect, it } from "vitest";
import { money } from "../money/index.js";
import { InMemorySusu } from "../testing/in-memory-susu.js";
import * as useCases from "./index.js";

async function twoSellers() {
  const sim = new InMemorySusu();
  for (const id of ["sam", "ana"]) (await sim.addSeller(id))._unsafeUnwrap();
  sim.gateway.balances.set("acct_sam", [money(70_00, "AUD")]);
  sim.gateway.balances.set("acct_ana", [money(30_00, "AUD")]);
  const run = async () =>
    (await useCases.payOutEveryone(sim.deps, sim.gateway, sim.clock.now()))._unsafeUnwrap();
  const audit = () =>
    sim.store
      .audit()
      .filter((e) => e.action === "payouts_paused" || e.action === "payouts_resumed")
      .map((e) => ({ action: e.action, aggregateId: e.aggregateId, actor: e.actor }));
  return { sim, run, audit };
}

describe("pausing payouts", () => {
  it("the platform paused: the run pays no one and says why; resumed, the next run pays what is due", async () => {
    const { sim, run, audit } = await twoSellers();
    const pause = (
      await useCases.pausePayouts(sim.deps, {
        scope: { kind: "platform" },
        reason: "bank holiday reconciliation",
        by: "olga",
      })
    )._unsafeUnwrap();
    expect(pause).toEqual({
      scope: { kind: "platform" },
      reason: "bank holiday reconciliation",
      pausedBy: "olga",
      pausedAt: sim.clock.now(),
    });
    const paused = await run();
    expect(paused.platformPause).toEqual(pause);
    expect(paused.payouts).toEqual([]);
    expect(paused.people).toBe(0);
    expect(sim.gateway.payouts.size).toBe(0);
    // An admin's payout now is refused too.
    const now = await useCases.payOutPerson(sim.deps, sim.gateway, "sam", {
      kind: "requested",
      requestKey: "olga:k1",
      by: "olga",
    });
    expect(now._unsafeUnwrapErr()).toMatchObject({ code: "payouts_paused" });
    expect(sim.gateway.payouts.size).toBe(0);
    expect(
      (await useCases.resumePayouts(sim.deps, { scope: { kind: "platform" }, by: "olga" }))._unsafeUnwrap(),
    ).toEqual({
      resumed: true,
    });
    const resumed = await run();
    expect(resumed.platformPause).toBeUndefined();
    expect(resumed.payouts.map((p) => p.amount)).toEqual([money(30_00, "AUD"), money(70_00, "AUD")]);
    expect(audit()).toEqual([
      { action: "payouts_paused", aggregateId: "platform", actor: "olga" },
      { action: "payouts_resumed", aggregateId: "platform", actor: "olga" },
    ]);
  });

  it("one seller paused: the run pays the others and reports them skipped with the reason; resumed, they are paid", async () => {
    const { sim, run, audit } = await twoSellers();
    (
      await useCases.pausePayouts(sim.deps, {
        scope: { kind: "person", personId: "sam" },
        reason: "fraud review",
        by: "olga",
      })
    )._unsafeUnwrap();
    const paused = await run();
    expect(paused.platformPause).toBeUndefined();
    expect(paused.payouts.map((p) => p.amount)).toEqual([money(30_00, "AUD")]);
    expect(paused.paused).toEqual([{ personId: "sam", reason: "fraud review", pausedBy: "olga" }]);
    expect(paused.failed).toEqual([]);
    expect([...sim.gateway.payouts.values()].map((p) => p.accountId)).toEqual(["acct_ana"]);
    // Resuming the platform (not paused) leaves sam's own pause.
    expect(
      (await useCases.resumePayouts(sim.deps, { scope: { kind: "platform" }, by: "olga" }))._unsafeUnwrap(),
    ).toEqual({
      resumed: false,
    });
    expect((await useCases.listPayoutPauses(sim.deps))._unsafeUnwrap()).toHaveLength(1);
    (
      await useCases.resumePayouts(sim.deps, { scope: { kind: "person", personId: "sam" }, by: "olga" })
    )._unsafeUnwrap();
    const resumed = await run();
    expect(resumed.paused).toEqual([]);
    expect(resumed.payouts.map((p) => p.amount)).toEqual([money(70_00, "AUD")]);
    expect(audit()).toEqual([
      { action: "payouts_paused", aggregateId: "person:sam", actor: "olga" },
      { action: "payouts_resumed", aggregateId: "person:sam", actor: "olga" },
    ]);
  });

  it("a person nobody has cannot be paused", async () => {
    const { sim } = await twoSellers();
    const refused = await useCases.pausePayouts(sim.deps, {
      scope: { kind: "person", personId: "nobody" },
      reason: "x",
      by: "olga",
    });
    expect(refused._unsafeUnwrapErr()).toMatchObject({ code: "person_not_found" });
    expect((await useCases.listPayoutPauses(sim.deps))._unsafeUnwrap()).toEqual([]);
  });
});
