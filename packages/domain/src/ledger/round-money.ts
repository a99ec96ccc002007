import { err, ok, type Result } from "neverthrow";
import type { CurrencyCode } from "../money/index.js";
import { type LedgerError, ledgerInvariantViolated } from "./ledger.errors.js";
import type { Ledger } from "./ledger.js";
import { roundAccountPrefix, roundAccounts } from "./round-movements.js";

/**
 * Where a round's money is, read from ledger balances, in minor units of one currency.
 * In a sound ledger `contributedMinor === inFlightMinor + heldMinor + refundedMinor +
 * owedToMemberMinor + paidOutsideStripeMinor + paidOutMinor`: money in = money still held +
 * refunds + owed to members + paid to members outside Stripe + money out.
 */
export interface RoundMoney {
  /** The round. */
  readonly roundId: string;
  /** The currency of every figure. */
  readonly currency: CurrencyCode;
  /** Contributions accepted: debits initiated minus debits failed (settled or still in flight). */
  readonly contributedMinor: number;
  /** Debits still processing: the in-flight account. */
  readonly inFlightMinor: number;
  /** Settled money the round still holds: the pot. */
  readonly heldMinor: number;
  /** Contributions refunded. */
  readonly refundedMinor: number;
  /** Paid to recipients, net of reversals. */
  readonly paidOutMinor: number;
  /** Owed to members outside Stripe (the rest of a contribution disputed in part), not paid back yet. */
  readonly owedToMemberMinor: number;
  /** Paid to members outside Stripe (an admin recorded it) of what the round owed them. */
  readonly paidOutsideStripeMinor: number;
}

function sumBalances(ledger: Ledger, prefix: string, currency: CurrencyCode): number {
  let totalMinor = 0;
  for (const [account, byCurrency] of ledger.balancesMinor) {
    if (account.startsWith(prefix)) totalMinor += byCurrency.get(currency) ?? 0;
  }
  if (!Number.isSafeInteger(totalMinor)) throw new RangeError(`balances under ${prefix} overflow`);
  return totalMinor;
}

/**
 * Reads {@link RoundMoney} from the balances of the round's accounts (chart of accounts
 * in round-movements.ts). O(accounts in the ledger).
 */
export function roundMoney(ledger: Ledger, roundId: string, currency: CurrencyCode): RoundMoney {
  const prefix = roundAccountPrefix(roundId);
  const balance = (account: string) => ledger.balancesMinor.get(account)?.get(currency) ?? 0;
  // Sums are `+ 0`-normalised so an empty round reads 0, never -0.
  return {
    roundId,
    currency,
    contributedMinor: -sumBalances(ledger, `${prefix}contributions:`, currency) + 0,
    inFlightMinor: balance(roundAccounts.inFlight(roundId)),
    heldMinor: balance(roundAccounts.pot(roundId)),
    refundedMinor: sumBalances(ledger, `${prefix}refunds:`, currency),
    paidOutMinor: sumBalances(ledger, `${prefix}payouts:`, currency),
    owedToMemberMinor: sumBalances(ledger, `${prefix}owed_to_member:`, currency),
    paidOutsideStripeMinor: sumBalances(ledger, `${prefix}paid_outside_stripe:`, currency),
  };
}

/**
 * {@link roundMoney}, asserting money in = money still held + refunds + owed to members +
 * money out.
 * Fails with `ledger_invariant_violated` (`round_money_unbalanced`) when it does not
 * hold: some transaction touched the round's accounts without a balancing round account.
 */
export function checkRoundMoney(
  ledger: Ledger,
  roundId: string,
  currency: CurrencyCode,
): Result<RoundMoney, LedgerError> {
  const m = roundMoney(ledger, roundId, currency);
  const accountedMinor =
    m.inFlightMinor +
    m.heldMinor +
    m.refundedMinor +
    m.owedToMemberMinor +
    m.paidOutsideStripeMinor +
    m.paidOutMinor;
  if (m.contributedMinor !== accountedMinor) {
    return err(
      ledgerInvariantViolated(
        "round_money_unbalanced",
        `round ${roundId}: ${m.contributedMinor} ${currency} contributed, ${accountedMinor} held, refunded, owed or paid out`,
      ),
    );
  }
  return ok(m);
}
