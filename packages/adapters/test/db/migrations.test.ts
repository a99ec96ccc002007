import { cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  applyMigrations,
  createMigration,
  diffMigrationsToSchema,
  EditedMigrationError,
} from "../../src/db/migrations.js";
import { databasePaths } from "../../src/db/paths.js";
import { createTestDatabase, type TestDatabase } from "../support/test-database.js";

async function migrationFolders(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

async function appliedRows(connectionString: string) {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    const result = await client.query<{ migration_name: string; finished: boolean }>(
      "SELECT migration_name, finished_at IS NOT NULL AS finished FROM _prisma_migrations ORDER BY migration_name",
    );
    return result.rows;
  } finally {
    await client.end();
  }
}

describe("migrations", () => {
  const databases: TestDatabase[] = [];
  let scratch: string;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), "susu-migrations-"));
  });
  afterAll(async () => {
    await Promise.all(databases.map((database) => database.drop()));
    await rm(scratch, { recursive: true, force: true });
  });

  async function emptyDatabase(): Promise<TestDatabase> {
    const database = await createTestDatabase({ migrated: false });
    databases.push(database);
    return database;
  }

  it("apply to an empty database, are recorded like Prisma records them, and re-applying is a no-op", async () => {
    const database = await emptyDatabase();
    const folders = await migrationFolders(databasePaths.migrationsDir);
    expect(folders.length).toBeGreaterThan(0);

    const first = await applyMigrations(database.connectionString);
    expect(first.applied).toEqual(folders);
    expect(await appliedRows(database.connectionString)).toEqual(
      folders.map((migration_name) => ({ migration_name, finished: true })),
    );

    const second = await applyMigrations(database.connectionString);
    expect(second.applied).toEqual([]);
  });

  it("apply once when several processes migrate the same database at the same time", async () => {
    const database = await emptyDatabase();
    const runs = await Promise.all([1, 2, 3].map(() => applyMigrations(database.connectionString)));
    const folders = await migrationFolders(databasePaths.migrationsDir);
    expect(runs.flatMap((run) => run.applied).sort()).toEqual(folders);
    expect(await appliedRows(database.connectionString)).toHaveLength(folders.length);
  });

  it("agree with schema.prisma (otherwise: npm run db:migration:new -- <name>)", async () => {
    const database = await emptyDatabase();
    const drift = await diffMigrationsToSchema(database.connectionString);
    expect(drift, `schema.prisma differs from the migrations by:\n${drift}`).toBeNull();
  });

  it("refuse to run when an applied migration was edited", async () => {
    const database = await emptyDatabase();
    const migrationsDir = join(scratch, "edited");
    await cp(databasePaths.migrationsDir, migrationsDir, { recursive: true });
    await applyMigrations(database.connectionString, { migrationsDir });

    const [first] = await migrationFolders(migrationsDir);
    const file = join(migrationsDir, first ?? "", "migration.sql");
    await writeFile(file, `${await readFile(file, "utf8")}\n-- an innocent-looking edit\n`);

    await expect(applyMigrations(database.connectionString, { migrationsDir })).rejects.toBeInstanceOf(
      EditedMigrationError,
    );
  });

  it("createMigration writes the SQL of a schema change, then reports no changes", async () => {
    const database = await emptyDatabase();
    const migrationsDir = join(scratch, "new");
    const schemaFile = join(scratch, "schema.prisma");
    await cp(databasePaths.migrationsDir, migrationsDir, { recursive: true });
    const schema = await readFile(databasePaths.schemaFile, "utf8");
    await writeFile(schemaFile, `${schema}\nmodel Probe {\n  id String @id\n  @@map("probes")\n}\n`);
    const paths = { migrationsDir, schemaFile, connectionString: database.connectionString };

    const created = await createMigration("Add probes!", { ...paths, now: new Date("2099-01-02T03:04:05Z") });
    expect(created).toMatchObject({ status: "created", name: "20990102030405_add_probes" });
    expect(created.status === "created" && created.sql).toContain('CREATE TABLE "probes"');
    expect(await migrationFolders(migrationsDir)).toContain("20990102030405_add_probes");

    expect(await createMigration("again", paths)).toEqual({ status: "no-changes" });
    const applied = await applyMigrations(database.connectionString, { migrationsDir });
    expect(applied.applied.at(-1)).toBe("20990102030405_add_probes");
  });
});
