export {
  DEFAULT_PAYOUT_SCHEDULE,
  isPayoutFinal,
  mergePayout,
  PAYOUT_RECHECK_AFTER_ARRIVAL_MS,
  PAYOUT_REQUEST_LOOKUP_MS,
  PAYOUT_REQUEST_STATUSES,
  PAYOUT_STATUSES,
  type PayoutMerge,
  type PayoutRecord,
  type PayoutRequest,
  type PayoutRequestStatus,
  type PayoutSchedule,
  type PayoutStatus,
  parsePayoutSchedule,
  payoutRequestMoves,
  type ReportedPayout,
  utcDay,
  WEEKDAYS,
  type Weekday,
} from "./payout.js";
export {
  PAYOUT_AGGREGATE,
  PAYOUT_NOTIFICATION_TEMPLATES,
  PAYOUT_TICKET_REASONS,
  type PayoutEffect,
  type PayoutNotificationTemplate,
  type PayoutTicketReason,
} from "./payout-effect.js";
export { PAYOUT_KEYS_PER_DAY, payoutIds } from "./payout-ids.js";
export {
  PAYOUT_PAUSE_REASON_MAX,
  type PayoutPause,
  type PayoutPauseChange,
  type PayoutPauseScope,
  payoutPauseKey,
  payoutPauseOf,
  payoutPauseScopeOf,
} from "./payout-pause.js";
export { reversalReserve } from "./reversal-reserve.js";
