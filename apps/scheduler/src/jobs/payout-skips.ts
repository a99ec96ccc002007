import type { PayoutRunReport } from "@susu/domain";
import { Counter, type Registry } from "prom-client";

const counters = new WeakMap<Registry, Counter<"code">>();

/**
 * `susu_payouts_skipped_total{code}`: balances a payout run did not pay out, by why — the
 * provider's refusal code (`payouts_not_allowed`, `no_external_account`, …),
 * `reserved_for_reversals` (kept for reversals of the seller's transfers),
 * `bank_account_errored` (a payout to the currency's bank account failed: nothing is paid to it
 * until the person updates it) or `idempotency_key_reused` (money that arrived after the day's payout). Created once per
 * registry; label values are provider codes and susu's words, never ids.
 */
export function countSkippedPayouts(registry: Registry, report: PayoutRunReport): void {
  let skipped = counters.get(registry);
  if (skipped === undefined) {
    skipped = new Counter({
      name: "susu_payouts_skipped_total",
      help: "Balances a payout run did not pay out, by why: the provider's refusal code, reserved_for_reversals, bank_account_errored, or idempotency_key_reused.",
      labelNames: ["code"] as const,
      registers: [registry],
    });
    counters.set(registry, skipped);
  }
  for (const s of report.skipped) skipped.inc({ code: s.code });
}
