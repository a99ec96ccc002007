import { err, ok, type Result } from "neverthrow";
import type { Decision } from "../kernel/decision.js";
import { ignore } from "../kernel/decision.js";
import { textLengthWithin } from "../kernel/text.js";
import {
  membershipInvoicePaid,
  membershipInvoiceRefunded,
  membershipInvoiceRefundFailed,
} from "../ledger/membership-movements.js";
import { money } from "../money/index.js";
import type { PersonId } from "../person/ids.js";
import {
  MEMBERSHIP_REFUND_OVERDUE_MS,
  MEMBERSHIP_VOID_CALLS_BEFORE_TICKET,
  MEMBERSHIP_VOID_RECHECK_MS,
} from "../policy/membership-policy.js";
import { type Instant, isoString } from "../shared/time.js";
import { type MembershipError, membershipError } from "./membership.errors.js";
import {
  SUBSCRIPTION_AGGREGATE,
  type SubscriptionEffect,
  type SubscriptionNotificationTemplate,
  type SubscriptionTicketReason,
} from "./membership-effect.js";
import { subscriptionIds } from "./membership-ids.js";
import {
  billedPaymentMethodOf,
  type ChangeAwaitingPayment,
  invoiceRefundedMinor,
  invoiceRevenueLeftMinor,
  isSubscriptionEnded,
  isSubscriptionMoveAllowed,
  moveSubscription,
  type PendingPriceChange,
  paymentRefundPostedMinor,
  type SubscribedPrice,
  type Subscription,
  type SubscriptionInvoice,
  type SubscriptionInvoiceRefund,
  type SubscriptionPaymentRefund,
  type SubscriptionStart,
  type SubscriptionStatus,
} from "./subscription.js";
import { bookRests, invoiceDisputed, post, refundedOutside } from "./subscription-charge-news.js";
import type { SubscriptionIgnoredCode } from "./subscription-ignored.js";
import type { InvoiceReport, SubscriptionInput, SubscriptionSnapshot } from "./subscription-input.js";
import type { SubscriptionTimer } from "./subscription-timer.js";

/** What deciding needs besides the state and the input. */
export interface SubscriptionDecideContext {
  readonly now: Instant;
}

export type SubscriptionDecision = Decision<Subscription, SubscriptionEffect, SubscriptionIgnoredCode>;

/** Longest return URL of a Checkout page. */
export const RETURN_URL_MAX_CHARS = 2_000;

/** What a person's new membership is. */
export interface NewSubscription {
  readonly id: string;
  readonly personId: PersonId;
  readonly stripeCustomerId: string;
  readonly price: SubscribedPrice;
  readonly trialDays: number;
  readonly start:
    | { readonly kind: "saved_method"; readonly paymentMethodId: string }
    | { readonly kind: "checkout"; readonly successUrl: string; readonly cancelUrl: string };
}

function isReturnUrl(url: string): boolean {
  if (!textLengthWithin(url, 1, RETURN_URL_MAX_CHARS)) return false;
  try {
    const u = new URL(url);
    return u.protocol === "https:" || u.protocol === "http:";
  } catch {
    return false;
  }
}

/** A new membership (`incomplete`) and the call that starts it at Stripe. */
export function createSubscription(
  command: NewSubscription,
  ctx: SubscriptionDecideContext,
): Result<SubscriptionDecision, MembershipError> {
  const start: SubscriptionStart = command.start;
  if (start.kind === "saved_method" && !textLengthWithin(start.paymentMethodId, 1, 255))
    return err(membershipError("invalid_subscription", "a payment method id is 1–255 characters"));
  if (start.kind === "checkout" && !(isReturnUrl(start.successUrl) && isReturnUrl(start.cancelUrl)))
    return err(
      membershipError(
        "invalid_subscription",
        `return URLs are http(s) URLs of at most ${RETURN_URL_MAX_CHARS} characters`,
      ),
    );
  const state: Subscription = {
    id: command.id,
    personId: command.personId,
    stripeCustomerId: command.stripeCustomerId,
    status: "incomplete",
    price: command.price,
    trialDays: command.trialDays,
    start,
    cancelAtPeriodEnd: false,
    invoices: [],
    changes: 0,
    cancellations: 0,
    lapses: 0,
    createdAt: ctx.now,
    version: 0,
  };
  const metadata = {
    aggregate: SUBSCRIPTION_AGGREGATE,
    subscriptionId: state.id,
    personId: state.personId,
  } as const;
  const address = { aggregate: SUBSCRIPTION_AGGREGATE, aggregateId: state.id } as const;
  const effect: SubscriptionEffect =
    start.kind === "saved_method"
      ? {
          ...address,
          kind: "create_subscription",
          id: subscriptionIds.create(state.id),
          stripeCustomerId: state.stripeCustomerId,
          stripePriceId: state.price.stripePriceId,
          paymentMethodId: start.paymentMethodId,
          trialDays: state.trialDays,
          metadata,
        }
      : {
          ...address,
          kind: "create_subscription_checkout",
          id: subscriptionIds.checkout(state.id),
          stripeCustomerId: state.stripeCustomerId,
          stripePriceId: state.price.stripePriceId,
          trialDays: state.trialDays,
          successUrl: start.successUrl,
          cancelUrl: start.cancelUrl,
          metadata,
        };
  return ok({ state, effects: [effect] });
}

/** How far along a status is: at the same Stripe time, a view never moves a subscription back. */
const RANK: Readonly<Record<SubscriptionStatus, number>> = {
  incomplete: 0,
  trialing: 1,
  active: 2,
  past_due: 3,
  lapsed: 4,
  canceled: 5,
  incomplete_expired: 5,
};

/** How far along Stripe's statuses are, on the same scale as {@link RANK}. */
const STRIPE_RANK: Readonly<Record<SubscriptionSnapshot["status"], number>> = {
  incomplete: 0,
  trialing: 1,
  active: 2,
  past_due: 3,
  unpaid: 4,
  paused: 4,
  canceled: 5,
  incomplete_expired: 5,
};

/** The status a Stripe snapshot means for a subscription now in `current`. */
export function statusFromSnapshot(
  current: SubscriptionStatus,
  snap: SubscriptionSnapshot,
): SubscriptionStatus {
  const wanted = ((): SubscriptionStatus => {
    switch (snap.status) {
      case "incomplete":
      case "incomplete_expired":
      case "trialing":
      case "active":
        return snap.status;
      case "past_due":
        // Susu lapses at the last failed attempt even where Stripe is told to leave it past due.
        return current === "lapsed" ? "lapsed" : "past_due";
      case "unpaid":
      case "paused":
        return "lapsed";
      case "canceled":
        // Canceled for non-payment (Stripe's reason, or none given while payments were failing) is a lapse.
        if (snap.cancellationReason === "payment_failed" || snap.cancellationReason === "payment_disputed")
          return "lapsed";
        if (snap.cancellationReason === undefined && (current === "past_due" || current === "lapsed"))
          return "lapsed";
        return "canceled";
    }
  })();
  return isSubscriptionMoveAllowed(current, wanted) ? wanted : current;
}

/** One decision in progress. */
class SubscriptionDraft {
  readonly effects: SubscriptionEffect[] = [];
  constructor(
    public state: Subscription,
    readonly now: Instant,
  ) {}

  set(patch: Partial<Omit<Subscription, "status">>): void {
    this.state = { ...this.state, ...patch };
  }

  /** The pending change is over (made or refused): the state no longer carries it. */
  clearPendingChange(): void {
    const { pendingChange: _done, ...rest } = this.state;
    this.state = rest;
  }

  /** Stripe charges the card it was asked to: recorded, nothing left waiting. */
  confirmPaymentMethod(paymentMethodId: string): void {
    const { pendingPaymentMethod: _done, ...rest } = this.state;
    this.state = { ...rest, paymentMethodId };
  }

  moveTo(to: SubscriptionStatus, patch: Partial<Omit<Subscription, "status">> = {}): void {
    if (to === this.state.status) {
      this.set(patch);
      return;
    }
    const from = this.state.status;
    this.state = moveSubscription(this.state, to, patch);
    if (to === "lapsed" && from !== "lapsed") {
      const n = this.state.lapses + 1;
      this.set({ lapses: n, lapsedAt: this.now });
      // Stripe ending the subscription for non-payment is a lapse for good: the person is told
      // it ended (`ended`), not to pay its invoice, which is being voided.
      this.notify(
        subscriptionIds.notice.lapsed(this.state.id, n),
        "membership_lapsed",
        this.state.endedAt !== undefined ? { ended: "yes" } : {},
      );
    }
    if (isSubscriptionEnded(to)) this.set({ endedAt: this.state.endedAt ?? this.now });
  }

  /** Records Stripe's time of the latest news applied. */
  observed(at: Instant): void {
    if (this.state.observedAt === undefined || at > this.state.observedAt) this.set({ observedAt: at });
  }

  notify(
    id: string,
    template: SubscriptionNotificationTemplate,
    data: Record<string, string | number>,
  ): void {
    const s = this.state;
    this.effects.push({
      kind: "notify",
      id,
      aggregate: SUBSCRIPTION_AGGREGATE,
      aggregateId: s.id,
      to: { kind: "people", personIds: [s.personId] },
      template,
      data: {
        subscriptionId: s.id,
        planId: s.price.planId,
        amountMinor: s.price.amountMinor,
        currency: s.price.currency,
        interval: s.price.interval,
        ...data,
      },
    });
  }

  timer(id: string, timer: SubscriptionTimer, at: Instant): void {
    this.effects.push({
      kind: "schedule_timer",
      id,
      aggregate: SUBSCRIPTION_AGGREGATE,
      aggregateId: this.state.id,
      at,
      timer,
    });
  }

  /** A notice to the platform's admins (a dispute of an invoice's charge). */
  tellAdmins(
    id: string,
    template: SubscriptionNotificationTemplate,
    data: Record<string, string | number>,
  ): void {
    const s = this.state;
    this.effects.push({
      kind: "notify",
      id,
      aggregate: SUBSCRIPTION_AGGREGATE,
      aggregateId: s.id,
      to: { kind: "platform_admins" },
      template,
      data: { subscriptionId: s.id, personId: s.personId, ...data },
    });
  }

  /** Resolves ticket `ticketId`, which the subscription opened (`id`: the effect's), as Stripe's news did what it asked. */
  resolveTicket(id: string, ticketId: string, note: string): void {
    this.effects.push({
      kind: "resolve_ticket",
      id,
      aggregate: SUBSCRIPTION_AGGREGATE,
      aggregateId: this.state.id,
      ticketId,
      by: "stripe",
      note,
    });
  }

  ticket(id: string, reason: SubscriptionTicketReason, summary: string): void {
    this.effects.push({
      kind: "open_ticket",
      id,
      aggregate: SUBSCRIPTION_AGGREGATE,
      aggregateId: this.state.id,
      reason,
      summary,
    });
  }

  invoice(report: InvoiceReport): SubscriptionInvoice {
    const known = this.state.invoices.find((i) => i.id === report.invoiceId);
    const forChange = report.forChange === true ? { forChange: true as const } : {};
    if (known !== undefined) return { ...known, ...forChange };
    return {
      id: report.invoiceId,
      status: "open",
      amountDueMinor: report.amountDueMinor,
      amountPaidMinor: 0,
      currency: report.currency,
      failedAttempts: 0,
      actionRequested: false,
      ...forChange,
    };
  }

  putInvoice(invoice: SubscriptionInvoice): void {
    const others = this.state.invoices.filter((i) => i.id !== invoice.id);
    const at = this.state.invoices.findIndex((i) => i.id === invoice.id);
    const invoices =
      at < 0 ? [...others, invoice] : this.state.invoices.map((i) => (i.id === invoice.id ? invoice : i));
    this.set({ invoices });
  }

  done(): Result<SubscriptionDecision, never> {
    this.#armMissingRefundDeadlines();
    return ok({ state: this.state, effects: this.effects });
  }

  /**
   * A refund still `requested` with no deadline on record (stored before deadlines were
   * recorded, so its timer may never have been armed) gets one from now, with its timer:
   * no refund stays unfinished without a ticket. This runs with every decision the
   * subscription takes, not on a sweep: a refund whose subscription hears nothing more keeps
   * waiting (the timer's id is the refund's, so one armed before is not doubled).
   */
  #armMissingRefundDeadlines(): void {
    for (const inv of this.state.invoices) {
      const refund = inv.refund;
      if (refund?.status !== "requested" || refund.overdue === true || refund.deadlineAt !== undefined)
        continue;
      const at = this.now + MEMBERSHIP_REFUND_OVERDUE_MS;
      this.putInvoice({ ...inv, refund: { ...refund, deadlineAt: at } });
      this.timer(
        subscriptionIds.invoiceRefundDeadline(this.state.id, inv.id),
        { kind: "refund_overdue", invoiceId: inv.id },
        at,
      );
    }
  }
}

/** Asks Stripe to expire the membership's Checkout Session. */
function expireCheckout(d: SubscriptionDraft, sessionId: string): void {
  const s = d.state;
  d.effects.push({
    kind: "expire_subscription_checkout",
    id: subscriptionIds.checkoutExpiry(s.id),
    aggregate: SUBSCRIPTION_AGGREGATE,
    aggregateId: s.id,
    sessionId,
  });
}

/**
 * Applies Stripe's view of the subscription. Its price wins: a view naming the pending
 * change's price confirms the change (the membership is on the new plan from then on); one
 * naming another price puts the membership on it (`resolved`, the catalogue's plan price, or
 * Stripe's price id alone when the catalogue does not know it).
 */
function applySnapshot(
  d: SubscriptionDraft,
  snap: SubscriptionSnapshot,
  resolved: SubscribedPrice | undefined,
): Result<SubscriptionDecision, never> | undefined {
  const s = d.state;
  if (
    s.status === "canceled" &&
    s.stripeSubscriptionId === undefined &&
    snap.status !== "canceled" &&
    snap.status !== "incomplete_expired"
  ) {
    // Canceled before its Checkout page finished, and started at Stripe after all: cancel it there too.
    // (Its invoices paid since are refunded as their news comes: see `invoicePaid`.)
    const n = s.cancellations + 1;
    d.set({ stripeSubscriptionId: snap.stripeSubscriptionId, cancellations: n, canceledBeforeStart: true });
    d.effects.push({
      kind: "cancel_subscription",
      id: subscriptionIds.cancellation(s.id, n),
      aggregate: SUBSCRIPTION_AGGREGATE,
      aggregateId: s.id,
      stripeSubscriptionId: snap.stripeSubscriptionId,
      mode: "now",
    });
    return d.done();
  }
  if (isSubscriptionEnded(s.status))
    return ignore(s, "subscription_ended", `subscription ${s.id} is ${s.status}`);
  if (s.stripeSubscriptionId !== undefined && s.stripeSubscriptionId !== snap.stripeSubscriptionId)
    return ignore(
      s,
      "other_subscription",
      `${snap.stripeSubscriptionId} is not ${s.id}'s Stripe subscription ${s.stripeSubscriptionId}`,
    );
  const target = statusFromSnapshot(s.status, snap);
  // Stripe made the pending change: this view names its price and is the change call's own
  // answer (no Stripe time; it comes after the call) or was observed once the change was asked.
  // A view from before the request naming that price says where Stripe was then, not that it
  // made this change (a late event of an earlier plan the person asks to go back to).
  const pending = s.pendingChange;
  const confirms =
    pending !== undefined &&
    snap.stripePriceId === pending.price.stripePriceId &&
    (snap.observedAt === undefined || observedSince(snap.observedAt, pending.requestedAt));
  // Stripe holds it until its invoice is paid (a pending update naming its price), or has
  // discarded it unpaid (see `ChangeAwaitingPayment`).
  const shown = pending !== undefined && !confirms ? heldUpdate(pending, snap) : undefined;
  // Shown held only now, but its expiry was heard already (the answer lost, the held view late).
  const expiredAlready = shown !== undefined && expiredBefore(shown);
  const held = expiredAlready ? undefined : shown;
  const discarded = pending !== undefined && !confirms && (expiredAlready || discardedUnpaid(pending, snap));
  // An expiry heard before any news of the change held: kept, for that news to be judged by.
  const expiry =
    pending !== undefined && !confirms && shown === undefined && !discarded
      ? expiryHeardFirst(pending, snap)
      : undefined;
  // Stripe charges the card it was asked to: its view names it, and is the call's answer (no
  // Stripe time) or observed at or after the request (an older view naming it says nothing of it).
  const askedMethod = s.pendingPaymentMethod;
  const methodConfirmed =
    askedMethod !== undefined &&
    snap.defaultPaymentMethodId === askedMethod.paymentMethodId &&
    (snap.observedAt === undefined || observedSince(snap.observedAt, askedMethod.requestedAt));
  const stale = staleness(s, snap);
  if (stale !== undefined) {
    if (methodConfirmed) d.confirmPaymentMethod(askedMethod.paymentMethodId);
    // A view too old for the status still says the change was made, held or discarded.
    if (confirms) {
      confirmChange(d, pending);
      return d.done();
    }
    if (held !== undefined) {
      d.set({ pendingChange: held });
      return d.done();
    }
    if (discarded) {
      dropUnpaidChange(d, pending);
      return d.done();
    }
    if (expiry !== undefined) {
      d.set({ pendingChange: expiry });
      return d.done();
    }
    return methodConfirmed ? d.done() : ignore(s, "stale_snapshot", stale);
  }
  // A view older than the request of the last change Stripe confirmed (or with no Stripe time,
  // once one was) still says where the status stands, but not the price nor its period: Stripe
  // has made that change since. Only a confirming view is sure to be at or after it.
  const priceStale =
    !confirms &&
    s.priceObservedAt !== undefined &&
    (snap.observedAt === undefined || snap.observedAt < s.priceObservedAt);
  const named = priceStale ? undefined : snap.stripePriceId;
  const periodEnd = priceStale ? undefined : snap.currentPeriodEnd;
  const price: SubscribedPrice | undefined = confirms
    ? pending.price
    : named === undefined || named === s.price.stripePriceId
      ? undefined
      : resolved?.stripePriceId === named
        ? resolved
        : { ...s.price, stripePriceId: named };
  const ends = snap.status === "canceled" || snap.status === "incomplete_expired";
  const patch: Partial<Omit<Subscription, "status">> = {
    // Canceled at Stripe (for good, even when susu calls it a lapse): when it ended, in Stripe's
    // time where the view says it (an invoice paid after it is refunded: `paidAfterEnd`).
    ...(ends ? { endedAt: snap.endedAt ?? s.endedAt ?? snap.observedAt ?? d.now } : {}),
    stripeSubscriptionId: snap.stripeSubscriptionId,
    cancelAtPeriodEnd: snap.cancelAtPeriodEnd,
    ...(periodEnd !== undefined ? { currentPeriodEnd: periodEnd } : {}),
    ...(snap.trialEnd !== undefined ? { trialEnd: snap.trialEnd } : {}),
    ...(price !== undefined ? { price } : {}),
    ...(snap.defaultPaymentMethodId !== undefined ? { paymentMethodId: snap.defaultPaymentMethodId } : {}),
  };
  const unchanged =
    target === s.status &&
    s.stripeSubscriptionId === snap.stripeSubscriptionId &&
    s.cancelAtPeriodEnd === snap.cancelAtPeriodEnd &&
    (periodEnd === undefined || periodEnd === s.currentPeriodEnd) &&
    (snap.trialEnd === undefined || snap.trialEnd === s.trialEnd) &&
    (snap.defaultPaymentMethodId === undefined || snap.defaultPaymentMethodId === s.paymentMethodId) &&
    price === undefined &&
    held === undefined &&
    !discarded &&
    expiry === undefined &&
    !methodConfirmed &&
    // Stripe ending the subscription is news even where susu's status stays (a lapse seen first).
    !((snap.status === "canceled" || snap.status === "incomplete_expired") && s.endedAt === undefined);
  if (unchanged && (snap.observedAt === undefined || snap.observedAt === s.observedAt))
    return ignore(s, "snapshot_unchanged", `${snap.stripeSubscriptionId} is ${snap.status} as recorded`);
  d.moveTo(target, patch);
  // A lapse told before this end (the last failure's event came first: "pay the open invoice to
  // restore it", with its page) is now an end, its unpaid invoice voided below: the person is told
  // it ended and there is nothing to pay, once (an end is heard once: `endedAt` is set now). A
  // lapse this end made was told as an end already (`moveTo`).
  if (ends && s.endedAt === undefined && s.status === "lapsed" && d.state.status === "lapsed")
    d.notify(subscriptionIds.notice.lapseEnded(s.id, s.lapses), "membership_lapsed", { ended: "yes" });
  if (methodConfirmed) d.confirmPaymentMethod(askedMethod.paymentMethodId);
  if (confirms) confirmChange(d, pending);
  else if (held !== undefined) d.set({ pendingChange: held });
  else if (discarded) dropUnpaidChange(d, pending);
  else if (expiry !== undefined) d.set({ pendingChange: expiry });
  // Ended at Stripe just now: its invoices still unpaid are voided, so their pages can no
  // longer be paid (a payment that beats the void is refunded: `paidAfterEnd`).
  if (ends && s.endedAt === undefined)
    for (const inv of d.state.invoices)
      if (inv.status !== "paid" && inv.status !== "void" && inv.voiding === undefined) askVoid(d, inv, 0);
  if (ends) {
    // A payment heard before this end but made after it (its news came first: the end's event
    // was retried, say) bought nothing either: refunded as one heard after the end is.
    if (s.endedAt === undefined)
      for (const inv of d.state.invoices)
        if (
          inv.status === "paid" &&
          inv.amountPaidMinor > 0 &&
          inv.paidAt !== undefined &&
          paidAfterEnd(d.state, inv.paidAt)
        )
          refundInvoice(d, inv.id, inv.amountPaidMinor);
  }
  if (snap.observedAt !== undefined) d.observed(snap.observedAt);
  return undefined;
}

/**
 * Asks Stripe to void invoice `inv`, unpaid after the membership ended: call `made + 1` (each
 * call its own key: Stripe keeps a call's answer, a refusal included, for its key). The
 * answer comes back as `invoice_void_answered`. The newest failure heard is kept (`lastFailureAt`).
 */
function askVoid(
  d: SubscriptionDraft,
  inv: SubscriptionInvoice,
  made: number,
  lastFailureAt: Instant | undefined = inv.voiding?.lastFailureAt,
): void {
  const s = d.state;
  const n = made + 1;
  d.putInvoice({
    ...inv,
    voiding: { calls: n, status: "requested", ...(lastFailureAt !== undefined ? { lastFailureAt } : {}) },
  });
  d.effects.push({
    kind: "void_subscription_invoice",
    id: subscriptionIds.invoiceVoid(s.id, inv.id, n),
    aggregate: SUBSCRIPTION_AGGREGATE,
    aggregateId: s.id,
    stripeInvoiceId: inv.id,
  });
}

/**
 * Stripe's answer to void call `voidId` of an invoice. `payment_processing`: the invoice's
 * bank debit is in flight and cannot be called back, so it was not voided; the void waits for
 * the debit (its failure asks again, see {@link voidAfterFailure}; its success is a payment
 * after the end, refunded) and a recheck timer asks again should no news of it come. Any other
 * answer (void; paid, refunded as its news comes; void already) ends the voiding.
 */
function voidAnswered(
  d: SubscriptionDraft,
  input: Extract<SubscriptionInput, { type: "invoice_void_answered" }>,
): Result<SubscriptionDecision, never> {
  const s = d.state;
  const inv = s.invoices.find((i) => i.id === input.invoiceId);
  // A void asked before voids were kept on the invoice answers as call 1.
  const voiding =
    inv?.voiding ??
    (inv !== undefined && input.voidId === subscriptionIds.invoiceVoid(s.id, inv.id, 1)
      ? { calls: 1, status: "requested" as const }
      : undefined);
  if (inv === undefined || voiding === undefined)
    return ignore(s, "void_not_requested", `susu did not ask to void invoice ${input.invoiceId}`);
  if (
    voiding.status !== "requested" ||
    input.voidId !== subscriptionIds.invoiceVoid(s.id, inv.id, voiding.calls)
  )
    return ignore(
      s,
      "void_already_answered",
      `${input.voidId} is not invoice ${inv.id}'s void waiting for its answer (call ${voiding.calls}, ${voiding.status})`,
    );
  if (input.status === "payment_processing" && inv.status !== "paid" && voiding.debitFailed === true) {
    // Answered before Stripe knew of the failure heard meanwhile: the debit is over, ask again now.
    askVoid(d, inv, voiding.calls);
    return d.done();
  }
  // The newest failure heard stays known (a failure no newer is no news of the debit waited for).
  const heard = voiding.lastFailureAt !== undefined ? { lastFailureAt: voiding.lastFailureAt } : {};
  if (input.status === "payment_processing" && inv.status !== "paid") {
    d.putInvoice({ ...inv, voiding: { calls: voiding.calls, status: "awaiting_debit", ...heard } });
    d.timer(
      subscriptionIds.invoiceVoidRecheck(s.id, inv.id, voiding.calls),
      { kind: "void_recheck", invoiceId: inv.id, call: voiding.calls },
      d.now + MEMBERSHIP_VOID_RECHECK_MS,
    );
    if (voiding.calls === MEMBERSHIP_VOID_CALLS_BEFORE_TICKET) {
      const weeks = Math.round(((voiding.calls - 1) * MEMBERSHIP_VOID_RECHECK_MS) / (7 * 86_400_000));
      d.ticket(
        subscriptionIds.invoiceVoidStuckTicket(s.id, inv.id),
        "membership_void_stuck",
        `Invoice ${inv.id} of membership ${s.id}, which ended unpaid, still cannot be voided: Stripe has answered ` +
          `${voiding.calls} void calls over about ${weeks} weeks that its bank debit is processing. A BECS debit ends ` +
          "in a few business days: check the invoice's PaymentIntent at Stripe. Susu keeps asking weekly; a debit that " +
          "succeeds is refunded as paid after the end, one that fails gets the invoice voided",
      );
    }
    return d.done();
  }
  d.putInvoice({ ...inv, voiding: { calls: voiding.calls, status: "ended", ...heard } });
  return d.done();
}

/**
 * A payment of an invoice failed after the membership ended for good: the invoice is open
 * again and its page payable (money that would be refunded), so it is voided now. That is
 * the debit a void waited for (`awaiting_debit`), or the debit of an invoice first heard of
 * now (a renewal in flight at the end). Not when the voiding ended. When a void call waits for
 * its answer, the failure is noted (`debitFailed`): an answer `payment_processing`, made before
 * Stripe knew of it, then asks again at once rather than at the recheck. Not for a failure at
 * or before the end (Stripe's whole seconds, as `paidAfterEnd`) of a known invoice: every void
 * call of it was asked once the end was heard (by the end, or, for an invoice first heard of
 * after it, by its write-off or first failure), so after that failure (no news of a debit a call
 * found in flight; the failure that ended a membership for non-payment, heard after the end's
 * event, is one). One known at the end before voids were kept on the invoice had call 1 then
 * (its answer dropped): a failure after the end asks call 2. A failure no newer than the
 * newest the voiding heard (`lastFailureAt`: the same event redelivered, or an older one heard
 * late) is no news: the call it asked, or noted, was made or is asked already. Whether the
 * voiding changed (a call asked, or the failure noted).
 */
function voidAfterFailure(
  d: SubscriptionDraft,
  input: Extract<SubscriptionInput, { type: "invoice_payment_failed" }>,
): boolean {
  const known = d.state.invoices.find((i) => i.id === input.invoice.invoiceId);
  if (known?.status === "paid" || known?.status === "void") return false;
  const endedAt = d.state.endedAt;
  if (
    known !== undefined &&
    endedAt !== undefined &&
    Math.floor(input.invoice.observedAt / 1000) <= Math.floor(endedAt / 1000)
  )
    return false;
  const voiding = known?.voiding;
  if (voiding?.status === "ended") return false;
  const failedAt = input.invoice.observedAt;
  if (voiding?.lastFailureAt !== undefined && failedAt <= voiding.lastFailureAt) return false;
  if (known !== undefined && voiding?.status === "requested") {
    d.putInvoice({ ...known, voiding: { ...voiding, debitFailed: true, lastFailureAt: failedAt } });
    return true;
  }
  askVoid(d, d.invoice(input.invoice), voiding?.calls ?? (known !== undefined ? 1 : 0), failedAt);
  return true;
}

/**
 * The recheck of void call `timer.call`, answered `payment_processing`: still waiting for the
 * debit (no news of its outcome came), the void is asked again (the debit failed unheard: it
 * is voided; still processing: it waits again; paid: refunded as its news comes).
 */
function voidRecheck(
  d: SubscriptionDraft,
  timer: Extract<SubscriptionTimer, { kind: "void_recheck" }>,
): Result<SubscriptionDecision, never> {
  const s = d.state;
  const inv = s.invoices.find((i) => i.id === timer.invoiceId);
  if (
    inv === undefined ||
    inv.status === "paid" ||
    inv.voiding?.status !== "awaiting_debit" ||
    inv.voiding.calls !== timer.call
  )
    return ignore(
      s,
      "timer_no_longer_due",
      `void call ${timer.call} of invoice ${timer.invoiceId} no longer waits for a debit`,
    );
  askVoid(d, inv, inv.voiding.calls);
  return d.done();
}

/**
 * Whether Stripe time `observedAt` (whole seconds) is at or after susu's `requestedAt` (ms):
 * compared in seconds, so a view of the request's own second counts.
 */
function observedSince(observedAt: Instant, requestedAt: Instant): boolean {
  return Math.floor(observedAt / 1000) >= Math.floor(requestedAt / 1000);
}

/**
 * Stripe made the pending change: the membership is on its price. Stripe made it at or after
 * the request, so no view older than the request's second may move the price back: that
 * second becomes the price's floor (`priceObservedAt`; the change call's answer has no Stripe
 * time of its own). It is not the status's floor (`observedAt`): news older than the change
 * (an invoice paid just before it) still says where the status stands.
 */
function confirmChange(d: SubscriptionDraft, pending: PendingPriceChange): void {
  const floor = Math.floor(pending.requestedAt / 1000) * 1000;
  const known = d.state.priceObservedAt;
  d.set({ price: pending.price, priceObservedAt: known === undefined ? floor : Math.max(known, floor) });
  d.clearPendingChange();
}

/**
 * The pending change as view `snap` shows Stripe holding it until its invoice is paid (a
 * pending update to its price, seen in the call's answer or in a view observed at or after the
 * request), when that is news: the first view showing it, a new expiry or invoice, or an
 * earlier event's view. Undefined: the view does not show it held, or says nothing new.
 */
function heldUpdate(pending: PendingPriceChange, snap: SubscriptionSnapshot): PendingPriceChange | undefined {
  const update = snap.pendingUpdate;
  if (update === undefined) return undefined;
  if (update.stripePriceId !== undefined && update.stripePriceId !== pending.price.stripePriceId)
    return undefined;
  if (snap.observedAt !== undefined && !observedSince(snap.observedAt, pending.requestedAt)) return undefined;
  const was = pending.awaitingPayment;
  const seenAt =
    snap.observedAt === undefined
      ? was?.seenAt
      : was?.seenAt === undefined
        ? snap.observedAt
        : Math.min(was.seenAt, snap.observedAt);
  const invoiceId = update.invoiceId ?? was?.invoiceId;
  const awaitingPayment: ChangeAwaitingPayment = {
    expiresAt: update.expiresAt,
    ...(invoiceId !== undefined ? { invoiceId } : {}),
    ...(seenAt !== undefined ? { seenAt } : {}),
  };
  if (
    was !== undefined &&
    was.expiresAt === awaitingPayment.expiresAt &&
    was.invoiceId === awaitingPayment.invoiceId &&
    was.seenAt === awaitingPayment.seenAt
  )
    return undefined;
  return { ...pending, awaitingPayment };
}

/**
 * Whether the change, now known held until `awaitingPayment.expiresAt`, was discarded by an
 * expiry heard before (`expiredSeenAt`, at or after that time).
 */
function expiredBefore(pending: PendingPriceChange): boolean {
  const expiresAt = pending.awaitingPayment?.expiresAt;
  return expiresAt !== undefined && pending.expiredSeenAt !== undefined && pending.expiredSeenAt >= expiresAt;
}

/**
 * The change with view `snap`'s expiry kept (`expiredSeenAt`), when it is Stripe's view of a held
 * update expiring (`pendingUpdateExpired`), observed at or after the request, while no news showed
 * this change held: which update expired is not known yet (an earlier one's expiry too comes
 * after the request), so it drops nothing now; the news of this change held says (its expiry at
 * or before this one). Undefined: not such a view, or no newer than the one kept.
 */
function expiryHeardFirst(
  pending: PendingPriceChange,
  snap: SubscriptionSnapshot,
): PendingPriceChange | undefined {
  if (snap.pendingUpdateExpired !== true || snap.observedAt === undefined) return undefined;
  if (pending.awaitingPayment !== undefined) return undefined;
  if (!observedSince(snap.observedAt, pending.requestedAt)) return undefined;
  if (pending.expiredSeenAt !== undefined && pending.expiredSeenAt >= snap.observedAt) return undefined;
  return { ...pending, expiredSeenAt: snap.observedAt };
}

/**
 * Whether view `snap` says Stripe discarded the change it held until its invoice was paid: it
 * shows no pending update and not the new price (the caller checks that), and is observed at or
 * after the update's expiry, or after the event's view that showed it held (a view from before
 * the change was asked, or heard in between, proves nothing).
 */
function discardedUnpaid(pending: PendingPriceChange, snap: SubscriptionSnapshot): boolean {
  const awaiting = pending.awaitingPayment;
  if (awaiting === undefined || snap.pendingUpdate !== undefined || snap.observedAt === undefined)
    return false;
  return (
    snap.observedAt >= awaiting.expiresAt ||
    (awaiting.seenAt !== undefined && snap.observedAt > awaiting.seenAt)
  );
}

/**
 * Stripe discarded the change unpaid (its invoice voided: nothing was charged for it): the
 * membership stays on its plan and the person is told, as for a refusal (`unpaid`).
 */
function dropUnpaidChange(d: SubscriptionDraft, pending: PendingPriceChange): void {
  const s = d.state;
  d.clearPendingChange();
  d.notify(subscriptionIds.notice.changeRefused(s.id, pending.change), "membership_change_refused", {
    requestedPlanId: pending.price.planId,
    requestedAmountMinor: pending.price.amountMinor,
    requestedInterval: pending.price.interval,
    failureCode: "payment_not_completed",
    unpaid: "yes",
  });
}

/** Why a view is too old to say where the subscription stands, if it is. */
function staleness(s: Subscription, snap: SubscriptionSnapshot): string | undefined {
  if (s.observedAt === undefined) return undefined;
  // Stripe never takes a subscription out of `canceled` or `incomplete_expired`: the first
  // view of its end is news however old, even after later news (an invoice paid on its page
  // after the end, heard first) made the membership look current.
  if ((snap.status === "canceled" || snap.status === "incomplete_expired") && s.endedAt === undefined)
    return undefined;
  if (snap.observedAt === undefined)
    return "an API answer, after Stripe's events said where the subscription stands";
  if (snap.observedAt < s.observedAt)
    return `a view of ${isoString(snap.observedAt)}, older than ${isoString(s.observedAt)}`;
  if (snap.observedAt === s.observedAt && STRIPE_RANK[snap.status] < RANK[s.status])
    return `a view at the same time as the last, reporting an earlier status (${snap.status})`;
  return undefined;
}

/**
 * Whether an invoice paid now was paid for a membership the person had canceled before
 * Stripe started it (its Checkout page paid after all): that money is not susu's to keep.
 * An invoice susu knew was paid when the membership was canceled is not (a normal cancel).
 */
function paidAfterCancelBeforeStart(s: Subscription): boolean {
  return s.status === "canceled" && (s.canceledBeforeStart === true || s.stripeSubscriptionId === undefined);
}

/**
 * Whether an invoice paid at `paidAt` (Stripe's time) was paid after the Stripe subscription
 * had ended (`endedAt`: canceled, or canceled for non-payment, which susu calls a lapse for
 * good). Stripe's cancel stops collecting, but an invoice finalized before stays open and its
 * hosted page can still be paid: that money buys nothing (the subscription cannot come back),
 * so it is refunded in full. Compared in Stripe's whole seconds: a payment in the second the
 * subscription ended is taken as made before (the retry that raced the cancel), and kept.
 */
function paidAfterEnd(s: Subscription, paidAt: Instant): boolean {
  if (s.endedAt === undefined) return false;
  if (!isSubscriptionEnded(s.status) && s.status !== "lapsed") return false;
  return Math.floor(paidAt / 1000) > Math.floor(s.endedAt / 1000);
}

/**
 * Asks Stripe to refund in full what invoice `invoiceId` collected, and arms the refund's
 * deadline ({@link MEMBERSHIP_REFUND_OVERDUE_MS}): unfinished then, a person is given a ticket.
 */
function refundInvoice(d: SubscriptionDraft, invoiceId: string, amountMinor: number): void {
  const s = d.state;
  const inv = s.invoices.find((i) => i.id === invoiceId);
  if (inv === undefined || inv.refund !== undefined) return;
  const deadlineAt = d.now + MEMBERSHIP_REFUND_OVERDUE_MS;
  d.putInvoice({ ...inv, refund: { status: "requested", deadlineAt } });
  d.effects.push({
    kind: "refund_subscription_invoice",
    id: subscriptionIds.invoiceRefund(s.id, invoiceId),
    aggregate: SUBSCRIPTION_AGGREGATE,
    aggregateId: s.id,
    stripeInvoiceId: invoiceId,
    amountMinor,
    currency: inv.currency,
  });
  d.timer(
    subscriptionIds.invoiceRefundDeadline(s.id, invoiceId),
    { kind: "refund_overdue", invoiceId },
    deadlineAt,
  );
}

/** An invoice susu refunds (an invoice paid after the membership was canceled before it started). */
type RefundedInvoice = SubscriptionInvoice & { readonly refund: SubscriptionInvoiceRefund };

/**
 * Decides news of susu's refund of invoice `invoiceId` (its refunds, an outcome, its
 * deadline) with `then`; news of an invoice susu did not refund is ignored
 * (`refund_not_requested`).
 */
function withRefund(
  d: SubscriptionDraft,
  invoiceId: string,
  then: (inv: RefundedInvoice) => Result<SubscriptionDecision, never>,
): Result<SubscriptionDecision, never> {
  const inv = d.state.invoices.find((i) => i.id === invoiceId);
  if (inv?.refund === undefined)
    return ignore(d.state, "refund_not_requested", `susu did not refund invoice ${invoiceId}`);
  return then({ ...inv, refund: inv.refund });
}

/**
 * The deadline of susu's refund of an invoice has passed. Still `requested` (a refund Stripe
 * left pending, or the refund call's answer never heard): one ticket says which refunds are
 * unfinished and what to check at Stripe. The refund still ends as Stripe's news comes. A
 * refund that ended, or whose ticket was opened, ignores it (a timer fires again after a crash).
 */
function refundOverdue(d: SubscriptionDraft, inv: RefundedInvoice): Result<SubscriptionDecision, never> {
  const s = d.state;
  const refund = inv.refund;
  if (refund.status !== "requested" || refund.overdue === true)
    return ignore(
      s,
      "timer_no_longer_due",
      `the refund of invoice ${inv.id} ${refund.status === "requested" ? "was ticketed as overdue" : refund.status}`,
    );
  d.putInvoice({ ...inv, refund: { ...refund, overdue: true } });
  const payments = refund.payments ?? [];
  const unfinished = (refund.refundIds ?? []).filter((id) => !payments.some((p) => p.refundId === id));
  const days = Math.round(MEMBERSHIP_REFUND_OVERDUE_MS / 86_400_000);
  d.ticket(
    subscriptionIds.invoiceRefundOverdueTicket(s.id, inv.id),
    "membership_refund_overdue",
    `Susu's refund of the ${minorUnits(inv.amountPaidMinor, inv)} invoice ${inv.id} of membership ${s.id} collected ` +
      `(paid after the membership was canceled) is unfinished ${days} days after it was asked for: ` +
      (refund.refundIds === undefined
        ? "Stripe's answer to the refund call was never heard; "
        : `Stripe still has ${unfinished.join(", ")} pending; `) +
      `${minorUnits(invoiceRefundedMinor(inv), inv)} went back so far and nothing is posted until every refund ends. ` +
      "Check the refunds at Stripe (pending_reason insufficient_funds: top up the balance; charge_pending: the payment " +
      "has not settled). Susu ends the refund itself when Stripe's news comes; no ledger fix is needed",
  );
  return d.done();
}

/** An amount in an invoice's currency, as the ledger's postings and the tickets state it. */
function minorUnits(amountMinor: number, inv: SubscriptionInvoice): string {
  return `${amountMinor} ${inv.currency} (minor units)`;
}

/**
 * Whether an invoice's refund has ended with the refunds heard of (`payments`): Stripe
 * refused to make one, or every refund the refund call made (`refundIds`, its answer) has
 * ended. Until that answer is heard, when the refunds heard add up to what the invoice
 * collected.
 */
function everyRefundEnded(
  inv: SubscriptionInvoice,
  refundIds: readonly string[] | undefined,
  payments: readonly SubscriptionPaymentRefund[],
): boolean {
  if (payments.some((p) => p.refundId === undefined)) return true;
  if (refundIds !== undefined) return refundIds.every((id) => payments.some((p) => p.refundId === id));
  return payments.reduce((n, p) => n + p.amountMinor, 0) >= inv.amountPaidMinor;
}

/**
 * The refunds susu's refund of an invoice made (the refund call's answer): stored, so the
 * invoice's refund ends when each of them has, whatever they add up to (a payment partly
 * refunded outside susu before is refunded only for the rest). When every one was heard of
 * already (their events came first), the refund ends now.
 */
function refundsMade(
  d: SubscriptionDraft,
  input: Extract<SubscriptionInput, { type: "invoice_refunds_made" }>,
  inv: RefundedInvoice,
): Result<SubscriptionDecision, never> {
  const s = d.state;
  const refund = inv.refund;
  if (refund.status !== "requested" || refund.refundIds !== undefined)
    return ignore(
      s,
      "refunds_already_known",
      `the refund of invoice ${inv.id} ${refund.status === "requested" ? "knows its refunds" : refund.status}`,
    );
  const known = { ...refund, refundIds: input.refundIds };
  const payments = refund.payments ?? [];
  if (input.refundIds.length > 0 && everyRefundEnded(inv, input.refundIds, payments))
    return refundEnded(d, inv, known, payments, refund.refundId);
  d.putInvoice({ ...inv, refund: known });
  return d.done();
}

/**
 * How one payment's refund of an invoice ended (the refund call's answer or a refund
 * event; each heard any number of times, in any order). The invoice's refund ends when
 * every refund the call made has ended (or Stripe refused one; see
 * {@link everyRefundEnded}): then what went back
 * is posted (`membership_invoice_refunded`), and the person is told when every refund
 * succeeded; a ticket says what is still held when one failed or less than collected went
 * back. After that, a success Stripe fails (a card or bank account
 * that could no longer take it) reverses its part of the posting and opens a ticket: the
 * money is held again. The membership's accounts so end with what went back to the person.
 */
function refundSettled(
  d: SubscriptionDraft,
  news: Extract<SubscriptionInput, { type: "invoice_refund_settled" }>,
  inv: RefundedInvoice,
  outsideUndoneMinor?: number,
): Result<SubscriptionDecision, never> {
  const s = d.state;
  const refund = inv.refund;
  // A refund made outside susu (Stripe reported it as susu's) that Stripe failed, as its own
  // news said already: a success heard now is older news, and the refund is failed.
  const failedOutside =
    news.outcome === "succeeded" && news.refundId !== undefined
      ? (inv.outsideRefunds ?? []).find((r) => r.refundId === news.refundId && r.status === "failed")
      : undefined;
  const input: typeof news =
    failedOutside === undefined
      ? news
      : { ...news, outcome: "failed", failureCode: failedOutside.failureCode ?? "refund_failed" };
  if (refund.status !== "requested" && (refund.payments === undefined || refund.postedWhole === true))
    return legacyRefundSettled(d, inv, refund, input);
  const payments = refund.payments ?? [];
  const prev = payments.find((p) => p.refundId === input.refundId);
  if (prev !== undefined && (prev.status === "failed" || prev.status === input.outcome))
    return ignore(
      s,
      "refund_already_settled",
      `${input.refundId !== undefined ? `refund ${input.refundId}` : "the refund"} of invoice ${inv.id} ${prev.status}`,
    );
  const others = payments.filter((p) => p !== prev);
  const rest = Math.max(0, inv.amountPaidMinor - others.reduce((n, p) => n + p.amountMinor, 0));
  const failureCode = input.failureCode ?? "refund_failed";
  const payment: SubscriptionPaymentRefund = {
    ...(input.refundId !== undefined ? { refundId: input.refundId } : {}),
    amountMinor: input.amountMinor ?? prev?.amountMinor ?? rest,
    status: input.outcome,
    ...(input.outcome === "failed" ? { failureCode } : {}),
    ...(prev?.posted === true ? { posted: true } : {}),
    ...(prev?.postedMinor !== undefined ? { postedMinor: prev.postedMinor } : {}),
  };
  const all = prev === undefined ? [...payments, payment] : payments.map((p) => (p === prev ? payment : p));
  const refundId = input.refundId ?? refund.refundId;
  const ended = refund.status !== "requested";
  if (!ended && !everyRefundEnded(inv, refund.refundIds, all)) {
    // Other payments' refunds are still to be heard of.
    d.putInvoice({
      ...inv,
      refund: { ...refund, ...(refundId !== undefined ? { refundId } : {}), payments: all },
    });
    return d.done();
  }
  if (!ended) return refundEnded(d, inv, refund, all, refundId);
  // The invoice's refund had ended: this refund's news changes what went back.
  const put = (patch: Partial<SubscriptionInvoiceRefund>, list: readonly SubscriptionPaymentRefund[]) =>
    d.putInvoice({
      ...inv,
      refund: { ...refund, ...(refundId !== undefined ? { refundId } : {}), ...patch, payments: list },
    });
  const key = input.refundId ?? "refused";
  if (payment.status === "succeeded") {
    // A refund that succeeded after the invoice's refund ended with another refused. Never
    // more back than the invoice collected (a refund not susu's that named it).
    const postedMinor = all.reduce(
      (n, p) => n + (p.status === "succeeded" ? paymentRefundPostedMinor(p) : 0),
      0,
    );
    // Nor what a refund made outside susu or a dispute already took back in the books.
    const takenElsewhereMinor = inv.amountPaidMinor - postedMinor - invoiceRevenueLeftMinor(inv);
    if (postedMinor + payment.amountMinor + Math.max(0, takenElsewhereMinor) > inv.amountPaidMinor) {
      put({}, all);
      return d.done();
    }
    post(
      d,
      membershipInvoiceRefunded({
        id: subscriptionIds.ledger.paymentRefunded(s.id, inv.id, key),
        subscriptionId: s.id,
        invoiceId: inv.id,
        amount: money(payment.amountMinor, inv.currency),
        occurredAt: d.now,
      }),
      `invoice ${inv.id}'s refund ${key}`,
    );
    put(
      {},
      all.map((p) => (p === payment ? { ...payment, posted: true } : p)),
    );
    return d.done();
  }
  const failedAfterSuccess = prev?.posted === true;
  // Only what its success posted is reversed: a refund the books had given back already (a
  // refund made outside susu booked first, which its own news undoes) posted less, or nothing.
  // Nor more than the refund that failed: an answer stored before the gateway named each refund
  // of a payment refunded already let them stand as one (the first named, their amounts added up).
  const reversedMinor =
    prev === undefined
      ? 0
      : Math.min(paymentRefundPostedMinor(prev), input.amountMinor ?? Number.POSITIVE_INFINITY);
  // Absent `untold` (snapshots stored before it was kept included), the person is taken to
  // have been told: the notice of a reversal says what happened either way.
  const toldRefunded = refund.untold !== true;
  if (failedAfterSuccess && reversedMinor > 0)
    post(
      d,
      membershipInvoiceRefundFailed({
        id: subscriptionIds.ledger.paymentRefundFailed(s.id, inv.id, key),
        subscriptionId: s.id,
        invoiceId: inv.id,
        amount: money(reversedMinor, inv.currency),
        occurredAt: d.now,
      }),
      `invoice ${inv.id}'s failed refund ${key}`,
    );
  put(
    {
      status: "failed",
      failureCode: refund.failureCode ?? failureCode,
      ...(failedAfterSuccess ? { failedAfterSuccess: true } : {}),
    },
    all,
  );
  d.ticket(
    subscriptionIds.paymentRefundTicket(s.id, inv.id, key),
    "membership_refund_failed",
    `Stripe failed refund ${key} of ${minorUnits(payment.amountMinor, inv)} of invoice ${inv.id} of membership ${s.id}, ` +
      `paid after the membership was canceled (${failureCode})` +
      (!failedAfterSuccess
        ? ": the person has not had that money back (nothing was posted for it; no ledger fix is needed): "
        : reversedMinor === payment.amountMinor
          ? ", after it had succeeded: the money did not go back and the platform holds it again (the ledger's " +
            "membership_invoice_refund_failed posting reversed the refund; no ledger fix is needed): "
          : ", after it had succeeded: the money did not go back and the platform holds it again (" +
            (reversedMinor > 0
              ? `the ledger's membership_invoice_refund_failed posting reversed the ${minorUnits(reversedMinor, inv)} susu's refund had posted; `
              : "susu's refund had posted none of it; ") +
            ((prev?.rest?.unbookedMinor ?? 0) > 0
              ? `${minorUnits(prev?.rest?.unbookedMinor ?? 0, inv)} of it had not been booked yet (the books had no ` +
                "room for it), and is not now; "
              : "") +
            (outsideUndoneMinor === undefined
              ? "the rest was booked as a refund made outside susu, which Stripe's news of that refund undoes; "
              : outsideUndoneMinor > 0
                ? `${reversedMinor > 0 ? "the rest" : "it"} had been booked as a refund made outside susu, and its ` +
                  `membership_outside_refund_failed posting undid ${minorUnits(outsideUndoneMinor, inv)}; `
                : "") +
            "no ledger fix is needed): ") +
      "refund it to the person by hand",
  );
  if (failedAfterSuccess && toldRefunded) refundReversedNotice(d, inv, key, payment.amountMinor, failureCode);
  return d.done();
}

/**
 * Whether refund `refundId` is one of susu's refund of invoice `inv`: the refund call's answer
 * named it, or news of it was heard as susu's.
 */
function isSusuRefundOf(inv: SubscriptionInvoice | undefined, refundId: string): boolean {
  const refund = inv?.refund;
  if (refund === undefined) return false;
  return (
    refund.refundId === refundId ||
    (refund.refundIds ?? []).includes(refundId) ||
    (refund.payments ?? []).some((p) => p.refundId === refundId)
  );
}

/**
 * News of a refund of an invoice's charge made outside susu (see {@link refundedOutside}).
 * Stripe answers susu's refund call with the refunds made before it (a dashboard refund), so
 * one refund may be both made outside susu and one of susu's refund's: each path booked what
 * the other had not. Its failure carries no susu metadata and comes only as this news, so it
 * is heard by both: the outside path undoes what it booked, susu's refund fails that
 * payment's refund (reversing what it posted, with its ticket and, for a person told their
 * money was back, its notice). Together they undo what both booked, once, in whichever order
 * the successes were heard; a repeat is ignored by both.
 */
function outsideRefundNews(
  d: SubscriptionDraft,
  input: Extract<SubscriptionInput, { type: "invoice_refunded_outside" }>,
): Result<SubscriptionDecision, never> {
  const before = d.state.invoices.find((i) => i.id === input.invoiceId);
  const outside = refundedOutside(d, input);
  if (input.outcome !== "failed" || !isSusuRefundOf(before, input.refundId)) return outside;
  const prevOutside = before?.outsideRefunds?.find((r) => r.refundId === input.refundId);
  const outsideActed = outside.isOk() && outside.value.ignored === undefined;
  const outsideUndoneMinor =
    outsideActed && prevOutside?.status === "succeeded" ? prevOutside.postedMinor : 0;
  const ours = withRefund(d, input.invoiceId, (inv) =>
    refundSettled(
      d,
      {
        type: "invoice_refund_settled",
        invoiceId: input.invoiceId,
        outcome: "failed",
        refundId: input.refundId,
        amountMinor: input.amountMinor,
        failureCode: input.failureCode ?? "refund_failed",
      },
      inv,
      outsideUndoneMinor,
    ),
  );
  if (!outsideActed && ours.isOk() && ours.value.ignored !== undefined) return outside;
  return d.done();
}

/**
 * News of a refund of an invoice susu refunds, with an amount other than the one its refund
 * stored for that refund (from another path's news): its refund call's answer was summed
 * (`summedAnswer`), and the invoice's refunds book no rest from now on.
 */
function noteSummedAnswer(
  d: SubscriptionDraft,
  news: Extract<SubscriptionInput, { type: "invoice_refund_settled" | "invoice_refunded_outside" }>,
): void {
  const inv = d.state.invoices.find((i) => i.id === news.invoiceId);
  const refund = inv?.refund;
  if (inv === undefined || refund === undefined || refund.summedAnswer === true) return;
  if (news.refundId === undefined || news.amountMinor === undefined) return;
  const id = news.refundId;
  const stored = [
    ...(refund.payments ?? []).filter((p) => p.refundId === id),
    ...(inv.outsideRefunds ?? []).filter((r) => r.refundId === id),
  ];
  if (stored.some((x) => x.amountMinor !== news.amountMinor))
    d.putInvoice({ ...inv, refund: { ...refund, summedAnswer: true } });
}

/**
 * News of an invoice's charge that changed something (a refund's or a dispute's) may have put
 * money back into what its books count as revenue (a failure after success, a dispute won):
 * the rests the books had no room for are booked now, as far as it goes (see
 * {@link bookRests}); disputes' rests only out of what news of a refund's failure freed.
 * Ignored news changed nothing.
 */
function thenBookRests(
  d: SubscriptionDraft,
  before: Subscription,
  news: Extract<
    SubscriptionInput,
    { type: "invoice_refund_settled" | "invoice_refunded_outside" | "invoice_disputed" }
  >,
  decided: Result<SubscriptionDecision, never>,
): Result<SubscriptionDecision, never> {
  if (decided.isErr() || decided.value.ignored !== undefined) return decided;
  const revenueLeft = (s: Subscription) => {
    const inv = s.invoices.find((i) => i.id === news.invoiceId);
    return inv === undefined ? 0 : invoiceRevenueLeftMinor(inv);
  };
  const failure = news.type !== "invoice_disputed" && news.outcome === "failed";
  bookRests(d, news.invoiceId, failure ? revenueLeft(d.state) - revenueLeft(before) : 0);
  return d.done();
}

/**
 * Every refund of invoice `inv` has ended (or Stripe refused one): posts what went back, then
 * tells the person (every refund succeeded) and opens a ticket with what is still held (one
 * failed, or the refunds returned less than the invoice collected).
 */
function refundEnded(
  d: SubscriptionDraft,
  inv: SubscriptionInvoice,
  refund: SubscriptionInvoiceRefund,
  payments: readonly SubscriptionPaymentRefund[],
  refundId: string | undefined,
): Result<SubscriptionDecision, never> {
  const s = d.state;
  const back = payments.filter((p) => p.status === "succeeded");
  const backMinor = back.reduce((n, p) => n + p.amountMinor, 0);
  // A refund made outside susu that Stripe's answer reported as ours (the payment was refunded
  // already), booked first as such, is not booked again: what each booked is left out, and at
  // most what the books still count is posted. (What the books count may include money of
  // another such refund that Stripe failed since: that is the platform's again, not this.)
  const { refund: _ours, ...withoutOurs } = inv;
  const bookedMinor = back.reduce((n, p) => n + bookedOutsideMinor(inv, p.refundId), 0);
  const postMinor = Math.max(0, Math.min(backMinor - bookedMinor, invoiceRevenueLeftMinor(withoutOurs)));
  if (postMinor > 0)
    post(
      d,
      membershipInvoiceRefunded({
        id: subscriptionIds.ledger.invoiceRefunded(s.id, inv.id),
        subscriptionId: s.id,
        invoiceId: inv.id,
        amount: money(postMinor, inv.currency),
        occurredAt: d.now,
      }),
      `invoice ${inv.id}'s refund`,
    );
  const list = postedShares(inv, payments, postMinor);
  const unbookedMinor = list.reduce((n, p) => n + (p.rest?.unbookedMinor ?? 0), 0);
  const failed = payments.filter((p) => p.status === "failed");
  const firstFailure = failed[0];
  d.putInvoice({
    ...inv,
    refund: {
      ...refund,
      status: firstFailure === undefined ? "succeeded" : "failed",
      ...(refundId !== undefined ? { refundId } : {}),
      ...(firstFailure !== undefined ? { failureCode: firstFailure.failureCode ?? "refund_failed" } : {}),
      ...(firstFailure !== undefined ? { untold: true as const } : {}),
      payments: list,
    },
  });
  // What the books still count as the platform's: what the invoice collected less what went
  // back (through susu, or refunded outside susu and booked as such) and what disputes took.
  const heldMinor = Math.max(0, invoiceRevenueLeftMinor(withoutOurs) - postMinor);
  if (firstFailure === undefined) {
    // What went back and what was collected: the e-mail says "in full" only when they agree.
    d.notify(subscriptionIds.notice.refunded(s.id, inv.id), "membership_refunded", {
      invoiceId: inv.id,
      amountMinor: backMinor,
      collectedMinor: inv.amountPaidMinor,
      currency: inv.currency,
    });
    // Every refund susu made succeeded, yet they add up to less than the invoice collected:
    // a payment was partly refunded outside susu before (the dashboard), or not refunded.
    if (heldMinor > 0)
      d.ticket(
        subscriptionIds.invoiceRefundTicket(s.id, inv.id),
        "membership_refund_failed",
        `Susu's refunds of invoice ${inv.id} of membership ${s.id}, paid after the membership was canceled, ` +
          `all succeeded but returned ${minorUnits(backMinor, inv)} of the ${minorUnits(inv.amountPaidMinor, inv)} it collected ` +
          `(posted: membership_invoice_refunded). The ledger says the platform still holds ${minorUnits(heldMinor, inv)}: ` +
          "check the invoice's payments at Stripe; if that money was refunded outside susu (the dashboard), the ledger " +
          "needs a correction for it; if not, refund it to the person by hand",
      );
    return d.done();
  }
  const which = failed
    .map(
      (p) =>
        `${p.refundId !== undefined ? `refund ${p.refundId}` : "a refund Stripe refused to make"}: ` +
        `${minorUnits(p.amountMinor, inv)}, ${p.failureCode ?? "refund_failed"}`,
    )
    .join("; ");
  d.ticket(
    subscriptionIds.invoiceRefundTicket(s.id, inv.id),
    "membership_refund_failed",
    `Stripe ${failed.some((p) => p.refundId === undefined) ? "refused to refund" : "failed to refund"} ` +
      `${minorUnits(heldMinor, inv)} of the ${minorUnits(inv.amountPaidMinor, inv)} invoice ${inv.id} of membership ${s.id} collected, ` +
      `paid after the membership was canceled (${which}). ` +
      (backMinor > 0
        ? `${minorUnits(backMinor, inv)} went back to the person and is in the ledger (` +
          (postMinor === backMinor
            ? "membership_invoice_refunded); "
            : postMinor > 0
              ? `membership_invoice_refunded for ${minorUnits(postMinor, inv)}, the rest booked as refunds made outside susu); `
              : "booked as refunds made outside susu); ") +
          (unbookedMinor > 0
            ? `${minorUnits(unbookedMinor, inv)} of it is not booked yet: the books still count it as given back by ` +
              "another refund, which Stripe has failed since; it is booked when that failure is heard; "
            : "")
        : "Nothing went back to the person; ") +
      `the platform holds ${minorUnits(heldMinor, inv)} (the ledger says so; no ledger fix is needed): refund it to the person by hand`,
  );
  return d.done();
}

/**
 * What refund `refundId` of invoice `inv` booked as a refund made outside susu (its success
 * heard as such, not failed since), or keeps as its rest to book when room frees: 0 for none.
 */
function bookedOutsideMinor(inv: SubscriptionInvoice, refundId: string | undefined): number {
  if (refundId === undefined) return 0;
  const r = (inv.outsideRefunds ?? []).find((x) => x.refundId === refundId && x.status === "succeeded");
  return r === undefined ? 0 : r.postedMinor + (r.rest?.unbookedMinor ?? 0);
}

/**
 * The payments' refunds once the invoice's refund has ended with `postMinor` posted: each
 * success `posted`, with what the posting holds of it (`postedMinor`) when less than its
 * amount. What was not posted is taken first from the refunds booked as made outside susu
 * (Stripe's answer reports them as susu's), up to what each booked (or keeps as its rest),
 * then from the last refunds back, where it is their rest ({@link UnbookedRest}): the books had
 * no room for it (they count as given back money of a refund Stripe failed since), so it is
 * booked when that failure frees it. A failure of one reverses no more than it posted.
 */
function postedShares(
  inv: SubscriptionInvoice,
  payments: readonly SubscriptionPaymentRefund[],
  postMinor: number,
): SubscriptionPaymentRefund[] {
  const succeeded = payments.filter((p) => p.status === "succeeded");
  let shortMinor = succeeded.reduce((n, p) => n + p.amountMinor, 0) - postMinor;
  const held = new Map(succeeded.map((p) => [p, p.amountMinor]));
  const unbooked = new Map<SubscriptionPaymentRefund, number>();
  const cut = (p: SubscriptionPaymentRefund, atMost: number) => {
    const take = Math.min(shortMinor, atMost, held.get(p) ?? 0);
    held.set(p, (held.get(p) ?? 0) - take);
    shortMinor -= take;
    return take;
  };
  for (const p of succeeded) cut(p, bookedOutsideMinor(inv, p.refundId));
  for (const p of [...succeeded].reverse()) unbooked.set(p, cut(p, p.amountMinor));
  return payments.map((p) => {
    if (p.status !== "succeeded") return p;
    const { postedMinor: _, rest: _rest, ...kept } = p;
    const minor = held.get(p) ?? p.amountMinor;
    const unbookedMinor = unbooked.get(p) ?? 0;
    return {
      ...kept,
      posted: true as const,
      ...(minor < p.amountMinor ? { postedMinor: minor } : {}),
      ...(unbookedMinor > 0 ? { rest: { unbookedMinor, postings: 0 } } : {}),
    };
  });
}

/**
 * A refund outcome for an invoice whose refund ended before refunds were kept per payment
 * (its snapshot has no `payments`, or `postedWhole`): its outcome was the invoice's as a
 * whole, and a success posted all it collected. Only a failure after that success is news:
 * each refund Stripe fails reverses its own amount once (keyed by its id; kept in
 * `payments`), never more in total than was posted. A snapshot that recorded a failure after
 * success without `payments` does not say how much it reversed: all of it is taken as
 * reversed.
 */
function legacyRefundSettled(
  d: SubscriptionDraft,
  inv: SubscriptionInvoice,
  refund: SubscriptionInvoiceRefund,
  input: Extract<SubscriptionInput, { type: "invoice_refund_settled" }>,
): Result<SubscriptionDecision, never> {
  const s = d.state;
  const posted = refund.status === "succeeded" || refund.failedAfterSuccess === true;
  if (!posted || input.outcome === "succeeded")
    return ignore(
      s,
      "refund_already_settled",
      `the refund of invoice ${inv.id} ${refund.status === "failed" ? "failed" : "succeeded"}`,
    );
  const reversed = refund.postedWhole === true ? (refund.payments ?? []) : [];
  const reversedMinor =
    refund.postedWhole === true
      ? reversed.reduce((n, p) => n + p.amountMinor, 0)
      : refund.failedAfterSuccess === true
        ? inv.amountPaidMinor
        : 0;
  const refundId = input.refundId ?? refund.refundId;
  const key = refundId ?? "refund";
  const leftMinor = inv.amountPaidMinor - reversedMinor;
  if (reversed.some((p) => (p.refundId ?? "refund") === key) || leftMinor <= 0)
    return ignore(
      s,
      "refund_already_settled",
      `refund ${key} of invoice ${inv.id} failed after its success and was reversed` +
        (leftMinor <= 0 ? ` (all ${minorUnits(inv.amountPaidMinor, inv)} posted is reversed)` : ""),
    );
  const amountMinor = Math.min(input.amountMinor ?? inv.amountPaidMinor, leftMinor);
  const failureCode = input.failureCode ?? "refund_failed";
  d.putInvoice({
    ...inv,
    refund: {
      status: "failed",
      ...(refundId !== undefined ? { refundId } : {}),
      failureCode: refund.status === "failed" ? (refund.failureCode ?? failureCode) : failureCode,
      failedAfterSuccess: true,
      postedWhole: true,
      payments: [
        ...reversed,
        {
          ...(refundId !== undefined ? { refundId } : {}),
          amountMinor,
          status: "failed",
          failureCode,
          posted: true,
        },
      ],
    },
  });
  post(
    d,
    membershipInvoiceRefundFailed({
      id: subscriptionIds.ledger.paymentRefundFailed(s.id, inv.id, key),
      subscriptionId: s.id,
      invoiceId: inv.id,
      amount: money(amountMinor, inv.currency),
      occurredAt: d.now,
    }),
    `invoice ${inv.id}'s failed refund`,
  );
  d.ticket(
    subscriptionIds.paymentRefundTicket(s.id, inv.id, key),
    "membership_refund_failed",
    `Stripe failed refund ${key} of ${minorUnits(amountMinor, inv)} of invoice ${inv.id} of membership ${s.id}, ` +
      `paid after the membership was canceled (${failureCode}), after it had succeeded: the money did not go back and ` +
      "the platform holds it again (the ledger's membership_invoice_refund_failed posting reversed the refund; " +
      "no ledger fix is needed): refund it to the person by hand",
  );
  // Its success had told the person their money was back (a refund stored before refunds were kept per payment).
  refundReversedNotice(d, inv, key, amountMinor, failureCode);
  return d.done();
}

/**
 * Tells the person that refund `key` of invoice `inv`, of which they were told
 * (`membership_refunded`), did not reach them after all and someone is looking at it (its
 * ticket): once per refund (the notice is keyed by it; its replay is ignored before this).
 */
function refundReversedNotice(
  d: SubscriptionDraft,
  inv: SubscriptionInvoice,
  key: string,
  amountMinor: number,
  failureCode: string,
): void {
  d.notify(subscriptionIds.notice.refundReversed(d.state.id, inv.id, key), "membership_refund_reversed", {
    invoiceId: inv.id,
    amountMinor,
    currency: inv.currency,
    failureCode,
  });
}

function invoicePaid(
  d: SubscriptionDraft,
  input: Extract<SubscriptionInput, { type: "invoice_paid" }>,
): Result<SubscriptionDecision, never> | undefined {
  const s = d.state;
  const inv = d.invoice(input.invoice);
  if (inv.status === "paid") return ignore(s, "invoice_already_paid", `invoice ${inv.id} was paid`);
  d.putInvoice({
    ...inv,
    status: "paid",
    amountDueMinor: input.invoice.amountDueMinor,
    amountPaidMinor: input.invoice.amountPaidMinor,
    currency: input.invoice.currency,
    paidAt: input.paidAt,
    ...(input.invoice.hostedInvoiceUrl !== undefined
      ? { hostedInvoiceUrl: input.invoice.hostedInvoiceUrl }
      : {}),
  });
  if (input.invoice.amountPaidMinor > 0) {
    const tx = membershipInvoicePaid({
      id: subscriptionIds.ledger.invoicePaid(s.id, inv.id),
      subscriptionId: s.id,
      invoiceId: inv.id,
      amount: money(input.invoice.amountPaidMinor, input.invoice.currency),
      occurredAt: input.paidAt,
    });
    if (tx.isErr())
      throw new Error(
        `subscription ${s.id}: invoice ${inv.id}'s posting was refused (${tx.error.message}); a bug`,
      );
    d.effects.push({ kind: "post_ledger", id: tx.value.id, transaction: tx.value });
    if (paidAfterCancelBeforeStart(s) || paidAfterEnd(s, input.paidAt))
      refundInvoice(d, inv.id, input.invoice.amountPaidMinor);
  }
  // Paid news newer than the last view is the subscription's standing now; older news
  // only books the money (a later view already said where it stands).
  const fresh = s.observedAt === undefined || input.invoice.observedAt >= s.observedAt;
  if (fresh && heldBack(d.state, inv, input.invoice.amountPaidMinor)) return undefined;
  if (fresh && !isSubscriptionEnded(s.status) && s.endedAt === undefined) {
    // A trial's first invoice is paid with nothing: the trial goes on.
    const trialInvoice = input.invoice.amountPaidMinor === 0 && (s.status === "trialing" || s.trialDays > 0);
    const to: SubscriptionStatus = trialInvoice ? "trialing" : "active";
    if (isSubscriptionMoveAllowed(s.status, to)) d.moveTo(to);
  }
  if (fresh) d.observed(input.invoice.observedAt);
  return undefined;
}

/**
 * Whether an invoice still fails: unpaid (open, or written off, which can still be paid) after
 * a failed attempt or a request to authenticate. What keeps a membership `past_due` or
 * `lapsed`.
 */
function stillFailing(inv: SubscriptionInvoice): boolean {
  return (
    (inv.status === "open" || inv.status === "uncollectible") &&
    inv.forChange !== true &&
    (inv.failedAttempts > 0 || inv.actionRequested)
  );
}

/**
 * An invoice voided at Stripe: recorded `void` (no longer owed: a late failure or write-off of
 * it is no news, and an end does not ask to void it). A past-due membership that fails on it
 * is active again once no other invoice still fails (the recovery rule: what made it past due
 * is no longer owed), when the news is no older than the last applied (`observedAt`); Stripe's
 * view says so too, and it may be lost. A lapsed one waits for Stripe's view: Stripe holds an
 * `unpaid` subscription until its latest invoice is paid, and one it canceled has ended. A
 * voiding susu asked for (after the end) is over.
 */
function invoiceVoided(
  d: SubscriptionDraft,
  input: Extract<SubscriptionInput, { type: "invoice_voided" }>,
): Result<SubscriptionDecision, never> | undefined {
  const s = d.state;
  const inv = d.invoice(input.invoice);
  if (inv.status === "paid") return ignore(s, "invoice_already_paid", `invoice ${inv.id} was paid`);
  if (inv.status === "void") return ignore(s, "invoice_already_void", `invoice ${inv.id} is void`);
  const wasFailing = stillFailing(inv);
  const voiding =
    inv.voiding !== undefined && inv.voiding.status !== "ended"
      ? { voiding: { ...inv.voiding, status: "ended" as const } }
      : {};
  d.putInvoice({ ...inv, status: "void", ...voiding });
  const fresh = s.observedAt === undefined || input.invoice.observedAt >= s.observedAt;
  if (!fresh || !wasFailing || s.status !== "past_due") return undefined;
  if (d.state.invoices.some(stillFailing)) return undefined;
  d.moveTo("active");
  d.observed(input.invoice.observedAt);
  return undefined;
}

/**
 * Whether the payment of invoice `paid` (as it was before; recorded paid in `s`) leaves a `past_due` or `lapsed`
 * membership where it is: it is back only when what made it so is paid. Not while another
 * invoice still fails (a renewal paid while an older one is retried, or a downgrade's zero
 * invoice paid while Stripe holds the subscription `unpaid`), nor by an invoice that neither
 * failed (as heard) nor collected anything (a zero invoice: Stripe never failed one). Stripe's
 * view saying `active` still makes it active, so such news does not become the status's floor
 * (`observedAt`): a view of the same second is heard as it would be without it.
 */
function heldBack(s: Subscription, paid: SubscriptionInvoice, amountPaidMinor: number): boolean {
  if (s.status !== "past_due" && s.status !== "lapsed") return false;
  if (s.invoices.some((i) => i.id !== paid.id && stillFailing(i))) return true;
  return amountPaidMinor === 0 && !stillFailing(paid);
}

function paymentFailed(
  d: SubscriptionDraft,
  input: Extract<SubscriptionInput, { type: "invoice_payment_failed" }>,
): Result<SubscriptionDecision, never> | undefined {
  const s = d.state;
  // Ended for good: an unpaid invoice is voided (its page would take money for nothing).
  const endedForGood = isSubscriptionEnded(s.status) || (s.status === "lapsed" && s.endedAt !== undefined);
  const voidChanged = endedForGood && voidAfterFailure(d, input);
  if (isSubscriptionEnded(s.status))
    return voidChanged ? d.done() : ignore(s, "subscription_ended", `subscription ${s.id} is ${s.status}`);
  const inv = d.invoice(input.invoice);
  if (inv.status === "paid") return ignore(s, "invoice_already_paid", `invoice ${inv.id} was paid`);
  if (inv.status === "void") return ignore(s, "invoice_void", `invoice ${inv.id} is void`);
  if (input.attemptCount <= inv.failedAttempts)
    return voidChanged
      ? d.done()
      : ignore(
          s,
          "failure_already_recorded",
          `attempt ${input.attemptCount} of invoice ${inv.id} was heard of`,
        );
  // Stripe does not retry a new subscription's first invoice (no next attempt): that
  // membership never started, so nothing lapses; it expires unless the invoice is paid.
  const firstPayment = s.status === "incomplete" && input.nextPaymentAttemptAt === undefined;
  const last = input.nextPaymentAttemptAt === undefined && !firstPayment;
  d.putInvoice({
    ...inv,
    failedAttempts: input.attemptCount,
    amountDueMinor: input.invoice.amountDueMinor,
    ...(input.invoice.hostedInvoiceUrl !== undefined
      ? { hostedInvoiceUrl: input.invoice.hostedInvoiceUrl }
      : {}),
    ...(input.nextPaymentAttemptAt !== undefined ? { nextPaymentAttemptAt: input.nextPaymentAttemptAt } : {}),
  });
  // News older than the last view is recorded, not acted on: the subscription moved on since.
  const fresh = s.observedAt === undefined || input.invoice.observedAt >= s.observedAt;
  if (!fresh) return undefined;
  if (inv.forChange === true) {
    // A plan change's invoice: Stripe holds the change until it is paid and the membership goes
    // on as it was (Stripe's view says otherwise if it does). The person is told the change
    // waits for this payment, until when.
    if (!endedForGood) changePaymentFailed(d, input, inv);
    return undefined;
  }
  // Lapsed for good (Stripe ended it for non-payment): the person was told it ended, and its
  // unpaid invoices are being voided, so no notice sends them to pay one.
  if (!endedForGood)
    d.notify(
      subscriptionIds.notice.paymentFailed(s.id, inv.id, input.attemptCount),
      "membership_payment_failed",
      {
        invoiceId: inv.id,
        attempt: input.attemptCount,
        amountMinor: input.invoice.amountDueMinor,
        currency: input.invoice.currency,
        lastAttempt: last ? "yes" : "no",
        ...(firstPayment ? { firstPayment: "yes" } : {}),
        ...(input.invoice.hostedInvoiceUrl !== undefined
          ? { hostedInvoiceUrl: input.invoice.hostedInvoiceUrl }
          : {}),
        ...(input.nextPaymentAttemptAt !== undefined
          ? { deadline: isoString(input.nextPaymentAttemptAt) }
          : {}),
      },
    );
  if (s.status === "trialing" || s.status === "active" || s.status === "past_due")
    d.moveTo(last ? "lapsed" : "past_due");
  d.observed(input.invoice.observedAt);
  return undefined;
}

/** Tells the person the payment of their plan change failed: it waits for it, or is dropped. */
function changePaymentFailed(
  d: SubscriptionDraft,
  input: Extract<SubscriptionInput, { type: "invoice_payment_failed" }>,
  inv: SubscriptionInvoice,
): void {
  const s = d.state;
  const pending = s.pendingChange;
  const until = pending?.awaitingPayment?.expiresAt;
  d.notify(
    subscriptionIds.notice.paymentFailed(s.id, inv.id, input.attemptCount),
    "membership_payment_failed",
    {
      invoiceId: inv.id,
      attempt: input.attemptCount,
      amountMinor: input.invoice.amountDueMinor,
      currency: input.invoice.currency,
      lastAttempt: "no",
      planChange: "yes",
      ...(pending !== undefined ? { requestedPlanId: pending.price.planId } : {}),
      ...(until !== undefined ? { changeExpiresAt: isoString(until) } : {}),
      ...(input.invoice.hostedInvoiceUrl !== undefined
        ? { hostedInvoiceUrl: input.invoice.hostedInvoiceUrl }
        : {}),
    },
  );
}

/**
 * Feeds one input to a subscription. Pure: time comes in `ctx`. Every decision arms the
 * deadline of a requested refund that has none on record (see `SubscriptionDraft.done`); an
 * input that would be ignored is then a decision that only does that (an ignored one is not
 * stored), so a repeated or stale event is a chance too. There is no background sweep.
 */
export function decideSubscription(
  state: Subscription,
  input: SubscriptionInput,
  ctx: SubscriptionDecideContext,
): Result<SubscriptionDecision, MembershipError> {
  const decided = decideInput(state, input, ctx);
  if (decided.isErr() || decided.value.ignored === undefined) return decided;
  const armed = new SubscriptionDraft(state, ctx.now).done();
  return armed.isOk() && armed.value.effects.length > 0 ? armed : decided;
}

function decideInput(
  state: Subscription,
  input: SubscriptionInput,
  ctx: SubscriptionDecideContext,
): Result<SubscriptionDecision, MembershipError> {
  const d = new SubscriptionDraft(state, ctx.now);
  const s = state;
  // Ended for good: canceled, expired, or lapsed with its Stripe subscription canceled.
  const ended = isSubscriptionEnded(s.status) || (s.status === "lapsed" && s.endedAt !== undefined);
  switch (input.type) {
    case "subscribe":
      return ignore(s, "already_created", `subscription ${s.id} exists`);
    case "subscription_changed":
      return applySnapshot(d, input.snapshot, input.price) ?? d.done();
    case "change_refused": {
      const pending = s.pendingChange;
      if (pending === undefined || subscriptionIds.change(s.id, pending.change) !== input.changeId)
        return ignore(
          s,
          "change_not_pending",
          `${input.changeId} is not subscription ${s.id}'s pending change` +
            (pending === undefined ? "" : ` (${subscriptionIds.change(s.id, pending.change)})`),
        );
      // The person stays on their plan (Stripe bills it still) and is told; no ticket: an
      // ordinary refusal needs nobody (the audit log keeps Stripe's reason).
      d.clearPendingChange();
      d.notify(subscriptionIds.notice.changeRefused(s.id, pending.change), "membership_change_refused", {
        requestedPlanId: pending.price.planId,
        requestedAmountMinor: pending.price.amountMinor,
        requestedInterval: pending.price.interval,
        failureCode: input.code,
      });
      return d.done();
    }
    case "payment_method_refused": {
      const asked = s.pendingPaymentMethod;
      if (asked === undefined || subscriptionIds.paymentMethod(s.id, asked.change) !== input.changeId)
        return ignore(
          s,
          "payment_method_change_not_pending",
          `${input.changeId} is not subscription ${s.id}'s card change waiting` +
            (asked === undefined ? "" : ` (${subscriptionIds.paymentMethod(s.id, asked.change)})`),
        );
      // Stripe charges the card it did; nothing waits any more, and the person is told (their
      // default card is not what their membership is charged on). No ticket: the audit log
      // keeps Stripe's reason.
      const { pendingPaymentMethod: _refused, ...rest } = s;
      d.state = rest;
      const billed = billedPaymentMethodOf(rest);
      d.notify(
        subscriptionIds.notice.cardChangeRefused(s.id, asked.change),
        "membership_card_change_refused",
        {
          requestedPaymentMethodId: asked.paymentMethodId,
          ...(billed !== undefined ? { chargedOnPaymentMethodId: billed } : {}),
          failureCode: input.code,
        },
      );
      return d.done();
    }
    case "start_failed": {
      if (s.stripeSubscriptionId !== undefined || s.status !== "incomplete")
        return ignore(s, "start_already_known", `subscription ${s.id} is ${s.status} at Stripe`);
      d.moveTo("incomplete_expired", { failure: { code: input.code, message: input.message } });
      return d.done();
    }
    case "checkout_created": {
      if (s.start.kind !== "checkout" || s.start.sessionId !== undefined)
        return ignore(s, "checkout_already_recorded", `subscription ${s.id}'s checkout is recorded`);
      d.set({ start: { ...s.start, sessionId: input.sessionId, url: input.url } });
      // Canceled while the page was being made: it must not be payable (a page already paid,
      // its late start heard first, is answered `complete` by Stripe; expiring it is harmless).
      if (s.status === "canceled") expireCheckout(d, input.sessionId);
      return d.done();
    }
    case "checkout_expired": {
      if (isSubscriptionEnded(s.status))
        return ignore(s, "subscription_ended", `subscription ${s.id} is ${s.status}`);
      if (s.start.kind !== "checkout")
        return ignore(s, "other_checkout", `subscription ${s.id} was started with a saved payment method`);
      if (s.start.sessionId !== undefined && s.start.sessionId !== input.sessionId)
        return ignore(
          s,
          "other_checkout",
          `${input.sessionId} is not subscription ${s.id}'s Checkout Session ${s.start.sessionId}`,
        );
      // A page that was paid made a Stripe subscription: its news says where it stands.
      if (s.stripeSubscriptionId !== undefined || s.status !== "incomplete")
        return ignore(s, "start_already_known", `subscription ${s.id} is ${s.status} at Stripe`);
      // Nothing was made at Stripe for it (a session makes the subscription only when paid),
      // so nothing is left to cancel there: the attempt ends, and the person may subscribe again.
      d.moveTo("incomplete_expired", {
        start: { ...s.start, sessionId: input.sessionId },
      });
      return d.done();
    }
    case "trial_will_end": {
      if (s.status !== "trialing") return ignore(s, "not_trialing", `subscription ${s.id} is ${s.status}`);
      if (s.trialNoticeFor === input.trialEnd)
        return ignore(
          s,
          "trial_notice_sent",
          `the person was told the trial ends ${isoString(input.trialEnd)}`,
        );
      const id = subscriptionIds.notice.trialEnding(s.id, input.trialEnd);
      d.set({ trialEnd: input.trialEnd, trialNoticeFor: input.trialEnd });
      d.notify(id, "membership_trial_ending", {
        trialEnd: isoString(input.trialEnd),
        deadline: isoString(input.trialEnd),
      });
      return d.done();
    }
    case "invoice_paid":
      return invoicePaid(d, input) ?? d.done();
    case "invoice_payment_failed":
      return paymentFailed(d, input) ?? d.done();
    case "invoice_refund_settled":
      noteSummedAnswer(d, input);
      return thenBookRests(
        d,
        s,
        input,
        withRefund(d, input.invoiceId, (inv) => refundSettled(d, input, inv)),
      );
    case "invoice_refunds_made":
      return withRefund(d, input.invoiceId, (inv) => refundsMade(d, input, inv));
    case "timer":
      if (input.timer.kind === "void_recheck") return voidRecheck(d, input.timer);
      return withRefund(d, input.timer.invoiceId, (inv) => refundOverdue(d, inv));
    case "invoice_void_answered":
      return voidAnswered(d, input);
    case "invoice_refunded_outside":
      noteSummedAnswer(d, input);
      return thenBookRests(d, s, input, outsideRefundNews(d, input));
    case "invoice_disputed":
      return thenBookRests(d, s, input, invoiceDisputed(d, input));
    case "invoice_payment_action_required": {
      if (ended) return ignore(s, "subscription_ended", `subscription ${s.id} is ${s.status}`);
      const inv = d.invoice(input.invoice);
      if (inv.status === "paid") return ignore(s, "invoice_already_paid", `invoice ${inv.id} was paid`);
      if (inv.status === "void") return ignore(s, "invoice_void", `invoice ${inv.id} is void`);
      if (inv.actionRequested)
        return ignore(
          s,
          "action_already_requested",
          `the person was asked to authenticate invoice ${inv.id}`,
        );
      d.putInvoice({
        ...inv,
        actionRequested: true,
        ...(input.invoice.hostedInvoiceUrl !== undefined
          ? { hostedInvoiceUrl: input.invoice.hostedInvoiceUrl }
          : {}),
      });
      d.notify(subscriptionIds.notice.actionRequired(s.id, inv.id), "membership_payment_action_required", {
        invoiceId: inv.id,
        amountMinor: input.invoice.amountDueMinor,
        currency: input.invoice.currency,
        ...(input.invoice.hostedInvoiceUrl !== undefined
          ? { hostedInvoiceUrl: input.invoice.hostedInvoiceUrl }
          : {}),
      });
      return d.done();
    }
    case "invoice_voided":
      return invoiceVoided(d, input) ?? d.done();
    case "invoice_marked_uncollectible": {
      const known = s.invoices.some((i) => i.id === input.invoice.invoiceId);
      const inv = d.invoice(input.invoice);
      if (inv.status === "paid") return ignore(s, "invoice_already_paid", `invoice ${inv.id} was paid`);
      if (inv.status === "void") return ignore(s, "invoice_void", `invoice ${inv.id} is void`);
      if (inv.status === "uncollectible")
        return ignore(s, "invoice_already_uncollectible", `invoice ${inv.id} is uncollectible`);
      // Recorded: the write-off says nothing of the membership that Stripe's other news
      // does not say better. Stripe's dunning marks it at the last failed attempt (that
      // failure lapses it) or with the subscription canceled or unpaid (its view lapses it);
      // marking a past-due subscription's invoice uncollectible by hand forgives it and
      // Stripe makes the subscription active again, which its view (same second) reports.
      const written: SubscriptionInvoice = { ...inv, status: "uncollectible" };
      d.putInvoice(written);
      // Heard after Stripe's end, of an invoice first heard of now (the dunning's last failure,
      // this write-off and the cancel come in the same second, in any order): the end voided the
      // invoices it knew, not this one, which can still be paid; voided now, call 1 (its
      // failures, at or before the end, ask nothing: see `voidAfterFailure`). One the end knew
      // had its void asked then (call 1, also before voids were kept): nothing more.
      if (ended && !known) askVoid(d, written, 0);
      return d.done();
    }
    case "change_price": {
      const refused = commandRefusal(s);
      if (refused) return err(refused);
      // One change at a time: another waits until Stripe made or refused this one.
      if (s.pendingChange !== undefined)
        return err(
          membershipError(
            "change_pending",
            `subscription ${s.id} waits for Stripe to change it to ${s.pendingChange.price.stripePriceId} (plan ${s.pendingChange.price.planId})`,
          ),
        );
      if (input.price.stripePriceId === s.price.stripePriceId)
        return err(membershipError("same_price", `subscription ${s.id} is on ${s.price.stripePriceId}`));
      if (input.price.currency !== s.price.currency)
        return err(
          membershipError(
            "currency_change_not_allowed",
            `subscription ${s.id} bills in ${s.price.currency}; a price in ${input.price.currency} needs a new subscription`,
          ),
        );
      // Asked, not made: the membership stays on its price (and plan) until Stripe confirms.
      const n = s.changes + 1;
      d.set({ changes: n, pendingChange: { change: n, price: input.price, requestedAt: d.now } });
      d.effects.push({
        kind: "change_subscription_price",
        id: subscriptionIds.change(s.id, n),
        aggregate: SUBSCRIPTION_AGGREGATE,
        aggregateId: s.id,
        stripeSubscriptionId: s.stripeSubscriptionId as string,
        stripePriceId: input.price.stripePriceId,
        prorationBehavior: input.prorationBehavior,
      });
      return d.done();
    }
    case "cancel_change": {
      // Susu stops waiting; Stripe is not asked anything (an update cannot be taken back). If
      // the call is made after all (still retried, or a parked effect replayed), Stripe's view
      // of the new price puts the membership on it, as for any change made at Stripe.
      if (s.pendingChange === undefined)
        return err(
          membershipError("no_change_pending", `subscription ${s.id} has no change waiting for Stripe`),
        );
      d.clearPendingChange();
      return d.done();
    }
    case "cancel": {
      if (ended) return err(membershipError("subscription_ended", `subscription ${s.id} is ${s.status}`));
      if (s.stripeSubscriptionId === undefined) {
        // Nothing at Stripe yet (an unfinished Checkout page): it ends here; a late start is news of an ended one.
        if (input.atPeriodEnd)
          return err(
            membershipError("subscription_not_started", `subscription ${s.id} has not started at Stripe`),
          );
        d.moveTo("canceled", { canceledBeforeStart: true });
        // Its page is still payable at Stripe: expire it (a session not known yet is expired when it is).
        if (s.start.kind === "checkout" && s.start.sessionId !== undefined)
          expireCheckout(d, s.start.sessionId);
        return d.done();
      }
      if (input.atPeriodEnd && s.cancelAtPeriodEnd)
        return err(
          membershipError("already_canceling", `subscription ${s.id} cancels at the end of its period`),
        );
      const n = s.cancellations + 1;
      d.set({ cancellations: n, ...(input.atPeriodEnd ? { cancelAtPeriodEnd: true } : {}) });
      d.effects.push({
        kind: "cancel_subscription",
        id: subscriptionIds.cancellation(s.id, n),
        aggregate: SUBSCRIPTION_AGGREGATE,
        aggregateId: s.id,
        stripeSubscriptionId: s.stripeSubscriptionId,
        mode: input.atPeriodEnd ? "at_period_end" : "now",
      });
      return d.done();
    }
    case "use_payment_method": {
      if (ended) return ignore(s, "subscription_ended", `subscription ${s.id} is ${s.status}`);
      if (s.stripeSubscriptionId === undefined)
        return ignore(s, "not_started", `subscription ${s.id} has not started at Stripe`);
      const asked = s.pendingPaymentMethod;
      if (
        asked?.paymentMethodId === input.paymentMethodId ||
        (asked === undefined && billedPaymentMethodOf(s) === input.paymentMethodId)
      )
        return ignore(
          s,
          "payment_method_unchanged",
          `subscription ${s.id} is charged on ${input.paymentMethodId} already, or Stripe was asked to`,
        );
      // Asked, not made: the record names the card Stripe charges until its view names this one
      // (a call parked leaves it true). Asking back for the card charged now is a call too: the
      // one waiting may still be made.
      const n = (s.paymentMethodChanges ?? 0) + 1;
      d.set({
        paymentMethodChanges: n,
        pendingPaymentMethod: { change: n, paymentMethodId: input.paymentMethodId, requestedAt: d.now },
      });
      d.effects.push({
        kind: "set_subscription_payment_method",
        id: subscriptionIds.paymentMethod(s.id, n),
        aggregate: SUBSCRIPTION_AGGREGATE,
        aggregateId: s.id,
        stripeSubscriptionId: s.stripeSubscriptionId,
        paymentMethodId: input.paymentMethodId,
      });
      return d.done();
    }
    case "resume": {
      if (ended) return err(membershipError("subscription_ended", `subscription ${s.id} is ${s.status}`));
      if (!s.cancelAtPeriodEnd || s.stripeSubscriptionId === undefined)
        return err(membershipError("not_canceling", `subscription ${s.id} is not set to cancel`));
      const n = s.cancellations + 1;
      d.set({ cancellations: n, cancelAtPeriodEnd: false });
      d.effects.push({
        kind: "cancel_subscription",
        id: subscriptionIds.cancellation(s.id, n),
        aggregate: SUBSCRIPTION_AGGREGATE,
        aggregateId: s.id,
        stripeSubscriptionId: s.stripeSubscriptionId,
        mode: "resume",
      });
      return d.done();
    }
  }
}

/** Why a person's change of a subscription is refused now, if it is. */
function commandRefusal(s: Subscription): MembershipError | undefined {
  if (isSubscriptionEnded(s.status) || (s.status === "lapsed" && s.endedAt !== undefined))
    return membershipError("subscription_ended", `subscription ${s.id} is ${s.status}`);
  if (s.stripeSubscriptionId === undefined || s.status === "incomplete")
    return membershipError("subscription_not_started", `subscription ${s.id} has not started at Stripe`);
  return undefined;
}
