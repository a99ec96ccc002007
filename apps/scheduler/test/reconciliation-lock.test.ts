// The reconciliation job's lock on real PostgreSQL and the emulator: a run holds it from its
// start to its end without keeping a transaction open (no connection `idle in transaction`
// while the run waits at Stripe), a second run finds it held and ends `busy`, the lock is
// released when the run ends, and a run whose lock connection is lost loses the lock with it.
import { createStripeClient, PrismaSupportDesk, stripeEndpointOf } from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import { ManualClock } from "@susu/domain/testing";
import { type RunningEmulator, startEmulator } from "@susu/stripe-emulator";
import type PgBoss from "pg-boss";
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { notifierOf } from "../src/container.js";
import { readSchedulerEnv } from "../src/env.js";
import { type ReconciliationJobDeps, runReconciliationJob } from "../src/jobs/reconciliation.js";
import { createLogger } from "../src/logger.js";

const db = useTestDatabase();
const log = createLogger("silent", "reconciliation-lock-test");
const DAY_MS = 86_400_000;
const HOUR = 3_600_000;
const D0 = Date.UTC(2026, 11, 1);

/** A Stripe client whose payouts' listing (the last of a day's listings) waits while `gate` is set. */
class GatedStripe {
  active = 0;
  gate: Promise<void> | undefined;
  #open: () => void = () => {};
  constructor(readonly real: Stripe) {}

  close(): void {
    this.gate = new Promise<void>((resolve) => {
      this.#open = resolve;
    });
  }

  open(): void {
    this.gate = undefined;
    this.#open();
  }

  get client(): Stripe {
    const payouts = {
      list: (params: Stripe.PayoutListParams) => {
        const real = this.real.payouts.list(params);
        const watch = this;
        return {
          async *[Symbol.asyncIterator]() {
            watch.active += 1;
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

/** The job sends to pg-boss only when days remain after its run; none do here. */
const noBoss = {
  send: () => {
    throw new Error("no follow-up run expected");
  },
} as unknown as PgBoss;

describe("the reconciliation job's lock (PostgreSQL + the emulator)", () => {
  let emulator: RunningEmulator;
  let stripe: GatedStripe;
  const clock = new ManualClock(D0 + 8 * HOUR);

  beforeAll(async () => {
    emulator = await startEmulator({ port: 0, fees: false, startTime: (D0 + 10 * HOUR) / 1000 });
    stripe = new GatedStripe(
      createStripeClient({
        secretKey: emulator.secretKey,
        ...stripeEndpointOf(emulator.url),
        timeoutMs: 10_000,
        maxNetworkRetries: 0,
      }),
    );
  });
  afterAll(async () => {
    stripe?.open();
    await emulator?.stop();
  });

  const deps = (): ReconciliationJobDeps => ({
    prisma: db.prisma,
    stripe: stripe.client,
    desk: new PrismaSupportDesk(db.prisma, clock),
    notifier: notifierOf(readSchedulerEnv({ STRIPE_SECRET_KEY: "sk_test_x" }), db.prisma, log),
    clock,
  });

  /** This database's connections idle in a transaction (a transaction left open between statements). */
  const idleInTransaction = () =>
    db.prisma.$queryRawUnsafe<{ pid: number; state: string }[]>(
      `SELECT pid, state FROM pg_stat_activity
        WHERE datname = current_database() AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()`,
    );
  /** The backends of this database holding an advisory lock, and whether it is a session's or a transaction's. */
  const advisoryHolders = () =>
    db.prisma.$queryRawUnsafe<{ pid: number; xact: boolean }[]>(
      `SELECT l.pid, (a.backend_xid IS NOT NULL OR a.state LIKE '%in transaction%') AS xact
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );

  it("holds no transaction open while the run waits at Stripe; a second run ends busy; the lock goes when the run ends", async () => {
    stripe.close();
    const first = runReconciliationJob(noBoss, deps(), log);
    try {
      await vi.waitFor(() => expect(stripe.active).toBe(1), { timeout: 20_000, interval: 50 });
      // The run is in progress, waiting at Stripe: nobody is idle in a transaction.
      expect(await idleInTransaction()).toEqual([]);
      // The job's lock and its day's (runs of one period take their turn), both a session's.
      const holders = await advisoryHolders();
      expect(holders).toHaveLength(2);
      expect(holders.map((h) => h.xact)).toEqual([false, false]);
      // A second run (pg-boss's retry of an expired job) finds the lock held and ends.
      const second = await runReconciliationJob(noBoss, deps(), log);
      expect(second).toEqual({ busy: true, runs: [], remaining: 0, reruns: [] });
      expect(await idleInTransaction()).toEqual([]);
    } finally {
      stripe.open();
    }
    const done = await first;
    expect(done.busy).toBe(false);
    expect(done.runs.map((r) => r.report.from)).toEqual([D0 - DAY_MS]);
    // Released with the run: nobody holds it, and the next run is not busy.
    expect(await advisoryHolders()).toEqual([]);
    clock.advance(DAY_MS);
    const next = await runReconciliationJob(noBoss, deps(), log);
    expect(next.busy).toBe(false);
    expect(next.runs).toHaveLength(1);
  }, 60_000);

  it("a run whose lock connection is lost loses the lock with it; the run still ends", async () => {
    clock.advance(DAY_MS);
    stripe.close();
    const first = runReconciliationJob(noBoss, deps(), log);
    try {
      await vi.waitFor(() => expect(stripe.active).toBe(1), { timeout: 20_000, interval: 50 });
      const holders = await advisoryHolders();
      if (holders.length === 0) throw new Error("the run holds no lock");
      for (const holder of holders)
        await db.prisma.$queryRawUnsafe(`SELECT pg_terminate_backend($1::int)`, holder.pid);
      await vi.waitFor(async () => expect(await advisoryHolders()).toEqual([]), {
        timeout: 10_000,
        interval: 50,
      });
    } finally {
      stripe.open();
    }
    const done = await first;
    expect(done.busy).toBe(false);
    expect(done.runs).toHaveLength(1);
    expect(await idleInTransaction()).toEqual([]);
    // Nothing left behind: the next run takes the lock.
    clock.advance(DAY_MS);
    expect((await runReconciliationJob(noBoss, deps(), log)).busy).toBe(false);
  }, 60_000);
});
