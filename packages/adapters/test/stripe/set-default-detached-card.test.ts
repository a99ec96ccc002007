// A set-default effect for a card that stopped being the customer's before it ran (removed
// through susu, or detached at Stripe): Stripe refuses to make it the default, as the emulator
// does ("ID of a payment method that's attached to the customer"), and the effect is done,
// not parked; a refusal for a card the customer still has stays a refusal.
import { type EffectPorts, useCaseDepsOn, useCases } from "@susu/domain";
import {
  InMemoryLedgerStore,
  InMemoryStore,
  InMemoryTimerScheduler,
  RecordingNotifier,
  RecordingSupportDesk,
  SequentialIds,
} from "@susu/domain/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type StripeHarness, startStripeHarness } from "./emulator-harness.js";

describe("set_default_payment_method on the emulator", () => {
  let harness: StripeHarness;
  let ports: EffectPorts;
  const deps = useCaseDepsOn(new InMemoryStore(), {
    clock: { now: () => Date.now() },
    ids: new SequentialIds(),
  });

  beforeAll(async () => {
    harness = await startStripeHarness();
    ports = {
      gateway: harness.gateway,
      notifier: new RecordingNotifier(),
      desk: new RecordingSupportDesk(),
      timers: new InMemoryTimerScheduler(),
      ledger: new InMemoryLedgerStore(),
    };
  });
  afterAll(async () => harness.emulator.stop());

  async function savedCard() {
    const customer = await harness.stripe.customers.create({ name: "Ben" });
    const card = await harness.stripe.paymentMethods.attach("pm_card_visa", { customer: customer.id });
    return { customerId: customer.id, paymentMethodId: card.id };
  }
  const effectFor = (customerId: string, paymentMethodId: string, n: number) => ({
    kind: "set_default_payment_method" as const,
    id: `${paymentMethodId}:default:${n}`,
    aggregate: "payment_method" as const,
    aggregateId: paymentMethodId,
    customerId,
    paymentMethodId,
  });

  it("a card detached before the effect ran: Stripe refuses, the effect is done and nothing changed", async () => {
    const { customerId, paymentMethodId } = await savedCard();
    await harness.stripe.paymentMethods.detach(paymentMethodId);
    const result = await useCases.executeEffect(deps, ports, effectFor(customerId, paymentMethodId, 1));
    expect(result._unsafeUnwrap()).toEqual([]);
    const customer = await harness.stripe.customers.retrieve(customerId);
    expect(customer).toMatchObject({ invoice_settings: { default_payment_method: null } });
  });

  it("the customer's own card is made the default", async () => {
    const { customerId, paymentMethodId } = await savedCard();
    const result = await useCases.executeEffect(deps, ports, effectFor(customerId, paymentMethodId, 1));
    expect(result._unsafeUnwrap()).toEqual([]);
    const customer = await harness.stripe.customers.retrieve(customerId);
    expect(customer).toMatchObject({ invoice_settings: { default_payment_method: paymentMethodId } });
  });
});
