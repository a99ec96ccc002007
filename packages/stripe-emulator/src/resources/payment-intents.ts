import type Stripe from "stripe";
import type { Engine } from "../core/engine.js";
import { asCharge } from "../core/fx.js";
import { newId, randomToken } from "../core/ids.js";
import { parseCurrency, validateChargeAmount } from "../core/money.js";
import { type StoredRecord, stringKey } from "../core/store.js";
import {
  ApiError,
  cardError,
  invalidParam,
  invalidRequest,
  refusedParam,
  resourceMissing,
  unexpectedState,
  validationFailure,
} from "../http/errors.js";
import {
  PAYMENT_INTENT_CANCEL,
  PAYMENT_INTENT_CAPTURE,
  PAYMENT_INTENT_CONFIRM,
  PAYMENT_INTENT_CREATE,
  PAYMENT_INTENT_UPDATE,
} from "../http/known-params.js";
import {
  applyMetadata,
  child,
  matchesRange,
  optBool,
  optEnum,
  optInt,
  optNullableString,
  optString,
  optStringArray,
  type Params,
  reqInt,
  reqString,
} from "../http/params.js";
import { listOf, pageRequest } from "../http/render.js";
import type { Router } from "../http/router.js";
import { capabilityStatus, findAccount } from "./accounts.js";
import {
  buildCharge,
  cancelPendingRefunds,
  completePendingRefunds,
  declinedOutcome,
  failCharge,
  fundCharge,
  openDispute,
  succeedCharge,
} from "./charges.js";
import { clockOfCustomer, getCustomer } from "./customer-lookup.js";
import { createMandate, customerAcceptance, deactivateMandate } from "./mandates.js";
import {
  assertNotDetached,
  attachPaymentMethod,
  buildPaymentMethod,
  lookUpPaymentMethod,
  type PaymentMethodMeta,
  type PaymentMethodRecord,
  resolvePaymentMethod,
  storePaymentMethod,
} from "./payment-methods.js";
import { becsOutcome, type CardDecline } from "./test-values.js";
import { assertCanReceiveTransfers, createTransfer } from "./transfers.js";

export const SETTLE_TASK = "payment_intent.settle";

export interface PaymentIntentMeta {
  /** The clock this payment follows (its customer's test clock, or the emulator's). */
  clock: string;
  mandate: string | null;
  offSession: boolean;
  /** The invoice or Checkout Session this payment belongs to, whose state follows it. */
  invoice?: string;
  checkoutSession?: string;
}

export type PaymentIntentRecord = StoredRecord<Stripe.PaymentIntent, PaymentIntentMeta>;

/** What creating a PaymentIntent needs, whether from the API, a Checkout Session or an invoice. */
export interface PaymentIntentInput {
  amount: number;
  currency: string;
  customer: string | null;
  description: string | null;
  metadata: Record<string, string>;
  paymentMethod: string | null;
  paymentMethodTypes: string[] | null;
  captureMethod: Stripe.PaymentIntent.CaptureMethod;
  setupFutureUsage: Stripe.PaymentIntent.SetupFutureUsage | null;
  transferGroup: string | null;
  transferData: { destination: string; amount?: number } | null;
  applicationFeeAmount: number | null;
  onBehalfOf: string | null;
  statementDescriptor: string | null;
  receiptEmail: string | null;
}

/** What confirming needs: a payment method (by id or details) and, for BECS, a mandate. */
export interface ConfirmInput {
  paymentMethod?: string | undefined;
  paymentMethodData?: Params | undefined;
  mandate?: string | undefined;
  mandateParams?: Params | undefined;
  offSession?: boolean | undefined;
  setupFutureUsage?: Stripe.PaymentIntent.SetupFutureUsage | null | undefined;
  /**
   * Billing's invoice payments: a card that needs 3-D Secure leaves the PaymentIntent
   * `requires_action` for the customer to authenticate later instead of declining off-session.
   */
  authenticateLater?: boolean | undefined;
}

const CONFIRMABLE = ["requires_payment_method", "requires_confirmation", "requires_action"];
const CANCELABLE = [
  "requires_payment_method",
  "requires_capture",
  "requires_confirmation",
  "requires_action",
];

/** A PaymentIntent read and checked from its input, not stored yet (see {@link storePaymentIntent}). */
interface PreparedPaymentIntent {
  owner: string;
  clock: string;
  pi: Stripe.PaymentIntent;
  /** The payment method named at creation; a test id's fresh one is stored with the intent. */
  paymentMethod: PaymentMethodRecord | null;
}

export function createPaymentIntent(
  engine: Engine,
  owner: string,
  input: PaymentIntentInput,
): PaymentIntentRecord {
  return storePaymentIntent(engine, preparePaymentIntent(engine, owner, input));
}

/**
 * An `application_fee_amount` on a PaymentIntent, when it is created, updated or captured:
 * only on a destination payment (`transfer_data[destination]`) or a connected account's own,
 * and from 0 to the amount (`upTo`; at capture the fee is capped at the captured amount instead).
 */
function checkApplicationFee(
  engine: Engine,
  owner: string,
  destination: boolean,
  fee: number,
  upTo: number | undefined,
): void {
  if (owner === engine.platform && !destination) {
    throw validationFailure(
      "Can only apply an application_fee_amount when the PaymentIntent is attempting a direct payment (using an OAuth key or Stripe-Account header) or destination payment (using `transfer_data[destination]`).",
      { param: "application_fee_amount" },
    );
  }
  if (fee < 0 || (upTo !== undefined && fee > upTo)) {
    throw invalidParam("application_fee_amount", "application_fee_amount must be between 0 and amount.");
  }
}

function preparePaymentIntent(
  engine: Engine,
  owner: string,
  input: PaymentIntentInput,
): PreparedPaymentIntent {
  validateChargeAmount(input.amount, input.currency);
  if (input.customer) getCustomer(engine, input.customer, owner);
  if (input.transferData) {
    if (!findAccount(engine, input.transferData.destination)) {
      throw resourceMissing("destination", input.transferData.destination, "transfer_data[destination]");
    }
    if (input.transferData.amount !== undefined && input.transferData.amount > input.amount) {
      throw invalidParam("transfer_data[amount]", "transfer_data[amount] cannot be greater than amount.");
    }
  }
  if (input.applicationFeeAmount !== null)
    checkApplicationFee(engine, owner, Boolean(input.transferData), input.applicationFeeAmount, input.amount);
  const clock = clockOfCustomer(engine, input.customer);
  const id = newId("pi");
  const pm = input.paymentMethod ? lookUpPaymentMethod(engine, input.paymentMethod, owner) : null;
  const paymentMethod = pm?.obj.id ?? null;
  const pi: Stripe.PaymentIntent = {
    id,
    object: "payment_intent",
    allowed_payment_method_types: null,
    amount: input.amount,
    amount_capturable: 0,
    amount_received: 0,
    application: null,
    application_fee_amount: input.applicationFeeAmount,
    automatic_payment_methods: input.paymentMethodTypes ? null : { allow_redirects: "always", enabled: true },
    canceled_at: null,
    cancellation_reason: null,
    capture_method: input.captureMethod,
    client_secret: `${id}_secret_${randomToken(25)}`,
    confirmation_method: "automatic",
    created: engine.now(clock),
    currency: input.currency,
    customer: input.customer,
    customer_account: null,
    description: input.description,
    excluded_payment_method_types: null,
    last_payment_error: null,
    latest_charge: null,
    livemode: false,
    managed_payments: null,
    metadata: input.metadata,
    next_action: null,
    on_behalf_of: input.onBehalfOf,
    payment_method: paymentMethod,
    payment_method_configuration_details: null,
    payment_method_options: {},
    payment_method_types: input.paymentMethodTypes ?? ["card", "au_becs_debit"],
    processing: null,
    receipt_email: input.receiptEmail,
    review: null,
    setup_future_usage: input.setupFutureUsage,
    shipping: null,
    source: null,
    statement_descriptor: input.statementDescriptor,
    statement_descriptor_suffix: null,
    status: paymentMethod ? "requires_confirmation" : "requires_payment_method",
    transfer_data: input.transferData,
    transfer_group: input.transferGroup,
  };
  return { owner, clock, pi, paymentMethod: pm };
}

/** Keeps a prepared PaymentIntent (and the payment method it names) and announces it. */
function storePaymentIntent(engine: Engine, prepared: PreparedPaymentIntent): PaymentIntentRecord {
  const { owner, clock, pi } = prepared;
  if (prepared.paymentMethod) storePaymentMethod(engine, prepared.paymentMethod);
  const record = engine.store.insert<Stripe.PaymentIntent, PaymentIntentMeta>("payment_intent", owner, pi, {
    clock,
    mandate: null,
    offSession: false,
  });
  engine.emit("payment_intent.created", pi, owner, { clock });
  return record;
}

/**
 * What a confirmation will use, found and checked before anything changes: the payment method
 * (built but not stored when it comes from `payment_method_data` or a test id) and, for BECS,
 * the mandate (an acceptance to turn into one, or an existing one).
 */
interface ConfirmPlan {
  pm: PaymentMethodRecord;
  mandate: { acceptance: Stripe.Mandate.CustomerAcceptance } | { id: string } | null;
}

function paymentMethodFor(
  engine: Engine,
  pi: Stripe.PaymentIntent,
  owner: string,
  input: ConfirmInput,
  named: PaymentMethodRecord | null,
): PaymentMethodRecord {
  if (input.paymentMethodData) {
    return buildPaymentMethod(engine, input.paymentMethodData, owner, "payment_method_data");
  }
  if (input.paymentMethod) return lookUpPaymentMethod(engine, input.paymentMethod, owner);
  if (named) return named;
  const current = pi.payment_method;
  if (typeof current === "string") {
    const pm = engine.store.find<Stripe.PaymentMethod, PaymentMethodMeta>("payment_method", current, owner);
    if (pm) return pm;
  }
  throw unexpectedState(
    "You cannot confirm this PaymentIntent because it's missing a payment method. You can either update the PaymentIntent with a payment method and then confirm it again, or confirm it again directly with a payment method or ConfirmationToken.",
  );
}

/**
 * Confirms a PaymentIntent: cards succeed or decline at once (a decline is Stripe's 402 with
 * the PaymentIntent attached); BECS debits go `processing` until the settlement delay passes.
 * Every refusal that is a plain validation 400 comes before anything changes.
 */
export function confirmPaymentIntent(
  engine: Engine,
  record: PaymentIntentRecord,
  input: ConfirmInput,
): Stripe.PaymentIntent {
  const plan = planConfirmation(engine, record.obj, record.owner, input, null);
  return applyConfirmation(engine, record, plan, input);
}

/**
 * Checks everything a confirmation needs, changing nothing (no payment method, mandate,
 * object or event is made): a refusal here is a validation failure, which creates nothing and
 * which an idempotency key does not keep. `pi` may be an intent not stored yet, whose
 * creation-time payment method is `named`.
 */
function planConfirmation(
  engine: Engine,
  pi: Stripe.PaymentIntent,
  owner: string,
  input: ConfirmInput,
  named: PaymentMethodRecord | null,
): ConfirmPlan {
  if (!CONFIRMABLE.includes(pi.status)) {
    throw unexpectedState(
      `You cannot confirm this PaymentIntent because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be confirmed: requires_confirmation, requires_payment_method, requires_action.`,
    );
  }
  const pm = paymentMethodFor(engine, pi, owner, input, named);
  assertNotDetached(pm);
  const type = pm.obj.type;
  if (!pi.automatic_payment_methods?.enabled && !pi.payment_method_types.includes(type)) {
    throw invalidRequest(
      `The PaymentMethod provided (${type}) is not allowed for this PaymentIntent. Please attach a PaymentMethod of one of the following types: ${pi.payment_method_types.join(", ")}. Alternatively update the allowed payment_method_types for this PaymentIntent to include "${type}".`,
      { param: "payment_method", code: "payment_intent_incompatible_payment_method" },
    );
  }
  if (type === "au_becs_debit" && pi.currency !== "aud") {
    throw invalidRequest(
      `The currency provided (${pi.currency}) is invalid. Payments with au_becs_debit support the following currencies: aud.`,
      { param: "currency", code: "payment_intent_invalid_parameter" },
    );
  }
  const pmCustomer = typeof pm.obj.customer === "string" ? pm.obj.customer : null;
  if (pmCustomer !== null && pi.customer === null) {
    throw invalidRequest(
      "The provided PaymentMethod was previously attached to a Customer, so you must also pass the ID of that Customer when confirming.",
      { param: "payment_method", code: "payment_intent_invalid_parameter" },
    );
  }
  if (pmCustomer !== null && pmCustomer !== pi.customer) {
    throw invalidRequest(
      "The provided PaymentMethod belongs to a different Customer than this PaymentIntent.",
      {
        param: "payment_method",
        code: "payment_intent_invalid_parameter",
      },
    );
  }
  if (pi.transfer_data && owner === engine.platform) {
    assertCanReceiveTransfers(engine, pi.transfer_data.destination as string, "transfer_data[destination]");
  }
  return { pm, mandate: type === "au_becs_debit" ? becsMandateFor(engine, owner, pm, input) : null };
}

/** The mandate a BECS debit will run under: new from `mandate_data`, named, or the method's own. */
function becsMandateFor(
  engine: Engine,
  owner: string,
  pm: PaymentMethodRecord,
  input: ConfirmInput,
): ConfirmPlan["mandate"] {
  if (input.mandateParams) return { acceptance: customerAcceptance(engine, input.mandateParams, "") };
  if (input.mandate) {
    const mandate = engine.store.find<Stripe.Mandate>("mandate", input.mandate, owner);
    if (!mandate) throw resourceMissing("mandate", input.mandate, "mandate");
    if (mandate.obj.payment_method !== pm.obj.id) {
      throw refusedParam(
        "mandate",
        `The mandate ${input.mandate} does not belong to the PaymentMethod ${pm.obj.id}.`,
      );
    }
    return { id: mandate.obj.id };
  }
  if (pm.meta.mandate) return { id: pm.meta.mandate };
  throw validationFailure(
    "A mandate is required to debit an au_becs_debit PaymentMethod: pass mandate_data[customer_acceptance] or a mandate accepted through a SetupIntent.",
    { param: "mandate_data", code: "parameter_missing" },
  );
}

/**
 * Carries out a planned confirmation. What can still refuse here is kept for the idempotency
 * key, since the PaymentIntent moved: a card decline (402) and a BECS debit under an inactive
 * mandate (`payment_intent_mandate_invalid`), both naming the PaymentIntent.
 */
function applyConfirmation(
  engine: Engine,
  record: PaymentIntentRecord,
  plan: ConfirmPlan,
  input: ConfirmInput,
): Stripe.PaymentIntent {
  const pi = record.obj;
  const pm = storePaymentMethod(engine, plan.pm);
  if (input.setupFutureUsage !== undefined) pi.setup_future_usage = input.setupFutureUsage;
  pi.payment_method = pm.obj.id;
  pi.last_payment_error = null;
  record.meta.offSession = input.offSession ?? false;
  if (pm.obj.type === "card") return confirmCard(engine, record, pm, input.authenticateLater ?? false);
  return confirmBecs(engine, record, pm, plan.mandate);
}

function confirmCard(
  engine: Engine,
  record: PaymentIntentRecord,
  pm: PaymentMethodRecord,
  authenticateLater: boolean,
): Stripe.PaymentIntent {
  const pi = record.obj;
  const owner = record.owner;
  const card = pm.meta.card ?? { brand: "visa", last4: "4242", country: "US", funding: "credit" as const };
  if (
    card.requiresAction &&
    (!record.meta.offSession || authenticateLater) &&
    pi.status !== "requires_action"
  ) {
    pi.status = "requires_action";
    pi.next_action = {
      type: "use_stripe_sdk",
      use_stripe_sdk: {
        type: "three_d_secure_redirect",
        stripe_js: `${engine.baseUrl}/_emulator/payment_intents/${pi.id}/authenticate`,
      },
    };
    engine.emit("payment_intent.requires_action", pi, owner);
    return pi;
  }
  const decline: CardDecline | undefined =
    card.decline ??
    (card.requiresAction
      ? {
          code: "authentication_required",
          declineCode: "authentication_required",
          message: "Your card was declined. This transaction requires authentication.",
        }
      : undefined);
  return chargeCard(engine, record, pm, decline);
}

function chargeCard(
  engine: Engine,
  record: PaymentIntentRecord,
  pm: PaymentMethodRecord,
  decline: CardDecline | undefined,
): Stripe.PaymentIntent {
  const pi = record.obj;
  const owner = record.owner;
  pi.next_action = null;
  const charge = buildCharge(engine, owner, pi, pm, null);
  pi.latest_charge = charge.id;
  if (decline) {
    failCharge(engine, charge, decline.code, decline.message, declinedOutcome(decline.declineCode));
    pi.status = "requires_payment_method";
    pi.payment_method = null;
    pi.last_payment_error = {
      charge: charge.id,
      code: decline.code as Stripe.PaymentIntent.LastPaymentError.Code,
      decline_code: decline.declineCode,
      doc_url: `https://stripe.com/docs/error-codes/${decline.code.replace(/_/g, "-")}`,
      message: decline.message,
      payment_method: pm.obj,
      type: "card_error",
    };
    engine.emit("charge.failed", charge, owner);
    engine.emit("payment_intent.payment_failed", pi, owner);
    engine.paymentOutcome(pi.id, "failed");
    throw cardError(decline.message, decline.code, decline.declineCode, {
      charge: charge.id,
      payment_intent: JSON.parse(JSON.stringify(pi)) as unknown,
      payment_method: pm.obj,
    });
  }
  const manual = pi.capture_method === "manual";
  succeedCharge(engine, owner, charge, !manual);
  engine.emit("charge.succeeded", charge, owner);
  if (manual) {
    pi.status = "requires_capture";
    pi.amount_capturable = pi.amount;
    engine.emit("payment_intent.amount_capturable_updated", pi, owner);
    return pi;
  }
  paymentSucceeded(engine, record, charge, pm);
  return pi;
}

function confirmBecs(
  engine: Engine,
  record: PaymentIntentRecord,
  pm: PaymentMethodRecord,
  planned: ConfirmPlan["mandate"],
): Stripe.PaymentIntent {
  const pi = record.obj;
  const owner = record.owner;
  if (!planned) throw new Error("a BECS confirmation is planned with its mandate");
  const mandateId =
    "id" in planned
      ? planned.id
      : createMandate(
          engine,
          owner,
          pm,
          planned.acceptance,
          typeof pi.customer === "string" ? pi.customer : null,
        ).id;
  if (engine.store.record<Stripe.Mandate>(mandateId)?.obj.status === "inactive") {
    throw mandateInvalid(engine, record, pm);
  }
  record.meta.mandate = mandateId;
  const charge = buildCharge(engine, owner, pi, pm, mandateId);
  pi.latest_charge = charge.id;
  pi.status = "processing";
  const outcome = becsOutcome(pm.meta.becsAccount ?? "");
  const delay =
    engine.options.settlementDelaySeconds +
    (outcome.delayed ? engine.options.delayedSettlementExtraSeconds : 0);
  engine.scheduler.schedule(record.meta.clock, engine.now(record.meta.clock) + delay, SETTLE_TASK, pi.id);
  // Stripe books a pending `payment` when the debit is submitted; it becomes available after settlement.
  fundCharge(
    engine,
    owner,
    charge,
    charge.amount,
    engine.now() + delay + engine.options.availabilityDelaySeconds,
  );
  if (pi.setup_future_usage && typeof pi.customer === "string") {
    attachPaymentMethod(engine, pm.obj.id, pi.customer, owner);
  }
  engine.emit("payment_intent.processing", pi, owner, { clock: record.meta.clock });
  engine.emit("charge.pending", charge, owner, { clock: record.meta.clock });
  engine.paymentOutcome(pi.id, "processing");
  return pi;
}

/**
 * A debit under an inactive mandate: Stripe's mandate "may not be used to initiate future
 * payments", and using it is the 400 `payment_intent_mandate_invalid`. Nothing reaches the
 * bank (no charge); the PaymentIntent waits for another payment method. The answer is kept
 * for the idempotency key, since the request may have created the PaymentIntent.
 */
function mandateInvalid(engine: Engine, record: PaymentIntentRecord, pm: PaymentMethodRecord): ApiError {
  const pi = record.obj;
  const message = "The provided mandate is inactive and cannot be used for this PaymentIntent.";
  pi.status = "requires_payment_method";
  pi.payment_method = null;
  pi.last_payment_error = {
    code: "payment_intent_mandate_invalid",
    doc_url: "https://stripe.com/docs/error-codes/payment-intent-mandate-invalid",
    message,
    param: "mandate",
    payment_method: pm.obj,
    payment_method_type: "au_becs_debit",
    type: "invalid_request_error",
  };
  engine.paymentOutcome(pi.id, "failed");
  return new ApiError(
    400,
    {
      type: "invalid_request_error",
      code: "payment_intent_mandate_invalid",
      param: "mandate",
      message,
      payment_intent: JSON.parse(JSON.stringify(pi)) as unknown,
    },
    { stored: true },
  );
}

/** Everything that follows a successful (captured) payment. */
function paymentSucceeded(
  engine: Engine,
  record: PaymentIntentRecord,
  charge: Stripe.Charge,
  pm: PaymentMethodRecord | undefined,
): void {
  const pi = record.obj;
  const owner = record.owner;
  pi.status = "succeeded";
  pi.amount_received = charge.amount_captured;
  pi.amount_capturable = 0;
  if (pi.transfer_data && owner === engine.platform) {
    // Stripe transfers the whole amount, then takes the application fee back from the account.
    const presentment = pi.transfer_data.amount ?? charge.amount_captured;
    const fee =
      pi.transfer_data.amount === undefined ? Math.min(pi.application_fee_amount ?? 0, presentment) : 0;
    // A charge that settled converted transfers in the platform's currency, at the charge's rate.
    const settled = asCharge(engine, owner, charge, presentment);
    const amount = settled.amount;
    const applicationFee = asCharge(engine, owner, charge, fee).amount;
    const destination = pi.transfer_data.destination as string;
    const account = findAccount(engine, destination);
    if (amount > 0 && account && capabilityStatus(account, "transfers") === "active") {
      pi.transfer_group ??= `group_${pi.id}`;
      charge.transfer_group = pi.transfer_group;
      const transfer = createTransfer(engine, {
        amount,
        currency: settled.currency,
        destination,
        sourceTransaction: charge.id,
        transferGroup: pi.transfer_group,
        description: null,
        metadata: {},
        applicationFee,
        destinationCharge: true,
      });
      charge.transfer = transfer.id;
      const payment = engine.store.record<Stripe.Charge>(transfer.destination_payment as string)?.obj;
      if (payment?.application_fee) charge.application_fee = payment.application_fee;
    }
  }
  if (pm && pi.setup_future_usage && typeof pi.customer === "string" && pm.obj.customer === null) {
    attachPaymentMethod(engine, pm.obj.id, pi.customer, owner);
  }
  engine.emit("payment_intent.succeeded", pi, owner, { clock: record.meta.clock });
  engine.paymentOutcome(pi.id, "succeeded");
  const dispute = pm?.meta.card?.dispute;
  if (dispute) openDispute(engine, charge.id, dispute.reason, { inquiry: dispute.inquiry ?? false });
}

/** The bank's answer to a BECS debit, when the settlement delay has passed. */
function settle(engine: Engine, piId: string): void {
  const record = engine.store.record<Stripe.PaymentIntent, PaymentIntentMeta>(piId);
  if (record?.obj.status !== "processing") return;
  const pi = record.obj;
  const owner = record.owner;
  const charge = engine.store.record<Stripe.Charge>(pi.latest_charge as string)!.obj;
  const pm = engine.store.record<Stripe.PaymentMethod, PaymentMethodMeta>(pi.payment_method as string) as
    | PaymentMethodRecord
    | undefined;
  let outcome = becsOutcome(pm?.meta.becsAccount ?? "");
  const mandate = record.meta.mandate
    ? engine.store.record<Stripe.Mandate>(record.meta.mandate)?.obj
    : undefined;
  if (outcome.succeeds && mandate?.status === "inactive") {
    // The customer revoked the mandate while the debit was in flight: the bank refuses it.
    outcome = {
      succeeds: false,
      delayed: false,
      failureCode: "debit_not_authorized",
      failureMessage: "The customer has notified their bank that this payment was unauthorized.",
    };
  }
  const clock = record.meta.clock;
  if (outcome.succeeds) {
    succeedCharge(engine, owner, charge, true);
    engine.emit("charge.succeeded", charge, owner, { clock });
    paymentSucceeded(engine, record, charge, pm);
    // Stripe's disputed test number is disputed as it succeeds: refunds still waiting for the
    // debit are pending then, so the dispute fails them (charge_for_pending_refund_disputed).
    if (outcome.disputed) openDispute(engine, charge.id, "general");
    completePendingRefunds(engine, owner, charge);
    return;
  }
  const code = outcome.failureCode ?? "refer_to_customer";
  const message = outcome.failureMessage ?? "The debit failed.";
  failCharge(engine, charge, code, message, {
    ...declinedOutcome(code),
    seller_message: message,
    type: "issuer_declined",
  });
  pi.status = "requires_payment_method";
  pi.payment_method = null;
  pi.last_payment_error = {
    charge: charge.id,
    code: code as Stripe.PaymentIntent.LastPaymentError.Code,
    message,
    ...(pm ? { payment_method: pm.obj } : {}),
    payment_method_type: "au_becs_debit",
    type: "invalid_request_error",
  };
  engine.emit("charge.failed", charge, owner, { clock });
  engine.emit("payment_intent.payment_failed", pi, owner, { clock });
  engine.paymentOutcome(pi.id, "failed");
  cancelPendingRefunds(engine, owner, charge);
  if (outcome.deactivatesMandate && record.meta.mandate) deactivateMandate(engine, record.meta.mandate);
}

/** The customer's answer to a 3D Secure challenge (a control endpoint plays the customer). */
export function authenticatePaymentIntent(
  engine: Engine,
  piId: string,
  succeed: boolean,
): Stripe.PaymentIntent {
  const record = engine.store.record<Stripe.PaymentIntent, PaymentIntentMeta>(piId);
  if (record?.type !== "payment_intent") throw resourceMissing("payment_intent", piId);
  const pi = record.obj;
  if (pi.status !== "requires_action") {
    throw unexpectedState(`PaymentIntent ${pi.id} does not require action (status ${pi.status}).`);
  }
  const pm = engine.store.record<Stripe.PaymentMethod, PaymentMethodMeta>(
    pi.payment_method as string,
  ) as PaymentMethodRecord;
  if (succeed) {
    try {
      return chargeCard(engine, record, pm, pm.meta.card?.decline);
    } catch {
      return pi;
    }
  }
  pi.status = "requires_payment_method";
  pi.next_action = null;
  pi.payment_method = null;
  pi.last_payment_error = {
    code: "payment_intent_authentication_failure",
    message:
      "The provided PaymentMethod has failed authentication. You can provide payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent again.",
    payment_method: pm.obj,
    type: "invalid_request_error",
  };
  engine.emit("payment_intent.payment_failed", pi, record.owner);
  return pi;
}

function offSessionParam(params: Params): boolean | undefined {
  const value = optString(params, "off_session");
  if (value === undefined || value === "") return undefined;
  if (value === "true" || value === "one_off" || value === "recurring") return true;
  if (value === "false") return false;
  throw invalidParam("off_session", "Invalid off_session: must be a boolean, one_off or recurring");
}

function confirmInputFrom(params: Params): ConfirmInput {
  const sfu = optNullableString(params, "setup_future_usage");
  return {
    paymentMethod: optString(params, "payment_method") || undefined,
    paymentMethodData: child(params, "payment_method_data"),
    mandate: optString(params, "mandate") || undefined,
    mandateParams: child(params, "mandate_data") ? params : undefined,
    offSession: offSessionParam(params),
    setupFutureUsage: sfu === undefined ? undefined : (sfu as Stripe.PaymentIntent.SetupFutureUsage | null),
  };
}

export function registerPaymentIntents(router: Router, engine: Engine): void {
  engine.store.defineIndex<Stripe.PaymentIntent>(
    "payment_intent",
    "customer",
    stringKey((pi) => pi.customer),
  );
  engine.onTask(SETTLE_TASK, (ref) => settle(engine, ref));

  router.post(
    "/v1/payment_intents",
    (req) => {
      const p = req.params;
      const transfer = child(p, "transfer_data");
      const types = optStringArray(p, "payment_method_types");
      const confirm = optBool(p, "confirm") ?? false;
      const offSession = offSessionParam(p);
      if (offSession !== undefined && !confirm) {
        throw invalidParam("off_session", "off_session can only be used when confirm=true.");
      }
      const automatic = child(p, "automatic_payment_methods");
      if (automatic && types) {
        throw validationFailure(
          "You may only specify one of these parameters: automatic_payment_methods, payment_method_types.",
          {
            param: "automatic_payment_methods",
          },
        );
      }
      const prepared = preparePaymentIntent(engine, req.account, {
        amount: reqInt(p, "amount"),
        currency: parseCurrency(reqString(p, "currency")),
        customer: optString(p, "customer") || null,
        description: optString(p, "description") || null,
        metadata: applyMetadata({}, p),
        paymentMethod: optString(p, "payment_method") || null,
        paymentMethodTypes: types ?? null,
        captureMethod:
          optEnum(p, "capture_method", ["automatic", "automatic_async", "manual"]) ?? "automatic_async",
        setupFutureUsage: optEnum(p, "setup_future_usage", ["off_session", "on_session"]) ?? null,
        transferGroup: optString(p, "transfer_group") || null,
        transferData: transfer
          ? {
              destination: reqString(transfer, "destination", "transfer_data"),
              ...(optInt(transfer, "amount", "transfer_data") !== undefined
                ? { amount: optInt(transfer, "amount", "transfer_data")! }
                : {}),
            }
          : null,
        applicationFeeAmount: optInt(p, "application_fee_amount") ?? null,
        onBehalfOf: optString(p, "on_behalf_of") || null,
        statementDescriptor: optString(p, "statement_descriptor") || null,
        receiptEmail: optString(p, "receipt_email") || null,
      });
      if (!confirm) return storePaymentIntent(engine, prepared).obj;
      const input = confirmInputFrom(p);
      // The payment method named at creation is already resolved on the object.
      delete input.paymentMethod;
      delete input.setupFutureUsage;
      // Everything the confirmation needs is checked before the intent exists: a refusal
      // then creates nothing and sends nothing, and its key is not kept (a validation failure).
      const plan = planConfirmation(engine, prepared.pi, req.account, input, prepared.paymentMethod);
      return applyConfirmation(engine, storePaymentIntent(engine, prepared), plan, input);
    },
    PAYMENT_INTENT_CREATE,
  );

  router.get(
    "/v1/payment_intents/:id",
    (req) =>
      engine.store.get<Stripe.PaymentIntent>(
        "payment_intent",
        req.pathParams.id!,
        req.account,
        "payment_intent",
      ).obj,
  );

  router.post(
    "/v1/payment_intents/:id",
    (req) => {
      const record = engine.store.get<Stripe.PaymentIntent, PaymentIntentMeta>(
        "payment_intent",
        req.pathParams.id!,
        req.account,
        "payment_intent",
      );
      const pi = record.obj;
      const p = req.params;
      const touchesPayment = [
        "amount",
        "currency",
        "payment_method",
        "payment_method_types",
        "customer",
      ].some((k) => p[k] !== undefined);
      if (touchesPayment && !CONFIRMABLE.includes(pi.status)) {
        throw unexpectedState(
          `You cannot update this PaymentIntent because it has a status of ${pi.status}. Updates are only allowed when the status is one of: requires_payment_method, requires_confirmation, requires_action.`,
        );
      }
      // Everything is read and checked first: a refused update changes nothing.
      const amountParam = optInt(p, "amount");
      const currencyParam = optString(p, "currency");
      const currency = currencyParam !== undefined ? parseCurrency(currencyParam) : pi.currency;
      const amount = amountParam ?? pi.amount;
      // A new amount, or the amount under a new currency, follows that currency's rules.
      if (amountParam !== undefined || currency !== pi.currency) validateChargeAmount(amount, currency);
      const customer = optNullableString(p, "customer");
      if (customer) getCustomer(engine, customer, req.account);
      const description = optNullableString(p, "description");
      const group = optNullableString(p, "transfer_group");
      const fee = optInt(p, "application_fee_amount");
      if (fee !== undefined || amountParam !== undefined) {
        const feeAfter = fee ?? pi.application_fee_amount;
        if (feeAfter !== null && feeAfter !== undefined)
          checkApplicationFee(engine, record.owner, Boolean(pi.transfer_data), feeAfter, amount);
      }
      const types = optStringArray(p, "payment_method_types");
      const metadata = applyMetadata(pi.metadata, p);
      // Last of the checks: a test id (pm_card_visa) makes a new payment method.
      const pmParam = optString(p, "payment_method");
      const pm = pmParam ? resolvePaymentMethod(engine, pmParam, req.account).obj.id : undefined;

      pi.currency = currency;
      pi.amount = amount;
      if (customer !== undefined) pi.customer = customer;
      if (description !== undefined) pi.description = description;
      if (group !== undefined) pi.transfer_group = group;
      if (fee !== undefined) pi.application_fee_amount = fee;
      if (types) pi.payment_method_types = types;
      if (pm) {
        pi.payment_method = pm;
        pi.status = "requires_confirmation";
      }
      pi.metadata = metadata;
      return pi;
    },
    PAYMENT_INTENT_UPDATE,
  );

  router.post(
    "/v1/payment_intents/:id/confirm",
    (req) => {
      const record = engine.store.get<Stripe.PaymentIntent, PaymentIntentMeta>(
        "payment_intent",
        req.pathParams.id!,
        req.account,
        "payment_intent",
      );
      return confirmPaymentIntent(engine, record, confirmInputFrom(req.params));
    },
    PAYMENT_INTENT_CONFIRM,
  );

  router.post(
    "/v1/payment_intents/:id/capture",
    (req) => {
      const record = engine.store.get<Stripe.PaymentIntent, PaymentIntentMeta>(
        "payment_intent",
        req.pathParams.id!,
        req.account,
        "payment_intent",
      );
      const pi = record.obj;
      if (pi.status !== "requires_capture") {
        throw unexpectedState(
          `This PaymentIntent could not be captured because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be captured: requires_capture.`,
        );
      }
      const amount = optInt(req.params, "amount_to_capture") ?? pi.amount_capturable;
      if (amount <= 0 || amount > pi.amount_capturable) {
        throw refusedParam(
          "amount_to_capture",
          "The amount to capture must be a positive integer no greater than amount_capturable.",
        );
      }
      const fee = optInt(req.params, "application_fee_amount");
      if (fee !== undefined)
        checkApplicationFee(engine, record.owner, Boolean(pi.transfer_data), fee, undefined);
      if (fee !== undefined) pi.application_fee_amount = fee;
      pi.metadata = applyMetadata(pi.metadata, req.params);
      const charge = engine.store.record<Stripe.Charge>(pi.latest_charge as string)!.obj;
      charge.captured = true;
      charge.amount_captured = amount;
      charge.amount_refunded = charge.amount - amount;
      fundCharge(engine, record.owner, charge, amount);
      engine.emit("charge.captured", charge, record.owner);
      const pm = engine.store.record<Stripe.PaymentMethod, PaymentMethodMeta>(pi.payment_method as string) as
        | PaymentMethodRecord
        | undefined;
      paymentSucceeded(engine, record, charge, pm);
      return pi;
    },
    PAYMENT_INTENT_CAPTURE,
  );

  router.post(
    "/v1/payment_intents/:id/cancel",
    (req) => {
      const record = engine.store.get<Stripe.PaymentIntent, PaymentIntentMeta>(
        "payment_intent",
        req.pathParams.id!,
        req.account,
        "payment_intent",
      );
      return cancelPaymentIntent(
        engine,
        record,
        optEnum(req.params, "cancellation_reason", [
          "abandoned",
          "duplicate",
          "fraudulent",
          "requested_by_customer",
        ]) ?? null,
      );
    },
    PAYMENT_INTENT_CANCEL,
  );

  router.get("/v1/payment_intents", (req) => {
    const customer = optString(req.params, "customer");
    const page = engine.store.page<Stripe.PaymentIntent>(
      "payment_intent",
      req.account,
      pageRequest(req.params),
      (r) =>
        (customer === undefined || r.obj.customer === customer) &&
        matchesRange(r.obj.created, req.params, "created"),
      [["customer", customer]],
    );
    return listOf("/v1/payment_intents", page);
  });
}

export function cancelPaymentIntent(
  engine: Engine,
  record: PaymentIntentRecord,
  reason: Stripe.PaymentIntent.CancellationReason | null,
): Stripe.PaymentIntent {
  const pi = record.obj;
  if (!CANCELABLE.includes(pi.status)) {
    throw unexpectedState(
      `You cannot cancel this PaymentIntent because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be canceled: requires_payment_method, requires_capture, requires_confirmation, requires_action.`,
    );
  }
  if (pi.status === "requires_capture" && typeof pi.latest_charge === "string") {
    const charge = engine.store.record<Stripe.Charge>(pi.latest_charge)!.obj;
    charge.amount_refunded = charge.amount;
    charge.refunded = true;
    engine.emit("charge.refunded", charge, record.owner);
  }
  pi.status = "canceled";
  pi.canceled_at = engine.now(record.meta.clock);
  pi.cancellation_reason = reason;
  pi.amount_capturable = 0;
  pi.next_action = null;
  engine.emit("payment_intent.canceled", pi, record.owner, { clock: record.meta.clock });
  return pi;
}
