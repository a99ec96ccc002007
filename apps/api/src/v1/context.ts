import { OpenAPIHono } from "@hono/zod-openapi";
import type { PaymentGateway, UseCaseDeps } from "@susu/domain";
import { validationProblem } from "../http/edge.js";
import type { HttpVariables } from "../http/install.js";
import type { PaymentAttemptLimiter } from "../http/payment-attempts.js";

/** The Hono environment of every v1 route: the principal, the request id and its logger. */
export interface V1Env {
  readonly Variables: HttpVariables;
}

/** What the v1 routes need: the use cases' ports and the payment provider (onboarding). */
export interface V1Deps {
  readonly useCases: UseCaseDeps;
  readonly gateway: PaymentGateway;
  /** Limits on payment attempts (the routes that start payments); none: not limited. */
  readonly paymentAttempts?: PaymentAttemptLimiter;
}

/**
 * A v1 sub-app: an `OpenAPIHono` whose routes are described by their zod schemas (the
 * OpenAPI document is generated from them) and whose schema failures answer 400
 * `invalid_request` with every offending field.
 */
export function v1Router(): OpenAPIHono<V1Env> {
  return new OpenAPIHono<V1Env>({ defaultHook: validationProblem });
}
