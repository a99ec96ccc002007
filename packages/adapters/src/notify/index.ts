export {
  ADMIN_NOTICE_ENV,
  type AdminNoticeEnv,
  adminNoticeNotifierOf,
  parseAdminNoticeEnv,
  readAdminNoticeEnv,
} from "./admin-notice-env.js";
export { CommitNotices, type NoticePlanner } from "./commit-notices.js";
export {
  type AdminAlertOptions,
  ALERT_RUNBOOKS,
  type AlertDecision,
  DeliveringNotifier,
  type DeliveringNotifierOptions,
  deliveryIdOf,
  type PlannedNotice,
  type QueuedRows,
} from "./delivering-notifier.js";
export {
  DEFAULT_DELIVERY_CONCURRENCY,
  type DeliveryOutcome,
  type DeliveryRetryPolicy,
  type DeliveryWorkerOptions,
  deliveryBackoffMs,
  deliveryLeaseMs,
  type EmailSender,
  type HostLookup,
  isRetryableStatus,
  NotificationDeliveryWorker,
  postWebhook,
  type ResolvedAddress,
  retryAfterDelayMs,
  retryDelayMs,
  type SettledDelivery,
  smtpTimeoutsFor,
  type WebhookAnswer,
  type WebhookPost,
  type WebhookRequest,
  webhookBodyOf,
} from "./delivery-worker.js";
export {
  ENDPOINT_ADDRESS_POLICIES,
  type EndpointAddressPolicy,
  endpointUrlProblem,
  NOTIFY_ENDPOINT_ENV,
  privateAddressKind,
} from "./endpoint-address.js";
export { type LineSink, LogNotifier, LogSupportDesk, maskEmail } from "./log-notifier.js";
export { escapeHtml, formatAmount, formatInstant, type MailLocale, maskNumbers } from "./mail-format.js";
export { MAIL_TEMPLATES, type MailTemplateName, type RenderedMail, renderMail } from "./mail-templates.js";
export {
  type DeliveryQuery,
  type NotificationDeliveryLog,
  type NotificationDeliveryRecord,
  type NotificationEndpointRecord,
  type NotificationEndpointStore,
  type NotificationEndpointWithSecret,
  PrismaNotificationEndpoints,
} from "./notification-endpoints.js";
export {
  type NotificationSettings,
  type NotificationSettingsStore,
  PrismaNotificationSettings,
} from "./notification-settings-store.js";
export {
  notifyErrorOf,
  type PersonEmails,
  PrismaPersonEmails,
  SmtpNotifier,
  type SmtpNotifierOptions,
} from "./smtp-notifier.js";
export {
  DEFAULT_SIGNATURE_TOLERANCE_SECONDS,
  newEndpointSecret,
  SUSU_SIGNATURE_HEADER,
  type SusuSignatureCheck,
  type SusuSignatureFailure,
  signSusuPayload,
  type VerifySusuSignatureOptions,
  verifySusuSignature,
} from "./susu-signature.js";
