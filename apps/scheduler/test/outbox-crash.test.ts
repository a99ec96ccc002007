// The scheduler's outbox loop on real PostgreSQL with an effect whose run throws (a bug in a
// port: a rejection, not an err result). The pass that ran it crashes, having recorded that run
// as a failed attempt (`effect_crashed`; when it cannot, the loop's next pass does), logged at
// error with the effect's id and counted, so the effect waits out its backoff
// and is parked with a ticket once its attempts are spent, instead of being given back as
// interrupted and run again (and crashing the pass again) by every pass for ever. Stripe is
// the emulator through the SDK and the adapter gateway (these effects ask nothing of it); the
// timers are pg-boss jobs on the test database, the ledger and the desk PostgreSQL's, as the
// scheduler wires them.
import {
  PgBossTimerScheduler,
  PrismaLedgerStore,
  PrismaStore,
  PrismaSupportDesk,
  TIMER_QUEUE,
} from "@susu/adapters";
import { startTestBoss, useTestDatabase } from "@susu/adapters/testing";
import {
  type Changeset,
  type EffectPorts,
  type OutboxEffect,
  type OutboxStore,
  type ScheduledTimer,
  storageError,
  type TimerScheduler,
  useCaseDepsOn,
} from "@susu/domain";
import { RecordingNotifier, SequentialIds } from "@susu/domain/testing";
import { errAsync, okAsync } from "neverthrow";
import type PgBoss from "pg-boss";
import pino from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type DispatcherLoop, startOutboxDispatcher } from "../src/jobs/outbox-dispatcher.js";
import { createLogger } from "../src/logger.js";
import { createSchedulerMetrics } from "../src/metrics.js";
import { parseScrape } from "./prometheus.js";
import { type EmulatorGateway, startEmulatorGateway } from "./support/emulator.js";

const db = useTestDatabase();
const log = createLogger("silent", "outbox-crash-test");
const empty: Changeset = { people: [], groups: [], rounds: [], outbox: [], audit: [] };

let stripeSide: EmulatorGateway;
let boss: PgBoss;
beforeAll(async () => {
  stripeSide = await startEmulatorGateway();
  boss = await startTestBoss(db.connectionString);
  await PgBossTimerScheduler.prepare(boss);
});
afterAll(async () => {
  await boss?.stop({ graceful: false, wait: true });
  await stripeSide?.emulator.stop();
});

/** The timers pg-boss holds for `timerIds`, by timer id. */
async function timerJobsOf(timerIds: string[]): Promise<string[]> {
  const rows = await db.prisma.$queryRaw<{ timer_id: string }[]>`
    SELECT data->>'timerId' AS timer_id FROM pgboss.job
    WHERE name = ${TIMER_QUEUE} AND data->>'timerId' = ANY(${timerIds}) ORDER BY 1`;
  return rows.map((r) => r.timer_id);
}

const timer = (id: string): OutboxEffect => ({
  kind: "schedule_timer",
  id,
  aggregate: "round",
  aggregateId: `round_${id}`,
  at: Date.now() + 3_600_000,
  timer: { kind: "collection_deadline" },
});

describe("the outbox loop and an effect whose run throws", () => {
  let dispatcher: DispatcherLoop | undefined;
  afterEach(async () => {
    await dispatcher?.stop();
    dispatcher = undefined;
  });

  it("counts the crashed run as a failed attempt, not an interruption to run again", async () => {
    const store = new PrismaStore(db.prisma);
    const clock = { now: () => Date.now() };
    const deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
    const scheduled = new PgBossTimerScheduler(boss);
    let poisonRuns = 0;
    const timers: TimerScheduler = {
      schedule: (t: ScheduledTimer) => {
        if (t.id === "poison") {
          poisonRuns += 1;
          throw new TypeError("cannot read properties of undefined");
        }
        return scheduled.schedule(t);
      },
    };
    const ports: EffectPorts = {
      gateway: stripeSide.gateway,
      notifier: new RecordingNotifier(),
      desk: new PrismaSupportDesk(db.prisma),
      timers,
      ledger: new PrismaLedgerStore(db.prisma),
    };
    (await store.commit({ ...empty, outbox: [timer("poison"), timer("fine")] }))._unsafeUnwrap();
    dispatcher = startOutboxDispatcher(deps, ports, store, {
      workerId: "crashy",
      intervalMs: 20,
      maxBackoffMs: 20,
      concurrency: 2,
      log,
    });
    const poison = () => db.prisma.outboxEffect.findUniqueOrThrow({ where: { id: "poison" } });
    const until = Date.now() + 10_000;
    while ((await poison()).attempts === 0 && Date.now() < until)
      await new Promise((resolve) => setTimeout(resolve, 20));
    await dispatcher.stop();
    const row = await poison();
    expect(row.attempts).toBeGreaterThanOrEqual(1);
    expect(row.lastError).toMatch(/^effect_crashed: TypeError: cannot read properties of undefined/);
    // Each run is counted (the last one by the pass after it, if the loop stopped before it).
    expect(poisonRuns).toBeLessThanOrEqual(row.attempts + 1);
    const fine = await db.prisma.outboxEffect.findUniqueOrThrow({ where: { id: "fine" } });
    expect(fine.status).toBe("done");
    // The fine timer is a pg-boss job; the poison one never reached pg-boss.
    expect(await timerJobsOf(["fine", "poison"])).toEqual(["fine"]);
  });
});

describe("the outbox loop and a run that throws while its result is recorded", () => {
  let dispatcher: DispatcherLoop | undefined;
  afterEach(async () => {
    await dispatcher?.stop();
    dispatcher = undefined;
  });

  it("logs the effect at error with its id, counts it (susu_outbox_effects_crashed_total) and gives its claim back at once", async () => {
    const store = new PrismaStore(db.prisma);
    const clock = { now: () => Date.now() };
    // The result's recording throws: here the completion of the effect (a bug in a store).
    const outbox: OutboxStore = {
      claimDue: (...args) => store.claimDue(...args),
      complete: (id, ...rest) => {
        if (id === "poison_done") throw new TypeError("cannot read properties of undefined");
        return store.complete(id, ...rest);
      },
      fail: (...args) => store.fail(...args),
      release: (...args) => store.release(...args),
      releaseOwnClaims: (workerId) => store.releaseOwnClaims(workerId),
    };
    const deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
    const ports: EffectPorts = {
      gateway: stripeSide.gateway,
      notifier: new RecordingNotifier(),
      desk: new PrismaSupportDesk(db.prisma),
      timers: new PgBossTimerScheduler(boss),
      ledger: new PrismaLedgerStore(db.prisma),
    };
    await db.prisma.outboxEffect.deleteMany();
    (await store.commit({ ...empty, outbox: [timer("poison_done")] }))._unsafeUnwrap();
    const metrics = createSchedulerMetrics({ defaultMetrics: false });
    const lines: Record<string, unknown>[] = [];
    const captured = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) });
    dispatcher = startOutboxDispatcher(deps, ports, outbox, {
      workerId: "recorder",
      // Long between passes: what the crashed pass did not give back waits for the next one.
      intervalMs: 60_000,
      maxBackoffMs: 60_000,
      log: captured,
      metrics,
    });
    const poison = () => db.prisma.outboxEffect.findUniqueOrThrow({ where: { id: "poison_done" } });
    await expect.poll(async () => (await poison()).attempts, { timeout: 10_000 }).toBe(1);
    const row = await poison();
    expect({ status: row.status, claimedBy: row.claimedBy }).toEqual({ status: "pending", claimedBy: null });
    expect(row.lastError).toMatch(/^effect_crashed: TypeError: cannot read properties of undefined/);
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 50,
        effectId: "poison_done",
        kind: "schedule_timer",
        code: "effect_crashed",
      }),
    );
    const scraped = parseScrape(await metrics.metrics.text());
    expect(scraped.value("susu_outbox_effects_crashed_total", { kind: "schedule_timer" })).toBe(1);
    expect(
      scraped.value("susu_outbox_effects_settled_total", {
        kind: "schedule_timer",
        outcome: "failed_will_retry",
      }),
    ).toBe(1);
  });
});

describe("the outbox loop and a claim whose answer was lost", () => {
  let dispatcher: DispatcherLoop | undefined;
  afterEach(async () => {
    await dispatcher?.stop();
    dispatcher = undefined;
  });

  it("gives its own claims back on the next pass, not after the lease (the database went away as the claim committed)", async () => {
    const store = new PrismaStore(db.prisma);
    const clock = { now: () => Date.now() };
    const deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
    const timers = new PgBossTimerScheduler(boss);
    const ports: EffectPorts = {
      gateway: stripeSide.gateway,
      notifier: new RecordingNotifier(),
      desk: new PrismaSupportDesk(db.prisma),
      timers,
      ledger: new PrismaLedgerStore(db.prisma),
    };
    await db.prisma.outboxEffect.deleteMany();
    (await store.commit({ ...empty, outbox: [timer("lost_1"), timer("lost_2")] }))._unsafeUnwrap();
    // The first claim commits, but its answer never reaches the dispatcher (the connection
    // broke as the server answered): the claims are the live process's own, in no pass's hands.
    let lost = false;
    const outbox: OutboxStore = {
      claimDue: (...args) =>
        store.claimDue(...args).andThen((records) => {
          if (lost || records.length === 0) return okAsync(records);
          lost = true;
          return errAsync(storageError.unavailable("Connection terminated unexpectedly"));
        }),
      complete: (...args) => store.complete(...args),
      fail: (...args) => store.fail(...args),
      release: (...args) => store.release(...args),
      releaseOwnClaims: (workerId) => store.releaseOwnClaims(workerId),
    };
    dispatcher = startOutboxDispatcher(deps, ports, outbox, {
      workerId: "unheard",
      intervalMs: 20,
      maxBackoffMs: 20,
      log,
    });
    const status = async () =>
      (await db.prisma.outboxEffect.findMany({ where: { id: { in: ["lost_1", "lost_2"] } } })).map(
        (r) => r.status,
      );
    const until = Date.now() + 5_000;
    while ((await status()).some((s) => s !== "done") && Date.now() < until)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(lost).toBe(true);
    // Within seconds, not the five minutes of the lease.
    expect(await status()).toEqual(["done", "done"]);
    expect(await timerJobsOf(["lost_1", "lost_2"])).toEqual(["lost_1", "lost_2"]);
  });
});
