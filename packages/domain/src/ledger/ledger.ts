import { err, ok, type Result } from "neverthrow";
import { type CurrencyCode, type Money, money } from "../money/index.js";
import { balanceOverflow, duplicateTransactionConflict, type LedgerError } from "./ledger.errors.js";
import {
  createLedgerTransaction,
  type LedgerAccountId,
  type LedgerTransaction,
  sameTransactionContent,
} from "./ledger-transaction.js";

/** One currency's line of the trial balance: the sums of all debits and all credits, in minor units. */
export interface TrialBalanceLine {
  /** Sum of every debit posting in the currency. */
  readonly debitsMinor: number;
  /** Sum of every credit posting in the currency. */
  readonly creditsMinor: number;
}

/**
 * A double-entry, append-only ledger, as an immutable value: posting returns a new
 * ledger and leaves the old one as it was. Besides the transactions it keeps, in step
 * with them, every account's balance and every currency's totals (so reading a balance
 * is a map lookup) and each transaction's position by id (so a retried post is found at
 * once). Persist `transactions`; rebuild the rest with `ledgerFromTransactions`, or store
 * it too and let `checkLedgerInvariants` prove it agrees — before a save, after a load.
 *
 * Posting copies these maps: O(transactions + accounts) per post, fine for one group's
 * ledger (thousands of transactions), not meant for a platform-wide one. Rebuilding with
 * `ledgerFromTransactions` is one pass, O(postings), whatever the size.
 */
export interface Ledger {
  /** Every transaction, in the order posted. */
  readonly transactions: readonly LedgerTransaction[];
  /** Balance (debits minus credits, minor units) by account, then currency. Zero balances may be present. */
  readonly balancesMinor: ReadonlyMap<LedgerAccountId, ReadonlyMap<CurrencyCode, number>>;
  /** Sums of debits and credits by currency: the trial balance. */
  readonly totals: ReadonlyMap<CurrencyCode, TrialBalanceLine>;
  /** Position of each transaction in `transactions`, by id. */
  readonly positionById: ReadonlyMap<string, number>;
}

const EMPTY_LEDGER: Ledger = Object.freeze({
  transactions: Object.freeze([]),
  balancesMinor: new Map(),
  totals: new Map(),
  positionById: new Map(),
});

/** A ledger with no transactions. */
export function emptyLedger(): Ledger {
  return EMPTY_LEDGER;
}

/**
 * Adds the postings of `stored` (already checked) to the balances and the totals: `balances`
 * gives the map of an account's balances this call may change, `totals` is changed in
 * place. Fails with `balance_overflow` when a sum would leave the safe integer range; the
 * maps are then partly changed, and the caller drops them.
 */
function addPostings(
  stored: LedgerTransaction,
  totals: Map<CurrencyCode, TrialBalanceLine>,
  balances: (account: LedgerAccountId) => Map<CurrencyCode, number>,
): Result<void, LedgerError> {
  for (const { account, side, amount } of stored.postings) {
    const signedMinor = side === "debit" ? amount.amountMinor : -amount.amountMinor;
    const accountBalances = balances(account);
    const balanceMinor = (accountBalances.get(amount.currency) ?? 0) + signedMinor;
    if (!Number.isSafeInteger(balanceMinor)) return err(balanceOverflow(stored.id, amount.currency));
    accountBalances.set(amount.currency, balanceMinor);

    const line = totals.get(amount.currency) ?? { debitsMinor: 0, creditsMinor: 0 };
    const next =
      side === "debit"
        ? { debitsMinor: line.debitsMinor + amount.amountMinor, creditsMinor: line.creditsMinor }
        : { debitsMinor: line.debitsMinor, creditsMinor: line.creditsMinor + amount.amountMinor };
    if (!Number.isSafeInteger(next.debitsMinor) || !Number.isSafeInteger(next.creditsMinor)) {
      return err(balanceOverflow(stored.id, amount.currency));
    }
    totals.set(amount.currency, Object.freeze(next));
  }
  return ok(undefined);
}

/**
 * Appends a transaction, returning the new ledger. The transaction is checked again
 * (it may come from storage or be built by hand) and stored as a frozen copy.
 *
 * Idempotent: a transaction whose id is already in the ledger with identical content is
 * a no-op that returns `ledger` itself; with different content it fails with
 * `duplicate_transaction_conflict`. Also fails with the errors of
 * `createLedgerTransaction`, and with `balance_overflow` when a balance or a total would
 * leave the safe integer range.
 */
export function postTransaction(ledger: Ledger, tx: LedgerTransaction): Result<Ledger, LedgerError> {
  const created = createLedgerTransaction(tx);
  if (created.isErr()) return err(created.error);
  const stored = created.value;

  const position = ledger.positionById.get(stored.id);
  if (position !== undefined) {
    const existing = ledger.transactions[position];
    if (existing !== undefined && sameTransactionContent(existing, stored)) return ok(ledger);
    return err(duplicateTransactionConflict(stored.id));
  }

  const balancesMinor = new Map(ledger.balancesMinor);
  const totals = new Map(ledger.totals);
  // Copy-on-write: an account's map is copied the first time this post touches it, so the
  // ledger it was posted to keeps its own.
  const copied = new Map<LedgerAccountId, Map<CurrencyCode, number>>();
  const added = addPostings(stored, totals, (account) => {
    let own = copied.get(account);
    if (own === undefined) {
      own = new Map(ledger.balancesMinor.get(account));
      copied.set(account, own);
      balancesMinor.set(account, own);
    }
    return own;
  });
  if (added.isErr()) return err(added.error);

  const positionById = new Map(ledger.positionById);
  positionById.set(stored.id, ledger.transactions.length);
  return ok(
    Object.freeze({
      transactions: Object.freeze([...ledger.transactions, stored]),
      balancesMinor,
      totals,
      positionById,
    }),
  );
}

/**
 * Rebuilds a ledger by posting stored transactions in order (after a load). A repeated
 * id is not a retry here but corrupted storage, so it fails like any other conflict
 * would: `duplicate_transaction_conflict`, even when the content is identical.
 */
export function ledgerFromTransactions(
  transactions: readonly LedgerTransaction[],
): Result<Ledger, LedgerError> {
  // One pass over maps this call owns: O(postings), where posting each transaction in turn
  // (postTransaction copies every map each time) is O(transactions × accounts). The result,
  // and each error, are those of posting the transactions one by one.
  const stored: LedgerTransaction[] = [];
  const balancesMinor = new Map<LedgerAccountId, Map<CurrencyCode, number>>();
  const totals = new Map<CurrencyCode, TrialBalanceLine>();
  const positionById = new Map<string, number>();
  const balances = (account: LedgerAccountId) => {
    let own = balancesMinor.get(account);
    if (own === undefined) {
      own = new Map();
      balancesMinor.set(account, own);
    }
    return own;
  };
  for (const tx of transactions) {
    if (positionById.has(tx.id)) return err(duplicateTransactionConflict(tx.id));
    const created = createLedgerTransaction(tx);
    if (created.isErr()) return err(created.error);
    const added = addPostings(created.value, totals, balances);
    if (added.isErr()) return err(added.error);
    positionById.set(created.value.id, stored.length);
    stored.push(created.value);
  }
  return ok(Object.freeze({ transactions: Object.freeze(stored), balancesMinor, totals, positionById }));
}

/** An account's balance in a currency: debits minus credits (zero for an account never posted to). */
export function balanceOf(ledger: Ledger, account: LedgerAccountId, currency: CurrencyCode): Money {
  return money(ledger.balancesMinor.get(account)?.get(currency) ?? 0, currency);
}

/** An account's non-zero balances, one per currency, in the order the currencies were first posted. */
export function balancesOf(ledger: Ledger, account: LedgerAccountId): Money[] {
  const byCurrency = ledger.balancesMinor.get(account);
  if (byCurrency === undefined) return [];
  return [...byCurrency]
    .filter(([, amountMinor]) => amountMinor !== 0)
    .map(([currency, amountMinor]) => money(amountMinor, currency));
}

/** The transaction with this id, if the ledger has it. */
export function transactionById(ledger: Ledger, id: string): LedgerTransaction | undefined {
  const position = ledger.positionById.get(id);
  return position === undefined ? undefined : ledger.transactions[position];
}

/**
 * The sums of all debits and all credits per currency. In a sound ledger every line
 * has `debitsMinor === creditsMinor`; `checkLedgerInvariants` asserts it.
 */
export function trialBalance(ledger: Ledger): ReadonlyMap<CurrencyCode, TrialBalanceLine> {
  return ledger.totals;
}
