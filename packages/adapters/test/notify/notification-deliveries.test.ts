// The delivery log against PostgreSQL: the delivering notifier queues, the worker sends
// through a real SMTP server and to a real HTTP receiver that verifies signatures.
import type { Notification } from "@susu/domain";
import { ResultAsync } from "neverthrow";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DeliveringNotifier, type DeliveringNotifierOptions } from "../../src/notify/delivering-notifier.js";
import {
  type DeliveryWorkerOptions,
  deliveryBackoffMs,
  isRetryableStatus,
  NotificationDeliveryWorker,
  postWebhook,
  retryAfterDelayMs,
  type SettledDelivery,
} from "../../src/notify/delivery-worker.js";
import { PrismaNotificationEndpoints } from "../../src/notify/notification-endpoints.js";
import { PrismaNotificationSettings } from "../../src/notify/notification-settings-store.js";
import type { SmtpNotifier } from "../../src/notify/smtp-notifier.js";
import { verifySusuSignature } from "../../src/notify/susu-signature.js";
import { useTestDatabase } from "../support/index.js";
import { statementsSentDuring } from "../support/statement-spy.js";
import { deliveryMailer, TestSmtpServer } from "./smtp-server.js";
import { TestWebhookReceiver } from "./webhook-receiver.js";

const T0 = Date.UTC(2026, 11, 2, 9, 0, 0);
const clock = {
  t: T0,
  now() {
    return this.t;
  },
};
const where = { locale: "en-AU", timeZone: "Australia/Sydney" };
const retry = { maxAttempts: 4, baseDelayMs: 1_000, maxDelayMs: 60_000 };

let seq = 0;
function retryNotice(personIds: string[], extra: Partial<Notification> = {}): Notification {
  seq += 1;
  return {
    id: `round_${seq}:notify:contribution_retry_scheduled:ana:1`,
    aggregate: "round",
    aggregateId: `round_${seq}`,
    groupId: "g1",
    personIds,
    template: "contribution_retry_scheduled",
    data: {
      roundId: `round_${seq}`,
      currency: "AUD",
      failureCode: "insufficient_funds",
      retryAt: "2026-12-05T00:00:00.000Z",
    },
    ...extra,
  };
}

describe("notification deliveries", () => {
  const db = useTestDatabase();
  const smtp = new TestSmtpServer();
  const receiver = new TestWebhookReceiver();
  let mailer: SmtpNotifier;
  let endpoints: PrismaNotificationEndpoints;
  let settled: SettledDelivery[];

  const notifier = (extra: Partial<DeliveringNotifierOptions> = {}) =>
    new DeliveringNotifier({
      prisma: db.prisma,
      clock,
      email: true,
      adminEmails: ["ops@susu.test"],
      where,
      alerts: { windowMs: 15 * 60_000, publicUrl: "https://api.susu.test/" },
      ...extra,
    });
  const worker = (workerId = "w1", extra: Partial<DeliveryWorkerOptions> = {}) =>
    new NotificationDeliveryWorker({
      prisma: db.prisma,
      clock,
      workerId,
      email: mailer,
      retry,
      timeoutMs: 2_000,
      random: () => 0.5,
      // The receiver listens on 127.0.0.1, as SUSU_NOTIFY_ENDPOINT_ADDRESSES=any allows.
      endpointAddresses: "any",
      ...extra,
    });
  /** Runs passes until nothing is due now, moving the clock to each next attempt. */
  async function drain(w = worker(), maxPasses = 20) {
    for (let i = 0; i < maxPasses; i++) {
      const done = await w.runOnce();
      settled.push(...done);
      const next = await db.prisma.notificationDelivery.findFirst({
        where: { status: { in: ["queued", "retrying"] } },
        orderBy: { nextAttemptAt: "asc" },
      });
      if (next === null) return;
      clock.t = Math.max(clock.t, next.nextAttemptAt.getTime());
    }
    throw new Error(`deliveries did not drain in ${maxPasses} passes`);
  }
  const deliveriesOf = (notificationId: string) =>
    db.prisma.notificationDelivery.findMany({
      where: { notificationId },
      orderBy: [{ channel: "asc" }, { recipient: "asc" }],
    });

  beforeAll(async () => {
    await smtp.start();
    await receiver.start();
    // The receiver checks the signature's age on the test's clock.
    receiver.now = () => clock.now();
    mailer = deliveryMailer(smtp.url, where);
    endpoints = new PrismaNotificationEndpoints(db.prisma);
    const now = new Date(T0);
    await db.prisma.person.createMany({
      data: [
        {
          id: "ana",
          displayName: "Ana",
          email: "ana@example.com",
          locale: "en-US",
          timeZone: "America/New_York",
          createdAt: now,
          updatedAt: now,
        },
        {
          id: "ben",
          displayName: "Ben",
          email: "ben@example.com",
          notifyByEmail: false,
          notifyByPush: false,
          createdAt: now,
          updatedAt: now,
        },
        { id: "cy", displayName: "Cy", createdAt: now, updatedAt: now },
      ],
    });
  });
  afterAll(async () => {
    mailer.close();
    await receiver.stop();
    await smtp.stop();
  });
  beforeEach(async () => {
    await db.prisma.notificationDelivery.deleteMany();
    await db.prisma.notificationEndpoint.deleteMany();
    smtp.received.length = 0;
    smtp.refusal = undefined;
    smtp.holdUntilOverlap = undefined;
    smtp.gate = undefined;
    smtp.resetCounts();
    receiver.received.length = 0;
    receiver.mostInFlight = 0;
    receiver.script = [];
    settled = [];
    clock.t = T0;
  });
  afterEach(() => {
    receiver.delayMs = 0;
    receiver.onAnswer = undefined;
  });

  it("e-mails in the person's locale and pushes to every enabled endpoint: 500, 500, then 200 is three sends and one delivery sent", async () => {
    const endpoint = (await endpoints.create({ url: receiver.url, at: T0 }))._unsafeUnwrap();
    const off = (await endpoints.create({ url: "http://127.0.0.1:9/never", at: T0 }))._unsafeUnwrap();
    await endpoints.disable(off.id, T0);
    receiver.secret = endpoint.secret;
    receiver.script = [500, 500];
    const n = retryNotice(["ana"]);
    expect((await notifier().send(n)).isOk()).toBe(true);
    // Queuing again (the outbox retrying the effect) queues nothing twice.
    expect((await notifier().send(n)).isOk()).toBe(true);
    await drain();

    expect(smtp.received.map((m) => m.to)).toEqual([["ana@example.com"]]);
    // Ana's locale and zone: 00:00 UTC is the evening before in New York, in US English.
    expect(smtp.received[0]?.parsed.text).toContain("Friday, December 4, 2026");
    expect(receiver.received.map((r) => r.status)).toEqual([500, 500, 200]);
    expect(receiver.received.every((r) => r.check.valid)).toBe(true);
    // Every send of the delivery carries the same ids: the receiver can deduplicate.
    expect(new Set(receiver.received.map((r) => r.deliveryId)).size).toBe(1);
    expect(receiver.received[2]?.json).toMatchObject({
      object: "notification",
      id: n.id,
      template: "contribution_retry_scheduled",
      personId: "ana",
      data: n.data,
    });
    const rows = await deliveriesOf(n.id);
    expect(rows.map((r) => [r.channel, r.recipient, r.status, r.attempts])).toEqual([
      ["email", "ana@example.com", "sent", 1],
      ["webhook", endpoint.id, "sent", 3],
    ]);
    // The backoff: 1 s after the first failure, 2 s after the second (half jitter, fraction 0.5: ×0.75).
    expect(deliveryBackoffMs(retry, 1, 0.5)).toBe(750);
    expect(deliveryBackoffMs(retry, 2, 0.5)).toBe(1_500);
    expect(settled.filter((s) => s.channel === "webhook").map((s) => s.outcome)).toEqual([
      "retrying",
      "retrying",
      "sent",
    ]);
  });

  it("pushes each person's delivery of one notice to an endpoint under a delivery id of its own, signed in the body and sent as Susu-Delivery-Id: a client app deduplicating on it keeps each person's push once", async () => {
    const endpoint = (await endpoints.create({ url: receiver.url, at: T0 }))._unsafeUnwrap();
    receiver.secret = endpoint.secret;
    receiver.script = [500];
    const n = retryNotice(["ana", "cy"]);
    expect((await notifier().send(n)).isOk()).toBe(true);
    await drain();

    const pushes = receiver.received.filter((r) => r.check.valid);
    expect(pushes).toHaveLength(3);
    for (const push of pushes) expect(push.json.deliveryId).toBe(push.deliveryId);
    const webhookRows = (await deliveriesOf(n.id)).filter((r) => r.channel === "webhook");
    expect([...new Set(pushes.map((p) => p.json.deliveryId))].sort()).toEqual(
      webhookRows.map((r) => r.id).sort(),
    );
    // Deduplicated on the delivery id, as verifySusuSignature's doc and the README tell client
    // apps: the resent push is dropped, each person's kept.
    const kept = new Map(pushes.map((p) => [p.json.deliveryId, p.json.personId]));
    expect([...kept.values()].sort()).toEqual(["ana", "cy"]);
    // The body's `id` is the notification's, the same in both people's pushes (kept as it was).
    expect(new Set(pushes.map((p) => p.json.id))).toEqual(new Set([n.id]));
  });

  it("does not retry a 4xx other than 408 and 429, and gives up after the last attempt", async () => {
    expect([400, 401, 404, 410, 301].map(isRetryableStatus)).toEqual([false, false, false, false, false]);
    expect([408, 429, 500, 503].map(isRetryableStatus)).toEqual([true, true, true, true]);
    const endpoint = (await endpoints.create({ url: receiver.url, at: T0 }))._unsafeUnwrap();
    receiver.secret = endpoint.secret;
    receiver.script = [404];
    const refused = retryNotice(["ana"]);
    await notifier({ email: false }).send(refused);
    await drain();
    expect((await deliveriesOf(refused.id)).map((r) => [r.status, r.attempts, r.lastStatusCode])).toEqual([
      ["failed", 1, 404],
    ]);

    receiver.received.length = 0;
    receiver.script = [503, 429, 408, 500, 500];
    const down = retryNotice(["ana"]);
    await notifier({ email: false }).send(down);
    await drain();
    expect(receiver.received.map((r) => r.status)).toEqual([503, 429, 408, 500]);
    const [row] = await deliveriesOf(down.id);
    expect(row).toMatchObject({
      status: "failed",
      attempts: retry.maxAttempts,
      lastError: "the endpoint answered 500",
    });
  });

  describe("Retry-After on a 429 or 503: the next send waits for it, up to the policy's maxDelayMs", () => {
    // With random 0.5, the backoff after a first failure is 750 ms (base 1 s, equal jitter).
    const backoffAfterFirst = 750;
    beforeEach(async () => {
      receiver.secret = (await endpoints.create({ url: receiver.url, at: T0 }))._unsafeUnwrap().secret;
    });
    /** Queues a push for Ana, runs one pass whose endpoint answers `answer`, and returns the delivery. */
    async function afterAnswer(
      answer: number | { status: number; headers: Record<string, string> },
      w = worker(),
    ) {
      receiver.script = [answer];
      const notice = retryNotice(["ana"]);
      await notifier({ email: false }).send(notice);
      settled.push(...(await w.runOnce()));
      const [row] = await deliveriesOf(notice.id);
      if (row === undefined) throw new Error("no delivery");
      return row;
    }

    it("waits the seconds a 429 asks (120 s, not the 1 s backoff), counts the send as one attempt, and sends when they have passed", async () => {
      const w = worker("w1", { retry: { ...retry, maxDelayMs: 3_600_000 } });
      const row = await afterAnswer({ status: 429, headers: { "Retry-After": "120" } }, w);
      expect(row).toMatchObject({ status: "retrying", attempts: 1, lastStatusCode: 429 });
      expect(row.nextAttemptAt.getTime() - T0).toBe(120_000);
      clock.t = T0 + 119_999;
      expect(await w.runOnce()).toEqual([]);
      clock.t = T0 + 120_000;
      expect((await w.runOnce()).map((d) => d.outcome)).toEqual(["sent"]);
      expect(receiver.received.map((r) => r.status)).toEqual([429, 200]);
      expect((await deliveriesOf(row.notificationId))[0]).toMatchObject({ status: "sent", attempts: 2 });
    });

    it("waits until the HTTP-date a 503 names; one already past leaves the backoff", async () => {
      const at = await afterAnswer({
        status: 503,
        headers: { "Retry-After": new Date(T0 + 45_000).toUTCString() },
      });
      expect(at).toMatchObject({ status: "retrying", attempts: 1, lastStatusCode: 503 });
      expect(at.nextAttemptAt.getTime() - T0).toBe(45_000);
      const past = await afterAnswer({
        status: 429,
        headers: { "Retry-After": new Date(T0 - 3_600_000).toUTCString() },
      });
      expect(past.nextAttemptAt.getTime() - T0).toBe(backoffAfterFirst);
    });

    it("never waits longer than maxDelayMs from now, however long the endpoint asks", async () => {
      const seconds = await afterAnswer({ status: 429, headers: { "Retry-After": "86400" } });
      expect(seconds.nextAttemptAt.getTime() - T0).toBe(retry.maxDelayMs);
      const date = await afterAnswer({
        status: 503,
        headers: { "Retry-After": new Date(T0 + 7 * 86_400_000).toUTCString() },
      });
      expect(date.nextAttemptAt.getTime() - T0).toBe(retry.maxDelayMs);
    });

    it("reads Retry-After as delay-seconds or any of the three HTTP-date forms, and nothing else", () => {
      const now = Date.UTC(2026, 11, 2, 9, 0, 0);
      const cases: [string | undefined, number | undefined][] = [
        ["120", 120_000],
        [" 0 ", 0],
        ["Wed, 02 Dec 2026 09:01:30 GMT", 90_000],
        ["Wednesday, 02-Dec-26 09:01:30 GMT", 90_000],
        ["Wed Dec  2 09:01:30 2026", 90_000],
        ["Tue, 01 Dec 2026 09:00:00 GMT", 0],
        [undefined, undefined],
        ["", undefined],
        ["-5", undefined],
        ["1.5", undefined],
        ["+120", undefined],
        ["Wed, 31 Feb 2026 09:00:00 GMT", undefined],
        ["Wed, 02 Dec 2026 24:00:00 GMT", undefined],
        ["Wed, 02 Dec 2026 09:01:30 UTC", undefined],
        ["2026-12-02T09:01:30Z", undefined],
      ];
      expect(cases.map(([value]) => [value, retryAfterDelayMs(value, now)])).toEqual(cases);
    });

    it("ignores a Retry-After that does not parse or is negative, and one sent with another status", async () => {
      for (const value of ["soon", "-5", "1.5", "120 s", "Someday, 99 Foo 2026 25:00:00 GMT"]) {
        const row = await afterAnswer({ status: 429, headers: { "Retry-After": value } });
        expect([value, row.status, row.nextAttemptAt.getTime() - T0]).toEqual([
          value,
          "retrying",
          backoffAfterFirst,
        ]);
      }
      const other = await afterAnswer({ status: 500, headers: { "Retry-After": "120" } });
      expect(other.nextAttemptAt.getTime() - T0).toBe(backoffAfterFirst);
    });
  });

  describe("an endpoint failing every send is disabled after endpointDisableAfterMs", () => {
    const HOUR = 3_600_000;
    const after = 72 * HOUR;
    const w = () => worker("w1", { endpointDisableAfterMs: after, retry: { ...retry, maxAttempts: 1 } });
    const endpointRow = (id: string) => db.prisma.notificationEndpoint.findUniqueOrThrow({ where: { id } });
    /** Queues a push for Ana at `at`, and runs one pass there: the endpoint answers `status`. */
    async function pushAt(at: number, status: number, worker = w()) {
      clock.t = at;
      receiver.script = [status];
      const notice = retryNotice(["ana"]);
      await notifier({ email: false }).send(notice);
      const done = await worker.runOnce();
      settled.push(...done);
      return done;
    }

    it("counts from its first failed send, forgives it on a send it accepts, and disables it on a failure once that is 72 h ago: once, reason failing, its queued deliveries then failed unsent", async () => {
      const endpoint = (await endpoints.create({ url: receiver.url, at: T0 }))._unsafeUnwrap();
      receiver.secret = endpoint.secret;
      await pushAt(T0, 500);
      expect((await endpointRow(endpoint.id)).failingSince?.getTime()).toBe(T0);
      // A second failure does not move the start.
      await pushAt(T0 + 10 * HOUR, 503);
      expect((await endpointRow(endpoint.id)).failingSince?.getTime()).toBe(T0);
      // A send it accepts: no longer failing.
      await pushAt(T0 + 20 * HOUR, 200);
      expect((await endpointRow(endpoint.id)).failingSince).toBeNull();
      // Failing again from T0 + 30 h; a failure 1 ms short of 72 h later leaves it enabled.
      const since = T0 + 30 * HOUR;
      await pushAt(since, 404);
      const short = await pushAt(since + after - 1, 500);
      expect(short.map((s) => [s.outcome, s.endpointDisabled])).toEqual([["failed", undefined]]);
      expect(await endpointRow(endpoint.id)).toMatchObject({ status: "enabled", disabledReason: null });
      // At 72 h: the failure disables it, and the settled delivery says so.
      const at = since + after;
      const last = await pushAt(at, 500);
      expect(last.map((s) => [s.outcome, s.endpointDisabled])).toEqual([
        ["failed", { endpointId: endpoint.id, failingSince: since }],
      ]);
      const row = await endpointRow(endpoint.id);
      expect(row).toMatchObject({ status: "disabled", disabledReason: "failing" });
      expect(row.disabledAt?.getTime()).toBe(at);
      expect(row.failingSince?.getTime()).toBe(since);
      expect((await endpoints.get(endpoint.id))._unsafeUnwrap()).toMatchObject({
        status: "disabled",
        disabledReason: "failing",
        failingSince: since,
      });
      // Nothing more is queued to it, so nothing more is sent to it.
      const sends = receiver.received.length;
      expect(await pushAt(at + HOUR, 500)).toEqual([]);
      expect(receiver.received.length).toBe(sends);
      expect(receiver.received.map((r) => r.status)).toEqual([500, 503, 200, 404, 500, 500]);
    });

    it("enabled again by an admin: sent to from the next notification, its failures forgotten", async () => {
      const endpoint = (await endpoints.create({ url: receiver.url, at: T0 }))._unsafeUnwrap();
      receiver.secret = endpoint.secret;
      await pushAt(T0, 500);
      await pushAt(T0 + after, 500);
      expect((await endpointRow(endpoint.id)).status).toBe("disabled");
      const enabled = (await endpoints.enable(endpoint.id, T0 + after + HOUR))._unsafeUnwrap();
      expect(enabled).toMatchObject({ status: "enabled" });
      expect(enabled).not.toHaveProperty("disabledReason");
      expect(enabled).not.toHaveProperty("failingSince");
      expect(enabled).not.toHaveProperty("disabledAt");
      // One failure now starts a new count: not disabled at once.
      const next = await pushAt(T0 + after + 2 * HOUR, 500);
      expect(next.map((s) => [s.outcome, s.endpointDisabled])).toEqual([["failed", undefined]]);
      expect(await endpointRow(endpoint.id)).toMatchObject({ status: "enabled" });
      expect((await endpointRow(endpoint.id)).failingSince?.getTime()).toBe(T0 + after + 2 * HOUR);
      expect((await endpoints.enable("nep_unknown", T0))._unsafeUnwrap()).toBeUndefined();
    });

    it("an admin's disable says so (reason admin); without endpointDisableAfterMs an endpoint is never disabled on its own, its failures still counted", async () => {
      const endpoint = (await endpoints.create({ url: receiver.url, at: T0 }))._unsafeUnwrap();
      receiver.secret = endpoint.secret;
      const never = () => worker("w1", { retry: { ...retry, maxAttempts: 1 } });
      await pushAt(T0, 500, never());
      const late = await pushAt(T0 + 30 * 24 * HOUR, 500, never());
      expect(late.map((s) => s.endpointDisabled)).toEqual([undefined]);
      expect(await endpointRow(endpoint.id)).toMatchObject({ status: "enabled" });
      expect((await endpointRow(endpoint.id)).failingSince?.getTime()).toBe(T0);
      const disabled = (await endpoints.disable(endpoint.id, T0 + 1))._unsafeUnwrap();
      expect(disabled).toMatchObject({ status: "disabled", disabledReason: "admin" });
    });

    it("an e-mail's failures count for no endpoint", async () => {
      const endpoint = (await endpoints.create({ url: receiver.url, at: T0 }))._unsafeUnwrap();
      receiver.secret = endpoint.secret;
      await pushAt(T0, 500);
      smtp.refusal = { at: "data", code: 451, message: "try later" };
      clock.t = T0 + after;
      receiver.script = [200];
      await notifier({ email: true }).send(retryNotice(["ana"]));
      const done = await w().runOnce();
      expect(done.map((s) => [s.channel, s.outcome]).sort()).toEqual([
        ["email", "failed"],
        ["webhook", "sent"],
      ]);
      expect(await endpointRow(endpoint.id)).toMatchObject({ status: "enabled", failingSince: null });
    });
  });

  it("retries an endpoint that does not answer in time, and sends it once it does", async () => {
    const endpoint = (await endpoints.create({ url: receiver.url, at: T0 }))._unsafeUnwrap();
    receiver.secret = endpoint.secret;
    receiver.delayMs = 1_500;
    const n = retryNotice(["ana"]);
    await notifier({ email: false }).send(n);
    const slow = new NotificationDeliveryWorker({
      prisma: db.prisma,
      clock,
      workerId: "w1",
      retry,
      timeoutMs: 300,
      random: () => 0.5,
      endpointAddresses: "any",
    });
    expect((await slow.runOnce()).map((s) => s.outcome)).toEqual(["retrying"]);
    expect((await deliveriesOf(n.id))[0]).toMatchObject({
      status: "retrying",
      attempts: 1,
      lastError: "no answer within 300 ms",
      lastStatusCode: null,
    });
    receiver.delayMs = 0;
    await drain();
    expect((await deliveriesOf(n.id))[0]).toMatchObject({ status: "sent", attempts: 2 });
  });

  it("sends each delivery once when a slow receiver and mail server make a batch outlast one lease and a second worker claims meanwhile", async () => {
    const endpoint = (await endpoints.create({ url: receiver.url, at: T0 }))._unsafeUnwrap();
    receiver.secret = endpoint.secret;
    const notices = [retryNotice(["ana"]), retryNotice(["ana"]), retryNotice(["ana"])];
    for (const n of notices) expect((await notifier().send(n)).isOk()).toBe(true);
    // Three e-mails and three webhooks; every send takes 20 s of the clock, a lease is
    // 2 × 2 s + 30 s = 34 s: the batch of six takes 120 s.
    const sendMs = 20_000;
    let second: Promise<readonly SettledDelivery[]> | undefined;
    let sends = 0;
    const slowly = async <T>(send: () => Promise<T>): Promise<T> => {
      const result = await send();
      clock.t += sendMs;
      sends += 1;
      // While the first worker is busy with its second send, another scheduler's pass runs.
      if (sends === 2 && second === undefined) {
        second = slowWorker("w2").runOnce();
        settled.push(...(await second));
      }
      return result;
    };
    const slowWorker = (workerId: string) =>
      new NotificationDeliveryWorker({
        prisma: db.prisma,
        clock,
        workerId,
        email: {
          deliver: (n, to, at) => new ResultAsync(slowly(() => Promise.resolve(mailer.deliver(n, to, at)))),
        },
        post: (request) => slowly(() => postWebhook(request)),
        endpointAddresses: "any",
        retry,
        timeoutMs: 2_000,
        random: () => 0.5,
        // One send at a time: each moves the shared clock by a send's time, which models
        // sends one after the other (sends side by side would each move it too).
        concurrency: 1,
      });
    settled.push(...(await slowWorker("w1").runOnce()));
    expect(second).toBeDefined();
    await drain();

    expect(smtp.received).toHaveLength(3);
    expect(new Set(smtp.received.map((m) => m.parsed.messageId)).size).toBe(3);
    expect(receiver.received).toHaveLength(3);
    expect(new Set(receiver.received.map((r) => r.deliveryId)).size).toBe(3);
    const rows = await db.prisma.notificationDelivery.findMany();
    expect(rows.map((r) => [r.status, r.attempts])).toEqual(rows.map(() => ["sent", 1]));
    expect(settled.map((s) => s.outcome)).toEqual(rows.map(() => "sent"));
  });

  it("sends a pass's e-mails and webhooks several at once, up to its concurrency", async () => {
    // The mail server answers a message only once a second one is in flight beside it (or
    // after 300 ms); the receiver takes 200 ms to answer.
    smtp.holdUntilOverlap = { fallbackMs: 300 };
    const mails = [retryNotice(["ana"]), retryNotice(["ana"]), retryNotice(["ana"])];
    for (const n of mails) expect((await notifier().send(n)).isOk()).toBe(true);
    const mailed = await worker("w1", { concurrency: 3 }).runOnce();
    expect(mailed.map((s) => [s.channel, s.outcome])).toEqual(mails.map(() => ["email", "sent"]));
    expect(smtp.received).toHaveLength(3);
    expect(smtp.mostInFlight).toBeGreaterThanOrEqual(2);

    const endpoint = (await endpoints.create({ url: receiver.url, at: T0 }))._unsafeUnwrap();
    receiver.secret = endpoint.secret;
    receiver.delayMs = 200;
    const pushes = [retryNotice(["ana"]), retryNotice(["ana"]), retryNotice(["ana"])];
    for (const n of pushes) expect((await notifier({ email: false }).send(n)).isOk()).toBe(true);
    const pushed = await worker("w1", { concurrency: 3 }).runOnce();
    expect(pushed.map((s) => [s.channel, s.outcome])).toEqual(pushes.map(() => ["webhook", "sent"]));
    expect(receiver.mostInFlight).toBeGreaterThanOrEqual(2);
  });

  /**
   * A push queued to a client endpoint that takes 2 s to answer; how many e-mails the mail
   * server had received when that endpoint answered (undefined before it has).
   */
  async function pushToSlowEndpoint(): Promise<() => number | undefined> {
    const endpoint = (await endpoints.create({ url: receiver.url, at: T0 }))._unsafeUnwrap();
    receiver.secret = endpoint.secret;
    receiver.delayMs = 2_000;
    let mailed: number | undefined;
    receiver.onAnswer = () => {
      mailed = smtp.received.length;
    };
    expect((await notifier({ email: false }).send(retryNotice(["ana"]))).isOk()).toBe(true);
    return () => mailed;
  }

  it("keeps sending while one endpoint is slow: the pass claims more as its other slots free, instead of waiting for that endpoint", async () => {
    // Ten e-mails queued, then a push to a client's endpoint that takes a second to answer,
    // due first; claims of two at a time. The pass's first claim is the push and one e-mail.
    for (let i = 0; i < 10; i++) expect((await notifier().send(retryNotice(["ana"]))).isOk()).toBe(true);
    const mailedBeforeAnswer = await pushToSlowEndpoint();
    await db.prisma.$executeRawUnsafe(
      "UPDATE notification_deliveries SET next_attempt_at = next_attempt_at - interval '1 second' WHERE channel = 'webhook'",
    );
    const pass = await worker("w1", { concurrency: 4, batchSize: 2, timeoutMs: 5_000 }).runOnce();
    // All eleven in one pass, sent while the push waited for its answer (before, the pass
    // ended with the push and its one e-mail, and the other nine waited for the next pass).
    const outcomes = (channel: string) => pass.filter((s) => s.channel === channel).map((s) => s.outcome);
    expect([outcomes("webhook"), outcomes("email")]).toEqual([
      ["sent"],
      Array.from({ length: 10 }, () => "sent"),
    ]);
    expect([smtp.received.length, receiver.received.length]).toEqual([10, 1]);
    expect(mailedBeforeAnswer()).toBe(10);
  });

  it("claims what fell due while a slow endpoint holds a send: the other slots send it before that endpoint answers", async () => {
    // Five e-mails queued to go out a second from now, then a push due now to an endpoint
    // that takes 2 s to answer: the pass's first claim holds the push alone.
    clock.t = T0 + 1_000;
    for (let i = 0; i < 5; i++) expect((await notifier().send(retryNotice(["ana"]))).isOk()).toBe(true);
    clock.t = T0;
    const mailedBeforeAnswer = await pushToSlowEndpoint();
    const running = worker("w1", { concurrency: 4, timeoutMs: 5_000 }).runOnce();
    // The e-mails fall due once the push is on its way.
    while (receiver.received.length === 0) await new Promise((r) => setTimeout(r, 5));
    clock.t = T0 + 1_000;
    const pass = await running;
    expect(pass.map((s) => [s.channel, s.outcome])).toEqual([
      ["webhook", "sent"],
      ...Array.from({ length: 5 }, () => ["email", "sent"]),
    ]);
    expect(smtp.received).toHaveLength(5);
    expect(mailedBeforeAnswer()).toBe(5);
  });

  it("never sends a delivery twice in one pass: a refill that claims one of the pass's own sends again (its lease ran out while it was sent) leaves it to that send", async () => {
    const endpoint = (await endpoints.create({ url: receiver.url, at: T0 }))._unsafeUnwrap();
    receiver.secret = endpoint.secret;
    receiver.delayMs = 1_000;
    expect((await notifier({ email: false }).send(retryNotice(["ana"]))).isOk()).toBe(true);
    // A refill window beyond the lease (deliveryLeaseMs(5 s) = 40 s): the pass may still claim
    // once the lease it took on the push has run out.
    const running = worker("w1", { concurrency: 4, timeoutMs: 5_000, refillForMs: 120_000 }).runOnce();
    while (receiver.received.length === 0) await new Promise((r) => setTimeout(r, 5));
    clock.t += 60_000;
    const pass = await running;
    expect(receiver.received).toHaveLength(1);
    expect(pass.map((s) => [s.channel, s.outcome])).toEqual([["webhook", "sent"]]);
  });

  it("sends one delivery at a time with a concurrency of 1", async () => {
    const endpoint = (await endpoints.create({ url: receiver.url, at: T0 }))._unsafeUnwrap();
    receiver.secret = endpoint.secret;
    smtp.holdUntilOverlap = { fallbackMs: 100 };
    receiver.delayMs = 50;
    for (const n of [retryNotice(["ana"]), retryNotice(["ana"])])
      expect((await notifier().send(n)).isOk()).toBe(true);
    const settledNow = await worker("w1", { concurrency: 1 }).runOnce();
    expect(settledNow.map((s) => s.outcome)).toEqual(["sent", "sent", "sent", "sent"]);
    expect([smtp.received.length, receiver.received.length]).toEqual([2, 2]);
    expect([smtp.mostInFlight, receiver.mostInFlight]).toEqual([1, 1]);
  });

  it("sends no more e-mails at once than the SMTP pool has connections, so none waits for one after its lease was renewed", async () => {
    // The URL caps the pool at 1 connection, the worker's concurrency is 3: while the server
    // holds the first message, the other deliveries must still be claimed but not started
    // (attempts 0), not renewed and queued inside nodemailer, where a slow server could make
    // them outlast their lease.
    const capped = deliveryMailer(`${smtp.url}?maxConnections=1`, where);
    let open: () => void = () => undefined;
    smtp.gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const mails = [retryNotice(["ana"]), retryNotice(["ana"]), retryNotice(["ana"])];
    for (const n of mails) expect((await notifier().send(n)).isOk()).toBe(true);
    const pass = worker("w1", { concurrency: 3, email: capped }).runOnce();
    for (let i = 0; i < 200 && smtp.inFlight === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(smtp.inFlight).toBe(1);
    await new Promise((r) => setTimeout(r, 100));
    const started = await db.prisma.notificationDelivery.count({ where: { attempts: { gt: 0 } } });
    open();
    const done = await pass;
    capped.close();
    expect(started).toBe(1);
    expect(done.map((s) => s.outcome)).toEqual(["sent", "sent", "sent"]);
    expect(smtp.mostInFlight).toBe(1);
  });

  it("refuses a concurrency that is not a whole number of at least 1", () => {
    for (const concurrency of [0, -1, 1.5, Number.NaN])
      expect(() => worker("w1", { concurrency })).toThrow(RangeError);
  });

  it("sends a pass's statements prepared, but the claim: the batch's reads once, the lease and the outcome once per delivery", async () => {
    const endpoint = (await endpoints.create({ url: receiver.url, at: T0 }))._unsafeUnwrap();
    receiver.secret = endpoint.secret;
    for (const n of [retryNotice(["ana"]), retryNotice(["ana"])])
      expect((await notifier().send(n)).isOk()).toBe(true);
    // Sends as slow as on a loaded machine (over SLOW_SEND_MS): without refills (their claims
    // are the slow-endpoint tests'), the statements are the same however long a send takes.
    receiver.delayMs = 300;
    const pass = await statementsSentDuring(db.prisma, () => worker("w1", { refillForMs: 0 }).runOnce());
    expect(pass.result.map((s) => s.outcome)).toEqual(["sent", "sent", "sent", "sent"]);
    // The claim, through Prisma (its plans are tested on their own).
    expect(pass.sent[0]).toMatch(/^\s*UPDATE notification_deliveries d/);
    expect(pass.sent.slice(1, 5)).toEqual([
      "susu_notification_delivery_notifications",
      "susu_notification_delivery_endpoints",
      "susu_notification_settings_of_people",
      "susu_notification_delivery_unattached",
    ]);
    expect([...pass.sent.slice(5)].sort()).toEqual([
      ...Array(4).fill("susu_notification_delivery_record"),
      ...Array(4).fill("susu_notification_delivery_renew"),
    ]);
    const rows = await db.prisma.notificationDelivery.findMany();
    expect(rows.map((r) => [r.status, r.attempts, r.claimedBy, r.claimedUntil, r.sentAt])).toEqual(
      rows.map(() => ["sent", 1, null, null, new Date(T0)]),
    );
  });

  it("fails what was queued for an endpoint disabled since, without sending it", async () => {
    const endpoint = (await endpoints.create({ url: receiver.url, at: T0 }))._unsafeUnwrap();
    receiver.secret = endpoint.secret;
    const n = retryNotice(["ana"]);
    await notifier({ email: false }).send(n);
    await endpoints.disable(endpoint.id, T0);
    await drain();
    expect(receiver.received).toEqual([]);
    expect((await deliveriesOf(n.id))[0]).toMatchObject({
      status: "failed",
      lastError: "the endpoint is disabled",
    });
  });

  describe("endpoint addresses (SSRF): nothing on the platform's own networks unless told any", () => {
    /** A resolver that answers `addresses` for every host, recording what it was asked. */
    const stubLookup = (addresses: readonly { address: string; family: 4 | 6 }[]) => {
      const asked: string[] = [];
      const lookup = async (hostname: string) => {
        asked.push(hostname);
        return addresses;
      };
      return { asked, lookup };
    };
    const receiverPort = () => new URL(receiver.url).port;

    it("fails at once, without connecting, a delivery whose host resolves to a loopback address among public ones (DNS rebinding)", async () => {
      const endpoint = (
        await endpoints.create({ url: `https://push.client.test:${receiverPort()}/push`, at: T0 })
      )._unsafeUnwrap();
      receiver.secret = endpoint.secret;
      const n = retryNotice(["ana"]);
      await notifier({ email: false }).send(n);
      const dns = stubLookup([
        { address: "93.184.216.34", family: 4 },
        { address: "127.0.0.1", family: 4 },
      ]);
      await drain(worker("w1", { endpointAddresses: "public", lookup: dns.lookup }));
      expect(receiver.received).toEqual([]);
      expect(dns.asked).toEqual(["push.client.test"]);
      const [row] = await deliveriesOf(n.id);
      expect(row).toMatchObject({ status: "failed", attempts: 1, lastStatusCode: null });
      expect(row?.lastError).toBe(
        "not sent: the endpoint's host push.client.test resolves to 127.0.0.1, a loopback address (SUSU_NOTIFY_ENDPOINT_ADDRESSES is public)",
      );
      expect(settled.map((s) => s.outcome)).toEqual(["failed"]);
    });

    it.each([
      ["an IPv6 unique local address", { address: "fd00::5", family: 6 as const }, "a private address"],
      [
        "the cloud metadata address",
        { address: "169.254.169.254", family: 4 as const },
        "a link-local address",
      ],
      ["an IPv4-mapped loopback", { address: "::ffff:127.0.0.1", family: 6 as const }, "a loopback address"],
    ])("fails a host that resolves to %s", async (_what, address, kind) => {
      const endpoint = (
        await endpoints.create({ url: "https://push.client.test/push", at: T0 })
      )._unsafeUnwrap();
      receiver.secret = endpoint.secret;
      const n = retryNotice(["ana"]);
      await notifier({ email: false }).send(n);
      await drain(worker("w1", { endpointAddresses: "public", lookup: stubLookup([address]).lookup }));
      const [row] = await deliveriesOf(n.id);
      expect(row).toMatchObject({ status: "failed", attempts: 1 });
      expect(row?.lastError).toContain(`resolves to ${address.address}, ${kind}`);
    });

    it("fails an endpoint stored with a URL that is not allowed now (a literal loopback address, plain http), without resolving anything", async () => {
      const endpoint = (await endpoints.create({ url: receiver.url, at: T0 }))._unsafeUnwrap();
      receiver.secret = endpoint.secret;
      const n = retryNotice(["ana"]);
      await notifier({ email: false }).send(n);
      const dns = stubLookup([{ address: "93.184.216.34", family: 4 }]);
      await drain(worker("w1", { endpointAddresses: "public", lookup: dns.lookup }));
      expect(receiver.received).toEqual([]);
      expect(dns.asked).toEqual([]);
      const [row] = await deliveriesOf(n.id);
      expect(row).toMatchObject({ status: "failed", attempts: 1 });
      expect(row?.lastError).toMatch(/^not sent: the endpoint's URL is not allowed: .*https/);
    });

    it("connects to the address it checked: a host only the stub resolves reaches the receiver under any, resolved once per send", async () => {
      const endpoint = (
        await endpoints.create({ url: `http://push.client.test:${receiverPort()}/push`, at: T0 })
      )._unsafeUnwrap();
      receiver.secret = endpoint.secret;
      receiver.script = [500];
      const n = retryNotice(["ana"]);
      await notifier({ email: false }).send(n);
      const dns = stubLookup([{ address: "127.0.0.1", family: 4 }]);
      await drain(worker("w1", { endpointAddresses: "any", lookup: dns.lookup }));
      expect(receiver.received.map((r) => [r.status, r.check.valid])).toEqual([
        [500, true],
        [200, true],
      ]);
      expect(dns.asked).toEqual(["push.client.test", "push.client.test"]);
      expect((await deliveriesOf(n.id))[0]).toMatchObject({ status: "sent", attempts: 2 });
    });

    it("retries a host that does not resolve now", async () => {
      const endpoint = (
        await endpoints.create({ url: "https://push.client.test/push", at: T0 })
      )._unsafeUnwrap();
      receiver.secret = endpoint.secret;
      const n = retryNotice(["ana"]);
      await notifier({ email: false }).send(n);
      const lookup = async () => {
        throw Object.assign(new Error("getaddrinfo ENOTFOUND push.client.test"), { code: "ENOTFOUND" });
      };
      settled.push(...(await worker("w1", { endpointAddresses: "public", lookup }).runOnce()));
      expect((await deliveriesOf(n.id))[0]).toMatchObject({
        status: "retrying",
        attempts: 1,
        lastError: "ENOTFOUND: getaddrinfo ENOTFOUND push.client.test",
      });
    });
  });

  it("signs with the old secret too while a rotation's overlap lasts, then with the new one only", async () => {
    const endpoint = (await endpoints.create({ url: receiver.url, at: T0 }))._unsafeUnwrap();
    const rotated = (await endpoints.rotateSecret(endpoint.id, T0, 60_000))._unsafeUnwrap();
    // A client app still on the old secret accepts requests during the overlap.
    receiver.secret = endpoint.secret;
    const during = retryNotice(["ana"]);
    await notifier({ email: false }).send(during);
    await drain();
    expect(receiver.received.map((r) => [r.status, r.signature?.split(",").length])).toEqual([[200, 3]]);
    expect((await deliveriesOf(during.id))[0]?.status).toBe("sent");

    receiver.received.length = 0;
    clock.t = T0 + 60_001;
    const after = retryNotice(["ana"]);
    await notifier({ email: false }).send(after);
    await drain();
    // The old secret no longer verifies: the receiver refuses (401, a 4xx: failed, not retried) …
    expect(receiver.received.map((r) => [r.status, r.check])).toEqual([
      [401, { valid: false, reason: "no_matching_signature" }],
    ]);
    // … and the new one does.
    const last = receiver.received[0];
    expect(
      verifySusuSignature(last?.body ?? "", last?.signature, rotated?.secret ?? "", {
        nowSeconds: Math.floor(clock.t / 1000),
      }).valid,
    ).toBe(true);
  });

  it("respects preferences for optional messages only, and skips people without an address", async () => {
    const endpoint = (await endpoints.create({ url: receiver.url, at: T0 }))._unsafeUnwrap();
    receiver.secret = endpoint.secret;
    const optional = retryNotice(["ana", "ben", "cy"], { template: "checkout_expired", data: {} });
    await notifier().send(optional);
    const required = retryNotice(["ben", "cy"]);
    await notifier().send(required);
    const rows = async (id: string) => (await deliveriesOf(id)).map((r) => [r.channel, r.personId]);
    // Ben switched e-mail and push off: he gets no optional message, but every required one.
    expect(await rows(optional.id)).toEqual([
      ["email", "ana"],
      ["webhook", "ana"],
      ["webhook", "cy"],
    ]);
    expect(await rows(required.id)).toEqual([
      ["email", "ben"],
      ["webhook", "ben"],
      ["webhook", "cy"],
    ]);
  });

  it("marks a permanently refused address bounced, on the delivery and the person, and writes to it no more", async () => {
    const settings = new PrismaNotificationSettings(db.prisma);
    const now = new Date(T0);
    await db.prisma.person.create({
      data: { id: "dee", displayName: "Dee", email: "dee@example.com", createdAt: now, updatedAt: now },
    });
    smtp.refusal = { at: "rcpt", code: 550, message: "5.1.1 no such user" };
    const n = retryNotice(["dee"]);
    await notifier().send(n);
    await drain();
    const [row] = await deliveriesOf(n.id);
    expect(row).toMatchObject({ status: "bounced", attempts: 1 });
    expect(row?.lastError).not.toContain("dee@example.com");
    const dee = (await settings.get("dee"))._unsafeUnwrap();
    expect(dee?.emailStatus).toBe("bouncing");
    expect(dee?.emailBounce?.at).toBe(T0);

    smtp.refusal = undefined;
    const next = retryNotice(["dee"]);
    await notifier().send(next);
    expect(await deliveriesOf(next.id)).toEqual([]);

    // A new address has not bounced.
    const put = await settings.put(
      "dee",
      { email: "dee@new.example", channels: { email: true, push: true }, muted: [] },
      T0 + 1,
    );
    expect(put._unsafeUnwrap()?.emailStatus).toBe("ok");
  });

  it("clears a bounce when the person saves the same address again (it works now): their next required notice is e-mailed to it", async () => {
    const settings = new PrismaNotificationSettings(db.prisma);
    const now = new Date(T0);
    await db.prisma.person.create({
      data: { id: "eli", displayName: "Eli", email: "eli@example.com", createdAt: now, updatedAt: now },
    });
    smtp.refusal = { at: "rcpt", code: 550, message: "5.2.1 mailbox full for good" };
    const bounced = retryNotice(["eli"]);
    await notifier().send(bounced);
    await drain();
    expect((await settings.get("eli"))._unsafeUnwrap()?.emailStatus).toBe("bouncing");
    smtp.refusal = undefined;

    // The person saves the same address again, as it is stored: saying it works now.
    const saved = await settings.put(
      "eli",
      { email: "eli@example.com", channels: { email: true, push: true }, muted: [] },
      T0 + 1,
    );
    expect(saved._unsafeUnwrap()).toMatchObject({ email: "eli@example.com", emailStatus: "ok" });
    expect(saved._unsafeUnwrap()?.emailBounce).toBeUndefined();
    const row = await db.prisma.person.findUniqueOrThrow({ where: { id: "eli" } });
    expect([row.emailBouncedAt, row.emailBounceReason]).toEqual([null, null]);

    // A required notice about their money reaches them again.
    clock.t = T0 + 2;
    const next = retryNotice(["eli"]);
    await notifier().send(next);
    await drain();
    expect((await deliveriesOf(next.id)).map((d) => [d.recipient, d.status])).toEqual([
      ["eli@example.com", "sent"],
    ]);
    expect(smtp.received.map((m) => m.to)).toEqual([["eli@example.com"]]);
  });

  it("a refusal of the platform, not the recipient, is retried and then failed: nobody's address is marked bouncing", async () => {
    const settings = new PrismaNotificationSettings(db.prisma);
    const refusals = [
      // The provider refuses the sender (not verified, suspended): every message would be.
      { at: "mail", code: 554, message: "5.7.1 Sender address not verified" },
      { at: "mail", code: 550, message: "5.7.1 Account suspended" },
      // Relaying denied is answered at RCPT TO, but it is about the platform's account.
      { at: "rcpt", code: 554, message: "5.7.1 Relay access denied" },
      // The message refused after the recipient was accepted (content, size, policy).
      { at: "data", code: 554, message: "5.7.0 Message rejected" },
      { at: "data", code: 552, message: "5.3.4 Message too big" },
    ] as const;
    for (const refusal of refusals) {
      smtp.refusal = refusal;
      settled = [];
      clock.t = T0;
      const n = retryNotice(["ana"]);
      await notifier().send(n);
      await drain();
      const [row] = await deliveriesOf(n.id);
      expect(row, refusal.message).toMatchObject({ status: "failed", attempts: retry.maxAttempts });
      expect(row?.lastError).toContain(String(refusal.code));
      expect(settled.map((s) => s.outcome)).not.toContain("bounced");
      expect(settled.at(-1)?.outcome).toBe("failed");
      expect((await settings.get("ana"))._unsafeUnwrap()?.emailStatus, refusal.message).toBe("ok");
    }
    // Once the provider takes mail again, the same person is written to.
    smtp.refusal = undefined;
    const later = retryNotice(["ana"]);
    await notifier().send(later);
    await drain();
    expect((await deliveriesOf(later.id)).map((r) => r.status)).toEqual(["sent"]);
  });

  it("sends a retried e-mail to the address the person has now, and none they switched off since it was queued", async () => {
    const settings = new PrismaNotificationSettings(db.prisma);
    const endpoint = (await endpoints.create({ url: receiver.url, at: T0 }))._unsafeUnwrap();
    receiver.secret = endpoint.secret;
    const now = new Date(T0);
    await db.prisma.person.createMany({
      data: [
        { id: "eve", displayName: "Eve", email: "eve@old.example", createdAt: now, updatedAt: now },
        { id: "fay", displayName: "Fay", email: "fay@example.com", createdAt: now, updatedAt: now },
      ],
    });
    // The mail server is down when a required notice (Eve) and an optional one (Fay) go out.
    smtp.refusal = { at: "data", code: 451, message: "4.3.0 try later" };
    receiver.script = [503, 503];
    const required = retryNotice(["eve"]);
    const optional = retryNotice(["fay"], { template: "checkout_expired", data: {} });
    await notifier().send(required);
    await notifier().send(optional);
    settled.push(...(await worker().runOnce()));
    expect((await deliveriesOf(optional.id)).map((r) => [r.channel, r.status])).toEqual([
      ["email", "retrying"],
      ["webhook", "retrying"],
    ]);

    // Meanwhile Eve moves to a new address, and Fay switches e-mail and push off.
    await settings.put(
      "eve",
      { email: "eve@new.example", channels: { email: true, push: true }, muted: [] },
      T0 + 1,
    );
    await settings.put(
      "fay",
      { email: "fay@example.com", channels: { email: false, push: false }, muted: [] },
      T0 + 1,
    );
    smtp.refusal = undefined;
    await drain();

    // Nothing more to the address Eve gave up, the notice to the one she has now; nothing to Fay.
    expect(smtp.received.map((m) => m.to)).toEqual([["eve@new.example"]]);
    expect(
      (await deliveriesOf(required.id))
        .filter((r) => r.channel === "email")
        .map((r) => [r.recipient, r.status]),
    ).toEqual([
      ["eve@new.example", "sent"],
      ["eve@old.example", "withdrawn"],
    ]);
    const fay = await deliveriesOf(optional.id);
    expect(fay.map((r) => [r.channel, r.status])).toEqual([
      ["email", "withdrawn"],
      ["webhook", "withdrawn"],
    ]);
    // Withdrawn, not failed: the failing-deliveries alert counts failed sends only.
    expect(settled.filter((d) => d.outcome === "failed")).toEqual([]);
    expect(settled.filter((d) => d.outcome === "withdrawn")).toHaveLength(3);
    const statusesOf = (personId: string) =>
      receiver.received.filter((r) => r.json.personId === personId).map((r) => r.status);
    expect(statusesOf("fay")).toEqual([503]);
    expect(statusesOf("eve")).toEqual([503, 200]);
  });

  it("sends the notice to an address the person left and came back to before it went out", async () => {
    const settings = new PrismaNotificationSettings(db.prisma);
    const now = new Date(T0);
    await db.prisma.person.create({
      data: { id: "gil", displayName: "Gil", email: "gil@a.example", createdAt: now, updatedAt: now },
    });
    const put = (email: string, at: number) =>
      settings.put("gil", { email, channels: { email: true, push: true }, muted: [] }, at);
    smtp.refusal = { at: "data", code: 451, message: "4.3.0 try later" };
    const n = retryNotice(["gil"]);
    await notifier().send(n);
    settled.push(...(await worker().runOnce()));
    // Gil moves to b, a pass withdraws a's delivery and queues b's; the server is still down.
    await put("gil@b.example", T0 + 1);
    clock.t += 3_600_000;
    settled.push(...(await worker().runOnce()));
    settled.push(...(await worker().runOnce()));
    // Back to a before b's delivery went out: b's is withdrawn, a's is queued again and sent.
    await put("gil@a.example", T0 + 2);
    smtp.refusal = undefined;
    await drain();
    expect(smtp.received.map((m) => m.to)).toEqual([["gil@a.example"]]);
    // Queued again with its count of sends from zero: the earlier try does not count against it.
    expect((await deliveriesOf(n.id)).map((r) => [r.recipient, r.status, r.attempts]).sort()).toEqual([
      ["gil@a.example", "sent", 1],
      ["gil@b.example", "withdrawn", 2],
    ]);
  });

  /** A held payment's notice to its seller and to the platform's admins (as `dispute_closed` is). */
  const toSellerAndAdmins = (sellerId: string): Notification => ({
    id: `hp_${sellerId}:notify:dispute_closed:dp_1`,
    aggregate: "held_payment",
    aggregateId: `hp_${sellerId}`,
    personIds: [sellerId],
    roles: ["platform_admins"],
    template: "dispute_closed",
    data: { disputeId: "dp_1", outcome: "won", release: "started" },
  });
  const sellerAtAdminAddress = async (id: string) => {
    const now = new Date(T0);
    await db.prisma.person.create({
      data: { id, displayName: id, email: "Ops@susu.test", createdAt: now, updatedAt: now },
    });
  };

  it("a notice to a person and the admins, the person's address an admin one: one e-mail to it, the admins' copy", async () => {
    await sellerAtAdminAddress("sam");
    const n = toSellerAndAdmins("sam");
    await notifier().send(n);
    await drain();
    // Each audience has its own delivery; the person's is not sent beside the admins' copy.
    expect((await deliveriesOf(n.id)).map((r) => [r.recipient, r.personId, r.status])).toEqual([
      ["Ops@susu.test", "sam", "withdrawn"],
      ["ops@susu.test", null, "sent"],
    ]);
    expect(smtp.received.map((m) => m.to)).toEqual([["ops@susu.test"]]);
  });

  it("a notice to a person and the admins, the person's address an admin one: the person moving before it goes out takes only their own copy along", async () => {
    await sellerAtAdminAddress("sol");
    const n = toSellerAndAdmins("sol");
    await notifier().send(n);
    await new PrismaNotificationSettings(db.prisma).put(
      "sol",
      { email: "sol@home.example", channels: { email: true, push: true }, muted: [] },
      T0 + 1,
    );
    await drain();
    expect(smtp.received.map((m) => m.to).sort()).toEqual([["ops@susu.test"], ["sol@home.example"]]);
    expect((await deliveriesOf(n.id)).map((r) => [r.recipient, r.personId, r.status])).toEqual([
      ["Ops@susu.test", "sol", "withdrawn"],
      ["ops@susu.test", null, "sent"],
      ["sol@home.example", "sol", "sent"],
    ]);
  });

  it("sends push to a person with no stored settings, as the notifier planned it with the defaults", async () => {
    const endpoint = (await endpoints.create({ url: receiver.url, at: T0 }))._unsafeUnwrap();
    receiver.secret = endpoint.secret;
    const n = retryNotice(["nobody_1"]);
    await notifier().send(n);
    await drain();
    expect((await deliveriesOf(n.id)).map((r) => [r.channel, r.status])).toEqual([["webhook", "sent"]]);
    expect(receiver.received.map((r) => [r.json.personId, r.status])).toEqual([["nobody_1", 200]]);
  });

  it("retries a temporary SMTP refusal (4xx) and sends it later", async () => {
    smtp.refusal = { at: "data", code: 451, message: "4.3.0 try later" };
    const n = retryNotice(["ana"]);
    await notifier().send(n);
    settled.push(...(await worker().runOnce()));
    expect((await deliveriesOf(n.id))[0]).toMatchObject({ status: "retrying", attempts: 1 });
    smtp.refusal = undefined;
    await drain();
    expect((await deliveriesOf(n.id))[0]).toMatchObject({ status: "sent", attempts: 2 });
    expect(smtp.received).toHaveLength(1);
  });

  it("retries an e-mail it cannot write (a template this release does not know, a time zone Intl refuses) with the reason, then fails it, and sends the pass's other deliveries", async () => {
    // Stored by another release: a template since renamed or removed (the worker and
    // settingsOf allow for such names), and a reader's zone this process's ICU does not know.
    const now = new Date(T0);
    await db.prisma.$executeRaw`
      INSERT INTO notifications (id, template, aggregate_type, aggregate_id, person_ids, roles, data, created_at)
      VALUES ('n_retired', 'retired_template', 'round', 'round_r', ARRAY['ana']::text[], ARRAY[]::text[], '{}'::jsonb, ${now})`;
    await db.prisma.$executeRaw`
      INSERT INTO notification_deliveries (id, notification_id, channel, recipient, person_id, status, attempts, next_attempt_at, created_at, updated_at)
      VALUES ('nd_retired', 'n_retired', 'email', 'ana@example.com', 'ana', 'queued', 0, ${now}, ${now}, ${now})`;
    const zoned = retryNotice(["ana"]);
    await notifier().send(zoned);
    await db.prisma.notificationDelivery.updateMany({
      where: { notificationId: zoned.id },
      data: { timeZone: "Mars/Olympus_Mons" },
    });
    clock.t = T0 + 1;
    const good = retryNotice(["ana"]);
    await notifier().send(good);

    const pass = await worker().runOnce();
    const zonedId = (await deliveriesOf(zoned.id))[0]?.id;
    const goodId = (await deliveriesOf(good.id))[0]?.id;
    // Retried: a process of another release may write it (a rolling deploy); the pass goes on.
    expect(pass.map((s) => `${s.id} ${s.outcome}`).sort()).toEqual(
      ["nd_retired retrying", `${zonedId} retrying`, `${goodId} sent`].sort(),
    );
    const retired = await db.prisma.notificationDelivery.findUniqueOrThrow({ where: { id: "nd_retired" } });
    expect(retired).toMatchObject({ status: "retrying", attempts: 1, claimedBy: null });
    expect(retired.lastError).toContain('"retired_template"');
    expect((await deliveriesOf(zoned.id))[0]).toMatchObject({ status: "retrying", attempts: 1 });
    expect((await deliveriesOf(zoned.id))[0]?.lastError).toContain("Mars/Olympus_Mons");
    expect(smtp.received.map((m) => m.parsed.headers.get("x-susu-notification-id"))).toEqual([good.id]);
    // Not the address's fault: it is not marked bouncing.
    expect((await db.prisma.person.findUniqueOrThrow({ where: { id: "ana" } })).emailBouncedAt).toBeNull();
    // Every retry fails the same way until the attempts are spent: then `failed`, which the
    // scheduler counts and alerts on, and nothing more.
    const outcomes: string[] = [];
    for (let i = 1; i < retry.maxAttempts; i++) {
      clock.t += 3_600_000;
      outcomes.push(...(await worker().runOnce()).map((s) => s.outcome));
    }
    expect(outcomes).toEqual([
      ...Array.from({ length: 2 * (retry.maxAttempts - 2) }, () => "retrying"),
      "failed",
      "failed",
    ]);
    expect(
      await db.prisma.notificationDelivery.findUniqueOrThrow({ where: { id: "nd_retired" } }),
    ).toMatchObject({
      status: "failed",
      attempts: retry.maxAttempts,
    });
    expect((await deliveriesOf(zoned.id))[0]).toMatchObject({
      status: "failed",
      attempts: retry.maxAttempts,
    });
    expect(smtp.received).toHaveLength(1);
    clock.t += 3_600_000;
    expect(await worker().runOnce()).toEqual([]);
  });

  it("records a send that throws against its delivery (retried, then failed) instead of failing the pass, and sends the pass's other deliveries", async () => {
    const n = retryNotice(["ana"], { emails: ["cy@example.com"] });
    await notifier().send(n);
    const throwing = worker("w1", {
      email: {
        deliver: (m, to, at) => {
          if (to === "ana@example.com") throw new TypeError("cannot read properties of undefined");
          return mailer.deliver(m, to, at);
        },
      },
    });
    const first = await throwing.runOnce();
    expect(first.map((s) => s.outcome).sort()).toEqual(["retrying", "sent"]);
    const ana = (await deliveriesOf(n.id)).find((d) => d.recipient === "ana@example.com");
    expect(ana).toMatchObject({ status: "retrying", attempts: 1, claimedBy: null });
    expect(ana?.lastError).toContain("cannot read properties of undefined");
    expect(smtp.received.map((m) => m.to)).toEqual([["cy@example.com"]]);
    await drain(throwing);
    expect(settled.map((s) => s.outcome)).toEqual(["retrying", "retrying", "failed"]);
    expect((await deliveriesOf(n.id)).map((d) => [d.recipient, d.status, d.attempts])).toEqual([
      ["ana@example.com", "failed", retry.maxAttempts],
      ["cy@example.com", "sent", 1],
    ]);
  });

  it("lets only one of two workers send a delivery, and resends with the same id once a dead worker's lease runs out", async () => {
    const endpoint = (await endpoints.create({ url: receiver.url, at: T0 }))._unsafeUnwrap();
    receiver.secret = endpoint.secret;
    receiver.delayMs = 100;
    const n = retryNotice(["ana"]);
    await notifier({ email: false }).send(n);
    const [a, b] = await Promise.all([worker("w1").runOnce(), worker("w2").runOnce()]);
    expect([...a, ...b].map((s) => s.outcome)).toEqual(["sent"]);
    expect(receiver.received).toHaveLength(1);

    // A worker that claims and dies: nobody else claims it until its lease runs out.
    receiver.received.length = 0;
    const m = retryNotice(["ana"]);
    await notifier({ email: false }).send(m);
    await db.prisma.notificationDelivery.updateMany({
      where: { notificationId: m.id },
      data: { claimedBy: "dead", claimedUntil: new Date(T0 + 60_000), attempts: 1 },
    });
    expect(await worker("w2").runOnce()).toEqual([]);
    clock.t = T0 + 60_001;
    expect((await worker("w2").runOnce()).map((s) => s.outcome)).toEqual(["sent"]);
    const [row] = await deliveriesOf(m.id);
    expect(row).toMatchObject({ status: "sent", attempts: 2 });
    expect(receiver.received[0]?.deliveryId).toBe(row?.id);
  });

  it("reads a notification's recipients in one statement, and the endpoints as they are now for each notification", async () => {
    const first = (await endpoints.create({ url: receiver.url, at: T0 }))._unsafeUnwrap();
    const webhooksOf = async (id: string) =>
      (await deliveriesOf(id)).filter((r) => r.channel === "webhook").map((r) => [r.recipient, r.personId]);
    // People's settings and the enabled endpoints in one statement.
    const toPeople = retryNotice(["ana", "nobody_1"]);
    const read = await statementsSentDuring(db.prisma, async () => await notifier().send(toPeople));
    expect(read.result.isOk()).toBe(true);
    // The one read, then the notification and its deliveries written by one statement.
    expect(read.sent).toEqual(["susu_notification_recipients", "susu_notification_queue"]);
    // Someone who is not (or no longer) a person hears it by the default preferences.
    expect(await webhooksOf(toPeople.id)).toEqual([
      [first.id, "ana"],
      [first.id, "nobody_1"],
    ]);
    expect(
      (await deliveriesOf(toPeople.id)).filter((r) => r.channel === "email").map((r) => r.recipient),
    ).toEqual(["ana@example.com"]);

    // An endpoint enabled since is pushed to by the next notification, one disabled since is not.
    const second = (await endpoints.create({ url: receiver.url, at: T0 }))._unsafeUnwrap();
    const next = retryNotice(["ana"]);
    await notifier().send(next);
    expect(await webhooksOf(next.id)).toEqual(
      [
        [first.id, "ana"],
        [second.id, "ana"],
      ].sort(),
    );
    await endpoints.disable(first.id, T0);
    const after = retryNotice(["ana"]);
    await notifier().send(after);
    expect(await webhooksOf(after.id)).toEqual([[second.id, "ana"]]);

    // People none of whom exists: no settings, the endpoints all the same (defaults push).
    const strangers = retryNotice(["nobody_1", "nobody_2"]);
    await notifier().send(strangers);
    expect(await webhooksOf(strangers.id)).toEqual([
      [second.id, "nobody_1"],
      [second.id, "nobody_2"],
    ]);

    // Only to addresses: nothing to read. To the admins only: the endpoints alone.
    const toAddress = retryNotice([], { emails: ["cy@example.com"] });
    const none = await statementsSentDuring(db.prisma, async () => await notifier().send(toAddress));
    expect(none.result.isOk()).toBe(true);
    expect(none.sent).toEqual(["susu_notification_queue"]);
    expect((await deliveriesOf(toAddress.id)).map((r) => [r.channel, r.recipient])).toEqual([
      ["email", "cy@example.com"],
    ]);
    const toAdmins = retryNotice([], { roles: ["platform_admins"] });
    const admins = await statementsSentDuring(db.prisma, async () => await notifier().send(toAdmins));
    expect(admins.result.isOk()).toBe(true);
    expect(admins.sent[0]).toBe("susu_enabled_notification_endpoints");
    expect(await webhooksOf(toAdmins.id)).toEqual([[second.id, null]]);
  });

  it("reads the recipients of notifications sent at once together: each notification's deliveries go to its own people, none missing", async () => {
    const one = notifier();
    const notices = [["ana"], ["ben"], ["ana", "nobody_1"], ["nobody_2"]].map((people) =>
      retryNotice(people),
    );
    const read = await statementsSentDuring(db.prisma, () => Promise.all(notices.map((n) => one.send(n))));
    for (const r of read.result) expect(r.isOk()).toBe(true);
    // The first read alone, the three asked for while it was on its way in one statement.
    expect(read.sent.filter((s) => s === "susu_notification_recipients")).toHaveLength(2);
    const planned = await Promise.all(
      notices.map(async (n) => (await deliveriesOf(n.id)).map((r) => [r.channel, r.recipient, r.personId])),
    );
    expect(planned).toEqual([
      [["email", "ana@example.com", "ana"]],
      [["email", "ben@example.com", "ben"]],
      // Ana's address once, nobody_1 has none (no stored settings).
      [["email", "ana@example.com", "ana"]],
      [],
    ]);
  });

  it("sends an admin alert once per window with links to its ticket and runbook, counting the ones held back in the next", async () => {
    const endpoint = (await endpoints.create({ url: receiver.url, at: T0 }))._unsafeUnwrap();
    receiver.secret = endpoint.secret;
    await db.prisma.supportTicket.create({
      data: {
        id: "mc_1:ticket:transfer_parked:seller_1:2",
        kind: "transfer_parked",
        subject: "transfer parked",
        details: {},
        aggregateType: "marketplace_charge",
        aggregateId: "mc_1",
        createdAt: new Date(T0),
        updatedAt: new Date(T0),
      },
    });
    const alert = (attempt: number): Notification => ({
      id: `mc_1:notify:transfer_blocked:seller_1:${attempt}`,
      aggregate: "marketplace_charge",
      aggregateId: "mc_1",
      personIds: [],
      roles: ["platform_admins"],
      template: "transfer_blocked",
      data: { sellerId: "seller_1", attempt },
    });
    await notifier().send(alert(1));
    clock.t = T0 + 60_000;
    await notifier().send(alert(2));
    // Deciding again (a retried effect) keeps the decision.
    await notifier().send(alert(2));
    clock.t = T0 + 120_000;
    await notifier().send(alert(3));
    clock.t = T0 + 16 * 60_000;
    await notifier().send(alert(4));
    await drain();

    const sent = await db.prisma.notification.findMany({
      orderBy: { createdAt: "asc" },
      where: { template: "transfer_blocked" },
    });
    expect(sent.map((n) => n.id)).toEqual([alert(1).id, alert(4).id]);
    expect(sent[0]?.data).toMatchObject({
      ticketUrl: "https://api.susu.test/v1/tickets/mc_1%3Aticket%3Atransfer_parked%3Aseller_1%3A2",
      runbookUrl: "docs/runbooks/SusuTransfersBlocked.md",
    });
    expect(sent[0]?.data).not.toHaveProperty("similarAlertsHeldBack");
    expect(sent[1]?.data).toMatchObject({
      similarAlertsHeldBack: 2,
      heldBackSince: new Date(T0).toISOString(),
    });
    // Each alert that went out reached the admins by e-mail and the endpoint (as the role, not a person).
    expect(smtp.received.map((m) => m.to)).toEqual([["ops@susu.test"], ["ops@susu.test"]]);
    // Both are due in the same pass and sent side by side: found by id, not by arrival.
    const mailOf = (id: string) =>
      smtp.received.find((m) => m.parsed.headers.get("x-susu-notification-id") === id);
    expect(mailOf(alert(4).id)?.parsed.text).toContain("Similar alerts held back: 2");
    expect(mailOf(alert(1).id)?.parsed.text).toContain("https://api.susu.test/v1/tickets/");
    expect(receiver.received.map((r) => [r.json.personId, r.json.role])).toEqual([
      [null, "platform_admins"],
      [null, "platform_admins"],
    ]);
  });
});
