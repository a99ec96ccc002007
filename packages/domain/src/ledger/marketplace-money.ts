import { err, ok, type Result } from "neverthrow";
import type { CurrencyCode } from "../money/index.js";
import { type LedgerError, ledgerInvariantViolated } from "./ledger.errors.js";
import type { Ledger } from "./ledger.js";
import { marketplaceAccounts } from "./marketplace-movements.js";

/**
 * Where a marketplace charge's money is, read from ledger balances, in minor units of one
 * currency. In a sound ledger `paidInMinor + platformFundedMinor + owedByCustomerMinor === inFlightMinor +
 * sellerPayableMinor + sellersMinor + feesMinor + refundedMinor + disputeLostMinor +
 * owedToCustomerMinor + paidOutsideStripeMinor`.
 */
export interface MarketplaceMoney {
  readonly chargeId: string;
  readonly currency: CurrencyCode;
  /** What the customer paid (captured). */
  readonly paidInMinor: number;
  /** The platform's own money spent on refunds and losses nobody gave back. */
  readonly platformFundedMinor: number;
  /** Money on its way through the platform: zero when nothing is (see marketplace-movements.ts). */
  readonly inFlightMinor: number;
  /** Sellers' shares not yet transferred, all sellers together. */
  readonly sellerPayableMinor: number;
  /** Paid to each seller, net. */
  readonly sellerMinor: Readonly<Record<string, number>>;
  /** Paid to all sellers, net. */
  readonly sellersMinor: number;
  /** The platform's fee, net. */
  readonly feesMinor: number;
  readonly refundedMinor: number;
  readonly disputeLostMinor: number;
  /** Owed to the customer outside Stripe (a refund's rest Stripe refuses after a lost dispute). */
  readonly owedToCustomerMinor: number;
  /** Paid to the customer outside Stripe (an admin recorded it) of what was owed to them. */
  readonly paidOutsideStripeMinor: number;
  /** What the customer owes back: paid outside Stripe by an admin, and given back by their bank too (a lost dispute). */
  readonly owedByCustomerMinor: number;
}

/** Reads {@link MarketplaceMoney} for a charge and its sellers. O(sellers). */
export function marketplaceMoney(
  ledger: Ledger,
  chargeId: string,
  sellerIds: readonly string[],
  currency: CurrencyCode,
): MarketplaceMoney {
  // `+ 0` turns −0 into 0, so figures compare equal to literals.
  const balance = (acc: string) => (ledger.balancesMinor.get(acc)?.get(currency) ?? 0) + 0;
  const a = marketplaceAccounts;
  const sellerMinor: Record<string, number> = {};
  let sellerPayableMinor = 0;
  for (const s of sellerIds) {
    sellerMinor[s] = balance(a.seller(chargeId, s));
    sellerPayableMinor += balance(a.sellerPayable(chargeId, s));
  }
  return {
    chargeId,
    currency,
    paidInMinor: -balance(a.paidIn(chargeId)) + 0,
    platformFundedMinor: -balance(a.platformFunded(chargeId)) + 0,
    inFlightMinor: balance(a.inFlight(chargeId)),
    sellerPayableMinor,
    sellerMinor,
    sellersMinor: Object.values(sellerMinor).reduce((x, y) => x + y, 0),
    feesMinor: balance(a.fees(chargeId)),
    refundedMinor: balance(a.refunds(chargeId)),
    disputeLostMinor: balance(a.disputeLosses(chargeId)),
    owedToCustomerMinor: balance(a.owedToCustomer(chargeId)),
    paidOutsideStripeMinor: balance(a.paidOutsideStripe(chargeId)),
    owedByCustomerMinor: -balance(a.owedByCustomer(chargeId)) + 0,
  };
}

/**
 * {@link marketplaceMoney}, asserting paid in + platform funded + owed by the customer = in flight + payables +
 * sellers + fees + refunds + dispute losses + owed to the customer + paid to them outside Stripe. Fails with `ledger_invariant_violated`
 * (`marketplace_money_unbalanced`) when a transaction touched the charge's accounts
 * without a balancing account of the same charge, or touched a seller not listed.
 */
export function checkMarketplaceMoney(
  ledger: Ledger,
  chargeId: string,
  sellerIds: readonly string[],
  currency: CurrencyCode,
): Result<MarketplaceMoney, LedgerError> {
  const m = marketplaceMoney(ledger, chargeId, sellerIds, currency);
  const inMinor = m.paidInMinor + m.platformFundedMinor + m.owedByCustomerMinor;
  const accountedMinor =
    m.inFlightMinor +
    m.sellerPayableMinor +
    m.sellersMinor +
    m.feesMinor +
    m.refundedMinor +
    m.disputeLostMinor +
    m.owedToCustomerMinor +
    m.paidOutsideStripeMinor;
  if (inMinor !== accountedMinor)
    return err(
      ledgerInvariantViolated(
        "marketplace_money_unbalanced",
        `marketplace charge ${chargeId}: ${inMinor} ${currency} in, ${accountedMinor} accounted for`,
      ),
    );
  return ok(m);
}
