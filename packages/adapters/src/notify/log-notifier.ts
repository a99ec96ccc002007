import type {
  Notification,
  Notifier,
  NotifyError,
  SupportDesk,
  SupportDeskError,
  SupportTicket,
} from "@susu/domain";
import { okAsync, type ResultAsync } from "neverthrow";

/** Where structured lines go: pino's `info`, or anything with that shape. */
export interface LineSink {
  info(fields: Record<string, unknown>, message: string): void;
}

/** `cy@example.com` → `c***@example.com`: enough to tell two recipients apart, not to write to them. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf("@");
  if (at <= 0) return "***";
  return `${email.slice(0, 1)}***${email.slice(at)}`;
}

/**
 * Notifications as structured log lines, until an e-mail or push provider is wired.
 * Carries ids and the template's data only — no bank details, no card data.
 */
export class LogNotifier implements Notifier {
  constructor(private readonly sink: LineSink) {}
  send(n: Notification): ResultAsync<void, NotifyError> {
    this.sink.info(
      {
        notificationId: n.id,
        aggregate: n.aggregate,
        aggregateId: n.aggregateId,
        groupId: n.groupId ?? null,
        to: n.personIds,
        // Addresses are personal data: the line says a customer was written to, not who.
        toEmails: (n.emails ?? []).map(maskEmail),
        toRoles: n.roles ?? [],
        template: n.template,
        data: n.data,
      },
      "notification",
    );
    return okAsync(undefined);
  }
}

/** Support tickets as structured log lines (for set-ups without a ticket store). */
export class LogSupportDesk implements SupportDesk {
  constructor(private readonly sink: LineSink) {}
  openTicket(t: SupportTicket): ResultAsync<void, SupportDeskError> {
    this.sink.info(
      {
        ticketId: t.id,
        aggregate: t.aggregate ?? null,
        aggregateId: t.aggregateId ?? null,
        groupId: t.groupId ?? null,
        reason: t.reason,
        summary: t.summary,
      },
      "support ticket",
    );
    return okAsync(undefined);
  }
}
