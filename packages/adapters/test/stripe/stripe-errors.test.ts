import type { RunningEmulator } from "@susu/stripe-emulator";
import { startEmulator } from "@susu/stripe-emulator";
import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { classifyStripeError, StripePaymentGateway, stripeErrorKind } from "../../src/stripe/index.js";
import { clientConfig, EMULATOR_OPTIONS } from "./emulator-harness.js";

const E = Stripe.errors;

describe("classifyStripeError: one row per SDK error class", () => {
  const rows: { name: string; error: unknown; expected: { type: string; code: string } }[] = [
    {
      name: "StripeCardError → definite, with the issuer's decline code",
      error: new E.StripeCardError({
        type: "card_error",
        statusCode: 402,
        code: "card_declined",
        decline_code: "insufficient_funds",
        message: "declined",
      }),
      expected: { type: "gateway_definite", code: "insufficient_funds" },
    },
    {
      name: "StripeCardError without a decline code → definite, with its code",
      error: new E.StripeCardError({
        type: "card_error",
        statusCode: 402,
        code: "expired_card",
        message: "expired",
      }),
      expected: { type: "gateway_definite", code: "expired_card" },
    },
    {
      name: "StripeInvalidRequestError → definite, with Stripe's code",
      error: new E.StripeInvalidRequestError({
        type: "invalid_request_error",
        statusCode: 400,
        code: "insufficient_capabilities_for_transfer",
        message: "no",
      }),
      expected: { type: "gateway_definite", code: "insufficient_capabilities_for_transfer" },
    },
    {
      name: "StripeInvalidRequestError balance_insufficient → definite",
      error: new E.StripeInvalidRequestError({
        type: "invalid_request_error",
        statusCode: 400,
        code: "balance_insufficient",
        message: "no",
      }),
      expected: { type: "gateway_definite", code: "balance_insufficient" },
    },
    {
      name: "StripeInvalidRequestError 404 → definite resource_missing",
      error: new E.StripeInvalidRequestError({
        type: "invalid_request_error",
        statusCode: 404,
        code: "resource_missing",
        message: "no such",
      }),
      expected: { type: "gateway_definite", code: "resource_missing" },
    },
    {
      name: "StripeInvalidRequestError lock_timeout → retryable",
      error: new E.StripeInvalidRequestError({
        type: "invalid_request_error",
        statusCode: 400,
        code: "lock_timeout",
        message: "locked",
      }),
      expected: { type: "gateway_retryable", code: "lock_timeout" },
    },
    {
      name: "StripeIdempotencyError → outcome unknown (the first request with the key may be moving money)",
      error: new E.StripeIdempotencyError({ type: "idempotency_error", statusCode: 400, message: "keys…" }),
      expected: { type: "gateway_outcome_unknown", code: "idempotency_key_reused" },
    },
    {
      name: "StripeRateLimitError → retryable",
      error: new E.StripeRateLimitError({
        type: "invalid_request_error",
        statusCode: 429,
        code: "rate_limit",
        message: "slow down",
      }),
      expected: { type: "gateway_retryable", code: "rate_limit" },
    },
    {
      name: "StripeRateLimitError lock_timeout → retryable",
      error: new E.StripeRateLimitError({
        type: "invalid_request_error",
        statusCode: 429,
        code: "lock_timeout",
        message: "locked",
      }),
      expected: { type: "gateway_retryable", code: "lock_timeout" },
    },
    {
      name: "StripeAPIError 409 (key in use by a concurrent request) → retryable",
      error: new E.StripeAPIError({
        type: "invalid_request_error",
        statusCode: 409,
        code: "idempotency_key_in_use",
        message: "in use",
      }),
      expected: { type: "gateway_retryable", code: "idempotency_key_in_use" },
    },
    {
      name: "StripeAPIError 500 → outcome unknown",
      error: new E.StripeAPIError({ type: "api_error", statusCode: 500, message: "boom" }),
      expected: { type: "gateway_outcome_unknown", code: "api_error" },
    },
    {
      name: "StripeAPIError 503 → outcome unknown",
      error: new E.StripeAPIError({ type: "api_error", statusCode: 503, message: "unavailable" }),
      expected: { type: "gateway_outcome_unknown", code: "api_error" },
    },
    {
      name: "StripeConnectionError → outcome unknown",
      error: new E.StripeConnectionError({
        message: "An error occurred with our connection to Stripe.",
        detail: new Error("socket hang up"),
      }),
      expected: { type: "gateway_outcome_unknown", code: "api_connection_error" },
    },
    {
      name: "StripeConnectionError from a timeout → outcome unknown, code timeout",
      error: new E.StripeConnectionError({
        message: "Request aborted due to timeout being reached (300ms)",
        detail: Object.assign(new TypeError("ETIMEDOUT"), { code: "ETIMEDOUT" }),
      }),
      expected: { type: "gateway_outcome_unknown", code: "timeout" },
    },
    {
      name: "StripeAuthenticationError → retryable (our configuration; nothing happened)",
      error: new E.StripeAuthenticationError({
        type: "authentication_error",
        statusCode: 401,
        message: "Invalid API Key",
      }),
      expected: { type: "gateway_retryable", code: "authentication_failed" },
    },
    {
      name: "StripePermissionError → definite, with its code",
      error: new E.StripePermissionError({
        type: "invalid_request_error",
        statusCode: 403,
        code: "account_invalid",
        message: "no access",
      }),
      expected: { type: "gateway_definite", code: "account_invalid" },
    },
    {
      name: "StripeSignatureVerificationError → definite",
      error: new E.StripeSignatureVerificationError("t=1,v1=bad", "{}", { message: "no match" }),
      expected: { type: "gateway_definite", code: "signature_verification_failed" },
    },
    {
      name: "StripeOAuthError → definite",
      error: new E.StripeInvalidGrantError({ type: "invalid_grant", message: "expired code" }),
      expected: { type: "gateway_definite", code: "invalid_grant" },
    },
    {
      name: "RateLimitError (v2) → retryable",
      error: new E.RateLimitError({ type: "rate_limit", statusCode: 429, message: "slow down" }),
      expected: { type: "gateway_retryable", code: "rate_limit" },
    },
    {
      name: "TemporarySessionExpiredError → retryable",
      error: new E.TemporarySessionExpiredError({
        type: "temporary_session_expired",
        statusCode: 400,
        message: "expired",
      }),
      expected: { type: "gateway_retryable", code: "temporary_session_expired" },
    },
    {
      name: "StripeError of no known class, 5xx → outcome unknown",
      error: new E.StripeError({ statusCode: 502, message: "bad gateway" }),
      expected: { type: "gateway_outcome_unknown", code: "api_error" },
    },
    {
      name: "StripeError of no known class, 4xx → definite",
      error: new E.StripeError({ statusCode: 400, code: "parameter_unknown", message: "unknown" }),
      expected: { type: "gateway_definite", code: "parameter_unknown" },
    },
    {
      name: "anything not from the SDK → outcome unknown",
      error: new TypeError("cannot read properties of undefined"),
      expected: { type: "gateway_outcome_unknown", code: "unexpected_error" },
    },
  ];

  it.each(rows)("$name", ({ error, expected }) => {
    expect(classifyStripeError(error)).toMatchObject(expected);
  });

  it("keeps the request id in the message and a Retry-After when Stripe sent one", () => {
    const error = new E.StripeRateLimitError({
      type: "invalid_request_error",
      statusCode: 429,
      message: "Too many requests",
      requestId: "req_123",
      headers: { "retry-after": "2" },
    });
    expect(classifyStripeError(error)).toEqual({
      type: "gateway_retryable",
      code: "rate_limit",
      message: "Too many requests (request req_123)",
      retryAfterSeconds: 2,
    });
  });

  it("never reads the message: the same text under another class classifies by class", () => {
    const message = "Request aborted due to timeout being reached (300ms)";
    expect(classifyStripeError(new E.StripeInvalidRequestError({ statusCode: 400, message })).type).toBe(
      "gateway_definite",
    );
    expect(stripeErrorKind(new E.StripeInvalidRequestError({ statusCode: 400, message }))).toBe(
      "invalid_request",
    );
  });
});

describe("classifyStripeError on real answers from the emulator, through the SDK", () => {
  let emulator: RunningEmulator;
  let stripe: Stripe;

  beforeAll(async () => {
    emulator = await startEmulator(EMULATOR_OPTIONS);
    // No SDK retries here: each test looks at the first answer.
    stripe = new StripePaymentGateway(clientConfig(emulator, { maxNetworkRetries: 0, timeoutMs: 500 }))
      .stripe;
  });

  afterAll(async () => {
    await emulator.stop();
  });

  async function thrown(request: () => Promise<unknown>): Promise<unknown> {
    try {
      await request();
    } catch (error) {
      return error;
    }
    throw new Error("expected the request to fail");
  }

  it("402 card decline", async () => {
    const error = await thrown(() =>
      stripe.paymentIntents.create({
        amount: 1_000,
        currency: "aud",
        payment_method: "pm_card_chargeDeclinedInsufficientFunds",
        payment_method_types: ["card"],
        confirm: true,
      }),
    );
    expect(error).toBeInstanceOf(E.StripeCardError);
    expect(classifyStripeError(error)).toMatchObject({
      type: "gateway_definite",
      code: "insufficient_funds",
    });
  });

  it("401 wrong key", async () => {
    const wrong = new StripePaymentGateway(
      clientConfig(emulator, { secretKey: "sk_test_wrong", maxNetworkRetries: 0 }),
    );
    const result = await wrong.getConnectedAccount("acct_x");
    expect(result._unsafeUnwrapErr()).toMatchObject({
      type: "gateway_retryable",
      code: "authentication_failed",
    });
  });

  it("403 acting as an account the platform cannot reach", async () => {
    const error = await thrown(() => stripe.customers.list({}, { stripeAccount: "acct_notconnected0000" }));
    expect(error).toBeInstanceOf(E.StripePermissionError);
    expect(classifyStripeError(error)).toMatchObject({ type: "gateway_definite", code: "account_invalid" });
  });

  it("404 unknown object", async () => {
    const error = await thrown(() => stripe.paymentIntents.retrieve("pi_doesnotexist"));
    expect(error).toBeInstanceOf(E.StripeInvalidRequestError);
    expect(classifyStripeError(error)).toMatchObject({ type: "gateway_definite", code: "resource_missing" });
  });

  it("400 idempotency error: the same key with other parameters", async () => {
    await stripe.customers.create({ name: "A" }, { idempotencyKey: "errors:same-key" });
    const error = await thrown(() =>
      stripe.customers.create({ name: "B" }, { idempotencyKey: "errors:same-key" }),
    );
    expect(error).toBeInstanceOf(E.StripeIdempotencyError);
    expect(classifyStripeError(error)).toMatchObject({
      type: "gateway_outcome_unknown",
      code: "idempotency_key_reused",
    });
  });

  it("429 that Stripe says not to retry", async () => {
    await emulator.control.injectFault({
      route: "POST /v1/customers",
      kind: "rate_limit",
      shouldRetry: false,
    });
    const error = await thrown(() => stripe.customers.create({ name: "C" }));
    expect(error).toBeInstanceOf(E.StripeRateLimitError);
    expect(classifyStripeError(error)).toMatchObject({ type: "gateway_retryable", code: "rate_limit" });
  });

  it("500", async () => {
    await emulator.control.injectFault({ route: "POST /v1/customers", kind: "error", status: 500 });
    const error = await thrown(() => stripe.customers.create({ name: "D" }));
    expect(error).toBeInstanceOf(E.StripeAPIError);
    expect(classifyStripeError(error)).toMatchObject({ type: "gateway_outcome_unknown", code: "api_error" });
  });

  it("a timeout", async () => {
    await emulator.control.injectFault({ route: "POST /v1/customers", kind: "hang", phase: "after" });
    const error = await thrown(() => stripe.customers.create({ name: "E" }));
    expect(error).toBeInstanceOf(E.StripeConnectionError);
    expect(classifyStripeError(error)).toMatchObject({ type: "gateway_outcome_unknown", code: "timeout" });
  });

  it("a dropped connection", async () => {
    // The SDK retries a closed connection once even with retries off, so drop twice.
    await emulator.control.injectFault({ route: "POST /v1/customers", kind: "drop", count: 2 });
    const error = await thrown(() => stripe.customers.create({ name: "F" }));
    expect(error).toBeInstanceOf(E.StripeConnectionError);
    expect(classifyStripeError(error)).toMatchObject({
      type: "gateway_outcome_unknown",
      code: "api_connection_error",
    });
  });

  it("409: the key is still in use by a concurrent request", async () => {
    await emulator.control.injectFault({ route: "POST /v1/customers", kind: "slow", delayMs: 300 });
    const first = stripe.customers.create({ name: "G" }, { idempotencyKey: "errors:concurrent" });
    // Let the first request claim the key before the second arrives.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const error = await thrown(() =>
      stripe.customers.create({ name: "G" }, { idempotencyKey: "errors:concurrent" }),
    );
    expect(error).toBeInstanceOf(E.StripeAPIError);
    expect(classifyStripeError(error)).toMatchObject({
      type: "gateway_retryable",
      code: "idempotency_key_in_use",
    });
    expect((await first).name).toBe("G");
  });
});
