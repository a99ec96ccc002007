// Stripe Billing's events as membership facts. A subscription event carries the
// subscription (its metadata names susu's subscription, written by the create call or by
// the Checkout Session's `subscription_data`); an invoice event names its subscription in
// `parent.subscription_details` (with the subscription's metadata). Every fact carries the
// event's `created` as Stripe's time of the news: the subscription orders what it hears by
// it, not by arrival.
import { type InvoiceReport, isCurrencyCode, type PaymentFact } from "@susu/domain";
import type Stripe from "stripe";
import { billingReferences, subscriptionSnapshotOf } from "./stripe-billing-gateway.js";
import { idOf } from "./stripe-mappings.js";

/** What a billing event means: a fact, or why it needs no action. */
export type BillingTranslation =
  | { readonly kind: "fact"; readonly fact: PaymentFact }
  | { readonly kind: "ignored"; readonly reason: string };

const ignored = (reason: string): BillingTranslation => ({ kind: "ignored", reason });
const fact = (f: PaymentFact): BillingTranslation => ({ kind: "fact", fact: f });

/** The subscription an invoice belongs to, and its metadata. */
function invoiceParent(invoice: Stripe.Invoice) {
  const details = invoice.parent?.subscription_details;
  const subscriptionId = idOf(details?.subscription ?? undefined);
  return { subscriptionId, metadata: details?.metadata ?? null };
}

function invoiceReport(invoice: Stripe.Invoice, createdSeconds: number): InvoiceReport | undefined {
  const currency = invoice.currency.toUpperCase();
  if (invoice.id === undefined || !isCurrencyCode(currency)) return undefined;
  return {
    invoiceId: invoice.id,
    amountDueMinor: invoice.amount_due,
    amountPaidMinor: invoice.amount_paid,
    currency,
    ...(invoice.hosted_invoice_url ? { hostedInvoiceUrl: invoice.hosted_invoice_url } : {}),
    observedAt: createdSeconds * 1000,
    ...(invoice.billing_reason === "subscription_update" ? { forChange: true as const } : {}),
  };
}

/** A `customer.subscription.*` or `invoice.*` event as a membership fact. */
export function translateMembershipEvent(event: Stripe.Event): BillingTranslation {
  switch (event.type) {
    case "customer.subscription.created":
    case "customer.subscription.updated":
    case "customer.subscription.deleted":
    case "customer.subscription.paused":
    case "customer.subscription.resumed":
    // A plan change Stripe held until its invoice was paid, made or discarded: the view says which.
    case "customer.subscription.pending_update_applied":
    case "customer.subscription.pending_update_expired": {
      const sub = event.data.object;
      const view = subscriptionSnapshotOf(sub, event.created);
      if (view === undefined) return ignored(`subscription ${sub.id} has a status susu does not know`);
      // Stripe's word that a held update expired unpaid: it says so whichever news came first.
      const snapshot =
        event.type === "customer.subscription.pending_update_expired"
          ? { ...view, pendingUpdateExpired: true as const }
          : view;
      return fact({ kind: "subscription_changed", refs: billingReferences(sub.metadata), snapshot });
    }
    case "customer.subscription.trial_will_end": {
      const sub = event.data.object;
      if (sub.trial_end === null) return ignored(`subscription ${sub.id} has no trial end`);
      return fact({
        kind: "subscription_trial_will_end",
        refs: billingReferences(sub.metadata),
        stripeSubscriptionId: sub.id,
        trialEnd: sub.trial_end * 1000,
      });
    }
    case "invoice.paid":
    case "invoice.payment_failed":
    case "invoice.payment_action_required":
    case "invoice.marked_uncollectible":
    // Voided at Stripe (the dashboard, support, or Stripe itself): no longer owed.
    case "invoice.voided": {
      const invoice = event.data.object;
      const { subscriptionId, metadata } = invoiceParent(invoice);
      if (subscriptionId === undefined) return ignored(`invoice ${invoice.id} is not a subscription's`);
      const report = invoiceReport(invoice, event.created);
      if (report === undefined) return ignored(`invoice ${invoice.id} is in a currency susu does not know`);
      const refs = billingReferences(metadata);
      const base = { refs, stripeSubscriptionId: subscriptionId, invoice: report };
      switch (event.type) {
        case "invoice.paid": {
          const paidAt = invoice.status_transitions?.paid_at ?? event.created;
          return fact({ kind: "invoice_paid", ...base, paidAt: paidAt * 1000 });
        }
        case "invoice.payment_failed":
          return fact({
            kind: "invoice_payment_failed",
            ...base,
            attemptCount: invoice.attempt_count,
            ...(invoice.next_payment_attempt !== null
              ? { nextPaymentAttemptAt: invoice.next_payment_attempt * 1000 }
              : {}),
          });
        case "invoice.payment_action_required":
          return fact({ kind: "invoice_payment_action_required", ...base });
        case "invoice.marked_uncollectible":
          return fact({ kind: "invoice_marked_uncollectible", ...base });
        case "invoice.voided":
          return fact({ kind: "invoice_voided", ...base });
      }
      return ignored("unreachable");
    }
    default:
      return ignored(
        `${event.type}: the subscription's and the paid or failed invoice's news say what susu needs`,
      );
  }
}
