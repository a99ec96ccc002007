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
