import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import Stripe from "stripe";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { CONFIGURED_ENDPOINT_ID, startEmulator } from "../src/index.js";
import { failure, type Harness, harness, WebhookReceiver } from "./support.js";

const verifier = new Stripe("sk_test_unused");

describe("deliveries to the configured endpoint", () => {
  let receiver: WebhookReceiver;
  let h: Harness;
  beforeAll(async () => {
    receiver = await new WebhookReceiver().start();
    h = await harness({ webhookUrl: receiver.url, webhookSecret: "whsec_test_secret" });
  });
  afterAll(async () => {
    await h.emu.stop();
    await receiver.stop();
  });
  beforeEach(async () => {
    await h.emu.control.reset();
    receiver.received.length = 0;
    receiver.respond = () => 200;
  });

  it("signs every delivery so that stripe.webhooks.constructEvent accepts it", async () => {
    const customer = await h.stripe.customers.create({ email: "sig@example.com" });
    await h.stripe.paymentIntents.create({
      amount: 1000,
      currency: "aud",
      customer: customer.id,
      payment_method: "pm_card_visa",
      confirm: true,
    });
    await h.emu.control.flushWebhooks();
    expect(receiver.types()).toEqual([
      "customer.created",
      "payment_intent.created",
      "charge.succeeded",
      "payment_intent.succeeded",
    ]);
    for (const delivery of receiver.received) {
      const event = verifier.webhooks.constructEvent(delivery.body, delivery.signature, "whsec_test_secret");
      expect(event.id).toBe(delivery.event.id);
      expect(delivery.signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    }
    const tampered = receiver.received[0]!.body.replace("sig@example.com", "evil@example.com");
    expect(() =>
      verifier.webhooks.constructEvent(tampered, receiver.received[0]!.signature, "whsec_test_secret"),
    ).toThrow(Stripe.errors.StripeSignatureVerificationError);
    const event = receiver.received[3]!.event;
    expect(event.object).toBe("event");
    expect(event.livemode).toBe(false);
    expect(event.request?.id).toMatch(/^req_/);
    expect(event.request?.idempotency_key).toMatch(/^stripe-node-retry-/);
    expect((event.data.object as Stripe.PaymentIntent).status).toBe("succeeded");
    const stored = await h.stripe.events.retrieve(event.id);
    expect(stored.data.object).toEqual(event.data.object);
    expect(stored.pending_webhooks).toBe(0);
  });

  it("keeps each event's object as it was when the event happened", async () => {
    const customer = await h.stripe.customers.create({ name: "Before" });
    await h.stripe.customers.update(customer.id, { name: "After" });
    await h.emu.control.flushWebhooks();
    const [created, updated] = receiver.received.map((r) => r.event);
    expect((created!.data.object as Stripe.Customer).name).toBe("Before");
    expect((updated!.data.object as Stripe.Customer).name).toBe("After");
    expect(updated!.data.previous_attributes).toEqual({ name: "Before" });
  });

  it("retries failed deliveries on the emulator clock and lists undelivered events until they succeed", async () => {
    receiver.respond = (_event, attempt) => (attempt <= 2 ? 500 : 200);
    const customer = await h.stripe.customers.create({});
    const first = await h.emu.control.flushWebhooks();
    expect(first).toEqual({ delivered: 0, failed: 0, waitingForRetry: 1 });
    const undelivered = await h.stripe.events.list({ delivery_success: false });
    expect(undelivered.data.map((e) => (e.data.object as Stripe.Customer).id)).toEqual([customer.id]);
    expect(undelivered.data[0]!.pending_webhooks).toBe(1);

    await h.emu.control.advanceClock(3599);
    expect((await h.emu.control.flushWebhooks()).waitingForRetry).toBe(1);
    expect(receiver.received).toHaveLength(1);
    await h.emu.control.advanceClock(1);
    await h.emu.control.flushWebhooks();
    expect(receiver.received).toHaveLength(2);
    await h.emu.control.advanceClock(3 * 3600);
    const last = await h.emu.control.flushWebhooks();
    expect(last.delivered).toBe(1);
    expect(receiver.received).toHaveLength(3);
    expect((await h.stripe.events.list({ delivery_success: false })).data).toEqual([]);
    const [delivery] = await h.emu.control.webhookDeliveries();
    expect(delivery?.attempts.map((a) => a.status)).toEqual([500, 500, 200]);
  });

  it("gives up after the last retry and the event stays undelivered", async () => {
    receiver.respond = () => 400;
    await h.stripe.customers.create({});
    for (let i = 0; i < 4; i++) await h.emu.control.deliverPendingWebhooks();
    expect(receiver.received).toHaveLength(4);
    const [delivery] = await h.emu.control.webhookDeliveries();
    expect(delivery?.state).toBe("failed");
    expect(await h.emu.control.deliverPendingWebhooks()).toEqual({
      delivered: 0,
      failed: 0,
      waitingForRetry: 0,
    });
    expect((await h.stripe.events.list({ delivery_success: false })).data).toHaveLength(1);
  });

  it("with chaos, duplicates and reorders deliveries the same way for the same seed", async () => {
    const run = async (): Promise<string[]> => {
      await h.emu.control.reset();
      receiver.received.length = 0;
      await h.emu.control.setWebhookChaos({ seed: 42, duplicate: 0.5, outOfOrder: 1 });
      for (let i = 0; i < 3; i++) {
        await h.stripe.paymentIntents.create({
          amount: 1000 + i,
          currency: "aud",
          payment_method: "pm_card_visa",
          confirm: true,
        });
      }
      await h.emu.control.flushWebhooks();
      return receiver.received.map(
        (r) => `${r.event.type}:${(r.event.data.object as { amount: number }).amount}`,
      );
    };
    const first = await run();
    const second = await run();
    expect(second).toEqual(first);
    expect(first.length).toBeGreaterThan(9);
    expect(new Set(first).size).toBe(9);
    const inOrder = ["payment_intent.created", "charge.succeeded", "payment_intent.succeeded"];
    const firstPayment = first.filter((x) => x.endsWith(":1000")).map((x) => x.split(":")[0]);
    expect(firstPayment).not.toEqual(inOrder);
    await h.emu.control.setWebhookChaos(null);
  });

  it("holds late deliveries back until the end of a flush", async () => {
    await h.emu.control.setWebhookChaos({ seed: 7, late: 1, lateMs: 60_000 });
    await h.stripe.customers.create({ name: "late" });
    await h.emu.control.setWebhookChaos(null);
    await h.stripe.customers.create({ name: "on time" });
    await h.emu.control.flushWebhooks();
    expect(receiver.received.map((r) => (r.event.data.object as Stripe.Customer).name)).toEqual([
      "on time",
      "late",
    ]);
  });

  it("lets on-time deliveries overtake a long queue of late ones, then delivers those in order, each once", async () => {
    await h.emu.control.setWebhookChaos({ seed: 3, late: 1, lateMs: 60_000 });
    for (let i = 0; i < 40; i++) await h.stripe.customers.create({ name: `late ${i}` });
    await h.emu.control.setWebhookChaos(null);
    for (let i = 0; i < 40; i++) await h.stripe.customers.create({ name: `on time ${i}` });
    await expect.poll(() => receiver.received.length).toBe(40);
    expect(await h.emu.control.flushWebhooks()).toEqual({ delivered: 40, failed: 0, waitingForRetry: 0 });
    const names = receiver.received.map((r) => (r.event.data.object as Stripe.Customer).name);
    expect(names).toEqual([
      ...Array.from({ length: 40 }, (_, i) => `on time ${i}`),
      ...Array.from({ length: 40 }, (_, i) => `late ${i}`),
    ]);
    expect(await h.emu.control.flushWebhooks()).toEqual({ delivered: 0, failed: 0, waitingForRetry: 0 });
  });
});

describe("webhook endpoints through the API", () => {
  let receiver: WebhookReceiver;
  let connectReceiver: WebhookReceiver;
  let h: Harness;
  beforeAll(async () => {
    receiver = await new WebhookReceiver().start();
    connectReceiver = await new WebhookReceiver().start();
    h = await harness();
  });
  afterAll(async () => {
    await h.emu.stop();
    await receiver.stop();
    await connectReceiver.stop();
  });

  it("creates endpoints with a secret shown once, filters event types, and separates Connect events", async () => {
    const endpoint = await h.stripe.webhookEndpoints.create({
      url: receiver.url,
      enabled_events: ["account.updated", "transfer.created"],
    });
    const connect = await h.stripe.webhookEndpoints.create({
      url: connectReceiver.url,
      enabled_events: ["*"],
      connect: true,
    });
    expect(endpoint.secret).toMatch(/^whsec_/);
    expect((await h.stripe.webhookEndpoints.retrieve(endpoint.id)).secret).toBeUndefined();
    expect((await h.stripe.webhookEndpoints.list()).data).toHaveLength(2);

    const account = await h.stripe.accounts.create({
      type: "express",
      capabilities: { transfers: { requested: true } },
    });
    await h.emu.control.completeAccountOnboarding(account.id);
    await h.stripe.customers.create({});
    await h.emu.control.flushWebhooks();

    expect(receiver.received).toEqual([]);
    expect(connectReceiver.types().sort()).toEqual([
      "account.external_account.created",
      "account.updated",
      "capability.updated",
    ]);
    for (const r of connectReceiver.received) {
      expect(r.event.account).toBe(account.id);
      verifier.webhooks.constructEvent(r.body, r.signature, connect.secret!);
    }
    await h.stripe.webhookEndpoints.update(endpoint.id, { disabled: true });
    expect((await h.stripe.webhookEndpoints.del(connect.id)).deleted).toBe(true);
    expect(
      (await failure(h.stripe.webhookEndpoints.create({ url: "ftp://x", enabled_events: ["*"] }))).param,
    ).toBe("url");
  });
});

describe("the configured endpoint's event types (webhookEnabledEvents)", () => {
  it("delivers only the types it names, the platform's and connected accounts', and lists them as its enabled_events", async () => {
    const receiver = await new WebhookReceiver().start();
    const emu = await startEmulator({
      webhookUrl: receiver.url,
      webhookEnabledEvents: ["payment_intent.succeeded", "account.updated"],
    });
    try {
      const stripe = emu.stripe({ maxNetworkRetries: 0 });
      const endpoint = await stripe.webhookEndpoints.retrieve(CONFIGURED_ENDPOINT_ID);
      expect(endpoint.enabled_events).toEqual(["payment_intent.succeeded", "account.updated"]);
      const customer = await stripe.customers.create({});
      await stripe.paymentIntents.create({
        amount: 1000,
        currency: "aud",
        customer: customer.id,
        payment_method: "pm_card_visa",
        confirm: true,
      });
      const account = await stripe.accounts.create({
        type: "express",
        capabilities: { transfers: { requested: true } },
      });
      await emu.control.completeAccountOnboarding(account.id);
      await emu.control.flushWebhooks();
      // customer.created, payment_intent.created, charge.succeeded and capability.updated were not sent.
      expect(receiver.types().sort()).toEqual(["account.updated", "payment_intent.succeeded"]);
      expect(receiver.received.find((r) => r.event.type === "account.updated")?.event.account).toBe(
        account.id,
      );
      // Every event still exists at Stripe; the endpoint just was not sent the others.
      const listed = await stripe.events.list({ limit: 100 });
      expect(listed.data.map((e) => e.type)).toEqual(
        expect.arrayContaining(["customer.created", "payment_intent.created", "charge.succeeded"]),
      );
    } finally {
      await emu.stop();
      await receiver.stop();
    }
  });

  it("refuses an empty list or a name that is not an event type", async () => {
    await expect(
      startEmulator({ webhookUrl: "http://127.0.0.1:9/", webhookEnabledEvents: [] }),
    ).rejects.toThrow(/at least one event type/);
    await expect(
      startEmulator({ webhookUrl: "http://127.0.0.1:9/", webhookEnabledEvents: ["payment intent"] }),
    ).rejects.toThrow(/event types/);
  });
});

describe("delivery failures and timers", () => {
  let emuStops: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const stop of emuStops) await stop();
    emuStops = [];
  });

  it("counts a receiver that does not answer in time as a failed attempt", async () => {
    const hanging = createServer(() => {});
    await new Promise<void>((r) => hanging.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/`;
    const emu = await startEmulator({ webhookUrl: url, webhookTimeoutMs: 150 });
    emuStops.push(
      emu.stop,
      () =>
        new Promise<void>((r) => {
          hanging.close(() => r());
          hanging.closeAllConnections();
        }),
    );
    await emu.stripe({ maxNetworkRetries: 0 }).customers.create({});
    await emu.control.flushWebhooks();
    const [delivery] = await emu.control.webhookDeliveries();
    expect(delivery?.state).toBe("retry_wait");
    expect(delivery?.attempts[0]?.error).toMatch(/timed out/);
    expect(delivery?.endpointId).toBe(CONFIGURED_ENDPOINT_ID);
  });

  it("closes a delivery socket left idle before a receiver on node's default keep-alive timeout (5 s) would", async () => {
    // A socket the receiver closes just as a delivery is written on it fails that delivery
    // (ECONNRESET) although the receiver never saw it: the emulator closes idle ones first.
    const receiver = createServer((req, res) => {
      req.resume();
      req.on("end", () => res.end("ok"));
    });
    receiver.keepAliveTimeout = 60_000;
    const endedByEmulator: number[] = [];
    receiver.on("connection", (socket) => socket.on("end", () => endedByEmulator.push(Date.now())));
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`;
    const emu = await startEmulator({ webhookUrl: url });
    emuStops.push(
      emu.stop,
      () =>
        new Promise<void>((r) => {
          receiver.close(() => r());
          receiver.closeAllConnections();
        }),
    );
    await emu.stripe({ maxNetworkRetries: 0 }).customers.create({});
    await emu.control.flushWebhooks();
    const delivered = Date.now();
    expect((await emu.control.webhookDeliveries())[0]?.state).toBe("succeeded");
    await expect.poll(() => endedByEmulator.length, { timeout: 6_000, interval: 100 }).toBe(1);
    expect((endedByEmulator[0] ?? Number.POSITIVE_INFINITY) - delivered).toBeLessThan(5_000);
  }, 10_000);

  it("retries on real timers when webhookRealTimeRetryMs is set", async () => {
    const receiver = await new WebhookReceiver().start();
    receiver.respond = (_e, attempt) => (attempt === 1 ? 503 : 200);
    const emu = await startEmulator({ webhookUrl: receiver.url, webhookRealTimeRetryMs: 50 });
    emuStops.push(emu.stop, () => receiver.stop());
    await emu.stripe({ maxNetworkRetries: 0 }).customers.create({});
    await emu.control.flushWebhooks();
    await expect.poll(() => receiver.received.length, { timeout: 2000 }).toBe(2);
    expect((await emu.control.webhookDeliveries())[0]?.state).toBe("succeeded");
  });
});
