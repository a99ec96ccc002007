// Model-based test of held payments: random payments driven through random commands
// (client app, admins), Stripe's answers (payments, transfers, refunds, reversals,
// disputes), timers and the passing of time — with Stripe's facts delivered in any order,
// duplicated at once and replayed late.
//
// A small world plays Stripe and the scheduler: it executes the effects the payment asks
// for (a transfer is pending until the test decides its outcome, which it then reports as
// a fact into an inbox) and keeps its own books of what really moved. A model follows the
// rules of the commands beside the real payment and predicts each command's outcome (done,
// or which error) from what it saw: what the client app and admins did, the facts
// delivered, the effects asked for. After every step:
//
// - the ledger balances, and the payment's money adds up (paid in = held + set aside +
//   seller + fees + refunds + dispute losses);
// - the hold is zero once the payment is released, refunded or charged back and nothing is
//   on its way back or out;
// - the seller is never paid twice: no transfer is asked for while another may land or
//   after one landed, Stripe never creates two, and the ledger never pays more than the share;
// - refunds (and losses) never exceed what was captured, at Stripe or in the ledger;
// - no two different effects share an id;
// - every status change is in HELD_PAYMENT_TRANSITIONS;
// - a Stripe fact delivered twice in a row is ignored the second time, with no effects.
import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  checkHeldMoney,
  checkLedgerInvariants,
  emptyLedger,
  type Ledger,
  postTransaction,
} from "../ledger/index.js";
import { DEFAULT_HELD_PAYMENT_POLICY } from "../policy/held-payment-policy.js";
import { HOUR_MS } from "../shared/time.js";
import { createHeldPayment, decideHeldPayment } from "./decide.js";
import type { HeldPaymentErrorCode } from "./held-payment.errors.js";
import type { HeldPayment, HeldPaymentStatus } from "./held-payment.js";
import type { HeldPaymentEffect } from "./held-payment-effect.js";
import type { HeldPaymentInput } from "./held-payment-input.js";
import { isHeldPaymentMoveAllowed } from "./held-payment-transitions.js";

const policy = DEFAULT_HELD_PAYMENT_POLICY;
const T0 = Date.UTC(2026, 2, 2);
const ID = "hp1";

type Timer = Extract<HeldPaymentEffect, { kind: "schedule_timer" }>;

/** What the model knows, from what it saw happen (never the payment's internals). */
interface Model {
  fulfilment: "pending" | "confirmed" | "unfulfilled";
  hold: boolean;
  captured: boolean;
  /** Refunds asked for (amount), by number, and whether each is done. */
  refunds: Map<number, { amountMinor: number; done: boolean }>;
  lostMinor: number;
  /** Disputes whose creation or closure was delivered, and whether they are still open. */
  disputes: Map<string, boolean>;
  /** Transfer attempts asked for and not yet answered (an uncertain answer keeps one open). */
  transfersOpen: Set<number>;
  /** Attempts Stripe answered with an error that leaves their outcome unknown. */
  transfersUnknown: Set<number>;
  transferLanded: boolean;
}

/** The payment, the world around it, and the checks. */
class World {
  state: HeldPayment;
  ledger: Ledger = emptyLedger();
  now = T0;
  readonly effects = new Map<string, HeldPaymentEffect>();
  readonly problems: string[] = [];
  // Stripe's side
  sessionOpen = true;
  pendingTransfers: Extract<HeldPaymentEffect, { kind: "transfer" }>[] = [];
  pendingRefunds: Extract<HeldPaymentEffect, { kind: "refund" }>[] = [];
  pendingReversals: Extract<HeldPaymentEffect, { kind: "reverse_transfer" }>[] = [];
  timers: Timer[] = [];
  inbox: HeldPaymentInput[] = [];
  delivered: HeldPaymentInput[] = [];
  stripe = { capturedMinor: 0, transfersCreated: 0, refundedMinor: 0, disputes: 0, disputeOpen: false };
  readonly model: Model = {
    fulfilment: "pending",
    hold: false,
    captured: false,
    refunds: new Map(),
    lostMinor: 0,
    disputes: new Map(),
    transfersOpen: new Set(),
    transfersUnknown: new Set(),
    transferLanded: false,
  };

  constructor(
    readonly amountMinor: number,
    sellerCanReceive: boolean,
  ) {
    const d = createHeldPayment(
      {
        id: ID,
        clientReference: "booking_1",
        requestedBy: "app_1",
        amountMinor,
        currency: "AUD",
        seller: { id: "sel_1", connectedAccountId: "acct_1", canReceive: sellerCanReceive },
        description: "A booking",
        customer: { email: "c@example.com" },
        fee: { kind: "rate", basisPoints: 1_250 },
        successUrl: "https://app.example/done",
      },
      { now: T0, policy },
    )._unsafeUnwrap();
    this.state = d.state;
    this.absorb(d.effects);
  }

  /** Feeds an input to the payment; returns the error code, or undefined when it applied or was ignored. */
  apply(input: HeldPaymentInput): {
    code?: HeldPaymentErrorCode;
    ignored?: string;
    effects: HeldPaymentEffect[];
  } {
    const before = this.state;
    const d = decideHeldPayment(before, input, { now: this.now, policy });
    if (d.isErr()) {
      this.check();
      return { code: d.error.code, effects: [] };
    }
    const { state, effects, ignored } = d.value;
    if (!isHeldPaymentMoveAllowed(before.status, state.status))
      this.problems.push(`${before.status} → ${state.status} (on ${input.type}) is not in the table`);
    if (ignored && (state !== before || effects.length > 0))
      this.problems.push(`an ignored ${input.type} changed the state or made effects`);
    // The store bumps the version of every change it keeps (ids of repeatable steps use it).
    this.state = ignored ? state : { ...state, version: before.version + 1 };
    this.observe(input, effects, ignored !== undefined);
    this.absorb(effects);
    this.check();
    return { ...(ignored ? { ignored: ignored.code } : {}), effects: [...effects] };
  }

  /** Delivers a Stripe fact; `twice` delivers it again at once, which must be ignored. */
  deliver(fact: HeldPaymentInput, twice: boolean): void {
    this.delivered.push(fact);
    this.apply(fact);
    if (twice) {
      const again = this.apply(fact);
      if (again.ignored === undefined)
        this.problems.push(`a repeated ${JSON.stringify(fact)} was not ignored`);
    }
  }

  /** What the model learns from a decision's inputs and effects. */
  private observe(input: HeldPaymentInput, effects: readonly HeldPaymentEffect[], ignored: boolean): void {
    const m = this.model;
    // An admin's release of a blocked payment (not the lifting of their hold) writes off the
    // attempts whose outcome was unknown (their word that no money moved), before any new
    // attempt is asked for.
    if (input.type === "admin_release" && !ignored && !m.hold)
      for (const a of m.transfersUnknown) m.transfersOpen.delete(a);
    for (const e of effects) {
      if (e.kind === "post_ledger" && e.id === `${ID}:ledger:captured`) m.captured = true;
      if (e.kind === "refund" && !m.refunds.has(e.refund))
        m.refunds.set(e.refund, { amountMinor: e.amountMinor, done: false });
      if (e.kind === "notify" && e.template === "refund_started") {
        const n = Number(e.id.split(":").at(-1));
        if (!m.refunds.has(n)) m.refunds.set(n, { amountMinor: Number(e.data.amountMinor), done: false });
      }
      if (e.kind === "transfer") {
        if (m.transfersOpen.size > 0 || m.transferLanded)
          this.problems.push(`transfer ${e.id} asked for while another may land or after one landed`);
        m.transfersOpen.add(e.attempt);
      }
    }
    switch (input.type) {
      case "refund_succeeded": {
        const r = m.refunds.get(input.refund);
        if (r && !ignored) r.done = true;
        break;
      }
      case "refund_failed": {
        const r = m.refunds.get(input.refund);
        if (r && !ignored) r.done = false;
        break;
      }
      case "transfer_created":
        if (m.transfersOpen.delete(input.attempt)) m.transferLanded = true;
        break;
      case "transfer_failed":
        if (ignored) break;
        if (input.failureCode === "api_error") m.transfersUnknown.add(input.attempt);
        else m.transfersOpen.delete(input.attempt);
        break;
      case "dispute_created":
        if (m.captured && !m.disputes.has(input.disputeId)) m.disputes.set(input.disputeId, true);
        break;
      case "dispute_closed":
        if (ignored || !m.captured) break;
        m.disputes.set(input.disputeId, false);
        // A lost dispute takes what it says, up to what is left (refunds asked for count as gone).
        if (input.outcome === "lost") m.lostMinor += Math.min(input.amountMinor, this.remainingMinor());
        break;
    }
  }

  /** Takes the effects into the world: Stripe's work becomes pending, timers are armed. */
  private absorb(effects: readonly HeldPaymentEffect[]): void {
    for (const e of effects) {
      const first = this.effects.get(e.id);
      if (first === undefined) this.effects.set(e.id, e);
      else if (!isDeepStrictEqual(first, e)) this.problems.push(`two different effects share the id ${e.id}`);
      else continue; // the outbox keeps one
      switch (e.kind) {
        case "post_ledger": {
          const posted = postTransaction(this.ledger, e.transaction);
          if (posted.isErr()) this.problems.push(`posting ${e.id} refused: ${posted.error.message}`);
          else this.ledger = posted.value;
          break;
        }
        case "transfer":
          this.pendingTransfers.push(e);
          break;
        case "refund":
          this.pendingRefunds.push(e);
          break;
        case "reverse_transfer":
          this.pendingReversals.push(e);
          break;
        case "schedule_timer":
          this.timers.push(e);
          break;
        default:
          break;
      }
    }
  }

  /** The invariants, after every step. */
  check(): void {
    const s = this.state;
    const books = checkLedgerInvariants(this.ledger);
    if (books.isErr()) this.problems.push(`ledger: ${books.error.message}`);
    const money = checkHeldMoney(this.ledger, ID, "AUD");
    if (money.isErr()) {
      this.problems.push(money.error.message);
      return;
    }
    const m = money.value;
    if (m.sellerMinor > s.sellerShareMinor)
      this.problems.push(`the seller was paid ${m.sellerMinor} of a ${s.sellerShareMinor} share`);
    if (this.stripe.transfersCreated > 1)
      this.problems.push("Stripe created two transfers: the seller was paid twice");
    if (m.refundedMinor + m.disputeLostMinor > m.paidInMinor)
      this.problems.push(`given back ${m.refundedMinor + m.disputeLostMinor} of ${m.paidInMinor} paid`);
    if (this.stripe.refundedMinor > this.stripe.capturedMinor)
      this.problems.push(`Stripe refunded ${this.stripe.refundedMinor} of ${this.stripe.capturedMinor}`);
    const askedMinor = [...this.model.refunds.values()].reduce((sum, r) => sum + r.amountMinor, 0);
    if (askedMinor > this.amountMinor)
      this.problems.push(`refunds asked for ${askedMinor} of ${this.amountMinor}`);
    const quiet =
      s.reversals.every((r) => r.status === "reversed") && s.refunds.every((r) => r.status === "succeeded");
    const ended: readonly HeldPaymentStatus[] = ["released", "refunded", "charged_back"];
    if (quiet && ended.includes(s.status) && m.holdMinor !== 0)
      this.problems.push(`${s.status} with ${m.holdMinor} still in the hold`);
    if (s.status === "refunded" && m.refundedMinor + m.disputeLostMinor !== m.paidInMinor)
      this.problems.push("refunded, but not everything was given back");
  }

  // ------------------------------------------------------------ the model's predictions

  remainingMinor(): number {
    const asked = [...this.model.refunds.values()].reduce((sum, r) => sum + r.amountMinor, 0);
    return this.model.captured ? this.amountMinor - asked - this.model.lostMinor : 0;
  }

  unfinishedRefund(): boolean {
    return [...this.model.refunds.values()].some((r) => !r.done);
  }

  disputed(): boolean {
    return [...this.model.disputes.values()].some((open) => open);
  }

  /** What a command must do, by the rules, from what the model saw; undefined: it applies. */
  predict(input: HeldPaymentInput): HeldPaymentErrorCode | undefined {
    const m = this.model;
    const status = this.state.status;
    const unpaid = status === "awaiting_payment" || status === "expired" || status === "payment_failed";
    switch (input.type) {
      case "confirm_fulfilled":
        if (unpaid) return "payment_not_captured";
        if (m.fulfilment !== "pending") return "fulfilment_already_reported";
        if (status !== "held" && status !== "payment_processing") return "payment_ended";
        return undefined;
      case "report_unfulfilled":
        if (unpaid) return "payment_not_captured";
        if (m.fulfilment !== "pending") return "fulfilment_already_reported";
        if (status === "payment_processing") return "payment_not_captured";
        if (status !== "held") return "payment_ended";
        if (this.disputed()) return "payment_disputed";
        if (this.unfinishedRefund()) return "refund_in_flight";
        return undefined;
      case "admin_hold":
        if (status === "releasing") return "release_in_flight";
        if (!["awaiting_payment", "payment_processing", "held", "release_blocked"].includes(status))
          return "not_holdable";
        return m.hold ? "already_on_hold" : undefined;
      case "admin_release":
        if (m.hold) return undefined;
        if (status !== "release_blocked") return "not_on_hold";
        if (this.disputed()) return "payment_disputed";
        if (this.unfinishedRefund()) return "refund_in_flight";
        if (!this.state.sellerCanReceive) return "seller_cannot_receive";
        return undefined;
      case "refund": {
        if (!m.captured) return "payment_not_captured";
        if (status === "refunding") return "refund_in_flight";
        const left = this.remainingMinor();
        if (left === 0) return "nothing_to_refund";
        if (m.transfersOpen.size > 0) return "release_in_flight";
        if (this.disputed()) return "payment_disputed";
        if (this.unfinishedRefund()) return "refund_in_flight";
        const a = input.amountMinor ?? left;
        return a <= 0 || a > left ? "invalid_refund_amount" : undefined;
      }
      case "retry_refund": {
        const failed = this.state.refunds.some(
          (r) => r.status === "failed" || r.status === "reversal_failed",
        );
        if (!failed) return "no_failed_refund";
        return this.disputed() ? "payment_disputed" : undefined;
      }
      default:
        return undefined;
    }
  }

  /** Runs a command and compares with the model's prediction; the model then follows. */
  command(input: HeldPaymentInput): void {
    const expected = this.predict(input);
    const holdBefore = this.model.hold;
    const { code } = this.apply(input);
    if (code !== expected)
      this.problems.push(`${JSON.stringify(input)}: expected ${expected ?? "ok"}, got ${code ?? "ok"}`);
    if (code !== undefined) return;
    if (input.type === "confirm_fulfilled") this.model.fulfilment = "confirmed";
    if (input.type === "report_unfulfilled") this.model.fulfilment = "unfulfilled";
    if (input.type === "admin_hold") this.model.hold = true;
    if (input.type === "admin_release" && holdBefore) this.model.hold = false;
  }
}

// ---------------------------------------------------------------- commands

type Cmd = fc.Command<object, World>;

const simple = (name: string, check: (w: World) => boolean, run: (w: World) => void): Cmd => ({
  check: () => true,
  run: (_m, w) => {
    if (check(w)) run(w);
  },
  toString: () => name,
});

const pick = <T>(items: readonly T[], i: number): T | undefined => items[i % Math.max(1, items.length)];

type PayHow = "card" | "delayed_ok" | "delayed_fail";

/** The customer pays: Stripe's facts about it go to the inbox. */
function pay(w: World, how: PayHow): void {
  w.sessionOpen = false;
  const base = { sessionId: "cs_1", paymentIntentId: "pi_1" } as const;
  if (how === "card") {
    w.inbox.push({ type: "checkout_completed", ...base, paymentStatus: "succeeded", chargeId: "ch_1" });
    w.stripe.capturedMinor = w.amountMinor;
    return;
  }
  w.inbox.push({ type: "checkout_completed", ...base, paymentStatus: "processing" });
  if (how === "delayed_ok") {
    w.inbox.push({ type: "async_payment_succeeded", ...base, chargeId: "ch_1" });
    w.stripe.capturedMinor = w.amountMinor;
  } else w.inbox.push({ type: "async_payment_failed", ...base, failureCode: "insufficient_funds" });
}

const deliverArb = fc.tuple(fc.nat(), fc.boolean()).map(([i, twice]) =>
  simple(
    `deliver(${i}${twice ? ", twice" : ""})`,
    (w) => w.inbox.length > 0,
    (w) => {
      const [fact] = w.inbox.splice(i % w.inbox.length, 1);
      if (fact) w.deliver(fact, twice);
    },
  ),
);

const fireTimerArb = fc.nat().map((i) =>
  simple(
    `fire timer ${i}`,
    (w) => w.timers.length > 0,
    (w) => {
      const [t] = w.timers.splice(i % w.timers.length, 1);
      if (!t) return;
      w.now = Math.max(w.now, t.at);
      w.apply({ type: "timer", timer: t.timer });
    },
  ),
);

const commandArbs: fc.Arbitrary<Cmd>[] = [
  // the customer
  fc.constantFrom<PayHow>("card", "delayed_ok", "delayed_fail").map((how) =>
    simple(
      `pay(${how})`,
      (w) => w.sessionOpen,
      (w) => pay(w, how),
    ),
  ),
  fc.constant(
    simple(
      "session expires",
      (w) => w.sessionOpen,
      (w) => {
        w.sessionOpen = false;
        w.inbox.push({ type: "checkout_expired", sessionId: "cs_1" });
      },
    ),
  ),
  // Stripe's facts, in any order, sometimes twice in a row, sometimes replayed late
  deliverArb,
  deliverArb,
  deliverArb,
  fc.nat().map((i) =>
    simple(
      `replay(${i})`,
      (w) => w.delivered.length > 0,
      (w) => {
        const fact = pick(w.delivered, i);
        if (fact) w.apply(fact);
      },
    ),
  ),
  // Stripe answers the payment's requests
  fc
    .tuple(fc.nat(), fc.constantFrom("created", "balance_insufficient", "account_invalid", "api_error"))
    .map(([i, outcome]) =>
      simple(
        `transfer ${outcome}`,
        (w) => w.pendingTransfers.length > 0,
        (w) => {
          const [t] = w.pendingTransfers.splice(i % w.pendingTransfers.length, 1);
          if (!t) return;
          if (outcome === "created") {
            w.stripe.transfersCreated += 1;
            w.inbox.push({ type: "transfer_created", attempt: t.attempt, transferId: `tr_${t.attempt}` });
          } else w.inbox.push({ type: "transfer_failed", attempt: t.attempt, failureCode: outcome });
        },
      ),
    ),
  fc.tuple(fc.nat(), fc.boolean()).map(([i, ok]) =>
    simple(
      `refund ${ok ? "succeeds" : "fails"}`,
      (w) => w.pendingRefunds.length > 0,
      (w) => {
        const [r] = w.pendingRefunds.splice(i % w.pendingRefunds.length, 1);
        if (!r) return;
        if (ok) {
          w.stripe.refundedMinor += r.amountMinor;
          w.inbox.push({
            type: "refund_succeeded",
            refund: r.refund,
            attempt: r.attempt,
            refundId: `re_${r.id}`,
          });
        } else
          w.inbox.push({
            type: "refund_failed",
            refund: r.refund,
            attempt: r.attempt,
            failureCode: "expired_or_canceled_card",
          });
      },
    ),
  ),
  fc.tuple(fc.nat(), fc.boolean()).map(([i, ok]) =>
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
    ),
  ),
  // disputes: at most one open at a time at Stripe, for what was not refunded
  fc.constant(
    simple(
      "dispute opened",
      (w) => w.stripe.capturedMinor > w.stripe.refundedMinor && !w.stripe.disputeOpen,
      (w) => {
        w.stripe.disputes += 1;
        w.stripe.disputeOpen = true;
        w.inbox.push({
          type: "dispute_created",
          disputeId: `dp_${w.stripe.disputes}`,
          amountMinor: w.stripe.capturedMinor - w.stripe.refundedMinor,
          reason: "fraudulent",
          stripeStatus: "needs_response",
          evidenceDueBy: w.now + 200 * HOUR_MS,
        });
      },
    ),
  ),
  fc.constantFrom("won" as const, "lost" as const).map((outcome) =>
    simple(
      `dispute ${outcome}`,
      (w) => w.stripe.disputeOpen,
      (w) => {
        w.stripe.disputeOpen = false;
        w.inbox.push({
          type: "dispute_closed",
          disputeId: `dp_${w.stripe.disputes}`,
          outcome,
          amountMinor: w.stripe.capturedMinor - w.stripe.refundedMinor,
        });
      },
    ),
  ),
  fc.boolean().map((ready) =>
    simple(
      `seller account ${ready ? "ready" : "not ready"}`,
      () => true,
      (w) =>
        w.apply(
          ready
            ? { type: "seller_account_ready" }
            : { type: "seller_account_not_ready", reason: "restricted" },
        ),
    ),
  ),
  // the scheduler
  fireTimerArb,
  fireTimerArb,
  fc.integer({ min: 1, max: 100 }).map((hours) =>
    simple(
      `${hours} h pass`,
      () => true,
      (w) => {
        w.now += hours * HOUR_MS;
      },
    ),
  ),
  // the client app and the admins
  fc.constant(
    simple(
      "confirm fulfilled",
      () => true,
      (w) => w.command({ type: "confirm_fulfilled" }),
    ),
  ),
  fc.constant(
    simple(
      "report unfulfilled",
      () => true,
      (w) => w.command({ type: "report_unfulfilled", reason: "no room" }),
    ),
  ),
  fc.constant(
    simple(
      "admin hold",
      () => true,
      (w) => w.command({ type: "admin_hold", by: "admin", reason: "check" }),
    ),
  ),
  fc.constant(
    simple(
      "admin release",
      () => true,
      (w) => w.command({ type: "admin_release", by: "admin" }),
    ),
  ),
  fc.option(fc.integer({ min: -100, max: 12_000 }), { nil: undefined }).map((amountMinor) =>
    simple(
      `refund ${amountMinor ?? "all"}`,
      () => true,
      (w) =>
        w.command(
          amountMinor === undefined
            ? { type: "refund", by: "admin" }
            : { type: "refund", by: "admin", amountMinor },
        ),
    ),
  ),
  fc.constant(
    simple(
      "retry refund",
      () => true,
      (w) => w.command({ type: "retry_refund", by: "admin" }),
    ),
  ),
];

describe("held payments against a model (fc.commands)", () => {
  it("every step keeps the books, the hold, the seller and the customer whole, and every command does what the rules say", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1_000, max: 10_000 }),
        fc.boolean(),
        fc.constantFrom<PayHow | "later">("card", "card", "delayed_ok", "delayed_fail", "later"),
        fc.boolean(),
        fc.array(fc.nat(), { minLength: 2, maxLength: 2 }),
        fc.commands(commandArbs, { maxCommands: 120, size: "max" }),
        (amountMinor, sellerCanReceive, how, confirmFirst, order, cmds) => {
          const world = new World(amountMinor, sellerCanReceive);
          // Most payments are paid before the chaos starts, their facts delivered in any
          // order, and many bookings confirmed at once.
          if (how !== "later") {
            pay(world, how);
            for (const i of order) {
              const [fact] = world.inbox.splice(i % Math.max(1, world.inbox.length), 1);
              if (fact) world.deliver(fact, false);
            }
          }
          if (confirmFirst) world.command({ type: "confirm_fulfilled" });
          fc.modelRun(() => ({ model: {}, real: world }), cmds);
          expect(world.problems).toEqual([]);
        },
      ),
      { numRuns: 400 },
    );
  });
});
