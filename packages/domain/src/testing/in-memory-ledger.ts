import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import {
  balanceOf,
  emptyLedger,
  type Ledger,
  type LedgerAccountId,
  type LedgerTransaction,
  postTransaction,
} from "../ledger/index.js";
import type { CurrencyCode, Money } from "../money/index.js";
import type {
  LedgerAccountBalance,
  LedgerPage,
  LedgerPageRequest,
  LedgerReader,
  LedgerStore,
  RecordedLedgerTransaction,
} from "../ports/ledger-store.js";
import { type StorageError, storageError } from "../ports/storage.js";

/** The ledger in memory, through the domain's own append-only ledger. */
export class InMemoryLedgerStore implements LedgerStore, LedgerReader {
  #ledger: Ledger = emptyLedger();
  readonly #recordedAt = new Map<string, number>();
  readonly #now: () => number;

  /** `now` stamps when each transaction was recorded; default the system clock. */
  constructor(now: () => number = () => Date.now()) {
    this.#now = now;
  }
  post(transaction: LedgerTransaction): ResultAsync<void, StorageError> {
    const posted = postTransaction(this.#ledger, transaction);
    if (posted.isErr())
      return errAsync(storageError.duplicate(`${posted.error.code}: ${posted.error.message}`));
    if (!this.#recordedAt.has(transaction.id)) this.#recordedAt.set(transaction.id, this.#now());
    this.#ledger = posted.value;
    return okAsync(undefined);
  }
  balance(account: LedgerAccountId, currency: CurrencyCode): ResultAsync<Money, StorageError> {
    return okAsync(balanceOf(this.#ledger, account, currency));
  }
  balancesOfRounds(roundIds: readonly string[]): ResultAsync<readonly LedgerAccountBalance[], StorageError> {
    const sums = new Map<string, LedgerAccountBalance>();
    for (const tx of this.#ofRounds(roundIds))
      for (const p of tx.postings) {
        const key = `${p.account}\u0000${p.amount.currency}`;
        const before = sums.get(key)?.balance.amountMinor ?? 0;
        const signed = p.side === "debit" ? p.amount.amountMinor : -p.amount.amountMinor;
        sums.set(key, {
          account: p.account,
          balance: { amountMinor: before + signed, currency: p.amount.currency },
        });
      }
    return okAsync(
      [...sums.values()].sort((a, b) =>
        a.account === b.account
          ? a.balance.currency.localeCompare(b.balance.currency)
          : a.account < b.account
            ? -1
            : 1,
      ),
    );
  }

  transactionsOfRounds(
    roundIds: readonly string[],
    page: LedgerPageRequest,
  ): ResultAsync<LedgerPage<RecordedLedgerTransaction>, StorageError> {
    const ordered = this.#ofRounds(roundIds).sort(
      (a, b) => a.occurredAt - b.occurredAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
    let start = 0;
    if (page.startingAfter !== undefined) {
      const at = ordered.findIndex((tx) => tx.id === page.startingAfter);
      start = at === -1 ? ordered.length : at + 1;
    }
    const items = ordered.slice(start, start + page.limit).map((transaction) => ({
      transaction,
      recordedAt: this.#recordedAt.get(transaction.id) ?? transaction.occurredAt,
    }));
    return okAsync({ items, hasMore: start + page.limit < ordered.length });
  }

  #ofRounds(roundIds: readonly string[]): LedgerTransaction[] {
    const rounds = new Set(roundIds);
    return this.#ledger.transactions.filter((tx) => rounds.has(tx.refs.roundId ?? ""));
  }

  /** The whole ledger, for invariant checks. */
  snapshot(): Ledger {
    return this.#ledger;
  }
}
