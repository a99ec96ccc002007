import type Stripe from "stripe";
import type { Engine } from "../core/engine.js";
import { newId } from "../core/ids.js";
import { stringKey } from "../core/store.js";
import {
  invalidRequest,
  missingParam,
  refusedParam,
  resourceMissing,
  unexpectedState,
  validationFailure,
} from "../http/errors.js";
import { CHECKOUT_SESSION_CREATE } from "../http/known-params.js";
import {
  applyMetadata,
  child,
  isParams,
  optArray,
  optEnum,
  optInt,
  optString,
  optStringArray,
  type Params,
  paramName,
  reqString,
} from "../http/params.js";
import { listOf, pageRequest } from "../http/render.js";
import type { Router } from "../http/router.js";
import { createSubscriptionFrom } from "./billing.js";
import { createPrice, getPrice } from "./catalog.js";
import { getCustomer } from "./customer-lookup.js";
import {
  confirmPaymentIntent,
  createPaymentIntent,
  type PaymentIntentInput,
  type PaymentIntentMeta,
} from "./payment-intents.js";
import { attachPaymentMethod } from "./payment-methods.js";

export const EXPIRE_TASK = "checkout.session.expire";

interface CheckoutMeta {
  lineItems: Stripe.LineItem[];
  /** Subscription mode: `subscription_data` (metadata, trial days) for the subscription it starts. */
  subscriptionData?: Params;
  paymentIntentData: Omit<
    PaymentIntentInput,
    "amount" | "currency" | "customer" | "paymentMethod" | "paymentMethodTypes"
  >;
}

/** How the customer (played by a control endpoint) pays a Checkout Session. */
export interface CheckoutCompletion {
  /** A card payment method or test id, e.g. `pm_card_visa` (default). */
  paymentMethod?: string;
  /** Pay by BECS Direct Debit from this test account (BSB 000-000 unless given). */
  becs?: { accountNumber: string; bsbNumber?: string };
  name?: string;
  email?: string;
}

function lineItemFrom(engine: Engine, owner: string, params: Params, index: number): Stripe.LineItem {
  const prefix = `line_items[${index}]`;
  const quantity = optInt(params, "quantity", prefix) ?? 1;
  const priceId = optString(params, "price", prefix);
  const priceData = child(params, "price_data", prefix);
  let price: Stripe.Price;
  if (priceId) price = getPrice(engine, priceId, owner, paramName(prefix, "price"));
  else if (priceData) price = createPrice(engine, owner, priceData, paramName(prefix, "price_data"));
  else throw missingParam(paramName(prefix, "price"));
  const amount = (price.unit_amount ?? 0) * quantity;
  const product = engine.store.record<Stripe.Product>(price.product as string)?.obj;
  return {
    id: newId("li"),
    object: "item",
    adjustable_quantity: null,
    amount_discount: 0,
    amount_subtotal: amount,
    amount_tax: 0,
    amount_total: amount,
    currency: price.currency,
    description: product?.name ?? null,
    metadata: {},
    price,
    quantity,
  };
}

function sessionFor(
  engine: Engine,
  id: string,
): { obj: Stripe.Checkout.Session; meta: CheckoutMeta; owner: string } {
  const record = engine.store.record<Stripe.Checkout.Session, CheckoutMeta>(id);
  if (record?.type !== "checkout.session") throw resourceMissing("checkout.session", id, "session");
  return record;
}

function expire(engine: Engine, id: string): Stripe.Checkout.Session {
  const record = sessionFor(engine, id);
  const session = record.obj;
  if (session.status !== "open") {
    throw unexpectedState(
      `Only Checkout Sessions with a status in ["open"] can be expired.`,
      "checkout_session_unexpected_state",
    );
  }
  session.status = "expired";
  session.url = null;
  engine.emit("checkout.session.expired", session, record.owner);
  return session;
}

/**
 * Plays the customer on the hosted page: pays with a card (the session completes paid) or
 * BECS (it completes unpaid; `async_payment_succeeded|failed` follows when the debit settles).
 * A declined card leaves the session open, as Checkout lets the customer try again.
 */
export function completeCheckoutSession(
  engine: Engine,
  id: string,
  input: CheckoutCompletion,
): Stripe.Checkout.Session {
  const record = sessionFor(engine, id);
  const session = record.obj;
  if (session.status !== "open") {
    throw unexpectedState(
      `This Checkout Session is ${session.status ?? "not open"}.`,
      "checkout_session_unexpected_state",
    );
  }
  if (session.mode === "subscription") return completeSubscriptionSession(engine, record, input);
  const email = input.email ?? session.customer_email ?? "customer@example.com";
  const name = input.name ?? "Emulator Customer";
  const customer = typeof session.customer === "string" ? session.customer : null;
  let pi: Stripe.PaymentIntent;
  if (typeof session.payment_intent === "string") {
    pi = engine.store.record<Stripe.PaymentIntent>(session.payment_intent)!.obj;
  } else {
    pi = createPaymentIntent(engine, record.owner, {
      ...record.meta.paymentIntentData,
      amount: session.amount_total ?? 0,
      currency: session.currency ?? "aud",
      customer,
      paymentMethod: null,
      paymentMethodTypes: session.payment_method_types,
    }).obj;
    session.payment_intent = pi.id;
  }
  const piRecord = engine.store.record<Stripe.PaymentIntent, PaymentIntentMeta>(pi.id)!;
  piRecord.meta.checkoutSession = session.id;
  const billing = { name, email };
  if (input.becs) {
    confirmPaymentIntent(engine, piRecord, {
      paymentMethodData: {
        type: "au_becs_debit",
        au_becs_debit: {
          bsb_number: input.becs.bsbNumber ?? "000000",
          account_number: input.becs.accountNumber,
        },
        billing_details: billing,
      },
      mandateParams: {
        mandate_data: {
          customer_acceptance: {
            type: "online",
            online: { ip_address: "127.0.0.1", user_agent: "susu-stripe-emulator checkout" },
          },
        },
      },
    });
  } else {
    confirmPaymentIntent(engine, piRecord, { paymentMethod: input.paymentMethod ?? "pm_card_visa" });
  }
  session.customer_details = {
    address: null,
    business_name: null,
    email,
    individual_name: null,
    name,
    phone: null,
    tax_exempt: "none",
    tax_ids: [],
  };
  session.status = "complete";
  session.url = null;
  session.payment_status = pi.status === "succeeded" ? "paid" : "unpaid";
  engine.scheduler.cancel(EXPIRE_TASK, session.id);
  engine.emit("checkout.session.completed", session, record.owner);
  return session;
}

/**
 * A Checkout Session in subscription mode completes into a subscription: the card is saved
 * on the customer and the subscription created with it as its default payment method (its
 * first invoice charged, or its trial begun), carrying `subscription_data`'s metadata and
 * trial; the session names the subscription and its first invoice.
 */
function completeSubscriptionSession(
  engine: Engine,
  record: { obj: Stripe.Checkout.Session; owner: string; meta: CheckoutMeta },
  input: CheckoutCompletion,
): Stripe.Checkout.Session {
  const session = record.obj;
  const customerId = session.customer as string;
  const pm = attachPaymentMethod(engine, input.paymentMethod ?? "pm_card_visa", customerId, record.owner);
  const item = record.meta.lineItems[0]!;
  const data = record.meta.subscriptionData ?? {};
  const trial = optInt(data, "trial_period_days", "subscription_data");
  const metadata = child(data, "metadata", "subscription_data");
  const sub = createSubscriptionFrom(engine, record.owner, {
    customer: customerId,
    items: [{ price: item.price!.id, quantity: String(item.quantity ?? 1) }],
    default_payment_method: pm.id,
    payment_behavior: "allow_incomplete",
    ...(trial !== undefined ? { trial_period_days: String(trial) } : {}),
    ...(metadata !== undefined ? { metadata } : {}),
  });
  session.subscription = sub.id;
  session.invoice =
    typeof sub.latest_invoice === "string" ? sub.latest_invoice : (sub.latest_invoice?.id ?? null);
  session.customer_details = {
    address: null,
    business_name: null,
    email: input.email ?? session.customer_email ?? "customer@example.com",
    individual_name: null,
    name: input.name ?? "Emulator Customer",
    phone: null,
    tax_exempt: "none",
    tax_ids: [],
  };
  session.status = "complete";
  session.url = null;
  session.payment_status =
    sub.status === "active" ? "paid" : sub.status === "trialing" ? "no_payment_required" : "unpaid";
  engine.scheduler.cancel(EXPIRE_TASK, session.id);
  engine.emit("checkout.session.completed", session, record.owner);
  return session;
}

export function registerCheckout(router: Router, engine: Engine): void {
  engine.store.defineIndex<Stripe.Checkout.Session>(
    "checkout.session",
    "payment_intent",
    stringKey((s) => s.payment_intent),
  );
  engine.store.defineIndex<Stripe.Checkout.Session>(
    "checkout.session",
    "customer",
    stringKey((s) => s.customer),
  );
  engine.onTask(EXPIRE_TASK, (ref) => {
    const session = engine.store.record<Stripe.Checkout.Session>(ref)?.obj;
    if (session?.status === "open") expire(engine, ref);
  });

  engine.onPaymentOutcome((piId, outcome) => {
    if (outcome === "processing") return;
    const sessionId = engine.store.record<Stripe.PaymentIntent, PaymentIntentMeta>(piId)?.meta
      .checkoutSession;
    const record = sessionId ? engine.store.record<Stripe.Checkout.Session>(sessionId) : undefined;
    if (!record) return;
    const session = record.obj;
    // Only a session that completed unpaid (a delayed method) waits for the outcome.
    if (session.status !== "complete" || session.payment_status !== "unpaid") return;
    if (outcome === "succeeded") {
      session.payment_status = "paid";
      engine.emit("checkout.session.async_payment_succeeded", session, record.owner);
    } else {
      engine.emit("checkout.session.async_payment_failed", session, record.owner);
    }
  });

  router.post(
    "/v1/checkout/sessions",
    (req) => {
      const p = req.params;
      const mode = optEnum(p, "mode", ["payment", "setup", "subscription"]);
      if (!mode) throw missingParam("mode");
      if (mode === "setup") {
        throw validationFailure(
          "The emulator supports Checkout Sessions in payment and subscription modes only.",
          {
            param: "mode",
          },
        );
      }
      const successUrl = optString(p, "success_url") || null;
      const uiMode = optEnum(p, "ui_mode", ["custom", "embedded", "hosted"]) ?? "hosted";
      if (uiMode === "hosted" && !successUrl) throw missingParam("success_url");
      const items = optArray(p, "line_items");
      if (!items || items.length === 0) throw missingParam("line_items");
      const lineItems = items.map((item, i) => {
        if (!isParams(item)) throw validationFailure("Invalid line item", { param: `line_items[${i}]` });
        return lineItemFrom(engine, req.account, item, i);
      });
      const currency = lineItems[0]!.currency;
      if (lineItems.some((li) => li.currency !== currency)) {
        throw invalidRequest("All line items must use the same currency.", { param: "line_items" });
      }
      const total = lineItems.reduce((sum, li) => sum + li.amount_total, 0);
      const customer = optString(p, "customer") || null;
      if (customer) getCustomer(engine, customer, req.account);
      if (mode === "subscription") {
        if (!customer)
          throw validationFailure(
            "The emulator needs `customer` for a Checkout Session in subscription mode.",
            {
              param: "customer",
            },
          );
        if (lineItems.length !== 1 || lineItems[0]!.price?.recurring == null)
          throw invalidRequest("Subscription mode takes one line item with a recurring price.", {
            param: "line_items",
          });
      } else if (lineItems.some((li) => li.price?.recurring != null)) {
        throw invalidRequest("You must be in `subscription` mode to use recurring prices.", {
          param: "line_items",
        });
      }
      const pid = child(p, "payment_intent_data") ?? {};
      const transfer = child(pid, "transfer_data", "payment_intent_data");
      const expiresAt = optInt(p, "expires_at") ?? engine.now() + 24 * 3600;
      // Stripe: "between 30 minutes and 24 hours after the current time".
      if (expiresAt < engine.now() + 30 * 60 || expiresAt > engine.now() + 24 * 3600) {
        throw refusedParam(
          "expires_at",
          "The `expires_at` timestamp must be between 30 minutes and 24 hours after the Checkout Session is created.",
          "parameter_invalid_integer",
        );
      }
      const id = newId("cs_test", 58);
      const session: Stripe.Checkout.Session = {
        id,
        object: "checkout.session",
        adaptive_pricing: null,
        after_expiration: null,
        allow_promotion_codes: null,
        amount_subtotal: total,
        amount_total: total,
        automatic_tax: { enabled: false, liability: null, provider: null, status: null },
        billing_address_collection: null,
        cancel_url: optString(p, "cancel_url") || null,
        client_reference_id: optString(p, "client_reference_id") || null,
        client_secret: null,
        collected_information: null,
        consent: null,
        consent_collection: null,
        created: engine.now(),
        currency,
        currency_conversion: null,
        custom_fields: [],
        custom_text: {
          after_submit: null,
          shipping_address: null,
          submit: null,
          terms_of_service_acceptance: null,
        },
        customer,
        customer_account: null,
        customer_creation: customer ? null : "if_required",
        customer_details: null,
        customer_email: optString(p, "customer_email") || null,
        discounts: [],
        expires_at: expiresAt,
        integration_identifier: null,
        invoice: null,
        invoice_creation: null,
        livemode: false,
        locale: null,
        managed_payments: null,
        metadata: applyMetadata({}, p),
        mode,
        origin_context: null,
        payment_intent: null,
        payment_link: null,
        payment_method_collection: "if_required",
        payment_method_configuration_details: null,
        payment_method_options: {},
        // None named: the Dashboard's (dynamic) payment methods for the currency.
        payment_method_types: optStringArray(p, "payment_method_types") ?? [
          ...(engine.options.dynamicPaymentMethodTypes[currency] ?? ["card"]),
        ],
        payment_status: "unpaid",
        permissions: null,
        recovered_from: null,
        saved_payment_method_options: null,
        setup_intent: null,
        shipping_address_collection: null,
        shipping_cost: null,
        shipping_options: [],
        status: "open",
        submit_type: null,
        subscription: null,
        success_url: successUrl,
        total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
        ui_mode: uiMode,
        url: `${engine.baseUrl}/_emulator/checkout/sessions/${id}`,
        wallet_options: null,
      };
      const transferAmount = transfer
        ? optInt(transfer, "amount", "payment_intent_data[transfer_data]")
        : undefined;
      const subscriptionData = child(p, "subscription_data");
      engine.store.insert<Stripe.Checkout.Session, CheckoutMeta>("checkout.session", req.account, session, {
        lineItems,
        ...(mode === "subscription" && subscriptionData !== undefined ? { subscriptionData } : {}),
        paymentIntentData: {
          description: optString(pid, "description", "payment_intent_data") || null,
          metadata: applyMetadata({}, pid),
          captureMethod:
            optEnum(
              pid,
              "capture_method",
              ["automatic", "automatic_async", "manual"],
              "payment_intent_data",
            ) ?? "automatic_async",
          setupFutureUsage:
            optEnum(pid, "setup_future_usage", ["off_session", "on_session"], "payment_intent_data") ?? null,
          transferGroup: optString(pid, "transfer_group", "payment_intent_data") || null,
          transferData: transfer
            ? {
                destination: reqString(transfer, "destination", "payment_intent_data[transfer_data]"),
                ...(transferAmount !== undefined ? { amount: transferAmount } : {}),
              }
            : null,
          applicationFeeAmount: optInt(pid, "application_fee_amount", "payment_intent_data") ?? null,
          onBehalfOf: optString(pid, "on_behalf_of", "payment_intent_data") || null,
          statementDescriptor: optString(pid, "statement_descriptor", "payment_intent_data") || null,
          receiptEmail: optString(pid, "receipt_email", "payment_intent_data") || null,
        },
      });
      engine.scheduler.schedule("main", expiresAt, EXPIRE_TASK, id);
      return session;
    },
    CHECKOUT_SESSION_CREATE,
  );

  router.get("/v1/checkout/sessions/:id", (req) => {
    const record = sessionFor(engine, req.pathParams.id!);
    if (record.owner !== req.account)
      throw resourceMissing("checkout.session", req.pathParams.id!, "session");
    return record.obj;
  });

  router.get("/v1/checkout/sessions/:id/line_items", (req) => {
    const record = sessionFor(engine, req.pathParams.id!);
    return listOf(`/v1/checkout/sessions/${record.obj.id}/line_items`, {
      data: record.meta.lineItems,
      has_more: false,
    });
  });

  router.post("/v1/checkout/sessions/:id/expire", (req) => expire(engine, req.pathParams.id!));

  router.get("/v1/checkout/sessions", (req) => {
    const pi = optString(req.params, "payment_intent");
    const customer = optString(req.params, "customer");
    const page = engine.store.page<Stripe.Checkout.Session>(
      "checkout.session",
      req.account,
      pageRequest(req.params),
      (r) =>
        (pi === undefined || r.obj.payment_intent === pi) &&
        (customer === undefined || r.obj.customer === customer),
      [
        ["payment_intent", pi],
        ["customer", customer],
      ],
    );
    return listOf("/v1/checkout/sessions", page);
  });
}
