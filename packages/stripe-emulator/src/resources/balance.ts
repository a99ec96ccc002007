import type Stripe from "stripe";
import type { Engine } from "../core/engine.js";
import { stringKey } from "../core/store.js";
import { matchesRange, optString } from "../http/params.js";
import { listOf, pageRequest } from "../http/render.js";
import type { Router } from "../http/router.js";

/** The balance of an account: available and pending per currency, from its transactions. */
export function balanceOf(engine: Engine, account: string): Stripe.Balance {
  const currencies = engine.ledger.currencies(account);
  if (currencies.length === 0) currencies.push("aud");
  const available: Stripe.Balance.Available[] = [];
  const pending: Stripe.Balance.Pending[] = [];
  for (const currency of currencies) {
    const amounts = engine.ledger.amounts(account, currency);
    available.push({ amount: amounts.available, currency, source_types: { card: amounts.available } });
    pending.push({ amount: amounts.pending, currency, source_types: { card: amounts.pending } });
  }
  const balance: Stripe.Balance = { object: "balance", available, livemode: false, pending };
  if (account === engine.platform) {
    balance.connect_reserved = currencies.map((currency) => ({ amount: 0, currency }));
  }
  return balance;
}

export function registerBalance(router: Router, engine: Engine): void {
  engine.store.defineIndex<Stripe.BalanceTransaction>(
    "balance_transaction",
    "source",
    stringKey((t) => t.source),
  );
  router.get("/v1/balance", (req) => balanceOf(engine, req.account));

  router.get(
    "/v1/balance_transactions/:id",
    (req) =>
      engine.store.get<Stripe.BalanceTransaction>(
        "balance_transaction",
        req.pathParams.id!,
        req.account,
        "balance_transaction",
      ).obj,
  );

  router.get("/v1/balance_transactions", (req) => {
    const type = optString(req.params, "type");
    const source = optString(req.params, "source");
    const currency = optString(req.params, "currency");
    const page = engine.store.page<Stripe.BalanceTransaction>(
      "balance_transaction",
      req.account,
      pageRequest(req.params),
      (r) =>
        (type === undefined || r.obj.type === type) &&
        (source === undefined || r.obj.source === source) &&
        (currency === undefined || r.obj.currency === currency) &&
        matchesRange(r.obj.created, req.params, "created"),
      [["source", source]],
    );
    return listOf("/v1/balance_transactions", page);
  });
}
