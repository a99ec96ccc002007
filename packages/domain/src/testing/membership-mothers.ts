// Builders of plans, subscriptions and the Stripe news they hear, for tests.
import { UNRESTRICTED_ENTITLEMENTS } from "../membership/entitlements.js";
import type { SubscribedPrice, Subscription } from "../membership/subscription.js";
import {
  createSubscription,
  decideSubscription,
  type NewSubscription,
} from "../membership/subscription-decide.js";
import type {
  InvoiceReport,
  SubscriptionInput,
  SubscriptionSnapshot,
} from "../membership/subscription-input.js";
import type { CurrencyCode } from "../money/index.js";
import { DAY_MS, type Instant } from "../shared/time.js";

/** The time the mothers' subscriptions are made at. */
export const MEMBERSHIP_T0: Instant = Date.UTC(2026, 0, 1);

/** A monthly AUD price of plan `pl_basic`. */
export const basicMonthly: SubscribedPrice = {
  planId: "pl_basic",
  priceKey: "aud_month",
  revision: 1,
  stripePriceId: "price_basic_m",
  currency: "AUD",
  interval: "month",
  amountMinor: 10_00,
};

/** A monthly AUD price of plan `pl_pro`. */
export const proMonthly: SubscribedPrice = {
  planId: "pl_pro",
  priceKey: "aud_month",
  revision: 1,
  stripePriceId: "price_pro_m",
  currency: "AUD",
  interval: "month",
  amountMinor: 25_00,
};

/** Plan terms anyone may be given. */
export const basicPlanTerms = {
  name: "Basic",
  entitlements: { ...UNRESTRICTED_ENTITLEMENTS, maxOpenGroups: 3 },
  prices: [{ currency: "AUD", interval: "month", amountMinor: 10_00 }],
};

/** A new subscription of person `p1` to `basicMonthly` with a saved card. */
export function newSubscription(overrides: Partial<NewSubscription> = {}): NewSubscription {
  return {
    id: "sub1",
    personId: "p1",
    stripeCustomerId: "cus_1",
    price: basicMonthly,
    trialDays: 0,
    start: { kind: "saved_method", paymentMethodId: "pm_card" },
    ...overrides,
  };
}

/** A freshly created subscription (`incomplete`). */
export function freshSubscription(overrides: Partial<NewSubscription> = {}): Subscription {
  return createSubscription(newSubscription(overrides), { now: MEMBERSHIP_T0 })._unsafeUnwrap().state;
}

/** A Stripe view of `sub_stripe1` at `observedAt` (days after T0). */
export function snapshot(
  status: SubscriptionSnapshot["status"],
  day: number,
  extra: Partial<SubscriptionSnapshot> = {},
): SubscriptionInput {
  return {
    type: "subscription_changed",
    snapshot: {
      stripeSubscriptionId: "sub_stripe1",
      status,
      stripePriceId: "price_basic_m",
      cancelAtPeriodEnd: false,
      currentPeriodEnd: MEMBERSHIP_T0 + (day + 30) * DAY_MS,
      observedAt: MEMBERSHIP_T0 + day * DAY_MS,
      ...extra,
    },
  };
}

/** An invoice's figures on day `day`. */
export function invoice(
  id: string,
  day: number,
  amountPaidMinor = 10_00,
  currency: CurrencyCode = "AUD",
): InvoiceReport {
  return {
    invoiceId: id,
    amountDueMinor: 10_00,
    amountPaidMinor,
    currency,
    hostedInvoiceUrl: `https://invoice.stripe.test/${id}`,
    observedAt: MEMBERSHIP_T0 + day * DAY_MS,
  };
}

/** Invoice `id` paid on day `day`. */
export function paidInvoice(id: string, day: number, amountPaidMinor = 10_00): SubscriptionInput {
  return {
    type: "invoice_paid",
    invoice: invoice(id, day, amountPaidMinor),
    paidAt: MEMBERSHIP_T0 + day * DAY_MS,
  };
}

/** Attempt `attempt` of invoice `id` failed on day `day`; a retry `retryInDays` later, or none. */
export function failedInvoice(
  id: string,
  day: number,
  attempt: number,
  retryInDays?: number,
): SubscriptionInput {
  return {
    type: "invoice_payment_failed",
    invoice: invoice(id, day, 0),
    attemptCount: attempt,
    ...(retryInDays !== undefined
      ? { nextPaymentAttemptAt: MEMBERSHIP_T0 + (day + retryInDays) * DAY_MS }
      : {}),
  };
}

/** Feeds inputs in order (each decided at its own time or T0), failing on a refusal. */
export function feed(s: Subscription, inputs: readonly SubscriptionInput[]): Subscription {
  return inputs.reduce(
    (state, input) => decideSubscription(state, input, { now: MEMBERSHIP_T0 })._unsafeUnwrap().state,
    s,
  );
}

/** An active subscription (first invoice paid). */
export function activeSubscription(): Subscription {
  return feed(freshSubscription(), [snapshot("active", 0), paidInvoice("in_1", 0)]);
}
