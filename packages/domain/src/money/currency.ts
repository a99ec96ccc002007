import { err, ok, type Result } from "neverthrow";
import type { CurrencyCode } from "./currency-code.js";
import { type MoneyError, unknownCurrency } from "./money.errors.js";

/**
 * Where a currency's minimum charge comes from: `"stripe"` when it is in the table of
 * Stripe's "Supported currencies" page; `"estimate"` when Stripe only says "the
 * equivalent of 0.50 USD" for it, and the figure here is a rounded estimate that the
 * Stripe adapter should treat as advisory (Stripe's `amount_too_small` is the backstop).
 */
export type MinimumChargeSource = "stripe" | "estimate";

/** What susu knows about one currency and Stripe's rules for it. */
export interface CurrencyInfo {
  /** The ISO 4217 code. */
  readonly code: CurrencyCode;
  /** Decimal places of the minor unit: 0 (JPY: 500 = ¥500), 2 (AUD: 1234 = 12.34), 3 (KWD: 1230 = 1.230). */
  readonly exponent: 0 | 2 | 3;
  /** Smallest amount Stripe accepts for a charge, in minor units. */
  readonly minimumChargeMinor: number;
  /** Where {@link CurrencyInfo.minimumChargeMinor} comes from. */
  readonly minimumChargeSource: MinimumChargeSource;
  /** Most digits a charge amount may have in minor units (8 for most currencies: 99999999). */
  readonly maxAmountDigits: number;
  /**
   * Charge amounts must be a multiple of this, in minor units: 10 for three-decimal
   * currencies (Stripe requires the last digit to be 0), 1 otherwise.
   */
  readonly amountStepMinor: number;
  /**
   * Manual payouts must be a multiple of this, in minor units: 100 for HUF (Stripe treats
   * HUF as zero-decimal for payouts, though charges may carry fillér), 1 otherwise.
   */
  readonly payoutStepMinor: number;
}

/** Currencies whose manual payouts Stripe takes only in whole major units (its "special cases"). */
const WHOLE_UNIT_PAYOUT_CODES: ReadonlySet<string> = new Set(["HUF"]);

type CurrencyRow = readonly [
  code: CurrencyCode,
  exponent: 0 | 2 | 3,
  minimumChargeMinor: number,
  source: MinimumChargeSource,
];

// Minimums marked "stripe" are from Stripe's table of minimum charge amounts; the
// others are Stripe's "equivalent of 0.50 USD" converted at rough 2026 rates and rounded
// up (to a multiple of 10 for three-decimal currencies, which Stripe requires).
const CURRENCY_ROWS: readonly CurrencyRow[] = [
  ["AED", 2, 200, "stripe"],
  ["AUD", 2, 50, "stripe"],
  ["BGN", 2, 100, "stripe"],
  ["BHD", 3, 190, "estimate"],
  ["BRL", 2, 50, "stripe"],
  ["CAD", 2, 50, "stripe"],
  ["CHF", 2, 50, "stripe"],
  ["CLP", 0, 500, "estimate"],
  ["CZK", 2, 1500, "stripe"],
  ["DKK", 2, 250, "stripe"],
  ["EUR", 2, 50, "stripe"],
  ["GBP", 2, 30, "stripe"],
  ["HKD", 2, 400, "stripe"],
  ["HUF", 2, 17500, "stripe"],
  ["IDR", 2, 800000, "estimate"],
  ["INR", 2, 50, "stripe"],
  ["JOD", 3, 360, "estimate"],
  ["JPY", 0, 50, "stripe"],
  ["KRW", 0, 700, "estimate"],
  ["KWD", 3, 160, "estimate"],
  ["MXN", 2, 1000, "stripe"],
  ["MYR", 2, 200, "stripe"],
  ["NOK", 2, 300, "stripe"],
  ["NZD", 2, 50, "stripe"],
  ["OMR", 3, 200, "estimate"],
  ["PLN", 2, 200, "stripe"],
  ["PYG", 0, 4000, "estimate"],
  ["RON", 2, 200, "stripe"],
  ["SEK", 2, 300, "stripe"],
  ["SGD", 2, 50, "stripe"],
  ["THB", 2, 1000, "stripe"],
  ["TND", 3, 1550, "estimate"],
  ["USD", 2, 50, "stripe"],
  ["VND", 0, 13000, "estimate"],
];

// Stripe: amounts have at most 8 digits, except IDR with 12.
const MAX_AMOUNT_DIGITS_DEFAULT = 8;
const MAX_AMOUNT_DIGITS_BY_CODE: Partial<Record<CurrencyCode, number>> = { IDR: 12 };

const CURRENCY_TABLE: ReadonlyMap<CurrencyCode, CurrencyInfo> = new Map(
  CURRENCY_ROWS.map(([code, exponent, minimumChargeMinor, minimumChargeSource]) => [
    code,
    Object.freeze({
      code,
      exponent,
      minimumChargeMinor,
      minimumChargeSource,
      maxAmountDigits: MAX_AMOUNT_DIGITS_BY_CODE[code] ?? MAX_AMOUNT_DIGITS_DEFAULT,
      amountStepMinor: exponent === 3 ? 10 : 1,
      payoutStepMinor: WHOLE_UNIT_PAYOUT_CODES.has(code) ? 10 ** exponent : 1,
    }),
  ]),
);

/** Every supported currency code, in alphabetical order. */
export const CURRENCY_CODES: readonly CurrencyCode[] = Object.freeze(CURRENCY_ROWS.map(([code]) => code));

/**
 * The table entry for a currency. Total over {@link CurrencyCode}: a code that is not in
 * the table is a bug (the type says it cannot happen), so it throws.
 */
export function currencyInfo(code: CurrencyCode): CurrencyInfo {
  const info = CURRENCY_TABLE.get(code);
  if (info === undefined) {
    throw new RangeError(`currencyInfo: ${String(code)} is not a supported currency code`);
  }
  return info;
}

/** Whether a string is exactly (case-sensitive, upper case) a supported currency code. */
export function isCurrencyCode(input: string): input is CurrencyCode {
  return CURRENCY_TABLE.has(input as CurrencyCode);
}

/**
 * Reads a currency code from untrusted text: trims, ignores case (`" aud "` → `"AUD"`).
 * Fails with `unknown_currency` for anything not in the table.
 */
export function parseCurrencyCode(input: string): Result<CurrencyCode, MoneyError> {
  const candidate = input.trim().toUpperCase();
  return isCurrencyCode(candidate) ? ok(candidate) : err(unknownCurrency(input));
}
