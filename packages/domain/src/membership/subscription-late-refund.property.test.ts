// A membership canceled before its Checkout page was paid, and paid at Stripe after all:
// whatever order susu hears the cancel, the page, the late start and the paid invoice in,
// and however often each news comes (Stripe redelivers; a refund's answer and its event
// both report it), the invoice paid after the cancel is refunded in full exactly once and
// its outcome is acted on once: a success posts the revenue back and tells the person
// once, a refusal opens one ticket, a success Stripe failed afterwards is reversed once.
// Whatever order the outcomes come in, the membership's accounts end with what actually
// went back to the person, and the refund ends once every refund susu made has ended, even
// when they do not add up to what the invoice collected (part of a payment refunded outside
// susu before) or Stripe refused the refund call. An invoice susu knew was paid before the person canceled is
// not refunded (a normal cancel). The refund's deadline, fired at any point (again after a
// crash), opens one ticket if the refund was unfinished then, and the refund still ends.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { freshSubscription, MEMBERSHIP_T0, paidInvoice, snapshot } from "../testing/membership-mothers.js";
import type { SubscriptionEffect } from "./membership-effect.js";
import { invoiceRefundedMinor, type Subscription } from "./subscription.js";
import { decideSubscription } from "./subscription-decide.js";
import type { SubscriptionInput } from "./subscription-input.js";

type Token = "cancel" | "page" | "started" | "paid";

const page: SubscriptionInput = {
  type: "checkout_created",
  sessionId: "cs_1",
  url: "https://checkout.test/cs_1",
};

const scenarioArb = fc
  .record({
    pages: fc.integer({ min: 0, max: 2 }),
    starts: fc.integer({ min: 0, max: 3 }),
    paids: fc.integer({ min: 1, max: 3 }),
    /**
     * The invoice's payments (Stripe refunds each apart) and how each one's refund ends: it
     * succeeds, is refused, or succeeds and then fails.
     */
    payments: fc.array(
      fc.record({
        amountMinor: fc.integer({ min: 1, max: 500_000 }),
        fate: fc.constantFrom("succeeded" as const, "failed" as const, "failed_after_success" as const),
      }),
      { minLength: 1, maxLength: 3 },
    ),
    /** Part of the first payment refunded outside susu before (its refund makes only the rest). */
    outOfBand: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.99, noNaN: true })),
    /** Stripe refused the refund call (a definite error): no refunds answered, one refusal. */
    refused: fc.boolean(),
    /** Repeats of the outcomes (an index into them) and the random keys that order them all. */
    repeats: fc.array(fc.nat(), { maxLength: 5 }),
    /** The refund's deadline firing (0 to 3 times: a timer re-run), among the outcomes. */
    deadlines: fc.integer({ min: 0, max: 3 }),
    deliveryOrder: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 16, maxLength: 16 }),
    /** Repeats of the news heard after the refund's outcome (the cancel again is refused). */
    laterRepeats: fc.array(fc.constantFrom<Token>("cancel", "page", "started", "paid"), { maxLength: 4 }),
    seed: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 12, maxLength: 12 }),
  })
  .map((r) => {
    const tokens: Token[] = [
      "cancel",
      ...Array<Token>(r.pages).fill("page"),
      ...Array<Token>(r.starts).fill("started"),
      ...Array<Token>(r.paids).fill("paid"),
    ];
    // Any order: sort by random keys.
    const order = tokens
      .map((t, i) => ({ t, k: r.seed[i] ?? 0 }))
      .sort((a, b) => a.k - b.k)
      .map((x) => x.t);
    // The person canceled before Stripe's subscription was heard of (that is what makes a
    // start late); the payment's news may come before or after the cancel.
    const firstStart = order.indexOf("started");
    if (firstStart >= 0 && firstStart < order.indexOf("cancel")) {
      order.splice(order.indexOf("cancel"), 1);
      order.splice(firstStart, 0, "cancel");
    }
    const amountPaidMinor = r.payments.reduce((n, p) => n + p.amountMinor, 0);
    // What each of susu's refunds makes: the first payment's less what was refunded outside susu.
    const refundMinor = r.payments.map((p, i) =>
      i === 0 ? p.amountMinor - Math.floor(p.amountMinor * r.outOfBand) : p.amountMinor,
    );
    return { ...r, order, amountPaidMinor, refundMinor };
  });

describe("a membership paid at Stripe after it was canceled (any order, any repeats)", () => {
  it("refunds the payment in full exactly once, unless susu knew it was paid before the cancel", () => {
    fc.assert(
      fc.property(scenarioArb, (sc) => {
        const inputOf = (t: Token): SubscriptionInput =>
          t === "cancel"
            ? { type: "cancel", atPeriodEnd: false }
            : t === "page"
              ? page
              : t === "started"
                ? snapshot("active", 1)
                : paidInvoice("in_1", 1, sc.amountPaidMinor);
        const effects: SubscriptionEffect[] = [];
        let s: Subscription = freshSubscription({
          start: { kind: "checkout", successUrl: "https://app.test/ok", cancelUrl: "https://app.test/no" },
        });
        const hear = (input: SubscriptionInput) => {
          const d = decideSubscription(s, input, { now: MEMBERSHIP_T0 });
          if (d.isErr()) {
            // A repeated cancel is refused and changes nothing.
            expect(d.error.code).toBe("subscription_ended");
            return;
          }
          s = d.value.state;
          effects.push(...d.value.effects);
        };
        for (const t of sc.order) hear(inputOf(t));
        const refundsAsked = effects.filter((e) => e.kind === "refund_subscription_invoice");
        // Its outcomes: the effect's answer (every refund it made, or Stripe's refusal) and
        // the refunds' outcomes (any order, repeated).
        type Told =
          | { refundId: string; amountMinor: number; outcome: "succeeded" | "failed" }
          | { made: readonly string[] }
          | { refused: true }
          | { deadline: true };
        const told: Told[] = sc.payments.flatMap((p, i): Told[] => {
          const r = { refundId: `re_${i}`, amountMinor: sc.refundMinor[i] ?? 0 };
          return p.fate === "failed_after_success"
            ? [
                { ...r, outcome: "succeeded" },
                { ...r, outcome: "failed" },
              ]
            : [{ ...r, outcome: p.fate }];
        });
        told.push(sc.refused ? { refused: true } : { made: sc.payments.map((_, i) => `re_${i}`) });
        const heard = [
          ...told,
          ...sc.repeats.map((i) => told[i % told.length] as Told),
          ...Array.from({ length: sc.deadlines }, (): Told => ({ deadline: true })),
        ]
          .map((t, i) => ({ t, k: sc.deliveryOrder[i] ?? 0 }))
          .sort((a, b) => a.k - b.k)
          .map((x) => x.t);
        // Whether a deadline fired while the refund was unfinished (a ticket is owed, once).
        let overdueOwed = false;
        if (refundsAsked.length > 0)
          for (const t of heard) {
            if ("deadline" in t && s.invoices[0]?.refund?.status === "requested") overdueOwed = true;
            hear(
              "deadline" in t
                ? { type: "timer", timer: { kind: "refund_overdue", invoiceId: "in_1" } }
                : "made" in t
                  ? { type: "invoice_refunds_made", invoiceId: "in_1", refundIds: t.made }
                  : "refused" in t
                    ? {
                        type: "invoice_refund_settled",
                        invoiceId: "in_1",
                        outcome: "failed",
                        failureCode: "charge_disputed",
                      }
                    : {
                        type: "invoice_refund_settled",
                        invoiceId: "in_1",
                        outcome: t.outcome,
                        refundId: t.refundId,
                        amountMinor: t.amountMinor,
                        ...(t.outcome === "failed" ? { failureCode: "expired_or_canceled_card" } : {}),
                      },
            );
          }
        for (const t of sc.laterRepeats) hear(inputOf(t));

        const paidBeforeCancel = sc.order.indexOf("paid") < sc.order.indexOf("cancel");
        expect(s.status).toBe("canceled");
        // The Stripe subscription started late is canceled there once (when its news came).
        expect(effects.filter((e) => e.kind === "cancel_subscription")).toHaveLength(
          sc.order.includes("started") || sc.laterRepeats.includes("started") ? 1 : 0,
        );
        const posted = effects.flatMap((e) => (e.kind === "post_ledger" ? [e.transaction] : []));
        expect(posted.filter((t) => t.kind === "membership_invoice_paid")).toHaveLength(1);
        if (paidBeforeCancel) {
          expect(refundsAsked).toEqual([]);
          expect(s.invoices[0]?.refund).toBeUndefined();
          expect(posted.filter((t) => t.kind === "membership_invoice_refunded")).toEqual([]);
          return;
        }
        expect(refundsAsked).toEqual([
          {
            kind: "refund_subscription_invoice",
            id: `${s.id}:invoice:in_1:refund`,
            aggregate: "subscription",
            aggregateId: s.id,
            stripeInvoiceId: "in_1",
            amountMinor: sc.amountPaidMinor,
            currency: "AUD",
          },
        ]);
        const notices = effects.filter((e) => e.kind === "notify" && e.template === "membership_refunded");
        // A refund the person was told of (after the notice) and Stripe failed later: they are
        // told it did not reach them, once per refund; never when they were not told.
        const toldAt = effects.findIndex((e) => e.kind === "notify" && e.template === "membership_refunded");
        const reversedAfterTold = effects.filter(
          (e, i) =>
            toldAt >= 0 &&
            i > toldAt &&
            e.kind === "post_ledger" &&
            e.transaction.kind === "membership_invoice_refund_failed",
        );
        const reversalNotices = effects.flatMap((e) =>
          e.kind === "notify" && e.template === "membership_refund_reversed" ? [e.id] : [],
        );
        expect(reversalNotices).toHaveLength(reversedAfterTold.length);
        expect(new Set(reversalNotices).size).toBe(reversalNotices.length);
        const allTickets = effects.flatMap((e) => (e.kind === "open_ticket" ? [e] : []));
        const tickets = allTickets.filter((t) => t.reason === "membership_refund_failed");
        // The deadline is armed once with the refund, and its ticket opened at most once: when it
        // fired while the refund was unfinished, however often it fired.
        const timers = effects.filter((e) => e.kind === "schedule_timer");
        expect(timers).toHaveLength(1);
        // The refund records when that timer fires.
        expect(timers[0]?.at).toBe(s.invoices[0]?.refund?.deadlineAt);
        expect(allTickets.filter((t) => t.reason === "membership_refund_overdue")).toHaveLength(
          overdueOwed ? 1 : 0,
        );
        const refundedTx = posted.filter((t) => t.kind === "membership_invoice_refunded");
        const reversedTx = posted.filter((t) => t.kind === "membership_invoice_refund_failed");
        // No posting twice: every transaction id is posted once.
        const ids = posted.map((t) => t.id);
        expect(new Set(ids).size).toBe(ids.length);
        // Each transaction balances, and the membership's accounts end with what went back:
        // the payment, less the refund unless Stripe failed it.
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
        const wentBack = sc.payments.reduce(
          (n, p, i) => n + (p.fate === "succeeded" ? (sc.refundMinor[i] ?? 0) : 0),
          0,
        );
        expect((balances.get(`membership:${s.id}:paid_in`) ?? 0) + sc.amountPaidMinor - wentBack).toBe(0);
        expect(balances.get("platform:membership_revenue") ?? 0).toBe(sc.amountPaidMinor - wentBack);
        // What the API shows went back is what the ledger says went back.
        const inv = s.invoices[0];
        expect(inv !== undefined ? invoiceRefundedMinor(inv) : undefined).toBe(wentBack);
        // The invoice's refunded posting is made once, for what had gone back when every refund ended.
        // (A refund that succeeds after the refund ended with a refusal is posted on its own.)
        expect(refundedTx.filter((t) => t.id === `${s.id}:invoice:in_1:refunded`).length).toBeLessThanOrEqual(
          1,
        );
        expect(reversedTx.length).toBeLessThanOrEqual(
          sc.payments.filter((p) => p.fate === "failed_after_success").length,
        );
        // Every refund susu made has ended (or Stripe refused the call): the refund has ended.
        expect(s.invoices[0]?.refund?.status).not.toBe("requested");
        if (!sc.refused && sc.payments.every((p) => p.fate === "succeeded")) {
          expect(s.invoices[0]?.refund?.status).toBe("succeeded");
          expect(notices).toHaveLength(1);
          // What went back and what was collected: the e-mail says "in full" only when they agree.
          expect(notices[0]).toMatchObject({
            data: { amountMinor: wentBack, collectedMinor: sc.amountPaidMinor },
          });
          // Less than collected went back (refunded outside susu): one ticket says what is held.
          expect(tickets).toHaveLength(wentBack < sc.amountPaidMinor ? 1 : 0);
          expect(refundedTx).toHaveLength(1);
          expect(reversedTx).toEqual([]);
        } else {
          expect(s.invoices[0]?.refund?.status).toBe("failed");
          expect(["expired_or_canceled_card", "charge_disputed"]).toContain(
            s.invoices[0]?.refund?.failureCode,
          );
          // One ticket for the invoice's refund that ended with a failure (or a refusal), one
          // for each failure after that: each failure is on exactly one ticket. A refund that
          // ended with every refund succeeded but less back than collected (a payment partly
          // refunded outside susu) has its own ticket before a later failure's.
          const failures = sc.payments.filter((p) => p.fate !== "succeeded").length + (sc.refused ? 1 : 0);
          const partlyOutside = sc.refundMinor.reduce((n, m) => n + m, 0) < sc.amountPaidMinor ? 1 : 0;
          expect(tickets.length).toBeGreaterThanOrEqual(1);
          expect(tickets.length).toBeLessThanOrEqual(failures + partlyOutside);
          expect(notices.length).toBeLessThanOrEqual(1);
        }
      }),
      { numRuns: 1_000 },
    );
  });

  it("refunds nothing for a membership that started (and was paid) before it was canceled", () => {
    const started = fc.constantFrom<SubscriptionInput>(snapshot("active", 0), paidInvoice("in_1", 0));
    fc.assert(
      fc.property(
        fc.array(started, { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        fc.array(
          fc.constantFrom<SubscriptionInput>(
            { type: "cancel", atPeriodEnd: false },
            snapshot("canceled", 2),
            snapshot("active", 0),
            paidInvoice("in_1", 0),
            // An invoice paid before Stripe ended the subscription (day 2), heard after the
            // cancel: not refunded either. (One paid after the end is: susu's cancel makes no
            // final invoice, so it can only be an open one paid late.)
            paidInvoice("in_2", 1),
          ),
          { maxLength: 6 },
        ),
        (before, viaSavedCard, after) => {
          let s: Subscription = freshSubscription(
            viaSavedCard
              ? {}
              : {
                  start: {
                    kind: "checkout",
                    successUrl: "https://app.test/ok",
                    cancelUrl: "https://app.test/no",
                  },
                },
          );
          const effects: SubscriptionEffect[] = [];
          // Stripe's start always comes before the cancel here (the membership started).
          const inputs = [
            snapshot("active", 0),
            ...before,
            { type: "cancel", atPeriodEnd: false } as const,
            ...after,
          ];
          for (const input of inputs) {
            const d = decideSubscription(s, input, { now: MEMBERSHIP_T0 });
            if (d.isErr()) continue;
            s = d.value.state;
            effects.push(...d.value.effects);
          }
          expect(s.canceledBeforeStart).toBeUndefined();
          expect(effects.filter((e) => e.kind === "refund_subscription_invoice")).toEqual([]);
          expect(s.invoices.every((i) => i.refund === undefined)).toBe(true);
        },
      ),
      { numRuns: 1_000 },
    );
  });
});
