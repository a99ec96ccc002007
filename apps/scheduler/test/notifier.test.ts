// The scheduler's notification path end to end: a notify effect in the outbox, dispatched with
// the notifier the container wires (beside the scheduler's other ports: pg-boss timers, the
// ledger and the support desk in PostgreSQL, which a notice leaves untouched), queues
// deliveries in PostgreSQL, the delivery loop sends them through a real SMTP server and to
// a real HTTP receiver that verifies Susu-Signature, and the metrics count each send. The
// dispatcher's Stripe is the emulator through the SDK and the adapter gateway (a notice asks
// nothing of it).
import {
  DeliveringNotifier,
  PgBossTimerScheduler,
  PrismaLedgerStore,
  PrismaNotificationEndpoints,
  PrismaStore,
  PrismaSupportDesk,
  SystemClock,
  TIMER_QUEUE,
} from "@susu/adapters";
import { verifySusuSignature } from "@susu/adapters/signature";
import { startTestBoss, TestSmtpServer, TestWebhookReceiver, useTestDatabase } from "@susu/adapters/testing";
import { useCaseDepsOn, useCases } from "@susu/domain";
import { SequentialIds } from "@susu/domain/testing";
import type PgBoss from "pg-boss";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deliveryWorkerOf, notifierOf } from "../src/container.js";
import { readSchedulerEnv } from "../src/env.js";
import { startNotificationDeliveries } from "../src/jobs/notification-deliveries.js";
import { createLogger } from "../src/logger.js";
import { createSchedulerMetrics } from "../src/metrics.js";
import { createNotificationMetrics } from "../src/notification-metrics.js";
import { parseScrape } from "./prometheus.js";
import { type EmulatorGateway, startEmulatorGateway } from "./support/emulator.js";

const log = createLogger("silent", "scheduler-test");

async function until(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("the scheduler's notifications", () => {
  const server = new TestSmtpServer();
  const receiver = new TestWebhookReceiver();
  const db = useTestDatabase();
  let stripeSide: EmulatorGateway;
  let boss: PgBoss;
  beforeAll(async () => {
    await server.start();
    await receiver.start();
    stripeSide = await startEmulatorGateway();
    boss = await startTestBoss(db.connectionString);
    await PgBossTimerScheduler.prepare(boss);
  });
  afterAll(async () => {
    await boss?.stop({ graceful: false, wait: true });
    await receiver.stop();
    await server.stop();
    await stripeSide?.emulator.stop();
  });

  it("queues deliveries in the log, whether or not SUSU_SMTP_URL is set", () => {
    const env = readSchedulerEnv({ STRIPE_SECRET_KEY: "sk_test_x" });
    expect(notifierOf(env, db.prisma, log)).toBeInstanceOf(DeliveringNotifier);
  });

  it("e-mails the person in the configured locale and pushes to the endpoint: 500, 500, 200 is three sends, one delivery sent", async () => {
    const env = readSchedulerEnv({
      STRIPE_SECRET_KEY: "sk_test_x",
      SUSU_SMTP_URL: server.url,
      SUSU_MAIL_FROM: "susu <no-reply@susu.test>",
      SUSU_ADMIN_EMAILS: "ops@susu.test, lead@susu.test",
      SUSU_MAIL_LOCALE: "en-US",
      SUSU_MAIL_TIME_ZONE: "America/New_York",
      SUSU_NOTIFY_RETRY_BASE_MS: "100",
      SUSU_PUBLIC_URL: "https://api.susu.test",
      // The receiver listens on 127.0.0.1: a development setting.
      SUSU_NOTIFY_ENDPOINT_ADDRESSES: "any",
    });
    const now = new Date();
    await db.prisma.person.create({
      data: { id: "ana", displayName: "Ana", email: "ana@example.com", createdAt: now, updatedAt: now },
    });
    const endpoint = (
      await new PrismaNotificationEndpoints(db.prisma).create({ url: receiver.url, at: Date.now() })
    )._unsafeUnwrap();
    receiver.secret = endpoint.secret;
    receiver.script = [500, 500];

    // A round's notify effect in the outbox, as the domain decides it, dispatched by the
    // outbox dispatcher with the notifier the container wires.
    const clock = new SystemClock();
    const store = new PrismaStore(db.prisma, { clock });
    const deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
    const ports = {
      gateway: stripeSide.gateway,
      notifier: notifierOf(env, db.prisma, log),
      desk: new PrismaSupportDesk(db.prisma, clock),
      timers: new PgBossTimerScheduler(boss, clock),
      ledger: new PrismaLedgerStore(db.prisma, { clock }),
    };
    const committed = await store.commit({
      people: [],
      groups: [],
      rounds: [],
      audit: [],
      outbox: [
        {
          kind: "notify",
          id: "round_1:notify:contribution_retry_scheduled:ana:1",
          aggregate: "round",
          aggregateId: "round_1",
          to: { kind: "people", personIds: ["ana"] },
          template: "contribution_retry_scheduled",
          data: {
            roundId: "round_1",
            currency: "USD",
            failureCode: "insufficient_funds",
            retryAt: "2026-03-01T00:00:00.000Z",
          },
        },
      ],
    });
    expect(committed.isOk()).toBe(true);
    const dispatched = await useCases.dispatchOutbox(deps, ports, store, { workerId: "w-test" });
    expect(dispatched._unsafeUnwrap()).toMatchObject({ completed: 1 });
    // A notice schedules no timer, posts nothing to the ledger and opens no ticket.
    expect(await boss.getQueueSize(TIMER_QUEUE, { before: "completed" })).toBe(0);
    expect(await db.prisma.ledgerTransaction.count()).toBe(0);
    expect(await db.prisma.supportTicket.count()).toBe(0);

    const metrics = createSchedulerMetrics({ defaultMetrics: false });
    const counted = createNotificationMetrics(metrics.metrics.registry);
    const loop = startNotificationDeliveries(deliveryWorkerOf(env, db.prisma, "w-test"), {
      intervalMs: 50,
      log,
      onSettled: counted.deliverySettled,
    });
    try {
      await until(
        async () => (await db.prisma.notificationDelivery.count({ where: { status: "sent" } })) === 2,
      );
    } finally {
      await loop.stop();
    }

    expect(server.received.map((m) => m.to)).toEqual([["ana@example.com"]]);
    expect(server.received[0]?.from).toBe("no-reply@susu.test");
    // The configured locale and time zone: 00:00 UTC is 7 p.m. the day before in New York.
    expect(server.received[0]?.parsed.text?.replace(/\u202f/g, " ")).toContain(
      "Saturday, February 28, 2026 at 7:00 PM (America/New_York)",
    );
    expect(receiver.received.map((r) => [r.status, r.check.valid])).toEqual([
      [500, true],
      [500, true],
      [200, true],
    ]);
    // What a client app does with the helper it imports: the last request verifies.
    const last = receiver.received[2];
    expect(verifySusuSignature(last?.body ?? "", last?.signature, endpoint.secret).valid).toBe(true);
    expect(verifySusuSignature(last?.body ?? "", last?.signature, "whsec_wrong").valid).toBe(false);
    const webhook = await db.prisma.notificationDelivery.findFirstOrThrow({ where: { channel: "webhook" } });
    expect(webhook).toMatchObject({ status: "sent", attempts: 3, recipient: endpoint.id, personId: "ana" });
    const scrape = parseScrape(await metrics.metrics.text());
    const count = (channel: string, outcome: string) =>
      scrape.value("susu_notification_deliveries_total", { channel, outcome });
    expect(scrape.typeOf("susu_notification_deliveries_total")).toBe("COUNTER");
    expect([count("webhook", "retrying"), count("webhook", "sent"), count("email", "sent")]).toEqual([
      2, 1, 1,
    ]);
    expect(count("webhook", "failed")).toBe(0);
  });

  it("with the defaults, sends no webhook to an endpoint on the platform's own network: failed at once, not retried, counted", async () => {
    const env = readSchedulerEnv({ STRIPE_SECRET_KEY: "sk_test_x", SUSU_NOTIFY_RETRY_BASE_MS: "100" });
    expect(env.SUSU_NOTIFY_ENDPOINT_ADDRESSES).toBe("public");
    await db.prisma.notificationDelivery.deleteMany();
    await db.prisma.notificationEndpoint.updateMany({ data: { status: "disabled" } });
    const endpoint = (
      await new PrismaNotificationEndpoints(db.prisma).create({ url: receiver.url, at: Date.now() })
    )._unsafeUnwrap();
    receiver.secret = endpoint.secret;
    receiver.received.length = 0;
    const queued = await notifierOf(env, db.prisma, log).send({
      id: "admins:notify:transfer_blocked:1",
      aggregate: "round",
      aggregateId: "round_9",
      personIds: [],
      roles: ["platform_admins"],
      template: "transfer_blocked",
      data: { roundId: "round_9" },
    });
    expect(queued.isOk()).toBe(true);
    const metrics = createSchedulerMetrics({ defaultMetrics: false });
    const counted = createNotificationMetrics(metrics.metrics.registry);
    const worker = deliveryWorkerOf(env, db.prisma, "w-public");
    const settled = await worker.runOnce();
    for (const s of settled) counted.deliverySettled(s);
    expect(settled.map((s) => [s.channel, s.outcome])).toEqual([["webhook", "failed"]]);
    expect(receiver.received).toEqual([]);
    const webhook = await db.prisma.notificationDelivery.findFirstOrThrow({ where: { channel: "webhook" } });
    expect(webhook).toMatchObject({ status: "failed", attempts: 1, recipient: endpoint.id });
    expect(webhook.lastError).toMatch(/^not sent: the endpoint's URL is not allowed: /);
    const scrape = parseScrape(await metrics.metrics.text());
    expect(
      scrape.value("susu_notification_deliveries_total", { channel: "webhook", outcome: "failed" }),
    ).toBe(1);
  });

  it("disables an endpoint that has failed every send for SUSU_NOTIFY_ENDPOINT_DISABLE_AFTER_HOURS (default 72) when a send fails again, and counts it; 0 never does", async () => {
    expect(
      readSchedulerEnv({ STRIPE_SECRET_KEY: "sk_test_x" }).SUSU_NOTIFY_ENDPOINT_DISABLE_AFTER_HOURS,
    ).toBe(72);
    const run = async (hours: string | undefined) => {
      const env = readSchedulerEnv({
        STRIPE_SECRET_KEY: "sk_test_x",
        SUSU_NOTIFY_ENDPOINT_ADDRESSES: "any",
        ...(hours !== undefined ? { SUSU_NOTIFY_ENDPOINT_DISABLE_AFTER_HOURS: hours } : {}),
      });
      await db.prisma.notificationDelivery.deleteMany();
      await db.prisma.notificationEndpoint.updateMany({ data: { status: "disabled" } });
      const endpoint = (
        await new PrismaNotificationEndpoints(db.prisma).create({ url: receiver.url, at: Date.now() })
      )._unsafeUnwrap();
      // It has failed every send since 73 hours ago.
      await db.prisma.notificationEndpoint.update({
        where: { id: endpoint.id },
        data: { failingSince: new Date(Date.now() - 73 * 3_600_000) },
      });
      receiver.secret = endpoint.secret;
      receiver.script = [500];
      const queued = await notifierOf(env, db.prisma, log).send({
        id: `admins:notify:transfer_blocked:disable_${hours}`,
        aggregate: "round",
        // An alert of its own (one about the same round within the window would be held back).
        aggregateId: `round_disable_${hours}`,
        personIds: [],
        roles: ["platform_admins"],
        template: "transfer_blocked",
        data: { roundId: `round_disable_${hours}` },
      });
      expect(queued.isOk()).toBe(true);
      const metrics = createSchedulerMetrics({ defaultMetrics: false });
      const counted = createNotificationMetrics(metrics.metrics.registry);
      const settled = await deliveryWorkerOf(env, db.prisma, "w-disable").runOnce();
      for (const s of settled) counted.deliverySettled(s);
      const scrape = parseScrape(await metrics.metrics.text());
      return {
        endpoint: await db.prisma.notificationEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } }),
        settled,
        disabledCount: scrape.value("susu_notification_endpoints_disabled_total", {}),
      };
    };
    const byDefault = await run(undefined);
    expect(byDefault.settled.map((s) => [s.outcome, s.endpointDisabled?.endpointId])).toEqual([
      ["retrying", byDefault.endpoint.id],
    ]);
    expect(byDefault.endpoint).toMatchObject({ status: "disabled", disabledReason: "failing" });
    expect(byDefault.disabledCount).toBe(1);
    const never = await run("0");
    expect(never.settled.map((s) => [s.outcome, s.endpointDisabled])).toEqual([["retrying", undefined]]);
    expect(never.endpoint).toMatchObject({ status: "enabled", disabledReason: null });
    expect(never.disabledCount).toBe(0);
  });

  it("sends SUSU_NOTIFY_CONCURRENCY e-mails at once, on as many pooled SMTP connections", async () => {
    const env = readSchedulerEnv({
      STRIPE_SECRET_KEY: "sk_test_x",
      SUSU_SMTP_URL: server.url,
      SUSU_MAIL_FROM: "susu <no-reply@susu.test>",
      SUSU_NOTIFY_CONCURRENCY: "2",
    });
    const to = ["a", "b", "c", "d", "e"].map((who) => `${who}@example.com`);
    const queued = await notifierOf(env, db.prisma, log).send({
      id: "round_2:notify:round_cancelling",
      aggregate: "round",
      aggregateId: "round_2",
      personIds: [],
      emails: to,
      template: "round_cancelling",
      data: { roundId: "round_2", currency: "AUD", reason: "the group closed" },
    });
    expect(queued.isOk()).toBe(true);
    server.received.length = 0;
    server.resetCounts();
    // Each message is answered once another is in flight beside it (or after 200 ms).
    server.holdUntilOverlap = { fallbackMs: 200 };
    const worker = deliveryWorkerOf(env, db.prisma, "w-pool");
    try {
      expect((await worker.runOnce()).map((s) => s.outcome)).toEqual(to.map(() => "sent"));
    } finally {
      worker.close();
      server.holdUntilOverlap = undefined;
    }
    expect(server.received.map((m) => m.to[0]).sort()).toEqual(to);
    expect([server.mostInFlight, server.connections]).toEqual([2, 2]);
  });
});
