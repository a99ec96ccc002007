// The held payment's over-reversal (a refund made before the seller was paid, the transfer made
// less the refund, the refund failed by Stripe after its success, then a dispute lost: the loss
// reversed the seller for the refund's seller part they were never paid) has no marketplace
// twin: a split's sellers are paid before anything can be refunded (`transfers_pending`), and the
// only refund made before — a late payment's — gives back the whole charge, so no seller is paid
// at all. These pin both, and that such a refund failed after its success, then a dispute lost,
// leaves every account of the charge at zero with no reversal asked of anyone.
import { describe, expect, it } from "vitest";
import {
  marketplaceBooks as books,
  closed,
  created,
  created1,
  dispute,
  effectsOfKind as of,
  paid,
  marketplaceTestPolicy as policy,
  refund,
  refundFailed,
  refundOk,
  run,
  splitCommand,
  T0,
} from "../testing/marketplace-charge-mothers.js";
import { decideMarketplaceCharge } from "./decide.js";
import type { MarketplaceChargeInput } from "./marketplace-charge-input.js";

const failedLater = (n = 1, attempt = 1): MarketplaceChargeInput => refundFailed("declined", n, attempt);

describe("a split charge refunded before its sellers are paid", () => {
  it("is refused while any seller's transfer has not landed: no transfer is ever made less a refund", () => {
    const paying = run(created(splitCommand), [paid()]);
    expect(of(paying.effects, "transfer")).toHaveLength(3);
    const partly = run(paying.state, [created1("sel_a")]);
    for (const s of [paying.state, partly.state])
      expect(
        decideMarketplaceCharge(s, refund(2_000) as Extract<MarketplaceChargeInput, { type: "refund" }>, {
          now: T0,
          policy,
        }),
      ).toMatchObject({ error: { code: "transfers_pending" } });
  });

  it("a late payment's whole refund, failed after its success, then a dispute lost: nobody is reversed, every account ends at zero", () => {
    const late = run(created(splitCommand), [
      { type: "payment_failed", paymentIntentId: "pi_1", failureCode: "card_declined" },
      paid(),
    ]);
    expect(late.state.refunds).toMatchObject([{ number: 1, amountMinor: 10_001, unsplit: true }]);
    const r = run(late.state, [refundOk(1), failedLater(), dispute(10_001), closed("lost", 10_001)]);
    const all = [...late.effects, ...r.effects];
    expect(r.state.refunds).toMatchObject([{ number: 1, status: "superseded_by_dispute" }]);
    // (it ended `refunded` with the refund's success, and a charge that ended stays so)
    expect(r.state.disputes[0]).toMatchObject({ status: "lost", lostMinor: 10_001, lossBooked: true });
    expect(of(all, "transfer")).toEqual([]);
    expect(of(all, "reverse_transfer")).toEqual([]);
    expect(books(all, r.state)).toMatchObject({
      paidInMinor: 10_001,
      platformFundedMinor: 0,
      inFlightMinor: 0,
      sellerPayableMinor: 0,
      sellersMinor: 0,
      feesMinor: 0,
      refundedMinor: 0,
      disputeLostMinor: 10_001,
      owedToCustomerMinor: 0,
    });
  });
});
