/**
 * What the whole-stack benches (webhooks, rounds, in-flight) share: the processes as
 * production runs them — the API (`apps/api/dist/main.js`), scheduler processes
 * (`apps/scheduler/dist/main.js`), the Stripe emulator in a process of its own — on an
 * embedded PostgreSQL; the ceilings measured with `pgbench` on that same PostgreSQL; and
 * the machine line printed with every table. Build first (`npm run build`): the apps run
 * from their `dist`.
 *
 * Concurrency knobs of the apps (SUSU_DISPATCH_CONCURRENCY, SUSU_WEBHOOK_CONCURRENCY,
 * SUSU_DB_POOL_SIZE, SUSU_DISPATCH_INTERVAL_MS, …) pass through from this process's
 * environment unchanged, so a bench measures whatever the caller configured.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createPrismaClient, type PrismaClient } from "@susu/adapters";

export const here = dirname(fileURLToPath(import.meta.url));
export const root = join(here, "..");
const tsx = import.meta.resolve("tsx");

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// --- the machine and the figures -----------------------------------------------------------------

/**
 * User + system CPU ms of `pid` and every live process under it, each with the time of the
 * children it has reaped (so a PostgreSQL backend or a process that exited still counts).
 * Linux (/proc, 100 ticks a second); 0 elsewhere.
 */
export function treeCpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const parents = new Map<number, number>();
  const cpu = new Map<number, number>();
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const p = Number(entry);
    if (!Number.isInteger(p)) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      parents.set(p, Number(fields[1]));
      const ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
      cpu.set(p, ticks * 10);
    } catch {
      // Gone meanwhile.
    }
  }
  let total = 0;
  for (const [p, ms] of cpu) {
    let q: number | undefined = p;
    while (q !== undefined && q > 1 && q !== pid) q = parents.get(q);
    if (q === pid) total += ms;
  }
  return total;
}

/**
 * The machine's busy CPU ms since boot, every core: user, nice and system time of processes
 * (and kernel threads); 0 off Linux. Interrupt time is left out: the bench's own loopback
 * traffic makes most of it, and no process of its tree is charged for it.
 */
function machineBusyMs(): number {
  try {
    const [user, nice, system] = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "")
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    return ((user ?? 0) + (nice ?? 0) + (system ?? 0)) * 10;
  } catch {
    return 0;
  }
}

// Taken when a bench loads this module, before it starts anything.
const atStart = { busyMs: machineBusyMs(), ownMs: treeCpuMs(process.pid), at: performance.now() };

/**
 * CPU the machine spent outside this bench's own processes (this one and all it started)
 * since it began (its set-up included), in cores on average: other work competing with the
 * run. The load average cannot say so: this bench's own processes keep it above the cores
 * while it runs. Kernel threads working for the bench (the file system's journal writing
 * PostgreSQL's commits) count as outside: a few hundredths of a core on a quiet machine.
 */
export function outsideCores(): number {
  const elapsed = performance.now() - atStart.at;
  if (elapsed <= 0) return 0;
  const outside = machineBusyMs() - atStart.busyMs - (treeCpuMs(process.pid) - atStart.ownMs);
  return Math.max(0, outside) / elapsed;
}

/** `cores × model, Node, load average before → now`, CPU used outside the bench: printed above every table. */
export function machineLine(loadBefore: readonly number[]): string {
  const cpu = cpus();
  const avg = (l: readonly number[]) => l.map((n) => n.toFixed(2)).join(" ");
  return `machine: ${cpu.length} × ${cpu[0]?.model.trim() ?? "?"}, ${process.platform}, Node ${process.version}; load average before ${avg(loadBefore)}, after ${avg(loadavg())}; CPU used outside this bench's processes during the run: ${outsideCores().toFixed(2)} of ${cpu.length} cores on average`;
}

/** The apps' knobs this run passed through (set in this process's environment), or "none". */
export function knobs(): string {
  const names = [
    "API_PROCESSES",
    "SUSU_DISPATCH_CONCURRENCY",
    "SUSU_WEBHOOK_CONCURRENCY",
    "SUSU_DB_POOL_SIZE",
    "SUSU_DB_POOL_MIN",
    "SUSU_DB_PLAN_CACHE_MODE",
    "SUSU_DISPATCH_INTERVAL_MS",
  ];
  const env: Record<string, string | undefined> = process.env;
  return (
    names
      .filter((k) => env[k] !== undefined)
      .map((k) => `${k}=${env[k]}`)
      .join(", ") || "none (the apps' defaults)"
  );
}

/** Other work's CPU, in cores on average over a run, past which {@link busyWarning} warns. */
export const OUTSIDE_CORES_WARNING = 0.25;

/**
 * A warning line when other work competed with the run — the machine was busier than its
 * cores when it started, or processes outside the bench used more than
 * {@link OUTSIDE_CORES_WARNING} of a core meanwhile: the figures are then upper bounds.
 */
export function busyWarning(loadBefore: readonly number[]): string | undefined {
  const cores = cpus().length;
  const outside = outsideCores();
  const reasons = [
    ...((loadBefore[0] ?? 0) > cores + 1
      ? [`load average ${(loadBefore[0] ?? 0).toFixed(2)} at the start`]
      : []),
    ...(outside > OUTSIDE_CORES_WARNING
      ? [`processes outside this bench used ${outside.toFixed(2)} cores on average during it`]
      : []),
  ];
  return reasons.length > 0
    ? `WARNING: other work competed with this run (${reasons.join("; ")}); latencies are upper bounds, rates lower bounds.`
    : undefined;
}

/** The p-th percentile (0–100) of ascending `sorted`, nearest rank; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

/** p50 / p95 / p99 / max of `samples` (ms), formatted for a markdown row. */
export function latencyCells(samples: readonly number[]): string[] {
  const sorted = [...samples].sort((a, b) => a - b);
  return [50, 95, 99, 100].map((p) => fmt(percentile(sorted, p), 0));
}

export function fmt(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "—";
}

/** A markdown table. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** Runs `fn` on every item, at most `limit` at a time. */
export async function pool<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

export function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((r) => child.once("exit", () => r()));
}

/** Every child this process started: killed however it ends, so none outlives a bench. */
const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});

async function stopChild(child: ChildProcess, timeoutMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  await exited(child);
  clearTimeout(timer);
  children.delete(child);
}

// --- the processes -------------------------------------------------------------------------------

export interface EmulatorProcess {
  readonly url: string;
  readonly secretKey: string;
  readonly webhookSecret: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * The emulator in its own process (bench/stack-emulator.ts) with `options` (JSON-able);
 * `nodeFlags` go to its Node before the script (e.g. `--cpu-prof`).
 */
export async function startEmulatorProcess(
  options: Record<string, unknown>,
  nodeFlags: readonly string[] = [],
): Promise<EmulatorProcess> {
  const child = spawn(
    process.execPath,
    [...nodeFlags, "--import", tsx, join(here, "stack-emulator.ts"), JSON.stringify(options)],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  children.add(child);
  const said = await new Promise<{ url: string; secretKey: string; webhookSecret: string }>(
    (resolve, reject) => {
      let buffer = "";
      child.stdout?.on("data", (chunk: Buffer) => {
        buffer += chunk.toString();
        const line = buffer.split("\n")[0];
        if (buffer.includes("\n") && line !== undefined) resolve(JSON.parse(line));
      });
      child.once("exit", (code) => reject(new Error(`the emulator exited (${code})`)));
    },
  );
  return { ...said, child, stop: () => stopChild(child) };
}

export interface AppProcess {
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/** What the API and the scheduler are configured with. */
export interface StackConfig {
  readonly connectionString: string;
  readonly stripeUrl: string;
  readonly stripeSecretKey: string;
  readonly webhookSecret: string;
  /** Where the apps' logs go (appended); "/dev/null" to drop them. */
  readonly log: string;
}

function appEnv(config: StackConfig): NodeJS.ProcessEnv {
  return {
    // The caller's knobs (SUSU_DISPATCH_CONCURRENCY, SUSU_DB_POOL_SIZE, …) pass through.
    ...process.env,
    DATABASE_URL: config.connectionString,
    STRIPE_SECRET_KEY: config.stripeSecretKey,
    STRIPE_API_URL: config.stripeUrl,
    STRIPE_WEBHOOK_SECRET: config.webhookSecret,
    LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
  };
}

async function startApp(script: string, env: NodeJS.ProcessEnv, log: string): Promise<AppProcess> {
  const path = join(root, script);
  if (!existsSync(path)) throw new Error(`${script} is missing: run \`npm run build\` first`);
  const fd = openSync(log, "a");
  // BENCH_CPU_PROF=<folder>: each app writes a V8 CPU profile there when it stops.
  // BENCH_NODE_FLAGS="<flags>": more flags for each app's Node (e.g. `--trace-gc`).
  const benchEnv: Record<string, string | undefined> = process.env;
  const profile = benchEnv.BENCH_CPU_PROF;
  const flags = [
    ...(profile ? ["--cpu-prof", `--cpu-prof-dir=${profile}`] : []),
    ...(benchEnv.BENCH_NODE_FLAGS?.split(/\s+/).filter(Boolean) ?? []),
  ];
  const child = spawn(process.execPath, [...flags, path], { env, stdio: ["ignore", fd, fd, "ipc"] });
  children.add(child);
  await new Promise<void>((resolve, reject) => {
    child.on("message", (message: { type?: string }) => {
      if (message?.type === "susu:ready") resolve();
    });
    child.once("exit", (code) =>
      reject(new Error(`${script} exited (${code}) before it was ready; see ${log}`)),
    );
  });
  return { child, stop: () => stopChild(child) };
}

export const BENCH_JWT_SECRET = "bench-secret-0123456789-abcdefghijklmnop";

/** The API (API_PROCESSES passes through from the caller; unset, one process), rate limits high enough never to refuse. */
export async function startApi(
  config: StackConfig,
  port?: number,
): Promise<AppProcess & { readonly url: string }> {
  port ??= await freePort();
  const app = await startApp(
    "apps/api/dist/main.js",
    {
      ...appEnv(config),
      HOST: "127.0.0.1",
      PORT: String(port),
      SUSU_JWT_SECRET: BENCH_JWT_SECRET,
      SUSU_RATE_LIMIT_PER_MINUTE: "1000000",
      SUSU_RATE_LIMIT_IP_PER_MINUTE: "1000000",
    },
    config.log,
  );
  return { ...app, url: `http://127.0.0.1:${port}` };
}

/** A scheduler process named `workerId`, its metrics on a free port, the reconciliation off. */
export function startScheduler(
  config: StackConfig,
  workerId: string,
  extraEnv: Readonly<Record<string, string>> = {},
): Promise<AppProcess> {
  return startApp(
    "apps/scheduler/dist/main.js",
    {
      ...appEnv(config),
      SUSU_WORKER_ID: workerId,
      SUSU_SCHEDULER_METRICS_PORT: "0",
      SUSU_RECONCILE_CRON: "off",
      ...extraEnv,
    },
    config.log,
  );
}

// --- PostgreSQL: pgbench and the commit counter ---------------------------------------------------

/** The server's max_connections and how many connections are open now. */
export async function connectionRoom(prisma: PrismaClient): Promise<{ max: number; used: number }> {
  const [row] = await prisma.$queryRawUnsafe<{ max: string; used: bigint }[]>(
    "SELECT current_setting('max_connections') AS max, (SELECT count(*) FROM pg_stat_activity) AS used",
  );
  return { max: Number(row?.max ?? 100), used: Number(row?.used ?? 0) };
}

export type PgbenchResult =
  | { readonly ok: true; readonly tps: number; readonly clients: number; readonly transactions: number }
  | { readonly ok: false; readonly why: string };

const PGBENCH = "/usr/bin/pgbench";
export const PGBENCH_MISSING = `pgbench not found at ${PGBENCH}: install it with \`sudo apt-get install -y postgresql-client\` (Debian/Ubuntu; pgbench 15 talks to the embedded server 17 fine); the ceiling row is skipped`;

/**
 * `pgbench -n -M prepared -f <script>` for `seconds` with `clients` clients (capped so that
 * the server's max_connections is not exceeded: the cap is returned), 2 threads, against
 * `connectionString`. The script's file is written by the caller.
 */
export async function pgbench(
  connectionString: string,
  scriptFile: string,
  clients: number,
  seconds: number,
  prisma: PrismaClient,
  /** Variables for the script (`-D name=value`), e.g. a payload sent as a bound parameter. */
  defines: Readonly<Record<string, string>> = {},
): Promise<PgbenchResult> {
  if (!existsSync(PGBENCH)) return { ok: false, why: PGBENCH_MISSING };
  const room = await connectionRoom(prisma);
  const capped = Math.max(1, Math.min(clients, room.max - room.used - 5));
  const args = [
    "-n",
    "-M",
    "prepared",
    "-f",
    scriptFile,
    "-c",
    String(capped),
    "-j",
    String(Math.min(capped, cpus().length)),
    "-T",
    String(seconds),
    ...Object.entries(defines).flatMap(([name, value]) => ["-D", `${name}=${value}`]),
    connectionString,
  ];
  return new Promise((resolve) => {
    execFile(PGBENCH, args, { maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)?.[1];
      const done = /number of transactions actually processed: (\d+)/.exec(stdout)?.[1];
      if (error || tps === undefined)
        resolve({ ok: false, why: `pgbench failed: ${(stderr || String(error)).trim().split("\n")[0]}` });
      else resolve({ ok: true, tps: Number(tps), clients: capped, transactions: Number(done ?? 0) });
    });
  });
}

/**
 * The statements this (bench) process ran through {@link countOf} and {@link xactCommits}:
 * each is a commit of its own in pg_stat_database, which a figure of susu's commits subtracts.
 */
export const own = { statements: 0 };

/** `SELECT count(*) AS n …` with `params`; counted in {@link own}. */
export async function countOf(prisma: PrismaClient, sql: string, ...params: unknown[]): Promise<number> {
  own.statements += 1;
  const [row] = await prisma.$queryRawUnsafe<{ n: bigint }[]>(sql, ...params);
  return Number(row?.n ?? 0);
}

/**
 * Transactions committed so far in the current database (pg_stat_database.xact_commit),
 * less the statements this process ran itself ({@link own}): what the stack committed.
 */
export async function xactCommits(prisma: PrismaClient): Promise<number> {
  own.statements += 2;
  // The statistics collector publishes with a delay; a snapshot clear makes the read fresh.
  await prisma.$executeRawUnsafe("SELECT pg_stat_clear_snapshot()");
  const [row] = await prisma.$queryRawUnsafe<{ n: bigint }[]>(
    "SELECT xact_commit AS n FROM pg_stat_database WHERE datname = current_database()",
  );
  return Number(row?.n ?? 0) - own.statements;
}

/**
 * How the writes to `tables` landed (pg_stat_user_tables, since the database was made), as a
 * printed table: inserts, updates and HOT updates (no index entry written: no indexed column
 * changed and the page had room), deletes, live and dead rows, the table's indexes (each
 * insert and non-HOT update writes an entry in each), vacuums. With no `tables`, every table
 * written since the database was made. A backend still running
 * reports its counts a little late: read after the apps stop for the last of them.
 */
export async function tableChurn(prisma: PrismaClient, tables: readonly string[]): Promise<string> {
  const rows = await prisma.$queryRawUnsafe<Record<string, unknown>[]>(
    `SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del, n_live_tup, n_dead_tup,
            (SELECT count(*) FROM pg_index i WHERE i.indrelid = t.relid) AS indexes,
            autovacuum_count, vacuum_count
       FROM pg_stat_user_tables t
      WHERE relname = ANY($1::text[]) OR (cardinality($1::text[]) = 0 AND n_tup_ins + n_tup_upd + n_tup_del > 0)
      ORDER BY relname`,
    tables,
  );
  return table(
    Object.keys(rows[0] ?? {}),
    rows.map((t) => Object.values(t).map(String)),
  );
}

/**
 * The next transaction id PostgreSQL will assign (the current snapshot's xmax): the delta
 * over a phase is the number of write transactions (those given an id) in it, exact and
 * immediate, unlike pg_stat_database's counters. Reading it assigns none.
 */
export async function nextXid(prisma: PrismaClient): Promise<number> {
  own.statements += 1;
  const [row] = await prisma.$queryRawUnsafe<{ x: string }[]>(
    "SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS x",
  );
  return Number(row?.x ?? 0);
}

export function prismaOn(connectionString: string): PrismaClient {
  return createPrismaClient(connectionString);
}

/**
 * The ceiling of a susu-like write transaction: `pgbench` running, per transaction, what a
 * commit of one aggregate costs at minimum — an UPDATE of one row of a 10,000-row table
 * (its version and a jsonb snapshot, by primary key) and an INSERT of one row (an
 * outbox/audit-like row with a jsonb body) — with `clients` clients for `seconds`, on the
 * same PostgreSQL. Its tables (bench_aggregates, bench_appended) are made here and are the
 * bench's own.
 */
export async function comparableWriteTps(
  connectionString: string,
  prisma: PrismaClient,
  clients: number,
  seconds: number,
): Promise<PgbenchResult> {
  await prisma.$executeRawUnsafe(
    "CREATE TABLE IF NOT EXISTS bench_aggregates (id int PRIMARY KEY, version int NOT NULL, snapshot jsonb NOT NULL, updated_at timestamptz NOT NULL)",
  );
  await prisma.$executeRawUnsafe(
    "CREATE TABLE IF NOT EXISTS bench_appended (id bigserial PRIMARY KEY, aggregate_id int NOT NULL, body jsonb NOT NULL, at timestamptz NOT NULL)",
  );
  await prisma.$executeRawUnsafe(
    `INSERT INTO bench_aggregates SELECT g, 0, '{"status":"open","members":10,"contributions":[]}'::jsonb, now()
     FROM generate_series(1, 10000) g ON CONFLICT DO NOTHING`,
  );
  const file = join(tmpdir(), `susu-bench-write-${process.pid}.sql`);
  writeFileSync(
    file,
    [
      "\\set aid random(1, 10000)",
      "BEGIN;",
      `UPDATE bench_aggregates SET version = version + 1, snapshot = jsonb_set(snapshot, '{status}', '"collecting"'), updated_at = now() WHERE id = :aid;`,
      `INSERT INTO bench_appended (aggregate_id, body, at) VALUES (:aid, '{"kind":"create_debit","amount":10000,"currency":"AUD"}', now());`,
      "END;",
      "",
    ].join("\n"),
  );
  try {
    return await pgbench(connectionString, file, clients, seconds, prisma);
  } finally {
    rmSync(file, { force: true });
  }
}
