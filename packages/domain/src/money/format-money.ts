import { currencyInfo } from "./currency.js";
import { assertMoney, type Money } from "./money.js";

/**
 * Writes an amount in major units followed by its currency code, with exactly the
 * currency's decimals: `"12.34 AUD"`, `"500 JPY"`, `"1.230 KWD"`, `"-0.05 USD"`.
 * Deterministic (no `Intl`, no locale): for logs, audit trails, notifications'
 * fallback text and tests. `parseMoney` reads it back.
 */
export function formatMoney(m: Money): string {
  assertMoney(m);
  const { exponent } = currencyInfo(m.currency);
  const sign = m.amountMinor < 0 ? "-" : "";
  const digits = String(Math.abs(m.amountMinor));
  if (exponent === 0) return `${sign}${digits} ${m.currency}`;
  const padded = digits.padStart(exponent + 1, "0");
  const integerPart = padded.slice(0, -exponent);
  const fractionPart = padded.slice(-exponent);
  return `${sign}${integerPart}.${fractionPart} ${m.currency}`;
}
