import { type CodedError, type CodedErrorConstructor, codedErrorConstructor } from "../kernel/coded-error.js";

/** Every code a refused plan or subscription command can carry. */
export const MEMBERSHIP_ERROR_CODES = [
  /** A plan's name or description is missing or too long. */
  "invalid_plan",
  /** A price is malformed: unknown currency, an amount Stripe cannot charge, an unknown interval, or a repeat. */
  "invalid_price",
  /** The entitlements are malformed. */
  "invalid_entitlements",
  /** Trial days outside 0–730. */
  "invalid_trial_days",
  /** The plan was archived: nobody can subscribe to it, and it cannot be changed. */
  "plan_archived",
  /** The plan has no price in that currency and interval (or its Stripe price is not created yet). */
  "price_not_available",
  /** A new subscription's terms are malformed (a return URL that is not http(s), too long). */
  "invalid_subscription",
  /** The subscription ended (canceled, lapsed for good, or expired before its first payment). */
  "subscription_ended",
  /** The subscription has not started at Stripe yet. */
  "subscription_not_started",
  /** Already on that price. */
  "same_price",
  /** A change of price while another one waits for Stripe. */
  "change_pending",
  /** `cancel_change` while no change of price waits for Stripe. */
  "no_change_pending",
  /** A change of price in another currency (Stripe keeps one currency per subscription). */
  "currency_change_not_allowed",
  /** `resume` while no cancellation at period end is pending. */
  "not_canceling",
  /** `cancel` at period end while one is already pending. */
  "already_canceling",
  // Refused by the use case, before the aggregate decides:
  /** No such plan. */
  "plan_not_found",
  /** The person is not known. */
  "person_not_found",
  /** The person has no Stripe customer yet. */
  "customer_not_onboarded",
  /** The person has a membership that has not ended: change its plan instead. */
  "already_subscribed",
  /** What the person asks for needs a membership that grants it (or room under its group limit). */
  "not_entitled",
  // Refused by the use case after the aggregate decided, for a fact to be tried again:
  /**
   * News of an invoice's charge (a refund made outside susu, a dispute) before susu heard the
   * invoice paid (Stripe does not promise the order of its events): nothing to take back yet,
   * so the event is retried (the webhook processor's backoff, then a ticket) until it has.
   */
  "invoice_not_paid_yet",
] as const;

/** One of {@link MEMBERSHIP_ERROR_CODES}. */
export type MembershipErrorCode = (typeof MEMBERSHIP_ERROR_CODES)[number];

/** Why a command on a plan or a subscription was refused: tagged by `type`, equal to its stable `code`. */
export type MembershipError = CodedError<MembershipErrorCode>;

/** Builds a {@link MembershipError}. */
export const membershipError: CodedErrorConstructor<MembershipErrorCode> = codedErrorConstructor();
