import { err, ok, type Result } from "neverthrow";
import type { MemberId } from "../group/ids.js";
import type { CurrencyCode } from "../money/index.js";
import type { OwedPayment } from "../owed/owed-payment.js";
import type { FailureClass } from "../policy/failure-codes.js";
import type { Instant } from "../shared/time.js";
import { type RoundError, roundError } from "./round.errors.js";
import { roundIds } from "./round-ids.js";

/**
 * The life of a round. Happy path: `scheduled → collecting → settled → paying_out →
 * paid_out`. A deadline missed: `collecting → refunding → cancelled`. A payout that cannot
 * be delivered: `paying_out → payout_blocked → paying_out` once fixed or reassigned. Every
 * allowed move is listed in `ROUND_TRANSITIONS`.
 */
export type RoundStatus =
  | "scheduled"
  | "collecting"
  | "settled"
  | "paying_out"
  | "payout_blocked"
  | "paid_out"
  | "refunding"
  | "cancelled";

/** Statuses in which a round has ended for good. */
export const TERMINAL_ROUND_STATUSES: readonly RoundStatus[] = ["paid_out", "cancelled"];

/** One BECS debit attempt for a member's contribution; its effect id is the Stripe idempotency key. */
export interface DebitAttempt {
  /** 1-based. */
  readonly number: number;
  readonly effectId: string;
  readonly status: "requested" | "processing" | "succeeded" | "failed";
  readonly requestedAt: Instant;
  readonly paymentIntentId?: string;
  readonly chargeId?: string;
  readonly failureCode?: string;
  readonly failureClass?: FailureClass;
  /** Whether the ledger holds this attempt's "debit initiated" posting (so a failure must undo it). */
  readonly initiatedPosted: boolean;
  /**
   * Set when the bank took this attempt's money after susu had recorded the attempt as
   * failed and the contribution does not count it (it was paid by another attempt, a later
   * attempt was in flight, or the round no longer collected): a charge that never funds a
   * transfer, refunded on its own at once, whatever the round is doing. Absent on every
   * other attempt, a late charge counted as the contribution (the member still owed it) included.
   */
  readonly surplus?: SurplusCharge;
}

/**
 * Where a surplus charge stands (see {@link DebitAttempt.surplus}): refunded on its own from
 * its own PaymentIntent as soon as it is booked, whatever the round's status:
 * `refund_requested`, `refunded`, `refund_failed` (an admin's `retry_refund` asks again, in
 * any status). `held` (in the pot, not yet asked for) is only in snapshots stored by the
 * version that held such a charge until the round refunded: it is asked for when the round
 * refunds or is paid out, or by `retry_refund`. `refundId` is recorded when its refund
 * succeeds, as a contribution's is.
 *
 * The member may dispute the charge with their bank (`disputeId`, `disputedMinor`: what the
 * bank took back): it is booked against this charge, never the contribution. The bank gave
 * it back instead of susu, so nothing more is refunded: `charged_back` once no refund of
 * ours reached the member (Stripe refuses a refund of a disputed charge, `charge_disputed`).
 * A refund of ours that succeeded too (`refunded` with a `disputeId`) paid the member twice:
 * the second payment is booked as the member's loss, whichever was heard first (a refund out
 * when the dispute is heard is posted whole when it lands; see `withdrawalUndone`).
 */
export interface SurplusCharge {
  readonly status: "held" | "refund_requested" | "refunded" | "refund_failed" | "charged_back";
  readonly refundId?: string;
  /** The refund attempt asked for last (absent: 1), as {@link Contribution.refundAttempt}. */
  readonly refundAttempt?: number;
  /** The member's dispute of this charge, once heard. */
  readonly disputeId?: string;
  /** What the dispute took back (Stripe's dispute amount, at most the charge); set with `disputeId`. */
  readonly disputedMinor?: number;
  /** Whether the second payment (the dispute beside a refund of ours that succeeded) is booked as the member's loss. */
  readonly lossBooked?: boolean;
  /**
   * Whether what the dispute took (`disputedMinor`) is booked as taken out of the pot
   * (`<round>:dispute:<d>:withdrawn`): when it was heard with no refund of ours in the books,
   * or once that refund failed. A refund of ours that succeeded after it posts the whole charge
   * and undoes the withdrawal (`false` again, see `withdrawalUndone`); in snapshots stored
   * before, it posted only the rest of the charge beside it. Recorded, `true` or `false`, on
   * every disputed charge (absent without a dispute). Absent with a dispute: a snapshot stored before it was kept, read as that release
   * booked it where the charge says (`surplusWithdrawalBooked` in decide.ts: booked when
   * `refundId` was absent, not beside a refund in the books), or, for a `refunded` charge whose
   * dispute took something, which that release stored alike either way, unknown: should its
   * refund fail after its success, only what is certain is booked, the field stays absent, and
   * a ticket (`<round>:ticket:dispute:<d>:withdrawal_unknown`) names the postings to check.
   */
  readonly withdrawnBooked?: boolean;
  /**
   * A dispute of this charge closed `won` while our refund was in the books having posted only
   * the rest of the charge (the dispute's withdrawal was booked before that refund landed): the
   * withdrawal (`<round>:dispute:<d>:withdrawn`) stays booked beside the refund, the two
   * counting the whole charge refunded as Stripe does. Kept so that, should that refund fail
   * after its success, its reversal is what it posted (the rest) and the withdrawal is undone
   * (`<round>:dispute:<d>:withdrawn:undone`): the won dispute gave its amount back. Only in
   * rounds whose refund landed before such a refund was posted whole (see `withdrawalUndone`);
   * absent otherwise, and once that refund failed.
   */
  readonly wonWithdrawal?: { readonly disputeId: string; readonly amountMinor: number };
  /**
   * The dispute's withdrawal (`<round>:dispute:<d>:withdrawn`), booked when it was heard while
   * our refund was out, was undone when that refund landed (`<round>:dispute:<d>:withdrawn:undone`):
   * Stripe's refund took the whole charge besides what the dispute took, so the refund is posted
   * whole and the dispute counts the member's loss, as when it is heard after the refund
   * (`withdrawnBooked` is then `false`). Kept so that, should that refund fail after its success,
   * the withdrawal is booked again under its own id (`<round>:dispute:<d>:withdrawn:again`).
   * Absent otherwise (and in snapshots stored before such a refund posted the whole charge).
   */
  readonly withdrawalUndone?: boolean;
}

/**
 * Where a member's contribution stands:
 * `awaiting_debit` (a debit was asked for), `processing` (Stripe is collecting, days for
 * BECS), `retry_scheduled`, `succeeded`, `failed` (permanently, or out of attempts),
 * `refund_requested`, `refunded`, `refund_failed`, `disputed`.
 */
export type ContributionStatus =
  | "awaiting_debit"
  | "processing"
  | "retry_scheduled"
  | "succeeded"
  | "failed"
  | "refund_requested"
  | "refunded"
  | "refund_failed"
  | "disputed";

/** A member's contribution to one round, with every debit attempt. */
export interface Contribution {
  readonly memberId: MemberId;
  readonly amountMinor: number;
  readonly status: ContributionStatus;
  readonly attempts: readonly DebitAttempt[];
  readonly retryAt?: Instant;
  readonly refundId?: string;
  /**
   * The refund attempt asked for last (1-based), once an admin retried a failed refund
   * (`retry_refund`). Absent: attempt 1 — every refund until a retry, and every snapshot
   * stored before retries existed. Each attempt is a new refund at Stripe, under its own
   * id and idempotency key; facts about an earlier attempt no longer apply.
   */
  readonly refundAttempt?: number;
  readonly disputeIds: readonly string[];
  /**
   * Disputes heard after a refund of ours had paid the contribution back, each booked as the
   * member's loss (they were paid twice), with the amount the bank took. Should that refund
   * fail after its success, the losses are undone and the rest is owed outside Stripe.
   * Absent: none (and in snapshots stored before they were kept).
   */
  readonly disputedAfterRefund?: readonly { readonly disputeId: string; readonly amountMinor: number }[];
  /**
   * Disputes heard while a refund of ours was out (asked for, its outcome not heard yet: a
   * lost reply, or Stripe still processing it), with the amount the bank took. Nothing is
   * booked for them until the refund's outcome is heard: a success paid the member twice, so
   * each becomes their loss (and moves to {@link disputedAfterRefund}); a failure (Stripe
   * fails a pending refund of a disputed charge) leaves the bank's return as all they got,
   * and the rest is owed outside Stripe. Absent: none (and in snapshots stored before they
   * were kept).
   */
  readonly disputedWhileRefundOut?: readonly { readonly disputeId: string; readonly amountMinor: number }[];
  /**
   * Disputes heard before susu heard the charge they name succeed (the debit attempt is
   * requested, processing or recorded failed, or not one of this round's): events are
   * unordered, and the success may be parked or late. Nothing is booked for them; each is
   * booked when the success of the charge it names is heard, as if it had come after it
   * (the contribution's, or a surplus charge's), and leaves this list. Absent: none (and in
   * snapshots stored before disputes were kept pending).
   */
  readonly pendingDisputes?: readonly PendingDispute[];
  /**
   * Everything the round booked as owed to the member outside Stripe
   * (`round:<r>:owed_to_member:<m>`: the rest of a contribution disputed in part, which Stripe
   * will not refund), paid or not. Absent: nothing (and in rounds stored before it was kept,
   * whose owed balance is then read from the ledger when an admin first records a payment;
   * such a contribution, disputed again later, stays absent until then, as what it owed
   * before is only in the ledger).
   */
  readonly owedOutsideStripeMinor?: number;
  /** What admins recorded paying the member outside Stripe of it, oldest first. Absent: none. */
  readonly owedPayments?: readonly OwedPayment[];
  /**
   * How the disputes of the contribution's charges that booked money when they were heard
   * were booked, so that a closure `won` can undo it: `loss`, the member's loss after the
   * payout (`member:<id>`); `withdrawn`, the bank's part taken out of the pot (`amountMinor`:
   * what was taken, 0 when nothing was left to take). Disputes in {@link disputedAfterRefund}
   * and {@link disputedWhileRefundOut} are not here (those lists say it); one moves here as
   * `withdrawn` when the refund beside it fails. Absent: none (and in snapshots stored before
   * they were kept: a won closure of such a dispute only opens a ticket).
   */
  readonly disputeBookings?: readonly DisputeBooking[];
  /**
   * Disputes Stripe closed `won` (the bank gave the money back to the platform), of any of
   * the member's charges, booked back once (see `disputeWon` in decide.ts), or heard before
   * their opening (which is then ignored). Absent: none.
   */
  readonly disputesWon?: readonly string[];
  /**
   * Disputes closed won whose closure booked the bank's part as owed to the member outside
   * Stripe (`<round>:dispute:<d>:won:owed`): their `won` ticket asks an admin to pay it, so it
   * is resolved with the rest-owed tickets once nothing is left owed. Absent: none (and in
   * rounds stored before it was kept: such a ticket is closed by hand).
   */
  readonly disputesWonOwed?: readonly string[];
}

/** How a dispute of a contribution's charge was booked (see {@link Contribution.disputeBookings}). */
export interface DisputeBooking {
  readonly disputeId: string;
  readonly as: "loss" | "withdrawn";
  readonly amountMinor: number;
}

/** A member's dispute kept until the charge it names is heard to succeed (see {@link Contribution.pendingDisputes}). */
export interface PendingDispute {
  readonly disputeId: string;
  /** Stripe's dispute amount. */
  readonly amountMinor: number;
  /** The debit attempt and PaymentIntent the dispute names (at least one of them). */
  readonly attempt?: number;
  readonly paymentIntentId?: string;
}

/** One payout transfer, funded by one contribution's charge (`source_transaction`). */
export interface PayoutTransfer {
  readonly sourceMemberId: MemberId;
  readonly sourceChargeId: string;
  readonly amountMinor: number;
  /** The payout attempt this transfer belongs to (1-based); part of its effect id. */
  readonly attempt: number;
  readonly effectId: string;
  readonly status: "requested" | "created" | "failed" | "reversed";
  readonly transferId?: string;
  /** How much of the transfer came back through reversals; `reversed` once it is all of it. */
  readonly reversedMinor?: number;
  readonly failureCode?: string;
  /**
   * The earlier transfers of this contribution's money to the recipient, oldest first, each
   * reversed in whole or in part while the round paid out: this transfer sends again what
   * came back of them (the round blocked on the reversal; its resume sent the rest). The
   * first transfer sent the whole contribution, so what the recipient holds of it is what
   * every one of them kept (see `sentNetMinor`). Absent: none.
   */
  readonly earlier?: readonly EarlierTransfer[];
}

/** A transfer of a contribution's money that a later one replaced after it came back (see {@link PayoutTransfer.earlier}). */
export interface EarlierTransfer {
  readonly transferId: string;
  readonly effectId: string;
  readonly attempt: number;
  readonly amountMinor: number;
  /** How much of it came back (reversals heard while, or after, it was replaced add up). */
  readonly reversedMinor: number;
}

/**
 * What the recipient holds of one contribution's payout: what each of its transfers sent
 * (created), less what came back of it.
 */
export function sentNetMinor(p: PayoutTransfer): number {
  const earlier = (p.earlier ?? []).reduce((sum, e) => sum + e.amountMinor - e.reversedMinor, 0);
  const current =
    p.status === "created" || p.status === "reversed" ? p.amountMinor - (p.reversedMinor ?? 0) : 0;
  return earlier + current;
}

/** What one contribution's payout must send in all: the whole contribution, which its first transfer sent. */
export function payoutDueMinor(p: PayoutTransfer): number {
  return p.earlier?.[0]?.amountMinor ?? p.amountMinor;
}

/** A round of a savings group: every member contributes, one member receives the pot. */
export interface Round {
  readonly id: string;
  readonly groupId: string;
  /** 1-based rotation this round belongs to. */
  readonly rotation: number;
  /** 0-based count of this round among all the group's rounds. */
  readonly sequence: number;
  readonly recipientMemberId: MemberId;
  /** Whether the recipient's connected account can receive transfers, as last known. */
  readonly recipientCanReceive: boolean;
  readonly currency: CurrencyCode;
  readonly contributionMinor: number;
  readonly status: RoundStatus;
  readonly scheduledFor: Instant;
  readonly openedAt?: Instant;
  readonly collectionDeadlineAt?: Instant;
  /**
   * Set when the deadline passed with only processing debits left: the last moment to wait
   * (the round refunds sooner once none of them can still succeed).
   */
  readonly graceEndsAt?: Instant;
  /**
   * How many times an admin extended the collection deadline (absent: never). Deadline
   * and grace timers carry the count they were armed at, so one armed for an earlier
   * deadline is ignored, however the clocks of the scheduler and the app compare.
   */
  readonly deadlineExtensions?: number;
  /** Stripe `transfer_group` that ties the round's charges and transfers together. */
  readonly transferGroup: string;
  readonly contributions: readonly Contribution[];
  readonly payouts: readonly PayoutTransfer[];
  /** 0 until the payout starts; each restart after a block increments it. */
  readonly payoutAttempt: number;
  /** Failed payout attempts since the last successful step, for the payout retry policy. */
  readonly payoutFailures: number;
  /**
   * The payout attempt whose `retry_payout` timer is armed (absent: none yet). One retry is
   * armed per attempt however many of its transfers fail, even when a dispute has since
   * dropped the transfer whose failure armed it.
   */
  readonly payoutRetryArmedFor?: number;
  /** Why the payout is blocked. Set only while `payout_blocked`; cleared when the block ends. */
  readonly blockedReason?: string;
  /** Why the round is being (or was) cancelled. Set only when `refunding` or `cancelled`. */
  readonly cancellationReason?: string;
  readonly endedAt?: Instant;
  /** Optimistic-concurrency version, incremented by every stored change. */
  readonly version: number;
}

/** What it takes to schedule a round. */
export interface NewRound {
  readonly id: string;
  readonly groupId: string;
  readonly rotation: number;
  readonly sequence: number;
  readonly recipientMemberId: MemberId;
  readonly recipientCanReceive: boolean;
  readonly contributorIds: readonly MemberId[];
  readonly currency: CurrencyCode;
  readonly contributionMinor: number;
  readonly scheduledFor: Instant;
}

/** Creates a round in `scheduled` state, one pending contribution per contributor. */
export function newRound(input: NewRound): Result<Round, RoundError> {
  if (input.contributorIds.length < 2)
    return err(roundError("invalid_round", "a round needs at least two contributors"));
  if (new Set(input.contributorIds).size !== input.contributorIds.length)
    return err(roundError("invalid_round", "a member can contribute only once per round"));
  if (!input.contributorIds.includes(input.recipientMemberId))
    return err(roundError("invalid_round", "the recipient must be a member of the round"));
  if (!Number.isSafeInteger(input.contributionMinor) || input.contributionMinor <= 0)
    return err(
      roundError("invalid_round", "the contribution must be a positive whole number of minor units"),
    );
  return ok({
    id: input.id,
    groupId: input.groupId,
    rotation: input.rotation,
    sequence: input.sequence,
    recipientMemberId: input.recipientMemberId,
    recipientCanReceive: input.recipientCanReceive,
    currency: input.currency,
    contributionMinor: input.contributionMinor,
    status: "scheduled",
    scheduledFor: input.scheduledFor,
    transferGroup: roundIds.transferGroup(input.id),
    contributions: [...input.contributorIds].sort().map((memberId) => ({
      memberId,
      amountMinor: input.contributionMinor,
      status: "awaiting_debit" as const,
      attempts: [],
      disputeIds: [],
    })),
    payouts: [],
    payoutAttempt: 0,
    payoutFailures: 0,
    version: 0,
  });
}

/** The pot a round pays out when every contribution succeeds. */
export function potMinor(round: Round): number {
  return round.contributions.reduce((total, c) => total + c.amountMinor, 0);
}

/** Whether a round has ended for good. */
export function isRoundEnded(round: Round): boolean {
  return TERMINAL_ROUND_STATUSES.includes(round.status);
}
