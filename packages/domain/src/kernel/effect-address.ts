import type { LedgerTransaction } from "../ledger/ledger-transaction.js";
import type { Instant } from "../shared/time.js";

/**
 * What every effect of a payment aggregate (a held payment, a marketplace charge) starts
 * with: its stable `id` (the outbox key and the provider's idempotency key) and the
 * aggregate it belongs to (`aggregate`, `aggregateId`: the shape timers, notifications and
 * tickets are routed by).
 */
export interface EffectAddress<A extends string> {
  readonly id: string;
  readonly aggregate: A;
  readonly aggregateId: string;
}

/** The address of effect `id` of aggregate `aggregate` `aggregateId`. */
export function effectAddress<A extends string>(
  aggregate: A,
  aggregateId: string,
  id: string,
): EffectAddress<A> {
  return { id, aggregate, aggregateId };
}

/** Who a payment aggregate's notification is for: the customer, a seller, or the platform's admins. */
export type PartyAudience =
  | { readonly kind: "customer"; readonly email: string }
  | { readonly kind: "seller"; readonly sellerId: string }
  | { readonly kind: "platform_admins" };

/** A ledger transaction to post; its id is the transaction's. */
export interface PostLedgerEffect {
  readonly kind: "post_ledger";
  readonly id: string;
  readonly transaction: LedgerTransaction;
}

/** A timer of aggregate `A` with its own payload `T`, fed back to it at `at`. */
export type ScheduleTimerEffect<A extends string, T> = EffectAddress<A> & {
  readonly kind: "schedule_timer";
  readonly at: Instant;
  readonly timer: T;
};

/** A message to `to`, rendered by the notifier from `template` and `data`. */
export type NotifyEffect<A extends string, Template extends string, To = PartyAudience> = EffectAddress<A> & {
  readonly kind: "notify";
  readonly to: To;
  readonly template: Template;
  readonly data: Readonly<Record<string, string | number>>;
};

/** A support ticket for a person to look at. */
export type OpenTicketEffect<A extends string, Reason extends string> = EffectAddress<A> & {
  readonly kind: "open_ticket";
  readonly reason: Reason;
  readonly summary: string;
};

/**
 * Resolves support ticket `ticketId`, which the aggregate opened, recording who did what it
 * asked (`by`, an audit actor) and how (`note`): the aggregate knows it is done (money owed
 * outside Stripe, recorded paid). A ticket resolved already keeps its first resolution; one
 * that was never opened is nothing to resolve.
 */
export type ResolveTicketEffect<A extends string> = EffectAddress<A> & {
  readonly kind: "resolve_ticket";
  readonly ticketId: string;
  readonly by: string;
  readonly note: string;
};

/**
 * Adds a note to support ticket `ticketId`, which the aggregate opened: what it asked has
 * changed since (what is owed outside Stripe lessened by a lost dispute). The note's id is
 * the effect's `id` (a repeat adds nothing); its first line becomes the ticket's subject. A
 * ticket never opened, or a desk that keeps no tickets, is nothing to note: done.
 */
export type NoteTicketEffect<A extends string> = EffectAddress<A> & {
  readonly kind: "note_ticket";
  readonly ticketId: string;
  readonly note: string;
};

/**
 * The effects every payment aggregate makes alike, in its own names: timers (`T`),
 * notices (`Template`), ledger postings and tickets (`Reason`). Its effect union is its
 * own effects (each `EffectAddress<A> & { kind, … }`) and these.
 */
export type CommonPaymentEffect<A extends string, T, Template extends string, Reason extends string> =
  | ScheduleTimerEffect<A, T>
  | NotifyEffect<A, Template>
  | PostLedgerEffect
  | OpenTicketEffect<A, Reason>
  | ResolveTicketEffect<A>
  | NoteTicketEffect<A>;
