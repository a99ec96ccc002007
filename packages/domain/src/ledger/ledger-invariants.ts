import { err, ok, type Result } from "neverthrow";
import { type CurrencyCode, isCurrencyCode } from "../money/index.js";
import { type LedgerError, ledgerInvariantViolated } from "./ledger.errors.js";
import type { Ledger, TrialBalanceLine } from "./ledger.js";
import { type LedgerAccountId, validateLedgerTransaction } from "./ledger-transaction.js";

type MutableLine = { debitsMinor: number; creditsMinor: number };

const balanceKey = (account: LedgerAccountId, currency: CurrencyCode) => `${currency} ${account}`;

function sameBalances(
  stored: Ledger["balancesMinor"],
  recomputed: ReadonlyMap<string, number>,
): string | undefined {
  const seen = new Set<string>();
  for (const [account, byCurrency] of stored) {
    for (const [currency, amountMinor] of byCurrency) {
      const key = balanceKey(account, currency);
      seen.add(key);
      if ((recomputed.get(key) ?? 0) !== amountMinor) {
        return `${account} holds ${amountMinor} ${currency}, transactions say ${recomputed.get(key) ?? 0}`;
      }
    }
  }
  for (const [key, amountMinor] of recomputed) {
    if (!seen.has(key) && amountMinor !== 0)
      return `no stored balance for ${key}, transactions say ${amountMinor}`;
  }
  return undefined;
}

function sameTotals(
  stored: ReadonlyMap<CurrencyCode, TrialBalanceLine>,
  recomputed: ReadonlyMap<CurrencyCode, MutableLine>,
): string | undefined {
  const currencies = new Set([...stored.keys(), ...recomputed.keys()]);
  for (const currency of currencies) {
    const a = stored.get(currency) ?? { debitsMinor: 0, creditsMinor: 0 };
    const b = recomputed.get(currency) ?? { debitsMinor: 0, creditsMinor: 0 };
    if (a.debitsMinor !== b.debitsMinor || a.creditsMinor !== b.creditsMinor) {
      return `${currency} totals stored ${a.debitsMinor}/${a.creditsMinor}, transactions say ${b.debitsMinor}/${b.creditsMinor}`;
    }
  }
  return undefined;
}

/**
 * Proves a ledger sound by recomputing everything from its transactions, on a path
 * independent of `postTransaction`: every transaction valid and balanced, ids unique,
 * debits equal credits per currency in total, and the stored balances, totals and id
 * index equal to the recomputed ones. Run it in pairs — before a ledger is saved and
 * after it is loaded — and after every step in property tests. O(postings).
 *
 * Returns the ledger unchanged, or `ledger_invariant_violated` naming the invariant.
 */
export function checkLedgerInvariants(ledger: Ledger): Result<Ledger, LedgerError> {
  const balances = new Map<string, number>();
  const totals = new Map<CurrencyCode, MutableLine>();
  const ids = new Set<string>();

  for (const tx of ledger.transactions) {
    // Data read from storage may be anything: refuse it here rather than let the
    // transaction checks throw on what they treat as a bug.
    const malformed = tx.postings.find(
      (p) =>
        (p.side !== "debit" && p.side !== "credit") ||
        !Number.isSafeInteger(p.amount.amountMinor) ||
        !isCurrencyCode(p.amount.currency),
    );
    if (malformed !== undefined) {
      return err(
        ledgerInvariantViolated("transaction_invalid", `transaction ${tx.id} has a malformed posting`),
      );
    }
    const valid = validateLedgerTransaction(tx);
    if (valid.isErr()) return err(ledgerInvariantViolated("transaction_invalid", valid.error.message));
    if (ids.has(tx.id))
      return err(ledgerInvariantViolated("duplicate_transaction_id", `id ${tx.id} appears twice`));
    ids.add(tx.id);
    for (const { account, side, amount } of tx.postings) {
      const key = balanceKey(account, amount.currency);
      const signedMinor = side === "debit" ? amount.amountMinor : -amount.amountMinor;
      balances.set(key, (balances.get(key) ?? 0) + signedMinor);
      const line = totals.get(amount.currency) ?? { debitsMinor: 0, creditsMinor: 0 };
      if (side === "debit") line.debitsMinor += amount.amountMinor;
      else line.creditsMinor += amount.amountMinor;
      totals.set(amount.currency, line);
    }
  }

  for (const [currency, line] of totals) {
    if (!Number.isSafeInteger(line.debitsMinor) || line.debitsMinor !== line.creditsMinor) {
      return err(
        ledgerInvariantViolated(
          "totals_unbalanced",
          `${currency} debits ${line.debitsMinor} and credits ${line.creditsMinor}`,
        ),
      );
    }
  }
  const totalsProblem = sameTotals(ledger.totals, totals);
  if (totalsProblem !== undefined) return err(ledgerInvariantViolated("totals_disagree", totalsProblem));
  const balancesProblem = sameBalances(ledger.balancesMinor, balances);
  if (balancesProblem !== undefined)
    return err(ledgerInvariantViolated("balances_disagree", balancesProblem));

  if (ledger.positionById.size !== ledger.transactions.length) {
    return err(
      ledgerInvariantViolated("index_disagrees", "the id index and the transactions differ in size"),
    );
  }
  for (const [id, position] of ledger.positionById) {
    if (ledger.transactions[position]?.id !== id) {
      return err(ledgerInvariantViolated("index_disagrees", `id ${id} does not point at its transaction`));
    }
  }
  return ok(ledger);
}
