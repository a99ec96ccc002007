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
