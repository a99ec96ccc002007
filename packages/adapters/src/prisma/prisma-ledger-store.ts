import {
  type Clock,
  type CurrencyCode,
  checkLedgerInvariants,
  type Ledger,
  type LedgerAccountBalance,
  type LedgerAccountId,
  type LedgerAdjustmentOutcome,
  type LedgerAdjustmentPost,
  type LedgerAdjustments,
  type LedgerPage,
  type LedgerPageRequest,
  type LedgerReader,
  type LedgerStore,
  type LedgerTransaction,
  ledgerFromTransactions,
  type Money,
  money,
  type OutboxCompletion,
  type RecordedLedgerTransaction,
  type StorageError,
  sameAdjustment,
  sameTransactionContent,
  storageError,
  validateLedgerTransaction,
} from "@susu/domain";
import { err, errAsync, ok, okAsync, type Result, type ResultAsync } from "neverthrow";
import {
  type PrismaClient,
  runAtomicStatement,
  runTransaction,
  type StatementRunner,
} from "../db/prisma-client.js";
import { sqlStateOf, susuSqlStates } from "../db/sql-state.js";
import { appendAudit, OUTBOX_COMPLETE_SQL } from "./changeset-writer.js";
import { fromBigIntMinor, isSafeMinor, toDate } from "./conversions.js";
import { Prisma } from "./generated/client.js";
import { ledgerPostParts, ledgerPostRows } from "./ledger-post.js";
import { parseLedgerTransaction } from "./snapshots.js";
import { fromDatabase, StorageRefusal } from "./storage-errors.js";

/** Options of {@link PrismaLedgerStore}. */
export interface PrismaLedgerStoreOptions {
  /** Stamps rows' `created_at`/`updated_at`. Default: the system clock. */
  readonly clock?: Clock;
  /**
   * Longest a post, a check or a load waits for a free connection of the pool, in ms; then
   * it fails `unavailable` and stores nothing. Default 5 000 (as PrismaStore's commits).
   */
  readonly connectionMaxWaitMs?: number;
}

/** An account whose stored balance differs from the sum of its postings. */
export interface LedgerBalanceMismatch {
  readonly account: LedgerAccountId;
  readonly currency: string;
  /** `ledger_accounts.balance_minor` (BIGINT, kept exact here: it may be the corrupted value). */
  readonly storedMinor: bigint;
  /** Debits minus credits over the account's postings. */
  readonly postedMinor: bigint;
}

/** A transaction whose postings do not balance in a currency, or that has fewer than two. */
export interface UnbalancedLedgerTransaction {
  readonly transactionId: string;
  readonly currency: string | null;
}

/** What {@link PrismaLedgerStore.checkLedger} found. `agrees` is true when both lists are empty. */
export interface LedgerCheckReport {
  readonly agrees: boolean;
  readonly accountsChecked: number;
  readonly transactionsChecked: number;
  readonly mismatches: readonly LedgerBalanceMismatch[];
  readonly unbalanced: readonly UnbalancedLedgerTransaction[];
}

/** Most problems of each kind a check reports (the counts say how much was checked). */
export const LEDGER_CHECK_REPORT_MAX = 100;

// How long a post, check or load may wait for a connection, unless told otherwise.
const LEDGER_CONNECTION_MAX_WAIT_MS = 5_000;
// Checking and loading read the whole ledger (O(postings)) in one snapshot.
const LEDGER_CHECK_TIMEOUT_MS = 120_000;

const duplicate = (problem: string) => new StorageRefusal(storageError.duplicate(problem));

/** Whether `error` is the database refusing a balance out of the safe integer range (migration `*_ledger_balance_safe_range`). */
function isBalanceOutOfRange(error: unknown): boolean {
  return sqlStateOf(error) === susuSqlStates.ledgerBalanceUnsafe;
}

interface PostingRow {
  readonly position: number;
  readonly accountId: string;
  readonly direction: "debit" | "credit";
  readonly currency: string;
  readonly amountMinor: bigint;
}

interface TransactionRow {
  readonly id: string;
  readonly kind: string;
  readonly occurredAt: Date;
  readonly refs: unknown;
  readonly postings: readonly PostingRow[];
}

// A stored transaction with its postings, one row per posting (none: a row of nulls).
const LEDGER_TRANSACTION_STORED_SQL = `
  SELECT t.id, t.kind::text AS kind, t.occurred_at, t.refs, t.created_at,
         p.position, p.account_id, p.direction::text AS direction, p.currency::text AS currency,
         p.amount_minor::text AS amount_minor
    FROM ledger_transactions t
    LEFT JOIN ledger_postings p ON p.transaction_id = t.id
   WHERE t.id = $1
   ORDER BY p.position`;

// One statement, atomic on its own (run outside any transaction): the posting's parts
// (ledgerPostParts: the transaction row, a no-op when the id is stored already, and only if it
// was inserted, each account's balance moved by the net of its postings and the postings
// appended) and, with $5, the outbox effect that carries the posting marked done while $6 holds
// its claim (as OUTBOX_COMPLETE_SQL). $1–$3 the transaction's rows (ledgerPostRows), $4 now;
// $5–$7 the completion (effect, worker, at) or nulls. One row: inserted 0 (nothing written) or
// 1, and completed 1 when the effect was marked done. (A data-modifying CTE runs to completion
// whether or not the query reads it.)
const LEDGER_POST_SQL = `
  WITH ${ledgerPostParts({ transactions: "$1", moves: "$2", postings: "$3", at: "$4" })},
  done AS (
    UPDATE outbox_effects SET status = 'done', claimed_by = NULL, claimed_until = NULL, completed_at = $7
     WHERE $5::text IS NOT NULL AND id = $5 AND claimed_by = $6 AND status = 'pending'
       AND EXISTS (SELECT 1 FROM lt)
    RETURNING id)
  SELECT (SELECT count(*) FROM lt)::int AS inserted, (SELECT count(*) FROM done)::int AS completed`;

// An adjustment's ticket: locked for the transaction (none: not found), its note (the
// adjustment's id appended to details.adjustments) and, when asked, its resolution (only an
// open ticket's: a resolved one keeps its first).
const ADJUSTMENT_ID_LOCK_SQL =
  "SELECT true AS locked FROM pg_advisory_xact_lock(hashtextextended($1::text, 5171))";
const TICKET_LOCK_SQL = "SELECT 1 AS found FROM support_tickets WHERE id = $1 FOR UPDATE";
// `details` is an object as the support desk writes it; any other JSON (a scalar, an array,
// null) is kept under `value` rather than failing the adjustment, and an `adjustments` that
// is not an array becomes its first element.
const TICKET_NOTE_SQL = `
  UPDATE support_tickets
     SET details = jsonb_set(
           CASE WHEN jsonb_typeof(details) = 'object' THEN details
                WHEN details IS NULL OR jsonb_typeof(details) = 'null' THEN '{}'::jsonb
                ELSE jsonb_build_object('value', details) END,
           '{adjustments}',
           CASE WHEN jsonb_typeof(details) <> 'object' OR details->'adjustments' IS NULL
                  OR jsonb_typeof(details->'adjustments') = 'null' THEN '[]'::jsonb
                WHEN jsonb_typeof(details->'adjustments') = 'array' THEN details->'adjustments'
                ELSE jsonb_build_array(details->'adjustments') END || to_jsonb($2::text)),
         updated_at = $3, version = version + 1
   WHERE id = $1`;
const TICKET_RESOLVE_SQL = `
  UPDATE support_tickets
     SET status = 'resolved', resolved_at = $2, resolved_by = $3, resolution = $4, updated_at = $2
   WHERE id = $1 AND status = 'open'`;

// An adjustment's transaction: a few statements, on one connection.
const LEDGER_ADJUSTMENT_TIMEOUT_MS = 10_000;

/** A row of {@link LEDGER_TRANSACTION_STORED_SQL}. */
interface StoredPostingRow {
  readonly id: string;
  readonly kind: string;
  readonly occurred_at: Date;
  readonly refs: unknown;
  readonly created_at: Date;
  readonly position: number | null;
  readonly account_id: string | null;
  readonly direction: "debit" | "credit" | null;
  readonly currency: string | null;
  readonly amount_minor: string | null;
}

/** The stored transaction the rows make (undefined: none stored), checked as {@link transactionOf} does. */
function storedTransactionOf(
  rows: readonly StoredPostingRow[],
): Result<LedgerTransaction, string> | undefined {
  const [first] = rows;
  if (first === undefined) return undefined;
  return transactionOf({
    id: first.id,
    kind: first.kind,
    occurredAt: first.occurred_at,
    refs: first.refs,
    postings: rows.flatMap((r) =>
      r.position === null ||
      r.account_id === null ||
      r.direction === null ||
      r.currency === null ||
      r.amount_minor === null
        ? []
        : [
            {
              position: r.position,
              accountId: r.account_id,
              direction: r.direction,
              currency: r.currency,
              amountMinor: BigInt(r.amount_minor),
            },
          ],
    ),
  });
}

/** Rebuilds the domain's transaction from its rows and checks it with the domain's rules. */
function transactionOf(row: TransactionRow): Result<LedgerTransaction, string> {
  const postings = [...row.postings]
    .sort((a, b) => a.position - b.position)
    .map((p) => {
      if (!isSafeMinor(p.amountMinor)) return undefined;
      return {
        account: p.accountId,
        side: p.direction,
        amount: { amountMinor: fromBigIntMinor(p.amountMinor), currency: p.currency },
      };
    });
  if (postings.some((p) => p === undefined))
    return err(`ledger transaction ${row.id} has an amount out of range`);
  return parseLedgerTransaction({
    id: row.id,
    kind: row.kind,
    postings,
    occurredAt: row.occurredAt.getTime(),
    refs: row.refs,
  });
}

/**
 * The append-only double-entry ledger in PostgreSQL: `ledger_transactions` and
 * `ledger_postings` (append-only, balanced per currency at COMMIT by triggers), with
 * `ledger_accounts` balances kept in step inside the same transaction.
 * {@link PrismaLedgerStore.checkLedger} proves the balances agree with the postings.
 */
export class PrismaLedgerStore implements LedgerStore, LedgerReader, LedgerAdjustments {
  readonly #prisma: PrismaClient;
  readonly #clock: Clock;
  readonly #maxWaitMs: number;

  constructor(prisma: PrismaClient, options: PrismaLedgerStoreOptions = {}) {
    this.#prisma = prisma;
    this.#clock = options.clock ?? { now: () => Date.now() };
    this.#maxWaitMs = options.connectionMaxWaitMs ?? LEDGER_CONNECTION_MAX_WAIT_MS;
  }

  /**
   * Appends a balanced transaction in one database transaction: the transaction row,
   * its postings in order, and each account's balance moved by the net of its postings.
   * The same id again with the same content is a no-op; with other content, or a
   * transaction the domain's rules refuse, it fails with `duplicate` and stores nothing
   * (as the in-memory ledger does).
   */
  post(transaction: LedgerTransaction): ResultAsync<void, StorageError> {
    return this.#posting(transaction, undefined).map(() => undefined);
  }

  /**
   * {@link PrismaLedgerStore.post} and, in the same database transaction, the outbox effect
   * that carries the posting marked done if `completion.workerId` still holds its claim (the
   * statement of `PrismaStore.complete`): one commit for both. A post that fails rolls the
   * completion back with it.
   */
  postCompleting(
    transaction: LedgerTransaction,
    completion: OutboxCompletion,
  ): ResultAsync<boolean, StorageError> {
    return this.#posting(transaction, completion);
  }

  /** Posts, and completes the effect when given; answers whether an effect was marked done. */
  #posting(
    transaction: LedgerTransaction,
    completion: OutboxCompletion | undefined,
  ): ResultAsync<boolean, StorageError> {
    const at = this.#clock.now();
    // The domain's own checks first (balanced, positive, limits); like the in-memory
    // ledger, a refused transaction is reported as `duplicate`, the non-retryable case.
    const valid = validateLedgerTransaction(transaction);
    if (valid.isErr()) return errAsync(storageError.duplicate(`${valid.error.code}: ${valid.error.message}`));
    // No transaction of its own: the post is one statement (a retry's completion another, on its
    // own), each on a connection waited for at most maxWaitMs, as every other write's.
    const limits = { maxWaitMs: this.#maxWaitMs };
    const run: StatementRunner = (statement) => runAtomicStatement(this.#prisma, limits, statement);
    return fromDatabase(this.#post(run, transaction, at, completion), { operation: "ledger post" });
  }

  /**
   * The posting's writes as one prepared statement on a connection of the store's pool (no
   * ORM in the dispatcher's hot path; no connection within `connectionMaxWaitMs` is a
   * failure that stored nothing), atomic on its own: the transaction row, each account's balance
   * moved by the net of its postings, the postings, and the completion. Balanced per
   * currency is checked at its commit by the tables' triggers; a balance out of the safe
   * integer range is refused by the table's rule (`balance_overflow`, nothing stored). A
   * transaction stored before is compared with this one: the same content is a retry (its
   * completion then marked on its own), other content a conflict.
   */
  async #post(
    run: StatementRunner,
    transaction: LedgerTransaction,
    at: number,
    completion: OutboxCompletion | undefined,
  ): Promise<boolean> {
    // The transaction's rows, and its accounts moved in the database's order of (id, currency)
    // (see ledgerPostParts).
    const rows = ledgerPostRows([{ transaction }]);
    const posted = run<{ inserted: number; completed: number }>({
      name: "susu_ledger_post_once",
      text: LEDGER_POST_SQL,
      values: [
        rows.transactions,
        rows.moves,
        rows.postings,
        toDate(at),
        completion?.effectId ?? null,
        completion?.workerId ?? null,
        completion === undefined ? null : toDate(completion.at),
      ],
    });
    const { rows: outcome } = await posted.catch((error: unknown) => {
      if (!isBalanceOutOfRange(error)) throw error;
      throw duplicate(
        `balance_overflow: transaction ${transaction.id} would take an account out of the safe integer range`,
      );
    });
    if (outcome[0]?.inserted !== 1) {
      // Already posted (by us earlier, or by a concurrent post that has now committed:
      // the INSERT waited for it). The same content is a retry; anything else a conflict.
      const { rows: stored } = await run<StoredPostingRow>({
        name: "susu_ledger_transaction_stored",
        text: LEDGER_TRANSACTION_STORED_SQL,
        values: [transaction.id],
      });
      const existing = storedTransactionOf(stored);
      if (!existing?.isOk() || !sameTransactionContent(existing.value, transaction))
        throw duplicate(
          `duplicate_transaction_conflict: transaction ${transaction.id} is already posted with other content`,
        );
      // A retry of a post that is stored: its effect is done as well, if its worker still holds it.
      if (completion === undefined) return false;
      const { rows: completed } = await run({
        name: "susu_ledger_retry_complete",
        text: OUTBOX_COMPLETE_SQL,
        values: [completion.effectId, completion.workerId, toDate(completion.at)],
      });
      return completed.length > 0;
    }
    return (outcome[0]?.completed ?? 0) > 0;
  }

  /** An account's balance (debits minus credits) in a currency; zero for an account never posted to. */
  balance(account: LedgerAccountId, currency: CurrencyCode): ResultAsync<Money, StorageError> {
    return fromDatabase(
      this.#prisma.ledgerAccount.findUnique({
        where: { id_currency: { id: account, currency } },
        select: { balanceMinor: true },
      }),
      { operation: "ledger balance" },
    ).andThen((row) => {
      if (row === null) return ok(money(0, currency));
      if (!isSafeMinor(row.balanceMinor))
        return err(storageError.refused(`stored balance of ${account} in ${currency} is out of range`));
      return ok(money(fromBigIntMinor(row.balanceMinor), currency));
    });
  }

  /**
   * The balances these rounds' transactions make: one `GROUP BY` over their postings,
   * found through `ledger_transactions.round_id`'s index.
   */
  balancesOfRounds(roundIds: readonly string[]): ResultAsync<readonly LedgerAccountBalance[], StorageError> {
    if (roundIds.length === 0) return okAsync([]);
    return fromDatabase(
      this.#prisma.$queryRaw<{ account_id: string; currency: string; balance_minor: bigint }[]>`
        SELECT p.account_id, p.currency::text AS currency,
               sum(CASE p.direction WHEN 'debit' THEN p.amount_minor ELSE -p.amount_minor END)::bigint AS balance_minor
          FROM ledger_transactions t
          JOIN ledger_postings p ON p.transaction_id = t.id
         WHERE t.round_id = ANY(${[...roundIds]}::text[])
         GROUP BY p.account_id, p.currency
         ORDER BY p.account_id COLLATE "C", p.currency`,
      { operation: "ledger balances of rounds" },
    ).andThen((rows) => {
      const balances: LedgerAccountBalance[] = [];
      for (const row of rows) {
        if (!isSafeMinor(row.balance_minor))
          return err(storageError.refused(`balance of ${row.account_id} in ${row.currency} is out of range`));
        balances.push({
          account: row.account_id,
          balance: {
            amountMinor: fromBigIntMinor(row.balance_minor) + 0,
            currency: row.currency as CurrencyCode,
          },
        });
      }
      return ok(balances);
    });
  }

  /**
   * These rounds' transactions, oldest first by `(occurred_at, id)`: a keyset page (the
   * cursor's own row gives the position), `limit + 1` rows read to know whether more follow.
   */
  transactionsOfRounds(
    roundIds: readonly string[],
    page: LedgerPageRequest,
  ): ResultAsync<LedgerPage<RecordedLedgerTransaction>, StorageError> {
    if (roundIds.length === 0) return okAsync({ items: [], hasMore: false });
    const rounds = [...roundIds];
    return this.#transactionsPage(
      { sql: Prisma.sql`round_id = ANY(${rounds}::text[])`, where: { roundId: { in: rounds } } },
      page,
      "ledger transactions of rounds",
    );
  }

  /**
   * The transactions `filter` selects (as SQL, and as Prisma's `where` for the cursor's row),
   * oldest first by `(occurred_at, id)`: a keyset page (the cursor's own row gives the
   * position; one the filter does not select is an empty page), `limit + 1` rows read to know
   * whether more follow.
   */
  #transactionsPage(
    filter: { readonly sql: Prisma.Sql; readonly where: Prisma.LedgerTransactionWhereInput },
    page: LedgerPageRequest,
    operation: string,
  ): ResultAsync<LedgerPage<RecordedLedgerTransaction>, StorageError> {
    const after = page.startingAfter;
    const work = async () => {
      let cursor: { occurredAt: Date; id: string } | undefined;
      if (after !== undefined) {
        const row = await this.#prisma.ledgerTransaction.findFirst({
          where: { id: after, ...filter.where },
          select: { occurredAt: true, id: true },
        });
        // An unknown cursor (or another group's transaction) is an empty page, never another group's books.
        if (row === null) return [];
        cursor = row;
      }
      const ids = await this.#prisma.$queryRaw<{ id: string }[]>`
        SELECT id FROM ledger_transactions
         WHERE ${filter.sql}
           ${cursor === undefined ? Prisma.empty : Prisma.sql`AND (occurred_at, id COLLATE "C") > (${cursor.occurredAt}, ${cursor.id} COLLATE "C")`}
         ORDER BY occurred_at, id COLLATE "C"
         LIMIT ${page.limit + 1}`;
      const rows = await this.#prisma.ledgerTransaction.findMany({
        where: { id: { in: ids.map((r) => r.id) } },
        include: { postings: true },
      });
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.flatMap((r) => byId.get(r.id) ?? []);
    };
    return fromDatabase(work(), { operation }).andThen((rows) => {
      const items: RecordedLedgerTransaction[] = [];
      for (const row of rows.slice(0, page.limit)) {
        const tx = transactionOf(row);
        if (tx.isErr()) return err(storageError.refused(`stored ledger cannot be read: ${tx.error}`));
        items.push({ transaction: tx.value, recordedAt: row.createdAt.getTime() });
      }
      return ok({ items, hasMore: rows.length > page.limit });
    });
  }

  /** Operators' adjustments (`manual_adjustment`), oldest first by `(occurred_at, id)`, a page at a time. */
  listAdjustments(page: LedgerPageRequest): ResultAsync<LedgerPage<RecordedLedgerTransaction>, StorageError> {
    return this.#transactionsPage(
      { sql: Prisma.sql`kind = 'manual_adjustment'`, where: { kind: "manual_adjustment" } },
      page,
      "ledger adjustments",
    );
  }

  /** Which of `accounts` the ledger holds, with the currencies it holds each in. */
  existingAccounts(
    accounts: readonly LedgerAccountId[],
  ): ResultAsync<ReadonlyMap<LedgerAccountId, ReadonlySet<string>>, StorageError> {
    if (accounts.length === 0) return okAsync(new Map());
    return fromDatabase(
      this.#prisma.ledgerAccount.findMany({
        where: { id: { in: [...accounts] } },
        select: { id: true, currency: true },
      }),
      { operation: "ledger accounts exist" },
    ).map((rows) => {
      const held = new Map<LedgerAccountId, Set<string>>();
      for (const { id, currency } of rows) held.set(id, (held.get(id) ?? new Set()).add(currency));
      return held;
    });
  }

  /**
   * Posts an operator's adjustment in one database transaction with its audit lines and its
   * note on the ticket it answers (resolving it when asked): all or nothing. The ticket is
   * locked first, so two adjustments noting it keep both notes. An id posted before is not
   * posted again: the same postings and refs are a retry (`already_posted`), other content a
   * `conflict`; neither writes anything.
   */
  postAdjustment(post: LedgerAdjustmentPost): ResultAsync<LedgerAdjustmentOutcome, StorageError> {
    const { transaction } = post;
    const valid = validateLedgerTransaction(transaction);
    if (valid.isErr()) return errAsync(storageError.duplicate(`${valid.error.code}: ${valid.error.message}`));
    const at = this.#clock.now();
    const work = () =>
      runTransaction(
        this.#prisma,
        { timeoutMs: LEDGER_ADJUSTMENT_TIMEOUT_MS, maxWaitMs: this.#maxWaitMs },
        async (run): Promise<LedgerAdjustmentOutcome> => {
          // Posts of one id wait for each other here, so the one after reads what the first
          // stored (an `already_posted` or a `conflict`), and never writes its audit again.
          await run({
            name: "susu_adjustment_id_lock",
            text: ADJUSTMENT_ID_LOCK_SQL,
            values: [transaction.id],
          });
          const ticket = post.ticket;
          if (ticket !== undefined) {
            const { rows } = await run({
              name: "susu_adjustment_ticket_lock",
              text: TICKET_LOCK_SQL,
              values: [ticket.id],
            });
            if (rows.length === 0) return { outcome: "ticket_not_found" };
          }
          const stored = await this.#storedRecorded(run, transaction.id);
          if (stored !== undefined)
            return {
              outcome: sameAdjustment(stored.transaction, transaction) ? "already_posted" : "conflict",
              recorded: stored,
            };
          await this.#post(run, transaction, at, undefined);
          await appendAudit(run, post.audit);
          if (ticket !== undefined) {
            await run({
              name: "susu_adjustment_ticket_note",
              text: TICKET_NOTE_SQL,
              values: [ticket.id, transaction.id, toDate(at)],
            });
            const r = ticket.resolution;
            if (r !== undefined)
              await run({
                name: "susu_adjustment_ticket_resolve",
                text: TICKET_RESOLVE_SQL,
                values: [ticket.id, toDate(r.at), r.by, r.note],
              });
          }
          return { outcome: "posted", recorded: { transaction, recordedAt: at } };
        },
      );
    return fromDatabase(work(), { operation: "ledger adjustment" });
  }

  /** The stored transaction of `id` with when it was recorded, or undefined; refused when unreadable. */
  async #storedRecorded(run: StatementRunner, id: string): Promise<RecordedLedgerTransaction | undefined> {
    const { rows } = await run<StoredPostingRow>({
      name: "susu_ledger_transaction_stored",
      text: LEDGER_TRANSACTION_STORED_SQL,
      values: [id],
    });
    const stored = storedTransactionOf(rows);
    if (stored === undefined) return undefined;
    if (stored.isErr())
      throw new StorageRefusal(storageError.refused(`stored ledger cannot be read: ${stored.error}`));
    return { transaction: stored.value, recordedAt: rows[0]?.created_at.getTime() ?? 0 };
  }

  /**
   * Recomputes every account's balance from the postings and compares it with
   * `ledger_accounts`, and re-checks that every transaction balances per currency with at
   * least two postings — independently of the triggers and of `post`. Reports up to
   * {@link LEDGER_CHECK_REPORT_MAX} problems of each kind. O(postings).
   */
  checkLedger(): ResultAsync<LedgerCheckReport, StorageError> {
    const work = this.#prisma.$transaction(
      async (tx) => {
        // One snapshot for all three queries, so a post committing in between cannot
        // make a sound ledger look broken.
        const mismatches = await tx.$queryRaw<
          { account: string; currency: string; stored_minor: bigint; posted_minor: bigint }[]
        >`
          WITH posted AS (
            SELECT account_id, currency,
                   sum(CASE direction WHEN 'debit' THEN amount_minor ELSE -amount_minor END)::bigint AS minor
              FROM ledger_postings
             GROUP BY account_id, currency)
          SELECT a.id AS account, a.currency, a.balance_minor AS stored_minor, coalesce(p.minor, 0)::bigint AS posted_minor
            FROM ledger_accounts a
            LEFT JOIN posted p ON p.account_id = a.id AND p.currency = a.currency
           WHERE a.balance_minor <> coalesce(p.minor, 0)
           ORDER BY a.id, a.currency
           LIMIT ${LEDGER_CHECK_REPORT_MAX}`;
        const unbalanced = await tx.$queryRaw<{ transaction_id: string; currency: string | null }[]>`
          SELECT t.id AS transaction_id, NULL::text AS currency
            FROM ledger_transactions t
           WHERE (SELECT count(*) FROM ledger_postings p WHERE p.transaction_id = t.id) < 2
          UNION ALL
          SELECT p.transaction_id, p.currency::text
            FROM ledger_postings p
           GROUP BY p.transaction_id, p.currency
          HAVING sum(CASE p.direction WHEN 'debit' THEN p.amount_minor ELSE -p.amount_minor END) <> 0
           ORDER BY 1, 2
           LIMIT ${LEDGER_CHECK_REPORT_MAX}`;
        const [counts] = await tx.$queryRaw<{ accounts: bigint; transactions: bigint }[]>`
          SELECT (SELECT count(*) FROM ledger_accounts) AS accounts,
                 (SELECT count(*) FROM ledger_transactions) AS transactions`;
        return { mismatches, unbalanced, counts };
      },
      {
        isolationLevel: Prisma.TransactionIsolationLevel.RepeatableRead,
        timeout: LEDGER_CHECK_TIMEOUT_MS,
        maxWait: this.#maxWaitMs,
      },
    );
    return fromDatabase(work, { operation: "ledger check" }).map(({ mismatches, unbalanced, counts }) => ({
      agrees: mismatches.length === 0 && unbalanced.length === 0,
      accountsChecked: Number(counts?.accounts ?? 0n),
      transactionsChecked: Number(counts?.transactions ?? 0n),
      mismatches: mismatches.map((m) => ({
        account: m.account,
        currency: m.currency,
        storedMinor: m.stored_minor,
        postedMinor: m.posted_minor,
      })),
      unbalanced: unbalanced.map((u) => ({ transactionId: u.transaction_id, currency: u.currency })),
    }));
  }

  /**
   * The whole ledger as the domain's value: every transaction, rebuilt from its rows and
   * re-posted through `ledgerFromTransactions`, then proven sound by
   * `checkLedgerInvariants`, and its balances compared with `ledger_accounts`. For audits
   * and tests: O(ledger) in memory.
   */
  loadLedger(): ResultAsync<Ledger, StorageError> {
    const work = this.#prisma.$transaction(
      async (tx) => {
        const transactions = await tx.ledgerTransaction.findMany({
          orderBy: [{ createdAt: "asc" }, { id: "asc" }],
          include: { postings: true },
        });
        const accounts = await tx.ledgerAccount.findMany({
          select: { id: true, currency: true, balanceMinor: true },
        });
        return { transactions, accounts };
      },
      {
        isolationLevel: Prisma.TransactionIsolationLevel.RepeatableRead,
        timeout: LEDGER_CHECK_TIMEOUT_MS,
        maxWait: this.#maxWaitMs,
      },
    );
    return fromDatabase(work, { operation: "ledger load" }).andThen(({ transactions, accounts }) => {
      const rebuilt: LedgerTransaction[] = [];
      for (const row of transactions) {
        const tx = transactionOf(row);
        if (tx.isErr()) return err(storageError.refused(`stored ledger cannot be loaded: ${tx.error}`));
        rebuilt.push(tx.value);
      }
      const ledger = ledgerFromTransactions(rebuilt).andThen(checkLedgerInvariants);
      if (ledger.isErr())
        return err(storageError.refused(`stored ledger is unsound: ${ledger.error.message}`));
      for (const account of accounts) {
        const byCurrency = [...(ledger.value.balancesMinor.get(account.id) ?? [])];
        const derived = byCurrency.find(([currency]) => currency === account.currency)?.[1] ?? 0;
        if (BigInt(derived) !== account.balanceMinor)
          return err(
            storageError.refused(
              `stored ledger is unsound: ${account.id} holds ${account.balanceMinor} ${account.currency}, its postings say ${derived}`,
            ),
          );
      }
      return ok(ledger.value);
    });
  }
}
