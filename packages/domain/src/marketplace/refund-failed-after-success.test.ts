// A refund Stripe reported succeeded, then failed (the refund object moves succeeded →
// failed: the card could not take it, and the money came back to the platform's balance),
// with no dispute. What the refund's postings took back is undone — the books no longer say the
// customer has the money — while what Stripe did with it stays done: a destination charge's
// reversal of the seller's transfer and fee refund to the seller, a split's reversals. The
// refund waits like one that failed at once: the admins' `retry_refund` asks Stripe again for
// the refund alone (its success posts it again, under the attempt's ids), or, when Stripe
// cannot take it (a dispute lost meanwhile: `charge_disputed`), it is owed outside Stripe.
import { describe, expect, it } from "vitest";
import {
  allCreated,
  marketplaceBooks as books,
  closed,
  created,
  dispute,
  effectsOfKind as of,
  paid,
  refund,
  refundFailed,
  refundOk,
  reversed,
  run,
  splitCommand,
} from "../testing/marketplace-charge-mothers.js";
import type { MarketplaceChargeEffect } from "./marketplace-charge-effect.js";
import type { MarketplaceChargeInput } from "./marketplace-charge-input.js";

/** Stripe fails attempt `attempt` of refund `n` after its success. */
const failedLater = (n = 1, attempt = 1): MarketplaceChargeInput => refundFailed("declined", n, attempt);
const retry: MarketplaceChargeInput = { type: "retry_refund", by: "admin_1" };
const postingIds = (effects: readonly MarketplaceChargeEffect[]) =>
  of(effects, "post_ledger").map((e) => e.id);

describe("a destination charge's refund Stripe fails after its success, with no dispute", () => {
  // The platform's refund: the seller's transfer reversed and the fee refunded to them with it.
  const refundedThenFailed = () => run(created(), [paid(), refund(3_000), refundOk(1), failedLater()]);

  it("undoes the refund's posting; the reversal and the fee refund Stripe made stay", () => {
    const before = run(created(), [paid(), refund(3_000), refundOk(1)]);
    const r = refundedThenFailed();
    const afterRefund = books(before.effects, before.state);
    const reversalMinor = r.state.refunds[0]?.parts.sellerPartsMinor[0] ?? 0;
    expect(reversalMinor).toBeGreaterThan(0);
    expect(r.state.refunds).toMatchObject([
      { number: 1, status: "failed", ledgerPosted: false, failedAfterSuccess: 1, refundId: "re_1_1" },
    ]);
    expect(postingIds(r.last.effects)).toEqual(["mc1:refund:1:attempt:1:ledger:failed"]);
    expect(of(r.last.effects, "post_ledger")[0]?.transaction).toMatchObject({
      kind: "marketplace_refund_failed",
      refs: { refundId: "re_1_1", marketplaceChargeId: "mc1" },
    });
    expect(books(r.effects, r.state)).toMatchObject({
      refundedMinor: 0,
      // The seller's part Stripe reversed with the refund is with the platform.
      inFlightMinor: reversalMinor,
      sellersMinor: afterRefund.sellersMinor,
      feesMinor: afterRefund.feesMinor,
      platformFundedMinor: 0,
    });
    expect(of(r.last.effects, "open_ticket")[0]?.summary).toContain("no longer shows it refunded");
  });

  it("the admins' retry asks for the refund alone; its success posts it again, under the attempt's id", () => {
    const before = run(created(), [paid(), refund(3_000), refundOk(1)]);
    const retried = run(refundedThenFailed().state, [retry]);
    expect(of(retried.last.effects, "refund")).toMatchObject([
      {
        id: "mc1:refund:1:attempt:2",
        amountMinor: 3_000,
        reverseTransfer: false,
        refundApplicationFee: false,
      },
    ]);
    const done = run(retried.state, [refundOk(1, 2)]);
    expect(postingIds(done.last.effects)).toEqual(["mc1:refund:1:attempt:2:ledger"]);
    const all = [...refundedThenFailed().effects, ...retried.effects, ...done.effects];
    expect(books(all, done.state)).toEqual(books(before.effects, before.state));
  });
});

describe("a split's refund Stripe fails after its success, with no dispute", () => {
  const settledSplit = () => run(created(splitCommand), [paid(), ...allCreated]);
  const refundedSplit = () => {
    const asked = run(settledSplit().state, [refund(2_000)]);
    const landed = run(
      asked.state,
      of(asked.effects, "reverse_transfer").map((e) => reversed(e.reversal, e.amountMinor)),
    );
    const ok = run(landed.state, [refundOk(1)]);
    return {
      state: ok.state,
      effects: [...settledSplit().effects, ...asked.effects, ...landed.effects, ...ok.effects],
    };
  };

  it("undoes the refund and the fee given toward it; the sellers' reversals stay landed, the retry asks for the refund alone", () => {
    const refunded = refundedSplit();
    const refundedBooks = books(refunded.effects, refunded.state);
    expect(refundedBooks).toMatchObject({ refundedMinor: 2_000, inFlightMinor: 0 });
    const failed = run(refunded.state, [failedLater()]);
    const feePart = refunded.state.refunds[0]?.parts.feePartMinor ?? 0;
    expect(feePart).toBeGreaterThan(0);
    const failedBooks = books([...refunded.effects, ...failed.effects], failed.state);
    expect(failedBooks).toMatchObject({
      refundedMinor: 0,
      // The sellers' reversed parts are with the platform; the fee part is the fee's again.
      inFlightMinor: 2_000 - feePart,
      feesMinor: refundedBooks.feesMinor + feePart,
      sellersMinor: refundedBooks.sellersMinor,
    });
    const retried = run(failed.state, [retry]);
    expect(retried.last.effects.map((e) => e.kind)).toEqual(["refund", "schedule_timer"]);
    const done = run(retried.state, [refundOk(1, 2)]);
    expect(postingIds(done.last.effects)).toEqual([
      "mc2:refund:1:attempt:2:ledger:fee_refunded",
      "mc2:refund:1:attempt:2:ledger",
    ]);
    expect(
      books([...refunded.effects, ...failed.effects, ...retried.effects, ...done.effects], done.state),
    ).toEqual(refundedBooks);
  });
});

describe("a destination refund Stripe fails after its success, then a dispute lost", () => {
  it("the loss supersedes it and counts the reversal Stripe made with it: the seller is not reversed twice", () => {
    const failed = run(created(), [paid(), refund(), refundOk(1), failedLater()]);
    // Refunded in full, then not: the refund is outstanding again.
    expect(failed.state.status).toBe("refunding");
    const reversalMinor = failed.state.refunds[0]?.parts.sellerPartsMinor[0] ?? 0;
    const l = run(failed.state, [dispute(10_000), closed("lost", 10_000)]);
    // The refund never reached the customer: the bank's return ends it.
    expect(l.state.status).toBe("charged_back");
    expect(l.state.refunds).toMatchObject([{ number: 1, status: "superseded_by_dispute" }]);
    expect(l.state.disputes[0]).toMatchObject({ status: "lost", lostMinor: 10_000, lossBooked: true });
    // Only what the refund's reversal did not bring back is reversed for the loss.
    const lossReversals = of(l.effects, "reverse_transfer").reduce((sum, e) => sum + e.amountMinor, 0);
    const lossSellerPart = l.state.disputes[0]?.parts?.sellerPartsMinor[0] ?? 0;
    expect(lossReversals).toBe(Math.max(0, lossSellerPart - reversalMinor));
    expect(of(l.effects, "refund")).toEqual([]);
    const landed = run(
      l.state,
      of(l.effects, "reverse_transfer").map((e) => reversed(e.reversal, e.amountMinor)),
    );
    expect(books([...failed.effects, ...l.effects, ...landed.effects], landed.state)).toMatchObject({
      refundedMinor: 0,
      disputeLostMinor: 10_000,
      inFlightMinor: 0,
      owedToCustomerMinor: 0,
    });
  });

  it("after a lost dispute it is owed outside Stripe at once", () => {
    const l = run(created(), [
      paid(),
      refund(3_000),
      refundOk(1),
      dispute(4_000),
      closed("lost", 4_000),
      failedLater(),
    ]);
    expect(l.state.refunds).toMatchObject([{ number: 1, status: "owed_outside_stripe", ledgerPosted: true }]);
    expect(postingIds(l.last.effects)).toEqual([
      "mc1:refund:1:attempt:1:ledger:failed",
      "mc1:refund:1:ledger:owed",
    ]);
    // The seller's part was reversed with the refund already: nothing more is asked of them.
    expect(of(l.last.effects, "reverse_transfer")).toEqual([]);
    expect(of(l.last.effects, "refund")).toEqual([]);
    expect(books(l.effects, l.state)).toMatchObject({ refundedMinor: 0, owedToCustomerMinor: 3_000 });
  });
});

describe("a destination refund Stripe fails after its success, then a dispute lost for less than it", () => {
  // Stripe reversed the seller's transfer and refunded the fee to them with the refund; both
  // stay. The rest of the refund beyond the loss is owed outside Stripe: its money is the
  // reversal the platform holds (in flight), not the fee again — the fee was refunded already.
  it.each([
    { refundMinor: undefined, lossMinor: 4_000, owedMinor: 6_000, feesMinor: 0 },
    { refundMinor: undefined, lossMinor: 9_000, owedMinor: 1_000, feesMinor: 0 },
    { refundMinor: 3_000, lossMinor: 1_000, owedMinor: 2_000, feesMinor: 700 },
  ])(
    "refund $refundMinor, loss $lossMinor: the fee stays $feesMinor, nothing stays in flight, $owedMinor owed",
    ({ refundMinor, lossMinor, owedMinor, feesMinor }) => {
      const failed = run(created(), [paid(), refund(refundMinor), refundOk(1), failedLater()]);
      const l = run(failed.state, [dispute(lossMinor), closed("lost", lossMinor)]);
      expect(l.state.refunds).toMatchObject([
        { number: 1, status: "superseded_by_dispute" },
        { number: 2, amountMinor: owedMinor, status: "owed_outside_stripe" },
      ]);
      // The reversal Stripe made with the refund covers the loss and the rest: nothing more is reversed.
      expect(of(l.effects, "reverse_transfer")).toEqual([]);
      expect(books([...failed.effects, ...l.effects], l.state)).toMatchObject({
        inFlightMinor: 0,
        feesMinor,
        sellersMinor: refundMinor === undefined ? 0 : 9_000 - 3_000 + 300,
        refundedMinor: 0,
        disputeLostMinor: lossMinor,
        owedToCustomerMinor: owedMinor,
        platformFundedMinor: 0,
      });
    },
  );
});

describe("a charge refunded in full whose refund Stripe fails after its success", () => {
  it("reads refunding again, not refunded, until a retry reaches the customer", () => {
    const full = run(created(), [paid(), refund(), refundOk(1)]);
    expect(full.state.status).toBe("refunded");
    expect(full.state.endedAt).toBeDefined();
    const failed = run(full.state, [failedLater()]);
    expect(failed.state.status).toBe("refunding");
    expect(failed.state.endedAt).toBeUndefined();
    const retried = run(failed.state, [retry]);
    expect(retried.state.status).toBe("refunding");
    const done = run(retried.state, [refundOk(1, 2)]);
    expect(done.state.status).toBe("refunded");
    expect(done.state.endedAt).toBeDefined();
  });
});
