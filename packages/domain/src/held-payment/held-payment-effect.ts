import type { CommonPaymentEffect, EffectAddress, PartyAudience } from "../kernel/effect-address.js";
import type { CurrencyCode } from "../money/index.js";
import type { Instant } from "../shared/time.js";
import type { HeldPaymentTimer } from "./held-payment-timer.js";

/** The aggregate name every held-payment effect carries (timers, notices and tickets are shared by aggregates). */
export const HELD_PAYMENT_AGGREGATE = "held_payment";

/** Who a held payment's notification is for: the customer, the seller, or the platform's admins. */
export type HeldPaymentAudience = PartyAudience;

/** The messages a held payment sends; the notifier renders each one. */
export const HELD_PAYMENT_NOTIFICATION_TEMPLATES = [
  "booking_paid",
  "payment_failed",
  "checkout_expired",
  "refund_started",
  "refund_failed",
  "release_blocked",
  "payout_sent",
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

/** One of {@link HELD_PAYMENT_NOTIFICATION_TEMPLATES}. */
export type HeldPaymentNotificationTemplate = (typeof HELD_PAYMENT_NOTIFICATION_TEMPLATES)[number];

/** Why a held payment opened a support ticket. */
export const HELD_PAYMENT_TICKET_REASONS = [
  "refund_failed",
  "refund_overdue",
  "release_blocked",
  "transfer_parked",
  "transfer_outcome_unknown",
  "dispute",
  "reversal_failed",
  "unexpected_money",
  "refund_owed",
  // A lost dispute's bank gave back money an admin had paid the customer outside Stripe already.
  "owed_overpaid",
  // Stripe never answered susu's asks that it expire the Checkout Session.
  "checkout_expiry_unconfirmed",
] as const;

/** One of {@link HELD_PAYMENT_TICKET_REASONS}. */
export type HeldPaymentTicketReason = (typeof HELD_PAYMENT_TICKET_REASONS)[number];

type Addressed = EffectAddress<typeof HELD_PAYMENT_AGGREGATE>;

/**
 * What a held payment's decision asks the outside world to do, as data. Every effect has
 * an `id` stable for the payment and step (see `heldPaymentIds`): the outbox stores it by
 * that id and it is the Stripe `Idempotency-Key`, so running an effect twice after a crash
 * never charges, pays or refunds twice.
 */
export type HeldPaymentEffect =
  | (Addressed & {
      readonly kind: "create_checkout_session";
      /** Always `payment`: one charge, captured at once. */
      readonly mode: "payment";
      readonly clientReference: string;
      readonly amountMinor: number;
      readonly currency: CurrencyCode;
      readonly description: string;
      readonly customerEmail: string;
      readonly customerName?: string;
      readonly transferGroup: string;
      readonly expiresAt: Instant;
      readonly successUrl: string;
      readonly cancelUrl?: string;
      /** Written as the session's and the PaymentIntent's metadata: names the aggregate. */
      readonly metadata: {
        readonly aggregate: typeof HELD_PAYMENT_AGGREGATE;
        readonly heldPaymentId: string;
      };
    })
  | (Addressed & {
      /**
       * Asks Stripe to expire the Checkout Session (the backstop timer, the payment still
       * `awaiting_payment`). Stripe's answer is the news: expired ends the payment, a
       * session already complete has its payment read.
       */
      readonly kind: "expire_checkout_session";
      readonly sessionId: string;
    })
  | (Addressed & {
      readonly kind: "transfer";
      readonly attempt: number;
      readonly sellerId: string;
      readonly destinationAccountId: string;
      /** The charge that funds the transfer (Stripe `source_transaction`). */
      readonly sourceChargeId: string;
      readonly amountMinor: number;
      readonly currency: CurrencyCode;
      readonly transferGroup: string;
    })
  | (Addressed & {
      /**
       * Looks for attempt `attempt`'s transfer at Stripe (in `transferGroup`, made under the
       * idempotency key `transferEffectId`) before another attempt is made: read only.
       */
      readonly kind: "find_transfer";
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
      readonly reason: "unfulfilled" | "admin" | "late_payment";
    })
  | CommonPaymentEffect<
      typeof HELD_PAYMENT_AGGREGATE,
      HeldPaymentTimer,
      HeldPaymentNotificationTemplate,
      HeldPaymentTicketReason
    >;

/** One effect kind of {@link HeldPaymentEffect}. */
export type HeldPaymentEffectKind = HeldPaymentEffect["kind"];
