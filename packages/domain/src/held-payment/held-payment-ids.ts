// Every id a held payment makes, named once.
//
// These strings are stored: an effect id is the outbox's key and the Stripe
// `Idempotency-Key` of the call it makes (so a retried transfer never pays the seller
// twice, a retried refund never refunds twice); a ledger transaction id is the ledger's
// key; timer, notification and ticket ids are the keys their stores deduplicate on.
// Changing a format is a data migration, not a refactor. `held-payment-ids.test.ts` pins
// every format with literal strings.
//
// Ids are built from the payment id and the step's own references (attempt, refund or
// reversal number, dispute id, the payment's version where one kind of step can recur).
// Derived ids (the ledger posting of a transfer or a reversal) are built from the stored
// effect id of the thing they belong to.
import type { HeldPaymentTimer } from "./held-payment-timer.js";

/** Who a notice goes to, as part of its id. */
type NoticeAudience = "customer" | "seller" | "admins";

const notice = (p: string, template: string, key: string): string => `${p}:notify:${template}:${key}`;
const ticket = (p: string, reason: string, key: string): string => `${p}:ticket:${reason}:${key}`;

function timerKey(timer: HeldPaymentTimer): string {
  switch (timer.kind) {
    case "retry_transfer":
      return `${timer.kind}:${timer.attempt}`;
    case "checkout_recheck":
      return `${timer.kind}:${timer.ask}`;
    case "refund_overdue":
      // Look-up 1's timer kept the key it had before look-ups were repeated.
      return (timer.lookup ?? 1) === 1
        ? `${timer.kind}:${timer.refund}:${timer.attempt}`
        : `${timer.kind}:${timer.refund}:${timer.attempt}:lookup:${timer.lookup}`;
    case "release_due":
    case "checkout_expired":
      return timer.kind;
  }
}

/** The ids of a held payment's ledger transactions: a step decided twice posts once. */
const ledgerIds = Object.freeze({
  /** The customer's payment was captured: `<p>:ledger:captured`. */
  captured: (p: string): string => `${p}:ledger:captured`,
  /** The fee earned when the release started: `<p>:ledger:fee_earned`. */
  feeEarned: (p: string): string => `${p}:ledger:fee_earned`,
  /** The seller's share set aside when the release started: `<p>:ledger:seller_payable`. */
  sellerPayable: (p: string): string => `${p}:ledger:seller_payable`,
  /** The release transfer landed: `<transfer>:ledger`. */
  transferred: (transferEffectId: string): string => `${transferEffectId}:ledger`,
  /** A reversal landed: `<reversal>:ledger`. */
  transferReversed: (reversalEffectId: string): string => `${reversalEffectId}:ledger`,
  /** Refund n reached the customer (whichever attempt did it): `<p>:refund:<n>:ledger`. */
  refunded: (p: string, refund: number): string => `${p}:refund:${refund}:ledger`,
  /**
   * Refund n reached the customer again, by a later attempt, after Stripe had failed an
   * earlier success (whose posting was undone): `<refund attempt>:ledger`.
   */
  refundedAgain: (refundEffectId: string): string => `${refundEffectId}:ledger`,
  /** Stripe failed a refund attempt after its success: its posting undone, `<refund attempt>:ledger:failed`. */
  refundFailed: (refundEffectId: string): string => `${refundEffectId}:ledger:failed`,
  /** A dispute was lost: `<p>:dispute:<d>:lost`. */
  disputeLost: (p: string, disputeId: string): string => `${p}:dispute:${disputeId}:lost`,
  /**
   * What a lost dispute took beyond what its loss had booked, taken when refund n, counted as
   * given back when it closed, turned out owed outside Stripe (Stripe failed it after its
   * success): `<p>:dispute:<d>:lost:owed:<n>`.
   */
  disputeLostFromOwed: (p: string, disputeId: string, refund: number): string =>
    `${p}:dispute:${disputeId}:lost:owed:${refund}`,
  /** Refund n is owed to the customer outside Stripe: `<p>:refund:<n>:ledger:owed`. */
  owedToCustomer: (p: string, refund: number): string => `${p}:refund:${refund}:ledger:owed`,
  /**
   * Refund n, superseded by a lost dispute, has its money moved to where the payment keeps it
   * at stage `to` (the release went past the refund's stage): `<p>:refund:<n>:ledger:superseded:<to>`.
   */
  refundSuperseded: (p: string, refund: number, to: "earmarked" | "transferred"): string =>
    `${p}:refund:${refund}:ledger:superseded:${to}`,
});

/** The ids of a held payment's notifications: the notifier sends each id once. */
const noticeIds = Object.freeze({
  /** The customer is told their payment failed. */
  /** The customer (their receipt) or the seller (paid, funds held) is told the booking was paid. */
  bookingPaid: (p: string, to: Exclude<NoticeAudience, "admins">): string => notice(p, "booking_paid", to),
  paymentFailed: (p: string): string => notice(p, "payment_failed", "customer"),
  /** The customer is told the checkout expired unpaid. */
  checkoutExpired: (p: string): string => notice(p, "checkout_expired", "customer"),
  /** The customer is told refund n is on its way. */
  refundStarted: (p: string, refund: number): string => notice(p, "refund_started", `${refund}`),
  /** The admins are told attempt k of refund n failed. */
  refundFailed: (p: string, refund: number, attempt: number): string =>
    notice(p, "refund_failed", `${refund}:${attempt}`),
  /**
   * The admins are told attempt k of refund n failed after Stripe had reported it succeeded
   * (attempt 1 keeps the key it had before a refund could succeed and fail more than once).
   */
  refundFailedAfterSuccess: (p: string, refund: number, attempt = 1): string =>
    notice(p, "refund_failed", `${refund}:after_success${attempt === 1 ? "" : `:${attempt}`}`),
  /** The seller or the admins are told the release is blocked; one per block (the payment's version). */
  releaseBlocked: (p: string, to: Exclude<NoticeAudience, "customer">, version: number): string =>
    notice(p, "release_blocked", `${to}:v${version}`),
  /** The seller is told their share was sent. */
  payoutSent: (p: string): string => notice(p, "payout_sent", "seller"),
  /** The seller or the admins are told of a dispute. */
  disputeOpened: (p: string, to: Exclude<NoticeAudience, "customer">, disputeId: string): string =>
    notice(p, "dispute_opened", `${to}:${disputeId}`),
  /** The seller or the admins are told how a dispute ended. */
  disputeClosed: (p: string, to: Exclude<NoticeAudience, "customer">, disputeId: string): string =>
    notice(p, "dispute_closed", `${to}:${disputeId}`),
  /** The admins are told reversal n failed. */
  reversalFailed: (p: string, reversal: number): string => notice(p, "reversal_failed", `${reversal}`),
  /** The admins are told refund n is owed to the customer outside Stripe. */
  refundOwed: (p: string, refund: number): string => notice(p, "refund_owed", `${refund}`),
  /** The admins are told money arrived for a payment that had expired or failed. */
  latePayment: (p: string): string => notice(p, "unexpected_money", "late_payment"),
  /** The admins are told a transfer susu had recorded as failed was created after all. */
  lateTransfer: (p: string, transferId: string): string =>
    notice(p, "unexpected_money", `transfer:${transferId}`),
});

/** The ids of a held payment's support tickets: the desk opens each id once. */
const ticketIds = Object.freeze({
  /** Attempt k of refund n failed. */
  refundFailed: (p: string, refund: number, attempt: number): string =>
    ticket(p, "refund_failed", `${refund}:${attempt}`),
  /** Attempt k of refund n failed after Stripe had reported it succeeded (attempt 1: as before). */
  refundFailedAfterSuccess: (p: string, refund: number, attempt = 1): string =>
    ticket(p, "refund_failed", `${refund}:after_success${attempt === 1 ? "" : `:${attempt}`}`),
  /** Attempt k of refund n was still waiting for Stripe's outcome at its deadline. */
  refundOverdue: (p: string, refund: number, attempt: number): string =>
    ticket(p, "refund_overdue", `${refund}:${attempt}`),
  /** Attempt k of refund n was still waiting for Stripe's outcome at its last look-up: susu stops asking. */
  refundOverdueLast: (p: string, refund: number, attempt: number): string =>
    ticket(p, "refund_overdue", `${refund}:${attempt}:last`),
  /** The release is blocked (the seller cannot receive); one per block. */
  releaseBlocked: (p: string, version: number): string => ticket(p, "release_blocked", `v${version}`),
  /** Stripe never answered the asks that it expire the Checkout Session: susu stopped asking. */
  checkoutExpiryUnconfirmed: (p: string): string => ticket(p, "checkout_expiry_unconfirmed", "last"),
  /** Transfer attempt n failed and the policy parked the release. */
  transferParked: (p: string, attempt: number): string => ticket(p, "transfer_parked", `${attempt}`),
  /** Whether transfer attempt n moved money is unknown. */
  transferOutcomeUnknown: (p: string, attempt: number): string =>
    ticket(p, "transfer_outcome_unknown", `${attempt}`),
  /** A dispute was opened. */
  dispute: (p: string, disputeId: string): string => ticket(p, "dispute", disputeId),
  /** Reversal n failed. */
  reversalFailed: (p: string, reversal: number): string => ticket(p, "reversal_failed", `${reversal}`),
  /** Refund n is owed to the customer outside Stripe (Stripe refuses it after a lost dispute). */
  refundOwed: (p: string, refund: number): string => ticket(p, "refund_owed", `${refund}`),
  /** Lost dispute d's bank gave back money an admin had paid the customer already: recover it. */
  owedOverpaid: (p: string, disputeId: string): string => ticket(p, "owed_overpaid", disputeId),
  /** Money arrived for a payment that had expired or failed (it is refunded at once). */
  latePayment: (p: string): string => ticket(p, "unexpected_money", "late_payment"),
  /** A transfer recorded as failed was created after all. */
  lateTransfer: (p: string, transferId: string): string =>
    ticket(p, "unexpected_money", `transfer:${transferId}`),
  /**
   * The release is blocked because transfer `transferId` landed late and could not be booked,
   * and no other attempt will pay the seller.
   */
  lateTransferUnbooked: (p: string, transferId: string): string =>
    ticket(p, "release_blocked", `late_transfer:${transferId}`),
});

/**
 * Every effect id, ledger transaction id and provider key a held payment makes.
 *
 * **These are stored keys** (outbox rows, Stripe idempotency keys, ledger ids, timer,
 * notification and ticket deduplication keys): changing a format is a data migration,
 * never a refactor. `held-payment-ids.test.ts` pins every format; the model-based test
 * checks that no two different effects share an id.
 */
export const heldPaymentIds = Object.freeze({
  /** Stripe `transfer_group` of the charge and the transfer: `held_<p>`. */
  transferGroup: (p: string): string => `held_${p}`,
  /** The Checkout Session (one per payment): `<p>:checkout_session`. */
  checkoutSession: (p: string): string => `${p}:checkout_session`,
  /**
   * Ask n that Stripe expire the Checkout Session: the backstop timer's (n = 1)
   * `<p>:checkout_session:expire`, a recheck's `<p>:checkout_session:expire:<n>` (a new
   * Stripe key, so what Stripe stored under an earlier ask is not replayed).
   */
  expireCheckoutSession: (p: string, ask = 1): string =>
    ask === 1 ? `${p}:checkout_session:expire` : `${p}:checkout_session:expire:${ask}`,
  /** Release transfer attempt n: `<p>:transfer:attempt:<n>`. */
  transfer: (p: string, attempt: number): string => `${p}:transfer:attempt:${attempt}`,
  /** Look-up k of release transfer attempt n at Stripe: `<p>:transfer:attempt:<n>:lookup:<k>`. */
  transferLookup: (p: string, attempt: number, lookup: number): string =>
    `${p}:transfer:attempt:${attempt}:lookup:${lookup}`,
  /** Reversal n of the seller's transfer: `<p>:reversal:<n>`. */
  reversal: (p: string, reversal: number): string => `${p}:reversal:${reversal}`,
  /** Attempt k of refund n: `<p>:refund:<n>:attempt:<k>`. */
  refund: (p: string, refund: number, attempt: number): string => `${p}:refund:${refund}:attempt:${attempt}`,
  /** Look-up m at Stripe of attempt k of refund n (`find_refund`): `<p>:refund:<n>:attempt:<k>:lookup:<m>`. */
  refundLookup: (p: string, refund: number, attempt: number, lookup: number): string =>
    `${p}:refund:${refund}:attempt:${attempt}:lookup:${lookup}`,
  /**
   * A timer: `<p>:timer:<kind>`, with `retry_transfer:<attempt>`, `checkout_recheck:<ask>` and
   * `refund_overdue:<refund>:<attempt>` (look-up 1; look-up m > 1:
   * `refund_overdue:<refund>:<attempt>:lookup:<m>`). Each is armed at most once (the release's
   * due time is set once; attempts and look-ups only grow), so no re-arm suffix is needed.
   */
  timer: (p: string, timer: HeldPaymentTimer): string => `${p}:timer:${timerKey(timer)}`,
  /** Ledger transaction ids. */
  ledger: ledgerIds,
  /** Notification ids: `<p>:notify:<template>:<key>`. */
  notice: noticeIds,
  /** Support ticket ids: `<p>:ticket:<reason>:<key>`. */
  ticket: ticketIds,
});
