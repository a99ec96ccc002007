import { err, ok, type Result } from "neverthrow";
import { allocate, type CurrencyCode, currencyInfo, money } from "../money/index.js";
import { type HeldPaymentError, heldPaymentError } from "./held-payment.errors.js";

/** Basis points in a whole: 10 000 bps = 100 %. */
export const BASIS_POINTS_WHOLE = 10_000;

/**
 * The platform's fee on a held payment: a rate in basis points of the amount (250 = 2.5 %)
 * or a fixed amount in minor units. Either is raised to the currency's fee minimum.
 */
export type PlatformFee =
  | { readonly kind: "rate"; readonly basisPoints: number }
  | { readonly kind: "fixed"; readonly amountMinor: number };

/** How a payment's amount divides: the platform's fee and the seller's share, adding up to the amount. */
export interface FeeSplit {
  readonly feeMinor: number;
  readonly sellerShareMinor: number;
}

/**
 * Splits `amountMinor` into the platform fee and the seller's share, with no minor unit
 * lost: a rate is applied with `allocate` (largest remainder) in steps of the currency's
 * amount step, so in three-decimal currencies both parts end in 0 as Stripe requires; a
 * fixed fee is taken as it is. The fee is then raised to `minimumMinor` (rounded up to a
 * step). Fails with `invalid_fee` when the fee is malformed or leaves the seller nothing.
 * `amountMinor` must already be a valid charge (a multiple of the step).
 */
export function splitPlatformFee(
  amountMinor: number,
  currency: CurrencyCode,
  fee: PlatformFee,
  minimumMinor = 0,
): Result<FeeSplit, HeldPaymentError> {
  const step = currencyInfo(currency).amountStepMinor;
  let feeMinor: number;
  if (fee.kind === "rate") {
    const bps = fee.basisPoints;
    if (!Number.isSafeInteger(bps) || bps < 0 || bps >= BASIS_POINTS_WHOLE)
      return err(
        heldPaymentError("invalid_fee", "a fee rate is a whole number of basis points in [0, 10000)"),
      );
    const shares = allocate(money(amountMinor / step, currency), [bps, BASIS_POINTS_WHOLE - bps]);
    if (shares.isErr()) return err(heldPaymentError("invalid_fee", shares.error.message));
    feeMinor = (shares.value[0]?.amountMinor ?? 0) * step;
  } else {
    feeMinor = fee.amountMinor;
    if (!Number.isSafeInteger(feeMinor) || feeMinor < 0 || feeMinor % step !== 0)
      return err(
        heldPaymentError(
          "invalid_fee",
          `a fixed fee is a whole number of minor units ≥ 0, a multiple of ${step} in ${currency}`,
        ),
      );
  }
  const minimumInSteps = Math.ceil(minimumMinor / step) * step;
  feeMinor = Math.max(feeMinor, minimumInSteps);
  const sellerShareMinor = amountMinor - feeMinor;
  if (sellerShareMinor <= 0)
    return err(
      heldPaymentError(
        "invalid_fee",
        `a fee of ${feeMinor} ${currency} leaves the seller nothing of ${amountMinor}`,
      ),
    );
  return ok({ feeMinor, sellerShareMinor });
}

/** How much of an amount given back to the customer comes out of the seller's share, and how much out of the fee. */
export interface TakeBackSplit {
  readonly sellerPartMinor: number;
  readonly feePartMinor: number;
}

/**
 * The seller's part of everything given back so far, when `givenBackMinor` of the
 * payment has been given back: `allocate(givenBack, [sellerShare, fee])`'s first share —
 * the given-back amount in the proportion of the original split, rounded to the nearest
 * minor unit. It never decreases as more is given back, and all of it is the whole share.
 */
function sellerPartOf(split: FeeSplit, currency: CurrencyCode, givenBackMinor: number): number {
  if (givenBackMinor === 0 || split.feeMinor === 0) return givenBackMinor;
  const shares = allocate(money(givenBackMinor, currency), [split.sellerShareMinor, split.feeMinor]);
  // The ratios are positive safe integers: allocate cannot refuse them.
  return shares._unsafeUnwrap()[0]?.amountMinor ?? 0;
}

/**
 * Splits one amount given back to the customer (a refund or a lost dispute), after
 * `givenBackBeforeMinor` was given back already, between the seller's share and the
 * platform fee, in proportion to the original split. It is computed on the running total
 * (the parts of everything given back so far, minus those of what came before), so any
 * sequence of partial refunds adds up to exactly the same as one refund of their sum:
 * refunding the whole payment in pieces gives back the whole seller share and the whole
 * fee, no minor unit more or less.
 */
export function takeBackSplit(
  split: FeeSplit,
  currency: CurrencyCode,
  givenBackBeforeMinor: number,
  amountMinor: number,
): TakeBackSplit {
  const before = sellerPartOf(split, currency, givenBackBeforeMinor);
  const after = sellerPartOf(split, currency, givenBackBeforeMinor + amountMinor);
  const sellerPartMinor = after - before;
  return { sellerPartMinor, feePartMinor: amountMinor - sellerPartMinor };
}
