export {
  CHECKOUT_EXPIRY_ASKS_MAX,
  CHECKOUT_EXPIRY_RECHECK_MS,
  type ExpiryRecheckStep,
  expiryRecheckStep,
} from "./checkout-expiry-recheck.js";
export { COLLECTABLE_CURRENCIES, DEBIT_METHODS, type DebitMethod, debitMethodFor } from "./debit-methods.js";
export { classifyFailure, type FailureClass, type FailureRail, isGoneCode } from "./failure-codes.js";
export {
  DEFAULT_HELD_PAYMENT_POLICY,
  type HeldPaymentPolicy,
  heldPaymentPolicyProblem,
} from "./held-payment-policy.js";
export {
  DEFAULT_MARKETPLACE_POLICY,
  MARKETPLACE_ACTION_EXPIRY_MAX_MS,
  MARKETPLACE_ACTION_EXPIRY_MIN_MS,
  type MarketplacePolicy,
  type MarketplaceRefundRules,
  marketplacePolicyProblem,
  type RefundInitiator,
} from "./marketplace-policy.js";
export {
  MEMBERSHIP_REFUND_OVERDUE_MS,
  MEMBERSHIP_VOID_CALLS_BEFORE_TICKET,
  MEMBERSHIP_VOID_RECHECK_MS,
} from "./membership-policy.js";
export {
  REFUND_FAILURES_UNREACHABLE,
  type RefundFailureOutcome,
  refundFailureOutcome,
} from "./refund-failure.js";
export {
  REFUND_OUTCOME_LOOKUPS,
  REFUND_OUTCOME_OVERDUE_MS,
  REFUND_OUTCOME_RECHECK_MS,
} from "./refund-overdue.js";
export {
  type AttemptFailure,
  type FailedItem,
  type JitterSource,
  jitterFromId,
  type ParkingTicket,
  type RetryOrPark,
  type RetryOrParkContext,
  retryOrPark,
} from "./retry-or-park.js";
export { type RetryPolicy, type RetryPolicyError, retryDelayMs, retryPolicyProblem } from "./retry-policy.js";
export { DEFAULT_ROUND_POLICY, type RoundPolicy, roundPolicyProblem } from "./round-policy.js";
export { addBusinessDays, DEBIT_SETTLEMENT, expectedSettlementAt } from "./settlement.js";
