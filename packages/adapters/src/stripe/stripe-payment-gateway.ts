import { createHash } from "node:crypto";
import type {
  AccountBalance,
  CheckoutSession,
  CheckoutSessionEnded,
  Clock,
  ConnectedAccountStatus,
  DebitOutcome,
  EffectCreatedAt,
  FeeRefundSeen,
  GatewayError,
  Instant,
  MandateStatus,
  Money,
  PaymentGateway,
  PaymentReferences,
  PaymentStatus,
  PayoutCreated,
  PayoutSchedule,
  RefundOutcome,
  ReportedPaymentMethod,
  ReportedPayout,
  SavedMethodType,
} from "@susu/domain";
import { err, errAsync, ok, okAsync, type Result, ResultAsync } from "neverthrow";
import Stripe from "stripe";
import { feeRefundsOldestFirst } from "./application-fee-events.js";
import { expireCheckoutSessionAt } from "./checkout-expiry.js";
import { type InvoiceReferences, invoiceReferencesOf } from "./invoice-payment-lookup.js";
import { findMadeByEffect, type ListPage, pageAfter, type WithMetadata } from "./made-by-effect.js";
import { METADATA_KEYS, metadataToReferences, referencesToMetadata } from "./payment-metadata.js";
import { reportedPaymentMethodOf } from "./payment-method-events.js";
import { createStripeClient, type StripeClientConfig } from "./stripe-client.js";
import { classifyStripeError } from "./stripe-errors.js";
import {
  accountBalanceOf,
  connectedAccountStatus,
  debitOutcomeOf,
  idOf,
  mandateStatusOf,
  paymentStatusOf,
  refundOutcomeOf,
  reportedPayoutOf,
  unexpectedAnswer,
} from "./stripe-mappings.js";

/** How long Stripe keeps an idempotency key after its first use: 24 hours. */
export const STRIPE_IDEMPOTENCY_RETENTION_MS = 24 * 3_600_000;

/**
 * How long after an effect was first decided the gateway trusts its idempotency key alone,
 * by default: 23 of Stripe's 24 hours, the last hour a margin for clocks that disagree.
 */
export const DEFAULT_KEY_TRUSTED_FOR_MS = 23 * 3_600_000;

/**
 * How far before a customer's `notBefore` (on susu's clock) its look-up still reads Stripe's
 * customers (on Stripe's): the same hour's margin for clocks that disagree.
 */
const CUSTOMER_CLOCK_MARGIN_MS = 3_600_000;

/** Options of {@link StripePaymentGateway}. */
export interface StripePaymentGatewayOptions {
  /**
   * The clock that `effectCreatedAt` instants are on: the use cases' (and the outbox
   * store's) clock. Default: the system clock.
   */
  readonly clock?: Clock;
  /**
   * How long after an effect was first decided its key alone covers a retry, so the look-up
   * for an object an earlier attempt made is skipped (ms, from 0 to Stripe's 24 hours; 0
   * always looks). Default {@link DEFAULT_KEY_TRUSTED_FOR_MS}.
   */
  readonly keyTrustedForMs?: number;
}

/** Stripe keeps idempotency keys of at most this many characters. */
export const IDEMPOTENCY_KEY_MAX_CHARS = 255;

/** Printable ASCII (space to tilde): what a key may be sent as. */
/** What Node sends in a header value as it is (its own check): tab, printable ASCII, and U+0080–U+00FF. */
const HEADER_SAFE = /^[\t\x20-\x7E\x80-\xFF]*$/;
const NOT_PRINTABLE_ASCII = /[^\x20-\x7E]/g;

/**
 * The `Idempotency-Key` for an effect id: the id itself, which is what support sees in
 * Stripe's request logs. An id longer than Stripe allows keeps a readable prefix and ends
 * in a SHA-256 of the whole id, so the key stays stable across retries and distinct ids
 * never share a key. An id Node would refuse in a header (a character above U+00FF, CR, LF
 * or another control character but tab: the SDK would report a connection error no retry
 * cures) is sent the same way: its characters outside printable ASCII read `_`, and the key
 * ends in `~` and the SHA-256 of the id as it is, so it is stable and still tells such ids
 * apart. Ids Node accepted (tab, U+0080–U+00FF) keep the key they were always sent under, so
 * an effect stored before this rule repeats its call under the same key.
 */
export function stripeIdempotencyKey(effectId: string): string {
  if (effectId.length === 0) throw new RangeError("an idempotency key must not be empty");
  const sendable = HEADER_SAFE.test(effectId);
  if (sendable && effectId.length <= IDEMPOTENCY_KEY_MAX_CHARS) return effectId;
  const digest = createHash("sha256").update(effectId).digest("hex");
  const readable = effectId.replace(NOT_PRINTABLE_ASCII, "_");
  return `${readable.slice(0, IDEMPOTENCY_KEY_MAX_CHARS - digest.length - 1)}~${digest}`;
}

/** A payout schedule in Stripe's `settings.payouts.schedule` words. */
function stripeSchedule(schedule: PayoutSchedule): Stripe.AccountCreateParams.Settings.Payouts.Schedule {
  switch (schedule.interval) {
    case "manual":
    case "daily":
      return { interval: schedule.interval };
    case "weekly":
      return { interval: "weekly", weekly_anchor: schedule.weeklyAnchor };
    case "monthly":
      return { interval: "monthly", monthly_anchor: schedule.monthlyAnchor };
  }
}

/** A card payment, as the port asks for one (`PaymentGateway.createCardPayment`). */
export type CardPaymentInput = Parameters<PaymentGateway["createCardPayment"]>[0];

const BECS = "au_becs_debit";

/** The `Idempotency-Key` of a request made for an effect. */
const keyOf = (input: { readonly idempotencyKey: string }): string =>
  stripeIdempotencyKey(input.idempotencyKey);

/** Stripe wants lower-case ISO codes; the domain keeps them upper case. */
function stripeCurrency(amount: Money): string {
  return amount.currency.toLowerCase();
}

/**
 * A decline at confirmation is a 402 that carries the PaymentIntent, now back in
 * `requires_payment_method` with `last_payment_error`. That is an outcome of the payment
 * (a failed attempt with Stripe's code and a PaymentIntent id for the records), not a
 * failure of the call, so it resolves to the PaymentIntent; every other error propagates.
 * An idempotent replay of the same request answers with the same stored 402.
 */
async function declineAsPaymentIntent(request: Promise<Stripe.PaymentIntent>): Promise<Stripe.PaymentIntent> {
  try {
    return await request;
  } catch (error) {
    if (error instanceof Stripe.errors.StripeCardError && error.payment_intent !== undefined)
      return error.payment_intent;
    throw error;
  }
}

/**
 * An object found for an effect must be what the effect asks for. A different amount under
 * the same effect id means the money already moved on other terms: reported as outcome
 * unknown, like Stripe's own reused-key error, so nobody concludes the payment failed.
 */
function sameMoney(
  found: { readonly id: string; readonly amount: number; readonly currency: string },
  amount: Money,
  key: string,
): Result<void, GatewayError> {
  if (found.amount === amount.amountMinor && found.currency === stripeCurrency(amount)) return ok(undefined);
  return err({
    type: "gateway_outcome_unknown",
    code: "idempotency_key_reused",
    message: `${found.id} was made for ${key} with ${found.amount} ${found.currency}, not ${amount.amountMinor} ${stripeCurrency(amount)}`,
  });
}

/**
 * The {@link PaymentGateway} on Stripe, through the official SDK. Every mutating call
 * carries the effect's id as `Idempotency-Key` (also on the SDK's own retries), so
 * running an effect again after a crash returns the first result instead of moving money
 * twice. Debits, card payments, transfers, refunds and reversals also look first for an
 * object the same effect already made (by `effect_id` metadata), which covers retries after
 * Stripe's 24-hour key retention — unless the call's `effectCreatedAt` says the effect was
 * first decided less than `keyTrustedForMs` (23 h) ago on the gateway's clock: every earlier
 * request of the effect came after that, so Stripe still keeps its key. SDK errors become {@link GatewayError}s through
 * {@link classifyStripeError}; "already done" answers (`charge_already_refunded`,
 * `transfer_already_reversed`) return the existing object — for a refund, only one that
 * carries the effect's id (any other refund is refused, not adopted).
 * Objects carry `group_id`, `round_id`, `member_id`, `attempt` and `effect_id` metadata so
 * that webhook events can be traced back to the round.
 */
export class StripePaymentGateway implements PaymentGateway {
  /** The SDK client, for callers that need Stripe features beyond the port (tests, webhooks). */
  readonly stripe: Stripe;

  readonly #clock: Clock;
  readonly #keyTrustedForMs: number;

  constructor(client: Stripe | StripeClientConfig, options: StripePaymentGatewayOptions = {}) {
    this.stripe = client instanceof Stripe ? client : createStripeClient(client);
    this.#clock = options.clock ?? { now: () => Date.now() };
    const trusted = options.keyTrustedForMs ?? DEFAULT_KEY_TRUSTED_FOR_MS;
    if (!Number.isSafeInteger(trusted) || trusted < 0 || trusted > STRIPE_IDEMPOTENCY_RETENTION_MS)
      throw new RangeError(
        `keyTrustedForMs must be a whole number of ms from 0 to ${STRIPE_IDEMPOTENCY_RETENTION_MS}, got ${trusted}`,
      );
    this.#keyTrustedForMs = trusted;
  }

  #call<T>(request: () => Promise<T>): ResultAsync<T, GatewayError> {
    // An async wrapper so that a synchronous throw inside the SDK is caught like a rejection.
    return ResultAsync.fromPromise((async () => request())(), classifyStripeError);
  }

  /**
   * Whether Stripe still keeps the key of every earlier request of an effect first decided
   * at `createdAt`: it was decided less than `keyTrustedForMs` ago on this gateway's clock.
   * Unknown (`undefined`), older, or more than the margin (24 h less `keyTrustedForMs`) in the
   * future (a clock that disagrees): not trusted. A clock moved forward (the simulation's
   * jumps) only makes effects older, so the look-up comes back.
   */
  #keyStillKept(createdAt: EffectCreatedAt | undefined): boolean {
    if (createdAt === undefined) return false;
    const age = this.#clock.now() - createdAt;
    return age < this.#keyTrustedForMs && age > this.#keyTrustedForMs - STRIPE_IDEMPOTENCY_RETENTION_MS;
  }

  /**
   * The object this effect already made, found by its `effect_id` metadata. Stripe keeps
   * idempotency keys for 24 hours, and a BECS effect can be retried later than that (a
   * dispatcher down for a day, a parked effect re-run by a person): without this look-up
   * such a retry would move the money a second time. It runs only when the key may have been
   * forgotten (`#keyStillKept`): an effect first decided within
   * `keyTrustedForMs` needs none, since the key alone answers a retry with the first object.
   * It reads the scope (the customer's PaymentIntents, the round's transfer group, the
   * payment's refunds, the transfer's reversals) newest first until it finds the object
   * ({@link findMadeByEffect}).
   */
  #madeByEffect<T extends WithMetadata>(
    list: (startingAfter: string | undefined) => PromiseLike<ListPage<T>>,
    key: string,
    createdAt: EffectCreatedAt | undefined,
  ): ResultAsync<T | undefined, GatewayError> {
    if (this.#keyStillKept(createdAt)) return okAsync(undefined);
    return findMadeByEffect(list, key);
  }

  createCustomer(input: {
    readonly idempotencyKey: string;
    readonly name: string;
    readonly email?: string;
    readonly references: PaymentReferences;
    readonly notBefore: Instant;
    readonly effectCreatedAt?: EffectCreatedAt;
  }): ResultAsync<{ readonly customerId: string }, GatewayError> {
    const key = stripeIdempotencyKey(input.idempotencyKey);
    // The customer an earlier call under this key made (its answer lost, the key forgotten
    // after 24 hours) is the person's: a second one would split their cards and memberships.
    // A first call (`effectCreatedAt` now) or a retry within the key's retention needs no
    // look-up: the key alone answers with the first customer. Otherwise Stripe lists
    // customers by creation time or e-mail, not metadata: those made since `notBefore` (less
    // a margin for the two clocks) are read, newest first; an e-mail given narrows it further.
    const created = { gte: Math.floor((input.notBefore - CUSTOMER_CLOCK_MARGIN_MS) / 1000) };
    return this.#madeByEffect(
      (after) =>
        this.stripe.customers.list({
          created,
          ...(input.email !== undefined ? { email: input.email } : {}),
          limit: 100,
          ...pageAfter(after),
        }),
      key,
      input.effectCreatedAt,
    )
      .andThen((existing) =>
        existing !== undefined
          ? okAsync(existing)
          : this.#call(() =>
              this.stripe.customers.create(
                {
                  name: input.name,
                  ...(input.email !== undefined ? { email: input.email } : {}),
                  metadata: referencesToMetadata(input.references, key),
                },
                { idempotencyKey: key },
              ),
            ),
      )
      .map((customer) => ({ customerId: customer.id }));
  }

  createDebitSetup(input: {
    readonly idempotencyKey: string;
    readonly customerId: string;
    readonly references: PaymentReferences;
  }): ResultAsync<{ readonly setupIntentId: string; readonly clientSecret: string }, GatewayError> {
    return this.#call(() =>
      this.stripe.setupIntents.create(
        {
          customer: input.customerId,
          payment_method_types: [BECS],
          usage: "off_session",
          metadata: referencesToMetadata(input.references, stripeIdempotencyKey(input.idempotencyKey)),
        },
        { idempotencyKey: stripeIdempotencyKey(input.idempotencyKey) },
      ),
    ).andThen((si) =>
      si.client_secret === null
        ? errAsync(unexpectedAnswer("missing_client_secret", `SetupIntent ${si.id} has no client secret`))
        : okAsync({ setupIntentId: si.id, clientSecret: si.client_secret }),
    );
  }

  createPaymentMethodSetup(input: {
    readonly idempotencyKey: string;
    readonly customerId: string;
    readonly methodType: SavedMethodType;
    readonly references: PaymentReferences;
  }): ResultAsync<{ readonly setupIntentId: string; readonly clientSecret: string }, GatewayError> {
    return this.#call(() =>
      this.stripe.setupIntents.create(
        {
          customer: input.customerId,
          payment_method_types: [input.methodType],
          usage: "off_session",
          metadata: referencesToMetadata(input.references, stripeIdempotencyKey(input.idempotencyKey)),
        },
        { idempotencyKey: stripeIdempotencyKey(input.idempotencyKey) },
      ),
    ).andThen((si) =>
      si.client_secret === null
        ? errAsync(unexpectedAnswer("missing_client_secret", `SetupIntent ${si.id} has no client secret`))
        : okAsync({ setupIntentId: si.id, clientSecret: si.client_secret }),
    );
  }

  getPaymentMethod(paymentMethodId: string): ResultAsync<ReportedPaymentMethod, GatewayError> {
    return this.#call(() => this.stripe.paymentMethods.retrieve(paymentMethodId)).map(
      reportedPaymentMethodOf,
    );
  }

  detachPaymentMethod(input: {
    readonly idempotencyKey: string;
    readonly paymentMethodId: string;
  }): ResultAsync<void, GatewayError> {
    return this.#call(() =>
      this.stripe.paymentMethods.detach(
        input.paymentMethodId,
        {},
        { idempotencyKey: stripeIdempotencyKey(input.idempotencyKey) },
      ),
    ).map(() => undefined);
  }

  setDefaultPaymentMethod(input: {
    readonly idempotencyKey: string;
    readonly customerId: string;
    readonly paymentMethodId: string;
  }): ResultAsync<void, GatewayError> {
    return this.#call(() =>
      this.stripe.customers.update(
        input.customerId,
        { invoice_settings: { default_payment_method: input.paymentMethodId } },
        { idempotencyKey: stripeIdempotencyKey(input.idempotencyKey) },
      ),
    ).map(() => undefined);
  }

  getMandate(mandateId: string): ResultAsync<MandateStatus, GatewayError> {
    return this.#call(() => this.stripe.mandates.retrieve(mandateId)).andThen((mandate) => {
      const paymentMethodId = idOf(mandate.payment_method);
      if (paymentMethodId === undefined)
        return errAsync(
          unexpectedAnswer("missing_payment_method", `mandate ${mandate.id} has no payment method`),
        );
      const status = mandateStatusOf(mandate.status);
      if (status === undefined)
        return errAsync(
          unexpectedAnswer("unexpected_mandate_status", `mandate ${mandate.id} is ${mandate.status}`),
        );
      return okAsync({ mandateId: mandate.id, status, paymentMethodId });
    });
  }

  createDebit(input: {
    readonly idempotencyKey: string;
    readonly customerId: string;
    readonly paymentMethodId: string;
    readonly mandateId: string;
    readonly amount: Money;
    readonly transferGroup: string;
    readonly description: string;
    readonly references: PaymentReferences;
    readonly effectCreatedAt?: EffectCreatedAt;
  }): ResultAsync<DebitOutcome, GatewayError> {
    const key = stripeIdempotencyKey(input.idempotencyKey);
    return this.#madeByEffect(
      (after) =>
        this.stripe.paymentIntents.list({ customer: input.customerId, limit: 100, ...pageAfter(after) }),
      key,
      input.effectCreatedAt,
    )
      .andThen((existing) =>
        existing === undefined
          ? this.#createDebit(input)
          : sameMoney(existing, input.amount, key).map(() => existing),
      )
      .andThen(debitOutcomeOf);
  }

  /**
   * The debit made under `idempotencyKey` (its `effect_id` metadata) among the customer's
   * PaymentIntents, newest first, as it stands now. Read only: a list (strongly consistent,
   * unlike Stripe's search) of every one of the customer's PaymentIntents.
   */
  findDebit(input: {
    readonly idempotencyKey: string;
    readonly customerId: string;
  }): ResultAsync<DebitOutcome | undefined, GatewayError> {
    const key = stripeIdempotencyKey(input.idempotencyKey);
    return findMadeByEffect(
      (after) =>
        this.stripe.paymentIntents.list({ customer: input.customerId, limit: 100, ...pageAfter(after) }),
      key,
    ).andThen(
      (found): Result<DebitOutcome | undefined, GatewayError> =>
        found === undefined ? ok(undefined) : debitOutcomeOf(found),
    );
  }

  #createDebit(
    input: Parameters<StripePaymentGateway["createDebit"]>[0],
  ): ResultAsync<Stripe.PaymentIntent, GatewayError> {
    return this.#call(() =>
      declineAsPaymentIntent(
        this.stripe.paymentIntents.create(
          {
            amount: input.amount.amountMinor,
            currency: stripeCurrency(input.amount),
            customer: input.customerId,
            payment_method: input.paymentMethodId,
            mandate: input.mandateId,
            payment_method_types: [BECS],
            confirm: true,
            off_session: true,
            transfer_group: input.transferGroup,
            description: input.description,
            metadata: referencesToMetadata(input.references, stripeIdempotencyKey(input.idempotencyKey)),
          },
          { idempotencyKey: stripeIdempotencyKey(input.idempotencyKey) },
        ),
      ),
    );
  }

  /**
   * Re-reads a debit's outcome: the way out of an outcome-unknown answer when the webhook
   * is late, and what a sweep calls for debits that have been processing too long.
   */
  getDebit(paymentIntentId: string): ResultAsync<DebitOutcome, GatewayError> {
    return this.#call(() => this.stripe.paymentIntents.retrieve(paymentIntentId)).andThen(debitOutcomeOf);
  }

  /**
   * The references a payment was created with, by PaymentIntent or, failing that, by
   * charge: the lookup that dispute events need (a dispute carries no metadata of its own).
   * `undefined` for a payment susu did not create.
   */
  getPaymentReferences(ids: {
    readonly paymentIntentId?: string;
    readonly chargeId?: string;
  }): ResultAsync<PaymentReferences | undefined, GatewayError> {
    const { paymentIntentId, chargeId } = ids;
    if (paymentIntentId !== undefined)
      return this.#call(() => this.stripe.paymentIntents.retrieve(paymentIntentId)).map((pi) =>
        metadataToReferences(pi.metadata),
      );
    if (chargeId !== undefined)
      return this.#call(() => this.stripe.charges.retrieve(chargeId, { expand: ["payment_intent"] })).map(
        (charge) => {
          const pi = charge.payment_intent;
          return metadataToReferences(pi !== null && typeof pi !== "string" ? pi.metadata : charge.metadata);
        },
      );
    return errAsync({
      type: "gateway_definite",
      code: "parameter_missing",
      message: "getPaymentReferences needs a PaymentIntent or a charge id",
    });
  }

  /**
   * The susu membership and invoice a payment with no susu metadata paid (Stripe Billing's
   * PaymentIntents and charges carry none), through Stripe's invoice payments: what a refund
   * made outside susu or a dispute of a membership invoice's charge needs (see
   * `invoice-payment-lookup.ts`).
   */
  getInvoiceReferences(ids: {
    readonly paymentIntentId?: string;
    readonly chargeId?: string;
  }): ResultAsync<InvoiceReferences, GatewayError> {
    return invoiceReferencesOf(this.stripe, ids);
  }

  /**
   * Every refund of an application fee, oldest first: what an `application_fee.refunded`
   * event's fee lists only in part when its refunds `has_more` (Stripe lists them newest
   * first; every page is read — a fee has a refund per refund of its charge, a few).
   */
  listApplicationFeeRefunds(feeId: string): ResultAsync<readonly FeeRefundSeen[], GatewayError> {
    return this.#call(() =>
      this.stripe.applicationFees.listRefunds(feeId, { limit: 100 }).autoPagingToArray({ limit: 10_000 }),
    ).map(feeRefundsOldestFirst);
  }

  /**
   * Cancels a PaymentIntent that waits for the customer (`cancellation_reason: abandoned`).
   * One already cancelled is no failure (a retried effect, or Stripe's own cancellation);
   * Stripe refuses one that succeeded or is processing (`payment_intent_unexpected_state`).
   */
  cancelPayment(input: {
    readonly idempotencyKey: string;
    readonly paymentIntentId: string;
  }): ResultAsync<{ readonly paymentIntentId: string }, GatewayError> {
    return this.#call(() =>
      this.stripe.paymentIntents.cancel(
        input.paymentIntentId,
        { cancellation_reason: "abandoned" },
        { idempotencyKey: stripeIdempotencyKey(input.idempotencyKey) },
      ),
    )
      .map((pi) => ({ paymentIntentId: pi.id }))
      .orElse((e) =>
        e.type === "gateway_definite" && e.code === "payment_intent_unexpected_state"
          ? this.#call(() => this.stripe.paymentIntents.retrieve(input.paymentIntentId)).andThen((pi) =>
              pi.status === "canceled" ? okAsync({ paymentIntentId: pi.id }) : errAsync(e),
            )
          : errAsync(e),
      );
  }

  /**
   * A marketplace card payment: a saved card confirmed at once off session (`confirm`,
   * `off_session`), or a PaymentIntent left for the client to confirm with its client
   * secret; a destination charge with `transfer_data[destination]`,
   * `application_fee_amount` and, when the seller is the merchant of record,
   * `on_behalf_of`. The charge is expanded so a destination charge's transfer comes with
   * the answer. A PaymentIntent the same effect made before (found by its `effect_id`) is
   * read again instead of made twice.
   */
  createCardPayment(input: CardPaymentInput): ResultAsync<DebitOutcome, GatewayError> {
    const key = stripeIdempotencyKey(input.idempotencyKey);
    return this.#madeByEffect(
      (after) =>
        this.stripe.paymentIntents.list({ customer: input.customerId, limit: 100, ...pageAfter(after) }),
      key,
      input.effectCreatedAt,
    )
      .andThen((existing) =>
        existing === undefined
          ? this.#createCardPayment(input)
          : sameMoney(existing, input.amount, key).asyncAndThen(() =>
              this.#call(() =>
                this.stripe.paymentIntents.retrieve(existing.id, { expand: ["latest_charge"] }),
              ),
            ),
      )
      .andThen(debitOutcomeOf);
  }

  #createCardPayment(input: CardPaymentInput): ResultAsync<Stripe.PaymentIntent, GatewayError> {
    const { confirmation, destination } = input;
    return this.#call(() =>
      declineAsPaymentIntent(
        this.stripe.paymentIntents.create(
          {
            amount: input.amount.amountMinor,
            currency: stripeCurrency(input.amount),
            customer: input.customerId,
            payment_method_types: ["card"],
            ...(confirmation.kind === "saved_card"
              ? { payment_method: confirmation.paymentMethodId, confirm: true, off_session: true }
              : {}),
            transfer_group: input.transferGroup,
            ...(destination !== undefined
              ? {
                  transfer_data: { destination: destination.accountId },
                  application_fee_amount: destination.applicationFee.amountMinor,
                  ...(destination.onBehalfOf ? { on_behalf_of: destination.accountId } : {}),
                }
              : {}),
            description: input.description,
            metadata: referencesToMetadata(input.references, keyOf(input)),
            expand: ["latest_charge"],
          },
          { idempotencyKey: keyOf(input) },
        ),
      ),
    );
  }

  refund(input: {
    readonly idempotencyKey: string;
    readonly paymentIntentId: string;
    readonly amount?: Money;
    readonly reverseTransfer?: boolean;
    readonly refundApplicationFee?: boolean;
    readonly references: PaymentReferences;
    readonly effectCreatedAt?: EffectCreatedAt;
  }): ResultAsync<RefundOutcome, GatewayError> {
    const key = stripeIdempotencyKey(input.idempotencyKey);
    return this.#madeByEffect(
      (after) =>
        this.stripe.refunds.list({ payment_intent: input.paymentIntentId, limit: 100, ...pageAfter(after) }),
      key,
      input.effectCreatedAt,
    ).andThen((existing) =>
      existing === undefined ? this.#createRefund(input) : okAsync(refundOutcomeOf(existing)),
    );
  }

  #createRefund(
    input: Parameters<StripePaymentGateway["refund"]>[0],
  ): ResultAsync<RefundOutcome, GatewayError> {
    return this.#call(() =>
      this.stripe.refunds.create(
        {
          payment_intent: input.paymentIntentId,
          ...(input.amount !== undefined ? { amount: input.amount.amountMinor } : {}),
          ...(input.reverseTransfer !== undefined ? { reverse_transfer: input.reverseTransfer } : {}),
          ...(input.refundApplicationFee !== undefined
            ? { refund_application_fee: input.refundApplicationFee }
            : {}),
          metadata: referencesToMetadata(input.references, stripeIdempotencyKey(input.idempotencyKey)),
        },
        { idempotencyKey: stripeIdempotencyKey(input.idempotencyKey) },
      ),
    )
      .map(refundOutcomeOf)
      .orElse((error) =>
        error.code === "charge_already_refunded"
          ? this.#existingRefund(input.paymentIntentId, stripeIdempotencyKey(input.idempotencyKey), error)
          : errAsync(error),
      );
  }

  /**
   * After Stripe refused a refund as `charge_already_refunded`: the refund this effect made
   * (an earlier run whose key Stripe no longer keeps), found by its `effect_id` metadata, is
   * the answer. Any other refund (a person's in the dashboard, another effect's) is not this
   * effect's: susu did not make it and may not book it, so the refusal stands
   * (`gateway_definite`, which the aggregate hears as `refund_failed` and tickets).
   */
  #existingRefund(
    paymentIntentId: string,
    effectId: string,
    original: GatewayError,
  ): ResultAsync<RefundOutcome, GatewayError> {
    return this.#refundMadeBy(paymentIntentId, effectId).andThen((mine) =>
      mine ? okAsync(refundOutcomeOf(mine)) : errAsync(original),
    );
  }

  /**
   * The refund of `paymentIntentId` that carries `effectId` as its `effect_id` metadata, if
   * any. Stripe's list filters by PaymentIntent, not by metadata; a payment has few refunds,
   * so every page is read.
   */
  #refundMadeBy(
    paymentIntentId: string,
    effectId: string,
  ): ResultAsync<Stripe.Refund | undefined, GatewayError> {
    return findMadeByEffect(
      (after) =>
        this.stripe.refunds.list({ payment_intent: paymentIntentId, limit: 100, ...pageAfter(after) }),
      effectId,
    );
  }

  /**
   * The refund an earlier effect made (by the `effect_id` metadata susu writes on every
   * refund) among the PaymentIntent's, as it stands now: read only, for a refund whose outcome
   * never reached susu. A cancelled refund reads as failed, as its webhook would.
   */
  findRefund(input: {
    readonly idempotencyKey: string;
    readonly paymentIntentId: string;
  }): ResultAsync<RefundOutcome | undefined, GatewayError> {
    return this.#refundMadeBy(input.paymentIntentId, stripeIdempotencyKey(input.idempotencyKey)).map(
      (found) => (found === undefined ? undefined : refundOutcomeOf(found)),
    );
  }

  createTransfer(input: {
    readonly idempotencyKey: string;
    readonly destinationAccountId: string;
    readonly amount: Money;
    readonly sourceChargeId?: string;
    readonly transferGroup: string;
    readonly references: PaymentReferences;
    readonly effectCreatedAt?: EffectCreatedAt;
  }): ResultAsync<{ readonly transferId: string }, GatewayError> {
    const key = stripeIdempotencyKey(input.idempotencyKey);
    return this.#madeByEffect(
      (after) =>
        this.stripe.transfers.list({ transfer_group: input.transferGroup, limit: 100, ...pageAfter(after) }),
      key,
      input.effectCreatedAt,
    ).andThen((existing) =>
      existing === undefined
        ? this.#createTransfer(input)
        : sameMoney(existing, input.amount, key).map(() => ({ transferId: existing.id })),
    );
  }

  #createTransfer(
    input: Parameters<StripePaymentGateway["createTransfer"]>[0],
  ): ResultAsync<{ readonly transferId: string }, GatewayError> {
    return this.#call(() =>
      this.stripe.transfers.create(
        {
          amount: input.amount.amountMinor,
          currency: stripeCurrency(input.amount),
          destination: input.destinationAccountId,
          transfer_group: input.transferGroup,
          ...(input.sourceChargeId !== undefined ? { source_transaction: input.sourceChargeId } : {}),
          metadata: referencesToMetadata(input.references, stripeIdempotencyKey(input.idempotencyKey)),
        },
        { idempotencyKey: stripeIdempotencyKey(input.idempotencyKey) },
      ),
    ).map((transfer) => ({ transferId: transfer.id }));
  }

  /**
   * The transfer an earlier effect made, found by the `effect_id` metadata susu writes on
   * every transfer, among the transfer group's (Stripe's list filters by `transfer_group`,
   * not by metadata; a group holds one payment's few transfers, so every page is read).
   */
  findTransfer(input: {
    readonly idempotencyKey: string;
    readonly transferGroup: string;
  }): ResultAsync<{ readonly transferId: string } | undefined, GatewayError> {
    const key = stripeIdempotencyKey(input.idempotencyKey);
    return findMadeByEffect(
      (after) =>
        this.stripe.transfers.list({ transfer_group: input.transferGroup, limit: 100, ...pageAfter(after) }),
      key,
    ).map((found) => (found === undefined ? undefined : { transferId: found.id }));
  }

  reverseTransfer(input: {
    readonly idempotencyKey: string;
    readonly transferId: string;
    readonly amount?: Money;
    readonly references?: PaymentReferences;
    readonly effectCreatedAt?: EffectCreatedAt;
  }): ResultAsync<{ readonly reversalId: string }, GatewayError> {
    const key = stripeIdempotencyKey(input.idempotencyKey);
    return this.#madeByEffect(
      (after) => this.stripe.transfers.listReversals(input.transferId, { limit: 100, ...pageAfter(after) }),
      key,
      input.effectCreatedAt,
    ).andThen((existing) =>
      existing === undefined ? this.#createReversal(input) : okAsync({ reversalId: existing.id }),
    );
  }

  #createReversal(
    input: Parameters<StripePaymentGateway["reverseTransfer"]>[0],
  ): ResultAsync<{ readonly reversalId: string }, GatewayError> {
    return this.#call(() =>
      this.stripe.transfers.createReversal(
        input.transferId,
        {
          ...(input.amount !== undefined ? { amount: input.amount.amountMinor } : {}),
          metadata: referencesToMetadata(input.references ?? {}, stripeIdempotencyKey(input.idempotencyKey)),
        },
        { idempotencyKey: stripeIdempotencyKey(input.idempotencyKey) },
      ),
    )
      .map((reversal) => ({ reversalId: reversal.id }))
      .orElse((error) =>
        error.code === "transfer_already_reversed"
          ? this.#existingReversal(input.transferId, stripeIdempotencyKey(input.idempotencyKey), error)
          : errAsync(error),
      );
  }

  #existingReversal(
    transferId: string,
    effectId: string,
    original: GatewayError,
  ): ResultAsync<{ readonly reversalId: string }, GatewayError> {
    // Only a reversal this effect made (an earlier run, under a key Stripe no longer keeps)
    // answers for it. One made in the dashboard or by another effect is not this one's: the
    // refusal stands, so the domain records the reversal failed and a person sees it,
    // rather than booking money another reversal moved (of another amount, maybe).
    return findMadeByEffect(
      (after) => this.stripe.transfers.listReversals(transferId, { limit: 100, ...pageAfter(after) }),
      effectId,
    ).andThen((found) => (found ? okAsync({ reversalId: found.id }) : errAsync(original)));
  }

  createConnectedAccount(input: {
    readonly idempotencyKey: string;
    readonly email?: string;
    readonly country: string;
    readonly payoutSchedule?: PayoutSchedule;
    readonly references: PaymentReferences;
  }): ResultAsync<{ readonly accountId: string }, GatewayError> {
    return this.#call(() =>
      this.stripe.accounts.create(
        {
          type: "express",
          country: input.country,
          ...(input.email !== undefined ? { email: input.email } : {}),
          capabilities: { transfers: { requested: true } },
          ...(input.payoutSchedule !== undefined
            ? { settings: { payouts: { schedule: stripeSchedule(input.payoutSchedule) } } }
            : {}),
          metadata: referencesToMetadata(input.references, stripeIdempotencyKey(input.idempotencyKey)),
        },
        { idempotencyKey: stripeIdempotencyKey(input.idempotencyKey) },
      ),
    ).map((account) => ({ accountId: account.id }));
  }

  createOnboardingLink(input: {
    readonly accountId: string;
    readonly kind: "onboarding" | "update";
    readonly refreshUrl: string;
    readonly returnUrl: string;
  }): ResultAsync<{ readonly url: string; readonly expiresAt: number }, GatewayError> {
    // No idempotency key of ours: a link is single-use and short-lived, so a second one is harmless.
    return this.#call(() =>
      this.stripe.accountLinks.create({
        account: input.accountId,
        type: input.kind === "onboarding" ? "account_onboarding" : "account_update",
        refresh_url: input.refreshUrl,
        return_url: input.returnUrl,
      }),
    ).map((link) => ({ url: link.url, expiresAt: link.expires_at * 1000 }));
  }

  /**
   * A Checkout Session in payment mode for one line (`price_data`), paid to the platform:
   * the PaymentIntent carries the transfer group (the seller's transfer is funded later by
   * its charge) and the references, as does the session. Stripe accepts `expires_at` 30
   * minutes to 24 hours ahead.
   */
  createCheckoutSession(input: {
    readonly idempotencyKey: string;
    readonly amount: Money;
    readonly description: string;
    readonly customerEmail?: string;
    readonly transferGroup: string;
    readonly expiresAt: number;
    readonly successUrl: string;
    readonly cancelUrl: string;
    readonly references: PaymentReferences;
  }): ResultAsync<CheckoutSession, GatewayError> {
    const key = stripeIdempotencyKey(input.idempotencyKey);
    const metadata = referencesToMetadata(input.references, key);
    return this.#call(() =>
      this.stripe.checkout.sessions.create(
        {
          mode: "payment",
          line_items: [
            {
              quantity: 1,
              price_data: {
                currency: stripeCurrency(input.amount),
                unit_amount: input.amount.amountMinor,
                product_data: { name: input.description },
              },
            },
          ],
          ...(input.customerEmail !== undefined ? { customer_email: input.customerEmail } : {}),
          expires_at: Math.floor(input.expiresAt / 1000),
          success_url: input.successUrl,
          cancel_url: input.cancelUrl,
          metadata,
          payment_intent_data: {
            transfer_group: input.transferGroup,
            description: input.description,
            metadata,
          },
        },
        { idempotencyKey: key },
      ),
    ).andThen((session) =>
      session.url === null
        ? errAsync(unexpectedAnswer("missing_checkout_url", `Checkout Session ${session.id} has no url`))
        : okAsync({ sessionId: session.id, url: session.url, expiresAt: session.expires_at * 1000 }),
    );
  }

  expireCheckoutSession(input: {
    readonly idempotencyKey: string;
    readonly sessionId: string;
  }): ResultAsync<CheckoutSessionEnded, GatewayError> {
    const key = stripeIdempotencyKey(input.idempotencyKey);
    const ended = (session: Stripe.Checkout.Session): ResultAsync<CheckoutSessionEnded, GatewayError> => {
      if (session.status === "expired") return okAsync({ status: "expired" });
      const paymentIntentId = idOf(session.payment_intent);
      if (session.status === "complete" && paymentIntentId !== undefined)
        return okAsync({ status: "complete", paymentIntentId });
      return errAsync(
        unexpectedAnswer(
          "checkout_not_expired",
          `Checkout Session ${session.id} is ${session.status ?? "of no status"}`,
        ),
      );
    };
    return expireCheckoutSessionAt(
      this.stripe,
      (request) => this.#call(request),
      input.sessionId,
      key,
      ended,
    );
  }

  getPayment(paymentIntentId: string): ResultAsync<PaymentStatus, GatewayError> {
    // The charge expanded: a destination charge's transfer comes with it.
    return this.#call(() =>
      this.stripe.paymentIntents.retrieve(paymentIntentId, { expand: ["latest_charge"] }),
    ).andThen(paymentStatusOf);
  }

  /** `GET /v1/payouts/:id` on the connected account (`Stripe-Account`), as a `payout.*` event carries it. */
  getPayout(input: {
    readonly accountId: string;
    readonly payoutId: string;
  }): ResultAsync<ReportedPayout, GatewayError> {
    return this.#call(() =>
      this.stripe.payouts.retrieve(input.payoutId, {}, { stripeAccount: input.accountId }),
    ).andThen((payout) => {
      const reported = reportedPayoutOf(payout, input.accountId);
      return reported === undefined
        ? errAsync(
            unexpectedAnswer(
              "unknown_payout_status",
              `payout ${payout.id} has an unknown status (${payout.status}) or currency (${payout.currency})`,
            ),
          )
        : okAsync(reported);
    });
  }

  /**
   * `GET /v1/accounts/:id`; the account object lists its first external accounts, and when
   * there are more, all of them are read (up to 100) so each currency's default is found.
   */
  getConnectedAccount(accountId: string): ResultAsync<ConnectedAccountStatus, GatewayError> {
    return this.#call(() => this.stripe.accounts.retrieve(accountId)).andThen((account) =>
      account.external_accounts?.has_more === true
        ? this.#call(() => this.stripe.accounts.listExternalAccounts(accountId, { limit: 100 })).map((all) =>
            connectedAccountStatus(account, all.data),
          )
        : okAsync(connectedAccountStatus(account)),
    );
  }

  /** `GET /v1/balance` on the connected account (`Stripe-Account`). */
  getAccountBalance(accountId: string): ResultAsync<AccountBalance, GatewayError> {
    return this.#call(() => this.stripe.balance.retrieve({}, { stripeAccount: accountId })).map(
      accountBalanceOf,
    );
  }

  /**
   * A manual payout on the connected account (`POST /v1/payouts` with `Stripe-Account`), of
   * its available balance to its bank account, keyed by the caller's idempotency key. No
   * look-up by metadata first: a payout draws only on the account's available balance, so a
   * retry after Stripe forgot the key finds nothing left to pay twice, or is refused. The
   * run's id goes in the metadata (`payout_run`): Stripe compares a reused key's parameters,
   * so another run's request under the key is refused as reused, not answered with the
   * payout that run made.
   */
  createPayout(input: {
    readonly idempotencyKey: string;
    readonly accountId: string;
    readonly amount: Money;
    readonly description: string;
    readonly references: PaymentReferences;
    readonly runId?: string;
  }): ResultAsync<PayoutCreated, GatewayError> {
    const key = stripeIdempotencyKey(input.idempotencyKey);
    const metadata = referencesToMetadata(input.references, key);
    if (input.runId !== undefined) metadata[METADATA_KEYS.payoutRun] = input.runId;
    return this.#call(() =>
      this.stripe.payouts.create(
        {
          amount: input.amount.amountMinor,
          currency: stripeCurrency(input.amount),
          description: input.description,
          metadata,
        },
        { idempotencyKey: key, stripeAccount: input.accountId },
      ),
    ).andThen((payout) =>
      sameMoney(payout, input.amount, key).map(
        (): PayoutCreated => ({
          payoutId: payout.id,
          amount: input.amount,
          status: payout.status === "in_transit" || payout.status === "paid" ? payout.status : "pending",
          arrivalDate: payout.arrival_date * 1000,
          createdAt: payout.created * 1000,
        }),
      ),
    );
  }

  /**
   * The payout made under `idempotencyKey` on the connected account, found by the `effect_id`
   * metadata `createPayout` writes (Stripe's list filters by `created`, not by metadata): the
   * account's payouts created since `createdSince`, newest first, read page after page until
   * it is found ({@link findMadeByEffect}; a manual account's payouts of a few days are few).
   */
  findPayoutByKey(input: {
    readonly accountId: string;
    readonly idempotencyKey: string;
    readonly createdSince: Instant;
  }): ResultAsync<ReportedPayout | undefined, GatewayError> {
    const key = stripeIdempotencyKey(input.idempotencyKey);
    return findMadeByEffect(
      (after) =>
        this.stripe.payouts.list(
          { created: { gte: Math.floor(input.createdSince / 1000) }, limit: 100, ...pageAfter(after) },
          { stripeAccount: input.accountId },
        ),
      key,
    ).andThen((found) => {
      if (found === undefined) return okAsync(undefined);
      const reported = reportedPayoutOf(found, input.accountId);
      return reported === undefined
        ? errAsync(
            unexpectedAnswer(
              "unknown_payout_status",
              `payout ${found.id} has an unknown status (${found.status}) or currency (${found.currency})`,
            ),
          )
        : okAsync(reported);
    });
  }
}
