// The scheduler's metrics on real PostgreSQL: webhook events applied, ignored and parked
// move their counters (and the lag), and /metrics serves text a Prometheus parser accepts.
import {
  type MetricsServer,
  PrismaSupportDesk,
  PrismaWebhookInbox,
  serveMetrics,
  type WebhookProcessorContext,
} from "@susu/adapters";
import {
  debitEvent,
  ScriptedStripeReads,
  seedRound,
  stripeEvent,
  useTestDatabase,
} from "@susu/adapters/testing";
import { useCaseDepsOn } from "@susu/domain";
import { InMemoryStore, ManualClock, SequentialIds } from "@susu/domain/testing";
import { afterEach, describe, expect, it } from "vitest";
import { startWebhookProcessor } from "../src/jobs/webhook-processor.js";
import { createLogger } from "../src/logger.js";
import { createSchedulerMetrics } from "../src/metrics.js";
import { histogramOf, parseScrape } from "./prometheus.js";

const db = useTestDatabase();
const log = createLogger("silent", "metrics-test");

const servers: MetricsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function scrape(server: MetricsServer) {
  const res = await fetch(server.url);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  return parseScrape(await res.text());
}

describe("scheduler metrics", () => {
  it("count webhook events applied, ignored and parked by type, with the lag of the applied one", async () => {
    const clock = new ManualClock(Date.UTC(2026, 6, 1));
    const store = new InMemoryStore();
    const [groupId, roundId] = ["grp_metrics", "round_metrics"];
    await seedRound(store, { groupId, roundId, memberIds: ["ana", "ben"] });
    const reads = new ScriptedStripeReads();
    // A dispute on a payment Stripe says does not exist: retrying cannot help, parked at once.
    reads.references.set("pi_gone", {
      type: "gateway_definite",
      code: "resource_missing",
      message: "No such",
    });
    const inbox = new PrismaWebhookInbox(db.prisma, clock);
    const ctx: WebhookProcessorContext = {
      deps: useCaseDepsOn(store, { clock, ids: new SequentialIds() }),
      inbox,
      gateway: reads,
      desk: new PrismaSupportDesk(db.prisma, clock),
    };
    const metrics = createSchedulerMetrics({ defaultMetrics: false });
    const server = await serveMetrics(metrics.metrics, { port: 0 });
    servers.push(server);

    const before = await scrape(server);
    expect(before.typeOf("susu_webhook_events_processed_total")).toBe("COUNTER");
    expect(before.typeOf("susu_webhook_lag_seconds")).toBe("HISTOGRAM");
    expect(
      before.value("susu_webhook_events_processed_total", {
        type: "payment_intent.succeeded",
        outcome: "applied",
      }),
    ).toBe(0);

    const created = Math.floor(clock.now() / 1000) - 42;
    await inbox.receive(
      debitEvent("payment_intent.succeeded", { groupId, roundId, memberId: "ben", attempt: 1 }, { created }),
    );
    await inbox.receive(
      // Worked by the processor, which ignores it: its round does not exist.
      debitEvent(
        "payment_intent.processing",
        { groupId, roundId: "round_gone", memberId: "ana", attempt: 1 },
        { created: created + 1 },
      ),
    );
    await inbox.receive(
      stripeEvent(
        "charge.dispute.created",
        { id: "du_1", object: "dispute", amount: 500, charge: "ch_gone", payment_intent: "pi_gone" },
        { created: created + 2 },
      ),
    );
    const loop = startWebhookProcessor(ctx, { workerId: "metrics-1", intervalMs: 50, log, metrics });
    try {
      await expect
        .poll(
          async () =>
            (await scrape(server)).value("susu_webhook_events_processed_total", {
              type: "charge.dispute.created",
              outcome: "parked",
            }),
          { timeout: 10_000 },
        )
        .toBe(1);
    } finally {
      await loop.stop();
    }

    const after = await scrape(server);
    const processed = (type: string, outcome: string) =>
      after.value("susu_webhook_events_processed_total", { type, outcome });
    expect(processed("payment_intent.succeeded", "applied")).toBe(1);
    expect(processed("payment_intent.processing", "ignored")).toBe(1);
    expect(processed("charge.dispute.created", "parked")).toBe(1);
    expect(processed("payment_intent.succeeded", "failed_will_retry")).toBe(0);
    // Only the applied event has a lag: Stripe made it 42 s before the (manual) clock's now.
    expect(after.histogram("susu_webhook_lag_seconds")).toEqual({ count: 1, sum: 42 });
    const registry = metrics.metrics.registry;
    expect(
      (await histogramOf(registry, "susu_webhook_event_duration_seconds", { outcome: "parked" })).count,
    ).toBe(1);
    // The passes are jobs too: at least the one that worked, and the idle ones after it.
    expect(
      after.value("susu_scheduler_job_runs_total", { task: "webhook_pass", outcome: "worked" }),
    ).toBeGreaterThan(0);
    const worked = { task: "webhook_pass", outcome: "worked" };
    expect(
      (await histogramOf(registry, "susu_scheduler_job_duration_seconds", worked)).count,
    ).toBeGreaterThan(0);
    // The event the round applied really was applied (the counter tells the truth).
    expect(store.rounds()[0]?.contributions.find((c) => c.memberId === "ben")?.status).toBe("succeeded");
  });

  it("serves the process metrics by default", async () => {
    const metrics = createSchedulerMetrics();
    const server = await serveMetrics(metrics.metrics, { port: 0 });
    servers.push(server);
    const scraped = await scrape(server);
    expect(scraped.typeOf("process_cpu_user_seconds_total")).toBe("COUNTER");
    expect(scraped.typeOf("susu_outbox_effects_settled_total")).toBe("COUNTER");
    expect(scraped.typeOf("susu_scheduler_job_runs_total")).toBe("COUNTER");
  });
});
