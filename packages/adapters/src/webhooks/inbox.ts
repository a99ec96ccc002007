import {
  type AuditEntry,
  type Clock,
  DISMISS_PARKED_ACTION,
  type DismissOutcome,
  dismissalActor,
  dismissalResolution,
  type Instant,
  type ParkedDismissal,
  type StorageError,
} from "@susu/domain";
import { ResultAsync } from "neverthrow";
import type Stripe from "stripe";
import { SystemClock } from "../clock/system-clock.js";
import { GroupedStatements, type GroupStatement } from "../db/grouped-statements.js";
import { type NamedStatement, type PrismaClient, runStatement, runTransaction } from "../db/prisma-client.js";
import { auditRow } from "../prisma/projections.js";
import { fromDatabase, storageErrorOf } from "../prisma/storage-errors.js";
import { receiveAll } from "./ingest.js";

/** Where an inbox row stands (the `webhook_event_status` enum). */
export type WebhookEventStatus = "received" | "processed" | "ignored" | "failed" | "parked";

/** A stored event, as claimed by a processor. */
export interface InboxEvent {
  /** Stripe's event id (`evt_…`). */
  readonly id: string;
  readonly type: string;
  /** Failed processing attempts so far. */
  readonly attempts: number;
  readonly stripeCreatedAt: Instant;
  readonly receivedAt: Instant;
  /** The event as verified on receipt; check its shape before use (the column is plain JSON). */
  readonly payload: unknown;
  /**
   * Events with one key are applied one at a time, oldest first (see `orderingKeyOf`); a
   * row stored before keys existed is its own key (its id).
   */
  readonly orderingKey: string;
}

/** An inbox row as support sees it. */
export interface InboxEventSummary {
  readonly id: string;
  readonly type: string;
  readonly status: WebhookEventStatus;
  readonly attempts: number;
  readonly nextAttemptAt: Instant;
  readonly claimedBy: string | undefined;
  readonly lastError: string | undefined;
  readonly outcome: string | undefined;
  readonly receivedAt: Instant;
  readonly processedAt: Instant | undefined;
}

/**
 * What a mark did: `marked`, or `lease_lost` when the caller no longer holds the event's
 * lease (it expired and another processor claimed the event). A lost lease changes nothing.
 */
export type MarkResult = "marked" | "lease_lost";

/**
 * The durable inbox of Stripe events: written by the webhook endpoint before it answers,
 * drained by processors. Claims are leases (`claimed_by` / `claimed_until`): a processor
 * that dies loses its claim when the lease ends and another picks the event up, so an
 * event can be processed twice, never lost — the domain ignores inputs that no longer apply.
 */
export interface WebhookInbox {
  /**
   * Stores a verified event; the same event id again is a `duplicate`, never an error. An
   * event that cannot change any state is stored `ignored` at once (`triageAtIngest`).
   */
  receive(event: Stripe.Event): ResultAsync<"stored" | "duplicate", StorageError>;
  /**
   * Leases up to `limit` events that are due and not leased, oldest Stripe event first,
   * never an event whose ordering key another live lease holds: while one processor has
   * any event of a key, nobody else gets that key's events.
   */
  claimDue(
    workerId: string,
    now: Instant,
    leaseMs: number,
    limit: number,
  ): ResultAsync<readonly InboxEvent[], StorageError>;
  /**
   * Gives up every claim `workerId` still holds (its lease, not its attempts): what a live
   * processor does with the claims a failed pass left, so they need not wait out the lease.
   * Only for a worker with no pass in progress. How many were released.
   */
  releaseOwnClaims?(workerId: string): ResultAsync<number, StorageError>;
  /**
   * The statement that records an event `processed` or `ignored` as {@link markProcessed}
   * and {@link markIgnored} do (only while `workerId` holds its claim), for the processor to run inside the
   * transaction that stores the state the event changed, so both commit together. It
   * returns the event's row when marked, no row when the lease was lost. Absent:
   * results are recorded on their own.
   */
  finishStatement?(
    id: string,
    workerId: string,
    status: "processed" | "ignored",
    text: string,
  ): NamedStatement;
  /**
   * Stores `audit` and runs `statement` (a {@link finishStatement}) as one statement, atomic
   * on its own, answering the statement's rows; results that come together may be written
   * together. For an event whose only write is its audit line (an input the aggregate
   * ignored). Absent: the audit line's transaction is left open and the result recorded in
   * it (`EventCommits`), one commit but a transaction of its own for each event.
   */
  finishAudited?(
    audit: readonly AuditEntry[],
    statement: NamedStatement,
  ): ResultAsync<readonly unknown[], StorageError>;
  /** The event was applied; `outcome` says what it did. */
  markProcessed(id: string, workerId: string, outcome: string): ResultAsync<MarkResult, StorageError>;
  /** The event needs no action (unknown type, not susu's object, stale); `reason` says why. */
  markIgnored(id: string, workerId: string, reason: string): ResultAsync<MarkResult, StorageError>;
  /** Processing failed and may succeed later: due again at `retryAt`. */
  markFailed(
    id: string,
    workerId: string,
    error: string,
    retryAt: Instant,
  ): ResultAsync<MarkResult, StorageError>;
  /** Processing failed for good (or too often): no more attempts until a person requeues it. */
  park(id: string, workerId: string, error: string): ResultAsync<MarkResult, StorageError>;
}

/**
 * What requeuing one event did: `not_parked` when the event is neither parked nor ignored
 * (received and failed events are already due; a processed one was applied).
 */
export type WebhookRequeueOutcome = "requeued" | "not_parked" | "not_found";

/**
 * The inbox, from the operators' side: what is parked, and putting it back. Listing never
 * returns the payload (Stripe's event body: customers, bank fields), only ids and errors.
 */
export interface WebhookInboxOperations {
  /** Events with `status`, oldest received first (then id), `limit` after the cursor. */
  listEvents(query: {
    readonly status: WebhookEventStatus;
    readonly limit: number;
    readonly startingAfter?: string;
  }): ResultAsync<{ readonly items: readonly InboxEventSummary[]; readonly hasMore: boolean }, StorageError>;
  /**
   * Makes a parked event due now with its attempts reset to 0 (a fresh retry budget: the
   * cause was fixed); its last error is kept until it runs again. An `ignored` event (by the
   * ingest's triage or by a processor) is made due the same way: a release that handles
   * what an earlier one ignored can apply it, since Stripe's own resend of the event would
   * be dropped here as a duplicate. Processing it again is safe (the domain ignores what no
   * longer applies); its `processed_at` is cleared until it is processed again.
   */
  requeueParked(id: string): ResultAsync<WebhookRequeueOutcome, StorageError>;
  /** {@link requeueParked} for every parked event (never an ignored one); how many were requeued. */
  requeueAllParked(): ResultAsync<number, StorageError>;
  /**
   * Sets a parked event aside for good: `ignored` (terminal; {@link requeueParked} by id undoes
   * it), its attempts and last error kept, its outcome saying who dismissed it and why.
   * Atomically with it: an audit line ({@link DISMISS_PARKED_ACTION}, on `webhook_event`, actor
   * `operator:<by>`, the reason) and the parking's ticket (`webhook:<id>:parked`) resolved
   * with the reason if it is still open. Anything but a parked event is left as it is.
   */
  dismissParked(id: string, dismissal: ParkedDismissal): ResultAsync<DismissOutcome, StorageError>;
}

/** The id of the ticket parking an event opens (the processor's `retryOrPark`). */
export const parkedWebhookTicketId = (eventId: string): string => `webhook:${eventId}:parked`;

/** Longest `last_error` / `outcome` kept; the rest of a long error adds nothing a person needs. */
const TEXT_MAX = 2_000;

function clip(text: string): string {
  return text.length <= TEXT_MAX ? text : `${text.slice(0, TEXT_MAX - 1)}…`;
}

/**
 * Records an event's result while the worker holds its claim, and releases the claim ($1 id,
 * $2 worker, $3 status, $4 outcome, $5 processed_at). Matched by holder, not by expiry: a
 * processor that overran its lease may still record its result as long as nobody else has
 * claimed the event since. Returns the row when it was marked (none: the lease was lost).
 * Written as a part of another statement's WITH (parameters numbered after `after`, marking
 * only where `gate` holds); on its own, the gate is TRUE.
 */
const WEBHOOK_FINISH_PART = (after: number, gate: string) => {
  const $ = (n: number) => `$${after + n}`;
  return `
UPDATE webhook_events
SET status = ${$(3)}::webhook_event_status, outcome = ${$(4)}, processed_at = ${$(5)},
    claimed_by = NULL, claimed_until = NULL
WHERE ${gate} AND id = ${$(1)} AND claimed_by = ${$(2)}
RETURNING id`;
};
const WEBHOOK_FINISH_SQL = WEBHOOK_FINISH_PART(0, "TRUE");

// The results of several events in one statement ({@link finishWriter}), with the audit
// lines of those whose only write is their audit line ($6): each row is updated only while
// its worker holds the claim, as WEBHOOK_FINISH_SQL does; the audit lines are stored either
// way, as they are when the result shares their transaction.
const WEBHOOK_FINISH_MANY_SQL = `
WITH a AS (
  INSERT INTO audit_log (occurred_at, aggregate_type, aggregate_id, action, outcome, detail, actor)
  SELECT r.occurred_at, r.aggregate_type, r.aggregate_id, r.action, r.outcome, r.detail, r.actor
    FROM ROWS FROM (jsonb_to_recordset($6::jsonb)
                      AS (occurred_at timestamptz, aggregate_type text, aggregate_id text, action text,
                          outcome audit_outcome, detail text, actor text))
         WITH ORDINALITY AS r(occurred_at, aggregate_type, aggregate_id, action, outcome, detail, actor, n)
   ORDER BY r.n),
f AS (
  UPDATE webhook_events w
  SET status = i.status::webhook_event_status, outcome = i.outcome, processed_at = i.at,
      claimed_by = NULL, claimed_until = NULL
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])
    AS i(id, worker, status, outcome, at)
  WHERE w.id = i.id AND w.claimed_by = i.worker
  RETURNING w.id, i.worker)
SELECT id, worker FROM f`;

/** Most results one grouped statement records. */
const FINISH_GROUP_MAX = 64;

/** One event's result to record: its finish statement, and the audit lines to store with it. */
interface Finish {
  readonly statement: NamedStatement;
  readonly audit: readonly AuditEntry[];
}

/**
 * Events' results (`processed` / `ignored` outside a state change's transaction: mostly
 * events a processor found nothing to do for, with their audit lines) written as
 * {@link GroupedStatements}: together when they come while one is being written.
 */
function finishWriter(prisma: PrismaClient): GroupStatement<Finish, MarkResult> {
  const together = async (finishes: readonly Finish[]): Promise<MarkResult[]> => {
    // Locked in id order, as every grouped write of the inbox takes its rows.
    const sorted = [...finishes].sort((a, b) => compareIds(idOf(a), idOf(b)));
    const column = (i: number) => sorted.map((f) => f.statement.values[i]);
    const { rows } = await runStatement<{ readonly id: string; readonly worker: string }>(prisma, {
      name: "webhook_finish_many",
      text: WEBHOOK_FINISH_MANY_SQL,
      values: [
        column(0),
        column(1),
        column(2),
        column(3),
        column(4),
        JSON.stringify(finishes.flatMap((f) => f.audit.map(auditRow))),
      ],
    });
    // By event and worker: the same event from two workers (one of them past its lease) is
    // marked for the one that holds the claim only.
    const marked = new Set(rows.map((r) => `${r.worker}\u0000${r.id}`));
    return finishes.map((f) =>
      marked.has(`${String(f.statement.values[1])}\u0000${idOf(f)}`) ? "marked" : "lease_lost",
    );
  };
  return {
    one: async (f) => {
      if (f.audit.length > 0) return (await together([f]))[0] ?? "lease_lost";
      const { rows } = await runStatement(prisma, f.statement);
      return rows.length === 1 ? "marked" : "lease_lost";
    },
    many: together,
  };
}

const idOf = (f: Finish) => String(f.statement.values[0]);
const compareIds = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

interface ClaimedRow {
  id: string;
  type: string;
  attempts: number;
  payload: unknown;
  stripe_created_at: Date;
  received_at: Date;
  ordering_key: string | null;
}

/**
 * Claims are taken one at a time across all processes: a transaction-scoped advisory lock
 * on (0x73757375, "susu" in ASCII; 1), held for one short statement. That is what keeps a
 * key with one processor: under READ COMMITTED the claim statement, begun after the lock,
 * sees every earlier claim committed, so it never hands out a key one of them holds. (Row
 * locks alone cannot: two claimers would each lock different rows of one key.)
 */
const CLAIM_LOCK_SQL = "SELECT pg_advisory_xact_lock(1937077109, 1)";

/**
 * What a claim's transaction runs before its statement, with the BEGIN: its commit does
 * not wait for the WAL flush (`synchronous_commit = off`), so the claim lock, which every
 * claimer queues for, is held for the statement alone rather than through an fsync too.
 * A claim is only a lease: committed, it is visible to every other claimer at once (the
 * flush changes durability, not visibility), and a server crash can lose at most the last
 * fraction of a second of claims, whose events are then simply claimable again. Nothing
 * acknowledged rests on a claim: an event's result commits durably, and its flush carries
 * every earlier WAL record with it, the claim's included; a processor whose claim was
 * lost finds its lease gone when it records the result (the statement checks the lease),
 * as when a lease runs out. Receiving an event (the API's 2xx) and every change of state
 * keep synchronous commits.
 *
 * And the claim's plan held to the walk its indexes are made for, whatever the statistics say
 * (no bitmap scans, no sequential scans: each part of the claim has its partial index). The
 * partial indexes keep an entry for every event processed since the last vacuum (two each:
 * its arrival and its claim). An index scan reads such an entry's row once, finds it dead
 * and marks the entry, which later claims step over; a bitmap scan never marks them, so every
 * claim read all of those rows again. And on statistics taken while the inbox was small (a
 * fresh deployment: autovacuum analyzes it a minute or more later, and a generic plan made
 * before keeps them), the planner read the leased keys by scanning the whole table, on every
 * claim, however large the table grew. In claim-plan.test.ts, 5,000 events processed since
 * the last vacuum: 972 buffers on every claim with costs that favour scans; held to the
 * indexes, 11,208 for the first claim (marking) and 342 for the next.
 */
export const WEBHOOK_CLAIM_FIRST = [
  "SET LOCAL synchronous_commit = off",
  "SET LOCAL enable_bitmapscan = off",
  "SET LOCAL enable_seqscan = off",
  CLAIM_LOCK_SQL,
] as const;

/** A claim's transaction: the lock waits behind other claimers, which take milliseconds. */
const CLAIM_LIMITS = { timeoutMs: 15_000, maxWaitMs: 10_000 } as const;

/**
 * The claim statement ($1 now, $2 worker, $3 lease end, $4 limit; exported for its plan
 * test and the benchmarks): the due rows, oldest Stripe event first, without a key a live
 * lease holds. A row with no key (stored before keys existed) is its own key.
 *
 * Its work follows what it returns, not the backlog: webhook_events_due_idx holds the due
 * rows (received or failed; the status test is written as its predicate so the planner
 * uses it) in this ORDER BY's order, so the walk stops at the LIMIT. Its last column,
 * next_attempt_at, is checked in the index: a failed event waiting for its retry is passed
 * without reading its row. The keys of live leases are read once per claim, from
 * webhook_events_claimed_key_idx (claimed rows only: a few), and each row walked is looked
 * up in that set, not probed for in the index row by row: PostgreSQL hashes an uncorrelated
 * `NOT IN` whenever the set fits in memory (a `NOT EXISTS` it may or may not turn into a
 * hashed lookup, by its cost estimates). NULL keys are left out of the set: `NOT IN`
 * against a set holding a NULL is never true. Rows the walk passes (reading each) are the
 * leased ones and those of a leased key.
 * `FOR UPDATE` waits for (never skips) a row another statement is changing (a requeue, a
 * result being recorded): skipping it could hand out a newer event of its key first.
 */
export const WEBHOOK_CLAIM_SQL = `
WITH due AS (
  SELECT e.id FROM webhook_events e
  WHERE (e.status = 'received' OR e.status = 'failed')
    AND e.next_attempt_at <= $1
    AND (e.claimed_until IS NULL OR e.claimed_until <= $1)
    AND (e.ordering_key IS NULL OR e.ordering_key NOT IN (
      SELECT h.ordering_key FROM webhook_events h
      WHERE h.claimed_by IS NOT NULL AND h.claimed_until > $1 AND h.ordering_key IS NOT NULL))
  ORDER BY e.stripe_created_at, e.received_at, e.id
  LIMIT $4
  FOR UPDATE OF e
)
UPDATE webhook_events AS w
SET claimed_by = $2, claimed_until = $3
FROM due
WHERE w.id = due.id
RETURNING w.id, w.type, w.attempts, w.payload, w.stripe_created_at, w.received_at, w.ordering_key`;

/**
 * {@link WebhookInbox} on PostgreSQL (`webhook_events`). Times come from the injected
 * clock (the schema's convention), so tests can move time.
 */
export class PrismaWebhookInbox implements WebhookInbox, WebhookInboxOperations {
  readonly #finishes: GroupedStatements<Finish, MarkResult>;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly clock: Clock = new SystemClock(),
  ) {
    this.#finishes = new GroupedStatements(finishWriter(prisma), FINISH_GROUP_MAX, "webhook record result");
  }

  receive(event: Stripe.Event): ResultAsync<"stored" | "duplicate", StorageError> {
    // ON CONFLICT on the event id, not a read-then-insert: two deliveries of one event
    // racing on two API instances both succeed, and exactly one row exists afterwards.
    // The endpoint groups concurrent deliveries (BatchingWebhookIngest); this is one alone.
    return receiveAll(this.prisma, [event], new Date(this.clock.now())).map(
      (answers) => answers[0] ?? "duplicate",
    );
  }

  claimDue(
    workerId: string,
    now: Instant,
    leaseMs: number,
    limit: number,
  ): ResultAsync<readonly InboxEvent[], StorageError> {
    if (!Number.isInteger(leaseMs) || leaseMs <= 0)
      throw new RangeError(`leaseMs must be a positive integer, got ${leaseMs}`);
    if (!Number.isInteger(limit) || limit <= 0)
      throw new RangeError(`limit must be a positive integer, got ${limit}`);
    const at = new Date(now);
    const until = new Date(now + leaseMs);
    // Stripe's `created` orders the claim: events about one object are mostly applied in
    // the order they happened (only mostly: Stripe's clock has one-second steps and a
    // late delivery arrives after newer events were processed).
    return ResultAsync.fromPromise(
      runTransaction(
        this.prisma,
        CLAIM_LIMITS,
        async (run) => {
          const { rows } = await run<ClaimedRow>({
            name: "webhook_claim",
            text: WEBHOOK_CLAIM_SQL,
            values: [at, workerId, until, limit],
          });
          return rows;
        },
        // Taken with the BEGIN (one round trip), before the claim statement's snapshot.
        WEBHOOK_CLAIM_FIRST,
      ),
      (error) => storageErrorOf(error, { operation: "webhook claim" }),
    ).map((rows) =>
      rows
        .map(
          (r): InboxEvent => ({
            id: r.id,
            type: r.type,
            attempts: r.attempts,
            payload: r.payload,
            stripeCreatedAt: r.stripe_created_at.getTime(),
            receivedAt: r.received_at.getTime(),
            orderingKey: r.ordering_key ?? r.id,
          }),
        )
        // RETURNING has no order of its own.
        .sort(
          (a, b) =>
            a.stripeCreatedAt - b.stripeCreatedAt ||
            a.receivedAt - b.receivedAt ||
            (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
        ),
    );
  }

  releaseOwnClaims(workerId: string): ResultAsync<number, StorageError> {
    return fromDatabase(
      () => this.prisma.$executeRaw`
        UPDATE webhook_events SET claimed_by = NULL, claimed_until = NULL
        WHERE claimed_by = ${workerId} AND (status = 'received' OR status = 'failed')`,
      "webhook release own claims",
    );
  }

  markProcessed(id: string, workerId: string, outcome: string): ResultAsync<MarkResult, StorageError> {
    return this.#finish(id, workerId, "processed", outcome, "webhook mark processed");
  }

  markIgnored(id: string, workerId: string, reason: string): ResultAsync<MarkResult, StorageError> {
    return this.#finish(id, workerId, "ignored", reason, "webhook mark ignored");
  }

  markFailed(
    id: string,
    workerId: string,
    error: string,
    retryAt: Instant,
  ): ResultAsync<MarkResult, StorageError> {
    return this.#leased(id, workerId, "webhook mark failed", {
      status: "failed",
      attempts: { increment: 1 },
      lastError: clip(error),
      nextAttemptAt: new Date(retryAt),
    });
  }

  park(id: string, workerId: string, error: string): ResultAsync<MarkResult, StorageError> {
    return this.#leased(id, workerId, "webhook park", {
      status: "parked",
      attempts: { increment: 1 },
      lastError: clip(error),
    });
  }

  /**
   * Puts a parked (or failed) event back in the queue with a fresh attempt budget, due now:
   * what support does once the cause is fixed. `false` when no such event is waiting.
   */
  requeue(id: string): ResultAsync<boolean, StorageError> {
    return fromDatabase(
      () =>
        this.prisma.webhookEvent.updateMany({
          where: { id, status: { in: ["parked", "failed"] } },
          data: {
            status: "received",
            attempts: 0,
            nextAttemptAt: new Date(this.clock.now()),
            claimedBy: null,
            claimedUntil: null,
          },
        }),
      "webhook requeue",
    ).map(({ count }) => count === 1);
  }

  /**
   * Events with `status` (no payload), by `received_at` then id: a keyset page after the
   * cursor's row (a cursor that is not an event with `status` gives an empty page). One
   * statement ({@link webhookListStatement}), through the status's partial index if it has one.
   */
  listEvents(query: {
    readonly status: WebhookEventStatus;
    readonly limit: number;
    readonly startingAfter?: string;
  }): ResultAsync<{ readonly items: readonly InboxEventSummary[]; readonly hasMore: boolean }, StorageError> {
    return fromDatabase(
      async () =>
        (
          await runStatement<SummaryRow>(
            this.prisma,
            webhookListStatement(query.status, query.limit + 1, query.startingAfter),
          )
        ).rows,
      "webhook list",
    ).map((rows) => ({
      items: rows.slice(0, query.limit).map(summaryOf),
      hasMore: rows.length > query.limit,
    }));
  }

  requeueParked(id: string): ResultAsync<WebhookRequeueOutcome, StorageError> {
    const work = async (): Promise<WebhookRequeueOutcome> => {
      const { count } = await this.prisma.webhookEvent.updateMany({
        where: { id, status: { in: ["parked", "ignored"] } },
        data: { ...this.#requeued(), processedAt: null },
      });
      if (count === 1) return "requeued";
      const exists = await this.prisma.webhookEvent.findUnique({ where: { id }, select: { id: true } });
      return exists === null ? "not_found" : "not_parked";
    };
    return fromDatabase(work, "webhook requeue parked");
  }

  /**
   * Every parked event due again now with a fresh attempt budget (`#requeued`; ignored events
   * are left, and `processed_at` is kept), in one statement that finds them through
   * webhook_events_parked_idx ({@link WEBHOOK_REQUEUE_ALL_PARKED_SQL}); how many.
   */
  requeueAllParked(): ResultAsync<number, StorageError> {
    return fromDatabase(
      () =>
        runStatement<{ count: number | string | bigint }>(this.prisma, {
          name: "webhook_requeue_all_parked",
          text: WEBHOOK_REQUEUE_ALL_PARKED_SQL,
          values: [this.#requeued().nextAttemptAt],
        }),
      "webhook requeue all parked",
    ).map(({ rows }) => Number(rows[0]?.count ?? 0));
  }

  /** A parked event made ignored with its audit line and its ticket resolved, in one statement ({@link WEBHOOK_DISMISS_PARKED_SQL}). */
  dismissParked(id: string, dismissal: ParkedDismissal): ResultAsync<DismissOutcome, StorageError> {
    return fromDatabase(
      () =>
        runStatement<{ dismissed: boolean; ticket_resolved: boolean; found: boolean }>(this.prisma, {
          name: "webhook_dismiss_parked",
          text: WEBHOOK_DISMISS_PARKED_SQL,
          values: [
            id,
            new Date(dismissal.at),
            dismissal.reason,
            DISMISS_PARKED_ACTION,
            dismissalActor(dismissal.by),
            dismissal.by,
            dismissalResolution(dismissal.reason),
            parkedWebhookTicketId(id),
            clip(`dismissed by ${dismissal.by}: ${dismissal.reason}`),
          ],
        }),
      "webhook dismiss parked",
    ).map(({ rows }): DismissOutcome => {
      const row = rows[0];
      if (row?.dismissed === true) return { outcome: "dismissed", ticketResolved: row.ticket_resolved };
      return row?.found === true ? { outcome: "not_parked" } : { outcome: "not_found" };
    });
  }

  /** What a requeue writes (WEBHOOK_REQUEUE_ALL_PARKED_SQL writes the same in SQL). */
  #requeued() {
    return {
      status: "received" as const,
      attempts: 0,
      nextAttemptAt: new Date(this.clock.now()),
      claimedBy: null,
      claimedUntil: null,
    };
  }

  /** One event's row, or undefined. */
  find(id: string): ResultAsync<InboxEventSummary | undefined, StorageError> {
    return fromDatabase(() => this.prisma.webhookEvent.findUnique({ where: { id } }), "webhook find").map(
      (row) => (row === null ? undefined : summaryOf(row)),
    );
  }

  finishStatement(
    id: string,
    workerId: string,
    status: "processed" | "ignored",
    text: string,
  ): NamedStatement {
    return {
      name: "webhook_finish",
      text: WEBHOOK_FINISH_SQL,
      values: [id, workerId, status, clip(text), new Date(this.clock.now())],
      // Folded into a held payment's or a round's single-statement commit (PrismaStore.deferCommit).
      part: WEBHOOK_FINISH_PART,
    };
  }

  finishAudited(
    audit: readonly AuditEntry[],
    statement: NamedStatement,
  ): ResultAsync<readonly unknown[], StorageError> {
    const id = String(statement.values[0]);
    return this.#finishes.run({ statement, audit }).map((mark) => (mark === "marked" ? [{ id }] : []));
  }

  #finish(
    id: string,
    workerId: string,
    status: "processed" | "ignored",
    outcome: string,
    operation: string,
  ): ResultAsync<MarkResult, StorageError> {
    // A prepared statement on the pool (the hottest write of the processor after the
    // state's), results that come together written together.
    return this.#finishes.run(
      { statement: this.finishStatement(id, workerId, status, outcome), audit: [] },
      operation,
    );
  }

  /**
   * Updates the event only while `workerId` holds its claim, and releases the claim. The
   * claim is matched by holder, not by expiry: a processor that overran its lease may still
   * record its result as long as nobody else has claimed the event since.
   */
  #leased(
    id: string,
    workerId: string,
    operation: string,
    data: {
      status: WebhookEventStatus;
      attempts?: { increment: number };
      lastError?: string;
      outcome?: string;
      nextAttemptAt?: Date;
      processedAt?: Date;
    },
  ): ResultAsync<MarkResult, StorageError> {
    return fromDatabase(
      () =>
        this.prisma.webhookEvent.updateMany({
          where: { id, claimedBy: workerId },
          data: { ...data, claimedBy: null, claimedUntil: null },
        }),
      operation,
    ).map(({ count }): MarkResult => (count === 1 ? "marked" : "lease_lost"));
  }
}

/**
 * The statuses an operator lists events by, as the SQL literal each is written as: taken from
 * this fixed map of the closed union, never from input. A literal, not a bound parameter:
 * with the status bound and cast to the enum (what Prisma sends: `CAST($1::text AS
 * webhook_event_status)`) the planner cannot prove a partial index's predicate and scanned
 * the whole table, whose processed and ignored events are kept for ever. With the literal,
 * parked events are read from webhook_events_parked_idx (in page order), received and failed
 * ones from the partial index on the due rows (then sorted). Processed and ignored events have
 * no index of their own: their list scans the table, which is most of it anyway (history, not
 * open work; no route lists them).
 */
const WEBHOOK_LISTED_STATUS: { readonly [S in WebhookEventStatus]: string } = {
  received: "'received'",
  processed: "'processed'",
  ignored: "'ignored'",
  failed: "'failed'",
  parked: "'parked'",
};

/**
 * A page of the events with `status` by `received_at` then id, at most `take` rows, after the
 * row of the event `startingAfter` when given: found by its id whatever its status now, so an
 * operator who replayed the last event of a page still gets the next one; an unknown id
 * leaves the bound NULL and the page empty. A statement per status and form, each prepared once. The
 * columns are named as {@link SummaryRow}'s.
 */
function webhookListStatement(
  status: WebhookEventStatus,
  take: number,
  startingAfter: string | undefined,
): NamedStatement {
  if (!Object.hasOwn(WEBHOOK_LISTED_STATUS, status))
    throw new RangeError(`no webhook list of status ${status}`);
  const is = WEBHOOK_LISTED_STATUS[status];
  const after =
    startingAfter === undefined
      ? ""
      : `AND (e.received_at, e.id) > (SELECT c.received_at, c.id FROM webhook_events c WHERE c.id = $2)`;
  return {
    name: `webhook_list_${status}${startingAfter === undefined ? "" : "_after"}`,
    text: `
      SELECT e.id, e.type, e.status::text AS status, e.attempts, e.next_attempt_at AS "nextAttemptAt",
             e.claimed_by AS "claimedBy", e.last_error AS "lastError", e.outcome,
             e.received_at AS "receivedAt", e.processed_at AS "processedAt"
        FROM webhook_events e
       WHERE e.status = ${is} ${after}
       ORDER BY e.received_at, e.id
       LIMIT $1`,
    values: startingAfter === undefined ? [take] : [take, startingAfter],
  };
}

/**
 * Every parked event made `received` as a requeue does (`#requeued`: same columns, same
 * values; $1 is `next_attempt_at`), found through webhook_events_parked_idx (the status a
 * literal, as in {@link WEBHOOK_LISTED_STATUS}); how many.
 */
const WEBHOOK_REQUEUE_ALL_PARKED_SQL = `
  WITH requeued AS (
    UPDATE webhook_events
       SET status = 'received', attempts = 0, next_attempt_at = $1, claimed_by = NULL, claimed_until = NULL
     WHERE status = 'parked'
    RETURNING 1)
  SELECT count(*) AS count FROM requeued`;

/**
 * An operator's dismissal of a parked event ($1 id, $2 when, $3 reason, $4 action, $5 actor,
 * $6 who, $7 the ticket's resolution, $8 the parking's ticket id, $9 the event's outcome):
 * the event made `ignored` (processed_at the dismissal's time, attempts and last error kept),
 * its audit line, and its ticket resolved if still open, only when the event was parked.
 * `found` tells not_parked from not_found.
 */
const WEBHOOK_DISMISS_PARKED_SQL = `
  WITH d AS (
    UPDATE webhook_events
       SET status = 'ignored', outcome = $9::text, processed_at = $2::timestamptz,
           claimed_by = NULL, claimed_until = NULL
     WHERE id = $1 AND status = 'parked'
    RETURNING id),
  a AS (
    INSERT INTO audit_log (occurred_at, aggregate_type, aggregate_id, action, outcome, detail, actor)
    SELECT $2::timestamptz, 'webhook_event', d.id, $4::text, 'applied'::audit_outcome, $3::text, $5::text FROM d),
  t AS (
    UPDATE support_tickets
       SET status = 'resolved', resolved_at = $2::timestamptz, resolved_by = $6::text, resolution = $7::text,
           updated_at = $2::timestamptz, version = version + 1
     WHERE id = $8::text AND status = 'open' AND EXISTS (SELECT 1 FROM d)
    RETURNING 1)
  SELECT EXISTS (SELECT 1 FROM d) AS dismissed,
         EXISTS (SELECT 1 FROM t) AS ticket_resolved,
         EXISTS (SELECT 1 FROM webhook_events WHERE id = $1) AS found`;

interface SummaryRow {
  readonly id: string;
  readonly type: string;
  readonly status: WebhookEventStatus;
  readonly attempts: number;
  readonly nextAttemptAt: Date;
  readonly claimedBy: string | null;
  readonly lastError: string | null;
  readonly outcome: string | null;
  readonly receivedAt: Date;
  readonly processedAt: Date | null;
}

function summaryOf(row: SummaryRow): InboxEventSummary {
  return {
    id: row.id,
    type: row.type,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.nextAttemptAt.getTime(),
    claimedBy: row.claimedBy ?? undefined,
    lastError: row.lastError ?? undefined,
    outcome: row.outcome ?? undefined,
    receivedAt: row.receivedAt.getTime(),
    processedAt: row.processedAt?.getTime(),
  };
}
