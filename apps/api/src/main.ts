import type { ServerType } from "@hono/node-server";
import { listenForStop, notifyReady, resolveDatabaseUrl, withoutForeignStopHandlers } from "@susu/adapters";
import { createApp } from "./app.js";
import { isApiWorker, scrapeAllWorkers, startWorkers } from "./cluster.js";
import { createContainer, TOKENS } from "./container.js";
import { type ApiConfig, heldPaymentPolicyOf, marketplacePolicyOf, readApiConfig } from "./env.js";
import { HttpConfigError } from "./http/config.js";
import { startMaintenance } from "./http/maintenance.js";
import { createApiServer } from "./http/server.js";

// The API process: parse config, bind adapters, serve. Everything else is in createApp.
// Asked to stop, it stops accepting, finishes the requests in flight, then lets go of the
// database, so no request is cut off between its database write and its answer.
//
// With API_PROCESSES > 1 this process is the primary of a node:cluster (cluster.ts): it
// resolves the database (starting the embedded one if there is no DATABASE_URL), forks
// the workers, which run this same file and serve the port, and is ready once they all
// serve. A stop signal reaches it (or, from a terminal, every process): each worker
// drains as a single process would, then the primary lets go of the database. A worker
// that dies on its own stops the others and the primary exits non-zero, as the API dying
// does under `npm start`. A primary killed outright takes its workers with it (node's
// cluster ends a worker whose primary is gone).

/** How long requests in flight get to finish once the API stops; longer ones are cut. */
const DRAIN_MS = 15_000;

const log = (level: "info" | "warn" | "error", msg: string, fields: Record<string, unknown> = {}) => {
  const line = JSON.stringify({ level, service: "susu-api", msg, ...fields });
  if (level === "error") console.error(line);
  else console.log(line);
};

let config: ApiConfig;
try {
  config = readApiConfig(process.env);
} catch (error) {
  if (!(error instanceof HttpConfigError)) throw error;
  // One message naming every missing or wrong variable, then stop: a half-configured API
  // that starts would fail its first request instead.
  log("error", error.message, { problems: error.problems });
  process.exit(1);
}
const { env, http } = config;
const primaryOfWorkers = env.API_PROCESSES > 1 && !isApiWorker();
let forceWorkers: () => void = () => undefined;
const stopRequested = listenForStop((signal) => {
  log("warn", "stop forced: exiting without draining", { signal });
  forceWorkers();
  process.exit(1);
});
const database = await withoutForeignStopHandlers(() => resolveDatabaseUrl());
if (primaryOfWorkers) await superviseWorkers();
const container = createContainer({
  databaseUrl: database.connectionString,
  stripeWebhookSecret: env.STRIPE_WEBHOOK_SECRET,
  stripeSecretKey: env.STRIPE_SECRET_KEY,
  ...(env.STRIPE_API_URL !== undefined ? { stripeApiUrl: env.STRIPE_API_URL } : {}),
  payoutSchedule: env.SUSU_CONNECTED_PAYOUT_SCHEDULE,
  http,
  paymentAttempts: config.paymentAttempts,
  logLevel: env.LOG_LEVEL,
  heldPaymentPolicy: heldPaymentPolicyOf(env),
  marketplacePolicy: marketplacePolicyOf(env),
  ...(env.SUSU_DEFAULT_ENTITLEMENTS !== undefined
    ? { defaultEntitlements: env.SUSU_DEFAULT_ENTITLEMENTS }
    : {}),
  defaultTimeZone: env.SUSU_DEFAULT_TIME_ZONE,
  ...(isApiWorker() ? { scrapeMetrics: scrapeAllWorkers } : {}),
  dbPoolSize: env.API_DB_POOL_SIZE,
  ...(env.API_DB_POOL_MIN !== undefined ? { dbPoolMin: env.API_DB_POOL_MIN } : {}),
  webhookBatching: {
    maxBatch: env.SUSU_WEBHOOK_BATCH_MAX,
    maxWaitMs: env.SUSU_WEBHOOK_BATCH_WAIT_MS,
    maxWaiting: env.SUSU_WEBHOOK_MAX_WAITING,
  },
  adminNotice: config.adminNotice,
  notifyEndpointAddresses: env.SUSU_NOTIFY_ENDPOINT_ADDRESSES,
});
const app = createApp(container.get(TOKENS.apiDeps));
// Keep-alive timeouts and problem+json for what Node's HTTP parser refuses: http/server.ts.
const server = createApiServer(app.fetch);

async function release(): Promise<void> {
  await container.get(TOKENS.close)();
  await database.close();
}

// The pool's connections are opened before the first request, not by it (best effort: a
// database that is down now is met by the requests, as ever).
const connections = await container.get(TOKENS.openConnections)();
try {
  await listen(server, env.PORT, env.HOST);
} catch (error) {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "EADDRINUSE")
    log("error", `port ${env.PORT} is already in use: set PORT to a free port`, {
      port: env.PORT,
      variable: "PORT",
    });
  else log("error", "cannot listen", { port: env.PORT, host: env.HOST, code });
  await release();
  process.exit(1);
}
log("info", "listening", { port: env.PORT, host: env.HOST, pid: process.pid, dbConnections: connections });
// Expired idempotency keys, past rate-limit windows and payment attempts are deleted in small batches, so the
// two tables stay the size of a day's traffic. Every API process runs it; the deletes are
// idempotent and bounded.
const apiDeps = container.get(TOKENS.apiDeps);
const stopMaintenance = startMaintenance({
  tasks: [
    { name: "expired idempotency keys", run: (now) => apiDeps.http.idempotencyStore.deleteExpired(now) },
    { name: "past rate-limit windows", run: (now) => apiDeps.http.rateLimitStore.deleteExpired(now) },
    ...(apiDeps.paymentAttempts !== undefined
      ? [
          {
            name: "past payment attempts",
            run: apiDeps.paymentAttempts.deleteExpired.bind(apiDeps.paymentAttempts),
          },
        ]
      : []),
  ],
  intervalMs: 60_000,
  log: apiDeps.http.logger,
});
notifyReady();

const reason = await stopRequested;
log("info", "stopping", { reason });
stopMaintenance();
await drain(server, DRAIN_MS);
await release();
log("info", "stopped");
process.exit(0);

/** The primary of several API processes: forks them, waits, stops them; never returns. */
async function superviseWorkers(): Promise<never> {
  const workers = startWorkers(env.API_PROCESSES, { DATABASE_URL: database.connectionString });
  forceWorkers = () => workers.kill();
  const stopWorkers = async (code: number): Promise<never> => {
    await workers.stop();
    await database.close();
    log("info", "stopped", { processes: env.API_PROCESSES });
    process.exit(code);
  };
  const started = await Promise.race([
    workers.ready.then(
      () => "ready" as const,
      () => "failed" as const,
    ),
    stopRequested.then(() => "stop" as const),
  ]);
  if (started === "failed") {
    // The worker said why (a port in use, say); the others are stopped.
    log("error", "an API process could not start: stopping the others");
    return stopWorkers(1);
  }
  if (started === "ready") {
    log("info", "serving", { port: env.PORT, host: env.HOST, processes: env.API_PROCESSES });
    notifyReady();
  }
  const next = await Promise.race([
    stopRequested.then((reason) => ({ reason }) as const),
    workers.exitedOnItsOwn.then((exit) => ({ exit }) as const),
  ]);
  if ("exit" in next) {
    log("error", "an API process exited on its own: stopping the others", next.exit);
    return stopWorkers(1);
  }
  log("info", "stopping", { reason: next.reason, processes: env.API_PROCESSES });
  return stopWorkers(0);
}

function listen(s: ServerType, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    s.once("error", reject);
    s.listen(port, host, () => {
      s.off("error", reject);
      resolve();
    });
  });
}

/**
 * Stops accepting connections and waits for the requests in flight. Keep-alive connections
 * are closed as soon as they are idle (a client would otherwise hold the server open), and
 * whatever is still open after `graceMs` is cut.
 */
async function drain(s: ServerType, graceMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => s.close(() => resolve()));
  if (!("closeIdleConnections" in s)) return closed;
  s.closeIdleConnections();
  const idle = setInterval(() => s.closeIdleConnections(), 100);
  const cut = setTimeout(() => {
    log("warn", "requests still running after the drain period: cutting them", { graceMs });
    s.closeAllConnections();
  }, graceMs);
  try {
    await closed;
  } finally {
    clearInterval(idle);
    clearTimeout(cut);
  }
}
