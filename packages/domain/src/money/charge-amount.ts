import { err, ok, type Result } from "neverthrow";
import { currencyInfo } from "./currency.js";
import type { CurrencyCode } from "./currency-code.js";
import { amountBelowMinimum, amountInvalidStep, amountTooLarge, type MoneyError } from "./money.errors.js";
import { assertMoney, type Money } from "./money.js";

/**
 * The largest charge Stripe accepts in a currency, in minor units: as many 9s as the
 * currency's `maxAmountDigits` (99999999 for most currencies, 999999999999 for IDR).
 */
export function maximumChargeMinor(currency: CurrencyCode): number {
  return 10 ** currencyInfo(currency).maxAmountDigits - 1;
}

/**
 * Checks an amount against Stripe's rules for a charge (a debit, a PaymentIntent) in its
 * currency, before it is sent: at least the currency's minimum charge
 * (`amount_below_minimum`; zero and negative amounts fail here too), at most its
 * number of digits (`amount_too_large`), and a multiple of its step — three-decimal
 * currencies must end in 0 (`amount_invalid_step`). Returns the amount unchanged.
 */
export function checkChargeAmount<C extends CurrencyCode>(m: Money<C>): Result<Money<C>, MoneyError> {
  assertMoney(m);
  const info = currencyInfo(m.currency);
  if (m.amountMinor < info.minimumChargeMinor) {
    return err(amountBelowMinimum(m.currency, m.amountMinor, info.minimumChargeMinor));
  }
  const maximumMinor = maximumChargeMinor(m.currency);
  if (m.amountMinor > maximumMinor) return err(amountTooLarge(m.currency, m.amountMinor, maximumMinor));
  if (m.amountMinor % info.amountStepMinor !== 0) {
    return err(amountInvalidStep(m.currency, m.amountMinor, info.amountStepMinor));
  }
  return ok(m);
}
