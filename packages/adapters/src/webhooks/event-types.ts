/**
 * The Stripe event types susu's webhook endpoint should be subscribed to, and the ones it
 * knows but never needs.
 *
 * Stripe sends an endpoint only the types in its `enabled_events`. susu acts on a type when
 * its translator (`translateStripeEvent`) turns some event of that type into a fact, or when
 * the processor reads it for something else (a card's failed charge counts towards the
 * payment-attempt limits). Every other type it knows is ignored whatever the event carries:
 * another event says the same thing (`payment_intent.succeeded` for `charge.succeeded`), or
 * the gateway's answer already did (`payment_intent.created`). Subscribing to those costs a
 * delivery, a signature check and a stored row each, for nothing — about half of what Stripe
 * sends for a round or a held payment. So the endpoint lists {@link SUSU_WEBHOOK_EVENT_TYPES}
 * (`npm start` and the simulation configure the emulator's endpoint with it; an operator
 * gives it to Stripe: `npm run stripe:webhook-events` prints it), and an endpoint
 * subscribed to `*` still works: the ignored types are stored `ignored` at ingest.
 *
 * A test reads the translators and checks that every type they name is in exactly one of
 * the two lists, that each ignored type is ignored for an event that carries susu's
 * references, and that each subscribed type is one a translator knows.
 */

/** The types susu acts on: subscribe the webhook endpoint to exactly these. */
export const SUSU_WEBHOOK_EVENT_TYPES: readonly string[] = Object.freeze([
  // Payments: a debit's, a card payment's or a membership payment's outcome.
  "payment_intent.processing",
  "payment_intent.succeeded",
  "payment_intent.payment_failed",
  "payment_intent.requires_action",
  "payment_intent.canceled",
  // A card's failed charge counts towards the payment-attempt limits.
  "charge.failed",
  // Refunds (Stripe reports a refund's change both ways; either is enough, both are safe).
  "charge.refund.updated",
  "refund.created",
  "refund.updated",
  "refund.failed",
  // Disputes.
  "charge.dispute.created",
  "charge.dispute.updated",
  "charge.dispute.closed",
  // Transfers to connected accounts and their reversals.
  "transfer.created",
  "transfer.reversed",
  // Connected accounts: readiness and disconnection.
  "account.updated",
  "account.application.deauthorized",
  // BECS set-up and mandates.
  "mandate.updated",
  "setup_intent.succeeded",
  "setup_intent.setup_failed",
  // Checkout (held payments, marketplace charges).
  "checkout.session.completed",
  "checkout.session.async_payment_succeeded",
  "checkout.session.async_payment_failed",
  "checkout.session.expired",
  // Payouts of connected accounts to their banks.
  "payout.created",
  "payout.updated",
  "payout.paid",
  "payout.failed",
  "payout.canceled",
  // Memberships: subscriptions and their invoices.
  "customer.subscription.created",
  "customer.subscription.updated",
  "customer.subscription.deleted",
  "customer.subscription.paused",
  "customer.subscription.resumed",
  "customer.subscription.pending_update_applied",
  "customer.subscription.pending_update_expired",
  "customer.subscription.trial_will_end",
  "invoice.paid",
  "invoice.payment_failed",
  "invoice.payment_action_required",
  "invoice.marked_uncollectible",
  "invoice.voided",
  // The platform's fee refunded on a destination charge.
  "application_fee.refunded",
  // Saved payment methods.
  "payment_method.attached",
  "payment_method.detached",
  "payment_method.automatically_updated",
]);

/**
 * Types the translators know and ignore whatever the event carries (the reason is the
 * translator's): no endpoint needs them. Stored `ignored` at ingest when they come anyway.
 */
export const IGNORED_WEBHOOK_EVENT_TYPES: readonly string[] = Object.freeze([
  "payment_intent.created",
  "payment_intent.amount_capturable_updated",
  "payment_intent.partially_funded",
  "charge.succeeded",
  "charge.pending",
  "charge.captured",
  "charge.expired",
  "charge.updated",
  "charge.refunded",
  "charge.dispute.funds_withdrawn",
  "charge.dispute.funds_reinstated",
  "transfer.updated",
  "capability.updated",
  "account.application.authorized",
  "account.external_account.created",
  "account.external_account.deleted",
  "account.external_account.updated",
  "setup_intent.created",
  "setup_intent.requires_action",
  "setup_intent.canceled",
  "payout.reconciliation_completed",
  "application_fee.created",
  "application_fee.refund.updated",
]);
