// A round's surplus charge (a debit recorded as failed that took the money after all) whose
// refund succeeded, was then disputed in part, and whose refund Stripe then failed after its
// success: the round's own decisions post the ledger on PostgreSQL, Stripe's balance
// transactions for that charge are stored as the puller stores them, and the period is
// reconciled from what is stored. The same for the other order closed won: disputed while the
// refund was out, the refund landed, the dispute closed won, then the refund failed.
import { type Round, roundIds } from "@susu/domain";
import { beforeAll, describe, expect, it } from "vitest";
import { reconcileStored } from "../../src/reconciliation/index.js";
import { useTestDatabase } from "../support/index.js";
import { store } from "./balance-record.js";
import { CHARGE, DAY, decideAll, record, surplusCharged, T0 } from "./round-surplus-support.js";

const db = useTestDatabase();
const DISPUTED = 4_000;

describe("reconciling a round's surplus charge refunded, disputed in part, then its refund failed (PostgreSQL)", () => {
  const refundedAt = T0 + 10 * DAY;
  const disputedAt = refundedAt + DAY;
  const failedAt = disputedAt + DAY;

  beforeAll(async () => {
    // m1's first debit is recorded as failed, its retry pays; the round pays out. The first
    // debit's money arrives after all: a surplus charge, refunded at once (re_s). The refund
    // succeeds, the member disputes 40.00 of the charge (du_s), then Stripe fails the refund.
    const { postings } = decideAll([
      ...surplusCharged,
      [{ type: "refund_succeeded", memberId: "m1", refundId: "re_s", debitAttempt: 1 }, refundedAt],
      [
        {
          type: "dispute_opened",
          memberId: "m1",
          disputeId: "du_s",
          amountMinor: DISPUTED,
          attempt: 1,
          paymentIntentId: "pi_m1_1",
        },
        disputedAt,
      ],
      [{ type: "refund_failed", memberId: "m1", failureCode: "refund_failed", debitAttempt: 1 }, failedAt],
    ]);

    // What Stripe shows for that charge in the period: the refund, the dispute's withdrawal
    // (its charge's metadata), and the refund's failure (a BECS refund's: money back on the
    // platform's balance).
    const refundEffect = roundIds.surplusRefund("r1", "m1", 1);
    const stripe = [
      record({
        id: "txn_refund",
        type: "refund",
        reportingCategory: "refund",
        sourceId: "re_s",
        sourceObject: "refund",
        effectId: refundEffect,
        amountMinor: -CHARGE,
        created: refundedAt,
      }),
      record({
        id: "txn_dispute",
        type: "adjustment",
        reportingCategory: "dispute",
        sourceId: "du_s",
        sourceObject: "dispute",
        effectId: roundIds.debit("r1", "m1", 1),
        amountMinor: -DISPUTED,
        created: disputedAt,
      }),
      record({
        id: "txn_refund_failure",
        type: "payment_failure_refund",
        reportingCategory: "refund_failure",
        sourceId: "re_s",
        sourceObject: "refund",
        effectId: refundEffect,
        amountMinor: CHARGE,
        created: failedAt,
      }),
    ];
    await store(db.prisma, postings, stripe, failedAt);
  });

  it("finds no difference: the books show the refund and its failure whole, and the dispute's 40.00", async () => {
    const report = await reconcileStored(db.prisma, { from: refundedAt, to: failedAt + DAY });
    expect(report.balanceTransactions).toBe(3);
    expect(report.differences).toEqual([]);
    // The rest of the charge, owed to the member outside Stripe, is booked inside susu.
    const owed = await db.prisma.ledgerTransaction.findMany({
      where: { kind: "contribution_owed_to_member" },
      select: { id: true },
    });
    expect(owed.map((t) => t.id)).toEqual([roundIds.ledger.disputeRestOwed("r1", "du_s")]);
  });
});

describe("reconciling a round's surplus charge disputed in part while its refund was out, which landed; the dispute closed won; then the refund failed (PostgreSQL)", () => {
  const won = useTestDatabase();
  const disputedAt = T0 + 10 * DAY;
  const refundedAt = disputedAt + DAY;
  const wonAt = refundedAt + DAY;
  const failedAt = wonAt + DAY;
  const dispute = {
    memberId: "m1",
    disputeId: "du_s",
    amountMinor: DISPUTED,
    attempt: 1,
    paymentIntentId: "pi_m1_1",
  };
  let round: Round | undefined;

  beforeAll(async () => {
    // The member disputes 40.00 while our refund (re_s) is out; the refund lands (the whole
    // charge at Stripe); the bank gives the 40.00 back (closed won); then Stripe fails the refund.
    const decided = decideAll([
      ...surplusCharged,
      [{ type: "dispute_opened", ...dispute }, disputedAt],
      [{ type: "refund_succeeded", memberId: "m1", refundId: "re_s", debitAttempt: 1 }, refundedAt],
      [{ type: "dispute_won", ...dispute }, wonAt],
      [{ type: "refund_failed", memberId: "m1", failureCode: "refund_failed", debitAttempt: 1 }, failedAt],
    ]);
    round = decided.round;
    const refundEffect = roundIds.surplusRefund("r1", "m1", 1);
    await store(
      won.prisma,
      decided.postings,
      [
        record({
          id: "txn_dispute",
          type: "adjustment",
          reportingCategory: "dispute",
          sourceId: "du_s",
          sourceObject: "dispute",
          effectId: roundIds.debit("r1", "m1", 1),
          amountMinor: -DISPUTED,
          created: disputedAt,
        }),
        record({
          id: "txn_refund",
          type: "refund",
          reportingCategory: "refund",
          sourceId: "re_s",
          sourceObject: "refund",
          effectId: refundEffect,
          amountMinor: -CHARGE,
          created: refundedAt,
        }),
        record({
          id: "txn_dispute_won",
          type: "adjustment",
          reportingCategory: "dispute_reversal",
          sourceId: "du_s",
          sourceObject: "dispute",
          effectId: roundIds.debit("r1", "m1", 1),
          amountMinor: DISPUTED,
          created: wonAt,
        }),
        record({
          id: "txn_refund_failure",
          type: "payment_failure_refund",
          reportingCategory: "refund_failure",
          sourceId: "re_s",
          sourceObject: "refund",
          effectId: refundEffect,
          amountMinor: CHARGE,
          created: failedAt,
        }),
      ],
      failedAt,
    );
  });

  it("finds no difference: the refund and its failure sum to nothing, and so do the dispute and its reversal", async () => {
    const report = await reconcileStored(won.prisma, { from: disputedAt, to: failedAt + DAY });
    expect(report.balanceTransactions).toBe(4);
    expect(report.differences).toEqual([]);
    // The round holds the charge again, for a retried refund; nothing is owed outside Stripe.
    const attempt = round?.contributions
      .find((c) => c.memberId === "m1")
      ?.attempts.find((a) => a.number === 1);
    expect(attempt?.surplus).toEqual({ status: "refund_failed" });
    expect(await won.prisma.ledgerTransaction.count({ where: { kind: "contribution_owed_to_member" } })).toBe(
      0,
    );
  });
});
