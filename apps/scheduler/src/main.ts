import { randomUUID } from "node:crypto";
import { PgBossTimerScheduler, resolveDatabaseUrl } from "@susu/adapters";
import PgBoss from "pg-boss";
import { createContainer, TOKENS } from "./container.js";
import { readSchedulerEnv } from "./env.js";
import { scheduleOpenDueRounds } from "./jobs/open-due-rounds.js";
import { startOutboxDispatcher } from "./jobs/outbox-dispatcher.js";
import { workRoundTimers } from "./jobs/round-timers.js";
import { startWebhookProcessor } from "./jobs/webhook-processor.js";
import { createLogger } from "./logger.js";

// The scheduler process: round timers, the due-round cron, the outbox dispatcher and the
// Stripe webhook processor. Any number may run at once; pg-boss and outbox leases keep each job
// worked once. Killed at any point, it resumes from the database.
const env = readSchedulerEnv();
const log = createLogger(env.LOG_LEVEL, "susu-scheduler");
const database = await resolveDatabaseUrl();
const workerId = env.SUSU_WORKER_ID ?? `scheduler-${randomUUID().slice(0, 8)}`;

const boss = new PgBoss({ connectionString: database.connectionString, schema: "pgboss" });
boss.on("error", (error: Error) => log.error({ error: error.message }, "pg-boss error"));
await boss.start();
await PgBossTimerScheduler.prepare(boss);

const container = createContainer({ ...env, DATABASE_URL: database.connectionString }, boss, log);
const deps = container.get(TOKENS.useCaseDeps);
await workRoundTimers(boss, deps, container.get(TOKENS.effectPorts).desk, log);
await scheduleOpenDueRounds(boss, deps, log, env.SUSU_OPEN_ROUNDS_CRON);
const dispatcher = startOutboxDispatcher(
  deps,
  container.get(TOKENS.effectPorts),
  container.get(TOKENS.outbox),
  {
    workerId,
    intervalMs: env.SUSU_DISPATCH_INTERVAL_MS,
    log,
  },
);
const webhooks = startWebhookProcessor(container.get(TOKENS.webhooks), {
  workerId,
  intervalMs: env.SUSU_DISPATCH_INTERVAL_MS,
  log,
});
log.info({ workerId }, "scheduler started");

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, "scheduler stopping");
  await Promise.all([dispatcher.stop(), webhooks.stop()]);
  await boss.stop({ graceful: true, wait: true, timeout: 10_000 });
  await container.get(TOKENS.prisma).$disconnect();
  await database.close();
  process.exit(0);
}
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));
