// The checkout backstop's request that Stripe expire the session can park (Stripe refused it,
// or kept failing until the outbox gave up). Before, nothing asked again: the payment stayed
// `awaiting_payment` until `checkout.session.expired` came or a person acted. Now the ask is
// followed by rechecks that ask Stripe again under a new key until Stripe answers, then a
// ticket if it never does.
import { describe, expect, it, vi } from "vitest";
import { heldPaymentRefs, type PaymentFact } from "../facts/payment-fact.js";
import type { HeldPayment } from "../held-payment/held-payment.js";
import { checkHeldMoney, checkLedgerInvariants } from "../ledger/index.js";
import { CHECKOUT_EXPIRY_ASKS_MAX, CHECKOUT_EXPIRY_RECHECK_MS } from "../policy/checkout-expiry-recheck.js";
import { gatewayError } from "../ports/payment-gateway.js";
import { HOUR_MS } from "../shared/time.js";
import { InMemorySusu } from "../testing/in-memory-susu.js";
import * as useCases from "./index.js";

const refused = () => gatewayError("gateway_definite", "invalid_request_error", "Stripe refused the expiry");

/** A held payment whose checkout page is open; `checkout.session.expired` never reaches susu unless `keepExpiry`. */
async function anOpenCheckout(
  options: { readonly keepExpiry?: boolean; readonly holdBackPaid?: boolean } = {},
) {
  const drop = (facts: PaymentFact[]): PaymentFact[] =>
    facts.filter(
      (f) =>
        (options.keepExpiry === true || f.kind !== "checkout_expired") &&
        (options.holdBackPaid !== true || f.kind !== "checkout_payment_changed"),
    );
  const sim = new InMemorySusu({ transformFacts: drop });
  (await sim.addSeller("sam", { canReceive: true }))._unsafeUnwrap();
  const created = (
    await useCases.createHeldPayment(sim.deps, {
      requestedBy: "app_bookings",
      clientReference: "booking_7",
      amountMinor: 100_00,
      currency: "AUD",
      sellerId: "sam",
      description: "A night",
      customer: { email: "cy@example.com" },
      fee: { kind: "rate", basisPoints: 1_000 },
      successUrl: "https://app.example/done",
    })
  )._unsafeUnwrap();
  await sim.runUntilQuiet();
  const id = created.payment.id;
  const payment = (): HeldPayment => {
    const p = sim.store.heldPayments().find((x) => x.id === id);
    if (!p) throw new Error(`no held payment ${id}`);
    return p;
  };
  const parked = async () =>
    (await sim.store.listOutbox({ status: "parked", limit: 100 }))._unsafeUnwrap().items.map((e) => e.id);
  const expiryNotices = () => sim.notifier.sent.filter((n) => n.template === "checkout_expired").length;
  const tickets = () => sim.desk.tickets.map((t) => t.id);
  const books = () => {
    const ledger = sim.ledger.snapshot();
    expect(checkLedgerInvariants(ledger).isOk()).toBe(true);
    return checkHeldMoney(ledger, id, "AUD")._unsafeUnwrap();
  };
  return { sim, id, payment, parked, expiryNotices, tickets, books };
}

/** To the backstop (session expiry 23 h, grace 1 h), Stripe refusing its ask: parked at once. */
async function toParkedAsk(flow: Awaited<ReturnType<typeof anOpenCheckout>>): Promise<void> {
  flow.sim.gateway.injectFault("expireCheckoutSession", "before", refused());
  await flow.sim.advance(24 * HOUR_MS + 60_000);
  expect(flow.payment()).toMatchObject({ status: "awaiting_payment" });
  expect(flow.payment().expiryRequestedAt).toBeDefined();
  expect(await flow.parked()).toEqual([`${flow.id}:checkout_session:expire`]);
  expect(flow.tickets()).toEqual([`${flow.id}:checkout_session:expire:parked`]);
}

describe("held payment: the backstop's ask that Stripe expire the session parked", () => {
  it("a recheck asks Stripe again under a new key; Stripe says the session expired: expired, the customer told once", async () => {
    const flow = await anOpenCheckout();
    await toParkedAsk(flow);
    await flow.sim.advance(CHECKOUT_EXPIRY_RECHECK_MS);
    expect(flow.payment()).toMatchObject({ status: "expired" });
    expect(flow.expiryNotices()).toBe(1);
    expect(flow.books().paidInMinor).toBe(0);
    // The operator replays the parked ask afterwards: Stripe's answer (expired) changes nothing.
    expect(
      (
        await flow.sim.store.requeueParked(`${flow.id}:checkout_session:expire`, flow.sim.clock.now())
      )._unsafeUnwrap(),
    ).toBe("requeued");
    const version = flow.payment().version;
    await flow.sim.runUntilQuiet();
    expect(await flow.parked()).toEqual([]);
    expect(flow.payment()).toMatchObject({ status: "expired", version });
    expect(flow.expiryNotices()).toBe(1);
    // No later recheck asks anything.
    await flow.sim.advance(CHECKOUT_EXPIRY_ASKS_MAX * CHECKOUT_EXPIRY_RECHECK_MS);
    expect(flow.payment().version).toBe(version);
    expect(flow.tickets()).toEqual([`${flow.id}:checkout_session:expire:parked`]);
  });

  it("the customer paid before the expiry, its webhook lost: the recheck finds the session complete and holds the payment, nothing refunded", async () => {
    const flow = await anOpenCheckout({ holdBackPaid: true });
    await flow.sim.payCheckout(flow.id, "card");
    expect(flow.payment().status).toBe("awaiting_payment");
    await toParkedAsk(flow);
    await flow.sim.advance(CHECKOUT_EXPIRY_RECHECK_MS);
    expect(flow.payment()).toMatchObject({ status: "held", refunds: [] });
    expect(flow.payment().paymentIntentId).toMatch(/^pi_/);
    expect(flow.expiryNotices()).toBe(0);
    expect([...flow.sim.gateway.refunds.values()]).toEqual([]);
    expect(flow.books()).toMatchObject({ paidInMinor: 100_00, holdMinor: 100_00, refundedMinor: 0 });
  });

  it("checkout.session.expired arrives while the ask is parked: expired once; the recheck asks nothing; dismissing the parked ask changes nothing", async () => {
    const flow = await anOpenCheckout();
    await toParkedAsk(flow);
    const p = flow.payment();
    (
      await flow.sim.deliver([
        { kind: "checkout_expired", refs: heldPaymentRefs(p.id), sessionId: p.checkoutSessionId ?? "" },
      ])
    )._unsafeUnwrap();
    await flow.sim.runUntilQuiet();
    expect(flow.payment().status).toBe("expired");
    const version = flow.payment().version;
    const asks = vi.spyOn(flow.sim.gateway, "expireCheckoutSession");
    await flow.sim.advance(CHECKOUT_EXPIRY_ASKS_MAX * CHECKOUT_EXPIRY_RECHECK_MS);
    expect(asks).not.toHaveBeenCalled();
    expect(
      (
        await flow.sim.store.dismissParked(`${flow.id}:checkout_session:expire`, {
          by: "olga",
          reason: "session expired at Stripe",
          at: flow.sim.clock.now(),
        })
      )._unsafeUnwrap(),
    ).toMatchObject({ outcome: "dismissed" });
    await flow.sim.runUntilQuiet();
    expect(flow.payment()).toMatchObject({ status: "expired", version });
    expect(flow.expiryNotices()).toBe(1);
  });

  it("dismissed while Stripe still refuses: the rechecks go on asking and end it once Stripe answers", async () => {
    const flow = await anOpenCheckout();
    await toParkedAsk(flow);
    (
      await flow.sim.store.dismissParked(`${flow.id}:checkout_session:expire`, {
        by: "olga",
        reason: "Stripe down, the recheck will ask again",
        at: flow.sim.clock.now(),
      })
    )._unsafeUnwrap();
    // The first recheck is refused too (parked under its own key), the second is answered.
    flow.sim.gateway.injectFault("expireCheckoutSession", "before", refused());
    await flow.sim.advance(CHECKOUT_EXPIRY_RECHECK_MS);
    expect(flow.payment().status).toBe("awaiting_payment");
    expect(await flow.parked()).toEqual([`${flow.id}:checkout_session:expire:2`]);
    await flow.sim.advance(CHECKOUT_EXPIRY_RECHECK_MS);
    expect(flow.payment().status).toBe("expired");
    expect(flow.expiryNotices()).toBe(1);
  });

  it("Stripe refuses every ask: susu stops after its last ask and one ticket says so; Stripe's word still ends the payment", async () => {
    const flow = await anOpenCheckout();
    for (let n = 0; n < CHECKOUT_EXPIRY_ASKS_MAX; n += 1)
      flow.sim.gateway.injectFault("expireCheckoutSession", "before", refused());
    await flow.sim.advance(24 * HOUR_MS + 60_000);
    await flow.sim.advance(CHECKOUT_EXPIRY_ASKS_MAX * CHECKOUT_EXPIRY_RECHECK_MS);
    expect(flow.payment().status).toBe("awaiting_payment");
    const asks = [`${flow.id}:checkout_session:expire`];
    for (let n = 2; n <= CHECKOUT_EXPIRY_ASKS_MAX; n += 1)
      asks.push(`${flow.id}:checkout_session:expire:${n}`);
    expect(await flow.parked()).toEqual(asks);
    const unconfirmed = flow.sim.desk.tickets.filter((t) => t.reason === "checkout_expiry_unconfirmed");
    expect(unconfirmed.map((t) => t.id)).toEqual([`${flow.id}:ticket:checkout_expiry_unconfirmed:last`]);
    // Nothing more is asked, however long it waits.
    const more = vi.spyOn(flow.sim.gateway, "expireCheckoutSession");
    await flow.sim.advance(10 * CHECKOUT_EXPIRY_RECHECK_MS);
    expect(more).not.toHaveBeenCalled();
    more.mockRestore();
    // An operator replays the last ask once Stripe answers again: expired, told once.
    (await flow.sim.store.requeueAllParked(flow.sim.clock.now()))._unsafeUnwrap();
    await flow.sim.runUntilQuiet();
    expect(flow.payment().status).toBe("expired");
    expect(flow.expiryNotices()).toBe(1);
    expect(await flow.parked()).toEqual([]);
  });
});
