import { type PaymentGateway, type PayoutRunReport, type UseCaseDeps, useCases } from "@susu/domain";
import type PgBoss from "pg-boss";
import type { Logger } from "../logger.js";
import { type SchedulerMetrics, timedJob } from "../metrics.js";
import { countPausedPayouts, countSkippedPayouts } from "./payout-skips.js";

/** The pg-boss queue (and cron) of the payout run. */
export const PAY_OUT_BALANCES_QUEUE = "pay-out-balances";

/**
 * Rechecks at Stripe the payouts still in flight or recently paid (a `payout.failed` whose
 * webhook was lost is applied as the webhook would, once), then pays every seller's
 * available balance out to their bank when their account is on the manual schedule at Stripe
 * (whatever SUSU_CONNECTED_PAYOUT_SCHEDULE says now; accounts Stripe pays out by itself are logged),
 * keyed by today's UTC date: run twice the same day, by two schedulers or a retry, it pays
 * nothing twice. A person the run could not pay is logged and tried again by the next run.
 * A balance skipped (refused by the provider: the person is told and the admins ticketed by
 * the run; or kept for reversals) is logged and counted (`susu_payouts_skipped_total`).
 * While an operator has paused payouts (POST /v1/operations/payouts/pause) the run pays no one
 * (the platform's pause) or skips the paused person, logged with the pause's reason and
 * counted (`susu_payouts_paused_total`).
 */
export async function payOutBalances(
  deps: UseCaseDeps,
  gateway: PaymentGateway,
  log: Logger,
  metrics?: SchedulerMetrics,
): Promise<PayoutRunReport> {
  const run = await useCases.payOutEveryone(deps, gateway, deps.clock.now());
  if (run.isErr()) throw new Error(`payout run failed: ${run.error.code}: ${run.error.message}`);
  const report = run.value;
  for (const r of report.rechecked.requests.found)
    log.warn(
      { key: r.key, payoutId: r.payoutId },
      "payout request found at Stripe by its key: its answer had been lost",
    );
  for (const key of report.rechecked.requests.notMade)
    log.info({ key }, "payout request closed: Stripe made no payout under its key");
  for (const f of report.rechecked.requests.failed)
    log.warn({ key: f.key, code: f.code, detail: f.message }, "payout request lookup failed");
  for (const c of report.rechecked.changed)
    log.warn(
      { payoutId: c.payoutId, detail: c.detail },
      "payout rechecked at Stripe: moved on without its webhook",
    );
  for (const f of report.rechecked.failed)
    log.warn({ payoutId: f.payoutId, code: f.code, detail: f.message }, "payout recheck failed");
  const pause = report.platformPause;
  if (pause !== undefined)
    log.warn(
      { reason: pause.reason, pausedBy: pause.pausedBy, pausedAt: new Date(pause.pausedAt).toISOString() },
      "payout run paused: no payout asked for until an operator resumes payouts",
    );
  for (const p of report.paused)
    log.warn(
      { personId: p.personId, reason: p.reason, pausedBy: p.pausedBy },
      "payouts paused for this person: skipped",
    );
  if (metrics !== undefined) countPausedPayouts(metrics.metrics.registry, report);
  for (const a of report.automatic)
    log.info({ personId: a.personId, detail: a.message }, "payout left to Stripe's automatic schedule");
  for (const p of report.payouts)
    log.info(
      { payoutId: p.payoutId, amountMinor: p.amount.amountMinor, currency: p.amount.currency },
      "payout made",
    );
  for (const s of report.skipped)
    log.warn(
      { personId: s.personId, currency: s.amount.currency, amountMinor: s.amount.amountMinor, code: s.code },
      "payout skipped",
    );
  if (metrics !== undefined) countSkippedPayouts(metrics.metrics.registry, report);
  for (const f of report.failed)
    log.error({ personId: f.personId, code: f.code, detail: f.message }, "payout failed");
  return report;
}

/** Schedules the payout run's cron and works its queue (`cron` is never `off`: `readSchedulerEnv` refuses it). */
export async function schedulePayOutBalances(
  boss: PgBoss,
  deps: UseCaseDeps,
  gateway: PaymentGateway,
  log: Logger,
  cron: string,
  metrics?: SchedulerMetrics,
): Promise<void> {
  await boss.createQueue(PAY_OUT_BALANCES_QUEUE, { name: PAY_OUT_BALANCES_QUEUE, policy: "singleton" });
  await boss.schedule(PAY_OUT_BALANCES_QUEUE, cron, undefined, { tz: "UTC" });
  await boss.work(PAY_OUT_BALANCES_QUEUE, async () => {
    // Counted as job `pay_out_balances`: `paid`, `nothing_due`, `paused` (the platform's payouts), `partly_failed`, or `crashed`.
    await timedJob(
      metrics,
      "pay_out_balances",
      () => payOutBalances(deps, gateway, log, metrics),
      (r) =>
        r.failed.length > 0
          ? "partly_failed"
          : r.platformPause !== undefined
            ? "paused"
            : r.payouts.length > 0
              ? "paid"
              : "nothing_due",
    );
  });
}
