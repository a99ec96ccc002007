import { createRoute, z } from "@hono/zod-openapi";
import {
  invoiceRefundedMinor,
  isCurrentMembership,
  MAX_OPEN_GROUPS_LIMIT,
  PLAN_PRICES_MAX,
  PLAN_TEXT_MAX_CHARS,
  type Plan,
  RETURN_URL_MAX_CHARS,
  SUBSCRIPTION_STATUSES,
  type Subscription,
  TRIAL_DAYS_MAX,
  useCases,
} from "@susu/domain";
import type { Context, MiddlewareHandler } from "hono";
import { problem, providerProblem, useCaseProblem } from "../problem.js";
import {
  isPlatformOperator,
  PERSON_ONLY_DETAIL,
  personInPath,
  refusePerson,
  refusePersonOnly,
} from "./authz.js";
import type { V1Deps, V1Env } from "./context.js";
import { v1Router } from "./context.js";
import { type Page, PageQuerySchema, pageOf, pageSchema } from "./pagination.js";
import { body } from "./payment-routes.js";
import {
  commonResponses,
  IdSchema,
  json,
  notFoundResponse,
  PersonIdParam,
  PersonIdSchema,
  postResponses,
  problemExamples,
  providerResponses,
} from "./schemas.js";

// Platform memberships: plans (everyone reads the active ones; platform admins create,
// change and archive them) and a person's own subscription (subscribe with a saved card or
// through Stripe Checkout, read, change plan with proration, cancel now or at period end,
// resume). What Stripe then does (trials, renewals, failed payments, lapses) arrives by
// webhook; the subscription's `status` says where it stands. A membership is a person's: a
// service token (an app) gets 403 `person_only` for subscribing, listing "mine", and its own
// subject's membership commands (it reads anyone's, as operators do).

const TAGS = ["memberships"];
const iso = (at: number | undefined) => (at === undefined ? null : new Date(at).toISOString());

const EntitlementsSchema = z
  .strictObject({
    createGroups: z.boolean().openapi({ description: "May create savings groups" }),
    maxOpenGroups: z
      .number()
      .int()
      .min(0)
      .max(MAX_OPEN_GROUPS_LIMIT)
      .nullable()
      .openapi({ description: "Groups open at once (forming, active, paused); null: no limit", example: 5 }),
    sellBookings: z
      .boolean()
      .openapi({ description: "May sell held-funds bookings and marketplace activities" }),
  })
  .openapi("Entitlements");

const PriceTermsSchema = z.strictObject({
  currency: z.string().length(3).openapi({ example: "AUD" }),
  interval: z.enum(["month", "year"]),
  amountMinor: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).openapi({ example: 1500 }),
});

const PlanTextSchema = z.string().max(PLAN_TEXT_MAX_CHARS);

const NewPlanSchema = z
  .strictObject({
    name: PlanTextSchema.min(1).openapi({ example: "Organiser" }),
    description: PlanTextSchema.optional(),
    entitlements: EntitlementsSchema,
    trialDays: z.number().int().min(0).max(TRIAL_DAYS_MAX).optional().openapi({ example: 14 }),
    prices: z.array(PriceTermsSchema).min(1).max(PLAN_PRICES_MAX),
  })
  .openapi("NewPlan");

const PlanChangeSchema = z
  .strictObject({
    name: PlanTextSchema.min(1).optional(),
    description: PlanTextSchema.optional(),
    entitlements: EntitlementsSchema.optional(),
    trialDays: z.number().int().min(0).max(TRIAL_DAYS_MAX).optional(),
    prices: z.array(PriceTermsSchema).max(PLAN_PRICES_MAX).optional().openapi({
      description: "Prices to add or re-price (a new amount is a new Stripe price); the others stay",
    }),
  })
  .openapi("PlanChange");

const PlanSchema = z
  .object({
    object: z.literal("plan"),
    id: z.string().openapi({ example: "plan_1" }),
    name: z.string(),
    description: z.string(),
    status: z.enum(["active", "archived"]),
    entitlements: EntitlementsSchema,
    trialDays: z.number().int(),
    prices: z.array(
      z.object({
        currency: z.string(),
        interval: z.enum(["month", "year"]),
        amountMinor: z.number().int(),
        available: z
          .boolean()
          .openapi({ description: "Its Stripe price exists: people can subscribe to it" }),
      }),
    ),
    createdAt: z.string(),
  })
  .openapi("Plan");

const SubscribeSchema = z
  .strictObject({
    planId: IdSchema,
    currency: z.string().length(3).openapi({ example: "AUD" }),
    interval: z.enum(["month", "year"]),
    paymentMethodId: z
      .string()
      .min(1)
      .max(255)
      .regex(/^[A-Za-z0-9_]+$/)
      .optional()
      .openapi({
        description:
          "A card the caller saved through susu (`POST /v1/people/me/payment-methods/setup`, listed by `GET /v1/people/me/payment-methods`) and has not removed, charged off session. Anything else (an id never saved, such as Stripe's test token `pm_card_visa`, somebody else's, a removed card, a BECS account) is 404 `payment_method_not_found`; a card past its expiry (the last day of its expiry month, UTC) is 409 `payment_method_expired`, nothing stored and Stripe not asked",
        example: "pm_123",
      }),
    checkout: z
      .strictObject({
        successUrl: z.string().url().max(RETURN_URL_MAX_CHARS),
        cancelUrl: z.string().url().max(RETURN_URL_MAX_CHARS),
      })
      .optional()
      .openapi({
        description: "Pay on Stripe's Checkout page instead (its URL comes back in `checkoutUrl`)",
      }),
  })
  .openapi("Subscribe");

const SubscriptionSchema = z
  .object({
    object: z.literal("subscription"),
    id: z.string().openapi({ example: "mbr_1" }),
    personId: z.string(),
    planId: z.string().openapi({
      description: "The plan Stripe bills, and whose entitlements the membership grants",
    }),
    status: z.enum(SUBSCRIPTION_STATUSES),
    price: z.object({
      currency: z.string(),
      interval: z.enum(["month", "year"]),
      amountMinor: z.number().int(),
    }),
    pendingChange: z
      .object({
        planId: z.string(),
        price: z.object({
          currency: z.string(),
          interval: z.enum(["month", "year"]),
          amountMinor: z.number().int(),
        }),
        requestedAt: z.string(),
        awaitingPaymentUntil: z
          .string()
          .nullable()
          .openapi({
            description:
              "Stripe holds the change until its invoice is paid (its payment failed or waits for the person to " +
              "authenticate): unpaid by this time, Stripe voids the invoice and drops the change. Null: not known to be held",
          }),
      })
      .nullable()
      .openapi({
        description:
          "A plan change asked for that Stripe has not made yet: planId and price stay the current ones (and so do " +
          "the entitlements) until Stripe confirms it, which it does only once the change's invoice is paid (a " +
          "change with nothing to pay, such as a downgrade's credit, is made at once). If Stripe refuses it, answers " +
          "it neither made nor held, or drops it unpaid (awaitingPaymentUntil passed), it is cleared and the person is " +
          "told (membership_change_refused). " +
          "One at a time: another change meanwhile is refused (change_pending)",
      }),
    trialDays: z
      .number()
      .int()
      .openapi({
        description:
          "The free trial this membership was given, in days: the plan's, or 0 when the person had a trial or a paid " +
          "membership before (one free trial per person)",
      }),
    cancelAtPeriodEnd: z.boolean(),
    currentPeriodEnd: z.string().nullable(),
    trialEnd: z.string().nullable(),
    checkoutUrl: z
      .string()
      .nullable()
      .openapi({
        description:
          "The Checkout page to pay on, once Stripe made it, while the membership is incomplete. A page left unpaid " +
          "expires at Stripe after 24 hours: the membership becomes incomplete_expired and the person may subscribe again",
      }),
    openInvoice: z
      .object({ id: z.string(), amountDueMinor: z.number().int(), hostedInvoiceUrl: z.string().nullable() })
      .nullable()
      .openapi({
        description:
          "An invoice waiting for payment (dunning): pay it on its page. Null once the membership ended (canceled, " +
          "or canceled by Stripe for non-payment): an invoice paid after that is refunded in full",
      }),
    failure: z.object({ code: z.string(), message: z.string() }).nullable(),
    refunds: z
      .array(
        z.object({
          invoiceId: z.string(),
          amountMinor: z.number().int().openapi({
            description:
              "What susu asked Stripe to give back: all the invoice collected. Not what went back (see refundedMinor)",
          }),
          refundedMinor: z
            .number()
            .int()
            .openapi({
              description:
                "What went back to the person so far: the refunds Stripe reports succeeded, less any it failed afterwards. " +
                "Less than amountMinor while refunds are pending, when one failed or was refused, or when part of a " +
                "payment was refunded outside susu before",
            }),
          currency: z.string(),
          status: z.enum(["requested", "succeeded", "failed"]).openapi({
            description:
              "requested: not every refund has ended; succeeded: every refund susu made succeeded; failed: one failed " +
              "or was refused, or a success was failed by Stripe afterwards (someone is looking at it)",
          }),
        }),
      )
      .openapi({
        description:
          "Payments susu gives back: an invoice paid after the membership was canceled before it started, or after " +
          "Stripe ended the subscription (an open invoice paid late on its page), is refunded in full",
      }),
    createdAt: z.string(),
  })
  .openapi("Subscription");

function planView(p: Plan) {
  return {
    object: "plan" as const,
    id: p.id,
    name: p.name,
    description: p.description,
    status: p.status,
    entitlements: p.entitlements,
    trialDays: p.trialDays,
    prices: p.prices.map((x) => ({
      currency: x.currency,
      interval: x.interval,
      amountMinor: x.amountMinor,
      available: x.stripePriceId !== undefined,
    })),
    createdAt: new Date(p.createdAt).toISOString(),
  };
}

function subscriptionView(s: Subscription) {
  // Once Stripe ended the subscription, paying an open invoice keeps nothing (it is refunded):
  // it is no longer offered.
  const open = isCurrentMembership(s)
    ? [...s.invoices].reverse().find((i) => i.status === "open" && i.failedAttempts > 0)
    : undefined;
  return {
    object: "subscription" as const,
    id: s.id,
    personId: s.personId,
    planId: s.price.planId,
    status: s.status,
    price: { currency: s.price.currency, interval: s.price.interval, amountMinor: s.price.amountMinor },
    pendingChange:
      s.pendingChange === undefined
        ? null
        : {
            planId: s.pendingChange.price.planId,
            price: {
              currency: s.pendingChange.price.currency,
              interval: s.pendingChange.price.interval,
              amountMinor: s.pendingChange.price.amountMinor,
            },
            requestedAt: new Date(s.pendingChange.requestedAt).toISOString(),
            awaitingPaymentUntil: iso(s.pendingChange.awaitingPayment?.expiresAt),
          },
    trialDays: s.trialDays,
    cancelAtPeriodEnd: s.cancelAtPeriodEnd,
    currentPeriodEnd: iso(s.currentPeriodEnd),
    trialEnd: iso(s.trialEnd),
    // Only while the page can still start the membership (an expired page is dead).
    checkoutUrl: s.start.kind === "checkout" && s.status === "incomplete" ? (s.start.url ?? null) : null,
    openInvoice:
      open === undefined
        ? null
        : {
            id: open.id,
            amountDueMinor: open.amountDueMinor,
            hostedInvoiceUrl: open.hostedInvoiceUrl ?? null,
          },
    failure: s.failure ?? null,
    refunds: s.invoices.flatMap((i) =>
      i.refund === undefined
        ? []
        : [
            {
              invoiceId: i.id,
              amountMinor: i.amountPaidMinor,
              refundedMinor: invoiceRefundedMinor(i),
              currency: i.currency,
              status: i.refund.status,
            },
          ],
    ),
    createdAt: new Date(s.createdAt).toISOString(),
  };
}

const PlanIdParam = z.object({
  planId: IdSchema.openapi({ param: { name: "planId", in: "path" }, example: "plan_1" }),
});
const SubscriptionIdParam = z.object({
  subscriptionId: IdSchema.openapi({ param: { name: "subscriptionId", in: "path" }, example: "mbr_1" }),
});

const adminOnly = problemExamples(403, "Only platform admins manage plans.", {
  admin_only: "only platform admins may manage plans",
});
const planNotFound = problemExamples(404, "No such plan.", { plan_not_found: "no plan plan_1" });
const subscriptionNotFound = problemExamples(404, "No such subscription, or not yours.", {
  subscription_not_found: "no subscription mbr_1",
});
/** A membership is a person's: a service token (an app) acting as one gets 403 `person_only`. */
const personOnly = problemExamples(403, "A service token is an app's, not a person's.", {
  person_only: PERSON_ONLY_DETAIL.self,
});

const PersonEntitlementsSchema = z
  .object({
    personId: z.string().openapi({ example: "sam" }),
    entitlements: EntitlementsSchema,
  })
  .openapi("PersonEntitlements");

const getEntitlementsRoute = createRoute({
  method: "get",
  path: "/people/{personId}/entitlements",
  tags: TAGS,
  summary:
    "What a person may do now: the platform's default widened by their granting memberships (the person, platform operators)",
  security: [{ bearer: [] }],
  request: { params: PersonIdParam },
  responses: {
    200: json(PersonEntitlementsSchema, "The person's entitlements"),
    ...commonResponses,
    ...personOnly,
    ...notFoundResponse(["person_not_found"]),
  },
});

const listPlansRoute = createRoute({
  method: "get",
  path: "/plans",
  tags: TAGS,
  summary: "The membership plans people can subscribe to (platform operators may include archived ones)",
  security: [{ bearer: [] }],
  request: {
    query: PageQuerySchema.extend({
      include_archived: z.enum(["true", "false"]).optional().openapi({ description: "Operators only" }),
    }),
  },
  responses: {
    200: json(pageSchema(PlanSchema, "PlanList"), "A page of plans, oldest first"),
    ...commonResponses,
  },
});

const getPlanRoute = createRoute({
  method: "get",
  path: "/plans/{planId}",
  tags: TAGS,
  summary: "A plan",
  security: [{ bearer: [] }],
  request: { params: PlanIdParam },
  responses: { 200: json(PlanSchema, "The plan"), ...commonResponses, ...planNotFound },
});

const createPlanRoute = createRoute({
  method: "post",
  path: "/plans",
  tags: TAGS,
  summary: "Create a plan; its Stripe product and prices are created right after (platform admins)",
  security: [{ bearer: [] }],
  request: { body: body(NewPlanSchema) },
  responses: {
    201: json(PlanSchema, "The plan (prices become `available` once Stripe made them)"),
    ...postResponses,
    ...adminOnly,
    ...problemExamples(409, "A request with this Idempotency-Key is still being processed.", {
      idempotency_key_in_use: "a request with this Idempotency-Key is still being processed",
    }),
    ...problemExamples(422, "Terms Stripe cannot bill.", {
      invalid_plan: "a plan's name is 1–200 characters",
      invalid_price: "1 is not a chargeable amount of AUD",
      invalid_entitlements: "entitlements are malformed",
      invalid_trial_days: "trial days are a whole number from 0 to 730",
    }),
  },
});

const changePlanRoute = createRoute({
  method: "patch",
  path: "/plans/{planId}",
  tags: TAGS,
  summary: "Change a plan's name, entitlements, trial or prices (platform admins)",
  description:
    "A new amount is a new Stripe price: people already subscribed keep theirs until they change plan.",
  security: [{ bearer: [] }],
  request: { params: PlanIdParam, body: body(PlanChangeSchema) },
  responses: {
    200: json(PlanSchema, "The plan"),
    ...postResponses,
    ...adminOnly,
    ...planNotFound,
    ...problemExamples(409, "The plan was archived.", { plan_archived: "plan plan_1 is archived" }),
    ...problemExamples(422, "Terms Stripe cannot bill.", { invalid_price: "two prices in AUD per month" }),
  },
});

const archivePlanRoute = createRoute({
  method: "post",
  path: "/plans/{planId}/archive",
  tags: TAGS,
  summary: "Stop offering a plan; memberships of it carry on (platform admins)",
  security: [{ bearer: [] }],
  request: { params: PlanIdParam },
  responses: {
    200: json(PlanSchema, "The plan, archived"),
    ...postResponses,
    ...adminOnly,
    ...planNotFound,
    ...problemExamples(409, "A request with this Idempotency-Key is still being processed.", {
      idempotency_key_in_use: "a request with this Idempotency-Key is still being processed",
      version_conflict: "plan plan_1 was changed by someone else; load it again and retry",
    }),
  },
});

const subscribeRoute = createRoute({
  method: "post",
  path: "/subscriptions",
  tags: TAGS,
  summary:
    "Subscribe yourself to a plan, with a saved card or through Stripe Checkout (a person; a service token: 403 `person_only`)",
  description:
    "Exactly one of `paymentMethodId` and `checkout`. With a saved card Stripe charges the first invoice at once (or starts the trial); a decline or 3-D Secure leaves the subscription `incomplete` and an e-mail says what to do. Through Checkout, `checkoutUrl` appears once Stripe made the page. A person with no Stripe customer yet gets one first (once per person, however often the request is repeated).",
  security: [{ bearer: [] }],
  request: { body: body(SubscribeSchema) },
  responses: {
    201: json(SubscriptionSchema, "The subscription, `incomplete` until Stripe reports it"),
    ...postResponses,
    ...personOnly,
    ...problemExamples(
      404,
      "No such person or plan, or `paymentMethodId` is not a card the caller saved and still has: nothing is stored and Stripe is not asked.",
      {
        person_not_found: "no person sam",
        plan_not_found: "no plan plan_1",
        payment_method_not_found: "sam has no saved payment method pm_doesnotexist",
      },
    ),
    ...problemExamples(409, "The plan, the price or the caller cannot be subscribed now.", {
      already_subscribed: "person sam holds subscription mbr_1 (active); change its plan instead",
      plan_archived: "plan plan_1 is archived",
      price_not_available: "plan plan_1 has no USD price per year ready",
      payment_method_expired:
        "card pm_123 has expired (expired 12/2025) and cannot be charged: a membership needs a card that can; save another card",
    }),
    ...problemExamples(422, "Not one way to pay, or a malformed return URL.", {
      invalid_subscription: "send exactly one of paymentMethodId and checkout",
    }),
    ...providerResponses,
  },
});

const listSubscriptionsRoute = createRoute({
  method: "get",
  path: "/subscriptions",
  tags: TAGS,
  summary:
    "Your memberships, newest first (operators: anyone's, with person_id; a service token without person_id: 403 `person_only`)",
  security: [{ bearer: [] }],
  request: { query: PageQuerySchema.extend({ person_id: PersonIdSchema.optional() }) },
  responses: {
    200: json(pageSchema(SubscriptionSchema, "SubscriptionList"), "A page of subscriptions, newest first"),
    ...commonResponses,
    ...personOnly,
  },
});

const getSubscriptionRoute = createRoute({
  method: "get",
  path: "/subscriptions/{subscriptionId}",
  tags: TAGS,
  summary: "A membership (its person, or platform operators)",
  security: [{ bearer: [] }],
  request: { params: SubscriptionIdParam },
  responses: {
    200: json(SubscriptionSchema, "The subscription"),
    ...commonResponses,
    ...subscriptionNotFound,
  },
});

const stateRefusals = problemExamples(409, "The subscription's state does not allow it.", {
  subscription_ended: "subscription mbr_1 is canceled",
  subscription_not_started: "subscription mbr_1 has not started at Stripe",
  same_price: "subscription mbr_1 is on price_123",
  change_pending: "subscription mbr_1 waits for Stripe to change it to price_456 (plan plan_2)",
  currency_change_not_allowed: "subscription mbr_1 bills in AUD; a price in USD needs a new subscription",
  already_canceling: "subscription mbr_1 cancels at the end of its period",
  not_canceling: "subscription mbr_1 is not set to cancel",
  no_change_pending: "subscription mbr_1 has no change waiting for Stripe",
  plan_archived: "plan plan_2 is archived",
  price_not_available: "plan plan_2 has no AUD price per year ready",
  version_conflict: "subscription mbr_1 was changed by someone else; load it again and retry",
});

const changeSubscriptionRoute = createRoute({
  method: "post",
  path: "/subscriptions/{subscriptionId}/change-plan",
  tags: TAGS,
  summary:
    "Move your membership to another plan or interval; Stripe prorates and invoices the difference now",
  description:
    "The change is asked of Stripe right after: until Stripe makes it, the answer shows it as `pendingChange` and the " +
    "membership keeps its plan, price and entitlements. Stripe makes it only once the change's invoice is paid; a " +
    "failed payment is e-mailed (membership_payment_failed) and the change waits until `awaitingPaymentUntil`, then " +
    "is dropped unpaid, nothing charged. Stripe's refusal (the price archived meanwhile, a subscription that can no " +
    "longer change), an answer showing it neither made nor held, or that drop clears it and e-mails the person " +
    "(membership_change_refused).",
  security: [{ bearer: [] }],
  request: {
    params: SubscriptionIdParam,
    body: body(z.strictObject({ planId: IdSchema, interval: z.enum(["month", "year"]).optional() })),
  },
  responses: {
    200: json(SubscriptionSchema, "The subscription, with the change pending until Stripe makes it"),
    ...postResponses,
    ...personOnly,
    ...problemExamples(404, "No such subscription (or not yours), or no such plan.", {
      subscription_not_found: "no subscription mbr_1",
      plan_not_found: "no plan plan_2",
    }),
    ...stateRefusals,
  },
});

const cancelSubscriptionRoute = createRoute({
  method: "post",
  path: "/subscriptions/{subscriptionId}/cancel",
  tags: TAGS,
  summary: "Cancel now, or at the end of the period (its person, or platform admins)",
  security: [{ bearer: [] }],
  request: {
    params: SubscriptionIdParam,
    body: body(z.strictObject({ atPeriodEnd: z.boolean().openapi({ example: true }) })),
  },
  responses: {
    200: json(SubscriptionSchema, "The subscription"),
    ...postResponses,
    ...personOnly,
    ...subscriptionNotFound,
    ...stateRefusals,
  },
});

const cancelChangeRoute = createRoute({
  method: "post",
  path: "/subscriptions/{subscriptionId}/cancel-change",
  tags: TAGS,
  summary: "Drop the plan change waiting for Stripe (its person, or platform admins)",
  description:
    "Clears `pendingChange` (a change whose call could not be made, say) so another can be asked; Stripe is not " +
    "called. If Stripe makes the change after all, its view puts the membership on that plan.",
  security: [{ bearer: [] }],
  request: { params: SubscriptionIdParam },
  responses: {
    200: json(SubscriptionSchema, "The subscription, with no change pending"),
    ...postResponses,
    ...personOnly,
    ...subscriptionNotFound,
    ...stateRefusals,
  },
});

const resumeSubscriptionRoute = createRoute({
  method: "post",
  path: "/subscriptions/{subscriptionId}/resume",
  tags: TAGS,
  summary: "Take back a cancellation at period end",
  security: [{ bearer: [] }],
  request: { params: SubscriptionIdParam },
  responses: {
    200: json(SubscriptionSchema, "The subscription"),
    ...postResponses,
    ...personOnly,
    ...subscriptionNotFound,
    ...stateRefusals,
  },
});

/** `/v1/plans` and `/v1/subscriptions`. */
export function membershipsV1(deps: V1Deps) {
  const app = v1Router();
  const uc = deps.useCases;

  const refuseUnlessAdmin = (c: Context<V1Env>) =>
    c.get("principal").roles.includes("admin")
      ? undefined
      : problem(c, 403, "admin_only", "only platform admins may manage plans");

  // Managing plans is refused to anyone but a platform admin before the body is read: a
  // malformed body from them gets the same 403 as a valid one, so the schema's answers
  // tell them nothing. Reading plans (GET) is everyone's.
  const adminsManagePlans: MiddlewareHandler<V1Env> = async (c, next) => {
    if (c.req.method !== "GET" && c.req.method !== "HEAD") {
      const refused = refuseUnlessAdmin(c);
      if (refused) return refused;
    }
    await next();
  };
  for (const path of ["/plans", "/plans/*"]) app.use(path, adminsManagePlans);

  /**
   * The subscription, if the caller may act on it: its person (or, with `operators`, an
   * operator); 404 otherwise. A command on the subscription of a service token's own subject
   * is 403 `person_only`: that token is an app's, not the person's.
   */
  async function visible(
    c: Context<V1Env>,
    id: string,
    who: "person" | "person_or_operator" | "person_or_admin",
  ): Promise<Subscription | Response> {
    const principal = c.get("principal");
    const found = await uc.subscriptions.getSubscription(id);
    if (found.isErr()) return useCaseProblem(c, found.error);
    const s = found.value;
    if (s?.personId === principal.subject && who !== "person_or_operator") {
      const refused = refusePersonOnly(c, principal, PERSON_ONLY_DETAIL.self);
      if (refused !== undefined) return refused;
    }
    const allowed =
      s !== undefined &&
      (s.personId === principal.subject ||
        (who === "person_or_operator" && isPlatformOperator(principal)) ||
        (who === "person_or_admin" && principal.roles.includes("admin")));
    return allowed ? s : problem(c, 404, "subscription_not_found", `no subscription ${id}`);
  }

  app.openapi(getEntitlementsRoute, async (c) => {
    const principal = c.get("principal");
    const personId = personInPath(c, principal, c.req.valid("param").personId);
    if (personId instanceof Response) return personId;
    // Someone else's are a platform operator's to read; anyone else gets the 404 of a person that does not exist.
    const refused = refusePerson(c, principal, personId);
    if (refused) return refused;
    const person = await uc.people.getPerson(personId);
    if (person.isErr()) return useCaseProblem(c, person.error);
    if (person.value === undefined) return problem(c, 404, "person_not_found", `no person ${personId}`);
    const entitlements = await useCases.entitlementsOfPerson(uc, personId);
    if (entitlements.isErr()) return useCaseProblem(c, entitlements.error);
    return c.json({ personId, entitlements: entitlements.value }, 200);
  });

  app.openapi(listPlansRoute, async (c) => {
    const query = c.req.valid("query");
    const archived = query.include_archived === "true" && isPlatformOperator(c.get("principal"));
    const plans = await useCases.listPlans(uc, { includeArchived: archived });
    if (plans.isErr()) return useCaseProblem(c, plans.error);
    const page: Page<ReturnType<typeof planView>> = pageOf(
      plans.value.map(planView),
      (p) => p.id,
      query,
      "/v1/plans",
    );
    return c.json(page, 200);
  });

  app.openapi(getPlanRoute, async (c) => {
    const { planId } = c.req.valid("param");
    const plan = await useCases.getPlan(uc, planId);
    if (plan.isErr()) return useCaseProblem(c, plan.error);
    // Archived plans are the operators' to see.
    if (plan.value.status === "archived" && !isPlatformOperator(c.get("principal")))
      return problem(c, 404, "plan_not_found", `no plan ${planId}`);
    return c.json(planView(plan.value), 200);
  });

  app.openapi(createPlanRoute, async (c) => {
    const refused = refuseUnlessAdmin(c);
    if (refused) return refused;
    const terms = c.req.valid("json");
    const plan = await useCases.createPlan(
      uc,
      {
        name: terms.name,
        ...(terms.description !== undefined ? { description: terms.description } : {}),
        entitlements: terms.entitlements,
        ...(terms.trialDays !== undefined ? { trialDays: terms.trialDays } : {}),
        prices: terms.prices,
      },
      { operator: c.get("principal").subject },
    );
    if (plan.isErr()) return useCaseProblem(c, plan.error);
    return c.json(planView(plan.value), 201);
  });

  app.openapi(changePlanRoute, async (c) => {
    const refused = refuseUnlessAdmin(c);
    if (refused) return refused;
    const { planId } = c.req.valid("param");
    const change = c.req.valid("json");
    const plan = await useCases.changePlan(
      uc,
      planId,
      {
        type: "update",
        ...(change.name !== undefined ? { name: change.name } : {}),
        ...(change.description !== undefined ? { description: change.description } : {}),
        ...(change.entitlements !== undefined ? { entitlements: change.entitlements } : {}),
        ...(change.trialDays !== undefined ? { trialDays: change.trialDays } : {}),
        ...(change.prices !== undefined ? { prices: change.prices } : {}),
      },
      { operator: c.get("principal").subject },
    );
    if (plan.isErr()) return useCaseProblem(c, plan.error);
    return c.json(planView(plan.value), 200);
  });

  app.openapi(archivePlanRoute, async (c) => {
    const refused = refuseUnlessAdmin(c);
    if (refused) return refused;
    const { planId } = c.req.valid("param");
    const plan = await useCases.changePlan(
      uc,
      planId,
      { type: "archive" },
      { operator: c.get("principal").subject },
    );
    if (plan.isErr()) return useCaseProblem(c, plan.error);
    return c.json(planView(plan.value), 200);
  });

  app.openapi(subscribeRoute, async (c) => {
    // A membership is a person's, paid by them: an app's token has no person to subscribe.
    const notPerson = refusePersonOnly(c, c.get("principal"), PERSON_ONLY_DETAIL.self);
    if (notPerson !== undefined) return notPerson;
    const ask = c.req.valid("json");
    if ((ask.paymentMethodId === undefined) === (ask.checkout === undefined))
      return problem(c, 422, "invalid_subscription", "send exactly one of paymentMethodId and checkout");
    const created = await useCases.subscribe(
      uc,
      {
        personId: c.get("principal").subject,
        planId: ask.planId,
        currency: ask.currency,
        interval: ask.interval,
        start:
          ask.paymentMethodId !== undefined
            ? { kind: "saved_method", paymentMethodId: ask.paymentMethodId }
            : {
                kind: "checkout",
                successUrl: ask.checkout?.successUrl ?? "",
                cancelUrl: ask.checkout?.cancelUrl ?? "",
              },
      },
      deps.gateway,
    );
    if (created.isErr()) return providerProblem(c, created.error);
    return c.json(subscriptionView(created.value), 201);
  });

  app.openapi(listSubscriptionsRoute, async (c) => {
    const principal = c.get("principal");
    const query = c.req.valid("query");
    // Somebody else's are the operators' to see; anyone else sees an empty list for them.
    // "Mine" is a person's: a service token names whose it reads.
    if (query.person_id === undefined) {
      const notPerson = refusePersonOnly(c, principal, PERSON_ONLY_DETAIL.self);
      if (notPerson !== undefined) return notPerson;
    }
    const personId = query.person_id ?? principal.subject;
    const url = "/v1/subscriptions";
    if (personId !== principal.subject && !isPlatformOperator(principal))
      return c.json({ object: "list" as const, url, data: [], has_more: false }, 200);
    const listed = await useCases.listSubscriptionsOfPerson(uc, personId);
    if (listed.isErr()) return useCaseProblem(c, listed.error);
    return c.json(
      pageOf(listed.value.map(subscriptionView), (s) => s.id, query, url),
      200,
    );
  });

  app.openapi(getSubscriptionRoute, async (c) => {
    const s = await visible(c, c.req.valid("param").subscriptionId, "person_or_operator");
    if (s instanceof Response) return s;
    return c.json(subscriptionView(s), 200);
  });

  app.openapi(changeSubscriptionRoute, async (c) => {
    const { subscriptionId } = c.req.valid("param");
    const s = await visible(c, subscriptionId, "person");
    if (s instanceof Response) return s;
    const to = c.req.valid("json");
    const changed = await useCases.changeSubscriptionPlan(
      uc,
      s.id,
      { planId: to.planId, ...(to.interval !== undefined ? { interval: to.interval } : {}) },
      c.get("principal").subject,
    );
    if (changed.isErr()) return useCaseProblem(c, changed.error);
    return c.json(subscriptionView(changed.value), 200);
  });

  app.openapi(cancelSubscriptionRoute, async (c) => {
    const { subscriptionId } = c.req.valid("param");
    const s = await visible(c, subscriptionId, "person_or_admin");
    if (s instanceof Response) return s;
    const principal = c.get("principal");
    const actor = s.personId === principal.subject ? principal.subject : `operator:${principal.subject}`;
    const canceled = await useCases.cancelSubscription(uc, s.id, c.req.valid("json").atPeriodEnd, actor);
    if (canceled.isErr()) return useCaseProblem(c, canceled.error);
    return c.json(subscriptionView(canceled.value), 200);
  });

  app.openapi(cancelChangeRoute, async (c) => {
    const { subscriptionId } = c.req.valid("param");
    const s = await visible(c, subscriptionId, "person_or_admin");
    if (s instanceof Response) return s;
    const principal = c.get("principal");
    const actor = s.personId === principal.subject ? principal.subject : `operator:${principal.subject}`;
    const dropped = await useCases.cancelSubscriptionChange(uc, s.id, actor);
    if (dropped.isErr()) return useCaseProblem(c, dropped.error);
    return c.json(subscriptionView(dropped.value), 200);
  });

  app.openapi(resumeSubscriptionRoute, async (c) => {
    const { subscriptionId } = c.req.valid("param");
    const s = await visible(c, subscriptionId, "person");
    if (s instanceof Response) return s;
    const resumed = await useCases.resumeSubscription(uc, s.id, c.get("principal").subject);
    if (resumed.isErr()) return useCaseProblem(c, resumed.error);
    return c.json(subscriptionView(resumed.value), 200);
  });

  return app;
}
