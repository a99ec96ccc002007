import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import type { Group } from "../group/group.js";
import { nextRoundOpensAt } from "../group/group.js";
import type { GroupId } from "../group/ids.js";
import type { HeldPayment } from "../held-payment/held-payment.js";
import type { MarketplaceCharge } from "../marketplace/marketplace-charge.js";
import type { Plan } from "../membership/plan.js";
import { isCurrentMembership, type Subscription } from "../membership/subscription.js";
import type { SavedPaymentMethod } from "../payment-method/saved-payment-method.js";
import { mergePayout, type PayoutRecord, type PayoutRequest, payoutRequestMoves } from "../payout/payout.js";
import { type PayoutPause, payoutPauseKey } from "../payout/payout-pause.js";
import type { PersonId } from "../person/ids.js";
import type { Person } from "../person/person.js";
import { outboxAggregateOf } from "../ports/outbox-aggregate.js";
import type { OutboxEffect } from "../ports/outbox-effect.js";
import type { PaymentMethodRepository } from "../ports/payment-method-repository.js";
import {
  AUDIT_PAGE_MAX,
  AUDIT_SUBJECTS_MAX,
  type AuditEntry,
  type AuditLog,
  type AuditQuery,
  type AuditRecord,
  auditIdOf,
  auditSequenceOf,
  type Changeset,
  DISMISS_PARKED_ACTION,
  type DismissOutcome,
  type DueGroupCursor,
  dismissalActor,
  type GroupRepository,
  type GroupWithPeople,
  type HeldPaymentQuery,
  type HeldPaymentRepository,
  interruptedTry,
  isAfterDueGroupCursor,
  type MarketplaceChargeQuery,
  type MarketplaceChargeRepository,
  type OutboxEntry,
  type OutboxOperations,
  type OutboxRecord,
  type OutboxStore,
  type ParkedDismissal,
  type PayableAccount,
  type PayoutQuery,
  type PayoutRepository,
  type PersonRepository,
  type PlanRepository,
  type RequeueOutcome,
  type RoundRepository,
  type StorageError,
  type SubscriptionRepository,
  storageError,
  type UnitOfWork,
} from "../ports/storage.js";
import type { Round } from "../round/round.js";
import type { Instant } from "../shared/time.js";

/** Most held payments one `listHeldPayments` page holds (as the port says). */
const HELD_PAYMENTS_PAGE_MAX = 100;

/** Most marketplace charges one `listMarketplaceCharges` page holds (as the port says). */
const MARKETPLACE_CHARGES_PAGE_MAX = 100;

/** Newest first: by `createdAt`, then by id (as PostgreSQL orders the page). */
function newestFirst(
  a: { readonly createdAt: Instant; readonly id: string },
  b: { readonly createdAt: Instant; readonly id: string },
): number {
  if (a.createdAt !== b.createdAt) return b.createdAt - a.createdAt;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

function aggregateKey(effect: OutboxEffect): string {
  const { type, id } = outboxAggregateOf(effect);
  return `${type}\u0000${id}`;
}

interface OutboxRow {
  effect: OutboxEffect;
  status: "pending" | "done" | "parked" | "dismissed";
  attempts: number;
  availableAt: Instant;
  claimedBy?: string;
  claimedUntil?: Instant;
  lastError?: string;
  /** Runs the provider refused for good (`OutboxRecord.refusals`). */
  refusals?: number;
}

/**
 * People, groups, rounds, held payments, marketplace charges, the outbox and the audit log
 * in memory, with the same semantics as the PostgreSQL adapter: optimistic versions, atomic
 * changesets, members, sellers and customers that must be people, one person per Stripe
 * object, one payment per caller's reference, leased outbox claims.
 */
export class InMemoryStore
  implements
    PersonRepository,
    GroupRepository,
    RoundRepository,
    HeldPaymentRepository,
    PayoutRepository,
    MarketplaceChargeRepository,
    PlanRepository,
    SubscriptionRepository,
    PaymentMethodRepository,
    UnitOfWork,
    OutboxStore,
    OutboxOperations,
    AuditLog
{
  readonly #people = new Map<PersonId, Person>();
  readonly #groups = new Map<GroupId, Group>();
  readonly #rounds = new Map<string, Round>();
  readonly #heldPayments = new Map<string, HeldPayment>();
  readonly #payouts = new Map<string, PayoutRecord>();
  readonly #payoutRequests = new Map<string, PayoutRequest>();
  readonly #payoutPauses = new Map<string, PayoutPause>();
  readonly #plans = new Map<string, Plan>();
  readonly #subscriptions = new Map<string, Subscription>();
  readonly #marketplaceCharges = new Map<string, MarketplaceCharge>();
  readonly #paymentMethods = new Map<string, SavedPaymentMethod>();
  readonly #outbox = new Map<string, OutboxRow>();
  readonly #audit: AuditEntry[] = [];
  /**
   * When set, the next commit fails with this error and stores nothing (crash and refusal
   * tests: `storage_unavailable` for a lost database, `storage_refused` for a refused state).
   */
  failNextCommitWith: StorageError | undefined;

  getPerson(id: PersonId): ResultAsync<Person | undefined, StorageError> {
    return okAsync(this.#people.get(id));
  }

  getPeople(ids: readonly PersonId[]): ResultAsync<readonly Person[], StorageError> {
    return okAsync(ids.flatMap((id) => this.#people.get(id) ?? []));
  }

  findByCustomer(customerId: string): ResultAsync<Person | undefined, StorageError> {
    return okAsync(this.#findPerson((p) => p.customerId === customerId));
  }

  findByMandate(mandateId: string): ResultAsync<Person | undefined, StorageError> {
    return okAsync(this.#findPerson((p) => p.debit?.mandateId === mandateId));
  }

  findByConnectedAccount(accountId: string): ResultAsync<Person | undefined, StorageError> {
    return okAsync(this.#findPerson((p) => p.payout?.connectedAccountId === accountId));
  }

  #findPerson(matches: (p: Person) => boolean): Person | undefined {
    for (const p of this.#people.values()) if (matches(p)) return p;
    return undefined;
  }

  getGroup(id: GroupId): ResultAsync<Group | undefined, StorageError> {
    return okAsync(this.#groups.get(id));
  }

  getGroupWithPeople(id: GroupId): ResultAsync<GroupWithPeople | undefined, StorageError> {
    const group = this.#groups.get(id);
    return okAsync(
      group === undefined
        ? undefined
        : { group, people: group.members.flatMap((m) => this.#people.get(m.id) ?? []) },
    );
  }

  listGroupsOfPerson(personId: PersonId): ResultAsync<readonly Group[], StorageError> {
    return okAsync(
      [...this.#groups.values()]
        .filter((g) => g.members.some((m) => m.id === personId && m.status !== "left"))
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
    );
  }

  findGroupsDueForRound(
    at: Instant,
    limit: number,
    after?: DueGroupCursor,
  ): ResultAsync<readonly Group[], StorageError> {
    const due = [...this.#groups.values()]
      .filter(
        (g) =>
          g.status === "active" &&
          g.currentRoundId === undefined &&
          nextRoundOpensAt(g) <= at &&
          (after === undefined || isAfterDueGroupCursor(g, after)),
      )
      .map((g) => ({ g, at: nextRoundOpensAt(g) }))
      // The store's order, as PostgreSQL's: most overdue first, then by id.
      .sort((a, b) => a.at - b.at || (a.g.id < b.g.id ? -1 : a.g.id > b.g.id ? 1 : 0))
      .map(({ g }) => g);
    return okAsync(due.slice(0, limit));
  }

  getRound(id: string): ResultAsync<Round | undefined, StorageError> {
    return okAsync(this.#rounds.get(id));
  }

  listRoundsOfGroup(groupId: GroupId): ResultAsync<readonly Round[], StorageError> {
    return okAsync(
      [...this.#rounds.values()].filter((r) => r.groupId === groupId).sort((a, b) => a.sequence - b.sequence),
    );
  }

  getHeldPayment(id: string): ResultAsync<HeldPayment | undefined, StorageError> {
    return okAsync(this.#heldPayments.get(id));
  }

  findHeldPaymentByReference(
    requestedBy: string,
    clientReference: string,
  ): ResultAsync<HeldPayment | undefined, StorageError> {
    for (const p of this.#heldPayments.values())
      if (p.requestedBy === requestedBy && p.clientReference === clientReference) return okAsync(p);
    return okAsync(undefined);
  }

  /** The seller's payments whose `endedAt` is unset (the release may still happen), oldest first. */
  listOpenHeldPaymentsOfSeller(sellerId: PersonId): ResultAsync<readonly HeldPayment[], StorageError> {
    return okAsync(
      [...this.#heldPayments.values()]
        .filter((p) => p.seller.id === sellerId && p.endedAt === undefined)
        .sort((a, b) => newestFirst(b, a)),
    );
  }

  listHeldPaymentsReversingSeller(sellerId: PersonId): ResultAsync<readonly HeldPayment[], StorageError> {
    return okAsync(
      [...this.#heldPayments.values()]
        .filter(
          (p) =>
            p.seller.id === sellerId &&
            (p.reversals.some((r) => r.status === "requested" || r.status === "failed") ||
              (p.disputes.some(disputeToCome) && p.transfers.some((t) => t.status === "created"))),
        )
        .sort((a, b) => newestFirst(b, a)),
    );
  }

  listMarketplaceChargesReversingSeller(
    sellerId: PersonId,
  ): ResultAsync<readonly MarketplaceCharge[], StorageError> {
    return okAsync(
      [...this.#marketplaceCharges.values()]
        .filter(
          (c) =>
            c.sellers.some((x) => x.id === sellerId) &&
            (c.reversals.some(
              (r) => r.sellerId === sellerId && (r.status === "requested" || r.status === "failed"),
            ) ||
              (c.disputes.some(disputeToCome) &&
                (c.destinationTransferId !== undefined ||
                  c.transfers.some((t) => t.sellerId === sellerId && t.status === "created")))),
        )
        .sort((a, b) => newestFirst(b, a)),
    );
  }

  /** Newest first, after the cursor payment's place (whatever its status now); an unknown cursor reads nothing. */
  listHeldPayments(
    query: HeldPaymentQuery,
  ): ResultAsync<{ readonly items: readonly HeldPayment[]; readonly hasMore: boolean }, StorageError> {
    if (!Number.isSafeInteger(query.limit) || query.limit < 1 || query.limit > HELD_PAYMENTS_PAGE_MAX)
      return errAsync(
        storageError.refused(
          `listHeldPayments: limit must be 1–${HELD_PAYMENTS_PAGE_MAX}, got ${query.limit}`,
        ),
      );
    let after: HeldPayment | undefined;
    if (query.startingAfter !== undefined) {
      after = this.#heldPayments.get(query.startingAfter);
      if (after === undefined) return okAsync({ items: [], hasMore: false });
    }
    const cursor = after;
    const matching = [...this.#heldPayments.values()]
      .filter(
        (p) =>
          (query.sellerId === undefined || p.seller.id === query.sellerId) &&
          (query.requestedBy === undefined || p.requestedBy === query.requestedBy) &&
          (query.status === undefined || p.status === query.status) &&
          (cursor === undefined || newestFirst(cursor, p) < 0),
      )
      .sort(newestFirst);
    return okAsync({ items: matching.slice(0, query.limit), hasMore: matching.length > query.limit });
  }

  getPayout(id: string): ResultAsync<PayoutRecord | undefined, StorageError> {
    return okAsync(this.#payouts.get(id));
  }

  listPayoutsOfPerson(
    query: PayoutQuery,
  ): ResultAsync<{ readonly items: readonly PayoutRecord[]; readonly hasMore: boolean }, StorageError> {
    const newestFirst = (a: PayoutRecord, b: PayoutRecord) =>
      a.createdAt !== b.createdAt
        ? b.createdAt - a.createdAt
        : a.payoutId < b.payoutId
          ? 1
          : a.payoutId > b.payoutId
            ? -1
            : 0;
    const mine = [...this.#payouts.values()].filter((p) => p.personId === query.personId).sort(newestFirst);
    let from = 0;
    if (query.startingAfter !== undefined) {
      const at = mine.findIndex((p) => p.payoutId === query.startingAfter);
      if (at < 0) return okAsync({ items: [], hasMore: false });
      from = at + 1;
    }
    const rest = mine.slice(from);
    return okAsync({ items: rest.slice(0, query.limit), hasMore: rest.length > query.limit });
  }

  listPayoutAccounts(query: {
    readonly limit: number;
    readonly startingAfter?: PersonId;
  }): ResultAsync<readonly PayableAccount[], StorageError> {
    const after = query.startingAfter;
    return okAsync(
      [...this.#people.values()]
        .filter((p) => p.payout?.payoutsEnabled === true && (after === undefined || p.id > after))
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .slice(0, query.limit)
        .map((p) => ({ personId: p.id, connectedAccountId: p.payout?.connectedAccountId ?? "" })),
    );
  }

  listPayoutsToRecheck(query: {
    readonly paidSince: Instant;
    readonly limit: number;
    readonly startingAfter?: string;
  }): ResultAsync<readonly PayoutRecord[], StorageError> {
    const after = query.startingAfter;
    return okAsync(
      [...this.#payouts.values()]
        .filter(
          (p) =>
            (p.status === "pending" ||
              p.status === "in_transit" ||
              (p.status === "paid" && p.arrivalDate >= query.paidSince)) &&
            (after === undefined || p.payoutId > after),
        )
        .sort((a, b) => (a.payoutId < b.payoutId ? -1 : a.payoutId > b.payoutId ? 1 : 0))
        .slice(0, query.limit),
    );
  }

  /** Every recorded payout (tests). */
  payouts(): PayoutRecord[] {
    return [...this.#payouts.values()];
  }

  getPayoutRequest(key: string): ResultAsync<PayoutRequest | undefined, StorageError> {
    return okAsync(this.#payoutRequests.get(key));
  }

  listPayoutRequestsToResolve(query: {
    readonly limit: number;
    readonly startingAfter?: string;
  }): ResultAsync<readonly PayoutRequest[], StorageError> {
    const after = query.startingAfter;
    return okAsync(
      [...this.#payoutRequests.values()]
        .filter((r) => r.status === "asked" && (after === undefined || r.key > after))
        .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
        .slice(0, query.limit),
    );
  }

  listPayoutPauses(): ResultAsync<readonly PayoutPause[], StorageError> {
    return okAsync([...this.#payoutPauses.values()]);
  }

  /** Every recorded payout request (tests). */
  payoutRequests(): PayoutRequest[] {
    return [...this.#payoutRequests.values()];
  }

  getMarketplaceCharge(id: string): ResultAsync<MarketplaceCharge | undefined, StorageError> {
    return okAsync(this.#marketplaceCharges.get(id));
  }

  findMarketplaceChargeByReference(
    requestedBy: string,
    clientReference: string,
  ): ResultAsync<MarketplaceCharge | undefined, StorageError> {
    for (const c of this.#marketplaceCharges.values())
      if (c.requestedBy === requestedBy && c.clientReference === clientReference) return okAsync(c);
    return okAsync(undefined);
  }

  findMarketplaceChargeByPaymentIntent(
    paymentIntentId: string,
  ): ResultAsync<MarketplaceCharge | undefined, StorageError> {
    for (const c of this.#marketplaceCharges.values())
      if (c.paymentIntentId === paymentIntentId) return okAsync(c);
    return okAsync(undefined);
  }

  /** Newest first, after the cursor charge's place (whatever its status now); an unknown cursor reads nothing. */
  listMarketplaceCharges(
    query: MarketplaceChargeQuery,
  ): ResultAsync<{ readonly items: readonly MarketplaceCharge[]; readonly hasMore: boolean }, StorageError> {
    if (!Number.isSafeInteger(query.limit) || query.limit < 1 || query.limit > MARKETPLACE_CHARGES_PAGE_MAX)
      return errAsync(
        storageError.refused(
          `listMarketplaceCharges: limit must be 1–${MARKETPLACE_CHARGES_PAGE_MAX}, got ${query.limit}`,
        ),
      );
    let after: MarketplaceCharge | undefined;
    if (query.startingAfter !== undefined) {
      after = this.#marketplaceCharges.get(query.startingAfter);
      if (after === undefined) return okAsync({ items: [], hasMore: false });
    }
    const cursor = after;
    const matching = [...this.#marketplaceCharges.values()]
      .filter(
        (c) =>
          (query.customerId === undefined || c.customer.id === query.customerId) &&
          (query.sellerId === undefined || c.sellers.some((s) => s.id === query.sellerId)) &&
          (query.requestedBy === undefined || c.requestedBy === query.requestedBy) &&
          (query.status === undefined || c.status === query.status) &&
          (cursor === undefined || newestFirst(cursor, c) < 0),
      )
      .sort(newestFirst);
    return okAsync({ items: matching.slice(0, query.limit), hasMore: matching.length > query.limit });
  }

  getPaymentMethod(id: string): ResultAsync<SavedPaymentMethod | undefined, StorageError> {
    return okAsync(this.#paymentMethods.get(id));
  }

  listPaymentMethodsOfPerson(
    personId: PersonId,
    options: { readonly includeRemoved?: boolean } = {},
  ): ResultAsync<readonly SavedPaymentMethod[], StorageError> {
    return okAsync(
      [...this.#paymentMethods.values()]
        .filter(
          (m) => m.personId === personId && (options.includeRemoved === true || m.removal === undefined),
        )
        .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
    );
  }

  /** Every saved payment method, removed ones included (test assertions). */
  paymentMethods(): SavedPaymentMethod[] {
    return [...this.#paymentMethods.values()];
  }

  getPlan(id: string): ResultAsync<Plan | undefined, StorageError> {
    return okAsync(this.#plans.get(id));
  }

  listPlans(query: { readonly includeArchived: boolean }): ResultAsync<readonly Plan[], StorageError> {
    return okAsync(
      [...this.#plans.values()]
        .filter((p) => query.includeArchived || p.status === "active")
        .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
    );
  }

  getSubscription(id: string): ResultAsync<Subscription | undefined, StorageError> {
    return okAsync(this.#subscriptions.get(id));
  }

  findSubscriptionByStripeId(
    stripeSubscriptionId: string,
  ): ResultAsync<Subscription | undefined, StorageError> {
    for (const s of this.#subscriptions.values())
      if (s.stripeSubscriptionId === stripeSubscriptionId) return okAsync(s);
    return okAsync(undefined);
  }

  listSubscriptionsOfPerson(personId: PersonId): ResultAsync<readonly Subscription[], StorageError> {
    return okAsync(
      [...this.#subscriptions.values()]
        .filter((s) => s.personId === personId)
        .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)),
    );
  }

  listStartedSubscriptionsOfPerson(personId: PersonId): ResultAsync<readonly Subscription[], StorageError> {
    return this.listSubscriptionsOfPerson(personId).map((all) =>
      all.filter((s) => s.stripeSubscriptionId !== undefined),
    );
  }

  commit(changes: Changeset): ResultAsync<void, StorageError> {
    if (this.failNextCommitWith !== undefined) {
      const error = this.failNextCommitWith;
      this.failNextCommitWith = undefined;
      return errAsync(error);
    }
    for (const { state, expectedVersion } of changes.people) {
      const stored = this.#people.get(state.id);
      if ((stored?.version ?? undefined) !== expectedVersion || (expectedVersion === undefined && stored))
        return errAsync(storageError.versionConflict("person", state.id));
    }
    const refused = this.#refusedPeople(changes);
    if (refused !== undefined) return errAsync(refused);
    for (const { state, expectedVersion } of changes.groups) {
      const stored = this.#groups.get(state.id);
      if ((stored?.version ?? undefined) !== expectedVersion || (expectedVersion === undefined && stored))
        return errAsync(storageError.versionConflict("group", state.id));
    }
    for (const { state, expectedVersion } of changes.rounds) {
      const stored = this.#rounds.get(state.id);
      if ((stored?.version ?? undefined) !== expectedVersion || (expectedVersion === undefined && stored))
        return errAsync(storageError.versionConflict("round", state.id));
    }
    const heldPayments = changes.heldPayments ?? [];
    for (const { state, expectedVersion } of heldPayments) {
      const stored = this.#heldPayments.get(state.id);
      if ((stored?.version ?? undefined) !== expectedVersion || (expectedVersion === undefined && stored))
        return errAsync(storageError.versionConflict("held_payment", state.id));
    }
    const refusedPayment = this.#refusedHeldPayments(changes);
    if (refusedPayment !== undefined) return errAsync(refusedPayment);
    const marketplaceCharges = changes.marketplaceCharges ?? [];
    for (const { state, expectedVersion } of marketplaceCharges) {
      const stored = this.#marketplaceCharges.get(state.id);
      if ((stored?.version ?? undefined) !== expectedVersion || (expectedVersion === undefined && stored))
        return errAsync(storageError.versionConflict("marketplace_charge", state.id));
    }
    const refusedCharge = this.#refusedMarketplaceCharges(changes);
    if (refusedCharge !== undefined) return errAsync(refusedCharge);
    const plans = changes.plans ?? [];
    for (const { state, expectedVersion } of plans) {
      const stored = this.#plans.get(state.id);
      if ((stored?.version ?? undefined) !== expectedVersion || (expectedVersion === undefined && stored))
        return errAsync(storageError.versionConflict("plan", state.id));
    }
    const subscriptions = changes.subscriptions ?? [];
    for (const { state, expectedVersion } of subscriptions) {
      const stored = this.#subscriptions.get(state.id);
      if ((stored?.version ?? undefined) !== expectedVersion || (expectedVersion === undefined && stored))
        return errAsync(storageError.versionConflict("subscription", state.id));
    }
    const refusedSubscription = this.#refusedSubscriptions(changes);
    if (refusedSubscription !== undefined) return errAsync(refusedSubscription);
    const paymentMethods = changes.paymentMethods ?? [];
    for (const { state, expectedVersion } of paymentMethods) {
      const stored = this.#paymentMethods.get(state.id);
      if ((stored?.version ?? undefined) !== expectedVersion || (expectedVersion === undefined && stored))
        return errAsync(storageError.versionConflict("payment_method", state.id));
      // As PostgreSQL's foreign key does: a method belongs to a person.
      if (!this.#people.has(state.personId) && !changes.people.some((p) => p.state.id === state.personId))
        return errAsync(
          storageError.refused(
            `commit refused payment method ${state.id}: ${state.personId} is not a person`,
          ),
        );
    }
    for (const { state, expectedVersion } of changes.people)
      this.#people.set(state.id, {
        ...state,
        version: expectedVersion === undefined ? 0 : expectedVersion + 1,
      });
    for (const { state, expectedVersion } of changes.groups)
      this.#groups.set(state.id, {
        ...state,
        version: expectedVersion === undefined ? 0 : expectedVersion + 1,
      });
    for (const { state, expectedVersion } of changes.rounds)
      this.#rounds.set(state.id, {
        ...state,
        version: expectedVersion === undefined ? 0 : expectedVersion + 1,
      });
    for (const { state, expectedVersion } of heldPayments)
      this.#heldPayments.set(state.id, {
        ...state,
        version: expectedVersion === undefined ? 0 : expectedVersion + 1,
      });
    for (const record of changes.payouts ?? []) {
      // As PostgreSQL writes it: only a status further along replaces the stored one.
      const stored = this.#payouts.get(record.payoutId);
      if (
        stored === undefined ||
        mergePayout(stored, record, stored.personId, record.updatedAt).kind === "advanced"
      )
        this.#payouts.set(record.payoutId, record);
    }
    // As PostgreSQL writes it: a new key is stored, a known one only moves forward.
    for (const request of changes.payoutRequests ?? [])
      if (payoutRequestMoves(this.#payoutRequests.get(request.key), request))
        this.#payoutRequests.set(request.key, request);
    for (const { scope, pause } of changes.payoutPauses ?? [])
      if (pause === undefined) this.#payoutPauses.delete(payoutPauseKey(scope));
      else this.#payoutPauses.set(payoutPauseKey(scope), pause);
    for (const { state, expectedVersion } of marketplaceCharges)
      this.#marketplaceCharges.set(state.id, {
        ...state,
        version: expectedVersion === undefined ? 0 : expectedVersion + 1,
      });
    for (const { state, expectedVersion } of paymentMethods)
      this.#paymentMethods.set(state.id, {
        ...state,
        version: expectedVersion === undefined ? 0 : expectedVersion + 1,
      });
    for (const { state, expectedVersion } of plans)
      this.#plans.set(state.id, {
        ...state,
        version: expectedVersion === undefined ? 0 : expectedVersion + 1,
      });
    for (const { state, expectedVersion } of subscriptions)
      this.#subscriptions.set(state.id, {
        ...state,
        version: expectedVersion === undefined ? 0 : expectedVersion + 1,
      });
    for (const effect of changes.outbox) {
      if (this.#outbox.has(effect.id)) continue;
      this.#outbox.set(effect.id, { effect, status: "pending", attempts: 0, availableAt: 0 });
    }
    this.#audit.push(...changes.audit);
    if (changes.outboxDone !== undefined) {
      const { effectId, workerId } = changes.outboxDone;
      return this.complete(effectId, workerId).map(() => undefined);
    }
    return okAsync(undefined);
  }

  /**
   * The subscriptions' keys, as PostgreSQL enforces them: the person is a person
   * (`storage_refused`), a Stripe subscription belongs to one subscription, and a person
   * holds at most one current membership (both `duplicate`).
   */
  #refusedSubscriptions(changes: Changeset): StorageError | undefined {
    const changed = changes.subscriptions ?? [];
    if (changed.length === 0) return undefined;
    const people = new Set([...this.#people.keys(), ...changes.people.map((c) => c.state.id)]);
    const all = new Map(this.#subscriptions);
    for (const { state } of changed) {
      if (!people.has(state.personId))
        return storageError.refused(
          `commit refused subscription ${state.id}: ${state.personId} is not a person`,
        );
      all.set(state.id, state);
    }
    const owners = new Map<string, string>();
    for (const s of all.values()) {
      if (s.stripeSubscriptionId === undefined) continue;
      const owner = owners.get(s.stripeSubscriptionId);
      if (owner !== undefined && owner !== s.id)
        return storageError.duplicate(
          `commit refused subscription ${s.id}: ${s.stripeSubscriptionId} is subscription ${owner}'s`,
        );
      owners.set(s.stripeSubscriptionId, s.id);
    }
    const current = new Map<string, string>();
    for (const s of all.values()) {
      if (!isCurrentMembership(s)) continue;
      const holder = current.get(s.personId);
      if (holder !== undefined && holder !== s.id)
        return storageError.duplicate(
          `commit refused subscription ${s.id}: person ${s.personId} holds current subscription ${holder}`,
        );
      current.set(s.personId, s.id);
    }
    return undefined;
  }

  /**
   * The rules PostgreSQL enforces with keys, enforced here too so both stores refuse the
   * same changesets: every member is a person, and no two people share a Stripe customer,
   * mandate or connected account (`duplicate`, as a unique violation is there).
   */
  #refusedPeople(changes: Changeset): StorageError | undefined {
    const people = new Map(this.#people);
    for (const { state } of changes.people) people.set(state.id, state);
    for (const { state } of changes.groups)
      for (const m of state.members)
        if (!people.has(m.id))
          return storageError.refused(`commit refused group ${state.id}: member ${m.id} is not a person`);
    const owners = new Map<string, PersonId>();
    for (const p of people.values())
      for (const key of [
        p.customerId && `customer:${p.customerId}`,
        p.debit && `mandate:${p.debit.mandateId}`,
        p.payout && `account:${p.payout.connectedAccountId}`,
      ]) {
        if (!key) continue;
        const owner = owners.get(key);
        if (owner !== undefined && owner !== p.id)
          return storageError.duplicate(`commit refused person ${p.id}: ${key} belongs to ${owner}`);
        owners.set(key, p.id);
      }
    return undefined;
  }

  /**
   * The held payments' keys, as PostgreSQL enforces them: the seller is a person
   * (`storage_refused`, a foreign key there), one payment per caller's reference, and a
   * Checkout Session, PaymentIntent or transfer group belongs to one payment (`duplicate`).
   */
  #refusedHeldPayments(changes: Changeset): StorageError | undefined {
    const changed = changes.heldPayments ?? [];
    if (changed.length === 0) return undefined;
    const people = new Set([...this.#people.keys(), ...changes.people.map((c) => c.state.id)]);
    const payments = new Map(this.#heldPayments);
    for (const { state } of changed) {
      if (!people.has(state.seller.id))
        return storageError.refused(
          `commit refused held payment ${state.id}: seller ${state.seller.id} is not a person`,
        );
      payments.set(state.id, state);
    }
    const owners = new Map<string, string>();
    for (const p of payments.values())
      for (const [key, what] of [
        [`reference:${p.requestedBy}\u0000${p.clientReference}`, "the caller's reference"],
        [p.checkoutSessionId && `session:${p.checkoutSessionId}`, "the Checkout Session"],
        [p.paymentIntentId && `intent:${p.paymentIntentId}`, "the PaymentIntent"],
        [`group:${p.transferGroup}`, "the transfer group"],
      ] as const) {
        if (!key) continue;
        const owner = owners.get(key);
        if (owner !== undefined && owner !== p.id)
          return storageError.duplicate(
            `commit refused held payment ${p.id}: another held payment has ${what}`,
          );
        owners.set(key, p.id);
      }
    return undefined;
  }

  /**
   * The marketplace charges' keys, as PostgreSQL enforces them: the customer and every
   * seller are people (`storage_refused`, foreign keys there), one charge per caller's
   * reference, and a PaymentIntent or transfer group belongs to one charge (`duplicate`).
   */
  #refusedMarketplaceCharges(changes: Changeset): StorageError | undefined {
    const changed = changes.marketplaceCharges ?? [];
    if (changed.length === 0) return undefined;
    const people = new Set([...this.#people.keys(), ...changes.people.map((c) => c.state.id)]);
    const charges = new Map(this.#marketplaceCharges);
    for (const { state } of changed) {
      for (const personId of [state.customer.id, ...state.sellers.map((s) => s.id)])
        if (!people.has(personId))
          return storageError.refused(
            `commit refused marketplace charge ${state.id}: ${personId} is not a person`,
          );
      charges.set(state.id, state);
    }
    const owners = new Map<string, string>();
    for (const c of charges.values())
      for (const [key, what] of [
        [`reference:${c.requestedBy}\u0000${c.clientReference}`, "the caller's reference"],
        [c.paymentIntentId && `intent:${c.paymentIntentId}`, "the PaymentIntent"],
        [`group:${c.transferGroup}`, "the transfer group"],
      ] as const) {
        if (!key) continue;
        const owner = owners.get(key);
        if (owner !== undefined && owner !== c.id)
          return storageError.duplicate(
            `commit refused marketplace charge ${c.id}: another marketplace charge has ${what}`,
          );
        owners.set(key, c.id);
      }
    return undefined;
  }

  claimDue(
    workerId: string,
    now: Instant,
    leaseMs: number,
    limit: number,
  ): ResultAsync<readonly OutboxRecord[], StorageError> {
    // The spec of the per-aggregate rule (OutboxStore): an aggregate with any effect under a
    // live lease, whoever holds it, gives nothing to this claim.
    const live = (row: OutboxRow) => row.claimedUntil !== undefined && row.claimedUntil > now;
    const held = new Set<string>();
    for (const row of this.#outbox.values())
      if (row.status === "pending" && live(row)) held.add(aggregateKey(row.effect));
    const claimed: OutboxRecord[] = [];
    for (const row of this.#outbox.values()) {
      if (claimed.length >= limit) break;
      if (row.status !== "pending" || row.availableAt > now || live(row)) continue;
      if (held.has(aggregateKey(row.effect))) continue;
      // Still claimed, its lease ended: its worker may have tried it (OutboxStore.claimDue).
      if (row.claimedBy !== undefined)
        row.lastError = interruptedTry.over(interruptedTry.leaseExpired(row.claimedBy), row.lastError);
      row.claimedBy = workerId;
      row.claimedUntil = now + leaseMs;
      claimed.push({
        effect: row.effect,
        attempts: row.attempts,
        availableAt: row.availableAt,
        ...(row.lastError === undefined ? {} : { failedBefore: true }),
        ...(row.refusals === undefined ? {} : { refusals: row.refusals }),
      });
    }
    return okAsync(claimed);
  }

  release(
    workerId: string,
    effectIds: readonly string[],
    interrupted?: string,
  ): ResultAsync<number, StorageError> {
    let released = 0;
    for (const id of effectIds) {
      const row = this.#outbox.get(id);
      if (row?.status !== "pending" || row.claimedBy !== workerId) continue;
      if (interrupted !== undefined) row.lastError = interruptedTry.over(interrupted, row.lastError);
      delete row.claimedBy;
      delete row.claimedUntil;
      released += 1;
    }
    return okAsync(released);
  }

  releaseOwnClaims(workerId: string): ResultAsync<number, StorageError> {
    let released = 0;
    for (const row of this.#outbox.values()) {
      if (row.status !== "pending" || row.claimedBy !== workerId) continue;
      delete row.claimedBy;
      delete row.claimedUntil;
      released += 1;
    }
    return okAsync(released);
  }

  complete(effectId: string, workerId: string): ResultAsync<boolean, StorageError> {
    const row = this.#outbox.get(effectId);
    if (row?.status !== "pending" || row.claimedBy !== workerId) return okAsync(false);
    row.status = "done";
    delete row.claimedBy;
    delete row.claimedUntil;
    return okAsync(true);
  }

  fail(
    effectId: string,
    workerId: string,
    error: string,
    retryAt: Instant | undefined,
    options: { readonly refused?: boolean } = {},
  ): ResultAsync<boolean, StorageError> {
    const row = this.#outbox.get(effectId);
    if (row?.status !== "pending" || row.claimedBy !== workerId) return okAsync(false);
    row.attempts += 1;
    row.lastError = error;
    delete row.claimedBy;
    delete row.claimedUntil;
    if (retryAt === undefined) {
      row.status = "parked";
      if (options.refused === true) row.refusals = (row.refusals ?? 0) + 1;
    } else row.availableAt = retryAt;
    return okAsync(true);
  }

  listOutbox(query: {
    readonly status: "pending" | "parked" | "dismissed";
    readonly limit: number;
    readonly startingAfter?: string;
  }): ResultAsync<{ readonly items: readonly OutboxEntry[]; readonly hasMore: boolean }, StorageError> {
    // Map order is insertion order: the order effects were decided, as `sequence` is there.
    const rows = [...this.#outbox.values()].filter((r) => r.status === query.status);
    let start = 0;
    if (query.startingAfter !== undefined) {
      const at = rows.findIndex((r) => r.effect.id === query.startingAfter);
      start = at === -1 ? rows.length : at + 1;
    }
    const items = rows.slice(start, start + query.limit).map(
      (r): OutboxEntry => ({
        id: r.effect.id,
        kind: r.effect.kind,
        status: r.status,
        attempts: r.attempts,
        availableAt: r.availableAt,
        lastError: r.lastError,
        aggregateId:
          "aggregateId" in r.effect
            ? r.effect.aggregateId
            : "roundId" in r.effect
              ? String(r.effect.roundId)
              : undefined,
      }),
    );
    return okAsync({ items, hasMore: start + query.limit < rows.length });
  }

  requeueParked(id: string, now: Instant): ResultAsync<RequeueOutcome, StorageError> {
    const row = this.#outbox.get(id);
    if (row === undefined) return okAsync("not_found");
    return okAsync(this.#requeue(id, now) ? "requeued" : "not_parked");
  }

  requeueAllParked(now: Instant): ResultAsync<number, StorageError> {
    let count = 0;
    for (const [id, row] of this.#outbox) if (row.status === "parked" && this.#requeue(id, now)) count += 1;
    return okAsync(count);
  }

  /**
   * A parked effect dismissed, with its audit lines (on the effect and on its aggregate). No
   * ticket is resolved: this store keeps none (`ticketResolved` is false).
   */
  dismissParked(id: string, dismissal: ParkedDismissal): ResultAsync<DismissOutcome, StorageError> {
    const row = this.#outbox.get(id);
    if (row === undefined) return okAsync({ outcome: "not_found" });
    if (row.status !== "parked") return okAsync({ outcome: "not_parked" });
    row.status = "dismissed";
    const { type, id: aggregateId } = outboxAggregateOf(row.effect);
    const line = (aggregate: AuditEntry["aggregate"], on: string, detail: string): AuditEntry => ({
      at: dismissal.at,
      aggregate,
      aggregateId: on,
      action: DISMISS_PARKED_ACTION,
      outcome: "applied",
      detail,
      actor: dismissalActor(dismissal.by),
    });
    this.#audit.push(
      line("outbox_effect", id, dismissal.reason),
      // The outbox's aggregate kinds are the stored aggregates' (`round`, `held_payment`, …).
      line(type as AuditEntry["aggregate"], aggregateId, `${id} (${row.effect.kind}): ${dismissal.reason}`),
    );
    return okAsync({ outcome: "dismissed", ticketResolved: false });
  }

  /** A parked or dismissed effect made pending and due at `now` (requeueAllParked passes parked ones only). */
  #requeue(id: string, now: Instant): boolean {
    const row = this.#outbox.get(id);
    if (row === undefined || (row.status !== "parked" && row.status !== "dismissed")) return false;
    row.status = "pending";
    row.attempts = 0;
    row.availableAt = now;
    delete row.claimedBy;
    delete row.claimedUntil;
    return true;
  }

  /** Every stored person. */
  people(): Person[] {
    return [...this.#people.values()];
  }
  /** Every stored round. */
  rounds(): Round[] {
    return [...this.#rounds.values()];
  }
  /** Every stored group. */
  groups(): Group[] {
    return [...this.#groups.values()];
  }
  /** Every stored held payment. */
  heldPayments(): HeldPayment[] {
    return [...this.#heldPayments.values()];
  }
  /** Every stored plan. */
  plans(): Plan[] {
    return [...this.#plans.values()];
  }
  /** Every stored subscription. */
  subscriptions(): Subscription[] {
    return [...this.#subscriptions.values()];
  }
  /** Every stored marketplace charge. */
  marketplaceCharges(): MarketplaceCharge[] {
    return [...this.#marketplaceCharges.values()];
  }
  /** Lines of the query's subjects after its cursor, in the order stored; ids are `audit_<position + 1>`. */
  listAudit(query: AuditQuery): ResultAsync<readonly AuditRecord[], StorageError> {
    if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > AUDIT_PAGE_MAX)
      return errAsync(
        storageError.refused(`listAudit: limit must be 1–${AUDIT_PAGE_MAX}, got ${query.limit}`),
      );
    if (query.subjects.length > AUDIT_SUBJECTS_MAX)
      return errAsync(storageError.refused(`listAudit: at most ${AUDIT_SUBJECTS_MAX} subjects`));
    let start = 0;
    if (query.startingAfter !== undefined) {
      const after = auditSequenceOf(query.startingAfter);
      if (after === undefined) return okAsync([]);
      start = after > BigInt(this.#audit.length) ? this.#audit.length : Number(after);
    }
    const wanted = new Set(query.subjects.map((s) => `${s.aggregate}\u0000${s.aggregateId}`));
    const lines: AuditRecord[] = [];
    for (let i = start; i < this.#audit.length && lines.length < query.limit; i++) {
      const line = this.#audit[i];
      if (line !== undefined && wanted.has(`${line.aggregate}\u0000${line.aggregateId}`))
        lines.push({ ...line, id: auditIdOf(i + 1) });
    }
    return okAsync(lines);
  }

  /** The audit log, oldest first. */
  audit(): readonly AuditEntry[] {
    return this.#audit;
  }
  /** Outbox effects by status. */
  outbox(status?: "pending" | "done" | "parked" | "dismissed"): OutboxEffect[] {
    return [...this.#outbox.values()]
      .filter((r) => status === undefined || r.status === status)
      .map((r) => r.effect);
  }
}

/** A dispute that may yet reverse a transfer: open, or lost with its loss not booked yet. */
function disputeToCome(x: { readonly status: string; readonly lossBooked?: boolean }): boolean {
  return x.status === "open" || (x.status === "lost" && x.lossBooked === false);
}
