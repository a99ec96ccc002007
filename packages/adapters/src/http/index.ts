/**
 * PostgreSQL storage for the API's HTTP infrastructure: idempotency keys
 * (`idempotency_keys`), rate-limit counters (`rate_limits`) and the payment-attempt
 * limiter's log (`payment_attempts`), shared by every API process.
 * The interfaces they implement belong to the API (`apps/api/src/http`).
 *
 * @module
 */
export {
  IDEMPOTENCY_DELETE_BATCH_MAX,
  type IdempotencyBeginOptions,
  type IdempotencyBeginResult,
  type IdempotencyLockRef,
  type IdempotentRequestRecord,
  PrismaIdempotencyStore,
  type StoredHttpResponse,
} from "./prisma-idempotency-store.js";
export {
  type AttemptBucketLog,
  type AttemptBucketSpan,
  PAYMENT_ATTEMPT_DELETE_BATCH_MAX,
  PrismaPaymentAttemptStore,
} from "./prisma-payment-attempt-store.js";
export {
  PrismaRateLimitStore,
  RATE_LIMIT_DELETE_BATCH_MAX,
  type RateWindowCounts,
  type RateWindowSpan,
} from "./prisma-rate-limit-store.js";
export { HttpStoreError } from "./store-error.js";
