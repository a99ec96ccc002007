/**
 * Benchmark: 10,000 payments in flight at once (issue 11; the marketplace seed's figure:
 * "10,000 concurrent transactions, 95% processed in under 3 s").
 *
 *   npx tsx bench/in-flight.ts [--payments 10000] [--schedulers 1] [--pay-concurrency 64]
 *                              [--delivery-concurrency 32] [--timeout 1800]
 *                              [--log /tmp/susu-bench-in-flight.log]
 *   npx tsx bench/in-flight.ts --quick      (100 payments, a smoke run of about a minute)
 *
 * What "in flight" means here, precisely: `--payments` held payments (100.00 AUD, 10% fee)
 * are made beforehand through `useCases.createHeldPayment`, each with its Checkout Session
 * at the emulator (not timed). Then every customer pays at once: this process completes all
 * the sessions at the emulator (its control endpoint, `--pay-concurrency` requests at a time,
 * as fast as the emulator takes them). Stripe's side — the emulator in its own process —
 * delivers the events (checkout.session.completed, payment_intent.*, charge.*) signed to
 * the API's `/webhooks/stripe` (`--delivery-concurrency` deliveries in flight, as Stripe
 * delivers concurrently); the API stores them; the scheduler process(es) apply them. A
 * payment is processed when susu commits it `held`: the moment is taken inside PostgreSQL
 * by a trigger this bench puts on its own database (AFTER UPDATE of held_payments to
 * status held → clock_timestamp() into bench_held_at), so no polling blurs it.
 *
 * Latencies per payment (ms, one clock: everything runs on this machine):
 * - **request → held**: from the moment this process sent the payment's completion (the
 *   customer paying) to the commit of `held`: the seed's figure;
 * - **webhook 2xx → held**: from the API's 2xx to the emulator's delivery of the payment's
 *   checkout.session.completed (the emulator's delivery record: attempt start + duration)
 *   to the commit of `held` (negative when another event of the payment got there first).
 * Throughput: payments ÷ (last held − first request). Ceiling beside it: pgbench TPS of a
 * susu-like write (bench/stack.ts) ÷ the database commits per payment measured over the
 * burst (pg_stat_database.xact_commit delta ÷ payments; every commit counted).
 *
 * Checks (exit 1 when one fails): every payment `held` (none lost), exactly one
 * PaymentIntent per payment at the emulator and no transfer (none doubled), no webhook
 * delivery left failed, no inbox event failed or parked and none left unprocessed, the
 * ledger agrees with its postings.
 */
import { randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { PrismaLedgerStore, SUSU_WEBHOOK_EVENT_TYPES } from "@susu/adapters";
import { EmulatorControl } from "@susu/stripe-emulator";
import { countHeldIn, gatewayTo, seedCheckouts } from "./held-seed.js";
import { embeddedPostgres } from "./seed.js";
import {
  type AppProcess,
  busyWarning,
  comparableWriteTps,
  countOf,
  fmt,
  freePort,
  knobs,
  latencyCells,
  machineLine,
  nextXid,
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
    payments: { type: "string" },
    schedulers: { type: "string", default: "1" },
    "pay-concurrency": { type: "string", default: "64" },
    "delivery-concurrency": { type: "string", default: "32" },
    timeout: { type: "string" },
    log: { type: "string", default: join(tmpdir(), "susu-bench-in-flight.log") },
    events: { type: "string", default: "susu" },
  },
});
/** The endpoint's types: susu's (SUSU_WEBHOOK_EVENT_TYPES, as an operator subscribes it) or every type. */
const ENABLED_EVENTS = values.events === "all" ? ["*"] : [...SUSU_WEBHOOK_EVENT_TYPES];
const N = Number(values.payments ?? (values.quick ? 100 : 10_000));
const SCHEDULERS = Number(values.schedulers);
const PAY_CONCURRENCY = Number(values["pay-concurrency"]);
const DELIVERY_CONCURRENCY = Number(values["delivery-concurrency"]);
const TIMEOUT_MS = Number(values.timeout ?? (values.quick ? 60 : 1800)) * 1000;
const loadBefore = loadavg();
const problems: string[] = [];

// --- the stack: the emulator delivers to the API ----------------------------------------------------

writeFileSync(values.log, "");
const { dir: pgDir, database } = await embeddedPostgres("susu-bench-inflight-", "susu_bench_inflight");
const prisma = prismaOn(database.connectionString);
const apiPort = await freePort();
const webhookSecret = `whsec_${randomBytes(24).toString("hex")}`;
const emulator = await startEmulatorProcess({
  fees: false,
  webhookUrl: `http://127.0.0.1:${apiPort}/webhooks/stripe`,
  webhookEnabledEvents: ENABLED_EVENTS,
  webhookSecret,
  webhookConcurrency: DELIVERY_CONCURRENCY,
  webhookRealTimeRetryMs: 1_000,
});
const config: StackConfig = {
  connectionString: database.connectionString,
  stripeUrl: emulator.url,
  stripeSecretKey: emulator.secretKey,
  webhookSecret,
  log: values.log,
};
const api = await startApi(config, apiPort);
const control = new EmulatorControl(emulator.url);

// When each payment became held, as PostgreSQL saw it: the bench's own table and trigger.
await prisma.$executeRawUnsafe(
  "CREATE TABLE bench_held_at (id text PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())",
);
await prisma.$executeRawUnsafe(`
  CREATE FUNCTION bench_note_held() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO bench_held_at (id) VALUES (NEW.id) ON CONFLICT (id) DO NOTHING;
    RETURN NEW;
  END $$`);
await prisma.$executeRawUnsafe(`
  CREATE TRIGGER bench_held_at AFTER UPDATE OF status ON held_payments
  FOR EACH ROW WHEN (NEW.status = 'held' AND OLD.status IS DISTINCT FROM 'held')
  EXECUTE FUNCTION bench_note_held()`);

// --- the payments (not timed), then the schedulers, idle before the burst -------------------------

const seedStart = performance.now();
const seeded = await seedCheckouts({
  connectionString: database.connectionString,
  stripeUrl: emulator.url,
  secretKey: emulator.secretKey,
  count: N,
  sellers: 50,
  concurrency: 8,
  prefix: "inflight",
});
const seedSeconds = (performance.now() - seedStart) / 1000;
const schedulers: AppProcess[] = [];
for (let k = 0; k < SCHEDULERS; k++) schedulers.push(await startScheduler(config, `bench-inflight-${k}`));
// The seeding's own events (accounts, sessions) delivered and processed before the burst.
await control.flushWebhooks();
const unsettled = () =>
  countOf(prisma, "SELECT count(*) AS n FROM webhook_events WHERE status IN ('received', 'failed')");
for (let i = 0; i < 600 && (await unsettled()) > 0; i++) await sleep(250);
const eventsBefore = await prisma.$queryRawUnsafe<{ n: bigint }[]>(
  "SELECT count(*) AS n FROM webhook_events",
);

// --- the burst -------------------------------------------------------------------------------------

const requestedAt = new Map<string, number>();
const ids = seeded.map((s) => s.heldPaymentId);
const commitsBefore = await xactCommits(prisma);
const xidBefore = await nextXid(prisma);
const burstStart = Date.now();
const paying = pool(seeded, PAY_CONCURRENCY, async (s) => {
  requestedAt.set(s.heldPaymentId, Date.now());
  await control.completeCheckoutSession(s.checkoutSessionId, { paymentMethod: "pm_card_visa" });
});
let held = 0;
for (;;) {
  await sleep(250);
  held = await countHeldIn(prisma, ids, "held");
  if (held === N || Date.now() - burstStart > TIMEOUT_MS) break;
}
await paying;
const payingSeconds = (Math.max(...requestedAt.values()) - burstStart) / 1000;
if (held !== N)
  problems.push(
    `${N - held} of ${N} payments not held within the ${TIMEOUT_MS / 1000} s timeout (late or lost: see the inbox line)`,
  );
await control.flushWebhooks();
for (let i = 0; i < 240 && (await unsettled()) > 0; i++) await sleep(250);
await sleep(1_100); // the last commits' statistics reach pg_stat_database
const commits = (await xactCommits(prisma)) - commitsBefore;
const writes = (await nextXid(prisma)) - xidBefore;
const writeCeiling = await comparableWriteTps(database.connectionString, prisma, 16, values.quick ? 2 : 5);

// --- the figures -----------------------------------------------------------------------------------

const heldRows = await prisma.$queryRawUnsafe<{ id: string; at_ms: number; session: string }[]>(
  `SELECT b.id, (extract(epoch FROM b.at) * 1000)::float8 AS at_ms, h.checkout_session_id AS session
   FROM bench_held_at b JOIN held_payments h ON h.id = b.id`,
);
const heldAt = new Map(heldRows.map((r) => [r.id, r.at_ms]));
const deliveries = await control.webhookDeliveries();
const completedEventOf = new Map<string, string>();
for (const event of (
  await prisma.$queryRawUnsafe<{ id: string; session: string }[]>(
    "SELECT id, payload->'data'->'object'->>'id' AS session FROM webhook_events WHERE type = 'checkout.session.completed'",
  )
).values())
  completedEventOf.set(event.session, event.id);
const ackedAt = new Map<string, number>();
let failedDeliveries = 0;
for (const d of deliveries) {
  const ok = d.attempts.find((a) => a.status !== null && a.status >= 200 && a.status < 300);
  if (ok && !ackedAt.has(d.eventId)) ackedAt.set(d.eventId, ok.at + ok.durationMs);
  if (d.state === "failed") failedDeliveries += 1;
}
const requestToHeld: number[] = [];
const ackToHeld: number[] = [];
for (const s of seeded) {
  const at = heldAt.get(s.heldPaymentId);
  const sent = requestedAt.get(s.heldPaymentId);
  if (at === undefined || sent === undefined) continue;
  requestToHeld.push(at - sent);
  const eventId = completedEventOf.get(s.checkoutSessionId);
  const acked = eventId !== undefined ? ackedAt.get(eventId) : undefined;
  if (acked !== undefined) ackToHeld.push(at - acked);
}
const lastHeld = Math.max(...heldRows.map((r) => r.at_ms));
const throughput = (heldRows.length * 1000) / Math.max(1, lastHeld - burstStart);
const under3s = requestToHeld.filter((ms) => ms < 3_000).length / Math.max(1, N);

// --- the checks ------------------------------------------------------------------------------------

const stripe = gatewayTo(emulator.url, emulator.secretKey).stripe;
const intentsPer = new Map<string, number>();
for await (const pi of stripe.paymentIntents.list({ limit: 100 })) {
  const id = pi.metadata?.held_payment_id;
  if (id !== undefined) intentsPer.set(id, (intentsPer.get(id) ?? 0) + 1);
}
const oneIntent = ids.filter((id) => intentsPer.get(id) === 1).length;
if (oneIntent !== N)
  problems.push(`${N - oneIntent} payments without exactly one PaymentIntent at the emulator`);
const transfers = (await stripe.transfers.list({ limit: 1 })).data.length;
if (transfers !== 0) problems.push("a transfer exists at the emulator before any release");
if (failedDeliveries > 0) problems.push(`${failedDeliveries} webhook deliveries failed for good`);
const inbox = await prisma.$queryRawUnsafe<{ status: string; n: bigint }[]>(
  "SELECT status::text AS status, count(*) AS n FROM webhook_events GROUP BY status ORDER BY status",
);
const inboxLine = inbox.map((r) => `${r.status} ${r.n}`).join(", ");
for (const r of inbox)
  if (r.status !== "processed" && r.status !== "ignored") problems.push(`inbox: ${r.n} events ${r.status}`);
const ledgerCheck = await new PrismaLedgerStore(prisma).checkLedger();
if (ledgerCheck.isErr() || !ledgerCheck.value.agrees) problems.push("the ledger disagrees with its postings");

// --- the table ---------------------------------------------------------------------------------------

const eventsInBurst = inbox.reduce((n, r) => n + Number(r.n), 0) - Number(eventsBefore[0]?.n ?? 0);
const commitsPerPayment = commits / N;
console.log(`\n## ${N} payments in flight (bench/in-flight.ts${values.quick ? " --quick" : ""})\n`);
console.log(machineLine(loadBefore));
const warning = busyWarning(loadBefore);
if (warning) console.log(warning);
console.log(
  `Processes: the API, ${SCHEDULERS} scheduler process(es), the emulator (delivering ${DELIVERY_CONCURRENCY} at a time to an endpoint of ${values.events === "all" ? "every event type" : `susu's ${ENABLED_EVENTS.length} event types`}), embedded PostgreSQL (durable), this process paying ${PAY_CONCURRENCY} at a time; all on this machine. Knobs passed through: ${knobs()}. Setup (not timed): ${N} held payments with Checkout Sessions in ${seedSeconds.toFixed(0)} s. The customers' payments took ${payingSeconds.toFixed(1)} s to send; ${eventsInBurst} webhook events followed.`,
);
const [r50, r95, r99, rmax] = latencyCells(requestToHeld);
const [a50, a95, a99, amax] = latencyCells(ackToHeld);
console.log(
  `\n${table(
    ["latency to held (ms)", "n", "p50", "p95", "p99", "max"],
    [
      ["payment request → held", String(requestToHeld.length), r50 ?? "", r95 ?? "", r99 ?? "", rmax ?? ""],
      ["webhook 2xx → held", String(ackToHeld.length), a50 ?? "", a95 ?? "", a99 ?? "", amax ?? ""],
    ],
  )}\n`,
);
console.log(
  table(
    [
      "payments",
      "held",
      "held/s",
      "commits/payment",
      "write tx/payment",
      "ceiling payments/s (pgbench write TPS ÷ commits)",
      "< 3 s",
      "goal: p95 < 3 s, none lost",
    ],
    [
      [
        String(N),
        String(held),
        fmt(throughput, 1),
        fmt(commitsPerPayment, 1),
        fmt(writes / N, 1),
        writeCeiling.ok
          ? `${fmt(writeCeiling.tps / commitsPerPayment, 0)} (${fmt(writeCeiling.tps, 0)} TPS)`
          : "skipped",
        `${fmt(under3s * 100, 1)}%`,
        Number(r95) < 3_000 && held === N ? "met" : "not met",
      ],
    ],
  ),
);
if (!writeCeiling.ok) console.log(`pgbench ceiling skipped: ${writeCeiling.why}`);
console.log(
  `\ncheck: ${held}/${N} held, ${oneIntent}/${N} with exactly one PaymentIntent, ${transfers} transfers, ${failedDeliveries} failed deliveries, inbox ${inboxLine}, ledger ${ledgerCheck.isOk() && ledgerCheck.value.agrees ? "agrees" : "DISAGREES"} → ${problems.length === 0 ? "OK" : "FAILED"}`,
);
for (const p of problems.slice(0, 20)) console.log(`  ${p}`);

// --- stop ------------------------------------------------------------------------------------------

await Promise.all(schedulers.map((s) => s.stop()));
await api.stop();
await emulator.stop();
await prisma.$disconnect();
await database.close();
rmSync(pgDir, { recursive: true, force: true });
process.exit(problems.length === 0 ? 0 : 1);
