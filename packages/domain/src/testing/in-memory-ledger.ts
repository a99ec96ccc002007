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
import type { LedgerStore } from "../ports/ledger-store.js";
import { type StorageError, storageError } from "../ports/storage.js";

/** The ledger in memory, through the domain's own append-only ledger. */
export class InMemoryLedgerStore implements LedgerStore {
  #ledger: Ledger = emptyLedger();
  post(transaction: LedgerTransaction): ResultAsync<void, StorageError> {
    const posted = postTransaction(this.#ledger, transaction);
    if (posted.isErr())
      return errAsync(storageError.duplicate(`${posted.error.code}: ${posted.error.message}`));
    this.#ledger = posted.value;
    return okAsync(undefined);
  }
  balance(account: LedgerAccountId, currency: CurrencyCode): ResultAsync<Money, StorageError> {
    return okAsync(balanceOf(this.#ledger, account, currency));
  }
  /** The whole ledger, for invariant checks. */
  snapshot(): Ledger {
    return this.#ledger;
  }
}
