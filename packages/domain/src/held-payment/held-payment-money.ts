import { ok, type Result } from "neverthrow";
import { allocate, type CurrencyCode, money, type PlatformFee, platformFeeMinor } from "../money/index.js";
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
