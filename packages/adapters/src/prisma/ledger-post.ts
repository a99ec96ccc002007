// The ledger's posting as parts of a statement: what PrismaLedgerStore's post sends on its
// own, and what a changeset's commit folds into its own statement (changeset-writer.ts) to
// carry out its `post_ledger` effects in the commit that decides them. One SQL for both.
import type { CurrencyCode, LedgerTransaction } from "@susu/domain";
import { sqlStateOf, susuSqlStates } from "../db/sql-state.js";
import { toBigIntMinor, toDate } from "./conversions.js";

/** Transactions to post, as the three JSON arrays {@link ledgerPostParts} reads. */
export interface LedgerPostRows {
  /** One row per transaction: id, kind, occurred_at, refs, round_id and the effect_id that carries it (if any). */
  readonly transactions: string;
  /** Per transaction, its net movement per (account, currency): one row each. */
  readonly moves: string;
  /** Per transaction, its postings in order (`position` from 0). */
  readonly postings: string;
}

/** A transaction to post, and the id of the outbox effect that carries it (none: posted directly). */
export interface LedgerPost {
  readonly transaction: LedgerTransaction;
  readonly effectId?: string;
}

/**
 * The rows of `posts` for {@link ledgerPostParts}. Amounts are sent as text (BIGINT), each
 * account's net movement computed per transaction here; throws a RangeError before any SQL
 * is sent on an amount or a net movement that is not a safe integer (the domain's
 * validateLedgerTransaction keeps both within range: balance_overflow).
 */
export function ledgerPostRows(posts: readonly LedgerPost[]): LedgerPostRows {
  const transactions: object[] = [];
  const moves: object[] = [];
  const postings: object[] = [];
  for (const { transaction, effectId } of posts) {
    transactions.push({
      id: transaction.id,
      kind: transaction.kind,
      occurred_at: toDate(transaction.occurredAt).toISOString(),
      refs: transaction.refs,
      round_id: transaction.refs.roundId ?? null,
      effect_id: effectId ?? null,
    });
    // Net movement per (account, currency): one row each, since an upsert may touch a row once.
    const net = new Map<string, { id: string; currency: CurrencyCode; delta: number }>();
    for (const p of transaction.postings) {
      const key = `${p.account}\u0000${p.amount.currency}`;
      const move = net.get(key) ?? { id: p.account, currency: p.amount.currency, delta: 0 };
      move.delta += p.side === "debit" ? p.amount.amountMinor : -p.amount.amountMinor;
      net.set(key, move);
    }
    for (const move of net.values())
      moves.push({
        transaction_id: transaction.id,
        id: move.id,
        currency: move.currency,
        delta: String(toBigIntMinor(move.delta)),
      });
    for (const [position, p] of transaction.postings.entries())
      postings.push({
        transaction_id: transaction.id,
        position,
        account_id: p.account,
        direction: p.side,
        currency: p.amount.currency,
        amount_minor: String(toBigIntMinor(p.amount.amountMinor)),
      });
  }
  return {
    transactions: JSON.stringify(transactions),
    moves: JSON.stringify(moves),
    postings: JSON.stringify(postings),
  };
}

/** Where {@link ledgerPostParts} finds its rows ({@link LedgerPostRows}) and its time, as SQL (`$n`). */
export interface LedgerPostParams {
  readonly transactions: string;
  readonly moves: string;
  readonly postings: string;
  /** The rows' `created_at`/`updated_at`. */
  readonly at: string;
}

/**
 * The posting's writes as three parts of a `WITH` (data-modifying CTEs, each run in full):
 *
 * - `lt`: each transaction's row, only where `only` holds of it (a condition on `r`, its row of
 *   {@link LedgerPostRows.transactions}: `r.id`, `r.effect_id`, …; none: every one) and its id
 *   is not stored yet (a no-op for one that is: ON CONFLICT DO NOTHING, after waiting for a
 *   concurrent insert of the id to commit or roll back). `RETURNING id`: the transactions posted.
 * - `lm`: each account's balance moved by the net of the posted transactions' postings (summed
 *   over them: an upsert touches a row once), applied in the order of (id, currency), so two
 *   posts that touch the same accounts lock them in the same order and cannot deadlock.
 * - `lp`: the posted transactions' postings.
 *
 * The postings may name the transactions and accounts the parts beside them create: foreign
 * keys are checked at the statement's end, the double-entry rule (balanced per currency, at
 * least two postings) at its commit, by the tables' triggers.
 *
 * The safe-range trigger and the upsert (the one statement that writes ledger_accounts): a
 * BEFORE INSERT trigger fires for every proposed row, before the conflict is found, so for an
 * account that exists it judges the proposed row, whose balance_minor is the delta, not the
 * resulting balance; the conflict's UPDATE then fires the trigger again (BEFORE UPDATE OF
 * balance_minor: the column is in the SET list) on the resulting balance. So nothing out of
 * the range is ever stored, and the first check can refuse a post only if its delta is itself
 * out of the range, which no single transaction can propose: the domain keeps a transaction's
 * debits and its credits per currency each within the safe range (validateLedgerTransaction,
 * balance_overflow), so an account's net delta, their difference over its postings, is within
 * it too. (Several transactions posted together could sum to a delta out of the range: then
 * the statement is refused, SU003, and the changeset's commit falls back to leaving them to the
 * dispatcher, which posts them one by one.) Checked on PostgreSQL: a delta of 2^53 onto an
 * account at −(2^53 − 1) is refused (SU003) though the result is 1; 2^53 − 1 onto it is
 * accepted; +1 onto 2^53 − 1 is refused by the UPDATE's check.
 */
export function ledgerPostParts(params: LedgerPostParams, only?: string): string {
  return `lt AS (
    INSERT INTO ledger_transactions (id, kind, occurred_at, refs, round_id, created_at)
    SELECT r.id, r.kind::ledger_transaction_kind, r.occurred_at, r.refs, r.round_id, ${params.at}::timestamptz
      FROM jsonb_to_recordset(${params.transactions}::jsonb)
             AS r(id text, kind text, occurred_at timestamptz, refs jsonb, round_id text, effect_id text)
     ${only === undefined ? "" : `WHERE ${only}`}
    ON CONFLICT (id) DO NOTHING
    RETURNING id),
  lm AS (
    INSERT INTO ledger_accounts (id, currency, balance_minor, created_at, updated_at)
    SELECT d.id, d.currency, sum(d.delta)::bigint, ${params.at}::timestamptz, ${params.at}::timestamptz
      FROM jsonb_to_recordset(${params.moves}::jsonb) AS d(transaction_id text, id text, currency text, delta bigint)
     WHERE d.transaction_id IN (SELECT id FROM lt)
     GROUP BY d.id, d.currency
     ORDER BY d.id, d.currency
    ON CONFLICT (id, currency) DO UPDATE
      SET balance_minor = ledger_accounts.balance_minor + EXCLUDED.balance_minor,
          updated_at = EXCLUDED.updated_at
    RETURNING id),
  lp AS (
    INSERT INTO ledger_postings (transaction_id, position, account_id, direction, currency, amount_minor)
    SELECT r.transaction_id, r.position, r.account_id, r.direction::posting_direction, r.currency, r.amount_minor
      FROM jsonb_to_recordset(${params.postings}::jsonb) AS r(transaction_id text, position integer,
             account_id text, direction text, currency text, amount_minor bigint)
     WHERE r.transaction_id IN (SELECT id FROM lt))`;
}

/**
 * Whether `error` is the database refusing a posting: a balance out of the safe integer range
 * (SU003, migration `*_ledger_balance_safe_range`), or a transaction unbalanced at COMMIT (SU002).
 */
export function isLedgerRefusal(error: unknown): boolean {
  const state = sqlStateOf(error);
  return state === susuSqlStates.ledgerBalanceUnsafe || state === susuSqlStates.ledgerUnbalanced;
}
