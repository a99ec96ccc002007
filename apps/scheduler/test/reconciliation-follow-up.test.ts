// The reconciliation job through pg-boss, on real PostgreSQL and the emulator: a run that
// leaves days due queues the next run at once (a 20-day outage is caught up by one cron job,
// not over three weeks of mornings), and no two runs ever overlap, not even when a run
// outlives its pg-boss expiry (pg-boss then fails the job, retries it and starts it again
// while the first handler is still running: the retry finds the run's lock held and ends).
import { createStripeClient, PrismaSupportDesk, stripeEndpointOf } from "@susu/adapters";
import { startTestBoss, useTestDatabase } from "@susu/adapters/testing";
import { ManualClock } from "@susu/domain/testing";
import { type RunningEmulator, startEmulator } from "@susu/stripe-emulator";
import type PgBoss from "pg-boss";
import type Stripe from "stripe";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { notifierOf } from "../src/container.js";
import { readSchedulerEnv } from "../src/env.js";
import { RECONCILIATION_QUEUE, scheduleReconciliation } from "../src/jobs/reconciliation.js";
import { createLogger } from "../src/logger.js";

const db = useTestDatabase();
const log = createLogger("silent", "reconciliation-follow-up-test");
const DAY_MS = 86_400_000;
const HOUR = 3_600_000;
const D0 = Date.UTC(2026, 11, 1);

/**
 * The emulator's client, its payouts' listing (the last of a day's three listings) counted:
 * how many days are being reconciled at this moment, and at most at once. While `gate` is
 * set, a listing waits for it: the day, and so its run, takes as long as the test says.
 */
class WatchedStripe {
  active = 0;
  maxActive = 0;
  listings = 0;
  gate: Promise<void> | undefined;
  constructor(readonly real: Stripe) {}

  get client(): Stripe {
    const payouts = {
      list: (params: Stripe.PayoutListParams) => {
        const real = this.real.payouts.list(params);
        const watch = this;
        return {
          async *[Symbol.asyncIterator]() {
            watch.active += 1;
            watch.listings += 1;
            watch.maxActive = Math.max(watch.maxActive, watch.active);
            try {
              if (watch.gate !== undefined) await watch.gate;
              for await (const p of real) yield p;
            } finally {
              watch.active -= 1;
            }
          },
        };
      },
    };
    return new Proxy(this.real, {
      get: (target, key, receiver) => (key === "payouts" ? payouts : Reflect.get(target, key, receiver)),
    });
  }
}

describe("the reconciliation job's follow-up runs and its lock (PostgreSQL + pg-boss + the emulator)", () => {
  let emulator: RunningEmulator;
  let watched: WatchedStripe;
  let boss: PgBoss | undefined;
  const clock = new ManualClock(D0 + 8 * HOUR);

  beforeAll(async () => {
    emulator = await startEmulator({ port: 0, fees: false, startTime: (D0 + 10 * HOUR) / 1000 });
    watched = new WatchedStripe(
      createStripeClient({
        secretKey: emulator.secretKey,
        ...stripeEndpointOf(emulator.url),
        timeoutMs: 10_000,
        maxNetworkRetries: 0,
      }),
    );
  });
  afterEach(async () => {
    await boss?.stop({ graceful: false, wait: true });
    boss = undefined;
  });
  afterAll(async () => {
    await emulator?.stop();
  });

  const deps = () => ({
    prisma: db.prisma,
    stripe: watched.client,
    desk: new PrismaSupportDesk(db.prisma, clock),
    notifier: notifierOf(readSchedulerEnv({ STRIPE_SECRET_KEY: "sk_test_x" }), db.prisma, log),
    clock,
  });

  const reportsFrom = async (from: number) =>
    db.prisma.reconciliationReport.count({ where: { ranBy: "scheduler", periodFrom: new Date(from) } });

  async function jobsOfQueue(): Promise<{ state: string; retryCount: number }[]> {
    return db.prisma.$queryRawUnsafe<{ state: string; retryCount: number }[]>(
      `SELECT state::text AS state, retry_count AS "retryCount" FROM pgboss.job WHERE name = $1 ORDER BY created_on`,
      RECONCILIATION_QUEUE,
    );
  }

  it("a 20-day backlog: one job's run queues the next at once until no day is due, one run at a time", async () => {
    boss = await startTestBoss(db.connectionString);
    await scheduleReconciliation(boss, deps(), log, "15 2 * * *");
    // The first run: yesterday alone.
    await boss.send(RECONCILIATION_QUEUE, {});
    await vi.waitFor(async () => expect(await db.prisma.reconciliationReport.count()).toBe(1), {
      timeout: 30_000,
      interval: 200,
    });

    // The scheduler was down for 20 mornings: 20 days are due; the cron sends one job.
    clock.advance(20 * DAY_MS);
    const listingsBefore = watched.listings;
    await boss.send(RECONCILIATION_QUEUE, {});
    await vi.waitFor(
      async () => {
        expect(await db.prisma.reconciliationReport.count()).toBe(21);
        expect((await jobsOfQueue()).every((j) => j.state === "completed")).toBe(true);
      },
      { timeout: 60_000, interval: 250 },
    );
    // 7 + 7 + 6 days in three runs (the last finds nothing left and queues nothing more).
    expect((await jobsOfQueue()).map((j) => j.state)).toEqual([
      "completed",
      "completed",
      "completed",
      "completed",
    ]);
    expect(watched.listings - listingsBefore).toBe(20);
    for (let d = 0; d < 21; d++) expect(await reportsFrom(D0 - DAY_MS + d * DAY_MS)).toBe(1);
    expect(watched.maxActive).toBe(1);
  }, 90_000);

  it("a run that outlives its expiry: pg-boss starts the job again, which finds the run's lock held and ends", async () => {
    boss = await startTestBoss(db.connectionString);
    await db.prisma.$executeRawUnsafe(`DELETE FROM pgboss.job WHERE name = $1`, RECONCILIATION_QUEUE);
    // A 1-second expiry: the job's option, and the queue set so (as older code, which had no
    // option, would leave it) to show the same run against either.
    await scheduleReconciliation(boss, deps(), log, "15 2 * * *", undefined, { expireInSeconds: 1 });
    await boss.updateQueue(RECONCILIATION_QUEUE, {
      name: RECONCILIATION_QUEUE,
      policy: "singleton",
      expireInSeconds: 1,
    });
    expect((await boss.getQueue(RECONCILIATION_QUEUE))?.expireInSeconds).toBe(1);

    let release: () => void = () => {};
    watched.gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    watched.maxActive = 0;
    clock.advance(DAY_MS);
    const day = Math.floor(clock.now() / DAY_MS) * DAY_MS - DAY_MS;
    await boss.send(RECONCILIATION_QUEUE, {});
    try {
      // The day's run waits at Stripe past the job's expiry: pg-boss fails the job, retries it,
      // and the retry ends (the lock is held) while the first run still waits.
      await vi.waitFor(
        async () => {
          const jobs = await jobsOfQueue();
          expect(jobs).toHaveLength(1);
          expect(jobs[0]?.retryCount).toBeGreaterThanOrEqual(1);
          expect(jobs[0]?.state).toBe("completed");
        },
        { timeout: 20_000, interval: 250 },
      );
      expect(watched.active).toBe(1);
      expect(watched.maxActive).toBe(1);
      expect(await reportsFrom(day)).toBe(0);
    } finally {
      watched.gate = undefined;
      release();
    }
    await vi.waitFor(async () => expect(await reportsFrom(day)).toBe(1), { timeout: 20_000, interval: 200 });
    expect(watched.maxActive).toBe(1);
    await vi.waitFor(() => expect(watched.active).toBe(0), { timeout: 10_000, interval: 100 });
    expect(await reportsFrom(day)).toBe(1);
  }, 60_000);
});
