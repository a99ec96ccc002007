// A model of Stripe Billing plays whole memberships (trials, renewals, failed attempts and
// retries, recovery, lapse by cancellation or `unpaid`, the last failed invoice written off,
// cancellation at period end, zero invoices paid while an invoice fails) and
// emits the events Stripe would, in time order. The subscription must end where the model
// says when they arrive in order, and in the same place, with the same money booked once,
// when they arrive shuffled and repeated.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { LedgerTransaction } from "../ledger/ledger-transaction.js";
import { freshSubscription, MEMBERSHIP_T0 } from "../testing/membership-mothers.js";
import type { SubscriptionEffect } from "./membership-effect.js";
import { grantsEntitlements, type Subscription, type SubscriptionStatus } from "./subscription.js";
import { decideSubscription } from "./subscription-decide.js";
import type { SubscriptionInput, SubscriptionSnapshot } from "./subscription-input.js";

const SECOND = 1000;
const PRICE = 10_00;

interface Plan {
  readonly trial: boolean;
  /** Each renewal: how many attempts fail before one succeeds (4 = all four fail). */
  readonly renewals: readonly number[];
  /** After the last attempt fails: Stripe cancels the subscription, or marks it unpaid (and maybe it is paid later). */
  readonly afterLast: "cancel" | "unpaid_then_paid" | "unpaid";
  /**
   * After the last attempt fails Stripe also marks the invoice uncollectible (a setting of its
   * retries, apart from the subscription's fate): invoice.marked_uncollectible, in the same
   * second as the last failure and the cancel or unpaid view.
   */
  readonly markUncollectible: boolean;
  /** Cancel at period end after the renewals (if still alive). */
  readonly cancelAtEnd: boolean;
  /**
   * While an invoice fails (past due, or unpaid after the last attempt), a zero invoice (a
   * downgrade's proration credit covering it) is finalized and paid with nothing, in the same
   * second as Stripe's view, which still says past due or unpaid.
   */
  readonly zeroInvoices: boolean;
}

/** Where the membership must stand once the first `after` events are heard in order. */
interface Checkpoint {
  readonly after: number;
  readonly status: SubscriptionStatus;
}

interface Timeline {
  readonly events: readonly SubscriptionInput[];
  readonly status: SubscriptionStatus;
  readonly paidMinor: number;
  readonly lapses: number;
  /** The invoice left unpaid when Stripe canceled the subscription for non-payment: susu voids it. */
  readonly unpaidAtEnd?: string;
  readonly checkpoints: readonly Checkpoint[];
}

/** What Stripe would send, in order, and where susu must end up. */
function play(plan: Plan): Timeline {
  const events: SubscriptionInput[] = [];
  let t = MEMBERSHIP_T0;
  let status: SubscriptionStatus = "incomplete";
  let paidMinor = 0;
  let lapses = 0;
  let unpaidAtEnd: string | undefined;
  const checkpoints: Checkpoint[] = [];
  let zeros = 0;
  /** A zero invoice paid at `at` while invoice news says the membership stands at `status`. */
  const zeroInvoice = (at: number, stands: SubscriptionStatus) => {
    if (!plan.zeroInvoices) return;
    zeros += 1;
    events.push({
      type: "invoice_paid",
      invoice: { ...inv(`in_zero_${zeros}`, at, 0), amountDueMinor: 0 },
      paidAt: at,
    });
    checkpoints.push({ after: events.length, status: stands });
  };
  const tick = () => {
    t += 1000 * SECOND;
    return t;
  };
  const snap = (s: SubscriptionSnapshot["status"], at: number, extra: Partial<SubscriptionSnapshot> = {}) =>
    events.push({
      type: "subscription_changed",
      snapshot: {
        stripeSubscriptionId: "sub_stripe1",
        status: s,
        stripePriceId: "price_basic_m",
        cancelAtPeriodEnd: false,
        observedAt: at,
        ...extra,
      },
    });
  const inv = (id: string, at: number, paid: number) => ({
    invoiceId: id,
    amountDueMinor: PRICE,
    amountPaidMinor: paid,
    currency: "AUD" as const,
    observedAt: at,
  });
  const at0 = tick();
  snap("incomplete", at0); // customer.subscription.created, then its update in the same second
  if (plan.trial) {
    events.push({ type: "invoice_paid", invoice: inv("in_0", at0, 0), paidAt: at0 });
    snap("trialing", at0, { trialEnd: at0 + 14 * 86_400_000 });
    status = "trialing";
    events.push({ type: "trial_will_end", trialEnd: at0 + 14 * 86_400_000 });
  } else {
    events.push({ type: "invoice_paid", invoice: inv("in_0", at0, PRICE), paidAt: at0 });
    snap("active", at0);
    paidMinor += PRICE;
    status = "active";
  }
  let alive = true;
  plan.renewals.forEach((failures, k) => {
    if (!alive) return;
    const id = `in_${k + 1}`;
    for (let attempt = 1; attempt <= 4; attempt++) {
      const at = tick();
      if (attempt > failures) {
        events.push({ type: "invoice_paid", invoice: inv(id, at, PRICE), paidAt: at });
        snap("active", at);
        paidMinor += PRICE;
        status = "active";
        return;
      }
      const last = attempt === 4;
      events.push({
        type: "invoice_payment_failed",
        invoice: inv(id, at, 0),
        attemptCount: attempt,
        ...(last ? {} : { nextPaymentAttemptAt: at + 3 * 86_400_000 }),
      });
      if (!last) {
        snap("past_due", at);
        status = "past_due";
        zeroInvoice(at, status);
        continue;
      }
      lapses += 1;
      status = "lapsed";
      if (plan.markUncollectible)
        events.push({ type: "invoice_marked_uncollectible", invoice: inv(id, at, 0) });
      if (plan.afterLast === "cancel") {
        snap("canceled", at, { cancellationReason: "payment_failed" });
        unpaidAtEnd = id;
        alive = false;
        return;
      }
      snap("unpaid", at);
      zeroInvoice(at, "lapsed");
      if (plan.afterLast === "unpaid_then_paid") {
        const later = tick();
        events.push({ type: "invoice_paid", invoice: inv(id, later, PRICE), paidAt: later });
        snap("active", later);
        paidMinor += PRICE;
        status = "active";
      } else alive = false;
    }
  });
  if (alive && plan.cancelAtEnd && (status === "active" || status === "trialing")) {
    snap(status, tick(), { cancelAtPeriodEnd: true });
    snap("canceled", tick(), { cancellationReason: "cancellation_requested", cancelAtPeriodEnd: true });
    status = "canceled";
  }
  return {
    events,
    status,
    paidMinor,
    lapses,
    ...(unpaidAtEnd !== undefined ? { unpaidAtEnd } : {}),
    checkpoints,
  };
}

interface Run {
  readonly state: Subscription;
  readonly effects: readonly SubscriptionEffect[];
}

function run(s: Subscription, inputs: readonly SubscriptionInput[]): Run {
  const effects: SubscriptionEffect[] = [];
  let state = s;
  for (const input of inputs) {
    // Throws on a move outside the table: the property fails on it.
    const d = decideSubscription(state, input, { now: MEMBERSHIP_T0 })._unsafeUnwrap();
    state = d.state;
    effects.push(...d.effects);
  }
  return { state, effects };
}

const postings = (effects: readonly SubscriptionEffect[]): LedgerTransaction[] =>
  effects.flatMap((e) => (e.kind === "post_ledger" ? [e.transaction] : []));

const revenue = (txs: readonly LedgerTransaction[]) =>
  txs.flatMap((t) => t.postings).reduce((sum, p) => sum + (p.side === "debit" ? p.amount.amountMinor : 0), 0);

/** A lapse notice telling that Stripe ended the membership (`ended: "yes"`). */
const endedNotice = (e: SubscriptionEffect): boolean =>
  e.kind === "notify" && e.template === "membership_lapsed" && e.data.ended === "yes";

/**
 * The invoice Stripe left unpaid at its cancel is voided by exactly one call, whatever the order
 * its failures, its write-off and the cancel are heard in; no void call is asked twice.
 */
const expectVoidedOnce = (timeline: Timeline, effects: readonly SubscriptionEffect[]) => {
  const voids = effects.flatMap((e) => (e.kind === "void_subscription_invoice" ? [e] : []));
  expect(new Set(voids.map((e) => e.id)).size).toBe(voids.length);
  if (timeline.unpaidAtEnd !== undefined)
    expect(voids.filter((e) => e.stripeInvoiceId === timeline.unpaidAtEnd).map((e) => e.id)).toEqual([
      `sub1:invoice:${timeline.unpaidAtEnd}:void`,
    ]);
};

/** Every order of `xs`. */
const permutations = <T>(xs: readonly T[]): T[][] =>
  xs.length <= 1
    ? [[...xs]]
    : xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));

const balanced = (txs: readonly LedgerTransaction[]) =>
  txs.every(
    (t) =>
      t.postings.filter((p) => p.side === "debit").reduce((a, p) => a + p.amount.amountMinor, 0) ===
      t.postings.filter((p) => p.side === "credit").reduce((a, p) => a + p.amount.amountMinor, 0),
  );

const planArb: fc.Arbitrary<Plan> = fc.record({
  trial: fc.boolean(),
  renewals: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 6 }),
  afterLast: fc.constantFrom("cancel", "unpaid_then_paid", "unpaid"),
  markUncollectible: fc.boolean(),
  cancelAtEnd: fc.boolean(),
  zeroInvoices: fc.boolean(),
});

describe("the subscription against a model of Stripe Billing", () => {
  it("in order: ends where Stripe does, books every paid invoice once, tells of each lapse", () => {
    fc.assert(
      fc.property(planArb, (plan) => {
        const timeline = play(plan);
        const { state, effects } = run(
          freshSubscription({ trialDays: plan.trial ? 14 : 0 }),
          timeline.events,
        );
        expect(state.status).toBe(timeline.status);
        // A zero invoice paid while another fails moves nothing: past due stays past due (still
        // granting), lapsed stays lapsed (granting nothing) until what failed is paid.
        for (const c of timeline.checkpoints) {
          const at = run(
            freshSubscription({ trialDays: plan.trial ? 14 : 0 }),
            timeline.events.slice(0, c.after),
          );
          expect({ status: at.state.status, grants: grantsEntitlements(at.state.status) }).toEqual({
            status: c.status,
            grants: grantsEntitlements(c.status),
          });
        }
        const txs = postings(effects);
        expect(balanced(txs)).toBe(true);
        expect(revenue(txs)).toBe(timeline.paidMinor);
        const lapseNotices = effects.filter((e) => e.kind === "notify" && e.template === "membership_lapsed");
        // Each lapse is told as it comes; Stripe's cancel, whose event follows the last failure's,
        // then tells that the lapse is an end (nothing left to pay), once.
        expect(lapseNotices.filter((e) => !endedNotice(e))).toHaveLength(timeline.lapses);
        expect(lapseNotices.filter(endedNotice)).toHaveLength(
          plan.afterLast === "cancel" && timeline.status === "lapsed" ? 1 : 0,
        );
        const ids = effects.map((e) => e.id);
        expect(new Set(ids).size).toBe(ids.length);
        expectVoidedOnce(timeline, effects);
      }),
      { numRuns: 1_000 },
    );
  });

  it("shuffled and repeated: the same end, the same money, nothing booked or sent twice", () => {
    fc.assert(
      fc.property(
        planArb.chain((plan) => {
          const { events } = play(plan);
          const delivered = fc
            .array(fc.nat({ max: events.length - 1 }), { maxLength: events.length })
            .chain((repeats) =>
              fc.shuffledSubarray([...events, ...repeats.map((i) => events[i] as SubscriptionInput)], {
                minLength: events.length + repeats.length,
              }),
            );
          return fc.tuple(fc.constant(plan), delivered);
        }),
        ([plan, delivered]) => {
          const timeline = play(plan);
          const s = freshSubscription({ trialDays: plan.trial ? 14 : 0 });
          const shuffled = run(s, delivered);
          expect(shuffled.state.status).toBe(timeline.status);
          const txs = postings(shuffled.effects);
          expect(new Set(txs.map((t) => t.id)).size).toBe(txs.length);
          expect(balanced(txs)).toBe(true);
          expect(revenue(txs)).toBe(timeline.paidMinor);
          const notices = shuffled.effects.filter((e) => e.kind === "notify").map((e) => e.id);
          expect(new Set(notices).size).toBe(notices.length);
          // Stripe's cancel for non-payment is told as an end once, in whichever order it is heard.
          expect(shuffled.effects.filter(endedNotice)).toHaveLength(
            plan.afterLast === "cancel" && timeline.status === "lapsed" ? 1 : 0,
          );
          expectVoidedOnce(timeline, shuffled.effects);
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it("every order of a renewal's failures, its write-off and Stripe's cancel for non-payment (one second apart or the same): voided by one call", () => {
    const plan: Plan = {
      trial: false,
      renewals: [4],
      afterLast: "cancel",
      markUncollectible: true,
      cancelAtEnd: false,
      zeroInvoices: false,
    };
    const timeline = play(plan);
    // The invoice's news and the cancel move; Stripe's past-due views keep their places.
    const moving = (e: SubscriptionInput) =>
      e.type !== "subscription_changed" || e.snapshot.status === "canceled";
    const start = timeline.events.findIndex((e) => e.type === "invoice_payment_failed");
    const head = timeline.events.slice(0, start);
    const tail = timeline.events.slice(start);
    const orders = permutations(tail.filter(moving));
    expect(orders).toHaveLength(720);
    for (const order of orders) {
      const rest = [...order];
      const delivered = [...head, ...tail.map((e) => (moving(e) ? (rest.shift() as SubscriptionInput) : e))];
      const { state, effects } = run(freshSubscription(), delivered);
      expect(state.status).toBe("lapsed");
      expect(state.invoices.find((i) => i.id === "in_1")?.voiding?.calls).toBe(1);
      expectVoidedOnce(timeline, effects);
      const ids = effects.map((e) => e.id);
      expect(new Set(ids).size).toBe(ids.length);
    }
  });
});
