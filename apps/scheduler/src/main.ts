import { randomUUID } from "node:crypto";
import {
  guardJobSettlement,
  listenForStop,
  livenessOnConnect,
  type MetricsServer,
  notifyReady,
  OUTBOX_CHANNEL,
  openConnections,
  PgBossTimerScheduler,
  resolveDatabaseUrl,
  serveMetrics,
  startPgListener,
  TIMER_MAINTENANCE_INTERVAL_SECONDS,
  wakeNotifierOf,
  withoutForeignStopHandlers,
} from "@susu/adapters";
import PgBoss from "pg-boss";
import { createContainer, TOKENS } from "./container.js";
import { readSchedulerEnv, SchedulerConfigError, type SchedulerEnv } from "./env.js";
import { startDeadWorkerRelease } from "./jobs/dead-worker-claims.js";
import { startNotificationDeliveries } from "./jobs/notification-deliveries.js";
import { dueRoundsResumeIn, scheduleOpenDueRounds } from "./jobs/open-due-rounds.js";
import { startOutboxDispatcher } from "./jobs/outbox-dispatcher.js";
import { schedulePayOutBalances } from "./jobs/pay-out-balances.js";
import { RECONCILIATION_QUEUE, scheduleReconciliation } from "./jobs/reconciliation.js";
import { withStartupLock } from "./jobs/startup-lock.js";
import { startStuckWorkSweep } from "./jobs/stuck-work-sweep.js";
import { workTimers } from "./jobs/timers.js";
import { startWebhookProcessor } from "./jobs/webhook-processor.js";
import { createLogger } from "./logger.js";
import { createSchedulerMetrics } from "./metrics.js";
import { createNotificationMetrics } from "./notification-metrics.js";

// The scheduler process: timers, the due-round cron, the outbox dispatcher and the
// Stripe webhook processor (woken by PostgreSQL notifications, polling as the fallback), and
// a sweep for work stuck behind a dead worker. Any number may run at once; pg-boss and outbox leases keep each job
// worked once. Killed at any point, it resumes from the database; asked to stop, it finishes
// the passes and jobs in flight first, so a stop never leaves work for a lease to time out.
let env: SchedulerEnv;
try {
  env = readSchedulerEnv();
} catch (error) {
  if (!(error instanceof SchedulerConfigError)) throw error;
  // One message naming every missing or wrong variable, then stop.
  console.error(
    JSON.stringify({
      level: "error",
      service: "susu-scheduler",
      msg: error.message,
      problems: error.problems,
    }),
  );
  process.exit(1);
}
const log = createLogger(env.LOG_LEVEL, "susu-scheduler");
const stopRequested = listenForStop((signal) => {
  log.warn({ signal }, "stop forced: exiting without draining");
  process.exit(1);
});
const database = await withoutForeignStopHandlers(() => resolveDatabaseUrl());
// Always unique per process, whatever SUSU_WORKER_ID says: a process gives back the claims held
// under its id after a failed pass, so two live processes sharing one id would free each other's.
const workerId = `${env.SUSU_WORKER_ID ?? "scheduler"}-${randomUUID().slice(0, 8)}`;

// pg-boss records a job's end without awaiting it; a database away at that moment must not end
// this process (see guardJobSettlement). Before the PgBoss is made.
guardJobSettlement((call, error) =>
  log.warn(
    { call, error: error instanceof Error ? error.message : String(error) },
    "pg-boss could not record a job's end; the job runs again once its expiry passes",
  ),
);
const boss = new PgBoss({
  connectionString: database.connectionString,
  schema: "pgboss",
  // Fails timer jobs a dead process had started (TIMER_JOB_EXPIRE_SECONDS) so they run again soon.
  maintenanceIntervalSeconds: TIMER_MAINTENANCE_INTERVAL_SECONDS,
});
boss.on("error", (error: Error) => log.error({ error: error.message }, "pg-boss error"));
await boss.start();

const container = createContainer({ ...env, DATABASE_URL: database.connectionString }, boss, log, workerId);
const metrics = createSchedulerMetrics();
const notificationMetrics = createNotificationMetrics(metrics.metrics.registry);
let metricsServer: MetricsServer;
try {
  metricsServer = await serveMetrics(metrics.metrics, {
    port: env.SUSU_SCHEDULER_METRICS_PORT,
    host: env.SUSU_SCHEDULER_METRICS_HOST,
  });
} catch (error) {
  const code = (error as NodeJS.ErrnoException).code;
  const variable = "SUSU_SCHEDULER_METRICS_PORT";
  if (code === "EADDRINUSE")
    log.error(
      { port: env.SUSU_SCHEDULER_METRICS_PORT, variable },
      `port ${env.SUSU_SCHEDULER_METRICS_PORT} is already in use: set ${variable} to a free port`,
    );
  else
    log.error(
      { port: env.SUSU_SCHEDULER_METRICS_PORT, host: env.SUSU_SCHEDULER_METRICS_HOST, code },
      "cannot serve metrics",
    );
  await boss.stop({ graceful: false, wait: true });
  await container.get(TOKENS.prisma).$disconnect();
  await database.close();
  process.exit(1);
}
log.info({ url: metricsServer.url }, "metrics served");
const deps = container.get(TOKENS.useCaseDeps);
// Schedulers started together take turns here (pg-boss's queue creation can deadlock otherwise).
await withStartupLock(container.get(TOKENS.prisma), async () => {
  await PgBossTimerScheduler.prepare(boss);
  await workTimers(boss, deps, container.get(TOKENS.effectPorts).desk, log, { metrics });
  await scheduleOpenDueRounds(boss, deps, log, env.SUSU_OPEN_ROUNDS_CRON, metrics, {
    resume: dueRoundsResumeIn(container.get(TOKENS.prisma)),
  });
  // Whatever SUSU_CONNECTED_PAYOUT_SCHEDULE says: it is only the schedule new accounts get, and
  // the run pays the accounts still manual at Stripe and rechecks payouts in flight.
  await schedulePayOutBalances(
    boss,
    deps,
    container.get(TOKENS.effectPorts).gateway,
    log,
    env.SUSU_PAYOUT_CRON,
    metrics,
  );
  if (env.SUSU_RECONCILE_CRON !== "off")
    await scheduleReconciliation(
      boss,
      container.get(TOKENS.reconciliation),
      log,
      env.SUSU_RECONCILE_CRON,
      metrics,
      { rerunWithinDays: env.SUSU_RECONCILE_RERUN_DAYS, maxReruns: env.SUSU_RECONCILE_RERUNS_PER_RUN },
    );
  else await boss.unschedule(RECONCILIATION_QUEUE);
});
// The pool's kept connections (SUSU_DB_POOL_MIN) are opened before the loops start, not by
// their first events (best effort: a database that is down now is met by the loops, as ever).
const dbConnections = await openConnections(container.get(TOKENS.prisma));
if (dbConnections < env.SUSU_DB_POOL_MIN)
  log.warn(
    { dbConnections, SUSU_DB_POOL_MIN: env.SUSU_DB_POOL_MIN },
    "fewer database connections opened than the pool keeps: is max_connections big enough for every process's pool? (the pool opens the rest when work needs them)",
  );
const dispatcher = startOutboxDispatcher(
  deps,
  container.get(TOKENS.effectPorts),
  container.get(TOKENS.outbox),
  {
    workerId,
    intervalMs: env.SUSU_DISPATCH_INTERVAL_MS,
    concurrency: env.SUSU_DISPATCH_CONCURRENCY,
    log,
    metrics,
  },
);
const webhooks = startWebhookProcessor(container.get(TOKENS.webhooks), {
  workerId,
  concurrency: env.SUSU_WEBHOOK_CONCURRENCY,
  // Enough per claim to keep every slot busy while the slowest key finishes. (Claiming no
  // more than the free slots, and answering a wake-up with one free slot, was tried on
  // 2026-12-04: 2xx → committed p95 rose in an A/B run on this 2-core machine; see the
  // scheduler README.)
  limit: Math.max(50, env.SUSU_WEBHOOK_CONCURRENCY * 8),
  // A pass claims more as its slots free up (for up to 2 s, so a stop waits no longer than
  // that): an event arriving mid-pass does not wait for the pass's slowest key.
  refillForMs: 2_000,
  // A wake-up that comes while events run waits up to 10 ms for the deliveries that come
  // with it (Stripe sends several at once), so they are claimed together: fewer claim
  // transactions per event, for at most 10 ms more before an event that arrived while
  // the processor was busy starts.
  gatherWakeMs: 10,
  intervalMs: env.SUSU_DISPATCH_INTERVAL_MS,
  log,
  metrics,
});
// Effects this process commits wake its own dispatcher directly, with no NOTIFY statement;
// those the API and other schedulers commit arrive through the listener below.
wakeNotifierOf(container.get(TOKENS.prisma)).reportFailuresTo((channel, error) =>
  log.warn({ channel, err: String(error) }, "wake-up not sent; the listeners' polling finds the work"),
);
const dispatchLocally = wakeNotifierOf(container.get(TOKENS.prisma)).handleLocally(OUTBOX_CHANNEL, () =>
  dispatcher.wake(),
);
const deliveries = startNotificationDeliveries(container.get(TOKENS.deliveries), {
  intervalMs: env.SUSU_DISPATCH_INTERVAL_MS,
  log,
  onSettled: notificationMetrics.deliverySettled,
  metrics,
});
// Wake-ups: after committing outbox effects a writer notifies 'susu_outbox', after ingesting
// webhook events 'susu_webhook_events'; the loops' polling stays the fallback. After a reconnect the
// listener wakes both once (notifications sent while it was away are lost).
// Its connection also carries this process's liveness lock (taken again on every reconnect):
// other schedulers give back the claims of a worker whose lock is gone (startDeadWorkerRelease).
const listener = startPgListener({
  connectionString: database.connectionString,
  channels: ["susu_outbox", "susu_webhook_events"],
  onNotify: (channel) => (channel === "susu_outbox" ? dispatcher.wake() : webhooks.wake()),
  onConnect: livenessOnConnect(workerId),
  log,
});
const sweep = startStuckWorkSweep(container.get(TOKENS.prisma), {
  // Leases are stamped with the use cases' clock: judge them by it.
  now: () => deps.clock.now(),
  log,
  metrics,
  onOutboxResumed: () => dispatcher.wake(),
});
const deadWorkers = startDeadWorkerRelease(container.get(TOKENS.prisma), {
  workerId,
  now: () => deps.clock.now(),
  log,
  metrics,
  onOutboxReleased: () => dispatcher.wake(),
  onWebhooksReleased: () => webhooks.wake(),
});
log.info({ workerId, metrics: metricsServer.url, dbConnections }, "scheduler started");
notifyReady({ metrics: metricsServer.url });

const reason = await stopRequested;
log.info({ reason }, "scheduler stopping");
try {
  // Effects committed while the loops finish wake the other schedulers, not this one's stopping dispatcher.
  dispatchLocally();
  await Promise.all([
    dispatcher.stop(),
    webhooks.stop(),
    deliveries.stop(),
    sweep.stop(),
    deadWorkers.stop(),
  ]);
  // Only now: the listener's connection holds this worker's liveness lock, and the other
  // schedulers give back the claims of a worker without it. Stopped first, a Stripe call still
  // under way here would be run again by another process while this one's was in flight.
  await listener.stop();
  // The delivery loop has stopped: nothing more is sent on the SMTP pool's connections.
  container.get(TOKENS.deliveries).close();
  await boss.stop({ graceful: true, wait: true, timeout: 10_000 });
  await metricsServer.close();
  await container.get(TOKENS.prisma).$disconnect();
  await database.close();
} catch (error) {
  log.error({ error: error instanceof Error ? error.message : String(error) }, "scheduler stop failed");
  process.exit(1);
}
log.info("scheduler stopped");
process.exit(0);
