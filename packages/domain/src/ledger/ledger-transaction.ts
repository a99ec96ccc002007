import { err, ok, type Result } from "neverthrow";
import { textLength, textLengthWithin } from "../kernel/text.js";
import { assertMoney, type CurrencyCode, isCurrencyCode, type Money, money } from "../money/index.js";
import {
  balanceOverflow,
  invalidAccountId,
  invalidOccurredAt,
  invalidRefs,
  invalidTransactionId,
  type LedgerError,
  nonPositiveAmount,
  tooFewPostings,
  tooManyPostings,
  unbalancedTransaction,
} from "./ledger.errors.js";

/** Names an account, e.g. `"round:r1:pot"`. Any non-empty string up to {@link LEDGER_ID_MAX_CHARS}. */
export type LedgerAccountId = string;

/**
 * Which side of an account a posting is on. A balance is debits minus credits, so
 * money held (a pot, funds in flight, a receivable) has a positive balance and money's
 * sources (members' contributions) a negative one.
 */
export type PostingSide = "debit" | "credit";

/** One line of a transaction: an amount on one side of one account. */
export interface LedgerPosting {
  /** The account posted to. */
  readonly account: LedgerAccountId;
  /** Debit or credit. */
  readonly side: PostingSide;
  /** The amount, always positive: the side says the direction. */
  readonly amount: Money;
}

/** What a transaction records; one kind per money movement the platform knows. */
export type LedgerTransactionKind =
  | "debit_initiated"
  | "debit_settled"
  | "debit_failed"
  | "contribution_refunded"
  | "contribution_refund_failed"
  | "contribution_owed_to_member"
  | "contribution_paid_outside_stripe"
  | "payout_transferred"
  | "transfer_reversed"
  | "dispute_loss"
  | "dispute_reinstated"
  // a held payment's (held-movements.ts)
  | "held_captured"
  | "held_fee_earned"
  | "held_seller_payable"
  | "held_transferred"
  | "held_refunded"
  | "held_transfer_reversed"
  | "held_dispute_lost"
  | "held_owed_to_customer"
  | "held_refund_failed"
  | "held_refund_superseded"
  | "held_paid_outside_stripe"
  | "held_recovered_from_customer"
  // a marketplace charge's (marketplace-movements.ts)
  | "marketplace_captured"
  | "marketplace_fee_earned"
  | "marketplace_seller_payable"
  | "marketplace_transferred"
  | "marketplace_transfer_reversed"
  | "marketplace_application_fee_refunded"
  | "marketplace_application_fee_refund_corrected"
  | "marketplace_refunded"
  | "marketplace_dispute_lost"
  | "marketplace_owed_to_customer"
  | "marketplace_refund_failed"
  | "marketplace_paid_outside_stripe"
  | "marketplace_recovered_from_customer"
  // a membership's (membership-movements.ts)
  | "membership_invoice_paid"
  | "membership_invoice_refunded"
  | "membership_invoice_refund_failed"
  | "membership_refunded_outside_susu"
  | "membership_outside_refund_failed"
  | "membership_dispute_lost"
  | "membership_dispute_reinstated"
  // an operator's correction (manual-adjustment.ts)
  | "manual_adjustment";

/**
 * A balanced, immutable set of postings recorded at one time: in every currency the
 * debits equal the credits. Build it with {@link createLedgerTransaction}, which checks
 * that, or with a round-movement builder.
 */
export interface LedgerTransaction {
  /** Unique in a ledger; usually the id of the effect that moved the money, so a retry posts it once. */
  readonly id: string;
  /** What the transaction records. */
  readonly kind: LedgerTransactionKind;
  /** At least two postings, balanced per currency. */
  readonly postings: readonly LedgerPosting[];
  /** When the movement happened, in epoch milliseconds (from the Clock port). */
  readonly occurredAt: number;
  /** Ids of what the transaction concerns (`roundId`, `memberId`, Stripe ids): for audit and lookup. */
  readonly refs: Readonly<Record<string, string>>;
}

/** What {@link createLedgerTransaction} takes. */
export interface LedgerTransactionInput {
  /** See {@link LedgerTransaction.id}. */
  readonly id: string;
  /** See {@link LedgerTransaction.kind}. */
  readonly kind: LedgerTransactionKind;
  /** See {@link LedgerTransaction.postings}. */
  readonly postings: readonly LedgerPosting[];
  /** See {@link LedgerTransaction.occurredAt}. */
  readonly occurredAt: number;
  /** See {@link LedgerTransaction.refs}; none when omitted. */
  readonly refs?: Readonly<Record<string, string>>;
}

/**
 * Longest transaction id or account id. Ids hold person ids (up to 255 characters, a token's
 * subject, with `:` and `%` escaped to three characters in account ids) beside a round's or a
 * charge's id: `round:<r>:contributions:<m>` reaches about 900. Stored as text; an effect id
 * sent to Stripe as an idempotency key is shortened to Stripe's 255 by the adapter.
 */
export const LEDGER_ID_MAX_CHARS = 1_024;
/** Most postings in one transaction. */
export const LEDGER_POSTINGS_MAX = 1_000;
/** Most entries in a transaction's `refs`. */
export const LEDGER_REFS_MAX = 32;
/** Longest `refs` key. */
export const LEDGER_REF_KEY_MAX_CHARS = 64;
/** Longest `refs` value. */
export const LEDGER_REF_VALUE_MAX_CHARS = 255;

/** A debit posting of `amount` to `account`. */
export function debit(account: LedgerAccountId, amount: Money): LedgerPosting {
  return { account, side: "debit", amount };
}

/** A credit posting of `amount` to `account`. */
export function credit(account: LedgerAccountId, amount: Money): LedgerPosting {
  return { account, side: "credit", amount };
}

/** Checks an account id: non-empty and at most {@link LEDGER_ID_MAX_CHARS} characters. */
export function checkAccountId(account: string): Result<LedgerAccountId, LedgerError> {
  if (account.length === 0) return err(invalidAccountId(account, "empty"));
  if (textLength(account) > LEDGER_ID_MAX_CHARS) {
    return err(invalidAccountId(account, `longer than ${LEDGER_ID_MAX_CHARS} characters`));
  }
  return ok(account);
}

function assertPostingShape(posting: LedgerPosting): void {
  // A side or currency outside the types is a bug in the caller (the types forbid it).
  if (posting.side !== "debit" && posting.side !== "credit") {
    throw new TypeError(`ledger posting side must be "debit" or "credit", got ${String(posting.side)}`);
  }
  assertMoney(posting.amount);
  if (!isCurrencyCode(posting.amount.currency)) {
    throw new TypeError(`ledger posting currency ${String(posting.amount.currency)} is not supported`);
  }
}

function checkRefs(transactionId: string, refs: Readonly<Record<string, string>>): Result<void, LedgerError> {
  const entries = Object.entries(refs);
  if (entries.length > LEDGER_REFS_MAX)
    return err(invalidRefs(transactionId, `more than ${LEDGER_REFS_MAX}`));
  for (const [key, value] of entries) {
    if (!textLengthWithin(key, 1, LEDGER_REF_KEY_MAX_CHARS)) {
      return err(invalidRefs(transactionId, `key length must be 1..${LEDGER_REF_KEY_MAX_CHARS}`));
    }
    if (typeof value !== "string" || !textLengthWithin(value, 1, LEDGER_REF_VALUE_MAX_CHARS)) {
      return err(
        invalidRefs(transactionId, `value of ${key} must be a string of 1..${LEDGER_REF_VALUE_MAX_CHARS}`),
      );
    }
  }
  return ok(undefined);
}

/**
 * Checks everything a transaction must satisfy, on the value as it is: the id, the
 * time, 2 to {@link LEDGER_POSTINGS_MAX} postings with valid accounts and positive
 * amounts, balanced in every currency, and valid refs. `createLedgerTransaction` runs
 * it on input; `postTransaction` and `checkLedgerInvariants` run it again, since a
 * transaction read from storage or built by hand never went through the first.
 */
export function validateLedgerTransaction(tx: LedgerTransactionInput): Result<void, LedgerError> {
  if (tx.id.length === 0) return err(invalidTransactionId(tx.id, "empty"));
  if (textLength(tx.id) > LEDGER_ID_MAX_CHARS) {
    return err(invalidTransactionId(tx.id, `longer than ${LEDGER_ID_MAX_CHARS} characters`));
  }
  if (!Number.isSafeInteger(tx.occurredAt) || tx.occurredAt < 0)
    return err(invalidOccurredAt(tx.id, tx.occurredAt));
  if (tx.postings.length < 2) return err(tooFewPostings(tx.id, tx.postings.length));
  if (tx.postings.length > LEDGER_POSTINGS_MAX) {
    return err(tooManyPostings(tx.id, tx.postings.length, LEDGER_POSTINGS_MAX));
  }

  const totals = new Map<CurrencyCode, { debitsMinor: number; creditsMinor: number }>();
  for (const posting of tx.postings) {
    assertPostingShape(posting);
    const account = checkAccountId(posting.account);
    if (account.isErr()) return err(account.error);
    const { amountMinor, currency } = posting.amount;
    if (amountMinor <= 0) return err(nonPositiveAmount(tx.id, posting.account, amountMinor));
    const line = totals.get(currency) ?? { debitsMinor: 0, creditsMinor: 0 };
    if (posting.side === "debit") line.debitsMinor += amountMinor;
    else line.creditsMinor += amountMinor;
    if (!Number.isSafeInteger(line.debitsMinor) || !Number.isSafeInteger(line.creditsMinor)) {
      return err(balanceOverflow(tx.id, currency));
    }
    totals.set(currency, line);
  }
  for (const [currency, line] of totals) {
    if (line.debitsMinor !== line.creditsMinor) {
      return err(unbalancedTransaction(tx.id, currency, line.debitsMinor, line.creditsMinor));
    }
  }
  return checkRefs(tx.id, tx.refs ?? {});
}

/**
 * Makes a transaction after checking it (see {@link validateLedgerTransaction}). Fails
 * with `invalid_transaction_id`, `invalid_occurred_at`, `too_few_postings` (none or one),
 * `too_many_postings`, `invalid_account_id`, `non_positive_amount`,
 * `unbalanced_transaction` (debits ≠ credits in some currency), `balance_overflow` or
 * `invalid_refs`. The result is a frozen copy: later changes to the input do not reach it.
 */
export function createLedgerTransaction(
  input: LedgerTransactionInput,
): Result<LedgerTransaction, LedgerError> {
  const valid = validateLedgerTransaction(input);
  if (valid.isErr()) return err(valid.error);
  const postings = input.postings.map((p) =>
    Object.freeze({
      account: p.account,
      side: p.side,
      amount: money(p.amount.amountMinor, p.amount.currency),
    }),
  );
  return ok(
    Object.freeze({
      id: input.id,
      kind: input.kind,
      postings: Object.freeze(postings),
      occurredAt: input.occurredAt,
      refs: Object.freeze({ ...(input.refs ?? {}) }),
    }),
  );
}

function sameRefs(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const aKeys = Object.keys(a);
  if (aKeys.length !== Object.keys(b).length) return false;
  return aKeys.every((key) => Object.hasOwn(b, key) && a[key] === b[key]);
}

/**
 * Whether two transactions record the same thing: same id, kind, time, refs (in any
 * key order), and the same postings in the same order. The ledger uses it to tell a
 * retried post (a no-op) from a conflicting one.
 */
export function sameTransactionContent(a: LedgerTransaction, b: LedgerTransaction): boolean {
  if (a.id !== b.id || a.kind !== b.kind || a.occurredAt !== b.occurredAt) return false;
  if (a.postings.length !== b.postings.length || !sameRefs(a.refs, b.refs)) return false;
  return a.postings.every((p, i) => {
    const q = b.postings[i];
    return (
      q !== undefined &&
      p.account === q.account &&
      p.side === q.side &&
      p.amount.amountMinor === q.amount.amountMinor &&
      p.amount.currency === q.amount.currency
    );
  });
}
