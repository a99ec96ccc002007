import { err, ok, type Result } from "neverthrow";
import { textLength } from "../kernel/text.js";
import { currencyInfo, parseCurrencyCode } from "./currency.js";
import type { CurrencyCode } from "./currency-code.js";
import {
  amountOutOfRange,
  currencyMismatch,
  invalidAmount,
  type MoneyError,
  tooManyDecimals,
} from "./money.errors.js";
import { type Money, money } from "./money.js";

/** Longest text `parseMoney` reads; anything longer is refused before any work. */
export const MONEY_TEXT_MAX_CHARS = 64;

// Optional "-", digits, optional "." and digits, optional currency code after spaces.
// ASCII digits only (no `u` flag, so \d is [0-9]); no exponent, no grouping, no "+".
const MONEY_TEXT = /^(-?)(\d+)(?:\.(\d+))?(?:\s+([A-Za-z]{3}))?$/;

/**
 * Reads an amount written in major units, as people and `formatMoney` write it:
 * `"12.34"` AUD → 1234, `"500"` JPY → 500, `"1.230"` KWD → 1230, `"-0.50"` → -50,
 * `"12.3"` → 1230. Surrounding spaces are ignored, and a trailing currency code
 * (`"12.34 AUD"`, any case) is accepted when it is `currency`, so
 * `parseMoney(formatMoney(m), m.currency)` gives back `m`.
 *
 * Fails with `invalid_amount` (not a plain decimal: `"12,34"`, `"1e3"`, `".5"`, `""`,
 * or longer than {@link MONEY_TEXT_MAX_CHARS}), `too_many_decimals` (`"12.345"` AUD,
 * `"5.0"` JPY), `amount_out_of_range` (minor units beyond the safe integer range),
 * `unknown_currency` or `currency_mismatch` (a trailing code that is not `currency`).
 * Stripe's charge limits are a separate check: `checkChargeAmount`.
 */
export function parseMoney<C extends CurrencyCode>(major: string, currency: C): Result<Money<C>, MoneyError> {
  if (textLength(major) > MONEY_TEXT_MAX_CHARS) return err(invalidAmount(major));
  const match = MONEY_TEXT.exec(major.trim());
  if (match === null) return err(invalidAmount(major));
  const [, sign = "", integerDigits = "", fractionDigits = "", codeText] = match;

  if (codeText !== undefined) {
    const code = parseCurrencyCode(codeText);
    if (code.isErr()) return err(code.error);
    if (code.value !== currency) return err(currencyMismatch(currency, code.value));
  }

  const { exponent } = currencyInfo(currency);
  if (fractionDigits.length > exponent) return err(tooManyDecimals(currency, exponent));

  const minorDigits = `${integerDigits}${fractionDigits.padEnd(exponent, "0")}`.replace(/^0+(?=\d)/, "");
  // 16 digits already exceed 2^53 - 1 for most values; the safe-integer check decides the rest.
  if (minorDigits.length > 16) return err(amountOutOfRange(currency));
  const magnitudeMinor = Number(minorDigits);
  if (!Number.isSafeInteger(magnitudeMinor)) return err(amountOutOfRange(currency));
  return ok(money(sign === "-" ? -magnitudeMinor : magnitudeMinor, currency));
}
