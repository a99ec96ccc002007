import type { ResultAsync } from "neverthrow";
import type { PlanInterval } from "../membership/plan-interval.js";
import type { SubscriptionSnapshot } from "../membership/subscription-input.js";
import type { Money } from "../money/index.js";
import type { GatewayError, PaymentReferences, RefundOutcome } from "./payment-gateway.js";

/**
 * The payment provider's billing side (Stripe Billing): a plan's product and prices, and a
 * person's subscription. Every call that creates or changes something takes the outbox
 * effect's id as its idempotency key. Kept apart from `PaymentGateway` (one-off payments,
 * transfers, accounts): a deployment wires both to the same provider.
 */
export interface BillingGateway {
  /**
   * Creates a recurring price on the plan's product `productId` (a product id susu chooses,
   * created with `productName` when it does not exist yet). Answers the price's id.
   */
  createPlanPrice(input: {
    readonly idempotencyKey: string;
    readonly productId: string;
    readonly productName: string;
    readonly amount: Money;
    readonly interval: PlanInterval;
    readonly references: PaymentReferences;
  }): ResultAsync<{ readonly priceId: string }, GatewayError>;

  /** Renames a plan's product, or (`active: false`) stops it being offered. */
  updatePlanProduct(input: {
    readonly idempotencyKey: string;
    readonly productId: string;
    readonly name: string;
    readonly active: boolean;
  }): ResultAsync<void, GatewayError>;

  /**
   * Subscribes a customer to a price, charging a saved payment method
   * (`default_payment_method`) with `payment_behavior: allow_incomplete`: the first invoice
   * is paid at once off session, and a decline or an authentication leaves the subscription
   * `incomplete` (its invoice's events say so). Answers the subscription as created, or the
   * one an earlier call under the same key made, as it stands now, even after the provider
   * forgot the key (Stripe: 24 hours), so a retry never subscribes nor charges twice.
   */
  createSubscription(input: {
    readonly idempotencyKey: string;
    readonly customerId: string;
    readonly priceId: string;
    readonly paymentMethodId: string;
    readonly trialDays: number;
    readonly references: PaymentReferences;
  }): ResultAsync<SubscriptionSnapshot, GatewayError>;

  /**
   * The subscription a {@link BillingGateway.createSubscription} call under `idempotencyKey`
   * made for the customer, as it stands now (ended ones too), or undefined when none was made.
   * Read only: how a create that was tried but is no longer wanted (the membership was
   * canceled meanwhile) learns whether an earlier try reached the provider.
   */
  findSubscription(input: {
    readonly idempotencyKey: string;
    readonly customerId: string;
  }): ResultAsync<SubscriptionSnapshot | undefined, GatewayError>;

  /** A Checkout Session in subscription mode for the customer and price; answers its id and page. */
  createSubscriptionCheckout(input: {
    readonly idempotencyKey: string;
    readonly customerId: string;
    readonly priceId: string;
    readonly trialDays: number;
    readonly successUrl: string;
    readonly cancelUrl: string;
    readonly references: PaymentReferences;
  }): ResultAsync<{ readonly sessionId: string; readonly url: string }, GatewayError>;

  /**
   * Expires a Checkout Session (the page can no longer be paid). Answers how the session
   * ended: `expired` (by this call, or before it), or `complete` when the person paid
   * before it could be expired (the subscription it started is news of its own).
   */
  expireCheckoutSession(input: {
    readonly idempotencyKey: string;
    readonly sessionId: string;
  }): ResultAsync<{ readonly status: "expired" | "complete" }, GatewayError>;

  /**
   * Moves the subscription's one item to `priceId`, prorated as `prorationBehavior` says, as a
   * pending update: a change whose invoice is not paid at once (a declined card, a payment to
   * authenticate) is not made; the answer names the old price with the change in
   * `pendingUpdate`, made when the invoice is paid or discarded (the invoice voided) when it
   * expires, as later views of the subscription say. A change with nothing to pay (a
   * downgrade's credit) is made at once.
   */
  changeSubscriptionPrice(input: {
    readonly idempotencyKey: string;
    readonly subscriptionId: string;
    readonly priceId: string;
    readonly prorationBehavior: "always_invoice" | "create_prorations" | "none";
  }): ResultAsync<SubscriptionSnapshot, GatewayError>;

  /**
   * Charges the subscription on `paymentMethodId` from now on (its own
   * `default_payment_method`, which Stripe uses before the customer's default for renewals
   * and for the retries of an open invoice).
   */
  setSubscriptionPaymentMethod(input: {
    readonly idempotencyKey: string;
    readonly subscriptionId: string;
    readonly paymentMethodId: string;
  }): ResultAsync<SubscriptionSnapshot, GatewayError>;

  /**
   * Voids an unpaid invoice (open or uncollectible) so it can no longer be paid. One that is
   * no longer unpaid (paid, or void already) is answered with its status, not refused. One
   * whose payment is a bank debit still processing cannot be voided (the debit cannot be
   * called back): answered `payment_processing`, not refused; the debit's outcome comes as
   * news (a payment after the end is refunded; after a failure the membership asks for the
   * void again under a new key, as it does when its recheck finds no news came).
   */
  voidInvoice(input: {
    readonly idempotencyKey: string;
    readonly invoiceId: string;
  }): ResultAsync<{ readonly status: string }, GatewayError>;

  /** Cancels now, sets `cancel_at_period_end`, or clears it (`resume`). */
  cancelSubscription(input: {
    readonly idempotencyKey: string;
    readonly subscriptionId: string;
    readonly mode: "now" | "at_period_end" | "resume";
  }): ResultAsync<SubscriptionSnapshot, GatewayError>;

  /**
   * Refunds in full every payment invoice `invoiceId` collected (Stripe's invoice payments,
   * each PaymentIntent refunded under `<idempotencyKey>:<payment intent>`; a refund made
   * already under that key is answered as it stands). Answers one outcome per refund, each
   * with its own amount: one per payment, but a payment refunded already by someone else (the
   * dashboard; Stripe refuses susu's refund as `charge_already_refunded`) is answered by each
   * of its refunds that succeeded, as Stripe may fail any of them later; pending ones finish
   * later (a refund event says how). An invoice none of whose
   * payments has settled yet is a retryable error (`invoice_payment_not_settled`): nothing
   * was refunded and the call is to be made again.
   */
  refundInvoicePayments(input: {
    readonly idempotencyKey: string;
    readonly invoiceId: string;
    readonly references: PaymentReferences;
  }): ResultAsync<readonly RefundOutcome[], GatewayError>;
}
