import { randomUUID } from "node:crypto";
import {
  listenForStop,
  notifyReady,
  PgBossTimerScheduler,
  resolveDatabaseUrl,
  withoutForeignStopHandlers,
} from "@susu/adapters";
import PgBoss from "pg-boss";
import { createContainer, TOKENS } from "./container.js";
import { readSchedulerEnv } from "./env.js";
import { scheduleOpenDueRounds } from "./jobs/open-due-rounds.js";
import { startOutboxDispatcher } from "./jobs/outbox-dispatcher.js";
import { workTimers } from "./jobs/timers.js";
import { startWebhookProcessor } from "./jobs/webhook-processor.js";
import { createLogger } from "./logger.js";

// The scheduler process: timers, the due-round cron, the outbox dispatcher and the
// Stripe webhook processor. Any number may run at once; pg-boss and outbox leases keep each job
// worked once. Killed at any point, it resumes from the database; asked to stop, it finishes
// the passes and jobs in flight first, so a stop never leaves work for a lease to time out.
const env = readSchedulerEnv();
const log = createLogger(env.LOG_LEVEL, "susu-scheduler");
const stopRequested = listenForStop((signal) => {
  log.warn({ signal }, "stop forced: exiting without draining");
  process.exit(1);
});
const database = await withoutForeignStopHandlers(() => resolveDatabaseUrl());
const workerId = env.SUSU_WORKER_ID ?? `scheduler-${randomUUID().slice(0, 8)}`;

const boss = new PgBoss({ connectionString: database.connectionString, schema: "pgboss" });
boss.on("error", (error: Error) => log.error({ error: error.message }, "pg-boss error"));
await boss.start();
await PgBossTimerScheduler.prepare(boss);

const container = createContainer({ ...env, DATABASE_URL: database.connectionString }, boss, log);
const deps = container.get(TOKENS.useCaseDeps);
await workTimers(boss, deps, container.get(TOKENS.effectPorts).desk, log);
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
notifyReady();

const reason = await stopRequested;
log.info({ reason }, "scheduler stopping");
try {
  await Promise.all([dispatcher.stop(), webhooks.stop()]);
  await boss.stop({ graceful: true, wait: true, timeout: 10_000 });
  await container.get(TOKENS.prisma).$disconnect();
  await database.close();
} catch (error) {
  log.error({ error: error instanceof Error ? error.message : String(error) }, "scheduler stop failed");
  process.exit(1);
}
log.info("scheduler stopped");
process.exit(0);
