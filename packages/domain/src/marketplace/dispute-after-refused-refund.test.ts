// A refund Stripe refused because the customer had already charged back
// (`charge_disputed`), then the dispute lost: the refund never reached the customer, so the
// loss is booked in full and the refund is superseded (the held payment's review finding, here).
import { describe, expect, it } from "vitest";
import {
  allCreated,
  marketplaceBooks as books,
  closed,
  created,
  dispute,
  effectsOfKind as of,
  paid,
  marketplaceTestPolicy as policy,
  refund,
  refundFailed,
  refundOk,
  reversed,
  run,
  splitCommand,
} from "../testing/marketplace-charge-mothers.js";
import { decideMarketplaceCharge, disputedSellerPartsMinor } from "./decide.js";
import { type MarketplaceCharge, marketplaceRefundableMinor } from "./marketplace-charge.js";
import type { MarketplaceChargeInput } from "./marketplace-charge-input.js";

const refusedDisputed = (n = 1, attempt = 1): MarketplaceChargeInput =>
  refundFailed("charge_disputed", n, attempt);

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

  it("a partial loss: booked, and the rest, which Stripe would refuse, owed outside Stripe (partial-loss-owed.test.ts)", () => {
    const settled = run(created(), [paid()]);
    const l = run(settled.state, [refund(), refusedDisputed(), dispute(6_000), closed("lost", 6_000)]);
    expect(l.state.status).toBe("charged_back");
    expect(l.state.refunds).toMatchObject([
      { number: 1, status: "superseded_by_dispute" },
      { number: 2, amountMinor: 4_000, status: "owed_outside_stripe", full: true, initiatedBy: "platform" },
    ]);
    expect(of(l.last.effects, "refund")).toEqual([]);
    const done = run(
      l.state,
      l.state.reversals.map((rv) => reversed(rv.number, rv.amountMinor)),
    );
    const m = books([...settled.effects, ...l.effects, ...done.effects], done.state);
    expect(m).toMatchObject({
      disputeLostMinor: 6_000,
      owedToCustomerMinor: 4_000,
      refundedMinor: 0,
      sellersMinor: 0,
      inFlightMinor: 0,
    });
  });
});

describe("a split charge's refund whose sellers' reversals landed, refused because the charge was disputed, then the dispute lost", () => {
  const refused = (disputedMinor: number) => {
    const settled = run(created(splitCommand), [paid(), ...allCreated]);
    const asked = run(settled.state, [refund()]);
    const landed = run(
      asked.state,
      asked.state.reversals.map((rv) => reversed(rv.number, rv.amountMinor)),
    );
    const r = run(landed.state, [dispute(disputedMinor), refusedDisputed()]);
    return {
      state: r.state,
      effects: [...settled.effects, ...asked.effects, ...landed.effects, ...r.effects],
    };
  };

  it("the reviewer's case: the refund is superseded, the whole loss booked, the reversals that landed count toward it", () => {
    const r = refused(10_001);
    expect(r.state.reversals.map((x) => x.amountMinor)).toEqual([4_501, 2_250, 2_250]);
    expect(books(r.effects, r.state)).toMatchObject({ inFlightMinor: 9_001, sellersMinor: 0 });
    // Were the open dispute lost, no seller would owe more: the platform holds their parts.
    expect([...disputedSellerPartsMinor(r.state).values()].filter((m) => m > 0)).toEqual([]);
    const l = run(r.state, [closed("lost", 10_001)]);
    expect(l.state.status).toBe("charged_back");
    expect(l.state.refunds).toMatchObject([
      { number: 1, status: "superseded_by_dispute", supersededBy: "dp_1", failureCode: "charge_disputed" },
    ]);
    expect(l.state.disputes[0]).toMatchObject({ lostMinor: 10_001, lossBooked: true });
    // No seller is reversed twice.
    expect(of(l.effects, "reverse_transfer")).toEqual([]);
    expect(l.state.reversals).toHaveLength(3);
    expect(books([...r.effects, ...l.effects], l.state)).toMatchObject({
      inFlightMinor: 0,
      sellersMinor: 0,
      feesMinor: 0,
      refundedMinor: 0,
      disputeLostMinor: 10_001,
      platformFundedMinor: 0,
    });
    expect(
      decideMarketplaceCharge(l.state, { type: "retry_refund", by: "a" }, { now: l.state.createdAt, policy }),
    ).toMatchObject({ error: { code: "no_failed_refund" } });
  });

  it("a partial loss: the reversals that landed cover the loss's parts and the rest's, owed outside Stripe without reversing again", () => {
    const r = refused(6_000);
    const l = run(r.state, [closed("lost", 6_000)]);
    expect(l.state.refunds).toMatchObject([
      { number: 1, status: "superseded_by_dispute" },
      { number: 2, amountMinor: 4_001, status: "owed_outside_stripe", full: true },
    ]);
    expect(of(l.effects, "reverse_transfer")).toEqual([]);
    expect(of(l.effects, "refund")).toEqual([]);
    expect(l.state.status).toBe("charged_back");
    expect(books([...r.effects, ...l.effects], l.state)).toMatchObject({
      inFlightMinor: 0,
      sellersMinor: 0,
      feesMinor: 0,
      refundedMinor: 0,
      owedToCustomerMinor: 4_001,
      disputeLostMinor: 6_000,
      platformFundedMinor: 0,
    });
  });
});

describe("a split charge's refund with a seller's reversal failed (the others landed), then a dispute lost", () => {
  const reversalFailed = (reversal: number): MarketplaceChargeInput => ({
    type: "transfer_reversal_failed",
    reversal,
    failureCode: "insufficient_funds",
  });
  // Refund 1 (everything) reverses 4,501 from sel_a (1), 2,250 from sel_b (2) and 2,250 from
  // sel_c (3): sel_a's and sel_c's land, sel_b's fails. The refund stays reversing.
  const stuck = (disputedMinor: number) => {
    const settled = run(created(splitCommand), [paid(), ...allCreated]);
    const r = run(settled.state, [
      refund(),
      reversed(1, 4_501),
      reversalFailed(2),
      reversed(3, 2_250),
      dispute(disputedMinor),
    ]);
    return { state: r.state, effects: [...settled.effects, ...r.effects] };
  };

  it("a full loss supersedes the refund, reverses only sel_b's part, books the loss, ends charged back", () => {
    const r = stuck(10_001);
    expect(r.state.refunds).toMatchObject([{ number: 1, status: "reversing", attempts: 0 }]);
    // Were the open dispute lost, only sel_b would still owe their part.
    expect(Object.fromEntries(disputedSellerPartsMinor(r.state))).toEqual({ sel_b: 2_250 });
    const l = run(r.state, [closed("lost", 10_001)]);
    expect(l.state.refunds).toMatchObject([
      { number: 1, status: "superseded_by_dispute", supersededBy: "dp_1", attempts: 0 },
    ]);
    expect(l.state.disputes[0]).toMatchObject({ lostMinor: 10_001, lossBooked: true });
    expect(l.state.status).toBe("charged_back");
    // sel_a's and sel_c's reversals for the refund count toward the loss; sel_b is asked once.
    expect(of(l.effects, "reverse_transfer").map((e) => [e.sellerId, e.amountMinor, e.reason])).toEqual([
      ["sel_b", 2_250, "dispute_lost"],
    ]);
    expect(of(l.effects, "refund")).toEqual([]);
    // The refund's failed reversal is not asked again: the loss's reversal replaces it.
    expect(
      decideMarketplaceCharge(
        l.state,
        { type: "retry_reversal", by: "a" },
        { now: l.state.createdAt, policy },
      ),
    ).toMatchObject({ error: { code: "no_failed_reversal" } });
    const landed = run(l.state, [reversed(4, 2_250)]);
    expect(books([...r.effects, ...l.effects, ...landed.effects], landed.state)).toMatchObject({
      inFlightMinor: 0,
      sellersMinor: 0,
      feesMinor: 0,
      refundedMinor: 0,
      disputeLostMinor: 10_001,
      platformFundedMinor: 0,
    });
  });

  it("a partial loss: the rest is owed outside Stripe, sel_b reversed for the loss's and the rest's parts, never twice", () => {
    const r = stuck(6_000);
    const l = run(r.state, [closed("lost", 6_000)]);
    expect(l.state.refunds).toMatchObject([
      { number: 1, status: "superseded_by_dispute" },
      { number: 2, amountMinor: 4_001, full: true, status: "owed_outside_stripe" },
    ]);
    expect(l.state.status).toBe("charged_back");
    expect(of(l.effects, "refund")).toEqual([]);
    expect(l.state.disputes[0]).toMatchObject({ lostMinor: 6_000, lossBooked: true });
    const asked = of(l.effects, "reverse_transfer");
    // Only sel_b, whose earlier reversal moved nothing, is reversed: for the loss and for the rest.
    expect(asked.every((e) => e.sellerId === "sel_b")).toBe(true);
    expect(asked.reduce((sum, e) => sum + e.amountMinor, 0)).toBe(2_250);
    const landed = run(
      l.state,
      asked.map((e) => reversed(e.reversal, e.amountMinor)),
    );
    expect(books([...r.effects, ...l.effects, ...landed.effects], landed.state)).toMatchObject({
      inFlightMinor: 0,
      sellersMinor: 0,
      feesMinor: 0,
      refundedMinor: 0,
      owedToCustomerMinor: 4_001,
      disputeLostMinor: 6_000,
      platformFundedMinor: 0,
    });
  });

  it("a reversal still in flight for the refund: the loss does not supersede it yet", () => {
    const settled = run(created(splitCommand), [paid(), ...allCreated]);
    const r = run(settled.state, [refund(), reversed(1, 4_501), reversalFailed(2), dispute(10_001)]);
    const l = run(r.state, [closed("lost", 10_001)]);
    expect(l.state.refunds).toMatchObject([{ number: 1, status: "reversing" }]);
  });
});

// Stripe refuses every refund of a charge charged back (`charge_disputed`; the dispute's
// `is_charge_refundable` is false once it is closed lost), whatever the amount it took.
describe("refunds after a partial loss", () => {
  const decided = (charge: MarketplaceCharge, input: MarketplaceChargeInput) =>
    decideMarketplaceCharge(charge, input, { now: charge.createdAt, policy });

  it("a refund is refused: charge_disputed", () => {
    const l = run(created(), [paid(), dispute(4_000), closed("lost", 4_000)]);
    expect(marketplaceRefundableMinor(l.state)).toBe(6_000);
    expect(decided(l.state, refund())).toMatchObject({ error: { code: "charge_disputed" } });
    expect(decided(l.state, refund(1_000, "customer"))).toMatchObject({ error: { code: "charge_disputed" } });
  });

  it("a refund that failed after it had succeeded is not asked again: it is owed outside Stripe (refund-failed-after-success.test.ts)", () => {
    const l = run(created(), [
      paid(),
      refund(3_000),
      refundOk(1),
      dispute(4_000),
      closed("lost", 4_000),
      { type: "refund_failed", refund: 1, attempt: 1, failureCode: "charge_disputed" },
    ]);
    expect(l.state.refunds.map((x) => x.status)).toEqual(["owed_outside_stripe"]);
    expect(decided(l.state, { type: "retry_refund", by: "a" })).toMatchObject({
      error: { code: "no_failed_refund" },
    });
  });

  it("after a won dispute refunds go on", () => {
    const l = run(created(), [paid(), dispute(4_000), closed("won", 4_000)]);
    expect(decided(l.state, refund(1_000)).isOk()).toBe(true);
  });
});
