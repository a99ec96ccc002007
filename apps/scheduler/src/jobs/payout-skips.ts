import type { PayoutRunReport } from "@susu/domain";
import { Counter, type Registry } from "prom-client";

const counters = new WeakMap<Registry, Counter<"code">>();
const pauseCounters = new WeakMap<Registry, Counter<"scope">>();

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

/**
 * `susu_payouts_paused_total{scope}`: what an operator's pause held back in a payout run —
 * `platform`, once per run while every payout is paused (the run paid no one, or no one after
 * a pause placed while it was under way), `person`, once per person whose own payouts are
 * paused (before the run or during it). Created once per registry.
 */
export function countPausedPayouts(registry: Registry, report: PayoutRunReport): void {
  let paused = pauseCounters.get(registry);
  if (paused === undefined) {
    paused = new Counter({
      name: "susu_payouts_paused_total",
      help: "What an operator's payout pause held back in a payout run: scope platform (the run paid no one, or no one after a pause placed while it ran) once per run, person once per paused person.",
      labelNames: ["scope"] as const,
      registers: [registry],
    });
    pauseCounters.set(registry, paused);
  }
  if (report.platformPause !== undefined) paused.inc({ scope: "platform" });
  if (report.paused.length > 0) paused.inc({ scope: "person" }, report.paused.length);
}
