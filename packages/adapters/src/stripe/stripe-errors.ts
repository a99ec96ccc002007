import type { GatewayError } from "@susu/domain";
import Stripe from "stripe";

const {
  StripeAPIError,
  StripeAuthenticationError,
  StripeCardError,
  StripeConnectionError,
  StripeError,
  StripeIdempotencyError,
  StripeInvalidRequestError,
  StripeOAuthError,
  StripePermissionError,
  StripeRateLimitError,
  StripeSignatureVerificationError,
  RateLimitError,
  TemporarySessionExpiredError,
} = Stripe.errors;

/**
 * Which SDK error class a thrown value is. Named so that {@link classifyStripeError} can
 * switch over it exhaustively: a new class added here fails to compile until it is mapped.
 */
export type StripeErrorKind =
  | "card"
  | "invalid_request"
  | "idempotency"
  | "api"
  | "connection"
  | "rate_limit"
  | "authentication"
  | "permission"
  | "signature_verification"
  | "oauth"
  | "temporary_session_expired"
  | "other_stripe"
  | "not_stripe";

/** Sorts a thrown value by SDK error class (subclasses before their parents). */
export function stripeErrorKind(error: unknown): StripeErrorKind {
  if (!(error instanceof StripeError)) return "not_stripe";
  if (error instanceof StripeCardError) return "card";
  if (error instanceof StripeIdempotencyError) return "idempotency";
  if (error instanceof StripeInvalidRequestError) return "invalid_request";
  if (error instanceof StripeRateLimitError || error instanceof RateLimitError) return "rate_limit";
  if (error instanceof StripeConnectionError) return "connection";
  if (error instanceof StripeAPIError) return "api";
  if (error instanceof StripeAuthenticationError) return "authentication";
  if (error instanceof StripePermissionError) return "permission";
  if (error instanceof StripeSignatureVerificationError) return "signature_verification";
  if (error instanceof StripeOAuthError) return "oauth";
  if (error instanceof TemporarySessionExpiredError) return "temporary_session_expired";
  return "other_stripe";
}

/**
 * Codes that Stripe answers with when a request did nothing and the same request may
 * succeed shortly: a lock on the object held by another request, or rate limiting.
 */
const RETRYABLE_CODES: ReadonlySet<string> = new Set([
  "lock_timeout",
  "rate_limit",
  "idempotency_key_in_use",
]);

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

const TIMEOUT_DETAIL_CODE = "ETIMEDOUT";

function retryAfterSeconds(error: InstanceType<typeof StripeError>): number | undefined {
  const raw = error.headers?.["retry-after"];
  if (raw === undefined) return undefined;
  const seconds = Number(raw);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
}

function describe(error: InstanceType<typeof StripeError>): string {
  // Stripe's messages carry no secrets; the request id lets support find the call in Stripe's logs.
  return error.requestId !== undefined ? `${error.message} (request ${error.requestId})` : error.message;
}

function make(
  type: GatewayError["type"],
  code: string,
  error: InstanceType<typeof StripeError>,
): GatewayError {
  const after = retryAfterSeconds(error);
  return {
    type,
    code,
    message: describe(error),
    ...(after !== undefined ? { retryAfterSeconds: after } : {}),
  };
}

function isTimeout(error: InstanceType<typeof StripeConnectionError>): boolean {
  const detail = error.detail;
  return (
    typeof detail === "object" && detail !== null && "code" in detail && detail.code === TIMEOUT_DETAIL_CODE
  );
}

/**
 * Sorts anything a Stripe SDK call threw into a {@link GatewayError}, by error class,
 * HTTP status and Stripe's `code` — never by message text:
 *
 * | SDK error | condition | GatewayError type | code |
 * |---|---|---|---|
 * | `StripeCardError` (402) | | definite | `decline_code`, else `code` |
 * | `StripeInvalidRequestError` (400/404) | `code` lock_timeout / rate_limit | retryable | `code` |
 * | `StripeInvalidRequestError` | any other | definite | `code` (e.g. `insufficient_capabilities_for_transfer`, `balance_insufficient`, `resource_missing`) |
 * | `StripeIdempotencyError` | same key, other parameters | outcome_unknown | `idempotency_key_reused` |
 * | `StripeRateLimitError` (429) | incl. `lock_timeout` | retryable | `code`, else `rate_limit` |
 * | `StripeAPIError` | 409 (key in use by a concurrent request) | retryable | `idempotency_key_in_use` |
 * | `StripeAPIError` | 5xx, unreadable answer | outcome_unknown | `api_error` |
 * | `StripeConnectionError` | timeout | outcome_unknown | `timeout` |
 * | `StripeConnectionError` | no answer | outcome_unknown | `api_connection_error` |
 * | `StripeAuthenticationError` (401) | | retryable | `authentication_failed` |
 * | `StripePermissionError` (403) | | definite | `code`, else `permission_denied` |
 * | signature / OAuth / other Stripe errors | | definite, or by status as above | `code` |
 * | anything not from the SDK | | outcome_unknown | `unexpected_error` |
 *
 * Why an idempotency error is not definite: see its case below. Why authentication is retryable: a wrong or rolled key is our configuration, not the
 * member's payment; nothing happened at Stripe, and treating it as definite would fail
 * every debit of every round. The dispatcher retries and, past its limit, parks the effect
 * for a person. Why a non-SDK throw is outcome unknown: it may have come after the request
 * was sent, so only a retry with the same key (or the webhook) can tell.
 */
export function classifyStripeError(error: unknown): GatewayError {
  const kind = stripeErrorKind(error);
  if (kind === "not_stripe" || !(error instanceof StripeError)) {
    const message = error instanceof Error ? error.message : String(error);
    return { type: "gateway_outcome_unknown", code: "unexpected_error", message };
  }
  const code = nonEmpty(error.code);
  switch (kind) {
    case "card":
      // The SDK sets `decline_code` to "" when Stripe sent none.
      return make(
        "gateway_definite",
        nonEmpty(error.decline_code) ?? nonEmpty(code) ?? "card_declined",
        error,
      );
    case "invalid_request":
      if (code !== undefined && RETRYABLE_CODES.has(code)) return make("gateway_retryable", code, error);
      return make("gateway_definite", code ?? "invalid_request", error);
    case "idempotency":
      // The key was used with other parameters (e.g. the member changed bank account between a
      // lost answer and its retry): the first request may be moving money right now. "Definite"
      // would tell the round the debit failed; unknown keeps it waiting for the webhook, and the
      // dispatcher parks the effect for a person when retries cannot help.
      return make("gateway_outcome_unknown", "idempotency_key_reused", error);
    case "rate_limit":
      return make("gateway_retryable", code ?? "rate_limit", error);
    case "api":
      // The SDK turns a 409 (an idempotency key still held by a concurrent request) into
      // an API error once its own retries are spent: that request did nothing.
      if (error.statusCode === 409) return make("gateway_retryable", code ?? "idempotency_key_in_use", error);
      return make("gateway_outcome_unknown", code ?? "api_error", error);
    case "connection":
      return make("gateway_outcome_unknown", isTimeout(error) ? "timeout" : "api_connection_error", error);
    case "authentication":
      return make("gateway_retryable", "authentication_failed", error);
    case "permission":
      return make("gateway_definite", code ?? "permission_denied", error);
    case "signature_verification":
      return make("gateway_definite", "signature_verification_failed", error);
    case "oauth":
      return make("gateway_definite", code ?? error.rawType ?? "oauth_error", error);
    case "temporary_session_expired":
      return make("gateway_retryable", code ?? "temporary_session_expired", error);
    case "other_stripe":
      return byStatus(error);
  }
}

function byStatus(error: InstanceType<typeof StripeError>): GatewayError {
  const status = error.statusCode;
  if (status === undefined || status >= 500)
    return make("gateway_outcome_unknown", error.code ?? "api_error", error);
  if (status === 409 || status === 429) return make("gateway_retryable", error.code ?? "rate_limit", error);
  return make("gateway_definite", error.code ?? "invalid_request", error);
}
