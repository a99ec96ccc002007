import type Stripe from "stripe";
import type { Engine } from "./engine.js";
import { decimals } from "./money.js";

/** The currency an account's balance settles in: a connected account's `default_currency`, or the platform's. */
export function settlementCurrency(engine: Engine, owner: string): string {
  if (owner === engine.platform) return engine.options.settlementCurrency;
  return (
    engine.store.record<Stripe.Account>(owner)?.obj.default_currency ?? engine.options.settlementCurrency
  );
}

/** The rate Stripe reports as `exchange_rate`: `from`'s amount times it is `to`'s amount (major units). */
export function exchangeRate(engine: Engine, from: string, to: string): number {
  const rates = engine.options.exchangeRates;
  return (rates[to] ?? rates.usd ?? 1) / (rates[from] ?? rates.usd ?? 1);
}

export interface Settled {
  amount: number;
  currency: string;
  /** Null when no conversion took place. */
  exchangeRate: number | null;
}

/**
 * An amount in a charge's currency as it lands in `owner`'s balance: unchanged in the settlement
 * currency, otherwise converted (at `rate` when given, e.g. a charge's own rate for its refunds).
 */
export function toSettlement(
  engine: Engine,
  owner: string,
  amount: number,
  currency: string,
  rate?: number | null,
): Settled {
  const target = settlementCurrency(engine, owner);
  if (currency === target) return { amount, currency, exchangeRate: null };
  const used = rate ?? exchangeRate(engine, currency, target);
  const converted = Math.round((amount / 10 ** decimals(currency)) * used * 10 ** decimals(target));
  return { amount: converted, currency: target, exchangeRate: used };
}

/** How a charge settled: its balance transaction's currency and rate, for refunds and disputes. */
export function chargeSettlement(
  engine: Engine,
  charge: Stripe.Charge,
): { currency: string; rate: number | null } {
  const txn =
    typeof charge.balance_transaction === "string"
      ? engine.store.record<Stripe.BalanceTransaction>(charge.balance_transaction)?.obj
      : undefined;
  return txn
    ? { currency: txn.currency, rate: txn.exchange_rate }
    : { currency: charge.currency, rate: null };
}

/** An amount of a charge's currency converted like the charge itself was. */
export function asCharge(engine: Engine, owner: string, charge: Stripe.Charge, amount: number): Settled {
  const { rate } = chargeSettlement(engine, charge);
  return toSettlement(engine, owner, amount, charge.currency, rate);
}
