import type { Ignored } from "../kernel/decision.js";
import { DISPUTE_IGNORED_CODES } from "../kernel/disputes.js";

/**
 * Why `decideMarketplaceCharge` ignored an input: it did not apply to the charge as it is.
 * Stripe repeats and reorders events and timers fire for steps already done; such inputs
 * are recorded with their code, never raised as errors.
 *
 * - `already_created`: `create` for a charge that exists (a client app's retry).
 * - `action_already_recorded`: the same "requires action" reported again.
 * - `payment_already_processing`: "processing" reported again.
 * - `payment_already_settled`: a payment fact after the payment was captured or failed.
 * - `payment_failure_recorded`: a new card's declined attempt reported again (the customer may
 *   still try another card on the same PaymentIntent).
 * - `timer_no_longer_due`: a retry timer for a transfer attempt no longer due; the expiry timer
 *   of a payment no longer waiting for the customer, or whose cancel is already asked for; a
 *   cancel recheck after Stripe's word, of an ask already made, or after susu stopped asking.
 * - `no_such_transfer`: a transfer fact for a seller or attempt the charge never asked for.
 * - `transfer_already_created`: a transfer reported created again.
 * - `transfer_not_pending`: a transfer failure for an attempt no longer awaited.
 * - `no_such_reversal`: a reversal fact for a reversal the charge never asked for.
 * - `reversal_already_settled`: a reversal outcome repeated.
 * - `no_such_refund`: a refund fact (or fee refund) for a refund or attempt never asked for.
 * - `refund_already_settled`: a refund outcome repeated or stale.
 * - `fee_refund_already_recorded`: an application fee refund reported again.
 * - `no_charge`: a dispute of a charge that was never captured.
 * - `duplicate_dispute`: a dispute already recorded.
 * - `no_such_dispute`: an update of a dispute never recorded.
 * - `dispute_unchanged`: a dispute update that changes nothing.
 * - `dispute_already_closed`: a dispute closed (or updated) after it closed.
 */
export const MARKETPLACE_CHARGE_IGNORED_CODES = [
  "already_created",
  "action_already_recorded",
  "payment_already_processing",
  "payment_already_settled",
  "payment_failure_recorded",
  "timer_no_longer_due",
  "no_such_transfer",
  "transfer_already_created",
  "transfer_not_pending",
  "no_such_reversal",
  "reversal_already_settled",
  "no_such_refund",
  "refund_already_settled",
  "fee_refund_already_recorded",
  ...DISPUTE_IGNORED_CODES,
] as const;

/** One of {@link MARKETPLACE_CHARGE_IGNORED_CODES}. */
export type MarketplaceChargeIgnoredCode = (typeof MARKETPLACE_CHARGE_IGNORED_CODES)[number];

/** Why an input was ignored: a stable code and a sentence for the audit log. */
export type MarketplaceChargeIgnored = Ignored<MarketplaceChargeIgnoredCode>;
