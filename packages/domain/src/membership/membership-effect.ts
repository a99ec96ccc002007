import type {
  EffectAddress,
  NotifyEffect,
  OpenTicketEffect,
  PostLedgerEffect,
  ResolveTicketEffect,
  ScheduleTimerEffect,
} from "../kernel/effect-address.js";
import type { CurrencyCode } from "../money/index.js";
import type { PersonId } from "../person/ids.js";
import type { PlanInterval } from "./plan-interval.js";
import type { SubscriptionTimer } from "./subscription-timer.js";

/** The aggregate name of a plan's effects. */
export const PLAN_AGGREGATE = "plan";
/** The aggregate name of a subscription's effects. */
export const SUBSCRIPTION_AGGREGATE = "subscription";

/**
 * The messages a subscription sends: to the person who holds it, and to the platform's admins
 * a dispute of one of its invoices' charges (`dispute_opened`, `dispute_closed`).
 */
export const SUBSCRIPTION_NOTIFICATION_TEMPLATES = [
  "membership_trial_ending",
  "membership_payment_failed",
  "membership_payment_action_required",
  "membership_lapsed",
  "membership_refunded",
  "membership_refund_reversed",
  "membership_change_refused",
  "membership_card_change_refused",
  "dispute_opened",
  "dispute_closed",
] as const;

/** One of {@link SUBSCRIPTION_NOTIFICATION_TEMPLATES}. */
export type SubscriptionNotificationTemplate = (typeof SUBSCRIPTION_NOTIFICATION_TEMPLATES)[number];

/**
 * Why a subscription opens a support ticket: Stripe refused or failed susu's refund of an
 * invoice (`membership_refund_failed`), the refund was still unfinished at its deadline
 * (`membership_refund_overdue`), an ended membership's invoice could not be voided for weeks
 * because its bank debit was still processing (`membership_void_stuck`), or an invoice's
 * charge is disputed (`dispute`, as every payment's dispute; resolved when Stripe closes it).
 */
export const SUBSCRIPTION_TICKET_REASONS = [
  "membership_refund_failed",
  "membership_refund_overdue",
  "membership_void_stuck",
  "dispute",
] as const;

/** One of {@link SUBSCRIPTION_TICKET_REASONS}. */
export type SubscriptionTicketReason = (typeof SUBSCRIPTION_TICKET_REASONS)[number];

/** A subscription's notices go to its person, and a dispute's to the platform's admins. */
export type SubscriptionAudience =
  | { readonly kind: "people"; readonly personIds: readonly PersonId[] }
  | { readonly kind: "platform_admins" };

type PlanAddressed = EffectAddress<typeof PLAN_AGGREGATE>;
type Addressed = EffectAddress<typeof SUBSCRIPTION_AGGREGATE>;

/** What a plan asks Stripe to do. Each effect id is the call's idempotency key. */
export type PlanEffect =
  | (PlanAddressed & {
      /**
       * Create revision `revision` of a price: the plan's product (id `productId`, created if
       * missing) and a recurring price on it.
       */
      readonly kind: "create_plan_price";
      readonly productId: string;
      readonly productName: string;
      readonly key: string;
      readonly revision: number;
      readonly currency: CurrencyCode;
      readonly interval: PlanInterval;
      readonly amountMinor: number;
    })
  | (PlanAddressed & {
      /** Bring the product in line with the plan (its name; inactive once archived). */
      readonly kind: "update_plan_product";
      readonly productId: string;
      readonly name: string;
      readonly active: boolean;
    });

/** Stripe metadata on the subscription and its Checkout Session: names the aggregate. */
export interface SubscriptionMetadata {
  readonly aggregate: typeof SUBSCRIPTION_AGGREGATE;
  readonly subscriptionId: string;
  readonly personId: string;
}

/**
 * What a subscription asks Stripe to do, as data. Every effect id (see `subscriptionIds`)
 * is the Stripe `Idempotency-Key` of its call.
 */
export type SubscriptionEffect =
  | (Addressed & {
      /**
       * Create the Stripe subscription charged to a saved payment method
       * (`default_payment_method`, `payment_behavior: allow_incomplete`: the first invoice is
       * paid at once off session; a decline or 3-D Secure leaves it `incomplete` and the
       * invoice's events say what to do).
       */
      readonly kind: "create_subscription";
      readonly stripeCustomerId: string;
      readonly stripePriceId: string;
      readonly paymentMethodId: string;
      readonly trialDays: number;
      readonly metadata: SubscriptionMetadata;
    })
  | (Addressed & {
      /** A Checkout Session in subscription mode: the person pays (and saves a card) on Stripe's page. */
      readonly kind: "create_subscription_checkout";
      readonly stripeCustomerId: string;
      readonly stripePriceId: string;
      readonly trialDays: number;
      readonly successUrl: string;
      readonly cancelUrl: string;
      readonly metadata: SubscriptionMetadata;
    })
  | (Addressed & {
      /**
       * Expire the Checkout Session that would start the subscription (its page can no
       * longer be paid): the membership was canceled before the person paid.
       */
      readonly kind: "expire_subscription_checkout";
      readonly sessionId: string;
    })
  | (Addressed & {
      /** Move the subscription's one item to another price, prorated (`proration_behavior`). */
      readonly kind: "change_subscription_price";
      readonly stripeSubscriptionId: string;
      readonly stripePriceId: string;
      readonly prorationBehavior: "always_invoice" | "create_prorations" | "none";
    })
  | (Addressed & {
      /** Cancel now (`now`), or set `cancel_at_period_end` (true: cancel at period end; false: resume). */
      readonly kind: "cancel_subscription";
      readonly stripeSubscriptionId: string;
      readonly mode: "now" | "at_period_end" | "resume";
    })
  | (Addressed & {
      /**
       * Void invoice `stripeInvoiceId`, still unpaid when Stripe ended the subscription:
       * Stripe's cancel stops collecting it, but its hosted page could still be paid (money
       * for a membership that cannot come back, which susu would refund). An invoice paid
       * meanwhile cannot be voided: its payment is refunded as its news comes.
       */
      readonly kind: "void_subscription_invoice";
      readonly stripeInvoiceId: string;
    })
  | (Addressed & {
      /**
       * Charge the subscription on `paymentMethodId` from now on (its `default_payment_method`,
       * used before the customer's default by renewals and by dunning's next retry of an open
       * invoice).
       */
      readonly kind: "set_subscription_payment_method";
      readonly stripeSubscriptionId: string;
      readonly paymentMethodId: string;
    })
  | (Addressed & {
      /**
       * Refund in full every payment invoice `stripeInvoiceId` collected (Stripe's invoice
       * payments; each PaymentIntent's refund keyed `<effect id>:<payment intent>`): the
       * invoice was paid after the membership was canceled before it started, or after Stripe
       * ended the subscription (an open invoice paid late on its hosted page).
       */
      readonly kind: "refund_subscription_invoice";
      readonly stripeInvoiceId: string;
      readonly amountMinor: number;
      readonly currency: CurrencyCode;
    })
  | ScheduleTimerEffect<typeof SUBSCRIPTION_AGGREGATE, SubscriptionTimer>
  | NotifyEffect<typeof SUBSCRIPTION_AGGREGATE, SubscriptionNotificationTemplate, SubscriptionAudience>
  | OpenTicketEffect<typeof SUBSCRIPTION_AGGREGATE, SubscriptionTicketReason>
  | ResolveTicketEffect<typeof SUBSCRIPTION_AGGREGATE>
  | PostLedgerEffect;

/** One effect kind of {@link SubscriptionEffect}. */
export type SubscriptionEffectKind = SubscriptionEffect["kind"];
