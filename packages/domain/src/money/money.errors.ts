import { clipText, textLength } from "../kernel/text.js";
import type { CurrencyCode } from "./currency-code.js";

/** Two amounts in different currencies met in one operation. */
export interface CurrencyMismatchError {
  readonly type: "currency_mismatch";
  readonly code: "currency_mismatch";
  readonly message: string;
  readonly expected: CurrencyCode;
  readonly actual: CurrencyCode;
}

/** A currency code that is not in susu's currency table. */
export interface UnknownCurrencyError {
  readonly type: "unknown_currency";
  readonly code: "unknown_currency";
  readonly message: string;
  /** The offending input, cut to 64 characters. */
  readonly input: string;
}

/** Text that is not a decimal amount (`"12,34"`, `"abc"`, `"1e3"`, `""`). */
export interface InvalidAmountError {
  readonly type: "invalid_amount";
  readonly code: "invalid_amount";
  readonly message: string;
  /** The offending input, cut to 64 characters. */
  readonly input: string;
}

/** A decimal amount with more decimals than the currency has (`"12.345"` AUD, `"5.0"` JPY). */
export interface TooManyDecimalsError {
  readonly type: "too_many_decimals";
  readonly code: "too_many_decimals";
  readonly message: string;
  readonly currency: CurrencyCode;
  /** Decimals the currency allows. */
  readonly exponent: 0 | 2 | 3;
}

/** A parsed amount whose minor units are not a safe integer. */
export interface AmountOutOfRangeError {
  readonly type: "amount_out_of_range";
  readonly code: "amount_out_of_range";
  readonly message: string;
  readonly currency: CurrencyCode;
}

/** The result of an arithmetic operation would not be a safe integer. */
export interface OverflowError {
  readonly type: "overflow";
  readonly code: "overflow";
  readonly message: string;
  /** The operation that overflowed, e.g. `"add"`. */
  readonly operation: string;
}

/** Ratios for `allocate` that are empty, negative, not integers, all zero or too many. */
export interface InvalidRatiosError {
  readonly type: "invalid_ratios";
  readonly code: "invalid_ratios";
  readonly message: string;
}

/** A charge below Stripe's minimum for the currency. */
export interface AmountBelowMinimumError {
  readonly type: "amount_below_minimum";
  readonly code: "amount_below_minimum";
  readonly message: string;
  readonly currency: CurrencyCode;
  readonly amountMinor: number;
  readonly minimumMinor: number;
}

/** A charge with more digits than Stripe accepts for the currency. */
export interface AmountTooLargeError {
  readonly type: "amount_too_large";
  readonly code: "amount_too_large";
  readonly message: string;
  readonly currency: CurrencyCode;
  readonly amountMinor: number;
  readonly maximumMinor: number;
}

/** A charge that is not a multiple of the currency's step (three-decimal amounts must end in 0). */
export interface AmountInvalidStepError {
  readonly type: "amount_invalid_step";
  readonly code: "amount_invalid_step";
  readonly message: string;
  readonly currency: CurrencyCode;
  readonly amountMinor: number;
  readonly stepMinor: number;
}

/** Every expected failure of the money module, tagged by `type` (equal to its stable `code`). */
export type MoneyError =
  | CurrencyMismatchError
  | UnknownCurrencyError
  | InvalidAmountError
  | TooManyDecimalsError
  | AmountOutOfRangeError
  | OverflowError
  | InvalidRatiosError
  | AmountBelowMinimumError
  | AmountTooLargeError
  | AmountInvalidStepError;

/** The stable codes of {@link MoneyError}. */
export type MoneyErrorCode = MoneyError["code"];

const INPUT_ECHO_MAX_CHARS = 64;

function echo(input: string): string {
  return textLength(input) > INPUT_ECHO_MAX_CHARS ? `${clipText(input, INPUT_ECHO_MAX_CHARS)}…` : input;
}

/** Builds a {@link CurrencyMismatchError}. */
export function currencyMismatch(expected: CurrencyCode, actual: CurrencyCode): CurrencyMismatchError {
  return {
    type: "currency_mismatch",
    code: "currency_mismatch",
    message: `expected ${expected}, got ${actual}`,
    expected,
    actual,
  };
}

/** Builds an {@link UnknownCurrencyError}. */
export function unknownCurrency(input: string): UnknownCurrencyError {
  const shown = echo(input);
  return {
    type: "unknown_currency",
    code: "unknown_currency",
    message: `unknown currency ${JSON.stringify(shown)}`,
    input: shown,
  };
}

/** Builds an {@link InvalidAmountError}. */
export function invalidAmount(input: string): InvalidAmountError {
  const shown = echo(input);
  return {
    type: "invalid_amount",
    code: "invalid_amount",
    message: `not a decimal amount: ${JSON.stringify(shown)}`,
    input: shown,
  };
}

/** Builds a {@link TooManyDecimalsError}. */
export function tooManyDecimals(currency: CurrencyCode, exponent: 0 | 2 | 3): TooManyDecimalsError {
  return {
    type: "too_many_decimals",
    code: "too_many_decimals",
    message: `${currency} amounts have at most ${exponent} decimals`,
    currency,
    exponent,
  };
}

/** Builds an {@link AmountOutOfRangeError}. */
export function amountOutOfRange(currency: CurrencyCode): AmountOutOfRangeError {
  return {
    type: "amount_out_of_range",
    code: "amount_out_of_range",
    message: `${currency} amount is out of the safe integer range in minor units`,
    currency,
  };
}

/** Builds an {@link OverflowError}. */
export function overflow(operation: string): OverflowError {
  return {
    type: "overflow",
    code: "overflow",
    message: `${operation} would leave the safe integer range`,
    operation,
  };
}

/** Builds an {@link InvalidRatiosError}. */
export function invalidRatios(reason: string): InvalidRatiosError {
  return { type: "invalid_ratios", code: "invalid_ratios", message: `invalid ratios: ${reason}` };
}

/** Builds an {@link AmountBelowMinimumError}. */
export function amountBelowMinimum(
  currency: CurrencyCode,
  amountMinor: number,
  minimumMinor: number,
): AmountBelowMinimumError {
  return {
    type: "amount_below_minimum",
    code: "amount_below_minimum",
    message: `${amountMinor} is below Stripe's minimum charge of ${minimumMinor} (minor units of ${currency})`,
    currency,
    amountMinor,
    minimumMinor,
  };
}

/** Builds an {@link AmountTooLargeError}. */
export function amountTooLarge(
  currency: CurrencyCode,
  amountMinor: number,
  maximumMinor: number,
): AmountTooLargeError {
  return {
    type: "amount_too_large",
    code: "amount_too_large",
    message: `${amountMinor} is above Stripe's maximum charge of ${maximumMinor} (minor units of ${currency})`,
    currency,
    amountMinor,
    maximumMinor,
  };
}

/** Builds an {@link AmountInvalidStepError}. */
export function amountInvalidStep(
  currency: CurrencyCode,
  amountMinor: number,
  stepMinor: number,
): AmountInvalidStepError {
  return {
    type: "amount_invalid_step",
    code: "amount_invalid_step",
    message: `${currency} charge amounts must be a multiple of ${stepMinor} minor units, got ${amountMinor}`,
    currency,
    amountMinor,
    stepMinor,
  };
}
