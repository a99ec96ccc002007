import type { Ignored } from "../kernel/decision.js";
import { DISPUTE_IGNORED_CODES } from "../kernel/disputes.js";

/**
 * Why `decideHeldPayment` ignored an input: it did not apply to the payment as it is.
 * Stripe repeats and reorders events, and timers fire for steps already done; such
 * inputs are recorded with their code, never raised as errors.
 *
 * - `already_created`: `create` for a payment that exists (a client app's retry).
 * - `session_already_recorded`: the session's creation reported again.
 * - `no_such_session`: a Checkout fact for a session this payment did not open.
 * - `checkout_already_completed`: a completed session reported again with nothing new.
 * - `payment_already_settled`: a payment fact after the payment was captured or failed.
 * - `payment_not_settled`: a completed session whose PaymentIntent neither succeeded nor is processing.
 * - `checkout_not_open`: the session's expiry (fact or timer) once the customer has paid or it ended.
 * - `timer_no_longer_due`: a timer for a step already done, or for a status the payment left.
 * - `release_frozen`: the release came due while a dispute is open.
 * - `release_on_hold`: the release came due while an admin holds it.
 * - `refund_in_flight`: the release came due while a refund is unfinished.
 * - `no_such_transfer`: a transfer fact for an attempt the payment never made.
 * - `transfer_already_created`: a transfer reported created again.
 * - `transfer_not_pending`: a transfer failure for an attempt no longer awaited.
 * - `no_such_reversal`: a reversal fact for a reversal the payment never asked for.
 * - `reversal_already_settled`: a reversal outcome repeated.
 * - `no_such_refund`: a refund fact for a refund (or attempt) the payment never asked for.
 * - `refund_already_settled`: a refund outcome repeated.
 * - `readiness_unchanged`: the seller's account reported as it already was.
 * - `no_charge`: a dispute of a payment that was never captured.
 * - `duplicate_dispute`: a dispute already recorded.
 * - `no_such_dispute`: an update or closure of a dispute never recorded.
 * - `dispute_unchanged`: a dispute update that changes nothing.
 * - `dispute_already_closed`: a dispute closed again.
 */
export const HELD_PAYMENT_IGNORED_CODES = [
  "already_created",
  "session_already_recorded",
  "no_such_session",
  "checkout_already_completed",
  "payment_already_settled",
  "payment_not_settled",
  "checkout_not_open",
  "timer_no_longer_due",
  "release_frozen",
  "release_on_hold",
  "refund_in_flight",
  "no_such_transfer",
  "transfer_already_created",
  "transfer_not_pending",
  "no_such_reversal",
  "reversal_already_settled",
  "no_such_refund",
  "refund_already_settled",
  "readiness_unchanged",
  ...DISPUTE_IGNORED_CODES,
] as const;

/** One of {@link HELD_PAYMENT_IGNORED_CODES}. */
export type HeldPaymentIgnoredCode = (typeof HELD_PAYMENT_IGNORED_CODES)[number];

/** Why an input was ignored: a stable code and a sentence for the audit log. */
export type HeldPaymentIgnored = Ignored<HeldPaymentIgnoredCode>;
