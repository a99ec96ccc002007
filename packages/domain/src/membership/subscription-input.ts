import type { CurrencyCode } from "../money/index.js";
import type { Instant } from "../shared/time.js";
import type { SubscribedPrice } from "./subscription.js";
import type { SubscriptionTimer } from "./subscription-timer.js";

/** Stripe's statuses of a subscription. */
export const STRIPE_SUBSCRIPTION_STATUSES = [
  "incomplete",
  "incomplete_expired",
  "trialing",
  "active",
  "past_due",
  "canceled",
  "unpaid",
  "paused",
] as const;
export type StripeSubscriptionStatus = (typeof STRIPE_SUBSCRIPTION_STATUSES)[number];

/**
 * A Stripe subscription as one event (or API answer) showed it. `observedAt` is Stripe's
 * time for that view (the event's `created`): a snapshot older than the last applied is
 * stale, whatever order they arrive in. An API answer has no such time (Stripe's objects
 * carry none): it applies only before any event did, and events decide from then on.
 */
export interface SubscriptionSnapshot {
  readonly stripeSubscriptionId: string;
  readonly status: StripeSubscriptionStatus;
  readonly stripePriceId?: string;
  readonly cancelAtPeriodEnd: boolean;
  readonly currentPeriodEnd?: Instant;
  readonly trialEnd?: Instant;
  readonly endedAt?: Instant;
  /** The subscription's own `default_payment_method`, when it has one. */
  readonly defaultPaymentMethodId?: string;
  /** Stripe's `cancellation_details.reason` (`payment_failed`, `cancellation_requested`, …). */
  readonly cancellationReason?: string;
  /** Stripe's time of this view; absent for an API answer. */
  readonly observedAt?: Instant;
  /** An update Stripe holds until its invoice is paid (its `pending_update`), if any. */
  readonly pendingUpdate?: PendingStripeUpdate;
  /**
   * The view of Stripe discarding a held update unpaid at its expiry (the
   * `customer.subscription.pending_update_expired` event): an update held then, and expired by
   * `observedAt`, was discarded.
   */
  readonly pendingUpdateExpired?: true;
}

/**
 * An update Stripe holds until its invoice is paid (a change asked with `payment_behavior:
 * pending_if_incomplete` whose invoice was not paid at once): the subscription stays as it was
 * meanwhile; paid, the update applies; unpaid at `expiresAt` (Stripe's time: 23 hours after
 * the update at the latest), its invoice is voided and the update discarded.
 */
export interface PendingStripeUpdate {
  /** The price the update moves the item to. */
  readonly stripePriceId?: string;
  readonly expiresAt: Instant;
  /** The invoice it waits for (the subscription's latest invoice). */
  readonly invoiceId?: string;
}

/** An invoice's figures as an event carried them. */
export interface InvoiceReport {
  readonly invoiceId: string;
  readonly amountDueMinor: number;
  readonly amountPaidMinor: number;
  readonly currency: CurrencyCode;
  readonly hostedInvoiceUrl?: string;
  /** Stripe's time for this news (the event's `created`): it orders it against the subscription's snapshots. */
  readonly observedAt: Instant;
  /**
   * The invoice of a change of the subscription (Stripe's `billing_reason: subscription_update`:
   * a plan change's proration): its failure is the change's, not a renewal's (see
   * `SubscriptionInvoice.forChange`).
   */
  readonly forChange?: true;
}

/** Every input a subscription hears: a person's command, or what Stripe told susu. */
export type SubscriptionInput =
  // commands
  /** The person subscribes (the creation, as the audit log names it; again, it is ignored). */
  | { readonly type: "subscribe" }
  | {
      readonly type: "change_price";
      readonly price: SubscribedPrice;
      readonly prorationBehavior: "always_invoice" | "create_prorations" | "none";
    }
  | { readonly type: "cancel"; readonly atPeriodEnd: boolean }
  | { readonly type: "resume" }
  /**
   * Charge the membership on this payment method from now on (the person made it their
   * default card, or removed the card it was charged on and this is their default): the Stripe
   * subscription's own `default_payment_method`, which its renewals and dunning's retries use.
   */
  | { readonly type: "use_payment_method"; readonly paymentMethodId: string }
  /**
   * The person (or an admin) drops the change waiting for Stripe (one whose call was parked,
   * say): no Stripe call; if Stripe makes it after all, its view puts the membership on it.
   */
  | { readonly type: "cancel_change" }
  // answers and events
  | {
      readonly type: "subscription_changed";
      readonly snapshot: SubscriptionSnapshot;
      /**
       * The plan price Stripe's price (`snapshot.stripePriceId`) is, as the plan catalogue
       * knows it (looked up before deciding, when it is not the subscription's own or its
       * pending change's): Stripe's view of the price wins, plan included.
       */
      readonly price?: SubscribedPrice;
    }
  | {
      /**
       * Stripe refused change `changeId` (the effect id, `<s>:change:<n>`) for good: a definite
       * error of the change call (an archived price, a subscription that can no longer change).
       */
      readonly type: "change_refused";
      readonly changeId: string;
      readonly code: string;
      readonly message: string;
    }
  | {
      /**
       * Stripe refused for good to charge the subscription on the card asked for by change
       * `changeId` (the effect id, `<s>:payment-method:<n>`): a definite error of the call (the
       * card detached, the subscription no longer changeable).
       */
      readonly type: "payment_method_refused";
      readonly changeId: string;
      readonly code: string;
      readonly message: string;
    }
  | { readonly type: "start_failed"; readonly code: string; readonly message: string }
  | { readonly type: "checkout_created"; readonly sessionId: string; readonly url: string }
  /**
   * The membership's Checkout page expired unpaid (Stripe expires a session after 24 hours,
   * or on susu's request): no Stripe subscription was made, and none will be from it.
   */
  | { readonly type: "checkout_expired"; readonly sessionId: string }
  | { readonly type: "trial_will_end"; readonly trialEnd: Instant }
  | { readonly type: "invoice_paid"; readonly invoice: InvoiceReport; readonly paidAt: Instant }
  | {
      readonly type: "invoice_payment_failed";
      readonly invoice: InvoiceReport;
      /** Stripe's `attempt_count`. */
      readonly attemptCount: number;
      /** When Stripe retries; absent: no retry is left (the last attempt failed). */
      readonly nextPaymentAttemptAt?: Instant;
    }
  | { readonly type: "invoice_payment_action_required"; readonly invoice: InvoiceReport }
  | { readonly type: "invoice_marked_uncollectible"; readonly invoice: InvoiceReport }
  /** The invoice was voided at Stripe: no longer owed (see the membership's recovery rule). */
  | { readonly type: "invoice_voided"; readonly invoice: InvoiceReport }
  | {
      /**
       * Every refund susu's refund of invoice `invoiceId` made (the refund call's answer, one
       * per payment, pending ones too; for a payment refunded already outside susu, each of
       * the refunds that did it): the invoice's refund ends once each has ended.
       */
      readonly type: "invoice_refunds_made";
      readonly invoiceId: string;
      readonly refundIds: readonly string[];
    }
  | {
      /**
       * How susu's refund of one of invoice `invoiceId`'s payments ended at Stripe (the
       * refund call's answer, or a refund event): a pending refund is no news.
       */
      readonly type: "invoice_refund_settled";
      readonly invoiceId: string;
      readonly outcome: "succeeded" | "failed";
      /** Stripe's refund of one of the invoice's payments; none: Stripe refused to make it. */
      readonly refundId?: string;
      /**
       * That refund's amount (what its payment collected, or the part of it one of the refunds
       * made outside susu gave back); none in news from before it was carried.
       */
      readonly amountMinor?: number;
      readonly failureCode?: string;
    }
  | {
      /**
       * A refund of invoice `invoiceId`'s charge made outside susu (Stripe's dashboard; no susu
       * metadata): the payment was resolved to the invoice through Stripe's invoice payments.
       */
      readonly type: "invoice_refunded_outside";
      readonly invoiceId: string;
      readonly refundId: string;
      readonly amountMinor: number;
      readonly outcome: "succeeded" | "failed";
      readonly failureCode?: string;
    }
  | {
      /**
       * News of a dispute of invoice `invoiceId`'s charge (opened, updated, or closed when
       * `closed` is set), resolved to the invoice as an outside refund is.
       */
      readonly type: "invoice_disputed";
      readonly invoiceId: string;
      readonly disputeId: string;
      /** Stripe's disputed amount, when the news says it. */
      readonly amountMinor?: number;
      /** Stripe's status of the dispute, when the news says it. */
      readonly stripeStatus?: string;
      readonly closed?: "won" | "lost";
      /** The bank's reason, when the news says it (an opening). */
      readonly reason?: string;
      /** The deadline for evidence, when the news says it. */
      readonly evidenceDueBy?: Instant;
    }
  | {
      /**
       * Stripe's answer to susu's void `voidId` (the effect id) of invoice `invoiceId`: its
       * status after the call (`void`; `paid`, or another it had already), or
       * `payment_processing` (its bank debit is in flight, so it could not be voided yet).
       */
      readonly type: "invoice_void_answered";
      readonly invoiceId: string;
      readonly voidId: string;
      readonly status: string;
    }
  // timers
  | { readonly type: "timer"; readonly timer: SubscriptionTimer };

/** One of the input types. */
export type SubscriptionInputType = SubscriptionInput["type"];
