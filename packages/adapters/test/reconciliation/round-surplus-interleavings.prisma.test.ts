// A round's surplus charge whose refund susu asked for (Stripe creates it `pending`: its
// `payment_refund` takes the charge at once) is disputed in part, in every order of: the
// dispute (its `adjustment` takes 40.00), the refund's outcome (a success moves nothing more; a
// failure gives the charge back, `payment_failure_refund`, before or after a success), and
// the dispute's closure (won gives the 40.00 back; lost moves nothing). Stripe usually fails a
// pending refund of a charge when it is disputed, but documents that a refund and a dispute
// can both take money (a charge disputed for its whole amount after a refund). Each order
// runs as its own round on one PostgreSQL database; the period is reconciled once from what is
// stored, and no key of any order may differ.
import { type RoundInput, roundIds } from "@susu/domain";
import { type SurplusRaceStep as Step, surplusRaceOrders } from "@susu/domain/testing";
import { beforeAll, describe, expect, it } from "vitest";
import type { ReconciliationReport } from "../../src/reconciliation/index.js";
import { reconcileStored } from "../../src/reconciliation/index.js";
import type { StripeBalanceRecord } from "../../src/reconciliation/stripe-items.js";
import { useTestDatabase } from "../support/index.js";
import { store } from "./balance-record.js";
import { CHARGE, DAY, decideAll, record, surplusCharged, T0 } from "./round-surplus-support.js";

const db = useTestDatabase();
const DISPUTED = 4_000;
/** When Stripe creates the refund (pending, its money taken): the period starts there. */
const REFUND_CREATED = T0 + 10 * DAY;

/** One order as a round: the round's inputs, and what Stripe's balance shows for that charge. */
function story(
  roundId: string,
  steps: readonly Step[],
): { readonly inputs: [RoundInput, number][]; readonly stripe: StripeBalanceRecord[] } {
  const disputeId = `du_${roundId}`;
  const refundId = `re_${roundId}`;
  const refundEffect = roundIds.surplusRefund(roundId, "m1", 1);
  const dispute = {
    memberId: "m1",
    disputeId,
    amountMinor: DISPUTED,
    attempt: 1,
    paymentIntentId: "pi_m1_1",
  };
  const refund = (id: string, amountMinor: number, created: number, failure: boolean) =>
    record({
      id,
      type: failure ? "payment_failure_refund" : "payment_refund",
      reportingCategory: failure ? "refund_failure" : "refund",
      sourceId: refundId,
      sourceObject: "refund",
      effectId: refundEffect,
      amountMinor,
      created,
      roundId,
    });
  const disputeMoved = (id: string, amountMinor: number, created: number) =>
    record({
      id,
      type: "adjustment",
      reportingCategory: amountMinor < 0 ? "dispute" : "dispute_reversal",
      sourceId: disputeId,
      sourceObject: "dispute",
      effectId: roundIds.debit(roundId, "m1", 1),
      amountMinor,
      created,
      roundId,
    });
  const inputs: [RoundInput, number][] = [];
  const stripe = [refund(`txn_${roundId}_refund`, -CHARGE, REFUND_CREATED, false)];
  for (const [i, step] of steps.entries()) {
    const at = REFUND_CREATED + (i + 1) * DAY;
    const txn = `txn_${roundId}_${step}`;
    switch (step) {
      case "dispute":
        inputs.push([{ type: "dispute_opened", ...dispute }, at]);
        stripe.push(disputeMoved(txn, -DISPUTED, at));
        break;
      case "succeeds":
        inputs.push([{ type: "refund_succeeded", memberId: "m1", refundId, debitAttempt: 1 }, at]);
        break;
      case "fails":
      case "fails_later":
        inputs.push([
          { type: "refund_failed", memberId: "m1", failureCode: "refund_failed", debitAttempt: 1 },
          at,
        ]);
        stripe.push(refund(txn, CHARGE, at, true));
        break;
      case "won":
        inputs.push([{ type: "dispute_won", ...dispute }, at]);
        stripe.push(disputeMoved(txn, DISPUTED, at));
        break;
      case "lost":
        break;
    }
  }
  return { inputs, stripe };
}

const cases = surplusRaceOrders().map((steps, i) => ({
  roundId: `r${i + 1}`,
  steps,
  name: steps.join(" → "),
}));

describe("reconciling a round's surplus charge disputed in part around its pending refund, in every order (PostgreSQL)", () => {
  let report: ReconciliationReport;

  beforeAll(async () => {
    for (const { roundId, steps } of cases) {
      const { inputs, stripe } = story(roundId, steps);
      const { postings } = decideAll([...surplusCharged, ...inputs], roundId);
      await store(db.prisma, postings, stripe, REFUND_CREATED + 10 * DAY);
    }
    report = await reconcileStored(db.prisma, { from: REFUND_CREATED, to: REFUND_CREATED + 10 * DAY });
  });

  /** The differences of one order's round: its dispute's key, its refund's, or its postings. */
  const of = (roundId: string) =>
    report.differences.filter(
      (d) =>
        d.key === `object:du_${roundId}` ||
        d.key.startsWith(`effect:${roundId}:`) ||
        d.ledgerTransactionIds.some((id) => id.startsWith(`${roundId}:`)),
    );

  it("generates every order of the steps (the refund created first)", () => {
    expect(cases).toHaveLength(31);
    expect(cases.map((c) => c.name)).toEqual(
      expect.arrayContaining(["dispute → succeeds", "succeeds → dispute", "dispute → fails → won"]),
    );
    // Every difference is one order's.
    expect(cases.flatMap((c) => of(c.roundId))).toHaveLength(report.differences.length);
  });

  it.each(cases)("$name: the books show what Stripe's balance shows", ({ roundId }) => {
    expect(of(roundId)).toEqual([]);
  });
});
