import {
  AUDIT_PAGE_MAX,
  AUDIT_SUBJECTS_MAX,
  type AuditLog,
  type AuditQuery,
  type AuditRecord,
  auditIdOf,
  auditSequenceOf,
  type Changeset,
  type Clock,
  DISMISS_PARKED_ACTION,
  type DismissOutcome,
  type DueGroupCursor,
  dismissalActor,
  dismissalResolution,
  type Group,
  type GroupId,
  type GroupRepository,
  type GroupWithPeople,
  type HeldPayment,
  type HeldPaymentQuery,
  type HeldPaymentRepository,
  type Instant,
  type MarketplaceCharge,
  type MarketplaceChargeQuery,
  type MarketplaceChargeRepository,
  type OutboxCompletion,
  type OutboxEntry,
  type OutboxOperations,
  type OutboxRecord,
  type OutboxStore,
  type ParkedDismissal,
  type PayableAccount,
  type PaymentMethodRepository,
  type PayoutPause,
  type PayoutQuery,
  type PayoutRecord,
  type PayoutRepository,
  type PayoutRequest,
  type Person,
  type PersonId,
  type PersonRepository,
  type Plan,
  type PlanRepository,
  parkedEffectTicketId,
  type RequeueOutcome,
  type Round,
  type RoundRepository,
  type SavedPaymentMethod,
  type StorageError,
  type Subscription,
  type SubscriptionRepository,
  storageError,
  type UnitOfWork,
} from "@susu/domain";
import { err, errAsync, ok, okAsync, Result, type ResultAsync } from "neverthrow";
import type pg from "pg";
import { GROUPED_READS, GroupedStatements, type GroupStatement } from "../db/grouped-statements.js";
import {
  type NamedStatement,
  type OpenTransaction,
  openTransaction,
  type PrismaClient,
  poolOf,
  runAtomicStatement,
  runStatement,
  runTransaction,
} from "../db/prisma-client.js";
import { OUTBOX_CHANNEL, wakeNotifierOf } from "../db/wake-notifier.js";
import type { NoticePlanner } from "../notify/commit-notices.js";
import type { PlannedNotice } from "../notify/delivering-notifier.js";
import {
  type Carried,
  type CarriedRow,
  type CommitNotices,
  carriedOf,
  type GatedCommit,
  type LoadedRound,
  OUTBOX_COMPLETE_SQL,
  singleStatementCommit,
  singleStatementCommitWith,
  singleStatementHeldPaymentCommit,
  singleStatementRoundCommit,
  writeChangeset,
} from "./changeset-writer.js";
import { fromDate, toDate } from "./conversions.js";
import { Prisma } from "./generated/client.js";
import { leaseExpiredNote, noteOver, OUTBOX_ERROR_MAX_CHARS } from "./interrupted-try.js";
import { isLedgerRefusal } from "./ledger-post.js";
import {
  loadPaymentMethod,
  PAYMENT_METHOD_BY_ID,
  PAYMENT_METHODS_OF_PERSON,
  type PaymentMethodRow,
} from "./payment-method-rows.js";
import {
  loadPayableAccount,
  loadPayout,
  loadPayoutPause,
  loadPayoutRequest,
  PAYOUT_BY_ID,
  PAYOUT_PAUSES,
  PAYOUT_REQUEST_BY_KEY,
  type PayableAccountRow,
  type PayoutPauseRow,
  type PayoutRequestRow,
  type PayoutRow,
  payableAccounts,
  payoutRequestsToResolve,
  payoutsOfPerson,
  payoutsToRecheck,
} from "./payout-rows.js";
import {
  fromNewerSusu,
  parseGroupSnapshot,
  parseHeldPaymentSnapshot,
  parseMarketplaceChargeSnapshot,
  parseOutboxEffect,
  parsePerson,
  parsePlanSnapshot,
  parseRoundSnapshot,
  parseSubscriptionSnapshot,
} from "./snapshots.js";
import { classifyDatabaseError, type FailureContext, fromDatabase } from "./storage-errors.js";
import { TextKeyedCache } from "./text-keyed-cache.js";

/** Options of {@link PrismaStore}. */
export interface PrismaStoreOptions {
  /**
   * Stamps rows' `created_at`/`updated_at` (bookkeeping, except an outbox row's `created_at`:
   * claimed effects carry it to the payment gateway as `effectCreatedAt`, so this must be the
   * use cases' clock, the one the gateway is given). Default: the system clock.
   */
  readonly clock?: Clock;
  /** Longest a commit's transaction may run, in ms, before it is rolled back. Default 10 000. */
  readonly transactionTimeoutMs?: number;
  /** Longest a commit waits for a connection to start its transaction, in ms. Default 5 000. */
  readonly transactionMaxWaitMs?: number;
  /**
   * Whether a commit posts its `post_ledger` effects itself, in its own statement or
   * transaction, storing their rows done (see changeset-writer.ts). Default true; false leaves
   * every posting to the outbox's dispatcher (as before this existed: for tests of that path).
   */
  readonly postLedgerInCommit?: boolean;
  /**
   * Plans the notices a commit queues itself, storing their rows done (see
   * notify/commit-notices.ts); absent, every notice is left to the outbox's dispatcher.
   */
  readonly notices?: NoticePlanner;
}

/** What a commit stored: how many of its outbox rows it stored done, and the notices it queued. */
interface Stored {
  readonly done: number;
  readonly queued: readonly PlannedNotice[];
}

/** What a commit that carried out `carried` stored, of the `notices` planned for it. */
function storedOf(carried: Carried, notices: CommitNotices | undefined): Stored {
  return {
    done: carried.done,
    queued: carried.noticed.flatMap((id) => {
      const notice = notices?.get(id);
      return notice === undefined ? [] : [notice];
    }),
  };
}

/**
 * A commit not written yet ({@link PrismaStore.deferCommit}), to be written with the
 * statement that records what caused it (a webhook event's result).
 */
export interface DeferredCommit {
  /**
   * Writes the changeset and `statement` together — one statement when `statement` can be
   * folded in ({@link NamedStatement.part}), else one transaction — answering the
   * statement's rows. The checks are {@link PrismaStore.commit}'s: a stale version is a
   * `version_conflict`, and neither is stored; a refusal (of either) stores neither.
   */
  withResult(statement: NamedStatement): ResultAsync<readonly unknown[], StorageError>;
}

/** Most effects one claim may lease: a limit on everything, and a bound on one dispatcher pass. */
export const OUTBOX_CLAIM_MAX = 500;
/** Most groups one `findGroupsDueForRound` returns. */
export const DUE_GROUPS_MAX = 1_000;
/** Most people one `getPeople` reads: a group's members, with room to spare. */
export const PEOPLE_READ_MAX = 1_000;
/**
 * Most groups `listGroupsOfPerson` returns. A person in more is refused (storage_refused)
 * rather than half-served: a readiness change must reach every group.
 */
export const GROUPS_OF_PERSON_MAX = 1_000;
/**
 * Most open held payments `listOpenHeldPaymentsOfSeller` returns. A seller with more is
 * refused (storage_refused) rather than half-served: an account change must reach every one.
 */
export const OPEN_HELD_PAYMENTS_OF_SELLER_MAX = 5_000;

/**
 * Most payments or charges `list…ReversingSeller` returns. A seller with more is refused
 * (storage_refused) rather than half-served: a payout must keep what every reversal needs.
 */
export const REVERSING_OF_SELLER_MAX = 1_000;
/** Most payouts one `listPayoutsOfPerson` page holds. */
const PAYOUTS_PAGE_MAX = 100;

/** Most accounts one `listPayoutAccounts` page holds. */
const PAYABLE_ACCOUNTS_PAGE_MAX = 500;

/** Most held payments one `listHeldPayments` page holds. */
export const HELD_PAYMENTS_PAGE_MAX = 100;
/** Most marketplace charges one `listMarketplaceCharges` page holds. */
export const MARKETPLACE_CHARGES_PAGE_MAX = 100;

const systemClock: Clock = { now: () => Date.now() };

// A requeued effect: due now with a fresh retry budget (the cause was fixed); the last
// error stays until the next run replaces it, so operators can still see why it parked, and
// the claim reports it as failed before (`failedBefore`: its run looks first, as a retry does).
// `created_at` is never written. OUTBOX_REQUEUE_ALL_PARKED_SQL writes the same in SQL.
const REQUEUE = (now: Instant) => ({
  status: "pending" as const,
  attempts: 0,
  availableAt: toDate(now),
  claimedBy: null,
  claimedUntil: null,
});

interface ClaimedRow {
  readonly id: string;
  readonly payload: unknown;
  readonly attempts: number;
  readonly available_at: Date;
  readonly created_at: Date;
  readonly failed_before: boolean;
  readonly refusals: number;
  readonly sequence: bigint | string;
}

/**
 * People, groups, rounds, held payments, marketplace charges, the outbox and the audit log in PostgreSQL through
 * Prisma: the production implementation of the domain's storage ports, with the same
 * behaviour as the in-memory store (the storage contract suite runs against both).
 *
 * Groups, rounds, held payments and marketplace charges are stored whole as JSON snapshots, validated against
 * the domain's types when loaded, with projection columns and child rows rewritten in the
 * same transaction; people are flat and stored as columns (a `people` row is the whole person).
 * Writes are guarded by `version` (optimistic concurrency); outbox claims are leases
 * taken with `FOR UPDATE SKIP LOCKED`, safe with any number of dispatcher processes.
 */
export class PrismaStore
  implements
    PersonRepository,
    GroupRepository,
    RoundRepository,
    HeldPaymentRepository,
    PayoutRepository,
    PaymentMethodRepository,
    MarketplaceChargeRepository,
    PlanRepository,
    SubscriptionRepository,
    UnitOfWork,
    OutboxStore,
    OutboxOperations,
    AuditLog
{
  readonly #prisma: PrismaClient;
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  readonly #maxWaitMs: number;
  readonly #postLedger: boolean;
  readonly #notices: NoticePlanner | undefined;
  /** Snapshots loaded through the pool, by kind and JSON text (see #snapshots). */
  readonly #loaded = new TextKeyedCache<Group | Round | HeldPayment | MarketplaceCharge>(
    LOADED_SNAPSHOTS_CHARS,
    LOADED_SNAPSHOTS_MAX,
  );
  /** The last group loaded of each id, with its snapshot's text, for single-statement commits. */
  readonly #groupsLoaded = new TextKeyedCache<{ readonly group: Group; readonly snapshot: string }>(
    LOADED_SNAPSHOTS_CHARS,
    LOADED_SNAPSHOTS_MAX,
  );
  /** The last round loaded of each id through the pool, with its snapshot's text (commits diff its child rows against it). */
  readonly #roundsLoaded = new TextKeyedCache<{ readonly round: Round; readonly snapshot: string }>(
    LOADED_SNAPSHOTS_CHARS,
    LOADED_SNAPSHOTS_MAX,
  );
  /** A round as this process last loaded it, if it was at `version` (a {@link LoadedRound}). */
  readonly #loadedRound: LoadedRound = (id, version) => {
    const loaded = this.#roundsLoaded.get(id);
    return loaded?.round.version === version ? loaded : undefined;
  };
  /** Effects completed on their own (not with a write of their result): together when they come together. */
  readonly #completions: GroupedStatements<OutboxCompletion, boolean>;
  /**
   * Held payments and marketplace charges read by id through the pool: one statement for
   * the ids asked for while one read is on its way (the webhook processor's events of
   * different payments, worked at once, each load theirs).
   */
  readonly #heldPaymentsById: GroupedStatements<string, SnapshotTextRow | undefined>;
  readonly #chargesById: GroupedStatements<string, SnapshotTextRow | undefined>;
  /** Rounds with their groups by round id, grouped the same way (the rounds worked at once). */
  readonly #roundsWithGroups: GroupedStatements<string, readonly RoundWithGroupRow[]>;

  constructor(prisma: PrismaClient, options: PrismaStoreOptions = {}) {
    this.#prisma = prisma;
    this.#clock = options.clock ?? systemClock;
    this.#timeoutMs = options.transactionTimeoutMs ?? 10_000;
    this.#maxWaitMs = options.transactionMaxWaitMs ?? 5_000;
    this.#postLedger = options.postLedgerInCommit ?? true;
    this.#notices = options.notices;
    this.#completions = new GroupedStatements(
      completionWriter(prisma),
      COMPLETE_GROUP_MAX,
      "outbox complete",
    );
    this.#heldPaymentsById = new GroupedStatements(
      snapshotsById(prisma, "getHeldPayment", HELD_PAYMENT_BY_ID_SQL, HELD_PAYMENTS_BY_IDS_SQL),
      BY_ID_GROUP_MAX,
      "getHeldPayment",
      GROUPED_READS,
    );
    this.#chargesById = new GroupedStatements(
      snapshotsById(
        prisma,
        "getMarketplaceCharge",
        MARKETPLACE_CHARGE_BY_ID_SQL,
        MARKETPLACE_CHARGES_BY_IDS_SQL,
      ),
      BY_ID_GROUP_MAX,
      "getMarketplaceCharge",
      GROUPED_READS,
    );
    this.#roundsWithGroups = new GroupedStatements(
      roundsWithGroupsById(prisma),
      BY_ID_GROUP_MAX,
      "getRound",
      GROUPED_READS,
    );
  }

  getPerson(id: PersonId): ResultAsync<Person | undefined, StorageError> {
    const pool = poolOf(this.#prisma);
    if (pool === undefined) return this.#findPerson({ id }, "getPerson");
    return fromDatabase(
      async () =>
        (await pool.query<PersonRow>({ name: "susu_get_person", text: PERSON_BY_ID_SQL, values: [id] })).rows,
      { operation: "getPerson" },
    ).andThen((rows) => (rows[0] === undefined ? ok(undefined) : loadPerson(rows[0])));
  }

  getPeople(ids: readonly PersonId[]): ResultAsync<readonly Person[], StorageError> {
    const unique = [...new Set(ids)];
    if (unique.length > PEOPLE_READ_MAX)
      return errAsync(
        storageError.refused(`getPeople: at most ${PEOPLE_READ_MAX} people at once, got ${unique.length}`),
      );
    if (unique.length === 0) return okAsync([]);
    const pool = poolOf(this.#prisma);
    return fromDatabase(
      pool !== undefined
        ? async () =>
            (
              await pool.query<PersonRow>({
                name: "susu_get_people",
                text: PEOPLE_BY_IDS_SQL,
                values: [unique],
              })
            ).rows
        : this.#prisma.person.findMany({ where: { id: { in: unique } } }),
      { operation: "getPeople" },
    ).andThen((rows) =>
      Result.combine(rows.map(loadPerson)).map((people) => {
        const byId = new Map(people.map((p) => [p.id, p]));
        return ids.flatMap((id) => byId.get(id) ?? []);
      }),
    );
  }

  findByCustomer(customerId: string): ResultAsync<Person | undefined, StorageError> {
    return this.#findPerson({ stripeCustomerId: customerId }, "findByCustomer");
  }

  findByMandate(mandateId: string): ResultAsync<Person | undefined, StorageError> {
    return this.#findPerson({ mandateId }, "findByMandate");
  }

  findByConnectedAccount(accountId: string): ResultAsync<Person | undefined, StorageError> {
    return this.#findPerson({ connectedAccountId: accountId }, "findByConnectedAccount");
  }

  // Each look-up is by a unique key, so at most one row matches.
  #findPerson(
    where:
      | { id: string }
      | { stripeCustomerId: string }
      | { mandateId: string }
      | { connectedAccountId: string },
    operation: string,
  ): ResultAsync<Person | undefined, StorageError> {
    return fromDatabase(this.#prisma.person.findUnique({ where }), { operation }).andThen((row) =>
      row === null ? ok(undefined) : loadPerson(row),
    );
  }

  getGroup(id: GroupId): ResultAsync<Group | undefined, StorageError> {
    return this.#snapshots("getGroup", GROUP_BY_ID_SQL, [id], loadGroup, async () => {
      const row = await this.#prisma.group.findUnique({
        where: { id },
        select: { snapshot: true, version: true },
      });
      return row === null ? [] : [row];
    }).map((groups) => groups[0]);
  }

  /**
   * Through the pool, one statement: the group's row, then the rows of the people its
   * snapshot's members name (so both come from one snapshot of the database). Without a
   * pool, `getGroup` then `getPeople`.
   */
  getGroupWithPeople(id: GroupId): ResultAsync<GroupWithPeople | undefined, StorageError> {
    const pool = poolOf(this.#prisma);
    if (pool === undefined)
      return this.getGroup(id).andThen((group) =>
        group === undefined
          ? okAsync(undefined)
          : this.getPeople(group.members.map((m) => m.id)).map((people) => ({ group, people })),
      );
    return fromDatabase(
      async () =>
        (
          await pool.query<GroupWithPeopleRow>({
            name: "susu_get_group_with_people",
            text: GROUP_WITH_PEOPLE_SQL,
            values: [id],
          })
        ).rows,
      { operation: "getGroupWithPeople" },
    ).andThen((rows) => {
      const groupRow = rows.find((r) => r.snapshot_text !== null);
      if (groupRow === undefined || groupRow.snapshot_text === null) return ok(undefined);
      const group = this.#loadText(
        "getGroup",
        { snapshot_text: groupRow.snapshot_text, version: groupRow.group_version as number },
        loadGroup,
      );
      if (group.isErr()) return err(group.error);
      if (rows.length - 1 > PEOPLE_READ_MAX)
        return err(storageError.refused(`getGroupWithPeople: more than ${PEOPLE_READ_MAX} members`));
      return Result.combine(
        rows.filter((r) => r.snapshot_text === null).map((r) => loadPerson(r as PersonRow)),
      ).map((people) => {
        const byId = new Map(people.map((p) => [p.id, p]));
        return { group: group.value, people: group.value.members.flatMap((m) => byId.get(m.id) ?? []) };
      });
    });
  }

  findGroupsDueForRound(
    at: Instant,
    limit: number,
    after?: DueGroupCursor,
  ): ResultAsync<readonly Group[], StorageError> {
    const bad = badLimit(limit, DUE_GROUPS_MAX, "findGroupsDueForRound");
    if (bad !== undefined) return errAsync(bad);
    return fromDatabase(this.#prisma.$queryRaw<SnapshotRow[]>(dueGroupsQuery(at, limit, after)), {
      operation: "findGroupsDueForRound",
    }).andThen((rows) => Result.combine(rows.map(loadGroup)));
  }

  /** The person's groups through the members projection (indexed on the member id), by group id. */
  listGroupsOfPerson(personId: PersonId): ResultAsync<readonly Group[], StorageError> {
    return fromDatabase(
      this.#prisma.group.findMany({
        // Members who left are not asked to pay or paid any more: nothing to tell those groups.
        where: { members: { some: { id: personId, status: { not: "left" } } } },
        orderBy: { id: "asc" },
        take: GROUPS_OF_PERSON_MAX + 1,
        select: { snapshot: true, version: true },
      }),
      { operation: "listGroupsOfPerson" },
    ).andThen((rows) =>
      rows.length > GROUPS_OF_PERSON_MAX
        ? err(
            storageError.refused(
              `listGroupsOfPerson: ${personId} is in more than ${GROUPS_OF_PERSON_MAX} groups`,
            ),
          )
        : Result.combine(rows.map(loadGroup)),
    );
  }

  getRound(id: string): ResultAsync<Round | undefined, StorageError> {
    return this.#snapshots("getRound", ROUND_BY_ID_SQL, [id], loadRound, async () => {
      const row = await this.#prisma.round.findUnique({
        where: { id },
        select: { snapshot: true, version: true },
      });
      return row === null ? [] : [row];
    }).map((rounds) => rounds[0]);
  }

  /**
   * The round and its group in one statement (one round trip, one snapshot of the database),
   * loaded as {@link PrismaStore.getRound} and {@link PrismaStore.getGroup} load them (the
   * same cache of loaded snapshots; the group remembered for single-statement commits).
   * Those asked for while one is on its way are read together by one statement when it
   * returns. Without a pool: the two reads one after the other.
   */
  getRoundWithGroup(
    id: string,
  ): ResultAsync<{ readonly round: Round; readonly group: Group | undefined } | undefined, StorageError> {
    const pool = poolOf(this.#prisma);
    if (pool === undefined)
      return this.getRound(id).andThen((round) =>
        round === undefined
          ? okAsync(undefined)
          : this.getGroup(round.groupId).map((group) => ({ round, group })),
      );
    return this.#roundsWithGroups.run(id).andThen((rows) => {
      const roundRow = rows.find((r) => r.kind === "round");
      if (roundRow === undefined) return ok(undefined);
      const groupRow = rows.find((r) => r.kind === "group");
      return this.#loadText("getRound", roundRow, loadRound).andThen((round) =>
        groupRow === undefined
          ? ok({ round, group: undefined })
          : this.#loadText("getGroup", groupRow, loadGroup).map((group) => ({ round, group })),
      );
    });
  }

  /**
   * Snapshot rows by one key (an id, a group id): a prepared statement on the pool when the
   * client has one (the hottest reads of the API; Prisma's pipeline costs several times the
   * query), else Prisma. Through the pool the snapshot comes as its JSON text, and a text
   * already loaded is not parsed and validated again: a load is a pure function of the text
   * (the row's version is still checked), and stored snapshots never change under a version.
   */
  #snapshots<T extends Group | Round | HeldPayment | MarketplaceCharge>(
    operation: SnapshotRead,
    text: string,
    values: readonly unknown[],
    load: (row: SnapshotRow) => Result<T, StorageError>,
    viaPrisma: () => Promise<readonly SnapshotRow[]>,
    statementName = `susu_${operation}`,
  ): ResultAsync<readonly T[], StorageError> {
    const pool = poolOf(this.#prisma);
    if (pool === undefined)
      return fromDatabase(viaPrisma, { operation }).andThen((rows) =>
        Result.combine(
          rows.map((row) => {
            const loaded = load(row);
            if (loaded.isOk() && operation === "getGroup")
              this.#rememberGroup(loaded.value as Group, JSON.stringify(row.snapshot));
            return loaded;
          }),
        ),
      );
    return fromDatabase(
      async () =>
        (await pool.query<SnapshotTextRow>({ name: statementName, text, values: [...values] })).rows,
      { operation },
    ).andThen((rows) => Result.combine(rows.map((row) => this.#loadText(operation, row, load))));
  }

  /** One snapshot read as its JSON text, through the cache of loaded snapshots (see #snapshots). */
  #loadText<T extends Group | Round | HeldPayment | MarketplaceCharge>(
    operation: SnapshotRead,
    row: SnapshotTextRow,
    load: (row: SnapshotRow) => Result<T, StorageError>,
  ): Result<T, StorageError> {
    const cacheKey = `${SNAPSHOT_KIND[operation]}:${row.snapshot_text}`;
    const cached = this.#loaded.get(cacheKey) as T | undefined;
    const loaded: Result<T, StorageError> =
      cached !== undefined && cached.version === row.version
        ? ok(cached)
        : load({ snapshot: JSON.parse(row.snapshot_text), version: row.version });
    if (loaded.isOk() && cached === undefined) this.#loaded.set(cacheKey, loaded.value, cacheKey.length);
    if (loaded.isOk() && operation === "getGroup")
      this.#rememberGroup(loaded.value as Group, row.snapshot_text);
    if (loaded.isOk() && SNAPSHOT_KIND[operation] === "r")
      this.#rememberRound(loaded.value as Round, row.snapshot_text);
    return loaded;
  }

  /** Keeps the last round loaded of each id (most recent last; the oldest go past the bounds). */
  #rememberRound(round: Round, snapshot: string): void {
    this.#roundsLoaded.set(round.id, { round, snapshot }, snapshot.length);
  }

  /** Keeps the last group loaded of each id (most recent last; the oldest go past the bounds). */
  #rememberGroup(group: Group, snapshot: string): void {
    this.#groupsLoaded.set(group.id, { group, snapshot }, snapshot.length);
  }

  listRoundsOfGroup(groupId: GroupId): ResultAsync<readonly Round[], StorageError> {
    return this.#snapshots("listRoundsOfGroup", ROUNDS_OF_GROUP_SQL, [groupId], loadRound, () =>
      this.#prisma.round.findMany({
        where: { groupId },
        orderBy: { sequence: "asc" },
        select: { snapshot: true, version: true },
      }),
    );
  }

  getHeldPayment(id: string): ResultAsync<HeldPayment | undefined, StorageError> {
    if (poolOf(this.#prisma) !== undefined)
      return this.#heldPaymentsById
        .run(id)
        .andThen((row) =>
          row === undefined ? ok(undefined) : this.#loadText("getHeldPayment", row, loadHeldPayment),
        );
    return this.#snapshots("getHeldPayment", HELD_PAYMENT_BY_ID_SQL, [id], loadHeldPayment, async () => {
      const row = await this.#prisma.heldPayment.findUnique({
        where: { id },
        select: { snapshot: true, version: true },
      });
      return row === null ? [] : [row];
    }).map((payments) => payments[0]);
  }

  /** By the unique (requested_by, client_reference) key. */
  findHeldPaymentByReference(
    requestedBy: string,
    clientReference: string,
  ): ResultAsync<HeldPayment | undefined, StorageError> {
    return this.#snapshots(
      "findHeldPaymentByReference",
      HELD_PAYMENT_BY_REFERENCE_SQL,
      [requestedBy, clientReference],
      loadHeldPayment,
      async () => {
        const row = await this.#prisma.heldPayment.findUnique({
          where: { requestedBy_clientReference: { requestedBy, clientReference } },
          select: { snapshot: true, version: true },
        });
        return row === null ? [] : [row];
      },
    ).map((payments) => payments[0]);
  }

  /**
   * The seller's payments whose `endedAt` is unset (the release may still happen), oldest
   * first, through the partial index on open payments. `endedAt` is set once the release
   * happened or can no longer happen (released, expired, payment failed, refunded, charged
   * back), so a payment refunded after it ended does not wait on the seller's account.
   */
  listOpenHeldPaymentsOfSeller(sellerId: PersonId): ResultAsync<readonly HeldPayment[], StorageError> {
    return this.#snapshots(
      "listOpenHeldPaymentsOfSeller",
      OPEN_HELD_PAYMENTS_OF_SELLER_SQL,
      [sellerId, OPEN_HELD_PAYMENTS_OF_SELLER_MAX + 1],
      loadHeldPayment,
      () =>
        this.#prisma.heldPayment.findMany({
          where: { sellerPersonId: sellerId, endedAt: null },
          orderBy: [{ createdAt: "asc" }, { id: "asc" }],
          take: OPEN_HELD_PAYMENTS_OF_SELLER_MAX + 1,
          select: { snapshot: true, version: true },
        }),
    ).andThen((payments) =>
      payments.length > OPEN_HELD_PAYMENTS_OF_SELLER_MAX
        ? err(
            storageError.refused(
              `listOpenHeldPaymentsOfSeller: ${sellerId} has more than ${OPEN_HELD_PAYMENTS_OF_SELLER_MAX} open held payments`,
            ),
          )
        : ok(payments),
    );
  }

  /** The seller's payments with a reversal asked for or failed, or a dispute that may yet reverse the transfer (a payout must leave for it), oldest first. */
  listHeldPaymentsReversingSeller(sellerId: PersonId): ResultAsync<readonly HeldPayment[], StorageError> {
    return this.#reversingOfSeller(
      "listHeldPaymentsReversingSeller",
      HELD_PAYMENTS_REVERSING_SELLER_SQL,
      sellerId,
      loadHeldPayment,
    );
  }

  /** The charges with a reversal of this seller's transfer asked for or failed, or a dispute that may yet reverse it, oldest first. */
  listMarketplaceChargesReversingSeller(
    sellerId: PersonId,
  ): ResultAsync<readonly MarketplaceCharge[], StorageError> {
    return this.#reversingOfSeller(
      "listMarketplaceChargesReversingSeller",
      MARKETPLACE_CHARGES_REVERSING_SELLER_SQL,
      sellerId,
      loadMarketplaceCharge,
    );
  }

  #reversingOfSeller<T extends HeldPayment | MarketplaceCharge>(
    operation: "listHeldPaymentsReversingSeller" | "listMarketplaceChargesReversingSeller",
    text: string,
    sellerId: PersonId,
    load: (row: SnapshotRow) => Result<T, StorageError>,
  ): ResultAsync<readonly T[], StorageError> {
    const values = [sellerId, REVERSING_OF_SELLER_MAX + 1];
    return this.#snapshots(operation, text, values, load, () =>
      this.#prisma.$queryRawUnsafe<SnapshotRow[]>(
        text.replace("snapshot::text AS snapshot_text", "snapshot"),
        ...values,
      ),
    ).andThen((found) =>
      found.length > REVERSING_OF_SELLER_MAX
        ? err(
            storageError.refused(
              `${operation}: ${sellerId} has more than ${REVERSING_OF_SELLER_MAX} with reversals to come`,
            ),
          )
        : ok(found),
    );
  }

  /**
   * A keyset page, newest first by (created_at, id): `limit + 1` rows read to know whether
   * more follow, after the cursor payment's own (created_at, id) whatever its status now (a
   * payment that moved on between two pages still marks the place). An unknown cursor reads
   * nothing. One statement per combination of filters, so each is planned for its index.
   */
  listHeldPayments(
    query: HeldPaymentQuery,
  ): ResultAsync<{ readonly items: readonly HeldPayment[]; readonly hasMore: boolean }, StorageError> {
    return this.#keysetPage("listHeldPayments", query.limit, HELD_PAYMENTS_PAGE_MAX, loadHeldPayment, {
      statement: () => heldPaymentsPage(query),
      viaPrisma: () => this.#heldPaymentsPageViaPrisma(query),
    });
  }

  /** One keyset page of snapshots: `limit + 1` rows read (`limit` checked first), the extra one telling whether more follow. */
  #keysetPage<T extends HeldPayment | MarketplaceCharge>(
    operation: "listHeldPayments" | "listMarketplaceCharges",
    limit: number,
    max: number,
    load: (row: SnapshotRow) => Result<T, StorageError>,
    read: {
      readonly statement: () => {
        readonly text: string;
        readonly values: readonly unknown[];
        readonly name: string;
      };
      readonly viaPrisma: () => Promise<readonly SnapshotRow[]>;
    },
  ): ResultAsync<{ readonly items: readonly T[]; readonly hasMore: boolean }, StorageError> {
    // A bad limit is the caller's bug (the API checks it): retrying cannot help.
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > max)
      return errAsync(storageError.refused(`${operation}: limit must be 1–${max}, got ${limit}`));
    const statement = read.statement();
    return this.#snapshots(
      operation,
      statement.text,
      statement.values,
      load,
      read.viaPrisma,
      statement.name,
    ).map((rows) => ({ items: rows.slice(0, limit), hasMore: rows.length > limit }));
  }

  async #heldPaymentsPageViaPrisma(query: HeldPaymentQuery): Promise<readonly SnapshotRow[]> {
    let after: { createdAt: Date; id: string } | undefined;
    if (query.startingAfter !== undefined) {
      const cursor = await this.#prisma.heldPayment.findUnique({
        where: { id: query.startingAfter },
        select: { createdAt: true, id: true },
      });
      if (cursor === null) return [];
      after = cursor;
    }
    return this.#prisma.heldPayment.findMany({
      where: {
        ...(query.sellerId !== undefined ? { sellerPersonId: query.sellerId } : {}),
        ...(query.requestedBy !== undefined ? { requestedBy: query.requestedBy } : {}),
        ...(query.status !== undefined ? { status: query.status } : {}),
        ...olderThan(after),
      },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: query.limit + 1,
      select: { snapshot: true, version: true },
    });
  }

  getPaymentMethod(id: string): ResultAsync<SavedPaymentMethod | undefined, StorageError> {
    return fromDatabase(() => runStatement<PaymentMethodRow>(this.#prisma, PAYMENT_METHOD_BY_ID(id)), {
      operation: "getPaymentMethod",
    }).andThen(({ rows }) => (rows[0] === undefined ? ok(undefined) : loadPaymentMethod(rows[0])));
  }

  /** Oldest first, through the (person_id, created_at, id) index; a person saves a handful. */
  listPaymentMethodsOfPerson(
    personId: string,
    options: { readonly includeRemoved?: boolean } = {},
  ): ResultAsync<readonly SavedPaymentMethod[], StorageError> {
    return fromDatabase(
      () =>
        runStatement<PaymentMethodRow>(
          this.#prisma,
          PAYMENT_METHODS_OF_PERSON(personId, options.includeRemoved === true),
        ),
      { operation: "listPaymentMethodsOfPerson" },
    ).andThen(({ rows }) => Result.combine(rows.map(loadPaymentMethod)));
  }

  getPayout(id: string): ResultAsync<PayoutRecord | undefined, StorageError> {
    return fromDatabase(() => runStatement<PayoutRow>(this.#prisma, PAYOUT_BY_ID(id)), {
      operation: "getPayout",
    }).andThen(({ rows }) => (rows[0] === undefined ? ok(undefined) : loadPayout(rows[0])));
  }

  /** Newest first by Stripe's creation time, then id, through the (person_id, created_at, id) index. */
  listPayoutsOfPerson(
    query: PayoutQuery,
  ): ResultAsync<{ readonly items: readonly PayoutRecord[]; readonly hasMore: boolean }, StorageError> {
    const bad = badLimit(query.limit, PAYOUTS_PAGE_MAX, "listPayoutsOfPerson");
    if (bad !== undefined) return errAsync(bad);
    return fromDatabase(() => runStatement<PayoutRow>(this.#prisma, payoutsOfPerson(query)), {
      operation: "listPayoutsOfPerson",
    })
      .andThen(({ rows }) => Result.combine(rows.map(loadPayout)))
      .map((payouts) => ({ items: payouts.slice(0, query.limit), hasMore: payouts.length > query.limit }));
  }

  listPayoutAccounts(query: {
    readonly limit: number;
    readonly startingAfter?: PersonId;
  }): ResultAsync<readonly PayableAccount[], StorageError> {
    const bad = badLimit(query.limit, PAYABLE_ACCOUNTS_PAGE_MAX, "listPayoutAccounts");
    if (bad !== undefined) return errAsync(bad);
    return fromDatabase(() => runStatement<PayableAccountRow>(this.#prisma, payableAccounts(query)), {
      operation: "listPayoutAccounts",
    }).map(({ rows }) => rows.map(loadPayableAccount));
  }

  listPayoutsToRecheck(query: {
    readonly paidSince: Instant;
    readonly limit: number;
    readonly startingAfter?: string;
  }): ResultAsync<readonly PayoutRecord[], StorageError> {
    const bad = badLimit(query.limit, PAYABLE_ACCOUNTS_PAGE_MAX, "listPayoutsToRecheck");
    if (bad !== undefined) return errAsync(bad);
    return fromDatabase(() => runStatement<PayoutRow>(this.#prisma, payoutsToRecheck(query)), {
      operation: "listPayoutsToRecheck",
    }).andThen(({ rows }) => Result.combine(rows.map(loadPayout)));
  }

  getPayoutRequest(key: string): ResultAsync<PayoutRequest | undefined, StorageError> {
    return fromDatabase(() => runStatement<PayoutRequestRow>(this.#prisma, PAYOUT_REQUEST_BY_KEY(key)), {
      operation: "getPayoutRequest",
    }).andThen(({ rows }) => (rows[0] === undefined ? ok(undefined) : loadPayoutRequest(rows[0])));
  }

  /** Requests still `asked`, by key, through the (status, key) index. */
  listPayoutPauses(): ResultAsync<readonly PayoutPause[], StorageError> {
    return fromDatabase(() => runStatement<PayoutPauseRow>(this.#prisma, PAYOUT_PAUSES), {
      operation: "listPayoutPauses",
    }).andThen(({ rows }) => Result.combine(rows.map(loadPayoutPause)));
  }

  listPayoutRequestsToResolve(query: {
    readonly limit: number;
    readonly startingAfter?: string;
  }): ResultAsync<readonly PayoutRequest[], StorageError> {
    const bad = badLimit(query.limit, PAYABLE_ACCOUNTS_PAGE_MAX, "listPayoutRequestsToResolve");
    if (bad !== undefined) return errAsync(bad);
    return fromDatabase(() => runStatement<PayoutRequestRow>(this.#prisma, payoutRequestsToResolve(query)), {
      operation: "listPayoutRequestsToResolve",
    }).andThen(({ rows }) => Result.combine(rows.map(loadPayoutRequest)));
  }

  getPlan(id: string): ResultAsync<Plan | undefined, StorageError> {
    return fromDatabase(
      this.#prisma.plan.findUnique({ where: { id }, select: { snapshot: true, version: true } }),
      { operation: "getPlan" },
    ).andThen((row) => (row === null ? ok(undefined) : loadPlan(row)));
  }

  listPlans(query: { readonly includeArchived: boolean }): ResultAsync<readonly Plan[], StorageError> {
    return fromDatabase(
      this.#prisma.plan.findMany({
        where: query.includeArchived ? {} : { status: "active" },
        orderBy: [{ createdAt: "asc" }, { id: "asc" }],
        take: PLANS_MAX + 1,
        select: { snapshot: true, version: true },
      }),
      { operation: "listPlans" },
    ).andThen((rows) =>
      rows.length > PLANS_MAX
        ? err(storageError.refused(`listPlans: more than ${PLANS_MAX} plans`))
        : Result.combine(rows.map(loadPlan)),
    );
  }

  getSubscription(id: string): ResultAsync<Subscription | undefined, StorageError> {
    return fromDatabase(
      this.#prisma.subscription.findUnique({ where: { id }, select: { snapshot: true, version: true } }),
      { operation: "getSubscription" },
    ).andThen((row) => (row === null ? ok(undefined) : loadSubscription(row)));
  }

  findSubscriptionByStripeId(
    stripeSubscriptionId: string,
  ): ResultAsync<Subscription | undefined, StorageError> {
    return fromDatabase(
      this.#prisma.subscription.findUnique({
        where: { stripeSubscriptionId },
        select: { snapshot: true, version: true },
      }),
      { operation: "findSubscriptionByStripeId" },
    ).andThen((row) => (row === null ? ok(undefined) : loadSubscription(row)));
  }

  listSubscriptionsOfPerson(personId: PersonId): ResultAsync<readonly Subscription[], StorageError> {
    return fromDatabase(
      this.#prisma.subscription.findMany({
        where: { personId },
        orderBy: [{ createdAt: "desc" }, { id: "desc" }],
        take: SUBSCRIPTIONS_OF_PERSON_MAX,
        select: { snapshot: true, version: true },
      }),
      { operation: "listSubscriptionsOfPerson" },
    ).andThen((rows) => Result.combine(rows.map(loadSubscription)));
  }

  listStartedSubscriptionsOfPerson(personId: PersonId): ResultAsync<readonly Subscription[], StorageError> {
    return fromDatabase(
      this.#prisma.subscription.findMany({
        where: { personId, stripeSubscriptionId: { not: null } },
        orderBy: [{ createdAt: "desc" }, { id: "desc" }],
        select: { snapshot: true, version: true },
      }),
      { operation: "listStartedSubscriptionsOfPerson" },
    ).andThen((rows) => Result.combine(rows.map(loadSubscription)));
  }

  getMarketplaceCharge(id: string): ResultAsync<MarketplaceCharge | undefined, StorageError> {
    if (poolOf(this.#prisma) !== undefined)
      return this.#chargesById
        .run(id)
        .andThen((row) =>
          row === undefined
            ? ok(undefined)
            : this.#loadText("getMarketplaceCharge", row, loadMarketplaceCharge),
        );
    return this.#snapshots(
      "getMarketplaceCharge",
      MARKETPLACE_CHARGE_BY_ID_SQL,
      [id],
      loadMarketplaceCharge,
      async () => {
        const row = await this.#prisma.marketplaceCharge.findUnique({
          where: { id },
          select: { snapshot: true, version: true },
        });
        return row === null ? [] : [row];
      },
    ).map((charges) => charges[0]);
  }

  /** By the unique (requested_by, client_reference) key. */
  findMarketplaceChargeByReference(
    requestedBy: string,
    clientReference: string,
  ): ResultAsync<MarketplaceCharge | undefined, StorageError> {
    return this.#snapshots(
      "findMarketplaceChargeByReference",
      MARKETPLACE_CHARGE_BY_REFERENCE_SQL,
      [requestedBy, clientReference],
      loadMarketplaceCharge,
      async () => {
        const row = await this.#prisma.marketplaceCharge.findUnique({
          where: { requestedBy_clientReference: { requestedBy, clientReference } },
          select: { snapshot: true, version: true },
        });
        return row === null ? [] : [row];
      },
    ).map((charges) => charges[0]);
  }

  /** By the unique payment_intent_id. */
  findMarketplaceChargeByPaymentIntent(
    paymentIntentId: string,
  ): ResultAsync<MarketplaceCharge | undefined, StorageError> {
    return this.#snapshots(
      "findMarketplaceChargeByPaymentIntent",
      MARKETPLACE_CHARGE_BY_PAYMENT_INTENT_SQL,
      [paymentIntentId],
      loadMarketplaceCharge,
      async () => {
        const row = await this.#prisma.marketplaceCharge.findUnique({
          where: { paymentIntentId },
          select: { snapshot: true, version: true },
        });
        return row === null ? [] : [row];
      },
    ).map((charges) => charges[0]);
  }

  /**
   * A keyset page, newest first by (created_at, id), as {@link listHeldPayments} pages: `limit
   * + 1` rows read to know whether more follow, after the cursor charge's own place whatever
   * its status now; an unknown cursor reads nothing. A seller's pages are read through the
   * sellers table (a co-host of a split is a seller of it as much as a destination's seller).
   */
  listMarketplaceCharges(
    query: MarketplaceChargeQuery,
  ): ResultAsync<{ readonly items: readonly MarketplaceCharge[]; readonly hasMore: boolean }, StorageError> {
    return this.#keysetPage(
      "listMarketplaceCharges",
      query.limit,
      MARKETPLACE_CHARGES_PAGE_MAX,
      loadMarketplaceCharge,
      {
        statement: () => marketplaceChargesPage(query),
        viaPrisma: () => this.#marketplaceChargesPageViaPrisma(query),
      },
    );
  }

  async #marketplaceChargesPageViaPrisma(query: MarketplaceChargeQuery): Promise<readonly SnapshotRow[]> {
    let after: { createdAt: Date; id: string } | undefined;
    if (query.startingAfter !== undefined) {
      const cursor = await this.#prisma.marketplaceCharge.findUnique({
        where: { id: query.startingAfter },
        select: { createdAt: true, id: true },
      });
      if (cursor === null) return [];
      after = cursor;
    }
    return this.#prisma.marketplaceCharge.findMany({
      where: {
        ...(query.customerId !== undefined ? { customerPersonId: query.customerId } : {}),
        ...(query.sellerId !== undefined ? { sellers: { some: { sellerPersonId: query.sellerId } } } : {}),
        ...(query.requestedBy !== undefined ? { requestedBy: query.requestedBy } : {}),
        ...(query.status !== undefined ? { status: query.status } : {}),
        ...olderThan(after),
      },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: query.limit + 1,
      select: { snapshot: true, version: true },
    });
  }

  /**
   * Audit lines of the query's aggregates after its cursor, by `audit_log.id` (the order
   * they were stored), through the (aggregate_type, aggregate_id, id) index. The cursor
   * is the id of the last line read; an id in no known format reads nothing.
   */
  listAudit(query: AuditQuery): ResultAsync<readonly AuditRecord[], StorageError> {
    const bad = badLimit(query.limit, AUDIT_PAGE_MAX, "listAudit");
    if (bad !== undefined) return errAsync(bad);
    if (query.subjects.length > AUDIT_SUBJECTS_MAX)
      return errAsync(storageError.refused(`listAudit: at most ${AUDIT_SUBJECTS_MAX} subjects`));
    const after = query.startingAfter === undefined ? 0n : auditSequenceOf(query.startingAfter);
    if (after === undefined || query.subjects.length === 0) return okAsync([]);
    // Prepared on the pool (runStatement): a round's page reads its timeline on every view.
    return fromDatabase(
      () =>
        runStatement<AuditRow>(this.#prisma, {
          name: "susu_list_audit",
          text: LIST_AUDIT_SQL,
          values: [
            String(after),
            query.subjects.map((s) => s.aggregate),
            query.subjects.map((s) => s.aggregateId),
            query.limit,
          ],
        }),
      { operation: "listAudit" },
    ).map(({ rows }) =>
      rows.map(
        (row): AuditRecord => ({
          id: auditIdOf(BigInt(row.id)),
          at: fromDate(row.occurred_at),
          aggregate: row.aggregate_type as AuditRecord["aggregate"],
          aggregateId: row.aggregate_id,
          action: row.action,
          outcome: row.outcome,
          ...(row.detail !== null ? { detail: row.detail } : {}),
          actor: row.actor,
        }),
      ),
    );
  }

  /**
   * Stores the changeset in one transaction (READ COMMITTED; on the pool when the client
   * has one, see runTransaction): each aggregate with
   * `UPDATE … WHERE id = $id AND version = $expected` (an INSERT when new), its
   * projections, the outbox effects (`ON CONFLICT DO NOTHING`: an id already there is
   * kept once) and the audit lines. A stale version, or a new aggregate someone else
   * inserted first, fails with `version_conflict` and stores nothing; a new held payment or
   * marketplace charge whose caller's reference another one holds fails with `duplicate`.
   *
   * A changeset of outbox effects alone (notices a job queues again and again with stable
   * ids: a due round waiting for its members, every minute) first reads which of its ids the
   * outbox holds and stores only the others: when it holds them all, nothing is written, no
   * transaction is opened and the dispatchers are not woken (what the write would have
   * stored is there already).
   */
  commit(changes: Changeset): ResultAsync<void, StorageError> {
    if (!onlyOutboxEffects(changes)) return this.#commit(changes);
    const ids = [...new Set(changes.outbox.map((e) => e.id))];
    return fromDatabase(
      () =>
        runStatement<{ id: string }>(this.#prisma, {
          name: "susu_outbox_ids_held",
          text: "SELECT id FROM outbox_effects WHERE id = ANY($1::text[])",
          values: [ids],
        }),
      commitContext(changes),
    ).andThen(({ rows }) => {
      const held = new Set(rows.map((r) => r.id));
      const outbox = changes.outbox.filter((e) => !held.has(e.id));
      // A copy appended again would be kept once anyway (ON CONFLICT DO NOTHING).
      return outbox.length === 0 ? okAsync(undefined) : this.#commit({ ...changes, outbox });
    });
  }

  #commit(changes: Changeset): ResultAsync<void, StorageError> {
    const at = this.#clock.now();
    const context = commitContext(changes);
    const limits = { timeoutMs: this.#timeoutMs, maxWaitMs: this.#maxWaitMs };
    // A changed round whose loaded state is known writes only the child rows that changed.
    const loadedRound = this.#loadedRound;
    // Stores the changeset, posting its ledger effects in it when `postLedger`, queuing the
    // `notices` planned for it; answers how many of its outbox rows it stored done, and the
    // notices it queued.
    const store = async (postLedger: boolean, notices: CommitNotices | undefined): Promise<Stored> => {
      const inTransaction = async (): Promise<Stored> =>
        storedOf(
          await runTransaction(this.#prisma, limits, (tx) =>
            writeChangeset(tx, changes, at, loadedRound, postLedger, notices),
          ),
          notices,
        );
      // Creating a group, joining one: one statement, atomic on its own (see singleStatementCommit),
      // which queues no notice (the dispatcher sends them).
      const group = singleStatementCommit(
        changes,
        at,
        (id, version) => {
          const loaded = this.#groupsLoaded.get(id);
          return loaded?.group.version === version ? loaded : undefined;
        },
        postLedger,
      );
      // A change of one round this process loaded (the dispatcher's, the webhook processor's),
      // or of one held payment: the same, with its notices.
      const gated = group === undefined ? this.#gatedCommit(changes, at, postLedger, notices) : undefined;
      const single = group ?? gated;
      if (single === undefined) return inTransaction();
      try {
        const { rows } = await runAtomicStatement<{ written: number } & CarriedRow>(
          this.#prisma,
          limits,
          single,
        );
        if (rows[0]?.written === 1) return storedOf(carriedOf(rows[0]), notices);
      } catch (error) {
        // Refused by a rule (a key taken, a check) or rolled back by a deadlock: nothing was
        // stored, and the transaction below gives the answer the full path gives. A posting the
        // database refused is stored again without it (#withLedgerFallback). Anything else (the
        // connection lost, the outcome unknown) is reported as it is.
        if (isLedgerRefusal(error) || !decidedByTheTransaction(error)) throw error;
      }
      // Nothing was written: the group or round was not as this change expected. The transaction decides.
      return inTransaction();
    };
    return fromDatabase(async () => {
      const notices = await this.#planNotices(changes);
      return this.#withLedgerFallback((postLedger) => store(postLedger, notices));
    }, context).map((stored) => this.#committed(changes, stored));
  }

  /**
   * The notices of `changes` its commit queues itself (see notify/commit-notices.ts), planned
   * now; undefined when this store plans none or there are none to queue.
   */
  async #planNotices(changes: Changeset): Promise<CommitNotices | undefined> {
    if (this.#notices === undefined || !changes.outbox.some((e) => e.kind === "notify")) return undefined;
    const planned = await this.#notices.plan(changes.outbox, this);
    return planned.size === 0 ? undefined : planned;
  }

  /**
   * `write` with the changeset's ledger effects posted in it (when this store posts them), and,
   * when the database refuses a posting (a balance out of the safe range: nothing of that
   * write was stored), `write` again without: the state is stored, its postings left pending
   * to the dispatcher, which fails them as it always has. The books never block the state.
   */
  async #withLedgerFallback<T>(write: (postLedger: boolean) => Promise<T>): Promise<T> {
    if (!this.#postLedger) return write(false);
    try {
      return await write(true);
    } catch (error) {
      if (!isLedgerRefusal(error)) throw error;
      return write(false);
    }
  }

  /**
   * After a changeset's commit: the dispatchers are told of its effects (see WakeNotifier),
   * unless every one was carried out in the commit (a ledger posting made, a notice queued:
   * `stored.done` of them, their rows stored done): a wake-up for nothing costs a claim. The
   * notices it queued then tell what they tell once queued (a log line).
   */
  #committed(changes: Changeset, stored: Stored): void {
    if (changes.outbox.length > stored.done) wakeNotifierOf(this.#prisma).wake(OUTBOX_CHANNEL);
    for (const notice of stored.queued) notice.stored();
  }

  /**
   * {@link commit}'s transaction, left open once the changeset is written (with the same
   * checks: a stale version fails here and stores nothing): the caller runs what must be
   * stored with it — the result of the webhook event that caused the change — and commits
   * or rolls back. `undefined` when the client has no pool to hold a connection from; the
   * caller then uses {@link commit}.
   */
  openCommit(changes: Changeset): ResultAsync<OpenTransaction | undefined, StorageError> {
    const at = this.#clock.now();
    const limits = { timeoutMs: this.#timeoutMs, maxWaitMs: this.#maxWaitMs };
    const loadedRound = this.#loadedRound;
    return fromDatabase(async () => {
      const notices = await this.#planNotices(changes);
      const open = await openTransaction(this.#prisma, limits);
      if (open === undefined) return undefined;
      // A held payment's change, or a change of a round this process loaded, in one statement,
      // in the transaction; of another shape, or not stored by it, the changeset's writes decide.
      const single = this.#gatedCommit(changes, at, this.#postLedger, notices);
      let current = open;
      let carried: Carried;
      try {
        const row =
          single === undefined
            ? undefined
            : (await open.run<{ written: number } & CarriedRow>(single)).rows[0];
        carried =
          row?.written === 1
            ? carriedOf(row)
            : await writeChangeset(open.run, changes, at, loadedRound, this.#postLedger, notices);
      } catch (error) {
        await open.rollback();
        // Refused by a rule or rolled back by a deadlock or a serialization failure, the one
        // statement stored nothing and the transaction is over: as in commit, the changeset's
        // writes decide, in a transaction of their own (without postings if the database refused
        // one: see #withLedgerFallback). Anything else is reported as it is.
        const ledgerRefused = isLedgerRefusal(error);
        if (!ledgerRefused && (single === undefined || !decidedByTheTransaction(error))) throw error;
        const writeAgain = async (postLedger: boolean) => {
          const again = await openTransaction(this.#prisma, limits);
          if (again === undefined) throw error;
          try {
            return {
              again,
              carried: await writeChangeset(again.run, changes, at, loadedRound, postLedger, notices),
            };
          } catch (failure) {
            await again.rollback();
            throw failure;
          }
        };
        const written = ledgerRefused ? await writeAgain(false) : await this.#withLedgerFallback(writeAgain);
        current = written.again;
        carried = written.carried;
      }
      const chosen = current;
      const stored = storedOf(carried, notices);
      return {
        run: chosen.run,
        rollback: () => chosen.rollback(),
        commit: async () => {
          await chosen.commit();
          this.#committed(changes, stored);
        },
      };
    }, commitContext(changes));
  }

  /**
   * The single statement, gated on its aggregate's version-checked `UPDATE`, of a change of one
   * held payment or of one round this process loaded at the expected version; else undefined.
   */
  #gatedCommit(
    changes: Changeset,
    at: Instant,
    postLedger: boolean,
    notices?: CommitNotices,
    loadedRound: LoadedRound = this.#loadedRound,
  ): GatedCommit | undefined {
    return (
      singleStatementHeldPaymentCommit(changes, at, postLedger, notices) ??
      singleStatementRoundCommit(changes, at, loadedRound, postLedger, notices)
    );
  }

  /**
   * A change of one held payment, or of one round this process loaded, in {@link commit}'s
   * single-statement shape, not written yet: written later together with another statement's
   * write, in one statement (see {@link DeferredCommit}). `undefined` for any other changeset,
   * or when the client has no pool to send one statement on.
   */
  deferCommit(changes: Changeset): DeferredCommit | undefined {
    if (poolOf(this.#prisma) === undefined) return undefined;
    const at = this.#clock.now();
    // The round as this process loaded it now, for the statement written later (whatever this
    // process loads meanwhile): the same statement whether it is built now or, with the
    // notices planned for it, then.
    const round = changes.rounds[0];
    const previous =
      round?.expectedVersion === undefined
        ? undefined
        : this.#loadedRound(round.state.id, round.expectedVersion);
    const pinned: LoadedRound = (id, version) =>
      round !== undefined && id === round.state.id && version === round.expectedVersion
        ? previous
        : undefined;
    // Built now: the shape is checked by building it.
    const plain = this.#gatedCommit(changes, at, this.#postLedger, undefined, pinned);
    if (plain === undefined) return undefined;
    const limits = { timeoutMs: this.#timeoutMs, maxWaitMs: this.#maxWaitMs };
    const loadedRound = this.#loadedRound;
    const inTransaction = (
      statement: NamedStatement,
      postLedger: boolean,
      notices: CommitNotices | undefined,
    ) =>
      runTransaction(this.#prisma, limits, async (run) => {
        const carried = await writeChangeset(run, changes, at, loadedRound, postLedger, notices);
        return { rows: (await run<unknown>(statement)).rows, carried };
      });
    return {
      withResult: (statement) =>
        fromDatabase(async (): Promise<readonly unknown[]> => {
          const notices = await this.#planNotices(changes);
          const single =
            notices === undefined
              ? plain
              : (this.#gatedCommit(changes, at, this.#postLedger, notices, pinned) ?? plain);
          const folded = singleStatementCommitWith(single, statement);
          let ledgerRefused = false;
          if (folded !== undefined) {
            try {
              const { rows } = await runAtomicStatement<
                {
                  written: number;
                  finished: unknown[] | null;
                } & CarriedRow
              >(this.#prisma, limits, folded);
              const row = rows[0];
              if (row?.written === 1) {
                this.#committed(changes, storedOf(carriedOf(row), notices));
                return row.finished ?? [];
              }
            } catch (error) {
              // As in commit: refused by a rule, or rolled back by a deadlock or a
              // serialization failure, nothing was stored, and the transaction gives the answer
              // (without postings if the database refused one: see #withLedgerFallback).
              ledgerRefused = isLedgerRefusal(error);
              if (!ledgerRefused && !decidedByTheTransaction(error)) throw error;
            }
          }
          // Not written (the aggregate not at the expected version, a round not with the
          // snapshot it was loaded with), or no part to fold: the changeset's writes decide — a
          // stale version is a version_conflict, nothing stored — and the statement runs after
          // them, in the same transaction.
          const { rows, carried } = ledgerRefused
            ? await inTransaction(statement, false, notices)
            : await this.#withLedgerFallback((postLedger) => inTransaction(statement, postLedger, notices));
          this.#committed(changes, storedOf(carried, notices));
          return rows;
        }, commitContext(changes)),
    };
  }

  /**
   * Leases up to `limit` due effects to `workerId`, oldest first, keeping the per-aggregate
   * rule (OutboxStore): an aggregate with any pending effect under a live lease — anyone's —
   * gives nothing. Claims take a transaction-level advisory lock first, so they run one
   * after another and each sees every claim committed before it (READ COMMITTED: the claim
   * statement's snapshot is taken once the lock is held); two claims can then never split
   * one aggregate's effects between two workers. The CTE is materialised, run once, and
   * takes its rows with `FOR UPDATE` (waiting, not skipping: a row skipped while a sweep or
   * a requeue holds it would let a later effect of its aggregate go first). Rows whose
   * payload is not a valid effect are parked rather than returned, so one bad row cannot
   * stall the outbox.
   */
  claimDue(
    workerId: string,
    now: Instant,
    leaseMs: number,
    limit: number,
  ): ResultAsync<readonly OutboxRecord[], StorageError> {
    const bad = badLimit(limit, OUTBOX_CLAIM_MAX, "claimDue") ?? badLease(leaseMs);
    if (bad !== undefined) return errAsync(bad);
    const limits = { timeoutMs: this.#timeoutMs, maxWaitMs: this.#maxWaitMs };
    return fromDatabase(
      runTransaction(
        this.#prisma,
        limits,
        async (run) => {
          const { rows } = await run<ClaimedRow>(outboxClaimStatement(workerId, now, leaseMs, limit));
          return rows;
        },
        // With the BEGIN, in one round trip: see OUTBOX_CLAIM_FIRST.
        OUTBOX_CLAIM_FIRST,
      ),
      { operation: "claimDue" },
    ).andThen((rows) => this.#recordsOf(rows, workerId, now));
  }

  /**
   * Gives back `workerId`'s claims on `effectIds` still pending: due again at once, no attempt
   * counted; with `interrupted` kept as their last error (their next claim says failed before).
   */
  release(
    workerId: string,
    effectIds: readonly string[],
    interrupted?: string,
  ): ResultAsync<number, StorageError> {
    if (effectIds.length === 0) return okAsync(0);
    // The note goes before the error the effect had (interruptedTry.over), read row by row.
    return fromDatabase(
      this.#prisma.$executeRawUnsafe(
        `UPDATE outbox_effects
            SET claimed_by = NULL, claimed_until = NULL,
                last_error = CASE WHEN $3::text IS NULL THEN last_error
                                  ELSE ${noteOver("$3::text", "last_error")} END
          WHERE id = ANY ($2::text[]) AND claimed_by = $1 AND status = 'pending'`,
        workerId,
        [...effectIds],
        interrupted ?? null,
      ),
      { operation: "outbox release" },
    );
  }

  /** Every claim `workerId` holds on a pending effect given back as it was (no note: none of them started). */
  releaseOwnClaims(workerId: string): ResultAsync<number, StorageError> {
    return fromDatabase(
      this.#prisma.$executeRaw`
        UPDATE outbox_effects SET claimed_by = NULL, claimed_until = NULL
         WHERE claimed_by = ${workerId} AND status = 'pending'`,
      { operation: "outbox release own claims" },
    );
  }

  #recordsOf(
    rows: readonly ClaimedRow[],
    workerId: string,
    now: Instant,
  ): ResultAsync<readonly OutboxRecord[], StorageError> {
    // RETURNING has no order of its own: restore the dispatch order.
    // (A bigint through Prisma, a string through node-postgres.)
    const seq = (row: ClaimedRow) => BigInt(row.sequence);
    const sorted = [...rows].sort((a, b) => (seq(a) < seq(b) ? -1 : seq(a) > seq(b) ? 1 : 0));
    const records: OutboxRecord[] = [];
    const malformed: { id: string; problem: string; createdAt: Instant }[] = [];
    for (const row of sorted) {
      const effect = parseOutboxEffect(row.payload);
      if (effect.isErr())
        malformed.push({ id: row.id, problem: effect.error, createdAt: fromDate(row.created_at) });
      else
        records.push({
          effect: effect.value,
          attempts: row.attempts,
          availableAt: fromDate(row.available_at),
          // The row's first insert: a copy appended again is dropped (ON CONFLICT DO NOTHING),
          // and retries, re-claims and requeues never write it; capped by a restore's line
          // (see outboxClaimStatement).
          createdAt: fromDate(row.created_at),
          // Written by `fail`, by a try given back or found interrupted (the claim itself, when
          // it takes a lease that ended unsettled), never cleared: an effect that failed or may
          // have been tried before, whatever its attempts since a requeue.
          failedBefore: row.failed_before,
          // Counted by `fail` when it parks a refusal for good; a requeued run keys past them.
          ...(row.refusals > 0 ? { refusals: row.refusals } : {}),
        });
    }
    if (malformed.length === 0) return okAsync(records);
    return malformed
      .reduce<ResultAsync<void, StorageError>>((chain, bad) => {
        // A payload whose only problem is fields this code does not know was written by a
        // newer susu (a rolling deploy): due again later, for a newer process to run it,
        // without counting an attempt (the newer process keeps its whole retry budget);
        // parked with that reason once it is NEWER_PAYLOAD_WAIT_MS old. Any other: parked.
        const newer = fromNewerSusu(bad.problem);
        if (newer && now - bad.createdAt < NEWER_PAYLOAD_WAIT_MS)
          return chain.andThen(() =>
            this.#postpone(
              bad.id,
              workerId,
              `payload written by a newer version of susu, retried until a newer process runs it: ${bad.problem}`,
              now + NEWER_PAYLOAD_RETRY_MS,
            ),
          );
        const reason = newer
          ? `payload written by a newer version of susu, no newer process ran it within ${NEWER_PAYLOAD_WAIT_MS / 60_000} minutes of its making (finish the deploy, then requeue): ${bad.problem}`
          : `malformed payload: ${bad.problem}`;
        return chain.andThen(() => this.fail(bad.id, workerId, reason, undefined).map(() => undefined));
      }, okAsync(undefined))
      .map(() => records);
  }

  /**
   * Marks an effect done, if `workerId` holds its lease, and answers whether it did; otherwise
   * does nothing (`false`). One prepared statement (the dispatcher's hottest write after the
   * claim).
   */
  complete(effectId: string, workerId: string, now: Instant): ResultAsync<boolean, StorageError> {
    // Prepared on the pool; completions that come while one is written go together.
    return this.#completions.run({ effectId, workerId, at: now });
  }

  /** Gives back `workerId`'s claim, due again at `retryAt`, with `error` kept and no attempt counted. */
  #postpone(
    effectId: string,
    workerId: string,
    error: string,
    retryAt: Instant,
  ): ResultAsync<void, StorageError> {
    return fromDatabase(
      runStatement(this.#prisma, {
        name: "susu_outbox_postpone",
        text: `UPDATE outbox_effects
                  SET last_error = $3, claimed_by = NULL, claimed_until = NULL, available_at = $4::timestamptz
                WHERE id = $1 AND claimed_by = $2 AND status = 'pending'`,
        values: [effectId, workerId, error.slice(0, OUTBOX_ERROR_MAX_CHARS), toDate(retryAt)],
      }),
      { operation: "outbox postpone" },
    ).map(() => undefined);
  }

  /**
   * Records a failed execution, if `workerId` holds the lease: one more attempt, the lease
   * released, and the effect due again at `retryAt` — or parked (never claimed again)
   * when `retryAt` is undefined; parked with `refused`, one more refusal counted. Answers
   * whether it did (not when the claim was lost).
   */
  fail(
    effectId: string,
    workerId: string,
    error: string,
    retryAt: Instant | undefined,
    options: { readonly refused?: boolean } = {},
  ): ResultAsync<boolean, StorageError> {
    return fromDatabase(
      runStatement(this.#prisma, {
        name: "susu_outbox_fail",
        text: `UPDATE outbox_effects
                  SET attempts = attempts + 1, last_error = $3, claimed_by = NULL, claimed_until = NULL,
                      status = CASE WHEN $4::timestamptz IS NULL THEN 'parked'::outbox_status ELSE status END,
                      available_at = COALESCE($4::timestamptz, available_at),
                      refusals = refusals + CASE WHEN $4::timestamptz IS NULL AND $5::boolean THEN 1 ELSE 0 END
                WHERE id = $1 AND claimed_by = $2 AND status = 'pending'
                RETURNING id`,
        values: [
          effectId,
          workerId,
          error.slice(0, OUTBOX_ERROR_MAX_CHARS),
          retryAt === undefined ? null : toDate(retryAt),
          options.refused === true,
        ],
      }),
      { operation: "outbox fail" },
    ).map(({ rows }) => rows.length === 1);
  }

  /**
   * Effects with `status`, in dispatch order (`sequence`): a keyset page after the
   * cursor's own sequence (a cursor that is not an effect with `status` gives an empty
   * page), `limit + 1` rows read to know whether more follow. The payload is not read: it is
   * the provider call's input, operators need the id, kind and error. One statement
   * ({@link outboxListStatement}), through the status's partial index.
   */
  listOutbox(query: {
    readonly status: "pending" | "parked" | "dismissed";
    readonly limit: number;
    readonly startingAfter?: string;
  }): ResultAsync<{ readonly items: readonly OutboxEntry[]; readonly hasMore: boolean }, StorageError> {
    return fromDatabase(
      async () =>
        (
          await runStatement<OutboxListRow>(
            this.#prisma,
            outboxListStatement(query.status, query.limit + 1, query.startingAfter),
          )
        ).rows,
      { operation: "list outbox" },
    ).map((rows) => ({
      items: rows.slice(0, query.limit).map(
        (r): OutboxEntry => ({
          id: r.id,
          kind: r.kind,
          status: r.status,
          attempts: r.attempts,
          availableAt: fromDate(r.available_at),
          lastError: r.last_error ?? undefined,
          aggregateId: r.aggregate_id,
        }),
      ),
      hasMore: rows.length > query.limit,
    }));
  }

  /**
   * Makes a parked effect pending, due at `now`, attempts reset to 0, lease cleared; a
   * dismissed one too (the undo of {@link dismissParked}).
   */
  requeueParked(id: string, now: Instant): ResultAsync<RequeueOutcome, StorageError> {
    return fromDatabase(
      this.#prisma.$transaction(async (tx): Promise<RequeueOutcome> => {
        const { count } = await tx.outboxEffect.updateMany({
          where: { id, status: { in: ["parked", "dismissed"] } },
          data: REQUEUE(now),
        });
        if (count === 1) return "requeued";
        const exists = await tx.outboxEffect.findUnique({ where: { id }, select: { id: true } });
        return exists === null ? "not_found" : "not_parked";
      }),
      { operation: "outbox requeue" },
    );
  }

  /**
   * A parked effect made `dismissed`, its audit lines written (on the effect and on its
   * aggregate) and its parking's ticket resolved if still open, in one statement
   * ({@link OUTBOX_DISMISS_PARKED_SQL}): all of it or nothing. The row keeps its attempts and
   * last error; anything but a parked effect is left as it is.
   */
  dismissParked(id: string, dismissal: ParkedDismissal): ResultAsync<DismissOutcome, StorageError> {
    return fromDatabase(
      runStatement<{ dismissed: boolean; ticket_resolved: boolean; found: boolean }>(this.#prisma, {
        name: "susu_outbox_dismiss_parked",
        text: OUTBOX_DISMISS_PARKED_SQL,
        values: [
          id,
          toDate(dismissal.at),
          dismissal.reason,
          DISMISS_PARKED_ACTION,
          dismissalActor(dismissal.by),
          dismissal.by,
          dismissalResolution(dismissal.reason),
          parkedEffectTicketId(id),
        ],
      }),
      { operation: "outbox dismiss" },
    ).map(({ rows }): DismissOutcome => {
      const row = rows[0];
      if (row?.dismissed === true) return { outcome: "dismissed", ticketResolved: row.ticket_resolved };
      return row?.found === true ? { outcome: "not_parked" } : { outcome: "not_found" };
    });
  }

  /**
   * Every parked effect requeued as {@link requeueParked} does, in one statement that finds
   * them through outbox_effects_parked_idx ({@link OUTBOX_REQUEUE_ALL_PARKED_SQL}).
   */
  requeueAllParked(now: Instant): ResultAsync<number, StorageError> {
    return fromDatabase(
      runStatement<{ count: number | string | bigint }>(this.#prisma, {
        name: "susu_outbox_requeue_all_parked",
        text: OUTBOX_REQUEUE_ALL_PARKED_SQL,
        values: [toDate(now)],
      }),
      { operation: "outbox requeue all" },
    ).map(({ rows }) => Number(rows[0]?.count ?? 0));
  }
}

/**
 * The statuses an operator lists effects by, as the SQL literal each is written as: taken
 * from this fixed map of the closed union, never from input. A literal, not a bound
 * parameter: with the status bound and cast to the enum (what Prisma sends:
 * `CAST($1::text AS outbox_status)`) the planner cannot prove a partial index's predicate,
 * and walked outbox_effects_sequence_key through the whole history of done effects (kept for
 * ever) to find a page; with the literal it reads outbox_effects_parked_idx (parked) or
 * outbox_effects_due_idx (pending), which hold those rows alone, in sequence order.
 */
const OUTBOX_LISTED_STATUS = {
  pending: "'pending'",
  parked: "'parked'",
  dismissed: "'dismissed'",
} as const;

interface OutboxListRow {
  readonly id: string;
  readonly kind: string;
  readonly status: "pending" | "parked" | "dismissed";
  readonly attempts: number;
  readonly available_at: Date;
  readonly last_error: string | null;
  readonly aggregate_id: string;
}

/**
 * A page of the effects with `status` in sequence order, at most `take` rows, after the
 * sequence of the effect `startingAfter` when given: found by its id whatever its status now,
 * so an operator who replayed (or saw finish) the last effect of a page still gets the next
 * one; an unknown id leaves the bound NULL and the page empty. A statement per status and
 * form, each prepared once.
 */
function outboxListStatement(
  status: keyof typeof OUTBOX_LISTED_STATUS,
  take: number,
  startingAfter: string | undefined,
): NamedStatement {
  if (!Object.hasOwn(OUTBOX_LISTED_STATUS, status))
    throw new RangeError(`no outbox list of status ${status}`);
  const is = OUTBOX_LISTED_STATUS[status];
  const after =
    startingAfter === undefined
      ? ""
      : `AND o.sequence > (SELECT c.sequence FROM outbox_effects c WHERE c.id = $2)`;
  return {
    name: `susu_outbox_list_${status}${startingAfter === undefined ? "" : "_after"}`,
    text: `
      SELECT o.id, o.kind, o.status::text AS status, o.attempts, o.available_at, o.last_error, o.aggregate_id
        FROM outbox_effects o
       WHERE o.status = ${is} ${after}
       ORDER BY o.sequence
       LIMIT $1`,
    values: startingAfter === undefined ? [take] : [take, startingAfter],
  };
}

/**
 * Every parked effect made pending as {@link REQUEUE} says (same columns, same values; $1 is
 * `availableAt`), found through outbox_effects_parked_idx (the status a literal, as in
 * {@link OUTBOX_LISTED_STATUS}); how many.
 */
const OUTBOX_REQUEUE_ALL_PARKED_SQL = `
  WITH requeued AS (
    UPDATE outbox_effects
       SET status = 'pending', attempts = 0, available_at = $1, claimed_by = NULL, claimed_until = NULL
     WHERE status = 'parked'
    RETURNING 1)
  SELECT count(*) AS count FROM requeued`;

/**
 * An operator's dismissal of a parked effect ($1 id, $2 when, $3 reason, $4 action, $5 actor,
 * $6 who, $7 the ticket's resolution, $8 the parking's ticket id): the effect made
 * `dismissed` (its attempts and last error kept; a parked row holds no claim, cleared all the
 * same), an audit line on the effect and one on its aggregate (so the round's timeline and its
 * group's trail show it), and the ticket resolved if it is still open, only when the effect
 * was parked. Row locks serialise it with a replay of the same effect (READ COMMITTED
 * re-checks `status = 'parked'`: the later one finds it not parked). `found` tells
 * not_parked from not_found.
 */
const OUTBOX_DISMISS_PARKED_SQL = `
  WITH d AS (
    UPDATE outbox_effects
       SET status = 'dismissed', claimed_by = NULL, claimed_until = NULL
     WHERE id = $1 AND status = 'parked'
    RETURNING id, kind, aggregate_type, aggregate_id),
  a AS (
    INSERT INTO audit_log (occurred_at, aggregate_type, aggregate_id, action, outcome, detail, actor)
    SELECT $2::timestamptz, 'outbox_effect', d.id, $4::text, 'applied'::audit_outcome, $3::text, $5::text FROM d
    UNION ALL
    SELECT $2::timestamptz, d.aggregate_type, d.aggregate_id, $4::text, 'applied'::audit_outcome,
           d.id || ' (' || d.kind || '): ' || $3::text, $5::text FROM d),
  t AS (
    UPDATE support_tickets
       SET status = 'resolved', resolved_at = $2::timestamptz, resolved_by = $6::text, resolution = $7::text,
           updated_at = $2::timestamptz, version = version + 1
     WHERE id = $8::text AND status = 'open' AND EXISTS (SELECT 1 FROM d)
    RETURNING 1)
  SELECT EXISTS (SELECT 1 FROM d) AS dismissed,
         EXISTS (SELECT 1 FROM t) AS ticket_resolved,
         EXISTS (SELECT 1 FROM outbox_effects WHERE id = $1) AS found`;

/** Most completions one grouped statement writes. */
const COMPLETE_GROUP_MAX = 64;

/** The client's pool, for grouped reads that were only started with one (it may have been disconnected since). */
function livePool(prisma: PrismaClient): pg.Pool {
  const found = poolOf(prisma);
  if (found === undefined) throw new Error("the database client has been disconnected");
  return found;
}

/** A row of {@link ROUND_WITH_GROUP_SQL} or {@link ROUNDS_WITH_GROUPS_SQL}. */
type RoundWithGroupRow = SnapshotTextRow & { readonly kind: "round" | "group"; readonly round_id: string };

/** Rounds with their groups by round id through the pool, one or several per statement (see {@link snapshotsById}). */
function roundsWithGroupsById(prisma: PrismaClient): GroupStatement<string, readonly RoundWithGroupRow[]> {
  return {
    one: async (id) =>
      (
        await livePool(prisma).query<RoundWithGroupRow>({
          name: "susu_getRoundWithGroup",
          text: ROUND_WITH_GROUP_SQL,
          values: [id],
        })
      ).rows,
    many: async (ids) => {
      const { rows } = await livePool(prisma).query<RoundWithGroupRow>({
        name: "susu_getRoundWithGroup_many",
        text: ROUNDS_WITH_GROUPS_SQL,
        values: [ids],
      });
      return ids.map((id) => rows.filter((r) => r.round_id === id));
    },
  };
}

/** Most snapshots one grouped read by id reads. */
const BY_ID_GROUP_MAX = 64;

/**
 * Snapshot reads by id through the pool: one id by `oneSql` (its statement named after the
 * read, `susu_<operation>`, as before grouping), several by `manySql` (`= ANY($1)`, named
 * `susu_<operation>_many`), each id answered with its row or `undefined`.
 */
function snapshotsById(
  prisma: PrismaClient,
  operation: SnapshotRead,
  oneSql: string,
  manySql: string,
): GroupStatement<string, SnapshotTextRow | undefined> {
  return {
    one: async (id) =>
      (
        await livePool(prisma).query<SnapshotTextRow>({
          name: `susu_${operation}`,
          text: oneSql,
          values: [id],
        })
      ).rows[0],
    many: async (ids) => {
      const { rows } = await livePool(prisma).query<SnapshotTextRow & { readonly id: string }>({
        name: `susu_${operation}_many`,
        text: manySql,
        values: [ids],
      });
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => byId.get(id));
    },
  };
}

/**
 * Effects marked done as `complete` does (each only while its worker holds the claim), one
 * statement for one ({@link OUTBOX_COMPLETE_SQL}) or for several, in id order; each answers
 * whether it was marked done (not when its worker lost the claim).
 */
function completionWriter(prisma: PrismaClient): GroupStatement<OutboxCompletion, boolean> {
  return {
    one: async (c) => {
      const { rows } = await runStatement(prisma, {
        name: "susu_outbox_complete",
        text: OUTBOX_COMPLETE_SQL,
        values: [c.effectId, c.workerId, toDate(c.at)],
      });
      return rows.length === 1;
    },
    many: async (completions) => {
      const sorted = [...completions].sort((a, b) =>
        a.effectId < b.effectId ? -1 : a.effectId > b.effectId ? 1 : 0,
      );
      const { rows } = await runStatement<{ readonly id: string; readonly worker: string }>(prisma, {
        name: "susu_outbox_complete_many",
        text: `UPDATE outbox_effects o
                  SET status = 'done', claimed_by = NULL, claimed_until = NULL, completed_at = c.at
                 FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS c(id, worker, at)
                WHERE o.id = c.id AND o.claimed_by = c.worker AND o.status = 'pending'
                RETURNING o.id, c.worker`,
        values: [
          sorted.map((c) => c.effectId),
          sorted.map((c) => c.workerId),
          sorted.map((c) => toDate(c.at)),
        ],
      });
      // By effect and worker: the same effect from two workers is done for its claim's holder only.
      const done = new Set(rows.map((r) => `${r.worker}\u0000${r.id}`));
      return completions.map((c) => done.has(`${c.workerId}\u0000${c.effectId}`));
    },
  };
}

/**
 * An outbox payload written by a newer susu (only fields this code does not know) is due
 * again a minute after an older process claimed it, until it is an hour old, then parked
 * with that reason: a rolling deploy replaces the old processes well within the hour.
 */
const NEWER_PAYLOAD_RETRY_MS = 60_000;
const NEWER_PAYLOAD_WAIT_MS = 60 * NEWER_PAYLOAD_RETRY_MS;

/**
 * Run with a claim's BEGIN: the lock that serialises outbox claims (the key is this
 * statement's own). The claim's commit waits for the WAL flush, as every commit of the outbox
 * does: a provider call goes out only under a claim that survives a crash of the server. (It
 * did not wait before 2026-12-06, to hold the lock for the statement alone; but a claim lost
 * with the server's last fraction of a second let an effect already sent go out again as a
 * first try: no claimant left to find its lease ended, so nothing recorded the try as
 * interrupted, and the run trusted its idempotency key alone, or, for a transfer whose attempt
 * had been written off meanwhile, was dropped without reporting the try: a transfer that try
 * made was never looked up. The flush holds the lock for about one fsync more, and claims take
 * many effects at a time.)
 *
 * And no bitmap scans in the claim: the pending-only indexes keep an entry for every effect
 * that has since been completed until a vacuum removes it (on a busy outbox, thousands). An
 * index scan reads such an entry's row once, finds it dead, and marks the entry so that later
 * scans skip it; a bitmap scan, which the planner picks when it expects few pending rows,
 * never marks them, so every claim read all of those rows again (bench/webhook-costs.ts: 633
 * buffers for a claim that found nothing). With index scans, the first claim after 3,000
 * completions read 3,661 buffers and the next 21 (outbox-claims.prisma.test.ts).
 */
export const OUTBOX_CLAIM_FIRST = [
  "SET LOCAL enable_bitmapscan = off",
  "SELECT pg_advisory_xact_lock(hashtextextended('susu_outbox_claim', 0))",
] as const;

/**
 * The claim statement behind `claimDue` (exported for the test that proves its plan): the
 * oldest due pending rows not under a live lease, of aggregates with no pending row under a
 * live lease, leased to `workerId`.
 *
 * The aggregates under a live lease (`busy`) are found once per claim, from the pending rows,
 * and each due row is checked against them by a hashed lookup, while the due rows are walked
 * in sequence order through outbox_effects_due_idx and the walk stops at the limit. The
 * previous form probed outbox_effects_pending_aggregate_idx for every row walked: with 100
 * rounds' ten debits queued behind one in flight each, a claim read ~25,000 buffers
 * (bench/rounds.ts --statements, 100 groups). The price: every claim reads every pending row
 * once, so a large backlog of free work costs more than it did (100k done rows, once each
 * form, in a throw-away script: 3,000 queued effects behind 300 leased heads, 9,053 → 999
 * buffers; 100,000 pending over 50,000 aggregates with 64 leased, 1,347 → 4,225 buffers and
 * 2.7 → 40 ms; 20,000 over 5,000, 1,215 → 1,674). A live-lease index would bound both, but
 * `claimed_until` stays out of every index so that a claim is a HOT update.
 *
 * The rows found are updated by their ids as an array, through the primary key: joined with
 * the CTE instead, the planner scanned the whole table for them when its statistics said many
 * rows were pending, and with the status compared as the enum it walked a pending-only index
 * for them, stale entries and all (both seen in a test after a burst of completions); compared
 * as text, the status is a check on the rows found, which the lock taken on them already
 * guarantees. The predicates repeat the partial indexes' with literals, so the planner can
 * prove they apply. A row still claimed (its lease ended unsettled: the worker died or was cut
 * off mid-run, and no sweep has cleared it yet) may have been tried: the update records that as
 * its last error (SET reads the row as it was), so this claim and every later one hand it out
 * as failed before — also after this worker gives it back unstarted. Each row's `created_at` is no later than the first restore's audit line
 * (`RESTORE_AUDIT`): an effect appended after a restore may repeat one sent before it (the
 * first line, since a database restored twice holds rows appended after the first restore).
 */
export function outboxClaimStatement(
  workerId: string,
  now: Instant,
  leaseMs: number,
  limit: number,
): NamedStatement {
  return {
    name: "susu_outbox_claim",
    text: `
      WITH busy AS MATERIALIZED (
        SELECT DISTINCT h.aggregate_type, h.aggregate_id FROM outbox_effects h
         WHERE h.status = 'pending' AND h.claimed_until > $2),
      due AS MATERIALIZED (
        SELECT o.id FROM outbox_effects o
         WHERE o.status = 'pending'
           AND o.available_at <= $2
           AND (o.claimed_until IS NULL OR o.claimed_until <= $2)
           AND (o.aggregate_type, o.aggregate_id) NOT IN (SELECT b.aggregate_type, b.aggregate_id FROM busy b)
         ORDER BY o.sequence
         LIMIT $4
           FOR UPDATE OF o)
      UPDATE outbox_effects o
         SET claimed_by = $1, claimed_until = $3,
             last_error = CASE WHEN o.claimed_by IS NULL THEN o.last_error
                               ELSE ${noteOver(leaseExpiredNote("o.claimed_by"), "o.last_error")} END
       WHERE o.id = ANY (ARRAY(SELECT id FROM due)) AND o.status::text = 'pending'
      RETURNING o.id, o.payload, o.attempts, o.available_at, o.sequence,
                o.last_error IS NOT NULL AS failed_before, o.refusals,
                LEAST(o.created_at,
                      (SELECT min(r.occurred_at) FROM audit_log r
                        WHERE r.aggregate_type = 'database' AND r.aggregate_id = 'outbox'
                          AND r.action = 'restored')) AS created_at`,
    values: [workerId, toDate(now), toDate(now + leaseMs), limit],
  };
}

/**
 * The statement behind `findGroupsDueForRound` (exported for the test that proves its
 * plan). The predicate repeats groups_due_for_round_idx's with literals, so the planner
 * can prove the partial index applies; a bound parameter in place of 'active' would not
 * let it. next_round_at is the domain's nextRoundOpensAt, kept in step by every commit.
 * Most overdue first, by (next_round_at, id): the index's order, so a page is read in index
 * order and stops at its LIMIT. `after` (the last group of the previous page) is a row
 * comparison on the same two columns, an index condition: a page starts where the last one
 * ended however many groups share a next_round_at.
 */
export function dueGroupsQuery(at: Instant, limit: number, after?: DueGroupCursor): Prisma.Sql {
  const afterCursor =
    after === undefined
      ? Prisma.empty
      : Prisma.sql`AND (next_round_at, id) > (${toDate(after.nextRoundAt)}::timestamptz, ${after.groupId})`;
  return Prisma.sql`
    SELECT snapshot, version FROM groups
     WHERE status = 'active' AND current_round_id IS NULL
       AND next_round_at <= ${toDate(at)}
       ${afterCursor}
     ORDER BY next_round_at, id
     LIMIT ${limit}`;
}

function badLimit(limit: number, max: number, operation: string): StorageError | undefined {
  return Number.isSafeInteger(limit) && limit >= 1 && limit <= max
    ? undefined
    : storageError.unavailable(`${operation}: limit must be a whole number from 1 to ${max}, got ${limit}`);
}

function badLease(leaseMs: number): StorageError | undefined {
  return Number.isSafeInteger(leaseMs) && leaseMs >= 1
    ? undefined
    : storageError.unavailable(`claimDue: leaseMs must be a positive whole number, got ${leaseMs}`);
}

interface SnapshotRow {
  readonly snapshot: unknown;
  readonly version: number;
}

// A stored aggregate that does not parse, or whose snapshot disagrees with its row, is
// corrupted storage. It is reported as `storage_refused` rather than thrown, so a
// dispatcher parks the effect with a ticket at once instead of dying on every pass.
// A shape whose only problem is fields this code does not know was most likely written by a
// newer susu beside this one (a rolling deploy): `storage_unavailable`, so the work that needs
// it is retried (with backoff, then parked with this reason and a ticket when it runs out),
// and once a new process runs it the work goes through. See "Deploying" in the README.
function corrupted(what: string, problem: string): StorageError {
  return fromNewerSusu(problem)
    ? storageError.unavailable(
        `stored ${what} cannot be loaded by this older process, retried until a newer one runs it: ${problem}`,
      )
    : storageError.refused(`stored ${what} cannot be loaded: ${problem}`);
}

// The statements of the pool reads (see #snapshotById); columns named as Prisma names them.
const GROUP_BY_ID_SQL = "SELECT snapshot::text AS snapshot_text, version FROM groups WHERE id = $1";
const ROUND_BY_ID_SQL = "SELECT snapshot::text AS snapshot_text, version FROM rounds WHERE id = $1";
// The round and its group, one row each (the group's none when it is missing), read in one snapshot.
const ROUND_WITH_GROUP_SQL = `
  SELECT 'round' AS kind, r.id AS round_id, r.snapshot::text AS snapshot_text, r.version FROM rounds r WHERE r.id = $1
  UNION ALL
  SELECT 'group' AS kind, r.id AS round_id, g.snapshot::text AS snapshot_text, g.version
    FROM rounds r JOIN groups g ON g.id = r.group_id WHERE r.id = $1`;
const ROUNDS_WITH_GROUPS_SQL = `
  SELECT 'round' AS kind, r.id AS round_id, r.snapshot::text AS snapshot_text, r.version
    FROM rounds r WHERE r.id = ANY($1::text[])
  UNION ALL
  SELECT 'group' AS kind, r.id AS round_id, g.snapshot::text AS snapshot_text, g.version
    FROM rounds r JOIN groups g ON g.id = r.group_id WHERE r.id = ANY($1::text[])`;
const ROUNDS_OF_GROUP_SQL =
  "SELECT snapshot::text AS snapshot_text, version FROM rounds WHERE group_id = $1 ORDER BY sequence ASC";
const HELD_PAYMENT_SNAPSHOT = "SELECT snapshot::text AS snapshot_text, version FROM held_payments";
const HELD_PAYMENT_BY_ID_SQL = `${HELD_PAYMENT_SNAPSHOT} WHERE id = $1`;
const HELD_PAYMENTS_BY_IDS_SQL =
  "SELECT id, snapshot::text AS snapshot_text, version FROM held_payments WHERE id = ANY($1::text[])";
const HELD_PAYMENT_BY_REFERENCE_SQL = `${HELD_PAYMENT_SNAPSHOT} WHERE requested_by = $1 AND client_reference = $2`;
/**
 * The statement behind `listOpenHeldPaymentsOfSeller` (exported for the test that proves its
 * plan): the predicate repeats held_payments_open_of_seller_idx's, so the partial index applies.
 */
export const OPEN_HELD_PAYMENTS_OF_SELLER_SQL = `${HELD_PAYMENT_SNAPSHOT}
  WHERE seller_person_id = $1 AND ended_at IS NULL ORDER BY created_at, id LIMIT $2::int`;

/** A dispute that may yet reverse a transfer: open, or lost with its loss not booked yet (jsonpath). */
const DISPUTE_TO_COME = `'$.disputes[*] ? (@.status == "open" || (@.status == "lost" && @.lossBooked == false))'`;

/**
 * A seller's payments whose snapshot holds a reversal asked for or failed, or a dispute that
 * may yet reverse the transfer already made (jsonpath on the snapshot).
 */
const HELD_PAYMENTS_REVERSING_SELLER_SQL = `${HELD_PAYMENT_SNAPSHOT}
  WHERE seller_person_id = $1
    AND (jsonb_path_exists(snapshot, '$.reversals[*] ? (@.status == "requested" || @.status == "failed")')
      OR (jsonb_path_exists(snapshot, ${DISPUTE_TO_COME})
        AND jsonb_path_exists(snapshot, '$.transfers[*] ? (@.status == "created")')))
  ORDER BY created_at, id LIMIT $2::int`;

const MARKETPLACE_CHARGE_SNAPSHOT =
  "SELECT snapshot::text AS snapshot_text, version FROM marketplace_charges";
/**
 * The charges paying a seller whose snapshot holds a reversal of that seller's transfer asked
 * for or failed, or a dispute that may yet reverse a transfer already made to them (a
 * destination charge's, or the seller's created transfer of a split).
 */
const MARKETPLACE_CHARGES_REVERSING_SELLER_SQL = `SELECT c.snapshot::text AS snapshot_text, c.version
  FROM marketplace_charges c
  WHERE EXISTS (SELECT 1 FROM marketplace_charge_sellers s WHERE s.charge_id = c.id AND s.seller_person_id = $1)
    AND (jsonb_path_exists(
        c.snapshot,
        '$.reversals[*] ? (@.sellerId == $seller && (@.status == "requested" || @.status == "failed"))',
        jsonb_build_object('seller', $1::text)
      )
      OR (jsonb_path_exists(c.snapshot, ${DISPUTE_TO_COME})
        AND (jsonb_path_exists(c.snapshot, '$.destinationTransferId')
          OR jsonb_path_exists(
            c.snapshot,
            '$.transfers[*] ? (@.sellerId == $seller && @.status == "created")',
            jsonb_build_object('seller', $1::text)
          ))))
  ORDER BY c.created_at, c.id LIMIT $2::int`;
const MARKETPLACE_CHARGE_BY_ID_SQL = `${MARKETPLACE_CHARGE_SNAPSHOT} WHERE id = $1`;
const MARKETPLACE_CHARGES_BY_IDS_SQL =
  "SELECT id, snapshot::text AS snapshot_text, version FROM marketplace_charges WHERE id = ANY($1::text[])";
const MARKETPLACE_CHARGE_BY_REFERENCE_SQL = `${MARKETPLACE_CHARGE_SNAPSHOT} WHERE requested_by = $1 AND client_reference = $2`;
const MARKETPLACE_CHARGE_BY_PAYMENT_INTENT_SQL = `${MARKETPLACE_CHARGE_SNAPSHOT} WHERE payment_intent_id = $1`;

/** The pool reads of aggregate snapshots, and the kind each loads (the key prefix of its cache). */
const SNAPSHOT_KIND = {
  getGroup: "g",
  getRound: "r",
  listRoundsOfGroup: "r",
  getHeldPayment: "h",
  findHeldPaymentByReference: "h",
  listOpenHeldPaymentsOfSeller: "h",
  listHeldPaymentsReversingSeller: "h",
  listHeldPayments: "h",
  getMarketplaceCharge: "m",
  findMarketplaceChargeByReference: "m",
  findMarketplaceChargeByPaymentIntent: "m",
  listMarketplaceCharges: "m",
  listMarketplaceChargesReversingSeller: "m",
} as const;
type SnapshotRead = keyof typeof SNAPSHOT_KIND;

/**
 * The page statement of {@link PrismaStore.listHeldPayments} for the query's filters: only
 * the filters given appear (a generic plan of `$1 IS NULL OR …` would not use the indexes),
 * and the statement's name says which, so each is prepared once per connection. Exported
 * for the test that proves its plans.
 */
export function heldPaymentsPage(query: HeldPaymentQuery): { name: string; text: string; values: unknown[] } {
  const values: unknown[] = [];
  const where: string[] = [];
  const filters = [
    ["s", "seller_person_id = $", "", query.sellerId],
    ["r", "requested_by = $", "", query.requestedBy],
    ["t", "status = $", "::held_payment_status", query.status],
    [
      "a",
      "(created_at, id) < (SELECT c.created_at, c.id FROM held_payments c WHERE c.id = $",
      ")",
      query.startingAfter,
    ],
  ] as const;
  let name = "susu_held_payments_page";
  for (const [flag, sql, close, value] of filters) {
    if (value === undefined) continue;
    values.push(value);
    where.push(`${sql}${values.length}${close}`);
    name += `_${flag}`;
  }
  values.push(query.limit + 1);
  const text = `${HELD_PAYMENT_SNAPSHOT}
  ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""}
  ORDER BY created_at DESC, id DESC
  LIMIT $${values.length}::int`;
  return { name, text, values };
}

/**
 * The page statement of {@link PrismaStore.listMarketplaceCharges} for the query's filters,
 * built as {@link heldPaymentsPage} builds its own (only the filters given; named by them).
 * A seller's page reads the sellers table by its (seller_person_id, created_at, charge_id)
 * index and joins each charge; every other page reads the charges by their own indexes.
 * Exported for the test that proves its plans.
 */
export function marketplaceChargesPage(query: MarketplaceChargeQuery): {
  name: string;
  text: string;
  values: unknown[];
} {
  const bySeller = query.sellerId !== undefined;
  // The place and order columns: the seller's rows carry the charge's created_at.
  const [created, id] = bySeller ? ["s.created_at", "s.charge_id"] : ["c.created_at", "c.id"];
  const values: unknown[] = [];
  const where: string[] = [];
  const filters = [
    ["s", "s.seller_person_id = $", "", query.sellerId],
    ["c", "c.customer_person_id = $", "", query.customerId],
    ["r", "c.requested_by = $", "", query.requestedBy],
    ["t", "c.status = $", "::marketplace_charge_status", query.status],
    [
      "a",
      `(${created}, ${id}) < (SELECT x.created_at, x.id FROM marketplace_charges x WHERE x.id = $`,
      ")",
      query.startingAfter,
    ],
  ] as const;
  let name = "susu_marketplace_charges_page";
  for (const [flag, sql, close, value] of filters) {
    if (value === undefined) continue;
    values.push(value);
    where.push(`${sql}${values.length}${close}`);
    name += `_${flag}`;
  }
  values.push(query.limit + 1);
  const from = bySeller
    ? "marketplace_charge_sellers s JOIN marketplace_charges c ON c.id = s.charge_id"
    : "marketplace_charges c";
  const text = `SELECT c.snapshot::text AS snapshot_text, c.version FROM ${from}
  ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""}
  ORDER BY ${created} DESC, ${id} DESC
  LIMIT $${values.length}::int`;
  return { name, text, values };
}

/**
 * Most loaded snapshots each of a store's three caches keeps (oldest out first), and most
 * characters of snapshot text each stands for: about 4 MB of text, so a process keeps a few
 * tens of MB of snapshots at most (a parsed snapshot takes a few times its text), whatever
 * their sizes. 2,000 rounds of ten members, or 4,000 two-member groups, fit.
 */
const LOADED_SNAPSHOTS_MAX = 4_000;
const LOADED_SNAPSHOTS_CHARS = 4_000_000;

// The subjects' lines after the cursor, through the (aggregate_type, aggregate_id, id) index.
const LIST_AUDIT_SQL = `
  SELECT id, occurred_at, aggregate_type, aggregate_id, action, outcome::text AS outcome, detail, actor
    FROM audit_log
   WHERE id > $1::bigint
     AND (aggregate_type, aggregate_id) IN (SELECT t, i FROM unnest($2::text[], $3::text[]) AS s(t, i))
   ORDER BY id
   LIMIT $4::int`;

interface AuditRow {
  /** BIGINT: text from node-postgres, a bigint through Prisma. */
  readonly id: string | bigint;
  readonly occurred_at: Date;
  readonly aggregate_type: string;
  readonly aggregate_id: string;
  readonly action: string;
  readonly outcome: AuditRecord["outcome"];
  readonly detail: string | null;
  readonly actor: string;
}

interface SnapshotTextRow {
  readonly snapshot_text: string;
  readonly version: number;
}
const PERSON_COLUMNS = `id, display_name AS "displayName", stripe_customer_id AS "stripeCustomerId",
  becs_payment_method_id AS "becsPaymentMethodId", mandate_id AS "mandateId",
  mandate_active AS "mandateActive", connected_account_id AS "connectedAccountId",
  payouts_enabled AS "payoutsEnabled", version, customer_requested_at AS "customerRequestedAt",
  created_at AS "createdAt"`;
const PERSON_BY_ID_SQL = `SELECT ${PERSON_COLUMNS} FROM people WHERE id = $1`;
// The group's row first (its person columns NULL), then one row per person its snapshot's
// members name (their group columns NULL); no group, no rows. Typed NULLs keep each column
// the type the person read gives it, so the same parsers apply.
const GROUP_WITH_PEOPLE_SQL = `
WITH g AS (SELECT snapshot, version FROM groups WHERE id = $1)
SELECT snapshot::text AS snapshot_text, version AS group_version,
  NULL::text AS id, NULL::text AS "displayName", NULL::text AS "stripeCustomerId",
  NULL::text AS "becsPaymentMethodId", NULL::text AS "mandateId", NULL::boolean AS "mandateActive",
  NULL::text AS "connectedAccountId", NULL::boolean AS "payoutsEnabled", NULL::integer AS version,
  NULL::timestamptz(3) AS "customerRequestedAt", NULL::timestamptz(3) AS "createdAt"
FROM g
UNION ALL
SELECT NULL, NULL, ${PERSON_COLUMNS} FROM people
WHERE id IN (SELECT jsonb_array_elements(snapshot->'members')->>'id' FROM g)`;

/** A row of {@link GROUP_WITH_PEOPLE_SQL}: the group's (snapshot set) or a person's. */
type GroupWithPeopleRow = { readonly snapshot_text: string | null; readonly group_version: number | null } & {
  readonly [K in keyof PersonRow]: PersonRow[K] | null;
};
const PEOPLE_BY_IDS_SQL = `SELECT ${PERSON_COLUMNS} FROM people WHERE id = ANY($1::text[])`;

interface PersonRow {
  readonly id: string;
  readonly displayName: string;
  readonly stripeCustomerId: string | null;
  readonly becsPaymentMethodId: string | null;
  readonly mandateId: string | null;
  readonly mandateActive: boolean;
  readonly connectedAccountId: string | null;
  readonly payoutsEnabled: boolean;
  readonly version: number;
  readonly customerRequestedAt: Date | null;
  readonly createdAt: Date;
}

function loadPerson(row: PersonRow): Result<Person, StorageError> {
  // A payment method without its mandate, or a flag without its object, is refused by the
  // table's CHECK constraints; a row that has one anyway is corrupted, not a person.
  if ((row.becsPaymentMethodId === null) !== (row.mandateId === null))
    return err(corrupted(`person ${row.id}`, "payment method and mandate must come together"));
  const person = {
    id: row.id,
    displayName: row.displayName,
    ...(row.stripeCustomerId !== null ? { customerId: row.stripeCustomerId } : {}),
    ...(row.customerRequestedAt !== null ? { customerRequestedAt: fromDate(row.customerRequestedAt) } : {}),
    ...(row.becsPaymentMethodId !== null && row.mandateId !== null
      ? {
          debit: {
            paymentMethodId: row.becsPaymentMethodId,
            mandateId: row.mandateId,
            mandateActive: row.mandateActive,
          },
        }
      : {}),
    ...(row.connectedAccountId !== null
      ? { payout: { connectedAccountId: row.connectedAccountId, payoutsEnabled: row.payoutsEnabled } }
      : {}),
    createdAt: fromDate(row.createdAt),
    version: row.version,
  };
  return parsePerson(person).mapErr((problem) => corrupted(`person ${row.id}`, problem));
}

function loadGroup(row: SnapshotRow): Result<Group, StorageError> {
  const parsed = parseGroupSnapshot(row.snapshot);
  if (parsed.isErr()) return err(corrupted("group", parsed.error));
  if (parsed.value.version !== row.version)
    return err(corrupted(`group ${parsed.value.id}`, "snapshot and row versions differ"));
  return ok(parsed.value);
}

function loadHeldPayment(row: SnapshotRow): Result<HeldPayment, StorageError> {
  const parsed = parseHeldPaymentSnapshot(row.snapshot);
  if (parsed.isErr()) return err(corrupted("held payment", parsed.error));
  if (parsed.value.version !== row.version)
    return err(corrupted(`held payment ${parsed.value.id}`, "snapshot and row versions differ"));
  return ok(parsed.value);
}

/** Most plans a listing reads (admins make a handful; more is a mistake worth a refusal). */
const PLANS_MAX = 500;
/** Most of a person's memberships read at once, newest first (one is current at a time). */
const SUBSCRIPTIONS_OF_PERSON_MAX = 100;

function loadPlan(row: SnapshotRow): Result<Plan, StorageError> {
  const parsed = parsePlanSnapshot(row.snapshot);
  if (parsed.isErr()) return err(corrupted("plan", parsed.error));
  if (parsed.value.version !== row.version)
    return err(corrupted(`plan ${parsed.value.id}`, "snapshot and row versions differ"));
  return ok(parsed.value);
}

function loadSubscription(row: SnapshotRow): Result<Subscription, StorageError> {
  const parsed = parseSubscriptionSnapshot(row.snapshot);
  if (parsed.isErr()) return err(corrupted("subscription", parsed.error));
  if (parsed.value.version !== row.version)
    return err(corrupted(`subscription ${parsed.value.id}`, "snapshot and row versions differ"));
  return ok(parsed.value);
}

function loadMarketplaceCharge(row: SnapshotRow): Result<MarketplaceCharge, StorageError> {
  const parsed = parseMarketplaceChargeSnapshot(row.snapshot);
  if (parsed.isErr()) return err(corrupted("marketplace charge", parsed.error));
  if (parsed.value.version !== row.version)
    return err(corrupted(`marketplace charge ${parsed.value.id}`, "snapshot and row versions differ"));
  return ok(parsed.value);
}

function loadRound(row: SnapshotRow): Result<Round, StorageError> {
  const parsed = parseRoundSnapshot(row.snapshot);
  if (parsed.isErr()) return err(corrupted("round", parsed.error));
  if (parsed.value.version !== row.version)
    return err(corrupted(`round ${parsed.value.id}`, "snapshot and row versions differ"));
  return ok(parsed.value);
}

/** Prisma's where-clause for rows after a keyset cursor, newest first by (created_at, id). */
function olderThan(after: { readonly createdAt: Date; readonly id: string } | undefined) {
  return after === undefined
    ? {}
    : {
        OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }],
      };
}

/**
 * Whether the changeset stores outbox effects and nothing else: every other part (aggregates,
 * payouts, audit lines, an effect's completion, and any part added later) absent or empty.
 */
function onlyOutboxEffects(changes: Changeset): boolean {
  if (changes.outbox.length === 0) return false;
  return Object.entries(changes).every(
    ([key, value]) => key === "outbox" || value === undefined || (Array.isArray(value) && value.length === 0),
  );
}

/** What a commit's failure names: the first aggregate it writes, when it writes one. */
function commitContext(changes: Changeset): FailureContext {
  const first = changes.people[0]
    ? { type: "person" as const, id: changes.people[0].state.id }
    : changes.groups[0]
      ? { type: "group" as const, id: changes.groups[0].state.id }
      : changes.rounds[0]
        ? { type: "round" as const, id: changes.rounds[0].state.id }
        : undefined;
  const held = changes.heldPayments?.[0];
  const charge = changes.marketplaceCharges?.[0];
  const aggregate =
    first ??
    (held !== undefined
      ? { type: "held_payment" as const, id: held.state.id }
      : charge !== undefined
        ? { type: "marketplace_charge" as const, id: charge.state.id }
        : undefined);
  return aggregate ? { operation: "commit", aggregate } : { operation: "commit" };
}

/**
 * A failure of a single-statement commit after which the full transaction decides: refused by a
 * rule (a key taken, a check) or rolled back by a deadlock or a serialization failure — nothing
 * was stored. Anything else (the connection lost, the outcome unknown) is reported as it is.
 */
function decidedByTheTransaction(error: unknown): boolean {
  const failure = classifyDatabaseError(error).kind;
  return failure === "unique_violation" || failure === "refused" || failure === "write_conflict";
}
