/**
 * The held payment: a client app's payment for one of its bookings, taken through Stripe
 * Checkout, held on the platform for a dispute window after the booking is fulfilled,
 * then released to the seller's connected account by a transfer tied to the charge.
 *
 * @module
 */
export {
  createHeldPayment,
  decideHeldPayment,
  disputedSellerPartMinor,
  type HeldPaymentDecideContext,
  type HeldPaymentDecision,
} from "./decide.js";
export {
  HELD_PAYMENT_ERROR_CODES,
  HELD_PAYMENT_USE_CASE_ERROR_CODES,
  type HeldPaymentError,
  type HeldPaymentErrorCode,
  heldPaymentError,
} from "./held-payment.errors.js";
export {
  type CreateHeldPayment,
  feeNetMinor,
  givenBackMinor,
  HELD_PAYMENT_TEXT_MAX_CHARS,
  type HeldDispute,
  type HeldPayment,
  type HeldPaymentCustomer,
  type HeldPaymentSeller,
  type HeldPaymentStatus,
  type HeldRefund,
  isHeldPaymentEnded,
  newHeldPayment,
  type ReleaseBlockKind,
  refundableMinor,
  sellerNetMinor,
  TERMINAL_HELD_PAYMENT_STATUSES,
  type TransferAttempt,
  type TransferReversal,
} from "./held-payment.js";
export {
  HELD_PAYMENT_AGGREGATE,
  HELD_PAYMENT_NOTIFICATION_TEMPLATES,
  HELD_PAYMENT_TICKET_REASONS,
  type HeldPaymentAudience,
  type HeldPaymentEffect,
  type HeldPaymentEffectKind,
  type HeldPaymentNotificationTemplate,
  type HeldPaymentTicketReason,
} from "./held-payment-effect.js";
export { heldPaymentIds } from "./held-payment-ids.js";
export {
  HELD_PAYMENT_IGNORED_CODES,
  type HeldPaymentIgnored,
  type HeldPaymentIgnoredCode,
} from "./held-payment-ignored.js";
export type { CheckoutPaymentStatus, HeldPaymentInput, HeldPaymentInputType } from "./held-payment-input.js";
export {
  BASIS_POINTS_WHOLE,
  type FeeSplit,
  type PlatformFee,
  splitPlatformFee,
  type TakeBackSplit,
  type TakenBack,
  takeBackSplit,
} from "./held-payment-money.js";
export type { HeldPaymentTimer } from "./held-payment-timer.js";
export { HELD_PAYMENT_TRANSITIONS, isHeldPaymentMoveAllowed } from "./held-payment-transitions.js";
