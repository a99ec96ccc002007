// What the model-based tests of the payment aggregates (held-payment-model and
// marketplace-charge-model property tests) share: a small world that plays Stripe and the
// scheduler around one aggregate — it feeds inputs to `decide`, keeps the effects by id,
// posts the ledger, holds Stripe's pending work and the facts it will report — the checks
// every payment's steps must pass, and the commands that drive it. Each test keeps its
// model's predictions and its aggregate's own Stripe. No fast-check here: a command is the
// shape `fc.commands` runs, and the tests build their arbitraries from these.
import type { Result } from "neverthrow";
import type { Decision } from "../kernel/decision.js";
import type { PostLedgerEffect } from "../kernel/effect-address.js";
import type { DisputeClosedFact, DisputeOpenedFact, DisputeUpdatedFact } from "../kernel/payment-facts.js";
import { checkLedgerInvariants, emptyLedger, type Ledger, postTransaction } from "../ledger/index.js";
import { type CurrencyCode, currencyInfo } from "../money/index.js";
import { HOUR_MS, type Instant } from "../shared/time.js";

/** Whether two effects are the same data (plain objects, arrays and primitives; key order aside). */
export function sameData(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length !== keysB.length) return false;
  const recordA = a as Record<string, unknown>;
  const recordB = b as Record<string, unknown>;
  return keysA.every((k) => Object.hasOwn(recordB, k) && sameData(recordA[k], recordB[k]));
}

/** What every payment model knows, from what it saw happen (never the aggregate's internals). */
export interface PaymentModel {
  captured: boolean;
  /** Refunds asked for, by number: amount, and whether done. */
  refunds: Map<number, { amountMinor: number; done: boolean }>;
  lostMinor: number;
  /** Disputes delivered, and whether still open. */
  disputes: Map<string, boolean>;
}

/** A refund attempt Stripe made succeed. */
export interface SucceededRefund {
  readonly refund: number;
  readonly attempt: number;
  readonly amountMinor: number;
  /** The attempt's effect id (its idempotency key). */
  readonly effectId: string;
  readonly refundId: string;
}

/** How a refund attempt ended at Stripe. */
export type RefundAtStripe =
  | { readonly status: "succeeded"; readonly refundId: string }
  | { readonly status: "failed"; readonly refundId: string; readonly failureCode: string };

/** A dispute as Stripe has it. */
export interface StripeDispute {
  id: string;
  amountMinor: number;
  inquiry: boolean;
  status: string;
}

/** Stripe's side, as the world counts it: what really moved. */
export interface StripeSide {
  capturedMinor: number;
  refundedMinor: number;
  disputes: number;
  disputeOpen: boolean;
  /**
   * The charge's latest dispute at Stripe: what it disputes, whether it is an inquiry
   * (`warning_*`, no money moves) or a chargeback, and its status as Stripe has it.
   */
  dispute: StripeDispute | undefined;
  /** What the customers' banks took through disputes Stripe closed lost. */
  lostMinor: number;
  /** What the sellers' transfers' reversals brought back. */
  reversedMinor: number;
}

/**
 * Whether Stripe refuses (or fails, when pending) every refund of the charge: a chargeback
 * is open or was lost (`charge_disputed`, `charge_for_pending_refund_disputed`). An inquiry
 * (`warning_*`) does not stop refunds, nor does a chargeback the platform won.
 */
export function refundsRefused(stripe: StripeSide): boolean {
  return stripe.dispute !== undefined && !stripe.dispute.inquiry && stripe.dispute.status !== "won";
}

/** The money a payment's books say moved (from `checkHeldMoney`, `checkMarketplaceMoney`). */
export interface PaymentBooks {
  readonly paidInMinor: number;
  readonly refundedMinor: number;
  readonly disputeLostMinor: number;
  /** Owed to the customer outside Stripe (given back, by other means). */
  readonly owedToCustomerMinor: number;
  /** Paid to the customer outside Stripe by an admin, of what was owed (given back). */
  readonly paidOutsideStripeMinor: number;
  /** What the customer owes back: a lost dispute's bank gave back what an admin had paid them already. */
  readonly owedByCustomerMinor: number;
  /** The fee earned, net of what was given back. */
  readonly feesMinor: number;
  /** The platform's own money given back (what neither the sellers nor the fee gave). */
  readonly platformFundedMinor: number;
}

/** Effects that move money at Stripe: each names its amount and currency. */
const STRIPE_MONEY_KINDS: ReadonlySet<string> = new Set([
  "create_checkout_session",
  "create_payment",
  "transfer",
  "refund",
  "reverse_transfer",
]);

type EffectShape = { readonly kind: string; readonly id: string };
type Pending<E, K extends string> = Extract<E, { readonly kind: K }>;

/** A payment aggregate, the world around it, and the checks after every step. */
export abstract class PaymentWorld<
  S extends {
    readonly status: string;
    readonly version: number;
    /** The platform fee the payment was made with. */
    readonly feeMinor: number;
  },
  I extends { readonly type: string },
  E extends EffectShape,
  Code extends string,
> {
  state: S;
  /** The state before the input being observed (for rules that read what was, not what became). */
  previous: S;
  ledger: Ledger = emptyLedger();
  now: Instant;
  readonly effects = new Map<string, E>();
  readonly problems: string[] = [];
  /** Every input fed, and what came of it (for reading a counterexample). */
  readonly trace: string[] = [];
  // Stripe's side: work asked for and not answered yet, timers armed, facts to report
  pendingTransfers: Pending<E, "transfer">[] = [];
  pendingRefunds: Pending<E, "refund">[] = [];
  pendingReversals: Pending<E, "reverse_transfer">[] = [];
  /** Look-ups of a transfer attempt at Stripe asked for and not answered yet. */
  pendingLookups: Pending<E, "find_transfer">[] = [];
  /** Refund attempts Stripe made succeed (and has not failed since): each may still fail afterwards. */
  succeededRefunds: SucceededRefund[] = [];
  /** Look-ups of a refund attempt at Stripe (`find_refund`) asked for and not answered yet. */
  pendingRefundLookups: Pending<E, "find_refund">[] = [];
  /** How each refund attempt ended at Stripe, by its effect id (its idempotency key); absent: still pending. */
  readonly refundsAtStripe = new Map<string, RefundAtStripe>();
  timers: Pending<E, "schedule_timer">[] = [];
  inbox: I[] = [];
  delivered: I[] = [];
  abstract readonly stripe: StripeSide;
  abstract readonly model: PaymentModel;

  constructor(
    readonly amountMinor: number,
    /** The payment's currency: every effect and posting is in it. */
    readonly currency: CurrencyCode,
    now: Instant,
    created: { readonly state: S; readonly effects: readonly E[] },
  ) {
    this.now = now;
    this.state = created.state;
    this.previous = created.state;
    this.absorb(created.effects);
  }

  /** The aggregate's `decide` at the world's time. */
  protected abstract decide(state: S, input: I): Result<Decision<S, E, string>, { readonly code: Code }>;
  /** Whether the aggregate's transition table has `from → to`. */
  protected abstract moveAllowed(from: S["status"], to: S["status"]): boolean;
  /** What the model learns from a decision's input and effects. */
  protected abstract observe(input: I, effects: readonly E[], ignored: boolean): void;
  /** The invariants, after every step. */
  abstract check(): void;

  /**
   * What the use case reads at Stripe and applies before `input`, if anything: a dispute that
   * overtook the payment's own news has the payment read first (`apply-fact.ts`).
   */
  protected readFirst(_input: I): I | undefined {
    return undefined;
  }

  /** Feeds an input to the aggregate; returns the error code, or nothing when it applied or was ignored. */
  apply(input: I): { code?: Code; ignored?: string; effects: E[] } {
    const first = this.readFirst(input);
    if (first !== undefined) this.apply(first);
    const before = this.state;
    const d = this.decide(before, input);
    this.trace.push(
      `${JSON.stringify(input)} -> ${d.isErr() ? d.error.code : (d.value.ignored?.code ?? d.value.state.status)}`,
    );
    if (d.isErr()) {
      this.check();
      return { code: d.error.code, effects: [] };
    }
    const { state, effects, ignored } = d.value;
    if (!this.moveAllowed(before.status, state.status))
      this.problems.push(`${before.status} → ${state.status} (on ${input.type}) is not in the table`);
    if (ignored && (state !== before || effects.length > 0))
      this.problems.push(`an ignored ${input.type} changed the state or made effects`);
    // The store bumps the version of every change it keeps (ids of repeatable steps use it),
    // and keeps it as JSON: the next input is decided on what it reads back.
    this.state = ignored ? state : this.roundTrip({ ...state, version: before.version + 1 }, input.type);
    this.previous = before;
    this.observe(input, effects, ignored !== undefined);
    this.absorb(effects);
    this.check();
    return { ...(ignored ? { ignored: ignored.code } : {}), effects: [...effects] };
  }

  /** What admins recorded paying the customer outside Stripe (see {@link applyOwedPayment}). */
  paidOutsideMinor = 0;

  /**
   * Takes in an admin's payment of money owed outside Stripe, decided outside `decide` (by
   * `owed/payment-owed.ts`, of `amountMinor`): stored as the store keeps it, its effects taken
   * in, checked. Returns the refusal's code, or nothing when it was recorded.
   */
  applyOwedPayment(
    amountMinor: number,
    d: Result<{ readonly state: S; readonly effects: readonly E[] }, { readonly code: string }>,
  ): string | undefined {
    this.trace.push(`an admin pays ${amountMinor} owed outside Stripe -> ${d.isErr() ? d.error.code : "ok"}`);
    if (d.isErr()) {
      this.check();
      return d.error.code;
    }
    const before = this.state;
    this.state = this.roundTrip({ ...d.value.state, version: before.version + 1 }, "record_owed_payment");
    this.previous = before;
    this.paidOutsideMinor += amountMinor;
    this.absorb(d.value.effects);
    this.check();
    return undefined;
  }

  /**
   * The state as the store gives it back: written as JSON and read again. Anything JSON does
   * not keep (a non-finite number, a Map or Set, a class instance, an undefined in a list)
   * is a problem: the stored snapshot would not be the state decided.
   */
  private roundTrip(state: S, on: string): S {
    const trouble = notJson(state, "state");
    if (trouble !== undefined)
      this.problems.push(`after ${on}, the snapshot does not round-trip: ${trouble}`);
    return JSON.parse(JSON.stringify(state)) as S;
  }

  /** Delivers a Stripe fact; `twice` delivers it again at once, which must be ignored. */
  deliver(fact: I, twice: boolean): void {
    this.delivered.push(fact);
    this.apply(fact);
    if (twice && this.apply(fact).ignored === undefined)
      this.problems.push(`a repeated ${JSON.stringify(fact)} was not ignored`);
  }

  /** Takes the effects into the world: one per id (the outbox keeps one), postings booked, Stripe's work pending, timers armed. */
  protected absorb(effects: readonly E[]): void {
    for (const e of effects) {
      const first = this.effects.get(e.id);
      if (first !== undefined) {
        if (!sameData(first, e)) this.problems.push(`two different effects share the id ${e.id}`);
        continue; // the outbox keeps one
      }
      this.effects.set(e.id, e);
      this.checkMoneyMoved(e);
      if (isPosting(e)) {
        const posted = postTransaction(this.ledger, e.transaction);
        if (posted.isErr()) this.problems.push(`posting ${e.id} refused: ${posted.error.message}`);
        else this.ledger = posted.value;
      } else if (isKind(e, "transfer")) this.pendingTransfers.push(e);
      else if (isKind(e, "refund")) this.pendingRefunds.push(e);
      else if (isKind(e, "reverse_transfer")) this.pendingReversals.push(e);
      else if (isKind(e, "find_transfer")) this.pendingLookups.push(e);
      else if (isKind(e, "find_refund")) this.pendingRefundLookups.push(e);
      else if (isKind(e, "schedule_timer")) this.timers.push(e);
    }
  }

  /**
   * Money an effect moves is in the payment's currency: every posting of a ledger transaction,
   * and what is asked of Stripe (the charge, a transfer, a refund, a reversal) — which is
   * positive and a whole number of the currency's steps (a three-decimal currency's amounts
   * end in 0: Stripe refuses others).
   */
  private checkMoneyMoved(e: EffectShape): void {
    if (isPosting(e)) {
      for (const p of e.transaction.postings)
        if (p.amount.currency !== this.currency)
          this.problems.push(`posting ${e.id} moves ${p.amount.currency} in a ${this.currency} payment`);
      return;
    }
    if (!STRIPE_MONEY_KINDS.has(e.kind)) return;
    const { amountMinor, currency } = e as unknown as { amountMinor: number; currency: string };
    const step = currencyInfo(this.currency).amountStepMinor;
    if (currency !== this.currency)
      this.problems.push(`${e.kind} ${e.id} is in ${currency}, not ${this.currency}`);
    if (!Number.isSafeInteger(amountMinor) || amountMinor <= 0 || amountMinor % step !== 0)
      this.problems.push(
        `${e.kind} ${e.id} asks Stripe for ${amountMinor} ${this.currency}, not a positive multiple of ${step}`,
      );
  }

  /**
   * The checks every payment shares: the ledger balances, nothing is given back beyond
   * what was paid (in the books, at Stripe, or asked for), and a refunded payment gave
   * back everything. `books` is the aggregate's money from its books.
   */
  protected checkPayment(books: PaymentBooks): void {
    // (what an admin paid outside Stripe was given back too, less what the customer got twice
    // and owes back)
    const given =
      books.refundedMinor +
      books.disputeLostMinor +
      books.owedToCustomerMinor +
      books.paidOutsideStripeMinor -
      books.owedByCustomerMinor;
    if (given > books.paidInMinor) this.problems.push(`given back ${given} of ${books.paidInMinor} paid`);
    if (this.stripe.refundedMinor > this.stripe.capturedMinor)
      this.problems.push(`Stripe refunded ${this.stripe.refundedMinor} of ${this.stripe.capturedMinor}`);
    const askedMinor = [...this.model.refunds.values()].reduce((sum, r) => sum + r.amountMinor, 0);
    if (askedMinor > this.amountMinor)
      this.problems.push(`refunds asked for ${askedMinor} of ${this.amountMinor}`);
    // (A refund Stripe failed after its success waits for the admins' retry: the payment stays
    // refunded meanwhile, its books no longer counting it.)
    const waiting = [...this.model.refunds.values()].some((r) => !r.done);
    if (this.state.status === "refunded" && !waiting && given !== books.paidInMinor)
      this.problems.push("refunded, but not everything was given back");
    // The customer paid the amount once, or not yet: never a part of it, never twice.
    if (books.paidInMinor !== 0 && books.paidInMinor !== this.amountMinor)
      this.problems.push(
        `the books say ${books.paidInMinor} was paid in for a charge of ${this.amountMinor}`,
      );
    // The fee earned never goes below zero nor above the fee the payment was made with.
    if (books.feesMinor < 0 || books.feesMinor > this.state.feeMinor)
      this.problems.push(`the fees are ${books.feesMinor} of a ${this.state.feeMinor} fee`);
    if (books.platformFundedMinor < 0) this.problems.push(`the platform funded ${books.platformFundedMinor}`);
  }

  /** The ledger's own invariants (balanced, …). */
  protected checkLedger(): void {
    const books = checkLedgerInvariants(this.ledger);
    if (books.isErr()) this.problems.push(`ledger: ${books.error.message}`);
  }

  /**
   * A lost dispute's loss is being taken: every refund asked for that has not reached the
   * customer (not done — no refund is in flight when a loss is taken: it waits for them) is
   * superseded by it. The customer's bank gave the money back instead, so it no longer counts as
   * asked for; what it asked beyond the loss comes back as a refund owed outside Stripe (its
   * `refund_owed` notice).
   */
  supersedeRefundsNotDone(): void {
    for (const [n, r] of this.model.refunds) if (!r.done) this.model.refunds.delete(n);
  }

  /** What is left to refund or lose, by the model: captured minus refunds asked for and losses. */
  remainingMinor(): number {
    const asked = [...this.model.refunds.values()].reduce((sum, r) => sum + r.amountMinor, 0);
    return this.model.captured ? this.amountMinor - asked - this.model.lostMinor : 0;
  }
}

/** Where `value` holds something JSON would not give back as it is, or undefined. */
function notJson(value: unknown, path: string): string | undefined {
  if (value === null || typeof value === "string" || typeof value === "boolean") return undefined;
  if (typeof value === "number") return Number.isFinite(value) ? undefined : `${path} is ${value}`;
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      if (item === undefined) return `${path}[${i}] is undefined`;
      const t = notJson(item, `${path}[${i}]`);
      if (t !== undefined) return t;
    }
    return undefined;
  }
  if (typeof value !== "object") return `${path} is a ${typeof value}`;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return `${path} is not a plain object`;
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue; // an absent field: JSON leaves it out, and it reads back absent
    const t = notJson(v, `${path}.${k}`);
    if (t !== undefined) return t;
  }
  return undefined;
}

function isPosting(e: EffectShape): e is PostLedgerEffect {
  return e.kind === "post_ledger";
}

function isKind<E extends EffectShape, K extends string>(e: E, kind: K): e is Pending<E, K> {
  return e.kind === kind;
}

// ---------------------------------------------------------------- commands

/** A command as `fc.commands` runs it (`fc.Command<object, W>`): it runs only when its `check` on the world holds. */
export interface WorldCommand<W> {
  check(model: object): boolean;
  run(model: object, world: W): void;
  toString(): string;
}

export function simple<W>(name: string, check: (w: W) => boolean, run: (w: W) => void): WorldCommand<W> {
  return {
    check: () => true,
    run: (_m, w) => {
      if (check(w)) run(w);
    },
    toString: () => name,
  };
}

/** What the shared commands use of a world (any {@link PaymentWorld}). */
interface Drivable {
  now: Instant;
  readonly inbox: unknown[];
  readonly delivered: unknown[];
  readonly timers: { readonly at: Instant; readonly timer: unknown }[];
  readonly pendingReversals: {
    readonly reversal: number;
    readonly transferId: string;
    readonly amountMinor: number;
  }[];
  readonly stripe: StripeSide;
  deliver(fact: unknown, twice: boolean): void;
  apply(input: unknown): unknown;
}

/** Stripe reports the `i`-th fact of the inbox (in any order), sometimes twice in a row. */
const deliverCommand = (i: number, twice: boolean): WorldCommand<Drivable> =>
  simple(
    `deliver(${i}${twice ? ", twice" : ""})`,
    (w) => w.inbox.length > 0,
    (w) => {
      const [fact] = w.inbox.splice(i % w.inbox.length, 1);
      if (fact) w.deliver(fact, twice);
    },
  );

/** Stripe replays a fact it delivered before, late. */
const replayCommand = (i: number): WorldCommand<Drivable> =>
  simple(
    `replay(${i})`,
    (w) => w.delivered.length > 0,
    (w) => {
      const fact = w.delivered[i % w.delivered.length];
      if (fact) w.apply(fact);
    },
  );

/** The scheduler fires the `i`-th armed timer (the clock moves to it). */
const fireTimerCommand = (i: number): WorldCommand<Drivable> =>
  simple(
    `fire timer ${i}`,
    (w) => w.timers.length > 0,
    (w) => {
      const [t] = w.timers.splice(i % w.timers.length, 1);
      if (!t) return;
      w.now = Math.max(w.now, t.at);
      w.apply({ type: "timer", timer: t.timer });
    },
  );

/** Stripe answers the `i`-th pending reversal: it lands or fails. */
const reversalCommand = (i: number, ok: boolean): WorldCommand<Drivable> =>
  simple(
    `reversal ${ok ? "lands" : "fails"}`,
    (w) => w.pendingReversals.length > 0,
    (w) => {
      const [r] = w.pendingReversals.splice(i % w.pendingReversals.length, 1);
      if (!r) return;
      if (ok) w.stripe.reversedMinor += r.amountMinor;
      w.inbox.push(
        ok
          ? {
              type: "transfer_reversed",
              reversal: r.reversal,
              transferId: r.transferId,
              amountMinor: r.amountMinor,
            }
          : { type: "transfer_reversal_failed", reversal: r.reversal, failureCode: "insufficient_funds" },
      );
    },
  );

/** What the refund-failing and refund look-up commands use of a world. */
interface RefundsAtStripe {
  readonly succeededRefunds: SucceededRefund[];
  readonly refundsAtStripe: Map<string, RefundAtStripe>;
  readonly pendingRefundLookups: {
    readonly refund: number;
    readonly attempt: number;
    readonly lookup: number;
    readonly refundEffectId: string;
  }[];
  readonly stripe: StripeSide;
  readonly inbox: unknown[];
}

/**
 * Stripe fails the `i`-th refund it had made succeed (the refund object moves succeeded →
 * failed: the card or account could not take it): the money comes back to the platform's
 * balance, and `refund_failed` is reported for that attempt.
 */
const refundFailsLaterCommand = (i: number): WorldCommand<RefundsAtStripe> =>
  simple(
    "a refund that succeeded fails",
    (w) => w.succeededRefunds.length > 0,
    (w) => {
      const [r] = w.succeededRefunds.splice(i % w.succeededRefunds.length, 1);
      if (!r) return;
      w.stripe.refundedMinor -= r.amountMinor;
      // A failure a retry can fix (the admins retry it), or a card that cannot take money (owed
      // outside Stripe at once): drawn by the command's index.
      const failureCode = i % 2 === 0 ? "declined" : "lost_or_stolen_card";
      w.refundsAtStripe.set(r.effectId, { status: "failed", refundId: r.refundId, failureCode });
      w.inbox.push({ type: "refund_failed", refund: r.refund, attempt: r.attempt, failureCode });
    },
  );

/**
 * Stripe answers the `i`-th look-up of a refund attempt (`find_refund`, by its idempotency key)
 * by what it holds: ended, the attempt's outcome as its webhook brings it (`refund_succeeded`,
 * `refund_failed` — also a success it failed afterwards); not ended, `refund_not_ended`, with
 * the refund's id when Stripe holds it pending (`seen`), without when no refund was made by that
 * key (the call never reached Stripe).
 */
const refundLookedUpCommand = (i: number, seen: boolean): WorldCommand<RefundsAtStripe> =>
  simple(
    `refund looked up${seen ? "" : " (not found while pending)"}`,
    (w) => w.pendingRefundLookups.length > 0,
    (w) => answerRefundLookup(w, i, seen),
  );

/** See {@link refundLookedUpCommand}. */
export function answerRefundLookup(w: RefundsAtStripe, i: number, seen: boolean): void {
  const [l] = w.pendingRefundLookups.splice(i % w.pendingRefundLookups.length, 1);
  if (!l) return;
  const ended = w.refundsAtStripe.get(l.refundEffectId);
  const base = { refund: l.refund, attempt: l.attempt };
  if (ended?.status === "succeeded")
    w.inbox.push({ type: "refund_succeeded", ...base, refundId: ended.refundId });
  else if (ended?.status === "failed")
    w.inbox.push({ type: "refund_failed", ...base, failureCode: ended.failureCode });
  else
    w.inbox.push({
      type: "refund_not_ended",
      ...base,
      lookup: l.lookup,
      ...(seen ? { refundId: `re_${l.refundEffectId}` } : {}),
    });
}

/** How a dispute the world opens is shaped: the part of what is left it disputes (in basis points), and whether it is an inquiry. */
export interface DisputeShape {
  /** 1–10 000: the share of what is left at Stripe (captured, less refunds and losses) the customer disputes. */
  readonly partBp: number;
  /** An inquiry (`warning_needs_response`): no money moves, refunds stay possible, it closes `warning_closed` (won). */
  readonly inquiry: boolean;
}

/** What is left of the charge at Stripe: captured, less what was refunded and what banks took. */
function leftAtStripe(stripe: StripeSide): number {
  return stripe.capturedMinor - stripe.refundedMinor - stripe.lostMinor;
}

function partOf(amountMinor: number, partBp: number): number {
  return Math.max(1, Math.floor((amountMinor * partBp) / 10_000));
}

/**
 * The customer's bank disputes part or all of what is left (one dispute open at a time at
 * Stripe, and none after a chargeback was lost: Stripe disputes a charge once); `type` is the
 * aggregate's name for the fact. A chargeback fails the charge's pending refunds and refuses
 * new ones until it is won (see {@link refundsRefused}).
 */
const disputeOpenedCommand = (
  type: "dispute_created" | "dispute_opened",
  shape: DisputeShape = { partBp: 10_000, inquiry: false },
): WorldCommand<Drivable> =>
  simple(
    `dispute opened (${shape.inquiry ? "inquiry, " : ""}${shape.partBp / 100}%)`,
    (w) => leftAtStripe(w.stripe) > 0 && !w.stripe.disputeOpen && w.stripe.dispute?.status !== "lost",
    (w) => {
      w.stripe.disputes += 1;
      w.stripe.disputeOpen = true;
      const id = `dp_${w.stripe.disputes}`;
      const amountMinor = partOf(leftAtStripe(w.stripe), shape.partBp);
      const stripeStatus = shape.inquiry ? "warning_needs_response" : "needs_response";
      w.stripe.dispute = { id, amountMinor, inquiry: shape.inquiry, status: stripeStatus };
      const fact: DisputeOpenedFact = {
        disputeId: id,
        amountMinor,
        reason: "fraudulent",
        stripeStatus,
        evidenceDueBy: w.now + 200 * HOUR_MS,
      };
      w.inbox.push({ type, ...fact });
    },
  );

/** Stripe's statuses an update of an open dispute may report (an inquiry's are their `warning_` forms). */
export const DISPUTE_UPDATE_STATUSES = ["under_review", "needs_response", "lost", "won"] as const;

/**
 * Stripe updates the open dispute: a new status (`lost` or `won` before its closure
 * too), sometimes a new evidence deadline.
 */
const disputeUpdatedCommand = (
  status: (typeof DISPUTE_UPDATE_STATUSES)[number],
  newDeadline: boolean,
): WorldCommand<Drivable> =>
  simple(
    `dispute updated (${status}${newDeadline ? ", new deadline" : ""})`,
    (w) => w.stripe.disputeOpen,
    (w) => {
      const x = w.stripe.dispute;
      if (!x) return;
      const stripeStatus = !x.inquiry
        ? status
        : status === "needs_response"
          ? "warning_needs_response"
          : "warning_under_review";
      x.status = stripeStatus;
      const fact: DisputeUpdatedFact = {
        disputeId: x.id,
        stripeStatus,
        ...(newDeadline ? { evidenceDueBy: w.now + 100 * HOUR_MS } : {}),
      };
      w.inbox.push({ type: "dispute_updated", ...fact });
    },
  );

/**
 * The open dispute closes: an inquiry always as `warning_closed` (won: no money moved); a
 * chargeback won, or lost for its amount or a part of it (Stripe's last word on what it
 * took, at most what is left).
 */
const disputeClosedCommand = (outcome: "won" | "lost", partBp = 10_000): WorldCommand<Drivable> =>
  simple(
    `dispute ${outcome}${outcome === "lost" && partBp < 10_000 ? ` (${partBp / 100}% of it)` : ""}`,
    (w) => w.stripe.disputeOpen,
    (w) => {
      const x = w.stripe.dispute;
      if (!x) return;
      w.stripe.disputeOpen = false;
      const lost = outcome === "lost" && !x.inquiry;
      const left = leftAtStripe(w.stripe);
      const amountMinor = Math.min(partOf(x.amountMinor, partBp), left);
      x.status = lost ? "lost" : "won";
      if (lost) w.stripe.lostMinor += amountMinor;
      const fact: DisputeClosedFact = { disputeId: x.id, outcome: lost ? "lost" : "won", amountMinor };
      w.inbox.push({ type: "dispute_closed", ...fact });
    },
  );

/** Time passes. */
const hoursPassCommand = (hours: number): WorldCommand<Drivable> =>
  simple(
    `${hours} h pass`,
    () => true,
    (w) => {
      w.now += hours * HOUR_MS;
    },
  );

/** The commands both payment model tests drive their worlds with (each test maps its arbitraries onto them). */
export const commands = Object.freeze({
  deliver: deliverCommand,
  replay: replayCommand,
  fireTimer: fireTimerCommand,
  reversal: reversalCommand,
  refundFailsLater: refundFailsLaterCommand,
  refundLookedUp: refundLookedUpCommand,
  disputeOpened: disputeOpenedCommand,
  disputeUpdated: disputeUpdatedCommand,
  disputeClosed: disputeClosedCommand,
  hoursPass: hoursPassCommand,
});
