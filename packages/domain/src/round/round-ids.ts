// Every id a round makes, named once.
//
// These strings are not labels: they are stored. An effect id is the outbox's primary key
// and the Stripe `Idempotency-Key` of the call the effect makes (so a retried debit never
// charges twice); a ledger transaction id is the ledger's key (so a retried posting is
// posted once); timer, notification and ticket ids are the keys their stores deduplicate
// on. Changing a format is therefore a data migration, not a refactor: an effect already
// in an outbox, a debit already at Stripe or a posting already in the ledger would no
// longer be recognised, and the same step could run twice under two keys.
// `round-ids.test.ts` pins every format with literal strings.
//
// Ids are built from the round id and the step's own references (member, attempt, Stripe
// id, the round's version where one kind of step can recur). Derived ids (ledger postings
// of a debit or a transfer) are built from the stored effect id of the thing they belong
// to, never rebuilt from its parts, so they follow the format that thing was created with.
import type { MemberId } from "../group/ids.js";
import type { NotificationTemplate, TicketReason } from "./round-effect.js";
import type { RoundTimer } from "./round-input.js";

/** The key shared by everything one payout block sends: the recipient, the payout attempt and the round's version. */
const blockKey = (recipientMemberId: MemberId, payoutAttempt: number, version: number): string =>
  `${recipientMemberId}:${payoutAttempt}:v${version}`;

/**
 * A member's refund key: `<member>` for refund attempt 1 (the format from before refunds
 * could be retried, kept for the rows and refunds already made with it), then
 * `<member>:attempt:<n>`.
 */
const refundKey = (memberId: MemberId, attempt: number): string =>
  attempt === 1 ? memberId : `${memberId}:attempt:${attempt}`;

/**
 * The refund key of a member's surplus charge (a debit recorded as failed that took the
 * money after all): `<member>:debit:<debit attempt>` for its refund attempt 1, then
 * `<member>:debit:<debit attempt>:attempt:<n>`.
 */
const surplusKey = (memberId: MemberId, debitAttempt: number, attempt: number): string =>
  `${memberId}:debit:${debitAttempt}${attempt === 1 ? "" : `:attempt:${attempt}`}`;

const notice = (roundId: string, template: NotificationTemplate, key: string): string =>
  `${roundId}:notify:${template}:${key}`;

const ticket = (roundId: string, reason: TicketReason, key: string): string =>
  `${roundId}:ticket:${reason}:${key}`;

function timerKey(timer: RoundTimer): string {
  switch (timer.kind) {
    case "retry_debit":
      return `${timer.kind}:${timer.memberId}:${timer.attempt}`;
    case "retry_payout":
      return `${timer.kind}:${timer.attempt}`;
    case "collection_deadline":
    case "grace_end":
    case "payout_due":
      return timer.kind;
  }
}

/**
 * The ids of a round's ledger transactions. Each is the ledger's key for the posting, so
 * a step that is decided twice (a duplicated Stripe event) posts once.
 */
const ledgerIds = Object.freeze({
  /** A debit was submitted (money in flight): `<debit>:initiated`. */
  debitInitiated: (debitEffectId: string): string => `${debitEffectId}:initiated`,
  /**
   * A debit recorded as failed succeeded after all: its initiation was undone by the
   * failure, so it is posted again under a new id: `<debit>:initiated:late`.
   */
  debitInitiatedLate: (debitEffectId: string): string => `${debitEffectId}:initiated:late`,
  /** A debit settled (money in the pot): `<debit>:settled`. */
  debitSettled: (debitEffectId: string): string => `${debitEffectId}:settled`,
  /** A debit failed (undoes its initiation): `<debit>:failed`. */
  debitFailed: (debitEffectId: string): string => `${debitEffectId}:failed`,
  /**
   * A member's contribution was refunded by refund attempt `attempt`: `<round>:refund:<member>:ledger`
   * for attempt 1 (and every refund posted before the attempt was part of the id), then
   * `<round>:refund:<member>:attempt:<n>:ledger` (a refund posted again after Stripe failed an
   * earlier one after its success, or the first one to land after failures).
   */
  contributionRefunded: (roundId: string, memberId: MemberId, attempt = 1): string =>
    `${roundId}:refund:${refundKey(memberId, attempt)}:ledger`,
  /**
   * A member's refund (attempt `attempt`) that Stripe failed after its success is taken back out
   * of the books: `<round>:refund:<member>:ledger:failed` for attempt 1, then
   * `<round>:refund:<member>:attempt:<n>:ledger:failed`.
   */
  contributionRefundFailed: (roundId: string, memberId: MemberId, attempt = 1): string =>
    `${roundId}:refund:${refundKey(memberId, attempt)}:ledger:failed`,
  /**
   * A member's surplus charge (a debit recorded as failed that took the money after all)
   * was refunded by refund attempt `attempt`: `<round>:refund:<member>:debit:<debit attempt>:ledger`
   * for attempt 1 (and every one posted before the attempt was part of the id), then
   * `<round>:refund:<member>:debit:<debit attempt>:attempt:<n>:ledger` (the first to land after
   * Stripe failed an earlier one after its success, which was taken back out of the books).
   */
  surplusRefunded: (roundId: string, memberId: MemberId, debitAttempt: number, attempt = 1): string =>
    `${roundId}:refund:${surplusKey(memberId, debitAttempt, attempt)}:ledger`,
  /**
   * A surplus charge's refund (attempt `attempt`) that Stripe failed after its success is
   * reversed: all of it, or, when the member had disputed the charge, what the dispute did not
   * take: `<round>:refund:<member>:debit:<debit attempt>:ledger:failed` for attempt 1, then
   * `<round>:refund:<member>:debit:<debit attempt>:attempt:<n>:ledger:failed`.
   */
  surplusRefundFailed: (roundId: string, memberId: MemberId, debitAttempt: number, attempt = 1): string =>
    `${roundId}:refund:${surplusKey(memberId, debitAttempt, attempt)}:ledger:failed`,
  /** A payout transfer was created: `<transfer>:ledger`. */
  payoutTransferred: (transferEffectId: string): string => `${transferEffectId}:ledger`,
  /**
   * Part of a transfer came back. Keyed by the total reversed so far, so partial
   * reversals each post once: `<transfer>:reversed:<reversedMinor>`.
   */
  transferReversed: (transferEffectId: string, reversedMinorSoFar: number): string =>
    `${transferEffectId}:reversed:${reversedMinorSoFar}`,
  /** A dispute after payout, recorded against the member: `<round>:dispute:<dispute>`. */
  disputeLoss: (roundId: string, disputeId: string): string => `${roundId}:dispute:${disputeId}`,
  /** A dispute before payout took the contribution back out of the pot: `<round>:dispute:<dispute>:withdrawn`. */
  disputeWithdrawn: (roundId: string, disputeId: string): string =>
    `${roundId}:dispute:${disputeId}:withdrawn`,
  /**
   * A dispute before payout took part of a counted contribution: the rest leaves the pot
   * too, owed to the member outside Stripe (which refuses a refund of a disputed charge), on
   * `round:<r>:owed_to_member:<m>` (`contribution_owed_to_member`; a round stored before
   * that has it as `contribution_refunded`): `<round>:dispute:<dispute>:rest_owed`.
   */
  disputeRestOwed: (roundId: string, disputeId: string): string =>
    `${roundId}:dispute:${disputeId}:rest_owed`,
  /**
   * A member's loss on a disputed surplus charge was undone (the refund that paid them twice
   * failed after it had succeeded): `<round>:dispute:<dispute>:reinstated`.
   */
  disputeLossUndone: (roundId: string, disputeId: string): string =>
    `${roundId}:dispute:${disputeId}:reinstated`,
  /**
   * Stripe closed a dispute won (the bank gave the money back to the platform): what the
   * dispute had booked is undone, the member's loss (`dispute_reinstated`) or the bank's part
   * taken out of the pot, back into it (`contribution_refund_failed`, Dr pot / Cr refunds):
   * `<round>:dispute:<dispute>:won`.
   */
  disputeWon: (roundId: string, disputeId: string): string => `${roundId}:dispute:${disputeId}:won`,
  /**
   * A surplus charge's dispute withdrawal (`…:withdrawn`) is undone (`contribution_refund_failed`,
   * Dr pot / Cr refunds): our refund, out when the dispute was heard, landed and took the whole
   * charge (the dispute then counts the member's loss); or, in rounds stored before that, a
   * dispute closed won left its withdrawal booked beside our refund, which posted only the rest,
   * and that refund failed after its success (the won dispute gave it back):
   * `<round>:dispute:<dispute>:withdrawn:undone`.
   */
  disputeWithdrawalUndone: (roundId: string, disputeId: string): string =>
    `${roundId}:dispute:${disputeId}:withdrawn:undone`,
  /**
   * A surplus charge's dispute withdrawal booked again after it was undone (see
   * {@link disputeWithdrawalUndone}): the refund that landed beside the dispute failed after its
   * success, so the bank's part leaves the pot once more (`contribution_refunded`):
   * `<round>:dispute:<dispute>:withdrawn:again`.
   */
  disputeWithdrawnAgain: (roundId: string, disputeId: string): string =>
    `${roundId}:dispute:${disputeId}:withdrawn:again`,
  /**
   * The bank's part a won dispute brought back, owed to the member outside Stripe
   * (`contribution_owed_to_member`): `<round>:dispute:<dispute>:won:owed`.
   */
  disputeWonOwed: (roundId: string, disputeId: string): string => `${roundId}:dispute:${disputeId}:won:owed`,
});

/** The ids of a round's notifications: the notifier sends each id once. */
const noticeIds = Object.freeze({
  /** The member is told their debit was submitted and when it should settle: keyed by the attempt. */
  debitInitiated: (roundId: string, memberId: MemberId, attempt: number): string =>
    notice(roundId, "debit_initiated", `${memberId}:${attempt}`),
  /** The member is told their failed debit will be tried again: keyed by the failed attempt. */
  contributionRetryScheduled: (roundId: string, memberId: MemberId, failedAttempt: number): string =>
    notice(roundId, "contribution_retry_scheduled", `${memberId}:${failedAttempt}`),
  /** The member is told their contribution failed for good (or ran out of attempts). */
  contributionFailed: (roundId: string, memberId: MemberId, failedAttempt: number): string =>
    notice(roundId, "contribution_failed", `${memberId}:${failedAttempt}`),
  /**
   * The member is told a debit recorded as failed was taken after all and is their
   * contribution (no retry): keyed by that attempt, so told once.
   */
  contributionCollectedLate: (roundId: string, memberId: MemberId, attempt: number): string =>
    notice(roundId, "contribution_collected_late", `${memberId}:${attempt}`),
  /** The admins are told a member's contribution failed for good. */
  contributionFailedToAdmins: (roundId: string, memberId: MemberId, failedAttempt: number): string =>
    notice(roundId, "contribution_failed", `admins:${memberId}:${failedAttempt}`),
  /** Everyone is told the round is being cancelled (once per round). */
  roundCancelling: (roundId: string): string => notice(roundId, "round_cancelling", "all"),
  /**
   * A round due but not opened because a member is not ready, to that member (the round's
   * id is the one it will open with): `<round>:notify:round_waiting_for_you:<member>:<gaps>`,
   * the gaps sorted and joined by `+` (`mandate`, `payout_account`). Once per round and
   * what the member lacks, however often the cron finds the round waiting.
   */
  roundWaitingForMember: (roundId: string, memberId: MemberId, lacks: readonly string[]): string =>
    notice(roundId, "round_waiting_for_you", `${memberId}:${[...lacks].sort().join("+")}`),
  /**
   * The same, to the group's admins: `<round>:notify:round_waiting_for_members:admins:<key>`,
   * `key` naming the set of members not ready and their gaps (`membersNotReadyKey`). Once per
   * round and set: a different member not ready later tells the admins again.
   */
  roundWaitingForMembersToAdmins: (roundId: string, key: string): string =>
    notice(roundId, "round_waiting_for_members", `admins:${key}`),
  /** Everyone is told the round was cancelled (once per round). */
  roundCancelled: (roundId: string): string => notice(roundId, "round_cancelled", "all"),
  /** The recipient is told their payout is blocked; one per block. */
  payoutBlocked: (
    roundId: string,
    recipientMemberId: MemberId,
    payoutAttempt: number,
    version: number,
  ): string => notice(roundId, "payout_blocked", blockKey(recipientMemberId, payoutAttempt, version)),
  /** The admins are told the payout is blocked; one per block. */
  payoutBlockedToAdmins: (
    roundId: string,
    recipientMemberId: MemberId,
    payoutAttempt: number,
    version: number,
  ): string =>
    notice(roundId, "payout_blocked", `admins:${blockKey(recipientMemberId, payoutAttempt, version)}`),
  /** The recipient is told the pot was sent. */
  payoutSent: (roundId: string, recipientMemberId: MemberId): string =>
    notice(roundId, "payout_sent", recipientMemberId),
  /** The admins are told a refund attempt failed: `<member>` for attempt 1, `<member>:attempt:<n>` after. */
  refundFailed: (roundId: string, memberId: MemberId, attempt = 1): string =>
    notice(roundId, "refund_failed", refundKey(memberId, attempt)),
  /** The admins are told a refund attempt failed after Stripe had reported it succeeded. */
  refundFailedAfterSuccess: (roundId: string, memberId: MemberId, attempt = 1): string =>
    notice(roundId, "refund_failed", `${refundKey(memberId, attempt)}:after_success`),
  /** The admins are told a surplus charge's refund attempt failed: `<member>:debit:<n>` (`:attempt:<k>` after the first). */
  surplusRefundFailed: (roundId: string, memberId: MemberId, debitAttempt: number, attempt = 1): string =>
    notice(roundId, "refund_failed", surplusKey(memberId, debitAttempt, attempt)),
  /** The admins are told a surplus charge's refund failed after Stripe had reported it succeeded. */
  surplusRefundFailedAfterSuccess: (
    roundId: string,
    memberId: MemberId,
    debitAttempt: number,
    attempt = 1,
  ): string =>
    notice(roundId, "refund_failed", `${surplusKey(memberId, debitAttempt, attempt)}:after_success`),
  /** The admins are told of a dispute. */
  disputeOpened: (roundId: string, disputeId: string): string => notice(roundId, "dispute_opened", disputeId),
  /** The admins are told part of a transfer came back; keyed by the total reversed so far. */
  transferReversed: (roundId: string, transferId: string, reversedMinorSoFar: number): string =>
    notice(roundId, "transfer_reversed", `${transferId}:${reversedMinorSoFar}`),
  /** The admins are told a debit recorded as failed took the money after all. */
  lateDebitSuccess: (roundId: string, memberId: MemberId, attempt: number): string =>
    notice(roundId, "unexpected_money", `${memberId}:${attempt}`),
  /** The admins are told a transfer recorded as failed was created after all. */
  lateTransfer: (roundId: string, transferId: string): string =>
    notice(roundId, "unexpected_money", `transfer:${transferId}`),
});

/** The ids of a round's support tickets: the desk opens each id once. */
const ticketIds = Object.freeze({
  /**
   * A debit succeeded that the round did not expect (recorded as failed, or after the
   * round moved on): `<round>:ticket:unexpected_money:late_success:<member>:<attempt>`.
   */
  lateDebitSuccess: (roundId: string, memberId: MemberId, attempt: number): string =>
    ticket(roundId, "unexpected_money", `late_success:${memberId}:${attempt}`),
  /** A transfer recorded as failed was created after all. */
  lateTransfer: (roundId: string, transferId: string): string =>
    ticket(roundId, "unexpected_money", `transfer:${transferId}`),
  /** The payout is blocked; one per block. */
  payoutBlocked: (
    roundId: string,
    recipientMemberId: MemberId,
    payoutAttempt: number,
    version: number,
  ): string => ticket(roundId, "payout_blocked", blockKey(recipientMemberId, payoutAttempt, version)),
  /** A refund attempt failed: `<member>` for attempt 1, `<member>:attempt:<n>` after (one ticket per attempt). */
  refundFailed: (roundId: string, memberId: MemberId, attempt = 1): string =>
    ticket(roundId, "refund_failed", refundKey(memberId, attempt)),
  /** A refund attempt failed after Stripe had reported it succeeded. */
  refundFailedAfterSuccess: (roundId: string, memberId: MemberId, attempt = 1): string =>
    ticket(roundId, "refund_failed", `${refundKey(memberId, attempt)}:after_success`),
  /** A surplus charge's refund attempt failed: `<member>:debit:<n>` (`:attempt:<k>` after the first). */
  surplusRefundFailed: (roundId: string, memberId: MemberId, debitAttempt: number, attempt = 1): string =>
    ticket(roundId, "refund_failed", surplusKey(memberId, debitAttempt, attempt)),
  /** A surplus charge's refund attempt failed after Stripe had reported it succeeded. */
  surplusRefundFailedAfterSuccess: (
    roundId: string,
    memberId: MemberId,
    debitAttempt: number,
    attempt = 1,
  ): string =>
    ticket(roundId, "refund_failed", `${surplusKey(memberId, debitAttempt, attempt)}:after_success`),
  /** A contribution was disputed before its money left the pot. */
  dispute: (roundId: string, disputeId: string): string => ticket(roundId, "dispute", disputeId),
  /** A contribution was disputed after the pot was paid out. */
  disputeAfterPayout: (roundId: string, disputeId: string): string =>
    ticket(roundId, "dispute_after_payout", disputeId),
  /**
   * A dispute was heard before the success of the charge it names, and waits for it:
   * `<round>:ticket:dispute:<dispute>:pending`.
   */
  disputePending: (roundId: string, disputeId: string): string =>
    ticket(roundId, "dispute", `${disputeId}:pending`),
  /**
   * The rest of a contribution disputed in part before payout is owed to the member outside
   * Stripe: `<round>:ticket:dispute:<dispute>:rest_owed`.
   */
  disputeRestOwed: (roundId: string, disputeId: string): string =>
    ticket(roundId, "dispute", `${disputeId}:rest_owed`),
  /**
   * A surplus charge stored before `withdrawnBooked` was kept could not say whether its
   * dispute's part was booked withdrawn when its refund failed after its success: a person
   * checks the two postings it names, `<round>:ticket:dispute:<dispute>:withdrawal_unknown`.
   */
  disputeWithdrawalUnknown: (roundId: string, disputeId: string): string =>
    ticket(roundId, "dispute", `${disputeId}:withdrawal_unknown`),
  /** Stripe closed a member's dispute won: `<round>:ticket:dispute:<dispute>:won`. */
  disputeWon: (roundId: string, disputeId: string): string => ticket(roundId, "dispute", `${disputeId}:won`),
  /** Part of a transfer came back; keyed by the total reversed so far. */
  transferReversed: (roundId: string, transferId: string, reversedMinorSoFar: number): string =>
    ticket(roundId, "transfer_reversed", `${transferId}:${reversedMinorSoFar}`),
});

/**
 * The seeds of the round's retry jitter. Not stored, but replayed: the same failure must
 * compute the same retry time after a crash, so these change no more freely than the ids.
 */
const seedIds = Object.freeze({
  /** Jitter of the retry after a failed debit attempt: `<debit>:retry`. */
  debitRetry: (debitEffectId: string): string => `${debitEffectId}:retry`,
  /** Jitter of the payout retry after a failed transfer: `<transfer>:retry`. */
  payoutRetry: (transferEffectId: string): string => `${transferEffectId}:retry`,
});

/**
 * Every effect id and ledger transaction id a round makes, in one place.
 *
 * **These are stored keys**: effect ids are outbox keys and Stripe idempotency keys,
 * ledger ids are the ledger's keys, timer, notification and ticket ids are deduplication
 * keys of their stores. Changing a format is a data migration (effects in flight and
 * postings already made would be repeated under the new key), never a refactor. Every
 * format is pinned by `round-ids.test.ts`; the model-based test checks that no two
 * different effects share an id.
 */
export const roundIds = Object.freeze({
  /**
   * The round's own id, derived from what identifies it in its group, never drawn at
   * random: `round_<group>_r<rotation>_s<sequence>` (`sequence` is the group's 0-based
   * count of rounds opened, across rotations). Every other id of the round (debits'
   * Idempotency-Keys included) starts with it, so the same round must get the same id
   * however many times it is opened: after a database restore, the scheduler opens a round
   * the restored database lost again, and its debits must reach Stripe under the keys of
   * the first opening. The sequence moves on with every opening, a cancelled round's
   * included, so a re-opened turn (same recipient after a cancel) gets a new id. No colon:
   * the id is the first part of `:`-separated keys. Injective: the last two parts are
   * numbers, so the group id is everything between the prefix and them.
   */
  round: (groupId: string, rotation: number, sequence: number): string =>
    `round_${groupId}_r${rotation}_s${sequence}`,
  /** Stripe `transfer_group` tying the round's charges and transfers together: `round_<round>`. */
  transferGroup: (roundId: string): string => `round_${roundId}`,
  /** A member's BECS debit, one per attempt (the Stripe idempotency key): `<round>:contribution:<member>:attempt:<n>`. */
  debit: (roundId: string, memberId: MemberId, attempt: number): string =>
    `${roundId}:contribution:${memberId}:attempt:${attempt}`,
  /** One payout transfer, funded by one member's charge, per payout attempt: `<round>:transfer:<source member>:attempt:<n>`. */
  transfer: (roundId: string, sourceMemberId: MemberId, payoutAttempt: number): string =>
    `${roundId}:transfer:${sourceMemberId}:attempt:${payoutAttempt}`,
  /**
   * The refund of a member's contribution, one per refund attempt (the Stripe idempotency
   * key): `<round>:refund:<member>` for attempt 1 — unchanged since before refunds could be
   * retried, so refunds in flight keep their keys — and `<round>:refund:<member>:attempt:<n>`
   * for an admin's retries (`retry_refund`), so Stripe makes a new refund.
   */
  refund: (roundId: string, memberId: MemberId, attempt = 1): string =>
    `${roundId}:refund:${refundKey(memberId, attempt)}`,
  /**
   * The refund of a member's surplus charge — a debit attempt recorded as failed that took
   * the money after all, which the contribution does not count — one per refund attempt:
   * `<round>:refund:<member>:debit:<debit attempt>`, then
   * `<round>:refund:<member>:debit:<debit attempt>:attempt:<n>` for an admin's retries.
   */
  surplusRefund: (roundId: string, memberId: MemberId, debitAttempt: number, attempt = 1): string =>
    `${roundId}:refund:${surplusKey(memberId, debitAttempt, attempt)}`,
  /**
   * A timer: `<round>:timer:<kind>`, with `retry_debit:<member>:<attempt>` and
   * `retry_payout:<attempt>` as the kinds that carry references, and `:v<rearm>` appended
   * when given. The scheduler keeps one timer per id, so a timer of one kind armed again
   * must get a new id, or it would silently never fire: `rearm` (the round's version)
   * tells such armings apart.
   */
  timer: (roundId: string, timer: RoundTimer, rearm?: number): string =>
    `${roundId}:timer:${timerKey(timer)}${rearm === undefined ? "" : `:v${rearm}`}`,
  /** Pausing the group for a payout block; one per block: `<round>:pause:<recipient>:<payout attempt>:v<version>`. */
  pauseGroup: (
    roundId: string,
    recipientMemberId: MemberId,
    payoutAttempt: number,
    version: number,
  ): string => `${roundId}:pause:${blockKey(recipientMemberId, payoutAttempt, version)}`,
  /** Resuming the group when a block ends; keyed by the round's version: `<round>:resume:<version>`. */
  resumeGroup: (roundId: string, version: number): string => `${roundId}:resume:${version}`,
  /** The round ended (paid out or cancelled): `<round>:ended`. */
  roundEnded: (roundId: string): string => `${roundId}:ended`,
  /** Ledger transaction ids. */
  ledger: ledgerIds,
  /** Notification ids: `<round>:notify:<template>:<key>`. */
  notice: noticeIds,
  /** Support ticket ids: `<round>:ticket:<reason>:<key>`. */
  ticket: ticketIds,
  /** Seeds of the retry jitter (replayed, not stored). */
  seed: seedIds,
});
