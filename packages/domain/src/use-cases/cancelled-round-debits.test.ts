import { describe, expect, it } from "vitest";
import { roundMoney } from "../ledger/index.js";
import { gatewayError } from "../ports/payment-gateway.js";
import { DAY_MS } from "../shared/time.js";
import { InMemorySusu } from "../testing/in-memory-susu.js";
import * as useCases from "./index.js";

/** A weekly AUD group of ana (its admin), ben and cy, all onboarded and active; 50.00 each. */
async function groupOf(sim: InMemorySusu) {
  const names = ["ana", "ben", "cy"];
  const group = (
    await useCases.createGroup(sim.deps, {
      name: "Family savings",
      currency: "AUD",
      contributionMinor: 50_00,
      cadence: "weekly",
      startsAt: sim.clock.now() + DAY_MS,
      payoutOrderMethod: "join_order",
      rotationsPlanned: 1,
      creator: { id: "ana", displayName: "ana" },
    })
  )._unsafeUnwrap();
  for (const n of names.slice(1))
    (await useCases.joinGroup(sim.deps, group.id, { id: n, displayName: n }))._unsafeUnwrap();
  for (const n of names) (await sim.onboardMember(group.id, n))._unsafeUnwrap();
  (await useCases.activateGroup(sim.deps, group.id, "ana"))._unsafeUnwrap();
  await sim.advance(DAY_MS);
  return group;
}

describe("debits still queued when the round stops collecting", () => {
  it("a round cancelled while its debits wait in the outbox (Stripe unreachable) debits nobody and ends cancelled", async () => {
    const sim = new InMemorySusu();
    const group = await groupOf(sim);
    // Nothing reached Stripe: the connection failed before the request was sent.
    for (let i = 0; i < 3; i++)
      sim.gateway.injectFault(
        "createDebit",
        "before",
        gatewayError("gateway_retryable", "api_connection_error", "unreachable"),
      );
    const round = (await useCases.startRound(sim.deps, group.id, "scheduler"))._unsafeUnwrap().state;
    await sim.dispatch();
    expect(sim.gateway.debits.size).toBe(0);
    (
      await useCases.applyRoundInput(sim.deps, round.id, { type: "cancel", reason: "oops" }, "ana")
    )._unsafeUnwrap();
    await sim.advance(10 * DAY_MS);
    await sim.advance(5 * DAY_MS);
    expect(sim.gateway.debits.size).toBe(0);
    expect(sim.gateway.refunds.size).toBe(0);
    const stored = (await sim.store.getRound(round.id))._unsafeUnwrap();
    expect(stored?.status).toBe("cancelled");
    expect(stored?.contributions.map((c) => c.status)).toEqual(["failed", "failed", "failed"]);
    expect(stored?.contributions.map((c) => c.attempts.map((a) => a.failureCode))).toEqual([
      ["debit_not_sent"],
      ["debit_not_sent"],
      ["debit_not_sent"],
    ]);
    expect(roundMoney(sim.ledger.snapshot(), round.id, "AUD")).toMatchObject({
      heldMinor: 0,
      inFlightMinor: 0,
    });
    expect((await sim.store.getGroup(group.id))._unsafeUnwrap()?.currentRoundId).toBeUndefined();
  });

  it("a debit whose reply was lost before the cancel is found at Stripe, not forgotten: it is refunded once it settles", async () => {
    const sim = new InMemorySusu();
    const group = await groupOf(sim);
    // ana's debit is made at Stripe but the answer never comes back; the others never leave.
    sim.gateway.injectFault("createDebit", "lost_reply");
    for (let i = 0; i < 2; i++)
      sim.gateway.injectFault(
        "createDebit",
        "before",
        gatewayError("gateway_retryable", "api_connection_error", "unreachable"),
      );
    const round = (await useCases.startRound(sim.deps, group.id, "scheduler"))._unsafeUnwrap().state;
    await sim.dispatch();
    expect(sim.gateway.debits.size).toBe(1);
    (
      await useCases.applyRoundInput(sim.deps, round.id, { type: "cancel", reason: "oops" }, "ana")
    )._unsafeUnwrap();
    await sim.advance(10 * DAY_MS);
    // Only the debit Stripe made: none asked for again, none made for ben and cy.
    expect(sim.gateway.debits.size).toBe(1);
    expect([...sim.gateway.refunds.values()].map((r) => r.status)).toEqual(["succeeded"]);
    const stored = (await sim.store.getRound(round.id))._unsafeUnwrap();
    expect(stored?.status).toBe("cancelled");
    expect(stored?.contributions.map((c) => [c.memberId, c.status])).toEqual([
      ["ana", "refunded"],
      ["ben", "failed"],
      ["cy", "failed"],
    ]);
    expect(roundMoney(sim.ledger.snapshot(), round.id, "AUD")).toMatchObject({
      heldMinor: 0,
      inFlightMinor: 0,
    });
  });

  it("the deadline passing while debits are still queued sends none of them", async () => {
    const sim = new InMemorySusu();
    const group = await groupOf(sim);
    const round = (await useCases.startRound(sim.deps, group.id, "scheduler"))._unsafeUnwrap().state;
    // Nothing dispatched yet: the dispatcher is down for days, and the deadline timer fires
    // (the scheduler's own queue) before the queued debits are sent.
    sim.clock.advanceTo(round.scheduledFor + 11 * DAY_MS);
    (
      await useCases.applyTimer(sim.deps, {
        id: `${round.id}:timer:collection_deadline`,
        aggregate: "round",
        aggregateId: round.id,
        timer: { kind: "collection_deadline" },
      })
    )._unsafeUnwrap();
    expect((await sim.store.getRound(round.id))._unsafeUnwrap()?.status).toBe("refunding");
    await sim.advance(DAY_MS);
    expect(sim.gateway.debits.size).toBe(0);
    expect((await sim.store.getRound(round.id))._unsafeUnwrap()?.status).toBe("cancelled");
  });
});
