import type { PaymentGateway, UseCaseDeps } from "@susu/domain";
import { Hono } from "hono";
import { requestId } from "hono/request-id";
import { refuseNulCharacters } from "./input.js";
import { problem, serverProblem } from "./problem.js";
import { groupRoutes } from "./routes/groups.js";
import { onboardingRoutes } from "./routes/onboarding.js";
import { roundRoutes } from "./routes/rounds.js";
import { type WebhookRouteDeps, webhookRoutes } from "./routes/webhooks.js";

/** What the HTTP API needs: the use cases' ports, and a readiness check of its infrastructure. */
export interface ApiDeps {
  readonly useCases: UseCaseDeps;
  /** Resolves when the database answers; rejects otherwise. */
  readonly ping: () => Promise<void>;
  /** The Stripe webhook endpoint's secret and the inbox it stores events in. */
  readonly webhooks: WebhookRouteDeps;
  /** The payment provider, for member onboarding (customers, debit set-ups, payout accounts). */
  readonly gateway: PaymentGateway;
}

/** The HTTP API as a Hono app, with no server: tests call `app.request()`. */
export function createApp(deps: ApiDeps) {
  const app = new Hono();
  // First, so every answer, a refusal included, carries the id its log lines are under.
  app.use(requestId());
  app.use(refuseNulCharacters());
  app.get("/health", async (c) => {
    try {
      await deps.ping();
      return c.json({ status: "ok" });
    } catch (error) {
      return serverProblem(c, 503, "database_unavailable", causeOf(error), "the database does not answer");
    }
  });
  app.route("/groups", groupRoutes(deps.useCases));
  app.route("/groups", onboardingRoutes(deps.useCases, deps.gateway));
  app.route("/rounds", roundRoutes(deps.useCases));
  app.route("/webhooks", webhookRoutes(deps.webhooks));
  app.notFound((c) => problem(c, 404, "route_not_found", `no route ${c.req.method} ${c.req.path}`));
  // A bug or lost infrastructure: logged with its cause, answered without it.
  app.onError((error, c) => serverProblem(c, 500, "internal_error", causeOf(error)));
  return app;
}

function causeOf(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
