// The money of a marketplace charge: the platform's fee, each seller's share and fee, and
// how money given back (a refund, a lost dispute) divides among the sellers, the fee and
// the platform. All integer minor units in steps of the currency's amount step (three-decimal
// currencies move in tens), split with `allocate`, so no minor unit is lost or invented. The fee itself is
// `platformFeeMinor` (money/platform-fee.ts), the rule the held payment uses too. The one
// figure not in steps is a destination charge's fee refund: Stripe computes it, in minor units.
import { err, ok, type Result } from "neverthrow";
import {
  allocate,
  allocateInSteps,
  BASIS_POINTS_WHOLE,
  type CurrencyCode,
  currencyInfo,
  money,
  type PlatformFee,
} from "../money/index.js";
import type { MarketplaceRefundRules } from "../policy/marketplace-policy.js";
import { type MarketplaceChargeError, marketplaceChargeError } from "./marketplace-charge.errors.js";

export { allocateInSteps, platformFeeMinor } from "../money/index.js";

/** 10 000 basis points = 100 % (`BASIS_POINTS_WHOLE`). */
export const MARKETPLACE_BASIS_POINTS = BASIS_POINTS_WHOLE;

/** The platform's fee on a charge: a rate in basis points (250 = 2.5 %) or a fixed amount, raised to the currency's minimum. */
export type MarketplaceFee = PlatformFee;

/** One seller's part of a charge: their share (what they are paid) and their part of the platform's fee. */
export interface SellerSplit {
  readonly shareMinor: number;
  readonly feeMinor: number;
}

/**
 * Divides a charge among its sellers by weight: the shares are `allocate(amount − fee,
 * weights)` and the fee parts `allocate(fee, weights)`, in steps, so the shares add up to
 * exactly the amount minus the fee and the fee parts to exactly the fee. Fails with
 * `invalid_split` when a weight is not a positive safe integer or a share would be zero.
 */
export function splitAmongSellers(
  amountMinor: number,
  feeMinor: number,
  currency: CurrencyCode,
  weights: readonly number[],
): Result<SellerSplit[], MarketplaceChargeError> {
  if (weights.length === 0) return err(marketplaceChargeError("invalid_split", "no sellers"));
  if (weights.some((w) => !Number.isSafeInteger(w) || w <= 0))
    return err(marketplaceChargeError("invalid_split", "every seller's weight is a positive whole number"));
  const shares = allocateInSteps(amountMinor - feeMinor, weights, currency);
  const fees = allocateInSteps(feeMinor, weights, currency);
  if (shares.some((s) => s <= 0))
    return err(
      marketplaceChargeError("invalid_split", "a seller's share would be nothing: the amount is too small"),
    );
  return ok(shares.map((shareMinor, i) => ({ shareMinor, feeMinor: fees[i] ?? 0 })));
}

/** How much of an amount given back is taken from each party. `sellerPartsMinor` follows the order of the sellers. */
export interface TakeBackParts {
  /** Reversed from each seller's transfer. */
  readonly sellerPartsMinor: readonly number[];
  /** Taken out of the platform's fee. */
  readonly feePartMinor: number;
  /** Paid from the platform's own money. */
  readonly platformFundedMinor: number;
}

/**
 * Divides `amountMinor` given back to the customer among what each party still holds of the
 * charge (`sellersLeftMinor`, `feeLeftMinor`), by the refund rules:
 *
 * - reverse and refund the fee: `allocate` over everyone's remainder;
 * - reverse, keep the fee: the sellers, by their remainders, up to all they still hold;
 *   the platform's own money covers the rest;
 * - do not reverse: the fee (if refunded) up to what is left of it, the platform the rest.
 *
 * Allocating each amount over what is *left* (not over the original shares) keeps every
 * part within its remainder, so any sequence of partial refunds never takes a seller below
 * zero, and once everything is given back each party has given back exactly all it held.
 * `amountMinor` must not exceed the sum of the remainders when the sellers are reversed.
 */
export function takeBackParts(
  amountMinor: number,
  sellersLeftMinor: readonly number[],
  feeLeftMinor: number,
  rules: MarketplaceRefundRules,
  currency: CurrencyCode,
): TakeBackParts {
  const sellersLeft = sellersLeftMinor.reduce((a, b) => a + b, 0);
  // Sellers give back by transfer reversals, in whole steps of the currency. A part of a step
  // (never from a refund, which is in steps; a dispute's amount need not be) is the fee's
  // while some of the fee is left to take back, else the platform's own money.
  const step = currencyInfo(currency).amountStepMinor;
  const subStepMinor = amountMinor % step;
  if (rules.reverseTransfer && rules.refundApplicationFee) {
    // The whole steps over what each holds in whole steps (the fee may hold a part of a step,
    // after such a loss): no part exceeds what its party holds.
    const feeStepsLeftMinor = feeLeftMinor - (feeLeftMinor % step);
    const parts = allocateInSteps(
      amountMinor - subStepMinor,
      [...sellersLeftMinor, feeStepsLeftMinor],
      currency,
    );
    let feeInStepsMinor = parts.pop() ?? 0;
    // The fee cannot take the part of a step on top of its whole steps: one of its steps goes
    // to the seller with the most room for it instead, so the platform pays only what neither
    // the fee nor the sellers hold.
    if (feeInStepsMinor + subStepMinor > feeLeftMinor && feeInStepsMinor >= step) {
      const room = parts.map((part, i) => (sellersLeftMinor[i] ?? 0) - part);
      const most = room.indexOf(Math.max(...room));
      if (most >= 0 && (room[most] ?? 0) >= step) {
        parts[most] = (parts[most] ?? 0) + step;
        feeInStepsMinor -= step;
      }
    }
    const feePartMinor = Math.min(feeInStepsMinor + subStepMinor, feeLeftMinor);
    return {
      sellerPartsMinor: parts,
      feePartMinor,
      platformFundedMinor: feeInStepsMinor + subStepMinor - feePartMinor,
    };
  }
  if (rules.reverseTransfer) {
    const fromSellers = Math.min(amountMinor - subStepMinor, sellersLeft);
    return {
      sellerPartsMinor: allocateInSteps(fromSellers, sellersLeftMinor, currency),
      feePartMinor: 0,
      platformFundedMinor: amountMinor - fromSellers,
    };
  }
  const feePartMinor = rules.refundApplicationFee ? Math.min(amountMinor, feeLeftMinor) : 0;
  return {
    sellerPartsMinor: sellersLeftMinor.map(() => 0),
    feePartMinor,
    platformFundedMinor: amountMinor - feePartMinor,
  };
}

/** How a destination charge's refund divides, as Stripe does it. */
export interface DestinationRefundParts {
  /** Reversed from the seller's transfer (Stripe `reverse_transfer`): the whole refund. */
  readonly reversalMinor: number;
  /**
   * The application fee Stripe is expected to give back to the seller with the refund
   * (`refund_application_fee`). A prediction: the figure Stripe reports (its
   * `application_fee_refund`) is the one the books keep.
   */
  readonly feeRefundMinor: number;
  /** Paid from the platform's own money: the whole refund when the transfer is not reversed. */
  readonly platformFundedMinor: number;
}

/** A destination charge as Stripe divides its refunds: its amount and fee, and what is left of each. */
export interface DestinationChargeAmounts {
  /** The charge's amount (the whole of it is transferred to the seller). */
  readonly chargeMinor: number;
  /** The application fee taken on it. */
  readonly feeMinor: number;
  /** The charge's amount not yet refunded. */
  readonly chargeLeftMinor: number;
  /** The fee not yet refunded (as Stripe reported it, where it did). */
  readonly feeLeftMinor: number;
}

/**
 * A destination charge transfers the whole amount to the seller and takes the fee back as
 * an application fee. Refunding `amountMinor` with `reverse_transfer` reverses that much of
 * the transfer (Stripe reverses "proportionally to the amount being refunded", and the
 * transfer is the whole charge). With `refund_application_fee` Stripe gives back "the full
 * application fee" on a full refund and otherwise "an amount proportional to the amount of
 * the charge refunded" (the refund's API reference): here `fee × refund / charge` over the
 * original amounts, rounded to the nearest minor unit (half up), never more than is left of
 * the fee, and the refund that completes the charge gives back all that is left. Stripe
 * does not document its rounding, nor the refund completing a charge refunded in pieces;
 * this is the emulator's rule, and the figure Stripe reports is what is booked
 * (`application_fee_refunded`), so a different rounding moves the books, not the balance.
 */
export function destinationRefundParts(
  amountMinor: number,
  charge: DestinationChargeAmounts,
  rules: MarketplaceRefundRules,
  currency: CurrencyCode,
): DestinationRefundParts {
  const reversalMinor = rules.reverseTransfer ? amountMinor : 0;
  const platformFundedMinor = amountMinor - reversalMinor;
  if (!rules.refundApplicationFee || charge.feeLeftMinor <= 0)
    return { reversalMinor, feeRefundMinor: 0, platformFundedMinor };
  if (amountMinor >= charge.chargeLeftMinor)
    return { reversalMinor, feeRefundMinor: charge.feeLeftMinor, platformFundedMinor };
  // allocate's first share of two is the exact share rounded to the nearest unit, ties to it.
  const [share] = allocate(money(amountMinor, currency), [
    charge.feeMinor,
    Math.max(0, charge.chargeMinor - charge.feeMinor),
  ])._unsafeUnwrap();
  const feeRefundMinor = Math.min(share?.amountMinor ?? 0, charge.feeLeftMinor);
  return { reversalMinor, feeRefundMinor, platformFundedMinor };
}
