// A membership invoice's payment refunded in Stripe's dashboard by several refunds before
// susu's own refund of it ran (the membership was canceled before it started, then paid):
// Stripe refuses susu's refund (`charge_already_refunded`) and the gateway answers with every
// one of those refunds, each with its own amount. Each refund's news also comes as a refund
// made outside susu (no susu metadata), and Stripe may fail any of them afterwards; a failure
// may reach susu's refund's path too. Whatever order all of it comes in, and however often,
// the membership's books end with what actually went back: each failed refund's own amount is
// held again, once; the invoice's "revenue left" says the same; every failed refund is on a
// ticket with its own amount.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { freshSubscription, MEMBERSHIP_T0, paidInvoice } from "../testing/membership-mothers.js";
import type { SubscriptionEffect } from "./membership-effect.js";
import { invoiceRevenueLeftMinor, type Subscription } from "./subscription.js";
import { decideSubscription } from "./subscription-decide.js";
import type { SubscriptionInput } from "./subscription-input.js";

type Heard =
  | { readonly made: true }
  | { readonly answer: number }
  | { readonly outside: number; readonly outcome: "succeeded" | "failed" }
  | { readonly susuFailed: number };

const scenarioArb = fc
  .record({
    /** The dashboard's refunds of the payment (together all of it), and whether Stripe fails each later. */
    parts: fc.array(
      fc.record({
        amountMinor: fc.integer({ min: 1, max: 500_000 }),
        fails: fc.boolean(),
        /** Its failure reaches susu's refund's path too (besides its own news). */
        failureOnSusuPath: fc.boolean(),
      }),
      { minLength: 1, maxLength: 4 },
    ),
    repeats: fc.array(fc.nat(), { maxLength: 6 }),
    order: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 24, maxLength: 24 }),
  })
  .map((r) => ({ ...r, amountPaidMinor: r.parts.reduce((n, p) => n + p.amountMinor, 0) }));

describe("several dashboard refunds answering susu's refund of a late-paid membership (any order, any repeats)", () => {
  it("each failed refund's own amount is held again, once; the books, the invoice and the tickets agree", () => {
    fc.assert(
      fc.property(scenarioArb, (sc) => {
        const effects: SubscriptionEffect[] = [];
        let s: Subscription = freshSubscription({
          start: { kind: "checkout", successUrl: "https://app.test/ok", cancelUrl: "https://app.test/no" },
        });
        const hear = (input: SubscriptionInput) => {
          const d = decideSubscription(s, input, { now: MEMBERSHIP_T0 })._unsafeUnwrap();
          s = d.state;
          effects.push(...d.effects);
        };
        hear({ type: "cancel", atPeriodEnd: false });
        hear(paidInvoice("in_1", 1, sc.amountPaidMinor));
        expect(effects.filter((e) => e.kind === "refund_subscription_invoice")).toHaveLength(1);

        const id = (i: number) => `re_${i}`;
        const amountOf = (i: number) => sc.parts[i]?.amountMinor ?? 0;
        const told: Heard[] = [
          { made: true },
          ...sc.parts.flatMap((p, i): Heard[] => [
            { answer: i },
            { outside: i, outcome: "succeeded" },
            ...(p.fails ? [{ outside: i, outcome: "failed" } as const] : []),
            ...(p.fails && p.failureOnSusuPath ? [{ susuFailed: i }] : []),
          ]),
        ];
        const heard = [...told, ...sc.repeats.map((i) => told[i % told.length] as Heard)]
          .map((t, i) => ({ t, k: sc.order[i] ?? 0 }))
          .sort((a, b) => a.k - b.k)
          .map((x) => x.t);
        for (const t of heard)
          hear(
            "made" in t
              ? { type: "invoice_refunds_made", invoiceId: "in_1", refundIds: sc.parts.map((_, i) => id(i)) }
              : "answer" in t
                ? {
                    type: "invoice_refund_settled",
                    invoiceId: "in_1",
                    outcome: "succeeded",
                    refundId: id(t.answer),
                    amountMinor: amountOf(t.answer),
                  }
                : "outside" in t
                  ? {
                      type: "invoice_refunded_outside",
                      invoiceId: "in_1",
                      refundId: id(t.outside),
                      amountMinor: amountOf(t.outside),
                      outcome: t.outcome,
                      ...(t.outcome === "failed" ? { failureCode: "expired_or_canceled_card" } : {}),
                    }
                  : {
                      type: "invoice_refund_settled",
                      invoiceId: "in_1",
                      outcome: "failed",
                      refundId: id(t.susuFailed),
                      amountMinor: amountOf(t.susuFailed),
                      failureCode: "expired_or_canceled_card",
                    },
          );

        const wentBack = sc.parts.reduce((n, p) => n + (p.fails ? 0 : p.amountMinor), 0);
        const posted = effects.flatMap((e) => (e.kind === "post_ledger" ? [e.transaction] : []));
        // No posting twice; each balances; the platform's revenue ends with what did not go back.
        const ids = posted.map((t) => t.id);
        expect(new Set(ids).size).toBe(ids.length);
        const balances = new Map<string, number>();
        for (const t of posted) {
          let net = 0;
          for (const p of t.postings) {
            const signed = p.side === "debit" ? p.amount.amountMinor : -p.amount.amountMinor;
            net += signed;
            balances.set(p.account, (balances.get(p.account) ?? 0) + signed);
          }
          expect(net).toBe(0);
        }
        expect(balances.get("platform:membership_revenue") ?? 0).toBe(sc.amountPaidMinor - wentBack);
        expect((balances.get(`membership:${s.id}:paid_in`) ?? 0) + sc.amountPaidMinor - wentBack).toBe(0);
        // The invoice's own figure agrees (a later dispute takes no more than this).
        const inv = s.invoices[0];
        if (inv === undefined) throw new Error("no invoice");
        expect(invoiceRevenueLeftMinor(inv)).toBe(sc.amountPaidMinor - wentBack);
        // Susu's refund knows every refund, each with its own amount and how it ended.
        expect(inv.refund?.status).toBe(sc.parts.some((p) => p.fails) ? "failed" : "succeeded");
        expect(
          [...(inv.refund?.payments ?? [])]
            .map((p) => [p.refundId, p.amountMinor, p.status])
            .sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
        ).toEqual(
          sc.parts
            .map((p, i) => [id(i), p.amountMinor, p.fails ? "failed" : "succeeded"])
            .sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
        );
        // Every failed refund is on a ticket with its own amount, and no ticket names a refund
        // with another amount.
        const summaries = effects.flatMap((e) =>
          e.kind === "open_ticket" && e.reason === "membership_refund_failed" ? [e.summary] : [],
        );
        const named = summaries.flatMap((text) =>
          [...text.matchAll(/refund (re_\d+)(?: of|:) (\d+) AUD/g)].map((m) => [m[1], Number(m[2])] as const),
        );
        for (const [refundId, minor] of named) expect(minor).toBe(amountOf(Number(refundId?.slice(3))));
        for (const [i, p] of sc.parts.entries())
          if (p.fails) expect(named.some(([refundId]) => refundId === id(i))).toBe(true);
        // The person is told of the refund at most once, and of each reversal at most once.
        const notices = effects.flatMap((e) => (e.kind === "notify" ? [e.id] : []));
        expect(new Set(notices).size).toBe(notices.length);
      }),
      { numRuns: 1_000 },
    );
  });
});
