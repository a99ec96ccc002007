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
export { decideHeldOwedPayment, decideMarketplaceOwedPayment, paymentOwed } from "./payment-owed.js";
export {
  decideRoundOwedPayment,
  owedToMemberBooked,
  roundKeepsOwed,
  roundOwed,
  roundOwedInLedger,
} from "./round-owed.js";
