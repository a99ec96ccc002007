// The delivery log's statements run prepared on createPrismaClient's pool; a client made any
// other way has no pool, and runStatement sends the same SQL through Prisma's raw queries.
// Its parameters (text[] from JS arrays, JSON text cast to jsonb, instants) must bind the same way.
import { PrismaPg } from "@prisma/adapter-pg";
import type { Notification } from "@susu/domain";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { poolOf } from "../../src/db/prisma-client.js";
import { DeliveringNotifier } from "../../src/notify/delivering-notifier.js";
import { NotificationDeliveryWorker } from "../../src/notify/delivery-worker.js";
import { PrismaNotificationEndpoints } from "../../src/notify/notification-endpoints.js";
import type { SmtpNotifier } from "../../src/notify/smtp-notifier.js";
import { PrismaClient } from "../../src/prisma/generated/client.js";
import { createTestDatabase, type TestDatabase } from "../support/test-database.js";
import { deliveryMailer, TestSmtpServer } from "./smtp-server.js";
import { TestWebhookReceiver } from "./webhook-receiver.js";

const T0 = Date.UTC(2026, 11, 2, 9, 0, 0);
const clock = { now: () => T0 };
const where = { locale: "en-AU", timeZone: "Australia/Sydney" };

describe("the delivery log on a Prisma client without a pool of ours", () => {
  let db: TestDatabase;
  let bare: PrismaClient;
  const smtp = new TestSmtpServer();
  const receiver = new TestWebhookReceiver();
  let mailer: SmtpNotifier;

  beforeAll(async () => {
    db = await createTestDatabase();
    bare = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.connectionString }) });
    await smtp.start();
    await receiver.start();
    receiver.now = clock.now;
    mailer = deliveryMailer(smtp.url, where);
  });
  afterAll(async () => {
    mailer.close();
    await receiver.stop();
    await smtp.stop();
    await bare.$disconnect();
    await db.drop();
  });

  it("queues a notification with its deliveries once, and a pass sends and records them, as on the pool", async () => {
    expect(poolOf(bare)).toBeUndefined();
    await bare.person.create({
      data: {
        id: "ana",
        displayName: "Ana",
        email: "ana@example.com",
        locale: "en-US",
        timeZone: "America/New_York",
        createdAt: new Date(T0),
        updatedAt: new Date(T0),
      },
    });
    const endpoint = (
      await new PrismaNotificationEndpoints(bare).create({ url: receiver.url, at: T0 })
    )._unsafeUnwrap();
    receiver.secret = endpoint.secret;
    const n: Notification = {
      id: "round_1:notify:contribution_retry_scheduled:ana:1",
      aggregate: "round",
      aggregateId: "round_1",
      groupId: "g1",
      personIds: ["ana", 'o"dd,{person}'],
      roles: ["platform_admins"],
      emails: ["cy@example.com"],
      template: "contribution_retry_scheduled",
      data: {
        roundId: "round_1",
        currency: "AUD",
        failureCode: 'a "quoted", {braced} \\ code',
        retryAt: "2026-12-05T00:00:00.000Z",
      },
    };
    const notifier = new DeliveringNotifier({
      prisma: bare,
      clock,
      email: true,
      adminEmails: ["ops@susu.test"],
      where,
      alerts: { windowMs: 15 * 60_000 },
    });
    expect((await notifier.send(n)).isOk()).toBe(true);
    // A retried effect queues nothing twice.
    expect((await notifier.send(n)).isOk()).toBe(true);

    const stored = await bare.notification.findUniqueOrThrow({ where: { id: n.id } });
    expect(stored).toMatchObject({
      personIds: ["ana", 'o"dd,{person}'],
      roles: ["platform_admins"],
      data: n.data,
      createdAt: new Date(T0),
    });
    const queued = await bare.notificationDelivery.findMany({
      orderBy: [{ channel: "asc" }, { recipient: "asc" }],
    });
    expect(
      queued.map((d) => [d.channel, d.recipient, d.personId, d.status, d.attempts, d.nextAttemptAt]),
    ).toEqual([
      ["email", "ana@example.com", "ana", "queued", 0, new Date(T0)],
      ["email", "cy@example.com", null, "queued", 0, new Date(T0)],
      ["email", "ops@susu.test", null, "queued", 0, new Date(T0)],
      ["webhook", endpoint.id, "ana", "queued", 0, new Date(T0)],
      ["webhook", endpoint.id, 'o"dd,{person}', "queued", 0, new Date(T0)],
      ["webhook", endpoint.id, null, "queued", 0, new Date(T0)],
    ]);

    const worker = new NotificationDeliveryWorker({
      prisma: bare,
      clock,
      workerId: "w1",
      email: mailer,
      retry: { maxAttempts: 3, baseDelayMs: 1_000, maxDelayMs: 60_000 },
      timeoutMs: 2_000,
      random: () => 0.5,
      // The receiver listens on 127.0.0.1.
      endpointAddresses: "any",
    });
    const settled = await worker.runOnce();
    expect(settled.map((s) => s.outcome)).toEqual(queued.map(() => "sent"));
    expect(smtp.received.map((m) => m.to[0]).sort()).toEqual([
      "ana@example.com",
      "cy@example.com",
      "ops@susu.test",
    ]);
    expect(receiver.received.map((r) => r.check.valid)).toEqual([true, true, true]);
    const after = await bare.notificationDelivery.findMany();
    expect(after.map((d) => [d.status, d.attempts, d.claimedBy, d.sentAt])).toEqual(
      after.map(() => ["sent", 1, null, new Date(T0)]),
    );
  });
});
