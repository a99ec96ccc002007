import type { CommonPaymentEffect, EffectAddress, PartyAudience } from "../kernel/effect-address.js";
import type { CurrencyCode } from "../money/index.js";
import type { MarketplaceChargeTimer } from "./marketplace-charge-timer.js";

/** The aggregate name every marketplace-charge effect carries (timers, notices and tickets are shared by aggregates). */
export const MARKETPLACE_CHARGE_AGGREGATE = "marketplace_charge";

/** Who a notification is for: the customer, a seller, or the platform's admins (the held payment's audiences). */
export type MarketplaceChargeAudience = PartyAudience;

/** The messages a marketplace charge sends; the notifier renders each one. */
export const MARKETPLACE_CHARGE_NOTIFICATION_TEMPLATES = [
  "payment_failed",
  "payment_expired",
  "payment_action_required",
  "seller_paid",
  "refund_started",
  "refund_failed",
  "transfer_blocked",
  "dispute_opened",
  "dispute_closed",
  "reversal_failed",
  "unexpected_money",
  "refund_owed",
  // What is owed to the customer outside Stripe: booked, then each payment an admin recorded.
  "owed_outside_stripe",
  "owed_paid_outside_stripe",
  // What is owed lessened because the customer's bank gave part or all of it back (a lost dispute).
  "owed_reduced_by_dispute",
] as const;

/** One of {@link MARKETPLACE_CHARGE_NOTIFICATION_TEMPLATES}. */
export type MarketplaceChargeNotificationTemplate =
  (typeof MARKETPLACE_CHARGE_NOTIFICATION_TEMPLATES)[number];

/** Why a marketplace charge opened a support ticket. */
export const MARKETPLACE_CHARGE_TICKET_REASONS = [
  "refund_failed",
  "refund_overdue",
  "transfer_parked",
  "transfer_outcome_unknown",
  "dispute",
  "reversal_failed",
  "amount_mismatch",
  "unexpected_money",
  "refund_owed",
  // A lost dispute's bank gave back money an admin had paid the customer outside Stripe already.
  "owed_overpaid",
  // Stripe never answered susu's asks that it cancel the PaymentIntent of an expired payment.
  "payment_cancel_unconfirmed",
] as const;

/** One of {@link MARKETPLACE_CHARGE_TICKET_REASONS}. */
export type MarketplaceChargeTicketReason = (typeof MARKETPLACE_CHARGE_TICKET_REASONS)[number];

type Addressed = EffectAddress<typeof MARKETPLACE_CHARGE_AGGREGATE>;

/** Metadata written on every Stripe object the charge's effects create: names the aggregate. */
export interface MarketplaceChargeMetadata {
  readonly aggregate: typeof MARKETPLACE_CHARGE_AGGREGATE;
  readonly marketplaceChargeId: string;
}

/**
 * What a marketplace charge's decision asks the outside world to do, as data. Every effect
 * has an `id` stable for the charge and step (see `marketplaceChargeIds`): the outbox stores
 * it by that id and it is the Stripe `Idempotency-Key`, so running an effect twice after a
 * crash never charges, pays or refunds twice.
 */
export type MarketplaceChargeEffect =
  | (Addressed & {
      readonly kind: "create_payment";
      readonly amountMinor: number;
      readonly currency: CurrencyCode;
      readonly description: string;
      readonly customerId: string;
      /** The Stripe customer the PaymentIntent is for. */
      readonly stripeCustomerId: string;
      /**
       * `saved_card`: confirm at once, off-session, with the saved payment method;
       * `client_confirmation`: return the client secret for the client to confirm on-session.
       */
      readonly confirmation:
        | { readonly kind: "saved_card"; readonly paymentMethodId: string; readonly offSession: true }
        | { readonly kind: "client_confirmation" };
      /**
       * A destination charge: `transfer_data[destination]`, `application_fee_amount`, and
       * `on_behalf_of` the seller when they are the merchant of record. Absent for a split's
       * platform charge.
       */
      readonly destination?: {
        readonly connectedAccountId: string;
        readonly applicationFeeMinor: number;
        readonly onBehalfOf: boolean;
      };
      readonly transferGroup: string;
      readonly metadata: MarketplaceChargeMetadata;
    })
  | (Addressed & {
      /**
       * Cancels the PaymentIntent of a payment that expired waiting for the customer (Stripe
       * `cancellation_reason: abandoned`): the expiry's ask, or a recheck's (its own id, so its
       * own Stripe key), in the payment's wait `wait` for the customer (absent: 1). Once a
       * later wait has begun it is not sent: that wait has its own time.
       */
      readonly kind: "cancel_payment";
      readonly paymentIntentId: string;
      readonly wait?: number;
    })
  | (Addressed & {
      readonly kind: "transfer";
      readonly sellerId: string;
      readonly attempt: number;
      readonly destinationAccountId: string;
      /** The charge that funds the transfer (Stripe `source_transaction`). */
      readonly sourceChargeId: string;
      readonly amountMinor: number;
      readonly currency: CurrencyCode;
      readonly transferGroup: string;
      readonly metadata: MarketplaceChargeMetadata & { readonly sellerId: string; readonly attempt: number };
    })
  | (Addressed & {
      /**
       * Looks for attempt `attempt` of seller `sellerId`'s transfer at Stripe (in
       * `transferGroup`, made under the idempotency key `transferEffectId`) before another
       * attempt is made: read only.
       */
      readonly kind: "find_transfer";
      readonly sellerId: string;
      readonly attempt: number;
      readonly transferEffectId: string;
      readonly transferGroup: string;
    })
  | (Addressed & {
      /**
       * Looks for attempt `attempt` of refund `refund` at Stripe (among the PaymentIntent's
       * refunds, made under the idempotency key and metadata `effect_id` `refundEffectId`)
       * when its outcome is overdue: read only. Look-up `lookup` of the attempt.
       */
      readonly kind: "find_refund";
      readonly refund: number;
      readonly attempt: number;
      readonly lookup: number;
      readonly refundEffectId: string;
      readonly paymentIntentId: string;
    })
  | (Addressed & {
      readonly kind: "reverse_transfer";
      readonly reversal: number;
      readonly sellerId: string;
      readonly transferId: string;
      readonly amountMinor: number;
      readonly currency: CurrencyCode;
      readonly reason: "refund" | "dispute_lost";
    })
  | (Addressed & {
      readonly kind: "refund";
      readonly refund: number;
      readonly attempt: number;
      readonly paymentIntentId: string;
      readonly amountMinor: number;
      readonly currency: CurrencyCode;
      /** Stripe `reverse_transfer` (destination charges; a split reverses each seller first). */
      readonly reverseTransfer: boolean;
      /** Stripe `refund_application_fee` (destination charges). */
      readonly refundApplicationFee: boolean;
      readonly initiatedBy: "customer" | "platform";
    })
  | CommonPaymentEffect<
      typeof MARKETPLACE_CHARGE_AGGREGATE,
      MarketplaceChargeTimer,
      MarketplaceChargeNotificationTemplate,
      MarketplaceChargeTicketReason
    >;

/** One effect kind of {@link MarketplaceChargeEffect}. */
export type MarketplaceChargeEffectKind = MarketplaceChargeEffect["kind"];
