import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import { debitFact, type PaymentFact, type PaymentObjectFact, refundFact } from "../facts/payment-fact.js";
import type { Money } from "../money/index.js";
import type {
  ReportedPaymentMethod,
  SavedBankAccount,
  SavedCard,
  SavedMethodType,
} from "../payment-method/saved-payment-method.js";
import type { PayoutSchedule, ReportedPayout } from "../payout/payout.js";
import {
  type AccountBalance,
  type CardPaymentConfirmation,
  type CheckoutSession,
  type CheckoutSessionEnded,
  type ConnectedAccountStatus,
  type DebitOutcome,
  type GatewayError,
  gatewayError,
  type MandateStatus,
  type PaymentGateway,
  type PaymentReferences,
  type PaymentStatus,
  type PayoutCreated,
  type PayoutDestination,
  type RefundOutcome,
} from "../ports/payment-gateway.js";
import { DAY_MS, type DurationMs, type Instant } from "../shared/time.js";

/** How a fake debit ends: it succeeds, or fails with a BECS failure code. */
export type FakeDebitOutcome = "succeed" | { readonly fail: string };

/** A debit the fake gateway holds. */
export interface FakeDebit {
  readonly paymentIntentId: string;
  readonly amount: Money;
  readonly references: PaymentReferences;
  readonly transferGroup: string;
  /** `requires_action`: a card payment waiting for the customer (a new card to confirm, 3-D Secure). */
  status: "processing" | "succeeded" | "failed" | "requires_action" | "canceled";
  readonly settlesAt: Instant;
  readonly outcome: FakeDebitOutcome;
  /** The debit's mandate; empty for a checkout's payment. */
  readonly mandateId: string;
  /** The idempotency key a mandate debit was made under (Stripe: the `effect_id` metadata susu writes). */
  readonly idempotencyKey?: string;
  /** The checkout session the customer paid this through, if any. */
  readonly checkoutSessionId?: string;
  chargeId?: string;
  /** A card payment's client secret (what the client confirms it with). */
  readonly clientSecret?: string;
  /** A destination charge: the account it pays, the platform's fee, and whether it is made on the account's behalf. */
  readonly destination?: {
    readonly accountId: string;
    readonly applicationFee: Money;
    readonly onBehalfOf: boolean;
  };
  /** A destination charge's transfer to the account, made with the charge. */
  transferId?: string;
  /** How a card payment's customer confirmation ends (a card payment only). */
  failureCode?: string;
}

/**
 * Saved test cards whose off-session payments fail, as Stripe's test cards do
 * (`pm_card_chargeDeclined` → `generic_decline`, …); any other saved card succeeds. A
 * card that needs authentication cannot pass it off session: `authentication_required`.
 */
export const FAKE_DECLINED_CARDS: Readonly<Record<string, string>> = {
  pm_card_chargeDeclined: "generic_decline",
  pm_card_chargeDeclinedInsufficientFunds: "insufficient_funds",
  pm_card_authenticationRequired: "authentication_required",
};

/** A hosted checkout the fake gateway holds. */
export interface FakeCheckout {
  readonly sessionId: string;
  readonly amount: Money;
  readonly references: PaymentReferences;
  readonly transferGroup: string;
  readonly expiresAt: Instant;
  status: "open" | "complete" | "expired";
  paymentIntentId?: string;
}

/**
 * How the customer pays a fake checkout: by card (paid at once), with a delayed method
 * that settles after the settlement delay (`succeed` or `{ fail }`), or a declined card
 * (the session stays open: the customer may try again).
 */
export type FakeCheckoutPayment = "card" | { readonly delayed: FakeDebitOutcome } | "declined";

/** A transfer the fake gateway made. */
export interface FakeTransfer {
  readonly transferId: string;
  readonly destinationAccountId: string;
  readonly amount: Money;
  readonly sourceChargeId?: string;
  readonly transferGroup: string;
  /** The idempotency key it was made under (Stripe: the `effect_id` metadata susu writes). */
  readonly idempotencyKey?: string;
}

/** A reversal of a transfer the fake gateway made. */
export interface FakeReversal {
  readonly reversalId: string;
  readonly transferId: string;
  readonly amount: Money;
}

/** A refund the fake gateway holds. */
export interface FakeRefund {
  readonly refundId: string;
  /** The key it was made under (its `effect_id`): what {@link FakePaymentGateway.findRefund} finds it by. */
  readonly idempotencyKey: string;
  readonly paymentIntentId: string;
  readonly amount: Money;
  readonly references: PaymentReferences;
  status: "pending" | "succeeded" | "failed";
  /** Why it failed, as its failure reports it. */
  failureCode?: string;
  /** Set when the bank failed the refund after it had succeeded ({@link FakePaymentGateway.failRefundAfterSuccess}). */
  failedAfterSuccess?: boolean;
  /** Whether the refund reversed the destination charge's transfer in proportion. */
  readonly reverseTransfer?: boolean;
  /** Whether the refund gave the application fee back in proportion. */
  readonly refundApplicationFee?: boolean;
}

type Operation =
  | "createCustomer"
  | "createDebit"
  | "createCardPayment"
  | "createTransfer"
  | "reverseTransfer"
  | "refund"
  | "findRefund"
  | "findDebit"
  | "createCheckoutSession"
  | "expireCheckoutSession"
  | "cancelPayment"
  | "getPayment"
  | "createPaymentMethodSetup"
  | "detachPaymentMethod"
  | "setDefaultPaymentMethod"
  | "createPayout";

/** A SetupIntent of the fake: what it was asked to save, for whom. */
interface FakeSetup {
  readonly customerId: string;
  readonly methodType: SavedMethodType;
  readonly references: PaymentReferences;
}

/** BECS failures after which Stripe marks the mandate inactive. */
const PERMANENT_BECS_CODES = new Set(["account_closed", "no_account", "debit_not_authorized"]);

/**
 * A payment gateway in memory that behaves like Stripe where susu depends on it: BECS
 * debits stay `processing` until the clock passes a settlement delay and then succeed
 * or fail as configured per member; refunds of a processing debit wait for it; transfers
 * refuse accounts that cannot receive; every mutating call is idempotent by key. Faults
 * can be injected: a call that fails before doing anything, or one that does its work and
 * then loses the answer (the outcome-unknown case that idempotency keys exist for).
 */
export class FakePaymentGateway implements PaymentGateway {
  readonly debits = new Map<string, FakeDebit>();
  readonly transfers: FakeTransfer[] = [];
  readonly reversals: FakeReversal[] = [];
  readonly refunds = new Map<string, FakeRefund>();
  readonly checkouts = new Map<string, FakeCheckout>();
  readonly #replies = new Map<string, { readonly request: string; readonly reply: unknown }>();
  readonly #inactiveMandates = new Set<string>();
  readonly #setups = new Map<string, FakeSetup>();
  /** Saved payment methods by id, as the provider holds them (customer absent once detached). */
  readonly paymentMethods = new Map<string, ReportedPaymentMethod>();
  readonly #mandateMethods = new Map<string, string>();
  /** Each customer's default payment method (`invoice_settings.default_payment_method`). */
  readonly defaultMethods = new Map<string, string>();
  readonly #accounts = new Map<
    string,
    {
      transfersActive: boolean;
      payoutsEnabled: boolean;
      detailsSubmitted?: boolean;
      requirementsDue?: readonly string[];
      disabledReason?: string;
      payoutDestinations?: readonly PayoutDestination[];
      /** The schedule the account was created with (`createConnectedAccount`); unknown when set by a test. */
      payoutInterval?: PayoutSchedule["interval"];
    }
  >();
  readonly #outcomes = new Map<string, FakeDebitOutcome[]>();
  /** Members whose next refund the bank fails, with the failure code. */
  readonly #failingRefunds = new Map<string, string>();
  /**
   * Charges a member disputed with their bank, by PaymentIntent: what the dispute takes and
   * where it stands. While a dispute is open or lost, Stripe refuses every refund of the
   * charge (`charge_disputed`); a won dispute gives the money back and refunds work again.
   */
  readonly disputes = new Map<string, { readonly disputeId: string; amountMinor: number; status: string }>();
  #refundsWait = false;
  readonly #faults: { op: Operation; kind: "before" | "lost_reply"; error: GatewayError }[] = [];
  #seq = 0;

  constructor(
    private readonly now: () => Instant,
    readonly settlementDelayMs: DurationMs = 3 * DAY_MS,
  ) {}

  /**
   * Refunds of a settled charge stay `pending` (as Stripe leaves one whose balance cannot fund
   * it) until {@link endWaitingRefunds}; `false` goes back to ending them at once.
   */
  refundsWait(on = true): void {
    this.#refundsWait = on;
  }

  /**
   * Ends every refund of a settled charge that waits (see {@link refundsWait}) as `status`, and
   * returns the facts their webhooks bring (a test drops them to lose the news).
   */
  endWaitingRefunds(status: "succeeded" | "failed"): PaymentObjectFact[] {
    const facts: PaymentObjectFact[] = [];
    for (const refund of this.refunds.values()) {
      if (refund.status !== "pending" || this.debits.get(refund.paymentIntentId)?.status !== "succeeded")
        continue;
      refund.status = status;
      if (status === "failed") refund.failureCode = "insufficient_funds";
      const fact = refundFact(refund.references, {
        refundId: refund.refundId,
        status,
        ...(status === "failed" ? { failureCode: "insufficient_funds" } : {}),
      });
      if (fact !== undefined) facts.push(fact);
    }
    return facts;
  }

  /** The bank fails the next refund made for a member (of a settled charge), with `failureCode`. */
  failNextRefund(memberId: string, failureCode = "charge_expired_for_refund"): void {
    this.#failingRefunds.set(memberId, failureCode);
  }

  /**
   * The bank fails a refund it had reported succeeded (Stripe's `refund.failed` after
   * `refund.succeeded`: an account that could not take it). Returns the fact its webhook brings.
   */
  failRefundAfterSuccess(refundId: string, failureCode = "refund_failed"): PaymentObjectFact {
    const refund = this.refunds.get(refundId);
    if (refund?.status !== "succeeded") throw new Error(`refund ${refundId} has not succeeded`);
    refund.status = "failed";
    refund.failureCode = failureCode;
    refund.failedAfterSuccess = true;
    const fact = refundFact(refund.references, { refundId, status: "failed", failureCode });
    if (fact === undefined) throw new Error("a failed refund always makes a fact");
    return fact;
  }

  /**
   * The bank took the money of a debit it had reported failed after all (contradicting
   * events, a failure assumed): the debit is succeeded now. Returns the late
   * `payment_intent.succeeded` fact.
   */
  succeedAfterFailure(paymentIntentId: string): PaymentObjectFact {
    const debit = this.debits.get(paymentIntentId);
    if (debit?.status !== "failed") throw new Error(`debit ${paymentIntentId} has not failed`);
    debit.status = "succeeded";
    debit.chargeId = paymentIntentId.replace("pi_", "ch_");
    return debitFact(debit.references, { status: "succeeded", paymentIntentId, chargeId: debit.chargeId });
  }

  /**
   * The member disputes a charge that succeeded with their bank: Stripe records the dispute
   * (`needs_response`) and refuses refunds of the charge from now on. Returns the fact
   * `charge.dispute.created` brings.
   */
  disputeCharge(paymentIntentId: string, amountMinor: number): PaymentObjectFact {
    const debit = this.debits.get(paymentIntentId);
    if (debit?.status !== "succeeded") throw new Error(`debit ${paymentIntentId} has not succeeded`);
    if (this.disputes.has(paymentIntentId)) throw new Error(`debit ${paymentIntentId} is already disputed`);
    const disputeId = this.#id("dp");
    this.disputes.set(paymentIntentId, { disputeId, amountMinor, status: "needs_response" });
    return {
      kind: "dispute_opened",
      refs: debit.references,
      disputeId,
      paymentIntentId,
      amountMinor,
      status: "needs_response",
    };
  }

  /** Sets how a member's next debits end, attempt by attempt; the last one repeats. */
  setDebitOutcomes(memberId: string, outcomes: readonly FakeDebitOutcome[]): void {
    this.#outcomes.set(memberId, [...outcomes]);
  }

  /**
   * Registers a connected account and whether it can receive transfers; `asked` sets what
   * Stripe would say it still needs (default: a bank account while it cannot receive) and
   * whether its person went through the onboarding form (default: once it can receive).
   */
  setAccount(
    accountId: string,
    canReceive: boolean,
    asked?: {
      readonly detailsSubmitted?: boolean;
      readonly requirementsDue?: readonly string[];
      readonly disabledReason?: string;
      /** Each currency's default bank account (none shown by default). */
      readonly payoutDestinations?: readonly PayoutDestination[];
    },
  ): void {
    this.#accounts.set(accountId, { transfersActive: canReceive, payoutsEnabled: canReceive, ...asked });
  }

  /** Sets an account's payout schedule as the provider shows it (`manual`, `daily`, …). */
  setPayoutInterval(accountId: string, interval: PayoutSchedule["interval"]): void {
    const account = this.#accounts.get(accountId);
    if (account === undefined) throw new Error(`no account ${accountId}`);
    account.payoutInterval = interval;
  }

  /**
   * Sets an account's default bank account for a currency, as the provider shows it: `errored`
   * after a payout to it failed (Stripe stops paying it until the details are updated),
   * `usable` once the person replaced it.
   */
  setPayoutDestination(accountId: string, destination: PayoutDestination): void {
    const account = this.#accounts.get(accountId);
    if (account === undefined) throw new Error(`no account ${accountId}`);
    account.payoutDestinations = [
      ...(account.payoutDestinations ?? []).filter((d) => d.currency !== destination.currency),
      destination,
    ];
  }

  /** The next call of `op` fails: before doing anything, or after doing it with the answer lost. */
  injectFault(op: Operation, kind: "before" | "lost_reply", error?: GatewayError): void {
    this.#faults.push({
      op,
      kind,
      error: error ?? gatewayError("gateway_outcome_unknown", "api_connection_error", "injected"),
    });
  }

  #id(prefix: string): string {
    this.#seq += 1;
    return `${prefix}_fake${this.#seq}`;
  }

  /**
   * Runs `work` once per idempotency key, like Stripe: the same key replays the first reply;
   * the same key with a different request is refused, as a reused key is at Stripe.
   */
  #once<T>(
    op: Operation,
    key: string,
    request: unknown,
    work: () => ResultAsync<T, GatewayError>,
  ): ResultAsync<T, GatewayError> {
    const faultIndex = this.#faults.findIndex((f) => f.op === op);
    const fault = faultIndex >= 0 ? this.#faults.splice(faultIndex, 1)[0] : undefined;
    if (fault?.kind === "before") return errAsync(fault.error);
    const requestText = JSON.stringify(request);
    const stored = this.#replies.get(key);
    if (stored !== undefined && stored.request !== requestText)
      return errAsync(
        gatewayError(
          "gateway_outcome_unknown",
          "idempotency_key_reused",
          `key ${key} was used for another request`,
        ),
      );
    const replayed =
      stored !== undefined
        ? okAsync(stored.reply as T)
        : work().map((value) => {
            this.#replies.set(key, { request: requestText, reply: value });
            return value;
          });
    return fault?.kind === "lost_reply" ? replayed.andThen(() => errAsync(fault.error)) : replayed;
  }

  createCustomer(input: {
    idempotencyKey: string;
    name: string;
  }): ResultAsync<{ customerId: string }, GatewayError> {
    return this.#once("createCustomer", `customer:${input.idempotencyKey}`, { name: input.name }, () =>
      okAsync({ customerId: this.#id("cus") }),
    );
  }

  createDebitSetup(input: {
    idempotencyKey: string;
    customerId: string;
  }): ResultAsync<{ setupIntentId: string; clientSecret: string }, GatewayError> {
    return this.#once(
      "createCustomer",
      `setup:${input.idempotencyKey}`,
      { customerId: input.customerId },
      () => {
        const id = this.#id("seti");
        return okAsync({ setupIntentId: id, clientSecret: `${id}_secret` });
      },
    );
  }

  /** Active until a debit on it fails permanently (account closed, no account, not authorised), as at Stripe. */
  getMandate(mandateId: string): ResultAsync<MandateStatus, GatewayError> {
    const status = this.#inactiveMandates.has(mandateId) ? "inactive" : "active";
    return okAsync({
      mandateId,
      status,
      paymentMethodId: this.#mandateMethods.get(mandateId) ?? `pm_for_${mandateId}`,
    });
  }

  createDebit(input: {
    idempotencyKey: string;
    mandateId: string;
    amount: Money;
    transferGroup: string;
    references: PaymentReferences;
  }): ResultAsync<DebitOutcome, GatewayError> {
    const request = { amount: input.amount, mandateId: input.mandateId, transferGroup: input.transferGroup };
    return this.#once("createDebit", input.idempotencyKey, request, () => {
      const memberId = input.references.memberId ?? "";
      const planned = this.#outcomes.get(memberId) ?? ["succeed"];
      const outcome = planned.length > 1 ? (planned.shift() as FakeDebitOutcome) : (planned[0] ?? "succeed");
      const debit: FakeDebit = {
        paymentIntentId: this.#id("pi"),
        amount: input.amount,
        references: input.references,
        transferGroup: input.transferGroup,
        status: "processing",
        settlesAt: this.now() + this.settlementDelayMs,
        outcome,
        mandateId: input.mandateId,
        idempotencyKey: input.idempotencyKey,
      };
      this.debits.set(debit.paymentIntentId, debit);
      return okAsync<DebitOutcome, GatewayError>({
        status: "processing",
        paymentIntentId: debit.paymentIntentId,
      });
    });
  }

  /** The mandate debit made under `idempotencyKey`, as it stands now; none when no such debit was made. */
  findDebit(input: {
    idempotencyKey: string;
    customerId: string;
  }): ResultAsync<DebitOutcome | undefined, GatewayError> {
    // A read: an injected fault (either kind) is its error, nothing else happens.
    const faultIndex = this.#faults.findIndex((f) => f.op === "findDebit");
    const fault = faultIndex >= 0 ? this.#faults.splice(faultIndex, 1)[0] : undefined;
    if (fault !== undefined) return errAsync(fault.error);
    const found = [...this.debits.values()].find(
      (d) => d.mandateId !== "" && d.idempotencyKey === input.idempotencyKey,
    );
    if (found === undefined) return okAsync(undefined);
    const { paymentIntentId } = found;
    switch (found.status) {
      case "succeeded":
        return okAsync({
          status: "succeeded",
          paymentIntentId,
          chargeId: found.chargeId ?? paymentIntentId.replace("pi_", "ch_"),
        });
      case "failed":
      case "canceled":
        return okAsync({
          status: "failed",
          paymentIntentId,
          failureCode:
            found.failureCode ?? (found.outcome === "succeed" ? "payment_failed" : found.outcome.fail),
        });
      default:
        return okAsync({ status: "processing", paymentIntentId });
    }
  }

  /**
   * A card payment, as Stripe's test cards behave: a saved card is charged at once, off
   * session — succeeded (a destination charge's transfer made with it), or failed for the
   * cards of {@link FAKE_DECLINED_CARDS}; a new card waits for the client to confirm it
   * (`requires_action` with a client secret) until {@link confirmCardPayment}.
   */
  createCardPayment(input: {
    idempotencyKey: string;
    amount: Money;
    customerId: string;
    confirmation: CardPaymentConfirmation;
    transferGroup: string;
    destination?: {
      readonly accountId: string;
      readonly applicationFee: Money;
      readonly onBehalfOf: boolean;
    };
    references: PaymentReferences;
  }): ResultAsync<DebitOutcome, GatewayError> {
    const request = {
      amount: input.amount,
      customerId: input.customerId,
      confirmation: input.confirmation,
      transferGroup: input.transferGroup,
      destination: input.destination ?? null,
    };
    return this.#once("createCardPayment", `card:${input.idempotencyKey}`, request, () => {
      const paymentIntentId = this.#id("pi");
      const declined =
        input.confirmation.kind === "saved_card"
          ? FAKE_DECLINED_CARDS[input.confirmation.paymentMethodId]
          : undefined;
      const payment: FakeDebit = {
        paymentIntentId,
        amount: input.amount,
        references: input.references,
        transferGroup: input.transferGroup,
        status: "requires_action",
        settlesAt: this.now(),
        outcome: declined === undefined ? "succeed" : { fail: declined },
        mandateId: "",
        clientSecret: `${paymentIntentId}_secret_fake`,
        ...(input.destination !== undefined ? { destination: input.destination } : {}),
      };
      this.debits.set(paymentIntentId, payment);
      if (input.confirmation.kind === "client_confirmation")
        return okAsync<DebitOutcome, GatewayError>({
          status: "requires_action",
          paymentIntentId,
          clientSecret: payment.clientSecret ?? "",
        });
      return okAsync(this.#settleCard(payment, declined));
    });
  }

  /** A card payment's charge: succeeded (with its destination transfer), or failed with `failureCode`. */
  #settleCard(payment: FakeDebit, failureCode: string | undefined): DebitOutcome {
    if (failureCode !== undefined) {
      payment.status = "failed";
      payment.failureCode = failureCode;
      return { status: "failed", paymentIntentId: payment.paymentIntentId, failureCode };
    }
    payment.status = "succeeded";
    payment.chargeId = payment.paymentIntentId.replace("pi_", "ch_");
    if (payment.destination !== undefined) {
      // As at Stripe: the whole amount goes to the account, and the application fee comes
      // back to the platform from it.
      payment.transferId = this.#id("tr");
      this.transfers.push({
        transferId: payment.transferId,
        destinationAccountId: payment.destination.accountId,
        amount: payment.amount,
        sourceChargeId: payment.chargeId,
        transferGroup: payment.transferGroup,
      });
    }
    return {
      status: "succeeded",
      paymentIntentId: payment.paymentIntentId,
      chargeId: payment.chargeId,
      ...(payment.transferId !== undefined ? { transferId: payment.transferId } : {}),
    };
  }

  /**
   * The customer confirms a card payment that waits for them (what Stripe.js does with the
   * client secret): it succeeds, or fails with a decline code. Returns the fact its
   * `payment_intent.*` webhook would bring — which, like the webhook's PaymentIntent, does
   * not name a destination charge's transfer.
   */
  confirmCardPayment(paymentIntentId: string, how: "succeed" | { readonly fail: string }): PaymentObjectFact {
    const payment = this.debits.get(paymentIntentId);
    if (payment?.status !== "requires_action") throw new Error(`payment ${paymentIntentId} waits for nobody`);
    const outcome = this.#settleCard(payment, how === "succeed" ? undefined : how.fail);
    if (outcome.status === "succeeded") {
      const { transferId: _notInTheWebhook, ...webhook } = outcome;
      return debitFact(payment.references, webhook);
    }
    // As Stripe's: a declined confirmation leaves the PaymentIntent waiting for another
    // payment method (requires_payment_method), confirmable again with the same client secret.
    payment.status = "requires_action";
    return debitFact(payment.references, outcome);
  }

  /**
   * The customer confirms a card payment that waits for them and it stays `processing` (Stripe
   * documents this as rare for cards) until `settlesInMs` from now, then succeeds — the
   * outcome {@link settleDue} reports. Returns the fact its `payment_intent.processing` webhook
   * would bring.
   */
  confirmCardPaymentProcessing(paymentIntentId: string, settlesInMs: DurationMs): PaymentObjectFact {
    const payment = this.debits.get(paymentIntentId);
    if (payment?.status !== "requires_action") throw new Error(`payment ${paymentIntentId} waits for nobody`);
    this.debits.set(paymentIntentId, {
      ...payment,
      status: "processing",
      settlesAt: this.now() + settlesInMs,
      outcome: "succeed",
    });
    return debitFact(payment.references, { status: "processing", paymentIntentId });
  }

  refund(input: {
    idempotencyKey: string;
    paymentIntentId: string;
    amount?: Money;
    reverseTransfer?: boolean;
    refundApplicationFee?: boolean;
    references: PaymentReferences;
  }): ResultAsync<
    { refundId: string; status: "pending" | "succeeded" | "failed"; failureCode?: string },
    GatewayError
  > {
    const request = {
      paymentIntentId: input.paymentIntentId,
      amount: input.amount ?? null,
      reverseTransfer: input.reverseTransfer ?? false,
      refundApplicationFee: input.refundApplicationFee ?? false,
    };
    return this.#once("refund", input.idempotencyKey, request, () => {
      const debit = this.debits.get(input.paymentIntentId);
      if (!debit || debit.status === "failed" || debit.status === "requires_action")
        return errAsync(gatewayError("gateway_definite", "charge_not_refundable", "nothing to refund"));
      const dispute = this.disputes.get(input.paymentIntentId);
      if (dispute !== undefined && dispute.status !== "won")
        return errAsync(
          gatewayError("gateway_definite", "charge_disputed", `charge disputed (${dispute.disputeId})`),
        );
      const member = input.references.memberId;
      const failureCode = member !== undefined ? this.#failingRefunds.get(member) : undefined;
      if (failureCode !== undefined && member !== undefined && debit.status === "succeeded") {
        this.#failingRefunds.delete(member);
        const refund: FakeRefund = {
          refundId: this.#id("re"),
          idempotencyKey: input.idempotencyKey,
          paymentIntentId: input.paymentIntentId,
          amount: input.amount ?? debit.amount,
          references: input.references,
          status: "failed",
          failureCode,
        };
        this.refunds.set(refund.refundId, refund);
        return okAsync({ refundId: refund.refundId, status: refund.status, failureCode });
      }
      const refund: FakeRefund = {
        refundId: this.#id("re"),
        idempotencyKey: input.idempotencyKey,
        paymentIntentId: input.paymentIntentId,
        amount: input.amount ?? debit.amount,
        references: input.references,
        status: debit.status === "succeeded" && !this.#refundsWait ? "succeeded" : "pending",
        ...(input.reverseTransfer !== undefined ? { reverseTransfer: input.reverseTransfer } : {}),
        ...(input.refundApplicationFee !== undefined
          ? { refundApplicationFee: input.refundApplicationFee }
          : {}),
      };
      this.refunds.set(refund.refundId, refund);
      return okAsync({ refundId: refund.refundId, status: refund.status });
    });
  }

  /** The refund made under `idempotencyKey` for `paymentIntentId`, as it stands now; none when no such refund was made. */
  findRefund(input: {
    idempotencyKey: string;
    paymentIntentId: string;
  }): ResultAsync<RefundOutcome | undefined, GatewayError> {
    // A read: an injected fault (either kind) is its error, nothing else happens.
    const faultIndex = this.#faults.findIndex((f) => f.op === "findRefund");
    const fault = faultIndex >= 0 ? this.#faults.splice(faultIndex, 1)[0] : undefined;
    if (fault !== undefined) return errAsync(fault.error);
    const found = [...this.refunds.values()].find(
      (r) => r.paymentIntentId === input.paymentIntentId && r.idempotencyKey === input.idempotencyKey,
    );
    if (found === undefined) return okAsync(undefined);
    return okAsync({
      refundId: found.refundId,
      status: found.status,
      ...(found.status === "failed" ? { failureCode: found.failureCode ?? "refund_failed" } : {}),
    });
  }

  createTransfer(input: {
    idempotencyKey: string;
    destinationAccountId: string;
    amount: Money;
    sourceChargeId?: string;
    transferGroup: string;
  }): ResultAsync<{ transferId: string }, GatewayError> {
    const request = {
      destination: input.destinationAccountId,
      amount: input.amount,
      source: input.sourceChargeId ?? null,
    };
    return this.#once("createTransfer", input.idempotencyKey, request, () => {
      const account = this.#accounts.get(input.destinationAccountId);
      if (!account?.transfersActive)
        return errAsync(
          gatewayError(
            "gateway_definite",
            "insufficient_capabilities_for_transfer",
            "the account cannot receive transfers",
          ),
        );
      const transfer: FakeTransfer = {
        transferId: this.#id("tr"),
        destinationAccountId: input.destinationAccountId,
        amount: input.amount,
        ...(input.sourceChargeId !== undefined ? { sourceChargeId: input.sourceChargeId } : {}),
        transferGroup: input.transferGroup,
        idempotencyKey: input.idempotencyKey,
      };
      this.transfers.push(transfer);
      return okAsync({ transferId: transfer.transferId });
    });
  }

  findTransfer(input: {
    idempotencyKey: string;
    transferGroup: string;
  }): ResultAsync<{ transferId: string } | undefined, GatewayError> {
    const found = this.transfers.find(
      (t) => t.transferGroup === input.transferGroup && t.idempotencyKey === input.idempotencyKey,
    );
    return okAsync(found === undefined ? undefined : { transferId: found.transferId });
  }

  reverseTransfer(input: {
    idempotencyKey: string;
    transferId: string;
    amount?: Money;
  }): ResultAsync<{ reversalId: string }, GatewayError> {
    const request = { transferId: input.transferId, amount: input.amount ?? null };
    return this.#once("reverseTransfer", `reversal:${input.idempotencyKey}`, request, () => {
      const transfer = this.transfers.find((t) => t.transferId === input.transferId);
      if (!transfer)
        return errAsync(
          gatewayError("gateway_definite", "resource_missing", `no transfer ${input.transferId}`),
        );
      const reversal: FakeReversal = {
        reversalId: `trr_${input.idempotencyKey}`,
        transferId: input.transferId,
        amount: input.amount ?? transfer.amount,
      };
      this.reversals.push(reversal);
      return okAsync({ reversalId: reversal.reversalId });
    });
  }

  createConnectedAccount(input: {
    idempotencyKey: string;
    payoutSchedule?: PayoutSchedule;
  }): ResultAsync<{ accountId: string }, GatewayError> {
    const accountId = `acct_${input.idempotencyKey}`;
    if (!this.#accounts.has(accountId)) {
      this.setAccount(accountId, false);
      // Stripe keeps the schedule an account was created with; the provider's default is daily.
      this.setPayoutInterval(accountId, input.payoutSchedule?.interval ?? "daily");
    }
    return okAsync({ accountId });
  }

  createOnboardingLink(input: {
    accountId: string;
  }): ResultAsync<{ url: string; expiresAt: number }, GatewayError> {
    return okAsync({
      url: `https://connect.example/onboard/${input.accountId}`,
      expiresAt: this.now() + 5 * 60_000,
    });
  }

  /** Connected accounts' available balances, per currency (tests set them). */
  readonly balances = new Map<string, Money[]>();
  /** Payouts made, by idempotency key (a key used again answers the first payout). */
  readonly payouts = new Map<string, PayoutCreated & { readonly accountId: string }>();
  /**
   * What the provider says of a payout now, by payout id, when it moved on after it was made
   * (tests set it: paid, failed by the bank…); otherwise `getPayout` answers it as made.
   */
  readonly payoutNews = new Map<string, ReportedPayout>();
  /** The run each payout key was first used by (part of the request, as Stripe compares it). */
  readonly #payoutRuns = new Map<string, string | undefined>();

  /** Accounts whose balance the provider cannot show now (a passing outage: `gateway_retryable`). */
  readonly unreadableBalances = new Set<string>();

  getAccountBalance(accountId: string): ResultAsync<AccountBalance, GatewayError> {
    if (this.unreadableBalances.has(accountId))
      return errAsync(
        gatewayError("gateway_retryable", "api_connection_error", "the provider did not answer"),
      );
    if (!this.#accounts.has(accountId))
      return errAsync(gatewayError("gateway_definite", "account_invalid", `no account ${accountId}`));
    return okAsync({ available: [...(this.balances.get(accountId) ?? [])], pending: [] });
  }

  createPayout(input: {
    idempotencyKey: string;
    accountId: string;
    amount: Money;
    runId?: string;
  }): ResultAsync<PayoutCreated, GatewayError> {
    const faultIndex = this.#faults.findIndex((f) => f.op === "createPayout");
    const fault = faultIndex >= 0 ? this.#faults.splice(faultIndex, 1)[0] : undefined;
    if (fault?.kind === "before") return errAsync(fault.error);
    const answer = this.#createPayout(input);
    return fault?.kind === "lost_reply" ? answer.andThen(() => errAsync(fault.error)) : answer;
  }

  #createPayout(input: {
    idempotencyKey: string;
    accountId: string;
    amount: Money;
    runId?: string;
  }): ResultAsync<PayoutCreated, GatewayError> {
    const made = this.payouts.get(input.idempotencyKey);
    if (made !== undefined) {
      // As Stripe: the same key with other parameters (an amount, another run) is refused.
      if (
        made.amount.amountMinor !== input.amount.amountMinor ||
        made.amount.currency !== input.amount.currency ||
        this.#payoutRuns.get(input.idempotencyKey) !== input.runId
      )
        return errAsync(
          gatewayError(
            "gateway_outcome_unknown",
            "idempotency_key_reused",
            `${input.idempotencyKey} was used for another request`,
          ),
        );
      return okAsync(made);
    }
    if (this.#accounts.get(input.accountId)?.payoutsEnabled !== true)
      return errAsync(
        gatewayError("gateway_definite", "payouts_not_allowed", `account ${input.accountId} cannot pay out`),
      );
    const available = this.balances.get(input.accountId) ?? [];
    const have = available.find((m) => m.currency === input.amount.currency);
    if (have === undefined || have.amountMinor < input.amount.amountMinor)
      return errAsync(gatewayError("gateway_definite", "balance_insufficient", "the balance is too low"));
    this.balances.set(
      input.accountId,
      available.map((m) =>
        m.currency === input.amount.currency
          ? { ...m, amountMinor: m.amountMinor - input.amount.amountMinor }
          : m,
      ),
    );
    const payout = {
      accountId: input.accountId,
      payoutId: `po_${this.payouts.size + 1}`,
      amount: input.amount,
      status: "pending" as const,
      arrivalDate: this.now() + 2 * DAY_MS,
      createdAt: this.now(),
    };
    this.payouts.set(input.idempotencyKey, payout);
    this.#payoutRuns.set(input.idempotencyKey, input.runId);
    return okAsync(payout);
  }

  getPayout(input: { accountId: string; payoutId: string }): ResultAsync<ReportedPayout, GatewayError> {
    const made = [...this.payouts.values()].find(
      (p) => p.payoutId === input.payoutId && p.accountId === input.accountId,
    );
    const news = this.payoutNews.get(input.payoutId);
    if (news !== undefined && news.accountId === input.accountId) return okAsync(news);
    if (made === undefined)
      return errAsync(gatewayError("gateway_definite", "resource_missing", `no payout ${input.payoutId}`));
    return okAsync(this.#reported(made));
  }

  /** Looks a payout up by the key it was made under, as the provider's metadata shows it. */
  findPayoutByKey(input: {
    accountId: string;
    idempotencyKey: string;
    createdSince: number;
  }): ResultAsync<ReportedPayout | undefined, GatewayError> {
    const made = this.payouts.get(input.idempotencyKey);
    if (made === undefined || made.accountId !== input.accountId || made.createdAt < input.createdSince)
      return okAsync(undefined);
    const news = this.payoutNews.get(made.payoutId);
    return okAsync(news !== undefined && news.accountId === input.accountId ? news : this.#reported(made));
  }

  #reported(made: PayoutCreated & { readonly accountId: string }): ReportedPayout {
    return {
      payoutId: made.payoutId,
      accountId: made.accountId,
      amountMinor: made.amount.amountMinor,
      currency: made.amount.currency,
      status: made.status,
      arrivalDate: made.arrivalDate,
      automatic: false,
      createdAt: made.createdAt,
    };
  }

  getConnectedAccount(accountId: string): ResultAsync<ConnectedAccountStatus, GatewayError> {
    const a = this.#accounts.get(accountId);
    if (!a) return errAsync(gatewayError("gateway_definite", "account_invalid", `no account ${accountId}`));
    return okAsync({
      accountId,
      detailsSubmitted: a.detailsSubmitted ?? a.payoutsEnabled,
      chargesEnabled: a.payoutsEnabled,
      payoutsEnabled: a.payoutsEnabled,
      transfersActive: a.transfersActive,
      requirementsDue: a.requirementsDue ?? (a.payoutsEnabled ? [] : ["external_account"]),
      ...(a.disabledReason !== undefined ? { disabledReason: a.disabledReason } : {}),
      ...(a.payoutDestinations !== undefined ? { payoutDestinations: a.payoutDestinations } : {}),
      ...(a.payoutInterval !== undefined ? { payoutInterval: a.payoutInterval } : {}),
    });
  }

  createCheckoutSession(input: {
    idempotencyKey: string;
    amount: Money;
    transferGroup: string;
    expiresAt: number;
    references: PaymentReferences;
  }): ResultAsync<CheckoutSession, GatewayError> {
    const request = { amount: input.amount, transferGroup: input.transferGroup, expiresAt: input.expiresAt };
    return this.#once("createCheckoutSession", `checkout:${input.idempotencyKey}`, request, () => {
      const now = this.now();
      if (input.expiresAt < now + 30 * 60_000 || input.expiresAt > now + DAY_MS)
        return errAsync(
          gatewayError(
            "gateway_definite",
            "parameter_invalid_integer",
            "expires_at must be 30 minutes to 24 hours ahead",
          ),
        );
      const sessionId = this.#id("cs");
      // Stripe keeps the expiry in whole seconds.
      const expiresAt = Math.floor(input.expiresAt / 1000) * 1000;
      this.checkouts.set(sessionId, {
        sessionId,
        amount: input.amount,
        references: input.references,
        transferGroup: input.transferGroup,
        expiresAt,
        status: "open",
      });
      return okAsync({
        sessionId,
        url: `https://checkout.example/pay/${sessionId}`,
        expiresAt,
      });
    });
  }

  /** As Stripe: an open session is expired; one already expired or complete answers how it ended. */
  expireCheckoutSession(input: {
    idempotencyKey: string;
    sessionId: string;
  }): ResultAsync<CheckoutSessionEnded, GatewayError> {
    return this.#once(
      "expireCheckoutSession",
      `checkout_expire:${input.idempotencyKey}`,
      input.sessionId,
      () => {
        const checkout = this.checkouts.get(input.sessionId);
        if (!checkout)
          return errAsync(
            gatewayError("gateway_definite", "resource_missing", `no checkout ${input.sessionId}`),
          );
        if (checkout.status === "open") checkout.status = "expired";
        if (checkout.status === "complete" && checkout.paymentIntentId !== undefined)
          return okAsync({ status: "complete" as const, paymentIntentId: checkout.paymentIntentId });
        return okAsync({ status: "expired" as const });
      },
    );
  }

  cancelPayment(input: {
    idempotencyKey: string;
    paymentIntentId: string;
  }): ResultAsync<{ paymentIntentId: string }, GatewayError> {
    return this.#once("cancelPayment", `cancel:${input.idempotencyKey}`, input.paymentIntentId, () => {
      const payment = this.debits.get(input.paymentIntentId);
      if (!payment)
        return errAsync(
          gatewayError("gateway_definite", "resource_missing", `no payment ${input.paymentIntentId}`),
        );
      // As Stripe: a payment waiting for the customer (or already cancelled) can be cancelled;
      // one that succeeded or is processing cannot.
      if (payment.status !== "requires_action" && payment.status !== "canceled")
        return errAsync(
          gatewayError(
            "gateway_definite",
            "payment_intent_unexpected_state",
            `payment ${input.paymentIntentId} is ${payment.status}`,
          ),
        );
      payment.status = "canceled";
      return okAsync({ paymentIntentId: input.paymentIntentId });
    });
  }

  getPayment(paymentIntentId: string): ResultAsync<PaymentStatus, GatewayError> {
    // A read: an injected fault (either kind) is its error, nothing else happens.
    const faultIndex = this.#faults.findIndex((f) => f.op === "getPayment");
    const fault = faultIndex >= 0 ? this.#faults.splice(faultIndex, 1)[0] : undefined;
    if (fault !== undefined) return errAsync(fault.error);
    const payment = this.debits.get(paymentIntentId);
    if (!payment)
      return errAsync(gatewayError("gateway_definite", "resource_missing", `no payment ${paymentIntentId}`));
    switch (payment.status) {
      case "processing":
        return okAsync({ status: "processing", paymentIntentId });
      case "requires_action":
        return okAsync({ status: "unpaid", paymentIntentId, reason: "waiting for the customer" });
      case "canceled":
        // As the Stripe gateway reads a PaymentIntent cancelled as abandoned.
        return okAsync({ status: "failed", paymentIntentId, failureCode: "canceled_abandoned" });
      case "succeeded":
        return okAsync({
          status: "succeeded",
          paymentIntentId,
          chargeId: payment.chargeId ?? paymentIntentId.replace("pi_", "ch_"),
          amount: payment.amount,
          ...(payment.transferId !== undefined ? { transferId: payment.transferId } : {}),
        });
      case "failed":
        return okAsync({
          status: "failed",
          paymentIntentId,
          failureCode:
            payment.failureCode ?? (payment.outcome === "succeed" ? "payment_failed" : payment.outcome.fail),
        });
    }
  }

  /**
   * The customer pays an open checkout (what Stripe's hosted page does). Returns the facts
   * its webhooks would bring: a completed session (its payment paid or processing); nothing
   * for a declined card, after which the session stays open.
   */
  payCheckout(sessionId: string, how: FakeCheckoutPayment): PaymentObjectFact[] {
    const checkout = this.checkouts.get(sessionId);
    if (checkout?.status !== "open") throw new Error(`checkout ${sessionId} is not open`);
    if (how === "declined") return [];
    const paymentIntentId = this.#id("pi");
    const card = how === "card";
    this.debits.set(paymentIntentId, {
      paymentIntentId,
      amount: checkout.amount,
      references: checkout.references,
      transferGroup: checkout.transferGroup,
      status: card ? "succeeded" : "processing",
      settlesAt: this.now() + this.settlementDelayMs,
      outcome: card ? "succeed" : how.delayed,
      mandateId: "",
      checkoutSessionId: sessionId,
      ...(card ? { chargeId: paymentIntentId.replace("pi_", "ch_") } : {}),
    });
    checkout.status = "complete";
    checkout.paymentIntentId = paymentIntentId;
    return [{ kind: "checkout_payment_changed", refs: checkout.references, sessionId, paymentIntentId }];
  }

  /**
   * Settles every processing debit whose time has come and resolves the refunds that
   * waited on them. Returns the facts, as Stripe's webhooks would report them.
   */
  createPaymentMethodSetup(input: {
    readonly idempotencyKey: string;
    readonly customerId: string;
    readonly methodType: SavedMethodType;
    readonly references: PaymentReferences;
  }): ResultAsync<{ setupIntentId: string; clientSecret: string }, GatewayError> {
    const request = { customerId: input.customerId, methodType: input.methodType };
    return this.#once("createPaymentMethodSetup", `method_setup:${input.idempotencyKey}`, request, () => {
      const id = this.#id("seti");
      this.#setups.set(id, { ...request, references: input.references });
      return okAsync({ setupIntentId: id, clientSecret: `${id}_secret` });
    });
  }

  getPaymentMethod(paymentMethodId: string): ResultAsync<ReportedPaymentMethod, GatewayError> {
    const method = this.paymentMethods.get(paymentMethodId);
    if (method === undefined)
      return errAsync(
        gatewayError("gateway_definite", "resource_missing", `no payment method ${paymentMethodId}`),
      );
    return okAsync(method);
  }

  detachPaymentMethod(input: {
    readonly idempotencyKey: string;
    readonly paymentMethodId: string;
  }): ResultAsync<void, GatewayError> {
    return this.#once("detachPaymentMethod", input.idempotencyKey, { pm: input.paymentMethodId }, () => {
      const method = this.paymentMethods.get(input.paymentMethodId);
      if (method === undefined)
        return errAsync(
          gatewayError("gateway_definite", "resource_missing", `no payment method ${input.paymentMethodId}`),
        );
      if (method.customerId === undefined)
        return errAsync(
          gatewayError("gateway_definite", "payment_method_unexpected_state", "not attached to a customer"),
        );
      this.#detach(method);
      return okAsync(undefined);
    });
  }

  setDefaultPaymentMethod(input: {
    readonly idempotencyKey: string;
    readonly customerId: string;
    readonly paymentMethodId: string;
  }): ResultAsync<void, GatewayError> {
    return this.#once(
      "setDefaultPaymentMethod",
      input.idempotencyKey,
      { customerId: input.customerId, pm: input.paymentMethodId },
      () => {
        this.defaultMethods.set(input.customerId, input.paymentMethodId);
        return okAsync(undefined);
      },
    );
  }

  #detach(method: ReportedPaymentMethod): void {
    const { customerId, ...rest } = method;
    this.paymentMethods.set(method.paymentMethodId, rest);
    if (customerId !== undefined && this.defaultMethods.get(customerId) === method.paymentMethodId)
      this.defaultMethods.delete(customerId);
  }

  /**
   * The person's app confirms a set-up (Stripe.js with the client secret): a card (Visa
   * 4242 unless `card` says otherwise) or a BECS account (BSB 000-000, ending 3456) is
   * attached to the customer, a BECS one with an active mandate. Returns the facts Stripe's
   * webhooks carry: the method attached, and a BECS set-up's success with its mandate.
   * `paymentMethodId` names the method the provider makes (a new `pm_…` otherwise): one of
   * Stripe's test cards (`pm_card_chargeDeclined`, …) makes the saved card behave as that card.
   */
  confirmSetup(
    setupIntentId: string,
    details: {
      readonly card?: SavedCard;
      readonly bankAccount?: SavedBankAccount;
      readonly paymentMethodId?: string;
    } = {},
  ): PaymentFact[] {
    const setup = this.#setups.get(setupIntentId);
    if (setup === undefined) throw new Error(`no set-up ${setupIntentId}`);
    const paymentMethodId = details.paymentMethodId ?? this.#id("pm");
    const isCard = setup.methodType === "card";
    this.paymentMethods.set(paymentMethodId, {
      paymentMethodId,
      type: setup.methodType,
      customerId: setup.customerId,
      ...(isCard
        ? { card: details.card ?? { brand: "visa", last4: "4242", expMonth: 12, expYear: 2030 } }
        : { bankAccount: details.bankAccount ?? { bsbNumber: "000000", last4: "3456" } }),
      createdAt: this.now(),
    });
    const attached: PaymentFact = {
      kind: "payment_method_changed",
      paymentMethodId,
      customerId: setup.customerId,
    };
    if (isCard) return [attached];
    const mandateId = this.#id("mandate");
    this.#mandateMethods.set(mandateId, paymentMethodId);
    return [
      attached,
      {
        kind: "debit_setup_succeeded",
        setupIntentId,
        customerId: setup.customerId,
        refs: setup.references,
        paymentMethodId,
        mandateId,
      },
    ];
  }

  /** Someone detaches a method at the provider, not through susu (the dashboard, support): `payment_method.detached`. */
  detachBehindTheScenes(paymentMethodId: string): PaymentFact {
    const method = this.paymentMethods.get(paymentMethodId);
    if (method === undefined) throw new Error(`no payment method ${paymentMethodId}`);
    this.#detach(method);
    return {
      kind: "payment_method_changed",
      paymentMethodId,
      ...(method.customerId ? { customerId: method.customerId } : {}),
    };
  }

  /** The card network updates a saved card (new expiry or number): `payment_method.automatically_updated`. */
  updateCard(paymentMethodId: string, card: SavedCard): PaymentFact {
    const method = this.paymentMethods.get(paymentMethodId);
    if (method === undefined) throw new Error(`no payment method ${paymentMethodId}`);
    this.paymentMethods.set(paymentMethodId, { ...method, card });
    return { kind: "payment_method_changed", paymentMethodId };
  }

  /** The customer cancels a BECS mandate with their bank: `mandate.updated`, now inactive. */
  revokeMandate(mandateId: string): PaymentFact {
    this.#inactiveMandates.add(mandateId);
    return {
      kind: "mandate_changed",
      mandate: {
        mandateId,
        status: "inactive",
        paymentMethodId: this.#mandateMethods.get(mandateId) ?? `pm_for_${mandateId}`,
      },
    };
  }

  /** The mandate a set-up made for a BECS method, if the fake made one. */
  mandateOf(paymentMethodId: string): string | undefined {
    for (const [mandateId, pm] of this.#mandateMethods) if (pm === paymentMethodId) return mandateId;
    return undefined;
  }

  settleDue(): PaymentObjectFact[] {
    const now = this.now();
    const facts: PaymentObjectFact[] = [];
    for (const checkout of this.checkouts.values()) {
      if (checkout.status !== "open" || checkout.expiresAt > now) continue;
      checkout.status = "expired";
      facts.push({ kind: "checkout_expired", refs: checkout.references, sessionId: checkout.sessionId });
    }
    for (const debit of this.debits.values()) {
      if (debit.status !== "processing" || debit.settlesAt > now) continue;
      // A checkout's delayed payment settling: the session's async_payment_* event as well.
      if (debit.checkoutSessionId !== undefined)
        facts.push({
          kind: "checkout_payment_changed",
          refs: debit.references,
          sessionId: debit.checkoutSessionId,
          paymentIntentId: debit.paymentIntentId,
        });
      if (debit.outcome === "succeed" && debit.clientSecret !== undefined) {
        // A card payment that was processing: charged as a confirmed card is (a destination
        // charge's transfer made with it), and the webhook, as Stripe's, does not name the transfer.
        const outcome = this.#settleCard(debit, undefined);
        if (outcome.status === "succeeded") {
          const { transferId: _notInTheWebhook, ...webhook } = outcome;
          facts.push(debitFact(debit.references, webhook));
        }
      } else if (debit.outcome === "succeed") {
        debit.status = "succeeded";
        debit.chargeId = debit.paymentIntentId.replace("pi_", "ch_");
        facts.push(
          debitFact(debit.references, {
            status: "succeeded",
            paymentIntentId: debit.paymentIntentId,
            chargeId: debit.chargeId,
          }),
        );
      } else {
        debit.status = "failed";
        if (PERMANENT_BECS_CODES.has(debit.outcome.fail)) this.#inactiveMandates.add(debit.mandateId);
        facts.push(
          debitFact(debit.references, {
            status: "failed",
            paymentIntentId: debit.paymentIntentId,
            failureCode: debit.outcome.fail,
          }),
        );
      }
      for (const refund of this.refunds.values()) {
        if (refund.paymentIntentId !== debit.paymentIntentId || refund.status !== "pending") continue;
        refund.status = debit.status === "succeeded" ? "succeeded" : "failed";
        if (refund.status === "failed") refund.failureCode = "charge_failed";
        // A refund that waited on a debit that then failed is cancelled: the payment hears of it too.
        const fact = refundFact(refund.references, {
          refundId: refund.refundId,
          status: refund.status,
          ...(refund.status === "failed" ? { failureCode: "charge_failed" } : {}),
        });
        if (fact !== undefined) facts.push(fact);
      }
    }
    return facts;
  }

  /** The earliest time a processing debit settles or an open checkout expires, if any. */
  nextSettlementAt(): Instant | undefined {
    let next: Instant | undefined;
    for (const d of this.debits.values())
      if (d.status === "processing" && (next === undefined || d.settlesAt < next)) next = d.settlesAt;
    for (const c of this.checkouts.values())
      if (c.status === "open" && (next === undefined || c.expiresAt < next)) next = c.expiresAt;
    return next;
  }
}
