// Round timers that fail, on real PostgreSQL and pg-boss: retried by the retry-or-park
// policy as new jobs, parked only once their support ticket exists, never dropped.
import {
  deterministicUuid,
  PgBossTimerScheduler,
  PrismaStore,
  PrismaSupportDesk,
  SystemClock,
  TIMER_QUEUE,
} from "@susu/adapters";
import { startTestBoss, useTestDatabase } from "@susu/adapters/testing";
import type { RetryPolicy, StorageError, SupportDesk, SupportDeskError, UseCaseDeps } from "@susu/domain";
import { SequentialIds } from "@susu/domain/testing";
import { errAsync } from "neverthrow";
import type PgBoss from "pg-boss";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { workTimers } from "../src/jobs/timers.js";
import { createLogger } from "../src/logger.js";

const db = useTestDatabase();
const log = createLogger("silent", "timers-test");

// Tiny waits so the test sees several attempts in a few seconds (pg-boss polls every second).
const retry: RetryPolicy = { baseDelayMs: 50, factor: 2, maxDelayMs: 400, jitter: "none", attemptsMax: 2 };

/** Rounds the database will not give back: unavailable (may pass later) or refused (never will). */
const rounds = { mode: "unavailable" as "unavailable" | "refused" };

/**
 * The scheduler's support desk (support_tickets in PostgreSQL), except that it can be down;
 * every attempt to open a ticket is counted.
 */
class FlakyDesk implements SupportDesk {
  down = false;
  tries = 0;
  openTicket(ticket: Parameters<SupportDesk["openTicket"]>[0]) {
    this.tries += 1;
    return this.down
      ? errAsync<void, SupportDeskError>({
          type: "ticket_failed",
          code: "ticket_failed",
          message: "desk down",
        })
      : new PrismaSupportDesk(db.prisma).openTicket(ticket);
  }
}

/** The support tickets stored, oldest first. */
async function tickets() {
  return (await db.prisma.supportTicket.findMany({ orderBy: { createdAt: "asc" } })).map((t) => ({
    id: t.id,
    reason: t.kind,
    aggregate: t.aggregateType,
    aggregateId: t.aggregateId,
    summary: (t.details as { summary?: unknown }).summary,
  }));
}

interface JobRow {
  id: string;
  state: string;
  data: { timerId: string; attempts?: number };
  output: unknown;
}

function jobsOf(timerId: string): Promise<JobRow[]> {
  return db.prisma.$queryRaw<JobRow[]>`
    SELECT id::text AS id, state::text AS state, data, output FROM pgboss.job
    WHERE name = ${TIMER_QUEUE} AND data->>'timerId' = ${timerId}
    ORDER BY created_on`;
}

async function until(check: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("failed timers (PostgreSQL + pg-boss)", () => {
  let boss: PgBoss;
  let timers: PgBossTimerScheduler;
  const desk = new FlakyDesk();

  beforeAll(async () => {
    boss = await startTestBoss(db.connectionString);
    await PgBossTimerScheduler.prepare(boss);
    timers = new PgBossTimerScheduler(boss);
    const store = new PrismaStore(db.prisma);
    const failing = (): StorageError =>
      rounds.mode === "refused"
        ? { type: "storage_refused", code: "storage_refused", message: "round snapshot does not parse" }
        : { type: "storage_unavailable", code: "storage_unavailable", message: "connection refused" };
    const deps: UseCaseDeps = {
      people: store,
      groups: store,
      // The round reads fail on purpose (the point of these tests); every other port is the real PrismaStore.
      rounds: { getRound: () => errAsync(failing()), listRoundsOfGroup: () => errAsync(failing()) },
      heldPayments: store,
      payouts: store,
      marketplaceCharges: store,
      plans: store,
      subscriptions: store,
      paymentMethods: store,
      uow: store,
      audit: store,
      // pg-boss compares start_after with the database's now(): the policy's times must be real ones.
      clock: new SystemClock(),
      ids: new SequentialIds(),
    };
    await workTimers(boss, deps, desk, log, { retry });
  });
  afterAll(async () => {
    await boss.stop({ graceful: false, wait: true });
  });

  it("a timer job this release cannot read (a newer release's kind) is failed for a retry, never dropped", async () => {
    const data = {
      timerId: "round_t9:timer:added_by_newer_susu",
      aggregate: "round",
      aggregateId: "round_t9",
      timer: { kind: "added_by_newer_susu" },
    };
    const id = await boss.send(TIMER_QUEUE, data);
    if (id === null) throw new Error("not sent");
    const settled = new Set(["retry", "completed", "failed"]);
    await until(async () => (await jobsOf(data.timerId)).some((j) => settled.has(j.state)));
    const [job] = await jobsOf(data.timerId);
    expect(job?.state).toBe("retry");
  });

  it("a timer whose ticket cannot be opened on its last try stays scheduled, and is parked once the ticket opens", async () => {
    rounds.mode = "unavailable";
    desk.down = true;
    const timerId = "round_t1:timer:collection_deadline";
    (
      await timers.schedule({
        id: timerId,
        aggregate: "round",
        aggregateId: "round_t1",
        at: Date.now() - 1,
        timer: { kind: "collection_deadline" },
      })
    )._unsafeUnwrap();

    // Attempt 1 fails and is retried; attempt 2 is the last: the ticket is tried, cannot be
    // opened, and the timer is tried again (and again) instead of being given up.
    const waiting = (jobs: JobRow[]) => jobs.filter((j) => j.state !== "completed");
    await until(
      async () => desk.tries >= 2 && waiting(await jobsOf(timerId)).every((j) => j.state === "created"),
    );
    let jobs = await jobsOf(timerId);
    expect(jobs.filter((j) => j.state === "failed")).toEqual([]);
    expect(waiting(jobs)).toEqual([expect.objectContaining({ state: "created" })]);
    expect(jobs[0]).toMatchObject({ id: deterministicUuid(timerId), state: "completed" });
    expect(jobs[1]).toMatchObject({
      state: "completed",
      data: { attempts: 1 },
      output: {
        outcome: "retried",
        attempts: 2,
        note: expect.stringContaining("(support ticket not opened: desk down)"),
      },
    });
    expect(await tickets()).toEqual([]);

    desk.down = false;
    await until(async () => (await tickets()).length === 1);
    await until(async () => (await jobsOf(timerId)).every((j) => j.state === "completed"));
    jobs = await jobsOf(timerId);
    expect(jobs.filter((j) => j.state === "failed")).toEqual([]);
    const last = jobs.at(-1);
    expect(last?.output).toMatchObject({ outcome: "parked", ticketId: `${timerId}:failed` });
    expect((await tickets())[0]).toMatchObject({
      id: `${timerId}:failed`,
      reason: "effect_parked",
      aggregate: "round",
      aggregateId: "round_t1",
      summary: expect.stringMatching(
        /^round timer round_t1:timer:collection_deadline \(collection_deadline\) was parked after \d+ attempts: storage_unavailable: connection refused$/,
      ),
    });
    // Parked: nothing more is scheduled for it.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await jobsOf(timerId)).toHaveLength(jobs.length);
  });

  it("a timer whose round the store refuses is parked at once with a ticket", async () => {
    rounds.mode = "refused";
    desk.down = false;
    const timerId = "round_t2:timer:payout_due";
    (
      await timers.schedule({
        id: timerId,
        aggregate: "round",
        aggregateId: "round_t2",
        at: Date.now() - 1,
        timer: { kind: "payout_due" },
      })
    )._unsafeUnwrap();
    await until(async () => (await tickets()).some((t) => t.id === `${timerId}:failed`));
    await until(async () => (await jobsOf(timerId)).every((j) => j.state === "completed"));
    const jobs = await jobsOf(timerId);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]?.output).toMatchObject({ outcome: "parked", attempts: 1 });
    expect((await tickets()).find((t) => t.id === `${timerId}:failed`)?.summary).toBe(
      `round timer ${timerId} (payout_due) was parked at once (retrying cannot help): storage_refused: round snapshot does not parse`,
    );
  });
});
