import { createHash } from "node:crypto";
import type Stripe from "stripe";
import type { Engine } from "../core/engine.js";
import { newId } from "../core/ids.js";
import { stringKey } from "../core/store.js";
import {
  cardError,
  invalidParam,
  invalidRequest,
  missingParam,
  resourceMissing,
  validationFailure,
} from "../http/errors.js";
import { PAYMENT_METHOD_ATTACH, PAYMENT_METHOD_CREATE } from "../http/known-params.js";
import {
  applyMetadata,
  child,
  optInt,
  optNullableString,
  optString,
  type Params,
  paramName,
  reqString,
} from "../http/params.js";
import { listOf, pageRequest } from "../http/render.js";
import type { ApiRequest, Router } from "../http/router.js";
import { getCustomer } from "./customer-lookup.js";
import { type CardBehaviour, testCardForId, testCardForNumber } from "./test-values.js";

export interface PaymentMethodMeta {
  card?: CardBehaviour;
  /** The full BECS account number, which decides the debit's outcome; Stripe only shows last4. */
  becsAccount?: string;
  /** The BECS mandate accepted for this payment method, if any. */
  mandate?: string;
  /** Detached from its customer: Stripe lets it pay no more and never attaches it again. */
  detached?: boolean;
}

/**
 * Refuses a payment method detached from its customer, which Stripe's documentation says can
 * no longer be used for payments nor attached again. The code and wording of Stripe's refusal
 * are not documented: `payment_method_unexpected_state` is the emulator's choice.
 */
export function assertNotDetached(record: PaymentMethodRecord, param = "payment_method"): void {
  if (record.meta.detached !== true) return;
  throw invalidRequest(
    `The PaymentMethod ${record.obj.id} was detached from its Customer and cannot be used again.`,
    { param, code: "payment_method_unexpected_state" },
  );
}

export type PaymentMethodRecord = { obj: Stripe.PaymentMethod; meta: PaymentMethodMeta; owner: string };

const SUPPORTED_TYPES = ["card", "au_becs_debit"] as const;

function fingerprintOf(text: string): string {
  return createHash("sha256").update(text).digest("base64url").slice(0, 16);
}

function billingDetails(params: Params, prefix: string): Stripe.PaymentMethod.BillingDetails {
  const details = child(params, "billing_details", prefix) ?? {};
  const p = paramName(prefix, "billing_details");
  const address = child(details, "address", p);
  const a = paramName(p, "address");
  return {
    address: address
      ? {
          city: optString(address, "city", a) ?? null,
          country: optString(address, "country", a) ?? null,
          line1: optString(address, "line1", a) ?? null,
          line2: optString(address, "line2", a) ?? null,
          postal_code: optString(address, "postal_code", a) ?? null,
          state: optString(address, "state", a) ?? null,
        }
      : null,
    email: optNullableString(details, "email", p) ?? null,
    name: optNullableString(details, "name", p) ?? null,
    phone: optNullableString(details, "phone", p) ?? null,
    tax_id: null,
  };
}

function cardObject(
  card: CardBehaviour,
  expMonth = 12,
  expYear = new Date().getUTCFullYear() + 3,
): Stripe.PaymentMethod.Card {
  return {
    brand: card.brand,
    checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: "pass" },
    country: card.country,
    display_brand: card.brand,
    exp_month: expMonth,
    exp_year: expYear,
    fingerprint: fingerprintOf(`card:${card.brand}:${card.last4}`),
    funding: card.funding,
    generated_from: null,
    last4: card.last4,
    networks: { available: [card.brand], preferred: null },
    regulated_status: "unregulated",
    three_d_secure_usage: { supported: true },
    wallet: null,
  };
}

function basePaymentMethod(
  engine: Engine,
  type: Stripe.PaymentMethod.Type,
  details: Stripe.PaymentMethod.BillingDetails,
): Stripe.PaymentMethod {
  return {
    id: newId("pm"),
    object: "payment_method",
    allow_redisplay: "unspecified",
    billing_details: details,
    created: engine.now(),
    customer: null,
    customer_account: null,
    livemode: false,
    metadata: {},
    type,
  };
}

/**
 * Stores a payment method that was built but not yet kept (from `payment_method_data` or a test
 * id); one already stored is returned as it is. Confirmations build first and store only once
 * every check passed, so a refused request leaves no payment method behind.
 */
export function storePaymentMethod(engine: Engine, record: PaymentMethodRecord): PaymentMethodRecord {
  if (engine.store.record(record.obj.id)) return record;
  return engine.store.insert<Stripe.PaymentMethod, PaymentMethodMeta>(
    "payment_method",
    record.owner,
    record.obj,
    record.meta,
  );
}

/** A new payment method (not stored yet) from a test id such as `pm_card_visa` or `tok_visa`, as Stripe makes one per use. */
function fromTestId(engine: Engine, id: string, owner: string): PaymentMethodRecord | undefined {
  const card = testCardForId(id);
  if (!card) return undefined;
  const pm = basePaymentMethod(engine, "card", {
    address: null,
    email: null,
    name: null,
    phone: null,
    tax_id: null,
  });
  pm.card = cardObject(card);
  return { obj: pm, meta: { card }, owner };
}

/**
 * Creates a payment method from `type` + details, as `POST /v1/payment_methods` and
 * `payment_method_data` do. `prefix` is the enclosing parameter's name in errors (`payment_method_data`), `""` at the top level.
 */
export function createPaymentMethod(
  engine: Engine,
  params: Params,
  owner: string,
  prefix = "",
): PaymentMethodRecord {
  return storePaymentMethod(engine, buildPaymentMethod(engine, params, owner, prefix));
}

/** Reads and checks a payment method's `type` and details without storing it ({@link storePaymentMethod}). */
export function buildPaymentMethod(
  engine: Engine,
  params: Params,
  owner: string,
  prefix = "",
): PaymentMethodRecord {
  const type = reqString(params, "type", prefix);
  if (!(SUPPORTED_TYPES as readonly string[]).includes(type)) {
    throw validationFailure(
      `The payment method type "${type}" is not supported by the emulator (supported: ${SUPPORTED_TYPES.join(", ")}).`,
      { param: paramName(prefix, "type") },
    );
  }
  const details = billingDetails(params, prefix);
  let record: PaymentMethodRecord;
  if (type === "card") {
    const cardName = paramName(prefix, "card");
    const cardParams = child(params, "card", prefix);
    if (!cardParams) throw missingParam(paramName(prefix, "card"));
    const token = optString(cardParams, "token", cardName);
    const number = optString(cardParams, "number", cardName);
    let card: CardBehaviour | undefined;
    if (token !== undefined) {
      card = testCardForId(token);
      if (!card) throw resourceMissing("token", token, paramName(cardName, "token"));
    } else if (number !== undefined) {
      card = testCardForNumber(number);
      if (!card) {
        throw cardError("Your card number is incorrect.", "incorrect_number", undefined, {
          param: paramName(cardName, "number"),
        });
      }
    } else {
      throw missingParam(paramName(cardName, "number"));
    }
    const pm = basePaymentMethod(engine, "card", details);
    pm.card = cardObject(
      card,
      optInt(cardParams, "exp_month", cardName),
      optInt(cardParams, "exp_year", cardName),
    );
    record = { obj: pm, meta: { card }, owner };
  } else {
    const becs = child(params, "au_becs_debit", prefix);
    const p = paramName(prefix, "au_becs_debit");
    if (!becs) throw missingParam(paramName(p, "bsb_number"));
    const bsb = reqString(becs, "bsb_number", p).replace(/[\s-]/g, "");
    const account = reqString(becs, "account_number", p).replace(/[\s-]/g, "");
    if (!/^\d{6}$/.test(bsb))
      throw invalidParam(paramName(p, "bsb_number"), "Invalid BSB number", "invalid_bank_account_bsb");
    if (!/^\d{5,9}$/.test(account)) {
      throw invalidParam(
        paramName(p, "account_number"),
        "Invalid account number",
        "invalid_bank_account_number",
      );
    }
    if (!details.name) throw missingParam(paramName(paramName(prefix, "billing_details"), "name"));
    if (!details.email) throw missingParam(paramName(paramName(prefix, "billing_details"), "email"));
    const pm = basePaymentMethod(engine, "au_becs_debit", details);
    pm.au_becs_debit = {
      bsb_number: bsb,
      fingerprint: fingerprintOf(`becs:${bsb}:${account}`),
      last4: account.slice(-4),
    };
    record = { obj: pm, meta: { becsAccount: account }, owner };
  }
  record.obj.metadata = applyMetadata({}, params);
  return record;
}

/** The payment method named by `id` (a stored one, or a fresh one for a test id). */
export function resolvePaymentMethod(
  engine: Engine,
  id: string,
  owner: string,
  param = "payment_method",
): PaymentMethodRecord {
  return storePaymentMethod(engine, lookUpPaymentMethod(engine, id, owner, param));
}

/**
 * The payment method named by `id`: a stored one, or for a test id a fresh one not stored yet
 * ({@link storePaymentMethod}). An unknown id is a 404.
 */
export function lookUpPaymentMethod(
  engine: Engine,
  id: string,
  owner: string,
  param = "payment_method",
): PaymentMethodRecord {
  const test = fromTestId(engine, id, owner);
  if (test) return test;
  const record = engine.store.find<Stripe.PaymentMethod, PaymentMethodMeta>("payment_method", id, owner);
  if (!record) throw resourceMissing("payment_method", id, param);
  return record;
}

export function attachPaymentMethod(
  engine: Engine,
  pmId: string,
  customerId: string,
  owner: string,
): Stripe.PaymentMethod {
  const record = resolvePaymentMethod(engine, pmId, owner);
  getCustomer(engine, customerId, owner);
  const pm = record.obj;
  if (pm.customer === customerId) return pm;
  assertNotDetached(record);
  if (pm.customer !== null) {
    throw invalidRequest("The payment method you provided has already been attached to a customer.", {
      code: "payment_method_unexpected_state",
    });
  }
  if (record.meta.card?.decline && !record.meta.card.attachable) {
    const d = record.meta.card.decline;
    throw cardError(d.message, d.code, d.declineCode);
  }
  pm.customer = customerId;
  engine.emit("payment_method.attached", pm, owner);
  return pm;
}

/**
 * What Stripe does on its own when a card network tells it a saved card changed (a new
 * expiry date or a reissued number): the attached card's details are replaced and
 * `payment_method.automatically_updated` is sent, with the card's previous details in
 * `previous_attributes`. Only an attached card is updated (Stripe's card account updater
 * keeps saved cards current); `undefined` fields keep their value.
 */
export function networkUpdateCard(
  engine: Engine,
  pmId: string,
  update: { readonly expMonth?: number; readonly expYear?: number; readonly last4?: string },
): Stripe.PaymentMethod | { readonly refused: string } {
  const record = engine.store.record<Stripe.PaymentMethod>(pmId);
  if (record?.type !== "payment_method") return { refused: `No such payment method: '${pmId}'` };
  const pm = record.obj;
  if (pm.type !== "card" || !pm.card)
    return { refused: "only card payment methods are updated by card networks" };
  if (pm.customer === null) return { refused: "only cards saved to a customer are updated by card networks" };
  if (
    update.expMonth !== undefined &&
    !(Number.isInteger(update.expMonth) && update.expMonth >= 1 && update.expMonth <= 12)
  )
    return { refused: "exp_month must be 1 to 12" };
  if (
    update.expYear !== undefined &&
    !(Number.isInteger(update.expYear) && update.expYear >= 2000 && update.expYear <= 2100)
  )
    return { refused: "exp_year must be a four-digit year" };
  if (update.last4 !== undefined && !/^[0-9]{4}$/.test(update.last4))
    return { refused: "last4 must be four digits" };
  const previous = { exp_month: pm.card.exp_month, exp_year: pm.card.exp_year, last4: pm.card.last4 };
  pm.card = {
    ...pm.card,
    exp_month: update.expMonth ?? pm.card.exp_month,
    exp_year: update.expYear ?? pm.card.exp_year,
    last4: update.last4 ?? pm.card.last4,
  };
  engine.emit("payment_method.automatically_updated", pm, record.owner, { previous: { card: previous } });
  return pm;
}

export function registerPaymentMethods(router: Router, engine: Engine): void {
  engine.store.defineIndex<Stripe.PaymentMethod>(
    "payment_method",
    "customer",
    stringKey((pm) => pm.customer),
  );
  router.post(
    "/v1/payment_methods",
    (req) => {
      const record = createPaymentMethod(engine, req.params, req.account);
      return record.obj;
    },
    PAYMENT_METHOD_CREATE,
  );

  router.get("/v1/payment_methods/:id", (req) => {
    return engine.store.get<Stripe.PaymentMethod>(
      "payment_method",
      req.pathParams.id!,
      req.account,
      "payment_method",
    ).obj;
  });

  router.post("/v1/payment_methods/:id", (req) => {
    const pm = engine.store.get<Stripe.PaymentMethod>(
      "payment_method",
      req.pathParams.id!,
      req.account,
      "payment_method",
    ).obj;
    const before = JSON.stringify(pm.billing_details);
    if (req.params.billing_details !== undefined) {
      const next = billingDetails(req.params, "");
      pm.billing_details = {
        address: next.address ?? pm.billing_details.address,
        email: next.email ?? pm.billing_details.email,
        name: next.name ?? pm.billing_details.name,
        phone: next.phone ?? pm.billing_details.phone,
        tax_id: pm.billing_details.tax_id,
      };
    }
    pm.metadata = applyMetadata(pm.metadata ?? {}, req.params);
    engine.emit("payment_method.updated", pm, req.account, {
      previous: { billing_details: JSON.parse(before) as unknown },
    });
    return pm;
  });

  router.post(
    "/v1/payment_methods/:id/attach",
    (req) => {
      const customer = reqString(req.params, "customer");
      return attachPaymentMethod(engine, req.pathParams.id!, customer, req.account);
    },
    PAYMENT_METHOD_ATTACH,
  );

  router.post("/v1/payment_methods/:id/detach", (req) => {
    const record = engine.store.get<Stripe.PaymentMethod, PaymentMethodMeta>(
      "payment_method",
      req.pathParams.id!,
      req.account,
      "payment_method",
    );
    const pm = record.obj;
    if (pm.customer === null) {
      throw invalidRequest(
        "The payment method you provided is not attached to a customer so detachment is impossible.",
        {
          code: "payment_method_unexpected_state",
        },
      );
    }
    const previous = pm.customer;
    pm.customer = null;
    record.meta.detached = true;
    engine.emit("payment_method.detached", pm, req.account, { previous: { customer: previous } });
    return pm;
  });

  const list = (customer: string | undefined, type: string | undefined, req: ApiRequest, url: string) => {
    const page = engine.store.page<Stripe.PaymentMethod>(
      "payment_method",
      req.account,
      pageRequest(req.params),
      (r) =>
        (customer === undefined || r.obj.customer === customer) &&
        (type === undefined || r.obj.type === type),
      [["customer", customer]],
    );
    return listOf(url, page);
  };

  router.get("/v1/payment_methods", (req) => {
    const customer = optString(req.params, "customer");
    if (customer !== undefined) getCustomer(engine, customer, req.account);
    return list(customer ?? undefined, optString(req.params, "type"), req, "/v1/payment_methods");
  });

  router.get("/v1/customers/:id/payment_methods", (req) => {
    const customer = req.pathParams.id!;
    getCustomer(engine, customer, req.account, "customer");
    return list(customer, optString(req.params, "type"), req, `/v1/customers/${customer}/payment_methods`);
  });

  router.get("/v1/customers/:id/payment_methods/:pm", (req) => {
    const record = engine.store.get<Stripe.PaymentMethod>(
      "payment_method",
      req.pathParams.pm!,
      req.account,
      "payment_method",
    );
    if (record.obj.customer !== req.pathParams.id)
      throw resourceMissing("payment_method", req.pathParams.pm!);
    return record.obj;
  });
}
