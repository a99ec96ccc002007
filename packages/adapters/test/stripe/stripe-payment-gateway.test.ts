import { type GatewayError, money } from "@susu/domain";
import type { Result } from "neverthrow";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createStripeClient,
  IDEMPOTENCY_KEY_MAX_CHARS,
  StripePaymentGateway,
  stripeIdempotencyKey,
} from "../../src/stripe/index.js";
import type { BecsTestAccount } from "../contract/payment-gateway.contract.js";
import { clientConfig, type StripeHarness, startStripeHarness } from "./emulator-harness.js";

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

async function debitInput(accountNumber: BecsTestAccount = "000123456", amountMinor = 5_000) {
  const roundId = unique("round");
  const memberId = unique("member");
  const saved = await harness.driver.customerWithMandate({ memberId, accountNumber });
  return {
    idempotencyKey: `${roundId}:contribution:${memberId}:attempt:1`,
    customerId: saved.customerId,
    paymentMethodId: saved.paymentMethodId,
    mandateId: saved.mandateId,
    amount: money(amountMinor, "AUD"),
    transferGroup: `${roundId}:pot`,
    description: `Contribution to round ${roundId}`,
    references: { groupId: unique("group"), roundId, memberId, attempt: 1 },
  };
}

describe("what the gateway sends to Stripe", () => {
  it("an off-session BECS PaymentIntent with the mandate, the transfer group and the round's references", async () => {
    const input = await debitInput();
    const outcome = value(await harness.gateway.createDebit(input));
    const pi = await harness.stripe.paymentIntents.retrieve(outcome.paymentIntentId);
    expect(pi).toMatchObject({
      amount: 5_000,
      currency: "aud",
      customer: input.customerId,
      payment_method: input.paymentMethodId,
      payment_method_types: ["au_becs_debit"],
      transfer_group: input.transferGroup,
      status: "processing",
      metadata: {
        group_id: input.references.groupId,
        round_id: input.references.roundId,
        member_id: input.references.memberId,
        attempt: "1",
        effect_id: input.idempotencyKey,
      },
    });
  });

  it("re-reads a debit: processing, then succeeded with its charge", async () => {
    const input = await debitInput();
    const outcome = value(await harness.gateway.createDebit(input));
    expect(value(await harness.gateway.getDebit(outcome.paymentIntentId)).status).toBe("processing");
    await harness.driver.settle();
    const settled = value(await harness.gateway.getDebit(outcome.paymentIntentId));
    const pi = await harness.stripe.paymentIntents.retrieve(outcome.paymentIntentId);
    expect(settled).toEqual({ status: "succeeded", paymentIntentId: pi.id, chargeId: pi.latest_charge });
  });

  it("a permanent bank failure leaves the mandate inactive", async () => {
    const input = await debitInput("111111113");
    value(await harness.gateway.createDebit(input));
    await harness.driver.settle();
    expect(value(await harness.gateway.getMandate(input.mandateId)).status).toBe("inactive");
  });
});

describe("connected accounts' payout schedule", () => {
  it("each schedule susu is configured with is the account's settings.payouts.schedule, read back with the account", async () => {
    const cases = [
      [{ interval: "manual" }, { interval: "manual" }],
      [{ interval: "daily" }, { interval: "daily" }],
      [
        { interval: "weekly", weeklyAnchor: "friday" },
        { interval: "weekly", weekly_anchor: "friday" },
      ],
      [
        { interval: "monthly", monthlyAnchor: 15 },
        { interval: "monthly", monthly_anchor: 15 },
      ],
    ] as const;
    for (const [payoutSchedule, expected] of cases) {
      const { accountId } = value(
        await harness.gateway.createConnectedAccount({
          idempotencyKey: unique("account"),
          country: "AU",
          payoutSchedule,
          references: { personId: unique("person") },
        }),
      );
      const account = await harness.stripe.accounts.retrieve(accountId);
      expect(account.settings?.payouts?.schedule).toMatchObject(expected);
      expect(value(await harness.gateway.getConnectedAccount(accountId)).payoutInterval).toBe(
        payoutSchedule.interval,
      );
    }
  });
});

describe("idempotency", () => {
  it("the same key with another amount moves nothing and is not reported as a failed debit", async () => {
    const input = await debitInput();
    value(await harness.gateway.createDebit(input));
    const error = (
      await harness.gateway.createDebit({ ...input, amount: money(9_999, "AUD") })
    )._unsafeUnwrapErr();
    expect(error).toMatchObject({ type: "gateway_outcome_unknown", code: "idempotency_key_reused" });
    expect(await harness.driver.debitCount(input.transferGroup)).toBe(1);
  });

  it("an effect id longer than Stripe's key limit becomes a stable key of 255 characters", async () => {
    const long = `round_${"x".repeat(300)}:contribution:member:attempt:1`;
    const key = stripeIdempotencyKey(long);
    expect(key).toHaveLength(IDEMPOTENCY_KEY_MAX_CHARS);
    expect(stripeIdempotencyKey(long)).toBe(key);
    expect(stripeIdempotencyKey(`${long}2`)).not.toBe(key);
    expect(stripeIdempotencyKey("round_1:contribution:m:attempt:1")).toBe("round_1:contribution:m:attempt:1");

    const input = { ...(await debitInput()), idempotencyKey: long };
    const first = value(await harness.gateway.createDebit(input));
    expect(value(await harness.gateway.createDebit(input))).toEqual(first);
    expect(await harness.driver.debitCount(input.transferGroup)).toBe(1);
  });
});

describe("'already done' answers count as success", () => {
  /** A settled 50.00 AUD debit and its references. */
  async function settledDebit() {
    const input = await debitInput();
    const { paymentIntentId } = value(await harness.gateway.createDebit(input));
    await harness.driver.settle();
    return { paymentIntentId, references: input.references };
  }

  it("a refund refused as already refunded is this effect's when the refund there carries its effect id", async () => {
    const { paymentIntentId, references } = await settledDebit();
    const effectId = unique("refund");
    // An earlier run of the same effect, under a key Stripe no longer keeps: its refund is tagged with the effect's id.
    const earlier = await harness.stripe.refunds.create(
      { payment_intent: paymentIntentId, metadata: { effect_id: effectId } },
      { idempotencyKey: unique("forgotten-key") },
    );
    // effectCreatedAt just now: the gateway trusts the key and skips its look-up, so Stripe refuses the create.
    const again = value(
      await harness.gateway.refund({
        idempotencyKey: effectId,
        paymentIntentId,
        references,
        effectCreatedAt: Date.now(),
      }),
    );
    expect(again).toEqual({ refundId: earlier.id, status: "succeeded" });
    expect((await harness.stripe.refunds.list({ payment_intent: paymentIntentId })).data).toHaveLength(1);
  });

  it.each([
    { by: "a person in the dashboard (no metadata)", metadata: {} },
    { by: "another effect", metadata: { effect_id: "another-effect:refund:1:attempt:1" } },
  ])(
    "a payment refunded in full by $by is a definite refusal, never this effect's refund",
    async ({ metadata }) => {
      const { paymentIntentId, references } = await settledDebit();
      const other = await harness.stripe.refunds.create({ payment_intent: paymentIntentId, metadata });
      expect(other.status).toBe("succeeded");
      for (const effectCreatedAt of [undefined, Date.now()]) {
        const result = await harness.gateway.refund({
          idempotencyKey: unique("refund"),
          paymentIntentId,
          amount: money(5_000, "AUD"),
          references,
          ...(effectCreatedAt !== undefined ? { effectCreatedAt } : {}),
        });
        expect(result.isErr() ? result.error : result.value).toMatchObject({
          type: "gateway_definite",
          code: "charge_already_refunded",
        });
      }
      expect((await harness.stripe.refunds.list({ payment_intent: paymentIntentId })).data).toHaveLength(1);
    },
  );

  /** A transfer of 50.00 from a settled debit, to a connected account that can receive. */
  async function aTransfer(): Promise<string> {
    const input = await debitInput();
    const { paymentIntentId } = value(await harness.gateway.createDebit(input));
    await harness.driver.settle();
    const chargeId = value(await harness.gateway.getDebit(paymentIntentId));
    if (chargeId.status !== "succeeded") throw new Error("debit did not succeed");
    const destination = await harness.driver.connectedAccount({ canReceive: true });
    const { transferId } = value(
      await harness.gateway.createTransfer({
        idempotencyKey: unique("payout"),
        destinationAccountId: destination,
        amount: money(5_000, "AUD"),
        sourceChargeId: chargeId.chargeId,
        transferGroup: input.transferGroup,
        references: input.references,
      }),
    );
    return transferId;
  }

  it("a reversal refused as already reversed is this effect's when the reversal there carries its effect id", async () => {
    const transferId = await aTransfer();
    const effectId = unique("reversal");
    // An earlier run of the same effect, under a key Stripe no longer keeps.
    const earlier = await harness.stripe.transfers.createReversal(
      transferId,
      { metadata: { effect_id: effectId } },
      { idempotencyKey: unique("forgotten-key") },
    );
    const again = value(await harness.gateway.reverseTransfer({ idempotencyKey: effectId, transferId }));
    expect(again).toEqual({ reversalId: earlier.id });
  });

  it.each([
    { by: "a person in the dashboard (no metadata)", metadata: {} },
    { by: "another effect", metadata: { effect_id: "another-effect:reversal:1" } },
  ])(
    "a transfer reversed in full by $by is a definite refusal, never this effect's reversal",
    async ({ metadata }) => {
      const transferId = await aTransfer();
      await harness.stripe.transfers.createReversal(transferId, { metadata });
      const result = await harness.gateway.reverseTransfer({
        idempotencyKey: unique("reversal"),
        transferId,
        amount: money(1_000, "AUD"),
      });
      expect(result.isErr() ? result.error : result.value).toMatchObject({
        type: "gateway_definite",
        code: "transfer_already_reversed",
      });
      expect((await harness.stripe.transfers.listReversals(transferId)).data).toHaveLength(1);
    },
  );
});

describe("faults injected at the emulator, recovered by the SDK's retries with exactly one effect", () => {
  const route = "POST /v1/payment_intents";

  it.each([
    {
      name: "a 500 before the request ran",
      fault: { route, kind: "error" as const, status: 500, phase: "before" as const },
    },
    {
      name: "a 500 after the request ran (the answer lost)",
      fault: { route, kind: "error" as const, status: 503, phase: "after" as const },
    },
    {
      name: "a dropped connection after the request ran",
      fault: { route, kind: "drop" as const, phase: "after" as const },
    },
    {
      name: "a 429 that Stripe asks to retry",
      fault: { route, kind: "rate_limit" as const, shouldRetry: true },
    },
  ])("$name", async ({ fault }) => {
    const input = await debitInput();
    await harness.emulator.control.injectFault(fault);
    const outcome = value(await harness.gateway.createDebit(input));
    expect(outcome.status).toBe("processing");
    expect(await harness.driver.debitCount(input.transferGroup)).toBe(1);
    expect(await harness.emulator.control.listFaults()).toEqual([]);
  });

  it("a timeout after the request ran: the SDK's retry is answered from the stored result", async () => {
    const impatient = new StripePaymentGateway(
      clientConfig(harness.emulator, { timeoutMs: 300, maxNetworkRetries: 2 }),
    );
    const input = await debitInput();
    await harness.emulator.control.injectFault({ route, kind: "hang", phase: "after" });
    const outcome = value(await impatient.createDebit(input));
    const pi = await harness.stripe.paymentIntents.retrieve(outcome.paymentIntentId);
    expect(pi.metadata?.effect_id).toBe(input.idempotencyKey);
    expect(await harness.driver.debitCount(input.transferGroup)).toBe(1);
  });

  it("a 409 while a concurrent request holds the key: both callers get the one debit", async () => {
    const input = await debitInput();
    await harness.emulator.control.injectFault({ route, kind: "slow", delayMs: 200 });
    const [a, b] = await Promise.all([
      harness.gateway.createDebit(input),
      harness.gateway.createDebit(input),
    ]);
    expect(value(a)).toEqual(value(b));
    expect(await harness.driver.debitCount(input.transferGroup)).toBe(1);
  });

  it("with the SDK's retries spent, the outcome is unknown; retrying the effect later finds the one debit", async () => {
    const noRetries = new StripePaymentGateway(clientConfig(harness.emulator, { maxNetworkRetries: 0 }));
    const input = await debitInput();
    await harness.emulator.control.injectFault({ route, kind: "error", status: 500, phase: "after" });
    const lost = (await noRetries.createDebit(input))._unsafeUnwrapErr();
    expect(lost).toMatchObject({ type: "gateway_outcome_unknown", code: "api_error" });
    const retried = value(await noRetries.createDebit(input));
    expect(retried.status).toBe("processing");
    expect(await harness.driver.debitCount(input.transferGroup)).toBe(1);
  });

  it("transfers too: a 500 after the transfer was made is retried into the same transfer", async () => {
    const input = await debitInput();
    const { paymentIntentId } = value(await harness.gateway.createDebit(input));
    await harness.driver.settle();
    const debit = value(await harness.gateway.getDebit(paymentIntentId));
    if (debit.status !== "succeeded") throw new Error("debit did not succeed");
    const destination = await harness.driver.connectedAccount({ canReceive: true });
    await harness.emulator.control.injectFault({
      route: "POST /v1/transfers",
      kind: "error",
      status: 500,
      phase: "after",
    });
    value(
      await harness.gateway.createTransfer({
        idempotencyKey: unique("payout"),
        destinationAccountId: destination,
        amount: money(5_000, "AUD"),
        sourceChargeId: debit.chargeId,
        transferGroup: input.transferGroup,
        references: input.references,
      }),
    );
    expect(await harness.driver.transferCount(input.transferGroup)).toBe(1);
  });
});

describe("card payments (marketplace charges)", () => {
  async function cardInput(
    confirmation: Parameters<StripePaymentGateway["createCardPayment"]>[0]["confirmation"],
    destination?: { accountId: string; onBehalfOf: boolean },
  ) {
    const marketplaceChargeId = unique("mc");
    const customer = value(
      await harness.gateway.createCustomer({
        idempotencyKey: unique("customer"),
        name: "Cy",
        references: { personId: unique("person") },
        // A first request: made now, under a key Stripe keeps.
        notBefore: Date.now(),
        effectCreatedAt: Date.now(),
      }),
    );
    return {
      idempotencyKey: `${marketplaceChargeId}:payment`,
      amount: money(2_500, "AUD"),
      customerId: customer.customerId,
      confirmation,
      description: "Pottery class",
      transferGroup: `marketplace_${marketplaceChargeId}`,
      ...(destination !== undefined
        ? { destination: { ...destination, applicationFee: money(250, "AUD") } }
        : {}),
      references: { marketplaceChargeId },
    };
  }
  const saved = (paymentMethodId: string) => ({
    kind: "saved_card" as const,
    paymentMethodId,
    offSession: true as const,
  });

  it("a destination charge: confirmed off session, transfer_data, application_fee_amount, on_behalf_of, the transfer group and the charge's references", async () => {
    const account = await harness.driver.connectedAccount({ canReceive: true });
    const input = await cardInput(saved("pm_card_visa"), { accountId: account, onBehalfOf: true });
    const outcome = value(await harness.gateway.createCardPayment(input));
    const pi = await harness.stripe.paymentIntents.retrieve(outcome.paymentIntentId, {
      expand: ["latest_charge"],
    });
    expect(pi).toMatchObject({
      amount: 2_500,
      currency: "aud",
      customer: input.customerId,
      status: "succeeded",
      transfer_data: { destination: account },
      application_fee_amount: 250,
      on_behalf_of: account,
      transfer_group: input.transferGroup,
      metadata: {
        marketplace_charge_id: input.references.marketplaceChargeId,
        effect_id: input.idempotencyKey,
      },
    });
    const charge = pi.latest_charge as { transfer: string | null };
    expect(outcome).toEqual({
      status: "succeeded",
      paymentIntentId: pi.id,
      chargeId: expect.any(String),
      transferId: charge.transfer,
    });
  });

  it("the seller not the merchant of record: no on_behalf_of", async () => {
    const account = await harness.driver.connectedAccount({ canReceive: true });
    const input = await cardInput(saved("pm_card_visa"), { accountId: account, onBehalfOf: false });
    const outcome = value(await harness.gateway.createCardPayment(input));
    const pi = await harness.stripe.paymentIntents.retrieve(outcome.paymentIntentId);
    expect(pi.on_behalf_of).toBeNull();
  });

  it("a new card: a PaymentIntent left for the client, answered with its client secret", async () => {
    const input = await cardInput({ kind: "client_confirmation" });
    const outcome = value(await harness.gateway.createCardPayment(input));
    const pi = await harness.stripe.paymentIntents.retrieve(outcome.paymentIntentId);
    expect(pi.status).toBe("requires_payment_method");
    expect(outcome).toEqual({
      status: "requires_action",
      paymentIntentId: pi.id,
      clientSecret: pi.client_secret,
    });
  });

  it("3-D Secure on session: the payment waits for the customer to authenticate, with the client secret", async () => {
    const input = await cardInput({ kind: "client_confirmation" });
    const outcome = value(await harness.gateway.createCardPayment(input));
    await harness.stripe.paymentIntents.confirm(outcome.paymentIntentId, {
      payment_method: "pm_card_authenticationRequired",
    });
    const pi = await harness.stripe.paymentIntents.retrieve(outcome.paymentIntentId);
    expect(pi.status).toBe("requires_action");
    // The effect's answer, replayed after the customer started: read again, it says the same.
    expect(value(await harness.gateway.createCardPayment(input))).toEqual({
      status: "requires_action",
      paymentIntentId: pi.id,
      clientSecret: pi.client_secret,
    });
  });
});

describe("an effect id Node would refuse in a header", () => {
  it("becomes a stable printable ASCII key (a readable part and a hash), so Node never refuses the header", async () => {
    for (const id of ["person:ana:debit_setup:😀", "setup:Ā", "a\r\nb", "x\u0000y"]) {
      const key = stripeIdempotencyKey(id);
      expect(key, JSON.stringify(id)).toMatch(/^[\x20-\x7E]{1,255}$/);
      expect(stripeIdempotencyKey(id)).toBe(key);
    }
    // Ids that differ only where they are not ASCII keep different keys.
    expect(stripeIdempotencyKey("setup:Ā")).not.toBe(stripeIdempotencyKey("setup:ā"));
    expect(stripeIdempotencyKey(`${"é".repeat(400)}`)).toHaveLength(IDEMPOTENCY_KEY_MAX_CHARS);
    // What Node always sent as it is (tab, U+0080–U+00FF) keeps its key: an effect stored
    // before this rule repeats its call under the key it was first sent with.
    for (const id of ["person:ana:debit_setup:caf\u00e9", "a\tb", "\u00ff"])
      expect(stripeIdempotencyKey(id), JSON.stringify(id)).toBe(id);

    // Sent to Stripe: the set-up is made, and the same id repeats it.
    const customer = await harness.stripe.customers.create({});
    const input = {
      customerId: customer.id,
      idempotencyKey: "person:ana:debit_setup:😀",
      references: { personId: "ana" },
    };
    const first = value(await harness.gateway.createDebitSetup(input));
    expect(value(await harness.gateway.createDebitSetup(input)).setupIntentId).toBe(first.setupIntentId);
  });
});

describe("createStripeClient", () => {
  it("refuses network settings that are not decisions", () => {
    const base = { secretKey: "sk_test_x", timeoutMs: 1_000, maxNetworkRetries: 1 };
    expect(() => createStripeClient({ ...base, timeoutMs: 0 })).toThrow(RangeError);
    expect(() => createStripeClient({ ...base, maxNetworkRetries: -1 })).toThrow(RangeError);
    expect(() => createStripeClient({ ...base, maxNetworkRetries: 1.5 })).toThrow(RangeError);
    expect(() => stripeIdempotencyKey("")).toThrow(RangeError);
  });
});

describe("expiring a held payment's Checkout Session (its backstop timer)", () => {
  async function aSession(label: string): Promise<string> {
    const key = unique(label);
    return value(
      await harness.gateway.createCheckoutSession({
        idempotencyKey: `${key}:checkout_session`,
        amount: money(100_00, "AUD"),
        description: "Two nights",
        customerEmail: "cy@example.com",
        transferGroup: `held_${key}`,
        expiresAt: (await harness.emulator.control.now()) * 1000 + 2 * 3_600_000,
        successUrl: "https://app.example/done",
        cancelUrl: "https://app.example/done",
        references: { heldPaymentId: key },
      }),
    ).sessionId;
  }

  it("an open session is expired, and a retry under the same key answers the same", async () => {
    const sessionId = await aSession("hp_open");
    const input = { idempotencyKey: `${sessionId}:expire`, sessionId };
    expect(value(await harness.gateway.expireCheckoutSession(input))).toEqual({ status: "expired" });
    expect((await harness.stripe.checkout.sessions.retrieve(sessionId)).status).toBe("expired");
    expect(value(await harness.gateway.expireCheckoutSession(input))).toEqual({ status: "expired" });
  });

  it("a session the customer completed first is refused by Stripe: the answer is complete, with its PaymentIntent", async () => {
    const sessionId = await aSession("hp_paid");
    await harness.emulator.control.completeCheckoutSession(sessionId, { paymentMethod: "pm_card_visa" });
    const session = await harness.stripe.checkout.sessions.retrieve(sessionId);
    expect(
      value(
        await harness.gateway.expireCheckoutSession({ idempotencyKey: `${sessionId}:expire`, sessionId }),
      ),
    ).toEqual({ status: "complete", paymentIntentId: String(session.payment_intent) });
    expect((await harness.stripe.checkout.sessions.retrieve(sessionId)).status).toBe("complete");
  });

  it("a session Stripe does not know is a definite refusal", async () => {
    const answer = await harness.gateway.expireCheckoutSession({
      idempotencyKey: unique("hp_none"),
      sessionId: "cs_test_nobody",
    });
    expect(answer._unsafeUnwrapErr()).toMatchObject({ type: "gateway_definite", code: "resource_missing" });
  });
});
