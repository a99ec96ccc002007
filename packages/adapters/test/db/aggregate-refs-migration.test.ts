// The aggregate_refs migration on data written before it: outbox payloads, pg-boss timer
// jobs and support tickets of the old shape are rewritten to name their aggregate (ids
// unchanged), and rows an older process writes after it (a rolling deploy) still read in
// today's shape.
import { cp, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import PgBoss from "pg-boss";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyMigrations } from "../../src/db/migrations.js";
import { databasePaths } from "../../src/db/paths.js";
import {
  deterministicUuid,
  PgBossTimerScheduler,
  parseTimerJob,
  TIMER_QUEUE,
} from "../../src/pgboss/index.js";
import { PrismaStore } from "../../src/prisma/index.js";
import { PrismaSupportDesk } from "../../src/support/index.js";
import { LEGACY_EFFECTS } from "../support/legacy-payloads.js";
import { createTestDatabase, type TestDatabase } from "../support/test-database.js";

const MIGRATION = "20261202085218_aggregate_refs";

async function withClient<T>(connectionString: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** An outbox row as the release before wrote it (its payload in the old shape). */
async function insertOldEffect(
  client: pg.Client,
  payload: Record<string, unknown>,
  status: "pending" | "done" | "parked" = "pending",
): Promise<void> {
  await client.query(
    `INSERT INTO outbox_effects (id, aggregate_type, aggregate_id, kind, payload, status, available_at, created_at)
     VALUES ($1, 'round', $2, $3, $4, $5, to_timestamp(0), now())`,
    [payload.id, payload.roundId, payload.kind, JSON.stringify(payload), status],
  );
}

/** A ticket as the release before opened it: `round_id` only. */
async function insertOldTicket(client: pg.Client, id: string, roundId: string | null): Promise<void> {
  await client.query(
    `INSERT INTO support_tickets (id, effect_id, kind, status, subject, details, group_id, round_id, created_at, updated_at)
     VALUES ($1, $1, 'payout_blocked', 'open', 'blocked', '{}', 'grp_1', $2, now(), now())`,
    [id, roundId],
  );
}

/** Timer jobs as the release before sent them. */
const OLD_JOBS = [
  {
    timerId: "round_1:timer:collection_deadline",
    roundId: "round_1",
    timer: { kind: "collection_deadline" },
  },
  {
    timerId: "round_1:timer:retry_debit:ben:2",
    roundId: "round_1",
    timer: { kind: "retry_debit", memberId: "ben", attempt: 2 },
    attempts: 3,
  },
] as const;

describe("the aggregate_refs migration", () => {
  let database: TestDatabase;
  let scratch: string;
  let boss: PgBoss;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), "susu-aggregate-refs-migration-"));
    database = await createTestDatabase({ migrated: false });
    // Every migration before this one, as a database deployed before it has them.
    const before = join(scratch, "before");
    await cp(databasePaths.migrationsDir, before, { recursive: true });
    const folders = (await readdir(before, { withFileTypes: true }))
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    expect(folders).toContain(MIGRATION);
    for (const folder of folders.filter((f) => f >= MIGRATION))
      await rm(join(before, folder), { recursive: true });
    await applyMigrations(database.connectionString, { migrationsDir: before });

    boss = new PgBoss({
      connectionString: database.connectionString,
      schema: "pgboss",
      supervise: false,
      schedule: false,
    });
    boss.on("error", () => undefined);
    await boss.start();
    await PgBossTimerScheduler.prepare(boss);

    await withClient(database.connectionString, async (client) => {
      const statuses = ["pending", "parked", "done"] as const;
      for (const [i, { old }] of LEGACY_EFFECTS.entries())
        await insertOldEffect(client, old, statuses[i % 3]);
      await insertOldTicket(client, "round_1:ticket:payout_blocked:ana:1:v3", "round_1");
      await insertOldTicket(client, "webhook:evt_1:parked", null);
    });
    for (const job of OLD_JOBS)
      await boss.send(TIMER_QUEUE, job, {
        id: deterministicUuid(job.timerId),
        startAfter: new Date(Date.now() + 3_600_000),
      });

    // The release with aggregate references: every migration, this one among them.
    await applyMigrations(database.connectionString);
  });
  afterAll(async () => {
    await boss?.stop({ graceful: false, wait: true });
    await database?.drop();
    await rm(scratch, { recursive: true, force: true });
  });

  it("rewrites every stored outbox payload to today's shape, whatever its status, ids unchanged", async () => {
    const rows = await database.prisma.outboxEffect.findMany({ orderBy: { sequence: "asc" } });
    expect(rows.map((r) => r.id)).toEqual(LEGACY_EFFECTS.map((e) => e.today.id));
    // As stored, not only as read: the SQL and the code's upgrade agree.
    expect(rows.map((r) => r.payload)).toEqual(
      LEGACY_EFFECTS.map((e) => JSON.parse(JSON.stringify(e.today))),
    );
    expect(rows.map((r) => [r.aggregateType, r.aggregateId])).toEqual(
      LEGACY_EFFECTS.map(() => ["round", "round_1"]),
    );
  });

  it("the rewritten effects are handed out whole", async () => {
    const store = new PrismaStore(database.prisma);
    const claimed = (await store.claimDue("w1", Date.now(), 60_000, 50))._unsafeUnwrap();
    const pending = LEGACY_EFFECTS.filter((_, i) => i % 3 === 0).map((e) => e.today);
    expect(claimed.map((c) => c.effect)).toEqual(pending);
    for (const c of claimed) (await store.complete(c.effect.id, "w1", Date.now()))._unsafeUnwrap();
  });

  it("gives pending timer jobs the aggregate reference, keeping roundId for schedulers of the release before", async () => {
    for (const job of OLD_JOBS) {
      const stored = await boss.getJobById(TIMER_QUEUE, deterministicUuid(job.timerId));
      expect(stored?.data).toEqual({ ...job, aggregate: "round", aggregateId: "round_1" });
      const { roundId: _, ...rest } = job;
      expect(parseTimerJob(stored?.data)).toEqual({ ...rest, aggregate: "round", aggregateId: "round_1" });
    }
  });

  it("tickets about a round name it as their aggregate; the others name none", async () => {
    const rows = await database.prisma.supportTicket.findMany({ orderBy: { id: "asc" } });
    expect(rows.map((r) => [r.id, r.aggregateType, r.aggregateId, r.roundId])).toEqual([
      ["round_1:ticket:payout_blocked:ana:1:v3", "round", "round_1", "round_1"],
      ["webhook:evt_1:parked", null, null, null],
    ]);
    const desk = new PrismaSupportDesk(database.prisma);
    expect((await desk.getTicket("round_1:ticket:payout_blocked:ana:1:v3"))._unsafeUnwrap()).toMatchObject({
      aggregate: "round",
      aggregateId: "round_1",
      groupId: "grp_1",
    });
    expect((await desk.getTicket("webhook:evt_1:parked"))._unsafeUnwrap()).not.toHaveProperty("aggregate");
  });

  it("refuses a ticket whose aggregate is half there, or disagrees with its round_id", async () => {
    await withClient(database.connectionString, async (client) => {
      const insert = (id: string, type: string | null, aggregateId: string | null, roundId: string | null) =>
        client.query(
          `INSERT INTO support_tickets (id, kind, status, subject, details, aggregate_type, aggregate_id, round_id, created_at, updated_at)
           VALUES ($1, 'effect_parked', 'open', 's', '{}', $2, $3, $4, now(), now())`,
          [id, type, aggregateId, roundId],
        );
      await expect(insert("half", "round", null, null)).rejects.toMatchObject({
        code: "23514",
        constraint: "support_tickets_aggregate_both_or_neither",
      });
      await expect(insert("disagree", "round", "round_2", "round_1")).rejects.toMatchObject({
        code: "23514",
        constraint: "support_tickets_round_id_is_the_aggregate",
      });
    });
  });

  describe("after the migration, what an older process still writes (a rolling deploy)", () => {
    it("an old-shaped outbox payload is handed out in today's shape", async () => {
      const late = {
        kind: "notify",
        id: "round_9:notify:payout_sent:ana",
        groupId: "grp_9",
        roundId: "round_9",
        to: { kind: "member", memberId: "ana" },
        template: "payout_sent",
        data: { roundId: "round_9" },
      };
      await withClient(database.connectionString, (client) => insertOldEffect(client, late));
      const store = new PrismaStore(database.prisma);
      const claimed = (await store.claimDue("w2", Date.now(), 60_000, 50))._unsafeUnwrap();
      expect(claimed.map((c) => c.effect)).toEqual([
        {
          kind: "notify",
          id: "round_9:notify:payout_sent:ana",
          aggregate: "round",
          aggregateId: "round_9",
          to: { kind: "group", groupId: "grp_9", members: { kind: "member", memberId: "ana" } },
          template: "payout_sent",
          data: { roundId: "round_9" },
        },
      ]);
    });

    it("an old-shaped timer job is read as its round's timer", async () => {
      const late = { timerId: "round_9:timer:payout_due", roundId: "round_9", timer: { kind: "payout_due" } };
      await boss.send(TIMER_QUEUE, late, { id: deterministicUuid(late.timerId) });
      const [job] = (await boss.fetch(TIMER_QUEUE, { batchSize: 10 })).filter(
        (j) => j.id === deterministicUuid(late.timerId),
      );
      expect(parseTimerJob(job?.data)).toEqual({
        timerId: "round_9:timer:payout_due",
        aggregate: "round",
        aggregateId: "round_9",
        timer: { kind: "payout_due" },
      });
    });

    it("a ticket opened with round_id only is about that round", async () => {
      await withClient(database.connectionString, (client) =>
        insertOldTicket(client, "round_9:ticket:payout_blocked:ana:1:v1", "round_9"),
      );
      const desk = new PrismaSupportDesk(database.prisma);
      expect((await desk.getTicket("round_9:ticket:payout_blocked:ana:1:v1"))._unsafeUnwrap()).toMatchObject({
        aggregate: "round",
        aggregateId: "round_9",
      });
    });

    it("today's round tickets still fill round_id, which the release before reads", async () => {
      const desk = new PrismaSupportDesk(database.prisma);
      (
        await desk.openTicket({
          id: "round_9:ticket:refund_failed:ben",
          aggregate: "round",
          aggregateId: "round_9",
          groupId: "grp_9",
          reason: "refund_failed",
          summary: "refund failed",
        })
      )._unsafeUnwrap();
      const row = await database.prisma.supportTicket.findUniqueOrThrow({
        where: { id: "round_9:ticket:refund_failed:ben" },
      });
      expect([row.aggregateType, row.aggregateId, row.roundId, row.groupId]).toEqual([
        "round",
        "round_9",
        "round_9",
        "grp_9",
      ]);
    });
  });
});
