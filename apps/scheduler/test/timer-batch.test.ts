// The timer worker takes due timers in batches (pg-boss 10 waits its polling interval after
// every fetch, so one job per fetch capped timers at one a second per process) and settles
// each job on its own: one timer that throws fails alone, the others complete. A full batch is
// followed by the next fetch at once, not after the polling interval.
import {
  PgBossTimerScheduler,
  PrismaStore,
  PrismaSupportDesk,
  SystemClock,
  TIMER_QUEUE,
} from "@susu/adapters";
import { startTestBoss, useTestDatabase } from "@susu/adapters/testing";
import type { UseCaseDeps } from "@susu/domain";
import { SequentialIds } from "@susu/domain/testing";
import type PgBoss from "pg-boss";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { workTimers } from "../src/jobs/timers.js";
import { createLogger } from "../src/logger.js";

const db = useTestDatabase();
const log = createLogger("silent", "timer-batch-test");

interface JobRow {
  aggregate_id: string;
  state: string;
}

function timerJobs(): Promise<JobRow[]> {
  return db.prisma.$queryRaw<JobRow[]>`
    SELECT data->>'aggregateId' AS aggregate_id, state::text AS state FROM pgboss.job
    WHERE name = ${TIMER_QUEUE} ORDER BY data->>'aggregateId'`;
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("the timer worker's batches (PostgreSQL + pg-boss)", () => {
  let boss: PgBoss;

  beforeAll(async () => {
    boss = await startTestBoss(db.connectionString);
    await PgBossTimerScheduler.prepare(boss);
  });
  afterAll(async () => {
    await boss.stop({ graceful: false, wait: true });
  });

  /** `count` collection-deadline timers of rounds `<prefix>00`…, all due a second ago. */
  async function scheduleDue(prefix: string, count: number): Promise<void> {
    const timers = new PgBossTimerScheduler(boss);
    for (let i = 0; i < count; i++) {
      const id = `${prefix}${String(i).padStart(2, "0")}`;
      (
        await timers.schedule({
          id: `${id}:timer:collection_deadline`,
          aggregate: "round",
          aggregateId: id,
          at: Date.now() - 1_000,
          timer: { kind: "collection_deadline" },
        })
      )._unsafeUnwrap();
    }
  }

  /** Use-case ports all on `store` (the real PrismaStore), rounds read through `rounds`. */
  function depsOn(store: PrismaStore, rounds: UseCaseDeps["rounds"]): UseCaseDeps {
    return {
      people: store,
      groups: store,
      rounds,
      heldPayments: store,
      payouts: store,
      marketplaceCharges: store,
      plans: store,
      subscriptions: store,
      paymentMethods: store,
      uow: store,
      audit: store,
      clock: new SystemClock(),
      ids: new SequentialIds(),
    };
  }

  it("applies every timer due together in one fetch, and a timer that throws fails alone", async () => {
    await scheduleDue("round_batch", 12);
    const store = new PrismaStore(db.prisma);
    const broken = "round_batch05";
    const deps = depsOn(store, {
      // Every round is missing (the timer ends `not_found`, completed), except one whose read throws.
      getRound: (id) => {
        if (id === broken) throw new Error("snapshot reader crashed");
        return store.getRound(id);
      },
      listRoundsOfGroup: (groupId) => store.listRoundsOfGroup(groupId),
    });
    // A poll a minute apart: with one job per fetch, only the first timer would be done
    // within the wait below; a batch takes all twelve in the first fetch.
    await workTimers(boss, deps, new PrismaSupportDesk(db.prisma), log, {
      batchSize: 16,
      pollingIntervalSeconds: 60,
    });

    const settled = (rows: JobRow[]) => rows.every((r) => r.state !== "created" && r.state !== "active");
    await until(async () => settled(await timerJobs()), 20_000);
    const rows = await timerJobs();
    expect(rows.filter((r) => r.aggregate_id !== broken).map((r) => r.state)).toEqual(
      Array.from({ length: 11 }, () => "completed"),
    );
    // Failed, so pg-boss runs it again after the queue's retry delay; the others were not failed with it.
    expect(rows.find((r) => r.aggregate_id === broken)?.state).toBe("retry");
    // A first failure is retried, not parked: no ticket in support_tickets.
    expect(await db.prisma.supportTicket.count()).toBe(0);
    // This worker polls again only in a minute; stopped, so the next test's worker is alone.
    await boss.offWork(TIMER_QUEUE);
  });

  it("fetches again at once after a full batch: more timers than a batch are all applied well within one polling interval", async () => {
    await scheduleDue("round_full", 12);
    const store = new PrismaStore(db.prisma);
    const deps = depsOn(store, store);
    // Batches of 4, a poll a minute apart: waiting the interval after each full batch would
    // leave 8 of the 12 due for two more minutes.
    await workTimers(boss, deps, new PrismaSupportDesk(db.prisma), log, {
      batchSize: 4,
      pollingIntervalSeconds: 60,
    });
    const mine = async () => (await timerJobs()).filter((r) => r.aggregate_id.startsWith("round_full"));
    await until(async () => (await mine()).every((r) => r.state === "completed"), 20_000);
    expect((await mine()).length).toBe(12);
  });
});
