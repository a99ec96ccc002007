// `npm run sim -- --seed N --groups G --rotations R [--members M] [--schedulers S] [--no-faults]
//   [--flow rounds|held|marketplace] [--min-kills K] [--min-pg-restarts P] [--events susu|all]
//   [--json FILE] [--keep]`
//
// The seeded whole-stack simulation: an embedded PostgreSQL, the Stripe emulator (in this
// process, with seeded webhook chaos), the API as a real process (webhooks arrive through its
// signed endpoint) and S scheduler processes, driven through the v1 API as clients would
// (groups created and joined, BECS mandates set up at the emulator, payout accounts
// onboarded, rounds started by the groups' admins), while a fault schedule drawn from the
// seed injects Stripe 500s, 429s, timeouts and lost responses, kills schedulers with SIGKILL
// (and restarts them), restarts PostgreSQL on the same port and data folder, and jumps the
// clock. At the end it prints the checks as a table (sim/checks.mjs) and exits 1 if any
// fails. The same seed plans the same faults and must give the same table; timings differ.
//
// The clock: susu's processes run on the simulation clock (SUSU_SIM_CLOCK_FILE, an offset
// over the machine's time that this script writes; refused unless Stripe is a loopback
// emulator with a test key, see packages/adapters/src/clock/sim-clock.ts), and the emulator's
// clock is moved to the same instant at every jump. Weekly rounds take seconds.
//
// Needs a build (`npm run build`): it runs apps/*/dist and packages/*/dist.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { chmodSync, createWriteStream, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { formatTable, runChecks } from "./checks.mjs";
import {
  describeFault,
  HELD_STRIPE_ROUTES,
  MARKETPLACE_STRIPE_ROUTES,
  planFaults,
  STRIPE_ROUTES,
  seededRandom,
} from "./faults.mjs";

const root = new URL("..", import.meta.url).pathname;
const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;
/** The emulator's BECS settlement delay (its default, as live) plus a margin. */
const SETTLE_JUMP_MS = 3 * DAY_MS + 10 * 60_000;
/** With no progress for this long, the clock is nudged (retry back-offs and leases run on it). */
const STALL_MS = 4_000;
const NUDGE_MS = 45_000;

const { values: args } = parseArgs({
  options: {
    seed: { type: "string", default: "1" },
    groups: { type: "string", default: "2" },
    rotations: { type: "string", default: "1" },
    members: { type: "string", default: "3" },
    schedulers: { type: "string", default: "2" },
    flow: { type: "string", default: "rounds" },
    events: { type: "string", default: "susu" },
    "no-faults": { type: "boolean", default: false },
    "min-kills": { type: "string", default: "1" },
    "min-pg-restarts": { type: "string", default: "1" },
    "timeout-s": { type: "string", default: "900" },
    json: { type: "string" },
    keep: { type: "boolean", default: false },
    verbose: { type: "boolean", default: false },
  },
});
const int = (name, lo, hi) => {
  const v = Number(args[name]);
  if (!Number.isInteger(v) || v < lo || v > hi) {
    console.error(`--${name} must be a whole number from ${lo} to ${hi}`);
    process.exit(2);
  }
  return v;
};
const seed = int("seed", 0, 2 ** 31 - 1);
const groupCount = int("groups", 1, 500);
const rotations = int("rotations", 1, 12);
const memberCount = int("members", 2, 20);
const schedulerCount = int("schedulers", 1, 8);
const faultsOn = !args["no-faults"];
const flow = args.flow;
if (flow !== "rounds" && flow !== "held" && flow !== "marketplace") {
  console.error(`--flow ${flow}: "rounds", "held" or "marketplace"`);
  process.exit(2);
}
// Rounds: one step a week, M rounds a rotation. Held: one step a booking round, where each of
// the G×M sellers is paid one booking (R steps). Marketplace: one step a round of purchases,
// where each group's customer buys from each of its M sellers and one class they co-host.
const steps = flow === "rounds" ? memberCount * rotations : rotations;
if (args.events !== "susu" && args.events !== "all") {
  console.error(`--events ${args.events}: "susu" (the types susu subscribes to) or "all" (every type)`);
  process.exit(2);
}
const plan = faultsOn
  ? planFaults({
      seed,
      steps,
      schedulers: schedulerCount,
      routes:
        flow === "held"
          ? HELD_STRIPE_ROUTES
          : flow === "marketplace"
            ? MARKETPLACE_STRIPE_ROUTES
            : STRIPE_ROUTES,
      minimum: { kills: int("min-kills", 0, 50), pgRestarts: int("min-pg-restarts", 0, 50) },
    })
  : [];

const say = (msg) => console.log(`[sim] ${msg}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const workdir = mkdtempSync(join(tmpdir(), "susu-sim-"));
// As root, embedded PostgreSQL runs as "postgres", which must reach its data folder in here.
chmodSync(workdir, 0o755);
const counts = {
  stripe_500: 0,
  stripe_429: 0,
  stripe_timeout: 0,
  stripe_dropped: 0,
  scheduler_sigkill: 0,
  pg_restart: 0,
  clock_jump: 0,
  clock_nudge: 0,
};
const armed = [];
/** Schedulers killed and due back: the drain waits for them. */
const restarts = [];

const adapters = await import(join(root, "packages/adapters/dist/index.js"));
const emulatorLib = await import(join(root, "packages/stripe-emulator/dist/index.js"));
const { mintToken } = await import(join(root, "apps/api/dist/http/auth.js"));
const { default: pg } = await import("pg");

// --- the stack --------------------------------------------------------------------------------

const children = new Set();
let database;
let emulator;
let pgClient;
const pgDir = join(workdir, "postgres");
const pgPort = await freePort();
const apiPort = await freePort();
const clockFile = join(workdir, "clock-offset");
let offsetMs = 0;
writeFileSync(clockFile, "0\n");
const jwtSecret = `sim-${randomUUID()}-${randomUUID()}`;

async function startPostgres() {
  database = await adapters.startEmbeddedPostgres({ dataDir: pgDir, port: pgPort, durable: false });
  await database.ensureDatabase("susu");
}

let cleaning;
/** Stops everything; the work folder (the processes' logs) is kept with --keep or when the run failed. */
async function cleanUp({ failed = false } = {}) {
  cleaning ??= (async () => {
    for (const child of children) child.kill("SIGKILL");
    await pgClient?.end().catch(() => undefined);
    await emulator?.stop().catch(() => undefined);
    await database?.stop().catch(() => undefined);
    if (args.keep || failed) console.error(`[sim] the processes' logs are in ${workdir}`);
    else rmSync(workdir, { recursive: true, force: true });
  })();
  return cleaning;
}
// Whatever goes wrong, no process this run started is left running.
const failRun = (error) => {
  console.error(
    `[sim] run failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
  );
  void cleanUp({ failed: true }).then(() => process.exit(1));
};
process.on("uncaughtException", failRun);
process.on("unhandledRejection", failRun);
for (const signal of ["SIGINT", "SIGTERM"])
  process.on(signal, () => {
    void cleanUp().then(() => process.exit(130));
  });

const timeout = setTimeout(() => {
  console.error(`[sim] not finished after ${args["timeout-s"]} s: giving up`);
  void cleanUp({ failed: true }).then(() => process.exit(1));
}, Number(args["timeout-s"]) * 1000);
timeout.unref();

await startPostgres();
const url = database.connectionString("susu");
await adapters.applyMigrations(url);
emulator = await emulatorLib.startEmulator({
  port: 0,
  webhookUrl: `http://127.0.0.1:${apiPort}/webhooks/stripe`,
  // The endpoint as an operator subscribes it (adapters' SUSU_WEBHOOK_EVENT_TYPES), or `*`.
  webhookEnabledEvents: args.events === "all" ? ["*"] : [...adapters.SUSU_WEBHOOK_EVENT_TYPES],
  // Stripe retries for days; here a failed delivery is tried again on real timers and on every
  // clock step, often enough that a PostgreSQL restart cannot exhaust the attempts.
  webhookRealTimeRetryMs: 400,
  webhookRetryDelaysSeconds: Array.from({ length: 15 }, () => 60),
  webhookChaos: faultsOn ? { seed, duplicate: 0.1, outOfOrder: 0.3, late: 0.1, lateMs: 1_500 } : null,
});
const stripe = emulator.stripe({ maxNetworkRetries: 2 });
const control = emulator.control;
say(
  `seed ${seed}: ${groupCount} groups × ${memberCount} members, ${rotations} rotation(s), ${steps} round steps`,
);
say(`work folder ${workdir}; postgres :${pgPort}, api :${apiPort}, emulator ${emulator.url}`);

const baseEnv = {
  ...process.env,
  NODE_ENV: "development",
  DATABASE_URL: url,
  STRIPE_API_URL: emulator.url,
  STRIPE_SECRET_KEY: emulator.secretKey,
  STRIPE_WEBHOOK_SECRET: emulator.webhookSecret,
  SUSU_SIM_CLOCK_FILE: clockFile,
  LOG_LEVEL: args.verbose ? "info" : "warn",
};

function startProcess(name, script, env) {
  const child = spawn(process.execPath, [join(root, script)], {
    env: { ...baseEnv, ...env },
    stdio: ["ignore", args.verbose ? "inherit" : "pipe", args.verbose ? "inherit" : "pipe", "ipc"],
  });
  // What the processes log at `warn` and above (expected ones too: 503s while PostgreSQL
  // restarts) and any crash go to a file in the work folder, kept with --keep or on failure.
  const log = createWriteStream(join(workdir, `${name.replace(/\s+/g, "-")}.log`), { flags: "a" });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  children.add(child);
  child.once("exit", () => children.delete(child));
  let up = false;
  const ready = new Promise((resolve, reject) => {
    child.on("message", (m) => {
      if (m?.type !== "susu:ready") return;
      up = true;
      resolve();
    });
    child.once("exit", (code, signal) =>
      reject(new Error(`${name} exited (${code ?? signal}) before it was ready`)),
    );
  });
  // A process that was up and ended without the run killing it crashed (PostgreSQL's restart
  // must not end it): a check at the end, and said at once.
  child.once("exit", (code, signal) => {
    if (!up || child.killedByRun || cleaning !== undefined) return;
    crashes.push(`${name} (${code ?? signal})`);
    console.error(`[sim] ${name} ended on its own (${code ?? signal}); its log is in the work folder`);
  });
  return { name, child, ready };
}
/** Processes that ended on their own while the run needed them. */
const crashes = [];

const api = startProcess("api", "apps/api/dist/main.js", {
  PORT: String(apiPort),
  HOST: "127.0.0.1",
  SUSU_JWT_SECRET: jwtSecret,
  SUSU_RATE_LIMIT_PER_MINUTE: "1000000",
  SUSU_RATE_LIMIT_IP_PER_MINUTE: "1000000",
});
const schedulers = [];
let generation = 0;
function startScheduler(index) {
  generation += 1;
  schedulers[index] = startProcess(`scheduler ${index}`, "apps/scheduler/dist/main.js", {
    SUSU_WORKER_ID: `sim-${index}-${generation}`,
    SUSU_DISPATCH_INTERVAL_MS: "200",
    SUSU_SCHEDULER_METRICS_PORT: "0",
    SUSU_RECONCILE_CRON: "off",
    // The balance payout run would move connected balances the checks compare: not in a run.
    SUSU_PAYOUT_CRON: "0 0 1 1 *",
  });
  return schedulers[index].ready;
}
// One after the other: two schedulers starting at once on a fresh database can deadlock in
// pg-boss's queue creation, and the loser exits (reported; not the simulation's subject).
for (let i = 0; i < schedulerCount; i++) await startScheduler(i);
await api.ready;
api.child.once("exit", (code, signal) => {
  if (cleaning === undefined) console.error(`[sim] the API exited (${code ?? signal})`);
});
// A pool, not one client: PostgreSQL restarts mid-run, and a pool replaces broken connections.
pgClient = new pg.Pool({ connectionString: url, max: 2 });
pgClient.on("error", () => undefined);
say("stack ready");

// --- clock -------------------------------------------------------------------------------------

const simNow = () => Date.now() + offsetMs;
/** Moves susu's clock and the emulator's to `target` (ms), never back. */
async function jumpTo(target) {
  const next = Math.max(offsetMs, target - Date.now());
  const jumpMs = next - offsetMs;
  offsetMs = next;
  writeFileSync(clockFile, `${next}\n`);
  // pg-boss starts jobs (susu's timers) on PostgreSQL's clock, which cannot jump. Timer jobs
  // carry their instant on the run's clock (`dueAt`): those still waiting start at the real
  // time that is that instant now. Other waiting jobs (a pg-boss retry) are moved as much
  // earlier as the clock jumped. Jobs a killed scheduler had started expire as much sooner
  // (pg-boss's `expireIn`).
  if (jumpMs > 0 && pgClient !== undefined) {
    await placeTimerJobs();
    await pgClient.query(
      `UPDATE pgboss.job SET start_after = start_after - make_interval(secs => $1)
       WHERE (state = 'retry' OR NOT data ? 'dueAt') AND state IN ('created', 'retry') AND start_after > now()`,
      [jumpMs / 1000],
    );
    await pgClient.query(
      `UPDATE pgboss.job SET started_on = started_on - make_interval(secs => $1) WHERE state = 'active'`,
      [jumpMs / 1000],
    );
  }
  const emulatorNow = (await control.now()) * 1000;
  const to = Math.floor((Date.now() + next) / 1000);
  if (to * 1000 > emulatorNow) await control.advanceClockTo(to);
  // susu's processes re-read the offset file at most every 50 ms (OffsetFileClock): a request
  // sent sooner could still be judged on the clock before the jump.
  if (jumpMs > 0) {
    await new Promise((resolve) => setTimeout(resolve, 150));
    // A timer computed on the offset before the jump and sent after the jobs were placed
    // (found: a release timer waited 61 real minutes) is placed now, or at the next jump or
    // nudge if it comes later still.
    lateTimerJobs += await placeTimerJobs();
  }
}
/** Timer jobs sent during a jump on the clock before it, placed again after it (a figure). */
let lateTimerJobs = 0;

/**
 * Sets every waiting timer job's `start_after` from its instant on the run's clock (`dueAt`,
 * which `PgBossTimerScheduler` stores): the real time that is that instant at the current
 * offset, or now if it is due. Absolute, so running it again changes nothing, and a job sent
 * with a stale offset is put right. Only a job whose start is still ahead is touched; one
 * already due waits for a worker.
 */
async function placeTimerJobs() {
  if (pgClient === undefined) return 0;
  const { rowCount } = await pgClient.query(
    `UPDATE pgboss.job
        SET start_after = greatest(now(), to_timestamp(((data->>'dueAt')::numeric - $1) / 1000.0))
      WHERE state = 'created' AND data ? 'dueAt' AND start_after > now()
        AND start_after <> greatest(now(), to_timestamp(((data->>'dueAt')::numeric - $1) / 1000.0))`,
    [offsetMs],
  );
  return rowCount ?? 0;
}

// --- clients -------------------------------------------------------------------------------------

/** The platform's operator (role `admin`), who acts on support tickets. */
const OPERATOR = `sim${seed}_operator`;
const tokens = new Map();
async function tokenOf(person) {
  if (!tokens.has(person))
    tokens.set(
      person,
      await mintToken(
        { subject: person, roles: [person === OPERATOR ? "admin" : "member"], ttlSeconds: 30 * 86_400 },
        jwtSecret,
      ),
    );
  return tokens.get(person);
}

/**
 * One API call as `person`, retried as a careful client retries: same Idempotency-Key on a
 * 5xx, 429 or a connection error (PostgreSQL may be restarting), a new request on a 409
 * `version_conflict`. Other answers are returned.
 */
async function call(method, path, { as, body } = {}) {
  let key = randomUUID();
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(`http://127.0.0.1:${apiPort}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${await tokenOf(as)}`,
          ...(method === "POST" ? { "idempotency-key": key } : {}),
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      if ((res.status >= 500 || res.status === 429) && attempt < 60) {
        await sleep(250);
        continue;
      }
      const json = text ? JSON.parse(text) : {};
      // "Changed by someone else; load it again and retry" (a webhook updated the same
      // person): a new request, so a new key.
      if (res.status === 409 && json.code === "version_conflict" && attempt < 60) {
        key = randomUUID();
        await sleep(100);
        continue;
      }
      return { status: res.status, body: json };
    } catch (error) {
      if (attempt >= 60) throw error;
      await sleep(250);
    }
  }
}
async function ok(method, path, options) {
  const res = await call(method, path, options);
  if (res.status >= 300) throw new Error(`${method} ${path} → ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Waits for `check` to return a value; nudges the clock when nothing moves for a while. */
async function until(what, check, { nudge = true, limitMs = 240_000 } = {}) {
  const start = Date.now();
  let lastProgress = Date.now();
  let last;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value?.done) return value;
    const mark = JSON.stringify(value?.progress);
    if (mark !== last) {
      last = mark;
      lastProgress = Date.now();
    } else if (nudge && Date.now() - lastProgress > STALL_MS) {
      // Retry back-offs, leases of killed schedulers' claims and timers are on the clock.
      counts.clock_nudge += 1;
      await jumpTo(simNow() + NUDGE_MS);
      await control.deliverPendingWebhooks().catch(() => undefined);
      lastProgress = Date.now();
    }
    if (Date.now() - start > limitMs) throw new Error(`timed out waiting for ${what} (${mark})`);
    await sleep(200);
  }
}

// --- faults --------------------------------------------------------------------------------------

async function fire(moment, step) {
  for (const f of plan.filter((x) => x.step === step && x.moment === moment)) {
    say(`fault: ${describeFault(f)}`);
    if (f.type === "stripe") {
      const spec = { route: f.route, kind: f.kind, count: f.count, phase: f.phase };
      const [fault] = await control.injectFaults([spec]);
      armed.push({ fault, spec });
    } else if (f.type === "kill") {
      const s = schedulers[f.scheduler];
      if (s.child.exitCode === null && s.child.signalCode === null) {
        s.child.killedByRun = true;
        s.child.kill("SIGKILL");
        counts.scheduler_sigkill += 1;
        await new Promise((r) =>
          s.child.exitCode !== null || s.child.signalCode !== null ? r() : s.child.once("exit", r),
        );
      }
      restarts.push(sleep(f.downMs).then(() => restartScheduler(f.scheduler)));
    } else if (f.type === "pg_restart") {
      await database.stop();
      counts.pg_restart += 1;
      await sleep(f.downMs);
      await startPostgres();
    } else if (f.type === "clock_jump") {
      counts.clock_jump += 1;
      await jumpTo(simNow() + f.seconds * 1000);
    }
  }
}

/**
 * Starts a killed scheduler again as a supervisor would: until it is ready. One started while
 * PostgreSQL is down exits before it is ready, and is started again half a second later.
 */
async function restartScheduler(index) {
  for (let attempt = 1; cleaning === undefined; attempt++) {
    try {
      await startScheduler(index);
      return;
    } catch (error) {
      console.error(`[sim] restart ${attempt} of scheduler ${index} failed: ${error.message}`);
      if (attempt >= 40) return;
      await sleep(500);
    }
  }
}

// --- the run ---------------------------------------------------------------------------------------

say("fault schedule:");
if (plan.length === 0) say("  (none)");
for (const f of plan) say(`  ${describeFault(f)}`);

/** Onboards a person's payout account (Stripe's onboarding pages, played at the emulator). */
async function onboardPayouts(person) {
  const link = await ok("POST", `/v1/people/${person}/payout-onboarding`, {
    as: person,
    body: { refreshUrl: "https://app.example/refresh", returnUrl: "https://app.example/done" },
  });
  await control.visitAccountLink(link.url, "complete");
}

async function runRounds() {
  const startsAt = simNow() + 5 * 60_000;
  const groups = [];
  for (let g = 0; g < groupCount; g++) {
    const people = Array.from(
      { length: memberCount },
      (_, m) => `sim${seed}_g${g}_m${m}_${randomUUID().slice(0, 6)}`,
    );
    const group = await ok("POST", "/v1/groups", {
      as: people[0],
      body: {
        name: `Sim group ${g}`,
        currency: "AUD",
        contributionMinor: 100_00 + g * 100,
        cadence: "weekly",
        startsAt: new Date(startsAt).toISOString(),
        payoutOrderMethod: "join_order",
        displayName: `Member 0 of ${g}`,
        rotationsPlanned: rotations,
      },
    });
    for (let m = 1; m < memberCount; m++)
      await ok("POST", `/v1/groups/${group.id}/members`, {
        as: people[m],
        body: { displayName: `Member ${m} of ${g}` },
      });
    for (const person of people) {
      const setup = await ok("POST", `/v1/people/${person}/debit-setup`, { as: person, body: {} });
      // What the member's app does with the client secret (Stripe.js in production).
      await stripe.setupIntents.confirm(setup.setupIntentId, {
        payment_method_data: {
          type: "au_becs_debit",
          au_becs_debit: { bsb_number: "000000", account_number: "000123456" },
          billing_details: { name: person, email: `${person}@example.com` },
        },
        mandate_data: {
          customer_acceptance: {
            type: "online",
            online: { ip_address: "203.0.113.7", user_agent: "susu-sim" },
          },
        },
      });
      await onboardPayouts(person);
    }
    groups.push({ id: group.id, admin: people[0], people });
  }
  say(`${groupCount} groups created, ${groupCount * memberCount} members onboarding`);
  await until("every member ready (from Stripe's webhooks)", async () => {
    let ready = 0;
    for (const g of groups) {
      const view = await ok("GET", `/v1/groups/${g.id}`, { as: g.admin });
      ready += view.members.filter((m) => m.readiness.mandateActive && m.readiness.payoutsEnabled).length;
    }
    return { done: ready === groupCount * memberCount, progress: ready };
  });
  for (const g of groups) await ok("POST", `/v1/groups/${g.id}/activate`, { as: g.admin });
  say("groups activated");

  const roundsOf = async (g) =>
    (await ok("GET", `/v1/groups/${g.id}/rounds?limit=100`, { as: g.admin })).data;
  // When the last round of any group opened: a group's next round opens no sooner than a week
  // (less an hour) after its last one, so a round the faults made open late moves the next.
  let lastOpenedAt = startsAt - WEEK_MS;
  for (let step = 0; step < steps; step++) {
    const started = Date.now();
    // Two hours past the later of the slot and a week after the last opening: past the hour a
    // change of the clocks moves a local weekly slot, whatever the groups' time zone.
    await jumpTo(Math.max(startsAt + step * WEEK_MS, lastOpenedAt + WEEK_MS) + 2 * 3_600_000);
    await fire("open", step);
    const current = new Map();
    for (const g of groups) {
      const res = await call("POST", `/v1/groups/${g.id}/rounds`, { as: g.admin });
      // The scheduler's due-round cron may have opened it first: that round is the one.
      if (res.status !== 201 && res.body.code !== "round_in_progress")
        throw new Error(`step ${step}: starting ${g.id}'s round → ${res.status} ${JSON.stringify(res.body)}`);
    }
    for (const g of groups) {
      const open = (await roundsOf(g)).filter((r) => r.status !== "paid_out");
      if (open.length !== 1) throw new Error(`step ${step}: ${g.id} has ${open.length} unfinished rounds`);
      current.set(g.id, open[0].id);
    }
    for (const g of groups) {
      const opened = Date.parse(
        (await ok("GET", `/v1/rounds/${current.get(g.id)}`, { as: g.admin })).openedAt,
      );
      if (Number.isFinite(opened)) lastOpenedAt = Math.max(lastOpenedAt, opened);
    }
    const roundView = (g) => ok("GET", `/v1/rounds/${current.get(g.id)}`, { as: g.admin });
    await until(`step ${step}: debits submitted`, async () => {
      let submitted = 0;
      for (const g of groups)
        submitted += (await roundView(g)).contributions.filter((c) => c.status !== "awaiting_debit").length;
      return { done: submitted === groupCount * memberCount, progress: submitted };
    });
    await fire("processing", step);
    await jumpTo(simNow() + SETTLE_JUMP_MS);
    await fire("payout", step);
    await until(`step ${step}: pots paid out`, async () => {
      let paid = 0;
      const states = [];
      for (const g of groups) {
        const r = await roundView(g);
        states.push(`${r.status}:${r.contributions.map((c) => c.status).join("/")}`);
        if (r.status === "paid_out") paid += 1;
      }
      return { done: paid === groupCount, progress: states };
    });
    say(
      `step ${step + 1}/${steps}: ${groupCount} rounds paid out (${((Date.now() - started) / 1000).toFixed(1)} s)`,
    );
  }
}

/** Waits until susu has no outbox effect pending (none due, none claimed). */
async function outboxIdle(what) {
  await until(what, async () => {
    const {
      rows: [row],
    } = await pgClient.query(`SELECT count(*) AS pending FROM outbox_effects WHERE status = 'pending'`);
    return { done: Number(row.pending) === 0, progress: Number(row.pending) };
  });
}

/**
 * People come to susu by creating or joining a group: `sellers[0]` makes a group (which stays
 * forming; no round runs in these flows), the other sellers and then `others` join it.
 */
async function formSellerGroup(name, sellers, others) {
  const group = await ok("POST", "/v1/groups", {
    as: sellers[0],
    body: {
      name,
      currency: "AUD",
      contributionMinor: 100_00,
      cadence: "weekly",
      startsAt: new Date(simNow() + WEEK_MS).toISOString(),
      payoutOrderMethod: "join_order",
      displayName: `${name}: seller 0`,
    },
  });
  for (const [i, person] of [...sellers.slice(1), ...others].entries())
    await ok("POST", `/v1/groups/${group.id}/members`, {
      as: person,
      body: { displayName: i < sellers.length - 1 ? `${name}: seller ${i + 1}` : `${name}: ${person}` },
    });
}

/** Onboards every seller's payout account and waits until Stripe's webhooks say each can receive. */
async function onboardSellers(sellers) {
  for (const seller of sellers) await onboardPayouts(seller);
  await until("every seller's payouts enabled (from Stripe's webhooks)", async () => {
    let ready = 0;
    for (const seller of sellers)
      if ((await ok("GET", `/v1/people/${seller}`, { as: seller })).readiness.payoutsEnabled) ready += 1;
    return { done: ready === sellers.length, progress: ready };
  });
}

/**
 * Held payments: G×M sellers onboard; each step, each group's customer books its M sellers (80.00 AUD and
 * up, the platform keeping 10 %), pays on the Checkout page (the emulator's control endpoint,
 * a test Visa), the client app confirms the booking, the clock passes the hour's dispute
 * window and the scheduler releases the seller's share.
 */
async function runHeld() {
  const sellers = Array.from(
    { length: groupCount * memberCount },
    (_, i) => `sim${seed}_seller${i}_${randomUUID().slice(0, 6)}`,
  );
  // A customer per group of sellers: a person may attempt only so many payments an hour.
  const customers = Array.from(
    { length: groupCount },
    (_, g) => `sim${seed}_client${g}_${randomUUID().slice(0, 6)}`,
  );
  const customerOf = (i) => customers[Math.floor(i / memberCount)];
  for (let g = 0; g < groupCount; g++)
    await formSellerGroup(`Sim sellers ${g}`, sellers.slice(g * memberCount, (g + 1) * memberCount), []);
  await onboardSellers(sellers);
  say(`${sellers.length} sellers onboarded`);
  for (let step = 0; step < steps; step++) {
    const started = Date.now();
    await fire("open", step);
    const payments = [];
    for (const [i, seller] of sellers.entries()) {
      const reference = `booking-${step}-${i}`;
      const customer = customerOf(i);
      const res = await call("POST", "/v1/held-payments", {
        as: customer,
        body: {
          clientReference: reference,
          amountMinor: 80_00 + i * 100,
          currency: "AUD",
          sellerId: seller,
          description: `Booking ${reference}`,
          customer: { email: `${customer}@example.com`, name: "Sim customer" },
          fee: { rateBps: 1000 },
          disputeWindowSeconds: 3600,
          successUrl: "https://app.example/booking/paid",
        },
      });
      if (res.status !== 201 && res.status !== 200)
        throw new Error(`step ${step}: booking ${reference} → ${res.status} ${JSON.stringify(res.body)}`);
      payments.push({ id: res.body.id, customer });
    }
    const view = (p) => ok("GET", `/v1/held-payments/${p.id}`, { as: p.customer });
    const statuses = async () => Promise.all(payments.map(async (p) => (await view(p)).status));
    const checkouts = await until(`step ${step}: checkout pages`, async () => {
      const urls = await Promise.all(payments.map(async (p) => (await view(p)).checkout?.url));
      const made = urls.filter((u) => typeof u === "string").length;
      return { done: made === payments.length, progress: made, urls };
    });
    await fire("processing", step);
    for (const url of checkouts.urls) {
      const res = await fetch(`${url}/complete`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ paymentMethod: "pm_card_visa" }),
      });
      if (!res.ok) throw new Error(`step ${step}: paying ${url} → ${res.status} ${await res.text()}`);
    }
    await until(`step ${step}: payments held`, async () => {
      const now = await statuses();
      const held = now.filter((s) => s === "held").length;
      return { done: held === payments.length, progress: now };
    });
    for (const p of payments) await ok("POST", `/v1/held-payments/${p.id}/fulfilment`, { as: p.customer });
    await jumpTo(simNow() + 3_600_000 + 60_000);
    await fire("payout", step);
    await until(`step ${step}: payments released`, async () => {
      const now = await statuses();
      const released = now.filter((s) => s === "released").length;
      return { done: released === payments.length, progress: now };
    });
    say(
      `step ${step + 1}/${steps}: ${payments.length} held payments released (${((Date.now() - started) / 1000).toFixed(1)} s)`,
    );
  }
}

/**
 * Marketplace charges: G groups of M sellers, each with a customer of its own (a member of
 * the group, with a Stripe customer). Each step the customer buys from each seller (a
 * destination charge, the platform keeping 10 %) and one class all M co-host (a split by
 * weights 1…M: separate charges and transfers), confirms every new card at Stripe (the
 * emulator's API stands in for Stripe.js), and once all are settled asks for refunds of a
 * seeded third of them, part or whole (a customer's refund: the sellers' transfers reversed
 * for it, the platform keeping its fee).
 */
async function runMarketplace() {
  const tag = randomUUID().slice(0, 6);
  const groupsOf = [];
  for (let g = 0; g < groupCount; g++) {
    const sellers = Array.from({ length: memberCount }, (_, m) => `sim${seed}_g${g}_seller${m}_${tag}`);
    const customer = `sim${seed}_g${g}_customer_${tag}`;
    await formSellerGroup(`Sim co-hosts ${g}`, sellers, [customer]);
    // A debit set-up makes the customer's Stripe customer, which a charge needs.
    await ok("POST", `/v1/people/${customer}/debit-setup`, { as: customer, body: {} });
    groupsOf.push({ sellers, customer });
  }
  const sellers = groupsOf.flatMap((g) => g.sellers);
  await onboardSellers(sellers);
  say(`${sellers.length} sellers onboarded, ${groupCount} customers`);
  // Which charges are refunded, and how much: from the seed alone.
  const rng = seededRandom(seed ^ 0x3a7e);
  for (let step = 0; step < steps; step++) {
    const started = Date.now();
    // A day between rounds of purchases: a customer may attempt only so many payments an hour.
    // Not while susu still has work out at Stripe: a request retried after the jump would find
    // its idempotency key expired (Stripe keeps them 24 hours), which no real retry meets.
    if (step > 0) {
      await outboxIdle(`step ${step}: outbox idle before the day passes`);
      await jumpTo(simNow() + DAY_MS);
    }
    await fire("open", step);
    const charges = [];
    for (const [g, { sellers: hosts, customer }] of groupsOf.entries()) {
      const orders = [
        ...hosts.map((seller, i) => ({ sellers: [{ personId: seller }], amountMinor: 50_00 + i * 100 + g })),
        { sellers: hosts.map((personId, i) => ({ personId, weight: i + 1 })), amountMinor: 90_00 + g * 10 },
      ];
      for (const [o, order] of orders.entries()) {
        const reference = `order-${step}-${g}-${o}`;
        const res = await call("POST", "/v1/marketplace-charges", {
          as: customer,
          body: {
            clientReference: reference,
            activityId: `act_sim_${g}_${o}`,
            purpose: "purchase",
            amountMinor: order.amountMinor,
            currency: "AUD",
            description: `Order ${reference}`,
            customer: { personId: customer, email: `${customer}@example.com` },
            sellers: order.sellers,
            fee: { rateBps: 1000 },
            paymentMethod: { type: "new_card" },
          },
        });
        if (res.status !== 201 && res.status !== 200)
          throw new Error(`step ${step}: order ${reference} → ${res.status} ${JSON.stringify(res.body)}`);
        charges.push({ id: res.body.id, customer, amountMinor: order.amountMinor });
      }
    }
    const view = (c) => ok("GET", `/v1/marketplace-charges/${c.id}`, { as: c.customer });
    const secrets = await until(`step ${step}: PaymentIntents made`, async () => {
      const found = await Promise.all(charges.map(async (c) => (await view(c)).payment.clientSecret));
      const made = found.filter((x) => typeof x === "string").length;
      return { done: made === charges.length, progress: made, found };
    });
    await fire("processing", step);
    for (const secret of secrets.found) {
      // What Stripe.js does with the client secret: the card confirmed by the customer.
      await stripe.paymentIntents.confirm(secret.split("_secret_")[0], { payment_method: "pm_card_visa" });
    }
    const statuses = async () => Promise.all(charges.map(async (c) => (await view(c)).status));
    await until(`step ${step}: charges settled`, async () => {
      const now = await statuses();
      const settled = now.filter((s) => s === "settled").length;
      return { done: settled === charges.length, progress: now };
    });
    await fire("payout", step);
    // Reversals that waited for their sellers' balances: this step's sales may cover them.
    await operatorRetries();
    const refunded = [];
    for (const c of charges) {
      const draw = rng.next();
      if (draw >= 1 / 3) continue;
      // A tenth of the charges are refunded whole, the rest of the third in part.
      const body =
        draw < 0.1
          ? { reason: "cancelled" }
          : { amountMinor: 10_00 + Math.floor(rng.next() * 20) * 100, reason: "left early" };
      await ok("POST", `/v1/marketplace-charges/${c.id}/refunds`, { as: c.customer, body });
      refunded.push(c);
    }
    const waiting = await refundsDone(`step ${step}: refunds done`, refunded);
    say(
      `step ${step + 1}/${steps}: ${charges.length} marketplace charges settled, ${refunded.length} refunded${waiting > 0 ? ` (${waiting} waiting for a seller's balance)` : ""} (${((Date.now() - started) / 1000).toFixed(1)} s)`,
    );
  }
  // A reversal still waiting for its seller's balance: the seller sells once more, a day on
  // (a person may attempt only so many payments an hour), and the operator retries it.
  if (awaitingBalance.size > 0) {
    await outboxIdle("outbox idle before the last day passes");
    await jumpTo(simNow() + DAY_MS);
    const shortOf = await shortfalls();
    for (const [seller, e] of shortOf)
      say(`${seller}: balance ${e.haveMinor}, failed reversals ${e.needMinor}: a further sale covers it`);
    const made = [];
    for (const [n, [seller, { shortMinor }]] of [...shortOf].entries()) {
      const g = groupsOf.findIndex((x) => x.sellers.includes(seller));
      const { customer } = groupsOf[g];
      // What the seller keeps of it (the amount less the 10 % fee) covers the shortfall.
      const amountMinor = Math.max(50_00, Math.ceil((shortMinor + 100) / 0.9 / 100) * 100);
      const reference = `order-topup-${n}`;
      const res = await call("POST", "/v1/marketplace-charges", {
        as: customer,
        body: {
          clientReference: reference,
          activityId: `act_sim_topup_${n}`,
          purpose: "purchase",
          amountMinor,
          currency: "AUD",
          description: `Order ${reference}`,
          customer: { personId: customer, email: `${customer}@example.com` },
          sellers: [{ personId: seller }],
          fee: { rateBps: 1000 },
          paymentMethod: { type: "new_card" },
        },
      });
      if (res.status !== 201 && res.status !== 200)
        throw new Error(`order ${reference} → ${res.status} ${JSON.stringify(res.body)}`);
      made.push({ id: res.body.id, customer });
    }
    extraCharges += made.length;
    const view = (c) => ok("GET", `/v1/marketplace-charges/${c.id}`, { as: c.customer });
    const secrets = await until("top-up PaymentIntents made", async () => {
      const found = await Promise.all(made.map(async (c) => (await view(c)).payment.clientSecret));
      return { done: found.every((x) => typeof x === "string"), progress: found.length, found };
    });
    for (const secret of secrets.found)
      await stripe.paymentIntents.confirm(secret.split("_secret_")[0], { payment_method: "pm_card_visa" });
    await until("top-up charges settled", async () => {
      const now = await Promise.all(made.map(async (c) => (await view(c)).status));
      return { done: now.every((x) => x === "settled"), progress: now };
    });
    const retried = await operatorRetries();
    if (awaitingBalance.size > 0)
      throw new Error(`reversals still short of their sellers' balances: ${[...awaitingBalance.keys()]}`);
    say(`${made.length} top-up sale(s) made, ${retried} charge(s) retried by the operator`);
  }
}

/**
 * Refunded charges whose reversal failed `balance_insufficient`: the seller's Stripe balance
 * did not cover it (a destination charge's refund takes its whole amount back from the seller,
 * the platform's fee too, so it may draw on what a split paid them). susu opened a
 * `reversal_failed` ticket; the run's operator retries once the balance covers it.
 * Charge id → the customer (who may read the charge).
 */
const awaitingBalance = new Map();
/** Top-up sales made for them (the checks' counts). */
let extraCharges = 0;
/** Charges whose failed reversals the operator asked for again (a figure). */
let operatorRetried = 0;

/** The failed reversals of a refund still reversing that were not asked for again yet. */
function failedReversals(v) {
  const reversing = v.refunds.filter((r) => r.status === "reversing").map((r) => r.number);
  const latest = new Map();
  for (const x of v.reversals)
    if (reversing.includes(x.refundNumber)) {
      const key = `${x.refundNumber} ${x.sellerId}`;
      if ((latest.get(key)?.number ?? 0) < x.number) latest.set(key, x);
    }
  const last = [...latest.values()];
  // Only once none is in flight: what is left is what the operator must act on.
  if (last.length === 0 || last.some((x) => x.status === "requested")) return [];
  return last.filter((x) => x.status === "failed" && x.failureCode === "balance_insufficient");
}

/**
 * Waits until every refund of `refunded` succeeded, or waits on a failed reversal for its
 * seller's balance (then the charge is in `awaitingBalance`); the operator retries the ones
 * whose sellers' balances cover them meanwhile. Returns how many wait.
 */
async function refundsDone(what, refunded) {
  const byId = new Map(refunded.map((c) => [c.id, c]));
  await until(what, async () => {
    const views = await Promise.all(
      refunded.map((c) => ok("GET", `/v1/marketplace-charges/${c.id}`, { as: c.customer })),
    );
    let done = 0;
    for (const v of views) {
      if (v.refunds.every((r) => r.status === "succeeded") && ["settled", "refunded"].includes(v.status)) {
        done += 1;
        if (awaitingBalance.delete(v.id)) await resolveReversalTickets(v.id);
      } else if (failedReversals(v).length > 0) {
        done += 1;
        if (!awaitingBalance.has(v.id))
          say(
            `${v.id}: reversal(s) refused balance_insufficient (${failedReversals(v)
              .map((x) => `${x.amount.amountMinor} from ${x.sellerId}`)
              .join(", ")}); the operator retries once the balance covers it`,
          );
        awaitingBalance.set(v.id, byId.get(v.id).customer);
      }
    }
    return { done: done === refunded.length, progress: views.map((v) => v.status) };
  });
  return refunded.filter((c) => awaitingBalance.has(c.id)).length;
}

/**
 * For each seller with reversals waiting: what they wait for and what their connected
 * account holds (available and pending, as Stripe's check for a reversal counts it here).
 */
async function shortfalls() {
  const need = new Map();
  for (const [id, customer] of awaitingBalance) {
    const v = await ok("GET", `/v1/marketplace-charges/${id}`, { as: customer });
    for (const x of failedReversals(v)) {
      const {
        rows: [row],
      } = await pgClient.query(
        `SELECT connected_account_id FROM marketplace_charge_sellers WHERE charge_id = $1 AND seller_person_id = $2`,
        [id, x.sellerId],
      );
      const entry = need.get(x.sellerId) ?? { account: row.connected_account_id, needMinor: 0, charges: [] };
      entry.needMinor += x.amount.amountMinor;
      entry.charges.push(id);
      need.set(x.sellerId, entry);
    }
  }
  for (const entry of need.values()) {
    const balance = await stripe.balance.retrieve({}, { stripeAccount: entry.account });
    entry.haveMinor = [...balance.available, ...balance.pending]
      .filter((b) => b.currency === "aud")
      .reduce((sum, b) => sum + b.amount, 0);
    entry.shortMinor = Math.max(0, entry.needMinor - entry.haveMinor);
  }
  return new Map([...need].filter(([, e]) => e.shortMinor > 0));
}

/**
 * The operator: every charge waiting whose sellers' balances now cover all its failed
 * reversals is retried (`POST …/reversals/retry`), and waited for; its tickets are resolved
 * once its refunds succeeded. Returns how many charges were retried.
 */
async function operatorRetries() {
  if (awaitingBalance.size === 0) return 0;
  const short = await shortfalls();
  const blocked = new Set([...short.values()].flatMap((e) => e.charges));
  const retry = [...awaitingBalance].filter(([id]) => !blocked.has(id));
  for (const [id] of retry)
    await ok("POST", `/v1/marketplace-charges/${id}/reversals/retry`, { as: OPERATOR });
  operatorRetried += retry.length;
  if (retry.length > 0)
    await refundsDone(
      "retried reversals landed and refunds done",
      retry.map(([id, customer]) => ({ id, customer })),
    );
  return retry.length;
}

/** Resolves the charge's open `reversal_failed` tickets: its reversals landed on a retry. */
async function resolveReversalTickets(chargeId) {
  let after;
  for (;;) {
    const page = await ok(
      "GET",
      `/v1/tickets?status=open&limit=100${after ? `&starting_after=${encodeURIComponent(after)}` : ""}`,
      { as: OPERATOR },
    );
    for (const t of page.data)
      if (t.kind === "reversal_failed" && t.aggregateId === chargeId)
        await ok("POST", `/v1/tickets/${encodeURIComponent(t.id)}/resolve`, {
          as: OPERATOR,
          body: { resolution: "retried once the seller's balance covered it; the reversal landed" },
        });
    if (!page.has_more) return;
    after = page.data.at(-1)?.id;
    if (after === undefined) return;
  }
}

if (flow === "rounds") await runRounds();
else if (flow === "held") await runHeld();
else await runMarketplace();

// --- drain, then check ---------------------------------------------------------------------------------

say("draining: outbox, webhook deliveries, inbox");
// Faults still armed now never fired: counted out, then cleared so the drain is clean.
Object.assign(counts, faultsFired(await control.listFaults()));
await control.clearFaults();
await Promise.all(restarts);
await until("everything settled", async () => {
  await control.deliverPendingWebhooks();
  const deliveries = await control.webhookDeliveries();
  const open = deliveries.filter((d) => d.state !== "succeeded" && d.state !== "failed").length;
  const {
    rows: [row],
  } = await pgClient.query(`
    SELECT (SELECT count(*) FROM outbox_effects WHERE status = 'pending') AS outbox,
           (SELECT count(*) FROM webhook_events WHERE status IN ('received', 'failed')) AS inbox`);
  const left = Number(row.outbox) + Number(row.inbox) + open;
  return { done: left === 0, progress: left };
});

const { rows, stats } = await runChecks({
  pg: pgClient,
  stripe,
  control,
  flow,
  expected:
    flow === "rounds"
      ? { rounds: groupCount * steps, groups: groupCount, members: memberCount, rotations }
      : flow === "held"
        ? { held: groupCount * memberCount * steps }
        : {
            charges: groupCount * (memberCount + 1) * steps + extraCharges,
            sellerPayments: groupCount * 2 * memberCount * steps + extraCharges,
          },
});
rows.push({
  check: "susu processes that ended on their own",
  expected: "0",
  found: String(crashes.length),
  pass: crashes.length === 0,
});
console.log("");
console.log(formatTable(rows));
console.log("");
say(
  `faults injected: ${Object.entries(counts)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ")}`,
);
say(
  `webhooks: ${stats.events} events, ${stats.deliveries} deliveries (${stats.duplicateDeliveries} duplicates, ${stats.lateDeliveries} late), ${stats.failedAttempts} failed attempts; ${stats.inboxIgnored} events ignored by susu; ${stats.timersRun} timers run (${lateTimerJobs} sent on the clock before a jump, placed again after it)`,
);
if (flow === "marketplace")
  say(
    `operator: ${operatorRetried} charge(s) whose failed reversals were retried once the sellers' balances covered them; ${extraCharges} top-up sale(s)`,
  );
const failed = rows.filter((r) => !r.pass);
say(failed.length === 0 ? "all checks pass" : `${failed.length} check(s) FAILED`);
if (args.json)
  writeFileSync(args.json, `${JSON.stringify({ seed, plan, counts, stats, checks: rows }, null, 2)}\n`);
await cleanUp({ failed: failed.length > 0 });
process.exit(failed.length === 0 ? 0 : 1);

// --- helpers -----------------------------------------------------------------------------------------

/** Stripe faults that fired, by kind: each armed fault's count minus what it still had left. */
function faultsFired(stillArmed) {
  const left = new Map(stillArmed.map((f) => [f.id, f.remaining]));
  const key = {
    error: "stripe_500",
    rate_limit: "stripe_429",
    hang: "stripe_timeout",
    drop: "stripe_dropped",
  };
  const out = { stripe_500: 0, stripe_429: 0, stripe_timeout: 0, stripe_dropped: 0 };
  for (const { fault } of armed) out[key[fault.kind]] += fault.remaining - (left.get(fault.id) ?? 0);
  return out;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}
