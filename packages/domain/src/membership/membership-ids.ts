// Every id a plan and a subscription make, named once.
//
// These strings are stored: an effect id is the outbox's key and the Stripe
// `Idempotency-Key` of the call it makes (so a retried subscribe never subscribes twice, a
// retried price never makes two prices); a ledger transaction id is the ledger's key;
// notification ids are the keys the notifier sends once by. Changing a format is a data
// migration. `membership-ids.test.ts` pins every format with literal strings.
import type { PlanInterval } from "./plan-interval.js";

const notice = (s: string, template: string, key: string): string => `${s}:notify:${template}:${key}`;

/** The ids of a plan's effects and Stripe objects. */
export const planIds = Object.freeze({
  /** The Stripe product of a plan, an id susu chooses (created once, found again by it): `susu_plan_<p>`. */
  product: (p: string): string => `susu_plan_${p}`,
  /** The key of a plan's price in a currency and interval: `<currency>_<interval>`, lowercase. */
  priceKey: (currency: string, interval: PlanInterval): string => `${currency.toLowerCase()}_${interval}`,
  /** Creating revision r of a price (a new amount is a new Stripe price): `<p>:price:<key>:r<r>`. */
  price: (p: string, key: string, revision: number): string => `${p}:price:${key}:r${revision}`,
  /** Updating the product after version v of the plan (name, archived): `<p>:product:v<v>`. */
  productUpdate: (p: string, version: number): string => `${p}:product:v${version}`,
});

/** The ids of a subscription's effects, postings and notices. */
export const subscriptionIds = Object.freeze({
  /** Creating the Stripe subscription with a saved payment method: `<s>:create`. */
  create: (s: string): string => `${s}:create`,
  /** Creating the Checkout Session (mode subscription) that starts it: `<s>:checkout`. */
  checkout: (s: string): string => `${s}:checkout`,
  /** Expiring the Checkout Session of a membership canceled before it was paid: `<s>:checkout:expire`. */
  checkoutExpiry: (s: string): string => `${s}:checkout:expire`,
  /** Change n of the subscription's price (with proration): `<s>:change:<n>`. */
  change: (s: string, n: number): string => `${s}:change:${n}`,
  /** Request n to cancel now, cancel at period end or resume: `<s>:cancel:<n>`. */
  cancellation: (s: string, n: number): string => `${s}:cancel:${n}`,
  /** Change n of the payment method the subscription is charged on: `<s>:payment-method:<n>`. */
  paymentMethod: (s: string, n: number): string => `${s}:payment-method:${n}`,
  /**
   * Refunding in full what invoice i collected (paid after the membership was canceled
   * before it started): `<s>:invoice:<i>:refund`. Each of the invoice's payments is refunded
   * under `<s>:invoice:<i>:refund:<payment intent>`.
   */
  invoiceRefund: (s: string, invoiceId: string): string => `${s}:invoice:${invoiceId}:refund`,
  /**
   * Void call n of invoice i, still unpaid when Stripe ended the subscription:
   * `<s>:invoice:<i>:void` (n = 1), then `…:void:<n>` (asked again after Stripe could not void
   * it while its bank debit was processing).
   */
  invoiceVoid: (s: string, invoiceId: string, n = 1): string =>
    `${s}:invoice:${invoiceId}:void${n > 1 ? `:${n}` : ""}`,
  /** The timer that asks again when void call n was answered `payment_processing`: `<s>:invoice:<i>:void:<n>:recheck`. */
  invoiceVoidRecheck: (s: string, invoiceId: string, n: number): string =>
    `${s}:invoice:${invoiceId}:void:${n}:recheck`,
  /** The support ticket of invoice i's void still waiting for its bank debit after weeks: `<s>:invoice:<i>:void:stuck:ticket`. */
  invoiceVoidStuckTicket: (s: string, invoiceId: string): string =>
    `${s}:invoice:${invoiceId}:void:stuck:ticket`,
  /**
   * The deadline timer of invoice i's refund (still unfinished then: a ticket):
   * `<s>:invoice:<i>:refund:overdue`.
   */
  invoiceRefundDeadline: (s: string, invoiceId: string): string => `${s}:invoice:${invoiceId}:refund:overdue`,
  /** The support ticket of invoice i's refund still unfinished at its deadline: `<s>:invoice:<i>:refund:overdue:ticket`. */
  invoiceRefundOverdueTicket: (s: string, invoiceId: string): string =>
    `${s}:invoice:${invoiceId}:refund:overdue:ticket`,
  /** The support ticket of invoice i's refund that failed or was refused: `<s>:invoice:<i>:refund:ticket`. */
  invoiceRefundTicket: (s: string, invoiceId: string): string => `${s}:invoice:${invoiceId}:refund:ticket`,
  /**
   * The support ticket of refund r of invoice i that failed after the invoice's refund had
   * ended (a success Stripe failed later): `<s>:invoice:<i>:refund:<r>:ticket`.
   */
  paymentRefundTicket: (s: string, invoiceId: string, refundId: string): string =>
    `${s}:invoice:${invoiceId}:refund:${refundId}:ticket`,
  /**
   * The support ticket of dispute d of invoice i's charge, opened when the dispute is heard
   * open and resolved when Stripe closes it: `<s>:invoice:<i>:dispute:<d>:ticket`.
   */
  disputeTicket: (s: string, invoiceId: string, disputeId: string): string =>
    `${s}:invoice:${invoiceId}:dispute:${disputeId}:ticket`,
  /** Resolving that ticket when Stripe closed the dispute: `<s>:invoice:<i>:dispute:<d>:ticket:resolve`. */
  disputeTicketResolved: (s: string, invoiceId: string, disputeId: string): string =>
    `${s}:invoice:${invoiceId}:dispute:${disputeId}:ticket:resolve`,
  /** Ledger ids. */
  ledger: Object.freeze({
    /** Invoice i was paid: `<s>:invoice:<i>:paid`. */
    invoicePaid: (s: string, invoiceId: string): string => `${s}:invoice:${invoiceId}:paid`,
    /** Invoice i's payment was refunded by susu: `<s>:invoice:<i>:refunded`. */
    invoiceRefunded: (s: string, invoiceId: string): string => `${s}:invoice:${invoiceId}:refunded`,
    /**
     * Refund r of invoice i succeeded after the invoice's refund had ended (another payment's
     * refund was refused): `<s>:invoice:<i>:refunded:<r>`.
     */
    paymentRefunded: (s: string, invoiceId: string, refundId: string): string =>
      `${s}:invoice:${invoiceId}:refunded:${refundId}`,
    /**
     * Refund r of invoice i had succeeded and was posted, then Stripe failed it; its posting
     * reversed: `<s>:invoice:<i>:refund-failed:<r>`.
     */
    paymentRefundFailed: (s: string, invoiceId: string, refundId: string): string =>
      `${s}:invoice:${invoiceId}:refund-failed:${refundId}`,
    /** Refund r of invoice i's charge, made outside susu (Stripe's dashboard), succeeded: `<s>:invoice:<i>:refunded-outside:<r>`. */
    refundedOutside: (s: string, invoiceId: string, refundId: string): string =>
      `${s}:invoice:${invoiceId}:refunded-outside:${refundId}`,
    /**
     * The rest of refund r made outside susu (see `UnbookedRest`), booked the n-th time:
     * `<s>:invoice:<i>:refunded-outside:<r>:rest` (n = 1), then `…:rest-<n>`.
     */
    refundedOutsideRest: (s: string, invoiceId: string, refundId: string, n: number): string =>
      `${s}:invoice:${invoiceId}:refunded-outside:${refundId}:rest${n > 1 ? `-${n}` : ""}`,
    /**
     * The rest of refund r of susu's refund of invoice i, booked the n-th time:
     * `<s>:invoice:<i>:refunded:<r>:rest` (n = 1), then `…:rest-<n>`.
     */
    paymentRefundRest: (s: string, invoiceId: string, refundId: string, n: number): string =>
      `${s}:invoice:${invoiceId}:refunded:${refundId}:rest${n > 1 ? `-${n}` : ""}`,
    /** That refund r failed after its success, its posting undone: `<s>:invoice:<i>:refunded-outside:<r>:failed`. */
    outsideRefundFailed: (s: string, invoiceId: string, refundId: string): string =>
      `${s}:invoice:${invoiceId}:refunded-outside:${refundId}:failed`,
    /** Dispute d of invoice i's charge took the money: `<s>:invoice:<i>:dispute:<d>:lost`. */
    disputeLost: (s: string, invoiceId: string, disputeId: string): string =>
      `${s}:invoice:${invoiceId}:dispute:${disputeId}:lost`,
    /**
     * The rest of dispute d's loss (see `UnbookedRest`), booked the n-th time:
     * `<s>:invoice:<i>:dispute:<d>:lost:rest` (n = 1), then `…:rest-<n>`.
     */
    disputeLostRest: (s: string, invoiceId: string, disputeId: string, n: number): string =>
      `${s}:invoice:${invoiceId}:dispute:${disputeId}:lost:rest${n > 1 ? `-${n}` : ""}`,
    /** Dispute d, whose loss was booked, was won: `<s>:invoice:<i>:dispute:<d>:won`. */
    disputeWon: (s: string, invoiceId: string, disputeId: string): string =>
      `${s}:invoice:${invoiceId}:dispute:${disputeId}:won`,
  }),
  /** Notification ids: `<s>:notify:<template>:<key>`. */
  notice: Object.freeze({
    /** The trial ending at `trialEnd` (epoch ms). */
    trialEnding: (s: string, trialEnd: number): string => notice(s, "membership_trial_ending", `${trialEnd}`),
    /** Attempt k of invoice i failed. */
    paymentFailed: (s: string, invoiceId: string, attempt: number): string =>
      notice(s, "membership_payment_failed", `${invoiceId}:${attempt}`),
    /** Invoice i's payment waits for the person (3-D Secure). */
    actionRequired: (s: string, invoiceId: string): string =>
      notice(s, "membership_payment_action_required", invoiceId),
    /** The n-th lapse of the membership. */
    lapsed: (s: string, n: number): string => notice(s, "membership_lapsed", `${n}`),
    /**
     * The n-th lapse, told before Stripe ended the subscription (with the invoice to pay), is
     * told again as that end (`ended`), once.
     */
    lapseEnded: (s: string, n: number): string => notice(s, "membership_lapsed", `${n}:ended`),
    /** Invoice i's payment was refunded (the membership had been canceled before it started). */
    refunded: (s: string, invoiceId: string): string => notice(s, "membership_refunded", invoiceId),
    /**
     * Refund r of invoice i, which the person was told of (`membership_refunded`), was failed
     * by Stripe afterwards: the money did not reach them.
     */
    refundReversed: (s: string, invoiceId: string, refundId: string): string =>
      notice(s, "membership_refund_reversed", `${invoiceId}:${refundId}`),
    /** The admins are told dispute d of invoice i's charge was opened (or first heard of open). */
    disputeOpened: (s: string, invoiceId: string, disputeId: string): string =>
      notice(s, "dispute_opened", `${invoiceId}:${disputeId}`),
    /** The admins are told how dispute d of invoice i's charge was closed. */
    disputeClosed: (s: string, invoiceId: string, disputeId: string): string =>
      notice(s, "dispute_closed", `${invoiceId}:${disputeId}`),
    /** Stripe refused change n of the price (the person keeps their plan). */
    changeRefused: (s: string, n: number): string => notice(s, "membership_change_refused", `${n}`),
    /** Stripe refused change n of the card the subscription is charged on (it stays on its card). */
    cardChangeRefused: (s: string, n: number): string => notice(s, "membership_card_change_refused", `${n}`),
  }),
});
