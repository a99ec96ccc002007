// The LISTEN/NOTIFY listener on a real PostgreSQL: notifications reach it, a commit of outbox
// effects through the store is followed by one on 'susu_outbox', and a connection the server ends is
// replaced — listening again, with one wake-up for the notifications it missed. And the
// sweep of stuck work: expired leases cleared, live ones left alone.
import { type Changeset, INTERRUPTED_BEFORE, interruptedTry, type OutboxEffect } from "@susu/domain";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type PgListener, startPgListener } from "../../src/db/pg-listener.js";
import { PrismaStore, sweepStuckWork } from "../../src/prisma/index.js";
import { createTestDatabase, type TestDatabase } from "../support/test-database.js";

const T = Date.UTC(2026, 0, 6);
const empty: Changeset = { people: [], groups: [], rounds: [], outbox: [], audit: [] };
const timer = (id: string, round = "round_1"): OutboxEffect => ({
  kind: "schedule_timer",
  id,
  aggregate: "round",
  aggregateId: round,
  at: T,
  timer: { kind: "collection_deadline" },
});

async function until(check: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("the PostgreSQL notification listener", () => {
  let db: TestDatabase;
  let listener: PgListener | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterEach(async () => {
    await listener?.stop();
    listener = undefined;
  });
  afterAll(async () => {
    await db.drop();
  });

  const listen = async (channels: string[]) => {
    const heard: string[] = [];
    listener = startPgListener({
      connectionString: db.connectionString,
      channels,
      onNotify: (channel) => heard.push(channel),
      minBackoffMs: 20,
      maxBackoffMs: 100,
    });
    await listener.ready;
    // The wake-up every connection starts with.
    expect(heard).toEqual(channels);
    heard.length = 0;
    return heard;
  };

  it("hears notifications on its channels only", async () => {
    const heard = await listen(["susu_outbox", "susu_webhook_events"]);
    await db.prisma.$executeRawUnsafe(
      "SELECT pg_notify('susu_webhook_events', ''), pg_notify('elsewhere', '')",
    );
    await until(() => heard.length >= 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(heard).toEqual(["susu_webhook_events"]);
  });

  it("is told once after a commit of outbox effects, never for a transaction rolled back", async () => {
    const heard = await listen(["susu_outbox"]);
    const store = new PrismaStore(db.prisma);
    (
      await store.commit({ ...empty, outbox: [timer("n1"), timer("n2"), timer("n3", "round_2")] })
    )._unsafeUnwrap();
    await until(() => heard.length >= 1);
    const rolledBack = (await store.openCommit({ ...empty, outbox: [timer("rolled")] }))._unsafeUnwrap();
    await rolledBack?.rollback();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(heard).toEqual(["susu_outbox"]);
  });

  it("listens again after the server ends its connection, and wakes every channel once", async () => {
    const heard = await listen(["susu_outbox", "susu_webhook_events"]);
    const ended = await db.prisma.$queryRawUnsafe<{ ended: boolean }[]>(
      `SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity
        WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()`,
    );
    expect(ended.map((r) => r.ended)).toEqual([true]);
    await until(() => heard.length >= 2 && listener?.listening === true);
    expect([...heard].sort()).toEqual(["susu_outbox", "susu_webhook_events"]);
    heard.length = 0;
    await db.prisma.$executeRawUnsafe("SELECT pg_notify('susu_outbox', '')");
    await until(() => heard.length >= 1);
    expect(heard).toEqual(["susu_outbox"]);
  });

  it("keeps trying while the database refuses it, and stops for good when stopped", async () => {
    const heard: string[] = [];
    const refused = db.connectionString.replace(/\/[^/?]+(\?|$)/, "/no_such_database$1");
    const stubborn = startPgListener({
      connectionString: refused,
      channels: ["susu_outbox"],
      onNotify: (channel) => heard.push(channel),
      minBackoffMs: 10,
      maxBackoffMs: 20,
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(stubborn.listening).toBe(false);
    await stubborn.stop();
    await stubborn.ready;
    expect(heard).toEqual([]);
  });

  it("refuses a channel name that is not an identifier", () => {
    expect(() =>
      startPgListener({ connectionString: db.connectionString, channels: ["a; DROP"], onNotify: () => {} }),
    ).toThrow(RangeError);
  });
});

describe("the stuck-work sweep", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  it("clears expired leases (a dead worker's) and leaves live ones and settled effects alone", async () => {
    const store = new PrismaStore(db.prisma);
    (
      await store.commit({ ...empty, outbox: [timer("dead", "round_a"), timer("live", "round_b")] })
    )._unsafeUnwrap();
    (await store.claimDue("ghost", T, 60_000, 1))._unsafeUnwrap();
    (await store.claimDue("alive", T + 30_000, 60_000, 1))._unsafeUnwrap();
    const found = await sweepStuckWork(db.prisma, T + 61_000, { bossSchema: false });
    expect(found).toEqual({
      outboxLeasesExpired: [{ id: "dead", kind: "schedule_timer", claimedBy: "ghost" }],
      bossJobsPastExpiry: 0,
    });
    const rows = await db.prisma.outboxEffect.findMany({
      orderBy: { id: "asc" },
      select: { id: true, claimedBy: true, attempts: true, lastError: true },
    });
    // The dead worker may have tried it: recorded, no attempt counted.
    expect(rows).toEqual([
      { id: "dead", claimedBy: null, attempts: 0, lastError: interruptedTry.leaseExpired("ghost") },
      { id: "live", claimedBy: "alive", attempts: 0, lastError: null },
    ]);
    expect((await sweepStuckWork(db.prisma, T + 61_000, { bossSchema: false })).outboxLeasesExpired).toEqual(
      [],
    );
    // Its next claim says it failed before: its run is a retry, looking first for what the try made.
    const next = (await store.claimDue("next", T + 61_000, 60_000, 10))._unsafeUnwrap();
    expect(next.map((r) => [r.effect.id, r.attempts, r.failedBefore])).toEqual([["dead", 0, true]]);
  });

  it("keeps the error an effect failed with before under the interruption's note, at most 2,000 characters", async () => {
    const store = new PrismaStore(db.prisma);
    (
      await store.commit({ ...empty, outbox: [timer("failed_fx", "round_c"), timer("long_fx", "round_d")] })
    )._unsafeUnwrap();
    (await store.claimDue("w1", T, 60_000, 10))._unsafeUnwrap();
    (await store.fail("failed_fx", "w1", "stripe: 500 api_error", T))._unsafeUnwrap();
    (await store.fail("long_fx", "w1", "x".repeat(1_990), T))._unsafeUnwrap();
    (await store.claimDue("ghost", T, 60_000, 10))._unsafeUnwrap();
    await sweepStuckWork(db.prisma, T + 61_000, { bossSchema: false });
    const rows = await db.prisma.outboxEffect.findMany({
      where: { id: { in: ["failed_fx", "long_fx"] } },
      orderBy: { id: "asc" },
      select: { id: true, lastError: true },
    });
    const note = interruptedTry.leaseExpired("ghost");
    expect(rows[0]).toEqual({
      id: "failed_fx",
      lastError: `${note}${INTERRUPTED_BEFORE}stripe: 500 api_error`,
    });
    expect(rows[1]?.lastError).toBe(`${note}${INTERRUPTED_BEFORE}${"x".repeat(1_990)}`.slice(0, 2_000));
  });

  it("counts pg-boss jobs active past their expiry", async () => {
    await db.prisma.$executeRawUnsafe(`CREATE SCHEMA fakeboss`);
    await db.prisma.$executeRawUnsafe(
      `CREATE TABLE fakeboss.job (state text, started_on timestamptz, expire_in interval)`,
    );
    await db.prisma.$executeRawUnsafe(
      `INSERT INTO fakeboss.job VALUES ('active', now() - interval '20 minutes', interval '15 minutes'),
                                       ('active', now() - interval '1 minute', interval '15 minutes'),
                                       ('completed', now() - interval '1 day', interval '15 minutes')`,
    );
    expect((await sweepStuckWork(db.prisma, T, { bossSchema: "fakeboss" })).bossJobsPastExpiry).toBe(1);
    await expect(sweepStuckWork(db.prisma, T, { bossSchema: "x; DROP" })).rejects.toThrow(RangeError);
  });
});
