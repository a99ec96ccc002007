import { type CodedError, type CodedErrorConstructor, codedErrorConstructor } from "../kernel/coded-error.js";

/** Every code a refused held-payment command can carry. */
export const HELD_PAYMENT_ERROR_CODES = [
  /** The amount is not a valid charge in its currency (minimum, digits, step). */
  "invalid_amount",
  /** The currency is not one susu knows. */
  "unsupported_currency",
  /** The platform does not settle in the currency, so the seller could not be paid from the charge. */
  "currency_not_settled",
  /** The fee is malformed, or leaves the seller nothing. */
  "invalid_fee",
  /** The dispute window is not a positive duration within the policy's maximum. */
  "invalid_dispute_window",
  /** Another field of a new payment is missing or too long. */
  "invalid_held_payment",
  /** The command needs the customer's money, which has not been captured. */
  "payment_not_captured",
  /** The payment was refunded or taken back in full (or is being refunded in full). */
  "payment_ended",
  /** The client app already said whether it fulfilled the booking. */
  "fulfilment_already_reported",
  /** An admin hold applies only while the funds wait on the platform. */
  "not_holdable",
  "already_on_hold",
  /** Nothing to release: no admin hold, and no blocked release. */
  "not_on_hold",
  /** The seller's transfer is in flight; wait for its outcome. */
  "release_in_flight",
  /**
   * A release transfer landed late and could not be booked (the books had moved on since it was
   * asked), and no other attempt paid the seller: another transfer could pay them twice. A
   * person reconciles it (its `unexpected_money` ticket); the release is blocked until then.
   */
  "transfer_landed_late",
  /** A refund is unfinished (in flight, or failed and waiting for an admin's retry). */
  "refund_in_flight",
  /** The charge is disputed: Stripe does not refund it, and nothing is released. */
  "payment_disputed",
  /**
   * A dispute of the charge was lost (it was charged back, whatever amount it took): Stripe
   * refuses every refund of it (its error `charge_disputed`; the dispute's
   * `is_charge_refundable` is false once closed).
   */
  "charge_disputed",
  /** A refund of nothing, of more than is left, or not a multiple of the currency's step. */
  "invalid_refund_amount",
  /** Everything was refunded or taken back already. */
  "nothing_to_refund",
  /** `retry_refund` with no failed refund. */
  "no_failed_refund",
  /** `retry_reversal` with no failed reversal of a lost dispute's seller part. */
  "no_failed_reversal",
  /** The seller's account cannot receive transfers, as last reported. */
  "seller_cannot_receive",
  /** The seller named in a new payment is not a person susu knows. */
  "seller_not_found",
  /** The seller has no connected account to be paid into (they have not started payout onboarding). */
  "seller_not_onboarded",
  /** The caller used this client reference for a payment with other terms. */
  "client_reference_reused",
] as const;

/**
 * The codes the use cases refuse with before anything is decided (they need the stores:
 * who the seller is, what the caller asked for before); `decideHeldPayment` never does.
 */
export const HELD_PAYMENT_USE_CASE_ERROR_CODES = [
  "seller_not_found",
  "seller_not_onboarded",
  "client_reference_reused",
] as const satisfies readonly HeldPaymentErrorCode[];

/** One of {@link HELD_PAYMENT_ERROR_CODES}. */
export type HeldPaymentErrorCode = (typeof HELD_PAYMENT_ERROR_CODES)[number];

/** Why a command on a held payment was refused: a union tagged by `type`, equal to its stable `code`. */
export type HeldPaymentError = CodedError<HeldPaymentErrorCode>;

/** Builds a {@link HeldPaymentError} of the given type. */
export const heldPaymentError: CodedErrorConstructor<HeldPaymentErrorCode> = codedErrorConstructor();
