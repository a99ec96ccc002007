// A destination charge's refund owed outside Stripe at once (the card could not take it) has its
// seller's net part reversed from their transfer. In a three-decimal currency Stripe takes
// amounts in steps of 10 only (the last digit 0), so the reversal is in whole steps too: the
// seller gives their net part to the nearest step, the fee the rest (found by the model test
// drawing KWD: a 0.090 refund reversed 0.078).
//
// 1.000 KWD at a 12.5 % fee (0.130): a 0.090 refund by the platform (the transfer reversed, the
// fee refunded: Stripe's proportion, 0.012).
import { describe, expect, it } from "vitest";
import {
  marketplaceBooks as books,
  created,
  destinationCommand,
  effectsOfKind as of,
  paid,
  refund,
  refundFailed,
  reversed,
  run,
} from "../testing/marketplace-charge-mothers.js";

const kwd = () =>
  created({
    ...destinationCommand,
    amountMinor: 1_000,
    currency: "KWD",
    fee: { kind: "rate", basisPoints: 1_250 },
  });

describe("a KWD destination refund owed outside Stripe at once", () => {
  it("reverses the seller's net part in whole steps, and the books close with nothing in flight", () => {
    const r = run(kwd(), [paid(), refund(90), refundFailed("expired_or_canceled_card")]);
    expect(r.state.refunds).toMatchObject([{ amountMinor: 90, status: "owed_outside_stripe" }]);
    const reversals = of(r.last.effects, "reverse_transfer");
    expect(reversals.map((e) => e.amountMinor)).toEqual([80]);
    const landed = run(
      r.state,
      reversals.map((e) => reversed(e.reversal, e.amountMinor)),
    );
    expect(books([...r.effects, ...landed.effects], landed.state)).toMatchObject({
      inFlightMinor: 0,
      owedToCustomerMinor: 90,
      feesMinor: 120,
      sellersMinor: 790,
      platformFundedMinor: 0,
    });
  });
});
