import { type CodedError, codedErrorConstructor } from "../kernel/coded-error.js";

/**
 * Why recording a payment of money owed outside Stripe was refused (nothing is changed):
 * - `nothing_owed`: nothing is owed outside Stripe there (none was booked, or all of it was paid);
 * - `amount_exceeds_owed`: the amount is more than is still owed;
 * - `duplicate_owed_payment`: a payment with this reference was recorded already (a retry of the
 *   request, or a second admin recording the same bank transfer): it is recorded once;
 * - `currency_mismatch`: the amount is not in the currency of what is owed;
 * - `invalid_owed_payment`: the amount is not positive, or the reference is empty or too long.
 */
export type OwedPaymentErrorCode =
  | "nothing_owed"
  | "amount_exceeds_owed"
  | "duplicate_owed_payment"
  | "currency_mismatch"
  | "invalid_owed_payment";

/** A refused payment of money owed outside Stripe, with its stable `code`. */
export type OwedPaymentError = CodedError<OwedPaymentErrorCode>;

/** Builds an {@link OwedPaymentError}: `owedPaymentError("nothing_owed", "…")`. */
export const owedPaymentError = codedErrorConstructor<OwedPaymentErrorCode>();
