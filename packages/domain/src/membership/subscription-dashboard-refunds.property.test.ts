// A membership invoice's payment refunded in Stripe's dashboard by several refunds before
// susu's own refund of it ran (the membership was canceled before it started, then paid):
// Stripe refuses susu's refund (`charge_already_refunded`) and the gateway answers with every
// one of those refunds, each with its own amount. Each refund's news also comes as a refund
// made outside susu (no susu metadata), and Stripe may fail any of them afterwards; a failure
// may reach susu's refund's path too. The money a failure puts back may be refunded again in
// the dashboard (Stripe allows it: the charge is refundable for it again), after susu's refund
// call (a refund outside susu only) or before it (then Stripe's answer names that refund, not
// the failed one). Whatever order all of it comes in (a refund of the freed money heard before
// the failure that freed it included), and however often, the membership's books end with
// what actually went back: each failed refund's own amount is held again, once, and every
// refund standing at Stripe is booked in full; the invoice's "revenue left" says the same;
// every failed refund of susu's is on a ticket with its own amount.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { freshSubscription, MEMBERSHIP_T0, paidInvoice } from "../testing/membership-mothers.js";
import type { SubscriptionEffect } from "./membership-effect.js";
import { invoiceRevenueLeftMinor, type Subscription } from "./subscription.js";
import { decideSubscription } from "./subscription-decide.js";
import type { SubscriptionInput } from "./subscription-input.js";

type Heard =
  | { readonly made: true }
  | { readonly answer: string }
  | { readonly outside: string; readonly outcome: "succeeded" | "failed" }
  | { readonly susuFailed: string };

/** One refund at Stripe of the invoice's payment. */
interface StripeRefund {
  readonly id: string;
  readonly amountMinor: number;
  /** Stripe fails it after its success. */
  readonly fails: boolean;
  /** Its failure reaches susu's refund's path too (besides its own news). */
  readonly failureOnSusuPath: boolean;
  /** Stripe's answer to susu's refund call names it. */
  readonly susus: boolean;
}

const scenarioArb = fc
  .record({
    /** The dashboard's refunds of the payment (together all of it), and whether Stripe fails each later. */
    parts: fc.array(
      fc.record({
        amountMinor: fc.integer({ min: 1, max: 500_000 }),
        fails: fc.boolean(),
        /** Its failure reaches susu's refund's path too (besides its own news). */
        failureOnSusuPath: fc.boolean(),
        /** The money its failure put back is refunded again in the dashboard (a new refund). */
        again: fc.boolean(),
        /** How much of that money the new refund gives back (all of it when `callAfter`). */
        againShare: fc.double({ min: 0, max: 1, noNaN: true }),
        againFails: fc.boolean(),
        againFailureOnSusuPath: fc.boolean(),
      }),
      { minLength: 1, maxLength: 4 },
    ),
    /**
     * Susu's refund call was made after every failure and new refund (each failed refund's
     * money refunded again in full, so the charge was refunded in full again): Stripe's answer
     * names the refunds standing then, not the failed ones. Otherwise it was made before any
     * failure and names the first refunds, and the new ones are outside susu only.
     */
    callAfter: fc.boolean(),
    repeats: fc.array(fc.nat(), { maxLength: 6 }),
    order: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 40, maxLength: 40 }),
  })
  .map((r) => {
    const n = r.parts.length;
    const refunds: StripeRefund[] = [
      ...r.parts.map((p, i) => ({
        id: `re_${i}`,
        amountMinor: p.amountMinor,
        fails: p.fails,
        failureOnSusuPath: p.failureOnSusuPath,
        susus: !r.callAfter || !p.fails,
      })),
      ...r.parts.flatMap((p, i) =>
        p.fails && (p.again || r.callAfter)
          ? [
              {
                id: `re_${n + i}`,
                amountMinor: r.callAfter
                  ? p.amountMinor
                  : Math.max(1, Math.round(p.againShare * p.amountMinor)),
                fails: p.againFails,
                failureOnSusuPath: p.againFailureOnSusuPath,
                susus: r.callAfter,
              },
            ]
          : [],
      ),
    ];
    return {
      refunds,
      repeats: r.repeats,
      order: r.order,
      amountPaidMinor: r.parts.reduce((m, p) => m + p.amountMinor, 0),
    };
  });

describe("several dashboard refunds answering susu's refund of a late-paid membership (any order, any repeats)", () => {
  it("each failed refund's own amount is held again, once, each standing one booked in full; the books, the invoice and the tickets agree", () => {
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

        const byId = new Map(sc.refunds.map((r) => [r.id, r]));
        const amountOf = (id: string) => byId.get(id)?.amountMinor ?? 0;
        const susus = sc.refunds.filter((r) => r.susus);
        const told: Heard[] = [
          { made: true },
          ...sc.refunds.flatMap((r): Heard[] => [
            ...(r.susus ? [{ answer: r.id }] : []),
            { outside: r.id, outcome: "succeeded" },
            ...(r.fails ? [{ outside: r.id, outcome: "failed" } as const] : []),
            ...(r.fails && r.failureOnSusuPath && r.susus ? [{ susuFailed: r.id }] : []),
          ]),
        ];
        const heard = [...told, ...sc.repeats.map((i) => told[i % told.length] as Heard)]
          .map((t, i) => ({ t, k: sc.order[i] ?? 0 }))
          .sort((a, b) => a.k - b.k)
          .map((x) => x.t);
        for (const t of heard)
          hear(
            "made" in t
              ? { type: "invoice_refunds_made", invoiceId: "in_1", refundIds: susus.map((r) => r.id) }
              : "answer" in t
                ? {
                    type: "invoice_refund_settled",
                    invoiceId: "in_1",
                    outcome: "succeeded",
                    refundId: t.answer,
                    amountMinor: amountOf(t.answer),
                  }
                : "outside" in t
                  ? {
                      type: "invoice_refunded_outside",
                      invoiceId: "in_1",
                      refundId: t.outside,
                      amountMinor: amountOf(t.outside),
                      outcome: t.outcome,
                      ...(t.outcome === "failed" ? { failureCode: "expired_or_canceled_card" } : {}),
                    }
                  : {
                      type: "invoice_refund_settled",
                      invoiceId: "in_1",
                      outcome: "failed",
                      refundId: t.susuFailed,
                      amountMinor: amountOf(t.susuFailed),
                      failureCode: "expired_or_canceled_card",
                    },
          );

        const wentBack = sc.refunds.reduce((m, r) => m + (r.fails ? 0 : r.amountMinor), 0);
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
        // Susu's refund knows every refund its call's answer named, each with its own amount and
        // how it ended.
        expect(inv.refund?.status).toBe(susus.some((r) => r.fails) ? "failed" : "succeeded");
        const byRefund = (a: readonly unknown[], b: readonly unknown[]) =>
          String(a[0]).localeCompare(String(b[0]));
        expect(
          [...(inv.refund?.payments ?? [])].map((p) => [p.refundId, p.amountMinor, p.status]).sort(byRefund),
        ).toEqual(susus.map((r) => [r.id, r.amountMinor, r.fails ? "failed" : "succeeded"]).sort(byRefund));
        // Every failed refund of susu's is on a ticket with its own amount, and no ticket names a
        // refund with another amount.
        const summaries = effects.flatMap((e) =>
          e.kind === "open_ticket" && e.reason === "membership_refund_failed" ? [e.summary] : [],
        );
        const named = summaries.flatMap((text) =>
          [...text.matchAll(/refund (re_\d+)(?: of|:) (\d+) AUD/g)].map((m) => [m[1], Number(m[2])] as const),
        );
        for (const [refundId, minor] of named) expect(minor).toBe(amountOf(String(refundId)));
        for (const r of susus) if (r.fails) expect(named.some(([refundId]) => refundId === r.id)).toBe(true);
        // The person is told of the refund at most once, and of each reversal at most once.
        const notices = effects.flatMap((e) => (e.kind === "notify" ? [e.id] : []));
        expect(new Set(notices).size).toBe(notices.length);
      }),
      { numRuns: 1_000 },
    );
  });
});

// An active membership's invoice refunded in Stripe's dashboard (some refunds failed by Stripe
// afterwards, the money they put back refundable again) and disputed by the person's bank:
// a chargeback (Stripe withdraws the disputed amount at its opening, the full charge's even
// when part was refunded), an inquiry escalated into one, or an inquiry that takes nothing.
// Stripe refuses refunds of a disputed charge and disputes no fully refunded one, so every
// refund is made before the dispute; a refund may fail before it or while it is open (a
// pending refund fails when the charge is disputed: `charge_for_pending_refund_disputed`), or
// after its closure when won. Closed won, Stripe reinstates all it withdrew; closed lost, it
// gives back the part refunded at the closure (Stripe's "partially won": what the dispute and
// the refunds standing took beyond the charge). Whatever order susu hears it all in, and
// however often, the books end with what Stripe moved: the platform's revenue, and (when each
// refund standing at Stripe was heard before the dispute's withdrawal) what was refunded and
// what the bank took, each apart.
type DisputeKind = "chargeback" | "inquiry" | "escalated";
type RefundFate = "stands" | "fails_before_dispute" | "fails_while_disputed";

const disputedScenarioArb = fc
  .record({
    amountPaidMinor: fc.integer({ min: 1, max: 500_000 }),
    refunds: fc.array(
      fc.record({
        share: fc.double({ min: 0, max: 1, noNaN: true }),
        fate: fc.constantFrom<RefundFate>("stands", "fails_before_dispute", "fails_while_disputed"),
      }),
      { maxLength: 4 },
    ),
    dispute: fc.record({
      /** Of the whole charge (an update names no amount: only a dispute of all of it is updated). */
      full: fc.boolean(),
      share: fc.double({ min: 0, max: 1, noNaN: true }),
      kind: fc.constantFrom<DisputeKind>("chargeback", "inquiry", "escalated"),
      outcome: fc.constantFrom("won" as const, "lost" as const),
    }),
    repeats: fc.array(fc.nat(), { maxLength: 6 }),
    order: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 20, maxLength: 20 }),
  })
  .map((r) => {
    const paid = r.amountPaidMinor;
    // Stripe's refunds in the order made: each of what is refundable then (a failure before
    // the dispute put its money back before the next refund).
    let refundable = paid;
    const refunds = r.refunds.flatMap((x, i) => {
      if (refundable <= 0) return [];
      const amountMinor = Math.max(1, Math.min(refundable, Math.round(x.share * refundable)));
      refundable -= x.fate === "fails_before_dispute" ? 0 : amountMinor;
      return [{ id: `re_${i}`, amountMinor, fate: x.fate }];
    });
    const standingMinor = refunds.reduce((n, x) => n + (x.fate === "stands" ? x.amountMinor : 0), 0);
    const refundedAtDisputeMinor = paid - refundable;
    // No dispute of a charge refunded in full.
    const disputable = refundedAtDisputeMinor < paid;
    const full = r.dispute.full || r.dispute.kind === "escalated";
    const dispute = disputable
      ? {
          amountMinor: full ? paid : Math.max(1, Math.min(paid, Math.round(r.dispute.share * paid))),
          kind: r.dispute.kind,
          outcome: r.dispute.kind === "inquiry" ? ("won" as const) : r.dispute.outcome,
        }
      : undefined;
    // What Stripe moved for the dispute: withdrawn at a chargeback, all of it reinstated when
    // won, the part refunded at the closure when lost (refunds failing while it was open are
    // not refunded then).
    const withdrawnMinor = dispute === undefined || dispute.kind === "inquiry" ? 0 : dispute.amountMinor;
    const disputeNetMinor =
      dispute?.outcome === "won" ? 0 : withdrawnMinor - Math.max(0, withdrawnMinor + standingMinor - paid);
    return { paid, refunds, standingMinor, dispute, disputeNetMinor, repeats: r.repeats, order: r.order };
  });

describe("dashboard refunds (some failed by Stripe) and a dispute of an active membership's invoice (any order, any repeats)", () => {
  it("the books end with what Stripe moved: the revenue, and what was refunded and lost each apart", () => {
    fc.assert(
      fc.property(disputedScenarioArb, (sc) => {
        const effects: SubscriptionEffect[] = [];
        let s: Subscription = freshSubscription();
        const hear = (input: SubscriptionInput) => {
          const d = decideSubscription(s, input, { now: MEMBERSHIP_T0 })._unsafeUnwrap();
          s = d.state;
          effects.push(...d.effects);
        };
        hear({
          type: "subscription_changed",
          snapshot: {
            stripeSubscriptionId: "sub_stripe_1",
            status: "active",
            stripePriceId: s.price.stripePriceId,
            cancelAtPeriodEnd: false,
            observedAt: MEMBERSHIP_T0,
          },
        });
        hear(paidInvoice("in_1", 0, sc.paid));

        type News = {
          readonly input: SubscriptionInput;
          readonly withdraws?: true;
          readonly standing?: string;
        };
        const outsideNews = (
          id: string,
          amountMinor: number,
          outcome: "succeeded" | "failed",
        ): SubscriptionInput => ({
          type: "invoice_refunded_outside",
          invoiceId: "in_1",
          refundId: id,
          amountMinor,
          outcome,
          ...(outcome === "failed" ? { failureCode: "charge_for_pending_refund_disputed" } : {}),
        });
        const x = sc.dispute;
        const disputeNews = (
          news: Omit<
            Extract<SubscriptionInput, { type: "invoice_disputed" }>,
            "type" | "invoiceId" | "disputeId"
          >,
        ) => ({ type: "invoice_disputed", invoiceId: "in_1", disputeId: "du_1", ...news }) as const;
        const told: News[] = [
          ...sc.refunds.flatMap((r): News[] => [
            {
              input: outsideNews(r.id, r.amountMinor, "succeeded"),
              ...(r.fate === "stands" ? { standing: r.id } : {}),
            },
            ...(r.fate === "stands" ? [] : [{ input: outsideNews(r.id, r.amountMinor, "failed") }]),
          ]),
          ...(x === undefined
            ? []
            : [
                {
                  input: disputeNews({
                    amountMinor: x.amountMinor,
                    stripeStatus: x.kind === "chargeback" ? "needs_response" : "warning_needs_response",
                  }),
                  ...(x.kind === "chargeback" ? { withdraws: true as const } : {}),
                },
                ...(x.kind === "escalated"
                  ? [{ input: disputeNews({ stripeStatus: "needs_response" }), withdraws: true as const }]
                  : []),
                {
                  input: disputeNews({ amountMinor: x.amountMinor, closed: x.outcome }),
                  ...(x.outcome === "lost" ? { withdraws: true as const } : {}),
                },
              ]),
        ];
        const heard = [...told, ...sc.repeats.map((i) => told[i % told.length] as News)]
          .map((t, i) => ({ t, k: sc.order[i] ?? 0 }))
          .sort((a, b) => a.k - b.k)
          .map((n) => n.t);
        for (const n of heard) hear(n.input);

        const posted = effects.flatMap((e) => (e.kind === "post_ledger" ? [e.transaction] : []));
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
        // The platform's revenue: what Stripe kept of the charge.
        const keptMinor = sc.paid - sc.standingMinor - sc.disputeNetMinor;
        expect(balances.get("platform:membership_revenue") ?? 0).toBe(keptMinor);
        const inv = s.invoices.find((i) => i.id === "in_1");
        if (inv === undefined) throw new Error("no invoice");
        expect(invoiceRevenueLeftMinor(inv)).toBe(keptMinor);
        // Refunded and lost apart (what the reconciliation compares, by refund and by dispute):
        // when a refund standing at Stripe is heard only after the dispute's withdrawal, the
        // books had no means to tell which of the two the bank's loss overlaps.
        const firstWithdrawal = heard.findIndex((n) => n.withdraws === true);
        const standingLate = heard.some(
          (n, i) =>
            n.standing !== undefined &&
            i > firstWithdrawal &&
            !heard.slice(0, i).some((m) => m.standing === n.standing),
        );
        if (firstWithdrawal < 0 || !standingLate || x?.outcome === "won") {
          expect(balances.get(`membership:${s.id}:dispute_losses`) ?? 0).toBe(sc.disputeNetMinor);
          expect((balances.get(`membership:${s.id}:paid_in`) ?? 0) + sc.paid - sc.standingMinor).toBe(0);
        }
      }),
      { numRuns: 1_000 },
    );
  });
});
