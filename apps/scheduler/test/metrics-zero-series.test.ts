// The series the alerts watch exist at 0 from the scheduler's start: `increase()` over a
// series that first appears at 1 reads 0, so the first failure after each start would not
// fire SusuSchedulerJobsFailing, SusuPayoutRunPartlyFailed or SusuTransfersFailing.
import { createMetricsRegistry } from "@susu/adapters";
import { describe, expect, it } from "vitest";
import { createSchedulerMetrics, SCHEDULER_TASKS } from "../src/metrics.js";
import { parseScrape } from "./prometheus.js";

const has = (text: string, name: string, labels: Record<string, string>) => {
  const inner = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(",");
  return text.split("\n").includes(`${name}{${inner}} 0`);
};

describe("series exported at 0 before any run", () => {
  it("every task's crashed and failed runs, the payout run's partly_failed, and failing transfers", async () => {
    const metrics = createSchedulerMetrics({ defaultMetrics: false });
    const text = await metrics.metrics.text();
    parseScrape(text);
    for (const task of [
      "outbox_pass",
      "webhook_pass",
      "notification_deliveries",
      "stuck_work_sweep",
      "dead_worker_release",
      "open_due_rounds",
      "reconciliation",
      "pay_out_balances",
      "round_timer.payout_due",
      "held_payment_timer.release_due",
      "marketplace_charge_timer.retry_transfer",
      "subscription_timer.refund_overdue",
      "subscription_timer.void_recheck",
    ]) {
      expect(SCHEDULER_TASKS).toContain(task);
      for (const outcome of ["crashed", "failed"])
        expect(has(text, "susu_scheduler_job_runs_total", { task, outcome }), `${task} ${outcome}`).toBe(
          true,
        );
    }
    expect(
      has(text, "susu_scheduler_job_runs_total", { task: "pay_out_balances", outcome: "partly_failed" }),
    ).toBe(true);
    for (const kind of ["transfer", "reverse_transfer"])
      for (const outcome of ["failed_will_retry", "parked"])
        expect(has(text, "susu_outbox_effects_settled_total", { kind, outcome }), `${kind} ${outcome}`).toBe(
          true,
        );
    // A run counts on top of the 0.
    metrics.jobRan("pay_out_balances", "partly_failed", 0.1);
    expect(
      parseScrape(await metrics.metrics.text()).value("susu_scheduler_job_runs_total", {
        task: "pay_out_balances",
        outcome: "partly_failed",
      }),
    ).toBe(1);
  });

  it("a scrape-time gauge's collect failures from its registration", async () => {
    const registry = createMetricsRegistry({ defaultMetrics: false });
    registry.registerGauge({
      name: "susu_test_depth",
      help: "A test gauge.",
      collect: async () => [{ labels: {}, value: 3 }],
    });
    registry.registerCounter({
      name: "susu_test_rows_total",
      help: "A test counter.",
      collect: async () => [],
    });
    const text = await registry.text();
    expect(has(text, "susu_gauge_collect_errors_total", { gauge: "susu_test_depth" })).toBe(true);
    expect(has(text, "susu_gauge_collect_errors_total", { gauge: "susu_test_rows_total" })).toBe(true);
  });
});
