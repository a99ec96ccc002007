export { deterministicUuid } from "./deterministic-uuid.js";
export { PgBossTimerScheduler } from "./pg-boss-timer-scheduler.js";
export {
  DEFAULT_TIMER_RETRY,
  type RoundTimerSettlement,
  settleRoundTimerFailure,
} from "./round-timer-failure.js";
export { parseRoundTimerJob, ROUND_TIMER_QUEUE, type RoundTimerJob } from "./round-timer-job.js";
