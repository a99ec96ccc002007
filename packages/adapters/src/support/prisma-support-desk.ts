import type { Clock, SupportDesk, SupportDeskError, SupportTicket } from "@susu/domain";
import type { ResultAsync } from "neverthrow";
import { SystemClock } from "../clock/system-clock.js";
import type { PrismaClient } from "../db/prisma-client.js";
import { fromDatabase } from "../prisma/storage-errors.js";

/** What a ticket is about beyond the domain's {@link SupportTicket}, for the people who work it. */
export interface TicketContext {
  /** The Stripe event (`evt_…`) a parked webhook ticket is about. */
  readonly webhookEventId?: string;
  readonly memberId?: string;
  /** Ids and codes only: no bank details, no card data. */
  readonly details?: Readonly<Record<string, string | number | boolean | null>>;
}

/**
 * A {@link SupportDesk} that can also take a {@link TicketContext}. Any `SupportDesk` is
 * one (it ignores the context), so callers that have context ask for this type.
 */
export interface ContextualSupportDesk extends SupportDesk {
  openTicket(ticket: SupportTicket, context?: TicketContext): ResultAsync<void, SupportDeskError>;
}

/** Longest subject line; the whole summary is kept in `details`. */
const SUBJECT_MAX = 200;

function subjectOf(summary: string): string {
  const firstLine = summary.split("\n", 1)[0] ?? summary;
  return firstLine.length <= SUBJECT_MAX ? firstLine : `${firstLine.slice(0, SUBJECT_MAX - 1)}…`;
}

/** Tickets opened by parking (not by an `open_ticket` effect) carry no effect id. */
function effectIdOf(ticket: SupportTicket): string | null {
  return ticket.reason === "webhook_parked" || ticket.reason === "effect_parked" ? null : ticket.id;
}

/**
 * {@link SupportDesk} on PostgreSQL (`support_tickets`). Opening is idempotent: the ticket
 * id is stable (the effect id, or `webhook:<event id>:parked`), and a ticket whose id or
 * effect id is already stored is kept as it is — a replayed effect or a re-parked event
 * opens nothing new and never reopens a ticket a person resolved.
 */
export class PrismaSupportDesk implements ContextualSupportDesk {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly clock: Clock = new SystemClock(),
  ) {}

  openTicket(ticket: SupportTicket, context: TicketContext = {}): ResultAsync<void, SupportDeskError> {
    const now = new Date(this.clock.now());
    // createMany with skipDuplicates is INSERT … ON CONFLICT DO NOTHING with no target, so
    // both unique keys (id, effect_id) make a repeat a no-op instead of an error.
    return fromDatabase(
      () =>
        this.prisma.supportTicket.createMany({
          data: [
            {
              id: ticket.id,
              effectId: effectIdOf(ticket),
              kind: ticket.reason,
              status: "open",
              subject: subjectOf(ticket.summary),
              details: { summary: ticket.summary, ...context.details },
              groupId: ticket.groupId ?? null,
              roundId: ticket.roundId ?? null,
              memberId: context.memberId ?? null,
              webhookEventId: context.webhookEventId ?? null,
              createdAt: now,
              updatedAt: now,
            },
          ],
          skipDuplicates: true,
        }),
      "open support ticket",
    )
      .map(() => undefined)
      .mapErr(
        (e): SupportDeskError => ({ type: "ticket_failed", code: "ticket_failed", message: e.message }),
      );
  }
}
