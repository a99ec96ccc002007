export { RandomIds, SystemClock } from "./clock/index.js";
export * from "./db/index.js";
export * from "./http/index.js";
export * from "./logging/index.js";
export * from "./metrics/index.js";
export {
  escapeHtml,
  formatAmount,
  formatInstant,
  type LineSink,
  LogNotifier,
  LogSupportDesk,
  MAIL_TEMPLATES,
  type MailLocale,
  type MailTemplateName,
  maskNumbers,
  notifyErrorOf,
  type PersonEmails,
  PrismaPersonEmails,
  type RenderedMail,
  renderMail,
  SmtpNotifier,
  type SmtpNotifierOptions,
} from "./notify/index.js";
// Notification deliveries: settings, webhook endpoints, the delivery log and worker, admin alerts.
export {
  ALERT_RUNBOOKS,
  type AdminAlertOptions,
  type AlertDecision,
  DEFAULT_SIGNATURE_TOLERANCE_SECONDS,
  DeliveringNotifier,
  type DeliveringNotifierOptions,
  type DeliveryOutcome,
  type DeliveryQuery,
  type DeliveryRetryPolicy,
  type DeliveryWorkerOptions,
  deliveryBackoffMs,
  deliveryIdOf,
  type EmailSender,
  isRetryableStatus,
  type NotificationDeliveryLog,
  type NotificationDeliveryRecord,
  NotificationDeliveryWorker,
  type NotificationEndpointRecord,
  type NotificationEndpointStore,
  type NotificationEndpointWithSecret,
  type NotificationSettings,
  type NotificationSettingsStore,
  newEndpointSecret,
  PrismaNotificationEndpoints,
  PrismaNotificationSettings,
  type SettledDelivery,
  SUSU_SIGNATURE_HEADER,
  type SusuSignatureCheck,
  type SusuSignatureFailure,
  signSusuPayload,
  type VerifySusuSignatureOptions,
  verifySusuSignature,
  webhookBodyOf,
} from "./notify/index.js";
export {
  DEFAULT_TIMER_RETRY,
  deterministicUuid,
  firedTimerOf,
  PgBossTimerScheduler,
  parseTimerJob,
  settleTimerFailure,
  TIMER_QUEUE,
  type TimerJob,
  type TimerJobPayload,
  type TimerSettlement,
  timerJobData,
  timerJobOf,
} from "./pgboss/index.js";
export * from "./prisma/index.js";
export * from "./process/index.js";
export * from "./reconciliation/index.js";
export * from "./stripe/index.js";
export * from "./support/index.js";
export * from "./webhooks/index.js";
