// A three-decimal currency moves in steps of 10 fils, and the seller gives back whole steps
// only (a reversal of their transfer must be in steps) — but a dispute's amount need not be in
// steps. A refund made before the release, failed by Stripe after its success, is superseded by
// a dispute lost for 0.001 KWD: the loss and the rest owed to the customer outside Stripe
// (0.009) are each less than a step. The refund's seller part (0.010) was never transferred: the
// platform holds it back, so no reversal is needed for it, and the loss and the rest come out of
// it, part of a step or not — not out of the fee, which would leave the held-back 0.010 in the
// hold for good (found by the model test drawing KWD).
//
// 1.000 KWD at a 12.5 % fee: 0.130 fee, 0.870 seller share; a 0.010 refund (all the seller's:
// whole steps), a 0.860 transfer.
import { describe, expect, it } from "vitest";
import { checkHeldMoney, emptyLedger } from "../ledger/index.js";
import { HOUR_MS } from "../shared/time.js";
import {
  heldRefundFailed,
  heldRefundSucceeded,
  heldDisputeLost as lost,
  heldDisputeOpened as opened,
  heldPaid as paid,
  heldTestPolicy as policy,
  type HeldRun as Run,
  runHeld as run,
  HELD_T0 as T0,
} from "../testing/held-payment-mothers.js";
import { createHeldPayment } from "./decide.js";

const LATER = T0 + 80 * HOUR_MS;

function startKwd(): Run {
  const d = createHeldPayment(
    {
      id: "hp1",
      clientReference: "b",
      requestedBy: "app",
      amountMinor: 1_000,
      currency: "KWD",
      seller: { id: "s", connectedAccountId: "acct", canReceive: true },
      description: "x",
      customer: { email: "c@x.io" },
      fee: { kind: "rate", basisPoints: 1_250 },
      successUrl: "https://a.b",
    },
    { now: T0, policy },
  )._unsafeUnwrap();
  return { state: d.state, ledger: emptyLedger(), effects: d.effects, last: d.effects };
}

const books = (r: Run) => checkHeldMoney(r.ledger, "hp1", "KWD")._unsafeUnwrap();

describe("a KWD refund made while holding, failed after its success, superseded by a loss of part of a step", () => {
  it("the loss and the rest owed come out of the seller part the platform held back: the hold ends empty, the fee whole", () => {
    const released = run(startKwd(), [
      paid,
      { type: "confirm_fulfilled" },
      { type: "refund", by: "a", amountMinor: 10 },
      heldRefundSucceeded(),
    ]);
    expect(released.state).toMatchObject({ feeMinor: 130, sellerShareMinor: 870 });
    expect(released.state.refunds[0]).toMatchObject({ sellerPartMinor: 10, feePartMinor: 0 });
    const landed = run(
      released,
      [
        { type: "timer", timer: { kind: "release_due" } },
        { type: "transfer_created", attempt: 1, transferId: "tr_1" },
        heldRefundFailed("declined"),
        opened(1_000),
        lost(1),
      ],
      LATER,
    );
    expect(landed.state.status).toBe("released");
    expect(landed.state.transfers).toEqual([expect.objectContaining({ amountMinor: 860 })]);
    expect(landed.state.refunds.map((r) => r.status)).toEqual([
      "superseded_by_dispute",
      "owed_outside_stripe",
    ]);
    expect(landed.state.refunds[1]).toMatchObject({ amountMinor: 9, sellerPartMinor: 9, feePartMinor: 0 });
    expect(landed.state.disputes[0]).toMatchObject({ lostMinor: 1, sellerPartMinor: 1, feePartMinor: 0 });
    // Nothing to reverse: the platform held the seller's part back.
    expect(landed.state.reversals).toEqual([]);
    expect(books(landed)).toMatchObject({
      holdMinor: 0,
      sellerPayableMinor: 0,
      sellerMinor: 860,
      feesMinor: 130,
      refundedMinor: 0,
      disputeLostMinor: 1,
      owedToCustomerMinor: 9,
      platformFundedMinor: 0,
    });
  });

  it("lost while the release's transfer is in flight, which then lands: the same, the loss divided again once it landed", () => {
    const refunded = run(startKwd(), [
      paid,
      { type: "confirm_fulfilled" },
      { type: "refund", by: "a", amountMinor: 10 },
      heldRefundSucceeded(),
    ]);
    const landed = run(
      refunded,
      [
        { type: "timer", timer: { kind: "release_due" } },
        heldRefundFailed("declined"),
        opened(1_000),
        lost(1),
        { type: "transfer_created", attempt: 1, transferId: "tr_1" },
      ],
      LATER,
    );
    expect(landed.state.status).toBe("released");
    expect(landed.state.transfers).toEqual([
      expect.objectContaining({ amountMinor: 860, status: "created" }),
    ]);
    expect(landed.state.disputes[0]).toMatchObject({ lostMinor: 1, sellerPartMinor: 1, feePartMinor: 0 });
    expect(landed.state.reversals).toEqual([]);
    expect(books(landed)).toMatchObject({
      holdMinor: 0,
      sellerPayableMinor: 0,
      sellerMinor: 860,
      feesMinor: 130,
      disputeLostMinor: 1,
      owedToCustomerMinor: 9,
    });
  });

  it("lost while the transfer is in flight, which then fails: the retry transfers the share less the loss in whole steps, the fee takes the part of a step", () => {
    const refunded = run(startKwd(), [
      paid,
      { type: "confirm_fulfilled" },
      { type: "refund", by: "a", amountMinor: 10 },
      heldRefundSucceeded(),
    ]);
    const failed = run(
      refunded,
      [
        { type: "timer", timer: { kind: "release_due" } },
        heldRefundFailed("declined"),
        opened(1_000),
        lost(1),
        { type: "transfer_failed", attempt: 1, failureCode: "balance_insufficient" },
      ],
      LATER,
    );
    expect(failed.state.disputes[0]).toMatchObject({ lostMinor: 1, sellerPartMinor: 0, feePartMinor: 1 });
    const retried = failed.state.transfers.at(-1);
    expect(retried?.amountMinor ?? 0).toBeGreaterThan(0);
    expect((retried?.amountMinor ?? 1) % 10).toBe(0);
  });
});
