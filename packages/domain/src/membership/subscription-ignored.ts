import type { Ignored } from "../kernel/decision.js";

/**
 * Why a subscription ignored an input: it did not apply to the subscription as it is
 * (Stripe repeats and reorders events):
 *
 * - `already_created`: `subscribe` for a subscription that exists.
 * - `subscription_ended`: news of a subscription that ended for good.
 * - `stale_snapshot`: a view of the Stripe subscription older than the one applied.
 * - `snapshot_unchanged`: a view that changes nothing.
 * - `other_subscription`: a view of another Stripe subscription than the one recorded.
 * - `checkout_already_recorded`: the Checkout Session reported again.
 * - `payment_method_unchanged`: a payment method to charge that the subscription is charged on already.
 * - `not_started`: a payment method to charge before Stripe started the subscription (its start uses its own).
 * - `other_checkout`: a Checkout page's expiry that is not the subscription's page (or it has none).
 * - `start_already_known`: a refusal to start a subscription Stripe has started.
 * - `not_trialing`: a trial ending notice after the trial.
 * - `trial_notice_sent`: the same trial ending reported again.
 * - `invoice_already_paid`: news of an invoice already paid (a repeat, or a failure that arrived late).
 * - `failure_already_recorded`: a failed attempt already heard of.
 * - `action_already_requested`: the person was already asked to authenticate this invoice.
 * - `invoice_already_uncollectible`: an invoice already marked uncollectible.
 * - `invoice_already_void`: an invoice already voided at Stripe, heard of again.
 * - `invoice_void`: news of the payment of an invoice voided at Stripe (a late failure, or a
 *   write-off, of an invoice no longer owed).
 * - `refund_not_requested`: news of a refund of an invoice susu did not refund.
 * - `refund_already_settled`: a refund's outcome already recorded (or a success after a failure).
 * - `refunds_already_known`: the refunds of an invoice's refund heard of again, or after it ended.
 * - `timer_no_longer_due`: a refund's deadline that fired after the refund ended, or again after its ticket;
 *   a void's recheck that fired when that void no longer waits for a debit.
 * - `change_not_pending`: Stripe's refusal of a change that is not the one pending (repeated, or older).
 * - `payment_method_change_not_pending`: Stripe's refusal of a card change that is not the one
 *   waiting (repeated, or older, or already confirmed).
 * - `invoice_not_paid`: a refund or dispute of an invoice's charge, the invoice not heard of as paid
 *   (yet: a fact so ignored fails as `invoice_not_paid_yet`, and its event is retried).
 * - `outside_refund_known`: a refund made outside susu whose outcome was booked already (a repeat,
 *   or a success after its failure).
 * - `dispute_already_closed`: news of a dispute of an invoice's charge after its closure.
 * - `dispute_unchanged`: news of such a dispute that changes nothing.
 * - `void_not_requested`: Stripe's answer to a void of an invoice susu did not ask to void.
 * - `void_already_answered`: an answer to a void call already heard, or to an earlier call than the last.
 */
export const SUBSCRIPTION_IGNORED_CODES = [
  "already_created",
  "subscription_ended",
  "stale_snapshot",
  "snapshot_unchanged",
  "other_subscription",
  "checkout_already_recorded",
  "other_checkout",
  "payment_method_unchanged",
  "not_started",
  "start_already_known",
  "not_trialing",
  "trial_notice_sent",
  "invoice_already_paid",
  "failure_already_recorded",
  "action_already_requested",
  "invoice_already_uncollectible",
  "invoice_already_void",
  "invoice_void",
  "refund_not_requested",
  "refund_already_settled",
  "refunds_already_known",
  "timer_no_longer_due",
  "change_not_pending",
  "payment_method_change_not_pending",
  "invoice_not_paid",
  "outside_refund_known",
  "dispute_already_closed",
  "dispute_unchanged",
  "void_not_requested",
  "void_already_answered",
] as const;

/** One of {@link SUBSCRIPTION_IGNORED_CODES}. */
export type SubscriptionIgnoredCode = (typeof SUBSCRIPTION_IGNORED_CODES)[number];

export type SubscriptionIgnored = Ignored<SubscriptionIgnoredCode>;
