// What the movement builders of a payment aggregate (a held payment, a marketplace charge)
// share: each transaction checks the aggregate's id, names the aggregate in its refs, and a
// one-amount movement debits one of its accounts and credits another. Each aggregate's own
// file keeps its chart of accounts and its movements.
import { err, type Result } from "neverthrow";
import type { Money } from "../money/index.js";
import { invalidAccountId, type LedgerError } from "./ledger.errors.js";
import {
  createLedgerTransaction,
  credit,
  debit,
  type LedgerAccountId,
  type LedgerPosting,
  type LedgerTransaction,
  type LedgerTransactionKind,
} from "./ledger-transaction.js";

/** What every movement of an aggregate takes besides its aggregate's id and amounts. */
export interface AggregateMovementBase {
  /** The transaction id: a stable id from the aggregate's ids, so a repeated step posts once. */
  readonly id: string;
  /** When it happened, epoch ms. */
  readonly occurredAt: number;
  /** Extra references (Stripe ids…); the aggregate's id is always set. */
  readonly refs?: Readonly<Record<string, string>>;
}

/** An account of an aggregate, named from its id and the movement's input (a seller's, say). */
export type AccountOf<I> = (aggregateId: string, input: I) => LedgerAccountId;

/** How one aggregate's movements are built (see {@link aggregateMovements}). */
export interface AggregateMovements<B extends AggregateMovementBase> {
  /** A transaction of `postings`, refused when the aggregate's id is empty. */
  transaction(
    kind: LedgerTransactionKind,
    input: B,
    postings: readonly LedgerPosting[],
  ): Result<LedgerTransaction, LedgerError>;
  /** A builder of one-amount movements: Dr `debitAccount`, Cr `creditAccount`, both `amount`. */
  movement<I extends B & { readonly amount: Money }>(
    kind: LedgerTransactionKind,
    debitAccount: AccountOf<I>,
    creditAccount: AccountOf<I>,
  ): (input: I) => Result<LedgerTransaction, LedgerError>;
}

/**
 * The transaction and movement builders of one aggregate: `what` names it in errors
 * (`empty <what> id`), `refKey` in every transaction's refs (`heldPaymentId`), and `idOf`
 * reads its id from a movement's input.
 */
export function aggregateMovements<B extends AggregateMovementBase>(options: {
  readonly what: string;
  readonly refKey: string;
  readonly idOf: (input: B) => string;
}): AggregateMovements<B> {
  const { what, refKey, idOf } = options;
  const transaction: AggregateMovements<B>["transaction"] = (kind, input, postings) => {
    const aggregateId = idOf(input);
    if (aggregateId.length === 0) return err(invalidAccountId(aggregateId, `empty ${what} id`));
    return createLedgerTransaction({
      id: input.id,
      kind,
      postings,
      occurredAt: input.occurredAt,
      refs: { ...input.refs, [refKey]: aggregateId },
    });
  };
  return {
    transaction,
    movement: (kind, debitAccount, creditAccount) => (input) => {
      const aggregateId = idOf(input);
      return transaction(kind, input, [
        debit(debitAccount(aggregateId, input), input.amount),
        credit(creditAccount(aggregateId, input), input.amount),
      ]);
    },
  };
}

/**
 * Names the accounts of an aggregate under its prefix (`held:<p>:`):
 * `accountsUnder(heldAccountPrefix)("hold")("p1")` is `held:p1:hold`.
 */
export function accountsUnder(prefixOf: (aggregateId: string) => string) {
  return (name: string) =>
    (aggregateId: string): LedgerAccountId =>
      `${prefixOf(aggregateId)}${name}`;
}
