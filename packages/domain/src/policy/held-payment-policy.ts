import type { CurrencyCode } from "../money/index.js";
import { DAY_MS, type DurationMs, HOUR_MS } from "../shared/time.js";
import { type RetryPolicy, type RetryPolicyError, retryPolicyProblem } from "./retry-policy.js";

/**
 * The settings that govern held payments. A payment's own dispute window (per seller or
 * product) is given when it is created and overrides {@link disputeWindowMs}.
 */
export interface HeldPaymentPolicy {
  /** How long funds stay held after the booking is fulfilled, unless the payment names its own. */
  readonly disputeWindowMs: DurationMs;
  /** Shortest dispute window a payment may ask for. */
  readonly disputeWindowMinMs: DurationMs;
  /** Longest dispute window a payment may ask for. */
  readonly disputeWindowMaxMs: DurationMs;
  /** How long the Checkout Session stays open: 90 minutes to 23 hours (see heldPaymentPolicyProblem). */
  readonly checkoutTtlMs: DurationMs;
  /**
   * How long after the session's expiry susu stops waiting for Stripe's word and treats the
   * session as expired (a backstop for a lost `checkout.session.expired`).
   */
  readonly checkoutExpiryGraceMs: DurationMs;
  /** Retries of the release transfer when it fails for a retryable reason (then parked with a ticket). */
  readonly transferRetry: RetryPolicy;
  /** The smallest platform fee per currency, in minor units (none: no minimum). */
  readonly feeMinimumMinor: Readonly<Partial<Record<CurrencyCode, number>>>;
  /**
   * The currencies the platform's Stripe balance settles in, or absent: any (the domain cannot
   * know the platform's). A seller is paid by a transfer funded by the charge
   * (`source_transaction`), which Stripe makes only in the currency of the charge's balance
   * transaction: the settlement currency. A payment in another could never pay its seller.
   */
  readonly settlementCurrencies?: readonly CurrencyCode[];
}

/**
 * The defaults: a 72-hour dispute window (an hour to 90 days), a 23-hour Checkout Session
 * and an hour's grace, three transfer attempts an hour or more apart, and a fee of at
 * least 0.50 in the common two-decimal currencies (50 yen).
 */
export const DEFAULT_HELD_PAYMENT_POLICY: HeldPaymentPolicy = {
  disputeWindowMs: 72 * HOUR_MS,
  disputeWindowMinMs: HOUR_MS,
  disputeWindowMaxMs: 90 * DAY_MS,
  checkoutTtlMs: 23 * HOUR_MS,
  checkoutExpiryGraceMs: HOUR_MS,
  transferRetry: {
    baseDelayMs: HOUR_MS,
    factor: 2,
    maxDelayMs: 12 * HOUR_MS,
    jitter: "equal",
    attemptsMax: 3,
  },
  feeMinimumMinor: { AUD: 50, USD: 50, EUR: 50, GBP: 30, NZD: 50, CAD: 50, JPY: 50 },
};

/** Checks a held-payment policy: windows positive and ordered, fee minimums whole, retry policy valid. */
export function heldPaymentPolicyProblem(policy: HeldPaymentPolicy): RetryPolicyError | null {
  const problem = (message: string): RetryPolicyError => ({
    type: "invalid_retry_policy",
    code: "invalid_retry_policy",
    message,
  });
  const positive = (ms: number) => Number.isSafeInteger(ms) && ms > 0;
  if (
    !positive(policy.disputeWindowMs) ||
    !positive(policy.disputeWindowMinMs) ||
    !positive(policy.disputeWindowMaxMs)
  )
    return problem("dispute windows must be positive whole milliseconds");
  if (
    policy.disputeWindowMinMs > policy.disputeWindowMs ||
    policy.disputeWindowMs > policy.disputeWindowMaxMs
  )
    return problem(
      "dispute windows must be ordered: disputeWindowMinMs ≤ disputeWindowMs ≤ disputeWindowMaxMs",
    );
  // Stripe accepts an expiry 30 minutes to 24 hours after it creates the session. The expiry
  // is fixed when the payment is created and the session is made later (the outbox), on
  // Stripe's clock: an hour's room at each end keeps a late dispatch or a clock difference
  // from being refused.
  if (
    !Number.isSafeInteger(policy.checkoutTtlMs) ||
    policy.checkoutTtlMs < 90 * 60_000 ||
    policy.checkoutTtlMs > DAY_MS - HOUR_MS
  )
    return problem(
      "checkoutTtlMs must be 90 minutes to 23 hours (Stripe allows 30 minutes to 24 hours after the session is created)",
    );
  if (!Number.isSafeInteger(policy.checkoutExpiryGraceMs) || policy.checkoutExpiryGraceMs < 0)
    return problem("checkoutExpiryGraceMs must be ≥ 0");
  for (const [currency, minimum] of Object.entries(policy.feeMinimumMinor))
    if (minimum !== undefined && (!Number.isSafeInteger(minimum) || minimum < 0))
      return problem(`feeMinimumMinor for ${currency} must be a whole number ≥ 0`);
  return retryPolicyProblem(policy.transferRetry);
}
