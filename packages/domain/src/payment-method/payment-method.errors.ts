import { type CodedError, type CodedErrorConstructor, codedErrorConstructor } from "../kernel/coded-error.js";

/** Every code a refused saved-payment-method command can carry. */
export const PAYMENT_METHOD_ERROR_CODES = [
  /** The person has no saved method with this id (never had, or removed it). */
  "payment_method_not_found",
  /**
   * The method is the debit a running round relies on (the person is a member of a group
   * with a round in progress): it cannot be removed without a replacement.
   */
  "payment_method_in_use",
  /** The replacement is not a saved BECS method of the person's with an active mandate. */
  "replacement_not_usable",
  /**
   * The card is the one the person's current membership is charged on, and they have no other
   * saved card to charge it on instead (none, or only expired ones): save another card first
   * (or cancel the membership).
   */
  "payment_method_bills_membership",
  /**
   * The card is past its expiry (the last day of its expiry month, UTC): it cannot be charged,
   * so it can neither start a membership nor become the default card a membership is charged
   * on. Save a card that can be charged.
   */
  "payment_method_expired",
] as const;

/** One of {@link PAYMENT_METHOD_ERROR_CODES}. */
export type PaymentMethodErrorCode = (typeof PAYMENT_METHOD_ERROR_CODES)[number];

/**
 * Why a saved-payment-method command was refused. `payment_method_in_use` names the group
 * whose round relies on the method (`groupId`).
 */
export type PaymentMethodError =
  | Exclude<CodedError<PaymentMethodErrorCode>, { type: "payment_method_in_use" }>
  | {
      readonly type: "payment_method_in_use";
      readonly code: "payment_method_in_use";
      readonly message: string;
      readonly groupId: string;
    };

const coded: CodedErrorConstructor<Exclude<PaymentMethodErrorCode, "payment_method_in_use">> =
  codedErrorConstructor();

/** Builds a {@link PaymentMethodError} other than `payment_method_in_use`. */
export const paymentMethodError = coded;

/** The method is the debit of a running round of `groupId`. */
export function paymentMethodInUse(paymentMethodId: string, groupId: string): PaymentMethodError {
  return {
    type: "payment_method_in_use",
    code: "payment_method_in_use",
    message: `payment method ${paymentMethodId} is the debit a round of group ${groupId} relies on; name an active BECS replacement to remove it`,
    groupId,
  };
}
