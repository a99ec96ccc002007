import { type CodedError, codedErrorConstructor } from "../kernel/coded-error.js";

/**
 * Why recording money recovered from a customer (what they got twice and owe back) was refused
 * (nothing is changed):
 * - `nothing_owed_back`: the customer owes nothing back there (no lost dispute gave back money an
 *   admin had paid them already, or all of it was recovered);
 * - `amount_exceeds_owed_back`: the amount is more than the customer still owes back;
 * - `duplicate_owed_recovery`: a recovery with this reference was recorded already (a retry of
 *   the request, or a second admin recording the same bank transfer): it is recorded once;
 * - `currency_mismatch`: the amount is not in the currency of the charge;
 * - `invalid_owed_recovery`: the amount is not positive, or the reference is empty or too long.
 */
export type OwedRecoveryErrorCode =
  | "nothing_owed_back"
  | "amount_exceeds_owed_back"
  | "duplicate_owed_recovery"
  | "currency_mismatch"
  | "invalid_owed_recovery";

/** A refused recovery of money a customer owes back, with its stable `code`. */
export type OwedRecoveryError = CodedError<OwedRecoveryErrorCode>;

/** Builds an {@link OwedRecoveryError}: `owedRecoveryError("nothing_owed_back", "…")`. */
export const owedRecoveryError = codedErrorConstructor<OwedRecoveryErrorCode>();
