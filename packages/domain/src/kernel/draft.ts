import { type Ok, ok, type Result } from "neverthrow";
import type { LedgerError } from "../ledger/ledger.errors.js";
import type { LedgerTransaction } from "../ledger/ledger-transaction.js";
import type { Instant } from "../shared/time.js";
import type { Decision } from "./decision.js";
import type { Dispute } from "./disputes.js";
import {
  type EffectAddress,
  effectAddress,
  type NotifyEffect,
  type OpenTicketEffect,
  type PartyAudience,
  type PostLedgerEffect,
  type ScheduleTimerEffect,
} from "./effect-address.js";

/** The fields a move may set along with the status. */
export type MovePatch<S> = Partial<Omit<S, "status">>;

/** What every aggregate's state has: an id, and a status its transition table governs. */
export interface AggregateState {
  readonly id: string;
  readonly status: string;
}

/** How a {@link Draft} changes its aggregate. */
export interface DraftOptions<S extends AggregateState> {
  /** How messages name the aggregate (`round`, `held payment`). */
  readonly label: string;
  /** The aggregate's one way to change status (`moveRound`): throws on a move its table does not allow. */
  readonly move: (state: S, to: S["status"], patch?: MovePatch<S>) => S;
}

/**
 * Accumulates the state and effects of one decision; local to a decision, so deciding
 * stays pure. Each aggregate's `decide` makes one per input (a subclass adds what is its
 * own) and returns {@link Draft.done}.
 */
export class Draft<S extends AggregateState, E, Ctx extends { readonly now: Instant }> {
  state: S;
  readonly effects: (E | PostLedgerEffect)[] = [];
  constructor(
    initial: S,
    readonly ctx: Ctx,
    protected readonly options: DraftOptions<S>,
  ) {
    this.state = initial;
  }

  get now(): Instant {
    return this.ctx.now;
  }

  /** Changes fields other than the status; the status changes only through {@link moveTo}. */
  set(patch: MovePatch<S>): void {
    this.state = { ...this.state, ...patch };
  }

  /** Moves the aggregate to `status` (with `patch`); throws if its transition table does not allow it. */
  moveTo(status: S["status"], patch?: MovePatch<S>): void {
    this.state = this.options.move(this.state, status, patch);
  }

  effect(effect: E): void {
    this.effects.push(effect);
  }

  /**
   * Posts a ledger transaction. A valid state only builds valid postings, so a refusal is
   * a bug to fix, not an outcome to handle: it throws.
   */
  post(tx: Result<LedgerTransaction, LedgerError>): void {
    if (tx.isErr())
      throw new Error(
        `${this.options.label} ${this.state.id}: a posting was refused (${tx.error.code}: ${tx.error.message}); valid states make valid postings, so this is a bug`,
      );
    this.effects.push({ kind: "post_ledger", id: tx.value.id, transaction: tx.value });
  }

  done(): Ok<Decision<S, E | PostLedgerEffect, never>, never> {
    return ok({ state: this.state, effects: this.effects });
  }
}

/** Who a payment aggregate's notice is for, before it is addressed: `seller` is its one seller. */
export type PartyRecipient = "customer" | "seller" | "platform_admins" | { readonly sellerId: string };

/** What a payment aggregate's state has that its draft works on. */
export interface PaymentState extends AggregateState {
  readonly customer: { readonly email: string };
  readonly refunds: readonly { readonly number: number }[];
  readonly reversals: readonly { readonly number: number }[];
  readonly disputes: readonly { readonly id: string }[];
}

type TimerOfEffect<E> =
  Extract<E, { readonly kind: "schedule_timer" }> extends { readonly timer: infer T } ? T : never;
type TemplateOf<E> =
  Extract<E, { readonly kind: "notify" }> extends { readonly template: infer T extends string } ? T : never;
type ReasonOf<E> =
  Extract<E, { readonly kind: "open_ticket" }> extends { readonly reason: infer R extends string }
    ? R
    : never;
/** The effects a {@link PaymentDraft} makes itself, in the shapes of its aggregate's effects `E`. */
type AddressedEffect<E, A extends string> =
  | ScheduleTimerEffect<A, TimerOfEffect<E>>
  | NotifyEffect<A, TemplateOf<E>>
  | OpenTicketEffect<A, ReasonOf<E>>;

/** How a {@link PaymentDraft} addresses its aggregate's effects. */
export interface PaymentDraftOptions<S extends PaymentState, E, A extends string> extends DraftOptions<S> {
  /** The aggregate's name on its effects (`held_payment`). */
  readonly aggregate: A;
  /** The stable id of a timer (`heldPaymentIds.timer`). */
  readonly timerId: (aggregateId: string, timer: TimerOfEffect<E>) => string;
  /** What every notice's data starts with (the aggregate's id, …). */
  readonly noticeData: (state: S) => Record<string, string | number>;
  /** The one seller, for notices to `"seller"` (a held payment's). */
  readonly sellerOf?: (state: S) => string;
}

/**
 * The draft of a payment aggregate (a held payment, a marketplace charge): effects are
 * addressed `{ id, aggregate, aggregateId }`, notices go to the customer, a seller or the
 * platform's admins, and refunds, reversals and disputes are lists it updates by key.
 */
export class PaymentDraft<
  S extends PaymentState,
  E,
  Ctx extends { readonly now: Instant },
  A extends string,
> extends Draft<S, E | AddressedEffect<E, A>, Ctx> {
  constructor(
    initial: S,
    ctx: Ctx,
    protected override readonly options: PaymentDraftOptions<S, E, A>,
  ) {
    super(initial, ctx, options);
  }

  addressed(id: string): EffectAddress<A> {
    return effectAddress(this.options.aggregate, this.state.id, id);
  }

  timer(timer: TimerOfEffect<E>, at: Instant): void {
    this.effects.push({
      ...this.addressed(this.options.timerId(this.state.id, timer)),
      kind: "schedule_timer",
      at,
      timer,
    });
  }

  notify(
    id: string,
    to: PartyRecipient,
    template: TemplateOf<E>,
    data: Record<string, string | number> = {},
  ): void {
    this.effects.push({
      ...this.addressed(id),
      kind: "notify",
      to: this.audience(to),
      template,
      data: { ...this.options.noticeData(this.state), ...data },
    });
  }

  private audience(to: PartyRecipient): PartyAudience {
    if (to === "customer") return { kind: "customer", email: this.state.customer.email };
    if (to === "platform_admins") return { kind: "platform_admins" };
    if (to !== "seller") return { kind: "seller", sellerId: to.sellerId };
    const { sellerOf } = this.options;
    if (!sellerOf)
      throw new Error(`${this.options.label} ${this.state.id}: a notice to "seller" needs its one seller`);
    return { kind: "seller", sellerId: sellerOf(this.state) };
  }

  ticket(id: string, reason: ReasonOf<E>, summary: string): void {
    this.effects.push({ ...this.addressed(id), kind: "open_ticket", reason, summary });
  }

  updateRefund(number: number, patch: Partial<S["refunds"][number]>): void {
    this.setList("refunds", this.state.refunds, (r) => r.number === number, patch);
  }

  updateReversal(number: number, patch: Partial<S["reversals"][number]>): void {
    this.setList("reversals", this.state.reversals, (r) => r.number === number, patch);
  }

  updateDispute(id: string, patch: Partial<S["disputes"][number]>): void {
    this.setList("disputes", this.state.disputes, (x) => x.id === id, patch);
  }

  /** Records a new dispute (its aggregate's own fields are optional, set when it closes). */
  addDispute(dispute: Dispute): void {
    this.setField("disputes", [...this.state.disputes, dispute]);
  }

  /** Patches the items of list `key` that match. */
  protected setList<T>(
    key: keyof S,
    items: readonly T[],
    matches: (item: T) => boolean,
    patch: Partial<T>,
  ): void {
    this.setField(
      key,
      items.map((item) => (matches(item) ? { ...item, ...patch } : item)),
    );
  }

  /** Sets field `key` to `value`, a value of that field (the compiler cannot check it across the state's type). */
  private setField(key: keyof S, value: unknown): void {
    this.set({ [key]: value } as MovePatch<S>);
  }
}
