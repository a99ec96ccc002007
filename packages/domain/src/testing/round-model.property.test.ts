// Model-based test of whole rotations: random groups, random debit outcomes, payout
// accounts that cannot receive, admins fixing or reassigning, members retrying, lost
// gateway replies, and Stripe facts that arrive duplicated, shuffled and late. Refunds
// fail too (when made, or after they succeeded), admins retry them (retry_refund), old
// attempts' refund news comes back late, and a debit recorded as failed takes the money
// after all, whatever its round is doing. While the round collects and the member still
// owes with nothing else in flight, that charge is their contribution (a slow bank: counted,
// paid out or refunded like any); otherwise it is a second charge, refunded on its own,
// exactly once, in rounds paid out and cancelled alike.
//
// A model runs beside the real system and says, from the rules alone, what each command
// must do: which error a refused command gives, who each round pays (the next in the
// payout order, nobody twice in a rotation), which contributions a cancelled round
// refunds (exactly the debits that succeeded), what each member paid in and got back,
// and the status each round must be in once the system is quiet, wherever the rules
// decide it. Timing the model does not follow (retry jitter, faults delaying an effect)
// it does not guess: it then only checks that the status the system reached is one the
// transition table allows from the last one it knew. The model reads what the bank did
// (the fake gateway's debits, refunds and transfers) and whether effects are still
// queued, never the rounds' internals, and the run fails on any difference.
//
// Beside the model, every stored change is watched: no two different effects may share
// an id (the outbox would keep the first and silently drop the other), no two different
// ledger transactions may share an id, and every stored status change must follow
// ROUND_TRANSITIONS. After every step the books must balance; at the end every round must
// have ended or be blocked with a ticket, and every cent the bank collected must be
// accounted for.
import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { PaymentFact, PaymentObjectFact } from "../facts/payment-fact.js";
import type { Group } from "../group/group.js";
import {
  balanceOf,
  checkLedgerInvariants,
  checkRoundMoney,
  type LedgerTransaction,
  roundAccounts,
  roundMoney,
} from "../ledger/index.js";
import { DEFAULT_ROUND_POLICY } from "../policy/round-policy.js";
import type { OutboxEffect } from "../ports/outbox-effect.js";
import type { Changeset } from "../ports/storage.js";
import type { Round, RoundStatus } from "../round/round.js";
import { roundIds } from "../round/round-ids.js";
import { ROUND_TRANSITIONS } from "../round/round-transitions.js";
import { seededFractions } from "../shared/hash.js";
import { DAY_MS, HOUR_MS, type Instant } from "../shared/time.js";
import * as useCases from "../use-cases/index.js";
import type {
  FakeDebit,
  FakeDebitOutcome,
  FakePaymentGateway,
  FakeRefund,
  FakeTransfer,
} from "./fake-payment-gateway.js";
import { InMemorySusu } from "./in-memory-susu.js";
import { surplusRaceOrders } from "./surplus-refund-race.js";

const NUM_RUNS = 60;
/** Statuses Stripe gives a dispute before it closes (`lost` and `won` included: the status may say so first). */
const DISPUTE_STATUSES = ["needs_response", "under_review", "warning_needs_response", "lost", "won"] as const;
const CONTRIBUTION_MINOR = 100_00;
const WEEK_MS = 7 * DAY_MS;
// The group runs on the default policy; the fake bank settles a debit three days after it is made.
const POLICY = DEFAULT_ROUND_POLICY;
const SETTLEMENT_MS = 3 * DAY_MS;

interface Scenario {
  readonly members: number;
  readonly outcomes: readonly (readonly FakeDebitOutcome[])[];
  readonly canReceive: readonly boolean[];
  readonly chaosSeed: number;
}

const outcomeArb: fc.Arbitrary<FakeDebitOutcome> = fc.oneof(
  { weight: 6, arbitrary: fc.constant("succeed" as const) },
  { weight: 2, arbitrary: fc.constant({ fail: "insufficient_funds" }) },
  { weight: 1, arbitrary: fc.constant({ fail: "refer_to_customer" }) },
  { weight: 1, arbitrary: fc.constant({ fail: "account_closed" }) },
);

const scenarioArb: fc.Arbitrary<Scenario> = fc.integer({ min: 2, max: 4 }).chain((members) =>
  fc.record({
    members: fc.constant(members),
    outcomes: fc.array(fc.array(outcomeArb, { minLength: 1, maxLength: 3 }), {
      minLength: members,
      maxLength: members,
    }),
    canReceive: fc.array(fc.boolean(), { minLength: members, maxLength: members }),
    chaosSeed: fc.integer(),
  }),
);

// ---------------------------------------------------------------- what was stored

/**
 * Every changeset the run stored, watched at the unit of work — before the outbox, which
 * keeps the first effect under an id and drops the others, so a collision would pass unseen.
 */
interface Observed {
  readonly effects: Map<string, OutboxEffect>;
  readonly transactions: Map<string, LedgerTransaction>;
  readonly statuses: Map<string, RoundStatus>;
  /** Stored status changes, as `from→to`. */
  readonly changes: Set<string>;
  readonly problems: string[];
}

/** Whether `to` can be reached from `from` through ROUND_TRANSITIONS (staying put included). */
function reachable(from: RoundStatus, to: RoundStatus): boolean {
  const seen = new Set<RoundStatus>([from]);
  const queue: RoundStatus[] = [from];
  for (let next = queue.shift(); next !== undefined; next = queue.shift())
    for (const status of ROUND_TRANSITIONS[next])
      if (!seen.has(status)) {
        seen.add(status);
        queue.push(status);
      }
  return seen.has(to);
}

function record(o: Observed, changes: Changeset): void {
  for (const effect of changes.outbox) {
    const first = o.effects.get(effect.id);
    if (first === undefined) o.effects.set(effect.id, effect);
    else if (!isDeepStrictEqual(first, effect))
      o.problems.push(
        `two different effects share the id ${effect.id}: ${JSON.stringify(first)} and ${JSON.stringify(effect)}`,
      );
    if (effect.kind !== "post_ledger") continue;
    const tx = effect.transaction;
    if (tx.id !== effect.id) o.problems.push(`posting effect ${effect.id} carries transaction ${tx.id}`);
    const known = o.transactions.get(tx.id);
    if (known === undefined) o.transactions.set(tx.id, tx);
    else if (!isDeepStrictEqual(known, tx))
      o.problems.push(`two different ledger transactions share the id ${tx.id}`);
  }
  // A stored change may be several moves of one decision (collecting → settled →
  // paying_out when the payout starts at once): each must be a path through the table.
  // decide's moveTo checks every single move as it is made.
  for (const { state } of changes.rounds) {
    const from = o.statuses.get(state.id) ?? "scheduled";
    if (from !== state.status) {
      o.changes.add(`${from}→${state.status}`);
      if (!reachable(from, state.status))
        o.problems.push(
          `round ${state.id} was stored ${state.status} after ${from}: not in ROUND_TRANSITIONS`,
        );
    }
    o.statuses.set(state.id, state.status);
  }
}

function observe(sim: InMemorySusu): Observed {
  const o: Observed = {
    effects: new Map(),
    transactions: new Map(),
    statuses: new Map(),
    changes: new Set(),
    problems: [],
  };
  const commit = sim.store.commit.bind(sim.store);
  sim.store.commit = (changes) =>
    commit(changes).map((stored) => {
      record(o, changes);
      return stored;
    });
  return o;
}

// ---------------------------------------------------------------- what the bank did

interface World {
  readonly sim: InMemorySusu;
  readonly groupId: string;
  readonly memberIds: readonly string[];
  readonly delivered: PaymentFact[];
  readonly observed: Observed;
}

/** What the fake bank did, by round: read once for each comparison. */
class Bank {
  readonly #debits = new Map<string, FakeDebit[]>();
  readonly #refunds = new Map<string, FakeRefund[]>();
  readonly #refundsOfPayment = new Map<string, FakeRefund[]>();
  readonly #transfers = new Map<string, FakeTransfer[]>();

  constructor(gateway: FakePaymentGateway) {
    const add = <T>(map: Map<string, T[]>, key: string | undefined, item: T) => {
      if (key !== undefined) map.set(key, [...(map.get(key) ?? []), item]);
    };
    for (const d of gateway.debits.values()) add(this.#debits, d.references.roundId, d);
    for (const list of this.#debits.values())
      list.sort((a, b) => (a.references.attempt ?? 0) - (b.references.attempt ?? 0));
    for (const r of gateway.refunds.values()) {
      if (r.status === "succeeded") add(this.#refunds, r.references.roundId, r);
      add(this.#refundsOfPayment, r.paymentIntentId, r);
    }
    for (const t of gateway.transfers) add(this.#transfers, t.transferGroup, t);
  }

  /** A round's debits (of one member), oldest attempt first. */
  debits(roundId: string, memberId?: string): FakeDebit[] {
    const all = this.#debits.get(roundId) ?? [];
    return memberId === undefined ? all : all.filter((d) => d.references.memberId === memberId);
  }

  succeeded(roundId: string, memberId?: string): FakeDebit[] {
    return this.debits(roundId, memberId).filter((d) => d.status === "succeeded");
  }

  /** A round's refunds that went through. */
  refunds(roundId: string, memberId?: string): FakeRefund[] {
    const all = this.#refunds.get(roundId) ?? [];
    return memberId === undefined ? all : all.filter((r) => r.references.memberId === memberId);
  }

  /** Every refund of a payment, succeeded or not, oldest first. */
  refundsOf(paymentIntentId: string): FakeRefund[] {
    return this.#refundsOfPayment.get(paymentIntentId) ?? [];
  }

  /** What went back of a payment: its refunds that stand (succeeded, not failed since). */
  refundedOf(paymentIntentId: string): number {
    return sum(this.refundsOf(paymentIntentId).filter((r) => r.status === "succeeded"));
  }

  /** A round's charges (of one member) whose last refund failed: the member is owed them until a retry. */
  owed(roundId: string, memberId?: string): FakeDebit[] {
    return this.succeeded(roundId, memberId).filter(
      (d) => this.refundsOf(d.paymentIntentId).at(-1)?.status === "failed",
    );
  }

  /** Whether every charge of a round went back exactly once. */
  allRefundedOnce(roundId: string): boolean {
    return this.succeeded(roundId).every((d) => this.refundedOf(d.paymentIntentId) === d.amount.amountMinor);
  }

  transfers(round: Round): FakeTransfer[] {
    return this.#transfers.get(round.transferGroup) ?? [];
  }

  transfersOf(roundId: string): FakeTransfer[] {
    return this.#transfers.get(roundIds.transferGroup(roundId)) ?? [];
  }
}

const sum = (amounts: readonly { readonly amount: { readonly amountMinor: number } }[]) =>
  amounts.reduce((total, x) => total + x.amount.amountMinor, 0);

// ---------------------------------------------------------------- the model

/** What the model knows of one round. */
interface ModelRound {
  readonly id: string;
  recipient: string;
  readonly openedAt: Instant;
  /** As predicted, or (where the rules do not decide it) as last seen and checked reachable. */
  status: RoundStatus;
}

type MemberMoney = { netPaidMinor: number; receivedMinor: number };

/** The rules of a rotation, followed without the round's code: join order, one payout each, refunds. */
class Model {
  now: Instant;
  order: string[];
  readonly received: string[] = [];
  readonly rounds: ModelRound[] = [];
  /** Whether each member's account can receive at the bank (Stripe). */
  readonly canReceive: Map<string, boolean>;
  /** Whether susu has heard that it can: what the readiness rules read. Everyone was ready at activation. */
  readonly known: Map<string, boolean>;
  /** How often a status was predicted, by status: a model that never predicts proves nothing. */
  readonly predicted = new Map<RoundStatus, number>();
  /**
   * Charges the bank took after reporting them failed that their round does not count
   * (PaymentIntent ids): the member had paid, had another attempt in flight, or the round no
   * longer collected. Each is refunded on its own.
   */
  readonly surplus = new Set<string>();
  /**
   * Charges the bank took after reporting them failed that ARE the member's contribution
   * (the round collected, the member owed, nothing else of theirs in flight), with when
   * susu heard it: what counts as their payment's time against the deadline.
   */
  readonly lateCounted = new Map<string, Instant>();
  /**
   * Rounds one of whose charges a member disputed with their bank. The model does not
   * predict their status, who paid what or which late charge counts (a dispute may reopen
   * collection, cancel the round, or book a loss): the invariants check them instead.
   */
  readonly disputedRounds = new Set<string>();
  /** Late charges of disputed rounds: the model does not say whether they count. */
  readonly lateUnknown = new Set<string>();
  /** Disputes Stripe has closed (by id). */
  readonly closedDisputes = new Set<string>();

  constructor(
    readonly members: readonly string[],
    canReceive: readonly boolean[],
    now: Instant,
    readonly startsAt: Instant,
  ) {
    this.now = now;
    this.order = [...members];
    this.canReceive = new Map(members.map((m, i) => [m, canReceive[i] ?? true]));
    this.known = new Map(members.map((m) => [m, true]));
  }

  /** Stripe changes an account and says so: the bank and susu agree again. */
  setAccount(memberId: string, canReceive: boolean): void {
    this.canReceive.set(memberId, canReceive);
    this.known.set(memberId, canReceive);
  }

  /** The round in progress: the last one opened, unless it ended. */
  get current(): ModelRound | undefined {
    const last = this.rounds.at(-1);
    return last && last.status !== "paid_out" && last.status !== "cancelled" ? last : undefined;
  }

  /** A blocked payout pauses the group; paying everyone completes it (one rotation is planned). */
  get groupStatus(): Group["status"] {
    if (this.members.every((m) => this.received.includes(m))) return "completed";
    return this.current?.status === "payout_blocked" ? "paused" : "active";
  }

  /** What `startRound` must do: the error it gives, or the member the new round pays. */
  startRound(): { readonly code: string } | { readonly recipient: string } {
    if (this.groupStatus !== "active") return { code: "group_not_active" };
    if (this.current) return { code: "round_in_progress" };
    // Its slot, and never sooner than a week (less the hour's slack) after the last round opened.
    const lastOpenedAt = this.rounds.at(-1)?.openedAt;
    const slot = this.startsAt + this.rounds.length * WEEK_MS;
    const dueAt = lastOpenedAt === undefined ? slot : Math.max(slot, lastOpenedAt + WEEK_MS - HOUR_MS);
    if (this.now < dueAt) return { code: "no_round_due" };
    const recipient = this.order.find((m) => !this.received.includes(m));
    if (recipient === undefined) return { code: "no_round_due" };
    // Everyone still due the pot this rotation must be able to receive it, as far as susu knows.
    const due = this.order.filter((m) => !this.received.includes(m));
    if (due.some((m) => this.known.get(m) === false)) return { code: "members_not_ready" };
    return { recipient };
  }

  opened(id: string, recipient: string): void {
    this.rounds.push({ id, recipient, openedAt: this.now, status: "collecting" });
  }

  /** What an admin's reassignment of the current payout to `to` must do; applied when it succeeds. */
  reassign(to: string): string {
    const round = this.current;
    if (!round) return "no_round_due";
    if (round.status !== "payout_blocked") return "round_not_blocked";
    if (to === round.recipient) return "invalid_reassignment";
    if (this.received.includes(to)) return "swap_not_allowed";
    // The two swap places in the order, so each is still paid once in the rotation.
    const [a, b] = [this.order.indexOf(round.recipient), this.order.indexOf(to)];
    this.order[a] = to;
    this.order[b] = round.recipient;
    round.recipient = to;
    return "reassigned";
  }

  /**
   * Whether a member may pay again: only while collecting (or settled) before the
   * deadline, and only after their last debit failed at the bank with no newer attempt queued.
   */
  retry(w: World, round: ModelRound, memberId: string): string {
    const refused = "contribution_not_retryable";
    if (round.status !== "collecting" && round.status !== "settled") return refused;
    if (this.now >= round.openedAt + POLICY.collectionWindowMs) return refused;
    const mine = new Bank(w.sim.gateway).debits(round.id, memberId);
    const last = mine.at(-1);
    // A late charge counted as the contribution paid it (whichever attempt it was).
    if (mine.some((d) => this.lateCounted.has(d.paymentIntentId))) return refused;
    // A late charge not counted is refunded on its own: for the round, that attempt failed.
    if (last === undefined || (last.status !== "failed" && !this.surplus.has(last.paymentIntentId)))
      return refused;
    // No more debit attempts than the policy allows, manual ones included.
    const stored = w.sim.store.rounds().find((r) => r.id === round.id);
    const attempts = stored?.contributions.find((c) => c.memberId === memberId)?.attempts.length ?? 0;
    if (attempts >= POLICY.debitRetry.attemptsMax) return refused;
    // A queued send of the attempt that failed is not a new debit: its reply was lost and
    // the send is repeated under the same key, which finds the failed one.
    const queued = w.sim.store
      .outbox("pending")
      .some(
        (e) =>
          e.kind === "collect_contribution" &&
          e.roundId === round.id &&
          e.memberId === memberId &&
          e.attempt > (last.references.attempt ?? 0),
      );
    return queued ? refused : "retried";
  }

  /**
   * The status a round must have now, where the rules decide it; `undefined` where it
   * depends on timing the model does not follow. "Quiet" is no effect waiting in the outbox.
   */
  expectedStatus(bank: Bank, round: ModelRound, quiet: boolean): RoundStatus | undefined {
    // An ended round stays as it ended, whatever arrives late.
    if (round.status === "paid_out" || round.status === "cancelled") return round.status;
    if (this.disputedRounds.has(round.id)) return undefined;
    // No debit settles sooner than the bank's delay, and nothing else moves a collecting round.
    if (this.now < round.openedAt + SETTLEMENT_MS) return "collecting";
    if (!quiet) return undefined;
    const deadline = round.openedAt + POLICY.collectionWindowMs;
    // A refund that failed keeps a refunding round refunding until an admin retries it.
    if (bank.owed(round.id).length > 0) return undefined;
    const counted = (m: string) =>
      bank.succeeded(round.id, m).filter((d) => !this.surplus.has(d.paymentIntentId));
    // A late charge counted as the contribution was paid when susu heard it.
    const paidInTime = (m: string) =>
      counted(m).some((d) => (this.lateCounted.get(d.paymentIntentId) ?? d.settlesAt) < deadline);
    // Everyone paid before the deadline: the pot is paid out, or held while the recipient cannot receive.
    // Transfers the bank made while the account could receive stay made, even if it was
    // restricted since: the pot is then paid out.
    if (this.members.every(paidInTime)) {
      const sent = sum(bank.transfersOf(round.id));
      const pot = this.members.length * CONTRIBUTION_MINOR;
      return sent === pot || this.canReceive.get(round.recipient) ? "paid_out" : "payout_blocked";
    }
    // Someone never paid and nothing is still in flight once the deadline has passed: all is
    // refunded. The grace period waits for debits still processing only, and ends as soon as
    // none is left; a failure past the deadline gets no retry.
    const inFlight = bank.debits(round.id).some((d) => d.status === "processing");
    const unpaid = this.members.some((m) => counted(m).length === 0);
    if (this.now >= deadline && !inFlight && unpaid) return "cancelled";
    return undefined;
  }

  /**
   * Whether a debit the bank reported failed that takes the money after all is its member's
   * contribution: its round collects, and the member has no other charge it counts and no
   * debit still processing (with nothing queued: the caller makes it only when quiet, so
   * no retry is asked for and unanswered).
   */
  lateChargeCounts(bank: Bank, debit: FakeDebit): boolean {
    const round = this.rounds.find((r) => r.id === debit.references.roundId);
    if (round?.status !== "collecting") return false;
    const mine = bank.debits(round.id, debit.references.memberId);
    if (mine.some((d) => d.status === "processing")) return false;
    return !mine.some((d) => d.status === "succeeded" && !this.surplus.has(d.paymentIntentId));
  }

  /** A round was seen paid out: its recipient is paid for the rotation, never twice. */
  paid(round: ModelRound): void {
    expect(this.received, `${round.recipient} paid twice in the rotation`).not.toContain(round.recipient);
    this.received.push(round.recipient);
  }

  /**
   * What each member must have paid in (net of refunds) and received over the rounds that
   * ended: a paid-out round takes one contribution from everyone and gives the recipient
   * the pot; a cancelled one gives back everything it took.
   */
  expectedMoney(): Map<string, MemberMoney> {
    const money = new Map(
      this.members.map((m): [string, MemberMoney] => [m, { netPaidMinor: 0, receivedMinor: 0 }]),
    );
    for (const round of this.rounds) {
      if (round.status !== "paid_out" || this.disputedRounds.has(round.id)) continue;
      for (const m of money.values()) m.netPaidMinor += CONTRIBUTION_MINOR;
      const recipient = money.get(round.recipient);
      if (recipient) recipient.receivedMinor += CONTRIBUTION_MINOR * this.members.length;
    }
    return money;
  }
}

/**
 * The same as {@link Model.expectedMoney}, from what the bank did in the rounds that ended.
 * Late charges and their refunds are left out: each is checked to go back on its own
 * (`expectLateChargesRefunded`).
 */
function moneyAtTheBank(bank: Bank, rounds: readonly Round[], m: Model): Map<string, MemberMoney> {
  const counted = (d: { readonly paymentIntentId: string }) => !m.surplus.has(d.paymentIntentId);
  const money = new Map(
    m.members.map((id): [string, MemberMoney] => [id, { netPaidMinor: 0, receivedMinor: 0 }]),
  );
  for (const round of rounds) {
    if (round.status !== "paid_out" && round.status !== "cancelled") continue;
    if (m.disputedRounds.has(round.id)) continue;
    // A cancelled round whose refund failed after it ended still owes that member: checked
    // once an admin's retry_refund has paid it (see `finish`), not here.
    if (round.status === "cancelled" && !bank.allRefundedOnce(round.id)) continue;
    for (const [id, member] of money) {
      member.netPaidMinor +=
        sum(bank.succeeded(round.id, id).filter(counted)) - sum(bank.refunds(round.id, id).filter(counted));
      member.receivedMinor += sum(
        bank.transfers(round).filter((t) => t.destinationAccountId === `acct_${id}`),
      );
    }
  }
  return money;
}

/**
 * A paid-out round took one debit from everyone and sent each, and nothing else, to the
 * recipient; it refunded nothing but late charges.
 */
function expectPaidOut(bank: Bank, round: Round, surplus: ReadonlySet<string>): void {
  const debits = bank.succeeded(round.id).filter((d) => !surplus.has(d.paymentIntentId));
  expect(debits.map((d) => d.references.memberId).sort()).toEqual(
    round.contributions.map((c) => c.memberId).sort(),
  );
  expect(bank.refunds(round.id).filter((r) => !surplus.has(r.paymentIntentId))).toEqual([]);
  const transfers = bank.transfers(round);
  expect(transfers.map((t) => t.sourceChargeId).sort()).toEqual(debits.map((d) => d.chargeId).sort());
  for (const t of transfers) expect(t.destinationAccountId).toBe(`acct_${round.recipientMemberId}`);
}

/**
 * A cancelled round refunded exactly the debits that succeeded (a member charged twice got
 * both back), each once, and paid nobody; the contributions refunded are those of the
 * members whose counted charge succeeded (a late charge is refunded on its own).
 */
function expectRefundedExactly(bank: Bank, round: Round, surplus: ReadonlySet<string>): void {
  const debits = bank.succeeded(round.id);
  const refunds = bank.refunds(round.id);
  expect(refunds.map((r) => r.paymentIntentId).sort()).toEqual(debits.map((d) => d.paymentIntentId).sort());
  expect(sum(refunds)).toBe(sum(debits));
  for (const d of debits)
    same(bank.refundedOf(d.paymentIntentId), d.amount.amountMinor, `${d.paymentIntentId} refunded once`);
  expect(bank.transfers(round)).toEqual([]);
  const refunded = round.contributions.filter((c) => c.status === "refunded").map((c) => c.memberId);
  const counted = debits.filter((d) => !surplus.has(d.paymentIntentId));
  expect(refunded.sort()).toEqual(counted.map((d) => d.references.memberId).sort());
}

/**
 * Every late charge (one the bank took after reporting it failed) went back exactly once,
 * whatever its round did (collecting, paid out, cancelled): asked for at once, it has gone
 * through once nothing is left to send, unless its last refund failed (`allowOwed`: an
 * admin's retry_refund is still to come).
 */
function expectLateChargesRefunded(
  bank: Bank,
  surplus: ReadonlySet<string>,
  allowOwed: boolean,
  disputed: ReadonlyMap<string, unknown>,
): void {
  for (const pi of surplus) {
    // A disputed charge went back through the bank instead (checked against the books).
    if (disputed.has(pi)) continue;
    const refunds = bank.refundsOf(pi);
    if (allowOwed && refunds.at(-1)?.status === "failed") continue;
    same(bank.refundedOf(pi), CONTRIBUTION_MINOR, `late charge ${pi} refunded exactly once`);
  }
}

/** A ledger transaction's amount: its debits. */
const amountOf = (tx: LedgerTransaction): number =>
  tx.postings.filter((p) => p.side === "debit").reduce((n, p) => n + p.amount.amountMinor, 0);

/**
 * What moved at Stripe for a surplus charge, by object, against the books (every transaction
 * posted, by id), as reconciliation compares them: its refunds (each takes the charge, a
 * failure gives it back, so what stands refunded) against the round's postings of that charge's
 * refunds (`…:debit:<n>[:attempt:<k>]:ledger`, reversed by `…:ledger:failed`); its dispute (the
 * amount taken, given back when won) against the postings under `<round>:dispute:<d>` that move
 * money at Stripe (withdrawn, undone, again, the member's loss and its reinstatement, won; not
 * what is owed outside Stripe).
 */
function expectSurplusBooksAsStripe(w: World, bank: Bank, m: Model): void {
  const transactions = [...w.observed.transactions.values()];
  for (const pi of m.surplus) {
    const debit = w.sim.gateway.debits.get(pi);
    const { roundId, memberId, attempt } = debit?.references ?? {};
    if (debit?.status !== "succeeded" || roundId === undefined) continue;
    const refundPrefix = `${roundId}:refund:${memberId}:debit:${attempt}:`;
    let refundBooked = 0;
    for (const tx of transactions)
      if (tx.id.startsWith(refundPrefix))
        refundBooked += tx.id.endsWith(":ledger:failed") ? amountOf(tx) : -amountOf(tx);
    same(refundBooked, 0 - bank.refundedOf(pi), `${pi}'s refunds in the books as at Stripe`);
    const dispute = w.sim.gateway.disputes.get(pi);
    if (dispute === undefined) continue;
    const key = `${roundId}:dispute:${dispute.disputeId}`;
    let disputeBooked = 0;
    for (const tx of transactions) {
      if (tx.id !== key && !tx.id.startsWith(`${key}:`)) continue;
      if (tx.kind === "contribution_refunded" || tx.kind === "dispute_loss") disputeBooked -= amountOf(tx);
      if (tx.kind === "contribution_refund_failed" || tx.kind === "dispute_reinstated")
        disputeBooked += amountOf(tx);
    }
    // Given back only by a closure won (an update saying `won` moves nothing).
    const won = dispute.status === "won" && m.closedDisputes.has(dispute.disputeId);
    same(
      disputeBooked,
      won ? 0 : 0 - dispute.amountMinor,
      `${pi}'s dispute ${dispute.disputeId} (${dispute.status}) in the books as at Stripe`,
    );
  }
}

/**
 * What susu owes a member of a round outside Stripe (Stripe refuses a refund of a disputed
 * charge), from the ledger: the balance of `round:<r>:owed_to_member:<m>` — the rest of a
 * contribution disputed in part before payout, or while (or after) its refund failed. The
 * bank must agree (see `finish`).
 */
function owedOutsideStripe(w: World, roundId: string, memberId: string): number {
  return balanceOf(w.sim.ledger.snapshot(), roundAccounts.owedToMember(roundId, memberId), "AUD").amountMinor;
}

/** All that susu owes members of every round outside Stripe, from the ledger. */
function allOwedOutsideStripe(w: World): number {
  let owedMinor = 0;
  for (const r of w.sim.store.rounds())
    owedMinor += roundMoney(w.sim.ledger.snapshot(), r.id, "AUD").owedToMemberMinor;
  return owedMinor;
}

/** Equality checked cheaply after every command; vitest's expect (for its diff) only when it fails. */
function same<T>(actual: T, expected: T, what: string): void {
  if (!isDeepStrictEqual(actual, expected)) expect(actual, what).toEqual(expected);
}

/** The real system against the model, after every command. Learns the statuses the rules leave open. */
function compare(m: Model, w: World): void {
  same(w.sim.clock.now(), m.now, "the clock");
  const quiet = w.sim.store.outbox("pending").length === 0;
  const bank = new Bank(w.sim.gateway);
  const rounds = w.sim.store.rounds();
  const real = new Map(rounds.map((r) => [r.id, r]));
  same([...real.keys()].sort(), m.rounds.map((r) => r.id).sort(), "the rounds opened");
  for (const mr of m.rounds) {
    const round = real.get(mr.id);
    if (!round) throw new Error(`round ${mr.id} is missing`);
    same(round.recipientMemberId, mr.recipient, `who round ${round.id} pays`);
    const expected = m.expectedStatus(bank, mr, quiet);
    if (expected !== undefined) {
      same(round.status, expected, `round ${round.id} on day ${(m.now - mr.openedAt) / DAY_MS}`);
      m.predicted.set(expected, (m.predicted.get(expected) ?? 0) + 1);
    } else same(reachable(mr.status, round.status), true, `${mr.status} → ${round.status} in the table`);
    const wasEnded = mr.status === "paid_out" || mr.status === "cancelled";
    if (round.status === "paid_out" && mr.status !== "paid_out") m.paid(mr);
    mr.status = round.status;
    // A round's money is checked when it ends; the totals below keep checking it after.
    const disputed = m.disputedRounds.has(round.id);
    if (round.status === "paid_out" && !wasEnded && !disputed) expectPaidOut(bank, round, m.surplus);
    if (round.status === "cancelled" && !wasEnded && !disputed) expectRefundedExactly(bank, round, m.surplus);
  }
  const group = w.sim.store.groups().find((g) => g.id === w.groupId);
  same(group?.status, m.groupStatus, "the group's status");
  same(group?.currentRoundId, m.current?.id, "the group's current round");
  same(group?.rotation.receivedMemberIds, m.received, "who was paid in the rotation");
  same(group?.payoutOrder.memberIds, m.order, "the payout order");
  same(moneyAtTheBank(bank, rounds, m), m.expectedMoney(), "what each member paid in and got back");
}

function checkInvariants(m: Model, w: World): void {
  const ledger = w.sim.ledger.snapshot();
  const bank = new Bank(w.sim.gateway);
  const quiet = w.sim.store.outbox("pending").length === 0;
  const books = checkLedgerInvariants(ledger);
  same(books.isOk(), true, books.isErr() ? books.error.message : "the ledger");
  const rounds = w.sim.store.rounds();
  const paidPerRotation = new Map<number, string[]>();
  for (const r of rounds) {
    const money = checkRoundMoney(ledger, r.id, r.currency);
    same(money.isOk(), true, money.isErr() ? money.error.message : "");
    if (money.isOk()) {
      // A round's pot and its money in flight are never negative, disputes or not.
      const { heldMinor, inFlightMinor } = money.value;
      same(
        heldMinor >= 0 && inFlightMinor >= 0,
        true,
        `round ${r.id} holds ${heldMinor} (in flight ${inFlightMinor})`,
      );
      // Each contribution is counted once: no two transfers of a round funded by one member's charges.
      const sources = bank
        .transfers(r)
        .map(
          (t) => w.sim.gateway.debits.get(t.sourceChargeId?.replace("ch_", "pi_") ?? "")?.references.memberId,
        );
      same(new Set(sources).size, sources.length, `round ${r.id} transfers one charge per member`);
    }
    if (
      money.isOk() &&
      (r.status === "paid_out" || r.status === "cancelled") &&
      !m.disputedRounds.has(r.id)
    ) {
      const { heldMinor, inFlightMinor } = money.value;
      // An ended round holds nothing but a late charge none of whose refunds stands (not gone
      // through yet, or failed by Stripe after its success: taken back out of the books), and
      // a cancelled round's contribution whose refund Stripe failed after its success.
      const late = bank.succeeded(r.id).filter((d) => m.surplus.has(d.paymentIntentId));
      const notBack = late.filter(
        (d) => !bank.refundsOf(d.paymentIntentId).some((x) => x.status === "succeeded"),
      );
      // A contribution's refund Stripe failed after its success is out of the books: the
      // cancelled round holds that money again until a new refund lands.
      const failedBack = bank
        .succeeded(r.id)
        .filter(
          (d) =>
            !m.surplus.has(d.paymentIntentId) &&
            bank.refundsOf(d.paymentIntentId).some((x) => x.failedAfterSuccess),
        );
      const owedBack = failedBack.filter(
        (d) => !bank.refundsOf(d.paymentIntentId).some((x) => x.status === "succeeded"),
      );
      // With an answer still out (a lost reply) the bank may be ahead of the books: bounded only.
      const held = quiet
        ? heldMinor === sum(notBack) + sum(owedBack)
        : heldMinor <= sum(late) + sum(failedBack);
      same(
        held && inFlightMinor === 0,
        true,
        `round ${r.id} ended holding ${heldMinor} (in flight ${inFlightMinor})`,
      );
    }
    if (r.status === "paid_out")
      paidPerRotation.set(r.rotation, [...(paidPerRotation.get(r.rotation) ?? []), r.recipientMemberId]);
  }
  for (const recipients of paidPerRotation.values())
    same(new Set(recipients).size, recipients.length, "one payout per member and rotation");
  // Never two transfers funded by the same charge, never two debits for one attempt.
  const sources = w.sim.gateway.transfers.map((t) => t.sourceChargeId);
  same(new Set(sources).size, sources.length, "one transfer per charge");
  const attempts = [...w.sim.gateway.debits.values()].map(
    (d) => `${d.references.roundId}:${d.references.memberId}:${d.references.attempt}`,
  );
  same(new Set(attempts).size, attempts.length, "one debit per attempt");
  if (quiet) expectLateChargesRefunded(bank, m.surplus, true, w.sim.gateway.disputes);
  if (quiet) expectSurplusBooksAsStripe(w, bank, m);
  // Nobody is refunded twice: what stands refunded of a charge never exceeds the charge.
  for (const d of w.sim.gateway.debits.values())
    if (bank.refundedOf(d.paymentIntentId) > d.amount.amountMinor)
      same(bank.refundsOf(d.paymentIntentId), [], `${d.paymentIntentId} refunded twice`);
}

// ---------------------------------------------------------------- commands

type Cmd = fc.AsyncCommand<Model, World>;

/** A command whose result the model predicted; afterwards the system must agree with the model. */
const cmd = (
  name: string,
  run: (m: Model, w: World) => Promise<void>,
  check: (m: Readonly<Model>) => boolean = () => true,
): Cmd => ({
  check,
  run: async (m, w) => {
    await run(m, w);
    same(w.observed.problems, [], "stored effects, postings and status changes");
    checkInvariants(m, w);
    compare(m, w);
  },
  toString: () => name,
});

const outcome = (r: { isErr(): boolean; error?: unknown }, success: string): string =>
  r.isErr() ? ((r.error as { code?: string }).code ?? "unknown") : success;

const startRoundCommand = fc.constant(
  cmd("startRound", async (m, w) => {
    const expected = m.startRound();
    const r = await useCases.startRound(w.sim.deps, w.groupId, "scheduler");
    if ("code" in expected) expect(outcome(r, "opened")).toBe(expected.code);
    else {
      expect(outcome(r, "opened")).toBe("opened");
      const round = r._unsafeUnwrap().state;
      expect(round).toMatchObject({ recipientMemberId: expected.recipient, status: "collecting" });
      m.opened(round.id, expected.recipient);
    }
    await w.sim.runUntilQuiet();
  }),
);

const advance = (days: number) =>
  cmd(`advance(${days}d)`, async (m, w) => {
    m.now += days * DAY_MS;
    await w.sim.advance(days * DAY_MS);
  });

const memberAt = (w: World, i: number) => w.memberIds[i % w.memberIds.length] ?? "";

/** An admin asks again for a member's refund that failed, in one of the rounds. */
const retryRefundCommand: fc.Arbitrary<Cmd> = fc.tuple(fc.nat({ max: 3 }), fc.nat()).map(([i, k]) =>
  cmd(
    `retryRefund(${i}, ${k})`,
    async (m, w) => {
      // Mostly a member who is owed a refund (so retries happen), else anyone.
      const bank = new Bank(w.sim.gateway);
      const owing = m.rounds.flatMap((r) =>
        w.memberIds.filter((id) => bank.owed(r.id, id).length > 0).map((id) => [r, id] as const),
      );
      const [round, id] = owing[k % Math.max(1, owing.length)] ?? [
        m.rounds[k % m.rounds.length],
        memberAt(w, i),
      ];
      if (!round) throw new Error("checked: a round was opened");
      const quiet = w.sim.store.outbox("pending").length === 0;
      // A contribution's refund is retried while its round refunds or once it was cancelled
      // (the only statuses in which it is made); a late charge's whatever the round's status.
      const owedCharges = bank.owed(round.id, id);
      const open = round.status === "refunding" || round.status === "cancelled";
      const owed = owedCharges.some((d) => open || m.surplus.has(d.paymentIntentId));
      const r = await useCases.applyRoundInput(
        w.sim.deps,
        round.id,
        { type: "retry_refund", memberId: id },
        w.memberIds[0] ?? "",
      );
      // With an answer still out (a lost reply), the bank may not show the refund yet.
      // A disputed charge's refund is refused (charge_disputed): the round decides whether the bank's return settles it.
      if (quiet && !m.disputedRounds.has(round.id))
        expect(outcome(r, "retried")).toBe(owed ? "retried" : "no_failed_refund");
      if (r.isOk()) seen.add("refund_retried");
      await w.sim.runUntilQuiet();
    },
    (m) => m.rounds.length > 0,
  ),
);

/**
 * A debit the bank reported failed takes the money after all: one of any round's
 * (`any`), or of the round in progress (`current`: mostly a member who still owes, whose
 * late charge is their contribution). The model says which it is before it is delivered.
 */
const lateDebitSuccessCommand = (which: "any" | "current"): fc.Arbitrary<Cmd> =>
  fc.nat().map((k) =>
    cmd(`lateDebitSuccess(${which}, ${k})`, async (m, w) => {
      const quiet = w.sim.store.outbox("pending").length === 0;
      const failed = [...w.sim.gateway.debits.values()].filter(
        (d) =>
          d.status === "failed" &&
          d.references.roundId !== undefined &&
          (which === "any" || d.references.roundId === m.current?.id),
      );
      const debit = failed[k % Math.max(1, failed.length)];
      if (quiet && debit) {
        if (m.disputedRounds.has(debit.references.roundId ?? "")) m.lateUnknown.add(debit.paymentIntentId);
        else if (m.lateChargeCounts(new Bank(w.sim.gateway), debit))
          m.lateCounted.set(debit.paymentIntentId, m.now);
        else m.surplus.add(debit.paymentIntentId);
        await deliver(w, w.sim.gateway.succeedAfterFailure(debit.paymentIntentId));
      }
      await w.sim.runUntilQuiet();
    }),
  );

/** What refunds go through: failures, retries, late news of old attempts, and late charges. */
const refundChaos: fc.Arbitrary<Cmd> = fc.oneof(
  // Retries and late charges more often: each needs a refund that failed, or a round that
  // refunds with a failed debit, first.
  { weight: 2, arbitrary: retryRefundCommand },
  // The bank refuses a member's next refund (an account that cannot take it).
  fc
    .nat({ max: 3 })
    .map((i) => cmd(`failNextRefund(${i})`, async (_m, w) => w.sim.gateway.failNextRefund(memberAt(w, i)))),
  // Stripe fails a refund it had reported succeeded (refund.failed after refund.succeeded).
  fc.nat().map((k) =>
    cmd(`refundFailsAfterSuccess(${k})`, async (_m, w) => {
      const done = [...w.sim.gateway.refunds.values()].filter(
        (r) => r.status === "succeeded" && r.references.roundId !== undefined,
      );
      const refund = done[k % Math.max(1, done.length)];
      // Also while a refund call's reply is lost: sent again after Stripe failed the refund,
      // the call gets its first (succeeded) reply back, older news the round must not take
      // for a success (the member stays owed until a retry).
      if (refund) await deliver(w, w.sim.gateway.failRefundAfterSuccess(refund.refundId));
      await w.sim.runUntilQuiet();
    }),
  ),
  // A debit the bank reported failed took the money after all, whatever its round is doing
  // (collecting, paying out, paid out, refunding, cancelled): the member's contribution
  // while they still owe it with nothing else in flight, else a second charge.
  { weight: 2, arbitrary: lateDebitSuccessCommand("any") },
  // News of a refund comes again, late: often an attempt a retry has since replaced.
  fc.nat().map((k) =>
    cmd(`replayRefundNews(${k})`, async (_m, w) => {
      const news = w.delivered.filter((f) => f.kind === "refund_succeeded" || f.kind === "refund_failed");
      const fact = news[k % Math.max(1, news.length)];
      if (fact) expect(outcome(await w.sim.deliver([fact], "stripe-replay"), "delivered")).toBe("delivered");
      await w.sim.runUntilQuiet();
    }),
  ),
);

/** Stripe's news of a dispute, as `charge.dispute.updated` or `.closed` bring it. */
function disputeNews(
  w: World,
  paymentIntentId: string,
  news: { readonly status: string } | { readonly outcome: "won" | "lost" },
): PaymentObjectFact {
  const dispute = w.sim.gateway.disputes.get(paymentIntentId);
  const debit = w.sim.gateway.debits.get(paymentIntentId);
  if (!dispute || !debit) throw new Error(`${paymentIntentId} is not disputed`);
  const { disputeId, amountMinor } = dispute;
  const refs = debit.references;
  if ("status" in news) {
    dispute.status = news.status;
    return { kind: "dispute_updated", refs, disputeId, paymentIntentId, status: news.status };
  }
  dispute.status = news.outcome;
  return { kind: "dispute_closed", refs, disputeId, paymentIntentId, outcome: news.outcome, amountMinor };
}

/**
 * A member disputes one of their charges that succeeded at the bank, for all of it or a
 * part: a contribution counted before or after its payout, a late charge, whatever its
 * round is doing (`current`: the round in progress). With `lifecycle`, its update and its
 * closure come in the same delivery, shuffled: often before the dispute's creation.
 */
const openDisputeCommand = (which: "any" | "current"): fc.Arbitrary<Cmd> =>
  fc
    .tuple(fc.nat(), fc.boolean(), fc.integer({ min: 1, max: CONTRIBUTION_MINOR - 1 }), fc.nat({ max: 3 }))
    .map(([k, whole, part, lifecycle]) =>
      cmd(
        `openDispute(${which}, ${k}, ${whole ? "whole" : part}${lifecycle > 0 ? `, closed ${lifecycle === 2 ? "won" : "lost"}` : ""}${lifecycle === 3 ? ", its opening never heard" : ""})`,
        async (m, w) => {
          // Also a charge whose refund susu asked for and has not heard back (a lost reply):
          // the dispute is booked by the refund's outcome (seed -1151593421 found it unbooked).
          const charges = [...w.sim.gateway.debits.values()].filter(
            (d) =>
              d.status === "succeeded" &&
              d.references.roundId !== undefined &&
              !w.sim.gateway.disputes.has(d.paymentIntentId) &&
              (which === "any" || d.references.roundId === m.current?.id),
          );
          const debit = charges[k % Math.max(1, charges.length)];
          if (debit) {
            m.disputedRounds.add(debit.references.roundId ?? "");
            const pi = debit.paymentIntentId;
            const facts = [w.sim.gateway.disputeCharge(pi, whole ? debit.amount.amountMinor : part)];
            if (lifecycle > 0) {
              facts.push(disputeNews(w, pi, { status: "under_review" }));
              facts.push(disputeNews(w, pi, { outcome: lifecycle === 2 ? "won" : "lost" }));
              m.closedDisputes.add(w.sim.gateway.disputes.get(pi)?.disputeId ?? "");
              if (lifecycle === 2) seen.add("dispute_closed:won");
            }
            // (3: its opening's news lost for good: only its update and closure `lost` come)
            if (lifecycle === 3) facts.shift();
            const delivered = await w.sim.deliver(w.sim.transformFacts(facts));
            expect(outcome(delivered, "delivered")).toBe("delivered");
            seen.add(`dispute_opened:${m.rounds.find((r) => r.id === debit.references.roundId)?.status}`);
            if (m.surplus.has(pi)) seen.add("dispute_opened:surplus_charge");
            if (!whole) seen.add("dispute_opened:part");
          }
          await w.sim.runUntilQuiet();
        },
      ),
    );

/** Stripe's news of an open dispute: a status change (`lost` or `won` before the closure too), or its closure. */
const disputeNewsCommand: fc.Arbitrary<Cmd> = fc
  .tuple(fc.nat(), fc.constantFrom(...DISPUTE_STATUSES), fc.boolean())
  .map(([k, status, close]) =>
    cmd(
      `disputeNews(${k}, ${close ? `closed ${status === "won" ? "won" : "lost"}` : status})`,
      async (m, w) => {
        const open = [...w.sim.gateway.disputes.entries()].filter(
          ([, d]) => !m.closedDisputes.has(d.disputeId),
        );
        const [pi, dispute] = open[k % Math.max(1, open.length)] ?? [];
        if (pi && dispute) {
          const fact = close
            ? disputeNews(w, pi, { outcome: status === "won" ? "won" : "lost" })
            : disputeNews(w, pi, { status });
          if (close) m.closedDisputes.add(dispute.disputeId);
          if (close && status === "won") seen.add("dispute_closed:won");
          await deliver(w, fact);
        }
        await w.sim.runUntilQuiet();
      },
    ),
  );

const RACE_ORDERS = surplusRaceOrders();

/**
 * A debit the bank reported failed takes the money after all, as a second charge (the model
 * says so), and Stripe creates its refund `pending` (the charge's money taken at once). Then,
 * in one of the orders Stripe allows: the member disputes the charge, for all of it or a part;
 * the refund succeeds or fails (Stripe usually fails a pending refund of a charge when it is
 * disputed, but a refund and a dispute can both take money), and may fail after its success;
 * the dispute may close won or lost. Each step is its own delivery.
 */
const surplusRefundRaceCommand: fc.Arbitrary<Cmd> = fc
  .tuple(
    fc.nat(),
    fc.noBias(fc.nat({ max: RACE_ORDERS.length - 1 })),
    fc.boolean(),
    fc.integer({ min: 1, max: CONTRIBUTION_MINOR - 1 }),
  )
  .map(([k, o, whole, part]) => {
    const order = RACE_ORDERS[o] ?? [];
    return cmd(`surplusRefundRace(${k}, ${order.join(" → ")}, ${whole ? "whole" : part})`, async (m, w) => {
      const quiet = w.sim.store.outbox("pending").length === 0;
      const bank = new Bank(w.sim.gateway);
      const failed = [...w.sim.gateway.debits.values()].filter(
        (d) =>
          d.status === "failed" &&
          !m.disputedRounds.has(d.references.roundId ?? "") &&
          !m.lateChargeCounts(bank, d),
      );
      const debit = failed[k % Math.max(1, failed.length)];
      if (!quiet || !debit) return;
      const pi = debit.paymentIntentId;
      m.surplus.add(pi);
      w.sim.gateway.refundsWait(true);
      await deliver(w, w.sim.gateway.succeedAfterFailure(pi));
      await w.sim.runUntilQuiet();
      w.sim.gateway.refundsWait(false);
      const refund = () => [...w.sim.gateway.refunds.values()].find((r) => r.paymentIntentId === pi);
      for (const step of order) {
        const facts: PaymentFact[] = [];
        if (step === "dispute") {
          m.disputedRounds.add(debit.references.roundId ?? "");
          facts.push(w.sim.gateway.disputeCharge(pi, whole ? debit.amount.amountMinor : part));
        }
        if ((step === "succeeds" || step === "fails") && refund()?.status === "pending")
          facts.push(...w.sim.gateway.endWaitingRefunds(step === "succeeds" ? "succeeded" : "failed"));
        const r = refund();
        if (step === "fails_later" && r?.status === "succeeded")
          facts.push(w.sim.gateway.failRefundAfterSuccess(r.refundId));
        if ((step === "won" || step === "lost") && w.sim.gateway.disputes.has(pi)) {
          facts.push(disputeNews(w, pi, { outcome: step }));
          m.closedDisputes.add(w.sim.gateway.disputes.get(pi)?.disputeId ?? "");
        }
        for (const fact of facts) await deliver(w, fact);
        await w.sim.runUntilQuiet();
        seen.add(`surplus_race:${step}`);
      }
      seen.add("surplus_race");
    });
  });

/** Disputes, as one entry (fc.commands picks entries uniformly). */
const disputeChaos: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 2, arbitrary: openDisputeCommand("any") },
  { weight: 2, arbitrary: openDisputeCommand("current") },
  { weight: 2, arbitrary: disputeNewsCommand },
  { weight: 3, arbitrary: surplusRefundRaceCommand },
);

// Starting rounds and moving time are listed twice: fc.commands picks uniformly, and
// most interesting histories need several rounds over several weeks.
const commands = [
  startRoundCommand,
  startRoundCommand,
  fc.integer({ min: 3, max: 8 }).map(advance),
  fc.integer({ min: 1, max: 5 }).map(advance),
  fc.nat({ max: 3 }).map((i) =>
    cmd(`fixAccount(${i})`, async (m, w) => {
      const id = memberAt(w, i);
      m.setAccount(id, true);
      expect(outcome(await w.sim.accountUpdated(id, true), "updated")).toBe("updated");
      await w.sim.runUntilQuiet();
    }),
  ),
  // The recipient of a blocked payout fixes their account: the payout is tried again.
  fc.constant(
    cmd(
      "fixRecipientAccount",
      async (m, w) => {
        const id = m.current?.recipient ?? "";
        m.setAccount(id, true);
        expect(outcome(await w.sim.accountUpdated(id, true), "updated")).toBe("updated");
        await w.sim.runUntilQuiet();
      },
      (m) => m.current !== undefined,
    ),
  ),
  // Stripe restricts an account and says so: a round where that member is the recipient
  // blocks at payout, and no round opens until the account is fixed.
  fc.nat({ max: 3 }).map((i) =>
    cmd(`restrictAccount(${i})`, async (m, w) => {
      const id = memberAt(w, i);
      m.setAccount(id, false);
      expect(outcome(await w.sim.accountUpdated(id, false), "updated")).toBe("updated");
      await w.sim.runUntilQuiet();
    }),
  ),
  fc.nat({ max: 3 }).map((i) =>
    cmd(
      `reassign(${i})`,
      async (m, w) => {
        const to = memberAt(w, i);
        const expected = m.reassign(to);
        const r = await useCases.reassignPayout(w.sim.deps, w.groupId, w.memberIds[0] ?? "", to);
        expect(outcome(r, "reassigned")).toBe(expected);
        await w.sim.runUntilQuiet();
      },
      (m) => m.current !== undefined,
    ),
  ),
  fc.nat({ max: 3 }).map((i) =>
    cmd(
      `retryContribution(${i})`,
      async (m, w) => {
        const round = m.current;
        if (!round) throw new Error("checked: a round is in progress");
        const id = memberAt(w, i);
        const expected = m.retry(w, round, id);
        w.sim.gateway.setDebitOutcomes(id, ["succeed"]);
        const r = await useCases.applyRoundInput(
          w.sim.deps,
          round.id,
          // The member saved new bank details (an active mandate): a permanent failure does not stop them.
          { type: "retry_contribution", memberId: id, mandateActive: true },
          id,
        );
        // A disputed contribution may be paid again: the model leaves disputed rounds to the invariants.
        if (!m.disputedRounds.has(round.id)) expect(outcome(r, "retried")).toBe(expected);
        await w.sim.runUntilQuiet();
      },
      (m) => m.current !== undefined,
    ),
  ),
  fc.constant(
    cmd("resumeGroup", async (m, w) => {
      // Resuming retries a blocked payout, which blocks again: an account that could
      // receive would have unblocked it already.
      const expected = m.groupStatus === "paused" ? "resumed" : "group_not_paused";
      const r = await useCases.resumeGroup(w.sim.deps, w.groupId, w.memberIds[0] ?? "");
      expect(outcome(r, "resumed")).toBe(expected);
      await w.sim.runUntilQuiet();
    }),
  ),
  fc.nat().map((k) =>
    cmd(`replayFact(${k})`, async (_m, w) => {
      const fact = w.delivered[k % Math.max(1, w.delivered.length)];
      if (fact) expect(outcome(await w.sim.deliver([fact], "stripe-replay"), "delivered")).toBe("delivered");
      await w.sim.runUntilQuiet();
    }),
  ),
  fc
    .constantFrom("createDebit" as const, "createTransfer" as const, "refund" as const)
    .map((op) => cmd(`lostReply(${op})`, async (_m, w) => w.sim.gateway.injectFault(op, "lost_reply"))),
  // Refunds and late charges, as one entry: fc.commands picks entries uniformly, and these
  // five would otherwise crowd out the rounds they need. Retries once more on their own.
  refundChaos,
  retryRefundCommand,
  // A slow bank: a debit of the round in progress recorded as failed succeeds after all.
  lateDebitSuccessCommand("current"),
];

/** The same, with members disputing their charges and Stripe's news of the disputes. */
const commandsWithDisputes = [...commands, disputeChaos, disputeChaos, disputeChaos];

/** Stripe's news, delivered as the run's webhooks are (duplicated and shuffled). */
async function deliver(w: World, fact: PaymentFact): Promise<void> {
  const delivered = await w.sim.deliver(w.sim.transformFacts([fact]));
  expect(outcome(delivered, "delivered")).toBe("delivered");
}

async function setUp(s: Scenario): Promise<{ world: World; model: Model }> {
  const delivered: PaymentFact[] = [];
  const chaos = seededFractions(`chaos:${s.chaosSeed}`);
  const sim = new InMemorySusu({
    transformFacts: (facts) => {
      const out = facts.flatMap((f) => (chaos() < 0.3 ? [f, f] : [f]));
      for (let i = out.length - 1; i > 0; i--) {
        const j = Math.floor(chaos() * (i + 1));
        [out[i], out[j]] = [out[j] as PaymentFact, out[i] as PaymentFact];
      }
      delivered.push(...out);
      return out;
    },
  });
  const observed = observe(sim);
  const memberIds = Array.from({ length: s.members }, (_, i) => `m${i}`);
  const group = (
    await useCases.createGroup(sim.deps, {
      name: "model",
      currency: "AUD",
      contributionMinor: CONTRIBUTION_MINOR,
      cadence: "weekly",
      startsAt: sim.clock.now() + DAY_MS,
      payoutOrderMethod: "join_order",
      creator: { id: "m0", displayName: "m0" },
    })
  )._unsafeUnwrap();
  for (const id of memberIds.slice(1))
    (await useCases.joinGroup(sim.deps, group.id, { id, displayName: id }))._unsafeUnwrap();
  for (const [i, id] of memberIds.entries()) {
    (await sim.onboardMember(group.id, id))._unsafeUnwrap();
    sim.gateway.setDebitOutcomes(id, s.outcomes[i] ?? ["succeed"]);
  }
  (await useCases.activateGroup(sim.deps, group.id, "m0"))._unsafeUnwrap();
  // Everyone was ready at activation; some accounts then cannot receive at Stripe before
  // susu hears of it (no account.updated yet): their payouts fail and block the round.
  for (const [i, id] of memberIds.entries())
    if (!(s.canReceive[i] ?? true)) sim.gateway.setAccount(`acct_${id}`, false);
  return {
    world: { sim, groupId: group.id, memberIds, delivered, observed },
    model: new Model(memberIds, s.canReceive, sim.clock.now(), group.startsAt),
  };
}

async function finish(m: Model, w: World): Promise<string> {
  // Every outcome arrives: Stripe closes every dispute still open (lost, as BECS disputes end).
  for (const [pi, d] of w.sim.gateway.disputes)
    if (!m.closedDisputes.has(d.disputeId)) {
      m.closedDisputes.add(d.disputeId);
      await deliver(w, disputeNews(w, pi, { outcome: "lost" }));
    }
  for (let i = 0; i < 6; i++) await advance(10).run(m, w);
  // Admins retry every refund that failed until none is owed (the bank refuses each
  // member's next refund at most once more; a day passes so lost replies are sent again).
  for (let pass = 0; pass < 3; pass++) {
    for (const r of w.sim.store.rounds())
      for (const id of w.memberIds)
        await useCases.applyRoundInput(w.sim.deps, r.id, { type: "retry_refund", memberId: id }, "m0");
    await advance(1).run(m, w);
  }
  const bank = new Bank(w.sim.gateway);
  // Every late charge went back exactly once, in rounds paid out and cancelled alike.
  expectLateChargesRefunded(bank, m.surplus, false, w.sim.gateway.disputes);
  for (const r of w.sim.store.rounds()) {
    if (r.status === "paid_out")
      same(
        checkRoundMoney(w.sim.ledger.snapshot(), r.id, r.currency)._unsafeUnwrap().heldMinor,
        0,
        `paid-out ${r.id} holds nothing`,
      );
    if (r.status !== "cancelled") continue;
    // Every cent taken from a member in a cancelled round went back, each charge once; a
    // disputed charge at least once (the bank's return beside a refund of ours is booked as
    // the member's loss, checked against the books below).
    for (const d of bank.succeeded(r.id)) {
      const dispute = w.sim.gateway.disputes.get(d.paymentIntentId);
      const refunded = bank.refundedOf(d.paymentIntentId);
      if (dispute === undefined)
        same(refunded, d.amount.amountMinor, `${d.paymentIntentId} refunded once in the end`);
      else
        same(
          refunded +
            (dispute.status === "won" ? 0 : dispute.amountMinor) +
            owedOutsideStripe(w, r.id, d.references.memberId ?? "") >=
            d.amount.amountMinor,
          true,
          `disputed ${d.paymentIntentId} (${dispute.amountMinor}, ${dispute.status}) went back in the end (refunded ${refunded})`,
        );
    }
    same(
      checkRoundMoney(w.sim.ledger.snapshot(), r.id, r.currency)._unsafeUnwrap().heldMinor,
      0,
      `cancelled ${r.id} holds nothing`,
    );
  }
  same(
    moneyAtTheBank(bank, w.sim.store.rounds(), m),
    m.expectedMoney(),
    "what each member paid in and got back",
  );
  const ledger = w.sim.ledger.snapshot();
  let heldMinor = 0;
  for (const r of w.sim.store.rounds()) {
    const ticketed = w.sim.desk.tickets.some((t) => t.aggregate === "round" && t.aggregateId === r.id);
    const ended = r.status === "paid_out" || r.status === "cancelled";
    const blockedWithTicket = (r.status === "payout_blocked" || r.status === "refunding") && ticketed;
    expect(ended || blockedWithTicket, `round ${r.id} stuck in ${r.status}`).toBe(true);
    heldMinor += checkRoundMoney(ledger, r.id, r.currency)._unsafeUnwrap().heldMinor;
  }
  // Money in at the bank = money out + refunds + what the banks took back through disputes
  // (a dispute closed won took nothing: the bank gave it back, and the round booked it back)
  // + money still held − the dispute losses susu booked as members' debts (paid from the
  // platform's funds).
  const inMinor = sum([...w.sim.gateway.debits.values()].filter((d) => d.status === "succeeded"));
  const outMinor = sum(w.sim.gateway.transfers);
  const refundedMinor = sum([...w.sim.gateway.refunds.values()].filter((r) => r.status === "succeeded"));
  const takenMinor = [...w.sim.gateway.disputes.values()].reduce(
    (total, d) => total + (d.status === "won" ? 0 : d.amountMinor),
    0,
  );
  const platformMinor = ledger.balancesMinor.get("platform:funds")?.get("AUD") ?? 0;
  // What is owed outside Stripe is still at Stripe until admins pay it by other means.
  const owedMinor = allOwedOutsideStripe(w);
  expect(
    inMinor - outMinor - refundedMinor - takenMinor - owedMinor,
    "money at the bank against the books",
  ).toBe(heldMinor + platformMinor);
  return JSON.stringify(
    w.sim.store
      .rounds()
      .map((r) => [r.id, r.status, r.recipientMemberId, r.contributions.map((c) => c.status)]),
  );
}

/** What the runs reached: the generators must reach every ending, and the model must predict, or the test proves little. */
const seen = new Set<string>();

const property = (fingerprints: string[], list: readonly fc.Arbitrary<Cmd>[] = commandsWithDisputes) =>
  fc.asyncProperty(
    scenarioArb,
    fc.commands([...list], { maxCommands: 40, size: "medium" }),
    async (scenario, cmds) => {
      const { world, model } = await setUp(scenario);
      await fc.asyncModelRun(() => ({ model, real: world }), cmds);
      fingerprints.push(await finish(model, world));
      for (const r of world.sim.store.rounds()) seen.add(r.status);
      for (const n of world.sim.notifier.sent) seen.add(n.template);
      for (const status of model.predicted.keys()) seen.add(`predicted:${status}`);
      for (const change of world.observed.changes) seen.add(change);
      if (world.delivered.length > 0) seen.add("facts_delivered");
      const ended = new Map(world.sim.store.rounds().map((r) => [r.id, r.status]));
      for (const pi of model.lateCounted.keys()) {
        const roundId = world.sim.gateway.debits.get(pi)?.references.roundId ?? "";
        seen.add("late_charge_counted");
        seen.add(`late_charge_counted:${ended.get(roundId)}`);
      }
      for (const e of world.observed.effects.values())
        if (e.kind === "refund" && "debitAttempt" in e && e.debitAttempt !== undefined) {
          seen.add("late_charge_refunded");
          seen.add(`late_charge_refunded:${ended.get(e.roundId)}`);
        }
    },
  );

describe("rotations under random outcomes, faults and event chaos (model-based)", () => {
  it("reach refund failures, retries and late charges refunded on their own (100 seeded runs)", async () => {
    seen.clear();
    await fc.assert(property([], commands), { numRuns: 100, seed: 4242 });
    expect([...seen]).toEqual(
      expect.arrayContaining([
        "refund_failed",
        "refund_retried",
        "late_charge_refunded",
        "late_charge_refunded:paid_out",
        "late_charge_refunded:cancelled",
        "late_charge_counted",
        "late_charge_counted:paid_out",
        "late_charge_counted:cancelled",
        "refunding→cancelled",
      ]),
    );
  });

  it("reach disputes of contributions before and after payout, of late charges, in part (100 seeded runs)", async () => {
    seen.clear();
    await fc.assert(property([]), { numRuns: 100, seed: 4242 });
    expect([...seen]).toEqual(
      expect.arrayContaining([
        // Not yet reached under this seed (to look into): disputes in part, of a cancelled
        // round's charge, of a surplus charge; the random runs reach them.
        "dispute_opened:collecting",
        "dispute_opened:paid_out",
        // Closed won (whether a BECS dispute can be is not documented; the round books it back).
        "dispute_closed:won",
        // A second charge disputed around its pending refund, in the orders Stripe allows.
        "surplus_race",
        "surplus_race:dispute",
        "surplus_race:succeeds",
        "surplus_race:fails",
        "surplus_race:fails_later",
        "surplus_race:lost",
      ]),
    );
  });

  it(`agree with the model, keep the books balanced and pay nobody twice (${NUM_RUNS} runs)`, async () => {
    await fc.assert(property([]), { numRuns: NUM_RUNS });
  });

  it("the same seed gives the same outcome", async () => {
    const first: string[] = [];
    const second: string[] = [];
    await fc.assert(property(first), { numRuns: 40, seed: 4242 });
    seen.clear();
    await fc.assert(property(second), { numRuns: 40, seed: 4242 });
    expect(second).toEqual(first);
    expect(first).toHaveLength(40);
    // These runs reach every ending, and the model predicted each of them; otherwise the
    // property above would prove little.
    expect([...seen].sort()).toEqual(
      expect.arrayContaining([
        "cancelled",
        "facts_delivered",
        "paid_out",
        "payout_blocked",
        "predicted:cancelled",
        "predicted:collecting",
        "predicted:paid_out",
        "predicted:payout_blocked",
        "payout_blocked→paying_out",
        "refunding→cancelled",
      ]),
    );
  });
});
