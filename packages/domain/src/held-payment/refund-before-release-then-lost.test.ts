// A refund made before the seller was paid (the payment still holding, or its release started
// and the seller's share earmarked), which succeeded; the release transferred the seller's
// share less the refund's seller part; then Stripe failed the refund after its success
// (`refund.failed` after `refund.succeeded`: the money is back on the platform's balance), and
// a dispute of the charge was lost. The loss supersedes the refund (the customer's bank gave
// the money back instead), and the refund's seller part was never transferred: the platform
// holds it. So the seller is reversed only what the loss needs beyond it — never more than was
// transferred — and, once the reversal lands, every account of the payment is where a plain
// lost dispute after the release leaves it.
//
// The refund fails `declined` (a retry may work: it waits for one). One failed on a card that can
// no longer take money is owed outside Stripe at once, counts as given back, and is never
// superseded (refund-unreachable-owed.test.ts).
//
// 100.00 AUD at a 10 % fee: a 20.00 refund (18.00 seller part, 2.00 fee part), a 72.00 transfer.
import { describe, expect, it } from "vitest";
import { HOUR_MS } from "../shared/time.js";
import {
  heldBooks as books,
  heldRefundFailed,
  heldRefundSucceeded,
  heldDisputeLost as lost,
  heldDisputeOpened as opened,
  heldPaid as paid,
  heldTestPolicy as policy,
  type HeldRun as Run,
  runHeld as run,
  startHeld as start,
  HELD_T0 as T0,
} from "../testing/held-payment-mothers.js";
import { decideHeldPayment, disputedSellerPartMinor } from "./decide.js";
import type { HeldPaymentEffect } from "./held-payment-effect.js";
import type { HeldPaymentInput } from "./held-payment-input.js";

const LATER = T0 + 80 * HOUR_MS;

const ofKind = <K extends HeldPaymentEffect["kind"]>(effects: readonly HeldPaymentEffect[], kind: K) =>
  effects.filter((e): e is Extract<HeldPaymentEffect, { kind: K }> => e.kind === kind);
const failedLater: HeldPaymentInput = heldRefundFailed("declined");
const reversed = (reversal: number, amountMinor: number): HeldPaymentInput => ({
  type: "transfer_reversed",
  reversal,
  transferId: "tr_1",
  amountMinor,
});

/** The refund of 20.00 made while the payment was holding, then the release of 72.00 landed. */
function refundedWhileHolding(): Run {
  const refunded = run(start(), [
    paid,
    { type: "confirm_fulfilled" },
    { type: "refund", by: "a", amountMinor: 2_000 },
    heldRefundSucceeded(),
  ]);
  expect(refunded.state.refunds[0]).toMatchObject({ stage: "holding", status: "succeeded" });
  return run(
    refunded,
    [
      { type: "timer", timer: { kind: "release_due" } },
      { type: "transfer_created", attempt: 1, transferId: "tr_1" },
    ],
    LATER,
  );
}

/**
 * The release started (its first transfer failed and waits to be retried: the seller's share
 * earmarked), the refund of 20.00 was made then, and the retried transfer of 72.00 landed.
 */
function refundedWhileEarmarked(): Run {
  const earmarked = run(
    start(),
    [
      paid,
      { type: "confirm_fulfilled" },
      { type: "timer", timer: { kind: "release_due" } },
      { type: "transfer_failed", attempt: 1, failureCode: "balance_insufficient" },
      { type: "refund", by: "a", amountMinor: 2_000 },
      heldRefundSucceeded(),
    ],
    LATER,
  );
  expect(earmarked.state.refunds[0]).toMatchObject({ stage: "earmarked", status: "succeeded" });
  return run(
    earmarked,
    [
      { type: "timer", timer: { kind: "retry_transfer", attempt: 2 } },
      { type: "transfer_created", attempt: 2, transferId: "tr_1" },
    ],
    LATER,
  );
}

const variants = [
  ["holding", refundedWhileHolding],
  ["earmarked", refundedWhileEarmarked],
] as const;

describe.each(variants)(
  "a refund made while %s, failed after its success, then a dispute lost",
  (_, refunded) => {
    it("the release transferred the seller's share less the refund's seller part", () => {
      const r = refunded();
      expect(r.state.status).toBe("released");
      const transfers = ofKind(r.effects, "transfer");
      expect(transfers.at(-1)).toMatchObject({ amountMinor: 7_200 });
      expect(books(r)).toMatchObject({
        sellerMinor: 7_200,
        feesMinor: 800,
        refundedMinor: 2_000,
        holdMinor: 0,
      });
    });

    it("the whole charge lost: the seller is reversed what they were paid, and every account ends at zero", () => {
      const failed = run(refunded(), [failedLater], LATER);
      expect(failed.state.refunds[0]).toMatchObject({ status: "failed", ledgerPosted: false });
      expect(books(failed)).toMatchObject({ refundedMinor: 0, sellerMinor: 7_200 });

      const disputed = run(failed, [opened(10_000)], LATER);
      // What a payout of the seller's balance must leave for the reversal: what the loss would reverse.
      expect(disputedSellerPartMinor(disputed.state)).toBe(7_200);

      const r = run(disputed, [lost(10_000)], LATER);
      expect(r.state.refunds[0]).toMatchObject({ status: "superseded_by_dispute", supersededBy: "dp" });
      expect(r.state.refunds).toHaveLength(1);
      // The bank took 100.00 back; the seller had 72.00 of it, the platform holds the rest.
      const asked = ofKind(r.effects, "reverse_transfer");
      expect(asked.map((e) => [e.amountMinor, e.reason])).toEqual([[7_200, "dispute_lost"]]);
      expect(ofKind(r.last, "open_ticket").map((t) => t.reason)).toEqual([]);

      const done = run(r, [reversed(1, 7_200)], LATER);
      expect(done.state.status).toBe("charged_back");
      expect(books(done)).toEqual({
        heldPaymentId: "hp1",
        currency: "AUD",
        paidInMinor: 10_000,
        holdMinor: 0,
        sellerPayableMinor: 0,
        sellerMinor: 0,
        feesMinor: 0,
        refundedMinor: 0,
        disputeLostMinor: 10_000,
        owedToCustomerMinor: 0,
        paidOutsideStripeMinor: 0,
        platformFundedMinor: 0,
        owedByCustomerMinor: 0,
      });
      expect(ofKind(done.last, "open_ticket")).toEqual([]);
      // The customer holds nothing of ours, and is owed nothing: nothing is left to retry.
      expect(
        decideHeldPayment(done.state, { type: "retry_refund", by: "a" }, { now: LATER, policy }),
      ).toMatchObject({ error: { code: "no_failed_refund" } });
      expect(
        decideHeldPayment(done.state, { type: "retry_reversal", by: "a" }, { now: LATER, policy }),
      ).toMatchObject({ error: { code: "no_failed_reversal" } });
    });

    it("a loss bigger than the refund: the seller is reversed the loss's seller part less the refund's, as a plain loss of the rest", () => {
      const r = run(refunded(), [failedLater, opened(5_000), lost(5_000)], LATER);
      // The loss's seller part is 45.00; the platform holds the refund's 18.00 of it.
      expect(ofKind(r.effects, "reverse_transfer").map((e) => e.amountMinor)).toEqual([2_700]);
      const done = run(r, [reversed(1, 2_700)], LATER);
      expect(done.state.status).toBe("released");
      // As a plain lost dispute of 50.00 after the release: the seller keeps 45.00, the platform 5.00.
      expect(books(done)).toMatchObject({
        holdMinor: 0,
        sellerPayableMinor: 0,
        sellerMinor: 4_500,
        feesMinor: 500,
        refundedMinor: 0,
        disputeLostMinor: 5_000,
        owedToCustomerMinor: 0,
      });
    });

    it("a loss smaller than the refund: the rest is owed outside Stripe and nobody is reversed (the platform holds the refund's seller part)", () => {
      const r = run(refunded(), [failedLater, opened(1_000), lost(1_000)], LATER);
      expect(r.state.refunds).toMatchObject([
        { number: 1, status: "superseded_by_dispute" },
        { number: 2, amountMinor: 1_000, status: "owed_outside_stripe" },
      ]);
      expect(ofKind(r.effects, "reverse_transfer")).toEqual([]);
      expect(r.state.status).toBe("released");
      // The customer gets 20.00 back in all (10.00 by the bank, 10.00 owed): the seller keeps 72.00.
      expect(books(r)).toMatchObject({
        holdMinor: 0,
        sellerPayableMinor: 0,
        sellerMinor: 7_200,
        feesMinor: 800,
        refundedMinor: 0,
        disputeLostMinor: 1_000,
        owedToCustomerMinor: 1_000,
      });
    });
  },
);

describe("a refund made while holding, failed after its success while the release's transfer is in flight, then a dispute lost for less than it", () => {
  /** The refund of 20.00 succeeded, the release's transfer of 72.00 asked for; the refund failed, the dispute lost for 10.00. */
  const lostInFlight = () => {
    const refunded = run(start(), [
      paid,
      { type: "confirm_fulfilled" },
      { type: "refund", by: "a", amountMinor: 2_000 },
      heldRefundSucceeded(),
    ]);
    const r = run(
      refunded,
      [{ type: "timer", timer: { kind: "release_due" } }, failedLater, opened(1_000), lost(1_000)],
      LATER,
    );
    expect(r.state.status).toBe("releasing");
    return r;
  };

  it("the transfer lands: the rest is owed outside Stripe from where the money is, nobody is reversed", () => {
    const r = run(lostInFlight(), [{ type: "transfer_created", attempt: 1, transferId: "tr_1" }], LATER);
    expect(r.state.refunds).toMatchObject([
      { number: 1, status: "superseded_by_dispute" },
      { number: 2, amountMinor: 1_000, status: "owed_outside_stripe" },
    ]);
    expect(ofKind(r.effects, "reverse_transfer")).toEqual([]);
    expect(r.state.status).toBe("released");
    expect(books(r)).toMatchObject({
      holdMinor: 0,
      sellerPayableMinor: 0,
      sellerMinor: 7_200,
      feesMinor: 800,
      refundedMinor: 0,
      disputeLostMinor: 1_000,
      owedToCustomerMinor: 1_000,
    });
  });

  it("the transfer fails: the retried transfer pays the seller what is theirs, and the books end the same", () => {
    const failed = run(
      lostInFlight(),
      [{ type: "transfer_failed", attempt: 1, failureCode: "balance_insufficient" }],
      LATER,
    );
    const r = run(
      failed,
      [
        { type: "timer", timer: { kind: "retry_transfer", attempt: 2 } },
        { type: "transfer_created", attempt: 2, transferId: "tr_1" },
      ],
      LATER,
    );
    expect(ofKind(r.effects, "transfer").at(-1)).toMatchObject({ amountMinor: 7_200 });
    expect(ofKind(r.effects, "reverse_transfer")).toEqual([]);
    expect(r.state.status).toBe("released");
    expect(books(r)).toMatchObject({
      holdMinor: 0,
      sellerPayableMinor: 0,
      sellerMinor: 7_200,
      feesMinor: 800,
      refundedMinor: 0,
      disputeLostMinor: 1_000,
      owedToCustomerMinor: 1_000,
    });
  });
});
