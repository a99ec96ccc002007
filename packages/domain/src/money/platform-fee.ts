// The platform's fee on a payment, the one rule the held payment and the marketplace charge
// share: a rate in basis points or a fixed amount, raised to the currency's minimum, in
// steps of the currency's amount step.
import { err, ok, type Result } from "neverthrow";
import { allocateInSteps } from "./allocate.js";
import { currencyInfo } from "./currency.js";
import type { CurrencyCode } from "./currency-code.js";

/** Basis points in a whole: 10 000 bps = 100 %. */
export const BASIS_POINTS_WHOLE = 10_000;

/**
 * The platform's fee on a payment: a rate in basis points of the amount (250 = 2.5 %) or
 * a fixed amount in minor units. Either is raised to the currency's fee minimum.
 */
export type PlatformFee =
  | { readonly kind: "rate"; readonly basisPoints: number }
  | { readonly kind: "fixed"; readonly amountMinor: number };

/**
 * The platform's fee on `amountMinor` (a valid charge: a multiple of the currency's step):
 * a rate is applied with `allocate` (largest remainder) in steps of the currency's amount
 * step, so the fee and the rest add up to the amount and in three-decimal currencies both
 * end in 0 as Stripe requires; a fixed fee is taken as it is. Either is then raised to
 * `minimumMinor` (rounded up to a step). Fails, saying why, when the fee is malformed or
 * leaves less than one step to each of `payees` (the sellers it is shared among).
 * Callers refuse with their own `invalid_fee`.
 */
export function platformFeeMinor(
  amountMinor: number,
  currency: CurrencyCode,
  fee: PlatformFee,
  minimumMinor = 0,
  payees = 1,
): Result<number, string> {
  const step = currencyInfo(currency).amountStepMinor;
  let feeMinor: number;
  if (fee.kind === "rate") {
    const bps = fee.basisPoints;
    if (!Number.isSafeInteger(bps) || bps < 0 || bps >= BASIS_POINTS_WHOLE)
      return err("a fee rate is a whole number of basis points in [0, 10000)");
    [feeMinor = 0] = allocateInSteps(amountMinor, [bps, BASIS_POINTS_WHOLE - bps], currency);
  } else {
    feeMinor = fee.amountMinor;
    if (!Number.isSafeInteger(feeMinor) || feeMinor < 0 || feeMinor % step !== 0)
      return err(`a fixed fee is a whole number of minor units ≥ 0, a multiple of ${step} in ${currency}`);
  }
  feeMinor = Math.max(feeMinor, Math.ceil(minimumMinor / step) * step);
  const leftMinor = amountMinor - feeMinor;
  if (leftMinor < payees * step)
    return err(
      payees === 1
        ? `a fee of ${feeMinor} ${currency} leaves the seller nothing of ${amountMinor}`
        : `a fee of ${feeMinor} ${currency} leaves ${leftMinor} of ${amountMinor} for ${payees} seller(s)`,
    );
  return ok(feeMinor);
}
