// The notification delivery loop reports its passes to the job counter: a pass that throws
// is counted `crashed`, which the SusuSchedulerJobsFailing alert watches.
import { describe, expect, it, vi } from "vitest";
import { startNotificationDeliveries } from "../src/jobs/notification-deliveries.js";
import { createLogger } from "../src/logger.js";
import { createSchedulerMetrics } from "../src/metrics.js";

describe("the notification delivery loop's job counter", () => {
  it("counts passes that crash, find nothing and settle deliveries", async () => {
    const metrics = createSchedulerMetrics({ defaultMetrics: false });
    let calls = 0;
    const worker = {
      runOnce: async () => {
        calls += 1;
        if (calls === 1) throw new Error("mail server unreachable");
        if (calls === 2)
          return [{ id: "d1", channel: "email", outcome: "sent" }] as unknown as Awaited<
            ReturnType<Parameters<typeof startNotificationDeliveries>[0]["runOnce"]>
          >;
        return [];
      },
    };
    const loop = startNotificationDeliveries(worker, {
      intervalMs: 10,
      log: createLogger("silent", "deliveries-test"),
      metrics,
    });
    try {
      await vi.waitFor(() => expect(calls).toBeGreaterThanOrEqual(3), { timeout: 10_000 });
    } finally {
      await loop.stop();
    }
    const text = await metrics.metrics.registry.metrics();
    expect(text).toContain(
      'susu_scheduler_job_runs_total{task="notification_deliveries",outcome="crashed"} 1',
    );
    expect(text).toContain(
      'susu_scheduler_job_runs_total{task="notification_deliveries",outcome="worked"} 1',
    );
    expect(text).toMatch(
      /susu_scheduler_job_runs_total\{task="notification_deliveries",outcome="idle"\} [1-9]/,
    );
  });
});

describe("stopping the notification delivery loop", () => {
  it("tells the worker to claim no more before it waits for the pass in progress", async () => {
    const events: string[] = [];
    let finishPass: () => void = () => undefined;
    const worker = {
      runOnce: () =>
        new Promise<never[]>((resolve) => {
          events.push("pass started");
          finishPass = () => {
            events.push("pass ended");
            resolve([]);
          };
        }),
      stopClaiming: () => {
        events.push("claiming stopped");
        // The worker's pass ends once its sends in flight are recorded.
        setTimeout(() => finishPass(), 10);
      },
    };
    const loop = startNotificationDeliveries(worker, {
      intervalMs: 10,
      log: createLogger("silent", "deliveries-test"),
    });
    await vi.waitFor(() => expect(events).toContain("pass started"));
    await loop.stop();
    expect(events).toEqual(["pass started", "claiming stopped", "pass ended"]);
  });
});
