// The expiry timer's request that Stripe cancel a marketplace charge's PaymentIntent can park
// (Stripe refused it and its read, or kept failing until the outbox gave up), or end with no
// news (Stripe refused it because the payment is processing). Before, nothing asked again: the
// charge stayed `requires_action` until `payment_intent.*` came or a person acted. Now the ask
// is followed by rechecks that ask Stripe again under a new key until Stripe answers, then a
// ticket if it never does — as a held payment's checkout expiry is (held-checkout-recheck.test.ts).
import { describe, expect, it, vi } from "vitest";
import { marketplaceChargeRefs, type PaymentFact } from "../facts/payment-fact.js";
import { checkLedgerInvariants, checkMarketplaceMoney } from "../ledger/index.js";
import type { MarketplaceCharge } from "../marketplace/marketplace-charge.js";
import { CHECKOUT_EXPIRY_ASKS_MAX, CHECKOUT_EXPIRY_RECHECK_MS } from "../policy/checkout-expiry-recheck.js";
import { DEFAULT_MARKETPLACE_POLICY } from "../policy/marketplace-policy.js";
import { gatewayError } from "../ports/payment-gateway.js";
import { HOUR_MS } from "../shared/time.js";
import { InMemorySusu } from "../testing/in-memory-susu.js";
import * as useCases from "./index.js";

const refused = () => gatewayError("gateway_definite", "parameter_invalid_empty", "Stripe refused");
const EXPIRY = DEFAULT_MARKETPLACE_POLICY.actionExpiryMs;

/**
 * A destination charge of 100.00 AUD on a new card the customer has not confirmed. Stripe's
 * `payment_intent.*` webhooks about the payment never reach susu (the effects' answers do).
 */
async function aWaitingCharge() {
  const dropPaymentNews = (facts: PaymentFact[]): PaymentFact[] =>
    facts.filter(
      (f) => f.kind !== "debit_succeeded" && f.kind !== "debit_failed" && f.kind !== "debit_processing",
    );
  const sim = new InMemorySusu({ transformFacts: dropPaymentNews });
  for (const person of ["cy", "sel_a"]) (await sim.addSeller(person))._unsafeUnwrap();
  const created = (
    await useCases.createMarketplaceCharge(sim.deps, {
      requestedBy: "app_events",
      clientReference: "rsvp_1",
      activityId: "act_1",
      purpose: "rsvp",
      description: "Pottery class",
      amountMinor: 100_00,
      currency: "AUD",
      customerId: "cy",
      customerEmail: "cy@example.com",
      paymentMethod: { kind: "new_card" },
      fee: { kind: "rate", basisPoints: 1_000 },
      sellers: [{ id: "sel_a" }],
    })
  )._unsafeUnwrap();
  await sim.runUntilQuiet();
  const id = created.charge.id;
  const charge = (): MarketplaceCharge => {
    const c = sim.store.marketplaceCharges().find((x) => x.id === id);
    if (!c) throw new Error(`no marketplace charge ${id}`);
    return c;
  };
  expect(charge().status).toBe("requires_action");
  const pi = () => charge().paymentIntentId ?? "";
  const parked = async () =>
    (await sim.store.listOutbox({ status: "parked", limit: 100 }))._unsafeUnwrap().items.map((e) => e.id);
  const expiryNotices = () => sim.notifier.sent.filter((n) => n.template === "payment_expired").length;
  const tickets = () => sim.desk.tickets.map((t) => t.id);
  const books = () => {
    const ledger = sim.ledger.snapshot();
    expect(checkLedgerInvariants(ledger).isOk()).toBe(true);
    return checkMarketplaceMoney(ledger, id, ["sel_a"], "AUD")._unsafeUnwrap();
  };
  return { sim, id, charge, pi, parked, expiryNotices, tickets, books };
}
type Flow = Awaited<ReturnType<typeof aWaitingCharge>>;

/** Stripe refuses the next ask, and the read of the payment after it: the ask parks at once. */
function refuseNextAsk(flow: Flow): void {
  flow.sim.gateway.injectFault("cancelPayment", "before", refused());
  flow.sim.gateway.injectFault("getPayment", "before", refused());
}

/**
 * Past the expiry timer (`toExpiryMs` from now: the whole expiry from the charge's creation),
 * Stripe refusing its ask (and the read): parked at once, with its ticket.
 */
async function toParkedAsk(flow: Flow, toExpiryMs = EXPIRY): Promise<void> {
  refuseNextAsk(flow);
  await flow.sim.advance(toExpiryMs + 60_000);
  expect(flow.charge()).toMatchObject({ status: "requires_action" });
  expect(flow.charge().expiryRequestedAt).toBeDefined();
  expect(await flow.parked()).toEqual([`${flow.id}:payment:cancel`]);
  expect(flow.tickets()).toEqual([`${flow.id}:payment:cancel:parked`]);
}

describe("marketplace charge: the expiry's ask that Stripe cancel the PaymentIntent parked", () => {
  it("a recheck asks Stripe again under a new key; Stripe cancels: expired, the customer told once; the operator's replay of the parked ask changes nothing", async () => {
    const flow = await aWaitingCharge();
    await toParkedAsk(flow);
    const asks = vi.spyOn(flow.sim.gateway, "cancelPayment");
    await flow.sim.advance(CHECKOUT_EXPIRY_RECHECK_MS);
    expect(asks.mock.calls.map(([input]) => input.idempotencyKey)).toEqual([`${flow.id}:payment:cancel:2`]);
    asks.mockRestore();
    expect(flow.charge()).toMatchObject({ status: "expired", failureCode: "action_expired" });
    expect(flow.sim.gateway.debits.get(flow.pi())?.status).toBe("canceled");
    expect(flow.expiryNotices()).toBe(1);
    expect(flow.books().paidInMinor).toBe(0);
    // The operator replays the parked ask afterwards: Stripe's answer (cancelled) changes nothing.
    expect(
      (await flow.sim.store.requeueParked(`${flow.id}:payment:cancel`, flow.sim.clock.now()))._unsafeUnwrap(),
    ).toBe("requeued");
    const version = flow.charge().version;
    await flow.sim.runUntilQuiet();
    expect(await flow.parked()).toEqual([]);
    expect(flow.charge()).toMatchObject({ status: "expired", version });
    expect(flow.expiryNotices()).toBe(1);
    // No later recheck asks anything.
    await flow.sim.advance(CHECKOUT_EXPIRY_ASKS_MAX * CHECKOUT_EXPIRY_RECHECK_MS);
    expect(flow.charge().version).toBe(version);
    expect(flow.tickets()).toEqual([`${flow.id}:payment:cancel:parked`]);
  });

  it("the customer had paid before the expiry, its webhook lost: the recheck's cancel is refused, the payment read, the seller paid, nothing refunded", async () => {
    const flow = await aWaitingCharge();
    await flow.sim.advance(EXPIRY - HOUR_MS);
    await flow.sim.confirmCardPayment(flow.id, "succeed");
    expect(flow.charge().status).toBe("requires_action");
    await toParkedAsk(flow, HOUR_MS);
    await flow.sim.advance(CHECKOUT_EXPIRY_RECHECK_MS);
    expect(flow.charge()).toMatchObject({ status: "settled", refunds: [] });
    expect(flow.charge().endedAt).toBeUndefined();
    expect(flow.expiryNotices()).toBe(0);
    expect([...flow.sim.gateway.refunds.values()]).toEqual([]);
    expect(flow.books()).toMatchObject({ paidInMinor: 100_00, refundedMinor: 0 });
  });

  it("payment_intent.canceled arrives while the ask is parked: expired once; no recheck asks; dismissing the parked ask changes nothing", async () => {
    const flow = await aWaitingCharge();
    await toParkedAsk(flow);
    (
      await flow.sim.deliver([
        {
          kind: "debit_failed",
          refs: marketplaceChargeRefs(flow.id),
          paymentIntentId: flow.pi(),
          failureCode: "canceled_abandoned",
        },
      ])
    )._unsafeUnwrap();
    await flow.sim.runUntilQuiet();
    expect(flow.charge().status).toBe("expired");
    const version = flow.charge().version;
    const asks = vi.spyOn(flow.sim.gateway, "cancelPayment");
    await flow.sim.advance(CHECKOUT_EXPIRY_ASKS_MAX * CHECKOUT_EXPIRY_RECHECK_MS);
    expect(asks).not.toHaveBeenCalled();
    expect(
      (
        await flow.sim.store.dismissParked(`${flow.id}:payment:cancel`, {
          by: "olga",
          reason: "payment cancelled at Stripe",
          at: flow.sim.clock.now(),
        })
      )._unsafeUnwrap(),
    ).toMatchObject({ outcome: "dismissed" });
    await flow.sim.runUntilQuiet();
    expect(flow.charge()).toMatchObject({ status: "expired", version });
    expect(flow.expiryNotices()).toBe(1);
  });

  it("dismissed while Stripe still refuses: the rechecks go on asking and end it once Stripe answers", async () => {
    const flow = await aWaitingCharge();
    await toParkedAsk(flow);
    (
      await flow.sim.store.dismissParked(`${flow.id}:payment:cancel`, {
        by: "olga",
        reason: "Stripe down, the recheck will ask again",
        at: flow.sim.clock.now(),
      })
    )._unsafeUnwrap();
    // The first recheck is refused too (parked under its own key), the second is answered.
    refuseNextAsk(flow);
    await flow.sim.advance(CHECKOUT_EXPIRY_RECHECK_MS);
    expect(flow.charge().status).toBe("requires_action");
    expect(await flow.parked()).toEqual([`${flow.id}:payment:cancel:2`]);
    await flow.sim.advance(CHECKOUT_EXPIRY_RECHECK_MS);
    expect(flow.charge().status).toBe("expired");
    expect(flow.expiryNotices()).toBe(1);
  });

  it("Stripe refuses every ask: susu stops after its last ask and one ticket says so; an operator's replay once Stripe answers ends it", async () => {
    const flow = await aWaitingCharge();
    for (let n = 0; n < CHECKOUT_EXPIRY_ASKS_MAX; n += 1) refuseNextAsk(flow);
    await flow.sim.advance(EXPIRY + 60_000);
    await flow.sim.advance(CHECKOUT_EXPIRY_ASKS_MAX * CHECKOUT_EXPIRY_RECHECK_MS);
    expect(flow.charge().status).toBe("requires_action");
    const asks = [`${flow.id}:payment:cancel`];
    for (let n = 2; n <= CHECKOUT_EXPIRY_ASKS_MAX; n += 1) asks.push(`${flow.id}:payment:cancel:${n}`);
    expect(await flow.parked()).toEqual(asks);
    const unconfirmed = flow.sim.desk.tickets.filter((t) => t.reason === "payment_cancel_unconfirmed");
    expect(unconfirmed.map((t) => t.id)).toEqual([`${flow.id}:ticket:payment_cancel_unconfirmed:last`]);
    expect(unconfirmed[0]?.aggregateId).toBe(flow.id);
    // Nothing more is asked, however long it waits.
    const more = vi.spyOn(flow.sim.gateway, "cancelPayment");
    await flow.sim.advance(10 * CHECKOUT_EXPIRY_RECHECK_MS);
    expect(more).not.toHaveBeenCalled();
    more.mockRestore();
    // An operator replays the parked asks once Stripe answers again: expired, told once.
    (await flow.sim.store.requeueAllParked(flow.sim.clock.now()))._unsafeUnwrap();
    await flow.sim.runUntilQuiet();
    expect(flow.charge().status).toBe("expired");
    expect(flow.expiryNotices()).toBe(1);
    expect(await flow.parked()).toEqual([]);
  });
});

describe("marketplace charge: the expiry's ask refused because the payment is processing", () => {
  it("the ask ends with no news (nothing parked); the recheck, once the payment succeeded unheard, finds it and pays the seller", async () => {
    const flow = await aWaitingCharge();
    await flow.sim.advance(EXPIRY - HOUR_MS);
    // The customer confirms; the card payment is processing for 3 h; no webhook reaches susu.
    flow.sim.gateway.confirmCardPaymentProcessing(flow.pi(), 3 * HOUR_MS);
    await flow.sim.advance(HOUR_MS + 60_000);
    // The expiry's ask: refused (processing), the payment read — processing, no news to act on.
    expect(flow.charge()).toMatchObject({ status: "requires_action" });
    expect(flow.charge().expiryRequestedAt).toBeDefined();
    expect(await flow.parked()).toEqual([]);
    expect(flow.tickets()).toEqual([]);
    await flow.sim.advance(CHECKOUT_EXPIRY_RECHECK_MS);
    expect(flow.sim.gateway.debits.get(flow.pi())?.status).toBe("succeeded");
    expect(flow.charge()).toMatchObject({ status: "settled", refunds: [] });
    expect(flow.expiryNotices()).toBe(0);
    expect([...flow.sim.gateway.refunds.values()]).toEqual([]);
    expect(flow.books()).toMatchObject({ paidInMinor: 100_00, refundedMinor: 0 });
    expect(flow.tickets()).toEqual([]);
  });
});

describe("marketplace charge: the customer asked to act again after the payment was processing", () => {
  const processing = (flow: Flow): PaymentFact => ({
    kind: "debit_processing",
    refs: marketplaceChargeRefs(flow.id),
    paymentIntentId: flow.pi(),
  });
  const actAgain = (flow: Flow, secret: string): PaymentFact => ({
    kind: "payment_requires_action",
    refs: marketplaceChargeRefs(flow.id),
    paymentIntentId: flow.pi(),
    clientSecret: secret,
  });

  it("the first wait's timer fired while processing: the second wait still expires after the policy's time, and Stripe is asked to cancel once", async () => {
    const flow = await aWaitingCharge();
    (await flow.sim.deliver([processing(flow)]))._unsafeUnwrap();
    await flow.sim.runUntilQuiet();
    expect(flow.charge().status).toBe("processing");
    // The first wait's expiry comes and goes while the payment is processing: nothing to expire.
    await flow.sim.advance(EXPIRY + 60_000);
    expect(flow.charge().status).toBe("processing");
    expect(flow.charge().expiryRequestedAt).toBeUndefined();
    // Stripe asks the customer to act again (a new challenge).
    (await flow.sim.deliver([actAgain(flow, "pi_secret_again")]))._unsafeUnwrap();
    await flow.sim.runUntilQuiet();
    expect(flow.charge()).toMatchObject({ status: "requires_action", clientSecret: "pi_secret_again" });
    const asks = vi.spyOn(flow.sim.gateway, "cancelPayment");
    // Just before the second wait's expiry, nothing is asked; once past it, the cancel is.
    await flow.sim.advance(EXPIRY - 60_000);
    expect(asks).not.toHaveBeenCalled();
    expect(flow.charge().status).toBe("requires_action");
    await flow.sim.advance(2 * 60_000);
    expect(asks).toHaveBeenCalledTimes(1);
    asks.mockRestore();
    expect(flow.charge()).toMatchObject({ status: "expired", failureCode: "action_expired" });
    expect(flow.expiryNotices()).toBe(1);
    expect(flow.books().paidInMinor).toBe(0);
  });

  it("the first wait's timer is still due when the customer is asked again: it does not cut the second wait short", async () => {
    const flow = await aWaitingCharge();
    await flow.sim.advance(EXPIRY - 2 * HOUR_MS);
    (await flow.sim.deliver([processing(flow)]))._unsafeUnwrap();
    (await flow.sim.deliver([actAgain(flow, "pi_secret_again")]))._unsafeUnwrap();
    await flow.sim.runUntilQuiet();
    const asks = vi.spyOn(flow.sim.gateway, "cancelPayment");
    // The first wait's timer fires two hours on: the customer has had two hours of their new wait.
    await flow.sim.advance(3 * HOUR_MS);
    expect(asks).not.toHaveBeenCalled();
    expect(flow.charge().status).toBe("requires_action");
    await flow.sim.advance(EXPIRY - 3 * HOUR_MS + 60_000);
    expect(asks).toHaveBeenCalledTimes(1);
    asks.mockRestore();
    expect(flow.charge().status).toBe("expired");
  });
});

describe("marketplace charge: an earlier wait's cancel, recheck or timer once a later wait began", () => {
  const processing = (flow: Flow): PaymentFact => ({
    kind: "debit_processing",
    refs: marketplaceChargeRefs(flow.id),
    paymentIntentId: flow.pi(),
  });
  const actAgain = (flow: Flow, secret: string): PaymentFact => ({
    kind: "payment_requires_action",
    refs: marketplaceChargeRefs(flow.id),
    paymentIntentId: flow.pi(),
    clientSecret: secret,
  });

  /**
   * Wait 1 expires; Stripe refuses its ask (parked); the payment then processes and Stripe asks
   * the customer to act again: wait 2 begins `CHECKOUT_EXPIRY_RECHECK_MS / 2` after the ask.
   */
  async function aSecondWaitAfterAnAsk(): Promise<Flow> {
    const flow = await aWaitingCharge();
    await toParkedAsk(flow);
    await flow.sim.advance(CHECKOUT_EXPIRY_RECHECK_MS / 2);
    (await flow.sim.deliver([processing(flow)]))._unsafeUnwrap();
    (await flow.sim.deliver([actAgain(flow, "pi_secret_again")]))._unsafeUnwrap();
    await flow.sim.runUntilQuiet();
    expect(flow.charge()).toMatchObject({ status: "requires_action", actionWaits: 2 });
    return flow;
  }

  it("the first wait's recheck, due after the second wait began, asks nothing: the second wait has the policy's whole time, then Stripe is asked under the second wait's own key", async () => {
    const flow = await aSecondWaitAfterAnAsk();
    const asks = vi.spyOn(flow.sim.gateway, "cancelPayment");
    // The first wait's recheck comes (3 h into the second wait), and more time passes.
    await flow.sim.advance(EXPIRY - 60_000);
    expect(asks).not.toHaveBeenCalled();
    expect(flow.charge().status).toBe("requires_action");
    expect(flow.expiryNotices()).toBe(0);
    // Past the second wait's whole time: Stripe is asked to cancel, under a key of its own.
    await flow.sim.advance(2 * 60_000);
    expect(asks.mock.calls.map(([input]) => input.idempotencyKey)).toEqual([
      `${flow.id}:payment:cancel:wait:2`,
    ]);
    asks.mockRestore();
    expect(flow.charge()).toMatchObject({ status: "expired", failureCode: "action_expired" });
    expect(flow.expiryNotices()).toBe(1);
    expect(flow.books().paidInMinor).toBe(0);
  });

  it("Stripe confirms the cancel of neither wait: the desk has one ticket per wait, each naming its wait and the PaymentIntent", async () => {
    const flow = await aWaitingCharge();
    const unconfirmed = () => flow.sim.desk.tickets.filter((t) => t.reason === "payment_cancel_unconfirmed");
    for (let n = 0; n < CHECKOUT_EXPIRY_ASKS_MAX; n += 1) refuseNextAsk(flow);
    await flow.sim.advance(EXPIRY + 60_000);
    await flow.sim.advance(CHECKOUT_EXPIRY_ASKS_MAX * CHECKOUT_EXPIRY_RECHECK_MS);
    expect(unconfirmed().map((t) => t.id)).toEqual([`${flow.id}:ticket:payment_cancel_unconfirmed:last`]);
    // The payment processes, Stripe asks the customer to act again, and this wait expires too:
    // Stripe refuses every one of its asks as well.
    (await flow.sim.deliver([processing(flow)]))._unsafeUnwrap();
    (await flow.sim.deliver([actAgain(flow, "pi_secret_again")]))._unsafeUnwrap();
    await flow.sim.runUntilQuiet();
    expect(flow.charge()).toMatchObject({ status: "requires_action", actionWaits: 2 });
    for (let n = 0; n < CHECKOUT_EXPIRY_ASKS_MAX; n += 1) refuseNextAsk(flow);
    await flow.sim.advance(EXPIRY + 60_000);
    await flow.sim.advance(CHECKOUT_EXPIRY_ASKS_MAX * CHECKOUT_EXPIRY_RECHECK_MS);
    expect(flow.charge().status).toBe("requires_action");
    expect(unconfirmed().map((t) => t.id)).toEqual([
      `${flow.id}:ticket:payment_cancel_unconfirmed:last`,
      `${flow.id}:ticket:payment_cancel_unconfirmed:wait:2:last`,
    ]);
    expect(unconfirmed()[1]?.summary).toContain(`PaymentIntent ${flow.pi()} `);
    expect(unconfirmed()[1]?.summary).toContain("wait 2 for the customer");
  });

  it("the first wait's parked ask replayed by an operator during the second wait asks Stripe nothing and changes nothing", async () => {
    const flow = await aSecondWaitAfterAnAsk();
    const version = flow.charge().version;
    const asks = vi.spyOn(flow.sim.gateway, "cancelPayment");
    expect(
      (await flow.sim.store.requeueParked(`${flow.id}:payment:cancel`, flow.sim.clock.now()))._unsafeUnwrap(),
    ).toBe("requeued");
    await flow.sim.runUntilQuiet();
    expect(asks).not.toHaveBeenCalled();
    asks.mockRestore();
    expect(await flow.parked()).toEqual([]);
    expect(flow.charge()).toMatchObject({ status: "requires_action", version });
    expect(flow.sim.gateway.debits.get(flow.pi())?.status).not.toBe("canceled");
  });
});
