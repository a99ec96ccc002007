import PgBoss from "pg-boss";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  deterministicUuid,
  firedTimerOf,
  PgBossTimerScheduler,
  parseTimerJob,
  REFUND_LOOKUP_JOB_KIND,
  TIMER_JOB_EXPIRE_SECONDS,
  TIMER_QUEUE,
} from "../../src/pgboss/index.js";
import { createTestDatabase, startTestBoss, type TestDatabase } from "../support/index.js";

describe("PgBossTimerScheduler (real PostgreSQL)", () => {
  let db: TestDatabase;
  let boss: PgBoss;
  let scheduler: PgBossTimerScheduler;

  beforeAll(async () => {
    db = await createTestDatabase({ migrated: false });
    boss = await startTestBoss(db.connectionString);
    await PgBossTimerScheduler.prepare(boss);
    scheduler = new PgBossTimerScheduler(boss);
  });
  afterAll(async () => {
    await boss.stop({ graceful: false, wait: true });
    await db.drop();
  });

  it("derives a stable UUID from a timer id", () => {
    expect(deterministicUuid("round_1:timer:collection_deadline")).toBe(
      deterministicUuid("round_1:timer:collection_deadline"),
    );
    expect(deterministicUuid("a")).not.toBe(deterministicUuid("b"));
    expect(deterministicUuid("a")).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it("schedules a timer once however often it is scheduled, and it is not due before its time", async () => {
    const timer = {
      id: "round_1:timer:collection_deadline",
      aggregate: "round" as const,
      aggregateId: "round_1",
      at: Date.now() + 3_600_000,
      timer: { kind: "collection_deadline" as const },
    };
    for (let i = 0; i < 3; i++) (await scheduler.schedule(timer))._unsafeUnwrap();
    expect(await boss.getQueueSize(TIMER_QUEUE)).toBe(1);
    expect(await boss.fetch(TIMER_QUEUE)).toEqual([]);
    const job = await boss.getJobById(TIMER_QUEUE, deterministicUuid(timer.id));
    expect(parseTimerJob(job?.data)).toEqual({
      timerId: timer.id,
      aggregate: "round",
      aggregateId: "round_1",
      timer: timer.timer,
    });
    // As stored: today's shape, the `roundId` schedulers of the release before read, and the
    // timer's instant on its clock.
    expect(job?.data).toEqual({
      timerId: timer.id,
      aggregate: "round",
      aggregateId: "round_1",
      roundId: "round_1",
      timer: timer.timer,
      dueAt: timer.at,
    });
    expect(job?.startAfter.getTime()).toBe(timer.at);
  });

  it("a membership refund's deadline is a job that comes back as the subscription's fired timer", async () => {
    const timer = {
      id: "mbr_1:invoice:in_1:refund:overdue",
      aggregate: "subscription" as const,
      aggregateId: "mbr_1",
      at: Date.now() - 1_000,
      timer: { kind: "refund_overdue" as const, invoiceId: "in_1" },
    };
    (await scheduler.schedule(timer))._unsafeUnwrap();
    const job = await boss.getJobById(TIMER_QUEUE, deterministicUuid(timer.id));
    const parsed = parseTimerJob(job?.data);
    expect(parsed && firedTimerOf(parsed)).toEqual({
      id: timer.id,
      aggregate: "subscription",
      aggregateId: "mbr_1",
      timer: timer.timer,
    });
  });

  it("a due timer is fetched by exactly one of two competing workers", async () => {
    const timer = {
      id: "round_2:timer:retry_debit:ben:2",
      aggregate: "round" as const,
      aggregateId: "round_2",
      at: Date.now() - 1_000,
      timer: { kind: "retry_debit" as const, memberId: "ben", attempt: 2 },
    };
    (await scheduler.schedule(timer))._unsafeUnwrap();
    const [a, b] = await Promise.all([
      boss.fetch(TIMER_QUEUE, { batchSize: 5 }),
      boss.fetch(TIMER_QUEUE, { batchSize: 5 }),
    ]);
    const fetched = [...a, ...b].filter((j) => j.id === deterministicUuid(timer.id));
    expect(fetched).toHaveLength(1);
    expect(parseTimerJob(fetched[0]?.data)?.timer).toEqual(timer.timer);
  });

  it("a retry of a failed timer is one job per failed-attempt count, however often it is scheduled", async () => {
    const job = {
      timerId: "round_3:timer:grace_end",
      aggregate: "round" as const,
      aggregateId: "round_3",
      timer: { kind: "grace_end" as const },
    };
    const at = Date.now() + 3_600_000;
    for (let i = 0; i < 3; i++) (await scheduler.scheduleRetry(job, 2, at))._unsafeUnwrap();
    (await scheduler.scheduleRetry(job, 3, at))._unsafeUnwrap();
    const second = await boss.getJobById(TIMER_QUEUE, deterministicUuid(`retry-of:${job.timerId}:after:2`));
    const third = await boss.getJobById(TIMER_QUEUE, deterministicUuid(`retry-of:${job.timerId}:after:3`));
    expect(parseTimerJob(second?.data)).toEqual({ ...job, attempts: 2 });
    expect(parseTimerJob(third?.data)).toEqual({ ...job, attempts: 3 });
    expect(second?.data).toEqual({ ...job, roundId: "round_3", attempts: 2, dueAt: at });
    expect(second?.startAfter.getTime()).toBe(at);
    // Neither is the timer's own job.
    expect(await boss.getJobById(TIMER_QUEUE, deterministicUuid(job.timerId))).toBeNull();
  });

  it("reads a job an older process sent in the shape before aggregate references (a rolling deploy)", async () => {
    const id = deterministicUuid("round_4:timer:payout_due");
    await boss.send(
      TIMER_QUEUE,
      { timerId: "round_4:timer:payout_due", roundId: "round_4", timer: { kind: "payout_due" } },
      { id },
    );
    const [fetched] = await boss
      .fetch(TIMER_QUEUE, { batchSize: 10 })
      .then((jobs) => jobs.filter((j) => j.id === id));
    expect(parseTimerJob(fetched?.data)).toEqual({
      timerId: "round_4:timer:payout_due",
      aggregate: "round",
      aggregateId: "round_4",
      timer: { kind: "payout_due" },
    });
  });

  it("refuses job data that is not a timer", () => {
    const round = { aggregate: "round", aggregateId: "r" } as const;
    expect(parseTimerJob({ timerId: "t", ...round, timer: { kind: "nope" } })).toBeUndefined();
    expect(parseTimerJob({ timerId: "t", roundId: "r", timer: { kind: "nope" } })).toBeUndefined();
    expect(
      parseTimerJob({ timerId: "t", ...round, timer: { kind: "retry_debit", memberId: "m", attempt: 0 } }),
    ).toBeUndefined();
    expect(
      parseTimerJob({ timerId: "t", ...round, timer: { kind: "grace_end" }, attempts: -1 }),
    ).toBeUndefined();
    expect(
      parseTimerJob({
        timerId: "t",
        aggregate: "held_payment",
        aggregateId: "h",
        timer: { kind: "grace_end" },
      }),
    ).toBeUndefined();
    expect(parseTimerJob({ timerId: "t", timer: { kind: "grace_end" } })).toBeUndefined();
  });

  it("on a clock ahead of the machine's (the simulation's), starts a timer at the real time that is its instant", async () => {
    const WEEK_MS = 7 * 86_400_000;
    const ahead = new PgBossTimerScheduler(boss, { now: () => Date.now() + WEEK_MS });
    const due = {
      id: "round_sim:timer:payout_due",
      aggregate: "round" as const,
      aggregateId: "round_sim",
      // Due a minute from now on the simulation's clock: a week and a minute from the machine's.
      at: Date.now() + WEEK_MS + 60_000,
      timer: { kind: "payout_due" as const },
    };
    const before = Date.now();
    (await ahead.schedule(due))._unsafeUnwrap();
    const job = await boss.getJobById(TIMER_QUEUE, deterministicUuid(due.id));
    const startAfter = new Date(job?.startAfter ?? 0).getTime();
    expect(startAfter).toBeGreaterThanOrEqual(before + 60_000 - 1_000);
    expect(startAfter).toBeLessThanOrEqual(Date.now() + 60_000);
    // The data keeps the instant on the simulation's clock, not the real time it starts at:
    // the simulation sets `start_after` from it when it moves its clock.
    expect(job?.data).toEqual(expect.objectContaining({ dueAt: due.at }));
    expect(parseTimerJob(job?.data)).toEqual({
      timerId: due.id,
      aggregate: "round",
      aggregateId: "round_sim",
      timer: due.timer,
    });
  });

  it("a timer job whose process died after starting it runs again once it expires, not after pg-boss's 15 minutes", async () => {
    // A second pg-boss on the same schema with its maintenance every second: the live process.
    const live = new PgBoss({
      connectionString: db.connectionString,
      schema: "pgboss",
      maintenanceIntervalSeconds: 1,
      schedule: false,
    });
    live.on("error", () => undefined);
    await live.start();
    try {
      const short = new PgBossTimerScheduler(live, undefined, 1);
      const due = {
        id: "held_dead:timer:release_due",
        aggregate: "held_payment" as const,
        aggregateId: "held_dead",
        at: Date.now() - 1_000,
        timer: { kind: "release_due" as const },
      };
      (await short.schedule(due))._unsafeUnwrap();
      const id = deterministicUuid(due.id);
      // The dying process fetched it (it is active) and never completed or failed it.
      const [taken] = await live.fetch(TIMER_QUEUE, { batchSize: 10 });
      expect(taken?.id).toBe(id);
      expect((await live.getJobById(TIMER_QUEUE, id))?.state).toBe("active");
      // Maintenance fails it by its expiry and it is due again (after its retry delay).
      let state: string | undefined;
      for (const until = Date.now() + 20_000; Date.now() < until; ) {
        state = (await live.getJobById(TIMER_QUEUE, id))?.state;
        if (state !== "active") break;
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(state).toBe("retry");
      // The default expiry a scheduled timer gets.
      (await scheduler.schedule({ ...due, id: "held_dead:timer:other" }))._unsafeUnwrap();
      const stored = await live.getJobById(TIMER_QUEUE, deterministicUuid("held_dead:timer:other"));
      expect(stored?.expireIn).toEqual(expect.objectContaining({ minutes: TIMER_JOB_EXPIRE_SECONDS / 60 }));
    } finally {
      await live.stop({ graceful: false, wait: true });
    }
  });
  it("a refund look-up after the first is stored under its own kind, and its retry keeps the number", async () => {
    const timer = {
      id: "hp_9:timer:refund_overdue:1:1:lookup:3",
      aggregate: "held_payment" as const,
      aggregateId: "hp_9",
      at: Date.now() + 3_600_000,
      timer: { kind: "refund_overdue" as const, refund: 1, attempt: 1, lookup: 3 },
    };
    (await scheduler.schedule(timer))._unsafeUnwrap();
    const job = await boss.getJobById(TIMER_QUEUE, deterministicUuid(timer.id));
    // Schedulers of the release before look-ups refuse the kind (and leave it to this one).
    expect(job?.data).toMatchObject({ timer: { kind: REFUND_LOOKUP_JOB_KIND, lookup: 3 } });
    const parsed = parseTimerJob(job?.data);
    if (parsed === undefined) throw new Error("unreadable");
    expect(firedTimerOf(parsed)).toEqual({
      id: timer.id,
      aggregate: "held_payment",
      aggregateId: "hp_9",
      timer: timer.timer,
    });
    (await scheduler.scheduleRetry(parsed, 1, timer.at))._unsafeUnwrap();
    const retry = await boss.getJobById(TIMER_QUEUE, deterministicUuid(`retry-of:${timer.id}:after:1`));
    expect(parseTimerJob(retry?.data)).toEqual({ ...parsed, attempts: 1 });
  });
});
