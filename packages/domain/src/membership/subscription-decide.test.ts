import { describe, expect, it } from "vitest";
import { DAY_MS } from "../shared/time.js";
import {
  activeSubscription,
  basicMonthly,
  failedInvoice,
  feed,
  freshSubscription,
  invoice,
  MEMBERSHIP_T0,
  newSubscription,
  paidInvoice,
  proMonthly,
  snapshot,
} from "../testing/membership-mothers.js";
import type { Subscription, SubscriptionStatus } from "./subscription.js";
import { invoiceRefundedMinor, isSubscriptionMoveAllowed, SUBSCRIPTION_TRANSITIONS } from "./subscription.js";
import { createSubscription, decideSubscription, statusFromSnapshot } from "./subscription-decide.js";
import { SUBSCRIPTION_IGNORED_CODES, type SubscriptionIgnoredCode } from "./subscription-ignored.js";
import type { SubscriptionInput } from "./subscription-input.js";

const now = { now: MEMBERSHIP_T0 };
const decide = (s: Subscription, input: SubscriptionInput) => decideSubscription(s, input, now);
const decided = (s: Subscription, input: SubscriptionInput) => decide(s, input)._unsafeUnwrap();

describe("starting a membership", () => {
  it("with a saved card asks Stripe for the subscription, keyed by the subscription", () => {
    const d = createSubscription(newSubscription({ trialDays: 14 }), now)._unsafeUnwrap();
    expect(d.state.status).toBe("incomplete");
    expect(d.effects).toEqual([
      expect.objectContaining({
        kind: "create_subscription",
        id: "sub1:create",
        stripeCustomerId: "cus_1",
        stripePriceId: "price_basic_m",
        paymentMethodId: "pm_card",
        trialDays: 14,
        metadata: { aggregate: "subscription", subscriptionId: "sub1", personId: "p1" },
      }),
    ]);
  });

  it("through Checkout asks for a session in subscription mode", () => {
    const d = createSubscription(
      newSubscription({
        start: { kind: "checkout", successUrl: "https://app.test/ok", cancelUrl: "https://app.test/no" },
      }),
      now,
    )._unsafeUnwrap();
    expect(d.effects.map((e) => [e.kind, e.id])).toEqual([["create_subscription_checkout", "sub1:checkout"]]);
    const s = feed(d.state, [
      { type: "checkout_created", sessionId: "cs_1", url: "https://checkout.test/cs_1" },
    ]);
    expect(s.start).toMatchObject({ kind: "checkout", sessionId: "cs_1", url: "https://checkout.test/cs_1" });
    expect(decided(s, { type: "checkout_created", sessionId: "cs_1", url: "x" }).ignored?.code).toBe(
      "checkout_already_recorded",
    );
  });

  it("refuses return URLs that are not http(s) and empty payment method ids", () => {
    const bad = createSubscription(
      newSubscription({
        start: { kind: "checkout", successUrl: "javascript:alert(1)", cancelUrl: "https://a.test" },
      }),
      now,
    );
    expect(bad._unsafeUnwrapErr().code).toBe("invalid_subscription");
    const empty = createSubscription(
      newSubscription({ start: { kind: "saved_method", paymentMethodId: "" } }),
      now,
    );
    expect(empty._unsafeUnwrapErr().code).toBe("invalid_subscription");
  });

  it("a definite refusal to start expires it with the reason; one after Stripe started it is ignored", () => {
    const s = feed(freshSubscription(), [
      { type: "start_failed", code: "resource_missing", message: "no such pm" },
    ]);
    expect(s.status).toBe("incomplete_expired");
    expect(s.failure).toEqual({ code: "resource_missing", message: "no such pm" });
    const started = activeSubscription();
    expect(decided(started, { type: "start_failed", code: "x", message: "y" }).ignored?.code).toBe(
      "start_already_known",
    );
  });
});

describe("Stripe's views drive the status, newest first", () => {
  it("moves incomplete → active and records the Stripe subscription and period", () => {
    const s = feed(freshSubscription(), [snapshot("active", 0)]);
    expect(s).toMatchObject({
      status: "active",
      stripeSubscriptionId: "sub_stripe1",
      currentPeriodEnd: MEMBERSHIP_T0 + 30 * DAY_MS,
    });
  });

  it("ignores a view older than the last applied, whatever order they arrive in", () => {
    const s = feed(freshSubscription(), [snapshot("past_due", 5)]);
    const d = decided(s, snapshot("active", 2));
    expect(d.ignored?.code).toBe("stale_snapshot");
    expect(d.state.status).toBe("past_due");
  });

  it("an API answer (no Stripe time) applies before any event, and is stale after one", () => {
    const answer: SubscriptionInput = {
      type: "subscription_changed",
      snapshot: { stripeSubscriptionId: "sub_stripe1", status: "incomplete", cancelAtPeriodEnd: false },
    };
    const first = decided(freshSubscription(), answer);
    expect(first.state.stripeSubscriptionId).toBe("sub_stripe1");
    expect(first.state.observedAt).toBeUndefined();
    const after = feed(freshSubscription(), [snapshot("active", 1)]);
    expect(decided(after, answer).ignored?.code).toBe("stale_snapshot");
  });

  it("at the same Stripe second never moves back (created after updated)", () => {
    const s = feed(freshSubscription(), [snapshot("active", 1)]);
    expect(decided(s, snapshot("incomplete", 1)).ignored?.code).toBe("stale_snapshot");
  });

  it("the same view twice is ignored as unchanged", () => {
    const s = feed(freshSubscription(), [snapshot("active", 1)]);
    expect(decided(s, snapshot("active", 1)).ignored?.code).toBe("snapshot_unchanged");
  });

  it("a view of another Stripe subscription is ignored", () => {
    const s = activeSubscription();
    expect(decided(s, snapshot("canceled", 9, { stripeSubscriptionId: "sub_other" })).ignored?.code).toBe(
      "other_subscription",
    );
  });

  it("maps Stripe's statuses: unpaid and paused lapse; canceled for non-payment lapses; canceled otherwise cancels", () => {
    expect(statusFromSnapshot("past_due", snap("unpaid"))).toBe("lapsed");
    expect(statusFromSnapshot("trialing", { ...snap("paused") })).toBe("lapsed");
    expect(statusFromSnapshot("past_due", { ...snap("canceled") })).toBe("lapsed");
    expect(
      statusFromSnapshot("past_due", { ...snap("canceled"), cancellationReason: "cancellation_requested" }),
    ).toBe("canceled");
    expect(statusFromSnapshot("active", { ...snap("canceled"), cancellationReason: "payment_failed" })).toBe(
      "lapsed",
    );
    expect(
      statusFromSnapshot("active", { ...snap("canceled"), cancellationReason: "cancellation_requested" }),
    ).toBe("canceled");
    expect(statusFromSnapshot("lapsed", snap("past_due"))).toBe("lapsed");
    // A move the table has no room for keeps the status (Stripe never goes back to incomplete).
    expect(statusFromSnapshot("active", snap("incomplete"))).toBe("active");
  });

  it("news of an ended subscription is ignored", () => {
    const s = feed(activeSubscription(), [snapshot("canceled", 3)]);
    expect(s.status).toBe("canceled");
    expect(s.endedAt).toBeDefined();
    expect(decided(s, snapshot("active", 4)).ignored?.code).toBe("subscription_ended");
    expect(decided(s, snapshot("canceled", 4)).ignored?.code).toBe("subscription_ended");
    // Not news of the membership, but of an invoice that must not stay payable: the debit of
    // an unpaid invoice that failed after the end voids it (subscription-void-after-debit.test.ts).
    expect(decided(s, failedInvoice("in_2", 5, 1, 3)).effects.map((e) => e.kind)).toEqual([
      "void_subscription_invoice",
    ]);
  });
});

function snap(status: Parameters<typeof snapshot>[0]) {
  const input = snapshot(status, 1);
  if (input.type !== "subscription_changed") throw new Error("a snapshot");
  return input.snapshot;
}

describe("invoices", () => {
  it("a paid invoice posts the platform's revenue once, balanced", () => {
    const s = feed(freshSubscription(), [snapshot("active", 0)]);
    const d = decided(s, paidInvoice("in_1", 0));
    const posts = d.effects.filter((e) => e.kind === "post_ledger");
    expect(posts).toHaveLength(1);
    const tx = posts[0]?.kind === "post_ledger" ? posts[0].transaction : undefined;
    expect(tx?.id).toBe("sub1:invoice:in_1:paid");
    expect(tx?.postings.map((p) => [p.account, p.side, p.amount.amountMinor])).toEqual([
      ["platform:membership_revenue", "debit", 10_00],
      ["membership:sub1:paid_in", "credit", 10_00],
    ]);
    expect(decided(d.state, paidInvoice("in_1", 1)).ignored?.code).toBe("invoice_already_paid");
  });

  it("a trial's zero invoice posts nothing and starts the trial", () => {
    const s = freshSubscription({ trialDays: 14 });
    const d = decided(s, paidInvoice("in_0", 0, 0));
    expect(d.effects).toEqual([]);
    expect(d.state.status).toBe("trialing");
  });

  it("a failed renewal tells the person what to do and by when, and makes it past due", () => {
    const d = decided(activeSubscription(), failedInvoice("in_2", 30, 1, 3));
    expect(d.state.status).toBe("past_due");
    expect(d.effects).toEqual([
      expect.objectContaining({
        kind: "notify",
        id: "sub1:notify:membership_payment_failed:in_2:1",
        to: { kind: "people", personIds: ["p1"] },
        template: "membership_payment_failed",
        data: expect.objectContaining({
          hostedInvoiceUrl: "https://invoice.stripe.test/in_2",
          deadline: new Date(MEMBERSHIP_T0 + 33 * DAY_MS).toISOString(),
          attempt: 1,
          lastAttempt: "no",
        }),
      }),
    ]);
    expect(decided(d.state, failedInvoice("in_2", 30, 1, 3)).ignored?.code).toBe("failure_already_recorded");
  });

  it("the last failed attempt lapses it and tells the person; paying later makes it active again", () => {
    const s = feed(activeSubscription(), [failedInvoice("in_2", 30, 1, 3), failedInvoice("in_2", 33, 2, 5)]);
    const d = decided(s, failedInvoice("in_2", 38, 3));
    expect(d.state.status).toBe("lapsed");
    expect(d.state.lapses).toBe(1);
    expect(d.effects.map((e) => (e.kind === "notify" ? e.template : e.kind))).toEqual([
      "membership_payment_failed",
      "membership_lapsed",
    ]);
    const again = decided(d.state, paidInvoice("in_2", 40));
    expect(again.state.status).toBe("active");
    expect(again.effects.map((e) => e.kind)).toEqual(["post_ledger"]);
  });

  it("a declined first payment (no retry: Stripe expires it after 23 hours) does not tell the person it lapsed", () => {
    // Stripe does not retry a new subscription's first invoice: `next_payment_attempt` is null.
    const d = decided(freshSubscription(), failedInvoice("in_1", 0, 1));
    expect(d.state.status).toBe("incomplete");
    expect(d.state.lapses).toBe(0);
    expect(d.effects).toEqual([
      expect.objectContaining({
        kind: "notify",
        template: "membership_payment_failed",
        data: expect.objectContaining({ attempt: 1, lastAttempt: "no", firstPayment: "yes" }),
      }),
    ]);
  });

  it("a failure that arrives after the invoice was paid is ignored", () => {
    const s = feed(activeSubscription(), [paidInvoice("in_2", 31)]);
    expect(decided(s, failedInvoice("in_2", 30, 1, 3)).ignored?.code).toBe("invoice_already_paid");
  });

  it("a failure older than the last view is recorded without a notice or a move", () => {
    const s = feed(activeSubscription(), [snapshot("active", 40)]);
    const d = decided(s, failedInvoice("in_2", 30, 1, 3));
    expect(d.effects).toEqual([]);
    expect(d.state.status).toBe("active");
    expect(d.state.invoices.find((i) => i.id === "in_2")?.failedAttempts).toBe(1);
  });

  it("a payment that needs the person (3-D Secure) asks once per invoice, with the invoice's page", () => {
    const input: SubscriptionInput = {
      type: "invoice_payment_action_required",
      invoice: invoice("in_2", 30, 0),
    };
    const d = decided(activeSubscription(), input);
    expect(d.effects).toEqual([
      expect.objectContaining({
        id: "sub1:notify:membership_payment_action_required:in_2",
        template: "membership_payment_action_required",
        data: expect.objectContaining({ hostedInvoiceUrl: "https://invoice.stripe.test/in_2" }),
      }),
    ]);
    expect(decided(d.state, input).ignored?.code).toBe("action_already_requested");
    const paid = feed(activeSubscription(), [paidInvoice("in_2", 31)]);
    expect(decided(paid, input).ignored?.code).toBe("invoice_already_paid");
  });

  it("an invoice marked uncollectible is recorded, once; it does not lapse the membership by itself", () => {
    const s = feed(activeSubscription(), [failedInvoice("in_2", 30, 1, 3)]);
    const input: SubscriptionInput = {
      type: "invoice_marked_uncollectible",
      invoice: invoice("in_2", 40, 0),
    };
    const d = decided(s, input);
    expect(d.state.status).toBe("past_due");
    expect(d.effects).toEqual([]);
    expect(d.state.invoices.find((i) => i.id === "in_2")?.status).toBe("uncollectible");
    expect(decided(d.state, input).ignored?.code).toBe("invoice_already_uncollectible");
    expect(decided(activeSubscription(), { ...input, invoice: invoice("in_1", 40) }).ignored?.code).toBe(
      "invoice_already_paid",
    );
  });

  it("a past-due invoice written off (Stripe makes the subscription active again): active in either order, nobody told it lapsed", () => {
    const s = feed(activeSubscription(), [failedInvoice("in_2", 30, 1, 3)]);
    const writtenOff: SubscriptionInput = {
      type: "invoice_marked_uncollectible",
      invoice: invoice("in_2", 32, 0),
    };
    for (const order of [
      [writtenOff, snapshot("active", 32)],
      [snapshot("active", 32), writtenOff],
    ]) {
      let state = s;
      const effects = order.flatMap((input) => {
        const d = decided(state, input);
        state = d.state;
        return d.effects;
      });
      expect(state.status).toBe("active");
      expect(effects.filter((e) => e.kind === "notify")).toEqual([]);
    }
  });

  it("the lapse after the last retry comes from the failure and Stripe's view, whatever the invoice's write-off", () => {
    const s = feed(activeSubscription(), [failedInvoice("in_2", 30, 1, 3), failedInvoice("in_2", 33, 2)]);
    expect(s.status).toBe("lapsed");
    const written = feed(s, [{ type: "invoice_marked_uncollectible", invoice: invoice("in_2", 33, 0) }]);
    expect(written.status).toBe("lapsed");
    const canceled = feed(activeSubscription(), [
      failedInvoice("in_2", 30, 1, 3),
      snapshot("canceled", 33, { cancellationReason: "payment_failed" }),
      { type: "invoice_marked_uncollectible", invoice: invoice("in_2", 33, 0) },
    ]);
    expect(canceled.status).toBe("lapsed");
    expect(canceled.lapses).toBe(1);
  });

  it("tells a trialing person once that the trial ends", () => {
    const s = feed(freshSubscription({ trialDays: 14 }), [snapshot("trialing", 0)]);
    const trialEnd = MEMBERSHIP_T0 + 14 * DAY_MS;
    const d = decided(s, { type: "trial_will_end", trialEnd });
    expect(d.effects).toEqual([
      expect.objectContaining({
        id: `sub1:notify:membership_trial_ending:${trialEnd}`,
        template: "membership_trial_ending",
      }),
    ]);
    expect(decided(d.state, { type: "trial_will_end", trialEnd }).ignored?.code).toBe("trial_notice_sent");
    expect(decided(activeSubscription(), { type: "trial_will_end", trialEnd }).ignored?.code).toBe(
      "not_trialing",
    );
  });
});

describe("a person's commands", () => {
  it("changes price with proration; refuses the same price, another currency, and before the start", () => {
    const d = decided(activeSubscription(), {
      type: "change_price",
      price: proMonthly,
      prorationBehavior: "always_invoice",
    });
    expect(d.effects).toEqual([
      expect.objectContaining({
        kind: "change_subscription_price",
        id: "sub1:change:1",
        stripeSubscriptionId: "sub_stripe1",
        stripePriceId: "price_pro_m",
        prorationBehavior: "always_invoice",
      }),
    ]);
    // Stripe has not made the change yet: the membership stays on its plan until it does.
    expect(d.state.price.planId).toBe("pl_basic");
    expect(d.state.pendingChange).toEqual({ change: 1, price: proMonthly, requestedAt: MEMBERSHIP_T0 });
    const same = decide(activeSubscription(), {
      type: "change_price",
      price: basicMonthly,
      prorationBehavior: "always_invoice",
    });
    expect(same._unsafeUnwrapErr().code).toBe("same_price");
    const usd = decide(activeSubscription(), {
      type: "change_price",
      price: { ...proMonthly, currency: "USD", stripePriceId: "price_usd" },
      prorationBehavior: "always_invoice",
    });
    expect(usd._unsafeUnwrapErr().code).toBe("currency_change_not_allowed");
    const early = decide(freshSubscription(), {
      type: "change_price",
      price: proMonthly,
      prorationBehavior: "none",
    });
    expect(early._unsafeUnwrapErr().code).toBe("subscription_not_started");
  });

  it("a change of plan is pending until Stripe makes it: its answer confirms it, even after events", () => {
    const asked = decided(activeSubscription(), {
      type: "change_price",
      price: proMonthly,
      prorationBehavior: "always_invoice",
    });
    expect(asked.state.observedAt).toBeDefined();
    // One change at a time: a second waits for the first.
    expect(
      decide(asked.state, {
        type: "change_price",
        price: proMonthly,
        prorationBehavior: "none",
      })._unsafeUnwrapErr().code,
    ).toBe("change_pending");
    // Stripe's answer to the change call (no Stripe time) names the new price: the plan is the new one.
    const answer: SubscriptionInput = {
      type: "subscription_changed",
      snapshot: {
        stripeSubscriptionId: "sub_stripe1",
        status: "active",
        stripePriceId: "price_pro_m",
        cancelAtPeriodEnd: false,
      },
    };
    const confirmed = decided(asked.state, answer);
    expect(confirmed.ignored).toBeUndefined();
    expect(confirmed.state.price).toEqual(proMonthly);
    expect(confirmed.state.pendingChange).toBeUndefined();
    expect(confirmed.state.status).toBe("active");
    expect(confirmed.state.observedAt).toBe(asked.state.observedAt);
    // The event of the same change confirms it too (whichever comes first).
    const byEvent = feed(asked.state, [snapshot("active", 1, { stripePriceId: "price_pro_m" })]);
    expect(byEvent.price).toEqual(proMonthly);
    expect(byEvent.pendingChange).toBeUndefined();
    // An event still naming the old price (from before the change) leaves the change pending.
    const before = feed(asked.state, [snapshot("active", 1)]);
    expect(before.price).toEqual(basicMonthly);
    expect(before.pendingChange?.price).toEqual(proMonthly);
  });

  it("Stripe's refusal of a change clears it, keeps the plan and tells the person, once; no ticket", () => {
    const asked = decided(activeSubscription(), {
      type: "change_price",
      price: proMonthly,
      prorationBehavior: "always_invoice",
    }).state;
    const refusal: SubscriptionInput = {
      type: "change_refused",
      changeId: "sub1:change:1",
      code: "resource_missing",
      message: "The price specified is inactive. This field only accepts active prices.",
    };
    const refused = decided(asked, refusal);
    expect(refused.state.price).toEqual(basicMonthly);
    expect(refused.state.pendingChange).toBeUndefined();
    expect(refused.effects).toEqual([
      expect.objectContaining({
        kind: "notify",
        id: "sub1:notify:membership_change_refused:1",
        template: "membership_change_refused",
        to: { kind: "people", personIds: ["p1"] },
        data: expect.objectContaining({
          planId: "pl_basic",
          requestedPlanId: "pl_pro",
          requestedAmountMinor: 25_00,
          requestedInterval: "month",
          failureCode: "resource_missing",
        }),
      }),
    ]);
    expect(refused.effects.some((e) => e.kind === "open_ticket")).toBe(false);
    expect(decided(refused.state, refusal).ignored?.code).toBe("change_not_pending");
    // The person may ask again; a refusal of the first change is then old news.
    const again = decided(refused.state, {
      type: "change_price",
      price: proMonthly,
      prorationBehavior: "always_invoice",
    });
    expect(again.effects).toEqual([expect.objectContaining({ id: "sub1:change:2" })]);
    expect(decided(again.state, refusal).ignored?.code).toBe("change_not_pending");
  });

  it("Stripe's view wins: a view naming another plan's price puts the membership on that plan", () => {
    // Changed at Stripe without susu asking (the dashboard), or a change whose answer was lost.
    const s = feed(activeSubscription(), [
      {
        ...snapshot("active", 2, { stripePriceId: "price_pro_m" }),
        price: proMonthly,
      } as SubscriptionInput,
    ]);
    expect(s.price).toEqual(proMonthly);
    // A price the catalogue does not know keeps the plan and records Stripe's price.
    const unknown = feed(activeSubscription(), [snapshot("active", 2, { stripePriceId: "price_other" })]);
    expect(unknown.price).toEqual({ ...basicMonthly, stripePriceId: "price_other" });
  });

  it("the person may drop a change still waiting for Stripe (a parked call), and ask another", () => {
    expect(decide(activeSubscription(), { type: "cancel_change" })._unsafeUnwrapErr().code).toBe(
      "no_change_pending",
    );
    const asked = decided(activeSubscription(), {
      type: "change_price",
      price: proMonthly,
      prorationBehavior: "always_invoice",
    }).state;
    const dropped = decided(asked, { type: "cancel_change" });
    expect(dropped.effects).toEqual([]);
    expect(dropped.state.pendingChange).toBeUndefined();
    expect(dropped.state.price).toEqual(basicMonthly);
    const again = decided(dropped.state, {
      type: "change_price",
      price: proMonthly,
      prorationBehavior: "none",
    });
    expect(again.effects).toEqual([expect.objectContaining({ id: "sub1:change:2" })]);
    // Stripe made the dropped change after all (a parked call replayed): its view still wins.
    const madeAnyway = feed(dropped.state, [
      { ...snapshot("active", 2, { stripePriceId: "price_pro_m" }), price: proMonthly } as SubscriptionInput,
    ]);
    expect(madeAnyway.price).toEqual(proMonthly);
  });

  it("a view from before a change was asked neither confirms it nor moves a confirmed change back", () => {
    // The reviewer's case: basic → pro confirmed by Stripe's answer; back to basic asked; a late
    // view of day 1 (basic, before either change) arrives, then Stripe's refusal of the second change.
    const at = (day: number) => ({ now: MEMBERSHIP_T0 + day * DAY_MS });
    const step = (s: Subscription, input: SubscriptionInput, day: number) =>
      decideSubscription(s, input, at(day))._unsafeUnwrap();
    const answer = (stripePriceId: string): SubscriptionInput => ({
      type: "subscription_changed",
      snapshot: {
        stripeSubscriptionId: "sub_stripe1",
        status: "active",
        stripePriceId,
        cancelAtPeriodEnd: false,
      },
    });
    const toPro = step(
      activeSubscription(),
      { type: "change_price", price: proMonthly, prorationBehavior: "always_invoice" },
      2,
    );
    const onPro = step(toPro.state, answer("price_pro_m"), 2).state;
    expect(onPro.price).toEqual(proMonthly);
    // The answer is Stripe's word at or after the request: views older than the request are old
    // news for the price (the price's floor; the status's is still the last event's).
    expect(onPro.priceObservedAt).toBe(MEMBERSHIP_T0 + 2 * DAY_MS);
    expect(onPro.observedAt).toBe(MEMBERSHIP_T0);
    const back = step(
      onPro,
      { type: "change_price", price: basicMonthly, prorationBehavior: "always_invoice" },
      3,
    ).state;
    // It is newer than the last status news (day 0): its status counts, its price does not.
    const late = step(back, snapshot("active", 1), 3);
    expect(late.ignored).toBeUndefined();
    expect(late.state.observedAt).toBe(MEMBERSHIP_T0 + DAY_MS);
    expect(late.state.price).toEqual(proMonthly);
    expect(late.state.pendingChange?.price).toEqual(basicMonthly);
    const refused = step(
      late.state,
      { type: "change_refused", changeId: "sub1:change:2", code: "resource_missing", message: "inactive" },
      3,
    );
    expect(refused.ignored).toBeUndefined();
    expect(refused.state.price).toEqual(proMonthly);
    expect(refused.state.pendingChange).toBeUndefined();
    expect(refused.effects).toEqual([
      expect.objectContaining({ id: "sub1:notify:membership_change_refused:2" }),
    ]);
  });

  it("only a view observed at or after the request confirms a change (Stripe's seconds, same second counts)", () => {
    // Asked at 12.7 s past day 3 (susu's clock, ms); Stripe's times are whole seconds.
    const askedAt = MEMBERSHIP_T0 + 3 * DAY_MS + 12_700;
    const asked = decideSubscription(
      activeSubscription(),
      { type: "change_price", price: proMonthly, prorationBehavior: "always_invoice" },
      { now: askedAt },
    )._unsafeUnwrap().state;
    const view = (observedAt: number) =>
      decideSubscription(asked, snapshot("active", 0, { stripePriceId: "price_pro_m", observedAt }), {
        now: askedAt + 60_000,
      })._unsafeUnwrap().state;
    // Day 2: the view names the new price but predates the request — Stripe's view wins, the
    // change stays pending (its answer or refusal still comes).
    const older = view(MEMBERSHIP_T0 + 2 * DAY_MS);
    expect(older.pendingChange?.price).toEqual(proMonthly);
    const oneSecondBefore = view(askedAt - 12_700 + 11_000);
    expect(oneSecondBefore.pendingChange).toBeDefined();
    // The same second (12 s, before 12.7 s in ms) confirms it.
    const sameSecond = view(askedAt - 700);
    expect(sameSecond.pendingChange).toBeUndefined();
    expect(sameSecond.price).toEqual(proMonthly);
  });

  it("a confirmed change is a floor for the price only: older status news still moves the status", () => {
    // Past due since day 30; the person pays the open invoice on day 31 and asks for pro on
    // day 32. Stripe's answer to the change comes before the day-31 news of the payment.
    const at = (day: number) => ({ now: MEMBERSHIP_T0 + day * DAY_MS });
    const step = (s: Subscription, input: SubscriptionInput, day: number) =>
      decideSubscription(s, input, at(day))._unsafeUnwrap();
    const pastDue = step(activeSubscription(), failedInvoice("in_2", 30, 1, 3), 30).state;
    expect(pastDue.status).toBe("past_due");
    const asked = step(
      pastDue,
      { type: "change_price", price: proMonthly, prorationBehavior: "always_invoice" },
      32,
    ).state;
    const answer: SubscriptionInput = {
      type: "subscription_changed",
      snapshot: {
        stripeSubscriptionId: "sub_stripe1",
        status: "active",
        stripePriceId: "price_pro_m",
        cancelAtPeriodEnd: false,
      },
    };
    const onPro = step(asked, answer, 32).state;
    expect(onPro.price).toEqual(proMonthly);
    // invoice.paid of day 31: older than the change, newer than the last status news.
    const paid = step(onPro, paidInvoice("in_2", 31), 32);
    expect(paid.state.status).toBe("active");
    expect(paid.state.price).toEqual(proMonthly);
    expect(paid.effects.map((e) => e.kind)).toEqual(["post_ledger"]);
    // customer.subscription.updated of day 31 (active, still basic): its status counts, its
    // price and period do not (the change was confirmed on day 32).
    const viewed = step(onPro, snapshot("active", 31), 32);
    expect(viewed.ignored).toBeUndefined();
    expect(viewed.state.status).toBe("active");
    expect(viewed.state.price).toEqual(proMonthly);
    expect(viewed.state.currentPeriodEnd).toBe(onPro.currentPeriodEnd);
    // Either order: the view then the payment, both older than the change.
    const both = feed(onPro, [snapshot("active", 31), paidInvoice("in_2", 31)]);
    expect(both.status).toBe("active");
    expect(both.price).toEqual(proMonthly);
    // Status news older than the last status news is still stale.
    expect(step(viewed.state, snapshot("past_due", 30.5), 32).ignored?.code).toBe("stale_snapshot");
  });

  it("cancels at period end, refuses it twice, and resumes", () => {
    const a = decided(activeSubscription(), { type: "cancel", atPeriodEnd: true });
    expect(a.effects).toEqual([
      expect.objectContaining({ kind: "cancel_subscription", id: "sub1:cancel:1", mode: "at_period_end" }),
    ]);
    expect(a.state.cancelAtPeriodEnd).toBe(true);
    expect(a.state.status).toBe("active");
    expect(decide(a.state, { type: "cancel", atPeriodEnd: true })._unsafeUnwrapErr().code).toBe(
      "already_canceling",
    );
    const r = decided(a.state, { type: "resume" });
    expect(r.effects).toEqual([expect.objectContaining({ id: "sub1:cancel:2", mode: "resume" })]);
    expect(r.state.cancelAtPeriodEnd).toBe(false);
    expect(decide(r.state, { type: "resume" })._unsafeUnwrapErr().code).toBe("not_canceling");
  });

  it("cancels now at Stripe; the deletion event ends it", () => {
    const a = decided(activeSubscription(), { type: "cancel", atPeriodEnd: false });
    expect(a.effects).toEqual([expect.objectContaining({ mode: "now", id: "sub1:cancel:1" })]);
    const ended = feed(a.state, [snapshot("canceled", 2, { cancellationReason: "cancellation_requested" })]);
    expect(ended.status).toBe("canceled");
    expect(decide(ended, { type: "cancel", atPeriodEnd: false })._unsafeUnwrapErr().code).toBe(
      "subscription_ended",
    );
    expect(decide(ended, { type: "resume" })._unsafeUnwrapErr().code).toBe("subscription_ended");
    const lapsedForGood = feed(activeSubscription(), [
      snapshot("canceled", 3, { cancellationReason: "payment_failed" }),
    ]);
    expect(lapsedForGood.status).toBe("lapsed");
    // The last failure lapses it first; Stripe's cancellation in the same second still ends it.
    const lapsedFirst = feed(activeSubscription(), [
      failedInvoice("in_2", 3, 4),
      snapshot("canceled", 3, { cancellationReason: "payment_failed" }),
    ]);
    expect(lapsedFirst.endedAt).toBeDefined();
    expect(decide(lapsedFirst, { type: "resume" })._unsafeUnwrapErr().code).toBe("subscription_ended");
    expect(decide(lapsedForGood, { type: "cancel", atPeriodEnd: true })._unsafeUnwrapErr().code).toBe(
      "subscription_ended",
    );
  });

  it("canceling an unfinished Checkout ends it here, and a late start at Stripe is canceled there", () => {
    const s = freshSubscription({
      start: { kind: "checkout", successUrl: "https://a.test/ok", cancelUrl: "https://a.test/no" },
    });
    const c = decided(s, { type: "cancel", atPeriodEnd: false });
    expect(c.state.status).toBe("canceled");
    expect(c.effects).toEqual([]);
    const late = decided(c.state, snapshot("active", 1));
    expect(late.state.status).toBe("canceled");
    expect(late.effects).toEqual([
      expect.objectContaining({
        kind: "cancel_subscription",
        mode: "now",
        stripeSubscriptionId: "sub_stripe1",
      }),
    ]);
  });
});

describe("a membership canceled before it started, paid at Stripe after all", () => {
  const checkout = () =>
    freshSubscription({
      start: { kind: "checkout", successUrl: "https://a.test/ok", cancelUrl: "https://a.test/no" },
    });
  const cancel: SubscriptionInput = { type: "cancel", atPeriodEnd: false };
  const refunded = (refundId = "re_1"): SubscriptionInput => ({
    type: "invoice_refund_settled",
    invoiceId: "in_1",
    outcome: "succeeded",
    refundId,
  });

  it("refunds the invoice paid after the cancel in full, once, keyed by the invoice", () => {
    const c = feed(checkout(), [cancel]);
    expect(c.canceledBeforeStart).toBe(true);
    const paid = decided(c, paidInvoice("in_1", 1));
    expect(paid.state.status).toBe("canceled");
    expect(paid.effects).toEqual([
      expect.objectContaining({ kind: "post_ledger", id: "sub1:invoice:in_1:paid" }),
      {
        kind: "refund_subscription_invoice",
        id: "sub1:invoice:in_1:refund",
        aggregate: "subscription",
        aggregateId: "sub1",
        stripeInvoiceId: "in_1",
        amountMinor: 10_00,
        currency: "AUD",
      },
      // Its deadline: unfinished ten days after it was asked for, a person is given a ticket.
      {
        kind: "schedule_timer",
        id: "sub1:invoice:in_1:refund:overdue",
        aggregate: "subscription",
        aggregateId: "sub1",
        at: MEMBERSHIP_T0 + 10 * DAY_MS,
        timer: { kind: "refund_overdue", invoiceId: "in_1" },
      },
    ]);
    expect(paid.state.invoices[0]?.refund).toEqual({
      status: "requested",
      deadlineAt: MEMBERSHIP_T0 + 10 * DAY_MS,
    });
    expect(decided(paid.state, paidInvoice("in_1", 1)).ignored?.code).toBe("invoice_already_paid");
    // The late start, heard after the payment: canceled at Stripe, nothing refunded again.
    const late = decided(paid.state, snapshot("active", 1));
    expect(late.effects.map((e) => e.kind)).toEqual(["cancel_subscription"]);
  });

  it("a success gives the revenue back in the ledger and tells the person, once", () => {
    const paid = feed(checkout(), [cancel, snapshot("active", 1), paidInvoice("in_1", 1)]);
    const done = decided(paid, refunded());
    expect(done.state.invoices[0]?.refund).toEqual({
      status: "succeeded",
      refundId: "re_1",
      deadlineAt: MEMBERSHIP_T0 + 10 * DAY_MS,
      payments: [{ refundId: "re_1", amountMinor: 10_00, status: "succeeded", posted: true }],
    });
    const post = done.effects.find((e) => e.kind === "post_ledger");
    expect(post).toMatchObject({
      id: "sub1:invoice:in_1:refunded",
      transaction: {
        kind: "membership_invoice_refunded",
        postings: [
          {
            account: "membership:sub1:paid_in",
            side: "debit",
            amount: { amountMinor: 10_00, currency: "AUD" },
          },
          {
            account: "platform:membership_revenue",
            side: "credit",
            amount: { amountMinor: 10_00, currency: "AUD" },
          },
        ],
      },
    });
    expect(done.effects.filter((e) => e.kind === "notify")).toEqual([
      expect.objectContaining({
        id: "sub1:notify:membership_refunded:in_1",
        template: "membership_refunded",
        to: { kind: "people", personIds: ["p1"] },
        data: expect.objectContaining({
          invoiceId: "in_1",
          amountMinor: 10_00,
          collectedMinor: 10_00,
          currency: "AUD",
        }),
      }),
    ]);
    expect(decided(done.state, refunded()).ignored?.code).toBe("refund_already_settled");
  });

  it("a refusal opens a ticket and keeps the invoice's refund failed, posting nothing", () => {
    const paid = feed(checkout(), [cancel, paidInvoice("in_1", 1)]);
    const refused = decided(paid, {
      type: "invoice_refund_settled",
      invoiceId: "in_1",
      outcome: "failed",
      failureCode: "charge_disputed",
    });
    expect(refused.state.invoices[0]?.refund).toEqual({
      status: "failed",
      failureCode: "charge_disputed",
      deadlineAt: MEMBERSHIP_T0 + 10 * DAY_MS,
      untold: true,
      payments: [{ amountMinor: 10_00, status: "failed", failureCode: "charge_disputed" }],
    });
    expect(refused.effects).toEqual([
      expect.objectContaining({
        kind: "open_ticket",
        id: "sub1:invoice:in_1:refund:ticket",
        reason: "membership_refund_failed",
        summary: expect.stringContaining("charge_disputed"),
      }),
    ]);
    // The refusal heard again (the effect retried): nothing more.
    const again = decided(refused.state, {
      type: "invoice_refund_settled",
      invoiceId: "in_1",
      outcome: "failed",
      failureCode: "charge_disputed",
    });
    expect(again.ignored?.code).toBe("refund_already_settled");
  });

  it("a success Stripe fails afterwards is reversed in the ledger and ticketed as money held again, once", () => {
    const succeeded = feed(checkout(), [cancel, paidInvoice("in_1", 1), refunded()]);
    const failedLater: SubscriptionInput = {
      type: "invoice_refund_settled",
      invoiceId: "in_1",
      outcome: "failed",
      refundId: "re_1",
      amountMinor: 10_00,
      failureCode: "expired_or_canceled_card",
    };
    const d = decided(succeeded, failedLater);
    expect(d.state.invoices[0]?.refund).toEqual({
      status: "failed",
      refundId: "re_1",
      failureCode: "expired_or_canceled_card",
      failedAfterSuccess: true,
      deadlineAt: MEMBERSHIP_T0 + 10 * DAY_MS,
      payments: [
        {
          refundId: "re_1",
          amountMinor: 10_00,
          status: "failed",
          failureCode: "expired_or_canceled_card",
          posted: true,
        },
      ],
    });
    expect(d.effects.map((e) => e.kind)).toEqual(["post_ledger", "open_ticket", "notify"]);
    expect(d.effects[0]).toMatchObject({
      id: "sub1:invoice:in_1:refund-failed:re_1",
      transaction: {
        id: "sub1:invoice:in_1:refund-failed:re_1",
        kind: "membership_invoice_refund_failed",
        postings: [
          {
            account: "platform:membership_revenue",
            side: "debit",
            amount: { amountMinor: 10_00, currency: "AUD" },
          },
          {
            account: "membership:sub1:paid_in",
            side: "credit",
            amount: { amountMinor: 10_00, currency: "AUD" },
          },
        ],
      },
    });
    const ticket = d.effects[1];
    expect(ticket).toMatchObject({
      id: "sub1:invoice:in_1:refund:re_1:ticket",
      reason: "membership_refund_failed",
    });
    const summary = ticket?.kind === "open_ticket" ? ticket.summary : "";
    expect(summary).toContain("holds it again");
    expect(summary).toContain("no ledger fix is needed");
    expect(summary).toContain("expired_or_canceled_card");
    expect(summary).not.toContain("correct the ledger");
    // The person had been told the money was back: they are told it did not reach them.
    expect(d.effects[2]).toEqual(
      expect.objectContaining({
        id: "sub1:notify:membership_refund_reversed:in_1:re_1",
        template: "membership_refund_reversed",
        to: { kind: "people", personIds: ["p1"] },
        data: expect.objectContaining({
          invoiceId: "in_1",
          amountMinor: 10_00,
          currency: "AUD",
          failureCode: "expired_or_canceled_card",
        }),
      }),
    );
    // The failure heard again, or the success heard late: nothing more.
    expect(decided(d.state, failedLater).ignored?.code).toBe("refund_already_settled");
    expect(decided(d.state, refunded()).ignored?.code).toBe("refund_already_settled");
  });

  it("a refund stored before refunds were kept per payment: a failure after its success reverses all it posted", () => {
    const paid = feed(checkout(), [cancel, paidInvoice("in_1", 1)]);
    const inv = paid.invoices[0];
    if (inv === undefined) throw new Error("no invoice");
    const old: Subscription = {
      ...paid,
      invoices: [{ ...inv, refund: { status: "succeeded", refundId: "re_1" } }],
    };
    const failed: SubscriptionInput = {
      type: "invoice_refund_settled",
      invoiceId: "in_1",
      outcome: "failed",
      refundId: "re_1",
      failureCode: "expired_or_canceled_card",
    };
    const d = decided(old, failed);
    expect(d.effects.map((e) => [e.kind, e.id])).toEqual([
      ["post_ledger", "sub1:invoice:in_1:refund-failed:re_1"],
      ["open_ticket", "sub1:invoice:in_1:refund:re_1:ticket"],
      // Its success had told the person (as every success did then).
      ["notify", "sub1:notify:membership_refund_reversed:in_1:re_1"],
    ]);
    expect(d.effects[0]).toMatchObject({
      transaction: { postings: [{ amount: { amountMinor: 10_00 } }, {}] },
    });
    expect(d.state.invoices[0]?.refund).toEqual({
      status: "failed",
      refundId: "re_1",
      failureCode: "expired_or_canceled_card",
      failedAfterSuccess: true,
      postedWhole: true,
      payments: [
        {
          refundId: "re_1",
          amountMinor: 10_00,
          status: "failed",
          failureCode: "expired_or_canceled_card",
          posted: true,
        },
      ],
    });
    expect(decided(d.state, failed).ignored?.code).toBe("refund_already_settled");
    expect(decided(old, refunded()).ignored?.code).toBe("refund_already_settled");
  });

  it("a refund stored before refunds were kept per payment: each refund Stripe fails after its success reverses its own amount once", () => {
    const paid = feed(checkout(), [cancel, paidInvoice("in_1", 1)]);
    const inv = paid.invoices[0];
    if (inv === undefined) throw new Error("no invoice");
    const old: Subscription = {
      ...paid,
      invoices: [{ ...inv, refund: { status: "succeeded", refundId: "re_b" } }],
    };
    const failed = (refundId: string, amountMinor: number): SubscriptionInput => ({
      type: "invoice_refund_settled",
      invoiceId: "in_1",
      outcome: "failed",
      refundId,
      amountMinor,
      failureCode: "expired_or_canceled_card",
    });
    const a = decided(old, failed("re_a", 4_00));
    const b = decided(a.state, failed("re_b", 6_00));
    expect(b.effects.map((e) => [e.kind, e.id])).toEqual([
      ["post_ledger", "sub1:invoice:in_1:refund-failed:re_b"],
      ["open_ticket", "sub1:invoice:in_1:refund:re_b:ticket"],
      ["notify", "sub1:notify:membership_refund_reversed:in_1:re_b"],
    ]);
    const reversed = [a, b].flatMap((d) =>
      d.effects.flatMap((e) =>
        e.kind === "post_ledger" ? [e.transaction.postings[0]?.amount.amountMinor ?? 0] : [],
      ),
    );
    expect(reversed).toEqual([4_00, 6_00]);
    // Repeated, or a third refund: nothing more than the 10.00 posted is reversed.
    expect(decided(b.state, failed("re_a", 4_00)).ignored?.code).toBe("refund_already_settled");
    expect(decided(b.state, failed("re_b", 6_00)).ignored?.code).toBe("refund_already_settled");
    expect(decided(b.state, failed("re_c", 5_00)).ignored?.code).toBe("refund_already_settled");
    // A refund whose amount is more than is left is reversed only for what is left.
    const big = decided(a.state, failed("re_c", 9_00));
    expect(big.effects[0]).toMatchObject({
      id: "sub1:invoice:in_1:refund-failed:re_c",
      transaction: { postings: [{ amount: { amountMinor: 6_00 } }, {}] },
    });
  });

  describe("an invoice paid with two payments (4.00 and 6.00), each refunded apart", () => {
    const paid = () => feed(checkout(), [cancel, paidInvoice("in_1", 1)]);
    const outcome = (
      refundId: string,
      amountMinor: number,
      result: "succeeded" | "failed",
    ): SubscriptionInput => ({
      type: "invoice_refund_settled",
      invoiceId: "in_1",
      outcome: result,
      refundId,
      amountMinor,
      ...(result === "failed" ? { failureCode: "expired_or_canceled_card" } : {}),
    });

    it("is refunded, posted and told only once both refunds succeeded", () => {
      const first = decided(paid(), outcome("re_a", 4_00, "succeeded"));
      expect(first.effects).toEqual([]);
      expect(first.state.invoices[0]?.refund?.status).toBe("requested");
      expect(decided(first.state, outcome("re_a", 4_00, "succeeded")).ignored?.code).toBe(
        "refund_already_settled",
      );
      const both = decided(first.state, outcome("re_b", 6_00, "succeeded"));
      expect(both.state.invoices[0]?.refund?.status).toBe("succeeded");
      expect(both.effects.map((e) => [e.kind, e.id])).toEqual([
        ["post_ledger", "sub1:invoice:in_1:refunded"],
        ["notify", "sub1:notify:membership_refunded:in_1"],
      ]);
      expect(both.effects[0]).toMatchObject({
        transaction: { postings: [{ amount: { amountMinor: 10_00 } }, {}] },
      });
    });

    it("one refund failing posts what went back and tickets what is held, with the amounts", () => {
      const d = feed(paid(), [outcome("re_b", 6_00, "failed")]);
      expect(d.invoices[0]?.refund?.status).toBe("requested");
      const ended = decided(d, outcome("re_a", 4_00, "succeeded"));
      expect(ended.state.invoices[0]?.refund?.status).toBe("failed");
      expect(ended.effects.map((e) => [e.kind, e.id])).toEqual([
        ["post_ledger", "sub1:invoice:in_1:refunded"],
        ["open_ticket", "sub1:invoice:in_1:refund:ticket"],
      ]);
      expect(ended.effects[0]).toMatchObject({
        transaction: { postings: [{ amount: { amountMinor: 4_00 } }, {}] },
      });
      const ticket = ended.effects[1];
      const summary = ticket?.kind === "open_ticket" ? ticket.summary : "";
      expect(summary).toContain("failed to refund 600 AUD (minor units) of the 1000 AUD (minor units)");
      expect(summary).toContain("refund re_b: 600 AUD (minor units), expired_or_canceled_card");
      expect(summary).toContain("400 AUD (minor units) went back");
      expect(summary).toContain("the platform holds 600 AUD (minor units)");
    });

    it("a success failing after both succeeded reverses that payment's part only", () => {
      const both = feed(paid(), [outcome("re_a", 4_00, "succeeded"), outcome("re_b", 6_00, "succeeded")]);
      const d = decided(both, outcome("re_a", 4_00, "failed"));
      expect(d.effects.map((e) => [e.kind, e.id])).toEqual([
        ["post_ledger", "sub1:invoice:in_1:refund-failed:re_a"],
        ["open_ticket", "sub1:invoice:in_1:refund:re_a:ticket"],
        ["notify", "sub1:notify:membership_refund_reversed:in_1:re_a"],
      ]);
      expect(d.effects[2]).toMatchObject({ data: { amountMinor: 4_00 } });
      expect(d.effects[0]).toMatchObject({
        transaction: { postings: [{ amount: { amountMinor: 4_00 } }, {}] },
      });
      expect(d.state.invoices[0]?.refund).toMatchObject({ status: "failed", failedAfterSuccess: true });
      // The other then failing too is reversed and ticketed on its own.
      const again = decided(d.state, outcome("re_b", 6_00, "failed"));
      expect(again.effects.map((e) => [e.kind, e.id])).toEqual([
        ["post_ledger", "sub1:invoice:in_1:refund-failed:re_b"],
        ["open_ticket", "sub1:invoice:in_1:refund:re_b:ticket"],
        ["notify", "sub1:notify:membership_refund_reversed:in_1:re_b"],
      ]);
      expect(decided(again.state, outcome("re_b", 6_00, "failed")).effects).toEqual([]);
    });

    it("the person told is told of a later failure whatever came between; a snapshot from before `untold` reads as told", () => {
      const both = feed(paid(), [outcome("re_a", 4_00, "succeeded"), outcome("re_b", 6_00, "succeeded")]);
      // Stripe's refusal of the refund call heard late (a retried call): a ticket, the person still told of re_a's failure.
      const refusedLate = feed(both, [
        {
          type: "invoice_refund_settled",
          invoiceId: "in_1",
          outcome: "failed",
          failureCode: "charge_disputed",
        },
      ]);
      const kinds = (s: Subscription) =>
        decided(s, outcome("re_a", 4_00, "failed")).effects.map((e) => [e.kind, e.id]);
      expect(kinds(refusedLate)).toContainEqual([
        "notify",
        "sub1:notify:membership_refund_reversed:in_1:re_a",
      ]);
      const inv = both.invoices[0];
      if (inv?.refund === undefined) throw new Error("no refund");
      // A snapshot of the `told` days, and one whose postings are not all marked (a success
      // heard after the refund ended, beyond what was collected, is never posted).
      const told = { ...both, invoices: [{ ...inv, refund: { ...inv.refund, told: true as const } }] };
      expect(kinds(told)).toContainEqual(["notify", "sub1:notify:membership_refund_reversed:in_1:re_a"]);
      const extra = feed(both, [outcome("re_x", 5_00, "succeeded")]);
      const extraInv = extra.invoices[0];
      if (extraInv?.refund === undefined) throw new Error("no refund");
      expect(extraInv.refund.payments?.find((p) => p.refundId === "re_x")?.posted).toBeUndefined();
      // Stored before either `told` or `untold` was kept (the person was told: every refund
      // succeeded), with that unposted success: still read as told.
      const { told: _told, untold: _untold, ...bare } = extraInv.refund;
      const stored = { ...extra, invoices: [{ ...extraInv, refund: bare }] };
      expect(kinds(stored)).toContainEqual(["notify", "sub1:notify:membership_refund_reversed:in_1:re_a"]);
    });

    it("a success posted after the refund ended with a failure, then failed: the person was never told, so not now", () => {
      const ended = feed(paid(), [outcome("re_b", 6_00, "failed"), outcome("re_a", 4_00, "succeeded")]);
      expect(ended.invoices[0]?.refund?.status).toBe("failed");
      expect(ended.invoices[0]?.refund?.untold).toBe(true);
      const d = decided(ended, outcome("re_a", 4_00, "failed"));
      expect(d.effects.map((e) => [e.kind, e.id])).toEqual([
        ["post_ledger", "sub1:invoice:in_1:refund-failed:re_a"],
        ["open_ticket", "sub1:invoice:in_1:refund:re_a:ticket"],
      ]);
      // The same stored before `untold` was kept: taken as told, and told of the reversal.
      const inv = ended.invoices[0];
      if (inv?.refund === undefined) throw new Error("no refund");
      const { untold: _untold, ...before } = inv.refund;
      const old = decided(
        { ...ended, invoices: [{ ...inv, refund: before }] },
        outcome("re_a", 4_00, "failed"),
      );
      expect(old.effects.map((e) => [e.kind, e.id])).toContainEqual([
        "notify",
        "sub1:notify:membership_refund_reversed:in_1:re_a",
      ]);
    });

    it("once ended, what the refund gave back is what the ledger posted: a success it could not post is not counted", () => {
      const ended = feed(paid(), [outcome("re_b", 6_00, "failed"), outcome("re_a", 4_00, "succeeded")]);
      expect(invoiceRefundedMinor(ended.invoices[0] as NonNullable<(typeof ended.invoices)[0]>)).toBe(4_00);
      // A success heard afterwards of more than is left to give back (a refund not susu's naming it): not posted.
      const extra = decided(ended, outcome("re_c", 7_00, "succeeded"));
      expect(extra.effects.filter((e) => e.kind === "post_ledger")).toEqual([]);
      const inv = extra.state.invoices[0];
      if (inv === undefined) throw new Error("no invoice");
      expect(invoiceRefundedMinor(inv)).toBe(4_00);
      // One that fits is posted, and counted.
      const fits = decided(ended, outcome("re_d", 5_00, "succeeded"));
      expect(fits.effects.map((e) => e.kind)).toEqual(["post_ledger"]);
      expect(invoiceRefundedMinor(fits.state.invoices[0] as NonNullable<(typeof ended.invoices)[0]>)).toBe(
        9_00,
      );
    });
  });

  describe("an invoice of 10.00 partly refunded outside susu (3.00) before: susu's refund makes 7.00", () => {
    const paid = () => feed(checkout(), [cancel, paidInvoice("in_1", 1)]);
    const made: SubscriptionInput = { type: "invoice_refunds_made", invoiceId: "in_1", refundIds: ["re_7"] };
    const settled: SubscriptionInput = {
      type: "invoice_refund_settled",
      invoiceId: "in_1",
      outcome: "succeeded",
      refundId: "re_7",
      amountMinor: 7_00,
    };
    const expectEnded = (d: ReturnType<typeof decided>) => {
      expect(d.state.invoices[0]?.refund?.status).toBe("succeeded");
      expect(d.effects.map((e) => [e.kind, e.id])).toEqual([
        ["post_ledger", "sub1:invoice:in_1:refunded"],
        ["notify", "sub1:notify:membership_refunded:in_1"],
        ["open_ticket", "sub1:invoice:in_1:refund:ticket"],
      ]);
      // The person hears what went back and what was collected: not "in full".
      expect(d.effects[1]).toMatchObject({ data: { amountMinor: 7_00, collectedMinor: 10_00 } });
      expect(d.effects[0]).toMatchObject({
        transaction: { postings: [{ amount: { amountMinor: 7_00 } }, {}] },
      });
      const ticket = d.effects[2];
      const summary = ticket?.kind === "open_ticket" ? ticket.summary : "";
      expect(summary).toContain("returned 700 AUD (minor units) of the 1000 AUD (minor units)");
      expect(summary).toContain("still holds 300 AUD (minor units)");
    };

    it("ends once the one refund the call made succeeded (the answer's refunds heard first)", () => {
      const known = decided(paid(), made);
      expect(known.effects).toEqual([]);
      expect(known.state.invoices[0]?.refund).toEqual({
        status: "requested",
        deadlineAt: MEMBERSHIP_T0 + 10 * DAY_MS,
        refundIds: ["re_7"],
      });
      expectEnded(decided(known.state, settled));
      expect(decided(decided(known.state, settled).state, settled).ignored?.code).toBe(
        "refund_already_settled",
      );
    });

    it("ends when the answer comes after the refund's event was heard", () => {
      const heard = decided(paid(), settled);
      expect(heard.effects).toEqual([]);
      expect(heard.state.invoices[0]?.refund?.status).toBe("requested");
      const ended = decided(heard.state, made);
      expectEnded(ended);
      expect(decided(ended.state, made).ignored?.code).toBe("refunds_already_known");
    });

    it("waits for a refund the answer gave as pending, then ends with its event", () => {
      const two: SubscriptionInput = {
        type: "invoice_refunds_made",
        invoiceId: "in_1",
        refundIds: ["re_7", "re_p"],
      };
      const first = feed(paid(), [two, settled]);
      expect(first.invoices[0]?.refund?.status).toBe("requested");
      const last = decided(first, {
        type: "invoice_refund_settled",
        invoiceId: "in_1",
        outcome: "failed",
        refundId: "re_p",
        amountMinor: 2_00,
        failureCode: "expired_or_canceled_card",
      });
      expect(last.state.invoices[0]?.refund?.status).toBe("failed");
      expect(last.effects.map((e) => [e.kind, e.id])).toEqual([
        ["post_ledger", "sub1:invoice:in_1:refunded"],
        ["open_ticket", "sub1:invoice:in_1:refund:ticket"],
      ]);
    });
  });

  it("a refund stored before deadlines were recorded gets its deadline and timer with the subscription's next decision, once", () => {
    const paid = feed(checkout(), [cancel, paidInvoice("in_1", 1)]);
    const inv = paid.invoices[0];
    if (inv?.refund === undefined) throw new Error("no refund");
    const { deadlineAt: _d, ...refund } = inv.refund;
    const old: Subscription = { ...paid, invoices: [{ ...inv, refund }] };
    const later = MEMBERSHIP_T0 + 3 * DAY_MS;
    const next = decideSubscription(old, paidInvoice("in_2", 2), { now: later })._unsafeUnwrap();
    expect(next.state.invoices.find((i) => i.id === "in_1")?.refund?.deadlineAt).toBe(later + 10 * DAY_MS);
    expect(next.effects).toContainEqual({
      kind: "schedule_timer",
      id: "sub1:invoice:in_1:refund:overdue",
      aggregate: "subscription",
      aggregateId: "sub1",
      at: later + 10 * DAY_MS,
      timer: { kind: "refund_overdue", invoiceId: "in_1" },
    });
    // Recorded: the next decision arms nothing more.
    const again = decideSubscription(
      next.state,
      { type: "invoice_refunds_made", invoiceId: "in_1", refundIds: ["re_1", "re_2"] },
      { now: later },
    )._unsafeUnwrap();
    expect(again.effects.filter((e) => e.kind === "schedule_timer" && e.id.includes(":in_1:"))).toEqual([]);
    // An input the subscription would ignore (a repeat) arms it too: it becomes a decision
    // that only does that (an ignored input is not stored); once armed, the repeat is ignored.
    const repeat = decideSubscription(old, paidInvoice("in_1", 1), { now: later })._unsafeUnwrap();
    expect(repeat.ignored).toBeUndefined();
    expect(repeat.effects.map((e) => [e.kind, e.id])).toEqual([
      ["schedule_timer", "sub1:invoice:in_1:refund:overdue"],
    ]);
    expect(repeat.state).toEqual({
      ...old,
      invoices: [{ ...inv, refund: { ...refund, deadlineAt: later + 10 * DAY_MS } }],
    });
    expect(decided(repeat.state, paidInvoice("in_1", 1)).ignored?.code).toBe("invoice_already_paid");
    // A refund already ticketed as overdue, or ended, is left alone.
    const overdue: Subscription = { ...paid, invoices: [{ ...inv, refund: { ...refund, overdue: true } }] };
    expect(
      decideSubscription(overdue, paidInvoice("in_2", 2), { now: later })
        ._unsafeUnwrap()
        .effects.filter((e) => e.kind === "schedule_timer" && e.id.includes(":in_1:")),
    ).toEqual([]);
  });

  it("news of a refund of an invoice susu did not refund (its refunds, an outcome, its deadline) is ignored, changing nothing", () => {
    const c = feed(checkout(), [cancel, paidInvoice("in_1", 1)]);
    const started = feed(checkout(), [paidInvoice("in_1", 1)]);
    for (const s of [c, started])
      for (const input of [
        { type: "invoice_refunds_made", invoiceId: "in_x", refundIds: ["re_1"] },
        { type: "invoice_refund_settled", invoiceId: "in_x", outcome: "succeeded", refundId: "re_1" },
        { type: "timer", timer: { kind: "refund_overdue", invoiceId: "in_x" } },
        { type: "invoice_refund_settled", invoiceId: s === c ? "in_x" : "in_1", outcome: "failed" },
      ] satisfies SubscriptionInput[]) {
        const d = decided(s, input);
        expect([d.ignored?.code, d.effects, d.state]).toEqual(["refund_not_requested", [], s]);
      }
  });

  describe("a refund still unfinished at its deadline", () => {
    const paid = () => feed(checkout(), [cancel, paidInvoice("in_1", 1)]);
    const deadline: SubscriptionInput = {
      type: "timer",
      timer: { kind: "refund_overdue", invoiceId: "in_1" },
    };
    const made: SubscriptionInput = {
      type: "invoice_refunds_made",
      invoiceId: "in_1",
      refundIds: ["re_a", "re_p"],
    };

    it("opens one ticket naming the refunds Stripe still has pending; the deadline again changes nothing", () => {
      const waiting = feed(paid(), [made, refunded("re_a")]);
      const d = decided(waiting, deadline);
      expect(d.effects.map((e) => [e.kind, e.id])).toEqual([
        ["open_ticket", "sub1:invoice:in_1:refund:overdue:ticket"],
      ]);
      expect(d.effects[0]).toMatchObject({ reason: "membership_refund_overdue" });
      const summary = d.effects[0]?.kind === "open_ticket" ? d.effects[0].summary : "";
      expect(summary).toContain("unfinished 10 days after it was asked for");
      expect(summary).toContain("Stripe still has re_p pending");
      expect(d.state.invoices[0]?.refund).toMatchObject({ status: "requested", overdue: true });
      const again = decided(d.state, deadline);
      expect([again.ignored?.code, again.effects]).toEqual(["timer_no_longer_due", []]);
    });

    it("says when the refund call's answer was never heard", () => {
      const d = decided(paid(), deadline);
      const summary = d.effects[0]?.kind === "open_ticket" ? d.effects[0].summary : "";
      expect(summary).toContain("answer to the refund call was never heard");
    });

    it("still ends as usual when Stripe's answer comes after the ticket", () => {
      const overdue = feed(paid(), [made, deadline, refunded("re_a")]);
      const ended = decided(overdue, refunded("re_p"));
      expect(ended.state.invoices[0]?.refund?.status).toBe("succeeded");
      expect(ended.effects.map((e) => [e.kind, e.id])).toEqual([
        ["post_ledger", "sub1:invoice:in_1:refunded"],
        ["notify", "sub1:notify:membership_refunded:in_1"],
      ]);
    });

    it("is ignored once the refund ended, and for an invoice susu did not refund", () => {
      const ended = feed(paid(), [refunded("re_1")]);
      expect(decided(ended, deadline).ignored?.code).toBe("timer_no_longer_due");
      const other = decided(paid(), { type: "timer", timer: { kind: "refund_overdue", invoiceId: "in_x" } });
      expect(other.ignored?.code).toBe("refund_not_requested");
    });
  });

  describe("what went back (invoiceRefundedMinor, the API's refundedMinor)", () => {
    const paid = () => feed(checkout(), [cancel, paidInvoice("in_1", 1)]);
    const settled = (
      refundId: string,
      amountMinor: number,
      outcome: "succeeded" | "failed",
    ): SubscriptionInput => ({
      type: "invoice_refund_settled",
      invoiceId: "in_1",
      outcome,
      refundId,
      amountMinor,
      ...(outcome === "failed" ? { failureCode: "expired_or_canceled_card" } : {}),
    });
    const back = (s: Subscription) => {
      const inv = s.invoices[0];
      if (inv === undefined) throw new Error("no invoice");
      return invoiceRefundedMinor(inv);
    };

    it("is nothing while requested, the successes so far, and less what Stripe failed afterwards", () => {
      const requested = paid();
      expect(back(requested)).toBe(0);
      const made: SubscriptionInput = {
        type: "invoice_refunds_made",
        invoiceId: "in_1",
        refundIds: ["re_a", "re_b"],
      };
      const one = feed(requested, [made, settled("re_a", 4_00, "succeeded")]);
      expect([one.invoices[0]?.refund?.status, back(one)]).toEqual(["requested", 4_00]);
      const both = feed(one, [settled("re_b", 6_00, "succeeded")]);
      expect([both.invoices[0]?.refund?.status, back(both)]).toEqual(["succeeded", 10_00]);
      const failedLater = feed(both, [settled("re_a", 4_00, "failed")]);
      expect([failedLater.invoices[0]?.refund?.status, back(failedLater)]).toEqual(["failed", 6_00]);
    });

    it("is what susu's refund made when part was refunded outside susu before", () => {
      const s = feed(paid(), [
        { type: "invoice_refunds_made", invoiceId: "in_1", refundIds: ["re_7"] },
        settled("re_7", 7_00, "succeeded"),
      ]);
      expect(s.invoices[0]?.amountPaidMinor).toBe(10_00);
      expect([s.invoices[0]?.refund?.status, back(s)]).toEqual(["succeeded", 7_00]);
    });

    it("reads refunds stored before refunds were kept per payment", () => {
      const s = paid();
      const inv = s.invoices[0];
      if (inv === undefined) throw new Error("no invoice");
      const stored = (refund: NonNullable<typeof inv.refund>) => invoiceRefundedMinor({ ...inv, refund });
      expect(stored({ status: "succeeded", refundId: "re_1" })).toBe(10_00);
      expect(stored({ status: "failed", failureCode: "charge_disputed" })).toBe(0);
      expect(stored({ status: "failed", refundId: "re_1", failedAfterSuccess: true })).toBe(0);
      const partlyReversed = {
        status: "failed",
        refundId: "re_a",
        failedAfterSuccess: true,
        postedWhole: true,
        payments: [{ refundId: "re_a", amountMinor: 4_00, status: "failed", posted: true }],
      } as const;
      expect(stored(partlyReversed)).toBe(6_00);
      const old = {
        ...s,
        invoices: [{ ...inv, refund: { status: "succeeded", refundId: "re_b" } as const }],
      };
      expect(back(feed(old, [settled("re_a", 4_00, "failed")]))).toBe(6_00);
    });
  });

  it("refunds nothing for an invoice paid before the cancel, a trial's zero invoice, or a started membership's paid before its end", () => {
    const paidFirst = feed(checkout(), [paidInvoice("in_1", 0), cancel]);
    expect(decided(paidFirst, snapshot("active", 1)).effects.map((e) => e.kind)).toEqual([
      "cancel_subscription",
    ]);
    const trial = decided(feed(checkout(), [cancel]), paidInvoice("in_1", 1, 0));
    expect(trial.effects).toEqual([]);
    const started = feed(activeSubscription(), [snapshot("canceled", 3)]);
    // Paid before Stripe ended it (day 3), heard after: kept. (Paid after the end, it is
    // refunded: see subscription-paid-after-end.test.ts.)
    expect(decided(started, paidInvoice("in_2", 2)).effects.map((e) => e.kind)).toEqual(["post_ledger"]);
    expect(decided(started, refunded()).ignored?.code).toBe("refund_not_requested");
  });

  it("a membership stored before the flag (canceled, Stripe's subscription not recorded) is refunded too", () => {
    const { canceledBeforeStart: _flag, ...old } = feed(checkout(), [cancel]);
    expect(decided(old, paidInvoice("in_1", 1)).effects.map((e) => e.kind)).toEqual([
      "post_ledger",
      "refund_subscription_invoice",
      "schedule_timer",
    ]);
  });
});

describe("the transition table", () => {
  const sub = (status: SubscriptionStatus): Subscription => ({ ...activeSubscription(), status });
  // One input making each move of the table.
  const moves: Record<string, [SubscriptionStatus, SubscriptionInput]> = {
    "incomplete→trialing": ["incomplete", snapshot("trialing", 5)],
    "incomplete→active": ["incomplete", snapshot("active", 5)],
    "incomplete→past_due": ["incomplete", snapshot("past_due", 5)],
    "incomplete→lapsed": ["incomplete", snapshot("canceled", 5, { cancellationReason: "payment_failed" })],
    "incomplete→canceled": ["incomplete", snapshot("canceled", 5)],
    "incomplete→incomplete_expired": ["incomplete", snapshot("incomplete_expired", 5)],
    "trialing→active": ["trialing", snapshot("active", 5)],
    "trialing→past_due": ["trialing", failedInvoice("in_9", 5, 1, 3)],
    "trialing→lapsed": ["trialing", snapshot("paused", 5)],
    "trialing→canceled": ["trialing", snapshot("canceled", 5)],
    "active→past_due": ["active", snapshot("past_due", 5)],
    "active→lapsed": ["active", snapshot("unpaid", 5)],
    "active→canceled": ["active", snapshot("canceled", 5)],
    "past_due→active": ["past_due", paidInvoice("in_9", 5)],
    "past_due→lapsed": ["past_due", failedInvoice("in_9", 5, 4)],
    "past_due→canceled": [
      "past_due",
      snapshot("canceled", 5, { cancellationReason: "cancellation_requested" }),
    ],
    "lapsed→active": ["lapsed", snapshot("active", 5)],
    "lapsed→canceled": ["lapsed", snapshot("canceled", 5, { cancellationReason: "cancellation_requested" })],
  };
  const table = Object.entries(SUBSCRIPTION_TRANSITIONS).flatMap(([from, tos]) =>
    tos.map((to) => `${from}→${to}`),
  );

  it.each(table)("%s is made by one decision", (move) => {
    const [from, input] = moves[move] ?? [];
    if (from === undefined || input === undefined) throw new Error(`no input makes ${move}`);
    expect(decided(sub(from), input).state.status).toBe(move.split("→")[1]);
  });

  it("forbids every move not in the table", () => {
    expect(isSubscriptionMoveAllowed("canceled", "active")).toBe(false);
    expect(isSubscriptionMoveAllowed("active", "incomplete")).toBe(false);
    expect(isSubscriptionMoveAllowed("incomplete_expired", "active")).toBe(false);
  });

  it("every ignored code is one decision's answer", () => {
    const seen = new Set<SubscriptionIgnoredCode>();
    const watch = (s: Subscription, input: SubscriptionInput) => {
      const code = decided(s, input).ignored?.code;
      if (code) seen.add(code);
    };
    const active = activeSubscription();
    const ended = feed(active, [snapshot("canceled", 3)]);
    watch(ended, snapshot("active", 4));
    watch(feed(freshSubscription(), [snapshot("past_due", 5)]), snapshot("active", 2));
    watch(feed(freshSubscription(), [snapshot("active", 1)]), snapshot("active", 1));
    watch(active, snapshot("active", 1, { stripeSubscriptionId: "sub_x" }));
    watch(active, { type: "subscribe" });
    const co = feed(
      freshSubscription({
        start: { kind: "checkout", successUrl: "https://a.test", cancelUrl: "https://a.test" },
      }),
      [{ type: "checkout_created", sessionId: "cs", url: "https://c.test" }],
    );
    watch(co, { type: "checkout_created", sessionId: "cs", url: "https://c.test" });
    watch(co, { type: "checkout_expired", sessionId: "cs_other" });
    watch(co, { type: "use_payment_method", paymentMethodId: "pm_new" });
    watch(active, { type: "use_payment_method", paymentMethodId: "pm_card" });
    watch(active, { type: "start_failed", code: "x", message: "y" });
    watch(active, { type: "change_refused", changeId: "sub1:change:1", code: "x", message: "y" });
    watch(active, {
      type: "payment_method_refused",
      changeId: "sub1:payment-method:1",
      code: "x",
      message: "y",
    });
    watch(active, { type: "trial_will_end", trialEnd: 1 });
    const trial = feed(freshSubscription({ trialDays: 3 }), [
      snapshot("trialing", 0),
      { type: "trial_will_end", trialEnd: 9 },
    ]);
    watch(trial, { type: "trial_will_end", trialEnd: 9 });
    watch(active, paidInvoice("in_1", 2));
    const failed = feed(active, [failedInvoice("in_2", 30, 1, 3)]);
    watch(failed, failedInvoice("in_2", 30, 1, 3));
    const asked = feed(active, [{ type: "invoice_payment_action_required", invoice: invoice("in_3", 30) }]);
    watch(asked, { type: "invoice_payment_action_required", invoice: invoice("in_3", 30) });
    const unc = feed(failed, [{ type: "invoice_marked_uncollectible", invoice: invoice("in_2", 40) }]);
    watch(unc, { type: "invoice_marked_uncollectible", invoice: invoice("in_2", 40) });
    const voidedInvoice = feed(failed, [{ type: "invoice_voided", invoice: invoice("in_2", 41) }]);
    watch(voidedInvoice, { type: "invoice_voided", invoice: invoice("in_2", 41) });
    watch(voidedInvoice, failedInvoice("in_2", 42, 2, 3));
    const settled: SubscriptionInput = {
      type: "invoice_refund_settled",
      invoiceId: "in_1",
      outcome: "succeeded",
      refundId: "re_1",
    };
    watch(active, settled);
    const late = feed(
      freshSubscription({
        start: { kind: "checkout", successUrl: "https://a.test", cancelUrl: "https://a.test" },
      }),
      [{ type: "cancel", atPeriodEnd: false }, paidInvoice("in_1", 1), settled],
    );
    watch(late, settled);
    watch(late, { type: "invoice_refunds_made", invoiceId: "in_1", refundIds: ["re_1"] });
    watch(late, { type: "timer", timer: { kind: "refund_overdue", invoiceId: "in_1" } });
    // A membership invoice's charge refunded outside susu or disputed.
    const outside: SubscriptionInput = {
      type: "invoice_refunded_outside",
      invoiceId: "in_1",
      refundId: "re_dash",
      amountMinor: 1_00,
      outcome: "succeeded",
    };
    watch(feed(freshSubscription(), [snapshot("active", 0)]), outside);
    watch(feed(active, [outside]), outside);
    const lost: SubscriptionInput = {
      type: "invoice_disputed",
      invoiceId: "in_1",
      disputeId: "du_1",
      closed: "lost",
    };
    watch(feed(active, [lost]), lost);
    const open: SubscriptionInput = {
      type: "invoice_disputed",
      invoiceId: "in_1",
      disputeId: "du_2",
      stripeStatus: "needs_response",
    };
    watch(feed(active, [open]), open);
    // Stripe's answer to a void: none asked, or the call answered already.
    const voided: SubscriptionInput = {
      type: "invoice_void_answered",
      invoiceId: "in_2",
      voidId: "sub1:invoice:in_2:void",
      status: "void",
    };
    watch(active, voided);
    watch(feed(failed, [snapshot("canceled", 31), voided]), voided);
    expect([...seen].sort()).toEqual([...SUBSCRIPTION_IGNORED_CODES].sort());
  });
});
