import {
  type AggregateRef,
  type Clock,
  isAggregateKind,
  type NoAggregateRef,
  type ResolveOutcome,
  type StorageError,
  type SupportDesk,
  type SupportDeskError,
  type SupportTicket,
  type SupportTicketRecord,
  type SupportTicketStore,
  type TicketQuery,
  type TicketUpdate,
  type TicketUpdateOutcome,
} from "@susu/domain";
import { okAsync, type ResultAsync } from "neverthrow";
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
 * effect id is already stored is kept as it is — a replayed effect opens nothing new and
 * never reopens a ticket a person resolved. A parking's ticket (`webhook_parked`,
 * `effect_parked`) is the exception: an item that parks again after a person resolved its
 * ticket (replayed, or a dismissal undone, and failed again) is a problem back, so the
 * ticket is reopened with the new summary as a note; while it is open, a repeat changes
 * nothing. Otherwise only an update that asks for it reopens one (`updateTicket`, `reopen`:
 * its opener found the problem back).
 */
export class PrismaSupportDesk implements ContextualSupportDesk, SupportTicketStore {
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
              aggregateType: ticket.aggregate ?? null,
              aggregateId: ticket.aggregateId ?? null,
              // For the release before aggregate references, which reads only this column.
              roundId: ticket.aggregate === "round" ? ticket.aggregateId : null,
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
      .mapErr((e): SupportDeskError => ({ type: "ticket_failed", code: "ticket_failed", message: e.message }))
      .andThen(({ count }) =>
        count === 0 && effectIdOf(ticket) === null ? this.#reopenIfResolved(ticket, now) : okAsync(undefined),
      );
  }

  /** A parking's ticket already stored: reopened, the new summary as a note, if a person resolved it. */
  #reopenIfResolved(ticket: SupportTicket, at: Date): ResultAsync<void, SupportDeskError> {
    return fromDatabase(
      () => this.prisma.supportTicket.findUnique({ where: { id: ticket.id }, select: { status: true } }),
      "read support ticket",
    )
      .mapErr((e): SupportDeskError => ({ type: "ticket_failed", code: "ticket_failed", message: e.message }))
      .andThen((row) =>
        row?.status !== "resolved"
          ? okAsync(undefined)
          : this.updateTicket(ticket.id, {
              noteId: `parked-again:${at.getTime()}`,
              summary: ticket.summary,
              at: at.getTime(),
              reopen: true,
            }).map(() => undefined),
      );
  }

  /**
   * Adds a note to a ticket's details (`notes`, oldest first; the first summary stays), makes
   * its first line the subject, and with `reopen` opens a resolved ticket again, the
   * resolution moved into the note. A note whose id is there already changes nothing. A
   * conditional update on the ticket's version: one that lost a race reads the ticket again.
   */
  updateTicket(id: string, update: TicketUpdate): ResultAsync<TicketUpdateOutcome, SupportDeskError> {
    const at = new Date(update.at);
    const work = async (): Promise<TicketUpdateOutcome> => {
      for (;;) {
        const row = await this.prisma.supportTicket.findUnique({ where: { id } });
        if (row === null) return "not_found";
        const details = detailsOf(row.details);
        const notes = Array.isArray(details.notes) ? (details.notes as unknown[]) : [];
        if (
          notes.some(
            (n) => typeof n === "object" && n !== null && (n as { id?: unknown }).id === update.noteId,
          )
        )
          return "unchanged";
        const reopens = update.reopen === true && row.status === "resolved";
        const note = {
          id: update.noteId,
          at: at.toISOString(),
          summary: update.summary,
          ...(reopens
            ? {
                reopened: {
                  resolvedAt: row.resolvedAt?.toISOString() ?? null,
                  resolvedBy: row.resolvedBy,
                  resolution: row.resolution,
                },
              }
            : {}),
        };
        const { count } = await this.prisma.supportTicket.updateMany({
          where: { id, version: row.version },
          data: {
            subject: subjectOf(update.summary),
            details: { ...details, notes: [...notes, note] } as object,
            updatedAt: at,
            version: { increment: 1 },
            ...(reopens ? { status: "open", resolvedAt: null, resolvedBy: null, resolution: null } : {}),
          },
        });
        if (count === 1) return "updated";
      }
    };
    return fromDatabase(work, "update support ticket").mapErr(
      (e): SupportDeskError => ({ type: "ticket_failed", code: "ticket_failed", message: e.message }),
    );
  }

  /** Tickets oldest first (`created_at`, then id): a keyset page after the cursor's row, whatever its status now. */
  listTickets(
    query: TicketQuery,
  ): ResultAsync<
    { readonly items: readonly SupportTicketRecord[]; readonly hasMore: boolean },
    StorageError
  > {
    const status = query.status !== undefined ? { status: query.status } : {};
    const work = async () => {
      let after: { createdAt: Date; id: string } | undefined;
      if (query.startingAfter !== undefined) {
        // The cursor marks a place, found whatever its ticket's status is now: a ticket
        // resolved (or reopened) between two pages must not end the listing.
        const cursor = await this.prisma.supportTicket.findUnique({
          where: { id: query.startingAfter },
          select: { createdAt: true, id: true },
        });
        if (cursor === null) return [];
        after = cursor;
      }
      return this.prisma.supportTicket.findMany({
        where: {
          ...status,
          ...(after !== undefined
            ? {
                OR: [
                  { createdAt: { gt: after.createdAt } },
                  { createdAt: after.createdAt, id: { gt: after.id } },
                ],
              }
            : {}),
        },
        orderBy: [{ createdAt: "asc" }, { id: "asc" }],
        take: query.limit + 1,
      });
    };
    return fromDatabase(work, "list support tickets").map((rows) => ({
      items: rows.slice(0, query.limit).map(recordOf),
      hasMore: rows.length > query.limit,
    }));
  }

  getTicket(id: string): ResultAsync<SupportTicketRecord | undefined, StorageError> {
    return fromDatabase(
      () => this.prisma.supportTicket.findUnique({ where: { id } }),
      "get support ticket",
    ).map((row) => (row === null ? undefined : recordOf(row)));
  }

  /**
   * Resolves an open ticket in one conditional UPDATE (two operators resolving at once:
   * one wins, the other reads `already_resolved`); a resolved ticket keeps its first resolution.
   */
  resolveTicket(
    id: string,
    resolution: { readonly by: string; readonly note: string; readonly at: number },
  ): ResultAsync<ResolveOutcome, StorageError> {
    const at = new Date(resolution.at);
    const work = async (): Promise<ResolveOutcome> => {
      const { count } = await this.prisma.supportTicket.updateMany({
        where: { id, status: "open" },
        data: {
          status: "resolved",
          resolvedAt: at,
          resolvedBy: resolution.by,
          resolution: resolution.note,
          updatedAt: at,
          version: { increment: 1 },
        },
      });
      const row = await this.prisma.supportTicket.findUnique({ where: { id } });
      if (row === null) return { outcome: "not_found" };
      return { outcome: count === 1 ? "resolved" : "already_resolved", ticket: recordOf(row) };
    };
    return fromDatabase(work, "resolve support ticket");
  }
}

interface TicketRow {
  readonly id: string;
  readonly kind: string;
  readonly status: "open" | "resolved";
  readonly subject: string;
  readonly details: unknown;
  readonly groupId: string | null;
  readonly aggregateType: string | null;
  readonly aggregateId: string | null;
  readonly roundId: string | null;
  readonly memberId: string | null;
  readonly webhookEventId: string | null;
  readonly createdAt: Date;
  readonly resolvedAt: Date | null;
  readonly resolvedBy: string | null;
  readonly resolution: string | null;
}

/**
 * The aggregate a stored ticket is about: its aggregate columns, or for a ticket the
 * release before aggregate references opened during a rolling deploy (it writes only
 * `round_id`), that round. A kind this release does not know is left out rather than
 * guessed.
 */
function aggregateOf(row: TicketRow): AggregateRef | NoAggregateRef {
  if (row.aggregateType !== null && row.aggregateId !== null)
    return isAggregateKind(row.aggregateType)
      ? { aggregate: row.aggregateType, aggregateId: row.aggregateId }
      : {};
  return row.roundId !== null ? { aggregate: "round", aggregateId: row.roundId } : {};
}

/** A ticket's stored details as an object ({} when they are not one). */
function detailsOf(details: unknown): Record<string, unknown> {
  return typeof details === "object" && details !== null && !Array.isArray(details)
    ? (details as Record<string, unknown>)
    : {};
}

function recordOf(row: TicketRow): SupportTicketRecord {
  const details = detailsOf(row.details);
  return {
    id: row.id,
    kind: row.kind,
    status: row.status,
    subject: row.subject,
    details,
    createdAt: row.createdAt.getTime(),
    ...(row.groupId !== null ? { groupId: row.groupId } : {}),
    ...aggregateOf(row),
    ...(row.memberId !== null ? { memberId: row.memberId } : {}),
    ...(row.webhookEventId !== null ? { webhookEventId: row.webhookEventId } : {}),
    ...(row.resolvedAt !== null ? { resolvedAt: row.resolvedAt.getTime() } : {}),
    ...(row.resolvedBy !== null ? { resolvedBy: row.resolvedBy } : {}),
    ...(row.resolution !== null ? { resolution: row.resolution } : {}),
  };
}
