import { createHash } from "node:crypto";
import { once } from "node:events";
import { createWriteStream, existsSync } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { finished } from "node:stream/promises";
import { createGzip, type Gzip } from "node:zlib";
import pg from "pg";
import { to as copyTo } from "pg-copy-streams";
import {
  BACKUP_FORMAT_VERSION,
  BACKUP_MAGIC,
  type BackupManifest,
  type BackupMigration,
  type BackupTable,
  chunkHeader,
  END_LINE,
  tableTrailer,
} from "./backup-file.js";
import {
  type CatalogTable,
  columnList,
  listSequences,
  listTables,
  PGBOSS_SCHEMA,
  qualified,
  STABLE_TEXT_SETTINGS,
  tableDigest,
} from "./catalog.js";

/** What {@link takeBackup} wrote. */
export interface TakenBackup {
  readonly path: string;
  readonly manifest: BackupManifest;
  /** Size of the file, compressed. */
  readonly bytes: number;
}

/** Writes with back-pressure; `failed` ends the wait when the file stream broke instead. */
async function write(out: Gzip, data: string | Buffer, failed?: Promise<unknown>): Promise<void> {
  if (!out.write(data)) await Promise.race([once(out, "drain"), ...(failed === undefined ? [] : [failed])]);
}

async function appliedMigrations(client: pg.ClientBase): Promise<BackupMigration[]> {
  const exists = await client.query<{ exists: boolean }>(
    "SELECT to_regclass('public._prisma_migrations') IS NOT NULL AS exists",
  );
  if (exists.rows[0]?.exists !== true) return [];
  const rows = await client.query<{ name: string; checksum: string }>(
    `SELECT migration_name AS name, checksum FROM public._prisma_migrations
      WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL
      ORDER BY migration_name COLLATE "C"`,
  );
  return rows.rows;
}

async function pgBossState(
  client: pg.ClientBase,
  tables: readonly CatalogTable[],
): Promise<{ version: number | null; queues: string[] }> {
  const has = (name: string) => tables.some((t) => t.schema === PGBOSS_SCHEMA && t.name === name);
  if (!has("version")) return { version: null, queues: [] };
  const version = await client.query<{ version: number }>(
    `SELECT version FROM ${qualified(client, PGBOSS_SCHEMA, "version")} ORDER BY version DESC LIMIT 1`,
  );
  const queues = has("queue")
    ? await client.query<{ name: string }>(
        `SELECT name FROM ${qualified(client, PGBOSS_SCHEMA, "queue")} ORDER BY name COLLATE "C"`,
      )
    : { rows: [] };
  return { version: version.rows[0]?.version ?? null, queues: queues.rows.map((r) => r.name) };
}

/** Streams one table's COPY text into the file as chunks; its byte count and SHA-256 close it. */
async function copyTable(
  client: pg.Client,
  table: CatalogTable,
  out: Gzip,
  failed: Promise<unknown>,
): Promise<void> {
  // COPY (SELECT …) rather than COPY table: a partitioned table (pg-boss's jobs) can only
  // be copied out that way, and the column list is the one the manifest records.
  const sql = `COPY (SELECT ${columnList(client, table.columns)} FROM ${qualified(client, table.schema, table.name)}) TO STDOUT`;
  const stream = client.query(copyTo(sql));
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
    await write(out, chunkHeader(chunk.length), failed);
    await write(out, chunk, failed);
  }
  await write(out, tableTrailer(bytes, hash.digest("hex")), failed);
}

/**
 * Writes a consistent backup of the database to `path`: one REPEATABLE READ, READ ONLY
 * transaction (one snapshot, so every table is as of the same instant while susu keeps
 * running), every table of `public` and `pgboss` streamed with COPY into a gzip'd file, with
 * a manifest of the applied migrations, pg-boss's schema version and queues, each table's
 * row count and digest, and the sequences. The file appears under `path` only when complete
 * (written next to it, then renamed).
 */
export async function takeBackup(connectionString: string, path: string): Promise<TakenBackup> {
  if (existsSync(path)) throw new Error(`${path} already exists: a backup never overwrites another`);
  const client = new pg.Client({ connectionString, application_name: "susu-backup" });
  await client.connect();
  const partial = `${path}.partial`;
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    for (const setting of STABLE_TEXT_SETTINGS) await client.query(setting);
    const meta = await client.query<{ snapshot_at: Date; server_version: string }>(
      "SELECT now() AS snapshot_at, current_setting('server_version') AS server_version",
    );
    const catalog = await listTables(client);
    const tables: BackupTable[] = [];
    for (const table of catalog) tables.push({ ...table, ...(await tableDigest(client, table)) });
    const boss = await pgBossState(client, catalog);
    const manifest: BackupManifest = {
      format: BACKUP_FORMAT_VERSION,
      snapshotAt: (meta.rows[0]?.snapshot_at ?? new Date()).toISOString(),
      serverVersion: meta.rows[0]?.server_version ?? "unknown",
      migrations: await appliedMigrations(client),
      pgBossSchemaVersion: boss.version,
      pgBossQueues: boss.queues,
      tables,
      sequences: await listSequences(client),
    };

    const gzip = createGzip();
    const file = createWriteStream(partial, { flags: "wx" });
    gzip.pipe(file);
    const written = finished(file);
    // A write error (disk full) rejects `written` at any time; it is awaited below.
    written.catch(() => undefined);
    try {
      await write(gzip, `${BACKUP_MAGIC}\n${JSON.stringify(manifest)}\n`, written);
      for (const table of catalog) await copyTable(client, table, gzip, written);
      await write(gzip, `${END_LINE}\n`, written);
      gzip.end();
      await written;
    } catch (error) {
      gzip.destroy();
      file.destroy();
      await written.catch(() => undefined);
      throw error;
    }
    await client.query("COMMIT");
    await rename(partial, path);
    return { path, manifest, bytes: file.bytesWritten };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    await rm(partial, { force: true });
    throw error;
  } finally {
    await client.end();
  }
}
