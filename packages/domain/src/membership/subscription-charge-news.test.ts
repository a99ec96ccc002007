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

// A membership invoice's charge refunded outside susu (Stripe's dashboard) or disputed: the
// adapter resolves the charge to its invoice; the subscription books what left the platform.

const now = { now: MEMBERSHIP_T0 };
const decided = (s: Subscription, input: SubscriptionInput) =>
  decideSubscription(s, input, now)._unsafeUnwrap();

const outside = (
  refundId: string,
  amountMinor: number,
  outcome: "succeeded" | "failed" = "succeeded",
): SubscriptionInput => ({
  type: "invoice_refunded_outside",
  invoiceId: "in_1",
  refundId,
  amountMinor,
  outcome,
  ...(outcome === "failed" ? { failureCode: "expired_or_canceled_card" } : {}),
});

const disputed = (
  news: {
    amountMinor?: number;
    stripeStatus?: string;
    closed?: "won" | "lost";
    reason?: string;
    evidenceDueBy?: number;
  },
  disputeId = "du_1",
): SubscriptionInput => ({ type: "invoice_disputed", invoiceId: "in_1", disputeId, ...news });

const postings = (effects: readonly SubscriptionEffect[]): LedgerTransaction[] =>
  effects.flatMap((e) => (e.kind === "post_ledger" ? [e.transaction] : []));

/** Every posting of a sequence of inputs, fed in order from `s`. */
function postedAlong(s: Subscription, inputs: readonly SubscriptionInput[]): LedgerTransaction[] {
  const out: LedgerTransaction[] = [];
  let state = s;
  for (const input of inputs) {
    const d = decided(state, input);
    out.push(...postings(d.effects));
    state = d.state;
  }
  return out;
}

/** Balances (debits − credits) per account of some transactions, in minor units. */
function balances(txs: readonly LedgerTransaction[]): Record<string, number> {
  const b: Record<string, number> = {};
  for (const tx of txs)
    for (const p of tx.postings)
      b[p.account] = (b[p.account] ?? 0) + (p.side === "debit" ? 1 : -1) * p.amount.amountMinor;
  return b;
}

describe("a refund of an invoice's charge made outside susu", () => {
  it("books its amount once, as susu's own refund is booked (Dr paid_in, Cr revenue), keyed by the refund", () => {
    const s = activeSubscription();
    const d = decided(s, outside("re_dash", 4_00));
    expect(postings(d.effects)).toEqual([
      expect.objectContaining({
        id: "sub1:invoice:in_1:refunded-outside:re_dash",
        kind: "membership_refunded_outside_susu",
        refs: { subscriptionId: "sub1", invoiceId: "in_1", refundId: "re_dash" },
        postings: [
          {
            account: "membership:sub1:paid_in",
            side: "debit",
            amount: { amountMinor: 4_00, currency: "AUD" },
          },
          {
            account: "platform:membership_revenue",
            side: "credit",
            amount: { amountMinor: 4_00, currency: "AUD" },
          },
        ],
      }),
    ]);
    expect(d.state.invoices[0]?.outsideRefunds).toEqual([
      { refundId: "re_dash", amountMinor: 4_00, status: "succeeded", postedMinor: 4_00 },
    ]);
    // refund.created, charge.refund.updated, a redelivery: the same refund, booked once.
    const again = decided(d.state, outside("re_dash", 4_00));
    expect(again.ignored?.code).toBe("outside_refund_known");
    expect(again.effects).toEqual([]);
    // Another refund of the rest is its own.
    const rest = decided(d.state, outside("re_dash2", 6_00));
    expect(postings(rest.effects).map((t) => [t.id, t.postings[0]?.amount.amountMinor])).toEqual([
      ["sub1:invoice:in_1:refunded-outside:re_dash2", 6_00],
    ]);
  });

  it("a failure after its success undoes what it booked, once; a failure before any success books nothing", () => {
    const booked = feed(activeSubscription(), [outside("re_dash", 10_00)]);
    const failed = decided(booked, outside("re_dash", 10_00, "failed"));
    expect(postings(failed.effects)).toEqual([
      expect.objectContaining({
        id: "sub1:invoice:in_1:refunded-outside:re_dash:failed",
        kind: "membership_outside_refund_failed",
        postings: [
          expect.objectContaining({ account: "platform:membership_revenue", side: "debit" }),
          expect.objectContaining({ account: "membership:sub1:paid_in", side: "credit" }),
        ],
      }),
    ]);
    expect(decided(failed.state, outside("re_dash", 10_00, "failed")).ignored?.code).toBe(
      "outside_refund_known",
    );
    // Older news of its success, after the failure, books nothing.
    expect(decided(failed.state, outside("re_dash", 10_00)).ignored?.code).toBe("outside_refund_known");
    const never = decided(activeSubscription(), outside("re_x", 10_00, "failed"));
    expect(never.ignored).toBeUndefined();
    expect(never.effects).toEqual([]);
    expect(never.state.invoices[0]?.outsideRefunds).toEqual([
      {
        refundId: "re_x",
        amountMinor: 10_00,
        status: "failed",
        failureCode: "expired_or_canceled_card",
        postedMinor: 0,
      },
    ]);
  });

  it("of an invoice not heard of as paid is ignored, booking nothing", () => {
    const d = decided(feed(freshSubscription(), [snapshot("active", 0)]), outside("re_dash", 10_00));
    expect(d.ignored?.code).toBe("invoice_not_paid");
    expect(d.effects).toEqual([]);
  });

  describe("beside susu's own refund of a late-paid membership (the same money seen twice)", () => {
    const checkoutCanceledThenPaid = () =>
      feed(
        freshSubscription({
          start: { kind: "checkout", successUrl: "https://a.test/ok", cancelUrl: "https://a.test/no" },
        }),
        [{ type: "cancel", atPeriodEnd: false }, paidInvoice("in_1", 1)],
      );
    // Stripe answers susu's refund call with the dashboard's refund, the payment being refunded already.
    const susuSawIt: SubscriptionInput[] = [
      { type: "invoice_refunds_made", invoiceId: "in_1", refundIds: ["re_dash"] },
      {
        type: "invoice_refund_settled",
        invoiceId: "in_1",
        outcome: "succeeded",
        refundId: "re_dash",
        amountMinor: 10_00,
      },
    ];

    it("the outside refund booked first: susu's view of it books nothing more", () => {
      const txs = postedAlong(checkoutCanceledThenPaid(), [outside("re_dash", 10_00), ...susuSawIt]);
      expect(txs.map((t) => t.kind)).toEqual(["membership_refunded_outside_susu"]);
      expect(balances(txs)["platform:membership_revenue"]).toBe(-10_00);
    });

    it("susu's view booked first: the outside refund's event books nothing more", () => {
      const s = checkoutCanceledThenPaid();
      const txs = postedAlong(s, [...susuSawIt, outside("re_dash", 10_00)]);
      expect(txs.map((t) => t.kind)).toEqual(["membership_invoice_refunded"]);
      const end = feed(s, [...susuSawIt, outside("re_dash", 10_00)]);
      expect(end.invoices[0]?.outsideRefunds).toEqual([
        { refundId: "re_dash", amountMinor: 10_00, status: "succeeded", postedMinor: 0 },
      ]);
    });

    it("susu's refund posted for less (the outside refund booked first), then failed by Stripe: only what it posted is reversed", () => {
      const s = checkoutCanceledThenPaid();
      const failedLater: SubscriptionInput = {
        type: "invoice_refund_settled",
        invoiceId: "in_1",
        outcome: "failed",
        refundId: "re_dash",
        failureCode: "expired_or_canceled_card",
        amountMinor: 10_00,
      };
      const along = [outside("re_dash", 10_00), ...susuSawIt, failedLater];
      const txs = postedAlong(s, along);
      // Susu's refund posted nothing (the refund was booked as made outside susu): nothing to reverse.
      expect(txs.map((t) => t.kind)).toEqual(["membership_refunded_outside_susu"]);
      const end = feed(s, along);
      expect(end.invoices[0]?.refund?.payments).toEqual([
        {
          refundId: "re_dash",
          amountMinor: 10_00,
          status: "failed",
          failureCode: "expired_or_canceled_card",
          posted: true,
          postedMinor: 0,
        },
      ]);
      // The refund's own failure, heard as a refund made outside susu, undoes what that booked:
      // the platform holds the 10.00 again, once.
      const all = postedAlong(s, [...along, outside("re_dash", 10_00, "failed")]);
      expect(all.map((t) => [t.kind, t.postings[0]?.amount.amountMinor])).toEqual([
        ["membership_refunded_outside_susu", 10_00],
        ["membership_outside_refund_failed", 10_00],
      ]);
      expect(balances(all)["platform:membership_revenue"]).toBe(0);
      // Nothing more is held back from later bookings: a dispute of it may take all 10.00.
      const afterAll = feed(s, [...along, outside("re_dash", 10_00, "failed")]);
      expect(invoiceRevenueLeftMinor(afterAll.invoices[0] as SubscriptionInvoice)).toBe(10_00);
    });

    it("susu's refund of the rest, beside a dashboard refund it reported too: a failure reverses each refund's own posting", () => {
      const s = checkoutCanceledThenPaid();
      // The dashboard refunded 4.00 (booked first); susu's call refunded the other 6.00 and
      // reported the dashboard's refund with it: 10.00 back, 6.00 of it posted by susu.
      const ended: SubscriptionInput[] = [
        outside("re_dash", 4_00),
        { type: "invoice_refunds_made", invoiceId: "in_1", refundIds: ["re_susu", "re_dash"] },
        {
          type: "invoice_refund_settled",
          invoiceId: "in_1",
          outcome: "succeeded",
          refundId: "re_susu",
          amountMinor: 6_00,
        },
        {
          type: "invoice_refund_settled",
          invoiceId: "in_1",
          outcome: "succeeded",
          refundId: "re_dash",
          amountMinor: 4_00,
        },
      ];
      const fail = (refundId: string, amountMinor: number): SubscriptionInput => ({
        type: "invoice_refund_settled",
        invoiceId: "in_1",
        outcome: "failed",
        refundId,
        failureCode: "expired_or_canceled_card",
        amountMinor,
      });
      const txs = postedAlong(s, [...ended, fail("re_dash", 4_00), fail("re_susu", 6_00)]);
      expect(txs.map((t) => [t.kind, t.postings[0]?.amount.amountMinor])).toEqual([
        ["membership_refunded_outside_susu", 4_00],
        ["membership_invoice_refunded", 6_00],
        ["membership_invoice_refund_failed", 6_00],
      ]);
    });

    it("then the dashboard's refund fails after its success: the books hold the money again, whichever was booked first", () => {
      for (const order of [
        [outside("re_dash", 10_00), ...susuSawIt],
        [...susuSawIt, outside("re_dash", 10_00)],
      ]) {
        const txs = postedAlong(checkoutCanceledThenPaid(), [...order, outside("re_dash", 10_00, "failed")]);
        expect(balances(txs)["platform:membership_revenue"] ?? 0).toBe(0);
      }
    });

    it("the dashboard's refund failed after its success reaches susu's refund too: it reads failed, with its ticket and notice, and undoes what each path booked, once", () => {
      const failedOutside = outside("re_dash", 10_00, "failed");
      const cases = [
        {
          order: [outside("re_dash", 10_00), ...susuSawIt],
          undone: [["membership_outside_refund_failed", 10_00]],
          says: "it had been booked as a refund made outside susu, and its membership_outside_refund_failed posting undid 1000 AUD (minor units)",
        },
        {
          order: [...susuSawIt, outside("re_dash", 10_00)],
          undone: [["membership_invoice_refund_failed", 10_00]],
          says: "membership_invoice_refund_failed posting reversed the refund",
        },
      ];
      for (const { order, undone, says } of cases) {
        const s = checkoutCanceledThenPaid();
        const before = feed(s, order);
        const d = decided(before, failedOutside);
        expect(d.ignored).toBeUndefined();
        expect(postings(d.effects).map((t) => [t.kind, t.postings[0]?.amount.amountMinor])).toEqual(undone);
        const refund = d.state.invoices[0]?.refund;
        expect(refund?.status).toBe("failed");
        expect(refund?.failedAfterSuccess).toBe(true);
        expect(refund?.payments?.map((p) => [p.refundId, p.status, p.failureCode])).toEqual([
          ["re_dash", "failed", "expired_or_canceled_card"],
        ]);
        expect(
          d.state.invoices[0]?.outsideRefunds?.map((r) => [r.refundId, r.status, r.postedMinor]),
        ).toEqual([["re_dash", "failed", 0]]);
        // As susu's own refund failed after its success: one ticket, and the person (told their
        // money was back) hears it did not reach them.
        expect(
          d.effects.filter((e) => e.kind === "open_ticket" || e.kind === "notify").map((e) => [e.kind, e.id]),
        ).toEqual([
          ["open_ticket", "sub1:invoice:in_1:refund:re_dash:ticket"],
          ["notify", "sub1:notify:membership_refund_reversed:in_1:re_dash"],
        ]);
        const ticket = d.effects.find((e) => e.kind === "open_ticket") as { summary: string };
        expect(ticket.summary).toContain(says);
        // The whole 10.00 counts as the platform's again: a later dispute takes all of it.
        const inv = d.state.invoices[0] as SubscriptionInvoice;
        expect(invoiceRevenueLeftMinor(inv)).toBe(10_00);
        const lost = decided(d.state, disputed({ amountMinor: 10_00, closed: "lost" }));
        expect(postings(lost.effects).map((t) => [t.kind, t.postings[0]?.amount.amountMinor])).toEqual([
          ["membership_dispute_lost", 10_00],
        ]);
        // Its redelivery, or the refund's success heard late on either path, changes nothing.
        expect(decided(d.state, failedOutside).ignored?.code).toBe("outside_refund_known");
        for (const late of [outside("re_dash", 10_00), ...susuSawIt]) {
          const again = decided(d.state, late);
          expect(again.ignored).toBeDefined();
          expect(again.effects).toEqual([]);
        }
        const all = postedAlong(s, [...order, failedOutside, failedOutside, ...susuSawIt]);
        expect(balances(all)["platform:membership_revenue"] ?? 0).toBe(0);
      }
    });

    it("the dashboard's refund failed before susu's refund call reported it: susu's refund reads it failed and books nothing", () => {
      const s = checkoutCanceledThenPaid();
      const along = [outside("re_dash", 10_00), outside("re_dash", 10_00, "failed"), ...susuSawIt];
      const txs = postedAlong(s, along);
      expect(balances(txs)["platform:membership_revenue"] ?? 0).toBe(0);
      const end = feed(s, along);
      expect(end.invoices[0]?.refund?.status).toBe("failed");
      expect(end.invoices[0]?.refund?.payments?.map((p) => [p.refundId, p.status])).toEqual([
        ["re_dash", "failed"],
      ]);
      expect(invoiceRevenueLeftMinor(end.invoices[0] as SubscriptionInvoice)).toBe(10_00);
    });

    it("a failure stored before it reached susu's refund (the outside path only) is put right when Stripe delivers it again", () => {
      const ended = feed(checkoutCanceledThenPaid(), [...susuSawIt, outside("re_dash", 10_00)]);
      const inv = ended.invoices[0] as SubscriptionInvoice;
      // As stored by the outside path alone: its refund failed, undoing the 0 it had booked.
      const stored: Subscription = {
        ...ended,
        invoices: [
          {
            ...inv,
            outsideRefunds: [
              {
                refundId: "re_dash",
                amountMinor: 10_00,
                status: "failed",
                failureCode: "expired_or_canceled_card",
                postedMinor: 0,
              },
            ],
          },
        ],
      };
      const d = decided(stored, outside("re_dash", 10_00, "failed"));
      expect(d.ignored).toBeUndefined();
      expect(postings(d.effects).map((t) => [t.kind, t.postings[0]?.amount.amountMinor])).toEqual([
        ["membership_invoice_refund_failed", 10_00],
      ]);
      expect(d.state.invoices[0]?.refund?.status).toBe("failed");
      expect(decided(d.state, outside("re_dash", 10_00, "failed")).ignored?.code).toBe(
        "outside_refund_known",
      );
    });

    it("two dashboard refunds answered susu's call as one (the first named, both amounts; an answer stored before each was named): the first failing undoes only its own amount, as before", () => {
      const s = checkoutCanceledThenPaid();
      // The payment was refunded by re_a (4.00) and re_b (6.00); the gateway answered susu's
      // call (before it named each refund) by the first, with what they gave back together.
      const answered: SubscriptionInput[] = [
        { type: "invoice_refunds_made", invoiceId: "in_1", refundIds: ["re_a"] },
        {
          type: "invoice_refund_settled",
          invoiceId: "in_1",
          outcome: "succeeded",
          refundId: "re_a",
          amountMinor: 10_00,
        },
      ];
      const dash = [outside("re_a", 4_00), outside("re_b", 6_00)];
      for (const order of [
        [...dash, ...answered],
        [...answered, ...dash],
      ]) {
        const txs = postedAlong(s, [...order, outside("re_a", 4_00, "failed")]);
        // re_b's 6.00 did go back: the platform holds only re_a's 4.00 again.
        expect(balances(txs)["platform:membership_revenue"]).toBe(-6_00);
        // Whose money the summed answer holds is unknown: no refund books a rest for it.
        expect(feed(s, order).invoices[0]?.refund?.summedAnswer).toBe(true);
        expect(txs.some((t) => t.id.includes(":rest"))).toBe(false);
      }
      // re_b failing instead: its booking, where there was one, is undone, and no rest is booked.
      expect(
        balances(postedAlong(s, [...dash, ...answered, outside("re_b", 6_00, "failed")]))[
          "platform:membership_revenue"
        ],
      ).toBe(-4_00);
      expect(
        postedAlong(s, [...answered, ...dash, outside("re_b", 6_00, "failed")]).some((t) =>
          t.id.includes(":rest"),
        ),
      ).toBe(false);
    });

    describe("several dashboard refunds answer susu's refund call, each named with its own amount", () => {
      // The payment (10.00) was refunded in the dashboard by re_a (4.00) and re_b (6.00) before
      // susu's refund ran: Stripe refused susu's refund (charge_already_refunded) and the
      // gateway answered with both refunds, each with its amount.
      const answered: SubscriptionInput[] = [
        { type: "invoice_refunds_made", invoiceId: "in_1", refundIds: ["re_a", "re_b"] },
        {
          type: "invoice_refund_settled",
          invoiceId: "in_1",
          outcome: "succeeded",
          refundId: "re_a",
          amountMinor: 4_00,
        },
        {
          type: "invoice_refund_settled",
          invoiceId: "in_1",
          outcome: "succeeded",
          refundId: "re_b",
          amountMinor: 6_00,
        },
      ];
      const dashA = outside("re_a", 4_00);
      const dashB = outside("re_b", 6_00);
      const dash = [dashA, dashB];
      const amounts = { re_a: 4_00, re_b: 6_00 } as const;
      /** Stripe's failure of `refundId` as susu's refund hears it (`invoice_refund_settled`). */
      const susuFailed = (refundId: keyof typeof amounts): SubscriptionInput => ({
        type: "invoice_refund_settled",
        invoiceId: "in_1",
        outcome: "failed",
        refundId,
        amountMinor: amounts[refundId],
        failureCode: "expired_or_canceled_card",
      });
      const orders = [
        ["the dashboard's news first", [...dash, ...answered]],
        ["susu's answer first", [...answered, ...dash]],
        ["interleaved", [dashA, ...answered, dashB]],
      ] as const;
      // A failure comes as the dashboard refund's news (no susu metadata), perhaps also on susu's
      // refund's path, in either order.
      const failurePaths = (id: keyof typeof amounts) =>
        [
          ["its news", [outside(id, amounts[id], "failed")]],
          ["susu's refund's path, then its news", [susuFailed(id), outside(id, amounts[id], "failed")]],
          ["its news, then susu's refund's path", [outside(id, amounts[id], "failed"), susuFailed(id)]],
        ] as const;
      const effectsAlong = (s: Subscription, inputs: readonly SubscriptionInput[]) => {
        const out: SubscriptionEffect[] = [];
        let state = s;
        for (const input of inputs) {
          const d = decided(state, input);
          out.push(...d.effects);
          state = d.state;
        }
        return { state, effects: out };
      };
      const revenue = (effects: readonly SubscriptionEffect[]) =>
        balances(postings(effects))["platform:membership_revenue"] ?? 0;

      for (const failing of ["re_a", "re_b"] as const) {
        const stands = failing === "re_a" ? "re_b" : "re_a";
        for (const [orderName, order] of orders)
          for (const [pathName, failure] of failurePaths(failing))
            it(`${failing} fails (${orderName}; heard on ${pathName}): exactly its ${amounts[failing]} is held again, once, and the books know it`, () => {
              const s = checkoutCanceledThenPaid();
              const before = effectsAlong(s, order);
              expect(revenue(before.effects)).toBe(-10_00);
              const after = effectsAlong(before.state, failure);
              // The platform holds the failed refund's own amount again; the other refund stands.
              expect(revenue([...before.effects, ...after.effects])).toBe(-amounts[stands]);
              const inv = after.state.invoices[0] as SubscriptionInvoice;
              expect(invoiceRevenueLeftMinor(inv)).toBe(amounts[failing]);
              expect(inv.refund?.status).toBe("failed");
              expect(inv.refund?.payments?.map((p) => [p.refundId, p.amountMinor, p.status])).toEqual([
                ["re_a", 4_00, failing === "re_a" ? "failed" : "succeeded"],
                ["re_b", 6_00, failing === "re_b" ? "failed" : "succeeded"],
              ]);
              // One ticket, naming the failed refund with its own amount.
              const tickets = after.effects.flatMap((e) => (e.kind === "open_ticket" ? [e] : []));
              expect(tickets.map((t) => t.id)).toEqual([`sub1:invoice:in_1:refund:${failing}:ticket`]);
              expect(tickets[0]?.summary).toContain(
                `Stripe failed refund ${failing} of ${amounts[failing]} AUD (minor units)`,
              );
              // Redelivered on either path, or its success heard late: nothing more.
              const again = effectsAlong(after.state, [
                ...failure,
                outside(failing, amounts[failing], "failed"),
                susuFailed(failing),
                ...order,
              ]);
              expect(again.effects).toEqual([]);
              expect(again.state.invoices).toEqual(after.state.invoices);
              // The other refund failing later is held again too: the platform holds all 10.00.
              const both = effectsAlong(after.state, [outside(stands, amounts[stands], "failed")]);
              expect(revenue([...before.effects, ...after.effects, ...both.effects])).toBe(0);
              expect(invoiceRevenueLeftMinor(both.state.invoices[0] as SubscriptionInvoice)).toBe(10_00);
              // Every posting once.
              const ids = postings([...before.effects, ...after.effects, ...both.effects]).map((t) => t.id);
              expect(new Set(ids).size).toBe(ids.length);
            });
      }

      it("re_b fails before re_a's own success news is heard (susu's answer first): re_a's news books nothing more", () => {
        const s = checkoutCanceledThenPaid();
        const along = [...answered, outside("re_b", 6_00, "failed"), outside("re_a", 4_00)];
        const { state, effects } = effectsAlong(s, along);
        expect(postings(effects).map((t) => [t.kind, t.postings[0]?.amount.amountMinor])).toEqual([
          ["membership_invoice_refunded", 10_00],
          ["membership_invoice_refund_failed", 6_00],
        ]);
        expect(revenue(effects)).toBe(-4_00);
        expect(invoiceRevenueLeftMinor(state.invoices[0] as SubscriptionInvoice)).toBe(6_00);
        expect(state.invoices[0]?.outsideRefunds?.map((r) => [r.refundId, r.status, r.postedMinor])).toEqual([
          ["re_b", "failed", 0],
          ["re_a", "succeeded", 0],
        ]);
      });

      it("re_a's failure heard before susu's answer (a narrow race): its ticket names its own 4.00, not what both gave back", () => {
        const s = checkoutCanceledThenPaid();
        const along = [...dash, outside("re_a", 4_00, "failed"), ...answered];
        const { state, effects } = effectsAlong(s, along);
        expect(revenue(effects)).toBe(-6_00);
        expect(invoiceRevenueLeftMinor(state.invoices[0] as SubscriptionInvoice)).toBe(4_00);
        const tickets = effects.flatMap((e) => (e.kind === "open_ticket" ? [e] : []));
        expect(tickets.map((t) => t.summary)).toEqual([
          expect.stringContaining("(refund re_a: 400 AUD (minor units), expired_or_canceled_card)"),
        ]);
        expect(tickets[0]?.summary).toContain("the platform holds 400 AUD (minor units)");
        expect(tickets[0]?.summary).toContain(
          "600 AUD (minor units) went back to the person and is in the ledger (booked as refunds made outside susu)",
        );
        expect(tickets[0]?.summary).not.toContain("1000 AUD (minor units), expired");
      });
    });

    it("the dashboard's part of susu's refund fails: only its part is undone, susu's own refund stands", () => {
      const s = checkoutCanceledThenPaid();
      const ended: SubscriptionInput[] = [
        { type: "invoice_refunds_made", invoiceId: "in_1", refundIds: ["re_susu", "re_dash"] },
        {
          type: "invoice_refund_settled",
          invoiceId: "in_1",
          outcome: "succeeded",
          refundId: "re_susu",
          amountMinor: 6_00,
        },
        {
          type: "invoice_refund_settled",
          invoiceId: "in_1",
          outcome: "succeeded",
          refundId: "re_dash",
          amountMinor: 4_00,
        },
      ];
      for (const order of [
        [outside("re_dash", 4_00), ...ended],
        [...ended, outside("re_dash", 4_00)],
      ]) {
        const along = [...order, outside("re_dash", 4_00, "failed")];
        expect(balances(postedAlong(s, along))["platform:membership_revenue"]).toBe(-6_00);
        const end = feed(s, along);
        expect(end.invoices[0]?.refund?.payments?.map((p) => [p.refundId, p.status])).toEqual([
          ["re_susu", "succeeded"],
          ["re_dash", "failed"],
        ]);
        expect(invoiceRevenueLeftMinor(end.invoices[0] as SubscriptionInvoice)).toBe(4_00);
      }
    });
  });
});

describe("a refund the books had no room for: they still counted another refund Stripe has failed since", () => {
  // The invoice collected 10.00. Dashboard refund re_A (6.00) succeeded and was booked; Stripe
  // then failed it (susu has not heard yet), so the charge was refundable in full again and
  // re_B refunded all 10.00. re_B's news comes before re_A's failure: the books have room for
  // only 4.00 of it then. re_A's failure puts 6.00 back: re_B's rest is booked then, once.
  const revenue = (txs: readonly LedgerTransaction[]) => balances(txs)["platform:membership_revenue"] ?? 0;
  const along = (s: Subscription, inputs: readonly SubscriptionInput[]) => {
    let state = s;
    const txs: LedgerTransaction[] = [];
    for (const input of inputs) {
      const d = decided(state, input);
      txs.push(...postings(d.effects));
      state = d.state;
    }
    return { state, txs, inv: state.invoices.find((i) => i.id === "in_1") as SubscriptionInvoice };
  };

  it("no susu refund (an active membership): re_B's 6.00 left unbooked is booked when re_A's failure is heard, under its own id, once", () => {
    const s = activeSubscription();
    const capped = along(s, [outside("re_A", 6_00), outside("re_B", 10_00)]);
    expect(capped.txs.map((t) => [t.id, t.postings[0]?.amount.amountMinor])).toEqual([
      ["sub1:invoice:in_1:refunded-outside:re_A", 6_00],
      ["sub1:invoice:in_1:refunded-outside:re_B", 4_00],
    ]);
    expect(capped.inv.outsideRefunds?.[1]).toEqual({
      refundId: "re_B",
      amountMinor: 10_00,
      status: "succeeded",
      postedMinor: 4_00,
      rest: { unbookedMinor: 6_00, postings: 0 },
    });
    const freed = decided(capped.state, outside("re_A", 6_00, "failed"));
    expect(
      postings(freed.effects).map((t) => [t.id, t.kind, t.refs.refundId, t.postings[0]?.amount.amountMinor]),
    ).toEqual([
      ["sub1:invoice:in_1:refunded-outside:re_A:failed", "membership_outside_refund_failed", "re_A", 6_00],
      ["sub1:invoice:in_1:refunded-outside:re_B:rest", "membership_refunded_outside_susu", "re_B", 6_00],
    ]);
    // Books: all 10.00 went back (re_B), as at Stripe; the invoice's figure agrees.
    expect(revenue([...capped.txs, ...postings(freed.effects)])).toBe(-10_00);
    const inv = freed.state.invoices[0] as SubscriptionInvoice;
    expect(invoiceRevenueLeftMinor(inv)).toBe(0);
    expect(inv.outsideRefunds?.[1]).toEqual({
      refundId: "re_B",
      amountMinor: 10_00,
      status: "succeeded",
      postedMinor: 10_00,
    });
    // The failure delivered again books nothing more.
    expect(decided(freed.state, outside("re_A", 6_00, "failed")).ignored?.code).toBe("outside_refund_known");
    // re_B failing in turn undoes all it booked, its rest included.
    const undone = decided(freed.state, outside("re_B", 10_00, "failed"));
    expect(postings(undone.effects).map((t) => [t.id, t.postings[0]?.amount.amountMinor])).toEqual([
      ["sub1:invoice:in_1:refunded-outside:re_B:failed", 10_00],
    ]);
  });

  it("in any order of the three news (and repeats), the books end with re_B's 10.00 refunded", () => {
    const news = [outside("re_A", 6_00), outside("re_B", 10_00), outside("re_A", 6_00, "failed")];
    const orders = [
      [0, 1, 2],
      [0, 2, 1],
      [1, 0, 2],
      [1, 2, 0],
      [2, 0, 1],
      [2, 1, 0],
      [0, 1, 1, 2, 2, 0],
    ];
    for (const order of orders) {
      const end = along(
        activeSubscription(),
        order.map((i) => news[i] as SubscriptionInput),
      );
      expect(revenue(end.txs), `order ${order.join(",")}`).toBe(-10_00);
      expect(invoiceRevenueLeftMinor(end.inv)).toBe(0);
      const ids = end.txs.map((t) => t.id);
      expect(new Set(ids).size).toBe(ids.length);
    }
  });

  it("room freed in two goes (two failed refunds) books the rest in two postings, each once", () => {
    const end = along(activeSubscription(), [
      outside("re_A1", 5_00),
      outside("re_A2", 5_00),
      outside("re_B", 10_00),
      outside("re_A1", 5_00, "failed"),
      outside("re_A2", 5_00, "failed"),
    ]);
    expect(
      end.txs.filter((t) => t.refs.refundId === "re_B").map((t) => [t.id, t.postings[0]?.amount.amountMinor]),
    ).toEqual([
      ["sub1:invoice:in_1:refunded-outside:re_B:rest", 5_00],
      ["sub1:invoice:in_1:refunded-outside:re_B:rest-2", 5_00],
    ]);
    expect(revenue(end.txs)).toBe(-10_00);
    expect(end.inv.outsideRefunds?.find((r) => r.refundId === "re_B")).toEqual({
      refundId: "re_B",
      amountMinor: 10_00,
      status: "succeeded",
      postedMinor: 10_00,
    });
  });

  describe("susu's own refund of a late-paid membership, answered by re_B (made after re_A failed)", () => {
    const latePaid = () =>
      feed(
        freshSubscription({
          start: { kind: "checkout", successUrl: "https://a.test/ok", cancelUrl: "https://a.test/no" },
        }),
        [{ type: "cancel", atPeriodEnd: false }, paidInvoice("in_1", 1, 10_00)],
      );
    const answered: SubscriptionInput[] = [
      { type: "invoice_refunds_made", invoiceId: "in_1", refundIds: ["re_B"] },
      {
        type: "invoice_refund_settled",
        invoiceId: "in_1",
        outcome: "succeeded",
        refundId: "re_B",
        amountMinor: 10_00,
      },
    ];
    const dashA = outside("re_A", 6_00);
    const dashB = outside("re_B", 10_00);
    const failedA = outside("re_A", 6_00, "failed");

    it("re_B's news before susu's answer, re_A's failure last (the reviewer's P2): every cent that went back is booked", () => {
      const end = along(latePaid(), [dashA, dashB, ...answered, failedA]);
      expect(revenue(end.txs)).toBe(-10_00);
      expect(invoiceRevenueLeftMinor(end.inv)).toBe(0);
      expect(end.txs.at(-1)?.id).toBe("sub1:invoice:in_1:refunded-outside:re_B:rest");
    });

    it("susu's answer alone (re_B's own news not heard yet): susu's refund keeps the rest and books it when re_A fails; re_B's late news books nothing more", () => {
      const ended = along(latePaid(), [dashA, ...answered]);
      // re_A's 6.00 is still counted as given back: susu's refund posts 4.00 and keeps 6.00.
      expect(revenue(ended.txs)).toBe(-10_00);
      expect(ended.inv.refund?.payments).toEqual([
        {
          refundId: "re_B",
          amountMinor: 10_00,
          status: "succeeded",
          posted: true,
          postedMinor: 4_00,
          rest: { unbookedMinor: 6_00, postings: 0 },
        },
      ]);
      const freed = along(ended.state, [failedA]);
      expect(freed.txs.map((t) => [t.id, t.kind, t.postings[0]?.amount.amountMinor])).toEqual([
        ["sub1:invoice:in_1:refunded-outside:re_A:failed", "membership_outside_refund_failed", 6_00],
        ["sub1:invoice:in_1:refunded:re_B:rest", "membership_invoice_refunded", 6_00],
      ]);
      const late = along(freed.state, [dashB, failedA, ...answered]);
      expect(late.txs).toEqual([]);
      expect(revenue([...ended.txs, ...freed.txs])).toBe(-10_00);
      expect(invoiceRevenueLeftMinor(late.inv)).toBe(0);
    });

    it("every order of the four news: books end with re_B's 10.00 refunded, each posting once", () => {
      const news = [dashA, dashB, answered[0], answered[1], failedA] as SubscriptionInput[];
      const permutations = (xs: number[]): number[][] =>
        xs.length <= 1
          ? [xs]
          : xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
      for (const order of permutations([0, 1, 2, 3, 4])) {
        const end = along(
          latePaid(),
          order.map((i) => news[i] as SubscriptionInput),
        );
        expect(revenue(end.txs), `order ${order.join(",")}`).toBe(-10_00);
        expect(invoiceRevenueLeftMinor(end.inv)).toBe(0);
        const ids = end.txs.map((t) => t.id);
        expect(new Set(ids).size).toBe(ids.length);
      }
    });
  });
});

describe("a dispute of an invoice's charge", () => {
  it("a chargeback books the loss when Stripe takes the money (Dr dispute_losses, Cr revenue); its closure lost books nothing more", () => {
    const s = activeSubscription();
    const opened = decided(s, disputed({ amountMinor: 10_00, stripeStatus: "needs_response" }));
    expect(postings(opened.effects)).toEqual([
      expect.objectContaining({
        id: "sub1:invoice:in_1:dispute:du_1:lost",
        kind: "membership_dispute_lost",
        refs: { subscriptionId: "sub1", invoiceId: "in_1", disputeId: "du_1" },
        postings: [
          {
            account: "membership:sub1:dispute_losses",
            side: "debit",
            amount: { amountMinor: 10_00, currency: "AUD" },
          },
          {
            account: "platform:membership_revenue",
            side: "credit",
            amount: { amountMinor: 10_00, currency: "AUD" },
          },
        ],
      }),
    ]);
    expect(
      decided(opened.state, disputed({ amountMinor: 10_00, stripeStatus: "needs_response" })).ignored?.code,
    ).toBe("dispute_unchanged");
    const lost = decided(opened.state, disputed({ amountMinor: 10_00, closed: "lost" }));
    expect(lost.ignored).toBeUndefined();
    expect(postings(lost.effects)).toEqual([]);
    expect(lost.state.invoices[0]?.disputes).toEqual([
      { disputeId: "du_1", amountMinor: 10_00, stripeStatus: "lost", status: "lost", lossMinor: 10_00 },
    ]);
    expect(decided(lost.state, disputed({ closed: "lost" })).ignored?.code).toBe("dispute_already_closed");
    // Paid in 10.00, taken back 10.00: nothing left as the platform's revenue.
    const txs = postedAlong(activeSubscription(), [
      disputed({ amountMinor: 10_00, stripeStatus: "needs_response" }),
      disputed({ amountMinor: 10_00, closed: "lost" }),
    ]);
    expect(balances(txs)).toEqual({
      "membership:sub1:dispute_losses": 10_00,
      "platform:membership_revenue": -10_00,
    });
  });

  it("a closure lost whose opening was not heard (or was an inquiry) books the loss then", () => {
    const txs = postedAlong(activeSubscription(), [disputed({ amountMinor: 10_00, closed: "lost" })]);
    expect(txs.map((t) => [t.id, t.kind])).toEqual([
      ["sub1:invoice:in_1:dispute:du_1:lost", "membership_dispute_lost"],
    ]);
    const inquiry = postedAlong(activeSubscription(), [
      disputed({ amountMinor: 10_00, stripeStatus: "warning_needs_response" }),
      disputed({ stripeStatus: "needs_response" }),
    ]);
    expect(inquiry.map((t) => t.kind)).toEqual(["membership_dispute_lost"]);
  });

  it("a dispute won undoes the loss booked (membership_dispute_reinstated); an inquiry closed books nothing", () => {
    const txs = postedAlong(activeSubscription(), [
      disputed({ amountMinor: 10_00, stripeStatus: "needs_response" }),
      disputed({ amountMinor: 10_00, closed: "won" }),
    ]);
    expect(txs.map((t) => [t.id, t.kind])).toEqual([
      ["sub1:invoice:in_1:dispute:du_1:lost", "membership_dispute_lost"],
      ["sub1:invoice:in_1:dispute:du_1:won", "membership_dispute_reinstated"],
    ]);
    expect(balances(txs)).toEqual({ "membership:sub1:dispute_losses": 0, "platform:membership_revenue": 0 });
    const inquiry = postedAlong(activeSubscription(), [
      disputed({ amountMinor: 10_00, stripeStatus: "warning_needs_response" }),
      disputed({ amountMinor: 10_00, closed: "won" }),
    ]);
    expect(inquiry).toEqual([]);
  });

  it("takes back at most what the invoice's books still count: a charge refunded outside susu in part, then disputed", () => {
    const txs = postedAlong(activeSubscription(), [
      outside("re_dash", 4_00),
      disputed({ amountMinor: 10_00, closed: "lost" }),
    ]);
    expect(txs.map((t) => [t.kind, t.postings[0]?.amount.amountMinor])).toEqual([
      ["membership_refunded_outside_susu", 4_00],
      ["membership_dispute_lost", 6_00],
    ]);
    expect(
      decided(feed(freshSubscription(), [snapshot("active", 0)]), disputed({ closed: "lost" })).ignored?.code,
    ).toBe("invoice_not_paid");
  });
});

describe("a dispute's loss the books had no room for: they still counted a refund Stripe has failed since", () => {
  // The invoice collected 10.00. Dashboard refund re_A (6.00) succeeded and was booked; Stripe
  // then failed it (susu has not heard yet), so the charge held all 10.00 again and the bank
  // disputed all of it (Stripe withdrew 10.00; with nothing refunded at the closure, a dispute
  // lost gives nothing back). The dispute's news comes before re_A's failure: the books have
  // room for only 4.00 of the loss then. re_A's failure puts 6.00 back: the loss's rest is
  // booked then, once, under the dispute's own id.
  const along = (s: Subscription, inputs: readonly SubscriptionInput[]) => {
    let state = s;
    const txs: LedgerTransaction[] = [];
    for (const input of inputs) {
      const d = decided(state, input);
      txs.push(...postings(d.effects));
      state = d.state;
    }
    return { state, txs, inv: state.invoices.find((i) => i.id === "in_1") as SubscriptionInvoice };
  };
  /** What the books hold as refunded and as lost by the news fed (the invoice's own posting left out); the revenue moved agrees. */
  const books = (txs: readonly LedgerTransaction[]) => {
    const b = balances(txs);
    const refunded = b["membership:sub1:paid_in"] ?? 0;
    const lost = b["membership:sub1:dispute_losses"] ?? 0;
    expect((b["platform:membership_revenue"] ?? 0) + refunded + lost).toBe(0);
    return { refunded, lost };
  };
  const refundA = outside("re_A", 6_00);
  const failedA = outside("re_A", 6_00, "failed");
  const opened = disputed({ amountMinor: 10_00, stripeStatus: "needs_response" });
  const lost = disputed({ amountMinor: 10_00, closed: "lost" });
  const won = disputed({ amountMinor: 10_00, closed: "won" });

  it("the brief's case: 4.00 booked lost, 6.00 kept as the dispute's rest and booked when re_A's failure is heard", () => {
    const capped = along(activeSubscription(), [refundA, lost]);
    expect(capped.txs.map((t) => [t.id, t.postings[0]?.amount.amountMinor])).toEqual([
      ["sub1:invoice:in_1:refunded-outside:re_A", 6_00],
      ["sub1:invoice:in_1:dispute:du_1:lost", 4_00],
    ]);
    expect(capped.inv.disputes).toEqual([
      {
        disputeId: "du_1",
        amountMinor: 10_00,
        stripeStatus: "lost",
        status: "lost",
        lossMinor: 4_00,
        rest: { unbookedMinor: 6_00, postings: 0 },
      },
    ]);
    const freed = decided(capped.state, failedA);
    expect(
      postings(freed.effects).map((t) => [t.id, t.kind, t.refs.disputeId, t.postings[0]?.amount.amountMinor]),
    ).toEqual([
      ["sub1:invoice:in_1:refunded-outside:re_A:failed", "membership_outside_refund_failed", undefined, 6_00],
      ["sub1:invoice:in_1:dispute:du_1:lost:rest", "membership_dispute_lost", "du_1", 6_00],
    ]);
    const txs = [...capped.txs, ...postings(freed.effects)];
    // Books: all 10.00 taken by the bank, nothing refunded, as at Stripe.
    expect(books(txs)).toEqual({ refunded: 0, lost: 10_00 });
    const inv = freed.state.invoices[0] as SubscriptionInvoice;
    expect(invoiceRevenueLeftMinor(inv)).toBe(0);
    expect(inv.disputes?.[0]).toEqual({
      disputeId: "du_1",
      amountMinor: 10_00,
      stripeStatus: "lost",
      status: "lost",
      lossMinor: 10_00,
    });
    // The failure delivered again books nothing more.
    expect(decided(freed.state, failedA).ignored?.code).toBe("outside_refund_known");
  });

  it("in any order of the news (and repeats), the books end with the 10.00 lost and nothing refunded, each posting once", () => {
    const news = [refundA, opened, lost, failedA];
    const permutations = (xs: number[]): number[][] =>
      xs.length <= 1
        ? [xs]
        : xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
    for (const order of [...permutations([0, 1, 2, 3]), [0, 1, 1, 2, 0, 3, 3, 2]]) {
      const end = along(
        activeSubscription(),
        order.map((i) => news[i] as SubscriptionInput),
      );
      expect(books(end.txs), `order ${order.join(",")}`).toEqual({ refunded: 0, lost: 10_00 });
      expect(invoiceRevenueLeftMinor(end.inv)).toBe(0);
      const ids = end.txs.map((t) => t.id);
      expect(new Set(ids).size).toBe(ids.length);
    }
  });

  it("room freed in two goes books the rest in two postings (…:rest, …:rest-2), each once", () => {
    const end = along(activeSubscription(), [
      outside("re_A1", 3_00),
      outside("re_A2", 5_00),
      opened,
      outside("re_A1", 3_00, "failed"),
      outside("re_A2", 5_00, "failed"),
      lost,
    ]);
    expect(
      end.txs
        .filter((t) => t.refs.disputeId === "du_1")
        .map((t) => [t.id, t.postings[0]?.amount.amountMinor]),
    ).toEqual([
      ["sub1:invoice:in_1:dispute:du_1:lost", 2_00],
      ["sub1:invoice:in_1:dispute:du_1:lost:rest", 3_00],
      ["sub1:invoice:in_1:dispute:du_1:lost:rest-2", 5_00],
    ]);
    expect(books(end.txs)).toEqual({ refunded: 0, lost: 10_00 });
    expect(end.inv.disputes?.[0]?.rest).toBeUndefined();
  });

  it("won after its rest was booked: exactly what was booked lost is undone, once, and the rest is dropped", () => {
    const partly = along(activeSubscription(), [
      outside("re_A1", 3_00),
      outside("re_A2", 5_00),
      opened,
      outside("re_A1", 3_00, "failed"),
    ]);
    expect(partly.inv.disputes?.[0]).toMatchObject({
      lossMinor: 5_00,
      rest: { unbookedMinor: 5_00, postings: 1 },
    });
    const end = along(partly.state, [won, outside("re_A2", 5_00, "failed"), won]);
    expect(end.txs.map((t) => [t.id, t.postings[0]?.amount.amountMinor])).toEqual([
      ["sub1:invoice:in_1:dispute:du_1:won", 5_00],
      ["sub1:invoice:in_1:refunded-outside:re_A2:failed", 5_00],
    ]);
    expect(end.inv.disputes?.[0]).toEqual({
      disputeId: "du_1",
      amountMinor: 10_00,
      stripeStatus: "won",
      status: "won",
      lossMinor: 0,
    });
    expect(books([...partly.txs, ...end.txs])).toEqual({ refunded: 0, lost: 0 });
    expect(invoiceRevenueLeftMinor(end.inv)).toBe(10_00);
  });

  it('a refund standing at Stripe is never failed: the rest stays unbooked (a dispute lost gives the refunded part back: Stripe\'s "partially won")', () => {
    const end = along(activeSubscription(), [refundA, opened, lost]);
    expect(books(end.txs)).toEqual({ refunded: 6_00, lost: 4_00 });
    expect(end.inv.disputes?.[0]?.rest).toEqual({ unbookedMinor: 6_00, postings: 0 });
    // The ticket and its resolution say what is not booked, and why.
    const opening = decided(decided(activeSubscription(), refundA).state, opened);
    const ticket = opening.effects.find((e) => e.kind === "open_ticket");
    expect(ticket).toMatchObject({
      summary: expect.stringContaining("600 AUD (minor units) of it is not booked"),
    });
    const closing = decided(opening.state, lost).effects.find((e) => e.kind === "resolve_ticket");
    expect(closing).toMatchObject({
      note: expect.stringContaining(
        "400 AUD (minor units) is booked lost (membership_dispute_lost); 600 AUD",
      ),
    });
  });

  it("freed room goes to refunds' rests before a dispute's (a dispute lost gives back what refunds standing hold)", () => {
    // re_A 6.00 booked, failed at Stripe; then re_B 3.00 and a dispute of all 10.00 (lost: the
    // 3.00 re_B holds is given back). Heard: re_A, the dispute, re_B, re_A's failure.
    const end = along(activeSubscription(), [refundA, opened, outside("re_B", 3_00), failedA, lost]);
    expect(end.txs.map((t) => [t.id, t.postings[0]?.amount.amountMinor])).toEqual([
      ["sub1:invoice:in_1:refunded-outside:re_A", 6_00],
      ["sub1:invoice:in_1:dispute:du_1:lost", 4_00],
      ["sub1:invoice:in_1:refunded-outside:re_A:failed", 6_00],
      ["sub1:invoice:in_1:refunded-outside:re_B:rest", 3_00],
      ["sub1:invoice:in_1:dispute:du_1:lost:rest", 3_00],
    ]);
    // As at Stripe: 3.00 refunded (re_B), 7.00 lost (10.00 withdrawn, 3.00 given back).
    expect(books(end.txs)).toEqual({ refunded: 3_00, lost: 7_00 });
  });

  it("a dispute stored before rests were kept (no `rest`) books what Stripe withdrew beyond its loss when a refund's failure frees room", () => {
    const capped = along(activeSubscription(), [refundA, lost]);
    const inv = capped.inv;
    const kept = inv.disputes?.[0];
    if (kept === undefined) throw new Error("no dispute");
    const { rest: _dropped, ...before } = kept;
    const stored: Subscription = {
      ...capped.state,
      invoices: capped.state.invoices.map((i) => (i.id === "in_1" ? { ...inv, disputes: [before] } : i)),
    };
    const freed = decided(stored, failedA);
    expect(postings(freed.effects).map((t) => [t.id, t.postings[0]?.amount.amountMinor])).toEqual([
      ["sub1:invoice:in_1:refunded-outside:re_A:failed", 6_00],
      ["sub1:invoice:in_1:dispute:du_1:lost:rest", 6_00],
    ]);
    expect(books([...capped.txs, ...postings(freed.effects)])).toEqual({ refunded: 0, lost: 10_00 });
    expect(freed.state.invoices[0]?.disputes?.[0]).toMatchObject({ lossMinor: 10_00 });
    expect(freed.state.invoices[0]?.disputes?.[0]?.rest).toBeUndefined();
  });
});

describe("a dispute of an invoice's charge is told to the platform's admins, with one ticket", () => {
  const ticketId = "sub1:invoice:in_1:dispute:du_1:ticket";
  const told = (effects: readonly SubscriptionEffect[]) =>
    effects.filter((e) => e.kind === "notify" || e.kind === "open_ticket" || e.kind === "resolve_ticket");
  const opening = disputed({
    amountMinor: 10_00,
    stripeStatus: "needs_response",
    reason: "fraudulent",
    evidenceDueBy: MEMBERSHIP_T0 + 7 * 86_400_000,
  });

  it("its opening opens a ticket (one per dispute) and tells the admins; updates and repeats tell nobody again", () => {
    const opened = decided(activeSubscription(), opening);
    expect(told(opened.effects)).toEqual([
      {
        kind: "open_ticket",
        id: ticketId,
        aggregate: "subscription",
        aggregateId: "sub1",
        reason: "dispute",
        summary: expect.stringContaining("du_1"),
      },
      {
        kind: "notify",
        id: "sub1:notify:dispute_opened:in_1:du_1",
        aggregate: "subscription",
        aggregateId: "sub1",
        to: { kind: "platform_admins" },
        template: "dispute_opened",
        data: expect.objectContaining({
          disputeId: "du_1",
          invoiceId: "in_1",
          amountMinor: 10_00,
          currency: "AUD",
          reason: "fraudulent",
          evidenceDueBy: "2026-01-08T00:00:00.000Z",
        }),
      },
    ]);
    const summary = (opened.effects.find((e) => e.kind === "open_ticket") as { summary: string }).summary;
    expect(summary).toContain("membership sub1");
    expect(summary).toContain("evidence due by 2026-01-08T00:00:00.000Z");
    // A redelivery, an update: nothing more is opened or told.
    expect(decided(opened.state, opening).effects).toEqual([]);
    const updated = decided(opened.state, disputed({ stripeStatus: "under_review" }));
    expect(updated.ignored).toBeUndefined();
    expect(told(updated.effects)).toEqual([]);
  });

  it.each([
    ["won", "membership_dispute_reinstated"],
    ["lost", undefined],
  ] as const)("its closure %s tells the admins and resolves its ticket", (outcome, posting) => {
    const opened = feed(activeSubscription(), [opening]);
    const closed = decided(opened, disputed({ amountMinor: 10_00, closed: outcome }));
    expect(postings(closed.effects).map((t) => t.kind)).toEqual(posting === undefined ? [] : [posting]);
    expect(told(closed.effects)).toEqual([
      {
        kind: "notify",
        id: "sub1:notify:dispute_closed:in_1:du_1",
        aggregate: "subscription",
        aggregateId: "sub1",
        to: { kind: "platform_admins" },
        template: "dispute_closed",
        data: expect.objectContaining({ disputeId: "du_1", invoiceId: "in_1", outcome }),
      },
      {
        kind: "resolve_ticket",
        id: `${ticketId}:resolve`,
        aggregate: "subscription",
        aggregateId: "sub1",
        ticketId,
        by: "stripe",
        note: expect.stringContaining(outcome),
      },
    ]);
    expect(decided(closed.state, disputed({ closed: outcome })).effects).toEqual([]);
  });

  it("a closure heard before its opening tells the admins how it ended and opens no ticket (nothing is left to do); the late opening tells nobody", () => {
    const closed = decided(activeSubscription(), disputed({ amountMinor: 10_00, closed: "lost" }));
    expect(told(closed.effects).map((e) => [e.kind, e.id])).toEqual([
      ["notify", "sub1:notify:dispute_closed:in_1:du_1"],
    ]);
    expect(decided(closed.state, opening).effects).toEqual([]);
  });

  it("an inquiry is told and ticketed as well", () => {
    const inquiry = decided(
      activeSubscription(),
      disputed({ amountMinor: 10_00, stripeStatus: "warning_needs_response", reason: "general" }),
    );
    expect(postings(inquiry.effects)).toEqual([]);
    expect(told(inquiry.effects).map((e) => [e.kind, e.id])).toEqual([
      ["open_ticket", ticketId],
      ["notify", "sub1:notify:dispute_opened:in_1:du_1"],
    ]);
  });
});
