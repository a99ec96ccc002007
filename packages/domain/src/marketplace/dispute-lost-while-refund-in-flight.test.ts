// A dispute closed lost while a refund was still in flight: at Stripe (pending), or a split
// refund whose sellers' reversals are still on their way. Stripe fails a refund still
// pending when its charge is disputed (`charge_for_pending_refund_disputed`) and refuses a
// new one on a charge charged back (`charge_disputed`). Whatever comes, the charge ends as if
// the refund's outcome had been heard before the closure: the loss booked once, no seller
// reversed twice, never stuck refunding.
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
import { decideMarketplaceCharge } from "./decide.js";
import { type MarketplaceCharge, marketplaceRefundableMinor } from "./marketplace-charge.js";
import type { MarketplaceChargeEffect } from "./marketplace-charge-effect.js";
import type { MarketplaceChargeInput } from "./marketplace-charge-input.js";

const reversalFailed = (reversal: number): MarketplaceChargeInput => ({
  type: "transfer_reversal_failed",
  reversal,
  failureCode: "insufficient_funds",
});

const retried = (charge: MarketplaceCharge) =>
  decideMarketplaceCharge(charge, { type: "retry_refund", by: "a" }, { now: charge.createdAt, policy });

describe("a destination charge's refund pending at Stripe when the dispute is lost", () => {
  const pendingThenLost = () => {
    const settled = run(created(), [paid()]);
    const l = run(settled.state, [refund(), dispute(10_000), closed("lost", 10_000)]);
    return { state: l.state, effects: [...settled.effects, ...l.effects] };
  };

  it("then failed by Stripe: the whole loss is booked and reversed from the seller once, the refund superseded, charged back", () => {
    const l = pendingThenLost();
    const r = run(l.state, [refundFailed("charge_for_pending_refund_disputed")]);
    expect(r.state.status).toBe("charged_back");
    expect(r.state.disputes[0]).toMatchObject({ status: "lost", lostMinor: 10_000, lossBooked: true });
    expect(r.state.refunds).toMatchObject([
      { number: 1, status: "superseded_by_dispute", supersededBy: "dp_1" },
    ]);
    const effects = [...l.effects, ...r.effects];
    expect(of(effects, "reverse_transfer").map((e) => [e.transferId, e.amountMinor, e.reason])).toEqual([
      ["tr_dest", 10_000, "dispute_lost"],
    ]);
    expect(of(effects, "refund")).toHaveLength(1);
    const landed = run(r.state, [reversed(1, 10_000)]);
    expect(books([...effects, ...landed.effects], landed.state)).toMatchObject({
      disputeLostMinor: 10_000,
      refundedMinor: 0,
      inFlightMinor: 0,
      platformFundedMinor: 0,
    });
    expect(marketplaceRefundableMinor(r.state)).toBe(0);
    expect(retried(r.state)).toMatchObject({ error: { code: "no_failed_refund" } });
  });

  it("then reported succeeded: the refund counts, the loss takes nothing, refunded", () => {
    const l = pendingThenLost();
    const r = run(l.state, [refundOk(1)]);
    expect(r.state.status).toBe("refunded");
    expect(r.state.disputes[0]).toMatchObject({ status: "lost", lostMinor: 0, lossBooked: true });
    expect(of([...l.effects, ...r.effects], "reverse_transfer")).toEqual([]);
    expect(books([...l.effects, ...r.effects], r.state)).toMatchObject({
      refundedMinor: 10_000,
      disputeLostMinor: 0,
      inFlightMinor: 0,
    });
  });
});

describe("a split charge's refund with a seller's reversal in flight when the dispute is lost", () => {
  // Refund 1 (everything) reverses 4,501 from sel_a (1), 2,250 from sel_b (2) and 2,250 from
  // sel_c (3): sel_a's and sel_c's land, sel_b's is still in flight when the dispute is lost.
  const inFlightThenLost = () => {
    const settled = run(created(splitCommand), [paid(), ...allCreated]);
    const l = run(settled.state, [
      refund(),
      reversed(1, 4_501),
      reversed(3, 2_250),
      dispute(10_001),
      closed("lost", 10_001),
    ]);
    return { state: l.state, effects: [...settled.effects, ...l.effects] };
  };

  it("sel_b's reversal lands (the refund Stripe then refuses): the loss is booked, no seller reversed twice, charged back", () => {
    const l = inFlightThenLost();
    const landed = run(l.state, [reversed(2, 2_250)]);
    const refusals = of(landed.effects, "refund").map((e) =>
      refundFailed("charge_disputed", e.refund, e.attempt),
    );
    const r = run(landed.state, refusals);
    expect(r.state.status).toBe("charged_back");
    expect(r.state.disputes[0]).toMatchObject({ lostMinor: 10_001, lossBooked: true });
    expect(r.state.refunds.map((x) => x.status)).toEqual(["superseded_by_dispute"]);
    const effects = [...l.effects, ...landed.effects, ...r.effects];
    // Each seller's part came back once, with the refund's reversals; the loss asks for none.
    expect(of(effects, "reverse_transfer").map((e) => [e.sellerId, e.amountMinor, e.reason])).toEqual([
      ["sel_a", 4_501, "refund"],
      ["sel_b", 2_250, "refund"],
      ["sel_c", 2_250, "refund"],
    ]);
    expect(books(effects, r.state)).toMatchObject({
      inFlightMinor: 0,
      sellersMinor: 0,
      feesMinor: 0,
      refundedMinor: 0,
      disputeLostMinor: 10_001,
      platformFundedMinor: 0,
    });
    expect(retried(r.state)).toMatchObject({ error: { code: "no_failed_refund" } });
  });

  it("sel_b's reversal fails: the refund is superseded, sel_b reversed once for the loss, charged back", () => {
    const l = inFlightThenLost();
    const r = run(l.state, [reversalFailed(2)]);
    expect(r.state.status).toBe("charged_back");
    expect(r.state.refunds.map((x) => x.status)).toEqual(["superseded_by_dispute"]);
    expect(r.state.disputes[0]).toMatchObject({ lostMinor: 10_001, lossBooked: true });
    expect(of(r.effects, "reverse_transfer").map((e) => [e.sellerId, e.amountMinor, e.reason])).toEqual([
      ["sel_b", 2_250, "dispute_lost"],
    ]);
    const landed = run(r.state, [reversed(4, 2_250)]);
    expect(books([...l.effects, ...r.effects, ...landed.effects], landed.state)).toMatchObject({
      inFlightMinor: 0,
      sellersMinor: 0,
      feesMinor: 0,
      refundedMinor: 0,
      disputeLostMinor: 10_001,
      platformFundedMinor: 0,
    });
  });
});

// `charge.dispute.closed` closes a dispute; `charge.dispute.updated` reporting `lost` does not.
describe("an update reporting lost while a refund is pending", () => {
  it("the refund's failure closes nothing; the closure's amount is the loss", () => {
    const settled = run(created(), [paid()]);
    const pending = run(settled.state, [
      refund(3_000),
      dispute(10_000),
      { type: "dispute_updated", disputeId: "dp_1", stripeStatus: "lost" },
    ]);
    const failed = run(pending.state, [refundFailed("charge_for_pending_refund_disputed")]);
    expect(failed.state.disputes[0]).toMatchObject({ status: "open" });
    const r = run(failed.state, [closed("lost", 8_000)]);
    expect(r.state.disputes[0]).toMatchObject({ status: "lost", lostMinor: 8_000, lossBooked: true });
    expect(r.state.refunds.map((x) => x.status)).toEqual(["superseded_by_dispute"]);
    expect(of(r.effects, "reverse_transfer").map((e) => [e.amountMinor, e.reason])).toEqual([
      [8_000, "dispute_lost"],
    ]);
  });
});

// The outcome that closes a loss that waited supersedes the refund in the same decision:
// nothing is left to retry, so no "retry it" ticket or notice goes out with it.
describe("the outcome that closes a waiting loss and supersedes its refund", () => {
  const asks = (effects: readonly MarketplaceChargeEffect[]) => ({
    tickets: effects.filter((e) => e.kind === "open_ticket").map((e) => e.reason),
    notices: effects.filter((e) => e.kind === "notify").map((e) => e.template),
  });

  it("a refund failed: no refund_failed ticket or notice", () => {
    const settled = run(created(), [paid()]);
    const l = run(settled.state, [refund(), dispute(10_000), closed("lost", 10_000)]);
    const r = run(l.state, [refundFailed("charge_for_pending_refund_disputed")]);
    expect(r.state.refunds.map((x) => x.status)).toEqual(["superseded_by_dispute"]);
    expect(asks(r.effects).tickets).toEqual([]);
    expect(asks(r.effects).notices).not.toContain("refund_failed");
  });

  it("a split refund's last seller reversal failed: no reversal_failed ticket asking to retry it", () => {
    const settled = run(created(splitCommand), [paid(), ...allCreated]);
    const l = run(settled.state, [
      refund(),
      reversed(1, 4_501),
      reversed(3, 2_250),
      dispute(10_001),
      closed("lost", 10_001),
    ]);
    const r = run(l.state, [reversalFailed(2)]);
    expect(r.state.refunds.map((x) => x.status)).toEqual(["superseded_by_dispute"]);
    expect(asks(r.effects).tickets).toEqual([]);
    expect(asks(r.effects).notices).not.toContain("reversal_failed");
  });
});

describe("a split charge paid after it failed (late money, refunded unsplit) and its dispute lost while that refund is pending", () => {
  // Found by the marketplace model with disputes: the loss waited for every co-host to be
  // paid, but a late payment pays none of them (its refund gives everything back from the
  // platform), so the charge stayed `refunding` with the loss never booked.
  const failedThenPaid = () =>
    run(created(splitCommand), [
      { type: "payment_failed", paymentIntentId: "pi_1", failureCode: "card_declined" },
      { type: "payment_succeeded", paymentIntentId: "pi_1", chargeId: "ch_1" },
    ]);

  it("the refund failed by Stripe: the whole loss is booked from the money the platform holds, nobody reversed, charged back", () => {
    const late = failedThenPaid();
    expect(late.state.status).toBe("refunding");
    const l = run(late.state, [dispute(10_001), closed("lost", 10_001)]);
    const r = run(l.state, [refundFailed("charge_for_pending_refund_disputed")]);
    expect(r.state.status).toBe("charged_back");
    expect(r.state.disputes[0]).toMatchObject({ status: "lost", lostMinor: 10_001, lossBooked: true });
    const effects = [...late.effects, ...l.effects, ...r.effects];
    expect(of(effects, "reverse_transfer")).toEqual([]);
    expect(books(effects, r.state)).toMatchObject({
      paidInMinor: 10_001,
      disputeLostMinor: 10_001,
      refundedMinor: 0,
      sellersMinor: 0,
      inFlightMinor: 0,
      sellerPayableMinor: 0,
    });
  });

  it("the refund went through before the closure: refunded, the loss took nothing", () => {
    const late = failedThenPaid();
    const l = run(late.state, [dispute(10_001), closed("lost", 10_001)]);
    const r = run(l.state, [refundOk(1)]);
    expect(r.state.status).toBe("refunded");
    expect(r.state.disputes[0]).toMatchObject({ status: "lost", lostMinor: 0, lossBooked: true });
  });
});
