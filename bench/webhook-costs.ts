/**
 * What one webhook event costs from its 2xx to susu's committed state: statements each
 * process sends to PostgreSQL (by statement), CPU-ms of the scheduler, the API, the
 * emulator and PostgreSQL, database commits and write transactions — per event, in the
 * steady state, deterministic or nearly so (unlike latencies on a shared machine).
 *
 *   npx tsx bench/webhook-costs.ts [--events 600] [--rate 200] [--warm 100] [--statements] [--schedulers 1]
 *
 * The stack of bench/webhooks.ts part (b) (the apps from their `dist`; build first), one
 * scheduler (`--schedulers` N: N of them, summed), the same events (each a real `checkout.session.completed` moving a seeded held
 * payment to held). The apps are started with bench/pg-trace.mjs preloaded, which counts
 * node-postgres queries per process and reports them with the process's CPU on SIGUSR2.
 * `--warm` events go first, untimed (JIT, prepared statements, pools); then `--events` at
 * `--rate` per second, open loop, and the run waits for every one to be processed and for
 * the outbox to be empty (the follow-on work of an event counts too). The table also gives each
 * timed event's 2xx → committed latency (its inbox row's `processed_at`), a figure of the
 * machine's load as much as of the event (the bench's own CPU counts). PostgreSQL's CPU is also
 * shown by kind of process (client backends, WAL writer, checkpointer, …; live ones only).
 * With `--statements`, the server is restarted with pg_stat_statements loaded and the timed
 * phase's statements are printed per event with their execution and planning time.
 * With `--email`, the scheduler runs with e-mail configured (`SUSU_SMTP_URL`, as production
 * does) against a mail server in this process that accepts everything (bench/mail-sink.ts): each
 * event's notices are then queued as e-mail deliveries, and the run also waits for the delivery
 * worker to send them all, so their cost counts.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { outboxClaimStatement, resolveDatabaseUrl } from "@susu/adapters";
import { EmulatorControl } from "@susu/stripe-emulator";
import type Stripe from "stripe";
import { signatureHeader } from "../packages/stripe-emulator/src/webhooks/signature.js";
import { countHeldIn, gatewayTo, seedCheckouts } from "./held-seed.js";
import { startMailSink } from "./mail-sink.js";
import { embeddedPostgres } from "./seed.js";
import {
  type AppProcess,
  countOf,
  fmt,
  here,
  latencyCells,
  nextXid,
  pool,
  prismaOn,
  type StackConfig,
  sleep,
  startApi,
  startEmulatorProcess,
  startScheduler,
  table,
  tableChurn,
  xactCommits,
} from "./stack.js";

const { values } = parseArgs({
  options: {
    events: { type: "string", default: "600" },
    rate: { type: "string", default: "200" },
    warm: { type: "string", default: "100" },
    log: { type: "string", default: join(tmpdir(), "susu-bench-webhook-costs.log") },
    statements: { type: "boolean", default: false },
    email: { type: "boolean", default: false },
    /** Scheduler processes (their CPU and statements summed per event). */
    schedulers: { type: "string", default: "1" },
  },
});
const EVENTS = Number(values.events);
const RATE = Number(values.rate);
const WARM = Number(values.warm);

const traceDir = mkdtempSync(join(tmpdir(), "susu-pg-trace-"));
process.env.SUSU_PG_TRACE_DIR = traceDir;
process.env.NODE_OPTIONS = `--import ${join(here, "pg-trace.mjs")}`;

writeFileSync(values.log, "");
const { dir: pgDir, database } = await statementsCounted(
  await embeddedPostgres("susu-bench-wh-costs-", "susu_bench_wh_costs"),
);

/** With `--statements`: the server restarted with pg_stat_statements loaded (as bench/rounds.ts does). */
async function statementsCounted(pg: Awaited<ReturnType<typeof embeddedPostgres>>) {
  if (!values.statements) return pg;
  const admin = prismaOn(pg.database.connectionString);
  await admin.$executeRawUnsafe("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'");
  await admin.$executeRawUnsafe("ALTER SYSTEM SET pg_stat_statements.track_planning = on");
  await admin.$disconnect();
  await pg.database.close();
  const database = await resolveDatabaseUrl({
    env: { SUSU_PG_DATA_DIR: pg.dir },
    embeddedDatabase: "susu_bench_wh_costs",
  });
  const again = prismaOn(database.connectionString);
  await again.$executeRawUnsafe("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
  await again.$disconnect();
  return { dir: pg.dir, database };
}
const prisma = prismaOn(database.connectionString);
const emulator = await startEmulatorProcess({ fees: false });
const config: StackConfig = {
  connectionString: database.connectionString,
  stripeUrl: emulator.url,
  stripeSecretKey: emulator.secretKey,
  webhookSecret: emulator.webhookSecret,
  log: values.log,
};
const api = await startApi(config);
const mail = values.email ? await startMailSink() : undefined;
const endpoint = `${api.url}/webhooks/stripe`;

const seeded = await seedCheckouts({
  connectionString: database.connectionString,
  stripeUrl: emulator.url,
  secretKey: emulator.secretKey,
  count: WARM + EVENTS,
  sellers: 20,
  concurrency: 8,
  prefix: "whc",
});
const control = new EmulatorControl(emulator.url);
await pool(seeded, 16, async (s) => {
  await control.completeCheckoutSession(s.checkoutSessionId, { paymentMethod: "pm_card_visa" });
});
const stripe = gatewayTo(emulator.url, emulator.secretKey).stripe;
const bySession = new Map<string, Stripe.Event>();
for await (const event of stripe.events.list({ limit: 100, type: "checkout.session.completed" }))
  bySession.set((event.data.object as Stripe.Checkout.Session).id, event);
const events = seeded.map((s) => {
  const event = bySession.get(s.checkoutSessionId);
  if (event === undefined) throw new Error(`no event for ${s.checkoutSessionId}`);
  return { heldPaymentId: s.heldPaymentId, event };
});

/** When each event's 2xx came (ms since the epoch), by event id: for 2xx → processed. */
const okAt = new Map<string, number>();

async function post(id: string, body: string): Promise<number> {
  const res = await fetch(endpoint, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "stripe-signature": signatureHeader(emulator.webhookSecret, body, Math.floor(Date.now() / 1000)),
    },
    body,
  });
  await res.arrayBuffer();
  if (res.status === 200) okAt.set(id, Date.now());
  return res.status;
}

async function sendAndDrain(batch: typeof events, rate: number): Promise<void> {
  const started = performance.now();
  const sent: Promise<number>[] = [];
  for (const [i, { event }] of batch.entries()) {
    const wait = started + (i * 1000) / rate - performance.now();
    if (wait > 1) await sleep(wait);
    sent.push(post(event.id, JSON.stringify(event)));
  }
  const statuses = await Promise.all(sent);
  if (statuses.some((s) => s !== 200)) throw new Error("an event got no 200");
  const ids = batch.map((b) => b.event.id);
  const deadline = Date.now() + 300_000;
  for (;;) {
    const waiting =
      (await countOf(
        prisma,
        "SELECT count(*) AS n FROM webhook_events WHERE id = ANY($1::text[]) AND status IN ('received', 'failed')",
        ids,
      )) +
      (await countOf(
        prisma,
        "SELECT count(*) AS n FROM outbox_effects WHERE status = 'pending' AND available_at <= now()",
      )) +
      (mail === undefined ? 0 : await unsentDeliveries());
    if (waiting === 0) break;
    if (Date.now() > deadline) throw new Error(`not drained: ${waiting} left`);
    await sleep(100);
  }
}

/** Deliveries the worker has still to send (with `--email`: the run waits for them too). */
const unsentDeliveries = () =>
  countOf(prisma, "SELECT count(*) AS n FROM notification_deliveries WHERE status IN ('queued', 'retrying')");

/**
 * WAL written so far by this bench's server (its own cluster): each heap row version and each
 * index entry written is a record, so records per event count the writes an event makes,
 * steadier than CPU on a shared machine.
 */
async function walRecords(): Promise<{ records: number; bytes: number }> {
  await prisma.$executeRawUnsafe("SELECT pg_stat_clear_snapshot()");
  const [row] = await prisma.$queryRawUnsafe<{ records: bigint; bytes: string }[]>(
    "SELECT wal_records AS records, wal_bytes::text AS bytes FROM pg_stat_wal",
  );
  return { records: Number(row?.records ?? 0), bytes: Number(row?.bytes ?? 0) };
}

/**
 * Each event's 2xx → its inbox row's `processed_at` (stamped in the transaction that commits
 * the state it changed), in ms; both clocks are this machine's.
 */
async function processedAfter2xx(ids: readonly string[]): Promise<number[]> {
  const rows = await prisma.$queryRawUnsafe<{ id: string; at: number | null }[]>(
    "SELECT id, (extract(epoch FROM processed_at) * 1000)::float8 AS at FROM webhook_events WHERE id = ANY($1::text[])",
    ids,
  );
  return rows.flatMap((r) => {
    const ok = okAt.get(r.id);
    return r.at === null || ok === undefined ? [] : [Math.max(0, r.at - ok)];
  });
}

interface Snapshot {
  readonly role: string;
  readonly cpuUserMs: number;
  readonly cpuSysMs: number;
  readonly counts: Record<string, number>;
}

/** Each traced process's counters now (SIGUSR2 → a file per process). */
async function snapshot(children: readonly AppProcess[], tag: string): Promise<Map<number, Snapshot>> {
  writeFileSync(join(traceDir, "tag"), tag);
  for (const c of children) c.child.kill("SIGUSR2");
  emulator.child.kill("SIGUSR2");
  await sleep(300);
  const out = new Map<number, Snapshot>();
  for (const file of readdirSync(traceDir)) {
    if (!file.endsWith(`-${tag}.json`)) continue;
    const s = JSON.parse(readFileSync(join(traceDir, file), "utf8")) as Snapshot & { pid: number };
    out.set(s.pid, s);
  }
  return out;
}

/** CPU-ms used so far by this database's PostgreSQL processes (the postmaster's children, live ones), by kind of process: "client backends", "walwriter", "autovacuum worker", …. */
function postgresCpuByKind(): Map<string, number> {
  const byKind = new Map<string, number>();
  const tick = 10; // CLK_TCK 100 on Linux
  const procs = readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  const stat = (pid: string) => {
    try {
      const text = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
      return { ppid: Number(fields[1]), cpu: (Number(fields[11]) + Number(fields[12])) * tick };
    } catch {
      return undefined;
    }
  };
  const postmaster = procs.find((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(pgDir) && stat(pid)?.ppid !== undefined;
    } catch {
      return false;
    }
  });
  if (postmaster === undefined) return new Map([["postmaster", Number.NaN]]);
  byKind.set("postmaster", stat(postmaster)?.cpu ?? 0);
  for (const pid of procs) {
    const s = stat(pid);
    if (s?.ppid !== Number(postmaster)) continue;
    let title = "?";
    try {
      title = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
    } catch {}
    // "postgres: user db 127.0.0.1(port) idle" is a client backend; others name their role.
    const kind = /^postgres: (\S+ \S+ [\d.:]+\(\d+\)|\S+ \S+ \[local\])/.test(title)
      ? "client backends"
      : title
          .replace(/^postgres: /, "")
          .split(" ")
          .slice(0, 2)
          .join(" ");
    byKind.set(kind, (byKind.get(kind) ?? 0) + s.cpu);
  }
  return byKind;
}

const SCHEDULERS = Number(values.schedulers);
if (!Number.isInteger(SCHEDULERS) || SCHEDULERS < 1)
  throw new Error(`--schedulers takes a whole number of 1 or more, got ${values.schedulers}`);
const schedulers = await Promise.all(
  Array.from({ length: SCHEDULERS }, (_, i) =>
    startScheduler(
      config,
      SCHEDULERS === 1 ? "costs-scheduler" : `costs-scheduler-${i + 1}`,
      mail === undefined
        ? {}
        : { SUSU_SMTP_URL: mail.url, SUSU_MAIL_FROM: "susu bench <no-reply@bench.invalid>" },
    ),
  ),
);
await sendAndDrain(events.slice(0, WARM), Math.min(RATE, 100));
const timed = events.slice(WARM);
const before = await snapshot([api, ...schedulers], "a");
const pgBefore = postgresCpuByKind();
if (values.statements) await prisma.$queryRawUnsafe("SELECT pg_stat_statements_reset()::text");
const commitsBefore = await xactCommits(prisma);
const walBefore = await walRecords();
const xidBefore = await nextXid(prisma);
const mailBefore = { received: mail?.received() ?? 0, connections: mail?.connections() ?? 0 };
const t0 = performance.now();
await sendAndDrain(timed, RATE);
const seconds = (performance.now() - t0) / 1000;
await sleep(1_100);
const commits = (await xactCommits(prisma)) - commitsBefore;
const walAfter = await walRecords();
const writes = (await nextXid(prisma)) - xidBefore;
const pgAfter = postgresCpuByKind();
const pgCpu =
  [...pgAfter.values()].reduce((a, b) => a + b, 0) - [...pgBefore.values()].reduce((a, b) => a + b, 0);
const after = await snapshot([api, ...schedulers], "b");
const latencies = await processedAfter2xx(timed.map((t) => t.event.id));
const held = await countHeldIn(
  prisma,
  timed.map((t) => t.heldPaymentId),
  "held",
);

const n = timed.length;
console.log(
  `\n## Webhook event costs (bench/webhook-costs.ts): ${n} events at ${RATE}/s after ${WARM} warm-up, drained in ${fmt(seconds, 1)} s; ${SCHEDULERS} scheduler process(es); ${held}/${n} held; e-mail ${mail === undefined ? "not configured" : "configured (a mail server in the bench's process)"}\n`,
);
const rows: string[][] = [
  ["database commits / event", fmt(commits / n, 2)],
  ["write transactions / event", fmt(writes / n, 2)],
  ["PostgreSQL CPU-ms / event", fmt(pgCpu / n, 2)],
  ["WAL records / event", fmt((walAfter.records - walBefore.records) / n, 1)],
  [
    "2xx → processed ms, p50 / p95 / p99 / max (open loop at the rate; the machine's other load counts)",
    latencyCells(latencies).join(" / "),
  ],
  ["WAL kB / event (full-page images: checkpoints)", fmt((walAfter.bytes - walBefore.bytes) / 1024 / n, 2)],
];
if (mail !== undefined)
  rows.push(
    ["e-mails sent / event", fmt((mail.received() - mailBefore.received) / n, 2)],
    ["SMTP connections opened / event", fmt((mail.connections() - mailBefore.connections) / n, 2)],
  );
const perRole = new Map<string, { cpu: number; statements: Map<string, number> }>();
for (const [pid, b] of after) {
  const a = before.get(pid);
  if (a === undefined) continue;
  const entry = perRole.get(b.role) ?? { cpu: 0, statements: new Map<string, number>() };
  entry.cpu += b.cpuUserMs + b.cpuSysMs - a.cpuUserMs - a.cpuSysMs;
  for (const [k, v] of Object.entries(b.counts)) {
    const d = v - (a.counts[k] ?? 0);
    if (d > 0) entry.statements.set(k, (entry.statements.get(k) ?? 0) + d);
  }
  perRole.set(b.role, entry);
}
for (const [role, e] of perRole) {
  const total = [...e.statements.values()].reduce((x, y) => x + y, 0);
  rows.push([`${role} CPU-ms / event`, fmt(e.cpu / n, 2)]);
  if (role !== "emulator") rows.push([`${role} statements / event`, fmt(total / n, 2)]);
}
console.log(table(["per event", "value"], rows));
console.log("\nPostgreSQL CPU-ms per event by process (live processes; one that exited is not counted)\n");
console.log(
  table(
    ["process", "CPU-ms / event"],
    [...pgAfter]
      .map(([kind, cpu]): [string, number] => [kind, cpu - (pgBefore.get(kind) ?? 0)])
      .filter(([, cpu]) => cpu > 0)
      .sort((x, y) => y[1] - x[1])
      .map(([kind, cpu]) => [kind, fmt(cpu / n, 2)]),
  ),
);
if (values.statements) {
  const stats = await prisma.$queryRawUnsafe<
    { calls: bigint; exec: number; plan: number; blocks: bigint; query: string }[]
  >(
    `SELECT sum(calls) AS calls, sum(total_exec_time)::float8 AS exec, sum(total_plan_time)::float8 AS plan,
            sum(shared_blks_hit + shared_blks_read) AS blocks,
            regexp_replace(left(query, 120), '\\s+', ' ', 'g') AS query
       FROM pg_stat_statements JOIN pg_database d ON d.oid = dbid
      WHERE d.datname = current_database()
      GROUP BY 5 ORDER BY 2 DESC LIMIT 25`,
  );
  console.log(
    "\nPostgreSQL statements of the timed phase (pg_stat_statements; time in ms per event, wall time: waits and a loaded machine count)\n",
  );
  console.log(
    table(
      ["calls / event", "exec ms", "plan ms", "buffers / call", "statement"],
      stats.map((r) => [
        fmt(Number(r.calls) / n, 2),
        fmt(r.exec / n, 3),
        fmt(r.plan / n, 3),
        fmt(Number(r.blocks) / Math.max(1, Number(r.calls)), 0),
        `\`${r.query.replaceAll("|", "\\|")}\``,
      ]),
    ),
  );
}
for (const [role, e] of perRole) {
  if (role === "emulator") continue;
  console.log(`\n${role}: statements per event\n`);
  console.log(
    table(
      ["statement", "per event"],
      [...e.statements]
        .sort((x, y) => y[1] - x[1])
        .filter(([, v]) => v / n >= 0.05)
        .map(([k, v]) => [k.replace(/\|/g, "\\|"), fmt(v / n, 2)]),
    ),
  );
}

if (values.statements) {
  // The claim as the dispatcher would run it now that nothing is pending (rolled back): what
  // it reads beyond the pending rows (index entries and row versions the churn left) shows.
  console.log("\nTables after the run (pg_stat_user_tables)\n");
  console.log(await tableChurn(prisma, []));
  const claim = outboxClaimStatement("bench-explain", Date.now(), 60_000, 500);
  const plan = await prisma
    .$transaction(async (tx) => {
      const lines = await tx.$queryRawUnsafe<{ "QUERY PLAN": string }[]>(
        `EXPLAIN (ANALYZE, BUFFERS) ${claim.text}`,
        ...claim.values,
      );
      throw Object.assign(new Error("rolled back"), { lines });
    })
    .catch((e: { lines?: { "QUERY PLAN": string }[] }) => e.lines ?? []);
  console.log("\nThe outbox claim after the run, nothing pending (EXPLAIN ANALYZE, rolled back)\n");
  console.log(plan.map((l) => `    ${l["QUERY PLAN"]}`).join("\n"));
}

for (const scheduler of schedulers) await scheduler.stop();
await api.stop();
await emulator.stop();
await mail?.close();
await prisma.$disconnect();
await database.close();
rmSync(pgDir, { recursive: true, force: true });
rmSync(traceDir, { recursive: true, force: true });
process.exit(held === n ? 0 : 1);
