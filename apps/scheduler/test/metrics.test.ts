// The scheduler's metrics on real PostgreSQL (the rounds in PrismaStore, the inbox in
// PrismaWebhookInbox), Stripe's reads at the emulator through the SDK: webhook events applied,
// ignored and parked move their counters (and the lag), and /metrics serves text a Prometheus
// parser accepts.
import {
  type MetricsServer,
  PrismaStore,
  PrismaSupportDesk,
  PrismaWebhookInbox,
  serveMetrics,
  type WebhookProcessorContext,
} from "@susu/adapters";
import { debitEvent, stripeEvent, useTestDatabase } from "@susu/adapters/testing";
import { markRoundOpened, useCaseDepsOn } from "@susu/domain";
import { anActiveGroup, aRoundOf, ManualClock, peopleOf, SequentialIds } from "@susu/domain/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startWebhookProcessor } from "../src/jobs/webhook-processor.js";
import { createLogger } from "../src/logger.js";
import { createSchedulerMetrics } from "../src/metrics.js";
import { histogramOf, parseScrape } from "./prometheus.js";
import { type EmulatorGateway, startEmulatorGateway } from "./support/emulator.js";

const db = useTestDatabase();
const log = createLogger("silent", "metrics-test");

let stripeSide: EmulatorGateway;
beforeAll(async () => {
  stripeSide = await startEmulatorGateway();
});
afterAll(async () => {
  await stripeSide?.emulator.stop();
});

/** Stores an active group `groupId`, its members as people, and `roundId` open as its current round. */
async function seedRound(
  store: PrismaStore,
  options: { readonly groupId: string; readonly roundId: string; readonly memberIds: readonly string[] },
): Promise<void> {
  const base = anActiveGroup({ id: options.groupId, memberIds: options.memberIds });
  const round = aRoundOf(base, [], { id: options.roundId });
  const group = markRoundOpened(base, options.roundId)._unsafeUnwrap();
  (
    await store.commit({
      people: peopleOf(group).map((state) => ({ state, expectedVersion: undefined })),
      groups: [{ state: group, expectedVersion: undefined }],
      rounds: [{ state: round, expectedVersion: undefined }],
      outbox: [],
      audit: [],
    })
  )._unsafeUnwrap();
}

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
    const store = new PrismaStore(db.prisma, { clock });
    const [groupId, roundId] = ["grp_metrics", "round_metrics"];
    await seedRound(store, { groupId, roundId, memberIds: ["ana", "ben"] });
    // A dispute on a payment the emulator does not have (pi_gone): Stripe answers
    // resource_missing, retrying cannot help, so it is parked at once.
    const inbox = new PrismaWebhookInbox(db.prisma, clock);
    const ctx: WebhookProcessorContext = {
      deps: useCaseDepsOn(store, { clock, ids: new SequentialIds() }),
      inbox,
      gateway: stripeSide.gateway,
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
    // The event the round applied really was applied (the counter tells the truth): read back
    // from PostgreSQL.
    const stored = (await store.getRound(roundId))._unsafeUnwrap();
    expect(stored?.contributions.find((c) => c.memberId === "ben")?.status).toBe("succeeded");
    expect(stored?.contributions.find((c) => c.memberId === "ana")?.status).not.toBe("succeeded");
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
