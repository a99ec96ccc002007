import type { CurrencyCode } from "../money/index.js";
import { HOUR_MS } from "../shared/time.js";
import { type RetryPolicy, type RetryPolicyError, retryPolicyProblem } from "./retry-policy.js";

/** Who asked for a refund of a marketplace charge: the customer (through the client app), or the platform (an admin). */
export type RefundInitiator = "customer" | "platform";

/** What a refund takes back besides the customer's money, by who asked for it. */
export interface MarketplaceRefundRules {
  /**
   * Reverse the sellers' transfers for their part (Stripe `reverse_transfer`): the sellers
   * bear the refund. When false the platform pays the refund out of its own balance.
   */
  readonly reverseTransfer: boolean;
  /**
   * Give back the platform's fee for its part (Stripe `refund_application_fee`). When false
   * the platform keeps its fee and the sellers (or the platform's own money) cover it.
   */
  readonly refundApplicationFee: boolean;
}

/** The settings that govern marketplace charges. */
export interface MarketplacePolicy {
  /** Retries of a seller's transfer (separate charges and transfers) that failed for a retryable reason; then parked with a ticket. */
  readonly transferRetry: RetryPolicy;
  /** The smallest platform fee per currency, in minor units (absent: no minimum). */
  readonly feeMinimumMinor: Readonly<Partial<Record<CurrencyCode, number>>>;
  /** Most sellers one charge may be split among. */
  readonly splitSellersMax: number;
  /**
   * The currencies the platform's Stripe balance settles in, or absent: any (the domain cannot
   * know the platform's). A split pays its sellers by transfers funded by the charge
   * (`source_transaction`), which Stripe makes only in the currency of the charge's balance
   * transaction, the settlement currency; a destination charge's transfer is in that currency
   * too, and susu reverses it in the charge's amounts. A charge in another currency could not
   * pay its sellers, or take back from them, in the amounts susu books.
   */
  readonly settlementCurrencies?: readonly CurrencyCode[];
  /** What a refund takes back, for refunds the customer asked for and refunds the platform decided. */
  readonly refunds: Readonly<Record<RefundInitiator, MarketplaceRefundRules>>;
  /**
   * How long a payment may wait for the customer's action (a new card to confirm, 3-D
   * Secure) before it expires: the PaymentIntent is cancelled and the charge ends `expired`.
   */
  readonly actionExpiryMs: number;
}

/** Shortest and longest {@link MarketplacePolicy.actionExpiryMs}: 5 minutes to 7 days. */
export const MARKETPLACE_ACTION_EXPIRY_MIN_MS = 5 * 60_000;
export const MARKETPLACE_ACTION_EXPIRY_MAX_MS = 7 * 24 * HOUR_MS;

/**
 * The defaults: three transfer attempts an hour or more apart; a fee of at least 0.50 in
 * the common two-decimal currencies (50 yen); up to 10 co-hosts; refunds reverse the
 * sellers' transfers, and the platform gives its fee back only for refunds it decides
 * itself (a customer changing their mind leaves the platform its fee); a payment waiting
 * for the customer's action expires after 24 hours.
 */
export const DEFAULT_MARKETPLACE_POLICY: MarketplacePolicy = {
  transferRetry: {
    baseDelayMs: HOUR_MS,
    factor: 2,
    maxDelayMs: 12 * HOUR_MS,
    jitter: "equal",
    attemptsMax: 3,
  },
  feeMinimumMinor: { AUD: 50, USD: 50, EUR: 50, GBP: 30, NZD: 50, CAD: 50, JPY: 50 },
  splitSellersMax: 10,
  refunds: {
    customer: { reverseTransfer: true, refundApplicationFee: false },
    platform: { reverseTransfer: true, refundApplicationFee: true },
  },
  actionExpiryMs: 24 * HOUR_MS,
};

/** Checks a marketplace policy: fee minimums whole, 2–100 co-hosts, retry policy valid. */
export function marketplacePolicyProblem(policy: MarketplacePolicy): RetryPolicyError | null {
  const problem = (message: string): RetryPolicyError => ({
    type: "invalid_retry_policy",
    code: "invalid_retry_policy",
    message,
  });
  for (const [currency, minimum] of Object.entries(policy.feeMinimumMinor))
    if (minimum !== undefined && (!Number.isSafeInteger(minimum) || minimum < 0))
      return problem(`feeMinimumMinor for ${currency} must be a whole number ≥ 0`);
  if (
    !Number.isSafeInteger(policy.splitSellersMax) ||
    policy.splitSellersMax < 2 ||
    policy.splitSellersMax > 100
  )
    return problem("splitSellersMax must be between 2 and 100");
  if (
    !Number.isSafeInteger(policy.actionExpiryMs) ||
    policy.actionExpiryMs < MARKETPLACE_ACTION_EXPIRY_MIN_MS ||
    policy.actionExpiryMs > MARKETPLACE_ACTION_EXPIRY_MAX_MS
  )
    return problem("actionExpiryMs must be between 5 minutes and 7 days");
  return retryPolicyProblem(policy.transferRetry);
}
