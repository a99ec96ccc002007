import type { ResultAsync } from "neverthrow";
import type { CurrencyCode, Money } from "../money/index.js";
import type { ReportedPaymentMethod, SavedMethodType } from "../payment-method/saved-payment-method.js";
import type { PayoutSchedule, PayoutStatus, ReportedPayout } from "../payout/payout.js";
import type { Instant } from "../shared/time.js";

/**
 * How a payment provider call failed, sorted by what the caller should do next:
 * - `gateway_retryable`: nothing happened; try again later with the same idempotency key;
 * - `gateway_outcome_unknown`: it may or may not have happened (timeout, 5xx); retry with
 *   the same key (the provider then answers with the original result) or wait for the webhook;
 * - `gateway_definite`: refused for good (validation, an account that cannot receive); `code`
 *   says why and is the provider's code, e.g. `insufficient_capabilities_for_transfer`.
 */
export type GatewayError = {
  readonly type: "gateway_retryable" | "gateway_outcome_unknown" | "gateway_definite";
  readonly code: string;
  readonly message: string;
  /** Seconds the provider asked us to wait, when it said. */
  readonly retryAfterSeconds?: number;
};

/** Builds a {@link GatewayError}. */
export function gatewayError(type: GatewayError["type"], code: string, message: string): GatewayError {
  return { type, code, message };
}

/**
 * Where a payment (a PaymentIntent: a round's debit, a marketplace card payment) stands right
 * after it was submitted, or as an event reports it. BECS debits are almost always `processing`.
 */
export type DebitOutcome =
  | { readonly status: "processing"; readonly paymentIntentId: string }
  | {
      readonly status: "succeeded";
      readonly paymentIntentId: string;
      readonly chargeId: string;
      /** A destination charge's transfer to the connected account (the charge's `transfer`), when the answer names it. */
      readonly transferId?: string;
    }
  | { readonly status: "failed"; readonly paymentIntentId: string; readonly failureCode: string }
  /**
   * The payment waits for the customer, on session: to confirm a new card or to pass 3-D
   * Secure, with `clientSecret`. Off session (a round's debit) nobody can: a failure there.
   */
  | { readonly status: "requires_action"; readonly paymentIntentId: string; readonly clientSecret: string };

/** How a card payment is confirmed: at once, off session, with a saved card; or by the client, on session. */
export type CardPaymentConfirmation =
  | { readonly kind: "saved_card"; readonly paymentMethodId: string; readonly offSession: true }
  | { readonly kind: "client_confirmation" };

/** Where a refund stands: `pending` ones finish later (a refund of a processing debit waits for it). */
export interface RefundOutcome {
  readonly refundId: string;
  readonly status: "pending" | "succeeded" | "failed";
  readonly failureCode?: string;
  /** The refund's amount, where the caller needs it (a membership invoice's refunds carry it). */
  readonly amountMinor?: number;
}

/** A connected (payout) account's ability to receive money. */
export interface ConnectedAccountStatus {
  readonly accountId: string;
  readonly detailsSubmitted: boolean;
  readonly chargesEnabled: boolean;
  readonly payoutsEnabled: boolean;
  /** Whether transfers to the account can be made now. */
  readonly transfersActive: boolean;
  /** Requirement names currently due (empty when none). */
  readonly requirementsDue: readonly string[];
  readonly disabledReason?: string;
  /**
   * Where the account's payouts go: its default external account (bank account or debit card)
   * per currency. Absent when the provider did not show them (then nothing is known about
   * them, and a payout is asked for as before).
   */
  readonly payoutDestinations?: readonly PayoutDestination[];
  /**
   * The account's payout schedule at the provider now (Stripe's
   * `settings.payouts.schedule.interval`): `manual` when the platform pays it out, otherwise the
   * provider pays it out by itself. It stays what the account was created with when the
   * configured schedule changes later. Absent when the provider did not say.
   */
  readonly payoutInterval?: PayoutSchedule["interval"];
}

/** A connected account's default external account for one currency: where its payouts in that currency go. */
export interface PayoutDestination {
  /** The provider's id of the bank account or card (`ba_…`, `card_…`). */
  readonly destinationId: string;
  readonly currency: CurrencyCode;
  /**
   * `errored`: a payout to it failed, and the provider pays nothing more to it until the
   * person updates their bank details (Stripe's external account `status`); `usable` otherwise.
   */
  readonly status: "usable" | "errored";
}

/** A connected account's balance at the provider, per currency (amounts may be negative). */
export interface AccountBalance {
  /** What can be paid out now. */
  readonly available: readonly Money[];
  /** What is on its way in and not available yet. */
  readonly pending: readonly Money[];
}

/** A payout the provider accepted. */
export interface PayoutCreated {
  readonly payoutId: string;
  readonly amount: Money;
  readonly status: PayoutStatus;
  readonly arrivalDate: Instant;
  /** When the provider created it. */
  readonly createdAt: Instant;
}

/** A BECS mandate's state at the provider. */
export interface MandateStatus {
  readonly mandateId: string;
  readonly status: "active" | "inactive" | "pending";
  readonly paymentMethodId: string;
}

/**
 * References carried with every object susu makes at the provider, so its events can be
 * traced back: to the round (group, round, member, attempt) for payments, to the person
 * for what a person owns (customer, debit set-up, connected account).
 */
export interface PaymentReferences {
  /** The group of a round's payment; absent on what a person owns across groups. */
  readonly groupId?: string;
  readonly roundId?: string;
  readonly memberId?: string;
  /** The person who owns the object (customer, set-up, connected account). */
  readonly personId?: string;
  readonly attempt?: number;
  /** The held-funds payment a Checkout Session, its payment, refunds and transfers belong to. */
  readonly heldPaymentId?: string;
  /**
   * A held payment's refund number (its refunds are numbered from 1; `attempt` is the
   * refund's attempt). On a round's refund of a surplus charge (a debit recorded as failed
   * that took the money after all): the debit attempt whose charge it gives back.
   */
  readonly refund?: number;
  /** A held payment's or marketplace charge's reversal number (reversals of a seller's transfer, numbered from 1). */
  readonly reversal?: number;
  /** The marketplace charge a PaymentIntent, its refunds, transfers and reversals belong to. */
  readonly marketplaceChargeId?: string;
  /** The seller (a person) a marketplace charge's transfer pays (`attempt` is the transfer's attempt). */
  /** The membership plan a Stripe product and its prices belong to. */
  readonly planId?: string;
  /** The membership (susu's subscription) a Stripe subscription, its Checkout Session and invoices belong to. */
  readonly subscriptionId?: string;
  /** The membership invoice a refund susu made gives back (with `subscriptionId`). */
  readonly invoiceId?: string;
  readonly sellerId?: string;
  /**
   * Why a person's set-up was made: `saved_method` for one saved from their payment methods
   * (it becomes the debit rounds use only when they have no active one); absent: onboarding.
   */
  readonly setupPurpose?: "saved_method";
}

/**
 * A payment as the provider holds it now. Whether a checkout was paid is judged by this,
 * read again when its event is routed, never by the session's own status alone.
 */
export type PaymentStatus =
  /** Waiting for the customer (a method, an authentication) or cancelled: no money yet. */
  | { readonly status: "unpaid"; readonly paymentIntentId: string; readonly reason: string }
  /** A delayed method (a bank debit) was submitted and has not settled. */
  | { readonly status: "processing"; readonly paymentIntentId: string }
  | {
      readonly status: "succeeded";
      readonly paymentIntentId: string;
      readonly chargeId: string;
      readonly amount: Money;
      /** A destination charge's transfer to the connected account (the charge's `transfer`). */
      readonly transferId?: string;
    }
  /** The last attempt failed and the payment can no longer complete without the customer. */
  | { readonly status: "failed"; readonly paymentIntentId: string; readonly failureCode: string };

/** A hosted payment page for one payment (Stripe Checkout, payment mode). */
export interface CheckoutSession {
  readonly sessionId: string;
  /** Where the client sends the customer to pay. */
  readonly url: string;
  /** When the page stops accepting payment (epoch ms). */
  readonly expiresAt: number;
}

/** How a Checkout Session asked to expire ended: expired, or paid before it could be. */
export type CheckoutSessionEnded =
  | { readonly status: "expired" }
  | { readonly status: "complete"; readonly paymentIntentId: string };

/**
 * When the effect a money-moving call carries out was first decided (an {@link Instant} on the
 * use cases' clock): every earlier request made for the same effect, under the same
 * idempotency key, was sent at or after it. A provider that forgets idempotency keys after a
 * while (Stripe: 24 hours) uses it to know whether the key alone still covers a retry, or
 * whether it must first look for an object an earlier attempt made. Absent: unknown, and
 * the provider assumes the key may have been forgotten. Never a retry's or a claim's time.
 * The dispatcher gives it only on an effect's first attempt: after a recorded failure (a 500
 * the provider may have stored under the key after making the object) the provider looks.
 */
export type EffectCreatedAt = Instant;

/**
 * The payment provider (Stripe in production). Every mutating call takes an
 * `idempotencyKey` — the effect's stable id — so a repeated call returns the first
 * result instead of moving money twice. Amounts are {@link Money} in minor units.
 */
export interface PaymentGateway {
  /**
   * Creates the customer that owns a person's payment methods (one per person). A customer an
   * earlier call under the same key made is the answer, also once the provider has forgotten
   * the key (a retry a day later after a lost answer). `effectCreatedAt` is when the first
   * call under the key was made (a first call gives its own time: the key alone covers it, so
   * nothing is looked up; absent: unknown, the provider looks). `notBefore` is a time no such
   * customer can have been made before (the first call), bounding that look-up: it always has
   * a lower time bound.
   */
  createCustomer(input: {
    readonly idempotencyKey: string;
    readonly name: string;
    readonly email?: string;
    readonly references: PaymentReferences;
    readonly notBefore: Instant;
    /** {@link EffectCreatedAt}: when the first call under this key was made; absent when unknown. */
    readonly effectCreatedAt?: EffectCreatedAt;
  }): ResultAsync<{ readonly customerId: string }, GatewayError>;

  /** Starts a BECS Direct Debit set-up: the person accepts a mandate through the client secret. */
  createDebitSetup(input: {
    readonly idempotencyKey: string;
    readonly customerId: string;
    readonly references: PaymentReferences;
  }): ResultAsync<{ readonly setupIntentId: string; readonly clientSecret: string }, GatewayError>;

  /** Reads a mandate's status. */
  getMandate(mandateId: string): ResultAsync<MandateStatus, GatewayError>;

  /** Debits a member off-session with their saved BECS mandate, inside the round's transfer group. */
  createDebit(input: {
    readonly idempotencyKey: string;
    readonly customerId: string;
    readonly paymentMethodId: string;
    readonly mandateId: string;
    readonly amount: Money;
    readonly transferGroup: string;
    readonly description: string;
    readonly references: PaymentReferences;
    /** {@link EffectCreatedAt}: when the effect this call carries out was first decided; absent when unknown. */
    readonly effectCreatedAt?: EffectCreatedAt;
  }): ResultAsync<DebitOutcome, GatewayError>;

  /**
   * Finds the debit made under `idempotencyKey` (a `collect_contribution` effect's key, written
   * as its `effect_id` metadata) among `customerId`'s payments, and how it stands now: read
   * only, for a queued debit the round no longer wants whose earlier try may have reached the
   * provider unheard (a timeout, a 5xx, a lost reply). `undefined` when the provider holds no
   * payment made by that key.
   */
  findDebit(input: {
    readonly idempotencyKey: string;
    readonly customerId: string;
  }): ResultAsync<DebitOutcome | undefined, GatewayError>;

  /**
   * A card payment to the platform (a marketplace charge), in `transferGroup`: confirmed at
   * once off session with a saved card, or left for the client to confirm (the answer's
   * client secret). A destination charge sends it on to `destination.accountId`
   * (`transfer_data[destination]`) minus the platform's `applicationFee`, made `on_behalf_of`
   * the account when it is the merchant of record.
   */
  createCardPayment(input: {
    readonly idempotencyKey: string;
    readonly amount: Money;
    readonly customerId: string;
    readonly confirmation: CardPaymentConfirmation;
    readonly description: string;
    readonly transferGroup: string;
    readonly destination?: {
      readonly accountId: string;
      readonly applicationFee: Money;
      readonly onBehalfOf: boolean;
    };
    readonly references: PaymentReferences;
    /** {@link EffectCreatedAt}: when the effect this call carries out was first decided; absent when unknown. */
    readonly effectCreatedAt?: EffectCreatedAt;
  }): ResultAsync<DebitOutcome, GatewayError>;

  /**
   * Cancels a payment that waits for the customer (Stripe `cancellation_reason: abandoned`):
   * it can no longer succeed. Refused (`gateway_definite`) when it succeeded or is
   * processing meanwhile; cancelling one already cancelled answers as the first time.
   */
  cancelPayment(input: {
    readonly idempotencyKey: string;
    readonly paymentIntentId: string;
  }): ResultAsync<{ readonly paymentIntentId: string }, GatewayError>;

  /**
   * Refunds a payment, fully or partly; pending refunds finish later (a webhook says how).
   * A destination charge's refund can reverse the transfer to the account in proportion
   * (`reverseTransfer`) and give the application fee back in proportion (`refundApplicationFee`).
   */
  refund(input: {
    readonly idempotencyKey: string;
    readonly paymentIntentId: string;
    readonly amount?: Money;
    readonly reverseTransfer?: boolean;
    readonly refundApplicationFee?: boolean;
    readonly references: PaymentReferences;
    /** {@link EffectCreatedAt}: when the effect this call carries out was first decided; absent when unknown. */
    readonly effectCreatedAt?: EffectCreatedAt;
  }): ResultAsync<RefundOutcome, GatewayError>;

  /**
   * Finds the refund made under `idempotencyKey` (a refund effect's key, written as its
   * `effect_id` metadata) among the refunds of `paymentIntentId`, and how it stands now:
   * read only, for a refund whose outcome never reached susu. `undefined` when the provider
   * holds no refund made by that key.
   */
  findRefund(input: {
    readonly idempotencyKey: string;
    readonly paymentIntentId: string;
  }): ResultAsync<RefundOutcome | undefined, GatewayError>;

  /** Transfers money to a connected account, funded by `sourceChargeId` when given. */
  createTransfer(input: {
    readonly idempotencyKey: string;
    readonly destinationAccountId: string;
    readonly amount: Money;
    readonly sourceChargeId?: string;
    readonly transferGroup: string;
    readonly references: PaymentReferences;
    /** {@link EffectCreatedAt}: when the effect this call carries out was first decided; absent when unknown. */
    readonly effectCreatedAt?: EffectCreatedAt;
  }): ResultAsync<{ readonly transferId: string }, GatewayError>;

  /**
   * Finds the transfer made under `idempotencyKey` (an earlier effect's key) in
   * `transferGroup`, if the provider made one: read only, for deciding whether an attempt
   * whose answer was lost moved money before another attempt is made.
   */
  findTransfer(input: {
    readonly idempotencyKey: string;
    readonly transferGroup: string;
  }): ResultAsync<{ readonly transferId: string } | undefined, GatewayError>;

  /** Reverses a transfer, fully or partly; the references (when given) go on the reversal. */
  reverseTransfer(input: {
    readonly idempotencyKey: string;
    readonly transferId: string;
    readonly amount?: Money;
    readonly references?: PaymentReferences;
    /** {@link EffectCreatedAt}: when the effect this call carries out was first decided; absent when unknown. */
    readonly effectCreatedAt?: EffectCreatedAt;
  }): ResultAsync<{ readonly reversalId: string }, GatewayError>;

  /** Creates an Express connected account that can receive transfers once onboarded. */
  createConnectedAccount(input: {
    readonly idempotencyKey: string;
    readonly email?: string;
    readonly country: string;
    /** When the account pays out to its bank; the provider's default (daily) when absent. */
    readonly payoutSchedule?: PayoutSchedule;
    readonly references: PaymentReferences;
  }): ResultAsync<{ readonly accountId: string }, GatewayError>;

  /** A single-use link to the provider's onboarding (or account update) pages. */
  createOnboardingLink(input: {
    readonly accountId: string;
    readonly kind: "onboarding" | "update";
    readonly refreshUrl: string;
    readonly returnUrl: string;
  }): ResultAsync<{ readonly url: string; readonly expiresAt: number }, GatewayError>;

  /** Reads a connected account's readiness. */
  getConnectedAccount(accountId: string): ResultAsync<ConnectedAccountStatus, GatewayError>;

  /** Reads a connected account's balance (available and pending, per currency). */
  getAccountBalance(accountId: string): ResultAsync<AccountBalance, GatewayError>;

  /**
   * Pays `amount` of a connected account's available balance out to its bank (a manual
   * payout, made on the account). Refused (`balance_insufficient`, `payouts_not_allowed`)
   * when the balance or the account does not allow it. `runId` names the payout run that
   * asks and is part of the request: a retry of the same run's call is answered with its
   * payout, the same key from another run is refused (`idempotency_key_reused`), never
   * answered with a payout that run did not make.
   */
  createPayout(input: {
    readonly idempotencyKey: string;
    readonly accountId: string;
    readonly amount: Money;
    readonly description: string;
    readonly references: PaymentReferences;
    readonly runId?: string;
  }): ResultAsync<PayoutCreated, GatewayError>;

  /**
   * Reads a payout of a connected account as it stands now at the provider (the same record
   * a `payout.*` event carries), so that a payout whose news was lost can be brought up to
   * date (`useCases.recheckPayouts`).
   */
  getPayout(input: {
    readonly accountId: string;
    readonly payoutId: string;
  }): ResultAsync<ReportedPayout, GatewayError>;

  /**
   * The payout of a connected account made under `idempotencyKey` (the key `createPayout` was
   * asked with, which the payout carries), looked for among the account's payouts created at
   * or after `createdSince`; undefined when there is none. So a payout whose answer was lost
   * (and every event of it) is found (`useCases.recheckPayouts`).
   */
  findPayoutByKey(input: {
    readonly accountId: string;
    readonly idempotencyKey: string;
    readonly createdSince: Instant;
  }): ResultAsync<ReportedPayout | undefined, GatewayError>;

  /**
   * Opens a hosted payment page for `amount`, paid to the platform and tied to
   * `transferGroup` (the seller's share is transferred later, from the charge). The
   * references go on the session and on its payment, so every event about either can be
   * traced back.
   */
  createCheckoutSession(input: {
    readonly idempotencyKey: string;
    readonly amount: Money;
    readonly description: string;
    readonly customerEmail?: string;
    readonly transferGroup: string;
    /** When the page stops accepting payment (epoch ms); the provider allows 30 minutes to 24 hours. */
    readonly expiresAt: number;
    readonly successUrl: string;
    readonly cancelUrl: string;
    readonly references: PaymentReferences;
  }): ResultAsync<CheckoutSession, GatewayError>;

  /**
   * Expires an open Checkout Session: its page can no longer be paid. Answers how the
   * session ended: `expired` (by this call, or before it), or `complete` with its payment
   * when the customer paid before it could be expired (Stripe refuses to expire a complete
   * session; the payment is then read, never judged by the session).
   */
  expireCheckoutSession(input: {
    readonly idempotencyKey: string;
    readonly sessionId: string;
  }): ResultAsync<CheckoutSessionEnded, GatewayError>;

  /** Reads a payment (a PaymentIntent) as it stands now. */
  getPayment(paymentIntentId: string): ResultAsync<PaymentStatus, GatewayError>;

  /**
   * Starts saving a card or a BECS account for the customer (a SetupIntent for off-session
   * use): the person's app confirms it with the client secret, so susu never sees a number.
   */
  createPaymentMethodSetup(input: {
    readonly idempotencyKey: string;
    readonly customerId: string;
    readonly methodType: SavedMethodType;
    readonly references: PaymentReferences;
  }): ResultAsync<{ readonly setupIntentId: string; readonly clientSecret: string }, GatewayError>;

  /** Reads a payment method as the provider holds it now (its customer absent once detached). */
  getPaymentMethod(paymentMethodId: string): ResultAsync<ReportedPaymentMethod, GatewayError>;

  /** Detaches a payment method from its customer; it cannot be used again. */
  detachPaymentMethod(input: {
    readonly idempotencyKey: string;
    readonly paymentMethodId: string;
  }): ResultAsync<void, GatewayError>;

  /** Makes a payment method the customer's default (Stripe: `invoice_settings.default_payment_method`). */
  setDefaultPaymentMethod(input: {
    readonly idempotencyKey: string;
    readonly customerId: string;
    readonly paymentMethodId: string;
  }): ResultAsync<void, GatewayError>;
}

/**
 * The provider reads that routing a fact needs: the current state of a connected account
 * or a mandate (events about one object arrive in any order, so the state in an event can
 * be stale by the time it is applied; the provider's advice is to read the object again).
 */
export type PaymentReader = Pick<
  PaymentGateway,
  "getConnectedAccount" | "getMandate" | "getPayment" | "getPaymentMethod"
>;
