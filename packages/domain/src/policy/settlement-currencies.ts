import type { CurrencyCode } from "../money/index.js";

/**
 * Why a payment in `currency` cannot be taken by a platform whose Stripe balance settles only
 * in `settled` (a policy's `settlementCurrencies`), or undefined when it can: the currency is
 * one of them, or the policy names none (any currency).
 */
export function notSettledIn(
  settled: readonly CurrencyCode[] | undefined,
  currency: CurrencyCode,
): string | undefined {
  return settled === undefined || settled.includes(currency)
    ? undefined
    : `the platform settles in ${settled.join(", ")}, not ${currency}`;
}
