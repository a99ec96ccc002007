import type { ResultAsync } from "neverthrow";
import { type Group, nextRoundOpensAt } from "../group/group.js";
import type { GroupId } from "../group/ids.js";
import type { HeldPayment, HeldPaymentStatus } from "../held-payment/held-payment.js";
import type { MarketplaceCharge, MarketplaceChargeStatus } from "../marketplace/marketplace-charge.js";
import type { Plan } from "../membership/plan.js";
import type { Subscription } from "../membership/subscription.js";
import type { SavedPaymentMethod } from "../payment-method/saved-payment-method.js";
import type { PayoutRecord, PayoutRequest } from "../payout/payout.js";
import type { PayoutPause, PayoutPauseChange } from "../payout/payout-pause.js";
import type { PersonId } from "../person/ids.js";
import type { Person } from "../person/person.js";
import type { Round } from "../round/round.js";
import type { Instant } from "../shared/time.js";
import type { OutboxEffect } from "./outbox-effect.js";

/** The kinds of stored aggregates a version conflict or an audit line can name. */
export type StoredAggregate =
  | "group"
  | "round"
  | "person"
  | "held_payment"
  | "marketplace_charge"
  | "payout"
  | "payment_method"
  | "plan"
  | "subscription"
  /** A ledger transaction (an operator's adjustment): audit lines only, never versioned. */
  | "ledger"
  /** A parked outbox effect an operator dismissed: audit lines only, never versioned. */
  | "outbox_effect"
  /** A parked Stripe event an operator dismissed: audit lines only, never versioned. */
  | "webhook_event";

/** Why storage refused or failed. `version_conflict` is the one a caller retries. */
export type StorageError =
  | {
      readonly type: "version_conflict";
      readonly code: "version_conflict";
      readonly message: string;
      readonly aggregate: StoredAggregate;
      readonly id: string;
    }
  | { readonly type: "duplicate"; readonly code: "duplicate"; readonly message: string }
  | { readonly type: "storage_unavailable"; readonly code: "storage_unavailable"; readonly message: string }
  /**
   * The database refused the state (it breaks a stored rule), or what is stored cannot be
   * read back soundly. A bug or corruption, not a passing fault: retrying cannot help.
   */
  | { readonly type: "storage_refused"; readonly code: "storage_refused"; readonly message: string };

/** Builds a {@link StorageError} of the given type. */
export const storageError = {
  versionConflict: (aggregate: StoredAggregate, id: string): StorageError => ({
    type: "version_conflict",
    code: "version_conflict",
    message: `${aggregate} ${id} was changed by someone else; load it again and retry`,
    aggregate,
    id,
  }),
  duplicate: (message: string): StorageError => ({ type: "duplicate", code: "duplicate", message }),
  unavailable: (message: string): StorageError => ({
    type: "storage_unavailable",
    code: "storage_unavailable",
    message,
  }),
  refused: (message: string): StorageError => ({ type: "storage_refused", code: "storage_refused", message }),
};

/** Loads groups. */
export interface GroupRepository {
  /** The group with this id, or undefined. */
  getGroup(id: GroupId): ResultAsync<Group | undefined, StorageError>;
  /**
   * The group with this id and the people its members are (those that exist, in the order
   * of `group.members`), read together (one statement in PostgreSQL: the hottest read of
   * the API), or undefined when there is no such group.
   */
  getGroupWithPeople(id: GroupId): ResultAsync<GroupWithPeople | undefined, StorageError>;
  /**
   * Active groups whose next round is due at or before `at` and that have no round in
   * progress, most overdue first: ordered by (`nextRoundOpensAt`, id), up to `limit`. With
   * `after`, only those ordered after it (a keyset cursor: the last group of the previous
   * page, {@link dueGroupCursor}), so a caller can page through every due group even while
   * the ones it could not open stay due.
   */
  findGroupsDueForRound(
    at: Instant,
    limit: number,
    after?: DueGroupCursor,
  ): ResultAsync<readonly Group[], StorageError>;
  /**
   * The groups `personId` is a member of and has not left, by group id. Bounded by what one
   * person can join; a readiness change reaches each of them.
   */
  listGroupsOfPerson(personId: PersonId): ResultAsync<readonly Group[], StorageError>;
}

/** Where a page of {@link GroupRepository.findGroupsDueForRound} ends: a due group's place in its order. */
export interface DueGroupCursor {
  /** The group's `nextRoundOpensAt`. */
  readonly nextRoundAt: Instant;
  readonly groupId: GroupId;
}

/** The cursor that pages past `group` in the due groups' order. */
export function dueGroupCursor(group: Group): DueGroupCursor {
  return { nextRoundAt: nextRoundOpensAt(group), groupId: group.id };
}

/** Whether `group` comes after `cursor` in the due groups' order (by `nextRoundOpensAt`, then id). */
export function isAfterDueGroupCursor(group: Group, cursor: DueGroupCursor): boolean {
  const at = nextRoundOpensAt(group);
  return at > cursor.nextRoundAt || (at === cursor.nextRoundAt && group.id > cursor.groupId);
}

/** A group and the people its members are, as {@link GroupRepository.getGroupWithPeople} reads them. */
export interface GroupWithPeople {
  readonly group: Group;
  readonly people: readonly Person[];
}

/**
 * Loads people. Each Stripe object belongs to at most one person, so the look-ups by
 * Stripe id (what account and mandate events name) find one person or none.
 */
export interface PersonRepository {
  /** The person with this id, or undefined. */
  getPerson(id: PersonId): ResultAsync<Person | undefined, StorageError>;
  /** The people with these ids that exist, in the order of `ids` (unknown ids are left out). */
  getPeople(ids: readonly PersonId[]): ResultAsync<readonly Person[], StorageError>;
  /** The person whose Stripe customer this is. */
  findByCustomer(customerId: string): ResultAsync<Person | undefined, StorageError>;
  /** The person whose debit mandate this is. */
  findByMandate(mandateId: string): ResultAsync<Person | undefined, StorageError>;
  /** The person whose connected account this is. */
  findByConnectedAccount(accountId: string): ResultAsync<Person | undefined, StorageError>;
}

/** Loads rounds. */
export interface RoundRepository {
  /** The round with this id, or undefined. */
  getRound(id: string): ResultAsync<Round | undefined, StorageError>;
  /**
   * Optional: the round with this id and its group, read together (one round trip, one
   * snapshot of the database), or undefined when there is no such round; `group` undefined
   * when the round's group is missing. Without it, the use cases read the round, then its group.
   */
  getRoundWithGroup?(
    id: string,
  ): ResultAsync<{ readonly round: Round; readonly group: Group | undefined } | undefined, StorageError>;
  /** A group's rounds, oldest first. */
  listRoundsOfGroup(groupId: GroupId): ResultAsync<readonly Round[], StorageError>;
}

/** Which held payments to list: newest first, each filter narrowing the list. */
export interface HeldPaymentQuery {
  /** The seller's (a person's) payments. */
  readonly sellerId?: PersonId;
  /** The payments a caller asked for (the principal that created them). */
  readonly requestedBy?: string;
  readonly status?: HeldPaymentStatus;
  /** 1–100. */
  readonly limit: number;
  /** The id of the last payment of the previous page. */
  readonly startingAfter?: string;
}

/** Loads held-funds payments. */
export interface HeldPaymentRepository {
  /** The held payment with this id, or undefined. */
  getHeldPayment(id: string): ResultAsync<HeldPayment | undefined, StorageError>;
  /** The payment a caller asked for under its own reference (a booking id), or undefined. */
  findHeldPaymentByReference(
    requestedBy: string,
    clientReference: string,
  ): ResultAsync<HeldPayment | undefined, StorageError>;
  /**
   * A seller's payments that have not ended (their release may wait on the seller's
   * account), oldest first: each hears when the account can or cannot receive.
   */
  listOpenHeldPaymentsOfSeller(sellerId: PersonId): ResultAsync<readonly HeldPayment[], StorageError>;
  /**
   * A seller's payments with a reversal of the seller's transfer asked for or failed, or,
   * once the transfer was made, a dispute open or lost with its loss not booked yet (what a
   * payout of the seller's balance must leave for: `reversalReserve`), oldest first.
   */
  listHeldPaymentsReversingSeller(sellerId: PersonId): ResultAsync<readonly HeldPayment[], StorageError>;
  listHeldPayments(
    query: HeldPaymentQuery,
  ): ResultAsync<{ readonly items: readonly HeldPayment[]; readonly hasMore: boolean }, StorageError>;
}

/** A page of a person's payouts: newest first (by the provider's creation time, then id). */
export interface PayoutQuery {
  readonly personId: PersonId;
  /** 1–100. */
  readonly limit: number;
  /** The id of the last payout of the previous page; an unknown id is an empty page. */
  readonly startingAfter?: string;
}

/** A person who can be paid out: their connected account, as recorded. */
export interface PayableAccount {
  readonly personId: PersonId;
  readonly connectedAccountId: string;
}

/** Loads recorded payouts, and the accounts a payout run goes through. */
export interface PayoutRepository {
  /** The payout recorded under this provider id, or undefined. */
  getPayout(id: string): ResultAsync<PayoutRecord | undefined, StorageError>;
  listPayoutsOfPerson(
    query: PayoutQuery,
  ): ResultAsync<{ readonly items: readonly PayoutRecord[]; readonly hasMore: boolean }, StorageError>;
  /**
   * People whose connected account has payouts enabled, by person id after `startingAfter`,
   * at most `limit` (1–500): a payout run pages through them.
   */
  listPayoutAccounts(query: {
    readonly limit: number;
    readonly startingAfter?: PersonId;
  }): ResultAsync<readonly PayableAccount[], StorageError>;
  /**
   * Payouts whose outcome may still change at the provider: `pending` or `in_transit`, or
   * `paid` with an arrival date at or after `paidSince` (a bank may still return it), by
   * payout id after `startingAfter`, at most `limit` (1–500): the payout recheck pages
   * through them.
   */
  listPayoutsToRecheck(query: {
    readonly paidSince: Instant;
    readonly limit: number;
    readonly startingAfter?: string;
  }): ResultAsync<readonly PayoutRecord[], StorageError>;
  /** The payout request recorded under this key, or undefined. */
  getPayoutRequest(key: string): ResultAsync<PayoutRequest | undefined, StorageError>;
  /**
   * Payout requests whose outcome susu does not know (`asked`), by key after `startingAfter`,
   * at most `limit` (1–500): the payout recheck pages through them.
   */
  listPayoutRequestsToResolve(query: {
    readonly limit: number;
    readonly startingAfter?: string;
  }): ResultAsync<readonly PayoutRequest[], StorageError>;
  /** The payout pauses in force (the platform's, people's): few, read whole. */
  listPayoutPauses(): ResultAsync<readonly PayoutPause[], StorageError>;
}

/** Which marketplace charges to list: newest first (by `createdAt`, then id), each filter narrowing the list. */
export interface MarketplaceChargeQuery {
  /** The customer's (a person's) charges. */
  readonly customerId?: PersonId;
  /** The charges that pay this seller (a person): a destination charge's seller or any co-host of a split. */
  readonly sellerId?: PersonId;
  /** The charges a caller asked for (the principal that created them). */
  readonly requestedBy?: string;
  readonly status?: MarketplaceChargeStatus;
  /** 1–100; another limit is refused (`storage_refused`). */
  readonly limit: number;
  /** The id of the last charge of the previous page (its place, whatever its status now); an unknown id reads nothing. */
  readonly startingAfter?: string;
}

/**
 * Loads marketplace charges. What a store keeps, besides the whole charge as plain data
 * (it round-trips JSON), is what it is found by; and it refuses, as keys would, a charge
 * whose customer or any seller is not a person (`storage_refused`), and a second charge
 * with the same caller's reference, PaymentIntent or transfer group (`duplicate`).
 */
export interface MarketplaceChargeRepository {
  /** The charge with this id, or undefined. */
  getMarketplaceCharge(id: string): ResultAsync<MarketplaceCharge | undefined, StorageError>;
  /** The charge a caller asked for under its own reference (an RSVP or order id), or undefined. */
  findMarketplaceChargeByReference(
    requestedBy: string,
    clientReference: string,
  ): ResultAsync<MarketplaceCharge | undefined, StorageError>;
  /** The charge whose PaymentIntent this is (`pi_…`), or undefined (Stripe objects that carry no metadata name it). */
  findMarketplaceChargeByPaymentIntent(
    paymentIntentId: string,
  ): ResultAsync<MarketplaceCharge | undefined, StorageError>;
  listMarketplaceCharges(
    query: MarketplaceChargeQuery,
  ): ResultAsync<{ readonly items: readonly MarketplaceCharge[]; readonly hasMore: boolean }, StorageError>;
  /**
   * The charges with a reversal of this seller's transfer asked for or failed, or, once a
   * transfer to them was made (a destination charge's, their split transfer), a dispute
   * open or lost with its loss not booked yet (what a payout of the seller's balance must
   * leave for: `reversalReserve`), oldest first.
   */
  listMarketplaceChargesReversingSeller(
    sellerId: PersonId,
  ): ResultAsync<readonly MarketplaceCharge[], StorageError>;
}

/** Loads membership plans. */
export interface PlanRepository {
  /** The plan with this id, or undefined. */
  getPlan(id: string): ResultAsync<Plan | undefined, StorageError>;
  /** Every plan (archived ones when asked), by creation time then id; bounded by what admins create. */
  listPlans(query: { readonly includeArchived: boolean }): ResultAsync<readonly Plan[], StorageError>;
}

/**
 * Loads memberships. A store refuses (`storage_refused`) a subscription whose person is not
 * a person, and (`duplicate`) a second one with the same Stripe subscription.
 */
export interface SubscriptionRepository {
  /** The subscription with this id, or undefined. */
  getSubscription(id: string): ResultAsync<Subscription | undefined, StorageError>;
  /** The subscription of this Stripe subscription (`sub_…`), or undefined. */
  findSubscriptionByStripeId(
    stripeSubscriptionId: string,
  ): ResultAsync<Subscription | undefined, StorageError>;
  /** A person's subscriptions, newest first (bounded: a person holds few). */
  listSubscriptionsOfPerson(personId: PersonId): ResultAsync<readonly Subscription[], StorageError>;
  /**
   * Every subscription of a person that Stripe started (a Stripe subscription recorded),
   * newest first, not bounded: whether the person had a trial or paid is read from all of
   * them (attempts that never started, which a person can make without limit, cannot crowd
   * one out).
   */
  listStartedSubscriptionsOfPerson(personId: PersonId): ResultAsync<readonly Subscription[], StorageError>;
}

/** One line of the audit log: what happened to an aggregate and whether it applied. */
export interface AuditEntry {
  readonly at: Instant;
  readonly aggregate: StoredAggregate;
  readonly aggregateId: string;
  /** The input or command, e.g. `debit_succeeded`, `join_group`. */
  readonly action: string;
  readonly outcome: "applied" | "ignored";
  readonly detail?: string;
  /** Who or what caused it: a member id, `stripe:evt_…`, `timer`, `scheduler`. */
  readonly actor: string;
}

/** An audit line as stored: with the id that orders it and that pages are cut at. */
export interface AuditRecord extends AuditEntry {
  /** Stable and increasing in the order lines were stored (`audit_<n>`); a page cursor. */
  readonly id: string;
}

/** Which audit lines to read: those of any of `subjects`, after `startingAfter`, at most `limit`. */
export interface AuditQuery {
  /** The aggregates whose lines to read (e.g. a group and its rounds); empty reads nothing. */
  readonly subjects: readonly { readonly aggregate: AuditEntry["aggregate"]; readonly aggregateId: string }[];
  /** 1 to {@link AUDIT_PAGE_MAX}. */
  readonly limit: number;
  /** The id of the last line already read; an id in no known format reads nothing. */
  readonly startingAfter?: string;
}

/** Most audit lines one {@link AuditLog.listAudit} returns. */
export const AUDIT_PAGE_MAX = 500;

/** At most this many aggregates in one {@link AuditQuery}: a group and its rounds, with room to spare. */
export const AUDIT_SUBJECTS_MAX = 1_000;

/** The audit log's read side: what happened to aggregates and why, oldest first. */
export interface AuditLog {
  /** Lines of the query's subjects in the order they were stored (by id), oldest first. */
  listAudit(query: AuditQuery): ResultAsync<readonly AuditRecord[], StorageError>;
}

/** The sequence number of an audit line id (`audit_<n>`), or undefined for any other string. */
export function auditSequenceOf(id: string): bigint | undefined {
  const m = /^audit_([1-9][0-9]{0,18})$/.exec(id);
  if (m?.[1] === undefined) return undefined;
  const n = BigInt(m[1]);
  // Ids are PostgreSQL bigints: a larger number names no line (and must not reach the database).
  return n <= AUDIT_SEQUENCE_MAX ? n : undefined;
}

/** The largest audit line sequence number (PostgreSQL's bigint). */
const AUDIT_SEQUENCE_MAX = 9_223_372_036_854_775_807n;

/** The id of the audit line with sequence number `n`. */
export function auditIdOf(n: bigint | number): string {
  return `audit_${n}`;
}

/** A new state to store, with the version it was loaded at (undefined: a new aggregate). */
export interface VersionedChange<T> {
  readonly state: T;
  readonly expectedVersion: number | undefined;
}

/** Everything one use case changes, stored atomically. */
export interface Changeset {
  /** People, stored first: a group's members must be people (a new member's person comes in the same changeset). */
  readonly people: readonly VersionedChange<Person>[];
  readonly groups: readonly VersionedChange<Group>[];
  readonly rounds: readonly VersionedChange<Round>[];
  /** Held-funds payments (absent: none changed). */
  readonly heldPayments?: readonly VersionedChange<HeldPayment>[];
  /**
   * Recorded payouts (absent: none changed). Not versioned: each is written only if its
   * status moves forward from the stored one (`mergePayout`'s order), so two writers racing
   * on one payout keep the furthest status whoever commits last.
   */
  readonly payouts?: readonly PayoutRecord[];
  /**
   * Payouts susu asked the provider for (absent: none changed), by key. Not versioned: each is
   * written only if it is new or its status moves forward (`payoutRequestMoves`).
   */
  readonly payoutRequests?: readonly PayoutRequest[];
  /** Payout pauses set (paused, or paused again) or cleared (resumed) (absent: none changed), by scope. */
  readonly payoutPauses?: readonly PayoutPauseChange[];
  /** Marketplace charges (absent: none changed). */
  readonly marketplaceCharges?: readonly VersionedChange<MarketplaceCharge>[];
  /** People's saved payment methods (absent: none changed), versioned like aggregates. */
  readonly paymentMethods?: readonly VersionedChange<SavedPaymentMethod>[];
  /** Membership plans (absent: none changed). */
  readonly plans?: readonly VersionedChange<Plan>[];
  /** Memberships (absent: none changed). */
  readonly subscriptions?: readonly VersionedChange<Subscription>[];
  /** Effects appended to the outbox; an effect whose id is already there is kept once. */
  readonly outbox: readonly OutboxEffect[];
  readonly audit: readonly AuditEntry[];
  /**
   * The outbox effect whose result this changeset records (absent: none), marked done with
   * it as `OutboxStore.complete` would (only while its worker holds the claim): the result
   * and the effect's completion are one commit.
   */
  readonly outboxDone?: OutboxCompletion;
}

/** An outbox effect to mark done together with the write that carried it out. */
export interface OutboxCompletion {
  readonly effectId: string;
  /** Only this worker's claim is completed (as `OutboxStore.complete`): a lost claim is left alone. */
  readonly workerId: string;
  readonly at: Instant;
}

/**
 * Stores a changeset in one transaction: each aggregate only if its stored version still
 * equals `expectedVersion` (then stored with version + 1), the outbox effects and the
 * audit lines with it — all or nothing. A crash leaves the old state with no effects, or
 * the new state with its effects pending, never half.
 */
export interface UnitOfWork {
  commit(changes: Changeset): ResultAsync<void, StorageError>;
}

/** An effect waiting in the outbox, as claimed by a dispatcher. */
export interface OutboxRecord {
  readonly effect: OutboxEffect;
  /** How many times executing it has failed so far. */
  readonly attempts: number;
  readonly availableAt: Instant;
  /**
   * When the effect was first appended to the outbox, on the use cases' clock: kept by every
   * retry, re-claim and requeue (a copy appended again keeps the first). The dispatcher hands
   * it to the provider calls as their `effectCreatedAt`. Absent when the store does not keep it.
   */
  readonly createdAt?: Instant;
  /**
   * An execution of it was recorded as failed before, also one before a requeue (which resets
   * `attempts` to 0), or a try of it was cut short with no outcome recorded: its worker died,
   * or was cut off past its lease, or could not record the result (see
   * {@link OutboxStore.claimDue} and {@link OutboxStore.release}). The dispatcher then treats
   * its run as a retry: an earlier send may have made an object, or left an error Stripe
   * replays under the key.
   */
  readonly failedBefore?: boolean;
  /**
   * How many of its runs the provider refused for good, each then parked (see
   * {@link OutboxStore.fail}'s `refused`). A requeued effect's run then keys its provider
   * calls past them (`ExecuteOptions.refusals`). Absent: none.
   */
  readonly refusals?: number;
}

/** How every interruption's note begins. */
export const INTERRUPTED_NOTE_PREFIX = "interrupted:";
/** What joins an interruption's note to the error the effect had before it. */
export const INTERRUPTED_BEFORE = "; before: ";

/**
 * The last error kept for an outbox effect whose try was cut short with no outcome recorded
 * (a provider call may have gone out unheard): its next claim says it failed before
 * (`OutboxRecord.failedBefore`). No attempt is counted for it, so crashes do not spend the
 * retry budget. `leaseExpired`: the claim of `workerId` ended unsettled (the claim that takes
 * it, or the stuck-work sweep, records it); `workerDied`: its worker was found dead before its
 * lease ended (the adapters' dead-worker release); `unrecorded`: its worker started it but
 * could not record the result (its database went away) and gives it back
 * ({@link OutboxStore.release}). The PostgreSQL statements write the same words.
 */
export const interruptedTry = {
  leaseExpired: (workerId: string): string =>
    `${INTERRUPTED_NOTE_PREFIX} the lease of ${workerId} expired before it settled the effect`,
  workerDied: (workerId: string): string =>
    `${INTERRUPTED_NOTE_PREFIX} ${workerId} died (its liveness lock gone) before it settled the effect`,
  unrecorded: (workerId: string): string =>
    `${INTERRUPTED_NOTE_PREFIX} ${workerId} started it but could not record its outcome`,
  /**
   * The last error to keep: `note`, followed by the error the effect had before it (a
   * provider's refusal, a timeout: its real cause) after {@link INTERRUPTED_BEFORE}, kept
   * through any number of later interruptions. The PostgreSQL statements write the same.
   */
  over: (note: string, previous: string | undefined): string => {
    const earlier = previous === undefined ? undefined : causeBeforeInterruptions(previous);
    return earlier === undefined ? note : `${note}${INTERRUPTED_BEFORE}${earlier}`;
  },
} as const;

/** The error under a chain of interruption notes: `previous` itself when it is no such note. */
function causeBeforeInterruptions(previous: string): string | undefined {
  if (!previous.startsWith(INTERRUPTED_NOTE_PREFIX)) return previous;
  const at = previous.indexOf(INTERRUPTED_BEFORE);
  return at < 0 ? undefined : previous.slice(at + INTERRUPTED_BEFORE.length);
}

/**
 * The outbox, from the dispatcher's side. Claims are leases: a dispatcher that dies
 * loses its claim when the lease ends, and another picks the effect up; executing an
 * effect twice is safe because its id is the idempotency key.
 *
 * Per-aggregate order: the effects of one aggregate ({@link outboxAggregateOf}) are
 * executed one at a time, in the order they were decided, across every dispatcher. A claim
 * never takes an effect of an aggregate that has any effect under a live lease (anyone's,
 * the claimer's own included), so effects of one aggregate are only ever claimed together,
 * by one worker, which runs them in order. An effect waiting out a retry backoff (not due,
 * not leased) does not hold its aggregate back: a later effect of the same aggregate that is
 * due may run before it, as the dispatcher has always done (each effect is its own provider
 * call with its own idempotency key; the aggregates' state machines accept their facts in
 * any order). A parked effect does not hold its aggregate back either.
 */
export interface OutboxStore {
  /**
   * Claims up to `limit` due effects, oldest first, leasing them to `workerId` until
   * `now + leaseMs`: only effects not under a live lease, of aggregates with no effect under
   * a live lease (see the per-aggregate rule above). Claims are atomic with respect to
   * each other: two concurrent claims never take effects of one aggregate. An effect whose
   * lease ended while it was still claimed (its worker died mid-run, or was cut off past the
   * lease) may have been tried: the claim records that as its last error (`interrupted: …`,
   * no attempt counted) and hands it out as failed before (`OutboxRecord.failedBefore`), as
   * does every other path that clears such a claim (the adapters' stuck-work sweep and
   * dead-worker release). A claim is durable once answered (it survives a crash of the
   * store): the dispatcher makes provider calls under it, and a claim lost after such a call
   * would hand the effect out again as never tried.
   */
  claimDue(
    workerId: string,
    now: Instant,
    leaseMs: number,
    limit: number,
  ): ResultAsync<readonly OutboxRecord[], StorageError>;
  /**
   * Marks an effect done, only while `workerId` holds its claim. Answers whether it did:
   * `false` when the claim was lost (its lease ended and another worker took the effect over,
   * or the effect is no longer pending), and then nothing changed — the worker holding it now
   * settles it.
   */
  complete(effectId: string, workerId: string, now: Instant): ResultAsync<boolean, StorageError>;
  /**
   * Records a failed execution; the effect is due again at `retryAt`, or parked when `retryAt`
   * is undefined. `refused`: parked because the provider refused it for good, which counts
   * in its `refusals` (a requeue then runs it under a new provider key). Only while `workerId`
   * holds its claim; answers whether it did (`false`: the claim was lost, nothing changed, as
   * {@link complete}).
   */
  fail(
    effectId: string,
    workerId: string,
    error: string,
    retryAt: Instant | undefined,
    options?: { readonly refused?: boolean },
  ): ResultAsync<boolean, StorageError>;
  /**
   * Gives back `workerId`'s claims on `effectIds` that are still pending: claimable again at
   * once, no attempt counted. A live dispatcher calls it for the claims it could not settle
   * (its database went away mid-pass), so they do not wait out their lease. With
   * `interrupted` (their runs started, so a provider call may have gone out unheard), that
   * note is kept as their last error and their next claim says they failed before
   * (`OutboxRecord.failedBefore`); without, nothing but the claim changes (never started).
   * Returns how many claims were released.
   */
  release(
    workerId: string,
    effectIds: readonly string[],
    interrupted?: string,
  ): ResultAsync<number, StorageError>;
  /**
   * Gives back every claim `workerId` still holds on a pending effect: claimable again at once,
   * no attempt counted, nothing else changed. For a live dispatcher whose last pass failed,
   * before it claims again: a claim whose answer it never heard (the database went away as the
   * claim committed, or before the claim's malformed rows were parked) is in no pass's hands,
   * and would otherwise wait out its lease. Only for a worker with no pass in progress (a
   * worker id is one dispatcher loop's, whose passes never overlap). How many were released.
   */
  releaseOwnClaims?(workerId: string): ResultAsync<number, StorageError>;
}

/** An outbox row as operators see it. */
export interface OutboxEntry {
  readonly id: string;
  /** The effect's kind (`collect_contribution`, `transfer`, …). */
  readonly kind: string;
  /** `dismissed`: parked, then set aside by an operator ({@link OutboxOperations.dismissParked}). */
  readonly status: "pending" | "done" | "parked" | "dismissed";
  readonly attempts: number;
  readonly availableAt: Instant;
  readonly lastError: string | undefined;
  /** The group or round that decided it. */
  readonly aggregateId: string | undefined;
}

/** What requeuing one effect did. */
export type RequeueOutcome = "requeued" | "not_parked" | "not_found";

/** Longest reason an operator gives for dismissing a parked item (as a ticket's resolution). */
export const DISMISSAL_REASON_MAX_CHARS = 2000;

/** An operator's dismissal of a parked item: who (their token's subject), why, and when. */
export interface ParkedDismissal {
  readonly by: string;
  readonly reason: string;
  readonly at: Instant;
}

/**
 * What dismissing one parked item did: `dismissed`, with whether its parking's ticket was
 * open and is now resolved; `not_parked` (nothing changed) or `not_found`.
 */
export type DismissOutcome =
  | { readonly outcome: "dismissed"; readonly ticketResolved: boolean }
  | { readonly outcome: "not_parked" }
  | { readonly outcome: "not_found" };

/** The audit action of a dismissal, on the item (and on an effect's aggregate). */
export const DISMISS_PARKED_ACTION = "dismiss_parked";

/** Who a dismissal's audit lines name: the operator, as an operator's adjustment does. */
export const dismissalActor = (by: string): string => `operator:${by}`;

/** The resolution a dismissal writes on the parking's ticket. */
export const dismissalResolution = (reason: string): string => `dismissed: ${reason}`;

/** The id of the ticket parking an effect opens (the dispatcher's `retryOrPark`). */
export const parkedEffectTicketId = (effectId: string): string => `${effectId}:parked`;

/**
 * The outbox, from the operators' side: what is parked, and putting it back. A requeued
 * effect keeps its id — the provider's idempotency key — so running it again cannot move
 * money twice; one parked because the provider refused it for good runs under a new key
 * (`OutboxRecord.refusals`), as the refusal made nothing and the old key would only replay it.
 */
export interface OutboxOperations {
  /** Effects with `status`, oldest first (insertion order), `limit` after the cursor. */
  listOutbox(query: {
    readonly status: "pending" | "parked" | "dismissed";
    readonly limit: number;
    readonly startingAfter?: string;
  }): ResultAsync<{ readonly items: readonly OutboxEntry[]; readonly hasMore: boolean }, StorageError>;
  /**
   * Makes a parked (or dismissed: the undo of {@link dismissParked}) effect pending and due
   * at `now`, with its attempts reset to 0 (a fresh retry budget: the cause was fixed) and
   * its last error kept until it runs again. Its creation time is kept, and its claims say it
   * failed before (`OutboxRecord.failedBefore`), so its next run looks for what an earlier
   * send made, as a retry does.
   */
  requeueParked(id: string, now: Instant): ResultAsync<RequeueOutcome, StorageError>;
  /** {@link requeueParked} for every parked effect (never a dismissed one); how many were requeued. */
  requeueAllParked(now: Instant): ResultAsync<number, StorageError>;
  /**
   * Sets a parked effect aside for good: `dismissed`, a terminal status (never claimed, never
   * run, not done, not requeued with every parked effect) that keeps its attempts and last
   * error. Atomically with it: audit lines ({@link DISMISS_PARKED_ACTION}, actor
   * {@link dismissalActor}, the reason) on the effect (`outbox_effect`) and on its aggregate,
   * and the parking's ticket ({@link parkedEffectTicketId}) resolved with the reason where the
   * store keeps tickets and it is still open. Anything but a parked effect is left as it is.
   */
  dismissParked(id: string, dismissal: ParkedDismissal): ResultAsync<DismissOutcome, StorageError>;
}
