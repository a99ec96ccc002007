// A held payment's outbox effects, as the domain makes them, survive the database's JSON
// and its parser unchanged; its timers survive a pg-boss job.
import { DAY_MS, HOUR_MS, heldPaymentRefs, type OutboxEffect, useCases } from "@susu/domain";
import { InMemorySusu } from "@susu/domain/testing";
import { describe, expect, it } from "vitest";
import { firedTimerOf, parseTimerJob, timerJobData, timerJobOf } from "../../src/pgboss/timer-job.js";
import { outboxAggregateOf } from "../../src/prisma/projections.js";
import { parseOutboxEffect } from "../../src/prisma/snapshots.js";

/** Every effect of a payment paid, released, partly refunded after the release and disputed. */
async function effectsOfAWholeLife(): Promise<OutboxEffect[]> {
  const sim = new InMemorySusu();
  (await sim.addSeller("sam"))._unsafeUnwrap();
  const { payment } = (
    await useCases.createHeldPayment(sim.deps, {
      requestedBy: "app",
      clientReference: "b1",
      amountMinor: 100_00,
      currency: "AUD",
      sellerId: "sam",
      description: "Two nights",
      customer: { email: "cy@example.com", name: "Cy" },
      fee: { kind: "rate", basisPoints: 1_000 },
      successUrl: "https://app/done",
      cancelUrl: "https://app/cancel",
    })
  )._unsafeUnwrap();
  await sim.runUntilQuiet();
  await sim.payCheckout(payment.id, "card");
  (await useCases.confirmFulfilled(sim.deps, payment.id, "app"))._unsafeUnwrap();
  await sim.advance(72 * HOUR_MS);
  // The refund waits at Stripe and its news is lost: 4 days on susu asks Stripe (find_refund),
  // finds it pending, tickets it and asks again 2 days later.
  sim.gateway.refundsWait();
  (await useCases.refundHeldPayment(sim.deps, payment.id, { operator: "olga" }, 20_00))._unsafeUnwrap();
  await sim.advance(7 * DAY_MS);
  (await sim.deliver(sim.gateway.endWaitingRefunds("succeeded")))._unsafeUnwrap();
  sim.gateway.refundsWait(false);
  await sim.runUntilQuiet();
  (
    await sim.deliver([
      { kind: "dispute_opened", refs: heldPaymentRefs(payment.id), disputeId: "dp_1", amountMinor: 80_00 },
      {
        kind: "dispute_closed",
        refs: heldPaymentRefs(payment.id),
        disputeId: "dp_1",
        outcome: "lost",
        amountMinor: 80_00,
      },
    ])
  )._unsafeUnwrap();
  await sim.runUntilQuiet();
  return sim.store.outbox();
}

describe("a held payment's outbox payloads", () => {
  it("every kind it makes parses back to itself from stored JSON", async () => {
    const effects = await effectsOfAWholeLife();
    const kinds = new Set(effects.map((e) => e.kind));
    for (const kind of [
      "create_checkout_session",
      "transfer",
      "reverse_transfer",
      "refund",
      "find_refund",
      "schedule_timer",
      "notify",
      "post_ledger",
      "open_ticket",
    ])
      expect(kinds).toContain(kind);
    for (const effect of effects) {
      const stored: unknown = JSON.parse(JSON.stringify(effect));
      expect(parseOutboxEffect(stored)._unsafeUnwrap()).toEqual(effect);
      // The outbox row names the payment, its postings included.
      expect(outboxAggregateOf(effect)).toEqual({ type: "held_payment", id: expect.stringMatching(/^hp_/) });
    }
  });

  it("a note on a refund_owed ticket (what a lost dispute left owed) parses back to itself; without its ticket it is refused", () => {
    const note = {
      kind: "note_ticket",
      id: "hp_1:ticket:refund_owed:1:note:dispute:dp_1",
      aggregate: "held_payment",
      aggregateId: "hp_1",
      ticketId: "hp_1:ticket:refund_owed:1",
      note: "60.00 AUD is left owed to the customer now (pay only that)",
    } as const;
    expect(parseOutboxEffect(JSON.parse(JSON.stringify(note)))._unsafeUnwrap()).toEqual(note);
    expect(outboxAggregateOf(note)).toEqual({ type: "held_payment", id: "hp_1" });
    const { ticketId: _gone, ...noTicket } = note;
    expect(parseOutboxEffect(noTicket).isErr()).toBe(true);
  });

  it("the backstop timer's request to expire the checkout parses back to itself; without its session it is refused", () => {
    const expire = {
      kind: "expire_checkout_session",
      id: "hp_1:checkout_session:expire",
      aggregate: "held_payment",
      aggregateId: "hp_1",
      sessionId: "cs_1",
    };
    expect(parseOutboxEffect(JSON.parse(JSON.stringify(expire)))._unsafeUnwrap()).toEqual(expire);
    expect(outboxAggregateOf(parseOutboxEffect(expire)._unsafeUnwrap())).toEqual({
      type: "held_payment",
      id: "hp_1",
    });
    const { sessionId: _, ...noSession } = expire;
    expect(parseOutboxEffect(noSession).isErr()).toBe(true);
  });

  it("a held payload in another shape, or a round's fields on it, is refused", () => {
    const notify = {
      kind: "notify",
      id: "hp_1:notify:refund_started:1",
      aggregate: "held_payment",
      aggregateId: "hp_1",
      to: { kind: "customer", email: "cy@example.com" },
      template: "refund_started",
      data: {},
    };
    expect(parseOutboxEffect(notify).isOk()).toBe(true);
    expect(parseOutboxEffect({ ...notify, template: "round_cancelled" }).isErr()).toBe(true);
    expect(
      parseOutboxEffect({
        ...notify,
        to: { kind: "group", groupId: "g", members: { kind: "admins" } },
      }).isErr(),
    ).toBe(true);
    expect(
      parseOutboxEffect({
        kind: "transfer",
        id: "hp_1:transfer:attempt:1",
        aggregate: "held_payment",
        aggregateId: "hp_1",
        roundId: "r1",
      }).isErr(),
    ).toBe(true);
  });
});

describe("a held payment's timer jobs", () => {
  it.each([
    { kind: "release_due" as const },
    { kind: "checkout_expired" as const },
    { kind: "checkout_recheck" as const, ask: 2 },
    { kind: "retry_transfer" as const, attempt: 2 },
    { kind: "refund_overdue" as const, refund: 1, attempt: 2 },
    { kind: "refund_overdue" as const, refund: 1, attempt: 2, lookup: 3 },
  ])("%o round-trips through a job", (timer) => {
    const scheduled = {
      id: "hp_1:timer:x",
      aggregate: "held_payment" as const,
      aggregateId: "hp_1",
      at: 5,
      timer,
    };
    const job = timerJobOf(scheduled);
    expect(timerJobData(job)).not.toHaveProperty("roundId");
    const parsed = parseTimerJob(JSON.parse(JSON.stringify(timerJobData(job))));
    expect(parsed).toEqual(job);
    expect(parsed && firedTimerOf(parsed)).toEqual({
      id: "hp_1:timer:x",
      aggregate: "held_payment",
      aggregateId: "hp_1",
      timer,
    });
  });

  it("a held timer job with a round's timer is refused", () => {
    expect(
      parseTimerJob({
        timerId: "t",
        aggregate: "held_payment",
        aggregateId: "hp_1",
        timer: { kind: "payout_due" },
      }),
    ).toBeUndefined();
  });
});
