import { createHash } from "node:crypto";
import { once } from "node:events";
import { createReadStream, existsSync, type ReadStream } from "node:fs";
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { finished } from "node:stream/promises";
import { createGunzip, type Gunzip } from "node:zlib";
import pg from "pg";
import PgBoss from "pg-boss";
import { from as copyFrom } from "pg-copy-streams";
import { applyMigrations, readMigrations } from "../db/migrations.js";
import { databasePaths } from "../db/paths.js";
import { PENDING_RESTORE_SCHEMA, RESTORE_AUDIT, writeRestoreLine } from "../db/restore-line.js";
import {
  BACKUP_MAGIC,
  BackupFileError,
  type BackupManifest,
  END_LINE,
  FRAME_LINE_MAX,
  FrameReader,
  parseFrame,
  parseManifest,
} from "./backup-file.js";
import {
  BACKUP_SCHEMAS,
  columnList,
  listTables,
  PGBOSS_SCHEMA,
  qualified,
  STABLE_TEXT_SETTINGS,
  tableDigest,
} from "./catalog.js";

/**
 * A restore that was refused before anything was written, or stopped (its transaction
 * rolled back). `code` is stable; the message says what is wrong and what to do.
 */
export class RestoreError extends Error {
  constructor(
    readonly code:
      | "not_empty"
      | "migrations_mismatch"
      | "pgboss_version_mismatch"
      | "table_mismatch"
      | "verification_failed"
      | "replication_role_denied",
    message: string,
  ) {
    super(message);
    this.name = "RestoreError";
  }
}

/** Options of {@link restoreBackup}. */
export interface RestoreOptions {
  /** Drop what the database holds (schemas `public` and `pgboss`) instead of refusing. */
  readonly force?: boolean;
  /** susu's migrations folder (default: the package's). */
  readonly migrationsDir?: string;
  /** Told of each step, for the command's output. */
  readonly progress?: (line: string) => void;
}

/** What {@link restoreBackup} did. */
export interface RestoredBackup {
  readonly manifest: BackupManifest;
  /** Migrations newer than the backup, applied after its data was loaded. */
  readonly appliedAfter: readonly string[];
  readonly rows: number;
}

/** The file's decompressed bytes; a read error (no such file) surfaces as the stream's error. */
function openBackup(path: string): { source: ReadStream; gunzip: Gunzip } {
  const source = createReadStream(path);
  const gunzip = createGunzip();
  source.on("error", (error) => gunzip.destroy(error));
  source.pipe(gunzip);
  return { source, gunzip };
}

/** The manifest of the backup at `path`, without reading its data. */
export async function readBackupManifest(path: string): Promise<BackupManifest> {
  if (!existsSync(path)) throw new BackupFileError(`${path} does not exist: give the path of a backup file`);
  const { source: stream, gunzip } = openBackup(path);
  try {
    const reader = new FrameReader(gunzip);
    if ((await reader.line(64)) !== BACKUP_MAGIC)
      throw new BackupFileError(`${path} is not a susu backup (its first line is not "${BACKUP_MAGIC}")`);
    return parseManifest(await reader.line());
  } catch (error) {
    if (error instanceof BackupFileError) throw error;
    throw new BackupFileError(
      `${path} cannot be read as a susu backup: ${error instanceof Error ? error.message : String(error)}`,
    );
  } finally {
    gunzip.destroy();
    stream.destroy();
  }
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/**
 * The code's migrations that the backup's list is a prefix of, or a refusal: every
 * migration of the backup must be in this code, unchanged, with none missing in between.
 */
async function checkMigrations(
  manifest: BackupManifest,
  migrationsDir: string,
): Promise<{ prefix: string[]; newer: string[] }> {
  const list = await readMigrations(migrationsDir);
  const onDisk = list.migrationDirectories.map((dir) => ({
    name: dir.path,
    checksum: dir.migrationFile.content.tag === "ok" ? sha256(dir.migrationFile.content.value) : "",
  }));
  const problems: string[] = [];
  manifest.migrations.forEach((migration, index) => {
    const here = onDisk[index];
    if (here === undefined || here.name !== migration.name)
      problems.push(
        onDisk.some((m) => m.name === migration.name)
          ? `${migration.name} is not in the same place in this code's history`
          : `${migration.name} is not in this code`,
      );
    else if (here.checksum !== migration.checksum)
      problems.push(`${migration.name} differs from this code's`);
  });
  if (problems.length > 0)
    throw new RestoreError(
      "migrations_mismatch",
      `the backup's database schema does not match this code's migrations: ${problems.join("; ")}. ` +
        "Restore with the version of susu that took the backup (or a newer one that contains all its migrations).",
    );
  return {
    prefix: onDisk.slice(0, manifest.migrations.length).map((m) => m.name),
    newer: onDisk.slice(manifest.migrations.length).map((m) => m.name),
  };
}

/** Tables that hold rows, other than the migration history: what makes a database "not empty". */
async function tablesWithRows(client: pg.Client): Promise<string[]> {
  const tables = await listTables(client);
  const full: string[] = [];
  for (const table of tables) {
    if (table.schema === "public" && table.name === "_prisma_migrations") continue;
    if (table.schema === PGBOSS_SCHEMA && table.name !== "job" && table.name !== "schedule") continue;
    const any = await client.query(`SELECT 1 FROM ${qualified(client, table.schema, table.name)} LIMIT 1`);
    if (any.rowCount !== null && any.rowCount > 0) full.push(`${table.schema}.${table.name}`);
  }
  return full;
}

/** Applies only the migrations named in `names`, from a copy of their folders. */
async function applyPrefix(connectionString: string, migrationsDir: string, names: readonly string[]) {
  const dir = await mkdtemp(join(tmpdir(), "susu-restore-migrations-"));
  try {
    await writeFile(join(dir, "migration_lock.toml"), 'provider = "postgresql"\n');
    for (const name of names) await cp(join(migrationsDir, name), join(dir, name), { recursive: true });
    await applyMigrations(connectionString, { migrationsDir: dir });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Creates pg-boss's schema the way pg-boss does (its own start), and returns its version. */
async function createPgBossSchema(connectionString: string): Promise<number> {
  const boss = new PgBoss({ connectionString, schema: PGBOSS_SCHEMA, supervise: false, schedule: false });
  boss.on("error", () => undefined);
  await boss.start();
  await boss.stop({ graceful: false, wait: true });
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    const result = await client.query<{ version: number }>(
      `SELECT version FROM ${qualified(client, PGBOSS_SCHEMA, "version")} ORDER BY version DESC LIMIT 1`,
    );
    return result.rows[0]?.version ?? 0;
  } finally {
    await client.end();
  }
}

/** Streams one table's chunks from the file into COPY … FROM STDIN, checking its size and hash. */
async function copyTableIn(
  client: pg.Client,
  reader: FrameReader,
  target: string,
  columns: readonly string[],
): Promise<void> {
  const stream = client.query(copyFrom(`COPY ${target} (${columnList(client, columns)}) FROM STDIN`));
  const done = finished(stream);
  // The server may refuse a row while the next chunk is being read; it is awaited below.
  done.catch(() => undefined);
  const hash = createHash("sha256");
  let bytes = 0;
  try {
    for (;;) {
      const frame = parseFrame(await reader.line(FRAME_LINE_MAX));
      if (frame.kind === "end") {
        if (frame.bytes !== bytes || frame.sha256 !== hash.digest("hex"))
          throw new BackupFileError(`the data of ${target} is corrupted (size or SHA-256 differs)`);
        break;
      }
      const chunk = await reader.bytes(frame.length);
      hash.update(chunk);
      bytes += chunk.length;
      if (!stream.write(chunk)) await Promise.race([once(stream, "drain"), done]);
    }
    stream.end();
    await done;
  } catch (error) {
    stream.destroy(error instanceof Error ? error : new Error(String(error)));
    await done.catch(() => undefined);
    throw error;
  }
}

async function loadData(
  connectionString: string,
  path: string,
  manifest: BackupManifest,
  progress: (line: string) => void,
): Promise<number> {
  const client = new pg.Client({ connectionString, application_name: "susu-restore" });
  await client.connect();
  const { source, gunzip } = openBackup(path);
  try {
    await client.query("BEGIN");
    try {
      // Triggers off while loading, foreign-key checks included: rows arrive table by table
      // in name order, and the immutability triggers of the ledger must not see a load as edits.
      await client.query("SET LOCAL session_replication_role = replica");
    } catch (error) {
      throw new RestoreError(
        "replication_role_denied",
        `the database role may not set session_replication_role (${error instanceof Error ? error.message : String(error)}). ` +
          "Restore as a superuser, or on PostgreSQL 15+ GRANT SET ON PARAMETER session_replication_role TO the role.",
      );
    }
    for (const setting of STABLE_TEXT_SETTINGS) await client.query(setting);
    for (const queue of manifest.pgBossQueues)
      await client.query(`SELECT ${qualified(client, PGBOSS_SCHEMA, "create_queue")}($1, '{}'::json)`, [
        queue,
      ]);

    const present = new Map((await listTables(client)).map((t) => [`${t.schema}.${t.name}`, t]));
    for (const table of manifest.tables) {
      const here = present.get(`${table.schema}.${table.name}`);
      if (here === undefined || here.columns.join(",") !== table.columns.join(","))
        throw new RestoreError(
          "table_mismatch",
          `${table.schema}.${table.name} ${here === undefined ? "does not exist" : "has other columns"} after migrating; ` +
            "the backup does not fit this code's schema.",
        );
    }

    const reader = new FrameReader(gunzip);
    if ((await reader.line(64)) !== BACKUP_MAGIC) throw new BackupFileError(`${path} is not a susu backup`);
    await reader.line();
    let rows = 0;
    for (const table of manifest.tables) {
      const target = qualified(client, table.schema, table.name);
      // What migrations and pg-boss wrote (migration history, pg-boss's version and queue
      // rows) is replaced by the backup's own rows.
      await client.query(`DELETE FROM ${target}`);
      await copyTableIn(client, reader, target, table.columns);
      rows += table.rows;
      progress(`  ${table.schema}.${table.name}: ${table.rows} row(s)`);
    }
    if ((await reader.line(FRAME_LINE_MAX)) !== END_LINE || !(await reader.atEnd()))
      throw new BackupFileError(`${path} has data after its last table (corrupted file?)`);

    for (const sequence of manifest.sequences) {
      const name = qualified(client, sequence.schema, sequence.name);
      if (sequence.lastValue === null) await client.query("SELECT setval($1::regclass, 1, false)", [name]);
      else await client.query("SELECT setval($1::regclass, $2::bigint, true)", [name, sequence.lastValue]);
    }

    const wrong: string[] = [];
    for (const table of manifest.tables) {
      const digest = await tableDigest(client, table);
      if (digest.rows !== table.rows || digest.checksum !== table.checksum)
        wrong.push(`${table.schema}.${table.name} (${digest.rows} row(s), backup had ${table.rows})`);
    }
    if (wrong.length > 0)
      throw new RestoreError(
        "verification_failed",
        `the restored rows differ from the backup's: ${wrong.join(", ")}. Nothing was restored.`,
      );
    // The restore's audit line commits with the rows: no restored database is ever without it,
    // whatever happens after (a newer migration failing, the process killed). A backup older
    // than audit_log's columns keeps it pending (writeRestoreLine) until a migration run has
    // made them.
    const line = await writeRestoreLine(
      client,
      manifest.snapshotAt,
      "restore",
      `restored from the snapshot of ${manifest.snapshotAt}: outbox effects appended from now on count as created at the latest this line's time`,
    );
    if (line === "pending")
      progress(
        "  the audit_log of the backup predates the restore line's columns: the line is written after the migrations",
      );
    await client.query("COMMIT");
    return rows;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    gunzip.destroy();
    source.destroy();
    await client.end();
  }
}

async function dropEverything(connectionString: string): Promise<void> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    for (const schema of [...BACKUP_SCHEMAS, PENDING_RESTORE_SCHEMA])
      await client.query(`DROP SCHEMA IF EXISTS ${client.escapeIdentifier(schema)} CASCADE`);
    await client.query("CREATE SCHEMA public");
  } finally {
    await client.end();
  }
}

/**
 * Restores the backup at `path` into the database, which must be empty (no rows outside
 * the migration history) unless `force`, which drops schemas `public` and `pgboss` first.
 * Steps: check the backup's migrations are this code's (a prefix of them, unchanged); apply
 * exactly those; create pg-boss's schema with pg-boss itself and check its version; then in
 * ONE transaction, with triggers off, replace every table's rows with the backup's (COPY),
 * set the sequences, and compare every table's row count and digest with the manifest —
 * any difference rolls everything back. Migrations newer than the backup are applied last,
 * so the data goes through them as it would have in production.
 */
export async function restoreBackup(
  connectionString: string,
  path: string,
  options: RestoreOptions = {},
): Promise<RestoredBackup> {
  const progress = options.progress ?? (() => undefined);
  const migrationsDir = options.migrationsDir ?? databasePaths.migrationsDir;
  const manifest = await readBackupManifest(path);
  const { prefix, newer } = await checkMigrations(manifest, migrationsDir);

  const client = new pg.Client({ connectionString });
  await client.connect();
  let full: string[];
  try {
    full = await tablesWithRows(client);
  } finally {
    await client.end();
  }
  if (full.length > 0 && options.force !== true)
    throw new RestoreError(
      "not_empty",
      `the target database is not empty (${full.slice(0, 5).join(", ")}${full.length > 5 ? ", …" : ""} hold rows). ` +
        "Restore into a new, empty database, or pass --force to drop everything in it first.",
    );
  if (full.length > 0) {
    progress("dropping the target's schemas public and pgboss (--force)");
    await dropEverything(connectionString);
  }

  progress(`applying the backup's ${prefix.length} migration(s)`);
  await applyPrefix(connectionString, migrationsDir, prefix);
  if (manifest.pgBossSchemaVersion !== null) {
    const version = await createPgBossSchema(connectionString);
    if (version !== manifest.pgBossSchemaVersion)
      throw new RestoreError(
        "pgboss_version_mismatch",
        `the backup holds pg-boss schema version ${manifest.pgBossSchemaVersion}, this code's pg-boss makes ${version}. ` +
          "Restore with the version of susu that took the backup.",
      );
  }
  progress(`loading ${manifest.tables.length} table(s) from the snapshot of ${manifest.snapshotAt}`);
  const rows = await loadData(connectionString, path, manifest, progress);
  const appliedAfter =
    newer.length === 0 ? [] : (await applyMigrations(connectionString, { migrationsDir })).applied;
  return { manifest, appliedAfter, rows };
}

export { RESTORE_AUDIT } from "../db/restore-line.js";

/**
 * Marks a database that was rewound by other means than {@link restoreBackup} (a
 * point-in-time recovery, a volume snapshot, `pg_restore` of a dump) with the line a restore
 * leaves (`npm run db:mark-rewound`): without it, an effect the rewound aggregates decide
 * again would count as new, and the payment gateway would trust an idempotency key Stripe
 * may have forgotten. Run it before the scheduler starts on the rewound database. The line
 * is dated the newest outbox `created_at` the database holds, or the epoch when it holds
 * none. Answers the cap the outbox claim now applies (the earliest such line).
 */
export async function markDatabaseRewound(connectionString: string, reason: string): Promise<Date> {
  const client = new pg.Client({ connectionString, application_name: "susu-mark-rewound" });
  await client.connect();
  try {
    // An empty outbox says nothing of when the database was rewound to (before its first
    // effect): the line then goes to the epoch, and every later effect is looked up.
    const line = await writeRestoreLine(client, new Date(0).toISOString(), "rewind", reason);
    // The cap the outbox claim applies: the earliest such line (an earlier restore's may be).
    // (An audit_log older than the line's columns keeps it pending until `db:migrate`.)
    const { rows } = await client.query<{ at: Date }>(
      line === "pending"
        ? `SELECT min(at) AS at FROM ${client.escapeIdentifier(PENDING_RESTORE_SCHEMA)}.pending_line`
        : `SELECT min(occurred_at) AS at FROM audit_log
            WHERE aggregate_type = $1 AND aggregate_id = $2 AND action = $3`,
      line === "pending"
        ? []
        : [RESTORE_AUDIT.aggregateType, RESTORE_AUDIT.aggregateId, RESTORE_AUDIT.action],
    );
    const at = rows[0]?.at;
    if (at === undefined) throw new Error("the rewind's audit line was not found after writing it");
    return at;
  } finally {
    await client.end();
  }
}
