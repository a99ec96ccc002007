import { OpenAPIHono } from "@hono/zod-openapi";
import type { PaymentGateway, UseCaseDeps } from "@susu/domain";
import { docsRoutes } from "./docs.js";
import { bearerSecurityScheme } from "./http/auth.js";
import { type HttpInfrastructure, type HttpVariables, installHttpInfrastructure } from "./http/install.js";
import { withInfrastructureResponses } from "./http/openapi-problems.js";
import type { PaymentAttemptLimiter } from "./http/payment-attempts.js";
import { refuseNulCharacters, refuseNulInJsonBodies } from "./input.js";
import { serverProblem } from "./problem.js";
import { type WebhookRouteDeps, webhookRoutes } from "./routes/webhooks.js";
import { auditV1 } from "./v1/audit.js";
import { groupsV1 } from "./v1/groups.js";
import { heldPaymentsV1 } from "./v1/held-payments.js";
import { ledgerV1 } from "./v1/ledger.js";
import { ledgerAdjustmentsV1 } from "./v1/ledger-adjustments.js";
import { marketplaceChargesV1 } from "./v1/marketplace-charges.js";
import { membersV1 } from "./v1/members.js";
import { membershipsV1 } from "./v1/memberships.js";
import { type NotificationPorts, notificationsV1 } from "./v1/notifications.js";
import { onboardingV1 } from "./v1/onboarding.js";
import { type OperationsPorts, operationsV1 } from "./v1/operations.js";
import { paymentMethodsV1 } from "./v1/payment-methods.js";
import { payoutsV1 } from "./v1/payouts.js";
import { type ReconciliationDeps, reconciliationV1 } from "./v1/reconciliation.js";
import { roundsV1 } from "./v1/rounds.js";

/** What the HTTP API needs: the use cases' ports, its HTTP infrastructure, and readiness checks. */
export interface ApiDeps {
  readonly useCases: UseCaseDeps;
  /** Resolves when the database answers; rejects otherwise. */
  readonly ping: () => Promise<void>;
  /** The Stripe webhook endpoint's secret and the inbox it stores events in. */
  readonly webhooks: WebhookRouteDeps;
  /** The payment provider, for onboarding (customers, debit set-ups, payout accounts). */
  readonly gateway: PaymentGateway;
  /** Authentication, idempotency keys, rate limits, logs, metrics, edge errors. */
  readonly http: HttpInfrastructure;
  /**
   * The ledger's reader, support tickets, and the outbox's and inbox's parked work. Always
   * given in production (container.ts); an app built without it (a test of other routes)
   * has no ledger or operations routes.
   */
  readonly operations?: OperationsPorts;
  /** Reconciliation with Stripe (container.ts); an app built without it has no reconciliation routes. */
  readonly reconciliation?: ReconciliationDeps;
  /**
   * Limits on payment attempts per person, card and customer email, applied by the routes
   * that start payments. Always given in production (container.ts); without it (a test of
   * other routes) payments are not limited.
   */
  readonly paymentAttempts?: PaymentAttemptLimiter;
  /** People's notification settings, webhook endpoints and the delivery log (container.ts); without it, no such routes. */
  readonly notifications?: NotificationPorts;
}

/** The OpenAPI document's address. */
export const OPENAPI_PATH = "/v1/openapi.json";

/**
 * The HTTP API as a Hono app, with no server: tests call `app.request()`.
 *
 * - `/v1/*`: the API, behind a bearer token (see `http/install.ts` for the order of the
 *   middlewares), described at {@link OPENAPI_PATH};
 * - `/healthz` (alive), `/readyz` (database reachable), `/webhooks/stripe` (signed by
 *   Stripe) and the docs: no token.
 *
 * `/readyz` checks the database only: the API never talks to pg-boss (the scheduler owns
 * the queue; the API writes the outbox and the webhook inbox, which are tables in the same
 * database), so a database that answers is everything an API process needs to serve.
 */
export function createApp(deps: ApiDeps) {
  const app = new OpenAPIHono<{ Variables: HttpVariables }>();
  installHttpInfrastructure(app, deps.http, "/v1", [OPENAPI_PATH]);
  app.use("*", refuseNulCharacters());
  app.use("/v1/*", refuseNulInJsonBodies());

  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", async (c) => {
    try {
      await deps.ping();
      return c.json({ status: "ready" });
    } catch (error) {
      return serverProblem(c, 503, "database_unavailable", causeOf(error), "the database does not answer");
    }
  });
  app.route("/webhooks", webhookRoutes(deps.webhooks));
  app.route("/docs", docsRoutes(OPENAPI_PATH));

  const v1 = { useCases: deps.useCases, gateway: deps.gateway };
  app.route("/v1", groupsV1(v1));
  app.route("/v1", membersV1(v1));
  app.route("/v1", onboardingV1(v1));
  app.route("/v1", paymentMethodsV1(v1));
  if (deps.operations !== undefined) {
    app.route("/v1", ledgerV1({ useCases: deps.useCases, ledger: deps.operations.ledger }));
    app.route("/v1", operationsV1({ ...deps.operations, clock: deps.useCases.clock }));
    if (deps.operations.adjustments !== undefined)
      app.route(
        "/v1",
        ledgerAdjustmentsV1({
          adjustments: deps.operations.adjustments,
          owners: deps.useCases,
          clock: deps.useCases.clock,
        }),
      );
  }
  if (deps.reconciliation !== undefined) {
    app.route("/v1", reconciliationV1(deps.reconciliation));
  }
  // The ledger reads what a round stored before it kept what it owes members outside Stripe owes.
  app.route("/v1", roundsV1(deps.operations !== undefined ? { ...v1, ledger: deps.operations.ledger } : v1));
  app.route("/v1", auditV1(v1));
  app.route(
    "/v1",
    heldPaymentsV1({
      ...v1,
      ...(deps.paymentAttempts !== undefined ? { paymentAttempts: deps.paymentAttempts } : {}),
      ...(deps.reconciliation !== undefined ? { settlements: deps.reconciliation.settlements } : {}),
    }),
  );
  app.route(
    "/v1",
    marketplaceChargesV1(
      deps.paymentAttempts !== undefined ? { ...v1, paymentAttempts: deps.paymentAttempts } : v1,
    ),
  );
  app.route("/v1", payoutsV1(v1));
  app.route("/v1", membershipsV1(v1));
  if (deps.notifications !== undefined)
    app.route("/v1", notificationsV1({ ...deps.notifications, clock: deps.useCases.clock }));

  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", bearerSecurityScheme);
  app.get(OPENAPI_PATH, (c) => c.json(openApiDocumentOf(app)));
  return app;
}

const DOCUMENT_CONFIG = {
  openapi: "3.1.0",
  info: {
    title: "susu API",
    version: "1.0.0",
    description:
      "Money for groups on Stripe. Every route under /v1 needs a bearer token; errors are application/problem+json with a stable `code`; POSTs take an `Idempotency-Key`; lists are cursor-paginated (`limit`, `starting_after`, `has_more`); amounts are in minor units with their currency; times are ISO-8601 UTC.",
  },
};

/**
 * The OpenAPI document {@link OPENAPI_PATH} serves for `app` (made by {@link createApp}):
 * generated from the routes' schemas, with what the middlewares answer merged into every
 * operation (a route's own responses of the same status would otherwise hide their codes).
 * Tests read it here to check every response against it without a request of their own.
 */
export function openApiDocumentOf(app: Pick<OpenAPIHono, "getOpenAPI31Document">) {
  return withInfrastructureResponses(app.getOpenAPI31Document(DOCUMENT_CONFIG), "/v1", [OPENAPI_PATH]);
}

function causeOf(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
