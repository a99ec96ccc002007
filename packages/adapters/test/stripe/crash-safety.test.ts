import { type DebitOutcome, type GatewayError, money, type PaymentGateway } from "@susu/domain";
import type { ResultAsync } from "neverthrow";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StripePaymentGateway } from "../../src/stripe/index.js";
import { clientConfig, type StripeHarness, startStripeHarness } from "./emulator-harness.js";

// The window this file is about: Stripe has done the work and answered, and the process
// dies before the answer is recorded (the outbox row is still pending). The dispatcher
// then runs the same effect again, from a new process, with the same effect id. Exactly
// one PaymentIntent / Transfer may exist at Stripe afterwards.

/** Thrown where the process "dies": after the Stripe call returned, before anything was recorded. */
class SimulatedCrash extends Error {
  constructor(operation: string) {
    super(`process died after ${operation} returned, before its result was recorded`);
    this.name = "SimulatedCrash";
  }
}

type Operation = "createDebit" | "createTransfer";

/**
 * The real gateway, except that `operation` waits for Stripe's answer and then throws,
 * `crashes` times. The answer is lost with the process: nothing of this instance survives.
 */
function crashingAfterCall(
  config: ReturnType<typeof clientConfig>,
  operation: Operation,
  crashes = 1,
): PaymentGateway {
  const real = new StripePaymentGateway(config);
  let left = crashes;
  const crashAfter = <T>(call: () => ResultAsync<T, GatewayError>): ResultAsync<T, GatewayError> =>
    call().map((result) => {
      if (left > 0) {
        left -= 1;
        throw new SimulatedCrash(operation);
      }
      return result;
    });
  return {
    createCustomer: (input) => real.createCustomer(input),
    createDebitSetup: (input) => real.createDebitSetup(input),
    getMandate: (id) => real.getMandate(id),
    createDebit: (input) =>
      operation === "createDebit" ? crashAfter(() => real.createDebit(input)) : real.createDebit(input),
    createCardPayment: (input) => real.createCardPayment(input),
    refund: (input) => real.refund(input),
    createTransfer: (input) =>
      operation === "createTransfer"
        ? crashAfter(() => real.createTransfer(input))
        : real.createTransfer(input),
    findTransfer: (input) => real.findTransfer(input),
    findDebit: (input) => real.findDebit(input),
    findRefund: (input) => real.findRefund(input),
    cancelPayment: (input) => real.cancelPayment(input),
    reverseTransfer: (input) => real.reverseTransfer(input),
    createConnectedAccount: (input) => real.createConnectedAccount(input),
    createOnboardingLink: (input) => real.createOnboardingLink(input),
    getConnectedAccount: (id) => real.getConnectedAccount(id),
    createCheckoutSession: (input) => real.createCheckoutSession(input),
    expireCheckoutSession: (input) => real.expireCheckoutSession(input),
    getPayment: (id) => real.getPayment(id),
    getAccountBalance: (id) => real.getAccountBalance(id),
    createPayout: (input) => real.createPayout(input),
    getPayout: (input) => real.getPayout(input),
    findPayoutByKey: (input) => real.findPayoutByKey(input),
    createPaymentMethodSetup: (input) => real.createPaymentMethodSetup(input),
    getPaymentMethod: (id) => real.getPaymentMethod(id),
    detachPaymentMethod: (input) => real.detachPaymentMethod(input),
    setDefaultPaymentMethod: (input) => real.setDefaultPaymentMethod(input),
  };
}

/** What the outbox would record: the effect's result, once. */
class Journal {
  readonly recorded = new Map<string, unknown>();

  async run<T>(
    effectId: string,
    gateway: PaymentGateway,
    call: (g: PaymentGateway) => ResultAsync<T, GatewayError>,
  ): Promise<T> {
    const result = await call(gateway);
    if (result.isErr()) throw new Error(`effect ${effectId} failed: ${JSON.stringify(result.error)}`);
    this.recorded.set(effectId, result.value);
    return result.value;
  }
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

async function contributionEffect() {
  const roundId = unique("round");
  const memberId = unique("member");
  const saved = await harness.driver.customerWithMandate({ memberId, accountNumber: "000123456" });
  return {
    effectId: `${roundId}:contribution:${memberId}:attempt:1`,
    input: {
      idempotencyKey: `${roundId}:contribution:${memberId}:attempt:1`,
      ...saved,
      amount: money(10_000, "AUD"),
      transferGroup: `${roundId}:pot`,
      description: `Contribution to round ${roundId}`,
      references: { groupId: unique("group"), roundId, memberId, attempt: 1 },
    },
  };
}

/** Every PaymentIntent of the customer, read through the SDK. */
async function paymentIntentsOf(customerId: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const pi of harness.stripe.paymentIntents.list({ customer: customerId, limit: 100 }))
    ids.push(pi.id);
  return ids;
}

async function transfersIn(transferGroup: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const t of harness.stripe.transfers.list({ transfer_group: transferGroup, limit: 100 }))
    ids.push(t.id);
  return ids;
}

describe("a crash between 'Stripe call made' and 'result recorded'", () => {
  it("createDebit: the re-run finds the one PaymentIntent", async () => {
    const { effectId, input } = await contributionEffect();
    const journal = new Journal();

    const dying = crashingAfterCall(clientConfig(harness.emulator), "createDebit");
    await expect(journal.run(effectId, dying, (g) => g.createDebit(input))).rejects.toThrow(SimulatedCrash);
    expect(journal.recorded.has(effectId)).toBe(false);
    const [made] = await paymentIntentsOf(input.customerId);
    expect(made).toBeDefined();

    const restarted = new StripePaymentGateway(clientConfig(harness.emulator));
    const outcome = await journal.run(effectId, restarted, (g) => g.createDebit(input));
    expect(outcome).toEqual<DebitOutcome>({ status: "processing", paymentIntentId: made! });
    expect(await paymentIntentsOf(input.customerId)).toEqual([made]);
  });

  it("createDebit: three crashes in a row, then a clean run, still one PaymentIntent", async () => {
    const { effectId, input } = await contributionEffect();
    const journal = new Journal();
    const dying = crashingAfterCall(clientConfig(harness.emulator), "createDebit", 3);
    for (let i = 0; i < 3; i++)
      await expect(journal.run(effectId, dying, (g) => g.createDebit(input))).rejects.toThrow(SimulatedCrash);
    await journal.run(effectId, dying, (g) => g.createDebit(input));
    expect(await paymentIntentsOf(input.customerId)).toHaveLength(1);
  });

  it("createDebit: re-run after Stripe forgot the idempotency key (over 24 h later) still finds the one PaymentIntent", async () => {
    const { effectId, input } = await contributionEffect();
    const journal = new Journal();
    const dying = crashingAfterCall(clientConfig(harness.emulator), "createDebit");
    await expect(journal.run(effectId, dying, (g) => g.createDebit(input))).rejects.toThrow(SimulatedCrash);
    const [made] = await paymentIntentsOf(input.customerId);

    // 25 h later the key is gone at Stripe, and the debit has settled meanwhile.
    await harness.emulator.control.advanceClock(25 * 3_600);
    const restarted = new StripePaymentGateway(clientConfig(harness.emulator));
    const outcome = await journal.run(effectId, restarted, (g) => g.createDebit(input));
    expect(outcome.paymentIntentId).toBe(made);
    expect(await paymentIntentsOf(input.customerId)).toEqual([made]);
  });

  it("why the look-up matters: after 24 h, the same key alone makes a second PaymentIntent", async () => {
    const { input } = await contributionEffect();
    const request = {
      amount: 10_000,
      currency: "aud",
      customer: input.customerId,
      payment_method: input.paymentMethodId,
      mandate: input.mandateId,
      payment_method_types: ["au_becs_debit"],
      confirm: true,
      off_session: true,
    };
    const first = await harness.stripe.paymentIntents.create(request, {
      idempotencyKey: input.idempotencyKey,
    });
    expect(
      (await harness.stripe.paymentIntents.create(request, { idempotencyKey: input.idempotencyKey })).id,
    ).toBe(first.id);
    await harness.emulator.control.advanceClock(25 * 3_600);
    const second = await harness.stripe.paymentIntents.create(request, {
      idempotencyKey: input.idempotencyKey,
    });
    expect(second.id).not.toBe(first.id);
  });

  it("createTransfer: the re-run finds the one Transfer", async () => {
    const { input } = await contributionEffect();
    const debit = await new StripePaymentGateway(clientConfig(harness.emulator)).createDebit(input);
    await harness.driver.settle();
    const paid = await harness.gateway.getDebit(debit._unsafeUnwrap().paymentIntentId);
    const outcome = paid._unsafeUnwrap();
    if (outcome.status !== "succeeded") throw new Error("debit did not succeed");
    const destination = await harness.driver.connectedAccount({ canReceive: true });
    const roundId = input.references.roundId;
    const effectId = `${roundId}:payout:${input.references.memberId}:attempt:1`;
    const transfer = {
      idempotencyKey: effectId,
      destinationAccountId: destination,
      amount: money(10_000, "AUD"),
      sourceChargeId: outcome.chargeId,
      transferGroup: input.transferGroup,
      references: { ...input.references },
    };
    const journal = new Journal();

    const dying = crashingAfterCall(clientConfig(harness.emulator), "createTransfer");
    await expect(journal.run(effectId, dying, (g) => g.createTransfer(transfer))).rejects.toThrow(
      SimulatedCrash,
    );
    const [made] = await transfersIn(input.transferGroup);
    expect(made).toBeDefined();

    const restarted = new StripePaymentGateway(clientConfig(harness.emulator));
    expect(await journal.run(effectId, restarted, (g) => g.createTransfer(transfer))).toEqual({
      transferId: made,
    });
    expect(await transfersIn(input.transferGroup)).toEqual([made]);

    // And after the key expired too.
    await harness.emulator.control.advanceClock(25 * 3_600);
    expect(await journal.run(effectId, restarted, (g) => g.createTransfer(transfer))).toEqual({
      transferId: made,
    });
    expect(await transfersIn(input.transferGroup)).toEqual([made]);
  });
});
