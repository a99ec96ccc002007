// The daily reconciliation job on real PostgreSQL and the emulator (through the SDK): it
// reconciles the previous UTC day (its first run; catching up is in
// reconciliation-catch-up.test.ts), stores the report, and a report with differences
// opens one support ticket for its period.
import { createStripeClient, PrismaSupportDesk, stripeEndpointOf } from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import { ManualClock } from "@susu/domain/testing";
import { type RunningEmulator, startEmulator } from "@susu/stripe-emulator";
import PgBoss from "pg-boss";
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  RECONCILIATION_JOB_EXPIRE_SECONDS,
  RECONCILIATION_QUEUE,
  RECONCILIATION_RUN_BUDGET_MS,
  reconcileDueDays,
  reconcilePeriod,
  reconciliationTicketId,
  scheduleReconciliation,
} from "../src/jobs/reconciliation.js";
import { createLogger } from "../src/logger.js";

const db = useTestDatabase();
const log = createLogger("silent", "reconciliation-job-test");
const DAY = Date.UTC(2026, 11, 1);
const HOUR = 3_600_000;

describe("the reconciliation job (PostgreSQL + the emulator)", () => {
  let emulator: RunningEmulator;
  let stripe: Stripe;
  const clock = new ManualClock(DAY + 3 * HOUR);

  beforeAll(async () => {
    emulator = await startEmulator({ port: 0, fees: false, startTime: (DAY + 10 * HOUR) / 1000 });
    stripe = createStripeClient({
      secretKey: emulator.secretKey,
      ...stripeEndpointOf(emulator.url),
      timeoutMs: 10_000,
      maxNetworkRetries: 0,
    });
  });
  afterAll(async () => {
    await emulator?.stop();
  });

  const deps = () => ({ prisma: db.prisma, stripe, desk: new PrismaSupportDesk(db.prisma, clock), clock });

  it("finds nothing to say about a day without money, and opens no ticket", async () => {
    const { runs, remaining } = await reconcileDueDays(deps(), log);
    expect(remaining).toBe(0);
    expect(runs).toHaveLength(1);
    expect(runs[0]?.report).toMatchObject({ from: DAY - 24 * HOUR, to: DAY, differences: [] });
    expect(await db.prisma.supportTicket.count()).toBe(0);
    expect(await db.prisma.reconciliationReport.count()).toBe(1);
  });

  it("reports a charge susu does not know, the next day, with one ticket for the period however often it runs", async () => {
    const pi = await stripe.paymentIntents.create({
      amount: 25_00,
      currency: "aud",
      payment_method: "pm_card_visa",
      payment_method_types: ["card"],
      confirm: true,
    });
    expect(pi.status).toBe("succeeded");

    clock.advance(23 * HOUR);
    const { runs } = await reconcileDueDays(deps(), log);
    const first = runs[0];
    if (first === undefined) throw new Error("the next day was not reconciled");
    expect(runs).toHaveLength(1);
    expect(first.report.from).toBe(DAY);
    expect(
      first.report.differences.map((d) => [d.code, d.category, d.stripeMinor, d.stripeCurrency]),
    ).toEqual([["missing_in_susu", "charge", 25_00, "AUD"]]);
    // The day again (an operator's rerun, or two schedulers): a second report, one ticket.
    await reconcilePeriod(deps(), log, { from: DAY, to: DAY + 24 * HOUR });
    expect((await reconcileDueDays(deps(), log)).runs).toEqual([]);

    const tickets = await db.prisma.supportTicket.findMany();
    expect(tickets.map((t) => [t.id, t.kind, t.status])).toEqual([
      [reconciliationTicketId(DAY, DAY + 24 * HOUR), "reconciliation_differences", "open"],
    ]);
    expect(tickets[0]?.subject).toContain("found 1 difference(s)");
    expect(await db.prisma.reconciliationReport.count({ where: { periodFrom: new Date(DAY) } })).toBe(2);
  });

  it("is scheduled on its cron in pg-boss", async () => {
    const boss = new PgBoss({ connectionString: db.connectionString, schema: "pgboss", supervise: false });
    await boss.start();
    try {
      await scheduleReconciliation(boss, deps(), log, "15 2 * * *");
      const schedules = await boss.getSchedules();
      expect(schedules.map((s) => [s.name, s.cron])).toContainEqual([RECONCILIATION_QUEUE, "15 2 * * *"]);
      // One run at a time, whatever number of schedulers work the queue.
      expect((await boss.getQueue(RECONCILIATION_QUEUE))?.policy).toBe("singleton");
      // Its jobs expire after an hour (pg-boss's default is 15 minutes), well past a run's budget.
      expect((await boss.getQueue(RECONCILIATION_QUEUE))?.expireInSeconds).toBe(
        RECONCILIATION_JOB_EXPIRE_SECONDS,
      );
      expect(RECONCILIATION_JOB_EXPIRE_SECONDS * 1000).toBeGreaterThanOrEqual(
        6 * RECONCILIATION_RUN_BUDGET_MS,
      );
    } finally {
      await boss.stop({ graceful: false, wait: true });
    }
  });
});
