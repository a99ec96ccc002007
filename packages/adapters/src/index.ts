export * from "./backup/index.js";
export {
  clockFromEnv,
  OffsetFileClock,
  RandomIds,
  SIM_CLOCK_FILE_VARIABLE,
  SimClockRefused,
  SystemClock,
} from "./clock/index.js";
export * from "./db/index.js";
export * from "./http/index.js";
export * from "./logging/index.js";
export * from "./metrics/index.js";
export {
  type AdminAlertOptions,
  ALERT_RUNBOOKS,
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
  escapeHtml,
  formatAmount,
  formatInstant,
  isRetryableStatus,
  type LineSink,
  LogNotifier,
  LogSupportDesk,
  MAIL_TEMPLATES,
  type MailLocale,
  type MailTemplateName,
  maskEmail,
  maskNumbers,
  type NotificationDeliveryLog,
  type NotificationDeliveryRecord,
  NotificationDeliveryWorker,
  type NotificationEndpointRecord,
  type NotificationEndpointStore,
  type NotificationEndpointWithSecret,
  type NotificationSettings,
  type NotificationSettingsStore,
  newEndpointSecret,
  notifyErrorOf,
  type PersonEmails,
  PrismaNotificationEndpoints,
  PrismaNotificationSettings,
  PrismaPersonEmails,
  type RenderedMail,
  renderMail,
  type SettledDelivery,
  SmtpNotifier,
  type SmtpNotifierOptions,
  SUSU_SIGNATURE_HEADER,
  type SusuSignatureCheck,
  type SusuSignatureFailure,
  signSusuPayload,
  smtpTimeoutsFor,
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
  TIMER_JOB_EXPIRE_SECONDS,
  TIMER_MAINTENANCE_INTERVAL_SECONDS,
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
