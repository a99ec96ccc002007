// The backup file: one gzip stream holding a header line, the manifest (one JSON line),
// then every table's COPY text in manifest order, each cut into length-prefixed chunks
// and closed by its byte count and SHA-256, then an end line. Length prefixes rather than
// a terminator, because COPY text may contain any byte sequence a marker could use.

/** The first line of every backup file; the number is the format version. */
export const BACKUP_MAGIC = "SUSU-BACKUP 1";

/** The format version this code writes and reads. */
export const BACKUP_FORMAT_VERSION = 1;

/** One table as the backup holds it. */
export interface BackupTable {
  readonly schema: string;
  readonly name: string;
  /** The columns copied, in the order of the COPY data. */
  readonly columns: readonly string[];
  /** Rows in the snapshot. */
  readonly rows: number;
  /** Order-independent digest of the rows' text (see `tableDigest`). */
  readonly checksum: string;
}

/** A sequence's position in the snapshot (sequences are not transactional: at least this). */
export interface BackupSequence {
  readonly schema: string;
  readonly name: string;
  /** `null` when the sequence was never used. */
  readonly lastValue: string | null;
}

/** An applied migration as `_prisma_migrations` records it. */
export interface BackupMigration {
  readonly name: string;
  readonly checksum: string;
}

/** Everything a restore checks before it writes anything. */
export interface BackupManifest {
  readonly format: typeof BACKUP_FORMAT_VERSION;
  /** When the snapshot's transaction started, on the database server's clock (ISO 8601). */
  readonly snapshotAt: string;
  /** The server's version string (`server_version`). */
  readonly serverVersion: string;
  /** susu's applied migrations, oldest first. */
  readonly migrations: readonly BackupMigration[];
  /** pg-boss's schema version (`pgboss.version`), or `null` when the scheduler never created it. */
  readonly pgBossSchemaVersion: number | null;
  /** pg-boss's queues: each is a partition of `pgboss.job` that must exist before its jobs are copied in. */
  readonly pgBossQueues: readonly string[];
  readonly tables: readonly BackupTable[];
  readonly sequences: readonly BackupSequence[];
}

/** A backup file that cannot be read: not a backup, truncated, or corrupted. */
export class BackupFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BackupFileError";
  }
}

/** Reads lines and exact byte counts from a stream of buffers. */
export class FrameReader {
  #buffered: Buffer = Buffer.alloc(0);
  #done = false;
  readonly #source: AsyncIterator<Buffer>;

  constructor(source: AsyncIterable<Buffer>) {
    this.#source = source[Symbol.asyncIterator]();
  }

  async #fill(): Promise<boolean> {
    if (this.#done) return false;
    const next = await this.#source.next();
    if (next.done === true) {
      this.#done = true;
      return false;
    }
    this.#buffered = this.#buffered.length === 0 ? next.value : Buffer.concat([this.#buffered, next.value]);
    return true;
  }

  /** The next line without its `\n`; throws at the end of the stream. */
  async line(maxLength = 64 * 1024 * 1024): Promise<string> {
    for (;;) {
      const end = this.#buffered.indexOf(0x0a);
      if (end >= 0) {
        const text = this.#buffered.subarray(0, end).toString("utf8");
        this.#buffered = this.#buffered.subarray(end + 1);
        return text;
      }
      // The end of the file first: a file cut inside a long line is truncated, not malformed.
      if (!(await this.#fill())) throw new BackupFileError("the file ends too early (truncated?)");
      if (this.#buffered.length > maxLength + 1 && this.#buffered.indexOf(0x0a) < 0)
        throw new BackupFileError("a header line is too long");
    }
  }

  /** Exactly `length` bytes; throws at the end of the stream. */
  async bytes(length: number): Promise<Buffer> {
    while (this.#buffered.length < length) {
      if (!(await this.#fill())) throw new BackupFileError("the file ends too early (truncated?)");
    }
    const out = this.#buffered.subarray(0, length);
    this.#buffered = this.#buffered.subarray(length);
    return out;
  }

  /** True when nothing but the end of the stream is left. */
  async atEnd(): Promise<boolean> {
    while (this.#buffered.length === 0) {
      if (!(await this.#fill())) return true;
    }
    return false;
  }
}

/**
 * The longest frame line a reader accepts: a table's trailer `E <bytes> <sha256>` is 68
 * characters and more (a 64-character limit refused a valid trailer cut by a chunk boundary
 * past its 64th byte, and reported a file truncated there as "too long").
 */
export const FRAME_LINE_MAX = 128;

/** A chunk frame's header: `D <length>`. */
export function chunkHeader(length: number): string {
  return `D ${length}\n`;
}

/** A table's closing frame: `E <bytes> <sha256>`. */
export function tableTrailer(bytes: number, sha256: string): string {
  return `E ${bytes} ${sha256}\n`;
}

/** The line after the last table. */
export const END_LINE = "END";

/** What the line after a chunk or table start says. */
export type Frame =
  | { readonly kind: "chunk"; readonly length: number }
  | { readonly kind: "end"; readonly bytes: number; readonly sha256: string };

/** Parses a chunk or trailer line. */
export function parseFrame(line: string): Frame {
  const chunk = /^D (\d+)$/.exec(line);
  if (chunk) return { kind: "chunk", length: Number(chunk[1]) };
  const end = /^E (\d+) ([0-9a-f]{64})$/.exec(line);
  if (end) return { kind: "end", bytes: Number(end[1]), sha256: end[2] ?? "" };
  throw new BackupFileError(`unexpected frame "${line.slice(0, 40)}" (corrupted file?)`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The manifest line, checked for the fields a restore relies on. */
export function parseManifest(line: string): BackupManifest {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new BackupFileError("the manifest is not JSON (corrupted file?)");
  }
  if (!isObject(value) || value.format !== BACKUP_FORMAT_VERSION)
    throw new BackupFileError(
      `the manifest is not a version ${BACKUP_FORMAT_VERSION} manifest (made by another version of susu?)`,
    );
  const arrays = ["migrations", "tables", "sequences", "pgBossQueues"] as const;
  for (const key of arrays)
    if (!Array.isArray(value[key])) throw new BackupFileError(`the manifest has no ${key} list`);
  if (typeof value.snapshotAt !== "string" || Number.isNaN(Date.parse(value.snapshotAt)))
    throw new BackupFileError("the manifest has no snapshot time");
  for (const table of value.tables as unknown[]) {
    if (
      !isObject(table) ||
      typeof table.schema !== "string" ||
      typeof table.name !== "string" ||
      !Array.isArray(table.columns) ||
      typeof table.rows !== "number" ||
      typeof table.checksum !== "string"
    )
      throw new BackupFileError("the manifest lists a table without schema, name, columns, rows or checksum");
  }
  return value as unknown as BackupManifest;
}
