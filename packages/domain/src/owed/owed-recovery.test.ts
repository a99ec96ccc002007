// Money a customer got twice (an admin paid them part of a refund owed outside Stripe, then a
// lost dispute's bank gave it back too) is owed back by them, on `<agg>:owed_by_customer`. An
// admin records what the customer pays back: the payment outside Stripe in reverse (Dr
// owed_by_customer, Cr paid_outside_stripe), never more than is still owed back, each reference
// once, in the charge's currency; the `owed_overpaid` ticket of each dispute is resolved once all
// of it is recovered, and a dispute's ticket resolved by an earlier recovery is not resolved again.
import { describe, expect, it } from "vitest";
import type { HeldPaymentEffect } from "../held-payment/held-payment-effect.js";
import type { HeldPaymentInput } from "../held-payment/held-payment-input.js";
import { postTransaction } from "../ledger/index.js";
import type { MarketplaceCharge } from "../marketplace/marketplace-charge.js";
import type { MarketplaceChargeEffect } from "../marketplace/marketplace-charge-effect.js";
import { type CurrencyCode, money } from "../money/index.js";
import {
  HELD_T0,
  type HeldRun,
  heldBooks,
  heldPaid,
  heldRefundFailed,
  runHeld,
  startHeld,
} from "../testing/held-payment-mothers.js";
import {
  closed,
  created,
  dispute,
  effectsOfKind,
  marketplaceBooks,
  paid,
  refund,
  refundFailed,
  reversed,
  run,
  T0,
} from "../testing/marketplace-charge-mothers.js";
import { owedLeftMinor } from "./owed-payment.js";
import type { RecordOwedRecovery } from "./owed-recovery.js";
import { decideHeldOwedPayment, decideMarketplaceOwedPayment, paymentOwed } from "./payment-owed.js";
import { decideHeldOwedRecovery, decideMarketplaceOwedRecovery } from "./payment-owed-recovery.js";

const recover = (
  amountMinor: number,
  reference = "NAB 7",
  currency: CurrencyCode = "AUD",
): RecordOwedRecovery => ({
  type: "record_owed_recovery",
  amount: money(amountMinor, currency),
  reference,
  by: "operator:olga",
});

const ofKind = <K extends HeldPaymentEffect["kind"]>(effects: readonly HeldPaymentEffect[], kind: K) =>
  effects.filter((e): e is Extract<HeldPaymentEffect, { kind: K }> => e.kind === kind);

/** Posts a decision's ledger effects onto the run. */
function applied(r: HeldRun, d: { state: HeldRun["state"]; effects: readonly HeldPaymentEffect[] }): HeldRun {
  let ledger = r.ledger;
  for (const e of d.effects)
    if (e.kind === "post_ledger") ledger = postTransaction(ledger, e.transaction)._unsafeUnwrap();
  return { state: d.state, ledger, effects: [...r.effects, ...d.effects], last: d.effects };
}

const opened = (id: string, amountMinor: number): HeldPaymentInput => ({
  type: "dispute_created",
  disputeId: id,
  amountMinor,
  reason: "fraudulent",
  stripeStatus: "needs_response",
});
const lost = (id: string, amountMinor: number): HeldPaymentInput => ({
  type: "dispute_closed",
  disputeId: id,
  outcome: "lost",
  amountMinor,
});

/**
 * `hp1`: 100.00 owed outside Stripe (refunded on an expired card), 40.00 of it paid by an admin,
 * then dispute `dp` of `disputedMinor` lost: beyond the 60.00 still owed, the bank gave back what
 * the admin had paid.
 */
function overpaid(disputedMinor = 10_000): HeldRun {
  const owing = runHeld(startHeld(), [
    heldPaid,
    { type: "report_unfulfilled", reason: "cancelled" },
    heldRefundFailed("expired_or_canceled_card"),
  ]);
  const paidOwed = applied(
    owing,
    decideHeldOwedPayment(
      owing.state,
      { type: "record_owed_payment", amount: money(4_000, "AUD"), reference: "NAB 1", by: "operator:olga" },
      { now: HELD_T0 },
    )._unsafeUnwrap(),
  );
  return runHeld(paidOwed, [opened("dp", disputedMinor), lost("dp", disputedMinor)]);
}

describe("a held payment's customer pays back what they got twice", () => {
  it("all of it: Dr owed_by_customer, Cr paid_outside_stripe; nothing is owed back; the owed_overpaid ticket is resolved", () => {
    const r0 = overpaid();
    expect(heldBooks(r0)).toMatchObject({ paidOutsideStripeMinor: 4_000, owedByCustomerMinor: 4_000 });
    expect(paymentOwed(r0.state).owedBackMinor).toBe(4_000);
    // The ticket says where to record what comes back.
    expect(ofKind(r0.effects, "open_ticket").find((t) => t.reason === "owed_overpaid")?.summary).toContain(
      "record what the customer pays back (POST /v1/held-payments/hp1/owed-recoveries)",
    );
    const d = decideHeldOwedRecovery(r0.state, recover(4_000), { now: HELD_T0 + 1 })._unsafeUnwrap();
    const r = applied(r0, d);
    const post = ofKind(d.effects, "post_ledger");
    expect(post.map((e) => e.id)).toEqual(["hp1:owed:recovered:1:ledger"]);
    expect(post[0]?.transaction.kind).toBe("held_recovered_from_customer");
    expect(post[0]?.transaction.postings.map((p) => [p.account, p.side, p.amount.amountMinor])).toEqual([
      ["held:hp1:owed_by_customer", "debit", 4_000],
      ["held:hp1:paid_outside_stripe", "credit", 4_000],
    ]);
    // The books close (checked by heldBooks): what left the platform outside Stripe came back.
    expect(heldBooks(r)).toMatchObject({
      disputeLostMinor: 10_000,
      paidOutsideStripeMinor: 0,
      owedByCustomerMinor: 0,
      owedToCustomerMinor: 0,
    });
    expect(r.state.owedRecoveries).toEqual([
      {
        number: 1,
        amountMinor: 4_000,
        reference: "NAB 7",
        recordedBy: "operator:olga",
        recordedAt: HELD_T0 + 1,
        settledDisputeIds: ["dp"],
      },
    ]);
    expect(paymentOwed(r.state).owedBackMinor).toBeUndefined();
    // What was owed to the customer is unchanged: nothing is left owed to them.
    expect(owedLeftMinor(paymentOwed(r.state))).toBe(0);
    expect(ofKind(d.effects, "resolve_ticket")).toMatchObject([
      {
        id: "hp1:ticket:owed_overpaid:dp:resolve",
        ticketId: "hp1:ticket:owed_overpaid:dp",
        by: "operator:olga",
      },
    ]);
    expect(ofKind(d.effects, "resolve_ticket")[0]?.note).toContain("40.00");
  });

  it("in parts: what is owed back shrinks by each, the ticket is resolved by the last one only", () => {
    const r0 = overpaid();
    const d1 = decideHeldOwedRecovery(r0.state, recover(1_500, "cash 1"), { now: HELD_T0 })._unsafeUnwrap();
    const r1 = applied(r0, d1);
    expect(ofKind(d1.effects, "resolve_ticket")).toEqual([]);
    expect(paymentOwed(r1.state).owedBackMinor).toBe(2_500);
    expect(heldBooks(r1)).toMatchObject({ paidOutsideStripeMinor: 2_500, owedByCustomerMinor: 2_500 });
    const d2 = decideHeldOwedRecovery(r1.state, recover(2_500, "cash 2"), { now: HELD_T0 })._unsafeUnwrap();
    expect(ofKind(d2.effects, "resolve_ticket").map((e) => e.ticketId)).toEqual([
      "hp1:ticket:owed_overpaid:dp",
    ]);
    expect(ofKind(d2.effects, "post_ledger").map((e) => e.id)).toEqual(["hp1:owed:recovered:2:ledger"]);
    expect(heldBooks(applied(r1, d2))).toMatchObject({ paidOutsideStripeMinor: 0, owedByCustomerMinor: 0 });
  });

  it("refuses, changing nothing: more than is owed back, nothing owed back, not positive, another currency, a reference recorded already, no reference", () => {
    const r0 = overpaid();
    const code = (s: HeldRun["state"], c: RecordOwedRecovery) =>
      decideHeldOwedRecovery(s, c, { now: HELD_T0 })._unsafeUnwrapErr().code;
    expect(code(r0.state, recover(4_001))).toBe("amount_exceeds_owed_back");
    expect(code(r0.state, recover(0))).toBe("invalid_owed_recovery");
    expect(code(r0.state, recover(-5))).toBe("invalid_owed_recovery");
    expect(code(r0.state, recover(100, "NAB 7", "NZD"))).toBe("currency_mismatch");
    expect(code(r0.state, recover(100, "   "))).toBe("invalid_owed_recovery");
    expect(code(r0.state, recover(100, "x".repeat(201)))).toBe("invalid_owed_recovery");
    const r1 = applied(
      r0,
      decideHeldOwedRecovery(r0.state, recover(1_000), { now: HELD_T0 })._unsafeUnwrap(),
    );
    // The same reference again (a retry, or a second admin): recorded once.
    expect(code(r1.state, recover(1_000, " nab 7 "))).toBe("duplicate_owed_recovery");
    const r2 = applied(
      r1,
      decideHeldOwedRecovery(r1.state, recover(3_000, "NAB 8"), { now: HELD_T0 })._unsafeUnwrap(),
    );
    expect(code(r2.state, recover(1, "NAB 9"))).toBe("nothing_owed_back");
    // A payment whose dispute took nothing paid twice: the customer owes nothing back.
    expect(code(overpaid(6_000).state, recover(1))).toBe("nothing_owed_back");
    expect(code(startHeld().state, recover(1))).toBe("nothing_owed_back");
  });

  it("a second dispute's over-payment after the first was recovered: its own ticket is resolved, the first's not again", () => {
    // 40.00 paid of 100.00 owed; dispute A takes 70.00: 60.00 still owed, 10.00 paid twice.
    const r0 = overpaid(7_000);
    expect(r0.state.disputes[0]).toMatchObject({ id: "dp", owedTakenMinor: 6_000, overpaidMinor: 1_000 });
    const r1 = applied(
      r0,
      decideHeldOwedRecovery(r0.state, recover(1_000, "A"), { now: HELD_T0 })._unsafeUnwrap(),
    );
    expect(ofKind(r1.last, "resolve_ticket").map((e) => e.ticketId)).toEqual(["hp1:ticket:owed_overpaid:dp"]);
    // Dispute B takes 30.00 more: the rest of what the admin paid, paid twice.
    const r2 = runHeld(r1, [opened("dp2", 3_000), lost("dp2", 3_000)]);
    expect(r2.state.disputes[1]).toMatchObject({ id: "dp2", overpaidMinor: 3_000 });
    expect(paymentOwed(r2.state).owedBackMinor).toBe(3_000);
    expect(heldBooks(r2)).toMatchObject({ owedByCustomerMinor: 3_000, paidOutsideStripeMinor: 3_000 });
    const d = decideHeldOwedRecovery(r2.state, recover(3_000, "B"), { now: HELD_T0 })._unsafeUnwrap();
    expect(ofKind(d.effects, "resolve_ticket").map((e) => e.id)).toEqual([
      "hp1:ticket:owed_overpaid:dp2:resolve",
    ]);
    expect(heldBooks(applied(r2, d))).toMatchObject({ owedByCustomerMinor: 0, paidOutsideStripeMinor: 0 });
  });
});

describe("a marketplace charge's customer pays back what they got twice", () => {
  interface Runs {
    readonly state: MarketplaceCharge;
    readonly effects: readonly MarketplaceChargeEffect[];
  }
  const landed = (from: Runs, inputs: Parameters<typeof run>[1]): Runs => {
    const r = run(from.state, inputs);
    const l = run(
      r.state,
      effectsOfKind(r.effects, "reverse_transfer").map((e) => reversed(e.reversal, e.amountMinor)),
    );
    return { state: l.state, effects: [...from.effects, ...r.effects, ...l.effects] };
  };

  it("records it: Dr owed_by_customer, Cr paid_outside_stripe; the ticket resolved; more is refused", () => {
    const first = run(created(), [paid()]);
    const owing = landed({ state: first.state, effects: first.effects }, [
      refund(),
      refundFailed("expired_or_canceled_card"),
    ]);
    const p = decideMarketplaceOwedPayment(
      owing.state,
      { type: "record_owed_payment", amount: money(4_000, "AUD"), reference: "NAB 1", by: "operator:o" },
      { now: T0 },
    )._unsafeUnwrap();
    const r0 = landed({ state: p.state, effects: [...owing.effects, ...p.effects] }, [
      dispute(10_000),
      closed("lost", 10_000),
    ]);
    expect(marketplaceBooks(r0.effects, r0.state)).toMatchObject({ owedByCustomerMinor: 4_000 });
    expect(decideMarketplaceOwedRecovery(r0.state, recover(4_001), { now: T0 })._unsafeUnwrapErr().code).toBe(
      "amount_exceeds_owed_back",
    );
    const d = decideMarketplaceOwedRecovery(r0.state, recover(4_000), { now: T0 })._unsafeUnwrap();
    const post = effectsOfKind(d.effects, "post_ledger");
    expect(post[0]?.transaction.kind).toBe("marketplace_recovered_from_customer");
    expect(post[0]?.transaction.postings.map((x) => [x.account, x.side, x.amount.amountMinor])).toEqual([
      ["marketplace:mc1:owed_by_customer", "debit", 4_000],
      ["marketplace:mc1:paid_outside_stripe", "credit", 4_000],
    ]);
    expect(marketplaceBooks([...r0.effects, ...d.effects], d.state)).toMatchObject({
      owedByCustomerMinor: 0,
      paidOutsideStripeMinor: 0,
      disputeLostMinor: 10_000,
    });
    expect(effectsOfKind(d.effects, "resolve_ticket")).toMatchObject([
      { id: "mc1:ticket:owed_overpaid:dp_1:resolve", ticketId: "mc1:ticket:owed_overpaid:dp_1" },
    ]);
    expect(paymentOwed(d.state).owedBackMinor).toBeUndefined();
    expect(
      decideMarketplaceOwedRecovery(d.state, recover(1, "again"), { now: T0 })._unsafeUnwrapErr().code,
    ).toBe("nothing_owed_back");
  });
});
