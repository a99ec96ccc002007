import type { ResultAsync } from "neverthrow";
import type { HeldPaymentTicketReason } from "../held-payment/held-payment-effect.js";
import type { AggregateRef, NoAggregateRef } from "../kernel/aggregate-ref.js";
import type { MarketplaceChargeTicketReason } from "../marketplace/marketplace-charge-effect.js";
import type { SubscriptionTicketReason } from "../membership/membership-effect.js";
import type { PaymentMethodTicketReason } from "../payment-method/payment-method-effect.js";
import type { PayoutTicketReason } from "../payout/payout-effect.js";
import type { TicketReason } from "../round/round-effect.js";
import type { StorageError } from "./storage.js";

/**
 * A problem that needs a person, about an aggregate (`aggregate`, `aggregateId`) when it
 * concerns one, and about a group when it concerns one (operators find a group's tickets
 * by `groupId`).
 */
export type SupportTicket = (AggregateRef | NoAggregateRef) & {
  /** Stable id (the effect id): opening the same ticket twice keeps one. */
  readonly id: string;
  readonly groupId?: string;
  readonly reason:
    | TicketReason
    | HeldPaymentTicketReason
    | PayoutTicketReason
    | MarketplaceChargeTicketReason
    | PaymentMethodTicketReason
    | SubscriptionTicketReason
    | "webhook_parked"
    | "effect_parked"
    /** The daily reconciliation with Stripe found differences (no aggregate: the period's id). */
    | "reconciliation_differences";
  readonly summary: string;
};

/** Why a ticket could not be opened; the dispatcher retries it. */
export type SupportDeskError = {
  readonly type: "ticket_failed";
  readonly code: "ticket_failed";
  readonly message: string;
};

/**
 * A later word on an open or resolved ticket (what its opener found since): a note kept
 * beside the first summary, by `noteId` (a repeat of the same note adds nothing), whose
 * first line becomes the ticket's subject; with `reopen`, a resolved ticket is opened again
 * (its resolution kept in the note).
 */
export interface TicketUpdate {
  readonly noteId: string;
  readonly summary: string;
  /** Epoch ms. */
  readonly at: number;
  readonly reopen?: boolean;
}

/** What updating did: `updated`, `unchanged` (the note was there already), or `not_found`. */
export type TicketUpdateOutcome = "updated" | "unchanged" | "not_found";

/** Where problems go for people to fix. */
export interface SupportDesk {
  openTicket(ticket: SupportTicket): ResultAsync<void, SupportDeskError>;
  /**
   * Optional: adds a note to a ticket (see {@link TicketUpdate}). A desk without it keeps no
   * tickets to update (it logs them): its opener opens the ticket once and says no more.
   */
  updateTicket?(id: string, update: TicketUpdate): ResultAsync<TicketUpdateOutcome, SupportDeskError>;
  /**
   * Optional: resolves an open ticket (a `resolve_ticket` effect: the aggregate knows what it
   * asked is done), as {@link SupportTicketStore.resolveTicket}. A desk without it keeps no
   * tickets to resolve: the effect is done.
   */
  resolveTicket?(
    id: string,
    resolution: { readonly by: string; readonly note: string; readonly at: number },
  ): ResultAsync<ResolveOutcome, StorageError>;
}

/** A stored ticket as the people who work it see it; the aggregate it is about, if any. */
export type SupportTicketRecord = (AggregateRef | NoAggregateRef) & {
  readonly id: string;
  /** Why it was opened: a {@link SupportTicket} reason (`webhook_parked`, `effect_parked`, …). */
  readonly kind: string;
  readonly status: "open" | "resolved";
  /** One line. */
  readonly subject: string;
  /** Ids and codes the opener recorded (the full summary among them); no bank or card data. */
  readonly details: Readonly<Record<string, unknown>>;
  readonly groupId?: string;
  readonly memberId?: string;
  readonly webhookEventId?: string;
  /** Epoch ms. */
  readonly createdAt: number;
  readonly resolvedAt?: number;
  /** Who resolved it (an operator's subject). */
  readonly resolvedBy?: string;
  /** What was done about it. */
  readonly resolution?: string;
};

/** Which tickets a listing returns and where it starts. */
export interface TicketQuery {
  readonly status?: "open" | "resolved";
  /** 1 to 100. */
  readonly limit: number;
  /** The id of the last ticket of the previous page; an unknown id is an empty page. */
  readonly startingAfter?: string;
}

/** What resolving did: `resolved` now, or `already_resolved` (nothing changed), or `not_found`. */
export type ResolveOutcome =
  | { readonly outcome: "resolved"; readonly ticket: SupportTicketRecord }
  | { readonly outcome: "already_resolved"; readonly ticket: SupportTicketRecord }
  | { readonly outcome: "not_found" };

/** The tickets, from the operators' side: list, read, resolve. */
export interface SupportTicketStore {
  /** Tickets oldest first (then id), `limit` after the cursor, and whether more follow. */
  listTickets(
    query: TicketQuery,
  ): ResultAsync<{ readonly items: readonly SupportTicketRecord[]; readonly hasMore: boolean }, StorageError>;
  getTicket(id: string): ResultAsync<SupportTicketRecord | undefined, StorageError>;
  /**
   * Resolves an open ticket, recording who and why, at `at`. A ticket already resolved is
   * left as it is (its first resolution stands).
   */
  resolveTicket(
    id: string,
    resolution: { readonly by: string; readonly note: string; readonly at: number },
  ): ResultAsync<ResolveOutcome, StorageError>;
}
