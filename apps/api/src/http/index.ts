/**
 * The v1 API's cross-cutting HTTP infrastructure: authentication, idempotency keys, rate
 * limits, request logs and ids, metrics, edge errors (body size, media type, malformed
 * JSON, 405), CORS, configuration and graceful shutdown. Each is a Hono middleware or
 * helper with no knowledge of the routes; `installHttpInfrastructure` mounts them all in
 * order. Storage for idempotency keys and rate limits is behind small interfaces
 * implemented on PostgreSQL in @susu/adapters (in memory here, for unit tests).
 *
 * @module
 */

export {
  type AuthFailure,
  type AuthVariables,
  authProblem,
  authResponses,
  bearerAuth,
  bearerSecurityScheme,
  createTokenVerifier,
  MINT_TTL_MAX_SECONDS,
  type MintTokenInput,
  mintToken,
  type Principal,
  principalOf,
  ROLES,
  ROLES_CLAIM,
  type Role,
  requireRole,
  SUBJECT_MAX_CHARS,
  SUSU_TOKEN_ISSUER,
  TOKEN_MAX_CHARS,
  type TokenVerifier,
  type TokenVerifierOptions,
} from "./auth.js";
export { type ClientIpResolver, clientIpResolver, normalizeIp } from "./client-ip.js";
export {
  type ConfigProblem,
  HTTP_CONFIG_VARIABLES,
  type HttpConfig,
  HttpConfigError,
  readHttpConfig,
} from "./config.js";
export {
  allowedMethods,
  allowedMethodsIndex,
  bodyLimit,
  CORS_ALLOW_HEADERS,
  CORS_EXPOSE_HEADERS,
  corsFor,
  DEFAULT_BODY_LIMIT_BYTES,
  edgeResponses,
  isJsonContentType,
  JSON_DEPTH_MAX,
  jsonBodies,
  jsonNestedDeeperThan,
  methodNotAllowed,
  problemOnError,
  type RouteEntry,
  validationProblem,
} from "./edge.js";
export {
  type BeginOptions,
  type BeginResult,
  canonicalJson,
  defaultStorePolicy,
  IDEMPOTENCY_KEY_HEADER,
  IDEMPOTENCY_TTL_MIN_MS,
  IDEMPOTENT_REPLAYED_HEADER,
  IdempotencyKeyHeaderSchema,
  type IdempotencyOptions,
  type IdempotencyStore,
  type IdempotentRequest,
  idempotency,
  idempotencyResponses,
  type LockRef,
  REPLAYED_HEADERS,
  type ResponseOutcome,
  requestFingerprint,
  type StoredResponse,
  stringBodyOf,
  TRANSIENT_CODES,
} from "./idempotency.js";
export { InMemoryIdempotencyStore } from "./idempotency-memory.js";
export { type HttpInfrastructure, type HttpVariables, installHttpInfrastructure } from "./install.js";
export { type MaintenanceTask, startMaintenance } from "./maintenance.js";
export {
  createHttpMetrics,
  type GaugeSample,
  type GaugeSpec,
  type HttpMetrics,
  type HttpMetricsOptions,
} from "./metrics.js";
export {
  createOverloadGuard,
  OVERLOAD_RETRY_AFTER_SECONDS,
  type OverloadGuard,
  type OverloadLimits,
  type OverloadReason,
  overloadResponses,
} from "./overload.js";
export {
  defaultPaymentAttemptLimits,
  PAYMENT_ATTEMPT_VARIABLES,
  readPaymentAttemptLimits,
} from "./payment-attempt-config.js";
export {
  type AttemptBucketLog,
  type AttemptBucketSpan,
  CARD_FAILED_BUCKET_PREFIX,
  countRefusals,
  emailDigest,
  type PaymentAttempt,
  type PaymentAttemptLimit,
  PaymentAttemptLimiter,
  type PaymentAttemptLimiterOptions,
  type PaymentAttemptLimitName,
  type PaymentAttemptLimits,
  type PaymentAttemptRefusal,
  type PaymentAttemptStore,
  type PaymentAttemptVerdict,
  paymentAttemptRefused,
  paymentAttemptResponses,
  type SlidingLogDecision,
  slidingLogDecision,
} from "./payment-attempts.js";
export {
  PROBLEM_CONTENT_TYPE,
  type ProblemBody,
  ProblemSchema,
  problemBody,
  problemDoc,
  problemResponse,
  type ResponseDoc,
} from "./problem-response.js";
export { allowance, type RateGrant, RateLeases } from "./rate-lease.js";
export {
  grantDecision,
  type RateBucket,
  type RateDecision,
  type RateLimitOptions,
  type RateLimitStore,
  type RateWindow,
  rateLimit,
  rateLimitResponses,
  slidingWindowDecision,
  type WindowCounts,
} from "./rate-limit.js";
export { InMemoryRateLimitStore } from "./rate-limit-memory.js";
export {
  createLogger,
  LOG_FLUSH_INTERVAL_MS,
  LOG_WRITE_MIN_BYTES,
  type Logger,
  type LoggerOptions,
  REDACTED_PATHS,
  REQUEST_ID_HEADER,
  type RequestLogOptions,
  type RequestLogVariables,
  requestIdOf,
  requestLog,
} from "./request-log.js";
export { routePatternOf, UNMATCHED_ROUTE } from "./route-pattern.js";
export { answerClientError, clientErrorProblem, createApiServer } from "./server.js";
export { type ClosableServer, closeGracefully, onShutdownSignal, type ShutdownOutcome } from "./shutdown.js";
