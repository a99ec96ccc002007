/**
 * Money: integer amounts in a currency's minor unit, the currency table with Stripe's
 * rules, arithmetic that refuses mixed currencies and overflow, allocation with no lost
 * minor unit, parsing and formatting.
 *
 * @module
 */
export { ALLOCATE_SHARES_MAX, allocate, allocateEvenly, allocateInSteps } from "./allocate.js";
export { checkChargeAmount, maximumChargeMinor } from "./charge-amount.js";
export {
  CURRENCY_CODES,
  type CurrencyInfo,
  currencyInfo,
  isCurrencyCode,
  type MinimumChargeSource,
  parseCurrencyCode,
} from "./currency.js";
export type { CurrencyCode } from "./currency-code.js";
export { formatMoney } from "./format-money.js";
export {
  type AmountBelowMinimumError,
  type AmountInvalidStepError,
  type AmountOutOfRangeError,
  type AmountTooLargeError,
  amountBelowMinimum,
  amountInvalidStep,
  amountOutOfRange,
  amountTooLarge,
  type CurrencyMismatchError,
  currencyMismatch,
  type InvalidAmountError,
  type InvalidRatiosError,
  invalidAmount,
  invalidRatios,
  type MoneyError,
  type MoneyErrorCode,
  type OverflowError,
  overflow,
  type TooManyDecimalsError,
  tooManyDecimals,
  type UnknownCurrencyError,
  unknownCurrency,
} from "./money.errors.js";
export {
  add,
  assertMoney,
  compare,
  equals,
  isNegative,
  isPositive,
  isZero,
  type Money,
  money,
  multiply,
  negate,
  subtract,
  sum,
  zero,
} from "./money.js";
export { MONEY_TEXT_MAX_CHARS, parseMoney } from "./parse-money.js";
export { BASIS_POINTS_WHOLE, type PlatformFee, platformFeeMinor } from "./platform-fee.js";
