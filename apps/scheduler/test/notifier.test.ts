// The scheduler's notifier: e-mail through SMTP when SUSU_SMTP_URL is set, log lines otherwise.
import { LogNotifier, SmtpNotifier } from "@susu/adapters";
import { TestSmtpServer, useTestDatabase } from "@susu/adapters/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { notifierOf } from "../src/container.js";
import { readSchedulerEnv } from "../src/env.js";
import { createLogger } from "../src/logger.js";

const log = createLogger("silent", "scheduler-test");

describe("the scheduler's notifier", () => {
  const server = new TestSmtpServer();
  const db = useTestDatabase();
  beforeAll(() => server.start());
  afterAll(() => server.stop());

  it("is the log notifier without SUSU_SMTP_URL", () => {
    const env = readSchedulerEnv({ STRIPE_SECRET_KEY: "sk_test_x" });
    expect(notifierOf(env, db.prisma, log)).toBeInstanceOf(LogNotifier);
  });

  it("e-mails members by their stored address and the configured admins when SUSU_SMTP_URL is set", async () => {
    const env = readSchedulerEnv({
      STRIPE_SECRET_KEY: "sk_test_x",
      SUSU_SMTP_URL: server.url,
      SUSU_MAIL_FROM: "susu <no-reply@susu.test>",
      SUSU_ADMIN_EMAILS: "ops@susu.test, lead@susu.test",
      SUSU_MAIL_LOCALE: "en-US",
      SUSU_MAIL_TIME_ZONE: "America/New_York",
    });
    const now = new Date();
    await db.prisma.person.create({
      data: { id: "ana", displayName: "Ana", email: "ana@example.com", createdAt: now, updatedAt: now },
    });
    const notifier = notifierOf(env, db.prisma, log);
    expect(notifier).toBeInstanceOf(SmtpNotifier);
    const result = await notifier.send({
      id: "round_1:notify:contribution_retry_scheduled:ana:1",
      aggregate: "round",
      aggregateId: "round_1",
      groupId: "g1",
      personIds: ["ana"],
      roles: ["platform_admins"],
      template: "contribution_retry_scheduled",
      data: {
        roundId: "round_1",
        currency: "USD",
        failureCode: "insufficient_funds",
        retryAt: "2026-03-01T00:00:00.000Z",
      },
    });
    (notifier as SmtpNotifier).close();
    expect(result.isOk()).toBe(true);
    expect(server.received.map((m) => m.to)).toEqual([
      ["ana@example.com"],
      ["ops@susu.test"],
      ["lead@susu.test"],
    ]);
    expect(server.received[0]?.from).toBe("no-reply@susu.test");
    // The configured locale and time zone: 00:00 UTC is 7 p.m. the day before in New York.
    expect(server.received[0]?.parsed.text?.replace(/\u202f/g, " ")).toContain(
      "Saturday, February 28, 2026 at 7:00 PM (America/New_York)",
    );
  });
});
