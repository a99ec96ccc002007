export { deterministicUuid } from "./deterministic-uuid.js";
export {
  PgBossTimerScheduler,
  TIMER_JOB_EXPIRE_SECONDS,
  TIMER_MAINTENANCE_INTERVAL_SECONDS,
} from "./pg-boss-timer-scheduler.js";
export { guardJobSettlement } from "./settlement-guard.js";
export {
  DEFAULT_TIMER_RETRY,
  settleTimerFailure,
  type TimerSettlement,
} from "./timer-failure.js";
export {
  firedTimerOf,
  parseTimerJob,
  REFUND_LOOKUP_JOB_KIND,
  TIMER_QUEUE,
  type TimerJob,
  type TimerJobData,
  type TimerJobPayload,
  timerJobData,
  timerJobOf,
} from "./timer-job.js";
