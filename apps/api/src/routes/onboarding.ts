import { type PaymentGateway, type UseCaseDeps, useCases } from "@susu/domain";
import { Hono } from "hono";
import { z } from "zod";
import { bodySchema } from "../input.js";
import { problem, providerProblem, validationProblem } from "../problem.js";

const setupSchema = bodySchema(
  z.object({
    /** A new value asks for a new set-up (e.g. after a revoked mandate); the same value repeats safely. */
    attempt: z.string().trim().min(1).max(64).default("1"),
  }),
);
const payoutSchema = bodySchema(
  z.object({
    refreshUrl: z.url({ protocol: /^https?$/ }),
    returnUrl: z.url({ protocol: /^https?$/ }),
    country: z
      .string()
      .regex(/^[A-Z]{2}$/)
      .default("AU"),
  }),
);

async function jsonBody(req: Request): Promise<unknown> {
  const text = await req.text();
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * `/groups/:groupId/members/:memberId/…`: a member sets up their BECS debit and their
 * payout account. Only the member themself may (the `X-Susu-Member` header, until real
 * authentication lands). The member id is the person's id, and what is set up is the
 * person's: one customer and one account, reused by every group they are in, whichever
 * group they start from. Readiness is recorded from Stripe's webhooks, not here.
 */
export function onboardingRoutes(deps: UseCaseDeps, gateway: PaymentGateway) {
  const app = new Hono();

  app.use("/:groupId/members/:memberId/*", async (c, next) => {
    if (c.req.header("x-susu-member") !== c.req.param("memberId"))
      return problem(c, 403, "not_self", "members set up their own payments");
    await next();
  });

  app.post("/:groupId/members/:memberId/debit-setup", async (c) => {
    const parsed = setupSchema.safeParse(await jsonBody(c.req.raw));
    if (!parsed.success) return validationProblem(c, parsed.error);
    const started = await useCases.startDebitSetup(
      deps,
      gateway,
      c.req.param("groupId"),
      c.req.param("memberId"),
      parsed.data.attempt,
    );
    return started.match(
      (setup) => c.json({ setupIntentId: setup.setupIntentId, clientSecret: setup.clientSecret }, 201),
      (e) => providerProblem(c, e),
    );
  });

  app.post("/:groupId/members/:memberId/payout-onboarding", async (c) => {
    const parsed = payoutSchema.safeParse(await jsonBody(c.req.raw));
    if (!parsed.success) return validationProblem(c, parsed.error);
    const started = await useCases.startPayoutOnboarding(
      deps,
      gateway,
      c.req.param("groupId"),
      c.req.param("memberId"),
      parsed.data,
    );
    return started.match(
      (link) => c.json({ url: link.url, expiresAt: new Date(link.expiresAt).toISOString() }, 201),
      (e) => providerProblem(c, e),
    );
  });

  return app;
}
