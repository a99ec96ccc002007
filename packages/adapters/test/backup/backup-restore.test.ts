// Backup and restore on real PostgreSQL: a database with susu's rows (a round started:
// people, group, round, outbox, audit, sequences), awkward text, and pg-boss's timers, is
// backed up and restored into an empty database; every table must come back with the same
// rows, the sequences must go on after the restored rows, and pg-boss must find its jobs.
// A restore over a database that holds rows is refused and changes nothing.
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { type Person, type UseCaseDeps, useCaseDepsOn, useCases } from "@susu/domain";
import { anActiveGroup, ManualClock, SequentialIds } from "@susu/domain/testing";
import pg from "pg";
import PgBoss from "pg-boss";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listTables, tableDigest } from "../../src/backup/catalog.js";
import {
  markDatabaseRewound,
  RestoreError,
  readBackupManifest,
  restoreBackup,
} from "../../src/backup/restore-backup.js";
import { takeBackup } from "../../src/backup/take-backup.js";
import { databasePaths } from "../../src/db/paths.js";
import { deterministicUuid, PgBossTimerScheduler, TIMER_QUEUE } from "../../src/pgboss/index.js";
import { PrismaStore } from "../../src/prisma/index.js";
import { createTestDatabase, type TestDatabase } from "../support/index.js";

const AWKWARD = "tab\there, line\nbreak, back\\slash, \\N, quote ' \" , ünïcödé 😀";

async function digests(
  connectionString: string,
): Promise<Record<string, { rows: number; checksum: string }>> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    const out: Record<string, { rows: number; checksum: string }> = {};
    for (const table of await listTables(client))
      out[`${table.schema}.${table.name}`] = await tableDigest(client, table);
    return out;
  } finally {
    await client.end();
  }
}

async function query<T extends pg.QueryResultRow>(connectionString: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

/**
 * A restored database holds the source's rows, plus the restore's own audit line, dated the
 * newest outbox effect the backup held.
 */
async function expectRestoredFrom(
  target: string,
  source: Record<string, { rows: number; checksum: string }>,
): Promise<void> {
  const { "public.audit_log": audit, ...restored } = await digests(target);
  const { "public.audit_log": sourceAudit, ...rest } = source;
  expect(restored).toEqual(rest);
  expect(audit?.rows).toBe((sourceAudit?.rows ?? 0) + 1);
  const lines = await query<{ at: Date; newest: Date }>(
    target,
    `SELECT occurred_at AS at, (SELECT max(created_at) FROM outbox_effects) AS newest
       FROM audit_log WHERE aggregate_type = 'database' AND aggregate_id = 'outbox' AND action = 'restored'`,
  );
  expect(lines).toHaveLength(1);
  expect(lines[0]?.at).toEqual(lines[0]?.newest);
}

describe("db:backup and db:restore on real PostgreSQL", () => {
  let source: TestDatabase;
  const targets: TestDatabase[] = [];
  let dir: string;
  let backupPath: string;
  let deps: UseCaseDeps;
  const clock = new ManualClock(Date.UTC(2026, 5, 1));
  const timerId = "round_x:timer:collection_deadline";

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "susu-backup-test-"));
    backupPath = join(dir, "susu.backup");
    source = await createTestDatabase();
    const store = new PrismaStore(source.prisma);
    deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
    const members = ["ana", "ben", "cy"];
    const people: Person[] = members.map((m, i) => ({
      id: m,
      displayName: i === 0 ? AWKWARD : m,
      customerId: `cus_${m}`,
      debit: { paymentMethodId: `pm_${m}`, mandateId: `mandate_${m}`, mandateActive: true },
      payout: { connectedAccountId: `acct_${m}`, payoutsEnabled: true },
      createdAt: clock.now(),
      version: 0,
    }));
    const group = anActiveGroup({ id: "grp_backup", memberIds: members, startsAt: clock.now() - 1 });
    (
      await deps.uow.commit({
        people: people.map((state) => ({ state, expectedVersion: undefined })),
        groups: [{ state: group, expectedVersion: undefined }],
        rounds: [],
        outbox: [],
        audit: [],
      })
    )._unsafeUnwrap();
    (await useCases.startRound(deps, "grp_backup", "scheduler"))._unsafeUnwrap();

    // pg-boss's schema, its timer queue (a partition of pgboss.job) and a job in it.
    const boss = new PgBoss({
      connectionString: source.connectionString,
      schema: "pgboss",
      supervise: false,
      schedule: false,
    });
    boss.on("error", () => undefined);
    await boss.start();
    await PgBossTimerScheduler.prepare(boss);
    (
      await new PgBossTimerScheduler(boss).schedule({
        id: timerId,
        aggregate: "round",
        aggregateId: "round_x",
        at: Date.now() + 3_600_000,
        timer: { kind: "collection_deadline" },
      })
    )._unsafeUnwrap();
    await boss.stop({ graceful: false, wait: true });
  });
  afterAll(async () => {
    for (const target of targets) await target.drop();
    await source?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  async function emptyTarget(): Promise<TestDatabase> {
    const target = await createTestDatabase({ migrated: false });
    targets.push(target);
    return target;
  }

  it("restores into an empty database every table with the same rows, sequences after them, timers usable", async () => {
    const taken = await takeBackup(source.connectionString, backupPath);
    const before = await digests(source.connectionString);
    // The manifest holds what a restore checks: the migrations, pg-boss, each table's count and digest.
    expect(taken.manifest.migrations.map((m) => m.name)).toEqual(
      (await readdir(databasePaths.migrationsDir, { withFileTypes: true }))
        .filter((e) => e.isDirectory())
        .map((e) => e.name)
        .sort(),
    );
    expect(taken.manifest.pgBossQueues).toContain(TIMER_QUEUE);
    const listed = Object.fromEntries(
      taken.manifest.tables.map((t) => [`${t.schema}.${t.name}`, { rows: t.rows, checksum: t.checksum }]),
    );
    expect(listed).toEqual(before);
    expect(listed["public.outbox_effects"]?.rows).toBeGreaterThanOrEqual(3);
    expect(listed["pgboss.job"]?.rows).toBe(1);
    expect(await readBackupManifest(backupPath)).toEqual(taken.manifest);

    const target = await emptyTarget();
    const restored = await restoreBackup(target.connectionString, backupPath);
    expect(restored.appliedAfter).toEqual([]);
    await expectRestoredFrom(target.connectionString, before);
    const [person] = await query<{ display_name: string }>(
      target.connectionString,
      "SELECT display_name FROM people WHERE id = 'ana'",
    );
    expect(person?.display_name).toBe(AWKWARD);

    // The outbox's sequence goes on after the restored rows.
    const [{ max } = { max: "0" }] = await query<{ max: string }>(
      target.connectionString,
      "SELECT max(sequence)::text AS max FROM outbox_effects",
    );
    const [{ next } = { next: "0" }] = await query<{ next: string }>(
      target.connectionString,
      "SELECT nextval(pg_get_serial_sequence('outbox_effects', 'sequence'))::text AS next",
    );
    expect(BigInt(next)).toBeGreaterThan(BigInt(max));

    // pg-boss, started on the restored database, knows the queue and the job.
    const boss = new PgBoss({
      connectionString: target.connectionString,
      schema: "pgboss",
      supervise: false,
      schedule: false,
    });
    boss.on("error", () => undefined);
    await boss.start();
    try {
      const job = await boss.getJobById(TIMER_QUEUE, deterministicUuid(timerId));
      expect(job?.data).toMatchObject({ timerId });
      expect(await boss.getQueueSize(TIMER_QUEUE)).toBe(1);
    } finally {
      await boss.stop({ graceful: false, wait: true });
    }
  });

  it("an effect appended after a restore is claimed as created no later than the backup's newest effect", async () => {
    const target = await emptyTarget();
    await restoreBackup(target.connectionString, backupPath);
    const [{ newest } = { newest: new Date(0) }] = await query<{ newest: Date }>(
      target.connectionString,
      "SELECT max(created_at) AS newest FROM outbox_effects",
    );
    // Two days after the backup, the restored round decides an effect again: it may be one
    // that was sent after the snapshot, so it must not count as new.
    const later = new ManualClock(newest.getTime() + 2 * 86_400_000);
    const store = new PrismaStore(target.prisma, { clock: later });
    const again = {
      kind: "schedule_timer" as const,
      id: "round_x:timer:again",
      aggregate: "round" as const,
      aggregateId: "round_x",
      at: later.now(),
      timer: { kind: "collection_deadline" as const },
    };
    (await store.commit({ people: [], groups: [], rounds: [], outbox: [again], audit: [] }))._unsafeUnwrap();
    const claimed = (await store.claimDue("w", later.now(), 60_000, 100))._unsafeUnwrap();
    const restoredRows = await query<{ id: string; created_at: Date }>(
      target.connectionString,
      "SELECT id, created_at FROM outbox_effects WHERE id <> 'round_x:timer:again'",
    );
    expect(claimed.find((r) => r.effect.id === again.id)?.createdAt).toBe(newest.getTime());
    // The restored effects keep their own creation times.
    for (const row of restoredRows)
      expect(claimed.find((r) => r.effect.id === row.id)?.createdAt).toBe(row.created_at.getTime());
  });

  it("a database rewound by other means and marked (db:mark-rewound) caps later effects' creation time the same way", async () => {
    const target = await createTestDatabase({ migrated: true });
    targets.push(target);
    const then = new ManualClock(Date.UTC(2026, 5, 1));
    const timer = (id: string, at: number) => ({
      kind: "schedule_timer" as const,
      id,
      aggregate: "round" as const,
      aggregateId: "round_y",
      at,
      timer: { kind: "collection_deadline" as const },
    });
    const before = new PrismaStore(target.prisma, { clock: then });
    (
      await before.commit({
        people: [],
        groups: [],
        rounds: [],
        outbox: [timer("round_y:sent", then.now())],
        audit: [],
      })
    )._unsafeUnwrap();
    // The rewound database's newest effect is round_y:sent; the line is dated at it.
    const at = await markDatabaseRewound(target.connectionString, "point-in-time recovery (test)");
    expect(at.getTime()).toBe(then.now());
    const later = new ManualClock(then.now() + 2 * 86_400_000);
    const after = new PrismaStore(target.prisma, { clock: later });
    (
      await after.commit({
        people: [],
        groups: [],
        rounds: [],
        outbox: [timer("round_y:again", later.now())],
        audit: [],
      })
    )._unsafeUnwrap();
    const claimed = (await after.claimDue("w", later.now(), 60_000, 100))._unsafeUnwrap();
    expect(claimed.find((r) => r.effect.id === "round_y:again")?.createdAt).toBe(then.now());
  });

  it("a database rewound to before its first effect and marked caps every later effect at the epoch", async () => {
    const target = await createTestDatabase({ migrated: true });
    targets.push(target);
    // Nothing in the outbox says when the database was rewound to: the line must not be "now".
    const at = await markDatabaseRewound(target.connectionString, "volume snapshot before any effect (test)");
    expect(at.getTime()).toBe(0);
    const later = new ManualClock(Date.UTC(2026, 5, 3));
    const store = new PrismaStore(target.prisma, { clock: later });
    const again = {
      kind: "schedule_timer" as const,
      id: "round_z:again",
      aggregate: "round" as const,
      aggregateId: "round_z",
      at: later.now(),
      timer: { kind: "collection_deadline" as const },
    };
    (await store.commit({ people: [], groups: [], rounds: [], outbox: [again], audit: [] }))._unsafeUnwrap();
    const claimed = (await store.claimDue("w", later.now(), 60_000, 100))._unsafeUnwrap();
    expect(claimed.find((r) => r.effect.id === again.id)?.createdAt).toBe(0);
  });

  it("a backup that cannot be written fails and leaves no file; an existing file is never overwritten", async () => {
    const nowhere = join(dir, "no-such-folder", "susu.backup");
    await expect(takeBackup(source.connectionString, nowhere)).rejects.toThrow(/ENOENT/);
    expect(await readdir(dir)).not.toContain("no-such-folder");
    const second = join(dir, "second.backup");
    await writeFile(`${second}.partial`, "left over");
    // A partial file of an earlier, failed run is in the way: this run fails, and removes it.
    await expect(takeBackup(source.connectionString, second)).rejects.toThrow(/EEXIST/);
    expect((await readdir(dir)).filter((n) => n.startsWith("second"))).toEqual([]);
    await takeBackup(source.connectionString, second);
    expect((await readdir(dir)).filter((n) => n.startsWith("second"))).toEqual(["second.backup"]);
    const kept = await readFile(second);
    await expect(takeBackup(source.connectionString, second)).rejects.toThrow(/already exists/);
    expect(await readFile(second)).toEqual(kept);
  });

  it("refuses to restore over a database that holds rows, and changes nothing; --force replaces it", async () => {
    const target = await emptyTarget();
    await restoreBackup(target.connectionString, backupPath);
    await query(target.connectionString, "UPDATE people SET display_name = 'changed since' WHERE id = 'ben'");
    const changed = await digests(target.connectionString);

    const refusal = await restoreBackup(target.connectionString, backupPath).catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(RestoreError);
    expect((refusal as RestoreError).code).toBe("not_empty");
    expect((refusal as RestoreError).message).toMatch(/--force/);
    expect(await digests(target.connectionString)).toEqual(changed);

    await restoreBackup(target.connectionString, backupPath, { force: true });
    await expectRestoredFrom(target.connectionString, await digests(source.connectionString));
  });

  it("refuses a backup whose migrations this code does not have, before touching the database", async () => {
    const migrationsDir = join(dir, "older-code-migrations");
    await cp(databasePaths.migrationsDir, migrationsDir, { recursive: true });
    const newest = (await readdir(migrationsDir))
      .filter((n) => n !== "migration_lock.toml")
      .sort()
      .at(-1);
    if (newest === undefined) throw new Error("no migrations");
    await rm(join(migrationsDir, newest), { recursive: true });
    const target = await emptyTarget();
    const refusal = await restoreBackup(target.connectionString, backupPath, { migrationsDir }).catch(
      (e: unknown) => e,
    );
    expect((refusal as RestoreError).code).toBe("migrations_mismatch");
    expect((refusal as RestoreError).message).toContain(`${newest} is not in this code`);
    expect(await listTablesOf(target.connectionString)).toEqual([]);
  });

  it("restores an older backup and applies this code's newer migrations after it", async () => {
    // The "older code": all migrations but the newest. Its backup is restored with the full list.
    const migrationsDir = join(dir, "older-source-migrations");
    await cp(databasePaths.migrationsDir, migrationsDir, { recursive: true });
    const newest = (await readdir(migrationsDir))
      .filter((n) => n !== "migration_lock.toml")
      .sort()
      .at(-1);
    if (newest === undefined) throw new Error("no migrations");
    await rm(join(migrationsDir, newest), { recursive: true });
    const older = await emptyTarget();
    const { applyMigrations } = await import("../../src/db/migrations.js");
    await applyMigrations(older.connectionString, { migrationsDir });
    await query(
      older.connectionString,
      "INSERT INTO people (id, display_name, created_at, updated_at) VALUES ('old', 'from older code', now(), now())",
    );
    const olderBackup = join(dir, "older.backup");
    await takeBackup(older.connectionString, olderBackup);

    const target = await emptyTarget();
    const restored = await restoreBackup(target.connectionString, olderBackup);
    expect(restored.appliedAfter).toEqual([newest]);
    expect(await query(target.connectionString, "SELECT id FROM people")).toEqual([{ id: "old" }]);
  });

  it("stops on a corrupted backup and leaves no data behind", async () => {
    // Same length, one byte of a table's COPY data changed, gzip made again: only the table's hash can tell.
    const raw = gunzipSync(await readFile(backupPath));
    const at = raw.indexOf(Buffer.from("ünïcödé"));
    expect(at).toBeGreaterThan(0);
    raw[at + 2] = "X".charCodeAt(0);
    const corrupted = join(dir, "corrupted.backup");
    await writeFile(corrupted, gzipSync(raw));
    const target = await emptyTarget();
    await expect(restoreBackup(target.connectionString, corrupted)).rejects.toThrow(/corrupted/);
    expect(await query(target.connectionString, "SELECT id FROM people")).toEqual([]);

    const truncated = join(dir, "truncated.backup");
    await writeFile(truncated, gzipSync(raw.subarray(0, Math.floor(raw.length * 0.8))));
    await expect(restoreBackup(target.connectionString, truncated)).rejects.toThrow(/truncated|corrupted/);
    expect(await query(target.connectionString, "SELECT id FROM outbox_effects")).toEqual([]);
    // Cut inside a table's trailer (`E <bytes> <sha256>`, the longest frame line), just before
    // its last hash digit: truncated too, not a malformed line (where the 80 % cut above falls
    // depends on the data, and it once fell there).
    const trailer = raw.indexOf(Buffer.from("\nE "));
    expect(trailer).toBeGreaterThan(0);
    const trailerEnd = raw.indexOf(0x0a, trailer + 1);
    expect(trailerEnd - trailer).toBeGreaterThan(66);
    const cutInTrailer = join(dir, "cut-in-trailer.backup");
    await writeFile(cutInTrailer, gzipSync(raw.subarray(0, trailerEnd - 1)));
    await expect(restoreBackup(target.connectionString, cutInTrailer)).rejects.toThrow(/truncated/);
    expect(await query(target.connectionString, "SELECT id FROM people")).toEqual([]);

    await writeFile(join(dir, "not-a-backup"), gzipSync(Buffer.from("hello\n")));
    await expect(restoreBackup(target.connectionString, join(dir, "not-a-backup"))).rejects.toThrow(
      /not a susu backup/,
    );
  });
});

async function listTablesOf(connectionString: string): Promise<string[]> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return (await listTables(client)).map((t) => `${t.schema}.${t.name}`);
  } finally {
    await client.end();
  }
}
