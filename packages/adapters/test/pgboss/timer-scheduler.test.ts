import PgBoss from "pg-boss";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  deterministicUuid,
  PgBossTimerScheduler,
  parseRoundTimerJob,
  ROUND_TIMER_QUEUE,
} from "../../src/pgboss/index.js";
import { createTestDatabase, type TestDatabase } from "../support/index.js";

describe("PgBossTimerScheduler (real PostgreSQL)", () => {
  let db: TestDatabase;
  let boss: PgBoss;
  let scheduler: PgBossTimerScheduler;

  beforeAll(async () => {
    db = await createTestDatabase({ migrated: false });
    boss = new PgBoss({
      connectionString: db.connectionString,
      schema: "pgboss",
      supervise: false,
      schedule: false,
    });
    boss.on("error", () => undefined);
    await boss.start();
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
      roundId: "round_1",
      at: Date.now() + 3_600_000,
      timer: { kind: "collection_deadline" as const },
    };
    for (let i = 0; i < 3; i++) (await scheduler.schedule(timer))._unsafeUnwrap();
    expect(await boss.getQueueSize(ROUND_TIMER_QUEUE)).toBe(1);
    expect(await boss.fetch(ROUND_TIMER_QUEUE)).toEqual([]);
    const job = await boss.getJobById(ROUND_TIMER_QUEUE, deterministicUuid(timer.id));
    expect(parseRoundTimerJob(job?.data)).toEqual({
      timerId: timer.id,
      roundId: "round_1",
      timer: timer.timer,
    });
    expect(job?.startAfter.getTime()).toBe(timer.at);
  });

  it("a due timer is fetched by exactly one of two competing workers", async () => {
    const timer = {
      id: "round_2:timer:retry_debit:ben:2",
      roundId: "round_2",
      at: Date.now() - 1_000,
      timer: { kind: "retry_debit" as const, memberId: "ben", attempt: 2 },
    };
    (await scheduler.schedule(timer))._unsafeUnwrap();
    const [a, b] = await Promise.all([
      boss.fetch(ROUND_TIMER_QUEUE, { batchSize: 5 }),
      boss.fetch(ROUND_TIMER_QUEUE, { batchSize: 5 }),
    ]);
    const fetched = [...a, ...b].filter((j) => j.id === deterministicUuid(timer.id));
    expect(fetched).toHaveLength(1);
    expect(parseRoundTimerJob(fetched[0]?.data)?.timer).toEqual(timer.timer);
  });

  it("a retry of a failed timer is one job per failed-attempt count, however often it is scheduled", async () => {
    const job = {
      timerId: "round_3:timer:grace_end",
      roundId: "round_3",
      timer: { kind: "grace_end" as const },
    };
    const at = Date.now() + 3_600_000;
    for (let i = 0; i < 3; i++) (await scheduler.scheduleRetry(job, 2, at))._unsafeUnwrap();
    (await scheduler.scheduleRetry(job, 3, at))._unsafeUnwrap();
    const second = await boss.getJobById(
      ROUND_TIMER_QUEUE,
      deterministicUuid(`retry-of:${job.timerId}:after:2`),
    );
    const third = await boss.getJobById(
      ROUND_TIMER_QUEUE,
      deterministicUuid(`retry-of:${job.timerId}:after:3`),
    );
    expect(parseRoundTimerJob(second?.data)).toEqual({ ...job, attempts: 2 });
    expect(parseRoundTimerJob(third?.data)).toEqual({ ...job, attempts: 3 });
    expect(second?.startAfter.getTime()).toBe(at);
    // Neither is the timer's own job.
    expect(await boss.getJobById(ROUND_TIMER_QUEUE, deterministicUuid(job.timerId))).toBeNull();
  });

  it("refuses job data that is not a round timer", () => {
    expect(parseRoundTimerJob({ timerId: "t", roundId: "r", timer: { kind: "nope" } })).toBeUndefined();
    expect(
      parseRoundTimerJob({
        timerId: "t",
        roundId: "r",
        timer: { kind: "retry_debit", memberId: "m", attempt: 0 },
      }),
    ).toBeUndefined();
    expect(
      parseRoundTimerJob({ timerId: "t", roundId: "r", timer: { kind: "grace_end" }, attempts: -1 }),
    ).toBeUndefined();
  });
});
