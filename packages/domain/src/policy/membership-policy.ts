import { DAY_MS, type DurationMs } from "../shared/time.js";

/**
 * How long susu's refund of a membership invoice may stay unfinished (a refund Stripe left
 * `pending`, or an answer never heard) before a person is given a ticket to look at it.
 *
 * Stripe reports a card refund `succeeded` at once in the usual case (the 5–10 days a bank
 * takes to show it on a statement are after that); a refund stays `pending` when the
 * payment it refunds has not settled yet (`pending_reason: charge_pending`: bank debits
 * take up to a few business days), or the Stripe balance cannot cover it
 * (`insufficient_funds`: until someone tops it up), or Stripe is still processing it. Ten
 * days cover a bank debit's settlement over two weekends and public holidays; a refund
 * still pending after that needs a person (most likely the balance).
 */
export const MEMBERSHIP_REFUND_OVERDUE_MS: DurationMs = 10 * DAY_MS;

/**
 * How long after Stripe answered that an ended membership's invoice cannot be voided yet (its
 * bank debit is `processing`) susu asks again, should no news of the debit's outcome come.
 *
 * A BECS Direct Debit is a delayed notification payment method: Stripe learns whether it
 * succeeded or failed up to 3 business days after it was made. Seven days cover that over a
 * weekend and public holidays. A success is news (`invoice.paid`, refunded as paid after the
 * end), and so is a failure (`invoice.payment_failed`, which voids at once); the recheck is for
 * a failure whose news never reached the membership.
 */
export const MEMBERSHIP_VOID_RECHECK_MS: DurationMs = 7 * DAY_MS;

/**
 * The void call whose answer, still `payment_processing`, opens a support ticket
 * (`membership_void_stuck`): the first call and three weekly rechecks, three weeks in which a
 * BECS debit (settled in about three business days) should have ended. The rechecks go on.
 */
export const MEMBERSHIP_VOID_CALLS_BEFORE_TICKET = 4;
