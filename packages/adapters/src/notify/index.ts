export { type LineSink, LogNotifier, LogSupportDesk } from "./log-notifier.js";
export { escapeHtml, formatAmount, formatInstant, type MailLocale, maskNumbers } from "./mail-format.js";
export { MAIL_TEMPLATES, type MailTemplateName, type RenderedMail, renderMail } from "./mail-templates.js";
export {
  notifyErrorOf,
  type PersonEmails,
  PrismaPersonEmails,
  SmtpNotifier,
  type SmtpNotifierOptions,
} from "./smtp-notifier.js";
