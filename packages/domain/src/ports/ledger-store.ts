import type { ResultAsync } from "neverthrow";
import type { LedgerAccountId, LedgerTransaction } from "../ledger/index.js";
import type { CurrencyCode, Money } from "../money/index.js";
import type { AuditEntry, OutboxCompletion, StorageError } from "./storage.js";

/** The append-only ledger, stored. */
export interface LedgerStore {
  /** Appends a balanced transaction; the same id again with the same content is a no-op. */
  post(transaction: LedgerTransaction): ResultAsync<void, StorageError>;
  /**
   * Optional, for a ledger stored with the outbox: {@link LedgerStore.post} and, in the same
   * database transaction, `OutboxStore.complete` of the effect that carries the posting, so
   * the two are one commit (posted and done, or neither). A post that fails completes
   * nothing. Answers whether the effect was marked done: `false` when no pending effect of
   * that id was claimed by that worker in the ledger's database (the claim was lost, or the
   * outbox is stored elsewhere); the dispatcher then completes it through the outbox.
   * Without it the dispatcher posts, then completes.
   */
  postCompleting?(
    transaction: LedgerTransaction,
    completion: OutboxCompletion,
  ): ResultAsync<boolean, StorageError>;
  /** An account's balance (debits minus credits) in a currency. */
  balance(account: LedgerAccountId, currency: CurrencyCode): ResultAsync<Money, StorageError>;
}

/** One account's balance in one currency (debits minus credits). */
export interface LedgerAccountBalance {
  readonly account: LedgerAccountId;
  readonly balance: Money;
}

/** A stored transaction, with when the ledger recorded it. */
export interface RecordedLedgerTransaction {
  readonly transaction: LedgerTransaction;
  /** When it was posted (the store's clock), epoch ms; `transaction.occurredAt` is when it happened. */
  readonly recordedAt: number;
}

/** A page of a ledger listing: `limit` items after the cursor, and whether more follow. */
export interface LedgerPage<T> {
  readonly items: readonly T[];
  readonly hasMore: boolean;
}

/** Where a listing starts and how much it takes. */
export interface LedgerPageRequest {
  /** 1 to 100. */
  readonly limit: number;
  /** The id of the last transaction of the previous page; an unknown id is an empty page. */
  readonly startingAfter?: string;
}

/**
 * Reads the ledger by round (what a group's books are made of). A round's transactions
 * are those whose `refs.roundId` is the round: every round movement sets it.
 */
export interface LedgerReader {
  /**
   * The balances that these rounds' transactions make, by account and currency, ordered
   * by account then currency. The rounds' own accounts read their whole balance;
   * accounts shared with other rounds (`member:<m>`, `platform:funds`) only these rounds'
   * share of it.
   */
  balancesOfRounds(roundIds: readonly string[]): ResultAsync<readonly LedgerAccountBalance[], StorageError>;
  /** These rounds' transactions, oldest first (by when they happened, then id), a page at a time. */
  transactionsOfRounds(
    roundIds: readonly string[],
    page: LedgerPageRequest,
  ): ResultAsync<LedgerPage<RecordedLedgerTransaction>, StorageError>;
}

/** An operator's adjustment to store ({@link LedgerAdjustments.postAdjustment}). */
export interface LedgerAdjustmentPost {
  /** A `manual_adjustment` transaction (`manualAdjustment`). */
  readonly transaction: LedgerTransaction;
  /** Its audit lines (`adjustmentAudit`). */
  readonly audit: readonly AuditEntry[];
  /**
   * The support ticket it answers: the transaction's id is added to the ticket's
   * `details.adjustments`, and with `resolution` an open ticket is resolved (a resolved one
   * keeps its first resolution).
   */
  readonly ticket?: {
    readonly id: string;
    readonly resolution?: { readonly by: string; readonly note: string; readonly at: number };
  };
}

/** What posting an adjustment did. */
export type LedgerAdjustmentOutcome =
  /** Posted now, with its audit lines and its note on the ticket. */
  | { readonly outcome: "posted"; readonly recorded: RecordedLedgerTransaction }
  /** Its id was posted before with the same postings and refs (a retry): nothing written. */
  | { readonly outcome: "already_posted"; readonly recorded: RecordedLedgerTransaction }
  /** Its id was posted before with other content: nothing written. */
  | { readonly outcome: "conflict"; readonly recorded: RecordedLedgerTransaction }
  /** The ticket named does not exist: nothing written. */
  | { readonly outcome: "ticket_not_found" };

/** Operators' corrections of the ledger: posted with their audit and ticket in one commit, and listed. */
export interface LedgerAdjustments {
  /** Posts an adjustment, its audit lines and its ticket's note atomically (or nothing). */
  postAdjustment(post: LedgerAdjustmentPost): ResultAsync<LedgerAdjustmentOutcome, StorageError>;
  /** The adjustments, oldest first (by when they happened, then id), a page at a time. */
  listAdjustments(page: LedgerPageRequest): ResultAsync<LedgerPage<RecordedLedgerTransaction>, StorageError>;
  /** Which of these accounts the ledger holds, with the currencies it holds each in. */
  existingAccounts(
    accounts: readonly LedgerAccountId[],
  ): ResultAsync<ReadonlyMap<LedgerAccountId, ReadonlySet<string>>, StorageError>;
}
