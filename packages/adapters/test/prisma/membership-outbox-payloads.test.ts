// A membership's Checkout expiry, and the refund of a payment made after the membership was
// canceled (with its notice, posting and ticket), as the domain makes them, survive the
// database's JSON and its parser unchanged (an effect the parser refused would be parked,
// never sent).
import { decideSubscription, type OutboxEffect, type Subscription } from "@susu/domain";
import { describe, expect, it } from "vitest";
import { outboxAggregateOf } from "../../src/prisma/projections.js";
import { parseOutboxEffect, parseSubscriptionSnapshot } from "../../src/prisma/snapshots.js";
import { aMembership } from "../support/membership-fixture.js";

const now = { now: Date.UTC(2026, 0, 6) };

const aCheckoutMembership = (): Subscription => aMembership("checkout", now.now);

describe("a membership's outbox payloads", () => {
  it("expire_subscription_checkout round-trips and names its subscription", () => {
    const s = aCheckoutMembership();
    const withPage = decideSubscription(
      s,
      { type: "checkout_created", sessionId: "cs_1", url: "https://checkout.test/cs_1" },
      now,
    )._unsafeUnwrap().state;
    const effects: OutboxEffect[] = [
      ...decideSubscription(withPage, { type: "cancel", atPeriodEnd: false }, now)._unsafeUnwrap().effects,
    ];
    expect(effects.map((e) => e.kind)).toEqual(["expire_subscription_checkout"]);
    for (const effect of effects) {
      const stored: unknown = JSON.parse(JSON.stringify(effect));
      expect(parseOutboxEffect(stored)._unsafeUnwrap()).toEqual(effect);
      expect(outboxAggregateOf(effect)).toEqual({ type: "subscription", id: s.id });
    }
    expect(parseOutboxEffect({ ...effects[0], sessionId: 42 }).isErr()).toBe(true);
  });

  it("a late payment's refund, its notice and posting, and a refusal's ticket round-trip", () => {
    const canceled = decideSubscription(
      aCheckoutMembership(),
      { type: "cancel", atPeriodEnd: false },
      now,
    )._unsafeUnwrap().state;
    const paid = decideSubscription(
      canceled,
      {
        type: "invoice_paid",
        invoice: {
          invoiceId: "in_1",
          amountDueMinor: 10_00,
          amountPaidMinor: 10_00,
          currency: "AUD",
          observedAt: now.now,
        },
        paidAt: now.now,
      },
      now,
    )._unsafeUnwrap();
    const settle = (outcome: "succeeded" | "failed") =>
      decideSubscription(
        paid.state,
        {
          type: "invoice_refund_settled",
          invoiceId: "in_1",
          outcome,
          refundId: "re_1",
          failureCode: "charge_disputed",
        },
        now,
      )._unsafeUnwrap().effects;
    const effects: OutboxEffect[] = [...paid.effects, ...settle("succeeded"), ...settle("failed")];
    expect(effects.map((e) => e.kind)).toEqual([
      "post_ledger",
      "refund_subscription_invoice",
      "schedule_timer",
      "post_ledger",
      "notify",
      "open_ticket",
    ]);
    for (const effect of effects) {
      const stored: unknown = JSON.parse(JSON.stringify(effect));
      expect(parseOutboxEffect(stored)._unsafeUnwrap()).toEqual(effect);
    }
    const refund = effects[1];
    expect(outboxAggregateOf(refund as OutboxEffect)).toEqual({ type: "subscription", id: canceled.id });
    expect(parseOutboxEffect({ ...refund, amountMinor: -1 }).isErr()).toBe(true);
    const deadline = effects[2];
    expect(outboxAggregateOf(deadline as OutboxEffect)).toEqual({ type: "subscription", id: canceled.id });
    expect(parseOutboxEffect({ ...deadline, timer: { kind: "refund_overdue" } }).isErr()).toBe(true);
  });

  it("a refund unfinished at its deadline: its ticket and the snapshot that records it round-trip", () => {
    const canceled = decideSubscription(
      aCheckoutMembership(),
      { type: "cancel", atPeriodEnd: false },
      now,
    )._unsafeUnwrap().state;
    const paid = decideSubscription(
      canceled,
      {
        type: "invoice_paid",
        invoice: {
          invoiceId: "in_1",
          amountDueMinor: 10_00,
          amountPaidMinor: 10_00,
          currency: "AUD",
          observedAt: now.now,
        },
        paidAt: now.now,
      },
      now,
    )._unsafeUnwrap().state;
    const overdue = decideSubscription(
      paid,
      { type: "timer", timer: { kind: "refund_overdue", invoiceId: "in_1" } },
      now,
    )._unsafeUnwrap();
    expect(overdue.effects.map((e) => e.kind)).toEqual(["open_ticket"]);
    for (const effect of overdue.effects) {
      const stored: unknown = JSON.parse(JSON.stringify(effect));
      expect(parseOutboxEffect(stored)._unsafeUnwrap()).toEqual(effect);
    }
    expect(overdue.state.invoices[0]?.refund?.overdue).toBe(true);
    const stored: unknown = JSON.parse(JSON.stringify(overdue.state));
    expect(parseSubscriptionSnapshot(stored)._unsafeUnwrap()).toEqual(overdue.state);
  });

  it("a refund Stripe failed after it succeeded: its reversal, its ticket and the snapshot round-trip; older snapshots load", () => {
    const canceled = decideSubscription(
      aCheckoutMembership(),
      { type: "cancel", atPeriodEnd: false },
      now,
    )._unsafeUnwrap().state;
    const paid = decideSubscription(
      canceled,
      {
        type: "invoice_paid",
        invoice: {
          invoiceId: "in_1",
          amountDueMinor: 10_00,
          amountPaidMinor: 10_00,
          currency: "AUD",
          observedAt: now.now,
        },
        paidAt: now.now,
      },
      now,
    )._unsafeUnwrap().state;
    const settle = (s: Subscription, outcome: "succeeded" | "failed") =>
      decideSubscription(
        s,
        {
          type: "invoice_refund_settled",
          invoiceId: "in_1",
          outcome,
          refundId: "re_1",
          ...(outcome === "failed" ? { failureCode: "expired_or_canceled_card" } : {}),
        },
        now,
      )._unsafeUnwrap();
    const refunded = settle(paid, "succeeded").state;
    const failed = settle(refunded, "failed");
    // The person had been told of the refund: the notice that it did not reach them round-trips too.
    expect(failed.effects.map((e) => e.kind)).toEqual(["post_ledger", "open_ticket", "notify"]);
    for (const effect of failed.effects) {
      const stored: unknown = JSON.parse(JSON.stringify(effect));
      expect(parseOutboxEffect(stored)._unsafeUnwrap()).toEqual(effect);
    }
    expect(failed.effects[0]).toMatchObject({ transaction: { kind: "membership_invoice_refund_failed" } });
    // Today's snapshots (refunded; failed after it succeeded), and one stored before refunds
    // were kept per payment (no `payments`, no `failedAfterSuccess`).
    const inv = refunded.invoices[0];
    if (inv === undefined) throw new Error("no invoice");
    const older: Subscription = {
      ...refunded,
      invoices: [{ ...inv, refund: { status: "succeeded", refundId: "re_1" } }],
    };
    // The refunds the refund call made, and an older snapshot after a refund's reversal.
    const known = decideSubscription(
      paid,
      { type: "invoice_refunds_made", invoiceId: "in_1", refundIds: ["re_1", "re_2"] },
      now,
    )._unsafeUnwrap().state;
    expect(known.invoices[0]?.refund?.refundIds).toEqual(["re_1", "re_2"]);
    const olderReversed = settle(older, "failed").state;
    expect(olderReversed.invoices[0]?.refund?.postedWhole).toBe(true);
    for (const s of [failed.state, refunded, older, known, olderReversed]) {
      const stored: unknown = JSON.parse(JSON.stringify(s));
      expect(parseSubscriptionSnapshot(stored)._unsafeUnwrap()).toEqual(s);
    }
    // A refund that ended with a failure records `untold`; one stored with `told` (before
    // `untold` replaced it) still loads; the deadline is recorded and round-trips.
    const refused = settle(paid, "failed").state;
    expect(refused.invoices[0]?.refund).toMatchObject({
      untold: true,
      deadlineAt: now.now + 10 * 86_400_000,
    });
    const toldDays: Subscription = {
      ...refunded,
      invoices: [{ ...inv, refund: { ...(inv.refund ?? { status: "succeeded" }), told: true } }],
    };
    for (const s of [refused, toldDays]) {
      const stored: unknown = JSON.parse(JSON.stringify(s));
      expect(parseSubscriptionSnapshot(stored)._unsafeUnwrap()).toEqual(s);
    }
    expect(failed.state.invoices[0]?.refund?.failedAfterSuccess).toBe(true);
    const notTrue = JSON.parse(JSON.stringify(failed.state));
    notTrue.invoices[0].refund.failedAfterSuccess = false;
    expect(parseSubscriptionSnapshot(notTrue).isErr()).toBe(true);
  });

  it("a refund's rest the books had no room for round-trips, on either path, with its posting; snapshots stored before rests were kept load", () => {
    const paid = decideSubscription(
      decideSubscription(aCheckoutMembership(), { type: "cancel", atPeriodEnd: false }, now)._unsafeUnwrap()
        .state,
      {
        type: "invoice_paid",
        invoice: {
          invoiceId: "in_1",
          amountDueMinor: 10_00,
          amountPaidMinor: 10_00,
          currency: "AUD",
          observedAt: now.now,
        },
        paidAt: now.now,
      },
      now,
    )._unsafeUnwrap().state;
    const along = (s: Subscription, inputs: readonly Parameters<typeof decideSubscription>[1][]) => {
      let state = s;
      const effects: OutboxEffect[] = [];
      for (const input of inputs) {
        const d = decideSubscription(state, input, now)._unsafeUnwrap();
        state = d.state;
        effects.push(...(d.effects as OutboxEffect[]));
      }
      return { state, effects };
    };
    const outside = (refundId: string, amountMinor: number, outcome: "succeeded" | "failed" = "succeeded") =>
      ({ type: "invoice_refunded_outside", invoiceId: "in_1", refundId, amountMinor, outcome }) as const;
    // re_A (6.00) booked, failed at Stripe unheard; re_B (10.00) answers susu's refund and is
    // heard outside susu too: the books have room for 4.00 of it.
    const capped = along(paid, [
      outside("re_A", 6_00),
      outside("re_B", 10_00),
      { type: "invoice_refunds_made", invoiceId: "in_1", refundIds: ["re_B"] },
      {
        type: "invoice_refund_settled",
        invoiceId: "in_1",
        outcome: "succeeded",
        refundId: "re_B",
        amountMinor: 10_00,
      },
    ]);
    expect(capped.state.invoices[0]?.outsideRefunds?.[1]?.rest).toEqual({ unbookedMinor: 6_00, postings: 0 });
    const oursFirst = along(paid, [
      outside("re_A", 6_00),
      { type: "invoice_refunds_made", invoiceId: "in_1", refundIds: ["re_B"] },
      {
        type: "invoice_refund_settled",
        invoiceId: "in_1",
        outcome: "succeeded",
        refundId: "re_B",
        amountMinor: 10_00,
      },
    ]);
    expect(oursFirst.state.invoices[0]?.refund?.payments?.[0]?.rest).toEqual({
      unbookedMinor: 6_00,
      postings: 0,
    });
    const freed = along(oursFirst.state, [outside("re_A", 6_00, "failed")]);
    const summed = along(paid, [
      { type: "invoice_refunds_made", invoiceId: "in_1", refundIds: ["re_B"] },
      {
        type: "invoice_refund_settled",
        invoiceId: "in_1",
        outcome: "succeeded",
        refundId: "re_B",
        amountMinor: 10_00,
      },
      outside("re_B", 4_00),
    ]);
    expect(summed.state.invoices[0]?.refund?.summedAnswer).toBe(true);
    for (const s of [paid, capped.state, oursFirst.state, freed.state, summed.state]) {
      const stored: unknown = JSON.parse(JSON.stringify(s));
      expect(parseSubscriptionSnapshot(stored)._unsafeUnwrap()).toEqual(s);
    }
    const rest = freed.effects.find((e) => e.id === "mbr_1:invoice:in_1:refunded:re_B:rest");
    expect(rest).toMatchObject({ transaction: { kind: "membership_invoice_refunded" } });
    expect(parseOutboxEffect(JSON.parse(JSON.stringify(rest)))._unsafeUnwrap()).toEqual(rest);
    // A rest with nothing unbooked is not written, so not read either.
    const empty = JSON.parse(JSON.stringify(capped.state));
    empty.invoices[0].outsideRefunds[1].rest.unbookedMinor = 0;
    expect(parseSubscriptionSnapshot(empty).isErr()).toBe(true);
  });

  it("a plan change waiting for Stripe round-trips; a snapshot stored before changes waited loads without one", () => {
    const started = decideSubscription(
      aCheckoutMembership(),
      {
        type: "subscription_changed",
        snapshot: {
          stripeSubscriptionId: "sub_1",
          status: "active",
          stripePriceId: "price_1",
          cancelAtPeriodEnd: false,
          observedAt: now.now,
        },
      },
      now,
    )._unsafeUnwrap().state;
    const pro = {
      planId: "plan_2",
      priceKey: "aud_month",
      revision: 1,
      stripePriceId: "price_2",
      currency: "AUD",
      interval: "month",
      amountMinor: 40_00,
    } as const;
    const asked = decideSubscription(
      started,
      { type: "change_price", price: pro, prorationBehavior: "always_invoice" },
      now,
    )._unsafeUnwrap();
    expect(asked.state.pendingChange).toEqual({ change: 1, price: pro, requestedAt: now.now });
    for (const s of [asked.state, started]) {
      const stored: unknown = JSON.parse(JSON.stringify(s));
      expect(parseSubscriptionSnapshot(stored)._unsafeUnwrap()).toEqual(s);
    }
    const badChange = JSON.parse(JSON.stringify(asked.state));
    badChange.pendingChange.change = 0;
    expect(parseSubscriptionSnapshot(badChange).isErr()).toBe(true);
    // Stripe's refusal: the person's notice survives the outbox's JSON.
    const refused = decideSubscription(
      asked.state,
      {
        type: "change_refused",
        changeId: "mbr_1:change:1",
        code: "invalid_request",
        message: "inactive price",
      },
      now,
    )._unsafeUnwrap();
    expect(refused.state.pendingChange).toBeUndefined();
    expect(parseSubscriptionSnapshot(JSON.parse(JSON.stringify(refused.state)))._unsafeUnwrap()).toEqual(
      refused.state,
    );
    const notice = refused.effects.find((e) => e.kind === "notify");
    expect(notice?.id).toBe("mbr_1:notify:membership_change_refused:1");
    const stored: unknown = JSON.parse(JSON.stringify(notice));
    expect(parseOutboxEffect(stored)._unsafeUnwrap()).toEqual(notice);
    // Stripe's answer confirms it: the price's floor (the request's second) round-trips; a
    // snapshot stored before the floor was kept apart (none) loads as it was.
    const confirmed = decideSubscription(
      asked.state,
      {
        type: "subscription_changed",
        snapshot: {
          stripeSubscriptionId: "sub_1",
          status: "active",
          stripePriceId: "price_2",
          cancelAtPeriodEnd: false,
        },
      },
      now,
    )._unsafeUnwrap().state;
    expect(confirmed.priceObservedAt).toBe(now.now);
    const { priceObservedAt: _, ...storedBefore } = confirmed;
    for (const s of [confirmed, storedBefore]) {
      const json: unknown = JSON.parse(JSON.stringify(s));
      expect(parseSubscriptionSnapshot(json)._unsafeUnwrap()).toEqual(s);
    }
    expect(parseSubscriptionSnapshot({ ...storedBefore, priceObservedAt: "yesterday" }).isErr()).toBe(true);
  });
  it("an ended membership's void waiting for its answer, a debit failure heard meanwhile noted, round-trips; then its next call's effect", () => {
    const dayMs = 86_400_000;
    const view = (status: "active" | "canceled", at: number) => ({
      type: "subscription_changed" as const,
      snapshot: {
        stripeSubscriptionId: "sub_1",
        status,
        stripePriceId: "price_1",
        cancelAtPeriodEnd: false,
        observedAt: at,
        ...(status === "canceled" ? { endedAt: at, cancellationReason: "cancellation_requested" } : {}),
      },
    });
    const report = (at: number) => ({
      invoiceId: "in_2",
      amountDueMinor: 15_00,
      amountPaidMinor: 0,
      currency: "AUD" as const,
      observedAt: at,
    });
    let s = aCheckoutMembership();
    for (const [input, at] of [
      [view("active", now.now), now.now],
      [
        {
          type: "invoice_payment_failed" as const,
          invoice: report(now.now + dayMs),
          attemptCount: 1,
          nextPaymentAttemptAt: now.now + 4 * dayMs,
        },
        now.now + dayMs,
      ],
      [view("canceled", now.now + 2 * dayMs), now.now + 2 * dayMs],
      [
        { type: "invoice_payment_failed" as const, invoice: report(now.now + 5 * dayMs), attemptCount: 2 },
        now.now + 5 * dayMs,
      ],
    ] as const)
      s = decideSubscription(s, input, { now: at })._unsafeUnwrap().state;
    expect(s.invoices.find((i) => i.id === "in_2")?.voiding).toEqual({
      calls: 1,
      status: "requested",
      debitFailed: true,
      lastFailureAt: now.now + 5 * dayMs,
    });
    expect(parseSubscriptionSnapshot(JSON.parse(JSON.stringify(s)))._unsafeUnwrap()).toEqual(s);
    // Stored before the newest failure was kept: it loads as it was.
    const storedBefore = {
      ...s,
      invoices: s.invoices.map((i) =>
        i.voiding === undefined ? i : { ...i, voiding: { calls: 1, status: "requested", debitFailed: true } },
      ),
    };
    expect(parseSubscriptionSnapshot(JSON.parse(JSON.stringify(storedBefore)))._unsafeUnwrap()).toEqual(
      storedBefore,
    );
    const next = decideSubscription(
      s,
      {
        type: "invoice_void_answered",
        invoiceId: "in_2",
        voidId: "mbr_1:invoice:in_2:void",
        status: "payment_processing",
      },
      { now: now.now + 5 * dayMs },
    )._unsafeUnwrap();
    expect(next.effects.map((e) => e.id)).toEqual(["mbr_1:invoice:in_2:void:2"]);
    for (const effect of next.effects)
      expect(parseOutboxEffect(JSON.parse(JSON.stringify(effect)))._unsafeUnwrap()).toEqual(effect);
  });

  it("a dispute of an invoice's charge: its ticket, the admins' notices, the ticket's resolution and the snapshot round-trip", () => {
    const paid = decideSubscription(
      aCheckoutMembership(),
      {
        type: "invoice_paid",
        invoice: {
          invoiceId: "in_1",
          amountDueMinor: 10_00,
          amountPaidMinor: 10_00,
          currency: "AUD",
          observedAt: now.now,
        },
        paidAt: now.now,
      },
      now,
    )._unsafeUnwrap().state;
    const opened = decideSubscription(
      paid,
      {
        type: "invoice_disputed",
        invoiceId: "in_1",
        disputeId: "du_1",
        amountMinor: 10_00,
        stripeStatus: "needs_response",
        reason: "fraudulent",
        evidenceDueBy: now.now + 86_400_000,
      },
      now,
    )._unsafeUnwrap();
    const won = decideSubscription(
      opened.state,
      { type: "invoice_disputed", invoiceId: "in_1", disputeId: "du_1", amountMinor: 10_00, closed: "won" },
      now,
    )._unsafeUnwrap();
    const effects: OutboxEffect[] = [...opened.effects, ...won.effects];
    expect(effects.map((e) => e.kind)).toEqual([
      "post_ledger",
      "open_ticket",
      "notify",
      "post_ledger",
      "notify",
      "resolve_ticket",
    ]);
    for (const effect of effects) {
      const stored: unknown = JSON.parse(JSON.stringify(effect));
      expect(parseOutboxEffect(stored)._unsafeUnwrap()).toEqual(effect);
      if (effect.kind !== "post_ledger")
        expect(outboxAggregateOf(effect)).toEqual({ type: "subscription", id: paid.id });
    }
    expect(effects[2]).toMatchObject({ to: { kind: "platform_admins" }, template: "dispute_opened" });
    expect(parseOutboxEffect({ ...effects[5], ticketId: 7 }).isErr()).toBe(true);
    for (const state of [opened.state, won.state]) {
      const stored: unknown = JSON.parse(JSON.stringify(state));
      expect(parseSubscriptionSnapshot(stored)._unsafeUnwrap()).toEqual(state);
    }
  });

  it("a dispute's rest the books had no room for round-trips with its posting; snapshots stored before rests were kept load", () => {
    const paid = decideSubscription(
      aMembership("saved_method", now.now),
      {
        type: "invoice_paid",
        invoice: {
          invoiceId: "in_1",
          amountDueMinor: 10_00,
          amountPaidMinor: 10_00,
          currency: "AUD",
          observedAt: now.now,
        },
        paidAt: now.now,
      },
      now,
    )._unsafeUnwrap().state;
    const along = (s: Subscription, inputs: readonly Parameters<typeof decideSubscription>[1][]) => {
      let state = s;
      const effects: OutboxEffect[] = [];
      for (const input of inputs) {
        const d = decideSubscription(state, input, now)._unsafeUnwrap();
        state = d.state;
        effects.push(...(d.effects as OutboxEffect[]));
      }
      return { state, effects };
    };
    const outside = (outcome: "succeeded" | "failed") =>
      ({
        type: "invoice_refunded_outside",
        invoiceId: "in_1",
        refundId: "re_A",
        amountMinor: 6_00,
        outcome,
      }) as const;
    // re_A (6.00) booked, failed at Stripe unheard; the bank disputes all 10.00, lost: the
    // books have room for 4.00 of it, and book the rest when re_A's failure is heard.
    const capped = along(paid, [
      outside("succeeded"),
      { type: "invoice_disputed", invoiceId: "in_1", disputeId: "du_1", amountMinor: 10_00, closed: "lost" },
    ]);
    expect(capped.state.invoices[0]?.disputes?.[0]?.rest).toEqual({ unbookedMinor: 6_00, postings: 0 });
    const freed = along(capped.state, [outside("failed")]);
    for (const s of [capped.state, freed.state]) {
      const stored: unknown = JSON.parse(JSON.stringify(s));
      expect(parseSubscriptionSnapshot(stored)._unsafeUnwrap()).toEqual(s);
    }
    const rest = freed.effects.find((e) => e.id === "mbr_1:invoice:in_1:dispute:du_1:lost:rest");
    expect(rest).toMatchObject({
      transaction: { kind: "membership_dispute_lost", refs: { disputeId: "du_1", invoiceId: "in_1" } },
    });
    expect(parseOutboxEffect(JSON.parse(JSON.stringify(rest)))._unsafeUnwrap()).toEqual(rest);
    // A snapshot stored before rests were kept (a dispute without one) loads, with none.
    const before = JSON.parse(JSON.stringify(capped.state));
    delete before.invoices[0].disputes[0].rest;
    expect(
      parseSubscriptionSnapshot(before)._unsafeUnwrap().invoices[0]?.disputes?.[0]?.rest,
    ).toBeUndefined();
    // A rest with nothing unbooked is not written, so not read either.
    const empty = JSON.parse(JSON.stringify(capped.state));
    empty.invoices[0].disputes[0].rest.unbookedMinor = 0;
    expect(parseSubscriptionSnapshot(empty).isErr()).toBe(true);
  });
});
