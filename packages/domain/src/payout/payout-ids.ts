import type { CurrencyCode } from "../money/index.js";

/**
 * The stored ids a payout makes: the keys of the payouts susu asks for (the provider's
 * `Idempotency-Key`), and the ids of the outbox effects a failed payout makes. Formats are
 * pinned by `payout-ids.test.ts`: changing one would pay twice or notify twice.
 */
/**
 * Most scheduled payouts of one account and currency on one UTC day (runs that day, each
 * paying what arrived since the one before, or what was left when a payout made elsewhere
 * took part of the balance); also the most attempts of one admin's request per currency.
 */
export const PAYOUT_KEYS_PER_DAY = 10;

export const payoutIds = {
  /**
   * The scheduled payouts of an account's balance in one currency on one UTC day, numbered
   * from 1: the first keeps the key of one payout a day; a later run that day finds the keys
   * before it used (by another run: the provider refuses them as reused) and pays what arrived
   * since under the next number (`PAYOUT_KEYS_PER_DAY` at most).
   */
  scheduled: (accountId: string, currency: CurrencyCode, day: string, sequence = 1): string =>
    sequence === 1
      ? `payout:${accountId}:${currency}:${day}`
      : `payout:${accountId}:${currency}:${day}:${sequence}`,
  /**
   * A payout an admin asked for, keyed by the request's own idempotency key. `attempt` 2 and
   * on: the request asking again for what was still available after the provider refused the
   * amount it asked first as more than the balance (another payout took part of it in
   * between); a label of its own before the request's key, so no key of one request is
   * another's.
   */
  requested: (accountId: string, currency: CurrencyCode, requestKey: string, attempt = 1): string =>
    attempt === 1
      ? `payout:${accountId}:${currency}:request:${requestKey}`
      : `payout:${accountId}:${currency}:request-${attempt}:${requestKey}`,
  /** The notice to the person whose payout failed (once per payout). */
  failedNotice: (payoutId: string): string => `payout:${payoutId}:failed:notify`,
  /** The admins' ticket about a failed payout (once per payout). */
  failedTicket: (payoutId: string): string => `payout:${payoutId}:failed:ticket`,
  /** The notice to the person whose payout the provider refused (once per account, currency and UTC day). */
  refusedNotice: (accountId: string, currency: CurrencyCode, day: string): string =>
    `payout:${accountId}:${currency}:${day}:refused:notify`,
  /** The admins' ticket about a payout the provider refused (once per account, currency and UTC day). */
  refusedTicket: (accountId: string, currency: CurrencyCode, day: string): string =>
    `payout:${accountId}:${currency}:${day}:refused:ticket`,
  /**
   * The notice to the person whose connected account cannot receive for want of information,
   * once per account and distinct set of requirements (`requirementsKey`: `onboardingRequirementsKey`).
   */
  onboardingIncompleteNotice: (accountId: string, requirementsKey: string): string =>
    `account:${accountId}:onboarding_incomplete:${requirementsKey}:notify`,
} as const;
