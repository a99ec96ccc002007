export { owedIds } from "./owed-ids.js";
export { type OwedPaymentError, type OwedPaymentErrorCode, owedPaymentError } from "./owed-payment.errors.js";
export {
  decideOwedPayment,
  OWED_PAYMENT_REFERENCE_MAX,
  type OwedOutsideStripe,
  type OwedPayment,
  type OwedPaymentDecision,
  owedLeftMinor,
  owedPaidMinor,
  type RecordOwedPayment,
} from "./owed-payment.js";
export {
  type OwedRecoveryError,
  type OwedRecoveryErrorCode,
  owedRecoveryError,
} from "./owed-recovery.errors.js";
export {
  decideOwedRecovery,
  OWED_RECOVERY_REFERENCE_MAX,
  type OwedBack,
  type OwedRecovery,
  type OwedRecoveryDecision,
  owedBackLeftMinor,
  owedRecoveredMinor,
  type RecordOwedRecovery,
} from "./owed-recovery.js";
export {
  decideHeldOwedPayment,
  decideMarketplaceOwedPayment,
  paymentOwed,
  paymentOwedBack,
} from "./payment-owed.js";
export { decideHeldOwedRecovery, decideMarketplaceOwedRecovery } from "./payment-owed-recovery.js";
export {
  decideRoundOwedPayment,
  owedToMemberBooked,
  roundKeepsOwed,
  roundOwed,
  roundOwedInLedger,
} from "./round-owed.js";
