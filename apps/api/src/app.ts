import type { PaymentGateway, UseCaseDeps } from "@susu/domain";
import { Hono } from "hono";
import { problem } from "./problem.js";
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
  app.get("/health", async (c) => {
    try {
      await deps.ping();
      return c.json({ status: "ok" });
    } catch {
      return problem(c, 503, "database_unavailable", "the database does not answer");
    }
  });
  app.route("/groups", groupRoutes(deps.useCases));
  app.route("/groups", onboardingRoutes(deps.useCases, deps.gateway));
  app.route("/rounds", roundRoutes(deps.useCases));
  app.route("/webhooks", webhookRoutes(deps.webhooks));
  app.notFound((c) => problem(c, 404, "route_not_found", `no route ${c.req.method} ${c.req.path}`));
  app.onError((error, c) => {
    // A bug or lost infrastructure: say so without leaking internals.
    console.error(
      JSON.stringify({ level: "error", msg: "unhandled", error: error.message, path: c.req.path }),
    );
    return problem(c, 500, "internal_error", "something went wrong on our side");
  });
  return app;
}
