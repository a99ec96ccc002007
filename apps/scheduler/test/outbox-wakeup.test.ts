// Wake-ups on real PostgreSQL, wired as main.ts wires them: the dispatcher polls only every
// 60 s, and an effect committed while it idles runs well within a second because the commit
// is followed by a notification on 'susu_outbox' and the listener wakes the loop; or, as the
// scheduler's own commits do, the commit wakes the loop in-process (handleLocally). Without
// either it waits. Stripe is the emulator through the SDK and the adapter gateway (these
// effects ask nothing of it); the timers are pg-boss jobs on the test database, the ledger and
// the desk PostgreSQL's, as the scheduler wires them.
import {
  OUTBOX_CHANNEL,
  PgBossTimerScheduler,
  type PgListener,
  PrismaLedgerStore,
  PrismaStore,
  PrismaSupportDesk,
  startPgListener,
  TIMER_QUEUE,
  wakeNotifierOf,
} from "@susu/adapters";
import { startTestBoss, useTestDatabase } from "@susu/adapters/testing";
import {
  type Changeset,
  type EffectPorts,
  type OutboxEffect,
  type OutboxStore,
  useCaseDepsOn,
} from "@susu/domain";
import { RecordingNotifier, SequentialIds } from "@susu/domain/testing";
import type PgBoss from "pg-boss";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type DispatcherLoop, startOutboxDispatcher } from "../src/jobs/outbox-dispatcher.js";
import { createLogger } from "../src/logger.js";
import { type EmulatorGateway, startEmulatorGateway } from "./support/emulator.js";

const db = useTestDatabase();
const log = createLogger("silent", "outbox-wakeup-test");
const empty: Changeset = { people: [], groups: [], rounds: [], outbox: [], audit: [] };

const timer = (id: string): OutboxEffect => ({
  kind: "schedule_timer",
  id,
  aggregate: "round",
  aggregateId: `round_${id}`,
  at: Date.now() + 3_600_000,
  timer: { kind: "collection_deadline" },
});

describe("outbox wake-ups", () => {
  let dispatcher: DispatcherLoop | undefined;
  let listener: PgListener | undefined;
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
  afterEach(async () => {
    await listener?.stop();
    await dispatcher?.stop();
    listener = undefined;
    dispatcher = undefined;
  });

  async function start(withListener: boolean) {
    const store = new PrismaStore(db.prisma);
    const clock = { now: () => Date.now() };
    const deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
    const ports: EffectPorts = {
      gateway: stripeSide.gateway,
      notifier: new RecordingNotifier(),
      desk: new PrismaSupportDesk(db.prisma),
      timers: new PgBossTimerScheduler(boss),
      ledger: new PrismaLedgerStore(db.prisma),
    };
    let passes = 0;
    const counting: OutboxStore = {
      claimDue: (...args) => {
        passes += 1;
        return store.claimDue(...args);
      },
      complete: (...args) => store.complete(...args),
      fail: (...args) => store.fail(...args),
      release: (...args) => store.release(...args),
    };
    const loop = startOutboxDispatcher(deps, ports, counting, {
      workerId: "wakeup",
      intervalMs: 60_000,
      concurrency: 4,
      log,
    });
    dispatcher = loop;
    if (withListener) {
      listener = startPgListener({
        connectionString: db.connectionString,
        channels: ["susu_outbox"],
        onNotify: () => loop.wake(),
      });
      await listener.ready;
    }
    // Let the first passes (at start, and the listener's wake-up on connecting) go idle.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const idle = async () => ({ idlePasses: passes, passes: () => passes });
    return { store, idle };
  }

  const done = async (id: string) =>
    (await db.prisma.outboxEffect.findUnique({ where: { id }, select: { status: true } }))?.status === "done";

  const settle = async (id: string, ms: number) => {
    const started = Date.now();
    while (!(await done(id)) && Date.now() - started < ms)
      await new Promise((resolve) => setTimeout(resolve, 5));
  };

  it("runs an effect committed while the dispatcher idles (60 s poll) within a second", async () => {
    const { store, idle } = await start(true);
    // A first effect warms the process up (its first statements of each kind are prepared).
    (await store.commit({ ...empty, outbox: [timer("warm")] }))._unsafeUnwrap();
    await settle("warm", 10_000);
    expect(await done("warm")).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const { idlePasses, passes } = await idle();
    const committedAt = Date.now();
    (await store.commit({ ...empty, outbox: [timer("woken")] }))._unsafeUnwrap();
    await settle("woken", 5_000);
    const took = Date.now() - committedAt;
    expect(await done("woken")).toBe(true);
    expect(took).toBeLessThan(1_000);
    // One commit, one wake-up: a pass or two, not a spin.
    expect(passes() - idlePasses).toBeLessThanOrEqual(3);
    // Each timer the dispatcher ran is a pg-boss job.
    const jobs = await db.prisma.$queryRaw<{ timer_id: string }[]>`
      SELECT data->>'timerId' AS timer_id FROM pgboss.job
      WHERE name = ${TIMER_QUEUE} AND data->>'timerId' IN ('warm', 'woken') ORDER BY 1`;
    expect(jobs.map((j) => j.timer_id)).toEqual(["warm", "woken"]);
  });

  it("runs an effect this process committed within a second with no listener, when its dispatcher handles the channel locally", async () => {
    const { store } = await start(false);
    const loop = dispatcher;
    if (loop === undefined) throw new Error("no dispatcher");
    const undo = wakeNotifierOf(db.prisma).handleLocally(OUTBOX_CHANNEL, () => loop.wake());
    try {
      const committedAt = Date.now();
      (await store.commit({ ...empty, outbox: [timer("local")] }))._unsafeUnwrap();
      await settle("local", 5_000);
      expect(await done("local")).toBe(true);
      expect(Date.now() - committedAt).toBeLessThan(1_000);
    } finally {
      undo();
    }
  });

  it("without the listener the same effect waits for the poll", async () => {
    const { store } = await start(false);
    (await store.commit({ ...empty, outbox: [timer("unheard")] }))._unsafeUnwrap();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await done("unheard")).toBe(false);
  });
});
