import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { PaymentFact } from "@susu/domain";
import { type EmulatorOptions, type RunningEmulator, startEmulator } from "@susu/stripe-emulator";
import Stripe from "stripe";
import {
  type StripeClientConfig,
  type StripeEventTranslation,
  StripePaymentGateway,
  translateStripeEventWith,
} from "../../src/stripe/index.js";
import type {
  PaymentGatewayDriver,
  PaymentGatewayHarness,
  SavedMandate,
} from "../contract/payment-gateway.contract.js";

/** Emulator settings shared by the Stripe tests: Stripe's 3-day BECS delay, no fees to keep amounts plain. */
export const EMULATOR_OPTIONS: EmulatorOptions = { port: 0, fees: false };

/** Long enough for every BECS test number to settle, the "after 3 minutes" ones included. */
export const SETTLEMENT_SECONDS = 3 * 86_400 + 181 + 1;

/** Client settings for tests: short timeout, the SDK's retries on. */
export function clientConfig(
  emulator: RunningEmulator,
  overrides: Partial<StripeClientConfig> = {},
): StripeClientConfig {
  const url = new URL(emulator.url);
  return {
    secretKey: emulator.secretKey,
    host: url.hostname,
    port: Number(url.port),
    protocol: "http",
    timeoutMs: 5_000,
    maxNetworkRetries: 2,
    ...overrides,
  };
}

/** The platform's events newer than the last call, oldest first, read through the SDK. */
export class EventFeed {
  #cursor: string | undefined;

  constructor(private readonly stripe: Stripe) {}

  /** Starts the feed after the newest event so far, so only events from now on are read. */
  async skipExisting(): Promise<void> {
    const page = await this.stripe.events.list({ limit: 1 });
    this.#cursor = page.data[0]?.id ?? this.#cursor;
  }

  async next(): Promise<Stripe.Event[]> {
    const out: Stripe.Event[] = [];
    for (;;) {
      const page = await this.stripe.events.list({
        limit: 100,
        ...(this.#cursor !== undefined ? { ending_before: this.#cursor } : {}),
      });
      // Each page is newest first; pages come oldest page first when walking `ending_before`.
      out.push(...[...page.data].reverse());
      const newest = page.data[0];
      if (newest) this.#cursor = newest.id;
      if (!page.has_more || !newest) return out;
    }
  }
}

/** Translates events the way the webhook worker will, dispute lookups included. */
export async function translateAll(
  gateway: StripePaymentGateway,
  events: readonly Stripe.Event[],
): Promise<{ event: Stripe.Event; translation: StripeEventTranslation }[]> {
  const out: { event: Stripe.Event; translation: StripeEventTranslation }[] = [];
  for (const event of events) {
    const translated = await translateStripeEventWith(event, (ids) => gateway.getPaymentReferences(ids));
    if (translated.isErr()) throw new Error(`lookup failed for ${event.id}: ${translated.error.message}`);
    out.push({ event, translation: translated.value });
  }
  return out;
}

/** The payment facts among translations. */
export function roundFacts(translations: readonly { translation: StripeEventTranslation }[]): PaymentFact[] {
  return translations.flatMap(({ translation }) => (translation.kind === "fact" ? [translation.fact] : []));
}

async function countAll<T>(list: AsyncIterable<T>, keep: (item: T) => boolean): Promise<number> {
  let count = 0;
  for await (const item of list) if (keep(item)) count += 1;
  return count;
}

/**
 * What the member's device does with the SetupIntent's client secret (Stripe.js in
 * production): confirms it with their bank account and their acceptance of the mandate.
 */
export async function acceptBecsMandate(
  stripe: Stripe,
  setupIntentId: string,
  accountNumber: string,
): Promise<{ paymentMethodId: string; mandateId: string }> {
  const si = await stripe.setupIntents.confirm(setupIntentId, {
    payment_method_data: {
      type: "au_becs_debit",
      au_becs_debit: { bsb_number: "000000", account_number: accountNumber },
      billing_details: { name: "Test Member", email: "member@example.com" },
    },
    mandate_data: {
      customer_acceptance: {
        type: "online",
        online: { ip_address: "203.0.113.7", user_agent: "susu-tests" },
      },
    },
  });
  const paymentMethodId = typeof si.payment_method === "string" ? si.payment_method : si.payment_method?.id;
  const mandateId = typeof si.mandate === "string" ? si.mandate : si.mandate?.id;
  if (si.status !== "succeeded" || paymentMethodId === undefined || mandateId === undefined)
    throw new Error(`BECS set-up ${si.id} did not succeed: ${si.status}`);
  return { paymentMethodId, mandateId };
}

/** The Stripe gateway on an emulator, and a driver that plays the member, the bank and time. */
export interface StripeHarness extends PaymentGatewayHarness {
  readonly gateway: StripePaymentGateway;
  readonly emulator: RunningEmulator;
  /** An SDK client for what the port does not do (listing, confirming set-ups). */
  readonly stripe: Stripe;
  readonly events: EventFeed;
  /** Like the driver's, for any account number (Stripe's disputed 666666660, the delayed ones, …). */
  customerWithMandate(memberId: string, accountNumber: string): Promise<SavedMandate>;
}

/** Starts an emulator on a free port and wires the gateway and driver to it. */
export async function startStripeHarness(options: EmulatorOptions = {}): Promise<StripeHarness> {
  const emulator = await startEmulator({ ...EMULATOR_OPTIONS, ...options });
  const gateway = new StripePaymentGateway(clientConfig(emulator));
  const stripe = gateway.stripe;
  const events = new EventFeed(stripe);
  let seq = 0;

  const customerWithMandate = async (memberId: string, accountNumber: string): Promise<SavedMandate> => {
    seq += 1;
    const references = { groupId: "group_driver", memberId };
    const customer = await gateway.createCustomer({
      idempotencyKey: `driver:customer:${memberId}:${seq}`,
      name: `Member ${memberId}`,
      references,
      // A first request: made now, under a key Stripe keeps.
      notBefore: Date.now(),
      effectCreatedAt: Date.now(),
    });
    if (customer.isErr()) throw new Error(customer.error.message);
    const setup = await gateway.createDebitSetup({
      idempotencyKey: `driver:setup:${memberId}:${seq}`,
      customerId: customer.value.customerId,
      references,
    });
    if (setup.isErr()) throw new Error(setup.error.message);
    const accepted = await acceptBecsMandate(stripe, setup.value.setupIntentId, accountNumber);
    return { customerId: customer.value.customerId, ...accepted };
  };

  const driver: PaymentGatewayDriver = {
    customerWithMandate: ({ memberId, accountNumber }) => customerWithMandate(memberId, accountNumber),
    async settle() {
      await emulator.control.advanceClock(SETTLEMENT_SECONDS);
      return roundFacts(await translateAll(gateway, await events.next()));
    },
    async connectedAccount({ canReceive }) {
      seq += 1;
      const account = await stripe.accounts.create({
        type: "express",
        country: "AU",
        capabilities: { transfers: { requested: true } },
        metadata: { purpose: `driver_${seq}` },
      });
      if (canReceive) await emulator.control.completeAccountOnboarding(account.id);
      return account.id;
    },
    async completeOnboarding(accountId) {
      await emulator.control.completeAccountOnboarding(accountId);
    },
    async disableTransfers(accountId) {
      await emulator.control.disableTransfers(accountId);
    },
    async debitCount(transferGroup) {
      return countAll(
        stripe.paymentIntents.list({ limit: 100 }),
        (pi) => pi.transfer_group === transferGroup,
      );
    },
    async transferCount(transferGroup) {
      return countAll(stripe.transfers.list({ limit: 100, transfer_group: transferGroup }), () => true);
    },
    async now() {
      return (await emulator.control.now()) * 1000;
    },
    async fund(accountId, amount) {
      await emulator.control.topUp({
        amount: amount.amountMinor,
        currency: amount.currency.toLowerCase(),
        account: accountId,
      });
    },
    async payCheckout(sessionId) {
      const session = await emulator.control.completeCheckoutSession(sessionId, {
        paymentMethod: "pm_card_visa",
      });
      const paymentIntentId =
        typeof session.payment_intent === "string" ? session.payment_intent : session.payment_intent?.id;
      if (paymentIntentId === undefined) throw new Error(`checkout ${sessionId} has no payment after paying`);
      return paymentIntentId;
    },
    async cardCustomer() {
      seq += 1;
      const customer = await gateway.createCustomer({
        idempotencyKey: `driver:card-customer:${seq}`,
        name: `Card customer ${seq}`,
        references: { personId: `driver_customer_${seq}` },
        // A first request: made now, under a key Stripe keeps.
        notBefore: Date.now(),
        effectCreatedAt: Date.now(),
      });
      if (customer.isErr()) throw new Error(customer.error.message);
      return customer.value.customerId;
    },
    async confirmCardPayment(paymentIntentId, paymentMethodId) {
      // What Stripe.js does with the client secret on the customer's device.
      await stripe.paymentIntents.confirm(paymentIntentId, { payment_method: paymentMethodId });
    },
  };
  return { gateway, driver, emulator, stripe, events, customerWithMandate };
}

/** One webhook delivery as the endpoint received it: the raw bytes and the signature header. */
export interface ReceivedWebhook {
  readonly rawBody: string;
  readonly signature: string;
}

/** A local HTTP endpoint that records deliveries and answers 200, like susu's webhook route. */
export interface WebhookReceiver {
  readonly url: string;
  readonly received: ReceivedWebhook[];
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** Starts a receiver on a free port. */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const server: Server = createServer((req, res) => {
    void readBody(req).then((rawBody) => {
      const header = req.headers["stripe-signature"];
      received.push({ rawBody, signature: Array.isArray(header) ? (header[0] ?? "") : (header ?? "") });
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end('{"received":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhooks/stripe`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Verifies a delivery as the webhook route does: signature over the raw body, default tolerance. */
export function verifyDelivery(stripe: Stripe, delivery: ReceivedWebhook, secret: string): Stripe.Event {
  return stripe.webhooks.constructEvent(delivery.rawBody, delivery.signature, secret);
}

export { Stripe };
