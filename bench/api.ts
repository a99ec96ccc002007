/**
 * Benchmark of the HTTP API under a steady mixed load at fixed arrival rates.
 *
 *   npx tsx bench/api.ts [--rates 100,300,500] [--seconds 10] [--warmup 12] [--processes 1]
 *                        [--log /tmp/susu-bench-api.log] [--rate-limits on|off]
 *                        [--kinds "read group"] [--serial 200] [--api-node-options "…"]
 *
 * `BENCH_CPU_PROF=<folder>` makes the API's processes write V8 CPU profiles there (as for
 * the whole-stack benches); `--kinds` with `--rates ""` profiles one kind one at a time.
 *
 * Three kinds of process on one machine, so none shares an event loop with another:
 *
 * - **the API under test**, run as production runs it: `node apps/api/dist/main.js` (build
 *   first: `npm run build`) with `API_PROCESSES` = `--processes`, JWT auth (HS256),
 *   Idempotency-Key storage on every POST, rate limits in PostgreSQL (set high so they count
 *   but never refuse), request logs (its stdout, to `--log`) and metrics;
 * - **the ceiling**: a bare Hono handler (bench/bare-hono.ts), one process;
 * - **the load generator** (bench/api-load.ts), one process: an open-loop mix, requests
 *   leaving at fixed intervals whatever the answers, latency measured from each request's
 *   scheduled time (no coordinated omission). The mix uses the routes the OpenAPI document
 *   has, falling back to reads: create a group 10%, join 10%, read a group 40%, list rounds
 *   20%, read a round 20%.
 *
 * PostgreSQL is embedded (a throw-away data folder) and migrated by this process, which
 * also seeds rounds through the use cases and then only reads /proc: the CPU time the API
 * processes and PostgreSQL spend per request of each kind (one at a time, no queueing) and
 * during each rate. The machine (cores, load average before and after) is printed with the
 * table; the load generator and the server compete for the same cores, as they would not in
 * production. Everything is bounded: rates × seconds requests, each abandoned (counted as
 * an error, status 0) 5 s after it was sent.
 */
import { type ChildProcess, fork, spawn } from "node:child_process";
import { openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { mintToken } from "../apps/api/src/http/auth.js";
import { type Command, type Kind, MIX, type Reply } from "./api-load.js";
import { embeddedPostgres, seedOpenRounds } from "./seed.js";
import { busyWarning, outsideCores, treeCpuMs } from "./stack.js";

const { values } = parseArgs({
  options: {
    rates: { type: "string", default: "100,300,500" },
    seconds: { type: "string", default: "10" },
    /** Seconds of rising load before the measured rates (10%, 25%, 50%, 75% of the highest), not counted. */
    warmup: { type: "string", default: "12" },
    processes: { type: "string", default: "1" },
    log: { type: "string", default: join(tmpdir(), "susu-bench-api.log") },
    "rate-limits": { type: "string", default: "on" },
    /** Requests of each kind in the one-at-a-time phase. */
    serial: { type: "string", default: "200" },
    /** Kinds measured one at a time (comma-separated), e.g. to profile one: "read group". */
    kinds: { type: "string", default: MIX.map(([k]) => k).join(",") },
    /** Extra Node options for the API's processes, e.g. `--api-node-options="--cpu-prof --cpu-prof-dir=/tmp/p"`. */
    "api-node-options": { type: "string", default: "" },
  },
});
const RATES = values.rates
  .split(",")
  .filter((r) => r !== "")
  .map(Number);
const SECONDS = Number(values.seconds);
const WARMUP_SECONDS = Number(values.warmup);
if (!Number.isFinite(WARMUP_SECONDS) || WARMUP_SECONDS < 0)
  throw new Error(`--warmup takes seconds (0 or more), got ${values.warmup}`);
const PROCESSES = Number(values.processes);
const SEED_GROUPS = 100;
const SERIAL_REQUESTS = Number(values.serial);
const KINDS = values.kinds.split(",").filter((k): k is Kind => MIX.some(([m]) => m === k));
const SECRET = "bench-secret-0123456789-abcdefghijklmnop";
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const tsx = import.meta.resolve("tsx");
const loadBefore = loadavg();

// --- PostgreSQL and rounds to read -------------------------------------------------------------

const { dir: pgDir, database } = await embeddedPostgres("susu-bench-pg-", "susu_bench");

// A few groups made ready and started through the use cases (with a clock of their own at
// the groups' start), as the scheduler and Stripe's webhooks would; the API then reads them.
const roundIds = await seedOpenRounds(
  database.connectionString,
  Array.from({ length: 5 }, (_, i) => `bench_round_${i}`),
  "Bench round",
);
const rounds = await Promise.all(
  roundIds.map(async (roundId, i) => ({
    roundId,
    token: await mintToken({ subject: `bench_round_${i}`, ttlSeconds: 3600 }, SECRET),
  })),
);

// --- the processes -------------------------------------------------------------------------------

const apiPort = await freePort();
const logFd = openSync(values.log === "off" ? "/dev/null" : values.log, "w");
// BENCH_CPU_PROF=<folder>, as for the whole-stack benches: the API writes a V8 CPU profile there when it stops.
const benchEnv: Record<string, string | undefined> = process.env;
const nodeOptions = [
  ...(benchEnv.BENCH_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${benchEnv.BENCH_CPU_PROF}`] : []),
  ...values["api-node-options"].split(" ").filter((o) => o !== ""),
];
const api = spawn(process.execPath, [...nodeOptions, join(root, "apps/api/dist/main.js")], {
  env: {
    ...process.env,
    DATABASE_URL: database.connectionString,
    HOST: "127.0.0.1",
    PORT: String(apiPort),
    API_PROCESSES: String(PROCESSES),
    LOG_LEVEL: "info",
    SUSU_JWT_SECRET: SECRET,
    // High enough never to refuse, so they cost what they cost without changing the answers.
    SUSU_RATE_LIMIT_PER_MINUTE: values["rate-limits"] === "off" ? "0" : "1000000",
    SUSU_RATE_LIMIT_IP_PER_MINUTE: values["rate-limits"] === "off" ? "0" : "1000000",
    // The mix calls no Stripe route; an address nothing listens on proves it.
    STRIPE_SECRET_KEY: "sk_test_bench",
    STRIPE_WEBHOOK_SECRET: "whsec_bench",
    STRIPE_API_URL: "http://127.0.0.1:9",
  },
  stdio: ["ignore", logFd, logFd, "ipc"],
});
await new Promise<void>((resolve, reject) => {
  api.on("message", (message: { type?: string }) => {
    if (message?.type === "susu:ready") resolve();
  });
  api.once("exit", (code) =>
    reject(new Error(`the API exited (${code}) before it was ready; see ${values.log}`)),
  );
});

const bare = spawn(process.execPath, ["--import", tsx, join(here, "bare-hono.ts")], {
  stdio: ["ignore", "pipe", "inherit"],
});
const barePort = await new Promise<number>((resolve) => {
  let buffer = "";
  bare.stdout?.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    const line = buffer.split("\n")[0];
    if (buffer.includes("\n") && line !== undefined) resolve((JSON.parse(line) as { port: number }).port);
  });
});

const load = fork(join(here, "api-load.ts"), [], { execArgv: ["--import", tsx] });
function ask<T extends Reply["type"]>(command: Command, expected: T): Promise<Extract<Reply, { type: T }>> {
  return new Promise((resolve, reject) => {
    load.once("message", (reply: Reply) => {
      if (reply.type === expected) resolve(reply as Extract<Reply, { type: T }>);
      else reject(new Error(reply.type === "failed" ? reply.message : `unexpected reply ${reply.type}`));
    });
    load.send(command);
  });
}

const { routes } = await ask(
  { type: "setup", apiPort, barePort, secret: SECRET, seedGroups: SEED_GROUPS, rounds },
  "ready",
);

// --- CPU time from /proc ----------------------------------------------------------------------

const postmasterPid = Number(readFileSync(join(pgDir, "postmaster.pid"), "utf8").split("\n")[0]);

const cpuNow = () => ({
  api: treeCpuMs(api.pid),
  postgres: treeCpuMs(postmasterPid),
  load: treeCpuMs(load.pid),
  bare: treeCpuMs(bare.pid),
});
type CpuSample = ReturnType<typeof cpuNow>;
const cpuSince = (before: CpuSample): CpuSample => {
  const now = cpuNow();
  return {
    api: now.api - before.api,
    postgres: now.postgres - before.postgres,
    load: now.load - before.load,
    bare: now.bare - before.bare,
  };
};

// --- the runs ------------------------------------------------------------------------------------

interface Run {
  readonly target: "susu API" | "bare Hono";
  readonly rate: number;
  readonly reply: Extract<Reply, { type: "rate" }>;
  readonly cpu: CpuSample;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

// Warm-up: JIT, connection pools, prepared statements (not reported).
await ask({ type: "rate", target: "api", rate: 50, seconds: 4 }, "rate");
// Then up to the highest measured rate in steps: an API process that starts cold at 500/s runs
// its code unoptimised for its first few thousand requests and queues for several seconds
// (measured here: answers up to 0.3–3.4 s late for the first 1.5–8 s, varying run to run), which says how a cold start meets
// full traffic, not how the server holds a rate. `--warmup 0` measures the cold start.
const WARMUP_STEPS = [0.1, 0.25, 0.5, 0.75] as const;
const topRate = Math.max(0, ...RATES);
if (WARMUP_SECONDS > 0 && topRate > 0)
  for (const share of WARMUP_STEPS)
    await ask(
      {
        type: "rate",
        target: "api",
        rate: Math.max(1, Math.round(topRate * share)),
        seconds: WARMUP_SECONDS / WARMUP_STEPS.length,
      },
      "rate",
    );
// Service time and CPU, one request at a time: what each kind costs with no queueing.
const serviceLines: string[] = [];
for (const kind of KINDS) {
  const before = cpuNow();
  const { times, statuses } = await ask({ type: "serial", kind, count: SERIAL_REQUESTS }, "serial");
  const cpu = cpuSince(before);
  const sorted = [...times].sort((a, b) => a - b);
  const bad = statuses.filter((s) => s < 200 || s >= 300).length;
  serviceLines.push(
    `| ${kind.padEnd(12)} | ${ms(percentile(sorted, 50))} | ${ms(cpu.api / SERIAL_REQUESTS)} | ${ms(
      cpu.postgres / SERIAL_REQUESTS,
    )} | ${String(bad).padStart(6)} |`,
  );
}
const results: Run[] = [];
for (const rate of RATES) {
  for (const target of ["api", "bare"] as const) {
    const before = cpuNow();
    const reply = await ask({ type: "rate", target, rate, seconds: SECONDS }, "rate");
    results.push({ target: target === "api" ? "susu API" : "bare Hono", rate, reply, cpu: cpuSince(before) });
  }
}
const loadAfter = loadavg();

// --- the report ----------------------------------------------------------------------------------

function ms(n: number): string {
  return n.toFixed(1).padStart(8);
}
const avg = (l: readonly number[]) => l.map((n) => n.toFixed(2)).join(" ");
const cores = cpus();
console.log(
  `\nAPI benchmark: open loop, ${SECONDS} s per rate, loopback. Machine: ${cores.length} CPUs (${cores[0]?.model.trim() ?? "?"}), ${process.platform}, Node ${process.version}; load average before ${avg(loadBefore)}, after ${avg(loadAfter)}; CPU used outside this bench's processes during the run: ${outsideCores().toFixed(2)} of ${cores.length} cores on average.`,
);
console.log(
  `Processes, all on this machine: the API (apps/api/dist/main.js, API_PROCESSES=${PROCESSES}), PostgreSQL (embedded), the bare Hono ceiling (1 process), the load generator (1 process, bench/api-load.ts). The load generator competes with the server for the same ${cores.length} CPUs.`,
);
console.log(
  WARMUP_SECONDS > 0
    ? `Warm-up, not counted: 4 s at 50/s, then ${WARMUP_SECONDS} s rising to the highest rate (${WARMUP_STEPS.map((w) => `${Math.round(w * 100)}%`).join(", ")} of ${topRate}/s, equal steps).`
    : "Warm-up, not counted: 4 s at 50/s only (--warmup 0): the first measured rate meets a cold server.",
);
console.log(
  `Mix: ${MIX.map(([k, w]) => `${k} ${w}%`).join(", ")}; routes present: ${Object.entries(routes)
    .map(([k, v]) => `${k}=${v ? "yes" : "no (read instead)"}`)
    .join(", ")}.`,
);
console.log(
  `Auth (HS256), idempotency keys on PostgreSQL, rate limits on PostgreSQL: ${values["rate-limits"]}, request logs: ${values.log}.`,
);
const warning = busyWarning(loadBefore);
if (warning !== undefined) console.log(warning);
console.log(
  "\n| target    | rate/s | sent  | 2xx/s | 503 overloaded | other errors | p50 ms   | p95 ms   | p99 ms   | max ms   | 2xx p95 ms | server CPU % | postgres CPU % | load gen CPU % |",
);
console.log(
  "| --------- | ------ | ----- | ----- | -------------- | ------------ | -------- | -------- | -------- | -------- | ---------- | ------------ | -------------- | -------------- |",
);
for (const r of results) {
  const sorted = [...r.reply.latencies].sort((a, b) => a - b);
  const ok = [...r.reply.okLatencies].sort((a, b) => a - b);
  const refused = r.reply.overloaded;
  const serverCpu = r.target === "susu API" ? r.cpu.api : r.cpu.bare;
  const pct = (cpuMs: number) => ((cpuMs / r.reply.elapsedMs) * 100).toFixed(0);
  console.log(
    `| ${r.target.padEnd(9)} | ${String(r.rate).padStart(6)} | ${String(sorted.length).padStart(5)} | ${(
      (ok.length / r.reply.elapsedMs) *
      1000
    )
      .toFixed(0)
      .padStart(
        5,
      )} | ${String(refused).padStart(14)} | ${String(r.reply.errors - refused).padStart(12)} | ${ms(
      percentile(sorted, 50),
    )} | ${ms(percentile(sorted, 95))} | ${ms(percentile(sorted, 99))} | ${ms(sorted.at(-1) ?? Number.NaN)} | ${ms(
      percentile(ok, 95),
    ).padStart(
      10,
    )} | ${pct(serverCpu).padStart(12)} | ${pct(r.cpu.postgres).padStart(14)} | ${pct(r.cpu.load).padStart(14)} |`,
  );
}
console.log(
  "\nLatency from each request's scheduled send time to its answer: p50–max over every request (a 503 and a request abandoned at 5 s included), `2xx p95` over the requests served. `503 overloaded`: refused at once by the API's overload guard (SUSU_MAX_IN_FLIGHT; problem code `overloaded`); `other errors`: any other non-2xx (another 503 included), or no answer within 5 s.",
);
console.log(
  `\nOne at a time (${SERIAL_REQUESTS} requests of each kind), CPU per request from /proc (API: all its processes; PostgreSQL: the server and its backends):\n`,
);
console.log("| kind         | p50 ms   | API CPU ms | PG CPU ms | errors |");
console.log("| ------------ | -------- | ---------- | --------- | ------ |");
for (const line of serviceLines) console.log(line);
const statusLines = results
  .filter((r) => r.target === "susu API")
  .map((r) => `${r.rate}/s: ${r.reply.statuses.map(([s, n]) => `${s}×${n}`).join(" ")}`);
console.log(`\nsusu API statuses — ${statusLines.join("; ")}`);

// --- stop ----------------------------------------------------------------------------------------

load.disconnect();
const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((r) => child.once("exit", () => r()));
api.kill("SIGTERM");
bare.kill("SIGTERM");
await Promise.all([exited(api), exited(bare), exited(load)]);
await database.close();
rmSync(pgDir, { recursive: true, force: true });

function freePort(): Promise<number> {
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
