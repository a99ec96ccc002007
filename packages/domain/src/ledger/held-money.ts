import { err, ok, type Result } from "neverthrow";
import type { CurrencyCode } from "../money/index.js";
import { heldAccounts } from "./held-movements.js";
import { type LedgerError, ledgerInvariantViolated } from "./ledger.errors.js";
import type { Ledger } from "./ledger.js";

/**
 * Where a held payment's money is, read from ledger balances, in minor units of one
 * currency. In a sound ledger `paidInMinor + platformFundedMinor + owedByCustomerMinor === holdMinor +
 * sellerPayableMinor + sellerMinor + feesMinor + refundedMinor + disputeLostMinor +
 * owedToCustomerMinor + paidOutsideStripeMinor`.
 */
export interface HeldMoney {
  /** The held payment. */
  readonly heldPaymentId: string;
  /** The currency of every figure. */
  readonly currency: CurrencyCode;
  /** What the customer paid (captured). */
  readonly paidInMinor: number;
  /** The platform's cash for the payment: zero once released or refunded (see held-movements.ts). */
  readonly holdMinor: number;
  /** The seller's share set aside for a transfer that has not landed. */
  readonly sellerPayableMinor: number;
  /** Transferred to the seller, net of reversals. */
  readonly sellerMinor: number;
  /** The platform fee earned, net of what was given back. */
  readonly feesMinor: number;
  /** Refunded to the customer. */
  readonly refundedMinor: number;
  /** Taken back through lost disputes. */
  readonly disputeLostMinor: number;
  /** Owed to the customer outside Stripe (a refund's rest Stripe refuses after a lost dispute). */
  readonly owedToCustomerMinor: number;
  /** Paid to the customer outside Stripe (an admin recorded it) of what was owed to them. */
  readonly paidOutsideStripeMinor: number;
  /** The platform's own money given back: a part of a step of a loss neither the seller nor the fee had. */
  readonly platformFundedMinor: number;
  /** What the customer owes back: paid outside Stripe by an admin, and given back by their bank too (a lost dispute). */
  readonly owedByCustomerMinor: number;
}

/** Reads {@link HeldMoney} from the balances of the payment's accounts. O(1). */
export function heldMoney(ledger: Ledger, heldPaymentId: string, currency: CurrencyCode): HeldMoney {
  const balance = (account: string) => (ledger.balancesMinor.get(account)?.get(currency) ?? 0) + 0;
  const a = heldAccounts;
  return {
    heldPaymentId,
    currency,
    paidInMinor: -balance(a.paidIn(heldPaymentId)) + 0,
    holdMinor: balance(a.hold(heldPaymentId)),
    sellerPayableMinor: balance(a.sellerPayable(heldPaymentId)),
    sellerMinor: balance(a.seller(heldPaymentId)),
    feesMinor: balance(a.fees(heldPaymentId)),
    refundedMinor: balance(a.refunds(heldPaymentId)),
    disputeLostMinor: balance(a.disputeLosses(heldPaymentId)),
    owedToCustomerMinor: balance(a.owedToCustomer(heldPaymentId)),
    paidOutsideStripeMinor: balance(a.paidOutsideStripe(heldPaymentId)),
    platformFundedMinor: -balance(a.platformFunded(heldPaymentId)) + 0,
    owedByCustomerMinor: -balance(a.owedByCustomer(heldPaymentId)) + 0,
  };
}

/**
 * {@link heldMoney}, asserting paid in + platform funded + owed by the customer = held + set aside + paid to the
 * seller + fees + refunds + dispute losses + owed to the customer + paid to them outside Stripe. Fails with `ledger_invariant_violated`
 * (`held_money_unbalanced`) when some transaction touched the payment's accounts
 * without a balancing account of the same payment.
 */
export function checkHeldMoney(
  ledger: Ledger,
  heldPaymentId: string,
  currency: CurrencyCode,
): Result<HeldMoney, LedgerError> {
  const m = heldMoney(ledger, heldPaymentId, currency);
  const accountedMinor =
    m.holdMinor +
    m.sellerPayableMinor +
    m.sellerMinor +
    m.feesMinor +
    m.refundedMinor +
    m.disputeLostMinor +
    m.owedToCustomerMinor +
    m.paidOutsideStripeMinor;
  if (m.paidInMinor + m.platformFundedMinor + m.owedByCustomerMinor !== accountedMinor)
    return err(
      ledgerInvariantViolated(
        "held_money_unbalanced",
        `held payment ${heldPaymentId}: ${m.paidInMinor} ${currency} paid in, ${m.platformFundedMinor} funded by the platform and ${m.owedByCustomerMinor} owed back by the customer, ${accountedMinor} accounted for`,
      ),
    );
  return ok(m);
}
