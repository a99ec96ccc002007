// A membership dispute's loss the books had no room for, kept as the dispute's rest and booked
// by bookRests only out of what news of a refund's failure frees. Each `it` states a sequence
// Stripe can produce and what Stripe moved; the books say the same. (Found by a review of the
// merge fa19790; each failed on it.)
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { LedgerTransaction } from "../ledger/ledger-transaction.js";
import {
  activeSubscription,
  feed,
  freshSubscription,
  MEMBERSHIP_T0,
  paidInvoice,
  snapshot,
} from "../testing/membership-mothers.js";
import type { SubscriptionEffect } from "./membership-effect.js";
import { invoiceRevenueLeftMinor, type Subscription, type SubscriptionInvoice } from "./subscription.js";
import { decideSubscription } from "./subscription-decide.js";
import type { SubscriptionInput } from "./subscription-input.js";

const outside = (refundId: string, amountMinor: number, outcome: "succeeded" | "failed" = "succeeded") =>
  ({
    type: "invoice_refunded_outside",
    invoiceId: "in_1",
    refundId,
    amountMinor,
    outcome,
    ...(outcome === "failed" ? { failureCode: "expired_or_canceled_card" } : {}),
  }) as const satisfies SubscriptionInput;

const disputed = (
  disputeId: string,
  news: { amountMinor?: number; stripeStatus?: string; closed?: "won" | "lost" },
) =>
  ({ type: "invoice_disputed", invoiceId: "in_1", disputeId, ...news }) as const satisfies SubscriptionInput;

/** Every posting and effect of `inputs` fed in order from `s`, and the invoice at the end. */
function along(s: Subscription, inputs: readonly SubscriptionInput[]) {
  let state = s;
  const effects: SubscriptionEffect[] = [];
  for (const input of inputs) {
    const d = decideSubscription(state, input, { now: MEMBERSHIP_T0 })._unsafeUnwrap();
    effects.push(...d.effects);
    state = d.state;
  }
  const txs = effects.flatMap((e): LedgerTransaction[] => (e.kind === "post_ledger" ? [e.transaction] : []));
  const b: Record<string, number> = {};
  for (const tx of txs)
    for (const p of tx.postings)
      b[p.account] = (b[p.account] ?? 0) + (p.side === "debit" ? 1 : -1) * p.amount.amountMinor;
  const inv = state.invoices.find((i) => i.id === "in_1") as SubscriptionInvoice;
  return {
    state,
    effects,
    txs,
    inv,
    /** What the news fed moved (the invoice's payment excluded): refunded, lost, and the revenue. */
    books: {
      refunded: b["membership:sub1:paid_in"] ?? 0,
      lost: b["membership:sub1:dispute_losses"] ?? 0,
      revenueMoved: b["platform:membership_revenue"] ?? 0,
    },
  };
}

describe("two disputes of one invoice (an invoice paid by two payments, each charge disputed)", () => {
  // Invoice in_1 collected 10.00 as two payments, pi_1 5.00 and pi_2 5.00 (Stripe's invoice
  // payments; susu refunds each PaymentIntent apart). Dashboard refund re_B 3.00 of pi_2 stands.
  // The bank disputes pi_1's charge (du_1, 5.00) and pi_2's whole charge (du_2, 5.00, after the
  // partial refund). Stripe withdraws 5.00 for each. du_2 is closed lost: Stripe gives back the
  // 3.00 refunded ("partially won"), so du_2 takes 2.00 net. du_1 is closed won: its 5.00 comes
  // back. At Stripe: 10.00 − 3.00 (re_B) − 2.00 (du_2) = 5.00 kept; 2.00 lost to disputes.
  //
  // du_1's loss (5.00) leaves room for only 2.00 of du_2's, its rest 3.00 (the part re_B
  // holds, which Stripe gives back). du_1 won puts 5.00 back into the invoice's revenue left:
  // du_1's own charge given back, no refund failed, so du_2's rest is not booked out of it
  // (fa19790 booked it: 5.00 lost where Stripe took 2.00).
  const news = [
    outside("re_B", 3_00),
    disputed("du_1", { amountMinor: 5_00, stripeStatus: "needs_response" }),
    disputed("du_2", { amountMinor: 5_00, stripeStatus: "needs_response" }),
    disputed("du_2", { amountMinor: 5_00, closed: "lost" }),
    disputed("du_1", { amountMinor: 5_00, closed: "won" }),
  ];

  it("the books end with what Stripe moved: 3.00 refunded, 2.00 lost, 5.00 kept", () => {
    const end = along(activeSubscription(), news);
    expect(end.books).toEqual({ refunded: 3_00, lost: 2_00, revenueMoved: -5_00 });
    expect(invoiceRevenueLeftMinor(end.inv)).toBe(5_00);
  });

  it("du_2's rest is not booked after du_2 closed lost with no refund failed, as its resolution note says ('when the failure is heard')", () => {
    const end = along(activeSubscription(), news);
    const note = end.effects.find(
      (e) => e.kind === "resolve_ticket" && e.ticketId === "sub1:invoice:in_1:dispute:du_2:ticket",
    );
    expect(note).toMatchObject({ note: expect.stringContaining("booked lost when the failure is heard") });
    expect(end.txs.filter((t) => t.kind === "membership_outside_refund_failed")).toEqual([]);
    expect(end.txs.map((t) => t.id)).not.toContain("sub1:invoice:in_1:dispute:du_2:lost:rest");
  });
});

describe("property: an invoice paid as two payments, dashboard refunds of either, each charge disputed (any order, any repeats)", () => {
  // A dispute's rest is money of a refund the books still count although Stripe may have failed
  // it, booked when that failure is heard. So it is booked only by news of a refund's failure:
  // not by another dispute's reinstatement (Stripe gives back that dispute's own charge, not
  // the other's refunded part), nor by any later news once such room is left.
  it("every posting of a dispute's rest comes with news of a refund's failure", () => {
    const arb = fc
      .record({
        payments: fc.tuple(fc.integer({ min: 1, max: 50_000 }), fc.integer({ min: 1, max: 50_000 })),
        refunds: fc.array(
          fc.record({
            payment: fc.constantFrom(0, 1),
            share: fc.double({ min: 0, max: 1, noNaN: true }),
            fate: fc.constantFrom("stands", "fails_before_dispute", "fails_while_disputed"),
          }),
          { maxLength: 3 },
        ),
        disputes: fc.tuple(fc.constantFrom("none", "won", "lost"), fc.constantFrom("none", "won", "lost")),
        repeats: fc.array(fc.nat(), { maxLength: 4 }),
        order: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 20, maxLength: 20 }),
      })
      .map((r) => {
        const refundable = [...r.payments];
        const refunds = r.refunds.flatMap((x, i) => {
          const left = refundable[x.payment] ?? 0;
          if (left <= 0) return [];
          const amountMinor = Math.max(1, Math.min(left, Math.round(x.share * left)));
          if (x.fate !== "fails_before_dispute") refundable[x.payment] = left - amountMinor;
          return [{ id: `re_${i}`, amountMinor, fate: x.fate }];
        });
        // Stripe disputes no fully refunded charge; a dispute is of the whole charge.
        const disputes = r.disputes.flatMap((outcome, k) =>
          outcome === "none" || (refundable[k] ?? 0) <= 0
            ? []
            : [{ id: `du_${k + 1}`, amountMinor: r.payments[k] ?? 0, outcome }],
        );
        return { ...r, paid: r.payments[0] + r.payments[1], refunds, disputes };
      });
    fc.assert(
      fc.property(arb, (sc) => {
        const told: SubscriptionInput[] = [
          ...sc.refunds.flatMap((r) => [
            outside(r.id, r.amountMinor),
            ...(r.fate === "stands" ? [] : [outside(r.id, r.amountMinor, "failed")]),
          ]),
          ...sc.disputes.flatMap((x) => [
            disputed(x.id, { amountMinor: x.amountMinor, stripeStatus: "needs_response" }),
            disputed(x.id, { amountMinor: x.amountMinor, closed: x.outcome as "won" | "lost" }),
          ]),
        ];
        const again =
          told.length === 0 ? [] : sc.repeats.map((i) => told[i % told.length] as SubscriptionInput);
        const heard = [...told, ...again]
          .map((t, i) => ({ t, k: sc.order[i] ?? 0 }))
          .sort((a, b) => a.k - b.k)
          .map((x) => x.t);
        let s = feed(freshSubscription(), [snapshot("active", 0), paidInvoice("in_1", 0, sc.paid)]);
        for (const input of heard) {
          const d = decideSubscription(s, input, { now: MEMBERSHIP_T0 })._unsafeUnwrap();
          s = d.state;
          const rests = d.effects.filter(
            (e) => e.kind === "post_ledger" && /:dispute:du_\d+:lost:rest/.test(e.id),
          );
          const aFailure = input.type === "invoice_refunded_outside" && input.outcome === "failed";
          if (!aFailure)
            expect(
              rests.map((e) => (e.kind === "post_ledger" ? e.id : "")),
              input.type,
            ).toEqual([]);
        }
      }),
      { numRuns: 2_000 },
    );
  });
});
