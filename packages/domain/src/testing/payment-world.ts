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
import type { DisputeClosedFact, DisputeOpenedFact } from "../kernel/payment-facts.js";
import { checkLedgerInvariants, emptyLedger, type Ledger, postTransaction } from "../ledger/index.js";
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

/** Stripe's side, as the world counts it: what really moved. */
export interface StripeSide {
  capturedMinor: number;
  refundedMinor: number;
  disputes: number;
  disputeOpen: boolean;
}

/** The money a payment's books say moved (from `checkHeldMoney`, `checkMarketplaceMoney`). */
export interface PaymentBooks {
  readonly paidInMinor: number;
  readonly refundedMinor: number;
  readonly disputeLostMinor: number;
}

type EffectShape = { readonly kind: string; readonly id: string };
type Pending<E, K extends string> = Extract<E, { readonly kind: K }>;

/** A payment aggregate, the world around it, and the checks after every step. */
export abstract class PaymentWorld<
  S extends { readonly status: string; readonly version: number },
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
  // Stripe's side: work asked for and not answered yet, timers armed, facts to report
  pendingTransfers: Pending<E, "transfer">[] = [];
  pendingRefunds: Pending<E, "refund">[] = [];
  pendingReversals: Pending<E, "reverse_transfer">[] = [];
  /** Look-ups of a transfer attempt at Stripe asked for and not answered yet. */
  pendingLookups: Pending<E, "find_transfer">[] = [];
  timers: Pending<E, "schedule_timer">[] = [];
  inbox: I[] = [];
  delivered: I[] = [];
  abstract readonly stripe: StripeSide;
  abstract readonly model: PaymentModel;

  constructor(
    readonly amountMinor: number,
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

  /** Feeds an input to the aggregate; returns the error code, or nothing when it applied or was ignored. */
  apply(input: I): { code?: Code; ignored?: string; effects: E[] } {
    const before = this.state;
    const d = this.decide(before, input);
    if (d.isErr()) {
      this.check();
      return { code: d.error.code, effects: [] };
    }
    const { state, effects, ignored } = d.value;
    if (!this.moveAllowed(before.status, state.status))
      this.problems.push(`${before.status} → ${state.status} (on ${input.type}) is not in the table`);
    if (ignored && (state !== before || effects.length > 0))
      this.problems.push(`an ignored ${input.type} changed the state or made effects`);
    // The store bumps the version of every change it keeps (ids of repeatable steps use it).
    this.state = ignored ? state : { ...state, version: before.version + 1 };
    this.previous = before;
    this.observe(input, effects, ignored !== undefined);
    this.absorb(effects);
    this.check();
    return { ...(ignored ? { ignored: ignored.code } : {}), effects: [...effects] };
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
      if (isPosting(e)) {
        const posted = postTransaction(this.ledger, e.transaction);
        if (posted.isErr()) this.problems.push(`posting ${e.id} refused: ${posted.error.message}`);
        else this.ledger = posted.value;
      } else if (isKind(e, "transfer")) this.pendingTransfers.push(e);
      else if (isKind(e, "refund")) this.pendingRefunds.push(e);
      else if (isKind(e, "reverse_transfer")) this.pendingReversals.push(e);
      else if (isKind(e, "find_transfer")) this.pendingLookups.push(e);
      else if (isKind(e, "schedule_timer")) this.timers.push(e);
    }
  }

  /**
   * The checks every payment shares: the ledger balances, nothing is given back beyond
   * what was paid (in the books, at Stripe, or asked for), and a refunded payment gave
   * back everything. `books` is the aggregate's money from its books.
   */
  protected checkPayment(books: PaymentBooks): void {
    const given = books.refundedMinor + books.disputeLostMinor;
    if (given > books.paidInMinor) this.problems.push(`given back ${given} of ${books.paidInMinor} paid`);
    if (this.stripe.refundedMinor > this.stripe.capturedMinor)
      this.problems.push(`Stripe refunded ${this.stripe.refundedMinor} of ${this.stripe.capturedMinor}`);
    const askedMinor = [...this.model.refunds.values()].reduce((sum, r) => sum + r.amountMinor, 0);
    if (askedMinor > this.amountMinor)
      this.problems.push(`refunds asked for ${askedMinor} of ${this.amountMinor}`);
    if (this.state.status === "refunded" && given !== books.paidInMinor)
      this.problems.push("refunded, but not everything was given back");
  }

  /** The ledger's own invariants (balanced, …). */
  protected checkLedger(): void {
    const books = checkLedgerInvariants(this.ledger);
    if (books.isErr()) this.problems.push(`ledger: ${books.error.message}`);
  }

  /** What is left to refund or lose, by the model: captured minus refunds asked for and losses. */
  remainingMinor(): number {
    const asked = [...this.model.refunds.values()].reduce((sum, r) => sum + r.amountMinor, 0);
    return this.model.captured ? this.amountMinor - asked - this.model.lostMinor : 0;
  }
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

/** The customer's bank disputes what was not refunded (at most one open at a time at Stripe); `type` is the aggregate's name for the fact. */
const disputeOpenedCommand = (type: "dispute_created" | "dispute_opened"): WorldCommand<Drivable> =>
  simple(
    "dispute opened",
    (w) => w.stripe.capturedMinor > w.stripe.refundedMinor && !w.stripe.disputeOpen,
    (w) => {
      w.stripe.disputes += 1;
      w.stripe.disputeOpen = true;
      const fact: DisputeOpenedFact = {
        disputeId: `dp_${w.stripe.disputes}`,
        amountMinor: w.stripe.capturedMinor - w.stripe.refundedMinor,
        reason: "fraudulent",
        stripeStatus: "needs_response",
        evidenceDueBy: w.now + 200 * HOUR_MS,
      };
      w.inbox.push({ type, ...fact });
    },
  );

/** The open dispute closes, won or lost (for what was not refunded). */
const disputeClosedCommand = (outcome: "won" | "lost"): WorldCommand<Drivable> =>
  simple(
    `dispute ${outcome}`,
    (w) => w.stripe.disputeOpen,
    (w) => {
      w.stripe.disputeOpen = false;
      const fact: DisputeClosedFact = {
        disputeId: `dp_${w.stripe.disputes}`,
        outcome,
        amountMinor: w.stripe.capturedMinor - w.stripe.refundedMinor,
      };
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
  disputeOpened: disputeOpenedCommand,
  disputeClosed: disputeClosedCommand,
  hoursPass: hoursPassCommand,
});
