import type Stripe from "stripe";
import type { Engine } from "../core/engine.js";
import { newId } from "../core/ids.js";
import { stringKey } from "../core/store.js";
import {
  ApiError,
  invalidParam,
  invalidRequest,
  missingParam,
  refusedParam,
  resourceMissing,
  unexpectedState,
  validationFailure,
} from "../http/errors.js";
import { SUBSCRIPTION_CREATE, SUBSCRIPTION_UPDATE } from "../http/known-params.js";
import {
  applyMetadata,
  isParams,
  matchesRange,
  optArray,
  optBool,
  optEnum,
  optInt,
  optNullableString,
  optString,
  type Params,
  reqString,
} from "../http/params.js";
import { listOf, pageRequest } from "../http/render.js";
import type { Router } from "../http/router.js";
import { getPrice } from "./catalog.js";
import { clockOfCustomer, getCustomer } from "./customer-lookup.js";
import {
  cancelPaymentIntent,
  confirmPaymentIntent,
  createPaymentIntent,
  type PaymentIntentMeta,
  type PaymentIntentRecord,
} from "./payment-intents.js";

const RENEW_TASK = "subscription.renew";
const TRIAL_WILL_END_TASK = "subscription.trial_will_end";
const INCOMPLETE_EXPIRE_TASK = "subscription.incomplete_expire";
const FINALIZE_TASK = "invoice.finalize";
const RETRY_TASK = "invoice.retry";
const PENDING_UPDATE_EXPIRE_TASK = "subscription.pending_update_expire";
/** Stripe expires a pending update 23 hours after the update at the latest. */
const PENDING_UPDATE_MAX_SECONDS = 23 * 3600;
const DAY = 86_400;

interface SubscriptionMeta {
  clock: string;
  /** Billing periods completed since the anchor; period ends are counted from the anchor so a 31st stays a 31st. */
  periods: number;
  paymentBehavior:
    | "allow_incomplete"
    | "default_incomplete"
    | "error_if_incomplete"
    | "pending_if_incomplete";
  /** Proration lines of `create_prorations` changes, billed on the next invoice (Stripe's pending invoice items). */
  pendingLines?: InvoiceLineInput[];
  /** An update made with `payment_behavior: pending_if_incomplete`, waiting for its invoice to be paid. */
  pendingUpdate?: PendingUpdate;
}

/**
 * What a pending update changes once its invoice is paid (Stripe's `pending_update`, "Pending
 * updates"): the item as the update leaves it and, for a price of another interval, the cycle
 * it restarts. Until then the subscription cycles as if no update was asked for.
 */
interface PendingUpdate {
  invoice: string;
  item: Stripe.SubscriptionItem;
  billingCycleAnchor: number;
  periods: number;
  /** A price of another interval restarts the billing cycle: renewals follow the new item's period. */
  restartsCycle: boolean;
  /** Earlier `create_prorations` lines the update's invoice took: owed again if the update expires. */
  takenLines: InvoiceLineInput[];
}

type SubscriptionRecord = { obj: Stripe.Subscription; owner: string; meta: SubscriptionMeta };

/** One line of an invoice the emulator builds: the period's charge or a proration. */
interface InvoiceLineInput {
  amount: number;
  description: string;
  price: Stripe.Price;
  quantity: number;
  period: { start: number; end: number };
  proration: boolean;
}

interface InvoiceMeta {
  clock: string;
  paymentIntent: string | null;
  /** The customer's balance once this invoice is finalized (credit applied or added). */
  endingBalance?: number;
}

/** Adds billing intervals the way Stripe anchors them: same day of month, clamped to the month's end. */
export function addInterval(
  timestamp: number,
  interval: Stripe.Price.Recurring.Interval,
  count: number,
): number {
  if (interval === "day") return timestamp + count * DAY;
  if (interval === "week") return timestamp + count * 7 * DAY;
  const date = new Date(timestamp * 1000);
  const months = interval === "month" ? count : count * 12;
  const day = date.getUTCDate();
  const target = new Date(date.getTime());
  target.setUTCDate(1);
  target.setUTCMonth(target.getUTCMonth() + months);
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(day, lastDay));
  return Math.floor(target.getTime() / 1000);
}

function itemOf(sub: Stripe.Subscription): Stripe.SubscriptionItem {
  return sub.items.data[0]!;
}

/** The charge for one whole period of the item's price. */
function periodLine(item: Stripe.SubscriptionItem, start: number, end: number): InvoiceLineInput {
  const quantity = item.quantity ?? 1;
  return {
    amount: (item.price.unit_amount ?? 0) * quantity,
    description: `${quantity} × ${item.price.nickname ?? "subscription"}`,
    price: item.price,
    quantity,
    period: { start, end },
    proration: false,
  };
}

function dateLabel(timestamp: number): string {
  const date = new Date(timestamp * 1000);
  return `${String(date.getUTCDate()).padStart(2, "0")} ${date.toLocaleString("en-US", { month: "short", timeZone: "UTC" })} ${date.getUTCFullYear()}`;
}

/**
 * Stripe's prorations for a price change at `at`: a credit for the unused time on the old price
 * and a charge for the remaining time on the new one, each the price times the fraction of the
 * period left, counted in seconds, rounded to the nearest minor unit.
 */
export function prorationLines(
  oldItem: { price: Stripe.Price; quantity: number },
  newItem: { price: Stripe.Price; quantity: number },
  period: { start: number; end: number },
  at: number,
): InvoiceLineInput[] {
  const length = period.end - period.start;
  const left = period.end - at;
  if (length <= 0 || left <= 0) return [];
  // Exact integer arithmetic (the product can pass 2^53), rounding halves up.
  const share = (unit: number, quantity: number) =>
    Number((2n * BigInt(unit) * BigInt(quantity) * BigInt(left) + BigInt(length)) / (2n * BigInt(length)));
  const name = (price: Stripe.Price) => price.nickname ?? price.id;
  return [
    {
      amount: -share(oldItem.price.unit_amount ?? 0, oldItem.quantity),
      description: `Unused time on ${oldItem.quantity} × ${name(oldItem.price)} after ${dateLabel(at)}`,
      price: oldItem.price,
      quantity: oldItem.quantity,
      period: { start: at, end: period.end },
      proration: true,
    },
    {
      amount: share(newItem.price.unit_amount ?? 0, newItem.quantity),
      description: `Remaining time on ${newItem.quantity} × ${name(newItem.price)} after ${dateLabel(at)}`,
      price: newItem.price,
      quantity: newItem.quantity,
      period: { start: at, end: period.end },
      proration: true,
    },
  ];
}

function planOf(price: Stripe.Price): Stripe.Plan {
  const recurring = price.recurring!;
  return {
    id: price.id,
    object: "plan",
    active: price.active,
    amount: price.unit_amount,
    amount_decimal: null,
    billing_scheme: "per_unit",
    created: price.created,
    currency: price.currency,
    interval: recurring.interval,
    interval_count: recurring.interval_count,
    livemode: false,
    metadata: {},
    meter: null,
    nickname: price.nickname,
    product: price.product as string,
    tiers_mode: null,
    transform_usage: null,
    trial_period_days: recurring.trial_period_days,
    usage_type: "licensed",
  };
}

function defaultPaymentMethod(engine: Engine, sub: Stripe.Subscription, owner: string): string | null {
  if (typeof sub.default_payment_method === "string") return sub.default_payment_method;
  const customer = getCustomer(engine, sub.customer as string, owner);
  const pm = customer.invoice_settings.default_payment_method;
  return typeof pm === "string" ? pm : null;
}

function snapshotOf<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function updateSubscription(
  engine: Engine,
  record: { obj: Stripe.Subscription; owner: string; meta: SubscriptionMeta },
  change: (sub: Stripe.Subscription) => void,
): void {
  const before = snapshotOf(record.obj);
  change(record.obj);
  const previous: Record<string, unknown> = {};
  for (const key of Object.keys(record.obj) as Array<keyof Stripe.Subscription>) {
    if (JSON.stringify(before[key]) !== JSON.stringify(record.obj[key])) previous[key] = before[key] ?? null;
  }
  if (Object.keys(previous).length === 0) return;
  const deleted = record.obj.status === "canceled" && before.status !== "canceled";
  engine.emit(
    deleted ? "customer.subscription.deleted" : "customer.subscription.updated",
    record.obj,
    record.owner,
    {
      previous,
      clock: record.meta.clock,
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Invoices

function createInvoice(
  engine: Engine,
  record: { obj: Stripe.Subscription; owner: string; meta: SubscriptionMeta },
  reason: Stripe.Invoice.BillingReason,
  periodStart: number,
  periodEnd: number,
  lineInputs: InvoiceLineInput[],
): Stripe.Invoice {
  const sub = record.obj;
  const clock = record.meta.clock;
  const now = engine.now(clock);
  const item = itemOf(sub);
  const customer = getCustomer(engine, sub.customer as string, record.owner);
  const id = newId("in");
  const lines: Stripe.InvoiceLineItem[] = lineInputs.map((input) => ({
    id: newId("il"),
    object: "line_item",
    amount: input.amount,
    currency: sub.currency,
    description: input.description,
    discount_amounts: [],
    discountable: !input.proration,
    discounts: [],
    invoice: id,
    livemode: false,
    metadata: {},
    parent: {
      invoice_item_details: null,
      subscription_item_details: {
        invoice_item: input.proration ? newId("ii") : null,
        proration: input.proration,
        proration_details: { credited_items: null },
        subscription: sub.id,
        subscription_item: item.id,
      },
      type: "subscription_item_details",
    },
    period: input.period,
    pretax_credit_amounts: [],
    pricing: {
      price_details: { price: input.price.id, product: input.price.product as string },
      type: "price_details",
      unit_amount_decimal: null,
    },
    quantity: input.quantity,
    quantity_decimal: null,
    subscription: sub.id,
    subtotal: input.amount,
    taxes: [],
  }));
  const total = lines.reduce((sum, line) => sum + line.amount, 0);
  // The customer's credit balance (negative) pays invoices first; a negative total adds to it.
  const startingBalance = customer.balance ?? 0;
  const applied = total > 0 ? Math.max(startingBalance, -total) : total;
  const amount = total > 0 ? total + Math.min(0, applied) : 0;
  const endingBalance = total > 0 ? startingBalance - Math.min(0, applied) : startingBalance + total;
  const invoice: Stripe.Invoice = {
    id,
    object: "invoice",
    account_country: "AU",
    account_name: "susu emulator platform",
    account_tax_ids: null,
    amount_due: amount,
    amount_overpaid: 0,
    amount_paid: 0,
    amount_remaining: amount,
    amount_shipping: 0,
    application: null,
    attempt_count: 0,
    attempted: false,
    auto_advance: true,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null, provider: null, status: null },
    automatically_finalizes_at: null,
    billing_reason: reason,
    collection_method: sub.collection_method,
    created: now,
    currency: sub.currency,
    custom_fields: null,
    customer: customer.id,
    customer_account: null,
    customer_address: null,
    customer_email: customer.email,
    customer_name: customer.name ?? null,
    customer_phone: customer.phone ?? null,
    customer_shipping: null,
    customer_tax_exempt: "none",
    default_payment_method: null,
    default_source: null,
    default_tax_rates: [],
    description: null,
    discounts: [],
    due_date: sub.collection_method === "send_invoice" ? now + (sub.days_until_due ?? 30) * DAY : null,
    effective_at: null,
    ending_balance: null,
    footer: null,
    from_invoice: null,
    hosted_invoice_url: null,
    invoice_pdf: null,
    issuer: { type: "self" },
    last_finalization_error: null,
    latest_revision: null,
    lines: { object: "list", data: lines, has_more: false, url: `/v1/invoices/${id}/lines` },
    livemode: false,
    metadata: {},
    next_payment_attempt: null,
    number: null,
    on_behalf_of: null,
    parent: {
      quote_details: null,
      subscription_details: { metadata: sub.metadata, subscription: sub.id },
      type: "subscription_details",
    },
    payment_settings: { default_mandate: null, payment_method_options: null, payment_method_types: null },
    payments: { object: "list", data: [], has_more: false, url: `/v1/invoice_payments?invoice=${id}` },
    period_end: periodEnd,
    period_start: periodStart,
    post_payment_credit_notes_amount: 0,
    pre_payment_credit_notes_amount: 0,
    receipt_number: null,
    rendering: null,
    shipping_cost: null,
    shipping_details: null,
    starting_balance: startingBalance,
    statement_descriptor: null,
    status: "draft",
    status_transitions: { finalized_at: null, marked_uncollectible_at: null, paid_at: null, voided_at: null },
    subtotal: total,
    subtotal_excluding_tax: total,
    test_clock: clock === "main" ? null : clock,
    total,
    total_discount_amounts: [],
    total_excluding_tax: total,
    total_pretax_credit_amounts: [],
    total_taxes: [],
    webhooks_delivered_at: null,
  };
  engine.store.insert<Stripe.Invoice, InvoiceMeta>("invoice", record.owner, invoice, {
    clock,
    paymentIntent: null,
    endingBalance,
  });
  sub.latest_invoice = id;
  engine.emit("invoice.created", invoice, record.owner, { clock });
  return invoice;
}

type InvoiceRecord = { obj: Stripe.Invoice; owner: string; meta: InvoiceMeta };

/**
 * An invoice's payments, oldest first. Each InvoicePayment is its own stored object (listed and
 * retrieved at `/v1/invoice_payments`, indexed by invoice and PaymentIntent); the invoice's
 * includable `payments` list shows the same objects.
 */
function invoicePaymentsOf(engine: Engine, record: InvoiceRecord): Stripe.InvoicePayment[] {
  return engine.store
    .indexed<Stripe.InvoicePayment>("invoice_payment", record.owner, "invoice", record.obj.id)
    .map((r) => r.obj);
}

/**
 * Points the invoice's `payments` at its stored InvoicePayments again (after a change, and so
 * a state loaded from disk, where the two were written apart, shares them again).
 */
function syncInvoicePayments(engine: Engine, record: InvoiceRecord): void {
  if (record.obj.payments) record.obj.payments.data = invoicePaymentsOf(engine, record);
}

function invoiceRecord(engine: Engine, id: string): InvoiceRecord {
  const record = engine.store.record<Stripe.Invoice, InvoiceMeta>(id);
  if (record?.type !== "invoice") throw resourceMissing("invoice", id);
  return record;
}

function subscriptionRecordOf(engine: Engine, invoice: Stripe.Invoice) {
  const subId = invoice.parent?.subscription_details?.subscription;
  return typeof subId === "string"
    ? engine.store.record<Stripe.Subscription, SubscriptionMeta>(subId)
    : undefined;
}

function finalizeInvoice(engine: Engine, record: InvoiceRecord): void {
  const invoice = record.obj;
  if (invoice.status !== "draft") return;
  const customer = getCustomer(engine, invoice.customer as string, record.owner);
  const sequence = customer.next_invoice_sequence ?? 1;
  customer.next_invoice_sequence = sequence + 1;
  invoice.number = `${customer.invoice_prefix ?? "EMU"}-${String(sequence).padStart(4, "0")}`;
  invoice.status = "open";
  if (record.meta.endingBalance !== undefined && record.meta.endingBalance !== invoice.starting_balance) {
    customer.balance = record.meta.endingBalance;
    engine.emit("customer.updated", customer, record.owner, {
      previous: { balance: invoice.starting_balance },
      clock: record.meta.clock,
    });
  }
  invoice.ending_balance = record.meta.endingBalance ?? invoice.starting_balance;
  invoice.status_transitions.finalized_at = engine.now(record.meta.clock);
  invoice.effective_at = invoice.status_transitions.finalized_at;
  invoice.hosted_invoice_url = `${engine.baseUrl}/_emulator/invoices/${invoice.id}`;
  engine.emit("invoice.finalized", invoice, record.owner, { clock: record.meta.clock });
  if (invoice.amount_due === 0) markPaid(engine, record);
}

function markPaid(engine: Engine, record: InvoiceRecord): void {
  const invoice = record.obj;
  if (invoice.status === "paid") return;
  const clock = record.meta.clock;
  invoice.status = "paid";
  invoice.amount_paid = invoice.amount_due;
  invoice.amount_remaining = 0;
  invoice.attempted = true;
  invoice.next_payment_attempt = null;
  invoice.status_transitions.paid_at = engine.now(clock);
  for (const payment of invoicePaymentsOf(engine, record)) {
    if (payment.status === "open") {
      payment.status = "paid";
      payment.amount_paid = payment.amount_requested;
      payment.status_transitions.paid_at = engine.now(clock);
    }
  }
  syncInvoicePayments(engine, record);
  engine.scheduler.cancel(RETRY_TASK, invoice.id);
  engine.emit("invoice.paid", invoice, record.owner, { clock });
  engine.emit("invoice.payment_succeeded", invoice, record.owner, { clock });
  const sub = subscriptionRecordOf(engine, invoice);
  if (sub?.meta.pendingUpdate?.invoice === invoice.id) applyPendingUpdate(engine, sub);
  if (sub && ["incomplete", "past_due", "unpaid"].includes(sub.obj.status)) {
    updateSubscription(engine, sub, (s) => {
      s.status = "active";
    });
    engine.scheduler.cancel(INCOMPLETE_EXPIRE_TASK, sub.obj.id);
  }
}

/** A failed attempt: retried on the smart-retry schedule, then the subscription is cancelled. */
function paymentFailed(engine: Engine, record: InvoiceRecord): void {
  const invoice = record.obj;
  const clock = record.meta.clock;
  if (invoice.status === "uncollectible") {
    // A payment of an invoice written off failed: it stays uncollectible, and nothing retries it
    // ("uncollectible | POST /v1/invoices/:id/pay | invoice.payment_failed | uncollectible").
    invoice.next_payment_attempt = null;
    engine.emit("invoice.payment_failed", invoice, record.owner, { clock });
    return;
  }
  const sub = subscriptionRecordOf(engine, invoice);
  if (sub?.meta.pendingUpdate?.invoice === invoice.id) {
    // The invoice of a pending update: the update waits (until it expires) and the subscription
    // goes on as it was; nothing retries the invoice (unverified: Stripe's pages say payment is
    // attempted again once the customer resolves the decline or authenticates).
    invoice.next_payment_attempt = null;
    engine.emit("invoice.payment_failed", invoice, record.owner, { clock });
    return;
  }
  if (invoice.auto_advance === false || sub?.obj.status === "canceled") {
    // A payment by hand of an invoice whose automatic collection stopped (its subscription was
    // cancelled): it failed, and that is all; nothing retries it and the subscription stays
    // as it is (a cancelled one is terminal).
    invoice.next_payment_attempt = null;
    engine.emit("invoice.payment_failed", invoice, record.owner, { clock });
    return;
  }
  const delays = engine.options.invoiceRetryDelaysSeconds;
  const retry = invoice.attempt_count - 1;
  const initial = invoice.billing_reason === "subscription_create";
  invoice.next_payment_attempt =
    !initial && retry < delays.length ? engine.now(clock) + delays[retry]! : null;
  engine.emit("invoice.payment_failed", invoice, record.owner, { clock });
  if (!sub || initial) return;
  if (invoice.next_payment_attempt !== null) {
    engine.scheduler.schedule(clock, invoice.next_payment_attempt, RETRY_TASK, invoice.id);
    updateSubscription(engine, sub, (s) => {
      s.status = "past_due";
    });
    return;
  }
  invoice.status = "uncollectible";
  invoice.status_transitions.marked_uncollectible_at = engine.now(clock);
  engine.emit("invoice.marked_uncollectible", invoice, record.owner, { clock });
  cancelSubscription(engine, sub, "payment_failed");
}

/** Whether the invoice can still be paid: open, or written off (uncollectible), which Stripe still lets be paid. */
function isPayable(invoice: Stripe.Invoice): boolean {
  return invoice.status === "open" || invoice.status === "uncollectible";
}

/** The invoice's current PaymentIntent, when it has one. */
function paymentIntentOf(engine: Engine, record: InvoiceRecord): PaymentIntentRecord | undefined {
  return record.meta.paymentIntent
    ? (engine.store.record(record.meta.paymentIntent) as PaymentIntentRecord | undefined)
    : undefined;
}

/**
 * Voids an open or uncollectible invoice: its PaymentIntent is canceled with the reason Stripe
 * gives one it cancels for a voided invoice (`void_invoice`), its invoice payment is canceled,
 * and no retry is made. The caller refuses an invoice whose payment is processing.
 */
function voidInvoice(engine: Engine, record: InvoiceRecord): void {
  const invoice = record.obj;
  const clock = record.meta.clock;
  const now = engine.now(clock);
  const pi = paymentIntentOf(engine, record);
  if (pi && !["canceled", "succeeded", "processing"].includes(pi.obj.status))
    cancelPaymentIntent(engine, pi, "void_invoice");
  for (const payment of invoicePaymentsOf(engine, record)) {
    if (payment.status === "open") {
      payment.status = "canceled";
      payment.status_transitions.canceled_at = now;
    }
  }
  syncInvoicePayments(engine, record);
  invoice.status = "void";
  invoice.next_payment_attempt = null;
  invoice.status_transitions.voided_at = now;
  engine.scheduler.cancel(RETRY_TASK, invoice.id);
  engine.emit("invoice.voided", invoice, record.owner, { clock });
}

/** Charges an open (or uncollectible) invoice off-session with the subscription's (or customer's) default payment method. */
function attemptPayment(
  engine: Engine,
  record: InvoiceRecord,
  paymentMethod: string | null,
  confirm: boolean,
): void {
  const invoice = record.obj;
  if (!isPayable(invoice)) return;
  const sub = subscriptionRecordOf(engine, invoice);
  const pm = paymentMethod ?? (sub ? defaultPaymentMethod(engine, sub.obj, record.owner) : null);
  let pi: PaymentIntentRecord;
  const existing = paymentIntentOf(engine, record);
  if (existing && existing.obj.status !== "succeeded" && existing.obj.status !== "canceled") {
    pi = existing;
  } else {
    pi = createPaymentIntent(engine, record.owner, {
      amount: invoice.amount_due,
      currency: invoice.currency,
      customer: invoice.customer as string,
      description:
        invoice.billing_reason === "subscription_create" ? "Subscription creation" : "Subscription update",
      metadata: {},
      paymentMethod: null,
      paymentMethodTypes: ["card", "au_becs_debit"],
      captureMethod: "automatic",
      setupFutureUsage: null,
      transferGroup: null,
      transferData: null,
      applicationFeeAmount: null,
      onBehalfOf: null,
      statementDescriptor: null,
      receiptEmail: null,
    });
    record.meta.paymentIntent = pi.obj.id;
    pi.meta.invoice = invoice.id;
    const payment: Stripe.InvoicePayment = {
      id: newId("inpay"),
      object: "invoice_payment",
      amount_paid: null,
      amount_requested: invoice.amount_due,
      created: engine.now(record.meta.clock),
      currency: invoice.currency,
      invoice: invoice.id,
      is_default: true,
      livemode: false,
      payment: { payment_intent: pi.obj.id, type: "payment_intent" },
      status: "open",
      status_transitions: { canceled_at: null, paid_at: null },
    };
    engine.store.insert("invoice_payment", record.owner, payment, {});
    syncInvoicePayments(engine, record);
  }
  if (!confirm) return;
  invoice.attempted = true;
  invoice.attempt_count++;
  if (!pm) {
    paymentFailed(engine, record);
    return;
  }
  try {
    confirmPaymentIntent(engine, pi, { paymentMethod: pm, offSession: true, authenticateLater: true });
  } catch (error) {
    // A decline (or an inactive BECS mandate) already moved the PaymentIntent and told the
    // invoice through the outcome hook.
    if (
      !(error instanceof ApiError) ||
      !(error.status === 402 || error.body.code === "payment_intent_mandate_invalid")
    )
      throw error;
  }
  if (pi.obj.status === "requires_action") paymentActionRequired(engine, record);
}

/**
 * The card asks for 3-D Secure: the PaymentIntent waits in `requires_action` for the customer,
 * who confirms it on a page of the merchant's (here the control endpoint `authenticate`); no
 * automatic retry is scheduled. A renewal's subscription is `past_due` meanwhile, a first
 * invoice's stays `incomplete` (and expires after 23 hours).
 */
function paymentActionRequired(engine: Engine, record: InvoiceRecord): void {
  const invoice = record.obj;
  const clock = record.meta.clock;
  invoice.next_payment_attempt = null;
  engine.emit("invoice.payment_action_required", invoice, record.owner, { clock });
  const sub = subscriptionRecordOf(engine, invoice);
  if (!sub || invoice.billing_reason === "subscription_create") return;
  // A pending update's invoice leaves the subscription as it was.
  if (sub.meta.pendingUpdate?.invoice === invoice.id) return;
  if (sub.obj.status === "active" || sub.obj.status === "trialing") {
    updateSubscription(engine, sub, (s) => {
      s.status = "past_due";
    });
  }
}

function cancelSubscription(
  engine: Engine,
  record: { obj: Stripe.Subscription; owner: string; meta: SubscriptionMeta },
  reason: Stripe.Subscription.CancellationDetails.Reason,
): void {
  for (const kind of [RENEW_TASK, TRIAL_WILL_END_TASK, INCOMPLETE_EXPIRE_TASK, PENDING_UPDATE_EXPIRE_TASK])
    engine.scheduler.cancel(kind, record.obj.id);
  // A pending update of a subscription that ends is discarded (unverified); its invoice stays
  // open, uncollected, as the other open invoices below.
  delete record.meta.pendingUpdate;
  updateSubscription(engine, record, (s) => {
    const now = engine.now(record.meta.clock);
    s.pending_update = null;
    s.status = "canceled";
    s.canceled_at ??= now;
    s.ended_at = now;
    s.cancellation_details = { comment: null, feedback: null, feedback_option: null, reason };
  });
  // "By default, upon subscription cancellation, Stripe stops automatic collection of all
  // finalized invoices" (the cancel endpoint's reference): its open invoices stay open and
  // payable by hand, but nothing retries them. "The customer won't be charged again for the
  // subscription": a renewal still in its draft hour is not finalized nor attempted; it stays
  // a draft the merchant may finalize by hand (what Stripe does with it is unverified).
  for (const invoice of engine.store.indexed<Stripe.Invoice, InvoiceMeta>(
    "invoice",
    record.owner,
    "subscription",
    record.obj.id,
  )) {
    if (invoice.obj.status === "draft") {
      invoice.obj.auto_advance = false;
      engine.scheduler.cancel(FINALIZE_TASK, invoice.obj.id);
      continue;
    }
    if (invoice.obj.status !== "open") continue;
    invoice.obj.auto_advance = false;
    invoice.obj.next_payment_attempt = null;
    engine.scheduler.cancel(RETRY_TASK, invoice.obj.id);
  }
}

// ---------------------------------------------------------------------------------------------
// Price changes

interface PriceChange {
  price: Stripe.Price;
  quantity: number;
  behavior: "always_invoice" | "create_prorations" | "none";
  at: number;
}

/** Reads `items[0][id|price|quantity]`, `proration_behavior` and `proration_date` of an update. */
function priceChangeOf(
  engine: Engine,
  record: { obj: Stripe.Subscription; meta: SubscriptionMeta },
  p: Params,
  account: string,
): PriceChange | undefined {
  const behavior =
    optEnum(p, "proration_behavior", ["always_invoice", "create_prorations", "none"]) ?? "create_prorations";
  const prorationDate = optInt(p, "proration_date");
  const items = optArray(p, "items");
  if (!items || items.length === 0) {
    if (prorationDate !== undefined) {
      throw invalidParam(
        "proration_date",
        "proration_date can only be set when the subscription's items change.",
      );
    }
    return undefined;
  }
  if (items.length > 1)
    throw validationFailure("The emulator supports one subscription item.", { param: "items" });
  const itemParams = items[0];
  if (!isParams(itemParams)) throw invalidParam("items[0]", "Invalid item");
  const current = itemOf(record.obj);
  const itemId = optString(itemParams, "id", "items[0]");
  if (itemId !== current.id) {
    throw refusedParam(
      "items[0][id]",
      itemId
        ? `The subscription item ${itemId} does not belong to the subscription ${record.obj.id}.`
        : "The emulator changes the subscription's one item: pass its id as items[0][id].",
    );
  }
  const priceId = optString(itemParams, "price", "items[0]");
  const price = priceId ? getPrice(engine, priceId, account, "items[0][price]") : current.price;
  if (!price.recurring) {
    throw invalidRequest(
      "The price specified is set to `type=one_time` but this field only accepts prices with `type=recurring`.",
      { param: "items[0][price]" },
    );
  }
  if (price.currency !== record.obj.currency) {
    throw refusedParam(
      "items[0][price]",
      `The price specified is in ${price.currency} but the subscription is in ${record.obj.currency}.`,
    );
  }
  const quantity = optInt(itemParams, "quantity", "items[0]") ?? current.quantity ?? 1;
  if (quantity < 1) throw invalidParam("items[0][quantity]", "Quantity must be at least 1.");
  const now = engine.now(record.meta.clock);
  const at = prorationDate ?? now;
  if (at < current.current_period_start || at > current.current_period_end || at > now) {
    throw refusedParam(
      "proration_date",
      "proration_date must be within the current billing period and not in the future.",
    );
  }
  return { price, quantity, behavior, at };
}

/**
 * Swaps the item's price (inside the subscription's update) and books the prorations:
 * `always_invoice` returns a draft `subscription_update` invoice to finalize and charge,
 * `create_prorations` keeps them for the next invoice, `none` drops them. Trials are not prorated.
 */
function applyPriceChange(
  engine: Engine,
  record: { obj: Stripe.Subscription; owner: string; meta: SubscriptionMeta },
  change: PriceChange,
): InvoiceRecord | undefined {
  const item = itemOf(record.obj);
  const period = { start: item.current_period_start, end: item.current_period_end };
  const was = item.price.recurring!;
  const next = change.price.recurring!;
  if (
    record.obj.status !== "trialing" &&
    (was.interval !== next.interval || was.interval_count !== next.interval_count)
  ) {
    return changeInterval(engine, record, change);
  }
  const lines =
    change.behavior === "none" || record.obj.status === "trialing"
      ? []
      : prorationLines(
          { price: item.price, quantity: item.quantity ?? 1 },
          { price: change.price, quantity: change.quantity },
          period,
          change.at,
        );
  item.price = change.price;
  item.plan = planOf(change.price);
  item.quantity = change.quantity;
  if (lines.length === 0) return undefined;
  if (change.behavior === "create_prorations") {
    record.meta.pendingLines = [...(record.meta.pendingLines ?? []), ...lines];
    return undefined;
  }
  const pending = record.meta.pendingLines ?? [];
  record.meta.pendingLines = [];
  const invoice = createInvoice(engine, record, "subscription_update", change.at, period.end, [
    ...pending,
    ...lines,
  ]);
  return invoiceRecord(engine, invoice.id);
}

/**
 * A price of another interval resets the billing cycle to the change: a new period starts now
 * and is invoiced at once, with the credit for the old price's unused time unless
 * `proration_behavior` is `none` (whatever the behavior, Stripe invoices the new period now).
 */
function changeInterval(
  engine: Engine,
  record: { obj: Stripe.Subscription; owner: string; meta: SubscriptionMeta },
  change: PriceChange,
): InvoiceRecord {
  const sub = record.obj;
  const item = itemOf(sub);
  const now = engine.now(record.meta.clock);
  const recurring = change.price.recurring!;
  const end = addInterval(now, recurring.interval, recurring.interval_count);
  const credit =
    change.behavior === "none"
      ? []
      : prorationLines(
          { price: item.price, quantity: item.quantity ?? 1 },
          { price: change.price, quantity: 0 },
          { start: item.current_period_start, end: item.current_period_end },
          change.at,
        ).slice(0, 1);
  item.price = change.price;
  item.plan = planOf(change.price);
  item.quantity = change.quantity;
  item.current_period_start = now;
  item.current_period_end = end;
  sub.billing_cycle_anchor = now;
  record.meta.periods = 1;
  engine.scheduler.cancel(RENEW_TASK, sub.id);
  engine.scheduler.schedule(record.meta.clock, end, RENEW_TASK, sub.id);
  const pending = record.meta.pendingLines ?? [];
  record.meta.pendingLines = [];
  const invoice = createInvoice(engine, record, "subscription_update", now, end, [
    ...pending,
    ...credit,
    periodLine(item, now, end),
  ]);
  return invoiceRecord(engine, invoice.id);
}

// ---------------------------------------------------------------------------------------------
// Pending updates (`payment_behavior: pending_if_incomplete`)

/**
 * The update parameters a pending update takes (Stripe's "Pending updates reference", of those
 * the emulator supports on an update).
 */
const PENDING_UPDATE_PARAMS: readonly string[] = [
  "expand",
  "payment_behavior",
  "proration_behavior",
  "proration_date",
  "items",
];

/**
 * A price change made with `payment_behavior: pending_if_incomplete` (Stripe's "Pending
 * updates"): the change's invoice is made and charged first; the subscription changes only if
 * it is paid (now, or later by hand, before the update expires). Unpaid, the subscription stays
 * as it was, with the change in `pending_update` (`expires_at`, `subscription_items`, and
 * `billing_cycle_anchor` when a price of another interval restarts the cycle) and the unpaid
 * invoice as `latest_invoice`. A change that invoices nothing applies at once, as without it.
 */
function requestPendingUpdate(engine: Engine, record: SubscriptionRecord, change: PriceChange): void {
  const sub = record.obj;
  if (sub.collection_method === "send_invoice")
    throw invalidRequest(
      "Pending updates are not supported for subscriptions with collection_method=send_invoice.",
      {
        param: "payment_behavior",
      },
    );
  const pm = defaultPaymentMethod(engine, sub, record.owner);
  if (pm !== null && engine.store.record<Stripe.PaymentMethod>(pm)?.obj.type === "au_becs_debit")
    throw invalidRequest("Pending updates are not supported for subscriptions paid by bank debit.", {
      param: "payment_behavior",
    });
  // A new update takes the place of one still pending (unverified: Stripe expires a pending
  // update that a later update conflicts with).
  if (record.meta.pendingUpdate) expirePendingUpdate(engine, record);
  const before = snapshotOf(sub);
  const periodsBefore = record.meta.periods;
  const taken = record.meta.pendingLines ?? [];
  const itemBefore = itemOf(sub);
  const restartsCycle =
    sub.status !== "trialing" &&
    (itemBefore.price.recurring!.interval !== change.price.recurring!.interval ||
      itemBefore.price.recurring!.interval_count !== change.price.recurring!.interval_count);
  const invoice = applyPriceChange(engine, record, change);
  if (!invoice) {
    // Nothing to pay: the update applies now.
    const after = snapshotOf(sub);
    sub.items = before.items;
    updateSubscription(engine, record, (s) => {
      s.items = after.items;
    });
    return;
  }
  const pending: PendingUpdate = {
    invoice: invoice.obj.id,
    item: snapshotOf(itemOf(sub)),
    billingCycleAnchor: sub.billing_cycle_anchor,
    periods: record.meta.periods,
    restartsCycle,
    takenLines: taken,
  };
  // The subscription stays as it was until the invoice is paid.
  sub.items = before.items;
  sub.billing_cycle_anchor = before.billing_cycle_anchor;
  record.meta.periods = periodsBefore;
  if (restartsCycle) {
    engine.scheduler.cancel(RENEW_TASK, sub.id);
    engine.scheduler.schedule(record.meta.clock, itemOf(sub).current_period_end, RENEW_TASK, sub.id);
  }
  record.meta.pendingUpdate = pending;
  finalizeInvoice(engine, invoice); // a zero invoice (a downgrade's credit) is paid here: applied
  if (invoice.obj.status === "open") attemptPayment(engine, invoice, null, true);
  if (record.meta.pendingUpdate?.invoice !== pending.invoice) return;
  const now = engine.now(record.meta.clock);
  const expiresAt = Math.min(
    now + PENDING_UPDATE_MAX_SECONDS,
    itemOf(sub).current_period_end,
    ...(sub.status === "trialing" && sub.trial_end !== null ? [sub.trial_end] : []),
  );
  updateSubscription(engine, record, (s) => {
    s.pending_update = {
      billing_cycle_anchor: restartsCycle ? pending.billingCycleAnchor : null,
      discount: null,
      discounts: null,
      expires_at: expiresAt,
      metadata: null,
      subscription_items: [snapshotOf(pending.item)],
      trial_end: null,
      trial_from_plan: null,
    };
  });
  engine.scheduler.schedule(record.meta.clock, expiresAt, PENDING_UPDATE_EXPIRE_TASK, sub.id);
}

/**
 * The pending update's invoice was paid: the change applies (`customer.subscription.updated`,
 * then `customer.subscription.pending_update_applied` when it had waited). A price of another
 * interval keeps the period its invoice billed, from the update (unverified).
 */
function applyPendingUpdate(engine: Engine, record: SubscriptionRecord): void {
  const pending = record.meta.pendingUpdate;
  if (!pending) return;
  delete record.meta.pendingUpdate;
  engine.scheduler.cancel(PENDING_UPDATE_EXPIRE_TASK, record.obj.id);
  const waited = record.obj.pending_update !== null;
  updateSubscription(engine, record, (s) => {
    s.items = { ...s.items, data: [snapshotOf(pending.item)] };
    s.billing_cycle_anchor = pending.billingCycleAnchor;
    s.pending_update = null;
  });
  record.meta.periods = pending.periods;
  if (pending.restartsCycle) {
    engine.scheduler.cancel(RENEW_TASK, record.obj.id);
    engine.scheduler.schedule(record.meta.clock, pending.item.current_period_end, RENEW_TASK, record.obj.id);
  }
  if (waited)
    engine.emit("customer.subscription.pending_update_applied", record.obj, record.owner, {
      clock: record.meta.clock,
    });
}

/**
 * The pending update expired unpaid (or a later update took its place): its invoice is voided,
 * the change discarded (`customer.subscription.updated` with `pending_update` cleared, then
 * `customer.subscription.pending_update_expired`), and the earlier prorations its invoice took
 * are owed again on the next invoice (unverified).
 */
function expirePendingUpdate(engine: Engine, record: SubscriptionRecord): void {
  const pending = record.meta.pendingUpdate;
  if (!pending) return;
  delete record.meta.pendingUpdate;
  engine.scheduler.cancel(PENDING_UPDATE_EXPIRE_TASK, record.obj.id);
  const invoice = invoiceRecord(engine, pending.invoice);
  if (isPayable(invoice.obj)) voidInvoice(engine, invoice);
  record.meta.pendingLines = [...pending.takenLines, ...(record.meta.pendingLines ?? [])];
  updateSubscription(engine, record, (s) => {
    s.pending_update = null;
  });
  engine.emit("customer.subscription.pending_update_expired", record.obj, record.owner, {
    clock: record.meta.clock,
  });
}

// ---------------------------------------------------------------------------------------------
// Subscription lifecycle tasks

function renew(engine: Engine, subId: string): void {
  const record = engine.store.record<Stripe.Subscription, SubscriptionMeta>(subId);
  if (!record) return;
  const sub = record.obj;
  if (["canceled", "incomplete", "incomplete_expired"].includes(sub.status)) return;
  const item = itemOf(sub);
  if (sub.cancel_at_period_end || (sub.cancel_at !== null && sub.cancel_at <= item.current_period_end)) {
    cancelSubscription(engine, record, "cancellation_requested");
    return;
  }
  const start = item.current_period_end;
  const recurring = item.price.recurring!;
  record.meta.periods++;
  const end = addInterval(
    sub.billing_cycle_anchor,
    recurring.interval,
    recurring.interval_count * record.meta.periods,
  );
  updateSubscription(engine, record, (s) => {
    const i = itemOf(s);
    i.current_period_start = start;
    i.current_period_end = end;
    if (s.status === "trialing") s.status = "active";
  });
  const pending = record.meta.pendingLines ?? [];
  record.meta.pendingLines = [];
  const invoice = createInvoice(engine, record, "subscription_cycle", start, end, [
    ...pending,
    periodLine(itemOf(record.obj), start, end),
  ]);
  // Stripe leaves renewal invoices in draft for about an hour before finalizing and charging.
  engine.scheduler.schedule(
    record.meta.clock,
    engine.now(record.meta.clock) + 3600,
    FINALIZE_TASK,
    invoice.id,
  );
  engine.scheduler.schedule(record.meta.clock, end, RENEW_TASK, sub.id);
}

/**
 * Creates a subscription from `POST /v1/subscriptions`'s parameters, for the route and for a
 * Checkout Session in subscription mode that completes.
 */
export function createSubscriptionFrom(engine: Engine, account: string, p: Params): Stripe.Subscription {
  const customerId = reqString(p, "customer");
  const customer = getCustomer(engine, customerId, account);
  const items = optArray(p, "items");
  if (!items || items.length === 0) throw missingParam("items");
  if (items.length > 1)
    throw validationFailure("The emulator supports one subscription item.", { param: "items" });
  const itemParams = items[0];
  if (!isParams(itemParams)) throw invalidParam("items[0]", "Invalid item");
  const price = getPrice(engine, reqString(itemParams, "price", "items[0]"), account, "items[0][price]");
  if (!price.recurring) {
    throw invalidRequest(
      "The price specified is set to `type=one_time` but this field only accepts prices with `type=recurring`.",
      {
        param: "items[0][price]",
      },
    );
  }
  const quantity = optInt(itemParams, "quantity", "items[0]") ?? 1;
  const paymentBehavior =
    optEnum(p, "payment_behavior", [
      "allow_incomplete",
      "default_incomplete",
      "error_if_incomplete",
      "pending_if_incomplete",
    ]) ?? "allow_incomplete";
  const collection =
    optEnum(p, "collection_method", ["charge_automatically", "send_invoice"]) ?? "charge_automatically";
  const defaultPm = optString(p, "default_payment_method") || null;
  if (defaultPm) requireCustomersPaymentMethod(engine, defaultPm, customer.id, account);
  const clock = clockOfCustomer(engine, customer.id);
  const now = engine.now(clock);
  const trialDays = optInt(p, "trial_period_days") ?? price.recurring.trial_period_days ?? undefined;
  const trialEndParam = optString(p, "trial_end");
  let trialEnd: number | null = null;
  if (trialEndParam && trialEndParam !== "now") trialEnd = Number(trialEndParam);
  else if (trialDays) trialEnd = now + trialDays * DAY;
  if (trialEnd !== null && trialEnd <= now)
    throw refusedParam("trial_end", "trial_end must be in the future.");
  const periodEnd = trialEnd ?? addInterval(now, price.recurring.interval, price.recurring.interval_count);
  const id = newId("sub");
  const item: Stripe.SubscriptionItem = {
    id: newId("si", 14),
    object: "subscription_item",
    billing_thresholds: null,
    created: now,
    current_period_end: periodEnd,
    current_period_start: now,
    discounts: [],
    metadata: {},
    plan: planOf(price),
    price,
    quantity,
    subscription: id,
    tax_rates: [],
  };
  const sub: Stripe.Subscription = {
    id,
    object: "subscription",
    application: null,
    application_fee_percent: null,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null },
    billing_cycle_anchor: trialEnd ?? now,
    billing_cycle_anchor_config: null,
    billing_mode: { flexible: null, type: "classic" },
    billing_schedules: [],
    billing_thresholds: null,
    cancel_at: optInt(p, "cancel_at") ?? null,
    cancel_at_period_end: optBool(p, "cancel_at_period_end") ?? false,
    canceled_at: null,
    cancellation_details: { comment: null, feedback: null, feedback_option: null, reason: null },
    collection_method: collection,
    created: now,
    currency: price.currency,
    customer: customer.id,
    customer_account: null,
    days_until_due: collection === "send_invoice" ? (optInt(p, "days_until_due") ?? 30) : null,
    default_payment_method: defaultPm,
    default_source: null,
    description: optString(p, "description") || null,
    discounts: [],
    ended_at: null,
    invoice_settings: {
      account_tax_ids: null,
      custom_fields: null,
      description: null,
      footer: null,
      issuer: { type: "self" },
    },
    items: {
      object: "list",
      data: [item],
      has_more: false,
      url: `/v1/subscription_items?subscription=${id}`,
    },
    latest_invoice: null,
    livemode: false,
    managed_payments: null,
    metadata: applyMetadata({}, p),
    next_pending_invoice_item_invoice: null,
    on_behalf_of: null,
    pause_collection: null,
    payment_settings: {
      payment_method_options: null,
      payment_method_types: null,
      save_default_payment_method: "off",
    },
    pending_invoice_item_interval: null,
    pending_setup_intent: null,
    pending_update: null,
    schedule: null,
    start_date: now,
    status: trialEnd !== null ? "trialing" : "incomplete",
    test_clock: clock === "main" ? null : clock,
    transfer_data: null,
    trial_end: trialEnd,
    trial_settings: { end_behavior: { missing_payment_method: "create_invoice" } },
    trial_start: trialEnd !== null ? now : null,
  };
  const record = engine.store.insert<Stripe.Subscription, SubscriptionMeta>("subscription", account, sub, {
    clock,
    periods: trialEnd !== null ? 0 : 1,
    paymentBehavior,
  });
  engine.emit("customer.subscription.created", sub, account, { clock });
  engine.scheduler.schedule(clock, periodEnd, RENEW_TASK, id);
  if (trialEnd !== null && trialEnd - 3 * DAY > now) {
    engine.scheduler.schedule(clock, trialEnd - 3 * DAY, TRIAL_WILL_END_TASK, id);
  }
  const first = periodLine(item, now, periodEnd);
  if (trialEnd !== null) {
    first.amount = 0;
    first.description = `Trial period for ${price.nickname ?? "subscription"}`;
  }
  const invoice = createInvoice(engine, record, "subscription_create", now, periodEnd, [first]);
  const invoiceRec = invoiceRecord(engine, invoice.id);
  finalizeInvoice(engine, invoiceRec);
  if (sub.status === "incomplete" && collection === "send_invoice") {
    updateSubscription(engine, record, (s) => {
      s.status = "active";
    });
  } else if (sub.status === "incomplete") {
    engine.scheduler.schedule(clock, now + 23 * 3600, INCOMPLETE_EXPIRE_TASK, id);
    const charge = paymentBehavior !== "default_incomplete";
    const pm = defaultPaymentMethod(engine, sub, account);
    if (charge && !pm && paymentBehavior !== "pending_if_incomplete") {
      throw invalidRequest("This customer has no attached payment source or default payment method.", {
        code: "resource_missing",
      });
    }
    attemptPayment(engine, invoiceRec, pm, charge);
    if (paymentBehavior === "error_if_incomplete" && record.obj.status === "incomplete") {
      const pi = engine.store.record<Stripe.PaymentIntent>(invoiceRec.meta.paymentIntent!)!.obj;
      const error = pi.last_payment_error;
      cancelSubscription(engine, record, "payment_failed");
      record.obj.status = "incomplete_expired";
      throw new ApiError(402, {
        type: "card_error",
        message: error?.message ?? "Your card was declined.",
        code: error?.code ?? "card_declined",
        ...(error?.decline_code ? { decline_code: error.decline_code } : {}),
      });
    }
  }
  return record.obj;
}

export function registerBilling(router: Router, engine: Engine): void {
  engine.store.defineIndex<Stripe.Subscription>(
    "subscription",
    "customer",
    stringKey((s) => s.customer),
  );
  engine.store.defineIndex<Stripe.Invoice>(
    "invoice",
    "customer",
    stringKey((i) => i.customer),
  );
  engine.store.defineIndex<Stripe.Invoice>(
    "invoice",
    "subscription",
    stringKey((i) => i.parent?.subscription_details?.subscription),
  );
  engine.store.defineIndex<Stripe.InvoicePayment>(
    "invoice_payment",
    "invoice",
    stringKey((p) => p.invoice),
  );
  engine.store.defineIndex<Stripe.InvoicePayment>(
    "invoice_payment",
    "payment_intent",
    stringKey((p) => p.payment.payment_intent),
  );
  engine.onTask(RENEW_TASK, (ref) => renew(engine, ref));
  engine.onTask(TRIAL_WILL_END_TASK, (ref) => {
    const record = engine.store.record<Stripe.Subscription, SubscriptionMeta>(ref);
    if (record?.obj.status === "trialing") {
      engine.emit("customer.subscription.trial_will_end", record.obj, record.owner, {
        clock: record.meta.clock,
      });
    }
  });
  engine.onTask(INCOMPLETE_EXPIRE_TASK, (ref) => {
    const record = engine.store.record<Stripe.Subscription, SubscriptionMeta>(ref);
    if (record?.obj.status !== "incomplete") return;
    updateSubscription(engine, record, (s) => {
      s.status = "incomplete_expired";
      s.ended_at = engine.now(record.meta.clock);
    });
    const invoiceId = record.obj.latest_invoice;
    if (typeof invoiceId === "string") {
      const invoice = invoiceRecord(engine, invoiceId);
      // An incomplete subscription's payment is not processing (a processing debit makes it active).
      if (invoice.obj.status === "open") voidInvoice(engine, invoice);
    }
  });
  engine.onTask(FINALIZE_TASK, (ref) => {
    const record = invoiceRecord(engine, ref);
    finalizeInvoice(engine, record);
    if (record.obj.collection_method === "charge_automatically") attemptPayment(engine, record, null, true);
  });
  engine.onTask(PENDING_UPDATE_EXPIRE_TASK, (ref) => {
    const record = engine.store.record<Stripe.Subscription, SubscriptionMeta>(ref);
    if (record?.meta.pendingUpdate) expirePendingUpdate(engine, record);
  });
  engine.onTask(RETRY_TASK, (ref) => {
    const record = invoiceRecord(engine, ref);
    attemptPayment(engine, record, null, true);
  });
  engine.onPaymentOutcome((piId, outcome) => {
    const invoiceId = engine.store.record<Stripe.PaymentIntent, PaymentIntentMeta>(piId)?.meta.invoice;
    const record = invoiceId ? engine.store.record<Stripe.Invoice, InvoiceMeta>(invoiceId) : undefined;
    if (!record || !isPayable(record.obj)) return;
    if (outcome === "succeeded") markPaid(engine, record);
    else if (outcome === "failed") paymentFailed(engine, record);
    else {
      // BECS debits take days: the subscription is live while its first invoice is processing.
      const sub = subscriptionRecordOf(engine, record.obj);
      if (sub?.obj.status === "incomplete") {
        updateSubscription(engine, sub, (s) => {
          s.status = "active";
        });
      }
    }
  });

  router.post(
    "/v1/subscriptions",
    (req) => createSubscriptionFrom(engine, req.account, req.params),
    SUBSCRIPTION_CREATE,
  );

  router.get(
    "/v1/subscriptions/:id",
    (req) =>
      engine.store.get<Stripe.Subscription>("subscription", req.pathParams.id!, req.account, "subscription")
        .obj,
  );

  router.post(
    "/v1/subscriptions/:id",
    (req) => {
      const record = engine.store.get<Stripe.Subscription, SubscriptionMeta>(
        "subscription",
        req.pathParams.id!,
        req.account,
        "subscription",
      );
      if (record.obj.status === "canceled" || record.obj.status === "incomplete_expired") {
        throw unexpectedState(
          `A canceled subscription can only update its cancellation_details and metadata.`,
          "resource_missing",
        );
      }
      const change = priceChangeOf(engine, record, req.params, req.account);
      const behavior = optEnum(req.params, "payment_behavior", [
        "allow_incomplete",
        "default_incomplete",
        "error_if_incomplete",
        "pending_if_incomplete",
      ]);
      if (behavior === "pending_if_incomplete") {
        const other = Object.keys(req.params).find((k) => !PENDING_UPDATE_PARAMS.includes(k));
        if (other !== undefined)
          throw invalidRequest(
            `The parameter ${other} cannot be passed with payment_behavior=pending_if_incomplete: pending updates support only ${PENDING_UPDATE_PARAMS.join(", ")}.`,
            { param: other },
          );
        if (change) requestPendingUpdate(engine, record, change);
        return record.obj;
      }
      const newDefault = optNullableString(req.params, "default_payment_method");
      if (newDefault)
        requireCustomersPaymentMethod(engine, newDefault, String(record.obj.customer), req.account);
      let prorationInvoice: InvoiceRecord | undefined;
      updateSubscription(engine, record, (s) => {
        if (change) prorationInvoice = applyPriceChange(engine, record, change);
        const cancelAtPeriodEnd = optBool(req.params, "cancel_at_period_end");
        if (cancelAtPeriodEnd !== undefined) {
          s.cancel_at_period_end = cancelAtPeriodEnd;
          s.canceled_at = cancelAtPeriodEnd ? engine.now(record.meta.clock) : null;
        }
        const pm = optNullableString(req.params, "default_payment_method");
        if (pm !== undefined) s.default_payment_method = pm;
        const description = optNullableString(req.params, "description");
        if (description !== undefined) s.description = description;
        s.metadata = applyMetadata(s.metadata, req.params);
      });
      if (prorationInvoice) {
        finalizeInvoice(engine, prorationInvoice);
        if (prorationInvoice.obj.collection_method === "charge_automatically") {
          attemptPayment(engine, prorationInvoice, null, true);
        }
      }
      return record.obj;
    },
    SUBSCRIPTION_UPDATE,
  );

  router.delete("/v1/subscriptions/:id", (req) => {
    const record = engine.store.get<Stripe.Subscription, SubscriptionMeta>(
      "subscription",
      req.pathParams.id!,
      req.account,
      "subscription",
    );
    if (record.obj.status === "canceled") {
      throw invalidRequest(`No such subscription: '${record.id}'`, { code: "resource_missing", param: "id" });
    }
    cancelSubscription(engine, record, "cancellation_requested");
    return record.obj;
  });

  router.get("/v1/subscriptions", (req) => {
    const customer = optString(req.params, "customer");
    const status = optString(req.params, "status");
    const price = optString(req.params, "price");
    const page = engine.store.page<Stripe.Subscription>(
      "subscription",
      req.account,
      pageRequest(req.params),
      (r) => {
        if (customer !== undefined && r.obj.customer !== customer) return false;
        if (price !== undefined && itemOf(r.obj).price.id !== price) return false;
        if (status === "all") return true;
        if (status === undefined) return r.obj.status !== "canceled" && r.obj.status !== "incomplete_expired";
        if (status === "ended") return r.obj.status === "canceled" || r.obj.status === "incomplete_expired";
        return r.obj.status === status;
      },
      [["customer", customer]],
    );
    return listOf("/v1/subscriptions", page);
  });

  router.get(
    "/v1/invoices/:id",
    (req) => engine.store.get<Stripe.Invoice>("invoice", req.pathParams.id!, req.account, "invoice").obj,
  );

  router.get("/v1/invoices/:id/lines", (req) => {
    const invoice = engine.store.get<Stripe.Invoice>(
      "invoice",
      req.pathParams.id!,
      req.account,
      "invoice",
    ).obj;
    return invoice.lines;
  });

  router.get("/v1/invoices", (req) => {
    const customer = optString(req.params, "customer");
    const subscription = optString(req.params, "subscription");
    const status = optString(req.params, "status");
    const page = engine.store.page<Stripe.Invoice>(
      "invoice",
      req.account,
      pageRequest(req.params),
      (r) =>
        (customer === undefined || r.obj.customer === customer) &&
        (subscription === undefined || r.obj.parent?.subscription_details?.subscription === subscription) &&
        (status === undefined || r.obj.status === status),
      [
        ["customer", customer],
        ["subscription", subscription],
      ],
    );
    return listOf("/v1/invoices", page);
  });

  router.get(
    "/v1/invoice_payments/:id",
    (req) =>
      engine.store.get<Stripe.InvoicePayment>(
        "invoice_payment",
        req.pathParams.id!,
        req.account,
        "invoice_payment",
      ).obj,
  );

  // Stripe's current API names an invoice's PaymentIntents only here (a charge or PaymentIntent
  // no longer names its invoice): `payment[type]=payment_intent&payment[payment_intent]=pi_…`
  // finds the invoice a payment paid, `invoice=in_…` an invoice's payments.
  router.get("/v1/invoice_payments", (req) => {
    const invoice = optString(req.params, "invoice") || undefined;
    const status = optEnum(req.params, "status", ["open", "paid", "canceled"] as const);
    const payment = req.params.payment;
    let paymentIntent: string | undefined;
    let paymentRecord: string | undefined;
    if (payment !== undefined) {
      if (!isParams(payment)) throw invalidParam("payment", "Invalid object");
      const type = optEnum(payment, "type", ["payment_intent", "payment_record"] as const, "payment");
      if (type === undefined) throw missingParam("payment[type]");
      paymentIntent = type === "payment_intent" ? optString(payment, "payment_intent", "payment") : undefined;
      paymentRecord =
        type === "payment_record" ? (optString(payment, "payment_record", "payment") ?? "") : undefined;
    }
    const page = engine.store.page<Stripe.InvoicePayment>(
      "invoice_payment",
      req.account,
      pageRequest(req.params),
      (r) =>
        // No PaymentRecords exist here: a filter by one matches nothing.
        paymentRecord === undefined &&
        (invoice === undefined || r.obj.invoice === invoice) &&
        (paymentIntent === undefined || r.obj.payment.payment_intent === paymentIntent) &&
        (status === undefined || r.obj.status === status) &&
        matchesRange(r.obj.created, req.params, "created"),
      [
        ["invoice", invoice],
        ["payment_intent", paymentIntent],
      ],
    );
    return listOf("/v1/invoice_payments", page);
  });

  router.post("/v1/invoices/:id/finalize", (req) => {
    const record = engine.store.get<Stripe.Invoice, InvoiceMeta>(
      "invoice",
      req.pathParams.id!,
      req.account,
      "invoice",
    );
    if (record.obj.status !== "draft") {
      throw unexpectedState(
        `This invoice is already finalized, you can't re-finalize a non-draft invoice.`,
        "invoice_not_editable",
      );
    }
    engine.scheduler.cancel(FINALIZE_TASK, record.obj.id);
    finalizeInvoice(engine, record);
    return record.obj;
  });

  router.post("/v1/invoices/:id/pay", (req) => {
    const record = engine.store.get<Stripe.Invoice, InvoiceMeta>(
      "invoice",
      req.pathParams.id!,
      req.account,
      "invoice",
    );
    if (record.obj.status === "draft") {
      engine.scheduler.cancel(FINALIZE_TASK, record.obj.id);
      finalizeInvoice(engine, record);
    }
    if (record.obj.status === "paid")
      throw unexpectedState("Invoice is already paid", "invoice_unexpected_state");
    if (!isPayable(record.obj)) {
      throw unexpectedState(
        `This invoice can't be paid because it is ${record.obj.status}.`,
        "invoice_unexpected_state",
      );
    }
    attemptPayment(engine, record, optString(req.params, "payment_method") || null, true);
    if (record.obj.status !== "paid") {
      const pi = paymentIntentOf(engine, record)?.obj;
      if (pi?.status !== "processing") {
        throw new ApiError(402, {
          type: "card_error",
          message:
            pi?.last_payment_error?.message ??
            "This customer has no attached payment source or default payment method.",
          code: pi?.last_payment_error?.code ?? "invoice_payment_intent_requires_action",
        });
      }
    }
    return record.obj;
  });

  router.post("/v1/invoices/:id/void", (req) => {
    const record = engine.store.get<Stripe.Invoice, InvoiceMeta>(
      "invoice",
      req.pathParams.id!,
      req.account,
      "invoice",
    );
    if (record.obj.status !== "open" && record.obj.status !== "uncollectible") {
      throw unexpectedState(`You can only void open or uncollectible invoices.`, "invoice_not_editable");
    }
    // A bank debit in flight cannot be called back: voiding now would leave the money taken for
    // a void invoice. Refused until the debit ends (paid, or open again after a failure).
    if (paymentIntentOf(engine, record)?.obj.status === "processing") {
      throw unexpectedState(
        "This invoice can't be voided while its payment is processing. Wait until the payment succeeds or fails.",
        "invoice_not_editable",
      );
    }
    voidInvoice(engine, record);
    return record.obj;
  });

  router.post("/v1/invoices/:id/mark_uncollectible", (req) => {
    const record = engine.store.get<Stripe.Invoice, InvoiceMeta>(
      "invoice",
      req.pathParams.id!,
      req.account,
      "invoice",
    );
    if (record.obj.status !== "open")
      throw unexpectedState(`You can only mark open invoices uncollectible.`, "invoice_not_editable");
    record.obj.status = "uncollectible";
    record.obj.status_transitions.marked_uncollectible_at = engine.now(record.meta.clock);
    engine.scheduler.cancel(RETRY_TASK, record.obj.id);
    engine.emit("invoice.marked_uncollectible", record.obj, req.account, { clock: record.meta.clock });
    return record.obj;
  });

  registerTestClocks(router, engine);
}

// ---------------------------------------------------------------------------------------------
// Test clocks

function registerTestClocks(router: Router, engine: Engine): void {
  const base = "/v1/test_helpers/test_clocks";
  router.post(base, (req) => {
    const frozen = optInt(req.params, "frozen_time");
    if (frozen === undefined) throw missingParam("frozen_time");
    const clock: Stripe.TestHelpers.TestClock = {
      id: newId("clock"),
      object: "test_helpers.test_clock",
      created: engine.now(),
      deletes_after: engine.now() + 30 * DAY,
      frozen_time: frozen,
      livemode: false,
      name: optString(req.params, "name") || null,
      status: "ready",
      status_details: {},
    };
    engine.store.insert("test_helpers.test_clock", req.account, clock, {});
    engine.scheduler.addClock(clock.id, frozen);
    engine.emit("test_helpers.test_clock.created", clock, req.account);
    return clock;
  });

  router.get(
    `${base}/:id`,
    (req) =>
      engine.store.get<Stripe.TestHelpers.TestClock>(
        "test_helpers.test_clock",
        req.pathParams.id!,
        req.account,
        "test_clock",
      ).obj,
  );

  router.get(base, (req) =>
    listOf(
      base,
      engine.store.page<Stripe.TestHelpers.TestClock>(
        "test_helpers.test_clock",
        req.account,
        pageRequest(req.params),
      ),
    ),
  );

  router.delete(`${base}/:id`, (req) => {
    const record = engine.store.get<Stripe.TestHelpers.TestClock>(
      "test_helpers.test_clock",
      req.pathParams.id!,
      req.account,
      "test_clock",
    );
    engine.store.remove(record.id);
    engine.scheduler.removeClock(record.id);
    engine.emit("test_helpers.test_clock.deleted", record.obj, req.account);
    return {
      id: record.id,
      object: "test_helpers.test_clock",
      deleted: true,
    } satisfies Stripe.TestHelpers.DeletedTestClock;
  });

  router.post(`${base}/:id/advance`, (req) => {
    const record = engine.store.get<Stripe.TestHelpers.TestClock>(
      "test_helpers.test_clock",
      req.pathParams.id!,
      req.account,
      "test_clock",
    );
    const clock = record.obj;
    const target = optInt(req.params, "frozen_time");
    if (target === undefined) throw missingParam("frozen_time");
    if (clock.status !== "ready") {
      throw unexpectedState(
        "The test clock is already advancing; wait until its status is ready.",
        "test_clock_unexpected_state",
      );
    }
    if (target <= clock.frozen_time) {
      throw refusedParam(
        "frozen_time",
        "The frozen_time must be after the test clock's current frozen_time.",
      );
    }
    clock.status = "advancing";
    clock.status_details = { advancing: { target_frozen_time: target } };
    engine.emit("test_helpers.test_clock.advancing", clock, req.account);
    const response = snapshotOf(clock);
    // Like Stripe, the clock answers `advancing` and reaches `ready` shortly after.
    setImmediate(() => {
      engine.advance(clock.id, target);
      clock.frozen_time = target;
      clock.status = "ready";
      clock.status_details = {};
      engine.emit("test_helpers.test_clock.ready", clock, req.account);
      engine.changed();
    });
    return response;
  });
}

/** A subscription's default payment method must be one attached to its customer (create and update alike). */
function requireCustomersPaymentMethod(
  engine: Engine,
  id: string,
  customerId: string,
  account: string,
): void {
  const pm = engine.store.find<Stripe.PaymentMethod>("payment_method", id, account);
  if (!pm || pm.obj.customer !== customerId)
    throw refusedParam(
      "default_payment_method",
      `The customer does not have a payment method with the ID ${id}.`,
    );
}
