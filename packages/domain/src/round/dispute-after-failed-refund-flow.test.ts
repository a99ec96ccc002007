// A member's contribution disputed and lost after the round could not refund it (the held
// payment's and marketplace charge's defect, fixed in 6a0efb53: a loss clamped to what was
// left to give back booked nothing beyond it, and what was owed outside Stripe stayed owed in
// full while the customer's bank took the money). A round does not have it: a refund that
// fails keeps the money in the pot (a retry may pay it), a BECS dispute is booked whole when
// it opens, out of the pot, and only what the bank did not give back becomes owed outside
// Stripe; the closure `lost` books nothing more. Likewise when the refund was still out as the
// dispute opened and Stripe then failed it. These flows check, through the use cases, that the
// books agree with Stripe on what the bank took and that the member is owed only the rest: a
// settlement of the whole contribution is refused, so nobody is paid twice.
import { describe, expect, it } from "vitest";
import type { PaymentObjectFact } from "../facts/payment-fact.js";
import { checkLedgerInvariants, roundAccounts, roundMoney } from "../ledger/index.js";
import { DAY_MS } from "../shared/time.js";
import { InMemorySusu } from "../testing/in-memory-susu.js";
import * as useCases from "../use-cases/index.js";

const CONTRIBUTION = 50_00;
const OPERATOR = { operator: "ops" };

/** A weekly AUD group of ana (its admin), ben and cy, all onboarded and active; 50.00 each. */
async function groupOf(sim: InMemorySusu) {
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
  return group;
}

/** How ana's refund fails: when made, after its success, or while out once she disputed the charge. */
type RefundFailure = "when_made" | "after_success" | "while_out";

/**
 * A round that cannot complete (ben's and cy's debits fail for good), so it refunds ana, whose
 * refund fails as `failAnaRefund` says (`while_out`: it is still out, and fails once she
 * disputed the charge, see {@link disputeLost}). Returns the round's id and ana's charge.
 */
async function roundWithAnasRefundFailed(sim: InMemorySusu, failAnaRefund: RefundFailure) {
  const group = await groupOf(sim);
  for (const n of ["ben", "cy"]) sim.gateway.setDebitOutcomes(n, [{ fail: "account_closed" }]);
  if (failAnaRefund === "when_made") sim.gateway.failNextRefund("ana", "account_closed");
  if (failAnaRefund === "while_out") sim.gateway.refundsWait();
  const roundId = (await useCases.startRound(sim.deps, group.id, "scheduler"))._unsafeUnwrap().state.id;
  for (let i = 0; i < 20; i++) await sim.advance(DAY_MS);
  const pi = [...sim.gateway.debits.values()].find((d) => d.references.memberId === "ana")?.paymentIntentId;
  if (pi === undefined) throw new Error("ana was not debited");
  if (failAnaRefund === "after_success") {
    const refund = [...sim.gateway.refunds.values()].find((r) => r.paymentIntentId === pi);
    if (refund === undefined) throw new Error("ana was not refunded");
    (
      await sim.deliver([sim.gateway.failRefundAfterSuccess(refund.refundId, "account_closed")])
    )._unsafeUnwrap();
    await sim.dispatch();
  }
  return { roundId, pi };
}

async function round(sim: InMemorySusu, roundId: string) {
  const r = (await sim.store.getRound(roundId))._unsafeUnwrap();
  if (r === undefined) throw new Error(`no round ${roundId}`);
  return r;
}

/**
 * Ana disputes `amountMinor` of her charge (a refund still out then fails: Stripe fails a
 * pending refund of a disputed charge); Stripe then closes the dispute lost.
 */
async function disputeLost(sim: InMemorySusu, pi: string, amountMinor: number): Promise<void> {
  const opened = sim.gateway.disputeCharge(pi, amountMinor);
  (await sim.deliver([opened]))._unsafeUnwrap();
  await sim.dispatch();
  const failed = sim.gateway.endWaitingRefunds("failed");
  if (failed.length > 0) {
    (await sim.deliver(failed))._unsafeUnwrap();
    await sim.dispatch();
  }
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
  (await sim.deliver([closed]))._unsafeUnwrap();
  await sim.dispatch();
}

/** What the books say the bank took for dispute `disputeId` (its postings that move money at Stripe). */
function bookedForDispute(sim: InMemorySusu, roundId: string, disputeId: string): number {
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

/** What Stripe refunded of charge `pi` in the end. */
const refundedAtStripe = (sim: InMemorySusu, pi: string) =>
  [...sim.gateway.refunds.values()]
    .filter((r) => r.paymentIntentId === pi && r.status === "succeeded")
    .reduce((n, r) => n + r.amount.amountMinor, 0);

const pay = (amountMinor: number, reference: string) => ({ amountMinor, currency: "AUD", reference });

describe.each(["when_made", "after_success", "while_out"] as const)(
  "a contribution disputed and lost after its refund failed (%s)",
  (failAnaRefund) => {
    it("in part: the books take what the bank took out of the pot, only the rest is owed, and a settlement of the whole is refused", async () => {
      const sim = new InMemorySusu();
      const { roundId, pi } = await roundWithAnasRefundFailed(sim, failAnaRefund);
      const before = await round(sim, roundId);
      expect(before.contributions.find((c) => c.memberId === "ana")?.status).toBe(
        failAnaRefund === "while_out" ? "refund_requested" : "refund_failed",
      );
      // The round holds ana's money for a retry: nothing is owed outside Stripe yet.
      expect(roundMoney(sim.ledger.snapshot(), roundId, "AUD")).toMatchObject({
        heldMinor: CONTRIBUTION,
        owedToMemberMinor: 0,
      });

      await disputeLost(sim, pi, 20_00);
      const after = await round(sim, roundId);
      const disputeId = sim.gateway.disputes.get(pi)?.disputeId ?? "";
      expect(after.status).toBe("cancelled");
      // The books agree with Stripe: the bank took 20.00 (booked once, the closure adds nothing).
      expect(bookedForDispute(sim, roundId, disputeId)).toBe(20_00);
      const ledger = sim.ledger.snapshot();
      expect(ledger.balancesMinor.get(roundAccounts.owedToMember(roundId, "ana"))?.get("AUD")).toBe(30_00);
      // The pot is zero now that the round ended; the ledger is balanced.
      expect(roundMoney(ledger, roundId, "AUD")).toMatchObject({
        heldMinor: 0,
        inFlightMinor: 0,
        owedToMemberMinor: 30_00,
      });
      expect(checkLedgerInvariants(ledger).isOk()).toBe(true);

      // Paying ana the whole contribution outside Stripe would pay the bank's 20.00 twice.
      const whole = await useCases.recordRoundOwedPaid(
        sim.deps,
        roundId,
        "ana",
        OPERATOR,
        pay(CONTRIBUTION, "t1"),
      );
      expect(whole._unsafeUnwrapErr()).toMatchObject({ code: "amount_exceeds_owed" });
      (
        await useCases.recordRoundOwedPaid(sim.deps, roundId, "ana", OPERATOR, pay(30_00, "t2"))
      )._unsafeUnwrap();
      await sim.dispatch();
      const more = await useCases.recordRoundOwedPaid(sim.deps, roundId, "ana", OPERATOR, pay(1, "t3"));
      expect(more._unsafeUnwrapErr()).toMatchObject({ code: "nothing_owed" });
      const settled = sim.ledger.snapshot();
      expect(roundMoney(settled, roundId, "AUD")).toMatchObject({
        heldMinor: 0,
        owedToMemberMinor: 0,
        paidOutsideStripeMinor: 30_00,
      });
      // What ana got back: no refund at Stripe, the bank's 20.00 and the admin's 30.00 — her 50.00 once.
      expect(refundedAtStripe(sim, pi) + 20_00 + 30_00).toBe(CONTRIBUTION);
      expect(sim.desk.resolved.has(`${roundId}:ticket:dispute:${disputeId}:rest_owed`)).toBe(true);
      // No refund is asked of Stripe again (it refuses a refund of a disputed charge).
      const retried = await useCases.applyRoundInput(
        sim.deps,
        roundId,
        { type: "retry_refund", memberId: "ana" },
        "ana",
      );
      expect(retried._unsafeUnwrapErr()).toMatchObject({ code: "no_failed_refund" });
    });

    it("whole: the bank gave it all back, so nothing is owed and nothing can be settled", async () => {
      const sim = new InMemorySusu();
      const { roundId, pi } = await roundWithAnasRefundFailed(sim, failAnaRefund);
      await disputeLost(sim, pi, CONTRIBUTION);
      const disputeId = sim.gateway.disputes.get(pi)?.disputeId ?? "";
      expect((await round(sim, roundId)).status).toBe("cancelled");
      expect(bookedForDispute(sim, roundId, disputeId)).toBe(CONTRIBUTION);
      const ledger = sim.ledger.snapshot();
      expect(roundMoney(ledger, roundId, "AUD")).toMatchObject({
        heldMinor: 0,
        inFlightMinor: 0,
        owedToMemberMinor: 0,
      });
      expect(checkLedgerInvariants(ledger).isOk()).toBe(true);
      const paid = await useCases.recordRoundOwedPaid(sim.deps, roundId, "ana", OPERATOR, pay(1, "t1"));
      expect(paid._unsafeUnwrapErr()).toMatchObject({ code: "nothing_owed" });
      expect(refundedAtStripe(sim, pi)).toBe(0);
    });
  },
);
