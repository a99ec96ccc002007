// When the gateway looks for an object an earlier attempt of the same effect made (by its
// `effect_id` metadata) before a money-moving create: only when the effect was first decided
// longer ago than Stripe keeps its Idempotency-Key (less a margin), or when the caller does
// not say when. The emulator through the SDK, its clock and the gateway's moved together; the
// Stripe requests counted with the SDK's `request` event.
import { type GatewayError, money } from "@susu/domain";
import { ManualClock } from "@susu/domain/testing";
import type { Result } from "neverthrow";
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStripeClient, StripePaymentGateway } from "../../src/stripe/index.js";
import {
  clientConfig,
  SETTLEMENT_SECONDS,
  type StripeHarness,
  startStripeHarness,
} from "./emulator-harness.js";

const START = Date.UTC(2026, 6, 1);
const HOUR_S = 3_600;

function value<T>(result: Result<T, GatewayError>): T {
  if (result.isErr()) throw new Error(`expected success, got ${JSON.stringify(result.error)}`);
  return result.value;
}

let harness: StripeHarness;
let seq = 0;
const unique = (label: string): string => `${label}_${++seq}`;
/** The use cases' clock, moved with the emulator's. */
const clock = new ManualClock(START);
let gateway: StripePaymentGateway;
/** Every request the gateway's SDK client sent, as `METHOD /path`. */
const sent: string[] = [];

async function advance(seconds: number): Promise<void> {
  await harness.emulator.control.advanceClock(seconds);
  clock.advance(seconds * 1000);
}

/** The requests `run` made through the gateway. */
async function requestsOf<T>(run: () => PromiseLike<T>): Promise<{ result: T; requests: string[] }> {
  const from = sent.length;
  const result = await run();
  return { result, requests: sent.slice(from) };
}

/** Every request's query string too, as `METHOD /path?query`. */
const sentWithQuery: string[] = [];

const lists = (requests: readonly string[], path: string) =>
  requests.filter((r) => r.startsWith(`GET ${path}`)).length;
const creates = (requests: readonly string[], path: string) =>
  requests.filter((r) => r === `POST ${path}`).length;

beforeAll(async () => {
  harness = await startStripeHarness({ startTime: START / 1000 });
  const stripe = createStripeClient(clientConfig(harness.emulator));
  stripe.on("request", (event: Stripe.RequestEvent) => {
    sent.push(`${event.method} ${event.path.split("?")[0]}`);
    sentWithQuery.push(`${event.method} ${decodeURIComponent(event.path)}`);
  });
  gateway = new StripePaymentGateway(stripe, { clock });
});

afterAll(async () => {
  await harness.emulator.stop();
});

async function debitInput() {
  const roundId = unique("round");
  const memberId = unique("member");
  const saved = await harness.driver.customerWithMandate({ memberId, accountNumber: "000123456" });
  return {
    idempotencyKey: `${roundId}:contribution:${memberId}:attempt:1`,
    customerId: saved.customerId,
    paymentMethodId: saved.paymentMethodId,
    mandateId: saved.mandateId,
    amount: money(5_000, "AUD"),
    transferGroup: `${roundId}:pot`,
    description: `Contribution to round ${roundId}`,
    references: { groupId: unique("group"), roundId, memberId, attempt: 1 },
  };
}

async function paymentIntentsOf(customer: string): Promise<Stripe.PaymentIntent[]> {
  return (await harness.stripe.paymentIntents.list({ customer, limit: 100 })).data;
}

describe("a debit: the look-up only once the effect is older than the key is trusted", () => {
  it("fresh: no list request and one PaymentIntent; retried within the window: the key's replay; a day later: the look-up finds it", async () => {
    const input = { ...(await debitInput()), effectCreatedAt: clock.now() };

    const first = await requestsOf(() => gateway.createDebit(input));
    const outcome = value(first.result);
    expect(lists(first.requests, "/v1/payment_intents")).toBe(0);
    expect(creates(first.requests, "/v1/payment_intents")).toBe(1);
    expect((await paymentIntentsOf(input.customerId)).map((pi) => pi.id)).toEqual([outcome.paymentIntentId]);

    // A retry 22 hours later: the key alone answers with the first PaymentIntent.
    await advance(22 * HOUR_S);
    const replay = await requestsOf(() => gateway.createDebit(input));
    expect(value(replay.result).paymentIntentId).toBe(outcome.paymentIntentId);
    expect(lists(replay.requests, "/v1/payment_intents")).toBe(0);
    expect(creates(replay.requests, "/v1/payment_intents")).toBe(1);

    // 25 hours after the effect was decided: Stripe has forgotten the key (24 h after its
    // first use, on its clock), so only the look-up can find the first PaymentIntent.
    await advance(3 * HOUR_S);
    const late = await requestsOf(() => gateway.createDebit(input));
    expect(value(late.result).paymentIntentId).toBe(outcome.paymentIntentId);
    expect(lists(late.requests, "/v1/payment_intents")).toBe(1);
    expect(creates(late.requests, "/v1/payment_intents")).toBe(0);
    expect(await paymentIntentsOf(input.customerId)).toHaveLength(1);

    // What the look-up prevented: a gateway that wrongly trusted the key (its clock a day
    // behind) now debits the member a second time.
    const behind = new StripePaymentGateway(harness.stripe, {
      clock: { now: () => clock.now() - 24 * HOUR_S * 1000 },
    });
    const doubled = value(await behind.createDebit(input));
    expect(doubled.paymentIntentId).not.toBe(outcome.paymentIntentId);
    expect(await paymentIntentsOf(input.customerId)).toHaveLength(2);
  });

  it("without effectCreatedAt (a caller that does not say), or with one far ahead of the clock: the look-up, as before", async () => {
    const input = await debitInput();
    const unknown = await requestsOf(() => gateway.createDebit(input));
    expect(lists(unknown.requests, "/v1/payment_intents")).toBe(1);
    expect(creates(unknown.requests, "/v1/payment_intents")).toBe(1);

    const ahead = await requestsOf(() =>
      gateway.createDebit({ ...input, effectCreatedAt: clock.now() + 2 * HOUR_S * 1000 }),
    );
    expect(lists(ahead.requests, "/v1/payment_intents")).toBe(1);
    expect(value(ahead.result).paymentIntentId).toBe(value(unknown.result).paymentIntentId);
    expect(await paymentIntentsOf(input.customerId)).toHaveLength(1);
  });

  it("a clock moved forward more than a day (the simulation's jumps) brings the look-up back", async () => {
    const input = { ...(await debitInput()), effectCreatedAt: clock.now() };
    const { paymentIntentId } = value(await gateway.createDebit(input));
    await advance(7 * 24 * HOUR_S);
    const after = await requestsOf(() => gateway.createDebit(input));
    expect(lists(after.requests, "/v1/payment_intents")).toBe(1);
    expect(value(after.result).paymentIntentId).toBe(paymentIntentId);
    expect(await paymentIntentsOf(input.customerId)).toHaveLength(1);
  });
});

describe("a transfer: the same rule", () => {
  it("fresh: no list request and one transfer; a retry within the window replays; past it the look-up finds the transfer", async () => {
    const debit = await debitInput();
    const { paymentIntentId } = value(await gateway.createDebit(debit));
    await advance(SETTLEMENT_SECONDS);
    const settled = value(await gateway.getDebit(paymentIntentId));
    if (settled.status !== "succeeded") throw new Error(`the debit is ${settled.status}`);
    const input = {
      idempotencyKey: `${debit.references.roundId}:transfer:1`,
      destinationAccountId: await harness.driver.connectedAccount({ canReceive: true }),
      amount: money(5_000, "AUD"),
      sourceChargeId: settled.chargeId,
      transferGroup: debit.transferGroup,
      references: debit.references,
      effectCreatedAt: clock.now(),
    };
    const transfersInGroup = async () =>
      (await harness.stripe.transfers.list({ transfer_group: input.transferGroup, limit: 100 })).data;

    const first = await requestsOf(() => gateway.createTransfer(input));
    const { transferId } = value(first.result);
    expect(lists(first.requests, "/v1/transfers")).toBe(0);
    expect(creates(first.requests, "/v1/transfers")).toBe(1);

    await advance(HOUR_S);
    const replay = await requestsOf(() => gateway.createTransfer(input));
    expect(value(replay.result).transferId).toBe(transferId);
    expect(lists(replay.requests, "/v1/transfers")).toBe(0);

    await advance(24 * HOUR_S);
    const late = await requestsOf(() => gateway.createTransfer(input));
    expect(value(late.result).transferId).toBe(transferId);
    expect(lists(late.requests, "/v1/transfers")).toBe(1);
    expect(creates(late.requests, "/v1/transfers")).toBe(0);
    expect((await transfersInGroup()).map((t) => t.id)).toEqual([transferId]);
  });
});

describe("a person's customer: looked for only on a retry the key may no longer cover, never further back than its first request", () => {
  const customersOf = async (personId: string) =>
    (await harness.stripe.customers.list({ limit: 100 })).data.filter(
      (c) => c.metadata?.person_id === personId,
    );

  it("a first request makes the customer under its key with no list; a replay a day later finds it (no second customer)", async () => {
    const personId = unique("person");
    const requestedAt = clock.now();
    // What ensureCustomer sends: when the first request was made, and the bound it gives.
    const input = {
      idempotencyKey: `person:${personId}:customer`,
      name: personId,
      references: { personId },
      effectCreatedAt: requestedAt,
      notBefore: requestedAt,
    };
    const first = await requestsOf(() => gateway.createCustomer(input));
    const customerId = value(first.result).customerId;
    expect(first.requests).toEqual(["POST /v1/customers"]);

    // A retry within the window: the key's replay, still no list.
    await advance(22 * HOUR_S);
    const retry = await requestsOf(() => gateway.createCustomer(input));
    expect({ customerId: value(retry.result).customerId, requests: retry.requests }).toEqual({
      customerId,
      requests: ["POST /v1/customers"],
    });

    // Other people's customers made meanwhile; then the replay after Stripe forgot the key.
    for (const other of ["a", "b"])
      value(
        await gateway.createCustomer({
          idempotencyKey: `person:${personId}${other}:customer`,
          name: other,
          references: { personId: `${personId}${other}` },
          effectCreatedAt: clock.now(),
          notBefore: clock.now(),
        }),
      );
    await advance(3 * HOUR_S);
    const late = await requestsOf(() => gateway.createCustomer(input));
    expect({ customerId: value(late.result).customerId, requests: late.requests }).toEqual({
      customerId,
      requests: ["GET /v1/customers"],
    });
    expect((await customersOf(personId)).map((c) => c.id)).toEqual([customerId]);
  });

  it("a look-up (the first request unknown) reads only customers made since its bound, less an hour", async () => {
    // Customers made before the person's first request cannot be theirs: 101 of them, more
    // than one page.
    await Promise.all(
      Array.from({ length: 101 }, (_, i) => harness.stripe.customers.create({ name: `old ${i}` })),
    );
    await advance(2 * HOUR_S);
    const personId = unique("person");
    const notBefore = clock.now();
    const from = sentWithQuery.length;
    const made = value(
      await gateway.createCustomer({
        idempotencyKey: `person:${personId}:customer`,
        name: personId,
        references: { personId },
        notBefore,
      }),
    );
    const requests = sentWithQuery.slice(from);
    // One page read (not the 101 older customers page after page), bounded by time.
    expect(requests).toEqual([
      `GET /v1/customers?created[gte]=${notBefore / 1000 - HOUR_S}&limit=100`,
      "POST /v1/customers",
    ]);
    expect((await customersOf(personId)).map((c) => c.id)).toEqual([made.customerId]);
  });
});

describe("the gateway's options", () => {
  it("refuses a trust window longer than Stripe keeps keys", () => {
    expect(() => new StripePaymentGateway(harness.stripe, { keyTrustedForMs: 25 * HOUR_S * 1000 })).toThrow(
      RangeError,
    );
  });
});
