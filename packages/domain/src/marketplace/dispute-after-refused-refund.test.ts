// A refund Stripe refused because the customer had already charged back
// (`charge_disputed`), then the dispute lost: the refund moved no money, so the loss is
// booked in full and the refund is superseded (the held payment's review finding, here).
import { describe, expect, it } from "vitest";
import { checkLedgerInvariants, checkMarketplaceMoney } from "../ledger/index.js";
import {
  closed,
  created,
  dispute,
  ledgerOf,
  paid,
  marketplaceTestPolicy as policy,
  refund,
  refundOk,
  reversed,
  run,
} from "../testing/marketplace-charge-mothers.js";
import { decideMarketplaceCharge, disputedSellerPartsMinor } from "./decide.js";
import { type MarketplaceCharge, marketplaceRefundableMinor } from "./marketplace-charge.js";
import type { MarketplaceChargeEffect } from "./marketplace-charge-effect.js";
import type { MarketplaceChargeInput } from "./marketplace-charge-input.js";

const refusedDisputed = (n = 1, attempt = 1): MarketplaceChargeInput => ({
  type: "refund_failed",
  refund: n,
  attempt,
  failureCode: "charge_disputed",
});

function books(effects: readonly MarketplaceChargeEffect[], charge: MarketplaceCharge) {
  const ledger = ledgerOf(effects);
  expect(checkLedgerInvariants(ledger).isOk()).toBe(true);
  return checkMarketplaceMoney(
    ledger,
    charge.id,
    charge.sellers.map((s) => s.id),
    charge.currency,
  )._unsafeUnwrap();
}

const of = <K extends MarketplaceChargeEffect["kind"]>(
  effects: readonly MarketplaceChargeEffect[],
  kind: K,
) => effects.filter((e): e is Extract<MarketplaceChargeEffect, { kind: K }> => e.kind === kind);

describe("a destination charge's refund refused because the charge was disputed, then the dispute lost", () => {
  it("the whole loss is booked and reversed from the seller, the refund superseded, the charge charged back", () => {
    const settled = run(created(), [paid()]);
    const refusing = run(settled.state, [refund(), refusedDisputed(), dispute(10_000)]);
    expect(refusing.state.status).toBe("refunding");
    // Were the open dispute lost, the seller's transfer would give it all back.
    expect(disputedSellerPartsMinor(refusing.state).get("sel_a")).toBe(10_000);
    const l = run(refusing.state, [closed("lost", 10_000)]);
    expect(l.state.status).toBe("charged_back");
    expect(l.state.disputes[0]).toMatchObject({ lostMinor: 10_000, lossBooked: true });
    expect(l.state.refunds).toMatchObject([
      { number: 1, status: "superseded_by_dispute", supersededBy: "dp_1", failureCode: "charge_disputed" },
    ]);
    expect(of(l.effects, "reverse_transfer").map((r) => [r.transferId, r.amountMinor])).toEqual([
      ["tr_dest", 10_000],
    ]);
    expect(marketplaceRefundableMinor(l.state)).toBe(0);
    const all = [...settled.effects, ...refusing.effects, ...l.effects];
    expect(books(all, l.state)).toMatchObject({ disputeLostMinor: 10_000, platformFundedMinor: 0 });
    const landed = run(l.state, [reversed(1, 10_000)]);
    // The books end as if no refund had been asked for: the same loss, reversed the same way.
    const plain = run(settled.state, [dispute(10_000), closed("lost", 10_000), reversed(1, 10_000)]);
    expect(plain.state.status).toBe("charged_back");
    const withRefund = books([...all, ...landed.effects], l.state);
    expect(withRefund).toEqual(books([...settled.effects, ...plain.effects], plain.state));
    expect(withRefund).toMatchObject({ disputeLostMinor: 10_000, inFlightMinor: 0, refundedMinor: 0 });
    expect(
      decideMarketplaceCharge(l.state, { type: "retry_refund", by: "a" }, { now: l.state.createdAt, policy }),
    ).toMatchObject({ error: { code: "no_failed_refund" } });
  });

  it("a partial loss: booked, and the rest of the refund asked for again under a new number", () => {
    const settled = run(created(), [paid()]);
    const l = run(settled.state, [refund(), refusedDisputed(), dispute(6_000), closed("lost", 6_000)]);
    expect(l.state.status).toBe("refunding");
    expect(l.state.refunds).toMatchObject([
      { number: 1, status: "superseded_by_dispute" },
      { number: 2, amountMinor: 4_000, status: "requested", full: true, initiatedBy: "platform" },
    ]);
    expect(of(l.last.effects, "refund")).toMatchObject([
      { id: "mc1:refund:2:attempt:1", amountMinor: 4_000 },
    ]);
    const done = run(l.state, [reversed(1, 6_000), refundOk(2)]);
    expect(done.state.status).toBe("refunded");
    const m = books([...settled.effects, ...l.effects, ...done.effects], done.state);
    expect(m).toMatchObject({
      disputeLostMinor: 6_000,
      refundedMinor: 4_000,
      sellersMinor: 0,
      inFlightMinor: 0,
    });
  });
});
