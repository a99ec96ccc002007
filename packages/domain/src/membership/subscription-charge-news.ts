// What happens to an invoice's charge outside susu: a refund made in Stripe's dashboard, a
// dispute by the person's bank. Stripe Billing's charge carries no susu metadata, so the
// adapter resolves it to its invoice (PaymentIntent → invoice payment → invoice → subscription)
// before the subscription hears it; deciding what it means for the books is here.
import type { Result } from "neverthrow";
import { type Decision, ignore } from "../kernel/decision.js";
import type { LedgerError } from "../ledger/ledger.errors.js";
import type { LedgerTransaction } from "../ledger/ledger-transaction.js";
import {
  membershipDisputeLost,
  membershipDisputeReinstated,
  membershipInvoiceRefunded,
  membershipOutsideRefundFailed,
  membershipRefundedOutsideSusu,
} from "../ledger/membership-movements.js";
import { type Money, money } from "../money/index.js";
import { type Instant, isoString } from "../shared/time.js";
import type {
  SubscriptionEffect,
  SubscriptionNotificationTemplate,
  SubscriptionTicketReason,
} from "./membership-effect.js";
import { subscriptionIds } from "./membership-ids.js";
import {
  type InvoiceDispute,
  invoiceRevenueLeftMinor,
  type OutsideRefund,
  paymentRefundPostedMinor,
  type Subscription,
  type SubscriptionInvoice,
  type SubscriptionPaymentRefund,
  susuRefundHoldsMinor,
  type UnbookedRest,
} from "./subscription.js";
import type { SubscriptionIgnoredCode } from "./subscription-ignored.js";
import type { SubscriptionInput } from "./subscription-input.js";

type ChargeNewsDecision = Result<Decision<Subscription, SubscriptionEffect, SubscriptionIgnoredCode>, never>;

/** What these decisions need of the subscription's draft. */
export interface ChargeNewsDraft {
  readonly state: Subscription;
  readonly now: Instant;
  readonly effects: SubscriptionEffect[];
  putInvoice(invoice: SubscriptionInvoice): void;
  tellAdmins(
    id: string,
    template: SubscriptionNotificationTemplate,
    data: Record<string, string | number>,
  ): void;
  ticket(id: string, reason: SubscriptionTicketReason, summary: string): void;
  resolveTicket(id: string, ticketId: string, note: string): void;
  done(): ChargeNewsDecision;
}

/**
 * The paid invoice the news names; news of an invoice not heard of as paid is ignored
 * (`invoice_not_paid`), which the use case turns into a failure its event is retried for
 * (`invoice_not_paid_yet`): the payment's own news is still to come.
 */
function paidInvoice(
  d: ChargeNewsDraft,
  invoiceId: string,
  what: string,
): { readonly inv: SubscriptionInvoice } | { readonly ignored: ChargeNewsDecision } {
  const inv = d.state.invoices.find((i) => i.id === invoiceId);
  if (inv?.status !== "paid")
    return {
      ignored: ignore(
        d.state,
        "invoice_not_paid",
        `${what} of invoice ${invoiceId}, which is ${inv === undefined ? "not known" : inv.status}: nothing to take back`,
      ),
    };
  return { inv };
}

/** Adds a membership posting to the decision; a posting the ledger's rules refuse is a bug. */
export function post(
  d: { readonly state: Subscription; readonly effects: SubscriptionEffect[] },
  tx: Result<LedgerTransaction, LedgerError>,
  what: string,
): void {
  if (tx.isErr())
    throw new Error(`subscription ${d.state.id}: ${what} posting was refused (${tx.error.message}); a bug`);
  d.effects.push({ kind: "post_ledger", id: tx.value.id, transaction: tx.value });
}

/**
 * A refund of the invoice's charge made outside susu. Its success books the refund once
 * (`membership_refunded_outside_susu`, keyed by the refund): its amount less what susu's own
 * refund of the invoice posted of it, so a refund susu's refund had already reported (Stripe
 * answers susu's refund call with the refunds made before it, each named) is not booked twice,
 * and neither is the other way round; and at most what the invoice's books still count as
 * revenue: the rest (the books still count another refund that Stripe has failed since) is
 * booked when that failure is heard ({@link bookRests}). A failure
 * after that success undoes what it booked; a failure before any success books nothing.
 * Repeats, and a success after a failure, are ignored.
 * A failure of a refund that is also one of susu's refund's (the refund call's answer named
 * it) is heard by susu's refund too, which reverses what it posted (see `outsideRefundNews`).
 */
export function refundedOutside(
  d: ChargeNewsDraft,
  input: Extract<SubscriptionInput, { type: "invoice_refunded_outside" }>,
): ChargeNewsDecision {
  const s = d.state;
  const found = paidInvoice(d, input.invoiceId, `refund ${input.refundId}`);
  if ("ignored" in found) return found.ignored;
  const inv = found.inv;
  const refunds = inv.outsideRefunds ?? [];
  const prev = refunds.find((r) => r.refundId === input.refundId);
  if (prev !== undefined && (prev.status === "failed" || prev.status === input.outcome))
    return ignore(
      s,
      "outside_refund_known",
      `refund ${input.refundId} of invoice ${inv.id} ${prev.status} (booked ${prev.postedMinor})`,
    );
  const put = (r: OutsideRefund) =>
    d.putInvoice({
      ...inv,
      outsideRefunds: prev === undefined ? [...refunds, r] : refunds.map((x) => (x === prev ? r : x)),
    });
  const amount = (minor: number) => money(minor, inv.currency);
  if (input.outcome === "succeeded") {
    // Less what susu's refund posted of this very refund (its answer named it). The books may
    // still count as given back money of another refund Stripe failed since (its failure not
    // heard yet): what that leaves no room for is kept as its rest, booked when room frees.
    const dueMinor = Math.max(0, input.amountMinor - susuRefundHoldsMinor(inv, input.refundId));
    const postedMinor = Math.min(dueMinor, invoiceRevenueLeftMinor(inv));
    put({
      refundId: input.refundId,
      amountMinor: input.amountMinor,
      status: "succeeded",
      postedMinor,
      ...(dueMinor > postedMinor ? { rest: { unbookedMinor: dueMinor - postedMinor, postings: 0 } } : {}),
    });
    if (postedMinor > 0)
      post(
        d,
        membershipRefundedOutsideSusu({
          id: subscriptionIds.ledger.refundedOutside(s.id, inv.id, input.refundId),
          subscriptionId: s.id,
          invoiceId: inv.id,
          ref: { refundId: input.refundId },
          amount: amount(postedMinor),
          occurredAt: d.now,
        }),
        `invoice ${inv.id}'s refund ${input.refundId} made outside susu`,
      );
    return d.done();
  }
  const failureCode = input.failureCode ?? "refund_failed";
  const undoMinor = prev?.postedMinor ?? 0;
  put({
    refundId: input.refundId,
    amountMinor: input.amountMinor,
    status: "failed",
    failureCode,
    postedMinor: 0,
  });
  if (undoMinor > 0)
    post(
      d,
      membershipOutsideRefundFailed({
        id: subscriptionIds.ledger.outsideRefundFailed(s.id, inv.id, input.refundId),
        subscriptionId: s.id,
        invoiceId: inv.id,
        ref: { refundId: input.refundId },
        amount: amount(undoMinor),
        occurredAt: d.now,
      }),
      `invoice ${inv.id}'s failed refund ${input.refundId} made outside susu`,
    );
  return d.done();
}

/**
 * Books the rests of invoice `invoiceId`'s refunds and disputes' losses ({@link UnbookedRest})
 * as far as what its books count as revenue allows: run after news that may have put money
 * back into it (a refund failed after its success, a dispute won). Refunds made outside susu
 * first (`membership_refunded_outside_susu`), then susu's refund's
 * (`membership_invoice_refunded`), each in the order heard, each under its own id (`…:rest`,
 * `…:rest-2`, …). A
 * refund heard failed on either path books no rest: its own failure, when its other path
 * hears it, drops the rest. Nor does any of an invoice whose refund
 * call's answer was summed (`summedAnswer`): whose money the books count is unknown.
 *
 * Disputes' losses (`membership_dispute_lost`) come last and take at most `freedByFailureMinor`:
 * what news of a refund's failure put back into the revenue left. A dispute's rest is the part
 * of its amount the books count as refunded; it is lost only if Stripe failed that refund (a
 * dispute closed lost, Stripe gives back the part a refund standing holds). Room another
 * dispute's reinstatement frees is that dispute's own charge given back, not a refund failed:
 * it books no dispute's rest. A dispute won has none.
 */
export function bookRests(d: ChargeNewsDraft, invoiceId: string, freedByFailureMinor: number): void {
  const s = d.state;
  const inv = s.invoices.find((i) => i.id === invoiceId);
  if (inv?.status !== "paid" || summedAnswer(inv)) return;
  let roomMinor = invoiceRevenueLeftMinor(inv);
  if (roomMinor <= 0) return;
  const failedOutside = (id: string | undefined) =>
    (inv.outsideRefunds ?? []).some((r) => r.refundId === id && r.status === "failed");
  const failedOurs = (id: string) =>
    (inv.refund?.payments ?? []).some((p) => p.refundId === id && p.status === "failed");
  /**
   * Takes what room is left for `rest` and posts it (`posting`, given the amount and the
   * posting's number): the amount booked now (0: nothing posted) and what is left of the rest.
   */
  const take = (
    rest: UnbookedRest,
    posting: (amount: Money, n: number) => Result<LedgerTransaction, LedgerError>,
    what: string,
  ): { readonly minor: number; readonly rest: { readonly rest?: UnbookedRest } } => {
    const minor = Math.min(roomMinor, rest.unbookedMinor);
    if (minor === 0) return { minor, rest: { rest } };
    roomMinor -= minor;
    const left = rest.unbookedMinor - minor;
    const n = rest.postings + 1;
    post(d, posting(money(minor, inv.currency), n), what);
    return { minor, rest: left > 0 ? { rest: { unbookedMinor: left, postings: n } } : {} };
  };
  const ids = subscriptionIds.ledger;
  const base = { subscriptionId: s.id, invoiceId: inv.id, occurredAt: d.now };
  const outsideRefunds = (inv.outsideRefunds ?? []).map((r): OutsideRefund => {
    if (r.status !== "succeeded" || r.rest === undefined || failedOurs(r.refundId)) return r;
    const t = take(
      r.rest,
      (amount, n) =>
        membershipRefundedOutsideSusu({
          ...base,
          id: ids.refundedOutsideRest(s.id, inv.id, r.refundId, n),
          ref: { refundId: r.refundId },
          amount,
        }),
      `the rest of invoice ${inv.id}'s refund ${r.refundId} made outside susu`,
    );
    if (t.minor === 0) return r;
    const { rest: _booked, ...kept } = r;
    return { ...kept, postedMinor: r.postedMinor + t.minor, ...t.rest };
  });
  const refund = inv.refund;
  const payments = (refund?.payments ?? []).map((p): SubscriptionPaymentRefund => {
    if (p.status !== "succeeded" || p.rest === undefined || failedOutside(p.refundId)) return p;
    const key = p.refundId ?? "refund";
    const t = take(
      p.rest,
      (amount, n) =>
        membershipInvoiceRefunded({ ...base, id: ids.paymentRefundRest(s.id, inv.id, key, n), amount }),
      `the rest of invoice ${inv.id}'s refund ${key}`,
    );
    if (t.minor === 0) return p;
    const { rest: _booked, postedMinor: _before, ...kept } = p;
    const postedMinor = paymentRefundPostedMinor(p) + t.minor;
    return { ...kept, ...(postedMinor < p.amountMinor ? { postedMinor } : {}), ...t.rest };
  });
  // Of the room left once refunds' rests took theirs, what a refund's failure freed.
  roomMinor = Math.min(roomMinor, Math.max(0, freedByFailureMinor));
  const disputes = (inv.disputes ?? []).map((x): InvoiceDispute => {
    const rest = disputeRest(x);
    if (rest === undefined) return x;
    const t = take(
      rest,
      (amount, n) =>
        membershipDisputeLost({
          ...base,
          id: ids.disputeLostRest(s.id, inv.id, x.disputeId, n),
          ref: { disputeId: x.disputeId },
          amount,
        }),
      `the rest of invoice ${inv.id}'s dispute ${x.disputeId}`,
    );
    if (t.minor === 0) return x;
    const { rest: _booked, ...kept } = x;
    return { ...kept, lossMinor: x.lossMinor + t.minor, ...t.rest };
  });
  d.putInvoice({
    ...inv,
    ...(inv.outsideRefunds !== undefined ? { outsideRefunds } : {}),
    ...(refund?.payments !== undefined ? { refund: { ...refund, payments } } : {}),
    ...(inv.disputes !== undefined ? { disputes } : {}),
  });
}

/**
 * Whether susu's refund of `inv` stood for several refunds as one (`summedAnswer`): noted, or
 * seen in the amounts stored (one refund's, on the two paths, differ; a snapshot stored
 * before it was noted).
 */
function summedAnswer(inv: SubscriptionInvoice): boolean {
  if (inv.refund?.summedAnswer === true) return true;
  return (inv.refund?.payments ?? []).some((p) =>
    (inv.outsideRefunds ?? []).some((r) => r.refundId === p.refundId && r.amountMinor !== p.amountMinor),
  );
}

/**
 * What of dispute `x`'s amount the books have not booked lost yet ({@link UnbookedRest}): its
 * `rest`; for a snapshot stored before rests were kept, which kept none, what Stripe withdrew
 * (a chargeback, or a dispute closed lost) beyond the loss booked, as every withdrawing
 * dispute stored since keeps `lossMinor + rest = amountMinor`. A dispute won has none.
 */
export function disputeRest(x: InvoiceDispute): UnbookedRest | undefined {
  if (x.status === "won") return undefined;
  if (x.rest !== undefined) return x.rest;
  const took = x.status === "lost" || withdrawn(x.stripeStatus);
  return took && x.amountMinor > x.lossMinor
    ? { unbookedMinor: x.amountMinor - x.lossMinor, postings: 0 }
    : undefined;
}

/** Whether Stripe holds the disputed money out of the balance at this status (a chargeback, not an inquiry). */
function withdrawn(stripeStatus: string): boolean {
  return !stripeStatus.startsWith("warning_") && stripeStatus !== "won" && stripeStatus !== "prevented";
}

/**
 * News of a dispute of the invoice's charge. The loss is booked when Stripe takes the money
 * (`membership_dispute_lost`, once per dispute): at a chargeback's opening (an inquiry,
 * `warning_*`, takes nothing), at an update that turns an inquiry into one, or at its closure
 * `lost` when neither came first; at most what the invoice's books still count as revenue. A
 * closure `won` (or an inquiry's, `warning_closed`) undoes a booked loss
 * (`membership_dispute_reinstated`). Only a closure closes it: later news is ignored.
 *
 * As every payment's dispute, it is told to the platform's admins (`dispute_opened`,
 * `dispute_closed`) and, heard open, opens one support ticket (`dispute`, keyed by the
 * dispute) asking for evidence, which Stripe's closure resolves. A closure heard before any
 * other news of it is told, and opens no ticket: nothing is left to answer.
 */
export function invoiceDisputed(
  d: ChargeNewsDraft,
  input: Extract<SubscriptionInput, { type: "invoice_disputed" }>,
): ChargeNewsDecision {
  const s = d.state;
  const found = paidInvoice(d, input.invoiceId, `dispute ${input.disputeId}`);
  if ("ignored" in found) return found.ignored;
  const inv = found.inv;
  const disputes = inv.disputes ?? [];
  const prev = disputes.find((x) => x.disputeId === input.disputeId);
  if (prev !== undefined && prev.status !== "open")
    return ignore(
      s,
      "dispute_already_closed",
      `dispute ${input.disputeId} of invoice ${inv.id} was closed ${prev.status}`,
    );
  const stripeStatus = input.stripeStatus ?? input.closed ?? prev?.stripeStatus ?? "needs_response";
  const amountMinor = input.amountMinor ?? prev?.amountMinor ?? inv.amountPaidMinor;
  const status: InvoiceDispute["status"] = input.closed ?? "open";
  const takes = input.closed === "lost" || (input.closed === undefined && withdrawn(stripeStatus));
  let lossMinor = prev?.lossMinor ?? 0;
  const restBefore = prev !== undefined ? disputeRest(prev) : undefined;
  let rest = restBefore;
  const ids = subscriptionIds.ledger;
  const ref = { disputeId: input.disputeId };
  if (takes && lossMinor === 0 && rest === undefined) {
    // The books may still count as given back money of a refund Stripe failed since (its
    // failure not heard yet): what that leaves no room for is kept as its rest, booked when
    // that failure is heard (see bookRests).
    lossMinor = Math.min(amountMinor, invoiceRevenueLeftMinor(inv));
    rest = amountMinor > lossMinor ? { unbookedMinor: amountMinor - lossMinor, postings: 0 } : undefined;
    if (lossMinor > 0)
      post(
        d,
        membershipDisputeLost({
          id: ids.disputeLost(s.id, inv.id, input.disputeId),
          subscriptionId: s.id,
          invoiceId: inv.id,
          ref,
          amount: money(lossMinor, inv.currency),
          occurredAt: d.now,
        }),
        `invoice ${inv.id}'s dispute ${input.disputeId}`,
      );
  }
  if (input.closed === "won" && lossMinor > 0) {
    post(
      d,
      membershipDisputeReinstated({
        id: ids.disputeWon(s.id, inv.id, input.disputeId),
        subscriptionId: s.id,
        invoiceId: inv.id,
        ref,
        amount: money(lossMinor, inv.currency),
        occurredAt: d.now,
      }),
      `invoice ${inv.id}'s won dispute ${input.disputeId}`,
    );
    lossMinor = 0;
  }
  // Won, Stripe gives back all it withdrew: nothing of it is left to book.
  if (input.closed === "won") rest = undefined;
  const next: InvoiceDispute = {
    disputeId: input.disputeId,
    amountMinor,
    stripeStatus,
    status,
    lossMinor,
    ...(rest !== undefined ? { rest } : {}),
  };
  if (
    prev !== undefined &&
    prev.stripeStatus === next.stripeStatus &&
    prev.amountMinor === next.amountMinor &&
    prev.status === next.status &&
    prev.lossMinor === next.lossMinor &&
    restBefore?.unbookedMinor === next.rest?.unbookedMinor &&
    restBefore?.postings === next.rest?.postings
  )
    return ignore(
      s,
      "dispute_unchanged",
      `dispute ${input.disputeId} of invoice ${inv.id} is ${stripeStatus} already`,
    );
  d.putInvoice({
    ...inv,
    disputes: prev === undefined ? [...disputes, next] : disputes.map((x) => (x === prev ? next : x)),
  });
  tellOfDispute(d, inv, input, prev, next, withdrawn(stripeStatus));
  return d.done();
}

/**
 * The admins hear of a dispute first heard of open (with its ticket) and of its closure (its
 * ticket, when one was opened, resolved); an update tells nobody.
 */
function tellOfDispute(
  d: ChargeNewsDraft,
  inv: SubscriptionInvoice,
  input: Extract<SubscriptionInput, { type: "invoice_disputed" }>,
  prev: InvoiceDispute | undefined,
  next: InvoiceDispute,
  takesMoney: boolean,
): void {
  const s = d.state;
  const id = next.disputeId;
  const amount = `${next.amountMinor} ${inv.currency} (minor units)`;
  const about = { disputeId: id, invoiceId: inv.id, amountMinor: next.amountMinor, currency: inv.currency };
  const ticketId = subscriptionIds.disputeTicket(s.id, inv.id, id);
  if (next.status === "open") {
    if (prev !== undefined) return;
    const due = input.evidenceDueBy === undefined ? undefined : isoString(input.evidenceDueBy);
    d.ticket(
      ticketId,
      "dispute",
      `The charge of invoice ${inv.id} of membership ${s.id} (person ${s.personId}) is disputed by the ` +
        `person's bank (${id}${input.reason !== undefined ? `, ${input.reason}` : ""}): ${amount}` +
        `${due !== undefined ? `; evidence due by ${due}` : ""}. ` +
        (!takesMoney
          ? "It is an inquiry: Stripe has taken nothing and nothing is booked. "
          : next.lossMinor > 0
            ? `Stripe took the money and the ledger books ${next.lossMinor} ${inv.currency} (minor units) lost ` +
              "(membership_dispute_lost; undone if the dispute is won). "
            : "Stripe took the money; the ledger books no loss, as the invoice's books had given that money " +
              "back already (a refund). ") +
        (takesMoney && next.rest !== undefined
          ? `${next.rest.unbookedMinor} ${inv.currency} (minor units) of it is not booked: the books count it as ` +
            "refunded; if Stripe failed that refund, it is booked lost when the failure is heard (a dispute lost " +
            "gives back the part a refund standing holds). "
          : "") +
        "Answer it at Stripe with the membership's evidence (the invoice, the plan's terms, the person's use of it). " +
        "Susu resolves this ticket when Stripe closes the dispute",
    );
    d.tellAdmins(subscriptionIds.notice.disputeOpened(s.id, inv.id, id), "dispute_opened", {
      ...about,
      ...(input.reason !== undefined ? { reason: input.reason } : {}),
      ...(due !== undefined ? { evidenceDueBy: due } : {}),
    });
    return;
  }
  d.tellAdmins(subscriptionIds.notice.disputeClosed(s.id, inv.id, id), "dispute_closed", {
    ...about,
    outcome: next.status,
  });
  if (prev === undefined) return;
  const lossBefore = prev.lossMinor;
  d.resolveTicket(
    subscriptionIds.disputeTicketResolved(s.id, inv.id, id),
    ticketId,
    `Stripe closed dispute ${id} ${next.status}: ` +
      (next.status === "won"
        ? lossBefore > 0
          ? `the ${lossBefore} ${inv.currency} (minor units) booked lost is undone (membership_dispute_reinstated)`
          : "nothing had been booked lost"
        : (next.lossMinor > 0
            ? `${next.lossMinor} ${inv.currency} (minor units) is booked lost (membership_dispute_lost)`
            : "no loss is booked: the invoice's books had given that money back already") +
          (next.rest !== undefined
            ? `; ${next.rest.unbookedMinor} ${inv.currency} (minor units) is not booked, as the books count it ` +
              "refunded: Stripe gives back the part a refund standing holds, and if Stripe failed that refund, " +
              "it is booked lost when the failure is heard"
            : "")),
  );
}
