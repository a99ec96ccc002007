// Every id a marketplace charge makes, named once.
//
// These strings are stored: an effect id is the outbox's key and the Stripe
// `Idempotency-Key` of the call it makes (so a retried payment never charges twice, a
// retried transfer never pays a seller twice); a ledger transaction id is the ledger's key;
// timer, notification and ticket ids are the keys their stores deduplicate on. Changing a
// format is a data migration, not a refactor. `marketplace-charge-ids.test.ts` pins every
// format with literal strings.
//
// Ids are built from the charge id and the step's own references (seller, attempt, refund
// or reversal number, dispute id). Derived ids (the posting of a reversal) are built from
// the stored effect id of the thing they belong to.
import type { MarketplaceChargeTimer } from "./marketplace-charge-timer.js";

/** Who a notice goes to, as part of its id. */
type Staff = "seller" | "admins";

const notice = (c: string, template: string, key: string): string => `${c}:notify:${template}:${key}`;
const ticket = (c: string, reason: string, key: string): string => `${c}:ticket:${reason}:${key}`;

/** The ids of a charge's ledger transactions: a step decided twice posts once. */
const ledgerIds = Object.freeze({
  /** The customer's payment was captured: `<c>:ledger:captured`. */
  captured: (c: string): string => `${c}:ledger:captured`,
  /** The platform's fee was earned: `<c>:ledger:fee_earned`. */
  feeEarned: (c: string): string => `${c}:ledger:fee_earned`,
  /** A seller's share was set aside: `<c>:ledger:seller_payable:<seller>`. */
  sellerPayable: (c: string, sellerId: string): string => `${c}:ledger:seller_payable:${sellerId}`,
  /** A seller was paid — once per seller, whichever attempt did it: `<c>:ledger:transferred:<seller>`. */
  transferred: (c: string, sellerId: string): string => `${c}:ledger:transferred:${sellerId}`,
  /** A reversal the charge asked for landed: `<reversal>:ledger`. */
  transferReversed: (reversalEffectId: string): string => `${reversalEffectId}:ledger`,
  /** A destination charge's refund n reversed the seller's transfer: `<c>:refund:<n>:ledger:reversed`. */
  refundReversed: (c: string, refund: number): string => `${c}:refund:${refund}:ledger:reversed`,
  /** Refund n gave back part of the platform's fee: `<c>:refund:<n>:ledger:fee_refunded`. */
  feeRefunded: (c: string, refund: number): string => `${c}:refund:${refund}:ledger:fee_refunded`,
  /**
   * Refund n's fee refund booked again at the figure Stripe reported (it differed from the
   * one booked when the refund succeeded): `<c>:refund:<n>:ledger:fee_refund_corrected`.
   */
  feeRefundCorrected: (c: string, refund: number): string =>
    `${c}:refund:${refund}:ledger:fee_refund_corrected`,
  /** Refund n reached the customer: `<c>:refund:<n>:ledger`. */
  refunded: (c: string, refund: number): string => `${c}:refund:${refund}:ledger`,
  /**
   * Refund n reached the customer again, by a later attempt, after Stripe had failed an earlier
   * success (whose postings were undone): `<refund attempt>:ledger`.
   */
  refundedAgain: (refundEffectId: string): string => `${refundEffectId}:ledger`,
  /** The fee given back toward refund n again, with that later attempt (separate charges): `<refund attempt>:ledger:fee_refunded`. */
  feeRefundedAgain: (refundEffectId: string): string => `${refundEffectId}:ledger:fee_refunded`,
  /** Stripe failed a refund attempt after its success: its postings undone, `<refund attempt>:ledger:failed`. */
  refundFailed: (refundEffectId: string): string => `${refundEffectId}:ledger:failed`,
  /** A dispute was lost: `<c>:dispute:<d>:lost`. */
  disputeLost: (c: string, disputeId: string): string => `${c}:dispute:${disputeId}:lost`,
  /**
   * What a lost dispute took beyond what its loss had booked, taken when refund n, counted as
   * given back when it closed, turned out owed outside Stripe (Stripe failed it after its
   * success): `<c>:dispute:<d>:lost:owed:<n>`.
   */
  disputeLostFromOwed: (c: string, disputeId: string, refund: number): string =>
    `${c}:dispute:${disputeId}:lost:owed:${refund}`,
  /** Refund n is owed to the customer outside Stripe: `<c>:refund:<n>:ledger:owed`. */
  owedToCustomer: (c: string, refund: number): string => `${c}:refund:${refund}:ledger:owed`,
});

/** The ids of a charge's notifications: the notifier sends each id once. */
const noticeIds = Object.freeze({
  /** The customer is told their payment failed. */
  paymentFailed: (c: string): string => notice(c, "payment_failed", "customer"),
  /** The customer is told their payment expired unconfirmed. */
  paymentExpired: (c: string): string => notice(c, "payment_expired", "customer"),
  /** The customer is asked to authenticate an off-session payment (3-D Secure). */
  actionRequired: (c: string): string => notice(c, "payment_action_required", "customer"),
  /** A seller is told they were paid. */
  sellerPaid: (c: string, sellerId: string): string => notice(c, "seller_paid", sellerId),
  /** The customer is told refund n is on its way. */
  refundStarted: (c: string, refund: number): string => notice(c, "refund_started", `${refund}`),
  /** The admins are told attempt k of refund n failed. */
  refundFailed: (c: string, refund: number, attempt: number): string =>
    notice(c, "refund_failed", `${refund}:${attempt}`),
  /** The admins are told a seller's transfer attempt was parked. */
  transferBlocked: (c: string, sellerId: string, attempt: number): string =>
    notice(c, "transfer_blocked", `${sellerId}:${attempt}`),
  /** A seller or the admins are told of a dispute. */
  disputeOpened: (c: string, to: Staff, disputeId: string, sellerId?: string): string =>
    notice(c, "dispute_opened", `${to}:${sellerId === undefined ? "" : `${sellerId}:`}${disputeId}`),
  /** A seller or the admins are told how a dispute ended. */
  disputeClosed: (c: string, to: Staff, disputeId: string, sellerId?: string): string =>
    notice(c, "dispute_closed", `${to}:${sellerId === undefined ? "" : `${sellerId}:`}${disputeId}`),
  /** The admins are told reversal n failed. */
  reversalFailed: (c: string, reversal: number): string => notice(c, "reversal_failed", `${reversal}`),
  /** The admins are told refund n is owed to the customer outside Stripe. */
  refundOwed: (c: string, refund: number): string => notice(c, "refund_owed", `${refund}`),
  /** The admins are told money arrived for a charge whose payment had failed. */
  latePayment: (c: string): string => notice(c, "unexpected_money", "late_payment"),
  /** The admins are told a transfer recorded as failed was created after all. */
  lateTransfer: (c: string, transferId: string): string =>
    notice(c, "unexpected_money", `transfer:${transferId}`),
});

/** The ids of a charge's support tickets: the desk opens each id once. */
const ticketIds = Object.freeze({
  /** Attempt k of refund n failed. */
  refundFailed: (c: string, refund: number, attempt: number): string =>
    ticket(c, "refund_failed", `${refund}:${attempt}`),
  /** Attempt k of refund n was still waiting for Stripe's outcome at its deadline. */
  refundOverdue: (c: string, refund: number, attempt: number): string =>
    ticket(c, "refund_overdue", `${refund}:${attempt}`),
  /** Attempt k of refund n was still waiting for Stripe's outcome at its last look-up: susu stops asking. */
  refundOverdueLast: (c: string, refund: number, attempt: number): string =>
    ticket(c, "refund_overdue", `${refund}:${attempt}:last`),
  /** A seller's transfer attempt failed and the policy parked it. */
  transferParked: (c: string, sellerId: string, attempt: number): string =>
    ticket(c, "transfer_parked", `${sellerId}:${attempt}`),
  /** Whether a seller's transfer attempt moved money is unknown. */
  transferOutcomeUnknown: (c: string, sellerId: string, attempt: number): string =>
    ticket(c, "transfer_outcome_unknown", `${sellerId}:${attempt}`),
  /** A dispute was opened. */
  dispute: (c: string, disputeId: string): string => ticket(c, "dispute", disputeId),
  /** Reversal n failed. */
  reversalFailed: (c: string, reversal: number): string => ticket(c, "reversal_failed", `${reversal}`),
  /** Refund n is owed to the customer outside Stripe (Stripe refuses it after a lost dispute). */
  refundOwed: (c: string, refund: number): string => ticket(c, "refund_owed", `${refund}`),
  /** Lost dispute d's bank gave back money an admin had paid the customer already: recover it. */
  owedOverpaid: (c: string, disputeId: string): string => ticket(c, "owed_overpaid", disputeId),
  /** Stripe's figure for refund n's application fee refund differs from the charge's. */
  feeRefundMismatch: (c: string, refund: number): string =>
    ticket(c, "amount_mismatch", `fee_refund:${refund}`),
  /** Stripe refunded part of the application fee though no refund of susu's asked for it. */
  feeRefundUnexpected: (c: string, feeRefundId: string): string =>
    ticket(c, "amount_mismatch", `fee_refund:${feeRefundId}`),
  /** Money arrived for a charge whose payment had failed (it is refunded at once). */
  latePayment: (c: string): string => ticket(c, "unexpected_money", "late_payment"),
  /**
   * Stripe never answered the asks that it cancel the PaymentIntent of the payment that expired
   * in wait w for the customer: susu stopped asking. One per wait, each wait's asks being its
   * own: `<c>:ticket:payment_cancel_unconfirmed:last` for wait 1 (the id it had before waits
   * were told apart, so a ticket already stored is not opened again), and
   * `<c>:ticket:payment_cancel_unconfirmed:wait:<w>:last` for wait w > 1.
   */
  cancelUnconfirmed: (c: string, wait = 1): string =>
    ticket(c, "payment_cancel_unconfirmed", wait === 1 ? "last" : `wait:${wait}:last`),
  /** A transfer recorded as failed was created after all. */
  lateTransfer: (c: string, transferId: string): string =>
    ticket(c, "unexpected_money", `transfer:${transferId}`),
});

/**
 * Every effect id, ledger transaction id and provider key a marketplace charge makes.
 *
 * **These are stored keys** (outbox rows, Stripe idempotency keys, ledger ids, timer,
 * notification and ticket deduplication keys): changing a format is a data migration,
 * never a refactor. `marketplace-charge-ids.test.ts` pins every format; the model-based
 * test checks that no two different effects share an id.
 */
export const marketplaceChargeIds = Object.freeze({
  /** Stripe `transfer_group` of the charge and its transfers: `marketplace_<c>`. */
  transferGroup: (c: string): string => `marketplace_${c}`,
  /** The PaymentIntent (one per charge): `<c>:payment`. */
  payment: (c: string): string => `${c}:payment`,
  /** Attempt n of a seller's transfer: `<c>:transfer:<seller>:attempt:<n>`. */
  transfer: (c: string, sellerId: string, attempt: number): string =>
    `${c}:transfer:${sellerId}:attempt:${attempt}`,
  /** Look-up k of attempt n of a seller's transfer at Stripe: `<c>:transfer:<seller>:attempt:<n>:lookup:<k>`. */
  transferLookup: (c: string, sellerId: string, attempt: number, lookup: number): string =>
    `${c}:transfer:${sellerId}:attempt:${attempt}:lookup:${lookup}`,
  /** Reversal n (of some seller's transfer): `<c>:reversal:<n>`. */
  reversal: (c: string, reversal: number): string => `${c}:reversal:${reversal}`,
  /** Attempt k of refund n: `<c>:refund:<n>:attempt:<k>`. */
  refund: (c: string, refund: number, attempt: number): string => `${c}:refund:${refund}:attempt:${attempt}`,
  /** Look-up m at Stripe of attempt k of refund n (`find_refund`): `<c>:refund:<n>:attempt:<k>:lookup:<m>`. */
  refundLookup: (c: string, refund: number, attempt: number, lookup: number): string =>
    `${c}:refund:${refund}:attempt:${attempt}:lookup:${lookup}`,
  /**
   * A timer: `<c>:timer:retry_transfer:<seller>:<attempt>` and
   * `<c>:timer:refund_overdue:<refund>:<attempt>` (look-up 1; look-up m > 1:
   * `<c>:timer:refund_overdue:<refund>:<attempt>:lookup:<m>`) (each armed once: attempts and
   * look-ups only grow),
   * `<c>:timer:action_expired` (armed when the payment first waits for the customer) and
   * `<c>:timer:action_expired:<n>` for its wait n > 1 (each wait's armed once),
   * `<c>:timer:cancel_recheck:<ask>` for the asks of wait 1 and
   * `<c>:timer:cancel_recheck:wait:<n>:<ask>` for those of wait n > 1 (asks only grow within a wait).
   */
  timer: (c: string, timer: MarketplaceChargeTimer): string => {
    switch (timer.kind) {
      case "retry_transfer":
        return `${c}:timer:${timer.kind}:${timer.sellerId}:${timer.attempt}`;
      case "refund_overdue":
        // Look-up 1's timer kept the key it had before look-ups were repeated.
        return (timer.lookup ?? 1) === 1
          ? `${c}:timer:${timer.kind}:${timer.refund}:${timer.attempt}`
          : `${c}:timer:${timer.kind}:${timer.refund}:${timer.attempt}:lookup:${timer.lookup}`;
      case "action_expired":
        return (timer.wait ?? 1) === 1
          ? `${c}:timer:${timer.kind}`
          : `${c}:timer:${timer.kind}:${timer.wait}`;
      case "cancel_recheck":
        return (timer.wait ?? 1) === 1
          ? `${c}:timer:${timer.kind}:${timer.ask}`
          : `${c}:timer:${timer.kind}:wait:${timer.wait}:${timer.ask}`;
    }
  },
  /**
   * Ask n that Stripe cancel the PaymentIntent of a payment that expired waiting for the
   * customer: the expiry timer's (n = 1) `<c>:payment:cancel`, a recheck's
   * `<c>:payment:cancel:<n>` (a new Stripe key, so what Stripe stored under an earlier ask is
   * not replayed), in the payment's first wait for the customer; in its wait w > 1,
   * `<c>:payment:cancel:wait:<w>` and `<c>:payment:cancel:wait:<w>:<n>` (an earlier wait's ask
   * is not the same effect, nor the same Stripe key).
   */
  cancelPayment: (c: string, ask = 1, wait = 1): string => {
    const base = wait === 1 ? `${c}:payment:cancel` : `${c}:payment:cancel:wait:${wait}`;
    return ask === 1 ? base : `${base}:${ask}`;
  },
  /** Ledger transaction ids. */
  ledger: ledgerIds,
  /** Notification ids: `<c>:notify:<template>:<key>`. */
  notice: noticeIds,
  /** Support ticket ids: `<c>:ticket:<reason>:<key>`. */
  ticket: ticketIds,
});
