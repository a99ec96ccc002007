// Disputes of a payment aggregate's charge (a held payment, a marketplace charge), handled
// the same way by every one: a dispute is recorded once, with a ticket and the sellers and
// admins told; Stripe's updates change its status and evidence deadline; its closure is
// recorded — first recording the dispute when the closure overtook its opening, since
// Stripe does not promise order — and, when lost, what it took (at most what was left, then
// beyond it at most what is owed to the customer outside Stripe) is divided by the
// aggregate's rules. What an aggregate does besides (freeze a release, book
// the loss) is its own, in its {@link DisputeRules}.

import { type CurrencyCode, formatMoney, money } from "../money/index.js";
import { owedIds } from "../owed/owed-ids.js";
import { type Instant, isoString } from "../shared/time.js";
import { ignore } from "./decision.js";
import type { EffectAddress, NoteTicketEffect, ResolveTicketEffect } from "./effect-address.js";
import type { DisputeClosedFact, DisputeOpenedFact, DisputeUpdatedFact } from "./payment-facts.js";

/** A dispute of the charge, as Stripe reported it. An aggregate's own dispute adds optional fields (how a loss divides). */
export interface Dispute {
  readonly id: string;
  readonly amountMinor: number;
  readonly reason: string;
  /**
   * Stripe's dispute status as last reported (`needs_response`, `under_review`, `won`, `lost`, …).
   * Only a closure (`charge.dispute.closed`) closes a dispute: an opening or an update that
   * reports `lost` records the status and nothing more.
   */
  readonly stripeStatus: string;
  readonly evidenceDueBy?: Instant;
  readonly status: "open" | "won" | "lost";
  /**
   * Set only by Stripe's closure of a loss that must wait (see {@link DisputeRules.lossWaits}):
   * the amount the closure reported. The dispute stays `open` until the refund in flight is
   * heard of; the loss is then measured with this amount (the closure's, Stripe's last word
   * on what it took), never the opening's.
   */
  readonly waitingLossMinor?: number;
  /** For a lost dispute: what it took back of what was left to give back (at most that). */
  readonly lostMinor?: number;
  /**
   * For a lost dispute that took more than was left (see {@link DisputeRules.owedLeftMinor}):
   * what it took beyond, of the money owed to the customer outside Stripe — their bank gave it
   * back, so it is no longer owed. What the bank took is `lostMinor` plus this. Absent: nothing.
   */
  readonly owedTakenMinor?: number;
  /**
   * For a lost dispute that took more than was left and than was still owed (see
   * {@link DisputeRules.owedPaidMinor}): what it took beyond, of what an admin had already paid
   * the customer outside Stripe — the customer got it twice (from the admin and from their
   * bank) and owes it back. Booked as the loss's against the aggregate's `owed_by_customer`,
   * and a ticket asks an admin to recover it. What the bank took is `lostMinor` plus
   * `owedTakenMinor` plus this. Absent: nothing.
   */
  readonly overpaidMinor?: number;
  /** Whether the loss is in the ledger yet. */
  readonly lossBooked?: boolean;
}

/**
 * The codes of dispute facts that do not apply, which every payment aggregate's ignored
 * codes end with: `no_charge` (a dispute of a charge never captured), `duplicate_dispute`
 * (recorded already), `no_such_dispute` (an update of a dispute never recorded),
 * `dispute_unchanged` (an update that changes nothing), `dispute_already_closed`.
 */
export const DISPUTE_IGNORED_CODES = [
  "no_charge",
  "duplicate_dispute",
  "no_such_dispute",
  "dispute_unchanged",
  "dispute_already_closed",
] as const;

/** One of {@link DISPUTE_IGNORED_CODES}. */
export type DisputeIgnoredCode = (typeof DISPUTE_IGNORED_CODES)[number];

/** What the dispute handlers need of an aggregate's draft (a `PaymentDraft` has it). */
export interface DisputeDraft {
  readonly state: DisputedState;
  addDispute(dispute: Dispute): void;
  updateDispute(id: string, patch: Partial<Dispute>): void;
  ticket(id: string, reason: "dispute", summary: string): void;
  done(): unknown;
}

/** What the dispute handlers read of an aggregate's state. */
export interface DisputedState {
  readonly id: string;
  readonly status: string;
  readonly capturedAt?: Instant;
  readonly disputes: readonly Dispute[];
}

/** How one payment aggregate answers its disputes, around what every one does alike. */
export interface DisputeRules<D extends DisputeDraft, R> {
  /** What ignored details call the aggregate (`the payment is …`, `the charge is …`). */
  readonly noun: string;
  /** The ticket a new dispute opens: its id and summary (`due`: the evidence deadline, ISO). */
  readonly ticket: (
    d: D,
    dispute: Dispute,
    due: string | undefined,
  ) => { readonly id: string; readonly summary: string };
  /** Tells the sellers and the admins that a dispute opened or closed. */
  readonly tell: (
    d: D,
    template: "dispute_opened" | "dispute_closed",
    disputeId: string,
    data: Record<string, string | number>,
  ) => void;
  /** What else a new dispute does (a release it freezes). */
  readonly opened?: (d: D, dispute: Dispute) => void;
  /**
   * What a loss does before it is measured (called once, when a dispute closes lost): the
   * aggregate's refunds that never reached the customer stop counting as given back — the
   * customer's bank gave the money back instead.
   */
  readonly beforeLoss?: (d: D, disputeId: string) => void;
  /**
   * Whether a loss must wait before it is measured: a refund of the charge is still in flight
   * (at Stripe, or a seller's reversal for it), so whether it reaches the customer is not known
   * yet. Stripe fails a refund still pending when its charge is disputed
   * (`charge_for_pending_refund_disputed`) and refuses a new one on a charge charged back
   * (`charge_disputed`), but one that went through before the dispute may be reported after
   * its closure. A dispute closed lost meanwhile stays `open` here with Stripe's status `lost`
   * (the release stays frozen, refunds refused) until the aggregate hears the refund's outcome
   * and calls {@link closeLossThatWaited}: the loss is then what it would have been had that
   * outcome come before the closure.
   */
  readonly lossWaits?: (d: D) => boolean;
  /** What is left to take back: a loss takes at most this (and what is owed, below). */
  readonly refundableMinor: (d: D) => number;
  /**
   * What is owed to the customer outside Stripe and not paid yet (refunds Stripe could not
   * make, counted as given back). Nothing was refunded at Stripe for it, so the customer's bank
   * may take it back too: a loss beyond `refundableMinor` takes the rest from it, at most this
   * (`owedTakenMinor`), as the customer got it through their bank. Absent: nothing is owed.
   */
  readonly owedLeftMinor?: (d: D) => number;
  /**
   * What admins recorded paying the customer outside Stripe of what was owed that no lost
   * dispute took as paid twice yet (payments less the disputes' `overpaidMinor`). A loss beyond
   * `refundableMinor` and `owedLeftMinor` takes the rest from it, at most this
   * (`overpaidMinor`): the customer's bank gave back money an admin had paid them already.
   * Absent: nothing was paid.
   */
  readonly owedPaidMinor?: (d: D) => number;
  /**
   * How a loss of `lostMinor` by dispute `disputeId` divides (after `beforeLoss`), as fields of
   * the aggregate's own dispute (`sellerPartMinor`, `parts`…).
   */
  readonly lossParts: (d: D, lostMinor: number, disputeId: string) => object;
  /**
   * What follows a won dispute (every closure not lost, an inquiry's `warning_closed` too). It
   * calls `tellClosed` once, before its `done()`, adding to the notice what the closure did to
   * the aggregate (a release resumed or still waiting), so that the notice says what is true
   * after it.
   */
  readonly won: (d: D, tellClosed: (more?: Readonly<Record<string, string | number>>) => void) => R;
  /** What follows a lost dispute, once recorded (booking the loss). */
  readonly lost: (d: D, disputeId: string) => R;
}

/** What a dispute handler returns: the aggregate's own outcome, its draft's `done()`, or an ignored input. */
type Outcome<D extends DisputeDraft, R> =
  | R
  | ReturnType<D["done"]>
  | ReturnType<typeof ignore<D["state"], DisputeIgnoredCode>>;

function recordDispute<D extends DisputeDraft, R>(d: D, dispute: Dispute, rules: DisputeRules<D, R>): void {
  d.addDispute(dispute);
  const due = dispute.evidenceDueBy === undefined ? undefined : isoString(dispute.evidenceDueBy);
  const ticket = rules.ticket(d, dispute, due);
  d.ticket(ticket.id, "dispute", ticket.summary);
  rules.tell(d, "dispute_opened", dispute.id, {
    disputeId: dispute.id,
    amountMinor: dispute.amountMinor,
    reason: dispute.reason,
    ...(due !== undefined ? { evidenceDueBy: due } : {}),
  });
  rules.opened?.(d, dispute);
}

/** Stripe opened a dispute of the charge: recorded once (ignored before a capture, or again). */
export function disputeOpened<D extends DisputeDraft, R>(
  d: D,
  fact: DisputeOpenedFact,
  rules: DisputeRules<D, R>,
): Outcome<D, R> {
  const s: D["state"] = d.state;
  if (s.capturedAt === undefined) return ignore(s, "no_charge", `the ${rules.noun} is ${s.status}`);
  if (s.disputes.some((x) => x.id === fact.disputeId))
    return ignore(s, "duplicate_dispute", `dispute ${fact.disputeId} already recorded`);
  recordDispute(
    d,
    {
      id: fact.disputeId,
      amountMinor: fact.amountMinor,
      reason: fact.reason,
      stripeStatus: fact.stripeStatus,
      ...(fact.evidenceDueBy !== undefined ? { evidenceDueBy: fact.evidenceDueBy } : {}),
      status: "open",
    },
    rules,
  );
  return d.done() as ReturnType<D["done"]>;
}

/** Stripe updated an open dispute: its status and evidence deadline change; nothing else does. */
export function disputeUpdated<D extends DisputeDraft>(
  d: D,
  { disputeId, stripeStatus, evidenceDueBy }: DisputeUpdatedFact,
): Outcome<D, never> {
  const s: D["state"] = d.state;
  const x = s.disputes.find((y) => y.id === disputeId);
  if (!x) return ignore(s, "no_such_dispute", `no dispute ${disputeId}`);
  if (x.status !== "open") return ignore(s, "dispute_already_closed", `dispute ${disputeId} is ${x.status}`);
  if (x.stripeStatus === stripeStatus && (evidenceDueBy === undefined || evidenceDueBy === x.evidenceDueBy))
    return ignore(s, "dispute_unchanged", `dispute ${disputeId} is still ${stripeStatus}`);
  d.updateDispute(disputeId, { stripeStatus, ...(evidenceDueBy !== undefined ? { evidenceDueBy } : {}) });
  return d.done() as ReturnType<D["done"]>;
}

/**
 * Stripe closed a dispute, won or lost. A closure that overtook the opening records the
 * dispute first. A loss takes what Stripe says, up to what is left, divided by the
 * aggregate's `lossParts` (after `beforeLoss`); it is booked at once when it took nothing.
 * While a refund is in flight (`lossWaits`) a loss is only noted (Stripe's status `lost`, its
 * amount) and closed by {@link closeLossThatWaited} once the refund's outcome is known.
 */
export function disputeClosed<D extends DisputeDraft, R>(
  d: D,
  { disputeId, outcome, amountMinor }: DisputeClosedFact,
  rules: DisputeRules<D, R>,
): Outcome<D, R> {
  const s: D["state"] = d.state;
  if (s.capturedAt === undefined) return ignore(s, "no_charge", `the ${rules.noun} is ${s.status}`);
  const known = s.disputes.find((y) => y.id === disputeId);
  // Stripe does not promise order: a closure that overtook the opening records the dispute first.
  if (!known)
    recordDispute(
      d,
      { id: disputeId, amountMinor, reason: "unknown", stripeStatus: outcome, status: "open" },
      rules,
    );
  else if (known.status !== "open")
    return ignore(s, "dispute_already_closed", `dispute ${disputeId} is ${known.status}`);
  if (outcome === "lost" && rules.lossWaits?.(d)) {
    if (known?.waitingLossMinor === amountMinor)
      return ignore(
        s,
        "dispute_unchanged",
        `dispute ${disputeId} is lost; its loss waits for a refund in flight`,
      );
    d.updateDispute(disputeId, { stripeStatus: "lost", amountMinor, waitingLossMinor: amountMinor });
    return d.done() as ReturnType<D["done"]>;
  }
  if (outcome === "won") {
    d.updateDispute(disputeId, { status: "won", stripeStatus: "won" });
    return rules.won(d, (more = {}) =>
      rules.tell(d, "dispute_closed", disputeId, { disputeId, outcome, ...more }),
    );
  }
  return closeLost(d, disputeId, amountMinor, rules);
}

/**
 * Closes the disputes Stripe closed lost while a refund was in flight (still `open` here,
 * `waitingLossMinor` set by the closure), once none is (`lossWaits`): each loss measured with
 * its closure's amount, the refund's outcome now known. A dispute that only an opening or an
 * update reported `lost` is not closed here: its `charge.dispute.closed` closes it. For the
 * aggregate to call after a refund's or a reversal's outcome; `undefined` when no loss
 * waited, or one still waits.
 */
export function closeLossThatWaited<D extends DisputeDraft, R>(
  d: D,
  rules: DisputeRules<D, R>,
): Outcome<D, R> | undefined {
  let outcome: Outcome<D, R> | undefined;
  for (;;) {
    const waiting = waitingLoss(d.state);
    if (waiting?.waitingLossMinor === undefined || rules.lossWaits?.(d)) return outcome;
    outcome = closeLost(d, waiting.id, waiting.waitingLossMinor, rules);
  }
}

/** A dispute Stripe closed lost whose loss waits for a refund in flight (see {@link closeLossThatWaited}). */
export function waitingLoss(s: DisputedState): Dispute | undefined {
  return s.disputes.find((x) => x.status === "open" && x.waitingLossMinor !== undefined);
}

/**
 * A dispute lost: what it took recorded — at most what was left (after `beforeLoss`), then
 * beyond it at most what is owed to the customer outside Stripe (`owedTakenMinor`) — then the
 * aggregate's `lost`.
 */
function closeLost<D extends DisputeDraft, R>(
  d: D,
  disputeId: string,
  amountMinor: number,
  rules: DisputeRules<D, R>,
): R {
  rules.tell(d, "dispute_closed", disputeId, { disputeId, outcome: "lost" });
  rules.beforeLoss?.(d, disputeId);
  const takenMinor = Math.max(amountMinor, 0);
  const lostMinor = Math.min(takenMinor, rules.refundableMinor(d));
  const owedTakenMinor = Math.max(0, Math.min(takenMinor - lostMinor, rules.owedLeftMinor?.(d) ?? 0));
  // Beyond what was left and what was still owed: what an admin had paid the customer already,
  // which their bank gave back too (they got it twice). susu cannot tell this apart from a
  // refund Stripe reported succeeded and failed since without susu hearing of it yet: the
  // ticket asking to recover it says so (see `askToRecoverOverpaid`).
  const overpaidMinor = Math.max(
    0,
    Math.min(takenMinor - lostMinor - owedTakenMinor, rules.owedPaidMinor?.(d) ?? 0),
  );
  d.updateDispute(disputeId, {
    status: "lost",
    stripeStatus: "lost",
    // The closure's amount: what Stripe says the bank took (see lossNotCountedMinor).
    amountMinor: takenMinor,
    lostMinor,
    ...(owedTakenMinor > 0 ? { owedTakenMinor } : {}),
    ...(overpaidMinor > 0 ? { overpaidMinor } : {}),
    ...rules.lossParts(d, lostMinor, disputeId),
    lossBooked: lostMinor + owedTakenMinor + overpaidMinor === 0,
  });
  return rules.lost(d, disputeId);
}

/**
 * What lost dispute `x` took at Stripe (its closure's amount) beyond what its loss counts
 * (`lostMinor`, `owedTakenMinor`, `overpaidMinor`): money a refund counted as given back when it closed — a
 * refund Stripe failed after its success, whose failure had not been heard yet. Once such a
 * refund is owed outside Stripe, the aggregate takes this from what is owed (the customer's
 * bank gave it back), as {@link closeLost} does for a loss closed after it. 0 for a dispute
 * not lost.
 */
export function lossNotCountedMinor(x: Dispute): number {
  if (x.status !== "lost") return 0;
  return Math.max(0, x.amountMinor - (x.lostMinor ?? 0) - (x.owedTakenMinor ?? 0) - (x.overpaidMinor ?? 0));
}

/**
 * What the refunds a lost dispute superseded (they never reached the customer; the bank gave
 * back `lostMinor` instead) still owe the customer: what they asked for beyond the loss, at
 * most `refundableMinor` (what is left), with the last of them, whose reason (and rules) the
 * refund of the rest keeps — owed to the customer outside Stripe, as Stripe refuses every
 * refund of a charge charged back (`charge_disputed`). `undefined` when the dispute superseded
 * no refund or nothing is owed.
 */
export function owedAfterSupersededRefunds<
  R extends { readonly supersededBy?: string; readonly amountMinor: number },
>(
  refunds: readonly R[],
  disputes: readonly Dispute[],
  disputeId: string,
  refundableMinor: number,
): { readonly restMinor: number; readonly last: R } | undefined {
  const superseded = refunds.filter((r) => r.supersededBy === disputeId);
  const last = superseded.at(-1);
  if (last === undefined) return undefined;
  const askedMinor = superseded.reduce((sum, r) => sum + r.amountMinor, 0);
  const lostMinor = disputes.find((x) => x.id === disputeId)?.lostMinor ?? 0;
  const restMinor = Math.min(askedMinor - lostMinor, refundableMinor);
  return restMinor > 0 ? { restMinor, last } : undefined;
}

/**
 * What {@link resolveOwedGivenBack} and {@link takeUncountedLossesFromOwed} need of a payment
 * aggregate's draft (a `PaymentDraft` has it): its refunds owed outside Stripe, its disputes,
 * and a way to resolve the tickets of aggregate `A`.
 */
export interface OwedLossDraft<A extends string> {
  readonly state: {
    readonly id: string;
    readonly currency: CurrencyCode;
    readonly refunds: readonly { readonly number: number; readonly status: string }[];
    readonly disputes: readonly Dispute[];
  };
  addressed(id: string): EffectAddress<A>;
  effect(effect: ResolveTicketEffect<A>): void;
  effect(effect: NoteTicketEffect<A>): void;
  ticket(id: string, reason: "owed_overpaid", summary: string): void;
  notify(
    id: string,
    to: "customer",
    template: "owed_reduced_by_dispute",
    data: Record<string, string | number>,
  ): void;
  updateDispute(id: string, patch: Partial<Dispute>): void;
}

/** How one payment aggregate books a loss's part taken from what is owed to its customer outside Stripe. */
export interface OwedLossRules<D> {
  /** What is owed to the customer outside Stripe and not paid nor given back yet. */
  readonly owedLeftMinor: (d: D) => number;
  /** The id of the `refund_owed` ticket of refund `refund` (`<agg>Ids.ticket.refundOwed`). */
  readonly refundOwedTicket: (aggregateId: string, refund: number) => string;
  /**
   * Posts the part `takenMinor` of dispute `disputeId`'s loss, booked already, that it took
   * of what is owed now that refund `refundNumber` is owed (Dr dispute_losses, Cr
   * owed_to_customer, with the id `<agg>Ids.ledger.disputeLostFromOwed`).
   */
  readonly postTakenFromOwed: (d: D, disputeId: string, refundNumber: number, takenMinor: number) => void;
  /** The id of the `owed_overpaid` ticket of dispute `disputeId` (`<agg>Ids.ticket.owedOverpaid`). */
  readonly overpaidTicket: (aggregateId: string, disputeId: string) => string;
  /**
   * What the `owed_overpaid` ticket names: the customer (`name <email>`), the aggregate
   * (`held payment hp1, booking b1`), and the refunds of the charge Stripe reported succeeded
   * (their numbers): Stripe may fail one afterwards, and susu may not have heard of it yet.
   */
  readonly overpaidContext: (d: D) => {
    readonly customer: string;
    readonly what: string;
    readonly succeededRefunds: readonly number[];
    /** Where an admin records what the customer pays back (the API path of its `owed-recoveries`). */
    readonly recordAt: string;
  };
}

/**
 * A loss that took what was owed to the customer outside Stripe (`owedTakenMinor`: their bank
 * gave it back) and left nothing owed: each `refund_owed` ticket's ask is done, as a recorded
 * payment of the last of it does (`owed/payment-owed.ts`).
 */
export function resolveOwedGivenBack<A extends string, D extends OwedLossDraft<A>>(
  d: D & OwedLossDraft<A>,
  disputeId: string,
  rules: OwedLossRules<D>,
): void {
  const s = d.state;
  const takenMinor = s.disputes.find((x) => x.id === disputeId)?.owedTakenMinor ?? 0;
  if (takenMinor === 0 || rules.owedLeftMinor(d) !== 0) return;
  for (const r of s.refunds.filter((x) => x.status === "owed_outside_stripe"))
    d.effect({
      ...d.addressed(owedIds.payment.resolveRefundOwed(s.id, r.number)),
      kind: "resolve_ticket",
      ticketId: rules.refundOwedTicket(s.id, r.number),
      by: "stripe",
      note: `dispute ${disputeId} was lost: the customer's bank gave back ${takenMinor} ${s.currency} of what was owed outside Stripe, and nothing is left owed`,
    });
}

/**
 * Refund `refundNumber`, counted as given back when disputes closed lost, is owed outside
 * Stripe now (Stripe failed it after its success): what those losses took at Stripe beyond
 * what they booked ({@link lossNotCountedMinor}) came out of it — the customer's bank gave it
 * back — so it is taken from what is owed (`owedTakenMinor`, at most what is left owed) and
 * booked as the loss's (Dr dispute_losses, Cr owed_to_customer), the books then agreeing with
 * Stripe. A loss not booked yet (a transfer in flight, a seller not paid yet) books it with
 * the rest.
 */
export function takeUncountedLossesFromOwed<A extends string, D extends OwedLossDraft<A>>(
  d: D & OwedLossDraft<A>,
  refundNumber: number,
  rules: OwedLossRules<D>,
): void {
  for (const x of d.state.disputes) {
    const takenMinor = Math.min(lossNotCountedMinor(x), rules.owedLeftMinor(d));
    if (takenMinor <= 0) continue;
    d.updateDispute(x.id, { owedTakenMinor: (x.owedTakenMinor ?? 0) + takenMinor });
    if (x.lossBooked === true) rules.postTakenFromOwed(d, x.id, refundNumber, takenMinor);
    resolveOwedGivenBack(d, x.id, rules);
    tellOwedGivenBack(d, x.id, takenMinor, `${x.id}:${refundNumber}`, rules);
  }
}

/**
 * What a lost dispute does to money owed to the customer outside Stripe, once its loss is
 * split: the `refund_owed` tickets closed when nothing is left owed, the customer told what
 * their bank gave back (the step is the dispute's), and an admin asked to recover what the
 * customer got twice. Held payments and marketplace charges alike.
 */
export function settleOwedAfterLoss<A extends string, D extends OwedLossDraft<A>>(
  d: D & OwedLossDraft<A>,
  disputeId: string,
  rules: OwedLossRules<D>,
): void {
  resolveOwedGivenBack(d, disputeId, rules);
  const takenMinor = d.state.disputes.find((x) => x.id === disputeId)?.owedTakenMinor ?? 0;
  tellOwedGivenBack(d, disputeId, takenMinor, disputeId, rules);
  askToRecoverOverpaid(d, disputeId, rules);
}

/**
 * Lost dispute `disputeId` took money an admin had already paid the customer outside Stripe
 * (`overpaidMinor`): the customer got it twice, and owes it back. A ticket asks an admin to
 * recover it. susu knows what was paid outside Stripe (the admins recorded it) and what Stripe
 * says the bank took; what it cannot know at the dispute's close is whether a refund Stripe
 * reported succeeded has failed since (Stripe tells it later, `refund.failed`): then part of
 * what the bank took was that refund's money, the customer was not paid twice for that part,
 * and the refund, owed outside Stripe once its failure is heard, is what this over-payment is
 * to be set against. The ticket names those refunds when there are any.
 */
export function askToRecoverOverpaid<A extends string, D extends OwedLossDraft<A>>(
  d: D & OwedLossDraft<A>,
  disputeId: string,
  rules: OwedLossRules<D>,
): void {
  const s = d.state;
  const overpaidMinor = s.disputes.find((x) => x.id === disputeId)?.overpaidMinor ?? 0;
  if (overpaidMinor === 0) return;
  const { customer, what, succeededRefunds, recordAt } = rules.overpaidContext(d);
  const amount = formatMoney(money(overpaidMinor, s.currency));
  const unsure =
    succeededRefunds.length === 0
      ? ""
      : `. susu cannot tell yet whether this is all paid twice: Stripe reported refund${succeededRefunds.length > 1 ? "s" : ""} ${succeededRefunds.join(", ")} of this charge succeeded, and if Stripe fails one of them afterwards (it says so later) part of what the bank took was that refund's money instead; that refund is then owed outside Stripe with its own ticket, and what it leaves owed is to be set against what is recovered here`;
  d.ticket(
    rules.overpaidTicket(s.id, disputeId),
    "owed_overpaid",
    `recover ${amount} from customer ${customer} (${what}): dispute ${disputeId} was lost and the customer's bank gave back ${amount} that an admin had already paid them outside Stripe, so they got it twice. It is booked as the dispute's loss against ${s.id}'s owed_by_customer; record what the customer pays back (POST ${recordAt}), which closes this ticket once nothing is owed back${unsure}`,
  );
}

/**
 * Lost dispute `disputeId` lessened what is owed to the customer outside Stripe by `takenMinor`
 * (their bank gave it back; `step` keys this lessening: the dispute's id, or `<d>:<n>` when
 * refund n's failure made the loss take it): the customer is told what came back and what is
 * still owed (`owed_reduced_by_dispute`), and while something is left each open `refund_owed`
 * ticket gets a note whose first line says what is left now (nothing left: the tickets are
 * resolved instead, {@link resolveOwedGivenBack}).
 */
export function tellOwedGivenBack<A extends string, D extends OwedLossDraft<A>>(
  d: D & OwedLossDraft<A>,
  disputeId: string,
  takenMinor: number,
  step: string,
  rules: OwedLossRules<D>,
): void {
  if (takenMinor <= 0) return;
  const s = d.state;
  const leftMinor = rules.owedLeftMinor(d);
  const amount = (minor: number) => formatMoney(money(minor, s.currency));
  d.notify(owedIds.payment.noticeReduced(s.id, step), "customer", "owed_reduced_by_dispute", {
    disputeId,
    amountMinor: takenMinor,
    leftMinor,
    currency: s.currency,
  });
  if (leftMinor === 0) return;
  for (const r of s.refunds.filter((x) => x.status === "owed_outside_stripe"))
    d.effect({
      ...d.addressed(owedIds.payment.noteRefundOwed(s.id, r.number, step)),
      kind: "note_ticket",
      ticketId: rules.refundOwedTicket(s.id, r.number),
      note: `${amount(leftMinor)} is left owed to the customer now (pay only that): dispute ${disputeId} was lost and the customer's bank gave back ${amount(takenMinor)} of what was owed outside Stripe`,
    });
}
