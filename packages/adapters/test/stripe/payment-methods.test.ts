// Saved payment methods through the Stripe gateway and the official SDK, on the emulator:
// what the gateway sends (set-ups, defaults, detachments keyed by the effect id), what it
// reads back (never more of a number than the last four digits), and what Stripe's
// payment_method.* events mean once translated.
import type { GatewayError, PaymentFact } from "@susu/domain";
import type { Result } from "neverthrow";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  acceptBecsMandate,
  type StripeHarness,
  startStripeHarness,
  translateAll,
} from "./emulator-harness.js";

function value<T>(result: Result<T, GatewayError>): T {
  if (result.isErr()) throw new Error(`expected success, got ${JSON.stringify(result.error)}`);
  return result.value;
}

let harness: StripeHarness;
let seq = 0;
const unique = (label: string): string => `${label}_${Date.now().toString(36)}_${++seq}`;

beforeAll(async () => {
  harness = await startStripeHarness();
});

afterAll(async () => {
  await harness.emulator.stop();
});

async function customer(personId: string): Promise<string> {
  return value(
    await harness.gateway.createCustomer({
      idempotencyKey: `person:${personId}:customer`,
      name: personId,
      references: { personId },
      // A first request: made now, under a key Stripe keeps.
      notBefore: Date.now(),
      effectCreatedAt: Date.now(),
    }),
  ).customerId;
}

async function facts(): Promise<PaymentFact[]> {
  const translated = await translateAll(harness.gateway, await harness.events.next());
  return translated.flatMap(({ translation }) => (translation.kind === "fact" ? [translation.fact] : []));
}

describe("saving a card", () => {
  it("is an off-session card SetupIntent with the person's references; the same key is the same set-up", async () => {
    const personId = unique("ana");
    const customerId = await customer(personId);
    const input = {
      idempotencyKey: `person:${personId}:method_setup:card:1`,
      customerId,
      methodType: "card" as const,
      references: { personId, setupPurpose: "saved_method" as const },
    };
    const setup = value(await harness.gateway.createPaymentMethodSetup(input));
    expect(value(await harness.gateway.createPaymentMethodSetup(input))).toEqual(setup);
    const si = await harness.stripe.setupIntents.retrieve(setup.setupIntentId);
    expect(si).toMatchObject({
      customer: customerId,
      payment_method_types: ["card"],
      usage: "off_session",
      client_secret: setup.clientSecret,
      metadata: { person_id: personId, setup_purpose: "saved_method" },
    });
  });

  it("the confirmed card reads back as brand, last four and expiry; attached, then detached", async () => {
    const personId = unique("ben");
    const customerId = await customer(personId);
    await harness.events.skipExisting();
    const setup = value(
      await harness.gateway.createPaymentMethodSetup({
        idempotencyKey: `person:${personId}:method_setup:card:1`,
        customerId,
        methodType: "card",
        references: { personId, setupPurpose: "saved_method" },
      }),
    );
    const confirmed = await harness.stripe.setupIntents.confirm(setup.setupIntentId, {
      payment_method: "pm_card_visa",
    });
    const pmId = confirmed.payment_method as string;
    const read = value(await harness.gateway.getPaymentMethod(pmId));
    expect(read).toMatchObject({
      paymentMethodId: pmId,
      type: "card",
      customerId,
      card: { brand: "visa", last4: "4242" },
    });
    expect(await facts()).toContainEqual({
      kind: "payment_method_changed",
      paymentMethodId: pmId,
      customerId,
    });

    value(
      await harness.gateway.setDefaultPaymentMethod({
        idempotencyKey: `payment_method:${pmId}:default:v1`,
        customerId,
        paymentMethodId: pmId,
      }),
    );
    const c = await harness.stripe.customers.retrieve(customerId);
    expect(!c.deleted && c.invoice_settings.default_payment_method).toBe(pmId);

    await harness.emulator.control.updateCardFromNetwork(pmId, { exp_month: 2, exp_year: 2034 });
    expect(value(await harness.gateway.getPaymentMethod(pmId)).card).toMatchObject({
      expMonth: 2,
      expYear: 2034,
    });

    const detach = { idempotencyKey: `payment_method:${pmId}:detach`, paymentMethodId: pmId };
    value(await harness.gateway.detachPaymentMethod(detach));
    // A retry of the same effect replays Stripe's first answer.
    value(await harness.gateway.detachPaymentMethod(detach));
    expect(value(await harness.gateway.getPaymentMethod(pmId)).customerId).toBeUndefined();
    // Any other request to detach it again is refused for good.
    const again = await harness.gateway.detachPaymentMethod({ ...detach, idempotencyKey: "other" });
    expect(again._unsafeUnwrapErr()).toMatchObject({
      type: "gateway_definite",
      code: "payment_method_unexpected_state",
    });

    // Updated by the network and detached: both are news of the method; the detached one
    // names the customer it left (Stripe's previous attributes).
    const news = (await facts()).filter((f) => f.kind === "payment_method_changed");
    expect(news).toEqual([
      { kind: "payment_method_changed", paymentMethodId: pmId, customerId },
      { kind: "payment_method_changed", paymentMethodId: pmId, customerId },
    ]);
  });

  it("other payment_method events say nothing susu keeps: ignored, with why", async () => {
    const personId = unique("dee");
    const customerId = await customer(personId);
    const pm = await harness.stripe.paymentMethods.attach("pm_card_visa", { customer: customerId });
    await harness.events.skipExisting();
    await harness.stripe.paymentMethods.update(pm.id, { billing_details: { name: "Dee" } });
    const translated = await translateAll(harness.gateway, await harness.events.next());
    expect(translated.map(({ event, translation }) => [event.type, translation.kind])).toEqual([
      ["payment_method.updated", "ignored"],
    ]);
  });

  it("an unknown method is a definite resource_missing", async () => {
    const missing = await harness.gateway.getPaymentMethod("pm_nope");
    expect(missing._unsafeUnwrapErr()).toMatchObject({ type: "gateway_definite", code: "resource_missing" });
  });
});

describe("saving a BECS account", () => {
  it("reads back as BSB and last four only; its set-up's success says it was saved, with the mandate", async () => {
    const personId = unique("cy");
    const customerId = await customer(personId);
    await harness.events.skipExisting();
    const setup = value(
      await harness.gateway.createPaymentMethodSetup({
        idempotencyKey: `person:${personId}:method_setup:au_becs_debit:1`,
        customerId,
        methodType: "au_becs_debit",
        references: { personId, setupPurpose: "saved_method" },
      }),
    );
    const { paymentMethodId, mandateId } = await acceptBecsMandate(
      harness.stripe,
      setup.setupIntentId,
      "000123456",
    );
    const read = value(await harness.gateway.getPaymentMethod(paymentMethodId));
    expect(read).toEqual({
      paymentMethodId,
      type: "au_becs_debit",
      customerId,
      bankAccount: { bsbNumber: "000000", last4: "3456" },
      createdAt: expect.any(Number),
    });
    expect(JSON.stringify(read)).not.toContain("000123456");
    expect(await facts()).toContainEqual({
      kind: "debit_setup_succeeded",
      setupIntentId: setup.setupIntentId,
      customerId,
      refs: { personId, setupPurpose: "saved_method" },
      paymentMethodId,
      mandateId,
    });
  });
});
