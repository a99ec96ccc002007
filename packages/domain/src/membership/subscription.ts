import { defineTransitions } from "../kernel/transitions.js";
import type { CurrencyCode } from "../money/index.js";
import type { PersonId } from "../person/ids.js";
import type { Instant } from "../shared/time.js";
import type { PlanInterval } from "./plan-interval.js";

/**
 * A membership's status, in susu's words:
 *
 * - `incomplete`: asked for; Stripe has not been paid the first invoice (or the Checkout
 *   page is not finished);
 * - `trialing`, `active`: the membership grants its plan's entitlements;
 * - `past_due`: a renewal failed and Stripe retries (dunning); it still grants them;
 * - `lapsed`: the last retry failed (Stripe marked it `unpaid`, paused it, or canceled it
 *   for non-payment): it grants nothing; paying the open invoice makes it `active` again
 *   while Stripe keeps the subscription (once Stripe canceled it, `endedAt` set, a payment
 *   of the open invoice is refunded in full);
 * - `canceled`: ended by the person or an admin; final;
 * - `incomplete_expired`: the first payment never came (Stripe expires it after 23 hours,
 *   and a Checkout page after 24 hours unpaid), or Stripe refused to start it; final.
 */
export const SUBSCRIPTION_STATUSES = [
  "incomplete",
  "trialing",
  "active",
  "past_due",
  "lapsed",
  "canceled",
  "incomplete_expired",
] as const;
export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];

/** The statuses in which a membership grants its plan's entitlements. */
export const GRANTING_SUBSCRIPTION_STATUSES: readonly SubscriptionStatus[] = [
  "trialing",
  "active",
  "past_due",
];

/** The final statuses. */
export const ENDED_SUBSCRIPTION_STATUSES: readonly SubscriptionStatus[] = ["canceled", "incomplete_expired"];

/** Whether a membership in `status` grants its plan's entitlements. */
export function grantsEntitlements(status: SubscriptionStatus): boolean {
  return GRANTING_SUBSCRIPTION_STATUSES.includes(status);
}

/** Whether `status` is final. */
export function isSubscriptionEnded(status: SubscriptionStatus): boolean {
  return ENDED_SUBSCRIPTION_STATUSES.includes(status);
}

/**
 * Whether a membership still counts as its person's one membership: not ended, and not
 * lapsed with its Stripe subscription canceled (`endedAt` set). A person holds at most one
 * current membership; PostgreSQL enforces it with the partial unique index
 * `subscriptions_one_current_per_person_key`, whose predicate is this rule.
 */
export function isCurrentMembership(s: Pick<Subscription, "status" | "endedAt">): boolean {
  return !isSubscriptionEnded(s.status) && !(s.status === "lapsed" && s.endedAt !== undefined);
}

/** The payment method a membership is charged on, as far as susu knows (none: not known). */
export function billedPaymentMethodOf(s: Subscription): string | undefined {
  return s.paymentMethodId ?? (s.start.kind === "saved_method" ? s.start.paymentMethodId : undefined);
}

/**
 * Whether a membership used up its person's free trial: Stripe started it (a Stripe
 * subscription is recorded, and susu did not cancel it there for a cancel before the start)
 * with a trial, or it collected a payment. A Checkout page left unpaid, a first payment that
 * never came (no trial), or a membership canceled before it started gave nothing.
 */
export function usedTrialOrPaid(s: Subscription): boolean {
  if (s.stripeSubscriptionId === undefined || s.canceledBeforeStart === true) return false;
  if (s.trialDays > 0 || s.trialEnd !== undefined) return true;
  return s.invoices.some((i) => i.status === "paid" && i.amountPaidMinor > 0);
}

/**
 * The trial a person's new membership gets: the plan's, unless one of their earlier
 * memberships had a trial or was paid ({@link usedTrialOrPaid}): at most one free trial per
 * person, whatever plan it was on. Those start paid (0 days).
 */
export function trialDaysFor(planTrialDays: number, earlier: readonly Subscription[]): number {
  return earlier.some(usedTrialOrPaid) ? 0 : planTrialDays;
}

/**
 * The moves a subscription makes, and no other. Stripe's events may skip steps (and susu
 * may miss one), so each status may move to any later one its snapshot can report:
 *
 * - `incomplete →` `trialing`/`active` (first invoice paid or trial begun), `past_due` (a
 *   trial's or first renewal's failure seen before the start), `lapsed` (a lapse seen before
 *   the start: Stripe's events arrive in any order), `canceled`,
 *   `incomplete_expired`;
 * - `trialing → active`, `past_due`, `lapsed` (a trial that ended with no way to pay), `canceled`;
 * - `active → past_due`, `lapsed`, `canceled`;
 * - `past_due → active` (recovered), `lapsed` (last retry failed), `canceled`;
 * - `lapsed → active` (the open invoice was paid after all), `canceled`.
 */
const subscriptionTransitions = defineTransitions<SubscriptionStatus>("subscription", {
  incomplete: ["trialing", "active", "past_due", "lapsed", "canceled", "incomplete_expired"],
  trialing: ["active", "past_due", "lapsed", "canceled"],
  active: ["past_due", "lapsed", "canceled"],
  past_due: ["active", "lapsed", "canceled"],
  lapsed: ["active", "canceled"],
  canceled: [],
  incomplete_expired: [],
});

/** The subscription's transition table. */
export const SUBSCRIPTION_TRANSITIONS = subscriptionTransitions.table;

/** Whether `from → to` is allowed (staying put always is). */
export function isSubscriptionMoveAllowed(from: SubscriptionStatus, to: SubscriptionStatus): boolean {
  return subscriptionTransitions.allowed(from, to);
}

/** An invoice of the subscription, as Stripe's events told susu. */
export interface SubscriptionInvoice {
  readonly id: string;
  /** `void`: voided at Stripe (by susu after the end, by hand, or by Stripe): no longer owed. */
  readonly status: "open" | "paid" | "uncollectible" | "void";
  readonly amountDueMinor: number;
  readonly amountPaidMinor: number;
  readonly currency: CurrencyCode;
  /** Failed payment attempts heard of (Stripe's `attempt_count`). */
  readonly failedAttempts: number;
  /**
   * The invoice of a plan change (Stripe's `billing_reason: subscription_update`). Its failure
   * moves no status: Stripe holds the change until it is paid and the subscription goes on as
   * it was (or, for a change made before changes waited for their payment, Stripe's view says
   * where it stands); nor does it keep a past-due or lapsed membership from coming back.
   */
  readonly forChange?: true;
  /** The person was asked to authenticate its payment. */
  readonly actionRequested: boolean;
  readonly hostedInvoiceUrl?: string;
  readonly nextPaymentAttemptAt?: Instant;
  /**
   * When Stripe says it was paid (its `paid_at`), once heard: an end heard after the payment
   * but earlier than it refunds it ({@link Subscription.endedAt}). Absent in snapshots stored
   * before it was kept, and on invoices not paid.
   */
  readonly paidAt?: Instant;
  /**
   * Susu's refund of what the invoice collected, when it made one (an invoice paid after
   * the membership was canceled before it started, or after Stripe ended the subscription:
   * an open invoice paid late on its page): `requested` until every refund it made
   * has ended (`refundIds`, from the refund call's answer; until that answer is heard, until
   * the refunds heard add up to what the invoice collected; a pending refund is no news) or
   * Stripe refused one, then `succeeded` (every refund succeeded) or `failed` (one failed or
   * was refused: a ticket). A success Stripe failed afterwards makes it `failed` with
   * `failedAfterSuccess` (its posting reversed).
   */
  readonly refund?: SubscriptionInvoiceRefund;
  /**
   * Refunds of the invoice's charge made outside susu (Stripe's dashboard: they carry no susu
   * metadata), by refund id, each booked once. Absent: none heard of.
   */
  readonly outsideRefunds?: readonly OutsideRefund[];
  /** Disputes of the invoice's charge, by dispute id. Absent: none heard of. */
  readonly disputes?: readonly InvoiceDispute[];
  /**
   * Susu's voiding of the invoice, still unpaid when Stripe ended the subscription. Absent:
   * none asked since it was kept (a void asked before answers as call 1).
   */
  readonly voiding?: InvoiceVoiding;
}

/**
 * Susu's voiding of an ended membership's unpaid invoice. Each call is its own effect, keyed
 * `subscriptionIds.invoiceVoid(s, i, n)` (Stripe keeps a call's answer for its key, so a void
 * asked again after one Stripe could not make is a new call):
 *
 * - `requested`: call `calls` was asked, its answer not heard yet (`debitFailed`: a failure of
 *   the invoice's payment newer than the call was heard meanwhile, so an answer
 *   `payment_processing`, made before Stripe knew, asks again at once);
 * - `awaiting_debit`: Stripe answered that the invoice's bank debit is processing (a debit
 *   cannot be called back, so the invoice cannot be voided yet): its failure (or, with no news
 *   of it, the recheck timer) asks again; its success is a payment after the end, refunded;
 * - `ended`: Stripe voided it, or answered that it is no longer unpaid (paid: refunded as its
 *   news comes; void already).
 */
export interface InvoiceVoiding {
  readonly calls: number;
  readonly status: "requested" | "awaiting_debit" | "ended";
  /** A failure of the invoice's payment heard while call `calls` waited for its answer. */
  readonly debitFailed?: true;
  /**
   * Stripe's time of the newest failure of the invoice's payment the voiding heard (kept from
   * call to call): a failure no newer (its event redelivered, or an older one heard late) is no
   * news of a debit. Absent: none heard, or stored before it was kept.
   */
  readonly lastFailureAt?: Instant;
}

/** A refund of an invoice's charge made outside susu, as heard. */
export interface OutsideRefund {
  readonly refundId: string;
  /** Stripe's amount of the refund. */
  readonly amountMinor: number;
  /** `failed` is final: a success heard after it is older news. */
  readonly status: "succeeded" | "failed";
  readonly failureCode?: string;
  /**
   * What its success booked (`membership_refunded_outside_susu`): its amount, less what the
   * invoice's books had given back already (susu's own refund of the same money, reported
   * first), and what its rest booked since (`restMinor`). Undone when Stripe fails it
   * afterwards. 0: nothing booked.
   */
  readonly postedMinor: number;
  /** What of it the books have not booked yet, and how many times its rest was booked: see {@link UnbookedRest}. */
  readonly rest?: UnbookedRest;
}

/**
 * The part of a refund, or of a dispute's loss, that Stripe moved but the books could not
 * book yet: the books still counted that money as given back by a refund Stripe has failed
 * since, unheard (the cap by what the invoice still counts as revenue,
 * {@link invoiceRevenueLeftMinor}). When a failure (or a dispute won) puts money back into
 * that revenue left, the rest is booked, as much as it frees, under the refund's or the
 * dispute's own id (`…:rest`, then `…:rest-2`, …): refunds' rests first, then disputes'
 * (closed lost, Stripe gives back the part of a dispute that refunds standing hold, so a
 * refund's claim on the charge comes first), a dispute's only out of what a refund's failure
 * freed. A failure of the refund itself, or the dispute won, drops it. Absent: none (a
 * dispute stored before it was kept: see `disputeRest`).
 */
export interface UnbookedRest {
  /** Not booked yet. */
  readonly unbookedMinor: number;
  /** Postings of the rest so far (their ids count them). */
  readonly postings: number;
}

/** A dispute of an invoice's charge, as heard. */
export interface InvoiceDispute {
  readonly disputeId: string;
  readonly amountMinor: number;
  /** Stripe's status as last reported (`needs_response`, `warning_needs_response`, `lost`, …). */
  readonly stripeStatus: string;
  /** Only Stripe's closure closes it. */
  readonly status: "open" | "won" | "lost";
  /**
   * What the books hold as taken back by the bank (`membership_dispute_lost`): booked when
   * Stripe withdrew the money (a chargeback's opening, or its closure lost), at most what the
   * invoice still counted as revenue then, and what its rest booked since; undone when won.
   */
  readonly lossMinor: number;
  /**
   * What of the disputed amount the books had no room for when Stripe withdrew it, booked
   * when a refund's failure frees room (see {@link UnbookedRest}). Absent: none, but for a
   * snapshot stored before it was kept, read through `disputeRest`.
   */
  readonly rest?: UnbookedRest;
}

/**
 * What invoice `inv`'s books still count as the platform's: what it collected, less what
 * susu's own refund posted, refunds made outside susu booked, and disputes' losses booked.
 * No refund or dispute books more than this.
 */
export function invoiceRevenueLeftMinor(inv: SubscriptionInvoice): number {
  const susu = inv.refund === undefined || inv.refund.status === "requested" ? 0 : invoiceRefundedMinor(inv);
  const outside = (inv.outsideRefunds ?? []).reduce((n, r) => n + r.postedMinor, 0);
  const disputes = (inv.disputes ?? []).reduce((n, x) => n + x.lossMinor, 0);
  return Math.max(0, inv.amountPaidMinor - susu - outside - disputes);
}

/** Where susu's refund of an invoice's payments stands. */
export interface SubscriptionInvoiceRefund {
  readonly status: "requested" | "succeeded" | "failed";
  /** Stripe's refund heard of last, once an answer or an event named one. */
  readonly refundId?: string;
  /** Why Stripe refused or failed it (the first refund that failed). */
  readonly failureCode?: string;
  /** A refund had succeeded (and was posted), then Stripe failed it. */
  readonly failedAfterSuccess?: true;
  /**
   * How each payment's refund ended, as heard (Stripe refunds each of the invoice's
   * PaymentIntents apart). Absent in snapshots stored before refunds were kept per payment:
   * their outcome was the invoice's as a whole.
   */
  readonly payments?: readonly SubscriptionPaymentRefund[];
  /**
   * Every refund the refund call made (one per payment, from its answer); absent until the
   * answer is heard. The refunds need not add up to what the invoice collected (a payment
   * partly refunded outside susu before).
   */
  readonly refundIds?: readonly string[];
  /**
   * The refund ended before refunds were kept per payment and its success posted all the
   * invoice collected at once: `payments` lists only the refunds Stripe failed after that
   * success, each reversed once.
   */
  readonly postedWhole?: true;
  /**
   * Stripe named one of its refunds with an amount other than the one stored for it: the
   * refund call's answer was stored before the gateway named each refund of a payment
   * refunded already (the first named, with what they gave back together). Whose money the
   * books count then cannot be told apart, so no refund of the invoice books its rest
   * nor any dispute of it ({@link UnbookedRest}): the books stay as they were before rests were kept.
   */
  readonly summedAnswer?: true;
  /**
   * The refund was still `requested` at its deadline (`MEMBERSHIP_REFUND_OVERDUE_MS` after
   * it was asked for) and a person was given a ticket. It still ends as Stripe's news comes.
   */
  readonly overdue?: true;
  /**
   * Kept by snapshots stored before `untold` replaced it (the person was told their money was
   * back); no longer written, and read as its absence from `untold` says.
   */
  readonly told?: true;
  /**
   * The refund ended without the person being told their money was back (a refund failed):
   * a refund Stripe fails after it had succeeded is then not told to them as a reversal.
   * Absent (snapshots stored before it was kept included): they are taken to have been told,
   * and hear of any such reversal.
   */
  readonly untold?: true;
  /**
   * When the refund's deadline timer fires (`refund_overdue`). Absent in snapshots stored
   * before it was recorded: the subscription's next decision arms the timer and records it.
   */
  readonly deadlineAt?: Instant;
}

/** How the refund of one of an invoice's payments ended. */
export interface SubscriptionPaymentRefund {
  /** Stripe's refund; none when Stripe refused to make one (the refund call's definite error). */
  readonly refundId?: string;
  readonly amountMinor: number;
  /** `failed` is final: a success heard after it is older news. */
  readonly status: "succeeded" | "failed";
  readonly failureCode?: string;
  /** Its success is in the ledger (a `membership_invoice_refunded` posting). */
  readonly posted?: true;
  /**
   * What that posting holds of it, when less than its amount: the invoice's books had given
   * that money back already (a refund made outside susu booked first: Stripe answers susu's
   * refund call with the refunds made before it) or a dispute had taken it. A failure Stripe
   * reports after its success reverses this much. Absent: all of its amount (when `posted`).
   */
  readonly postedMinor?: number;
  /**
   * What of it the ending's posting could not book (the books still counted the money as
   * given back by another refund, which Stripe failed since) and is booked when room frees;
   * what it books since is in `postedMinor`. See {@link UnbookedRest}.
   */
  readonly rest?: UnbookedRest;
}

/** What the ledger holds of one payment's refund as susu's (0 unless its success was posted). */
export function paymentRefundPostedMinor(p: SubscriptionPaymentRefund): number {
  return p.posted === true ? (p.postedMinor ?? p.amountMinor) : 0;
}

/**
 * How much of refund `refundId` of invoice `inv` a refund made outside susu may not book: the
 * refund is also one of susu's refund's (Stripe's answer to susu's refund call named it, the
 * payment being refunded already) and susu's refund posted this much of it (or keeps it as its
 * rest, to book when room frees); or susu's refund
 * heard it failed, so a success is older news and books nothing. 0: susu's refund has not
 * posted it (its posting, when the refund ends, leaves out what the outside path booked).
 */
export function susuRefundHoldsMinor(inv: SubscriptionInvoice, refundId: string): number {
  const p = (inv.refund?.payments ?? []).find((x) => x.refundId === refundId);
  if (p === undefined) return 0;
  return p.status === "failed" ? p.amountMinor : paymentRefundPostedMinor(p) + (p.rest?.unbookedMinor ?? 0);
}

/**
 * What susu's refund of invoice `inv` has given back to the person so far: while it runs, the
 * refunds Stripe reported succeeded; once it has ended, what the ledger holds as refunded
 * (what the successes posted, less those Stripe failed afterwards: a success beyond what the
 * invoice collected is not posted, so not counted, and one the books had given back already
 * counts what it posted); never more than the invoice collected. A
 * snapshot stored before refunds were kept per payment says only the invoice's outcome: a
 * success gave back all it collected, less each refund failed afterwards (`postedWhole`); a
 * failure after that success without `payments` is taken as all of it reversed (as the ledger
 * takes it).
 */
export function invoiceRefundedMinor(inv: SubscriptionInvoice): number {
  const refund = inv.refund;
  if (refund === undefined) return 0;
  const payments = refund.payments ?? [];
  const back =
    refund.postedWhole === true
      ? inv.amountPaidMinor - payments.reduce((n, p) => n + p.amountMinor, 0)
      : refund.payments === undefined
        ? refund.status === "succeeded"
          ? inv.amountPaidMinor
          : 0
        : payments.reduce(
            (n, p) =>
              n +
              (p.status !== "succeeded"
                ? 0
                : refund.status === "requested"
                  ? p.amountMinor
                  : paymentRefundPostedMinor(p)),
            0,
          );
  return Math.max(0, Math.min(back, inv.amountPaidMinor));
}

/** The plan price a subscription is on. */
export interface SubscribedPrice {
  readonly planId: string;
  readonly priceKey: string;
  readonly revision: number;
  readonly stripePriceId: string;
  readonly currency: CurrencyCode;
  readonly interval: PlanInterval;
  readonly amountMinor: number;
}

/**
 * A change of price the person asked for that Stripe has not made yet. The membership stays
 * on its `price` (and its plan's entitlements) until Stripe confirms the change (the change
 * call's answer, or a view of the subscription naming the new price); Stripe's definite
 * refusal clears it and tells the person.
 */
export interface PendingPriceChange {
  /** Which change it is (its effect and Stripe call are keyed `<s>:change:<change>`). */
  readonly change: number;
  readonly price: SubscribedPrice;
  readonly requestedAt: Instant;
  /**
   * Stripe holds the change until its invoice is paid (a pending update: its payment failed or
   * waits for the person to authenticate), as a view of the subscription showed. Absent: no
   * view showed it held (yet).
   */
  readonly awaitingPayment?: ChangeAwaitingPayment;
  /**
   * Stripe's time of the newest view of a held update expiring (`pending_update_expired`),
   * heard at or after the request while no view had shown this change held (its answer lost,
   * its held view late): a held update of this change shown afterwards that expired by then was
   * discarded unpaid. Absent: none heard so (or stored before it was kept).
   */
  readonly expiredSeenAt?: Instant;
}

/**
 * A change Stripe holds until its invoice is paid. A later view with no such update and not
 * the new price says Stripe discarded it unpaid: observed at or after `expiresAt`, or after
 * the view that showed it held (`seenAt`).
 */
export interface ChangeAwaitingPayment {
  /** Stripe's time the update expires unpaid. */
  readonly expiresAt: Instant;
  /** The invoice it waits for, when the view named it. */
  readonly invoiceId?: string;
  /** Stripe's time of the first event's view that showed it held (none: only the call's answer did). */
  readonly seenAt?: Instant;
}

/** How the membership was started: charged to a saved payment method, or through Stripe Checkout. */
export type SubscriptionStart =
  | { readonly kind: "saved_method"; readonly paymentMethodId: string }
  | {
      readonly kind: "checkout";
      readonly successUrl: string;
      readonly cancelUrl: string;
      readonly sessionId?: string;
      readonly url?: string;
    };

/** A person's membership of the platform: one Stripe subscription of one plan price. */
export interface Subscription {
  readonly id: string;
  readonly personId: PersonId;
  readonly stripeCustomerId: string;
  readonly status: SubscriptionStatus;
  readonly price: SubscribedPrice;
  readonly trialDays: number;
  readonly start: SubscriptionStart;
  /** The Stripe subscription, once Stripe reported it. */
  readonly stripeSubscriptionId?: string;
  /**
   * Canceled before Stripe started it (its Checkout page not paid yet, as far as susu
   * knew): a Stripe subscription started after all is canceled there, and every invoice
   * paid after the cancel is refunded in full (`invoices[].refund`).
   */
  readonly canceledBeforeStart?: boolean;
  /**
   * The payment method the Stripe subscription is charged on (its own
   * `default_payment_method`, which Stripe uses before the customer's default): the last one
   * susu asked for (the person's new default card), or Stripe's view of it. Absent: the
   * saved method it was started with, if any (see {@link billedPaymentMethodOf}).
   */
  readonly paymentMethodId?: string;
  /** Changes of that payment method asked for so far (the next is `+ 1`). Absent: none. */
  readonly paymentMethodChanges?: number;
  /**
   * The card Stripe was asked to charge instead (`set_subscription_payment_method`, change
   * `change`), until Stripe's view names it (the call's answer, or a view observed at or after
   * `requestedAt`): meanwhile `paymentMethodId` still names the card Stripe charges (a call
   * parked leaves it so). Absent: none waiting (or stored before it was kept).
   */
  readonly pendingPaymentMethod?: {
    readonly change: number;
    readonly paymentMethodId: string;
    readonly requestedAt: Instant;
  };
  /** The subscription will cancel when the period ends (a resume clears it). */
  readonly cancelAtPeriodEnd: boolean;
  readonly currentPeriodEnd?: Instant;
  readonly trialEnd?: Instant;
  /** The trial end the person was told of (Stripe's `trial_will_end`). */
  readonly trialNoticeFor?: Instant;
  /**
   * Stripe's time of the latest news applied (a view of the subscription, an invoice's
   * payment or failure): older news does not move the status.
   */
  readonly observedAt?: Instant;
  /**
   * The price's floor: the second (Stripe's time, whole seconds) of the request of the last
   * plan change Stripe confirmed. Stripe made that change at or after it, so a view older than
   * it, or with no Stripe time, does not move `price` or `currentPeriodEnd` (a change of
   * interval moves the period); its status still counts if it is newer than `observedAt`.
   * Absent: no change confirmed since it was kept. Snapshots stored before it had their
   * `observedAt` raised to that second instead, which keeps serving as both floors.
   */
  readonly priceObservedAt?: Instant;
  readonly invoices: readonly SubscriptionInvoice[];
  /** Price changes asked for so far (the next is `changes + 1`). */
  readonly changes: number;
  /**
   * The change asked for and not yet made at Stripe (at most one at a time). Absent in
   * snapshots stored before changes waited for Stripe: their `price` was written when asked.
   */
  readonly pendingChange?: PendingPriceChange;
  /** Cancel and resume requests so far. */
  readonly cancellations: number;
  /** How many times it lapsed. */
  readonly lapses: number;
  readonly lapsedAt?: Instant;
  readonly endedAt?: Instant;
  /** Why Stripe refused to start it (a definite refusal of the create call). */
  readonly failure?: { readonly code: string; readonly message: string };
  readonly createdAt: Instant;
  readonly version: number;
}

/** Moves a subscription — the one way its status changes; a move not in the table throws (a bug). */
export function moveSubscription(
  s: Subscription,
  to: SubscriptionStatus,
  patch: Partial<Omit<Subscription, "status">> = {},
): Subscription {
  subscriptionTransitions.assertMove(s.id, s.status, to);
  return { ...s, ...patch, status: to };
}
