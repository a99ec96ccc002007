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

/**
 * How an amount given back to the customer divides: out of the seller's share, out of the
 * fee, and what the platform pays itself (only a part of a currency's step neither can give:
 * a loss off the step when the fee has nothing left of it).
 */
export interface TakeBackSplit {
  readonly sellerPartMinor: number;
  readonly feePartMinor: number;
  readonly platformFundedMinor: number;
}

/** The seller's and the fee's parts of everything given back before. */
export interface TakenBack {
  readonly sellerPartMinor: number;
  readonly feePartMinor: number;
}

/**
 * The seller's part of everything given back so far, when `givenBackMinor` of the
 * payment has been given back: the whole steps given back (three-decimal currencies move in
 * tens, as the refund itself and the reversal of the seller's part must) in the proportion
 * of the original split (`allocate(steps, [sellerShare, fee])`'s first share), rounded to the
 * nearest step. A part of a step given back (never from a refund, which is in steps; perhaps
 * from a dispute) is not the seller's. It never decreases as more is given back, and all of
 * it is the whole share (the share and the fee are whole steps).
 */
function sellerPartOf(split: FeeSplit, currency: CurrencyCode, givenBackMinor: number): number {
  const step = currencyInfo(currency).amountStepMinor;
  const stepsGivenBack = Math.floor(givenBackMinor / step);
  if (stepsGivenBack === 0) return 0;
  if (split.feeMinor === 0) return stepsGivenBack * step;
  const shares = allocate(money(stepsGivenBack, currency), [split.sellerShareMinor, split.feeMinor]);
  // The ratios are positive safe integers: allocate cannot refuse them.
  return (shares._unsafeUnwrap()[0]?.amountMinor ?? 0) * step;
}

/**
 * Splits one amount given back to the customer (a refund or a lost dispute), after
 * `givenBackBeforeMinor` was given back already, between the seller's share and the
 * platform fee, in proportion to the original split. The seller's part is computed on the
 * running total (the part of everything given back so far, minus what the seller gave back
 * before), so any sequence of partial refunds adds up to exactly the same as one refund of
 * their sum: refunding the whole payment in pieces gives back the whole seller share and the
 * whole fee, no minor unit more or less. Both parts of an amount in steps are whole steps, as
 * a marketplace charge's are (`allocateInSteps`).
 *
 * The seller gives back whole steps only (by transfer reversals, or less transferred), never
 * more than the amount nor than they have left. A part of a step (a dispute's amount need
 * not be in steps) is the fee's while the fee has it; when the fee cannot take the rest, a
 * step more comes from the seller if they have it, and what neither can give the platform
 * pays (`platformFundedMinor`), as a marketplace charge's `takeBackParts` divides it.
 * `takenBefore` is what the seller and the fee actually gave back before (by default, the
 * parts the running total gives, as when everything before was in steps).
 */
export function takeBackSplit(
  split: FeeSplit,
  currency: CurrencyCode,
  givenBackBeforeMinor: number,
  amountMinor: number,
  takenBefore?: TakenBack,
): TakeBackSplit {
  const step = currencyInfo(currency).amountStepMinor;
  const sellerBefore = takenBefore?.sellerPartMinor ?? sellerPartOf(split, currency, givenBackBeforeMinor);
  const feeBefore = takenBefore?.feePartMinor ?? givenBackBeforeMinor - sellerBefore;
  const sellerLeftMinor = Math.max(0, split.sellerShareMinor - sellerBefore);
  const feeLeftMinor = Math.max(0, split.feeMinor - feeBefore);
  // The most the seller can give: whole steps, within the amount and what they have left.
  const sellerMostMinor = Math.min(
    amountMinor - (amountMinor % step),
    sellerLeftMinor - (sellerLeftMinor % step),
  );
  const proportional = sellerPartOf(split, currency, givenBackBeforeMinor + amountMinor) - sellerBefore;
  let sellerPartMinor = Math.min(Math.max(0, proportional), sellerMostMinor);
  // What the fee cannot take: whole steps more from the seller, as far as they go.
  const beyondFeeMinor = amountMinor - sellerPartMinor - feeLeftMinor;
  if (beyondFeeMinor > 0)
    sellerPartMinor = Math.min(sellerPartMinor + Math.ceil(beyondFeeMinor / step) * step, sellerMostMinor);
  const feePartMinor = Math.min(amountMinor - sellerPartMinor, feeLeftMinor);
  return { sellerPartMinor, feePartMinor, platformFundedMinor: amountMinor - sellerPartMinor - feePartMinor };
}
