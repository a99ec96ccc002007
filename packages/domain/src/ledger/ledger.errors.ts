import { clipText, textLength } from "../kernel/text.js";
import type { CurrencyCode } from "../money/index.js";

/** A transaction with no postings, or with one: double entry needs a debit and a credit. */
export interface TooFewPostingsError {
  readonly type: "too_few_postings";
  readonly code: "too_few_postings";
  readonly message: string;
  readonly transactionId: string;
  readonly postingCount: number;
}

/** A transaction with more postings than the ledger accepts. */
export interface TooManyPostingsError {
  readonly type: "too_many_postings";
  readonly code: "too_many_postings";
  readonly message: string;
  readonly transactionId: string;
  readonly postingCount: number;
}

/** A posting whose amount is zero or negative: the side says the direction, the amount is always positive. */
export interface NonPositiveAmountError {
  readonly type: "non_positive_amount";
  readonly code: "non_positive_amount";
  readonly message: string;
  readonly transactionId: string;
  readonly account: string;
  readonly amountMinor: number;
}

/** A transaction whose debits and credits differ in some currency. */
export interface UnbalancedTransactionError {
  readonly type: "unbalanced_transaction";
  readonly code: "unbalanced_transaction";
  readonly message: string;
  readonly transactionId: string;
  readonly currency: CurrencyCode;
  readonly debitsMinor: number;
  readonly creditsMinor: number;
}

/** A transaction id that is empty or longer than the limit. */
export interface InvalidTransactionIdError {
  readonly type: "invalid_transaction_id";
  readonly code: "invalid_transaction_id";
  readonly message: string;
  readonly transactionId: string;
}

/** An account id, or a part of one (a round or member id), that is empty or longer than the limit. */
export interface InvalidAccountIdError {
  readonly type: "invalid_account_id";
  readonly code: "invalid_account_id";
  readonly message: string;
  readonly account: string;
}

/** A transaction time that is not a non-negative integer count of epoch milliseconds. */
export interface InvalidOccurredAtError {
  readonly type: "invalid_occurred_at";
  readonly code: "invalid_occurred_at";
  readonly message: string;
  readonly transactionId: string;
  readonly occurredAt: number;
}

/** References (`refs`) that are too many, or with an empty or too long key or value. */
export interface InvalidRefsError {
  readonly type: "invalid_refs";
  readonly code: "invalid_refs";
  readonly message: string;
  readonly transactionId: string;
}

/** A transaction id already in the ledger with different content. */
export interface DuplicateTransactionConflictError {
  readonly type: "duplicate_transaction_conflict";
  readonly code: "duplicate_transaction_conflict";
  readonly message: string;
  readonly transactionId: string;
}

/** Posting would take a balance or a currency total outside the safe integer range. */
export interface BalanceOverflowError {
  readonly type: "balance_overflow";
  readonly code: "balance_overflow";
  readonly message: string;
  readonly transactionId: string;
  readonly currency: CurrencyCode;
}

/** Which ledger invariant failed, for {@link LedgerInvariantViolatedError}. */
export type LedgerInvariant =
  | "transaction_invalid"
  | "duplicate_transaction_id"
  | "totals_unbalanced"
  | "totals_disagree"
  | "balances_disagree"
  | "index_disagrees"
  | "round_money_unbalanced"
  | "held_money_unbalanced"
  | "marketplace_money_unbalanced";

/**
 * A ledger that breaks an invariant: found by `checkLedgerInvariants` (before a save,
 * after a load), `checkRoundMoney`, `checkHeldMoney` or `checkMarketplaceMoney`. Never expected in a ledger built only through
 * `postTransaction`; it means corrupted storage or a bug.
 */
export interface LedgerInvariantViolatedError {
  readonly type: "ledger_invariant_violated";
  readonly code: "ledger_invariant_violated";
  readonly message: string;
  readonly invariant: LedgerInvariant;
}

/** Every expected failure of the ledger module, tagged by `type` (equal to its stable `code`). */
export type LedgerError =
  | TooFewPostingsError
  | TooManyPostingsError
  | NonPositiveAmountError
  | UnbalancedTransactionError
  | InvalidTransactionIdError
  | InvalidAccountIdError
  | InvalidOccurredAtError
  | InvalidRefsError
  | DuplicateTransactionConflictError
  | BalanceOverflowError
  | LedgerInvariantViolatedError;

/** The stable codes of {@link LedgerError}. */
export type LedgerErrorCode = LedgerError["code"];

const ECHO_MAX_CHARS = 64;

function echo(text: string): string {
  return textLength(text) > ECHO_MAX_CHARS ? `${clipText(text, ECHO_MAX_CHARS)}…` : text;
}

/** Builds a {@link TooFewPostingsError}. */
export function tooFewPostings(transactionId: string, postingCount: number): TooFewPostingsError {
  return {
    type: "too_few_postings",
    code: "too_few_postings",
    message: `transaction ${echo(transactionId)} has ${postingCount} postings, needs at least 2`,
    transactionId: echo(transactionId),
    postingCount,
  };
}

/** Builds a {@link TooManyPostingsError}. */
export function tooManyPostings(
  transactionId: string,
  postingCount: number,
  maximum: number,
): TooManyPostingsError {
  return {
    type: "too_many_postings",
    code: "too_many_postings",
    message: `transaction ${echo(transactionId)} has ${postingCount} postings, at most ${maximum}`,
    transactionId: echo(transactionId),
    postingCount,
  };
}

/** Builds a {@link NonPositiveAmountError}. */
export function nonPositiveAmount(
  transactionId: string,
  account: string,
  amountMinor: number,
): NonPositiveAmountError {
  return {
    type: "non_positive_amount",
    code: "non_positive_amount",
    message: `transaction ${echo(transactionId)} posts ${amountMinor} to ${echo(account)}; amounts must be positive`,
    transactionId: echo(transactionId),
    account: echo(account),
    amountMinor,
  };
}

/** Builds an {@link UnbalancedTransactionError}. */
export function unbalancedTransaction(
  transactionId: string,
  currency: CurrencyCode,
  debitsMinor: number,
  creditsMinor: number,
): UnbalancedTransactionError {
  return {
    type: "unbalanced_transaction",
    code: "unbalanced_transaction",
    message: `transaction ${echo(transactionId)} debits ${debitsMinor} and credits ${creditsMinor} in ${currency}`,
    transactionId: echo(transactionId),
    currency,
    debitsMinor,
    creditsMinor,
  };
}

/** Builds an {@link InvalidTransactionIdError}. */
export function invalidTransactionId(transactionId: string, reason: string): InvalidTransactionIdError {
  return {
    type: "invalid_transaction_id",
    code: "invalid_transaction_id",
    message: `invalid transaction id ${JSON.stringify(echo(transactionId))}: ${reason}`,
    transactionId: echo(transactionId),
  };
}

/** Builds an {@link InvalidAccountIdError}. */
export function invalidAccountId(account: string, reason: string): InvalidAccountIdError {
  return {
    type: "invalid_account_id",
    code: "invalid_account_id",
    message: `invalid account id ${JSON.stringify(echo(account))}: ${reason}`,
    account: echo(account),
  };
}

/** Builds an {@link InvalidOccurredAtError}. */
export function invalidOccurredAt(transactionId: string, occurredAt: number): InvalidOccurredAtError {
  return {
    type: "invalid_occurred_at",
    code: "invalid_occurred_at",
    message: `transaction ${echo(transactionId)}: occurredAt ${String(occurredAt)} is not a non-negative integer of epoch ms`,
    transactionId: echo(transactionId),
    occurredAt,
  };
}

/** Builds an {@link InvalidRefsError}. */
export function invalidRefs(transactionId: string, reason: string): InvalidRefsError {
  return {
    type: "invalid_refs",
    code: "invalid_refs",
    message: `transaction ${echo(transactionId)}: invalid refs: ${reason}`,
    transactionId: echo(transactionId),
  };
}

/** Builds a {@link DuplicateTransactionConflictError}. */
export function duplicateTransactionConflict(transactionId: string): DuplicateTransactionConflictError {
  return {
    type: "duplicate_transaction_conflict",
    code: "duplicate_transaction_conflict",
    message: `transaction ${echo(transactionId)} is already in the ledger with different content`,
    transactionId: echo(transactionId),
  };
}

/** Builds a {@link BalanceOverflowError}. */
export function balanceOverflow(transactionId: string, currency: CurrencyCode): BalanceOverflowError {
  return {
    type: "balance_overflow",
    code: "balance_overflow",
    message: `transaction ${echo(transactionId)} would take a ${currency} balance out of the safe integer range`,
    transactionId: echo(transactionId),
    currency,
  };
}

/** Builds a {@link LedgerInvariantViolatedError}. */
export function ledgerInvariantViolated(
  invariant: LedgerInvariant,
  detail: string,
): LedgerInvariantViolatedError {
  return {
    type: "ledger_invariant_violated",
    code: "ledger_invariant_violated",
    message: `ledger invariant ${invariant} violated: ${detail}`,
    invariant,
  };
}
