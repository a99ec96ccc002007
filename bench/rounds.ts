/**
 * Benchmark of whole rounds and of held payments through the stack, per second (issue 11).
 *
 *   npx tsx bench/rounds.ts [--groups 20,100,500] [--schedulers 1] [--held on|off]
 *                           [--window-seconds 5] [--timeout 900] [--log /tmp/susu-bench-rounds.log]
 *   npx tsx bench/rounds.ts --quick      (2 groups; a smoke run of about a minute)
 *
 * The processes as production runs them (bench/stack.ts): the API (`apps/api/dist/main.js`;
 * build first) receiving Stripe's webhooks, `--schedulers` scheduler processes
 * (`apps/scheduler/dist/main.js`: the outbox dispatcher, the webhook processor, the timers),
 * the Stripe emulator in its own process delivering its events to the API, an embedded
 * PostgreSQL (durable). This process plays the people, the due-round cron (disabled in the
 * schedulers so it cannot race the bench) and the bank's clock.
 *
 * Set-up (not timed): for every group, 10 people each with a real customer, an accepted BECS
 * mandate and an onboarded connected account at the emulator, and an active weekly group of
 * 100.00 AUD a member, due now; sellers for the held payments. The emulator's webhook
 * endpoint (every event, signed) is made only after, so the set-up's events are not queued.
 *
 * **Rounds**, for each `--groups` count G: the rounds opened at once (`useCases.startRound`,
 * as the due-round cron does, 8 at a time); the schedulers submit the 10 BECS debits each;
 * once every debit is processing, the emulator's clock moves 3 days (the bank settles);
 * its events reach the API, the schedulers apply them, transfer the pot (one transfer per
 * contribution charge) and record it: ends when every round is `paid_out`. Rounds/s =
 * G ÷ (open → debits submitted + clock moved → all paid out). The transactions one round
 * needs: pg_stat_database.xact_commit delta over the phase ÷ G (every commit: reads outside
 * a transaction, pg-boss's and the polling loops' own work included, so an upper bound).
 * Ceiling beside it: pgbench TPS of a susu-like write (UPDATE one row + INSERT one,
 * bench/stack.ts; 16 clients, same PostgreSQL, same run) ÷ that count.
 *
 * **Held payments**, 10 × G of them over G sellers: created through `useCases.createHeldPayment`
 * (as the API would), the schedulers make their Checkout Sessions (phase 1); every customer
 * pays at the emulator, its events reach susu (phase 2, until all `held`); fulfilment is
 * confirmed (not timed) with a `--window-seconds` dispute window; after the window the
 * schedulers' timers start the releases, the transfers are made (phase 3, from the latest
 * window end until all `released`). Held payments/s = count ÷ (phase 1 + 2 + 3); commits and
 * ceiling as for rounds, over the three phases.
 *
 * The run checks itself and exits 1 unless: every round is paid out with exactly 10
 * PaymentIntents and 10 transfers in its transfer group at the emulator and its money
 * (contributed = paid out = 1,000.00, nothing held or in flight) in the ledger; every held
 * payment is released with exactly one 90.00 transfer and its hold empty; no inbox event
 * failed or parked; the ledger agrees with its postings.
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import {
  PrismaLedgerStore,
  PrismaStore,
  RandomIds,
  resolveDatabaseUrl,
  SUSU_WEBHOOK_EVENT_TYPES,
  SystemClock,
} from "@susu/adapters";
import {
  DEFAULT_HELD_PAYMENT_POLICY,
  heldAccounts,
  type Person,
  roundMoney,
  type UseCaseDeps,
  useCaseDepsOn,
  useCases,
} from "@susu/domain";
import { anActiveGroup } from "@susu/domain/testing";
import { EmulatorControl } from "@susu/stripe-emulator";
import type Stripe from "stripe";
import { gatewayTo, seedSellers, unwrap } from "./held-seed.js";
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
  tableChurn,
  xactCommits,
} from "./stack.js";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    groups: { type: "string" },
    schedulers: { type: "string", default: "1" },
    held: { type: "string", default: "on" },
    "window-seconds": { type: "string" },
    timeout: { type: "string" },
    log: { type: "string", default: join(tmpdir(), "susu-bench-rounds.log") },
    statements: { type: "boolean", default: false },
    events: { type: "string", default: "susu" },
  },
});
/** The endpoint's types: susu's (SUSU_WEBHOOK_EVENT_TYPES, as an operator subscribes it) or every type. */
const ENABLED_EVENTS = values.events === "all" ? ["*"] : [...SUSU_WEBHOOK_EVENT_TYPES];
const SIZES = (values.groups ?? (values.quick ? "2" : "20,100,500"))
  .split(",")
  .filter((g) => g !== "")
  .map(Number);
const SCHEDULERS = Number(values.schedulers);
const HELD = values.held !== "off";
const WINDOW_MS = Number(values["window-seconds"] ?? (values.quick ? 2 : 5)) * 1000;
const TIMEOUT_MS = Number(values.timeout ?? (values.quick ? 60 : 900)) * 1000;
const MEMBERS = 10;
const CONTRIBUTION = 100_00;
const SETTLEMENT_SECONDS = 3 * 86_400 + 300;
const loadBefore = loadavg();
const problems: string[] = [];

/**
 * With `--statements`: the server restarted with pg_stat_statements loaded, so each phase
 * can print the statements it ran per unit (a breakdown of the commits; costs a little).
 */
async function statementsCounted(pg: Awaited<ReturnType<typeof embeddedPostgres>>) {
  if (!values.statements) return pg;
  const admin = prismaOn(pg.database.connectionString);
  await admin.$executeRawUnsafe("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'");
  await admin.$disconnect();
  await pg.database.close();
  const database = await resolveDatabaseUrl({
    env: { SUSU_PG_DATA_DIR: pg.dir },
    embeddedDatabase: "susu_bench_rounds",
  });
  const again = prismaOn(database.connectionString);
  await again.$executeRawUnsafe("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
  await again.$disconnect();
  return { dir: pg.dir, database };
}

/** With `--statements`: forgets the statements counted so far. */
async function resetStatements(): Promise<void> {
  if (values.statements) await prisma.$queryRawUnsafe("SELECT pg_stat_statements_reset()::text");
}

/**
 * With `--statements`: the statements run since the last reset, the most called first, per
 * unit: calls, the server's execution time (ms; planning not included, nor parsing,
 * commits or the protocol's own work, which the stack CPU figures count; lock waits
 * included), the rows returned or changed (a claim's events, a batch's rows), and the
 * buffers one call touched (hit or read: the statement's own work, whatever it waited for).
 */
async function printStatements(title: string, units: number): Promise<void> {
  if (!values.statements) return;
  const rows = await prisma.$queryRawUnsafe<
    { calls: bigint; ms: number; rws: number; blocks: number; query: string }[]
  >(
    `SELECT sum(calls) AS calls, sum(total_exec_time)::float8 AS ms, sum(rows)::float8 AS rws,
            sum(shared_blks_hit + shared_blks_read)::float8 AS blocks,
            regexp_replace(left(query, 140), '\\s+', ' ', 'g') AS query
       FROM pg_stat_statements JOIN pg_database d ON d.oid = dbid
      WHERE d.datname = current_database()
      GROUP BY 5 ORDER BY 1 DESC LIMIT 40`,
  );
  const total = rows.reduce((sum, r) => sum + Number(r.calls), 0);
  const totalMs = rows.reduce((sum, r) => sum + r.ms, 0);
  console.log(
    `\n### Statements per ${title} (pg_stat_statements, top 40 of the phase; the bench's own polling included)\n`,
  );
  console.log(
    `| per unit | exec ms per unit | rows per unit | buffers per call | statement |\n| -------- | ---------------- | ------------- | ---------------- | --------- |`,
  );
  for (const r of rows)
    console.log(
      `| ${fmt(Number(r.calls) / units, 1)} | ${fmt(r.ms / units, 2)} | ${fmt(r.rws / units, 1)} | ${fmt(r.blocks / Math.max(1, Number(r.calls)), 0)} | \`${r.query.replaceAll("|", "\\|")}\` |`,
    );
  console.log(`| ${fmt(total / units, 1)} | ${fmt(totalMs / units, 2)} | | | (total of the top 40) |`);
}

// --- the stack (the API and the schedulers start after the set-up) -------------------------------

writeFileSync(values.log, "");
const { dir: pgDir, database } = await statementsCounted(
  await embeddedPostgres("susu-bench-rounds-", "susu_bench_rounds"),
);
const prisma = prismaOn(database.connectionString);
const emulator = await startEmulatorProcess({
  fees: false,
  webhookConcurrency: 16,
  webhookRealTimeRetryMs: 1_000,
});
const control = new EmulatorControl(emulator.url);
const gateway = gatewayTo(emulator.url, emulator.secretKey);
const stripe = gateway.stripe;
const store = new PrismaStore(prisma);
const deps: UseCaseDeps = useCaseDepsOn(store, {
  clock: new SystemClock(),
  ids: new RandomIds(),
  // A short dispute window for the bench (the API's floor is configurable the same way).
  heldPaymentPolicy: { ...DEFAULT_HELD_PAYMENT_POLICY, disputeWindowMinMs: 1_000 },
});

// --- set-up: people with mandates and payout accounts, groups due now ------------------------------

const setupStart = performance.now();
async function member(id: string): Promise<Person> {
  const references = { memberId: id };
  const customer = unwrap(
    await gateway.createCustomer({
      idempotencyKey: `bench:customer:${id}`,
      name: `Member ${id}`,
      references,
      // A first request: made now, under a key Stripe keeps.
      notBefore: Date.now(),
      effectCreatedAt: Date.now(),
    }),
    "customer",
  );
  const setup = unwrap(
    await gateway.createDebitSetup({
      idempotencyKey: `bench:setup:${id}`,
      customerId: customer.customerId,
      references,
    }),
    "debit setup",
  );
  const si = await stripe.setupIntents.confirm(setup.setupIntentId, {
    payment_method_data: {
      type: "au_becs_debit",
      au_becs_debit: { bsb_number: "000000", account_number: "000123456" },
      billing_details: { name: `Member ${id}`, email: "member@example.com" },
    },
    mandate_data: {
      customer_acceptance: {
        type: "online",
        online: { ip_address: "203.0.113.7", user_agent: "susu-bench" },
      },
    },
  });
  const paymentMethodId = typeof si.payment_method === "string" ? si.payment_method : si.payment_method?.id;
  const mandateId = typeof si.mandate === "string" ? si.mandate : si.mandate?.id;
  if (si.status !== "succeeded" || paymentMethodId === undefined || mandateId === undefined)
    throw new Error(`BECS set-up of ${id} is ${si.status}`);
  const account = await stripe.accounts.create({
    type: "express",
    country: "AU",
    capabilities: { transfers: { requested: true } },
  });
  await control.completeAccountOnboarding(account.id);
  return {
    id,
    displayName: id,
    customerId: customer.customerId,
    debit: { paymentMethodId, mandateId, mandateActive: true },
    payout: { connectedAccountId: account.id, payoutsEnabled: true },
    createdAt: Date.now(),
    version: 0,
  };
}

const groupsOfSize = new Map<number, string[]>();
for (const [s, size] of SIZES.entries()) {
  const groupIds = Array.from({ length: size }, (_, g) => `grp_bench_${s}_${g}`);
  await pool(groupIds, 4, async (groupId) => {
    const memberIds = Array.from({ length: MEMBERS }, (_, m) => `${groupId}_m${m}`);
    const people: Person[] = [];
    for (const id of memberIds) people.push(await member(id));
    const group = anActiveGroup({ id: groupId, memberIds, startsAt: Date.now() - 1_000 });
    unwrap(
      await store.commit({
        people: people.map((state) => ({ state, expectedVersion: undefined })),
        groups: [{ state: group, expectedVersion: undefined }],
        rounds: [],
        outbox: [],
        audit: [],
      }),
      `group ${groupId}`,
    );
  });
  groupsOfSize.set(size, groupIds);
}
const sellers = HELD ? await seedSellers(store, emulator.url, stripe, Math.max(...SIZES), 8, "rounds") : [];

// Now the endpoint (the platform's events of the types susu subscribes to, or every type with
// `--events all`), the API with its secret, the schedulers.
const apiPort = await freePort();
const endpoint = await stripe.webhookEndpoints.create({
  url: `http://127.0.0.1:${apiPort}/webhooks/stripe`,
  enabled_events: ENABLED_EVENTS as Stripe.WebhookEndpointCreateParams.EnabledEvent[],
});
const config: StackConfig = {
  connectionString: database.connectionString,
  stripeUrl: emulator.url,
  stripeSecretKey: emulator.secretKey,
  webhookSecret: endpoint.secret ?? "",
  log: values.log,
};
const api = await startApi(config, apiPort);
const schedulers: AppProcess[] = [];
for (let k = 0; k < SCHEDULERS; k++)
  schedulers.push(
    // The due-round cron far away: this bench opens the rounds itself, at a known moment.
    await startScheduler(config, `bench-rounds-${k}`, { SUSU_OPEN_ROUNDS_CRON: "0 0 1 1 *" }),
  );
const setupSeconds = (performance.now() - setupStart) / 1000;

// --- helpers -----------------------------------------------------------------------------------

const count = (sql: string, ...params: unknown[]) => countOf(prisma, sql, ...params);

/** Polls `check` every 200 ms until it is true or the timeout; whether it became true. */
async function until(check: () => Promise<boolean>): Promise<boolean> {
  const start = Date.now();
  for (;;) {
    if (await check()) return true;
    if (Date.now() - start > TIMEOUT_MS) return false;
    await sleep(200);
  }
}

/** Waits for the inbox and the outbox to go quiet (nothing due), between phases. */
async function quiet(): Promise<void> {
  await until(
    async () =>
      (await count("SELECT count(*) AS n FROM webhook_events WHERE status IN ('received', 'failed')")) ===
        0 &&
      (await count(
        "SELECT count(*) AS n FROM outbox_effects WHERE status = 'pending' AND available_at <= now()",
      )) === 0,
  );
}

/** The commit counter and the next transaction id now (after the statistics caught up). */
interface Mark {
  readonly commits: number;
  readonly xid: number;
  readonly cpuMs: number;
}
async function mark(): Promise<Mark> {
  await sleep(1_100); // the last commits' statistics reach pg_stat_database
  return { commits: await xactCommits(prisma), xid: await nextXid(prisma), cpuMs: stackCpuMs() };
}
/** Commits, write transactions (transaction ids given) and the stack's CPU time between two marks. */
async function since(before: Mark): Promise<{ commits: number; writes: number; cpuMs: number }> {
  const now = await mark();
  return {
    commits: now.commits - before.commits,
    writes: now.xid - before.xid,
    cpuMs: now.cpuMs - before.cpuMs,
  };
}

/**
 * CPU time (user + system, ms) of every process this bench started, and of their children
 * (the API, the schedulers, the emulator, PostgreSQL and its backends; an exited backend's
 * time is in its parent's): deterministic enough to compare a change by, unlike wall-clock
 * time on a shared machine. Linux only (/proc); 0 elsewhere.
 */
function stackCpuMs(): number {
  return [...stackCpuByProcess().values()].reduce((sum, ms) => sum + ms, 0);
}

/** {@link stackCpuMs} by the process this bench started (`api`, `scheduler`, `emulator`, `postgres`, …). */
function stackCpuByProcess(): Map<string, number> {
  const by = new Map<string, number>();
  let entries: string[];
  try {
    entries = readdirSync("/proc").filter((e) => /^\d+$/.test(e));
  } catch {
    return by;
  }
  const stats = new Map<number, { ppid: number; ticks: number }>();
  for (const pid of entries) {
    try {
      const text = readFileSync(`/proc/${pid}/stat`, "utf8");
      // The fields after the command (which may hold spaces) in parentheses.
      const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
      const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(f[i] ?? 0), 0);
      stats.set(Number(pid), { ppid: Number(f[1]), ticks });
    } catch {
      // Gone meanwhile.
    }
  }
  const children = new Map<number, number[]>();
  for (const [pid, { ppid }] of stats) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  for (const top of children.get(process.pid) ?? []) {
    let ticks = 0;
    const queue = [top];
    for (let pid = queue.pop(); pid !== undefined; pid = queue.pop()) {
      ticks += stats.get(pid)?.ticks ?? 0;
      queue.push(...(children.get(pid) ?? []));
    }
    const label = processLabel(top);
    by.set(label, (by.get(label) ?? 0) + ticks * 10); // USER_HZ is 100 on Linux
  }
  return by;
}

function processLabel(pid: number): string {
  let command = "";
  try {
    command = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "other";
  }
  if (command.includes("apps/api/")) return "api";
  if (command.includes("apps/scheduler/")) return "scheduler";
  if (command.includes("emulator")) return "emulator";
  if (command.includes("postgres")) return "postgres";
  return "other";
}

// --- held payments (first: the rounds move the emulator's clock days on, past a session's expiry) ---------------------------------------------------------------------------------

interface HeldRow {
  readonly payments: number;
  readonly checkoutSeconds: number;
  readonly heldSeconds: number;
  readonly releaseSeconds: number;
  readonly perSecond: number;
  readonly commitsPerPayment: number;
  readonly writesPerPayment: number;
  readonly cpuMsPerPayment: number;
  readonly dueToReleased: number[];
}
const heldRows: HeldRow[] = [];
const allHeld: string[] = [];
for (const [s, size] of (HELD ? SIZES : []).entries()) {
  const n = size * MEMBERS;
  await quiet();
  let commits = 0;
  let writes = 0;
  let cpuMs = 0;
  let before = await mark();
  await resetStatements();
  const start = performance.now();
  const ids: string[] = new Array(n);
  await pool(
    Array.from({ length: n }, (_, i) => i),
    8,
    async (i) => {
      const { payment } = unwrap(
        await useCases.createHeldPayment(deps, {
          requestedBy: "app_bench",
          clientReference: `rounds_${s}_${i}`,
          amountMinor: CONTRIBUTION,
          currency: "AUD",
          sellerId: sellers[i % size] ?? "",
          description: `Bench booking ${i}`,
          customer: { email: "cy@example.com", name: "Cy" },
          fee: { kind: "rate", basisPoints: 1_000 },
          disputeWindowMs: WINDOW_MS,
          successUrl: "https://app.example/done",
        }),
        "createHeldPayment",
      );
      ids[i] = payment.id;
    },
  );
  const sessionsMade = await until(
    async () =>
      (await count(
        "SELECT count(*) AS n FROM held_payments WHERE id = ANY($1::text[]) AND checkout_session_id IS NOT NULL",
        ids,
      )) === n,
  );
  allHeld.push(...ids);
  if (!sessionsMade) {
    problems.push(`${n} held payments: not every Checkout Session was made`);
    continue;
  }
  const checkoutSeconds = (performance.now() - start) / 1000;
  const sessions = await prisma.$queryRawUnsafe<{ s: string }[]>(
    "SELECT checkout_session_id AS s FROM held_payments WHERE id = ANY($1::text[])",
    ids,
  );
  const paying = performance.now();
  await pool(sessions, 16, async ({ s: session }) => {
    await control.completeCheckoutSession(session, { paymentMethod: "pm_card_visa" });
  });
  const held = await until(
    async () =>
      (await count(
        "SELECT count(*) AS n FROM held_payments WHERE id = ANY($1::text[]) AND status = 'held'",
        ids,
      )) === n,
  );
  if (!held) {
    problems.push(`${n} held payments: not every one was held`);
    continue;
  }
  const heldSeconds = (performance.now() - paying) / 1000;
  let phase = await since(before);
  commits += phase.commits;
  writes += phase.writes;
  cpuMs += phase.cpuMs;
  // Fulfilment, then the window (neither timed).
  await pool(ids, 8, async (id) => {
    unwrap(await useCases.confirmFulfilled(deps, id, "app_bench"), `confirmFulfilled ${id}`);
  });
  const [due] = await prisma.$queryRawUnsafe<{ last_ms: number }[]>(
    "SELECT (extract(epoch FROM max(release_due_at)) * 1000)::float8 AS last_ms FROM held_payments WHERE id = ANY($1::text[])",
    ids,
  );
  const windowEnd = due?.last_ms ?? Date.now();
  before = await mark();
  await sleep(Math.max(0, windowEnd - Date.now()));
  const releasing = performance.now();
  const released = await until(
    async () =>
      (await count(
        "SELECT count(*) AS n FROM held_payments WHERE id = ANY($1::text[]) AND status = 'released'",
        ids,
      )) === n,
  );
  if (!released) problems.push(`${n} held payments: not every one was released`);
  const releaseSeconds = (performance.now() - releasing) / 1000;
  // The window's own wait is idle polling: counted, as the commits of the phase, since the
  // releases start within it one by one. An upper bound again.
  phase = await since(before);
  commits += phase.commits;
  writes += phase.writes;
  cpuMs += phase.cpuMs;
  await printStatements(`held payment (${n}; fulfilment confirmations, not timed, included)`, n);
  const ended = await prisma.$queryRawUnsafe<{ d: number }[]>(
    "SELECT (extract(epoch FROM ended_at - release_due_at) * 1000)::float8 AS d FROM held_payments WHERE id = ANY($1::text[]) AND ended_at IS NOT NULL",
    ids,
  );
  heldRows.push({
    payments: n,
    checkoutSeconds,
    heldSeconds,
    releaseSeconds,
    perSecond: n / (checkoutSeconds + heldSeconds + releaseSeconds),
    commitsPerPayment: commits / n,
    writesPerPayment: writes / n,
    cpuMsPerPayment: cpuMs / n,
    dueToReleased: ended.map((r) => r.d),
  });
}
// --- rounds ----------------------------------------------------------------------------------------

interface RoundRow {
  readonly groups: number;
  readonly debitsSeconds: number;
  readonly payoutSeconds: number;
  readonly perSecond: number;
  readonly commitsPerRound: number;
  readonly writesPerRound: number;
  readonly cpuMsPerRound: number;
  readonly openToPaid: number[];
}
const roundRows: RoundRow[] = [];
const cpuLines: string[] = [];
const allRounds: { id: string; transferGroup: string }[] = [];
for (const size of SIZES) {
  const groupIds = groupsOfSize.get(size) ?? [];
  await quiet();
  const before = await mark();
  const cpuBefore = stackCpuByProcess();
  await resetStatements();
  const opened = new Map<string, number>();
  const start = performance.now();
  const rounds: { id: string; transferGroup: string }[] = [];
  await pool(groupIds, 8, async (groupId) => {
    const round = unwrap(
      await useCases.startRound(deps, groupId, "scheduler"),
      `start round of ${groupId}`,
    ).state;
    opened.set(round.id, Date.now());
    rounds.push({ id: round.id, transferGroup: round.transferGroup });
  });
  const ids = rounds.map((r) => r.id);
  const submitted = await until(
    async () =>
      (await count(
        "SELECT count(*) AS n FROM contributions WHERE round_id = ANY($1::text[]) AND status = 'processing'",
        ids,
      )) ===
      size * MEMBERS,
  );
  if (!submitted) problems.push(`${size} groups: the debits were not all submitted`);
  const debitsSeconds = (performance.now() - start) / 1000;
  const moved = performance.now();
  await control.advanceClock(SETTLEMENT_SECONDS);
  const paid = await until(
    async () =>
      (await count(
        "SELECT count(*) AS n FROM rounds WHERE id = ANY($1::text[]) AND state = 'paid_out'",
        ids,
      )) === size,
  );
  if (!paid) problems.push(`${size} groups: not every round was paid out`);
  const payoutSeconds = (performance.now() - moved) / 1000;
  const { commits, writes, cpuMs } = await since(before);
  const cpuAfter = stackCpuByProcess();
  cpuLines.push(
    `${size} groups, stack CPU ms per round by process: ${[...cpuAfter]
      .map(([label, ms]) => `${label} ${fmt((ms - (cpuBefore.get(label) ?? 0)) / size, 0)}`)
      .join(", ")}`,
  );
  await printStatements(`round (${size} groups)`, size);
  const ended = await prisma.$queryRawUnsafe<{ id: string; ended_ms: number | null }[]>(
    "SELECT id, (extract(epoch FROM ended_at) * 1000)::float8 AS ended_ms FROM rounds WHERE id = ANY($1::text[])",
    ids,
  );
  roundRows.push({
    groups: size,
    debitsSeconds,
    payoutSeconds,
    perSecond: size / (debitsSeconds + payoutSeconds),
    commitsPerRound: commits / size,
    writesPerRound: writes / size,
    cpuMsPerRound: cpuMs / size,
    // Includes the bench's wait for every debit before the clock moved: the whole round's span.
    openToPaid: ended.flatMap((r) => {
      const o = opened.get(r.id);
      return r.ended_ms !== null && o !== undefined ? [r.ended_ms - o] : [];
    }),
  });
  allRounds.push(...rounds);
}

const writeCeiling = await comparableWriteTps(database.connectionString, prisma, 16, values.quick ? 2 : 5);

// --- the checks ------------------------------------------------------------------------------------

// Effects waiting out a retry backoff (a failure under load) are not "due", so the phases'
// quiet() did not wait for them; the checks below need them done. Wait for every pending
// effect (up to --timeout), and say what is still pending, with why, if some are.
await until(
  async () => (await count("SELECT count(*) AS n FROM outbox_effects WHERE status = 'pending'")) === 0,
);
const stillPending = await prisma.$queryRawUnsafe<
  { kind: string; n: number; attempts: number; error: string | null }[]
>(
  `SELECT kind, count(*)::int AS n, max(attempts)::int AS attempts, max(last_error) AS error
     FROM outbox_effects WHERE status = 'pending' GROUP BY kind ORDER BY kind`,
);
for (const p of stillPending)
  console.log(
    `still pending at the checks: ${p.n} ${p.kind} effect(s), up to ${p.attempts} attempt(s); last error: ${p.error ?? "none"}`,
  );

const intentsIn = new Map<string, number>();
for await (const pi of stripe.paymentIntents.list({ limit: 100 }))
  if (pi.transfer_group) intentsIn.set(pi.transfer_group, (intentsIn.get(pi.transfer_group) ?? 0) + 1);
const transfersIn = new Map<string, Stripe.Transfer[]>();
for await (const t of stripe.transfers.list({ limit: 100 }))
  if (t.transfer_group) transfersIn.set(t.transfer_group, [...(transfersIn.get(t.transfer_group) ?? []), t]);
const ledger = new PrismaLedgerStore(prisma);
const books = unwrap(await ledger.loadLedger(), "load ledger");
let roundsOk = 0;
for (const round of allRounds) {
  const money = roundMoney(books, round.id, "AUD");
  const intents = intentsIn.get(round.transferGroup) ?? 0;
  const transfers = transfersIn.get(round.transferGroup)?.length ?? 0;
  const good =
    intents === MEMBERS &&
    transfers === MEMBERS &&
    money.contributedMinor === MEMBERS * CONTRIBUTION &&
    money.paidOutMinor === MEMBERS * CONTRIBUTION &&
    money.heldMinor === 0 &&
    money.inFlightMinor === 0;
  if (good) roundsOk += 1;
  else
    problems.push(
      `round ${round.id}: ${intents} PaymentIntents, ${transfers} transfers, ledger ${JSON.stringify(money)}`,
    );
}
let heldOk = 0;
const heldRowsDb = await prisma.$queryRawUnsafe<{ id: string; status: string; tg: string }[]>(
  "SELECT id, status::text AS status, transfer_group AS tg FROM held_payments WHERE id = ANY($1::text[])",
  allHeld,
);
await pool(heldRowsDb, 8, async (p) => {
  const transfers = transfersIn.get(p.tg) ?? [];
  const hold = unwrap(await ledger.balance(heldAccounts.hold(p.id), "AUD"), "balance").amountMinor;
  if (p.status === "released" && transfers.length === 1 && transfers[0]?.amount === 90_00 && hold === 0)
    heldOk += 1;
  else problems.push(`held payment ${p.id}: ${p.status}, ${transfers.length} transfers, hold ${hold}`);
});
const inbox = await prisma.$queryRawUnsafe<{ status: string; n: bigint }[]>(
  "SELECT status::text AS status, count(*) AS n FROM webhook_events GROUP BY status ORDER BY status",
);
for (const r of inbox)
  if (r.status === "failed" || r.status === "parked") problems.push(`inbox: ${r.n} events ${r.status}`);
// Where a round's events go: by type, how each ended, and whether a processor claimed it
// or the ingest stored it ignored at once (stamped processed when received).
const byType = await prisma.$queryRawUnsafe<{ type: string; status: string; claimed: boolean; n: bigint }[]>(
  "SELECT type, status::text AS status, processed_at IS DISTINCT FROM received_at AS claimed, count(*) AS n FROM webhook_events GROUP BY 1, 2, 3 ORDER BY 4 DESC",
);
const units = Math.max(1, allRounds.length + allHeld.length);
console.log(
  `\n### Webhook events per unit (${allRounds.length} rounds, ${allHeld.length} held payments), by type and outcome\n`,
);
console.log(
  table(
    ["type", "status", "reached a processor", "per unit"],
    byType.map((r) => [r.type, r.status, r.claimed ? "yes" : "no (ingest)", fmt(Number(r.n) / units, 2)]),
  ),
);
const parkedEffects = await count("SELECT count(*) AS n FROM outbox_effects WHERE status = 'parked'");
if (parkedEffects > 0) {
  const why = await prisma.$queryRawUnsafe<{ kind: string; e: string | null; n: bigint }[]>(
    "SELECT kind, last_error AS e, count(*) AS n FROM outbox_effects WHERE status = 'parked' GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 5",
  );
  for (const w of why) problems.push(`${w.n} outbox effects ${w.kind} parked: ${w.e ?? "?"}`);
}
const ledgerCheck = await ledger.checkLedger();
const agrees = ledgerCheck.isOk() && ledgerCheck.value.agrees;
if (!agrees) problems.push("the ledger disagrees with its postings");

// --- the tables ------------------------------------------------------------------------------------

console.log(
  `\n## Rounds and held payments through the stack (bench/rounds.ts${values.quick ? " --quick" : ""})\n`,
);
console.log(machineLine(loadBefore));
const warning = busyWarning(loadBefore);
if (warning) console.log(warning);
console.log(
  `Processes: the API, ${SCHEDULERS} scheduler process(es), the emulator (own process, delivering 16 at a time to an endpoint of ${values.events === "all" ? "every event type" : `susu's ${ENABLED_EVENTS.length} event types`}), embedded PostgreSQL (durable), this process; all on this machine. Knobs passed through: ${knobs()}. Set-up (not timed): ${SIZES.reduce((a, b) => a + b, 0) * MEMBERS} members with mandates and payout accounts, ${sellers.length} sellers, in ${setupSeconds.toFixed(0)} s.`,
);
const ceilingOf = (commitsPerUnit: number) =>
  writeCeiling.ok ? fmt(writeCeiling.tps / commitsPerUnit, 1) : "skipped";
console.log(
  `Ceiling: pgbench susu-like write (UPDATE 1 row + INSERT 1 row per transaction, 16 clients) ${writeCeiling.ok ? `${fmt(writeCeiling.tps, 0)} TPS` : "skipped"} ÷ the commits one unit took (pg_stat_database.xact_commit: every commit, reads outside a transaction and idle polling included, less this process's own; the statistics lag a little). "write tx" counts the transaction ids given (write transactions only, exact). "stack CPU" is the user + system time of every process this bench started (the API, the schedulers, the emulator, PostgreSQL and its backends) over the phase.\n`,
);
console.log(
  table(
    [
      "groups",
      "open → debits submitted s",
      "clock moved → paid out s",
      "rounds/s",
      "commits/round",
      "write tx/round",
      "stack CPU ms/round",
      "ceiling rounds/s",
      "ratio",
      "open→paid p50 ms",
      "p95 ms",
      "p99 ms",
      "goal ≥ 0.5×",
    ],
    roundRows.map((r) => {
      const [p50, p95, p99] = latencyCells(r.openToPaid);
      const ratio = writeCeiling.ok ? r.perSecond / (writeCeiling.tps / r.commitsPerRound) : Number.NaN;
      return [
        String(r.groups),
        fmt(r.debitsSeconds, 1),
        fmt(r.payoutSeconds, 1),
        fmt(r.perSecond, 2),
        fmt(r.commitsPerRound, 0),
        fmt(r.writesPerRound, 0),
        fmt(r.cpuMsPerRound, 0),
        ceilingOf(r.commitsPerRound),
        fmt(ratio, 2),
        p50 ?? "",
        p95 ?? "",
        p99 ?? "",
        Number.isFinite(ratio) ? (ratio >= 0.5 ? "met" : "not met") : "—",
      ];
    }),
  ),
);
for (const line of cpuLines) console.log(`\n${line}`);
if (HELD) {
  console.log("");
  console.log(
    table(
      [
        "held payments",
        "checkout s",
        "payment → held s",
        "window end → released s",
        "payments/s",
        "commits/payment",
        "write tx/payment",
        "stack CPU ms/payment",
        "ceiling payments/s",
        "ratio",
        "due→released p50 ms",
        "p95 ms",
        "p99 ms",
      ],
      heldRows.map((r) => {
        const [p50, p95, p99] = latencyCells(r.dueToReleased);
        const ratio = writeCeiling.ok ? r.perSecond / (writeCeiling.tps / r.commitsPerPayment) : Number.NaN;
        return [
          String(r.payments),
          fmt(r.checkoutSeconds, 1),
          fmt(r.heldSeconds, 1),
          fmt(r.releaseSeconds, 1),
          fmt(r.perSecond, 1),
          fmt(r.commitsPerPayment, 0),
          fmt(r.writesPerPayment, 0),
          fmt(r.cpuMsPerPayment, 1),
          ceilingOf(r.commitsPerPayment),
          fmt(ratio, 2),
          p50 ?? "",
          p95 ?? "",
          p99 ?? "",
        ];
      }),
    ),
  );
}
if (!writeCeiling.ok) console.log(`pgbench ceiling skipped: ${writeCeiling.why}`);
console.log(
  "\nGoal (issue 11): rounds per second at least half of what the database's transaction rate allows for the transactions a round needs.",
);
console.log(
  `check: ${roundsOk}/${allRounds.length} rounds paid out with 10 PaymentIntents, 10 transfers and their money in the ledger; ${heldOk}/${allHeld.length} held payments released with one transfer and an empty hold; inbox ${inbox.map((r) => `${r.status} ${r.n}`).join(", ")}; ${parkedEffects} effects parked; ledger ${agrees ? "agrees" : "DISAGREES"} → ${problems.length === 0 ? "OK" : "FAILED"}`,
);
for (const p of problems.slice(0, 20)) console.log(`  ${p}`);

// --- stop ------------------------------------------------------------------------------------------

await Promise.all(schedulers.map((s) => s.stop()));
await api.stop();
await emulator.stop();
console.log("\nTables after the run (pg_stat_user_tables: the whole run, set-up included)\n");
console.log(
  await tableChurn(prisma, [
    "rounds",
    "contributions",
    "contribution_attempts",
    "payout_transfers",
    "members",
    "groups",
    "held_payments",
    "outbox_effects",
    "webhook_events",
    "ledger_accounts",
    "audit_log",
  ]),
);
await prisma.$disconnect();
await database.close();
rmSync(pgDir, { recursive: true, force: true });
process.exit(problems.length === 0 ? 0 : 1);
