/** The `error` object of Stripe's error responses. */
export interface StripeErrorBody {
  type: "api_error" | "card_error" | "idempotency_error" | "invalid_request_error";
  message: string;
  code?: string;
  decline_code?: string;
  advice_code?: string;
  param?: string;
  doc_url?: string;
  charge?: string;
  payment_intent?: unknown;
  setup_intent?: unknown;
  payment_method?: unknown;
  payment_method_type?: string;
  request_log_url?: string;
}

/**
 * An error answered in Stripe's shape. `stored` says whether an idempotency key keeps this
 * response. Stripe keeps the result of every request whose endpoint began executing, whatever
 * it was ("A request that returns a 400 sends back the same 400 if followed by a new request
 * with the same idempotency key"), so an error is stored unless it says otherwise. Only a
 * failure of the incoming parameters' validation ({@link validationFailure}) and a rate limit
 * are forgotten, so the caller can fix the request, or wait, and retry with the same key.
 */
export class ApiError extends Error {
  readonly status: number;
  readonly body: StripeErrorBody;
  readonly headers: Record<string, string>;
  readonly stored: boolean;

  constructor(
    status: number,
    body: StripeErrorBody,
    options: { headers?: Record<string, string>; stored?: boolean } = {},
  ) {
    super(body.message);
    this.status = status;
    this.body = body.code && !body.doc_url ? { ...body, doc_url: docUrl(body.code) } : body;
    this.headers = options.headers ?? {};
    this.stored = options.stored ?? status !== 429;
  }
}

function docUrl(code: string): string {
  return `https://stripe.com/docs/error-codes/${code.replace(/_/g, "-")}`;
}

/**
 * A 400 raised while the endpoint runs: a refusal by a business rule or by the state of an
 * object (`balance_insufficient`, `charge_already_refunded`, an invoice that is not open). An
 * idempotency key keeps it: the same key answers the same 400 even after the state changed.
 */
export function invalidRequest(message: string, extra: { param?: string; code?: string } = {}): ApiError {
  return new ApiError(400, { type: "invalid_request_error", message, ...extra });
}

/**
 * A 400 for the request's parameters themselves, checked before the endpoint does anything
 * (missing, unknown, malformed or out-of-range values, whatever the account's state). Stripe
 * does not save these ("If incoming parameters fail validation ... we don't save the
 * idempotent result"), so the same key may be sent again with the request fixed.
 */
export function validationFailure(message: string, extra: { param?: string; code?: string } = {}): ApiError {
  return new ApiError(400, { type: "invalid_request_error", message, ...extra }, { stored: false });
}

export function missingParam(param: string): ApiError {
  return validationFailure(`Missing required param: ${param}.`, { param, code: "parameter_missing" });
}

export function invalidParam(param: string, message: string, code = "parameter_invalid_string"): ApiError {
  return validationFailure(message, { param, code });
}

/**
 * A parameter the endpoint refused against the current state (a price in another currency
 * than the subscription, a date the clock has passed): the same body as {@link invalidParam},
 * but found while the endpoint ran, so an idempotency key keeps it.
 */
export function refusedParam(param: string, message: string, code = "parameter_invalid_string"): ApiError {
  return invalidRequest(message, { param, code });
}

/**
 * A 404 for an object the request names. The endpoint looks objects up as it runs, so an
 * idempotency key keeps this answer like any other result of a running endpoint (Stripe
 * names only parameter validation, concurrent requests and rate limits as not saved).
 */
export function resourceMissing(objectName: string, id: string, param = "id"): ApiError {
  return new ApiError(404, {
    type: "invalid_request_error",
    message: `No such ${objectName}: '${id}'`,
    code: "resource_missing",
    param,
  });
}

export function unexpectedState(message: string, code = "payment_intent_unexpected_state"): ApiError {
  return invalidRequest(message, { code });
}

export function authenticationError(message: string): ApiError {
  return new ApiError(401, { type: "invalid_request_error", message });
}

export function permissionError(message: string, code?: string): ApiError {
  return new ApiError(403, { type: "invalid_request_error", message, ...(code ? { code } : {}) });
}

export function apiError(message = "An unknown error occurred", status = 500): ApiError {
  return new ApiError(status, { type: "api_error", message });
}

export function rateLimited(shouldRetry: boolean): ApiError {
  return new ApiError(
    429,
    {
      type: "invalid_request_error",
      code: "rate_limit",
      message:
        "Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.",
    },
    { headers: { "Stripe-Should-Retry": shouldRetry ? "true" : "false" }, stored: false },
  );
}

export function cardError(
  message: string,
  code: string,
  declineCode: string | undefined,
  extra: Partial<StripeErrorBody> = {},
): ApiError {
  return new ApiError(402, {
    type: "card_error",
    message,
    code,
    ...(declineCode !== undefined ? { decline_code: declineCode } : {}),
    ...extra,
  });
}
