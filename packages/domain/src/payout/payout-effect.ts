import type { NotifyEffect, OpenTicketEffect } from "../kernel/effect-address.js";
import type { NotifyAudience } from "../kernel/notify-audience.js";

/** The name payout effects carry as their aggregate (a projection that makes effects, not a state machine). */
export const PAYOUT_AGGREGATE = "payout";

/** The messages about payouts; the notifier renders each one. */
export const PAYOUT_NOTIFICATION_TEMPLATES = [
  "payout_failed",
  "payout_refused",
  "onboarding_incomplete",
] as const;

/** One of {@link PAYOUT_NOTIFICATION_TEMPLATES}. */
export type PayoutNotificationTemplate = (typeof PAYOUT_NOTIFICATION_TEMPLATES)[number];

/** Why a payout opened a support ticket. */
export const PAYOUT_TICKET_REASONS = ["payout_failed", "payout_refused"] as const;

/** One of {@link PAYOUT_TICKET_REASONS}. */
export type PayoutTicketReason = (typeof PAYOUT_TICKET_REASONS)[number];

/**
 * What a recorded payout asks the outside world to do: tell the person (by id) and open a
 * ticket for the admins. Ids come from `payoutIds`, one per payout, so hearing a failure
 * twice sends one message and opens one ticket. A payout the provider refused to make
 * (`payout_refused`) does the same, once per account, currency and day. A connected account
 * that cannot receive for want of information tells its person what is missing
 * (`onboarding_incomplete`, addressed by the account's id), once per set of requirements.
 */
export type PayoutEffect =
  | NotifyEffect<
      typeof PAYOUT_AGGREGATE,
      PayoutNotificationTemplate,
      Extract<NotifyAudience, { kind: "people" }>
    >
  | OpenTicketEffect<typeof PAYOUT_AGGREGATE, PayoutTicketReason>;
