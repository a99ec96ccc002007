// A marketplace charge's refund owed to the customer outside Stripe because their card can no
// longer take money (refund-unreachable-owed.test.ts), then a dispute of the charge lost. At
// Stripe nothing was refunded, so the customer's bank may take back up to the whole charge:
// what it takes beyond what is left to give back is money the customer was owed outside
// Stripe, and it reached them through their bank. The loss is booked whole (the books agree
// with Stripe), its part beyond what was left taken from what is owed
// (`marketplace:<c>:owed_to_customer`) — the sellers and the fee gave that part back with the
// owed refund already, so nobody is reversed for it — and what is owed is lessened by it,
// never below zero: an admin cannot then record paying more than is left, and the
// `refund_owed` ticket is resolved when the bank gave back all of it.
import { describe, expect, it } from "vitest";
import { money } from "../money/index.js";
import { owedLeftMinor } from "../owed/owed-payment.js";
import { decideMarketplaceOwedPayment, paymentOwed } from "../owed/payment-owed.js";
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
  T0,
} from "../testing/marketplace-charge-mothers.js";
import type { MarketplaceCharge } from "./marketplace-charge.js";
import type { MarketplaceChargeEffect } from "./marketplace-charge-effect.js";
import type { MarketplaceChargeInput } from "./marketplace-charge-input.js";

const unreachable = refundFailed("expired_or_canceled_card");
const pay = (amountMinor: number, reference = "bank 1") =>
  ({ type: "record_owed_payment", amount: money(amountMinor, "AUD"), reference, by: "operator:o" }) as const;

interface Runs {
  readonly state: MarketplaceCharge;
  readonly effects: readonly MarketplaceChargeEffect[];
  readonly last: readonly MarketplaceChargeEffect[];
}

/** Runs `inputs`, then lands every reversal they asked for. */
function andLand(from: Runs, inputs: readonly MarketplaceChargeInput[]): Runs {
  const r = run(from.state, inputs);
  const landed = run(
    r.state,
    of(r.effects, "reverse_transfer").map((e) => reversed(e.reversal, e.amountMinor)),
  );
  return {
    state: landed.state,
    effects: [...from.effects, ...r.effects, ...landed.effects],
    last: r.effects,
  };
}

const start = (split = false): Runs => {
  const r = run(created(split ? splitCommand : undefined), split ? [paid(), ...allCreated] : [paid()]);
  return { state: r.state, effects: r.effects, last: r.effects };
};

describe("a destination charge's whole refund owed outside Stripe, then a dispute of the whole charge lost", () => {
  const owed = () => andLand(start(), [refund(), unreachable]);

  it("books the bank's return as a loss, taken from what is owed: nothing is owed any more, nobody is reversed again", () => {
    const before = owed();
    expect(books(before.effects, before.state)).toMatchObject({
      owedToCustomerMinor: 10_000,
      inFlightMinor: 0,
    });
    const r = andLand(before, [dispute(10_000), closed("lost", 10_000)]);
    expect(r.state.disputes[0]).toMatchObject({ status: "lost", lossBooked: true, owedTakenMinor: 10_000 });
    expect(of(r.last, "reverse_transfer")).toEqual([]);
    const post = of(r.last, "post_ledger").find((e) => e.transaction.kind === "marketplace_dispute_lost");
    expect(post?.transaction.postings.map((p) => [p.account, p.side, p.amount.amountMinor])).toEqual([
      ["marketplace:mc1:dispute_losses", "debit", 10_000],
      ["marketplace:mc1:owed_to_customer", "credit", 10_000],
    ]);
    expect(books(r.effects, r.state)).toMatchObject({
      paidInMinor: 10_000,
      inFlightMinor: 0,
      sellersMinor: 0,
      feesMinor: 0,
      refundedMinor: 0,
      disputeLostMinor: 10_000,
      owedToCustomerMinor: 0,
    });
    expect(owedLeftMinor(paymentOwed(r.state))).toBe(0);
    expect(of(r.last, "resolve_ticket").map((e) => e.ticketId)).toEqual(["mc1:ticket:refund_owed:1"]);
    expect(decideMarketplaceOwedPayment(r.state, pay(1), { now: T0 })._unsafeUnwrapErr().code).toBe(
      "nothing_owed",
    );
  });

  it("a loss of part of it lessens what is owed by that part; a payment of more than the rest is refused", () => {
    const r = andLand(owed(), [dispute(4_000), closed("lost", 4_000)]);
    expect(books(r.effects, r.state)).toMatchObject({ disputeLostMinor: 4_000, owedToCustomerMinor: 6_000 });
    expect(owedLeftMinor(paymentOwed(r.state))).toBe(6_000);
    expect(of(r.last, "resolve_ticket")).toEqual([]);
    expect(decideMarketplaceOwedPayment(r.state, pay(6_001), { now: T0 })._unsafeUnwrapErr().code).toBe(
      "amount_exceeds_owed",
    );
    const rest = decideMarketplaceOwedPayment(r.state, pay(6_000), { now: T0 })._unsafeUnwrap();
    expect(of(rest.effects, "resolve_ticket").map((e) => e.ticketId)).toEqual(["mc1:ticket:refund_owed:1"]);
  });
});

describe("a destination charge's partial refund owed outside Stripe, then a dispute of the whole charge lost", () => {
  it("what was left is lost as any loss is (the seller reversed), the rest taken from what is owed", () => {
    const r = andLand(andLand(start(), [refund(3_000), unreachable]), [
      dispute(10_000),
      closed("lost", 10_000),
    ]);
    expect(r.state.disputes[0]).toMatchObject({ lostMinor: 7_000, owedTakenMinor: 3_000 });
    expect(of(r.last, "reverse_transfer").map((e) => e.amountMinor)).toEqual([7_000]);
    const b = books(r.effects, r.state);
    expect(b).toMatchObject({ inFlightMinor: 0, disputeLostMinor: 10_000, owedToCustomerMinor: 0 });
    expect(b.feesMinor).toBeGreaterThanOrEqual(0);
    expect(r.state.status).toBe("charged_back");
  });
});

describe("a split's whole refund owed outside Stripe, then a dispute of the whole charge lost", () => {
  it("books the whole loss from what is owed; the co-hosts are not reversed again", () => {
    const before = andLand(andLand(start(true), [refund()]), [unreachable]);
    expect(books(before.effects, before.state)).toMatchObject({
      owedToCustomerMinor: 10_001,
      inFlightMinor: 0,
    });
    const r = andLand(before, [dispute(10_001), closed("lost", 10_001)]);
    expect(of(r.last, "reverse_transfer")).toEqual([]);
    expect(books(r.effects, r.state)).toMatchObject({
      inFlightMinor: 0,
      sellersMinor: 0,
      feesMinor: 0,
      disputeLostMinor: 10_001,
      owedToCustomerMinor: 0,
    });
    expect(owedLeftMinor(paymentOwed(r.state))).toBe(0);
  });
});

describe("a dispute lost while a refund counted as given back, which Stripe had failed after its success", () => {
  // At Stripe the refund failed (the money came back) and then the bank took 40.00; susu hears
  // the loss first, while the refund still counts as given back (the loss books nothing), then
  // the refund's failure, which makes it owed outside Stripe (the charge was charged back).
  it.each(["declined", "lost_or_stolen_card"])(
    "%s: the loss's uncounted 40.00 is taken from what is owed then",
    (code) => {
      const heard = andLand(start(), [refund(), refundOk(1), dispute(10_000), closed("lost", 4_000)]);
      expect(books(heard.effects, heard.state)).toMatchObject({ refundedMinor: 10_000, disputeLostMinor: 0 });
      const r = andLand(heard, [refundFailed(code)]);
      expect(r.state.refunds).toMatchObject([{ number: 1, status: "owed_outside_stripe" }]);
      expect(r.state.disputes[0]).toMatchObject({ lostMinor: 0, owedTakenMinor: 4_000 });
      const post = of(r.last, "post_ledger").find((e) => e.id === "mc1:dispute:dp_1:lost:owed:1");
      expect(post?.transaction.postings.map((p) => [p.account, p.side, p.amount.amountMinor])).toEqual([
        ["marketplace:mc1:dispute_losses", "debit", 4_000],
        ["marketplace:mc1:owed_to_customer", "credit", 4_000],
      ]);
      expect(books(r.effects, r.state)).toMatchObject({
        inFlightMinor: 0,
        refundedMinor: 0,
        feesMinor: 0,
        disputeLostMinor: 4_000,
        owedToCustomerMinor: 6_000,
      });
      expect(owedLeftMinor(paymentOwed(r.state))).toBe(6_000);
    },
  );
});

describe("part of a destination charge's refund owed outside Stripe paid by an admin, then a dispute of the whole charge lost", () => {
  // 100.00 owed, 40.00 of it paid outside Stripe by an admin; then the customer's bank gives back
  // the whole 100.00 too: the customer got 40.00 twice (the admin's, and their bank's).
  const paidOwed = (r: Runs, amountMinor: number): Runs => {
    const d = decideMarketplaceOwedPayment(r.state, pay(amountMinor), { now: T0 })._unsafeUnwrap();
    return { state: d.state, effects: [...r.effects, ...d.effects], last: d.effects };
  };

  it("books the whole loss, as Stripe does: what was paid twice is owed back by the customer, and a ticket asks to recover it", () => {
    const r = andLand(paidOwed(andLand(start(), [refund(), unreachable]), 4_000), [
      dispute(10_000),
      closed("lost", 10_000),
    ]);
    expect(books(r.effects, r.state)).toMatchObject({
      paidInMinor: 10_000,
      inFlightMinor: 0,
      disputeLostMinor: 10_000,
      owedToCustomerMinor: 0,
      paidOutsideStripeMinor: 4_000,
      owedByCustomerMinor: 4_000,
    });
    expect(r.state.disputes[0]).toMatchObject({ lostMinor: 0, owedTakenMinor: 6_000, overpaidMinor: 4_000 });
    // Nobody is reversed for it: the seller gave their part back with the owed refund.
    expect(of(r.last, "reverse_transfer")).toEqual([]);
    const post = of(r.last, "post_ledger").find((e) => e.transaction.kind === "marketplace_dispute_lost");
    expect(post?.transaction.postings.map((p) => [p.account, p.side, p.amount.amountMinor])).toEqual([
      ["marketplace:mc1:dispute_losses", "debit", 10_000],
      ["marketplace:mc1:owed_to_customer", "credit", 6_000],
      ["marketplace:mc1:owed_by_customer", "credit", 4_000],
    ]);
    const tickets = of(r.last, "open_ticket").filter((t) => t.reason === "owed_overpaid");
    expect(tickets.map((t) => t.id)).toEqual(["mc1:ticket:owed_overpaid:dp_1"]);
    expect(tickets[0]?.summary).toContain("40.00");
    expect(owedLeftMinor(paymentOwed(r.state))).toBe(0);
  });
});

describe("what a charge owes lessened by a lost dispute: the refund_owed ticket and the customer are told", () => {
  it("part of it: the ticket gets a note naming what is left, the customer hears what their bank gave back", () => {
    const r = andLand(andLand(start(), [refund(), unreachable]), [dispute(4_000), closed("lost", 4_000)]);
    expect(of(r.last, "note_ticket")).toMatchObject([
      { id: "mc1:ticket:refund_owed:1:note:dispute:dp_1", ticketId: "mc1:ticket:refund_owed:1" },
    ]);
    expect(of(r.last, "note_ticket")[0]?.note).toMatch(/^60\.00 AUD is left owed/);
    expect(of(r.last, "notify").filter((n) => n.template === "owed_reduced_by_dispute")).toMatchObject([
      {
        id: "mc1:notify:owed_reduced_by_dispute:dp_1",
        to: { kind: "customer" },
        data: { disputeId: "dp_1", amountMinor: 4_000, leftMinor: 6_000 },
      },
    ]);
  });
});
