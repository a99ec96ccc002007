import { type CodedError, type CodedErrorConstructor, codedErrorConstructor } from "../kernel/coded-error.js";

/** Every code a refused marketplace-charge command can carry. */
export const MARKETPLACE_CHARGE_ERROR_CODES = [
  /** The amount is not a valid charge in its currency (minimum, digits, step). */
  "invalid_amount",
  /** The currency is not one susu knows. */
  "unsupported_currency",
  /** A currency the platform does not settle in: the sellers' transfers could not be made in the charge's amounts. */
  "currency_not_settled",
  /** The fee is malformed, or leaves the sellers nothing. */
  "invalid_fee",
  /** The sellers or their weights are malformed, too many, or a seller's share would be nothing. */
  "invalid_split",
  /** Another field of a new charge is missing, too long or contradictory. */
  "invalid_marketplace_charge",
  /** The command needs the customer's money, which has not been captured. */
  "payment_not_captured",
  /** The charge was refunded or taken back in full, or its payment failed. */
  "charge_ended",
  /** Some seller's transfer has not landed yet (in flight, retrying or parked). */
  "transfers_pending",
  /** The charge is disputed: Stripe does not refund a disputed charge. */
  "payment_disputed",
  /**
   * A dispute of the charge was lost (it was charged back, whatever amount it took): Stripe
   * refuses every refund of it (its error `charge_disputed`; the dispute's
   * `is_charge_refundable` is false once closed).
   */
  "charge_disputed",
  /** A refund is unfinished (in flight, reversing, or failed and waiting for an admin's retry). */
  "refund_in_flight",
  /** Everything was refunded or taken back already. */
  "nothing_to_refund",
  /** A refund of nothing, of more than is left, or not a multiple of the currency's step. */
  "invalid_refund_amount",
  /** `retry_refund` with no failed refund. */
  "no_failed_refund",
  /** `retry_transfers` while no seller's transfer is parked. */
  "no_blocked_transfer",
  /** `retry_reversal` with no failed reversal. */
  "no_failed_reversal",
  // Refused by the use case, before the aggregate decides:
  /** The customer is not a person. */
  "customer_not_found",
  /**
   * The customer has no Stripe customer to charge a new card on (a saved card, which they
   * cannot have, is `payment_method_not_found`).
   */
  "customer_not_onboarded",
  /** A seller is not a person. */
  "seller_not_found",
  /** A seller has no connected account to be paid into. */
  "seller_not_onboarded",
  /** The caller's reference names a charge asked for with other terms. */
  "client_reference_reused",
] as const;

/** The codes the use case refuses with (it checks people and references), not the aggregate's `decide`. */
export const MARKETPLACE_CHARGE_USE_CASE_ERROR_CODES = [
  "customer_not_found",
  "customer_not_onboarded",
  "seller_not_found",
  "seller_not_onboarded",
  "client_reference_reused",
] as const satisfies readonly MarketplaceChargeErrorCode[];

/** One of {@link MARKETPLACE_CHARGE_ERROR_CODES}. */
export type MarketplaceChargeErrorCode = (typeof MARKETPLACE_CHARGE_ERROR_CODES)[number];

/** Why a command on a marketplace charge was refused: a union tagged by `type`, equal to its stable `code`. */
export type MarketplaceChargeError = CodedError<MarketplaceChargeErrorCode>;

/** Builds a {@link MarketplaceChargeError} of the given type. */
export const marketplaceChargeError: CodedErrorConstructor<MarketplaceChargeErrorCode> =
  codedErrorConstructor();
