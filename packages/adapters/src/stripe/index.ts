/**
 * Stripe through the official SDK: the {@link StripePaymentGateway} adapter of the
 * domain's `PaymentGateway` port, the classification of SDK errors, and the translation
 * of verified webhook events into domain inputs.
 *
 * @module
 */

export { type BillingTranslation, translateMembershipEvent } from "./billing-event-translator.js";
export {
  type BillingEvent,
  type ChargeEvent,
  type CheckoutEvent,
  type ConnectEvent,
  completeChargeOfInvoice,
  completeDispute,
  type DebitSetupEvent,
  type InvoiceChargeFactWithoutRefs,
  type InvoiceReferencesLookup,
  type PaymentIntentEvent,
  type PaymentReferencesLookup,
  type RefundEvent,
  type StripeEventTranslation,
  type TransferEvent,
  translateStripeEvent,
  translateStripeEventWith,
} from "./event-translator.js";
export {
  type InvoiceReferences,
  invoiceReferencesOf,
  SUBSCRIPTION_METADATA_KEY,
} from "./invoice-payment-lookup.js";
export { METADATA_KEYS, metadataToReferences, referencesToMetadata } from "./payment-metadata.js";
export {
  BILLING_METADATA_KEYS,
  billingMetadata,
  billingReferences,
  StripeBillingGateway,
  subscriptionSnapshotOf,
} from "./stripe-billing-gateway.js";
export { createStripeClient, type StripeClientConfig, stripeEndpointOf } from "./stripe-client.js";
export { classifyStripeError, type StripeErrorKind, stripeErrorKind } from "./stripe-errors.js";
export {
  connectedAccountStatus,
  debitOutcomeOf,
  mandateStatusOf,
  paymentFailureCode,
} from "./stripe-mappings.js";
export {
  type CardPaymentInput,
  IDEMPOTENCY_KEY_MAX_CHARS,
  StripePaymentGateway,
  stripeIdempotencyKey,
} from "./stripe-payment-gateway.js";
