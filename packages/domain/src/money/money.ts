import { err, ok, type Result } from "neverthrow";
import { isCurrencyCode } from "./currency.js";
import type { CurrencyCode } from "./currency-code.js";
import { currencyMismatch, type MoneyError, overflow } from "./money.errors.js";

// Why a checked `number` and not `bigint`: Stripe amounts have at most 12 digits
// (8 for almost every currency), far inside Number.MAX_SAFE_INTEGER (9.007e15); numbers
// cross JSON, PostgreSQL `bigint` columns (through Prisma), and the Stripe SDK as they
// are, where bigint needs a conversion at every edge and cannot be JSON.stringify'd.
// The price is discipline, paid here: every constructor and every operation asserts that
// its result is still a safe integer, so precision can never be lost silently.

/**
 * An amount of money: an integer count of the currency's minor unit (cents for AUD,
 * yen for JPY, fils for KWD) and the currency. The type parameter lets code that knows
 * its currency statically refuse, at compile time, to mix it with another.
 */
export interface Money<C extends CurrencyCode = CurrencyCode> {
  /** The amount in minor units; always a safe integer, may be negative, never `-0`. */
  readonly amountMinor: number;
  /** The currency of the amount. */
  readonly currency: C;
}

/**
 * Makes an amount from minor units. `amountMinor` must be a safe integer and `currency`
 * a code in the table: anything else (1.5, NaN, 2^53, "XXX") is a bug in the caller, so
 * it throws a `RangeError`; parse untrusted text with `parseMoney` and
 * `parseCurrencyCode` instead.
 */
export function money<C extends CurrencyCode>(amountMinor: number, currency: C): Money<C> {
  if (!Number.isSafeInteger(amountMinor)) {
    throw new RangeError(`money: amountMinor must be a safe integer, got ${String(amountMinor)}`);
  }
  if (!isCurrencyCode(currency)) {
    throw new RangeError(`money: ${String(currency)} is not a supported currency code`);
  }
  // `+ 0` turns -0 into 0, so equal amounts are equal under Object.is and toEqual.
  return Object.freeze({ amountMinor: amountMinor + 0, currency });
}

/** Zero in a currency. */
export function zero<C extends CurrencyCode>(currency: C): Money<C> {
  return money(0, currency);
}

/**
 * Asserts that a value typed as Money really is one (a safe integer amount). Money
 * built by object literal or read from storage without `money()` could break this; that
 * is a bug, so it throws.
 */
export function assertMoney(m: Money): void {
  if (!Number.isSafeInteger(m.amountMinor)) {
    throw new RangeError(`Money.amountMinor must be a safe integer, got ${String(m.amountMinor)}`);
  }
}

function checked<C extends CurrencyCode>(
  amountMinor: number,
  currency: C,
  operation: string,
): Result<Money<C>, MoneyError> {
  return Number.isSafeInteger(amountMinor) ? ok(money(amountMinor, currency)) : err(overflow(operation));
}

/**
 * `a + b`. Fails with `currency_mismatch` when the currencies differ (which the types
 * already refuse when both currencies are known statically) and `overflow` when the
 * result is not a safe integer.
 */
export function add<C extends CurrencyCode>(a: Money<C>, b: Money<NoInfer<C>>): Result<Money<C>, MoneyError> {
  assertMoney(a);
  assertMoney(b);
  if (a.currency !== b.currency) return err(currencyMismatch(a.currency, b.currency));
  return checked(a.amountMinor + b.amountMinor, a.currency, "add");
}

/** `a - b`. Fails like {@link add}. */
export function subtract<C extends CurrencyCode>(
  a: Money<C>,
  b: Money<NoInfer<C>>,
): Result<Money<C>, MoneyError> {
  assertMoney(a);
  assertMoney(b);
  if (a.currency !== b.currency) return err(currencyMismatch(a.currency, b.currency));
  return checked(a.amountMinor - b.amountMinor, a.currency, "subtract");
}

/**
 * The sum of `items`, all in `currency` (the currency is given so an empty list has a
 * sum: zero). Fails with `currency_mismatch` on the first item in another currency and
 * with `overflow` when a partial sum leaves the safe integer range.
 */
export function sum<C extends CurrencyCode>(
  items: readonly Money<NoInfer<C>>[],
  currency: C,
): Result<Money<C>, MoneyError> {
  let totalMinor = 0;
  for (const item of items) {
    assertMoney(item);
    if (item.currency !== currency) return err(currencyMismatch(currency, item.currency));
    totalMinor += item.amountMinor;
    if (!Number.isSafeInteger(totalMinor)) return err(overflow("sum"));
  }
  return ok(money(totalMinor, currency));
}

/**
 * `a × factor` for an integer `factor` (a count: members, cycles). A factor that is not
 * a safe integer is a bug and throws a `RangeError`: to take a fraction of an amount,
 * use `allocate`, which says where the remainder goes. Fails with `overflow`.
 */
export function multiply<C extends CurrencyCode>(a: Money<C>, factor: number): Result<Money<C>, MoneyError> {
  if (!Number.isSafeInteger(factor)) {
    throw new RangeError(`multiply: factor must be a safe integer, got ${String(factor)}`);
  }
  assertMoney(a);
  return checked(a.amountMinor * factor, a.currency, "multiply");
}

/** `-m`. Never overflows: the safe integer range is symmetric. */
export function negate<C extends CurrencyCode>(m: Money<C>): Money<C> {
  return money(-m.amountMinor, m.currency);
}

/**
 * Orders two amounts of the same currency: -1 when `a < b`, 0 when equal, 1 when
 * `a > b`. Fails with `currency_mismatch`: amounts in different currencies have no order.
 */
export function compare(a: Money, b: Money): Result<-1 | 0 | 1, MoneyError> {
  assertMoney(a);
  assertMoney(b);
  if (a.currency !== b.currency) return err(currencyMismatch(a.currency, b.currency));
  if (a.amountMinor === b.amountMinor) return ok(0);
  return ok(a.amountMinor < b.amountMinor ? -1 : 1);
}

/** Whether two amounts have the same currency and the same amount (different currencies: false). */
export function equals(a: Money, b: Money): boolean {
  return a.currency === b.currency && a.amountMinor === b.amountMinor;
}

/** Whether the amount is zero. */
export function isZero(m: Money): boolean {
  return m.amountMinor === 0;
}

/** Whether the amount is greater than zero. */
export function isPositive(m: Money): boolean {
  return m.amountMinor > 0;
}

/** Whether the amount is less than zero. */
export function isNegative(m: Money): boolean {
  return m.amountMinor < 0;
}
