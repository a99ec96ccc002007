// A marketplace charge's outbox effects, as the domain makes them, survive the database's
// JSON and its parser unchanged; its timers survive a pg-boss job.
import {
  CHECKOUT_EXPIRY_ASKS_MAX,
  CHECKOUT_EXPIRY_RECHECK_MS,
  gatewayError,
  marketplaceChargeRefs,
  type OutboxEffect,
  useCases,
} from "@susu/domain";
import { InMemorySusu } from "@susu/domain/testing";
import { describe, expect, it } from "vitest";
import { firedTimerOf, parseTimerJob, timerJobData, timerJobOf } from "../../src/pgboss/timer-job.js";
import { outboxAggregateOf } from "../../src/prisma/projections.js";
import { parseMarketplaceChargeSnapshot, parseOutboxEffect } from "../../src/prisma/snapshots.js";

const command: useCases.CreateMarketplaceChargeCommand = {
  requestedBy: "app",
  clientReference: "r1",
  activityId: "act_1",
  purpose: "purchase",
  description: "Pottery class",
  amountMinor: 100_00,
  currency: "AUD",
  customerId: "cy",
  customerEmail: "cy@example.com",
  paymentMethod: { kind: "saved_card", paymentMethodId: "pm_card_visa" },
  fee: { kind: "rate", basisPoints: 1_000 },
  sellers: [{ id: "ana" }, { id: "bo" }],
};

/** Every effect of a split whose first transfer fails once, partly refunded, then disputed and lost; and a destination charge on a new card. */
async function effectsOfWholeLives(): Promise<OutboxEffect[]> {
  const sim = new InMemorySusu();
  for (const p of ["cy", "ana", "bo"]) (await sim.addSeller(p))._unsafeUnwrap();
  await sim.saveCard("cy", "pm_card_visa");
  sim.gateway.injectFault(
    "createTransfer",
    "before",
    gatewayError("gateway_definite", "balance_insufficient", "short"),
  );
  const { charge } = (await useCases.createMarketplaceCharge(sim.deps, command))._unsafeUnwrap();
  await sim.advance(24 * 3_600_000);
  (
    await useCases.refundMarketplaceCharge(
      sim.deps,
      charge.id,
      { kind: "platform", operator: { operator: "olga" } },
      "one",
      20_00,
    )
  )._unsafeUnwrap();
  await sim.runUntilQuiet();
  const refs = marketplaceChargeRefs(charge.id);
  (
    await sim.deliver([
      { kind: "dispute_opened", refs, disputeId: "dp_1", amountMinor: 80_00 },
      { kind: "dispute_closed", refs, disputeId: "dp_1", outcome: "lost", amountMinor: 80_00 },
    ])
  )._unsafeUnwrap();
  await sim.runUntilQuiet();
  const destination = (
    await useCases.createMarketplaceCharge(sim.deps, {
      ...command,
      clientReference: "r2",
      sellers: [{ id: "ana" }],
      paymentMethod: { kind: "new_card" },
      sellerIsMerchantOfRecord: true,
    })
  )._unsafeUnwrap().charge;
  await sim.runUntilQuiet();
  await sim.confirmCardPayment(destination.id, "succeed");
  return sim.store.outbox();
}

describe("a marketplace charge's outbox payloads", () => {
  it("every kind it makes parses back to itself from stored JSON", async () => {
    const effects = await effectsOfWholeLives();
    const kinds = new Set(effects.map((e) => e.kind));
    for (const kind of [
      "create_payment",
      "transfer",
      "reverse_transfer",
      "refund",
      "schedule_timer",
      "notify",
      "post_ledger",
      "open_ticket",
    ])
      expect(kinds).toContain(kind);
    expect(
      effects.some((e) => e.kind === "create_payment" && e.confirmation.kind === "client_confirmation"),
    ).toBe(true);
    expect(effects.some((e) => e.kind === "create_payment" && e.destination?.onBehalfOf === true)).toBe(true);
    for (const effect of effects) {
      const stored: unknown = JSON.parse(JSON.stringify(effect));
      expect(parseOutboxEffect(stored)._unsafeUnwrap()).toEqual(effect);
      // The outbox row names the charge, its postings included.
      expect(outboxAggregateOf(effect)).toEqual({
        type: "marketplace_charge",
        id: expect.stringMatching(/^mc_/),
      });
    }
  });

  it("a marketplace payload in another shape, or a held payment's fields on it, is refused", () => {
    const timer = {
      kind: "schedule_timer",
      id: "mc_1:timer:1",
      aggregate: "marketplace_charge",
      aggregateId: "mc_1",
      at: 5,
      timer: { kind: "retry_transfer", sellerId: "ana", attempt: 2 },
    };
    expect(parseOutboxEffect(timer).isOk()).toBe(true);
    expect(
      parseOutboxEffect({ ...timer, timer: { kind: "refund_overdue", refund: 1, attempt: 2 } }).isOk(),
    ).toBe(true);
    expect(
      parseOutboxEffect({
        ...timer,
        timer: { kind: "refund_overdue", refund: 1, attempt: 2, lookup: 2 },
      }).isOk(),
    ).toBe(true);
    const lookup = {
      kind: "find_refund",
      id: "mc_1:refund:1:attempt:2:lookup:1",
      aggregate: "marketplace_charge",
      aggregateId: "mc_1",
      refund: 1,
      attempt: 2,
      lookup: 1,
      refundEffectId: "mc_1:refund:1:attempt:2",
      paymentIntentId: "pi_1",
    };
    expect(parseOutboxEffect(lookup)._unsafeUnwrap()).toEqual(lookup);
    expect(parseOutboxEffect({ ...lookup, lookup: "1" }).isErr()).toBe(true);
    expect(parseOutboxEffect({ ...timer, timer: { kind: "release_due" } }).isErr()).toBe(true);
    expect(parseOutboxEffect({ ...timer, timer: { kind: "retry_transfer", attempt: 2 } }).isErr()).toBe(true);
    expect(parseOutboxEffect({ ...timer, kind: "create_checkout_session" }).isErr()).toBe(true);
  });
});

describe("a marketplace charge's expiry asked again", () => {
  it("the rechecks' cancels, timers and last ticket parse back to themselves from stored JSON", async () => {
    const sim = new InMemorySusu();
    for (const p of ["cy", "ana"]) (await sim.addSeller(p))._unsafeUnwrap();
    const refused = gatewayError("gateway_definite", "parameter_invalid_empty", "refused");
    for (let n = 0; n < CHECKOUT_EXPIRY_ASKS_MAX; n += 1) {
      sim.gateway.injectFault("cancelPayment", "before", refused);
      sim.gateway.injectFault("getPayment", "before", refused);
    }
    (
      await useCases.createMarketplaceCharge(sim.deps, {
        ...command,
        sellers: [{ id: "ana" }],
        paymentMethod: { kind: "new_card" },
      })
    )._unsafeUnwrap();
    await sim.advance(24 * 3_600_000 + (CHECKOUT_EXPIRY_ASKS_MAX + 1) * CHECKOUT_EXPIRY_RECHECK_MS);
    const effects = sim.store.outbox();
    const asks = effects.filter((e) => e.kind === "cancel_payment");
    expect(asks.map((e) => e.id.replace(/^mc_\d+:/, ""))).toEqual([
      "payment:cancel",
      ...Array.from({ length: CHECKOUT_EXPIRY_ASKS_MAX - 1 }, (_, i) => `payment:cancel:${i + 2}`),
    ]);
    const rechecks = effects.filter(
      (e) =>
        e.kind === "schedule_timer" &&
        e.aggregate === "marketplace_charge" &&
        e.timer.kind === "cancel_recheck",
    );
    expect(rechecks).toHaveLength(CHECKOUT_EXPIRY_ASKS_MAX);
    const last = effects.filter((e) => e.kind === "open_ticket" && e.reason === "payment_cancel_unconfirmed");
    expect(last).toHaveLength(1);
    for (const effect of [...asks, ...rechecks, ...last])
      expect(parseOutboxEffect(JSON.parse(JSON.stringify(effect)))._unsafeUnwrap()).toEqual(effect);
  });
});

describe("a marketplace charge that waits for the customer again", () => {
  it("its wait count and the second wait's timer parse back to themselves from stored JSON", async () => {
    const sim = new InMemorySusu();
    for (const p of ["cy", "ana"]) (await sim.addSeller(p))._unsafeUnwrap();
    const { charge } = (
      await useCases.createMarketplaceCharge(sim.deps, {
        ...command,
        sellers: [{ id: "ana" }],
        paymentMethod: { kind: "new_card" },
      })
    )._unsafeUnwrap();
    await sim.runUntilQuiet();
    const refs = marketplaceChargeRefs(charge.id);
    const paymentIntentId = sim.store.marketplaceCharges()[0]?.paymentIntentId ?? "";
    (
      await sim.deliver([
        { kind: "debit_processing", refs, paymentIntentId },
        { kind: "payment_requires_action", refs, paymentIntentId, clientSecret: "secret_2" },
      ])
    )._unsafeUnwrap();
    await sim.runUntilQuiet();
    const waiting = sim.store.marketplaceCharges()[0];
    expect(waiting).toMatchObject({ status: "requires_action", actionWaits: 2 });
    expect(parseMarketplaceChargeSnapshot(JSON.parse(JSON.stringify(waiting)))._unsafeUnwrap()).toEqual(
      waiting,
    );
    const timers = sim.store
      .outbox()
      .filter((e) => e.kind === "schedule_timer" && e.aggregate === "marketplace_charge");
    expect(timers.map((e) => e.id)).toEqual([
      `${charge.id}:timer:action_expired`,
      `${charge.id}:timer:action_expired:2`,
    ]);
    for (const effect of timers)
      expect(parseOutboxEffect(JSON.parse(JSON.stringify(effect)))._unsafeUnwrap()).toEqual(effect);
  });
});

describe("a marketplace charge whose second wait for the customer expired", () => {
  it("the second wait's ask, its recheck and the charge (which wait asked) parse back to themselves from stored JSON", async () => {
    const sim = new InMemorySusu();
    for (const p of ["cy", "ana"]) (await sim.addSeller(p))._unsafeUnwrap();
    const { charge } = (
      await useCases.createMarketplaceCharge(sim.deps, {
        ...command,
        sellers: [{ id: "ana" }],
        paymentMethod: { kind: "new_card" },
      })
    )._unsafeUnwrap();
    await sim.runUntilQuiet();
    const refs = marketplaceChargeRefs(charge.id);
    const paymentIntentId = sim.store.marketplaceCharges()[0]?.paymentIntentId ?? "";
    (
      await sim.deliver([
        { kind: "debit_processing", refs, paymentIntentId },
        { kind: "payment_requires_action", refs, paymentIntentId, clientSecret: "secret_2" },
      ])
    )._unsafeUnwrap();
    await sim.runUntilQuiet();
    // Stripe refuses the second wait's ask (and the read after it): the charge keeps waiting for its word.
    const refused = gatewayError("gateway_definite", "parameter_invalid_empty", "Stripe refused");
    sim.gateway.injectFault("cancelPayment", "before", refused);
    sim.gateway.injectFault("getPayment", "before", refused);
    await sim.advance(25 * 3_600_000);
    const waiting = sim.store.marketplaceCharges()[0];
    expect(waiting).toMatchObject({
      status: "requires_action",
      actionWaits: 2,
      expiryWait: 2,
      expiryAsks: 1,
    });
    expect(parseMarketplaceChargeSnapshot(JSON.parse(JSON.stringify(waiting)))._unsafeUnwrap()).toEqual(
      waiting,
    );
    const asked = sim.store
      .outbox()
      .filter(
        (e) =>
          e.kind === "cancel_payment" ||
          (e.kind === "schedule_timer" &&
            e.aggregate === "marketplace_charge" &&
            e.timer.kind === "cancel_recheck"),
      );
    expect(asked.map((e) => e.id)).toEqual([
      `${charge.id}:payment:cancel:wait:2`,
      `${charge.id}:timer:cancel_recheck:wait:2:2`,
    ]);
    for (const effect of asked)
      expect(parseOutboxEffect(JSON.parse(JSON.stringify(effect)))._unsafeUnwrap()).toEqual(effect);
  });
});

describe("a marketplace charge's timer jobs", () => {
  it.each([
    { kind: "retry_transfer" as const, sellerId: "ana", attempt: 2 },
    { kind: "action_expired" as const },
    { kind: "action_expired" as const, wait: 2 },
    { kind: "cancel_recheck" as const, ask: 2 },
    { kind: "cancel_recheck" as const, ask: 3, wait: 2 },
    { kind: "refund_overdue" as const, refund: 1, attempt: 2 },
    { kind: "refund_overdue" as const, refund: 1, attempt: 2, lookup: 3 },
  ])("%o round-trips through a job", (timer) => {
    const job = timerJobOf({
      id: "mc_1:timer:x",
      aggregate: "marketplace_charge",
      aggregateId: "mc_1",
      at: 5,
      timer,
    });
    const parsed = parseTimerJob(JSON.parse(JSON.stringify(timerJobData(job))));
    expect(parsed).toEqual(job);
    expect(parsed && firedTimerOf(parsed)).toEqual({
      id: "mc_1:timer:x",
      aggregate: "marketplace_charge",
      aggregateId: "mc_1",
      timer,
    });
    // A held payment's timer is not a marketplace charge's.
    expect(
      parseTimerJob({
        timerId: "t",
        aggregate: "marketplace_charge",
        aggregateId: "mc_1",
        timer: { kind: "release_due" },
      }),
    ).toBeUndefined();
  });
});
