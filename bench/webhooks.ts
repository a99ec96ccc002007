/**
 * Benchmark of Stripe webhooks through susu (issue 11): ingest, and 2xx → committed.
 *
 *   npx tsx bench/webhooks.ts [--clients 16,64,256] [--ingest-seconds 5]
 *                             [--rates 50,200,1000] [--seconds 10] [--schedulers 1,2]
 *                             [--drain-timeout 900] [--log /tmp/susu-bench-webhooks.log]
 *   npx tsx bench/webhooks.ts --quick      (a smoke run, under a minute)
 *   npx tsx bench/webhooks.ts --email      (b)'s schedulers with e-mail configured (below)
 *
 * The processes as production runs them, on one machine (bench/stack.ts): the API
 * (`apps/api/dist/main.js`; build first), 1 or 2 scheduler processes
 * (`apps/scheduler/dist/main.js`), the Stripe emulator in its own process, an embedded
 * PostgreSQL (durable: fsync on). This process is the sender (Stripe's side).
 *
 * (a) **Ingest**: closed loop, `--clients` concurrent senders for `--ingest-seconds` each,
 *     POSTing signed events (`Stripe-Signature` made with the API's webhook secret) to
 *     `/webhooks/stripe`; events/s and latency per request. The events are real ones read
 *     from the emulator (a held payment's checkout, PaymentIntent and charge events) under
 *     fresh ids. No scheduler runs meanwhile; the rows are deleted afterwards. The sender is
 *     a load generator's (bench/raw-http.ts): one kept-alive socket per client, each request
 *     written as one string, its body joined from the template's text and signed at send
 *     time; this process's CPU per request is printed (with node:http it was ~280 µs, taken
 *     from the API and PostgreSQL on two cores).
 *     **Ceiling**: `pgbench -M prepared` INSERTing one row per transaction (ON CONFLICT
 *     DO NOTHING, like the inbox) with a payload of the same size into a table made
 *     `LIKE webhook_events INCLUDING ALL` (same columns, indexes), same PostgreSQL, same
 *     client count (capped by max_connections), same seconds.
 *
 * (b) **2xx → committed**: open loop at fixed rates (events leave on schedule whatever the
 *     answers) for `--seconds` each, with 1 and 2 scheduler processes. Every event changes
 *     state: it is the real `checkout.session.completed` of a held payment seeded beforehand
 *     (`useCases.createHeldPayment`, its Checkout Session made at the emulator and paid there;
 *     the emulator delivers nothing itself), which moves the payment from awaiting_payment
 *     to held. Latency: from the moment this process got the 2xx to the event's inbox row's
 *     `processed_at` (stamped when the processor records the result: in the transaction that
 *     commits the state the event changed, just before its COMMIT, so the COMMIT's own flush —
 *     about a millisecond — is not counted; before that change, in a transaction after it).
 *     Before the first rate of each scheduler count, a warm-up (not timed, printed under the
 *     table): 200 events at 50/s right after the processes start, then 200 at 200/s, each
 *     until all are worked: a fresh process runs its code cold (compiled on first call), and
 *     the first burst a fresh stack meets also opens and first uses connections and code
 *     paths 50/s never needs (measured 2026-12-06: the first second of the first 200/s,
 *     2xx → committed p50 200–330 ms, where a second 200/s window right after began at
 *     19–26 ms). The table's rates are steady rates of a warm stack; the warm-up's own
 *     figures, the cold burst's included, are printed under it.
 *     "p95 from 5 s on": the events acknowledged after the rate's first 5 s only (the
 *     first seconds of a rate carry its onset, see ONSET_MS; the goal is judged on the full
 *     window). The sender's CPU per event is this process's (all its threads) while it sent.
 *     Backlog: the batch's rows not yet processed when the sending window ended. The rate
 *     waits for the batch to drain before the next starts. Ceiling beside it: pgbench TPS of
 *     a susu-like write (update one row + insert one, bench/stack.ts) ÷ the database commits
 *     one event took in the window (pg_stat_database.xact_commit delta ÷ events; every
 *     commit counted, reads and pg-boss polling included, so a low ceiling).
 *
 * With `--email`, (b)'s schedulers run with e-mail configured (`SUSU_SMTP_URL`, as production
 * runs them) against a mail server in this process that accepts everything (bench/mail-sink.ts):
 * each event's notices are queued as e-mail deliveries and sent, on the same cores, and each
 * rate starts once the e-mails of the one before are all out. Without it the notices find no
 * recipient and cost only their look-up.
 *
 * The run checks itself and exits 1 when: an event got no 2xx, a 2xx'd event is not in the
 * inbox, an event was not processed (failed, parked, ignored or never drained), a seeded
 * payment is not `held` after its event, or the ledger disagrees with its postings.
 * Figures on a loaded machine are not final: the integrator reruns on a quiet one.
 */
import { rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { PrismaLedgerStore } from "@susu/adapters";
import { EmulatorControl } from "@susu/stripe-emulator";
import type Stripe from "stripe";
import { signatureHeader } from "../packages/stripe-emulator/src/webhooks/signature.js";
import { countHeldIn, gatewayTo, seedCheckouts } from "./held-seed.js";
import { IDLE_SOCKET_MS } from "./http-agent.js";
import { startMailSink } from "./mail-sink.js";
import { postText, RawHttpConnection, RawHttpPool } from "./raw-http.js";
import { embeddedPostgres } from "./seed.js";
import {
  type AppProcess,
  busyWarning,
  comparableWriteTps,
  countOf,
  fmt,
  knobs,
  latencyCells,
  machineLine,
  nextXid,
  type PgbenchResult,
  percentile,
  pgbench,
  pool,
  prismaOn,
  type StackConfig,
  sleep,
  startApi,
  startEmulatorProcess,
  startScheduler,
  table,
  xactCommits,
} from "./stack.js";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    clients: { type: "string" },
    "ingest-seconds": { type: "string" },
    rates: { type: "string" },
    seconds: { type: "string" },
    schedulers: { type: "string" },
    "drain-timeout": { type: "string" },
    email: { type: "boolean", default: false },
    log: { type: "string", default: join(tmpdir(), "susu-bench-webhooks.log") },
  },
});
const quick = values.quick;
const list = (text: string) =>
  text
    .split(",")
    .filter((x) => x !== "")
    .map(Number);
const CLIENTS = list(values.clients ?? (quick ? "4,16" : "16,64,256"));
const INGEST_SECONDS = Number(values["ingest-seconds"] ?? (quick ? 2 : 5));
const RATES = list(values.rates ?? (quick ? "20,50" : "50,200,1000"));
const SECONDS = Number(values.seconds ?? (quick ? 3 : 10));
const SCHEDULERS = list(values.schedulers ?? (quick ? "1" : "1,2"));
const DRAIN_TIMEOUT_MS = Number(values["drain-timeout"] ?? (quick ? 30 : 900)) * 1000;
const loadBefore = loadavg();
const problems: string[] = [];

// --- the stack -----------------------------------------------------------------------------------

writeFileSync(values.log, "");
const { dir: pgDir, database } = await embeddedPostgres("susu-bench-webhooks-", "susu_bench_webhooks");
const prisma = prismaOn(database.connectionString);
// No webhook endpoint at the emulator: this process is Stripe's sender.
const emulator = await startEmulatorProcess({ fees: false });
const config: StackConfig = {
  connectionString: database.connectionString,
  stripeUrl: emulator.url,
  stripeSecretKey: emulator.secretKey,
  webhookSecret: emulator.webhookSecret,
  log: values.log,
};
const api = await startApi(config);
const endpoint = `${api.url}/webhooks/stripe`;
// --email: the schedulers with e-mail configured, as production runs them (a mail server in
// this process that accepts everything, bench/mail-sink.ts): each event's notices are queued
// and sent too, and each rate starts once the e-mails of the one before are out.
const mail = values.email ? await startMailSink() : undefined;
const mailEnv =
  mail === undefined
    ? {}
    : { SUSU_SMTP_URL: mail.url, SUSU_MAIL_FROM: "susu bench <no-reply@bench.invalid>" };
/** Waits (up to the drain timeout) until no e-mail delivery is left to send. */
async function deliveriesSent(): Promise<void> {
  if (mail === undefined) return;
  const deadline = performance.now() + DRAIN_TIMEOUT_MS;
  for (;;) {
    const left = await countOf(
      prisma,
      "SELECT count(*) AS n FROM notification_deliveries WHERE status IN ('queued', 'retrying')",
    );
    if (left === 0) return;
    if (performance.now() > deadline) {
      problems.push(`${left} e-mail deliveries not sent within the drain timeout`);
      return;
    }
    await sleep(200);
  }
}

// Stripe's sender, in (b) and the warm-ups, is a load generator's (bench/raw-http.ts): each
// request written as one ready-made string on a kept-alive connection, a new connection
// opened whenever none is idle (open loop: no request waits for another's answer). node:http
// cost this process about 0.7 ms of CPU per request at 200/s (its agent, header objects and
// streams, and each event's JSON made at its send time), taken on two cores from the API,
// the scheduler and PostgreSQL it measures; (b)'s rows print what it costs now. Idle
// connections are closed before the API closes them (bench/http-agent.ts).
/** Why requests got no HTTP answer (status 0), by error code, over the whole run. */
const transportErrors = new Map<string, number>();
const noAnswer = (error: Error & { code?: string }) => {
  const code = error.code ?? error.message;
  transportErrors.set(code, (transportErrors.get(code) ?? 0) + 1);
  return { status: 0, at: Date.now() };
};
const endpointUrl = new URL(endpoint);
const sender = new RawHttpPool(endpointUrl.hostname, Number(endpointUrl.port), IDLE_SOCKET_MS, noAnswer);

/** The whole POST of `body` to the webhook endpoint, signed as Stripe signs it at `now` (epoch s). */
function signedRequest(body: string, now: number): string {
  return postText(
    endpointUrl.host,
    endpointUrl.pathname,
    {
      "Content-Type": "application/json",
      "Stripe-Signature": signatureHeader(emulator.webhookSecret, body, now),
    },
    body,
  );
}

/** POSTs `body` signed now; the status (0: no answer) and when the answer came (epoch ms). */
async function post(body: string): Promise<{ status: number; at: number }> {
  const { status } = await sender.send(signedRequest(body, Math.floor(Date.now() / 1000)));
  return { status, at: Date.now() };
}

// --- the payments whose events (b) sends ----------------------------------------------------------

const perBatch = RATES.map((r) => Math.round(r * SECONDS));
// Each scheduler count's processes are warmed before its first rate is timed (see (b)).
const WARM_RATES = [50, 200] as const;
const WARM_PER_RATE = quick ? 20 : 200;
const WARM_EVENTS = RATES.length > 0 ? WARM_PER_RATE * WARM_RATES.length : 0;
// At least a few payments even without (b): (a)'s bodies are copies of their events.
const total = Math.max(8, (perBatch.reduce((a, b) => a + b, 0) + WARM_EVENTS) * SCHEDULERS.length);
const seedStart = performance.now();
const seeded = await seedCheckouts({
  connectionString: database.connectionString,
  stripeUrl: emulator.url,
  secretKey: emulator.secretKey,
  count: total,
  sellers: 20,
  concurrency: 8,
  prefix: "wh",
});
const control = new EmulatorControl(emulator.url);
await pool(seeded, 16, async (s) => {
  await control.completeCheckoutSession(s.checkoutSessionId, { paymentMethod: "pm_card_visa" });
});
const stripe = gatewayTo(emulator.url, emulator.secretKey).stripe;
const completedBySession = new Map<string, Stripe.Event>();
const templates: Stripe.Event[] = [];
for await (const event of stripe.events.list({ limit: 100, type: "checkout.session.completed" })) {
  const session = event.data.object as Stripe.Checkout.Session;
  completedBySession.set(session.id, event);
}
// Ingest's bodies: the newest events of a payment (PaymentIntent, charge, checkout), as Stripe sends them.
for (const event of (await stripe.events.list({ limit: 100 })).data)
  if (templates.length < 20 && /^(payment_intent|charge|checkout)\./.test(event.type)) templates.push(event);
const batches: { heldPaymentId: string; event: Stripe.Event }[] = seeded.map((s) => {
  const event = completedBySession.get(s.checkoutSessionId);
  if (event === undefined) throw new Error(`no checkout.session.completed for ${s.checkoutSessionId}`);
  return { heldPaymentId: s.heldPaymentId, event };
});
const seedSeconds = (performance.now() - seedStart) / 1000;

// --- (a) ingest ----------------------------------------------------------------------------------

interface IngestRow {
  readonly clients: number;
  readonly sent: number;
  readonly ok: number;
  readonly perSecond: number;
  readonly latencies: number[];
  readonly ceiling: PgbenchResult;
  /** This process's CPU (user + system) over the row's window ÷ requests sent. */
  readonly senderCpuUsPerRequest: number;
}
const ingestRows: IngestRow[] = [];
const averageBytes =
  templates.reduce((n, t) => n + JSON.stringify(t).length, 0) / Math.max(1, templates.length);
// Bound as a parameter (-D), as the API's driver sends it, not spliced into the SQL.
const ceilingPayload = JSON.stringify(templates[0] ?? {});
const ingestTable = "bench_webhook_events";
await prisma.$executeRawUnsafe(`CREATE TABLE ${ingestTable} (LIKE webhook_events INCLUDING ALL)`);
const ingestScript = join(tmpdir(), `susu-bench-ingest-${process.pid}.sql`);
writeFileSync(
  ingestScript,
  `INSERT INTO ${ingestTable} (id, type, livemode, api_version, stripe_created_at, payload, status, attempts, next_attempt_at, received_at) VALUES ('evt_' || gen_random_uuid()::text, 'payment_intent.succeeded', false, '2024-06-20', now(), :payload::jsonb, 'received', 0, now(), now()) ON CONFLICT (id) DO NOTHING;\n`,
);
// Warm-up (not reported): the API's JIT, its connection pool, PostgreSQL's caches.
await Promise.all(
  Array.from({ length: 4 }, async (_, c) => {
    for (let i = 0; i < 50; i++)
      await post(JSON.stringify({ ...templates[i % templates.length], id: `evt_ingest_warm_${c}_${i}` }));
  }),
);
await prisma.$executeRawUnsafe("DELETE FROM webhook_events WHERE id LIKE 'evt_ingest_%'");
// Each template's JSON with its id and created left as holes, filled per request by joining
// strings: this process's CPU is taken from the API and PostgreSQL it measures.
const ID_HOLE = "\u0000id\u0000";
const CREATED_HOLE = "\u0000created\u0000";
const bodyParts = templates.map((t) =>
  JSON.stringify({ ...t, id: ID_HOLE, created: CREATED_HOLE })
    .replace(JSON.stringify(ID_HOLE), ID_HOLE)
    .replace(JSON.stringify(CREATED_HOLE), CREATED_HOLE),
);
const ingestBody = (i: number, id: string, created: number) =>
  (bodyParts[i % bodyParts.length] as string)
    .replace(ID_HOLE, JSON.stringify(id))
    .replace(CREATED_HOLE, String(created));
/** The whole signed POST of template `i` under `id`, created and signed now. */
const ingestRequest = (i: number, id: string) => {
  const now = Math.floor(Date.now() / 1000);
  return signedRequest(ingestBody(i, id, now), now);
};
for (const clients of CLIENTS) {
  let n = 0;
  let ok = 0;
  const okIds: string[] = [];
  const latencies: number[] = [];
  const connections = Array.from(
    { length: clients },
    () => new RawHttpConnection(endpointUrl.hostname, Number(endpointUrl.port), noAnswer),
  );
  // Each connection opened and used once before the clock starts (not counted; its row is
  // deleted with the others).
  await Promise.all(
    connections.map((connection, c) => connection.send(ingestRequest(c, `evt_ingest_${clients}_open_${c}`))),
  );
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const until = started + INGEST_SECONDS * 1000;
  await Promise.all(
    connections.map(async (connection) => {
      while (performance.now() < until) {
        const i = n++;
        const id = `evt_ingest_${clients}_${i}`;
        const text = ingestRequest(i, id);
        const t0 = performance.now();
        const { status } = await connection.send(text);
        latencies.push(performance.now() - t0);
        if (status === 200) {
          ok += 1;
          okIds.push(id);
        }
      }
    }),
  );
  const cpu = process.cpuUsage(cpuBefore);
  for (const connection of connections) connection.close();
  const elapsed = (performance.now() - started) / 1000;
  const [stored] = await prisma.$queryRawUnsafe<{ n: bigint }[]>(
    "SELECT count(*) AS n FROM webhook_events WHERE id = ANY($1::text[])",
    okIds,
  );
  if (Number(stored?.n ?? 0) !== ok)
    problems.push(`ingest ${clients} clients: ${ok} acknowledged, ${stored?.n ?? 0} stored`);
  if (ok !== n) problems.push(`ingest ${clients} clients: ${n - ok} of ${n} requests got no 200`);
  await prisma.$executeRawUnsafe("DELETE FROM webhook_events WHERE id LIKE 'evt_ingest_%'");
  const ceiling = await pgbench(database.connectionString, ingestScript, clients, INGEST_SECONDS, prisma, {
    payload: ceilingPayload,
  });
  await prisma.$executeRawUnsafe(`TRUNCATE ${ingestTable}`);
  ingestRows.push({
    clients,
    sent: n,
    ok,
    perSecond: ok / elapsed,
    latencies,
    ceiling,
    senderCpuUsPerRequest: (cpu.user + cpu.system) / Math.max(1, n),
  });
}
rmSync(ingestScript, { force: true });
const writeCeiling = await comparableWriteTps(database.connectionString, prisma, 16, quick ? 2 : 5);

// --- (b) 2xx → committed -------------------------------------------------------------------------

interface CommitRow {
  readonly schedulers: number;
  readonly rate: number;
  readonly sent: number;
  readonly ok: number;
  readonly achieved: number;
  readonly latencies: number[];
  /** The latencies of the events acknowledged after the rate's first {@link ONSET_MS}. */
  readonly settled: number[];
  readonly sendLatencies: number[];
  readonly backlogAtEnd: number;
  readonly drainSeconds: number;
  readonly undrained: number;
  readonly commitsPerEvent: number;
  readonly writesPerEvent: number;
  /** This process's CPU per request while it sent them (µs): the load generator's share of the cores. */
  readonly senderCpuUsPerRequest: number;
}

/**
 * The start of each rate the "from 5 s on" column leaves out. A rate starts on an idle stack
 * (the last one drained): at 200/s on two cores, the first second's events fall hundreds of
 * milliseconds behind and the next seconds carry that lag, shrinking it only by what the
 * cores have to spare (a per-second timeline on 2026-12-06: p50 0.5–0.8 s from 0.5 s to 3.5 s
 * in, 30–60 ms from 6 s on). The full window's figures are the ones the goal is judged on.
 */
const ONSET_MS = 5_000;
const commitRows: CommitRow[] = [];

/**
 * Sends each event of `batch` signed at its due time (open loop at `rate`/s, whatever the
 * answers), then waits for the rows to be worked (up to the drain timeout). When each 2xx
 * came, the sends' lateness behind schedule, and the backlog when the window closed.
 */
async function sendAtRate(batch: readonly { event: Stripe.Event }[], rate: number) {
  const ids = batch.map((b) => b.event.id);
  const okAt = new Map<string, number>();
  const sendLatencies: number[] = [];
  let sentCount = 0;
  // Each body made before the clock starts; only its signature is made at its send time.
  const bodies = batch.map(({ event }) => JSON.stringify(event));
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const startedAt = Date.now();
  const inFlight: Promise<void>[] = [];
  for (const [i, { event }] of batch.entries()) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    sentCount += 1;
    inFlight.push(
      post(bodies[i] as string).then(({ status, at }) => {
        sendLatencies.push(performance.now() - due);
        if (status === 200) okAt.set(event.id, at);
      }),
    );
  }
  const windowEnd = performance.now();
  const pending = () =>
    countOf(
      prisma,
      "SELECT count(*) AS n FROM webhook_events WHERE id = ANY($1::text[]) AND status IN ('received', 'failed')",
      ids,
    );
  // Not yet processed when the window closed: still being sent, or stored and waiting.
  const backlogAtEnd =
    sentCount -
    (await countOf(
      prisma,
      "SELECT count(*) AS n FROM webhook_events WHERE id = ANY($1::text[]) AND status IN ('processed', 'ignored', 'parked')",
      ids,
    ));
  await Promise.all(inFlight);
  const cpu = process.cpuUsage(cpuBefore);
  const senderCpuUsPerRequest = (cpu.user + cpu.system) / Math.max(1, sentCount);
  let undrained = await pending();
  while (undrained > 0 && performance.now() - windowEnd < DRAIN_TIMEOUT_MS) {
    await sleep(200);
    undrained = await pending();
  }
  return {
    ids,
    okAt,
    sendLatencies,
    sentCount,
    started,
    startedAt,
    windowEnd,
    backlogAtEnd,
    undrained,
    senderCpuUsPerRequest,
  };
}

/** The events' inbox rows, and 2xx → processed_at of each processed one. */
async function committedAfter(
  ids: readonly string[],
  okAt: ReadonlyMap<string, number>,
  settledFrom = Number.NEGATIVE_INFINITY,
) {
  const rows = await prisma.$queryRawUnsafe<{ id: string; status: string; processed_ms: number | null }[]>(
    "SELECT id, status::text AS status, (extract(epoch FROM processed_at) * 1000)::float8 AS processed_ms FROM webhook_events WHERE id = ANY($1::text[])",
    ids,
  );
  const latencies: number[] = [];
  const settled: number[] = [];
  for (const row of rows) {
    const at = okAt.get(row.id);
    if (row.status === "processed" && row.processed_ms !== null && at !== undefined) {
      latencies.push(row.processed_ms - at);
      if (at >= settledFrom) settled.push(row.processed_ms - at);
    }
  }
  return { rows, latencies, settled };
}

/**
 * With `BENCH_TIMELINE=1`, each rate's 2xx → committed by the second its 2xx came in (from
 * the rate's start): how the lag builds at the onset and drains, printed under the tables.
 */
const timelines: string[] = [];
// The bench's own switches, read from the environment as the apps' are not (not turbo's).
const benchEnv: Record<string, string | undefined> = process.env;
function timeline(
  label: string,
  rows: readonly { id: string; status: string; processed_ms: number | null }[],
  okAt: ReadonlyMap<string, number>,
  startedAt: number,
): string {
  const bySecond: number[][] = [];
  for (const row of rows) {
    const at = okAt.get(row.id);
    if (row.processed_ms === null || at === undefined) continue;
    const second = Math.max(0, Math.floor((at - startedAt) / 1000));
    const inSecond = bySecond[second] ?? [];
    inSecond.push(row.processed_ms - at);
    bySecond[second] = inSecond;
  }
  const cells = [...bySecond.entries()].map(([second, l = []]) => {
    const sorted = [...l].sort((a, b) => a - b);
    return [
      String(second),
      String(sorted.length),
      fmt(percentile(sorted, 50), 0),
      fmt(percentile(sorted, 95), 0),
      fmt(sorted.at(-1) ?? 0, 0),
    ];
  });
  return `\n${label}: 2xx → committed by the second the 2xx came\n\n${table(["s", "events", "p50 ms", "p95 ms", "max ms"], cells)}`;
}

/** What the warm-up of each scheduler count saw (not in the table). */
const warmUps: { schedulers: number; rate: number; events: number; latencies: number[] }[] = [];
let offset = 0;
for (const count of SCHEDULERS) {
  const schedulers: AppProcess[] = [];
  for (let k = 0; k < count; k++)
    schedulers.push(await startScheduler(config, `bench-scheduler-${count}-${k}`, mailEnv));
  // Warm-up, not timed: fresh processes run their code cold (compiled on first call), so
  // their first events take far longer than the steady state the rates measure (measured on
  // 2026-12-04, before the scheduler opened its kept connections at start: a median of 302 ms
  // over the first 25 events at 50/s, 5–6 ms from the 100th on). Printed under the table.
  for (const warmRate of WARM_EVENTS > 0 ? WARM_RATES : []) {
    const warm = batches.slice(offset, offset + WARM_PER_RATE);
    offset += warm.length;
    const sent = await sendAtRate(warm, warmRate);
    const { latencies } = await committedAfter(sent.ids, sent.okAt);
    warmUps.push({ schedulers: count, rate: warmRate, events: warm.length, latencies });
    if (sent.okAt.size !== warm.length)
      problems.push(`warm-up of ${count} scheduler(s): ${warm.length - sent.okAt.size} events got no 200`);
    if (sent.undrained > 0)
      problems.push(`warm-up of ${count} scheduler(s): ${sent.undrained} events not drained`);
    await sleep(1_100); // its last commits reach pg_stat_database before the first row counts them
  }
  for (const [r, rate] of RATES.entries()) {
    await deliveriesSent();
    const batch = batches.slice(offset, offset + (perBatch[r] ?? 0));
    offset += batch.length;
    const commitsBefore = await xactCommits(prisma);
    const xidBefore = await nextXid(prisma);
    const sent = await sendAtRate(batch, rate);
    const { ids, okAt, sendLatencies, sentCount, started, windowEnd, backlogAtEnd, undrained } = sent;
    const achieved = sentCount / ((windowEnd - started) / 1000);
    const drainSeconds = (performance.now() - windowEnd) / 1000;
    await sleep(1_100); // the statistics of the last commits reach pg_stat_database
    const commits = (await xactCommits(prisma)) - commitsBefore;
    const writes = (await nextXid(prisma)) - xidBefore;
    const { rows, latencies, settled } = await committedAfter(ids, okAt, sent.startedAt + ONSET_MS);
    if (benchEnv.BENCH_TIMELINE === "1")
      timelines.push(timeline(`${count} scheduler(s), ${rate}/s`, rows, okAt, sent.startedAt));
    const byStatus = new Map<string, number>();
    for (const row of rows) byStatus.set(row.status, (byStatus.get(row.status) ?? 0) + 1);
    const label = `${count} scheduler(s), ${rate}/s`;
    if (okAt.size !== batch.length) problems.push(`${label}: ${batch.length - okAt.size} events got no 200`);
    if (rows.length !== okAt.size)
      problems.push(`${label}: ${okAt.size} acknowledged, ${rows.length} in the inbox`);
    const processed = byStatus.get("processed") ?? 0;
    if (processed !== batch.length)
      problems.push(
        `${label}: ${processed}/${batch.length} processed (${[...byStatus].map(([s, n]) => `${s} ${n}`).join(", ")})`,
      );
    const held = await countHeldIn(
      prisma,
      batch.map((b) => b.heldPaymentId),
      "held",
    );
    if (held !== batch.length) problems.push(`${label}: ${held}/${batch.length} payments held`);
    commitRows.push({
      schedulers: count,
      rate,
      sent: sentCount,
      ok: okAt.size,
      achieved,
      latencies,
      settled,
      sendLatencies,
      backlogAtEnd,
      drainSeconds,
      undrained,
      commitsPerEvent: commits / Math.max(1, batch.length),
      writesPerEvent: writes / Math.max(1, batch.length),
      senderCpuUsPerRequest: sent.senderCpuUsPerRequest,
    });
  }
  await Promise.all(schedulers.map((s) => s.stop()));
}

const ledgerCheck = await new PrismaLedgerStore(prisma).checkLedger();
if (ledgerCheck.isErr() || !ledgerCheck.value.agrees) problems.push("the ledger disagrees with its postings");

// --- the tables ----------------------------------------------------------------------------------

console.log(`\n## Webhooks (bench/webhooks.ts${quick ? " --quick" : ""})\n`);
if (transportErrors.size > 0)
  console.log(
    `Requests with no HTTP answer, by the sender's error: ${[...transportErrors].map(([code, n]) => `${code} ×${n}`).join(", ")}\n`,
  );
console.log(machineLine(loadBefore));
const warning = busyWarning(loadBefore);
if (warning) console.log(warning);
console.log(
  `Processes: the API, scheduler processes as listed, the emulator, embedded PostgreSQL (durable), this sender; all on this machine. Knobs passed through: ${knobs()}. Setup (not timed): ${total} held payments seeded and paid at the emulator in ${seedSeconds.toFixed(0)} s.`,
);
const ceilingCell = (c: PgbenchResult, per = 1) =>
  c.ok ? `${fmt(c.tps / per, 0)}${c.clients !== undefined ? ` (${c.clients} clients)` : ""}` : "skipped";
if (ingestRows.length === 0) console.log("\n(a) Ingest: not run (no --clients).");
else {
  console.log(
    `\n(a) Ingest: signed POST /webhooks/stripe, closed loop, ${INGEST_SECONDS} s per row, events of ~${averageBytes.toFixed(0)} bytes; ceiling: pgbench single-row INSERT into a table LIKE webhook_events, -M prepared, same payload, same clients (capped by max_connections).\n`,
  );
  console.log(
    table(
      [
        "clients",
        "requests",
        "200s",
        "events/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "sender CPU µs/req",
        "pgbench TPS (ceiling)",
        "ratio",
        "goal ≥1.0× & p99<50",
      ],
      ingestRows.map((r) => {
        const [p50, p95, p99, max] = latencyCells(r.latencies);
        const sorted = [...r.latencies].sort((a, b) => a - b);
        const p99n = sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)] ?? Number.NaN;
        const ratio = r.ceiling.ok ? r.perSecond / r.ceiling.tps : Number.NaN;
        return [
          String(r.clients),
          String(r.sent),
          String(r.ok),
          fmt(r.perSecond, 0),
          p50 ?? "",
          p95 ?? "",
          p99 ?? "",
          max ?? "",
          fmt(r.senderCpuUsPerRequest, 0),
          ceilingCell(r.ceiling),
          fmt(ratio, 2),
          r.ceiling.ok ? (ratio >= 1 && p99n < 50 ? "met" : "not met") : "—",
        ];
      }),
    ),
  );
  for (const r of ingestRows) if (!r.ceiling.ok) console.log(`pgbench row skipped: ${r.ceiling.why}`);
}
console.log(
  `\n(b) 2xx → committed: open loop, ${SECONDS} s per rate; every event a real checkout.session.completed moving a held payment to held; ${mail === undefined ? "e-mail not configured (the notices are queued for no one)" : `e-mail configured: each event's notices e-mailed too (${mail.received()} e-mails sent in all)`}; latency from the 2xx to processed_at. Ceiling: pgbench TPS of a susu-like write (UPDATE 1 row + INSERT 1 row, 16 clients) = ${ceilingCell(writeCeiling)}, ÷ the DB commits per event measured in the window.\n`,
);
console.log(
  table(
    [
      "schedulers",
      "rate/s",
      "sent",
      "200s",
      "sent/s",
      "p50 ms",
      "p95 ms",
      "p99 ms",
      "max ms",
      "p95 ms from 5 s on",
      "send→2xx p99 ms",
      "backlog at end",
      "drained in s",
      "commits/event",
      "write tx/event",
      "ceiling events/s",
      "sender CPU µs/event",
    ],
    commitRows.map((r) => {
      const [p50, p95, p99, max] = latencyCells(r.latencies);
      const send = latencyCells(r.sendLatencies);
      return [
        String(r.schedulers),
        String(r.rate),
        String(r.sent),
        String(r.ok),
        fmt(r.achieved, 0),
        p50 ?? "",
        p95 ?? "",
        p99 ?? "",
        max ?? "",
        latencyCells(r.settled)[1] ?? "",
        send[2] ?? "",
        String(r.backlogAtEnd),
        r.undrained > 0 ? `not (${r.undrained} left)` : fmt(r.drainSeconds, 1),
        fmt(r.commitsPerEvent, 1),
        fmt(r.writesPerEvent, 1),
        writeCeiling.ok ? fmt(writeCeiling.tps / r.commitsPerEvent, 0) : "skipped",
        fmt(r.senderCpuUsPerRequest, 0),
      ];
    }),
  ),
);
if (!writeCeiling.ok) console.log(`pgbench ceiling skipped: ${writeCeiling.why}`);
for (const w of warmUps) {
  const [p50, p95, , max] = latencyCells(w.latencies);
  console.log(
    `Warm-up before the rows of ${w.schedulers} scheduler(s), not in the table: ${w.events} events at ${w.rate}/s${w.rate === WARM_RATES[0] ? " as the processes had just started" : ", the fresh stack's first burst"}, 2xx → committed p50 ${p50} ms, p95 ${p95} ms, max ${max} ms.`,
  );
}
console.log(
  "\nGoals (issue 11): ingest ≥ 1.0× pgbench with p99 < 50 ms; 2xx → committed p95 < 50 ms at 200/s; no growing backlog at 1,000/s.",
);
console.log(
  `check: every event acknowledged, stored, processed; every payment held; ledger ${ledgerCheck.isOk() && ledgerCheck.value.agrees ? "agrees" : "DISAGREES"} → ${problems.length === 0 ? "OK" : "FAILED"}`,
);
for (const p of problems.slice(0, 20)) console.log(`  ${p}`);
for (const t of timelines) console.log(t);

// --- stop ----------------------------------------------------------------------------------------

sender.close();
await api.stop();
await emulator.stop();
await mail?.close();
await prisma.$disconnect();
await database.close();
rmSync(pgDir, { recursive: true, force: true });
process.exit(problems.length === 0 ? 0 : 1);
