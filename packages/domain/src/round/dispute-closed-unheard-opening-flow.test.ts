// A member's dispute whose opening susu never heard (the webhook lost for good, or parked and
// dismissed), then its closure `lost`: a round books a BECS dispute when it opens, so the
// closure is booked as the opening would have been — with the closure's amount, Stripe's last
// word on what the bank took — and an opening heard late, or a closure after the opening,
// books nothing more. Through the use cases, as the webhook processor runs them.
import { describe, expect, it } from "vitest";
import type { PaymentObjectFact } from "../facts/payment-fact.js";
import { checkLedgerInvariants } from "../ledger/index.js";
import { DAY_MS } from "../shared/time.js";
import { InMemorySusu } from "../testing/in-memory-susu.js";
import * as useCases from "../use-cases/index.js";

const CONTRIBUTION = 50_00;

/** A weekly AUD group of ana (its admin), ben and cy, all onboarded and active, its round collected. */
async function collectedRound(sim: InMemorySusu) {
  const group = (
    await useCases.createGroup(sim.deps, {
      name: "Family savings",
      currency: "AUD",
      contributionMinor: CONTRIBUTION,
      cadence: "weekly",
      startsAt: sim.clock.now() + DAY_MS,
      payoutOrderMethod: "join_order",
      rotationsPlanned: 1,
      creator: { id: "ana", displayName: "ana" },
    })
  )._unsafeUnwrap();
  for (const n of ["ben", "cy"])
    (await useCases.joinGroup(sim.deps, group.id, { id: n, displayName: n }))._unsafeUnwrap();
  for (const n of ["ana", "ben", "cy"]) (await sim.onboardMember(group.id, n))._unsafeUnwrap();
  (await useCases.activateGroup(sim.deps, group.id, "ana"))._unsafeUnwrap();
  await sim.advance(DAY_MS);
  const roundId = (await useCases.startRound(sim.deps, group.id, "scheduler"))._unsafeUnwrap().state.id;
  for (let i = 0; i < 3; i++) await sim.advance(DAY_MS);
  const pi = [...sim.gateway.debits.values()].find((d) => d.references.memberId === "ben")?.paymentIntentId;
  if (pi === undefined) throw new Error("ben was not debited");
  return { roundId, pi };
}

/** What the books say the bank took for dispute `disputeId` (its postings that move money at Stripe). */
function bookedLoss(sim: InMemorySusu, roundId: string, disputeId: string): number {
  const key = `${roundId}:dispute:${disputeId}`;
  let takenMinor = 0;
  for (const tx of sim.ledger.snapshot().transactions) {
    if (tx.id !== key && !tx.id.startsWith(`${key}:`)) continue;
    const amount = tx.postings
      .filter((p) => p.side === "debit")
      .reduce((n, p) => n + p.amount.amountMinor, 0);
    if (tx.kind === "contribution_refunded" || tx.kind === "dispute_loss") takenMinor += amount;
    if (tx.kind === "contribution_refund_failed" || tx.kind === "dispute_reinstated") takenMinor -= amount;
  }
  return takenMinor;
}

/** Ben disputes `amountMinor` of his charge at Stripe; what Stripe would report of it. */
function disputeOfBen(sim: InMemorySusu, pi: string, amountMinor: number) {
  const opened = sim.gateway.disputeCharge(pi, amountMinor);
  const dispute = sim.gateway.disputes.get(pi);
  const debit = sim.gateway.debits.get(pi);
  if (dispute === undefined || debit === undefined) throw new Error(`${pi} is not disputed`);
  dispute.status = "lost";
  const closed: PaymentObjectFact = {
    kind: "dispute_closed",
    refs: debit.references,
    disputeId: dispute.disputeId,
    paymentIntentId: pi,
    outcome: "lost",
    amountMinor,
  };
  return { opened, closed, disputeId: dispute.disputeId };
}

describe("a round's dispute closed lost whose opening susu never heard", () => {
  it("is booked as if it had opened then, for the closure's amount; its opening heard late books nothing more", async () => {
    const sim = new InMemorySusu();
    const { roundId, pi } = await collectedRound(sim);
    const { opened, closed, disputeId } = disputeOfBen(sim, pi, 20_00);
    (await sim.deliver([closed]))._unsafeUnwrap();
    await sim.dispatch();
    const r = (await sim.store.getRound(roundId))._unsafeUnwrap();
    expect(r?.contributions.find((c) => c.memberId === "ben")?.disputeIds).toEqual([disputeId]);
    expect(bookedLoss(sim, roundId, disputeId)).toBe(20_00);
    (await sim.deliver([opened, closed]))._unsafeUnwrap();
    await sim.dispatch();
    expect(bookedLoss(sim, roundId, disputeId)).toBe(20_00);
    expect(checkLedgerInvariants(sim.ledger.snapshot()).isOk()).toBe(true);
  });

  it("heard opened, then closed lost: booked once, when it opened", async () => {
    const sim = new InMemorySusu();
    const { roundId, pi } = await collectedRound(sim);
    const { opened, closed, disputeId } = disputeOfBen(sim, pi, CONTRIBUTION);
    (await sim.deliver([opened]))._unsafeUnwrap();
    await sim.dispatch();
    expect(bookedLoss(sim, roundId, disputeId)).toBe(CONTRIBUTION);
    (await sim.deliver([closed]))._unsafeUnwrap();
    await sim.dispatch();
    expect(bookedLoss(sim, roundId, disputeId)).toBe(CONTRIBUTION);
  });
});
