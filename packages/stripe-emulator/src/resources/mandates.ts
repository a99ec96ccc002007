import type Stripe from "stripe";
import type { Engine } from "../core/engine.js";
import { newId } from "../core/ids.js";
import { invalidRequest, missingParam } from "../http/errors.js";
import { child, optEnum, optInt, optString, type Params, paramName } from "../http/params.js";
import type { Router } from "../http/router.js";
import type { PaymentMethodRecord } from "./payment-methods.js";

export interface MandateMeta {
  customer: string | null;
}

/** Reads `mandate_data[customer_acceptance]`, which BECS needs before any debit. */
export function customerAcceptance(
  engine: Engine,
  params: Params,
  prefix: string,
): Stripe.Mandate.CustomerAcceptance {
  const data = child(params, "mandate_data", prefix);
  const dataName = paramName(prefix, "mandate_data");
  const p = paramName(dataName, "customer_acceptance");
  const acceptance = data ? child(data, "customer_acceptance", dataName) : undefined;
  if (!acceptance) throw missingParam(p);
  const type = optEnum(acceptance, "type", ["online", "offline"], p);
  if (!type) throw missingParam(paramName(p, "type"));
  const acceptedAt = optInt(acceptance, "accepted_at", p) ?? engine.now();
  if (type === "offline") return { accepted_at: acceptedAt, offline: {}, type };
  const online = child(acceptance, "online", p);
  const onlineName = paramName(p, "online");
  const ip = online ? optString(online, "ip_address", onlineName) : undefined;
  const userAgent = online ? optString(online, "user_agent", onlineName) : undefined;
  if (!ip) throw missingParam(paramName(onlineName, "ip_address"));
  if (!userAgent) throw missingParam(paramName(onlineName, "user_agent"));
  return { accepted_at: acceptedAt, online: { ip_address: ip, user_agent: userAgent }, type };
}

/** A multi-use mandate for a BECS payment method, active from the customer's acceptance. */
export function createMandate(
  engine: Engine,
  owner: string,
  pm: PaymentMethodRecord,
  acceptance: Stripe.Mandate.CustomerAcceptance,
  customer: string | null,
): Stripe.Mandate {
  const id = newId("mandate");
  const mandate: Stripe.Mandate = {
    id,
    object: "mandate",
    customer_acceptance: acceptance,
    livemode: false,
    multi_use: {},
    payment_method: pm.obj.id,
    payment_method_details: {
      au_becs_debit: { url: `${engine.baseUrl}/_emulator/mandates/${id}` },
      type: "au_becs_debit",
    },
    status: "active",
    type: "multi_use",
  };
  engine.store.insert<Stripe.Mandate, MandateMeta>("mandate", owner, mandate, { customer });
  pm.meta.mandate = id;
  return mandate;
}

/** A mandate stops being usable: the bank reported a permanent failure or the customer revoked it. */
export function deactivateMandate(engine: Engine, mandateId: string): void {
  const record = engine.store.record<Stripe.Mandate>(mandateId);
  if (!record || record.obj.status === "inactive") return;
  const previous = record.obj.status;
  record.obj.status = "inactive";
  engine.emit("mandate.updated", record.obj, record.owner, { previous: { status: previous } });
}

export function assertMandateUsable(engine: Engine, mandateId: string, owner: string): Stripe.Mandate {
  const record = engine.store.find<Stripe.Mandate>("mandate", mandateId, owner);
  if (!record)
    throw invalidRequest(`No such mandate: '${mandateId}'`, { param: "mandate", code: "resource_missing" });
  return record.obj;
}

export function registerMandates(router: Router, engine: Engine): void {
  router.get(
    "/v1/mandates/:id",
    (req) => engine.store.get<Stripe.Mandate>("mandate", req.pathParams.id!, req.account, "mandate").obj,
  );
}
