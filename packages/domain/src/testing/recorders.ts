import { okAsync, type ResultAsync } from "neverthrow";
import type { Notification, Notifier, NotifyError } from "../ports/notifier.js";
import type { StorageError } from "../ports/storage.js";
import type {
  ResolveOutcome,
  SupportDesk,
  SupportDeskError,
  SupportTicket,
  SupportTicketRecord,
  TicketUpdate,
  TicketUpdateOutcome,
} from "../ports/support-desk.js";
import type { ScheduledTimer, SchedulerError, TimerScheduler } from "../ports/timer-scheduler.js";
import type { Instant } from "../shared/time.js";

/** Keeps every notification it is asked to send, once per id. */
export class RecordingNotifier implements Notifier {
  readonly sent: Notification[] = [];
  readonly #ids = new Set<string>();
  send(notification: Notification): ResultAsync<void, NotifyError> {
    if (!this.#ids.has(notification.id)) {
      this.#ids.add(notification.id);
      this.sent.push(notification);
    }
    return okAsync(undefined);
  }
}

/**
 * Keeps every ticket it is asked to open, once per id, which were resolved (the first
 * resolution stands; a reopening update forgets it) and the notes added to each, once per note id.
 */
export class RecordingSupportDesk implements SupportDesk {
  readonly tickets: SupportTicket[] = [];
  readonly resolved = new Map<string, { readonly by: string; readonly note: string; readonly at: number }>();
  readonly notes = new Map<string, TicketUpdate[]>();
  openTicket(ticket: SupportTicket): ResultAsync<void, SupportDeskError> {
    if (!this.tickets.some((t) => t.id === ticket.id)) this.tickets.push(ticket);
    return okAsync(undefined);
  }
  updateTicket(id: string, update: TicketUpdate): ResultAsync<TicketUpdateOutcome, SupportDeskError> {
    if (!this.tickets.some((t) => t.id === id)) return okAsync("not_found");
    const notes = this.notes.get(id) ?? [];
    if (notes.some((n) => n.noteId === update.noteId)) return okAsync("unchanged");
    this.notes.set(id, [...notes, update]);
    if (update.reopen === true) this.resolved.delete(id);
    return okAsync("updated");
  }
  resolveTicket(
    id: string,
    resolution: { readonly by: string; readonly note: string; readonly at: number },
  ): ResultAsync<ResolveOutcome, StorageError> {
    const ticket = this.tickets.find((t) => t.id === id);
    if (ticket === undefined) return okAsync({ outcome: "not_found" });
    const first = this.resolved.get(id);
    if (first === undefined) this.resolved.set(id, resolution);
    const r = first ?? resolution;
    const record: SupportTicketRecord = {
      ...("aggregate" in ticket && ticket.aggregate !== undefined
        ? { aggregate: ticket.aggregate, aggregateId: ticket.aggregateId }
        : {}),
      id,
      kind: ticket.reason,
      status: "resolved",
      subject: ticket.summary,
      details: { summary: ticket.summary },
      createdAt: r.at,
      resolvedAt: r.at,
      resolvedBy: r.by,
      resolution: r.note,
    } as SupportTicketRecord;
    return okAsync({ outcome: first === undefined ? "resolved" : "already_resolved", ticket: record });
  }
}

/** Holds timers until a test (or the simulation driver) takes the due ones. */
export class InMemoryTimerScheduler implements TimerScheduler {
  readonly #timers = new Map<string, ScheduledTimer>();
  schedule(timer: ScheduledTimer): ResultAsync<void, SchedulerError> {
    if (!this.#timers.has(timer.id)) this.#timers.set(timer.id, timer);
    return okAsync(undefined);
  }
  /** Removes and returns the timers due at `now`, earliest first. */
  takeDue(now: Instant): ScheduledTimer[] {
    const due = [...this.#timers.values()]
      .filter((t) => t.at <= now)
      .sort((a, b) => a.at - b.at || a.id.localeCompare(b.id));
    for (const t of due) this.#timers.delete(t.id);
    return due;
  }
  /** The earliest pending timer's time, if any. */
  nextAt(): Instant | undefined {
    let next: Instant | undefined;
    for (const t of this.#timers.values()) if (next === undefined || t.at < next) next = t.at;
    return next;
  }
  /** Timers not yet taken. */
  pending(): ScheduledTimer[] {
    return [...this.#timers.values()];
  }
}

/**
 * `target` with every read (a method named get…, list… or find… returning a ResultAsync)
 * logged to `log` as `<name> starts` when called and `<name> ends` when it answers, so a
 * test can tell which reads ran side by side and which one after another.
 */
export function loggingReads<T extends object>(target: T, log: string[]): T {
  return new Proxy(target, {
    get(t, key) {
      const value = Reflect.get(t, key);
      if (typeof value !== "function" || typeof key !== "string" || !/^(get|list|find)/.test(key))
        return value;
      return (...args: unknown[]) => {
        log.push(`${key} starts`);
        return (value.apply(t, args) as ResultAsync<unknown, unknown>).map((v) => {
          log.push(`${key} ends`);
          return v;
        });
      };
    },
  });
}
