import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { MigrationList, SchemaEngine } from "@prisma/schema-engine-wasm";
import pg from "pg";
import { databasePaths } from "./paths.js";
import { writePendingRestoreLines } from "./restore-line.js";
import { openSchemaEngine } from "./schema-engine.js";

/** Where the migration tooling reads from; defaults are the package's own prisma/ folder. */
export interface MigrationPaths {
  readonly migrationsDir?: string;
  readonly schemaFile?: string;
}

const lockfileName = "migration_lock.toml";
const migrationFileName = "migration.sql";
const noFilters = { externalTables: [], externalEnums: [] };

// Serialises our own appliers (api and scheduler starting together). Prisma's engine
// takes its own advisory lock with a different key inside applyMigrations.
const migrateLockKey = 0x53555355;

/** An applied migration whose file no longer matches what was applied. */
export class EditedMigrationError extends Error {
  constructor(readonly migrationNames: readonly string[]) {
    super(
      `applied migration(s) changed on disk: ${migrationNames.join(", ")}. ` +
        "An applied migration must never be edited; add a new migration instead.",
    );
    this.name = "EditedMigrationError";
  }
}

/** The schema engine refused or failed a command; `logs` holds its own log lines. */
export class SchemaEngineError extends Error {
  constructor(
    message: string,
    readonly logs: readonly string[],
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "SchemaEngineError";
  }
}

/** Reads the migration folders the way the Prisma CLI hands them to the engine. */
export async function readMigrations(
  migrationsDir: string = databasePaths.migrationsDir,
): Promise<MigrationList> {
  const lockfileContent = await readFile(join(migrationsDir, lockfileName), "utf8").catch(() => null);
  const entries = await readdir(migrationsDir, { withFileTypes: true }).catch(() => []);
  const directories = entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
  const migrationDirectories = await Promise.all(
    directories.map(async (path) => ({
      path,
      migrationFile: {
        path: migrationFileName,
        content: await readFile(join(migrationsDir, path, migrationFileName), "utf8").then(
          (value) => ({ tag: "ok" as const, value }),
          (error: unknown) => ({ tag: "error" as const, value: String(error) }),
        ),
      },
    })),
  );
  return {
    baseDir: migrationsDir,
    lockfile: { path: lockfileName, content: lockfileContent },
    shadowDbInitScript: "",
    migrationDirectories,
  };
}

async function withEngine<T>(
  connectionString: string,
  run: (engine: SchemaEngine) => Promise<T>,
): Promise<T> {
  const session = await openSchemaEngine(connectionString);
  try {
    return await run(session.engine);
  } catch (error) {
    throw new SchemaEngineError(`schema engine: ${describeEngineError(error)}`, session.logs, {
      cause: error,
    });
  } finally {
    await session.close();
  }
}

function describeEngineError(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === "object" && error !== null) return JSON.stringify(error);
  return String(error);
}

function checksum(script: string): string {
  return createHash("sha256").update(script).digest("hex");
}

interface AppliedRow {
  migration_name: string;
  checksum: string;
}

async function findEditedMigrations(client: pg.Client, migrations: MigrationList): Promise<string[]> {
  const table = await client.query<{ exists: boolean }>(
    "SELECT to_regclass('_prisma_migrations') IS NOT NULL AS exists",
  );
  if (table.rows[0]?.exists !== true) return [];
  const applied = await client.query<AppliedRow>(
    "SELECT migration_name, checksum FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL",
  );
  const onDisk = new Map(
    migrations.migrationDirectories.map((dir) => [
      dir.path,
      dir.migrationFile.content.tag === "ok" ? checksum(dir.migrationFile.content.value) : null,
    ]),
  );
  return applied.rows
    .filter((row) => onDisk.has(row.migration_name) && onDisk.get(row.migration_name) !== row.checksum)
    .map((row) => row.migration_name);
}

/**
 * Takes the session lock that lets one process migrate at a time, asking again every 100 ms
 * (up to 1 s apart) rather than waiting inside `pg_advisory_lock`: a session waiting in a
 * statement holds a snapshot, and `CREATE INDEX CONCURRENTLY` (a migration of its own) waits
 * for every snapshot older than its own to go, so a second process queued for the lock
 * while the first built an index that way would wait for each other for ever.
 */
async function takeMigrateLock(client: pg.Client): Promise<void> {
  for (let waitMs = 100; ; waitMs = Math.min(1_000, waitMs * 2)) {
    const { rows } = await client.query<{ locked: boolean }>("SELECT pg_try_advisory_lock($1) AS locked", [
      migrateLockKey,
    ]);
    if (rows[0]?.locked === true) return;
    await new Promise((resolve) => setTimeout(resolve, waitMs));
  }
}

/** What {@link applyMigrations} did. */
export interface AppliedMigrations {
  /** Migrations applied by this call, oldest first; empty when the database was up to date. */
  readonly applied: readonly string[];
}

/**
 * Applies every pending migration folder to the database, recording each in
 * `_prisma_migrations` exactly as `prisma migrate deploy` does. Idempotent. Refuses,
 * before applying anything, when an already-applied migration was edited on disk. Then,
 * also after a migration failed, writes a restore's pending audit line once audit_log can
 * take it (`writePendingRestoreLines`).
 */
export async function applyMigrations(
  connectionString: string,
  paths: MigrationPaths = {},
): Promise<AppliedMigrations> {
  const migrations = await readMigrations(paths.migrationsDir);
  const lockClient = new pg.Client({ connectionString });
  await lockClient.connect();
  try {
    await takeMigrateLock(lockClient);
    const edited = await findEditedMigrations(lockClient, migrations);
    if (edited.length > 0) throw new EditedMigrationError(edited);
    let output: Awaited<ReturnType<SchemaEngine["applyMigrations"]>> | undefined;
    let failure: unknown;
    try {
      output = await withEngine(connectionString, (engine) =>
        engine.applyMigrations({ migrationsList: migrations, filters: noFilters }),
      );
    } catch (error) {
      failure = error;
    }
    // A restore of a backup older than audit_log's columns left its line pending: it goes to
    // audit_log as soon as the migrations have made them, also when a later one failed.
    try {
      await writePendingRestoreLines(lockClient);
    } catch (error) {
      if (failure === undefined) throw error;
    }
    if (failure !== undefined || output === undefined) throw failure;
    return { applied: output.appliedMigrationNames };
  } finally {
    await lockClient.query("SELECT pg_advisory_unlock($1)", [migrateLockKey]).catch(() => undefined);
    await lockClient.end();
  }
}

/**
 * The SQL that would bring a database built from the migration folders to
 * `schema.prisma`, or `null` when they agree. The engine replays the migrations in a
 * temporary shadow database on the server of `connectionString` (created and dropped
 * here, so the role needs CREATEDB); the database itself is not read or changed.
 */
export async function diffMigrationsToSchema(
  connectionString: string,
  paths: MigrationPaths = {},
): Promise<string | null> {
  const migrations = await readMigrations(paths.migrationsDir);
  const schemaFile = paths.schemaFile ?? databasePaths.schemaFile;
  const schema = await readFile(schemaFile, "utf8");
  const result = await withEngine(connectionString, (engine) =>
    engine.diff({
      // The engine needs migration_lock.toml to read a migrations folder; before the
      // first migration there is neither, and the history is simply empty.
      from:
        migrations.migrationDirectories.length === 0 && migrations.lockfile.content === null
          ? { tag: "empty" }
          : { tag: "migrations", ...migrations },
      to: { tag: "schemaDatamodel", files: [{ path: schemaFile, content: schema }] },
      script: true,
      // With exitCode set, the engine answers 2 when the diff is not empty, so "no change"
      // does not depend on the text of the script.
      exitCode: true,
      filters: noFilters,
    }),
  );
  return result.exitCode === 2 ? (result.stdout ?? "") : null;
}

/** What {@link createMigration} did. */
export type CreatedMigration =
  | { readonly status: "created"; readonly name: string; readonly path: string; readonly sql: string }
  | { readonly status: "no-changes" };

/** Options of {@link createMigration}. */
export interface CreateMigrationOptions extends MigrationPaths {
  /** Server that hosts the temporary shadow database. */
  readonly connectionString: string;
  /** Timestamp of the folder name; the folder order is the apply order. */
  readonly now?: Date;
  /**
   * Write the folder even when the schema has no change, to hold hand-written SQL
   * (CHECK constraints, triggers, data fixes) that the schema language cannot express.
   */
  readonly allowEmpty?: boolean;
}

/**
 * Writes `prisma/migrations/<timestamp>_<name>/migration.sql` with the SQL that takes the
 * existing migrations to `schema.prisma` (and `migration_lock.toml` when missing).
 * Returns `no-changes` and writes nothing when they already agree (unless `allowEmpty`).
 */
export async function createMigration(
  name: string,
  options: CreateMigrationOptions,
): Promise<CreatedMigration> {
  const slug = migrationSlug(name);
  const migrationsDir = options.migrationsDir ?? databasePaths.migrationsDir;
  const diff = await diffMigrationsToSchema(options.connectionString, options);
  if (diff === null && options.allowEmpty !== true) return { status: "no-changes" };
  const sql = diff ?? "-- Hand-written migration: schema.prisma had no change to generate.\n";
  const folder = `${migrationTimestamp(options.now ?? new Date())}_${slug}`;
  const path = join(migrationsDir, folder);
  await mkdir(migrationsDir, { recursive: true });
  await mkdir(path).catch((error: unknown) => {
    throw new Error(`cannot create ${path}: ${describeEngineError(error)}`);
  });
  await writeFile(join(path, migrationFileName), sql, "utf8");
  await writeFile(
    join(migrationsDir, lockfileName),
    '# Please do not edit this file manually\n# It should be added in your version-control system (e.g., Git)\nprovider = "postgresql"\n',
    { encoding: "utf8", flag: "wx" },
  ).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  });
  return { status: "created", name: folder, path, sql };
}

/** The folder-name form of a migration name, as Prisma makes it: lower snake case. */
export function migrationSlug(name: string): string {
  const slug = name
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .slice(0, 200);
  if (slug === "") throw new Error(`migration name "${name}" has no letters or digits`);
  return slug;
}

function migrationTimestamp(at: Date): string {
  return at
    .toISOString()
    .replace(/[-:T]/g, "")
    .replace(/\.\d+Z$/, "");
}
