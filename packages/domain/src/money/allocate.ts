import { err, ok, type Result } from "neverthrow";
import { currencyInfo } from "./currency.js";
import type { CurrencyCode } from "./currency-code.js";
import { invalidRatios, type MoneyError } from "./money.errors.js";
import { assertMoney, type Money, money } from "./money.js";

/** Most shares one `allocate` call may produce (a limit on everything: a typo must not allocate a billion shares). */
export const ALLOCATE_SHARES_MAX = 10_000;

/**
 * Splits `total` into one share per ratio, in proportion to the ratios, so that the
 * shares add up to exactly `total`: no minor unit is lost or invented.
 *
 * Method (largest remainder): every share first gets the floor of its exact share
 * `|total| × ratio / Σratios`; the minor units left over (fewer than the number of
 * shares) go one each to the shares with the largest fractional remainders, ties to the
 * earlier share. So every share lies between the floor and the ceiling of its exact
 * share, a zero ratio always gets zero, and the result depends only on the inputs.
 * A negative total is split as its absolute value and every share negated, so
 * `allocate(-t, r)` is `allocate(t, r)` negated.
 *
 * `ratios` must be non-negative safe integers, at least one positive, at most
 * {@link ALLOCATE_SHARES_MAX} of them; otherwise fails with `invalid_ratios` (ratios
 * can come from configuration, so this is an expected failure, not a bug).
 *
 * @example allocate(money(100, "AUD"), [1, 1, 1]) // ok([34, 33, 33] AUD)
 */
export function allocate<C extends CurrencyCode>(
  total: Money<C>,
  ratios: readonly number[],
): Result<Money<C>[], MoneyError> {
  assertMoney(total);
  if (ratios.length === 0) return err(invalidRatios("no ratios"));
  if (ratios.length > ALLOCATE_SHARES_MAX) {
    return err(invalidRatios(`${ratios.length} ratios, at most ${ALLOCATE_SHARES_MAX}`));
  }
  let ratioSum = 0n;
  for (const ratio of ratios) {
    if (!Number.isSafeInteger(ratio) || ratio < 0) {
      return err(invalidRatios(`${String(ratio)} is not a non-negative safe integer`));
    }
    ratioSum += BigInt(ratio);
  }
  if (ratioSum === 0n) return err(invalidRatios("every ratio is zero"));

  // bigint here only: |total| × ratio can exceed 2^53 even though every share cannot.
  const sign = total.amountMinor < 0 ? -1 : 1;
  const magnitude = BigInt(Math.abs(total.amountMinor));
  const sharesMinor: bigint[] = [];
  const remainders: bigint[] = [];
  let allocatedMinor = 0n;
  for (const ratio of ratios) {
    const scaled = magnitude * BigInt(ratio);
    const share = scaled / ratioSum;
    sharesMinor.push(share);
    remainders.push(scaled % ratioSum);
    allocatedMinor += share;
  }

  const leftoverMinor = Number(magnitude - allocatedMinor);
  if (leftoverMinor < 0 || leftoverMinor >= ratios.length) {
    throw new Error(`allocate: leftover ${leftoverMinor} outside [0, ${ratios.length})`);
  }
  const byRemainderDesc = ratios
    .map((_, index) => index)
    .sort((i, j) => {
      const ri = remainders[i]!;
      const rj = remainders[j]!;
      if (ri !== rj) return ri > rj ? -1 : 1;
      return i - j;
    });
  for (let k = 0; k < leftoverMinor; k += 1) {
    const index = byRemainderDesc[k]!;
    sharesMinor[index] = sharesMinor[index]! + 1n;
  }

  const shares = sharesMinor.map((share) => money(sign * Number(share), total.currency));
  return ok(shares);
}

/**
 * Splits `total` into `count` shares that differ by at most one minor unit, the larger
 * ones first: `allocate(total, [1, 1, …])`. Fails with `invalid_ratios` when `count`
 * is not an integer in [1, {@link ALLOCATE_SHARES_MAX}].
 */
export function allocateEvenly<C extends CurrencyCode>(
  total: Money<C>,
  count: number,
): Result<Money<C>[], MoneyError> {
  if (!Number.isSafeInteger(count) || count < 1 || count > ALLOCATE_SHARES_MAX) {
    return err(invalidRatios(`share count ${String(count)} is not in [1, ${ALLOCATE_SHARES_MAX}]`));
  }
  return allocate(total, new Array<number>(count).fill(1));
}

/**
 * Splits `totalMinor` in proportion to `ratios` in steps of the currency's amount step:
 * every part is a multiple of the step and the parts add up to exactly `totalMinor`
 * (itself a multiple of the step). All-zero ratios are allowed only for a zero total.
 */
export function allocateInSteps(
  totalMinor: number,
  ratios: readonly number[],
  currency: CurrencyCode,
): number[] {
  if (totalMinor === 0) return ratios.map(() => 0);
  const step = currencyInfo(currency).amountStepMinor;
  if (totalMinor % step !== 0) throw new Error(`allocateInSteps: ${totalMinor} is not a multiple of ${step}`);
  const shares = allocate(money(totalMinor / step, currency), ratios);
  // Callers pass non-negative safe integer ratios, some positive when there is money to split.
  if (shares.isErr()) throw new Error(`allocateInSteps: ${shares.error.message}`);
  return shares.value.map((m) => m.amountMinor * step);
}
