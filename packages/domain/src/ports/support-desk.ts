import type { ResultAsync } from "neverthrow";
import type { TicketReason } from "../round/round-effect.js";

/** A problem that needs a person. */
export interface SupportTicket {
  /** Stable id (the effect id): opening the same ticket twice keeps one. */
  readonly id: string;
  readonly groupId?: string;
  readonly roundId?: string;
  readonly reason: TicketReason | "webhook_parked" | "effect_parked";
  readonly summary: string;
}

/** Why a ticket could not be opened; the dispatcher retries it. */
export type SupportDeskError = {
  readonly type: "ticket_failed";
  readonly code: "ticket_failed";
  readonly message: string;
};

/** Where problems go for people to fix. */
export interface SupportDesk {
  openTicket(ticket: SupportTicket): ResultAsync<void, SupportDeskError>;
}
