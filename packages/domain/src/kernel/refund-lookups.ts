// A refund of a payment aggregate's charge (a held payment, a marketplace charge) whose outcome
// never reached susu, handled the same way by every one: `REFUND_OUTCOME_OVERDUE_MS` after an
// attempt was asked of Stripe, its `refund_overdue` timer asks Stripe for it (`find_refund`);
// an answer that it ended comes back as the outcome a webhook would bring, and one that it did
// not (`refund_not_ended`) opens a ticket on the first and the last look-up and asks again
// `REFUND_OUTCOME_RECHECK_MS` later, up to `REFUND_OUTCOME_LOOKUPS` look-ups. What an aggregate
// names (its ids, its look-up effect, what waits on the refund) is its own, in its
// {@link RefundLookupRules}.
import {
  REFUND_OUTCOME_LOOKUPS,
  REFUND_OUTCOME_OVERDUE_MS,
  REFUND_OUTCOME_RECHECK_MS,
} from "../policy/refund-overdue.js";
import { DAY_MS, type Instant } from "../shared/time.js";
import { ignore } from "./decision.js";
import { type DisputedState, waitingLoss } from "./disputes.js";

/** What the look-ups read of one of the aggregate's refunds. */
export interface LookedUpRefund {
  readonly number: number;
  readonly status: string;
  readonly attempts: number;
  readonly amountMinor: number;
  /** How many look-ups of its latest attempt have answered that it had not ended. */
  readonly lookups?: number;
}

/** What the look-ups need of an aggregate's draft (a `PaymentDraft` has it). */
export interface RefundLookupDraft {
  readonly state: DisputedState & { readonly currency: string; readonly refunds: readonly LookedUpRefund[] };
  readonly now: Instant;
  updateRefund(number: number, patch: { readonly lookups: number }): void;
  ticket(id: string, reason: "refund_overdue", summary: string): void;
  timer(
    timer: { readonly kind: "refund_overdue"; refund: number; attempt: number; lookup: number },
    at: Instant,
  ): void;
  done(): unknown;
}

/** How one payment aggregate names its refund look-ups, around what every one does alike. */
export interface RefundLookupRules<D extends RefundLookupDraft> {
  /** Asks Stripe for attempt `attempt` of refund `refund` (the aggregate's `find_refund` effect). */
  readonly askStripe: (d: D, refund: number, attempt: number, lookup: number) => void;
  /** The attempt's refund effect id: its Stripe idempotency key and metadata `effect_id`. */
  readonly refundEffectId: (d: D, refund: number, attempt: number) => string;
  /** The ticket's id, the first look-up's or (`last`) the one saying susu stopped asking. */
  readonly ticketId: (d: D, refund: number, attempt: number, last: boolean) => string;
  /** Whose refund it is, after the amount (`to <email>`, `of marketplace charge <id>`). */
  readonly whose: (d: D) => string;
  /** What a lost dispute's loss waiting for the refund leaves undone (`not booked, …`). */
  readonly lossWaitNote: string;
  /** What the refund blocks when no loss waits for it. */
  readonly blockedNote: string;
}

/** What a look-up handler returns: the draft's `done()`, or an ignored input. */
type Outcome<D extends RefundLookupDraft> =
  | ReturnType<D["done"]>
  | ReturnType<
      typeof ignore<D["state"], "timer_no_longer_due" | "no_such_refund" | "refund_already_settled">
    >;

/** `lookups` answered of a refund, or 0. */
const answered = (r: LookedUpRefund): number => r.lookups ?? 0;

/**
 * Attempt `attempt` of refund `refund` was asked of Stripe `REFUND_OUTCOME_OVERDUE_MS` ago (or
 * the previous look-up found it still pending) and is still `requested`: Stripe left it
 * pending, or its outcome (the webhook; the call's answer was `pending`) never reached susu.
 * susu asks Stripe for the refund (look-up `lookup`): its answer is the outcome
 * (`refund_succeeded`, `refund_failed`, as a webhook would bring it) or `refund_not_ended`
 * (see {@link refundNotEnded}). Nothing else changes. A timer of an attempt that ended, or of a
 * look-up already answered, is ignored.
 */
export function refundOverdue<D extends RefundLookupDraft>(
  d: D,
  rules: RefundLookupRules<D>,
  refund: number,
  attempt: number,
  lookup: number,
): Outcome<D> {
  const s = d.state;
  const r = s.refunds.find((x) => x.number === refund);
  if (r?.status !== "requested" || r.attempts !== attempt || answered(r) >= lookup)
    return ignore(
      s,
      "timer_no_longer_due",
      r === undefined
        ? `no refund ${refund}`
        : `refund ${refund} is ${r.status} (attempt ${r.attempts}, ${answered(r)} look-ups answered)`,
    );
  rules.askStripe(d, refund, attempt, lookup);
  return d.done() as ReturnType<D["done"]>;
}

/**
 * Look-up `lookup` found the refund attempt still pending at Stripe (`refundId`), or no refund
 * made by it. The first such answer opens the `refund_overdue` ticket (what waits on it — a lost
 * dispute's loss that stays unbooked — and what to check at Stripe); susu asks again
 * `REFUND_OUTCOME_RECHECK_MS` later, up to `REFUND_OUTCOME_LOOKUPS` look-ups, and the last one's
 * answer opens a ticket saying it stopped asking. The refund still ends as Stripe's news comes.
 * A repeated or late answer of a look-up already heard is ignored.
 */
export function refundNotEnded<D extends RefundLookupDraft>(
  d: D,
  rules: RefundLookupRules<D>,
  answer: {
    readonly refund: number;
    readonly attempt: number;
    readonly lookup: number;
    readonly refundId?: string;
  },
): Outcome<D> {
  const { refund, attempt, lookup, refundId } = answer;
  const s = d.state;
  const r = s.refunds.find((x) => x.number === refund);
  if (!r || attempt < 1 || attempt > r.attempts)
    return ignore(s, "no_such_refund", `no attempt ${attempt} of refund ${refund}`);
  if (r.status !== "requested" || attempt !== r.attempts || answered(r) >= lookup)
    return ignore(
      s,
      "refund_already_settled",
      `refund ${refund} is ${r.status} (attempt ${r.attempts}, ${answered(r)} look-ups answered)`,
    );
  d.updateRefund(refund, { lookups: lookup });
  const last = lookup >= REFUND_OUTCOME_LOOKUPS;
  if (lookup === 1 || last) {
    const waiting = waitingLoss(s);
    const days = Math.round((REFUND_OUTCOME_OVERDUE_MS + (lookup - 1) * REFUND_OUTCOME_RECHECK_MS) / DAY_MS);
    const atStripe =
      refundId !== undefined
        ? `Stripe holds it as ${refundId}, still pending`
        : "Stripe shows no refund made by it";
    d.ticket(
      rules.ticketId(d, refund, attempt, last),
      "refund_overdue",
      `refund ${refund} of ${r.amountMinor} ${s.currency} (minor units) ${rules.whose(d)}, asked of Stripe ` +
        `as ${rules.refundEffectId(d, refund, attempt)} (its idempotency key and metadata effect_id), ` +
        `has no outcome ${days} days on${last ? ` and ${lookup} look-ups` : ""}: ${atStripe}; ` +
        (waiting !== undefined
          ? `dispute ${waiting.id} was closed lost and its loss of ${waiting.waitingLossMinor} waits for this refund ` +
            `(${rules.lossWaitNote}); `
          : `${rules.blockedNote}; `) +
        (last
          ? "susu has stopped asking Stripe: find the refund at Stripe (pending_reason insufficient_funds: top up " +
            "the balance) and resend its event; susu ends the refund when the news comes"
          : `susu asks Stripe again every ${Math.round(REFUND_OUTCOME_RECHECK_MS / DAY_MS)} days, ` +
            `${REFUND_OUTCOME_LOOKUPS} times in all; pending_reason insufficient_funds: top up the balance`),
    );
  }
  if (!last)
    d.timer(
      { kind: "refund_overdue", refund, attempt, lookup: lookup + 1 },
      d.now + REFUND_OUTCOME_RECHECK_MS,
    );
  return d.done() as ReturnType<D["done"]>;
}
