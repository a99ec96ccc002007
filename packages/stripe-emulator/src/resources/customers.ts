import type Stripe from "stripe";
import type { Engine } from "../core/engine.js";
import { newId } from "../core/ids.js";
import { stringKey } from "../core/store.js";
import { refusedParam, resourceMissing } from "../http/errors.js";
import { CUSTOMER_CREATE, CUSTOMER_UPDATE } from "../http/known-params.js";
import {
  applyMetadata,
  child,
  matchesRange,
  optNullableString,
  optString,
  type Params,
} from "../http/params.js";
import { listOf, pageRequest } from "../http/render.js";
import type { Router } from "../http/router.js";
import { type CustomerMeta, getCustomer } from "./customer-lookup.js";
import { attachPaymentMethod } from "./payment-methods.js";

function applyCustomerParams(customer: Stripe.Customer, params: Params): void {
  const email = optNullableString(params, "email");
  if (email !== undefined) customer.email = email;
  const name = optNullableString(params, "name");
  if (name !== undefined) customer.name = name;
  const description = optNullableString(params, "description");
  if (description !== undefined) customer.description = description;
  const phone = optNullableString(params, "phone");
  if (phone !== undefined) customer.phone = phone;
  const invoiceSettings = child(params, "invoice_settings");
  if (invoiceSettings) {
    const pm = optNullableString(invoiceSettings, "default_payment_method", "invoice_settings");
    if (pm !== undefined) customer.invoice_settings.default_payment_method = pm;
  }
  customer.metadata = applyMetadata(customer.metadata, params);
}

/**
 * Refuses an `invoice_settings[default_payment_method]` that is not attached to the customer
 * (Stripe: "ID of a payment method that's attached to the customer"), before anything changes.
 * `attaching`: the payment method a creation attaches first (`payment_method`), which may be
 * its default at once. An empty value clears the default and is always taken.
 */
function checkDefaultPaymentMethod(
  engine: Engine,
  params: Params,
  account: string,
  customerId: string | undefined,
  attaching?: string,
): void {
  const invoiceSettings = child(params, "invoice_settings");
  if (!invoiceSettings) return;
  const id = optNullableString(invoiceSettings, "default_payment_method", "invoice_settings");
  if (id === undefined || id === null || id === "" || id === attaching) return;
  const pm = engine.store.find<Stripe.PaymentMethod>("payment_method", id, account);
  if (pm === undefined || customerId === undefined || pm.obj.customer !== customerId)
    throw refusedParam(
      "invoice_settings[default_payment_method]",
      `The customer does not have a payment method with the ID ${id}. The payment method must be attached to the customer.`,
    );
}

export function registerCustomers(router: Router, engine: Engine): void {
  engine.store.defineIndex<Stripe.Customer>(
    "customer",
    "email",
    stringKey((c) => c.email),
  );
  engine.store.defineIndex<Stripe.Customer>(
    "customer",
    "test_clock",
    stringKey((c) => c.test_clock),
  );
  router.post(
    "/v1/customers",
    (req) => {
      const testClock = optString(req.params, "test_clock");
      if (testClock !== undefined && !engine.store.find("test_helpers.test_clock", testClock, req.account)) {
        throw resourceMissing("test_clock", testClock, "test_clock");
      }
      const customer: Stripe.Customer = {
        id: newId("cus", 14),
        object: "customer",
        address: null,
        balance: 0,
        created: testClock ? engine.now(testClock) : engine.now(),
        currency: null,
        default_source: null,
        delinquent: false,
        description: null,
        email: null,
        invoice_prefix: newId("x", 8).slice(2).toUpperCase(),
        invoice_settings: {
          custom_fields: null,
          default_payment_method: null,
          footer: null,
          rendering_options: null,
        },
        livemode: false,
        metadata: {},
        name: null,
        next_invoice_sequence: 1,
        phone: null,
        preferred_locales: [],
        shipping: null,
        tax_exempt: "none",
        test_clock: testClock ?? null,
      };
      const pm = optString(req.params, "payment_method");
      checkDefaultPaymentMethod(engine, req.params, req.account, undefined, pm);
      applyCustomerParams(customer, req.params);
      engine.store.insert<Stripe.Customer, CustomerMeta>("customer", req.account, customer, {});
      engine.emit("customer.created", customer, req.account);
      if (pm) attachPaymentMethod(engine, pm, customer.id, req.account);
      return customer;
    },
    CUSTOMER_CREATE,
  );

  router.get("/v1/customers/:id", (req) => {
    const id = req.pathParams.id!;
    const record = engine.store.find<Stripe.Customer, CustomerMeta>("customer", id, req.account);
    if (!record) throw resourceMissing("customer", id);
    if (record.meta.deleted)
      return { id, object: "customer", deleted: true } satisfies Stripe.DeletedCustomer;
    return record.obj;
  });

  router.post(
    "/v1/customers/:id",
    (req) => {
      const customer = getCustomer(engine, req.pathParams.id!, req.account, "id");
      checkDefaultPaymentMethod(engine, req.params, req.account, customer.id);
      const before = JSON.parse(JSON.stringify(customer)) as Stripe.Customer;
      applyCustomerParams(customer, req.params);
      engine.emit("customer.updated", customer, req.account, { previous: changed(before, customer) });
      return customer;
    },
    CUSTOMER_UPDATE,
  );

  router.delete("/v1/customers/:id", (req) => {
    const id = req.pathParams.id!;
    const record = engine.store.find<Stripe.Customer, CustomerMeta>("customer", id, req.account);
    if (!record || record.meta.deleted) throw resourceMissing("customer", id);
    record.meta.deleted = true;
    engine.emit("customer.deleted", record.obj, req.account);
    return { id, object: "customer", deleted: true } satisfies Stripe.DeletedCustomer;
  });

  router.get("/v1/customers", (req) => {
    const email = optString(req.params, "email");
    const testClock = optString(req.params, "test_clock");
    const page = engine.store.page<Stripe.Customer, CustomerMeta>(
      "customer",
      req.account,
      pageRequest(req.params),
      (r) =>
        !r.meta.deleted &&
        (email === undefined || r.obj.email === email) &&
        (testClock === undefined || r.obj.test_clock === testClock) &&
        matchesRange(r.obj.created, req.params, "created"),
      [
        ["email", email],
        ["test_clock", testClock],
      ],
    );
    return listOf("/v1/customers", page);
  });
}

/** `previous_attributes` of an update event: the top-level fields that changed, with old values. */
export function changed(before: object, after: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const b = before as Record<string, unknown>;
  const a = after as Record<string, unknown>;
  for (const key of Object.keys(a)) {
    if (JSON.stringify(b[key]) !== JSON.stringify(a[key])) out[key] = b[key] ?? null;
  }
  return out;
}
