// A refund in flight or failed, then a dispute for PART of the charge lost: the loss
// supersedes the refund, and the rest of it is still owed to the customer. Stripe refuses
// every refund of a charge charged back (`charge_disputed`; a dispute closed lost has
// `is_charge_refundable: false`), so susu never asks Stripe for it: the rest is booked as owed
// to the customer outside Stripe (`marketplace:<c>:owed_to_customer`), its sellers' parts are
// reversed as the refund's would have been, the admins get a ticket and a notice naming the
// amount, the currency and the customer, and the charge ends instead of staying `refunding`.
import { describe, expect, it } from "vitest";
import { marketplaceDisputeLost } from "../ledger/index.js";
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
  reversed,
  run,
  splitCommand,
} from "../testing/marketplace-charge-mothers.js";
import { decideMarketplaceCharge } from "./decide.js";
import { type MarketplaceCharge, marketplaceRefundableMinor } from "./marketplace-charge.js";
import type { MarketplaceChargeEffect } from "./marketplace-charge-effect.js";
import { marketplaceChargeIds } from "./marketplace-charge-ids.js";
import type { MarketplaceChargeInput } from "./marketplace-charge-input.js";

const refusedDisputed = (n = 1, attempt = 1): MarketplaceChargeInput =>
  refundFailed("charge_disputed", n, attempt);
const decided = (charge: MarketplaceCharge, input: MarketplaceChargeInput) =>
  decideMarketplaceCharge(charge, input, { now: charge.createdAt, policy });

function toldAdmins(effects: readonly MarketplaceChargeEffect[]) {
  return {
    tickets: of(effects, "open_ticket").filter((t) => t.reason === "refund_owed"),
    notices: of(effects, "notify").filter((n) => n.template === "refund_owed"),
  };
}

describe("a destination charge's whole refund, then a partial loss: the rest is owed outside Stripe", () => {
  const expectOwed = (settled: ReturnType<typeof run>, l: ReturnType<typeof run>) => {
    expect(of(l.last.effects, "refund")).toEqual([]);
    expect(l.state.status).toBe("charged_back");
    // The platform's refund (rules: reverse the transfer, give the fee back) of everything
    // left, 4,000: the fee left (1,000) is the platform's part, the seller's net part (3,000)
    // is reversed from the transfer — as the refund would have divided it.
    expect(l.state.refunds).toMatchObject([
      { number: 1, status: "superseded_by_dispute", supersededBy: "dp_1" },
      {
        number: 2,
        amountMinor: 4_000,
        status: "owed_outside_stripe",
        full: true,
        attempts: 0,
        ledgerPosted: true,
        parts: { sellerPartsMinor: [4_000], feePartMinor: 1_000, platformFundedMinor: 0 },
      },
    ]);
    expect(
      of(l.last.effects, "reverse_transfer").map((e) => [e.sellerId, e.transferId, e.amountMinor, e.reason]),
    ).toEqual([
      ["sel_a", "tr_dest", 3_000, "refund"],
      ["sel_a", "tr_dest", 6_000, "dispute_lost"],
    ]);
    expect(marketplaceRefundableMinor(l.state)).toBe(0);
    const told = toldAdmins(l.last.effects);
    expect(told.tickets).toMatchObject([{ id: "mc1:ticket:refund_owed:2" }]);
    expect(told.tickets[0]?.summary).toContain("40.00 AUD");
    expect(told.tickets[0]?.summary).toContain("cy@example.com");
    expect(told.notices).toMatchObject([
      {
        to: { kind: "platform_admins" },
        data: {
          refund: 2,
          amountMinor: 4_000,
          currency: "AUD",
          customerEmail: "cy@example.com",
          disputeId: "dp_1",
        },
      },
    ]);
    const revs = l.state.reversals.filter((rv) => rv.status === "requested");
    const landed = run(
      l.state,
      revs.map((rv) => reversed(rv.number, rv.amountMinor)),
    );
    expect(books([...settled.effects, ...l.effects, ...landed.effects], landed.state)).toMatchObject({
      inFlightMinor: 0,
      refundedMinor: 0,
      disputeLostMinor: 6_000,
      owedToCustomerMinor: 4_000,
      platformFundedMinor: 0,
      feesMinor: 0,
      sellersMinor: 0,
    });
    expect(decided(landed.state, { type: "retry_refund", by: "a" })).toMatchObject({
      error: { code: "no_failed_refund" },
    });
  };

  it("the refund refused first, then the partial loss", () => {
    const settled = run(created(), [paid()]);
    const l = run(settled.state, [refund(), refusedDisputed(), dispute(6_000), closed("lost", 6_000)]);
    expectOwed(settled, l);
  });

  it("the refund pending when the partial loss closes, then failed by Stripe", () => {
    const settled = run(created(), [paid()]);
    const l = run(settled.state, [
      refund(),
      dispute(6_000),
      closed("lost", 6_000),
      refundFailed("charge_for_pending_refund_disputed"),
    ]);
    expectOwed(settled, l);
  });
});

describe("a split charge's refund whose reversals landed, refused, then a partial loss", () => {
  it("the reversals that landed cover the rest: owed without reversing again, charged back", () => {
    const settled = run(created(splitCommand), [paid(), ...allCreated]);
    const asked = run(settled.state, [refund()]);
    const landed = run(
      asked.state,
      asked.state.reversals.map((rv) => reversed(rv.number, rv.amountMinor)),
    );
    const l = run(landed.state, [dispute(6_000), refusedDisputed(), closed("lost", 6_000)]);
    expect(l.state.status).toBe("charged_back");
    expect(l.state.refunds).toMatchObject([
      { number: 1, status: "superseded_by_dispute" },
      { number: 2, amountMinor: 4_001, status: "owed_outside_stripe", full: true },
    ]);
    expect(of(l.effects, "reverse_transfer")).toEqual([]);
    expect(of(l.effects, "refund")).toEqual([]);
    expect(toldAdmins(l.last.effects).tickets).toHaveLength(1);
    expect(
      books([...settled.effects, ...asked.effects, ...landed.effects, ...l.effects], l.state),
    ).toMatchObject({
      inFlightMinor: 0,
      sellersMinor: 0,
      feesMinor: 0,
      refundedMinor: 0,
      disputeLostMinor: 6_000,
      owedToCustomerMinor: 4_001,
      platformFundedMinor: 0,
    });
  });
});

// A charge stored by the code before this fix: the loss booked, and a refund of the rest
// asked of Stripe, which refuses it. Its refusal (or an admin's retry once refused) owes the
// rest outside Stripe and ends the charge.
describe("a destination charge stored before the fix, with a refund of the rest asked of Stripe", () => {
  const oldSnapshot = (refundStatus: "requested" | "failed") => {
    const settled = run(created(), [paid()]);
    const before = run(settled.state, [refund(), refusedDisputed(), dispute(6_000)]);
    const s = before.state;
    const state: MarketplaceCharge = {
      ...s,
      status: "refunding",
      refunds: [
        {
          ...(s.refunds[0] as MarketplaceCharge["refunds"][number]),
          status: "superseded_by_dispute",
          supersededBy: "dp_1",
        },
        {
          ...(s.refunds[0] as MarketplaceCharge["refunds"][number]),
          number: 2,
          amountMinor: 4_000,
          parts: { sellerPartsMinor: [4_000], feePartMinor: 1_000, platformFundedMinor: 0 },
          status: refundStatus,
          attempts: 1,
          ledgerPosted: false,
          ...(refundStatus === "failed" ? { failureCode: "charge_disputed" } : {}),
        },
      ],
      disputes: [
        {
          ...(s.disputes[0] as MarketplaceCharge["disputes"][number]),
          status: "lost",
          stripeStatus: "lost",
          lostMinor: 6_000,
          parts: { sellerPartsMinor: [6_000], feePartMinor: 0, platformFundedMinor: 0 },
          lossBooked: true,
        },
      ],
      reversals: [
        {
          number: 1,
          effectId: marketplaceChargeIds.reversal("mc1", 1),
          sellerId: "sel_a",
          transferId: "tr_dest",
          amountMinor: 6_000,
          forDisputeId: "dp_1",
          status: "reversed",
        },
      ],
    };
    const loss = marketplaceDisputeLost({
      id: marketplaceChargeIds.ledger.disputeLost("mc1", "dp_1"),
      chargeId: "mc1",
      currency: "AUD",
      from: { inFlightMinor: 6_000, feesMinor: 0, platformFundedMinor: 0 },
      occurredAt: s.createdAt,
      refs: { disputeId: "dp_1" },
    })._unsafeUnwrap();
    return { state, loss, effects: [...settled.effects, ...before.effects] };
  };
  const booksWith = (
    old: ReturnType<typeof oldSnapshot>,
    more: readonly MarketplaceChargeEffect[],
    charge: MarketplaceCharge,
  ) => {
    const loss = { kind: "post_ledger", transaction: old.loss } as unknown as MarketplaceChargeEffect;
    return books([...old.effects, loss, ...more], charge);
  };

  it("Stripe's refusal of the refund of the rest owes it outside Stripe and ends the charge", () => {
    const old = oldSnapshot("requested");
    const r = run(old.state, [refusedDisputed(2, 1)]);
    expect(r.state.status).toBe("charged_back");
    expect(r.state.refunds[1]).toMatchObject({ status: "owed_outside_stripe", ledgerPosted: true });
    expect(of(r.effects, "refund")).toEqual([]);
    expect(toldAdmins(r.effects).tickets).toHaveLength(1);
    expect(booksWith(old, r.effects, r.state)).toMatchObject({
      owedToCustomerMinor: 4_000,
      refundedMinor: 0,
    });
  });

  it("already refused and stuck refunding: the admin's retry_refund owes it outside Stripe and ends the charge", () => {
    const old = oldSnapshot("failed");
    const r = run(old.state, [{ type: "retry_refund", by: "a" }]);
    expect(r.state.status).toBe("charged_back");
    expect(r.state.refunds[1]).toMatchObject({ status: "owed_outside_stripe", ledgerPosted: true });
    expect(of(r.effects, "refund")).toEqual([]);
    expect(toldAdmins(r.effects).tickets).toHaveLength(1);
    // Stripe never reversed the seller with the refused refund: the owed rest's part is asked for.
    expect(of(r.effects, "reverse_transfer").map((e) => [e.amountMinor, e.reason])).toEqual([
      [3_000, "refund"],
    ]);
  });
});

// The marketplace model's "refunds asked for 1999 of 1000" (SUSU_MODEL_KNOWN_GAPS=1, seed
// 20261203), shrunk: a destination charge, a dispute of one minor unit opened at Stripe before
// susu heard of it, the customer's whole refund failed by Stripe (`charge_disputed`), the
// dispute lost for that one unit. The refund never reached the customer: the loss supersedes
// it, and only the rest is owed (outside Stripe). Nothing more than the charge was asked of
// Stripe or is counted given back; the model counted the superseded refund as asked (a model
// bug, fixed there).
describe("the model's counterexample: a whole refund refused by a dispute of one unit, lost", () => {
  it("asks Stripe once for the charge, and owes the rest beyond the one unit the bank took", () => {
    const r = run(created(), [
      paid(),
      refund(undefined, "customer"),
      refusedDisputed(),
      dispute(1),
      closed("lost", 1),
    ]);
    expect(of(r.effects, "refund").map((e) => e.amountMinor)).toEqual([10_000]);
    expect(r.state.refunds).toMatchObject([
      { number: 1, amountMinor: 10_000, status: "superseded_by_dispute", supersededBy: "dp_1" },
      { number: 2, amountMinor: 9_999, status: "owed_outside_stripe" },
    ]);
    expect(marketplaceRefundableMinor(r.state)).toBe(0);
    expect(r.state.status).toBe("charged_back");
    // The seller gives back the bank's unit and the owed rest's part of their transfer.
    const reversals = of(r.effects, "reverse_transfer");
    expect(reversals.map((e) => [e.amountMinor, e.reason])).toEqual([
      [9_999, "refund"],
      [1, "dispute_lost"],
    ]);
    const landed = run(
      r.state,
      reversals.map((e) => reversed(e.reversal, e.amountMinor)),
    );
    expect(books([...r.effects, ...landed.effects], landed.state)).toMatchObject({
      paidInMinor: 10_000,
      inFlightMinor: 0,
      refundedMinor: 0,
      disputeLostMinor: 1,
      owedToCustomerMinor: 9_999,
    });
  });
});
