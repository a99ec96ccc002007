// An effect whose run throws (a bug in a port or a use case: a rejection, not an err result)
// on PostgreSQL, driven as the scheduler's loop drives the dispatcher: one loop, its claims
// kept across passes (`held`, `started`, `crashed`), a pass that rejects logged and followed
// by the next. The throw is counted as a failed attempt at once (or, when that cannot be
// recorded, by the first pass that reaches the database), so the effect waits
// its backoff and is parked with a ticket after the policy's attempts; it is never handed out
// again and again as merely interrupted, and the other aggregates' effects are not held up.
import {
  type Changeset,
  type CrashedRun,
  type EffectPorts,
  type OutboxEffect,
  type OutboxStore,
  type RetryPolicy,
  type ScheduledTimer,
  storageError,
  type TimerScheduler,
  useCaseDepsOn,
  useCases,
} from "@susu/domain";
import {
  FakePaymentGateway,
  InMemoryLedgerStore,
  InMemoryTimerScheduler,
  ManualClock,
  RecordingNotifier,
  RecordingSupportDesk,
  SequentialIds,
} from "@susu/domain/testing";
import { errAsync } from "neverthrow";
import { beforeEach, describe, expect, it } from "vitest";
import { PrismaStore } from "../../src/prisma/index.js";
import { useTestDatabase } from "../support/test-database.js";
import { resetDatabase } from "./reset-database.js";

const START = Date.UTC(2026, 0, 6);
const empty: Changeset = { people: [], groups: [], rounds: [], outbox: [], audit: [] };
const RETRY: RetryPolicy = {
  baseDelayMs: 1_000,
  factor: 2,
  maxDelayMs: 4_000,
  jitter: "none",
  attemptsMax: 3,
};

const timer = (id: string, roundId: string): OutboxEffect => ({
  kind: "schedule_timer",
  id,
  aggregate: "round",
  aggregateId: roundId,
  at: START + 3_600_000,
  timer: { kind: "collection_deadline" },
});

describe("an effect whose run throws, on PostgreSQL", () => {
  const db = useTestDatabase();
  beforeEach(async () => {
    await resetDatabase(db.prisma);
  });

  it("is a failed attempt: retried on its backoff, then parked with a ticket; other rounds' effects run", async () => {
    const clock = new ManualClock(START);
    const store = new PrismaStore(db.prisma, { clock });
    const deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
    const scheduled = new InMemoryTimerScheduler();
    const runs = new Map<string, number>();
    const timers: TimerScheduler = {
      schedule: (t: ScheduledTimer) => {
        runs.set(t.id, (runs.get(t.id) ?? 0) + 1);
        if (t.id === "poison") throw new TypeError("cannot read properties of undefined");
        return scheduled.schedule(t);
      },
    };
    const desk = new RecordingSupportDesk();
    const ports: EffectPorts = {
      gateway: new FakePaymentGateway(() => clock.now(), 1_000),
      notifier: new RecordingNotifier(),
      desk,
      timers,
      ledger: new InMemoryLedgerStore(),
    };
    (
      await store.commit({
        ...empty,
        outbox: [timer("poison", "round_a"), timer("fine_1", "round_b"), timer("fine_2", "round_c")],
      })
    )._unsafeUnwrap();

    // The scheduler's loop: one dispatcher, its state kept across passes, a rejected pass logged.
    const held = new Set<string>();
    const started = new Set<string>();
    const crashed = new Map<string, CrashedRun>();
    const pass = async (): Promise<string> =>
      Promise.resolve(
        useCases.dispatchOutbox(deps, ports, store, {
          workerId: "w1",
          concurrency: 2,
          retry: RETRY,
          held,
          started,
          crashed,
        }),
      ).then(
        (report) => (report.isOk() ? "worked" : `failed: ${report.error.code}`),
        () => "crashed",
      );

    expect(await pass()).toBe("crashed");
    // The other rounds' effects ran to the end in the pass that crashed.
    expect([runs.get("fine_1"), runs.get("fine_2")]).toEqual([1, 1]);

    // Many passes, the clock moving a policy's longest wait between them: the poison effect
    // runs once per attempt the policy allows, then stays parked.
    for (let i = 0; i < 12; i++) {
      await pass();
      clock.advance(RETRY.maxDelayMs);
    }
    expect(runs.get("poison")).toBe(RETRY.attemptsMax);
    const row = await db.prisma.outboxEffect.findUniqueOrThrow({ where: { id: "poison" } });
    expect({ status: row.status, attempts: row.attempts, claimedBy: row.claimedBy }).toEqual({
      status: "parked",
      attempts: RETRY.attemptsMax,
      claimedBy: null,
    });
    expect(row.lastError).toMatch(/^effect_crashed: TypeError: cannot read properties of undefined/);
    expect(desk.tickets.map((t) => t.id)).toEqual(["poison:parked"]);
    expect(
      (await db.prisma.outboxEffect.findMany({ where: { status: "done" }, select: { id: true } }))
        .map((r) => r.id)
        .sort(),
    ).toEqual(["fine_1", "fine_2"]);
    expect([held.size, started.size, crashed.size]).toEqual([0, 0, 0]);
  });
});

describe("a crashed run whose failure cannot be recorded at once", () => {
  const db = useTestDatabase();
  beforeEach(async () => {
    await resetDatabase(db.prisma);
  });

  it("is recorded by the first pass that reaches the database, still as a failed attempt", async () => {
    const clock = new ManualClock(START);
    const store = new PrismaStore(db.prisma, { clock });
    const deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
    let runs = 0;
    const timers: TimerScheduler = {
      schedule: () => {
        runs += 1;
        throw new TypeError("cannot read properties of undefined");
      },
    };
    const ports: EffectPorts = {
      gateway: new FakePaymentGateway(() => clock.now(), 1_000),
      notifier: new RecordingNotifier(),
      desk: new RecordingSupportDesk(),
      timers,
      ledger: new InMemoryLedgerStore(),
    };
    (await store.commit({ ...empty, outbox: [timer("poison", "round_a")] }))._unsafeUnwrap();
    // The database is away for one pass: its writes of results fail.
    let away = false;
    const outbox: OutboxStore = {
      claimDue: (...args) => store.claimDue(...args),
      complete: (...args) => store.complete(...args),
      fail: (...args) =>
        away ? errAsync(storageError.unavailable("Connection terminated unexpectedly")) : store.fail(...args),
      release: (...args) =>
        away
          ? errAsync(storageError.unavailable("Connection terminated unexpectedly"))
          : store.release(...args),
      releaseOwnClaims: (workerId) => store.releaseOwnClaims(workerId),
    };
    const held = new Set<string>();
    const started = new Set<string>();
    const crashed = new Map<string, CrashedRun>();
    const pass = async (): Promise<string> =>
      Promise.resolve(
        useCases.dispatchOutbox(deps, ports, outbox, {
          workerId: "w1",
          retry: RETRY,
          held,
          started,
          crashed,
        }),
      ).then(
        (report) => (report.isOk() ? "worked" : `failed: ${report.error.code}`),
        () => "crashed",
      );
    // The database goes away as the run throws: its failure cannot be recorded in that pass.
    away = true;
    expect(await pass()).toBe("crashed");
    expect(await pass()).toMatch(/^failed/);
    away = false;
    expect(await pass()).toBe("worked");
    const row = await db.prisma.outboxEffect.findUniqueOrThrow({ where: { id: "poison" } });
    expect({ runs, attempts: row.attempts, claimedBy: row.claimedBy }).toEqual({
      runs: 1,
      attempts: 1,
      claimedBy: null,
    });
    expect(row.lastError).toMatch(/^effect_crashed: /);
  });
});
