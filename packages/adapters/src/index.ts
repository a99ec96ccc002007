export * from "./db/index.js";
export * from "./stripe/index.js";
export { deterministicUuid, PgBossTimerScheduler, parseRoundTimerJob, ROUND_TIMER_QUEUE, type RoundTimerJob } from "./pgboss/index.js";
