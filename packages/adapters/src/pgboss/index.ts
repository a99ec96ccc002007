export { deterministicUuid } from "./deterministic-uuid.js";
export { PgBossTimerScheduler } from "./pg-boss-timer-scheduler.js";
export {
  DEFAULT_TIMER_RETRY,
  settleTimerFailure,
  type TimerSettlement,
} from "./timer-failure.js";
export {
  firedTimerOf,
  parseTimerJob,
  TIMER_QUEUE,
  type TimerJob,
  type TimerJobPayload,
  timerJobData,
  timerJobOf,
} from "./timer-job.js";
