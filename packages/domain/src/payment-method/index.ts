export {
  PAYMENT_METHOD_ERROR_CODES,
  type PaymentMethodError,
  type PaymentMethodErrorCode,
  paymentMethodError,
  paymentMethodInUse,
} from "./payment-method.errors.js";
export {
  PAYMENT_METHOD_AGGREGATE,
  PAYMENT_METHOD_NOTIFICATION_TEMPLATES,
  PAYMENT_METHOD_TICKET_REASONS,
  type PaymentMethodEffect,
  type PaymentMethodNotificationTemplate,
  type PaymentMethodTicketReason,
} from "./payment-method-effect.js";
export { paymentMethodIds } from "./payment-method-ids.js";
export {
  canChargeCardAt,
  canDebitWith,
  isSaved,
  type MethodMerge,
  mergeReportedMethod,
  type RemovedBy,
  type ReportedPaymentMethod,
  SAVED_METHOD_TYPES,
  type SavedBankAccount,
  type SavedCard,
  type SavedMandateStatus,
  type SavedMethodType,
  type SavedPaymentMethod,
} from "./saved-payment-method.js";
