import type { ResultAsync } from "neverthrow";
import type { LedgerAccountId, LedgerTransaction } from "../ledger/index.js";
import type { CurrencyCode, Money } from "../money/index.js";
import type { StorageError } from "./storage.js";

/** The append-only ledger, stored. */
export interface LedgerStore {
  /** Appends a balanced transaction; the same id again with the same content is a no-op. */
  post(transaction: LedgerTransaction): ResultAsync<void, StorageError>;
  /** An account's balance (debits minus credits) in a currency. */
  balance(account: LedgerAccountId, currency: CurrencyCode): ResultAsync<Money, StorageError>;
}
