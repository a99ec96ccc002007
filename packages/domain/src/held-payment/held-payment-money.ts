import { ok, type Result } from "neverthrow";
import {
  allocate,
  type CurrencyCode,
  currencyInfo,
  money,
  type PlatformFee,
  platformFeeMinor,
} from "../money/index.js";
import { type HeldPaymentError, heldPaymentError } from "./held-payment.errors.js";

export { BASIS_POINTS_WHOLE, type PlatformFee } from "../money/index.js";

/** How a payment's amount divides: the platform's fee and the seller's share, adding up to the amount. */
export interface FeeSplit {
  readonly feeMinor: number;
  readonly sellerShareMinor: number;
}

/**
 * Splits `amountMinor` into the platform fee (`platformFeeMinor`: a rate or a fixed fee in
 * the currency's steps, raised to `minimumMinor`) and the seller's share, with no minor
 * unit lost. Fails with `invalid_fee` when the fee is malformed or leaves the seller
 * nothing. `amountMinor` must already be a valid charge (a multiple of the step).
 */
export function splitPlatformFee(
  amountMinor: number,
  currency: CurrencyCode,
  fee: PlatformFee,
  minimumMinor = 0,
): Result<FeeSplit, HeldPaymentError> {
  return platformFeeMinor(amountMinor, currency, fee, minimumMinor)
    .mapErr((why) => heldPaymentError("invalid_fee", why))
    .andThen((feeMinor) => ok({ feeMinor, sellerShareMinor: amountMinor - feeMinor }));
}

/** How much of an amount given back to the customer comes out of the seller's share, and how much out of the fee. */
export interface TakeBackSplit {
  readonly sellerPartMinor: number;
  readonly feePartMinor: number;
}

/**
 * The seller's part of everything given back so far, when `givenBackMinor` of the
 * payment has been given back: the given-back amount in the proportion of the original
 * split (`allocate(givenBack, [sellerShare, fee])`'s first share), in steps of the
 * currency's amount step (three-decimal currencies move in tens, as the refund itself and
 * the reversal of the seller's part must), rounded to the nearest step. A part of a step
 * given back (never from a refund, which is in steps; perhaps from a dispute) counts as
 * the fee's until it makes a whole step. It never decreases as more is given back, and all
 * of it is the whole share (the share and the fee are whole steps).
 */
function sellerPartOf(split: FeeSplit, currency: CurrencyCode, givenBackMinor: number): number {
  if (givenBackMinor === 0 || split.feeMinor === 0) return givenBackMinor;
  const step = currencyInfo(currency).amountStepMinor;
  const stepsGivenBack = Math.floor(givenBackMinor / step);
  if (stepsGivenBack === 0) return 0;
  const shares = allocate(money(stepsGivenBack, currency), [split.sellerShareMinor, split.feeMinor]);
  // The ratios are positive safe integers: allocate cannot refuse them.
  return (shares._unsafeUnwrap()[0]?.amountMinor ?? 0) * step;
}

/**
 * Splits one amount given back to the customer (a refund or a lost dispute), after
 * `givenBackBeforeMinor` was given back already, between the seller's share and the
 * platform fee, in proportion to the original split. It is computed on the running total
 * (the parts of everything given back so far, minus those of what came before), so any
 * sequence of partial refunds adds up to exactly the same as one refund of their sum:
 * refunding the whole payment in pieces gives back the whole seller share and the whole
 * fee, no minor unit more or less. Both parts of an amount in steps are whole steps, as a
 * marketplace charge's are (`allocateInSteps`).
 */
export function takeBackSplit(
  split: FeeSplit,
  currency: CurrencyCode,
  givenBackBeforeMinor: number,
  amountMinor: number,
): TakeBackSplit {
  const before = sellerPartOf(split, currency, givenBackBeforeMinor);
  const after = sellerPartOf(split, currency, givenBackBeforeMinor + amountMinor);
  // Never more than the amount itself (only possible for amounts off the step: a dispute's).
  const sellerPartMinor = Math.min(after - before, amountMinor);
  return { sellerPartMinor, feePartMinor: amountMinor - sellerPartMinor };
}
