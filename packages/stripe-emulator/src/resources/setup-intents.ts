import type Stripe from "stripe";
import type { Engine } from "../core/engine.js";
import { newId, randomToken } from "../core/ids.js";
import { type StoredRecord, stringKey } from "../core/store.js";
import { cardError, invalidRequest, unexpectedState, validationFailure } from "../http/errors.js";
import { SETUP_INTENT_CONFIRM, SETUP_INTENT_CREATE } from "../http/known-params.js";
import {
  applyMetadata,
  child,
  optBool,
  optEnum,
  optString,
  optStringArray,
  type Params,
} from "../http/params.js";
import { listOf, pageRequest } from "../http/render.js";
import type { Router } from "../http/router.js";
import { getCustomer } from "./customer-lookup.js";
import { createMandate, customerAcceptance } from "./mandates.js";
import {
  attachPaymentMethod,
  buildPaymentMethod,
  lookUpPaymentMethod,
  type PaymentMethodRecord,
  resolvePaymentMethod,
  storePaymentMethod,
} from "./payment-methods.js";

type SetupIntentRecord = StoredRecord<Stripe.SetupIntent, Record<string, never>>;

const CONFIRMABLE = ["requires_payment_method", "requires_confirmation", "requires_action"];

/**
 * What a confirmation will use, found and checked before anything changes: the payment method
 * (built but not stored when it comes from `payment_method_data` or a test id) and, for BECS,
 * the customer's acceptance of the mandate to create.
 */
interface SetupPlan {
  pm: PaymentMethodRecord;
  acceptance: Stripe.Mandate.CustomerAcceptance | null;
}

function paymentMethodFor(
  engine: Engine,
  si: Stripe.SetupIntent,
  owner: string,
  params: Params,
  named: PaymentMethodRecord | null,
): PaymentMethodRecord {
  const data = child(params, "payment_method_data");
  if (data) return buildPaymentMethod(engine, data, owner, "payment_method_data");
  const id = optString(params, "payment_method");
  if (id) return lookUpPaymentMethod(engine, id, owner);
  if (named) return named;
  if (typeof si.payment_method === "string") return lookUpPaymentMethod(engine, si.payment_method, owner);
  throw unexpectedState(
    "You cannot confirm this SetupIntent because it's missing a payment method. Update the SetupIntent with a payment method and then confirm it again.",
    "setup_intent_unexpected_state",
  );
}

/**
 * Checks everything a confirmation needs, changing nothing: a refusal here is a validation
 * failure, which creates nothing and which an idempotency key does not keep. `si` may be a
 * SetupIntent not stored yet, whose creation-time payment method is `named`.
 */
function planSetup(
  engine: Engine,
  si: Stripe.SetupIntent,
  owner: string,
  params: Params,
  named: PaymentMethodRecord | null,
): SetupPlan {
  if (!CONFIRMABLE.includes(si.status)) {
    throw unexpectedState(
      `You cannot confirm this SetupIntent because it has a status of ${si.status}. Only a SetupIntent with one of the following statuses may be confirmed: requires_confirmation, requires_payment_method, requires_action.`,
      "setup_intent_unexpected_state",
    );
  }
  const pm = paymentMethodFor(engine, si, owner, params, named);
  if (!si.payment_method_types.includes(pm.obj.type)) {
    throw invalidRequest(
      `The PaymentMethod provided (${pm.obj.type}) is not allowed for this SetupIntent. Allowed types: ${si.payment_method_types.join(", ")}.`,
      { param: "payment_method", code: "setup_intent_invalid_parameter" },
    );
  }
  const customer = typeof si.customer === "string" ? si.customer : null;
  if (customer && pm.obj.customer !== null && pm.obj.customer !== customer) {
    // What attaching it to the SetupIntent's customer would answer.
    throw invalidRequest("The payment method you provided has already been attached to a customer.", {
      code: "payment_method_unexpected_state",
    });
  }
  if (pm.obj.type !== "au_becs_debit") return { pm, acceptance: null };
  if (!child(params, "mandate_data")) {
    throw validationFailure(
      "A mandate is required to set up an au_becs_debit PaymentMethod: pass mandate_data[customer_acceptance].",
      { param: "mandate_data", code: "parameter_missing" },
    );
  }
  return { pm, acceptance: customerAcceptance(engine, params, "") };
}

/**
 * Saves a payment method for later: BECS needs the customer's mandate acceptance and gets an
 * active multi-use mandate; cards succeed unless they are declining test cards (a 402 naming
 * the SetupIntent, kept for the idempotency key since the SetupIntent moved).
 */
function confirmSetupIntent(engine: Engine, record: SetupIntentRecord, params: Params): Stripe.SetupIntent {
  return applySetup(engine, record, planSetup(engine, record.obj, record.owner, params, null));
}

function applySetup(engine: Engine, record: SetupIntentRecord, plan: SetupPlan): Stripe.SetupIntent {
  const si = record.obj;
  const pm = storePaymentMethod(engine, plan.pm);
  si.payment_method = pm.obj.id;
  si.last_setup_error = null;
  const customer = typeof si.customer === "string" ? si.customer : null;
  const decline = pm.meta.card?.decline;
  if (decline && !pm.meta.card?.attachable) {
    si.status = "requires_payment_method";
    si.payment_method = null;
    si.last_setup_error = {
      code: decline.code as Stripe.SetupIntent.LastSetupError.Code,
      decline_code: decline.declineCode,
      message: decline.message,
      payment_method: pm.obj,
      type: "card_error",
    };
    engine.emit("setup_intent.setup_failed", si, record.owner);
    throw cardError(decline.message, decline.code, decline.declineCode, {
      setup_intent: JSON.parse(JSON.stringify(si)) as unknown,
      payment_method: pm.obj,
    });
  }
  if (plan.acceptance) {
    si.mandate = createMandate(engine, record.owner, pm, plan.acceptance, customer).id;
  }
  if (customer) attachPaymentMethod(engine, pm.obj.id, customer, record.owner);
  si.status = "succeeded";
  engine.emit("setup_intent.succeeded", si, record.owner);
  return si;
}

export function registerSetupIntents(router: Router, engine: Engine): void {
  engine.store.defineIndex<Stripe.SetupIntent>(
    "setup_intent",
    "customer",
    stringKey((si) => si.customer),
  );
  engine.store.defineIndex<Stripe.SetupIntent>(
    "setup_intent",
    "payment_method",
    stringKey((si) => si.payment_method),
  );
  router.post(
    "/v1/setup_intents",
    (req) => {
      const p = req.params;
      const customer = optString(p, "customer") || null;
      if (customer) getCustomer(engine, customer, req.account);
      const pmId = optString(p, "payment_method");
      const pm = pmId ? lookUpPaymentMethod(engine, pmId, req.account) : undefined;
      const id = newId("seti");
      const si: Stripe.SetupIntent = {
        id,
        object: "setup_intent",
        allowed_payment_method_types: null,
        application: null,
        automatic_payment_methods: null,
        cancellation_reason: null,
        client_secret: `${id}_secret_${randomToken(25)}`,
        created: engine.now(),
        customer,
        description: optString(p, "description") || null,
        excluded_payment_method_types: null,
        flow_directions: null,
        last_setup_error: null,
        latest_attempt: null,
        livemode: false,
        mandate: null,
        metadata: applyMetadata({}, p),
        next_action: null,
        on_behalf_of: optString(p, "on_behalf_of") || null,
        payment_method: pm?.obj.id ?? null,
        payment_method_configuration_details: null,
        payment_method_options: {},
        payment_method_types: optStringArray(p, "payment_method_types") ?? ["card"],
        single_use_mandate: null,
        status: pm ? "requires_confirmation" : "requires_payment_method",
        usage: optEnum(p, "usage", ["off_session", "on_session"]) ?? "off_session",
      };
      let plan: SetupPlan | null = null;
      if (optBool(p, "confirm")) {
        // Everything the confirmation needs is checked before the SetupIntent exists: a
        // refusal then creates nothing and sends nothing, and its key is not kept.
        const params = { ...p };
        delete params.payment_method;
        plan = planSetup(engine, si, req.account, params, pm ?? null);
      }
      if (pm) storePaymentMethod(engine, pm);
      const record = engine.store.insert<Stripe.SetupIntent, Record<string, never>>(
        "setup_intent",
        req.account,
        si,
        {},
      );
      engine.emit("setup_intent.created", si, req.account);
      return plan ? applySetup(engine, record, plan) : si;
    },
    SETUP_INTENT_CREATE,
  );

  router.get(
    "/v1/setup_intents/:id",
    (req) =>
      engine.store.get<Stripe.SetupIntent>("setup_intent", req.pathParams.id!, req.account, "setup_intent")
        .obj,
  );

  router.post("/v1/setup_intents/:id", (req) => {
    const si = engine.store.get<Stripe.SetupIntent>(
      "setup_intent",
      req.pathParams.id!,
      req.account,
      "setup_intent",
    ).obj;
    const customer = optString(req.params, "customer");
    if (customer) {
      getCustomer(engine, customer, req.account);
      si.customer = customer;
    }
    const pmId = optString(req.params, "payment_method");
    if (pmId) {
      si.payment_method = resolvePaymentMethod(engine, pmId, req.account).obj.id;
      si.status = "requires_confirmation";
    }
    const types = optStringArray(req.params, "payment_method_types");
    if (types) si.payment_method_types = types;
    si.metadata = applyMetadata(si.metadata ?? {}, req.params);
    return si;
  });

  router.post(
    "/v1/setup_intents/:id/confirm",
    (req) => {
      const record = engine.store.get<Stripe.SetupIntent, Record<string, never>>(
        "setup_intent",
        req.pathParams.id!,
        req.account,
        "setup_intent",
      );
      return confirmSetupIntent(engine, record, req.params);
    },
    SETUP_INTENT_CONFIRM,
  );

  router.post("/v1/setup_intents/:id/cancel", (req) => {
    const si = engine.store.get<Stripe.SetupIntent>(
      "setup_intent",
      req.pathParams.id!,
      req.account,
      "setup_intent",
    ).obj;
    if (si.status === "succeeded" || si.status === "canceled" || si.status === "processing") {
      throw unexpectedState(
        `You cannot cancel this SetupIntent because it has a status of ${si.status}.`,
        "setup_intent_unexpected_state",
      );
    }
    si.status = "canceled";
    si.cancellation_reason =
      optEnum(req.params, "cancellation_reason", ["abandoned", "duplicate", "requested_by_customer"]) ?? null;
    engine.emit("setup_intent.canceled", si, req.account);
    return si;
  });

  router.get("/v1/setup_intents", (req) => {
    const customer = optString(req.params, "customer");
    const pm = optString(req.params, "payment_method");
    const page = engine.store.page<Stripe.SetupIntent>(
      "setup_intent",
      req.account,
      pageRequest(req.params),
      (r) =>
        (customer === undefined || r.obj.customer === customer) &&
        (pm === undefined || r.obj.payment_method === pm),
      [
        ["customer", customer],
        ["payment_method", pm],
      ],
    );
    return listOf("/v1/setup_intents", page);
  });
}
