import { createRoute, z } from "@hono/zod-openapi";
import { type PersonOnboarding, useCases } from "@susu/domain";
import type { Context } from "hono";
import { providerProblem } from "../problem.js";
import {
  PERSON_ONLY_DETAIL,
  personInPath,
  refusePerson,
  refusePersonOnly,
  refuseUnlessSelf,
} from "./authz.js";
import type { V1Deps, V1Env } from "./context.js";
import { v1Router } from "./context.js";
import {
  commonResponses,
  forbiddenResponse,
  json,
  notFoundResponse,
  PersonIdParam,
  postResponses,
  providerResponses,
  setupAttemptSchema,
} from "./schemas.js";

// A person's onboarding, once for all their groups: the BECS debit set-up (a SetupIntent
// whose client secret their app confirms), the payout account (a Stripe-hosted onboarding
// link), and where they stand. `me` in the path is the caller.

const DebitSetupSchema = z
  .object({
    attempt: setupAttemptSchema(
      "The same value repeats the same set-up safely (default `1`); a new value asks for a new one (e.g. after a revoked mandate)",
    ),
  })
  .openapi("DebitSetupRequest");

const DebitSetupViewSchema = z
  .object({
    setupIntentId: z.string().openapi({ example: "seti_123" }),
    clientSecret: z.string().openapi({ description: "Confirm it with Stripe.js; show it to nobody else" }),
  })
  .openapi("DebitSetup");

const HttpUrlSchema = z.url({ protocol: /^https?$/ }).max(2000);

const PayoutOnboardingSchema = z
  .object({
    refreshUrl: HttpUrlSchema.openapi({ example: "https://app.example/onboarding/refresh" }),
    returnUrl: HttpUrlSchema.openapi({ example: "https://app.example/onboarding/done" }),
    country: z
      .string()
      .regex(/^[A-Z]{2}$/, "an ISO 3166-1 alpha-2 code, upper case")
      .optional()
      .openapi({ example: "AU", description: "The account's country (default AU)" }),
  })
  .openapi("PayoutOnboardingRequest");

const PayoutOnboardingViewSchema = z
  .object({
    url: z.string().openapi({ example: "https://connect.stripe.com/setup/e/acct_123/abc" }),
    expiresAt: z.string().openapi({ example: "2030-01-01T09:05:00.000Z" }),
  })
  .openapi("PayoutOnboardingLink");

const DUE = [
  "mandate_missing",
  "mandate_inactive",
  "payout_account_missing",
  "payouts_not_enabled",
  "payout_account_gone",
] as const;

const PersonViewSchema = z
  .object({
    id: z.string().openapi({ example: "ana" }),
    displayName: z.string().openapi({ example: "Ana" }),
    createdAt: z.string().openapi({ example: "2030-01-01T09:00:00.000Z" }),
    readiness: z.object({ mandateActive: z.boolean(), payoutsEnabled: z.boolean() }),
    ready: z
      .boolean()
      .openapi({ description: "Nothing is due: money can move for this person in any group" }),
    due: z.array(z.enum(DUE)).openapi({ description: "What the person still has to do, in order" }),
    debit: z.object({ status: z.enum(["missing", "active", "inactive"]) }),
    payoutAccount: z.object({
      status: z.enum(["missing", "pending", "enabled"]),
      requirementsDue: z
        .array(z.string())
        .openapi({ description: "What the payment provider still asks for (empty without an account)" }),
    }),
  })
  .openapi("Person");

const selfOnly = notFoundResponse(["person_not_found"]);
/** A service token is no person: `me` (or, for what acts as the person, its own subject) is 403 `person_only`. */
const personOnly = forbiddenResponse(["person_only"]);

const debitSetupRoute = createRoute({
  method: "post",
  path: "/people/{personId}/debit-setup",
  tags: ["onboarding"],
  summary: "Start (or repeat) the caller's BECS debit set-up: a SetupIntent client secret (the person only)",
  description:
    "Creates the person's Stripe customer once, then a SetupIntent their app confirms with bank details and the mandate. The mandate is recorded from Stripe's webhook, for every group the person is in. Only the person themselves: anyone else, platform operators included, gets 404; a service token (an app, not a person) naming itself (`me` or its own subject) 403 `person_only`.",
  security: [{ bearer: [] }],
  request: {
    params: PersonIdParam,
    body: { content: { "application/json": { schema: DebitSetupSchema } }, required: false },
  },
  responses: {
    201: json(DebitSetupViewSchema, "The set-up to confirm"),
    ...postResponses,
    ...personOnly,
    ...selfOnly,
    ...providerResponses,
  },
});

const payoutOnboardingRoute = createRoute({
  method: "post",
  path: "/people/{personId}/payout-onboarding",
  tags: ["onboarding"],
  summary: "A single-use link to the caller's payout account onboarding (the person only)",
  description:
    "Creates the person's Express connected account once, then an onboarding link (an update link once payouts are enabled). Readiness is recorded from Stripe's webhook. Only the person themselves: anyone else, platform operators included, gets 404; a service token (an app, not a person) naming itself (`me` or its own subject) 403 `person_only`.",
  security: [{ bearer: [] }],
  request: {
    params: PersonIdParam,
    body: { content: { "application/json": { schema: PayoutOnboardingSchema } }, required: true },
  },
  responses: {
    201: json(PayoutOnboardingViewSchema, "The link to send the person to"),
    ...postResponses,
    ...personOnly,
    ...selfOnly,
    ...providerResponses,
  },
});

const personRouteDoc = {
  tags: ["onboarding"],
  security: [{ bearer: [] }],
  responses: {
    200: json(PersonViewSchema, "The person's readiness and what is still due"),
    ...commonResponses,
    ...personOnly,
    ...selfOnly,
    ...providerResponses,
  },
};

const getMeRoute = createRoute({
  ...personRouteDoc,
  method: "get",
  path: "/people/me",
  summary: "The caller: readiness and what is still due (a person; a service token: 403 `person_only`)",
});

const getPersonRoute = createRoute({
  ...personRouteDoc,
  method: "get",
  path: "/people/{personId}",
  summary: "A person's readiness and what is still due (the person, platform admins)",
  request: { params: PersonIdParam },
});

function personView(o: PersonOnboarding) {
  const { person } = o;
  return {
    id: person.id,
    displayName: person.displayName,
    createdAt: new Date(person.createdAt).toISOString(),
    readiness: o.readiness,
    ready: o.due.length === 0,
    due: [...o.due],
    debit: {
      status:
        person.debit === undefined
          ? ("missing" as const)
          : person.debit.mandateActive
            ? ("active" as const)
            : ("inactive" as const),
    },
    payoutAccount: {
      status:
        person.payout === undefined
          ? ("missing" as const)
          : person.payout.payoutsEnabled
            ? ("enabled" as const)
            : ("pending" as const),
      requirementsDue: [...(o.requirementsDue ?? [])],
    },
  };
}

/** `/v1/people/{personId}`: onboarding (debit set-up, payout account) and readiness. */
export function onboardingV1(deps: V1Deps) {
  const app = v1Router();
  /** `me` is the caller, as a person (a service token: 403 `person_only`). */
  const personOf = (c: Context<V1Env>, personId: string) => personInPath(c, c.get("principal"), personId);

  const showPerson = async (c: Context<V1Env>, personId: string) => {
    const refused = refusePerson(c, c.get("principal"), personId);
    if (refused) return refused;
    const found = await useCases.personOnboarding(deps.useCases, deps.gateway, personId);
    if (found.isErr()) return providerProblem(c, found.error);
    return c.json(personView(found.value), 200);
  };

  app.openapi(getMeRoute, async (c) => {
    const principal = c.get("principal");
    return refusePersonOnly(c, principal, PERSON_ONLY_DETAIL.self) ?? showPerson(c, principal.subject);
  });
  app.openapi(getPersonRoute, async (c) => {
    const personId = personOf(c, c.req.valid("param").personId);
    return personId instanceof Response ? personId : showPerson(c, personId);
  });

  app.openapi(debitSetupRoute, async (c) => {
    const personId = personOf(c, c.req.valid("param").personId);
    if (personId instanceof Response) return personId;
    const refused = refuseUnlessSelf(c, c.get("principal"), personId);
    if (refused) return refused;
    // The body is optional: no body is the first attempt.
    const body = (c.req.valid("json") as { attempt?: string } | undefined) ?? {};
    const started = await useCases.startPersonDebitSetup(
      deps.useCases,
      deps.gateway,
      personId,
      body.attempt ?? "1",
    );
    if (started.isErr()) return providerProblem(c, started.error);
    return c.json(
      { setupIntentId: started.value.setupIntentId, clientSecret: started.value.clientSecret },
      201,
    );
  });

  app.openapi(payoutOnboardingRoute, async (c) => {
    const personId = personOf(c, c.req.valid("param").personId);
    if (personId instanceof Response) return personId;
    const refused = refuseUnlessSelf(c, c.get("principal"), personId);
    if (refused) return refused;
    const { refreshUrl, returnUrl, country } = c.req.valid("json");
    const started = await useCases.startPersonPayoutOnboarding(deps.useCases, deps.gateway, personId, {
      refreshUrl,
      returnUrl,
      country: country ?? "AU",
    });
    if (started.isErr()) return providerProblem(c, started.error);
    return c.json(
      { url: started.value.url, expiresAt: new Date(started.value.expiresAt).toISOString() },
      201,
    );
  });

  return app;
}
