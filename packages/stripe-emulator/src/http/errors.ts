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
 * response: Stripe keeps results once an endpoint started changing state (card declines,
 * 500s) and forgets validation failures so the caller can fix the request and retry.
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
    this.stored = options.stored ?? (status === 402 || status >= 500);
  }
}

function docUrl(code: string): string {
  return `https://stripe.com/docs/error-codes/${code.replace(/_/g, "-")}`;
}

export function invalidRequest(message: string, extra: { param?: string; code?: string } = {}): ApiError {
  return new ApiError(400, { type: "invalid_request_error", message, ...extra });
}

export function missingParam(param: string): ApiError {
  return invalidRequest(`Missing required param: ${param}.`, { param, code: "parameter_missing" });
}

export function invalidParam(param: string, message: string, code = "parameter_invalid_string"): ApiError {
  return invalidRequest(message, { param, code });
}

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
