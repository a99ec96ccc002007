import type Stripe from "stripe";
import type { Engine } from "../core/engine.js";
import { MAIN_CLOCK } from "../core/scheduler.js";
import { resourceMissing } from "../http/errors.js";

/**
 * Reading stored customers. Kept apart from the customer routes so that resources the routes use
 * (payment methods) can look customers up without importing the routes back.
 */

export interface CustomerMeta {
  deleted?: boolean;
}

/** The clock a customer's billing objects follow: its test clock, or the emulator's. */
export function clockOfCustomer(engine: Engine, customerId: string | null): string {
  if (!customerId) return MAIN_CLOCK;
  const customer = engine.store.record<Stripe.Customer>(customerId)?.obj;
  const clock = customer?.test_clock;
  return typeof clock === "string" && engine.scheduler.hasClock(clock) ? clock : MAIN_CLOCK;
}

export function getCustomer(engine: Engine, id: string, owner: string, param = "customer"): Stripe.Customer {
  const record = engine.store.find<Stripe.Customer, CustomerMeta>("customer", id, owner);
  if (!record || record.meta.deleted) throw resourceMissing("customer", id, param);
  return record.obj;
}
