// A backup taken before audit_log had the columns the restore line is written with
// (migration 20261122014714_align_storage_with_domain), restored with this code: the restore
// works and the database ends with its line, also when a migration after the load fails (the
// line is written once the migrations that ran have made the columns, or by the next
// migration run).
import { cp, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restoreBackup } from "../../src/backup/restore-backup.js";
import { takeBackup } from "../../src/backup/take-backup.js";
import { applyMigrations } from "../../src/db/migrations.js";
import { databasePaths } from "../../src/db/paths.js";
import { createTestDatabase, type TestDatabase } from "../support/index.js";

const ALIGN = "20261122014714_align_storage_with_domain";

async function query<T extends pg.QueryResultRow>(connectionString: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

async function restoreLines(connectionString: string): Promise<{ at: Date; actor: string }[]> {
  return query(
    connectionString,
    `SELECT occurred_at AS at, actor FROM audit_log
      WHERE aggregate_type = 'database' AND aggregate_id = 'outbox' AND action = 'restored'`,
  );
}

async function pendingSchema(connectionString: string): Promise<boolean> {
  const [row] = await query<{ exists: boolean }>(
    connectionString,
    "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'susu_restore') AS exists",
  );
  return row?.exists === true;
}

describe("restoring a backup older than the restore line's audit_log columns", () => {
  const databases: TestDatabase[] = [];
  let dir: string;
  let oldBackup: string;
  let all: string[];
  let snapshotAt: string;

  async function empty(): Promise<TestDatabase> {
    const database = await createTestDatabase({ migrated: false });
    databases.push(database);
    return database;
  }

  /** A copy of this code's migrations with `extra` (name → SQL) added. */
  async function migrationsWith(name: string, extra: Record<string, string>): Promise<string> {
    const copy = join(dir, name);
    await cp(databasePaths.migrationsDir, copy, { recursive: true });
    for (const [folder, sql] of Object.entries(extra)) {
      await mkdir(join(copy, folder));
      await writeFile(join(copy, folder, "migration.sql"), sql);
    }
    return copy;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "susu-old-backup-test-"));
    all = (await readdir(databasePaths.migrationsDir, { withFileTypes: true }))
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
    const before = all.slice(0, all.indexOf(ALIGN));
    expect(before.length).toBeGreaterThan(0);
    // The old code: only the migrations before ALIGN.
    const oldMigrations = join(dir, "old-migrations");
    await mkdir(oldMigrations);
    await cp(
      join(databasePaths.migrationsDir, "migration_lock.toml"),
      join(oldMigrations, "migration_lock.toml"),
    );
    for (const name of before)
      await cp(join(databasePaths.migrationsDir, name), join(oldMigrations, name), { recursive: true });
    const old = await empty();
    await applyMigrations(old.connectionString, { migrationsDir: oldMigrations });
    // Its audit_log has the first shape: no actor/detail/outcome.
    const columns = await query<{ column_name: string }>(
      old.connectionString,
      "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'audit_log'",
    );
    expect(columns.map((c) => c.column_name)).not.toContain("actor");
    oldBackup = join(dir, "old.backup");
    const taken = await takeBackup(old.connectionString, oldBackup);
    expect(taken.manifest.migrations.map((m) => m.name)).toEqual(before);
    snapshotAt = taken.manifest.snapshotAt;
  });
  afterAll(async () => {
    for (const database of databases) await database.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it("restores it, applies every newer migration, and leaves the line (at the snapshot: no effects)", async () => {
    const target = await empty();
    const restored = await restoreBackup(target.connectionString, oldBackup);
    expect(restored.appliedAfter).toEqual(all.slice(all.indexOf(ALIGN)));
    const lines = await restoreLines(target.connectionString);
    expect(lines).toEqual([{ at: new Date(snapshotAt), actor: "restore" }]);
    expect(await pendingSchema(target.connectionString)).toBe(false);
  });

  it("a migration after ALIGN failing still leaves the line (written after the migrations that ran)", async () => {
    const migrationsDir = await migrationsWith("failing-late", {
      "29991231000000_fails": "SELECT 1 / 0;\n",
    });
    const target = await empty();
    await expect(restoreBackup(target.connectionString, oldBackup, { migrationsDir })).rejects.toThrow(
      /division by zero|29991231000000_fails/,
    );
    expect(await restoreLines(target.connectionString)).toEqual([
      { at: new Date(snapshotAt), actor: "restore" },
    ]);
    expect(await pendingSchema(target.connectionString)).toBe(false);
  });

  it("a migration before ALIGN failing keeps the line pending with the rows; the next migration run writes it", async () => {
    const failing = "20261122013000_fails";
    const migrationsDir = await migrationsWith("failing-early", { [failing]: "SELECT 1 / 0;\n" });
    const target = await empty();
    await expect(restoreBackup(target.connectionString, oldBackup, { migrationsDir })).rejects.toThrow(
      /division by zero|20261122013000_fails/,
    );
    // The load committed (its migration history is there), with the line waiting beside it.
    const history = await query<{ migration_name: string }>(
      target.connectionString,
      "SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL ORDER BY migration_name",
    );
    expect(history.map((h) => h.migration_name)).toEqual(all.slice(0, all.indexOf(ALIGN)));
    expect(await pendingSchema(target.connectionString)).toBe(true);
    const [pending] = await query<{ at: Date; actor: string }>(
      target.connectionString,
      "SELECT at, actor FROM susu_restore.pending_line",
    );
    expect(pending).toEqual({ at: new Date(snapshotAt), actor: "restore" });

    // The operator marks the failed migration rolled back (as `prisma migrate resolve
    // --rolled-back` does) and migrates with the fixed code.
    await query(
      target.connectionString,
      `UPDATE _prisma_migrations SET rolled_back_at = now() WHERE migration_name = '${failing}'`,
    );
    const { applied } = await applyMigrations(target.connectionString);
    expect(applied).toEqual(all.slice(all.indexOf(ALIGN)));
    expect(await restoreLines(target.connectionString)).toEqual([
      { at: new Date(snapshotAt), actor: "restore" },
    ]);
    expect(await pendingSchema(target.connectionString)).toBe(false);
  });
});
