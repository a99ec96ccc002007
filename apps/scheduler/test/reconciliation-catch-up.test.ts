import { startTestBoss, useTestDatabase } from "@susu/adapters/testing";
import { ManualClock } from "@susu/domain/testing";
import type { RunningEmulator } from "@susu/stripe-emulator";
import { errAsync } from "neverthrow";
import type PgBoss from "pg-boss";
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  dueReconciliationDays,
  RECONCILIATION_DAYS_PER_RUN,
  RECONCILIATION_QUEUE,
  reconcileDueDays,
  reconciliationTicketId,
  scheduleReconciliation,
} from "../src/jobs/reconciliation.js";
import { createLogger } from "../src/logger.js";
import {
  reconciliationJobDeps,
  schedulerEnvWithAdmin,
  startReconciliationEmulator,
} from "./support/reconciliation-job.js";

const db = useTestDatabase();
const log = createLogger("silent", "reconciliation-catch-up-test");
const DAY_MS = 86_400_000;
const HOUR = 3_600_000;
/** The first day the scheduler reconciled (it ran on the morning after). */
const D0 = Date.UTC(2026, 11, 1);

describe("the reconciliation job catches up (PostgreSQL + pg-boss + the emulator)", () => {
  let emulator: RunningEmulator;
  let stripe: Stripe;
  let boss: PgBoss;
  const clock = new ManualClock(D0 + DAY_MS + 8 * HOUR + 15 * 60_000);

  beforeAll(async () => {
    // Stripe's clock is on the second missed day: a charge susu does not know lands on it.
    ({ emulator, stripe } = await startReconciliationEmulator(D0 + 2 * DAY_MS + 10 * HOUR));
    boss = await startTestBoss(db.connectionString);
    await scheduleReconciliation(boss, deps(), log, "15 2 * * *");
  });
  afterAll(async () => {
    await boss?.stop({ graceful: false, wait: true });
    await emulator?.stop();
  });

  // The scheduler's notifier, with an admin address (deliveries are only queued here).
  const env = schedulerEnvWithAdmin();
  const deps = () => reconciliationJobDeps(db.prisma, stripe, env, clock, log);
  const noticePeriods = async () =>
    (
      await db.prisma.notification.findMany({
        where: { template: "reconciliation_differences" },
        orderBy: { aggregateId: "asc" },
      })
    ).map((n) => n.aggregateId);

  /** One run of the job, as its cron starts it: a job on its queue, worked to the end. */
  async function runJob(): Promise<void> {
    const id = await boss.send(RECONCILIATION_QUEUE, {});
    expect(id).not.toBeNull();
    await vi.waitFor(
      async () => {
        const job = await boss.getJobById(RECONCILIATION_QUEUE, id ?? "");
        expect(job?.state).toBe("completed");
      },
      { timeout: 30_000, interval: 200 },
    );
  }

  async function schedulerPeriods(): Promise<string[][]> {
    const rows = await db.prisma.reconciliationReport.findMany({
      where: { ranBy: "scheduler" },
      orderBy: [{ createdAt: "asc" }, { periodFrom: "asc" }],
    });
    return rows.map((r) => [r.periodFrom.toISOString().slice(0, 10), r.periodTo.toISOString().slice(0, 10)]);
  }

  it("the job not run for 3 days: one run reconciles the 3 days, oldest first; again, nothing more", async () => {
    await runJob();
    expect(await schedulerPeriods()).toEqual([["2026-12-01", "2026-12-02"]]);

    const pi = await stripe.paymentIntents.create({
      amount: 25_00,
      currency: "aud",
      payment_method: "pm_card_visa",
      payment_method_types: ["card"],
      confirm: true,
    });
    expect(pi.status).toBe("succeeded");

    // The scheduler was down on the mornings of the 3rd, 4th and 5th.
    clock.advance(3 * DAY_MS);
    await runJob();
    expect(await schedulerPeriods()).toEqual([
      ["2026-12-01", "2026-12-02"],
      ["2026-12-02", "2026-12-03"],
      ["2026-12-03", "2026-12-04"],
      ["2026-12-04", "2026-12-05"],
    ]);
    const tickets = await db.prisma.supportTicket.findMany();
    expect(tickets.map((t) => [t.id, t.kind])).toEqual([
      [reconciliationTicketId(D0 + 2 * DAY_MS, D0 + 3 * DAY_MS), "reconciliation_differences"],
    ]);

    expect(await noticePeriods()).toEqual([reconciliationTicketId(D0 + 2 * DAY_MS, D0 + 3 * DAY_MS)]);

    await runJob();
    expect(await schedulerPeriods()).toHaveLength(4);
    expect(await db.prisma.supportTicket.count()).toBe(1);
    expect(await noticePeriods()).toHaveLength(1);
  });

  it("a backlog longer than a run's share: 7 days a run, oldest first, the rest the next run", async () => {
    expect(RECONCILIATION_DAYS_PER_RUN).toBe(7);
    // Down ten mornings: the 5th to the 14th are due on the 15th.
    clock.advance(10 * DAY_MS);
    const first = await reconcileDueDays(deps(), log);
    expect(first.runs.map((r) => new Date(r.report.from).toISOString().slice(0, 10))).toEqual([
      "2026-12-05",
      "2026-12-06",
      "2026-12-07",
      "2026-12-08",
      "2026-12-09",
      "2026-12-10",
      "2026-12-11",
    ]);
    expect(first.remaining).toBe(3);
    const second = await reconcileDueDays(deps(), log);
    expect(second.runs.map((r) => new Date(r.report.from).toISOString().slice(0, 10))).toEqual([
      "2026-12-12",
      "2026-12-13",
      "2026-12-14",
    ]);
    expect(second.remaining).toBe(0);
    // Caught up, the run reconciles again the day whose ticket is still open (the 3rd), once today.
    expect(second.reruns.map((r) => new Date(r.report.from).toISOString().slice(0, 10))).toEqual([
      "2026-12-03",
    ]);
    expect(first.reruns).toEqual([]);
    expect(await reconcileDueDays(deps(), log)).toEqual({ runs: [], remaining: 0, reruns: [] });
    expect(await schedulerPeriods()).toHaveLength(15);
  });

  it("a day whose ticket could not be opened stays due; reconciled twice at once, it has one ticket", async () => {
    // A charge susu does not know on the 15th.
    await emulator.control.advanceClock(12 * 24 * 3600);
    await stripe.paymentIntents.create({
      amount: 9_00,
      currency: "aud",
      payment_method: "pm_card_visa",
      payment_method_types: ["card"],
      confirm: true,
    });
    clock.advance(DAY_MS);
    const brokenDesk = {
      openTicket: () =>
        errAsync({ type: "ticket_failed" as const, code: "ticket_failed" as const, message: "desk down" }),
    };
    await expect(reconcileDueDays({ ...deps(), desk: brokenDesk }, log)).rejects.toThrow(/desk down/);
    expect(await schedulerPeriods()).toHaveLength(15);
    expect(await db.prisma.supportTicket.count()).toBe(1);

    // Two runs at once (as two schedulers would without the singleton queue): both do the day.
    const [a, b] = await Promise.all([reconcileDueDays(deps(), log), reconcileDueDays(deps(), log)]);
    expect([...a.runs, ...b.runs].map((r) => r.report.differences.map((d) => d.code))).toEqual([
      ["missing_in_susu"],
      ["missing_in_susu"],
    ]);
    expect(
      await db.prisma.reconciliationReport.count({ where: { periodFrom: new Date(D0 + 14 * DAY_MS) } }),
    ).toBe(2);
    const tickets = await db.prisma.supportTicket.findMany({ orderBy: { id: "asc" } });
    expect(tickets.map((t) => t.id)).toEqual([
      reconciliationTicketId(D0 + 2 * DAY_MS, D0 + 3 * DAY_MS),
      reconciliationTicketId(D0 + 14 * DAY_MS, D0 + 15 * DAY_MS),
    ]);
    // Both runs told the admins of the day: one notice, one e-mail queued.
    expect(await noticePeriods()).toEqual(tickets.map((t) => t.id));
    expect(
      await db.prisma.notificationDelivery.count({
        where: { notification: { aggregateId: reconciliationTicketId(D0 + 14 * DAY_MS, D0 + 15 * DAY_MS) } },
      }),
    ).toBe(1);
    expect((await reconcileDueDays(deps(), log)).runs).toEqual([]);
  });

  it("a run past its time budget starts no new day (it always does one): the rest are left for the next run", async () => {
    clock.advance(3 * DAY_MS);
    const spent = await reconcileDueDays(deps(), log, { budgetMs: 60_000, elapsedMs: () => 60_000 });
    expect(spent.runs).toHaveLength(1);
    expect(spent.remaining).toBe(2);
    // Within its budget, the next run does the rest.
    const next = await reconcileDueDays(deps(), log, { budgetMs: 60_000, elapsedMs: () => 59_999 });
    expect(next.runs).toHaveLength(2);
    expect(next.remaining).toBe(0);
    expect((await reconcileDueDays(deps(), log)).runs).toEqual([]);
  });

  it("the days due: none reconciled yet → yesterday alone; up to date → none; never a day twice", () => {
    const now = D0 + 5 * DAY_MS + 8 * HOUR;
    expect(dueReconciliationDays(undefined, now)).toEqual({
      periods: [{ from: D0 + 4 * DAY_MS, to: D0 + 5 * DAY_MS }],
      remaining: 0,
    });
    expect(dueReconciliationDays(D0 + 5 * DAY_MS, now)).toEqual({ periods: [], remaining: 0 });
    // A clock behind the last report (a restored database, a clock jump back): nothing due.
    expect(dueReconciliationDays(D0 + 9 * DAY_MS, now)).toEqual({ periods: [], remaining: 0 });
    expect(dueReconciliationDays(D0 + 3 * DAY_MS, now, 1)).toEqual({
      periods: [{ from: D0 + 3 * DAY_MS, to: D0 + 4 * DAY_MS }],
      remaining: 1,
    });
  });
});
