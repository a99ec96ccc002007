import {
  type GatewayError,
  type Money,
  money,
  type PaymentFact,
  type PaymentGateway,
  type RoundInput,
  routeToRound,
} from "@susu/domain";
import type { Result } from "neverthrow";
import { beforeAll, describe, expect, it } from "vitest";

/**
 * Stripe's BECS test bank accounts (BSB 000-000) that every gateway must reproduce, and
 * how a debit from each ends. From Stripe's BECS Direct Debit testing guide (STRIPE.md).
 */
export const BECS_TEST_ACCOUNTS = {
  "000123456": { succeeds: true },
  "111111113": { failureCode: "account_closed" },
  "111111116": { failureCode: "no_account" },
  "222222227": { failureCode: "refer_to_customer" },
  "333333335": { failureCode: "debit_not_authorized" },
} as const satisfies Record<string, { succeeds: true } | { failureCode: string }>;

/** A test bank account number from {@link BECS_TEST_ACCOUNTS}. */
export type BecsTestAccount = keyof typeof BECS_TEST_ACCOUNTS;

/** A customer's saved BECS payment method and its active mandate. */
export interface SavedMandate {
  readonly customerId: string;
  readonly paymentMethodId: string;
  readonly mandateId: string;
}

/**
 * What a test needs to make happen outside the port: what a member does in the app,
 * what Stripe's onboarding pages and the bank do, and time passing.
 */
export interface PaymentGatewayDriver {
  /** A customer whose BECS mandate on `accountNumber` is active; debits end as the table says. */
  customerWithMandate(input: {
    readonly memberId: string;
    readonly accountNumber: BecsTestAccount;
  }): Promise<SavedMandate>;
  /**
   * Lets BECS settlement time pass, then returns the facts the provider reported since the
   * previous call, as payment facts (for Stripe: its events, through the event translator).
   */
  settle(): Promise<readonly PaymentFact[]>;
  /** A connected account that can (or cannot yet) receive transfers. */
  connectedAccount(input: { readonly canReceive: boolean }): Promise<string>;
  /** The account holder finishes onboarding: transfers and payouts become possible. */
  completeOnboarding(accountId: string): Promise<void>;
  /** The account's `transfers` capability goes inactive. */
  disableTransfers(accountId: string): Promise<void>;
  /** How many debits (PaymentIntents) the provider holds in a transfer group. */
  debitCount(transferGroup: string): Promise<number>;
  /** How many transfers the provider holds in a transfer group. */
  transferCount(transferGroup: string): Promise<number>;
  /** The provider's clock now (epoch ms): checkout expiries are set against it. */
  now(): Promise<number>;
  /** The customer pays an open checkout page by card; returns the payment's PaymentIntent id. */
  payCheckout(sessionId: string): Promise<string>;
  /** Credits a connected account's available balance (the platform paid it, at once). */
  fund(accountId: string, amount: Money): Promise<void>;
  /** A customer to charge by card (a Stripe customer; cards are Stripe's test payment methods). */
  cardCustomer(): Promise<string>;
  /**
   * The customer confirms, on session, a card payment that waits for them (Stripe.js with the
   * client secret), with a test card (`pm_card_visa`, …); its outcome comes with the next settle.
   */
  confirmCardPayment(paymentIntentId: string, paymentMethodId: string): Promise<void>;
}

/** A gateway under test and its driver. */
export interface PaymentGatewayHarness {
  readonly gateway: PaymentGateway;
  readonly driver: PaymentGatewayDriver;
}

function value<T>(result: Result<T, GatewayError>): T {
  if (result.isErr()) throw new Error(`expected success, got ${JSON.stringify(result.error)}`);
  return result.value;
}

function failure<T>(result: Result<T, GatewayError>): GatewayError {
  if (result.isOk()) throw new Error(`expected a GatewayError, got ${JSON.stringify(result.value)}`);
  return result.error;
}

/**
 * The behaviour susu relies on from any {@link PaymentGateway}: BECS debits that stay
 * processing and then end as the bank says, idempotency by key, transfers funded by a
 * charge, refunds, reversals and connected accounts. `setup` runs once; tests share the
 * gateway and keep apart by unique ids.
 */
export function paymentGatewayContract(name: string, setup: () => Promise<PaymentGatewayHarness>): void {
  describe(`PaymentGateway contract: ${name}`, () => {
    let gateway: PaymentGateway;
    let driver: PaymentGatewayDriver;
    let seq = 0;
    const run = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
    const unique = (label: string): string => `${label}_${run}_${++seq}`;

    beforeAll(async () => {
      ({ gateway, driver } = await setup());
    });

    const aud = (amountMinor: number) => money(amountMinor, "AUD");

    describe("payouts of a connected account", () => {
      it("shows the balance, pays it out once per key, and refuses more than is available", async () => {
        const accountId = await driver.connectedAccount({ canReceive: true });
        await driver.fund(accountId, aud(80_00));
        expect(value(await gateway.getAccountBalance(accountId)).available).toEqual([aud(80_00)]);
        const input = {
          idempotencyKey: unique("payout"),
          accountId,
          amount: aud(50_00),
          description: "susu payout",
          references: { personId: "p_contract" },
        };
        const first = value(await gateway.createPayout(input));
        expect(first).toMatchObject({ amount: aud(50_00), status: "pending" });
        expect(first.payoutId).toMatch(/^po_/);
        expect(first.arrivalDate).toBeGreaterThan(0);
        expect(value(await gateway.createPayout(input))).toEqual(first);
        expect(value(await gateway.getAccountBalance(accountId)).available).toEqual([aud(30_00)]);
        // Found by the key it was made under (its answer lost): that payout, none under another key.
        const since = first.createdAt - 60_000;
        expect(
          value(
            await gateway.findPayoutByKey({
              accountId,
              idempotencyKey: input.idempotencyKey,
              createdSince: since,
            }),
          ),
        ).toMatchObject({
          payoutId: first.payoutId,
          accountId,
          amountMinor: 50_00,
          currency: "AUD",
          status: "pending",
          automatic: false,
          createdAt: first.createdAt,
        });
        expect(
          value(
            await gateway.findPayoutByKey({
              accountId,
              idempotencyKey: unique("payout"),
              createdSince: since,
            }),
          ),
        ).toBeUndefined();
        // The key again with another amount: the money already moved on other terms.
        expect(failure(await gateway.createPayout({ ...input, amount: aud(10_00) }))).toMatchObject({
          type: "gateway_outcome_unknown",
          code: "idempotency_key_reused",
        });
        expect(
          failure(
            await gateway.createPayout({ ...input, idempotencyKey: unique("payout"), amount: aud(30_01) }),
          ),
        ).toMatchObject({ type: "gateway_definite", code: "balance_insufficient" });
        expect(value(await gateway.getAccountBalance(accountId)).available).toEqual([aud(30_00)]);
        // A run's payout: the same run asking again gets it back; another run, even for the
        // same amount, is refused (never answered with a payout it did not make).
        const ofRun = {
          ...input,
          idempotencyKey: unique("payout"),
          amount: aud(10_00),
          runId: "payoutrun_1",
        };
        const made = value(await gateway.createPayout(ofRun));
        expect(value(await gateway.createPayout(ofRun))).toEqual(made);
        expect(failure(await gateway.createPayout({ ...ofRun, runId: "payoutrun_2" }))).toMatchObject({
          type: "gateway_outcome_unknown",
          code: "idempotency_key_reused",
        });
        expect(value(await gateway.getAccountBalance(accountId)).available).toEqual([aud(20_00)]);
      });

      it("refuses a payout from an account that cannot pay out yet", async () => {
        const accountId = await driver.connectedAccount({ canReceive: false });
        await driver.fund(accountId, aud(10_00));
        const refused = failure(
          await gateway.createPayout({
            idempotencyKey: unique("payout"),
            accountId,
            amount: aud(10_00),
            description: "susu payout",
            references: {},
          }),
        );
        expect(refused).toMatchObject({ type: "gateway_definite", code: "payouts_not_allowed" });
      });
    });

    /** One member's debit in a fresh round; `attempt` 1. */
    async function debit(accountNumber: BecsTestAccount, amountMinor = 10_000) {
      const roundId = unique("round");
      const memberId = unique("member");
      const saved = await driver.customerWithMandate({ memberId, accountNumber });
      const input = {
        idempotencyKey: `${roundId}:contribution:${memberId}:attempt:1`,
        customerId: saved.customerId,
        paymentMethodId: saved.paymentMethodId,
        mandateId: saved.mandateId,
        amount: aud(amountMinor),
        transferGroup: `${roundId}:pot`,
        description: `Contribution to round ${roundId}`,
        references: { groupId: unique("group"), roundId, memberId, attempt: 1 },
      };
      const outcome = value(await gateway.createDebit(input));
      return { roundId, memberId, input, outcome, saved };
    }

    /** The inputs the facts mean for one round, as the domain's router routes them. */
    function factsFor(facts: readonly PaymentFact[], roundId: string): RoundInput[] {
      return facts.flatMap((f) => {
        if (!("refs" in f) || f.refs === undefined) return [];
        const route = routeToRound(f as Parameters<typeof routeToRound>[0]);
        return route.to === "round" && route.roundId === roundId ? [route.input] : [];
      });
    }

    /** A debit from 000123456 that has settled, with its charge. */
    async function succeededDebit(amountMinor = 10_000) {
      const d = await debit("000123456", amountMinor);
      const facts = factsFor(await driver.settle(), d.roundId);
      const succeeded = facts.find((f) => f.type === "debit_succeeded");
      if (succeeded?.type !== "debit_succeeded")
        throw new Error(`no debit_succeeded in ${JSON.stringify(facts)}`);
      return { ...d, paymentIntentId: succeeded.paymentIntentId, chargeId: succeeded.chargeId };
    }

    describe("customers and mandates", () => {
      it("creates a customer once per idempotency key", async () => {
        const input = {
          idempotencyKey: unique("customer"),
          name: "Ada Member",
          email: "ada@example.com",
          references: { groupId: unique("group"), memberId: unique("member") },
          // A first request: made now, under a key Stripe keeps.
          notBefore: Date.now(),
          effectCreatedAt: Date.now(),
        };
        const first = value(await gateway.createCustomer(input));
        const again = value(await gateway.createCustomer(input));
        expect(first.customerId).toMatch(/^cus_/);
        expect(again).toEqual(first);
      });

      it("starts a BECS set-up that the member finishes with the client secret", async () => {
        const customer = value(
          await gateway.createCustomer({
            idempotencyKey: unique("customer"),
            name: "Bo Member",
            references: { groupId: unique("group") },
            // A first request: made now, under a key Stripe keeps.
            notBefore: Date.now(),
            effectCreatedAt: Date.now(),
          }),
        );
        const setup = value(
          await gateway.createDebitSetup({
            idempotencyKey: unique("setup"),
            customerId: customer.customerId,
            references: { groupId: unique("group") },
          }),
        );
        expect(setup.setupIntentId).toMatch(/^seti_/);
        expect(setup.clientSecret).toContain(setup.setupIntentId);
      });

      it("reads an active mandate with its payment method", async () => {
        const saved = await driver.customerWithMandate({
          memberId: unique("member"),
          accountNumber: "000123456",
        });
        const mandate = value(await gateway.getMandate(saved.mandateId));
        expect(mandate).toEqual({
          mandateId: saved.mandateId,
          status: "active",
          paymentMethodId: saved.paymentMethodId,
        });
      });
    });

    describe("BECS debits", () => {
      it.each(
        Object.entries(BECS_TEST_ACCOUNTS) as [
          BecsTestAccount,
          (typeof BECS_TEST_ACCOUNTS)[BecsTestAccount],
        ][],
      )("a debit from %s is processing, then ends as the bank says", async (accountNumber, expected) => {
        const d = await debit(accountNumber);
        expect(d.outcome).toEqual({ status: "processing", paymentIntentId: expect.any(String) });
        const facts = factsFor(await driver.settle(), d.roundId);
        const base = { memberId: d.memberId, attempt: 1, paymentIntentId: d.outcome.paymentIntentId };
        if ("succeeds" in expected)
          expect(facts).toContainEqual({ type: "debit_succeeded", ...base, chargeId: expect.any(String) });
        else
          expect(facts).toContainEqual({ type: "debit_failed", ...base, failureCode: expected.failureCode });
        expect(facts.filter((f) => f.type === "debit_succeeded" || f.type === "debit_failed")).toHaveLength(
          1,
        );
      });

      it("the same idempotency key twice makes one debit and answers the same", async () => {
        const d = await debit("000123456");
        const again = value(await gateway.createDebit(d.input));
        expect(again).toEqual(d.outcome);
        expect(await driver.debitCount(d.input.transferGroup)).toBe(1);
      });

      it("the same key for a different debit is refused as outcome unknown, and moves nothing", async () => {
        const d = await debit("000123456");
        const reused = await gateway.createDebit({
          ...d.input,
          amount: money(d.input.amount.amountMinor + 100, "AUD"),
        });
        expect(failure(reused)).toMatchObject({
          type: "gateway_outcome_unknown",
          code: "idempotency_key_reused",
        });
        expect(await driver.debitCount(d.input.transferGroup)).toBe(1);
      });

      it("another attempt (another key) is another debit", async () => {
        const d = await debit("000123456");
        const second = value(
          await gateway.createDebit({
            ...d.input,
            idempotencyKey: `${d.roundId}:contribution:${d.memberId}:attempt:2`,
            references: { ...d.input.references, attempt: 2 },
          }),
        );
        expect(second.paymentIntentId).not.toBe(d.outcome.paymentIntentId);
        expect(await driver.debitCount(d.input.transferGroup)).toBe(2);
      });

      it("finds the debit a key made among the customer's payments, as it stands now, and none for a key that made nothing", async () => {
        const d = await debit("000123456");
        const find = (attempt: number) =>
          gateway.findDebit({
            idempotencyKey: `${d.roundId}:contribution:${d.memberId}:attempt:${attempt}`,
            customerId: d.input.customerId,
          });
        expect(value(await find(1))).toEqual(d.outcome);
        expect(value(await find(2))).toBeUndefined();
        const settled = factsFor(await driver.settle(), d.roundId).find((f) => f.type === "debit_succeeded");
        if (settled?.type !== "debit_succeeded") throw new Error("the debit did not succeed");
        expect(value(await find(1))).toEqual({
          status: "succeeded",
          paymentIntentId: d.outcome.paymentIntentId,
          chargeId: settled.chargeId,
        });
        // Finding moves nothing.
        expect(await driver.debitCount(d.input.transferGroup)).toBe(1);
      });
    });

    describe("transfers", () => {
      it("pays a ready account, funded by the contribution's charge, once per key", async () => {
        const d = await succeededDebit();
        const destination = await driver.connectedAccount({ canReceive: true });
        const input = {
          idempotencyKey: `${d.roundId}:payout:${d.memberId}:attempt:1`,
          destinationAccountId: destination,
          amount: aud(10_000),
          sourceChargeId: d.chargeId,
          transferGroup: d.input.transferGroup,
          references: {
            groupId: d.input.references.groupId,
            roundId: d.roundId,
            memberId: d.memberId,
            attempt: 1,
          },
        };
        const first = value(await gateway.createTransfer(input));
        const again = value(await gateway.createTransfer(input));
        expect(first.transferId).toMatch(/^tr_/);
        expect(again).toEqual(first);
        expect(await driver.transferCount(d.input.transferGroup)).toBe(1);
      });

      it("finds the transfer an earlier key made in its transfer group, and none for a key that made nothing", async () => {
        const d = await succeededDebit();
        const destination = await driver.connectedAccount({ canReceive: true });
        const refs = { groupId: d.input.references.groupId, roundId: d.roundId, memberId: d.memberId };
        const key = (n: number) => `${d.roundId}:payout:${d.memberId}:attempt:${n}`;
        const transferGroup = d.input.transferGroup;
        expect(value(await gateway.findTransfer({ idempotencyKey: key(1), transferGroup }))).toBeUndefined();
        const made = value(
          await gateway.createTransfer({
            idempotencyKey: key(1),
            destinationAccountId: destination,
            amount: aud(4_000),
            sourceChargeId: d.chargeId,
            transferGroup,
            references: { ...refs, attempt: 1 },
          }),
        );
        const other = value(
          await gateway.createTransfer({
            idempotencyKey: key(2),
            destinationAccountId: destination,
            amount: aud(3_000),
            sourceChargeId: d.chargeId,
            transferGroup,
            references: { ...refs, attempt: 2 },
          }),
        );
        expect(value(await gateway.findTransfer({ idempotencyKey: key(1), transferGroup }))).toEqual(made);
        expect(value(await gateway.findTransfer({ idempotencyKey: key(2), transferGroup }))).toEqual(other);
        expect(value(await gateway.findTransfer({ idempotencyKey: key(3), transferGroup }))).toBeUndefined();
        // Another group's transfers are not this group's.
        expect(
          value(await gateway.findTransfer({ idempotencyKey: key(1), transferGroup: `${transferGroup}_x` })),
        ).toBeUndefined();
      });

      it("refuses, definitely, an account that cannot receive", async () => {
        const d = await succeededDebit();
        const destination = await driver.connectedAccount({ canReceive: false });
        const error = failure(
          await gateway.createTransfer({
            idempotencyKey: `${d.roundId}:payout:${d.memberId}:attempt:1`,
            destinationAccountId: destination,
            amount: aud(10_000),
            sourceChargeId: d.chargeId,
            transferGroup: d.input.transferGroup,
            references: {
              groupId: d.input.references.groupId,
              roundId: d.roundId,
              memberId: d.memberId,
              attempt: 1,
            },
          }),
        );
        expect(error).toMatchObject({
          type: "gateway_definite",
          code: "insufficient_capabilities_for_transfer",
        });
        expect(await driver.transferCount(d.input.transferGroup)).toBe(0);
      });

      it("reverses a transfer, fully or in part, once per key", async () => {
        const d = await succeededDebit();
        const destination = await driver.connectedAccount({ canReceive: true });
        const transfer = value(
          await gateway.createTransfer({
            idempotencyKey: `${d.roundId}:payout:${d.memberId}:attempt:1`,
            destinationAccountId: destination,
            amount: aud(10_000),
            sourceChargeId: d.chargeId,
            transferGroup: d.input.transferGroup,
            references: {
              groupId: d.input.references.groupId,
              roundId: d.roundId,
              memberId: d.memberId,
              attempt: 1,
            },
          }),
        );
        const partial = {
          idempotencyKey: `${transfer.transferId}:reversal:1`,
          transferId: transfer.transferId,
          amount: aud(2_500),
        };
        const first = value(await gateway.reverseTransfer(partial));
        expect(value(await gateway.reverseTransfer(partial))).toEqual(first);
        const rest = value(
          await gateway.reverseTransfer({
            idempotencyKey: `${transfer.transferId}:reversal:2`,
            transferId: transfer.transferId,
          }),
        );
        expect(rest.reversalId).not.toBe(first.reversalId);
      });
    });

    describe("refunds", () => {
      it("refunds a settled debit in full, once per key", async () => {
        const d = await succeededDebit();
        const input = {
          idempotencyKey: `${d.roundId}:refund:${d.memberId}`,
          paymentIntentId: d.paymentIntentId,
          references: { groupId: d.input.references.groupId, roundId: d.roundId, memberId: d.memberId },
        };
        const refund = value(await gateway.refund(input));
        expect(refund).toEqual({ refundId: expect.any(String), status: "succeeded" });
        expect(value(await gateway.refund(input))).toEqual(refund);
      });

      it("refunds in parts, each part its own refund", async () => {
        const d = await succeededDebit();
        const references = { groupId: d.input.references.groupId, roundId: d.roundId, memberId: d.memberId };
        const first = value(
          await gateway.refund({
            idempotencyKey: unique("refund"),
            paymentIntentId: d.paymentIntentId,
            amount: aud(3_000),
            references,
          }),
        );
        const second = value(
          await gateway.refund({
            idempotencyKey: unique("refund"),
            paymentIntentId: d.paymentIntentId,
            amount: aud(7_000),
            references,
          }),
        );
        expect(first.status).toBe("succeeded");
        expect(second.status).toBe("succeeded");
        expect(second.refundId).not.toBe(first.refundId);
      });

      it("a refund of a debit still processing waits for it, then succeeds with it", async () => {
        const d = await debit("000123456");
        const refund = value(
          await gateway.refund({
            idempotencyKey: `${d.roundId}:refund:${d.memberId}`,
            paymentIntentId: d.outcome.paymentIntentId,
            references: { groupId: d.input.references.groupId, roundId: d.roundId, memberId: d.memberId },
          }),
        );
        expect(refund).toEqual({ refundId: expect.any(String), status: "pending" });
        const facts = factsFor(await driver.settle(), d.roundId);
        expect(facts).toContainEqual({
          type: "refund_succeeded",
          memberId: d.memberId,
          refundId: refund.refundId,
        });
      });

      it("finds the refund a key made among the payment's refunds, as it stands now, and none for a key that made nothing", async () => {
        const d = await debit("000123456");
        const paymentIntentId = d.outcome.paymentIntentId;
        const references = { groupId: d.input.references.groupId, roundId: d.roundId, memberId: d.memberId };
        const key = (n: number) => `${d.roundId}:refund:${d.memberId}:attempt:${n}`;
        expect(value(await gateway.findRefund({ idempotencyKey: key(1), paymentIntentId }))).toBeUndefined();
        const made = value(
          await gateway.refund({ idempotencyKey: key(1), paymentIntentId, amount: aud(3_000), references }),
        );
        const other = value(
          await gateway.refund({ idempotencyKey: key(2), paymentIntentId, amount: aud(2_000), references }),
        );
        expect(made.status).toBe("pending");
        // Still waiting for the debit: found, pending, each by its own key.
        expect(value(await gateway.findRefund({ idempotencyKey: key(1), paymentIntentId }))).toEqual({
          refundId: made.refundId,
          status: "pending",
        });
        expect(value(await gateway.findRefund({ idempotencyKey: key(2), paymentIntentId }))?.refundId).toBe(
          other.refundId,
        );
        expect(value(await gateway.findRefund({ idempotencyKey: key(3), paymentIntentId }))).toBeUndefined();
        // The debit settles (whatever became of the refund's news): the look-up reads the outcome.
        await driver.settle();
        expect(value(await gateway.findRefund({ idempotencyKey: key(1), paymentIntentId }))).toEqual({
          refundId: made.refundId,
          status: "succeeded",
        });
        // Another payment's refunds are not this payment's.
        const elsewhere = await debit("000123456");
        expect(
          value(
            await gateway.findRefund({
              idempotencyKey: key(1),
              paymentIntentId: elsewhere.outcome.paymentIntentId,
            }),
          ),
        ).toBeUndefined();
      });

      it("finds a refund that waited on a debit that then failed as failed (cancelled at Stripe)", async () => {
        const d = await debit("111111113");
        const paymentIntentId = d.outcome.paymentIntentId;
        const idempotencyKey = `${d.roundId}:refund:${d.memberId}:attempt:1`;
        const made = value(
          await gateway.refund({
            idempotencyKey,
            paymentIntentId,
            references: { groupId: d.input.references.groupId, roundId: d.roundId, memberId: d.memberId },
          }),
        );
        expect(made.status).toBe("pending");
        await driver.settle();
        expect(value(await gateway.findRefund({ idempotencyKey, paymentIntentId }))).toMatchObject({
          refundId: made.refundId,
          status: "failed",
          failureCode: expect.any(String),
        });
      });

      it("refuses, definitely, to refund a debit that failed", async () => {
        const d = await debit("111111113");
        await driver.settle();
        const error = failure(
          await gateway.refund({
            idempotencyKey: `${d.roundId}:refund:${d.memberId}`,
            paymentIntentId: d.outcome.paymentIntentId,
            references: { groupId: d.input.references.groupId, roundId: d.roundId, memberId: d.memberId },
          }),
        );
        expect(error).toMatchObject({ type: "gateway_definite", code: "charge_not_refundable" });
      });
    });

    describe("connected accounts", () => {
      it("creates an account once per key; it can receive after onboarding, not after transfers are disabled", async () => {
        const input = {
          idempotencyKey: unique("account"),
          email: "payee@example.com",
          country: "AU",
          references: { groupId: unique("group"), memberId: unique("member") },
        };
        const { accountId } = value(await gateway.createConnectedAccount(input));
        expect(value(await gateway.createConnectedAccount(input)).accountId).toBe(accountId);

        const fresh = value(await gateway.getConnectedAccount(accountId));
        expect(fresh).toMatchObject({ accountId, transfersActive: false, payoutsEnabled: false });
        expect(fresh.requirementsDue.length).toBeGreaterThan(0);

        await driver.completeOnboarding(accountId);
        expect(value(await gateway.getConnectedAccount(accountId))).toMatchObject({
          accountId,
          detailsSubmitted: true,
          payoutsEnabled: true,
          transfersActive: true,
          requirementsDue: [],
        });

        await driver.disableTransfers(accountId);
        expect(value(await gateway.getConnectedAccount(accountId)).transfersActive).toBe(false);
      });

      it("makes an onboarding link", async () => {
        const { accountId } = value(
          await gateway.createConnectedAccount({
            idempotencyKey: unique("account"),
            country: "AU",
            references: { groupId: unique("group") },
          }),
        );
        const link = value(
          await gateway.createOnboardingLink({
            accountId,
            kind: "onboarding",
            refreshUrl: "https://susu.example/refresh",
            returnUrl: "https://susu.example/return",
          }),
        );
        expect(link.url).toMatch(/^https?:\/\//);
        expect(link.expiresAt).toBeGreaterThan(0);
      });

      it("an unknown account is a definite error", async () => {
        const error = failure(await gateway.getConnectedAccount("acct_doesnotexist000"));
        expect(error.type).toBe("gateway_definite");
      });
    });

    describe("checkout pages", () => {
      async function checkout(key = unique("checkout")) {
        const heldPaymentId = unique("held");
        const input = {
          idempotencyKey: key,
          amount: aud(12_345),
          description: "Mentoring session",
          customerEmail: "customer@example.com",
          transferGroup: `${heldPaymentId}:group`,
          expiresAt: (await driver.now()) + 2 * 3_600_000,
          successUrl: "https://app.example/paid",
          cancelUrl: "https://app.example/cancelled",
          references: { heldPaymentId },
        };
        return { input, heldPaymentId, session: value(await gateway.createCheckoutSession(input)) };
      }

      it("opens a page once per key; paid by card, its payment reads succeeded with the amount", async () => {
        const { input, session } = await checkout();
        expect(session.url).toMatch(/^https?:\/\//);
        expect(session.expiresAt).toBe(Math.floor(input.expiresAt / 1000) * 1000);
        expect(value(await gateway.createCheckoutSession(input)).sessionId).toBe(session.sessionId);
        const paymentIntentId = await driver.payCheckout(session.sessionId);
        const payment = value(await gateway.getPayment(paymentIntentId));
        expect(payment).toMatchObject({ status: "succeeded", paymentIntentId, amount: aud(12_345) });
        expect(await driver.debitCount(input.transferGroup)).toBe(1);
        // The provider reports the completed page with its payment; what it means is read from the payment.
        expect(await driver.settle()).toContainEqual({
          kind: "checkout_payment_changed",
          refs: { heldPaymentId: input.references.heldPaymentId },
          sessionId: session.sessionId,
          paymentIntentId,
        });
      });

      it("a page nobody pays expires, and the provider says so with its references", async () => {
        const { session, heldPaymentId } = await checkout();
        const facts = await driver.settle();
        expect(facts).toContainEqual({
          kind: "checkout_expired",
          refs: { heldPaymentId },
          sessionId: session.sessionId,
        });
      });

      it("refuses, definitely, a page that would expire in under 30 minutes or after 24 hours", async () => {
        const { input } = await checkout();
        const now = await driver.now();
        for (const expiresAt of [now + 10 * 60_000, now + 25 * 3_600_000]) {
          const refused = await gateway.createCheckoutSession({
            ...input,
            idempotencyKey: unique("checkout"),
            expiresAt,
          });
          expect(failure(refused).type).toBe("gateway_definite");
        }
      });

      it("reading a payment that does not exist is a definite error", async () => {
        expect(failure(await gateway.getPayment("pi_doesnotexist000")).type).toBe("gateway_definite");
      });
    });

    describe("card payments (marketplace charges)", () => {
      /** A marketplace charge's card payment: saved (off session) or for the client to confirm. */
      async function cardPayment(
        confirmation: Parameters<PaymentGateway["createCardPayment"]>[0]["confirmation"],
        options: { readonly destinationAccountId?: string } = {},
      ) {
        const marketplaceChargeId = unique("mc");
        const input = {
          idempotencyKey: `${marketplaceChargeId}:payment`,
          amount: aud(10_000),
          customerId: await driver.cardCustomer(),
          confirmation,
          description: "Pottery class",
          transferGroup: `marketplace_${marketplaceChargeId}`,
          ...(options.destinationAccountId !== undefined
            ? {
                destination: {
                  accountId: options.destinationAccountId,
                  applicationFee: aud(1_000),
                  onBehalfOf: true,
                },
              }
            : {}),
          references: { marketplaceChargeId },
        };
        return { input, marketplaceChargeId, outcome: value(await gateway.createCardPayment(input)) };
      }
      const saved = (paymentMethodId: string) => ({
        kind: "saved_card" as const,
        paymentMethodId,
        offSession: true as const,
      });

      it("charges a saved card off session at once; the same key answers the same and charges once", async () => {
        const { input, outcome } = await cardPayment(saved("pm_card_visa"));
        expect(outcome).toEqual({
          status: "succeeded",
          paymentIntentId: expect.any(String),
          chargeId: expect.any(String),
        });
        expect(value(await gateway.createCardPayment(input))).toEqual(outcome);
        expect(await driver.debitCount(input.transferGroup)).toBe(1);
        expect(value(await gateway.getPayment(outcome.paymentIntentId))).toMatchObject({
          status: "succeeded",
          amount: aud(10_000),
        });
      });

      it("a destination charge pays the account with the charge: the answer and a read name its transfer", async () => {
        const account = await driver.connectedAccount({ canReceive: true });
        const { outcome } = await cardPayment(saved("pm_card_visa"), { destinationAccountId: account });
        if (outcome.status !== "succeeded") throw new Error(`expected success, got ${outcome.status}`);
        expect(outcome.transferId).toEqual(expect.any(String));
        const payment = value(await gateway.getPayment(outcome.paymentIntentId));
        expect(payment).toMatchObject({ status: "succeeded", transferId: outcome.transferId });
      });

      it.each([
        ["pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"],
        // Off session nobody can pass 3-D Secure: the payment is declined, not left waiting.
        ["pm_card_authenticationRequired", "authentication_required"],
      ])("a saved card %s is a failed payment (%s), the same on replay", async (card, failureCode) => {
        const { input, outcome } = await cardPayment(saved(card));
        expect(outcome).toEqual({ status: "failed", paymentIntentId: expect.any(String), failureCode });
        expect(value(await gateway.createCardPayment(input))).toEqual(outcome);
      });

      it("a new card waits for the client with a client secret; once the customer confirms, the provider reports it paid", async () => {
        const { input, outcome, marketplaceChargeId } = await cardPayment({ kind: "client_confirmation" });
        expect(outcome).toEqual({
          status: "requires_action",
          paymentIntentId: expect.any(String),
          clientSecret: expect.any(String),
        });
        expect(value(await gateway.createCardPayment(input))).toEqual(outcome);
        await driver.confirmCardPayment(outcome.paymentIntentId, "pm_card_visa");
        expect(await driver.settle()).toContainEqual({
          kind: "debit_succeeded",
          refs: { marketplaceChargeId },
          paymentIntentId: outcome.paymentIntentId,
          chargeId: expect.any(String),
        });
      });

      it("cancels a payment still waiting for the customer, again without harm; one that succeeded is refused", async () => {
        const { outcome, marketplaceChargeId } = await cardPayment({ kind: "client_confirmation" });
        const cancel = {
          idempotencyKey: `${marketplaceChargeId}:payment:cancel`,
          paymentIntentId: outcome.paymentIntentId,
        };
        expect(value(await gateway.cancelPayment(cancel))).toEqual({
          paymentIntentId: outcome.paymentIntentId,
        });
        expect(value(await gateway.cancelPayment(cancel))).toEqual({
          paymentIntentId: outcome.paymentIntentId,
        });
        expect(value(await gateway.getPayment(outcome.paymentIntentId))).toMatchObject({
          status: "failed",
          failureCode: "canceled_abandoned",
        });
        const paid = await cardPayment(saved("pm_card_visa"));
        expect(paid.outcome.status).toBe("succeeded");
        expect(
          failure(
            await gateway.cancelPayment({
              idempotencyKey: `${paid.marketplaceChargeId}:payment:cancel`,
              paymentIntentId: paid.outcome.paymentIntentId,
            }),
          ),
        ).toMatchObject({ type: "gateway_definite", code: "payment_intent_unexpected_state" });
      });

      it("refunds a destination charge with reverse_transfer and refund_application_fee, once per key", async () => {
        const account = await driver.connectedAccount({ canReceive: true });
        const { outcome, marketplaceChargeId } = await cardPayment(saved("pm_card_visa"), {
          destinationAccountId: account,
        });
        const refund = {
          idempotencyKey: `${marketplaceChargeId}:refund:1:attempt:1`,
          paymentIntentId: outcome.paymentIntentId,
          amount: aud(4_000),
          reverseTransfer: true,
          refundApplicationFee: true,
          references: { marketplaceChargeId, refund: 1, attempt: 1 },
        };
        const first = value(await gateway.refund(refund));
        expect(first).toMatchObject({ status: "succeeded" });
        expect(value(await gateway.refund(refund)).refundId).toBe(first.refundId);
      });
    });
  });
}
