import { createRoute, z } from "@hono/zod-openapi";
import {
  type Money,
  PAYOUT_PAUSE_REASON_MAX,
  PAYOUT_STATUSES,
  type PayoutPause,
  type PayoutPauseScope,
  type PayoutRecord,
  useCases,
} from "@susu/domain";
import type { Context } from "hono";
import { IDEMPOTENCY_KEY_HEADER, IdempotencyKeyHeaderSchema } from "../http/idempotency.js";
import { PROVIDER_CODE, problemDoc } from "../http/problem-response.js";
import { NUL_FREE } from "../input.js";
import { problem, providerProblem, useCaseProblem } from "../problem.js";
import {
  PERSON_ONLY_DETAIL,
  personInPath,
  refusePerson,
  refuseUnlessAdmin,
  refuseUnlessOperator,
} from "./authz.js";
import type { V1Deps, V1Env } from "./context.js";
import { v1Router } from "./context.js";
import { type Page, PageQuerySchema, pageSchema } from "./pagination.js";
import {
  commonResponses,
  forbiddenResponse,
  json,
  MoneySchema,
  PersonIdParam,
  PersonIdSchema,
  postResponses,
  problemExamples,
  TimestampSchema,
} from "./schemas.js";

// A seller's money under /v1/people/{personId}: their connected account's balance at
// Stripe beside what susu still holds for them, the payouts to their bank that susu heard
// of (payout.* events), and — on the manual payout schedule — an operator's "pay out now".
// The person themself and platform operators see; only operators pay out (authz.ts). `me` is
// a person: a service token gets 403 `person_only` for it (it names the person it reads).

const BalanceSchema = z
  .object({
    object: z.literal("balance"),
    personId: z.string().openapi({ example: "sam" }),
    connectedAccountId: z.string().nullable().openapi({ example: "acct_123" }),
    accountGone: z.boolean().openapi({
      description:
        "Stripe no longer shows the account (deleted, disconnected): the person must onboard again",
    }),
    available: z
      .array(MoneySchema)
      .openapi({ description: "At Stripe, per currency: what can be paid out to the bank now" }),
    pending: z
      .array(MoneySchema)
      .openapi({ description: "At Stripe, per currency: on its way in, not available yet" }),
    heldForSeller: z.array(MoneySchema).openapi({
      description:
        "susu's own records, per currency: the seller's share of held payments paid and not yet released to them",
    }),
  })
  .openapi("Balance");

const PayoutSchema = z
  .object({
    object: z.literal("payout"),
    id: z.string().openapi({ example: "po_123" }),
    personId: z.string(),
    connectedAccountId: z.string(),
    amount: MoneySchema,
    status: z.enum(PAYOUT_STATUSES),
    automatic: z
      .boolean()
      .openapi({ description: "Made by Stripe's automatic schedule (false: asked for by susu)" }),
    arrivalDate: z.string().openapi({ example: "2030-01-03T00:00:00.000Z" }),
    failureCode: z.string().nullable().openapi({ example: "account_closed" }),
    failureMessage: z.string().nullable(),
    createdAt: z.string().openapi({ example: "2030-01-01T02:00:00.000Z" }),
    updatedAt: TimestampSchema,
  })
  .openapi("Payout");

const PayoutRunSchema = z
  .object({
    object: z.literal("payout_run"),
    personId: z.string(),
    connectedAccountId: z.string(),
    payouts: z.array(
      z.object({
        id: z.string().openapi({ example: "po_123" }),
        amount: MoneySchema,
        status: z.enum(PAYOUT_STATUSES),
        arrivalDate: z.string(),
      }),
    ),
    skipped: z.array(z.object({ amount: MoneySchema, code: z.string(), message: z.string() })).openapi({
      description:
        "Currencies not paid out, with why: Stripe's refusal code (not a balance another payout took meanwhile), `reserved_for_reversals` (kept for reversals of the seller's transfers), or `bank_account_errored` (a payout to the currency's bank account failed, so Stripe pays nothing to it until the person updates their bank details; not asked for)",
    }),
  })
  .openapi("PayoutRun");

const iso = (at: number) => new Date(at).toISOString();
const moneyView = (m: Money) => ({ amountMinor: m.amountMinor, currency: m.currency });

/** A recorded payout as a client sees it. */
export function payoutView(p: PayoutRecord) {
  return {
    object: "payout" as const,
    id: p.payoutId,
    personId: p.personId,
    connectedAccountId: p.accountId,
    amount: { amountMinor: p.amountMinor, currency: p.currency },
    status: p.status,
    automatic: p.automatic,
    arrivalDate: iso(p.arrivalDate),
    failureCode: p.failureCode ?? null,
    failureMessage: p.failureMessage ?? null,
    createdAt: iso(p.createdAt),
    updatedAt: iso(p.updatedAt),
  };
}

const TAGS = ["payouts"];
const notFound = problemExamples(404, "Not found, or not yours to see.", {
  person_not_found: "no person sam",
});
/** `me` is a person: a service token (an app) gets 403 `person_only` for it. */
const personOnly = problemExamples(403, "`me` names a person: a service token is an app's.", {
  person_only: PERSON_ONLY_DETAIL.self,
});
const providerResponses = {
  502: problemDoc("The payment provider refused the request.", [PROVIDER_CODE]),
  503: problemDoc("The payment provider did not answer; repeating the request is safe.", [PROVIDER_CODE]),
};

const balanceRoute = createRoute({
  method: "get",
  path: "/people/{personId}/balance",
  tags: TAGS,
  summary:
    "A seller's balance: their Stripe balance and what susu still holds for them (the person, operators)",
  security: [{ bearer: [] }],
  request: { params: PersonIdParam },
  responses: {
    200: json(BalanceSchema, "The balance, per currency"),
    ...commonResponses,
    ...personOnly,
    ...notFound,
    ...providerResponses,
  },
});

const listRoute = createRoute({
  method: "get",
  path: "/people/{personId}/payouts",
  tags: TAGS,
  summary: "Payouts from the person's account to their bank, newest first (the person, operators)",
  description:
    "What Stripe reported (`payout.created`, `payout.paid`, `payout.failed`, …), in any order: a status only moves forward. A failed payout's `failureCode` says why; the person updates their bank account through a new payout onboarding link.",
  security: [{ bearer: [] }],
  request: { params: PersonIdParam, query: PageQuerySchema },
  responses: {
    200: json(pageSchema(PayoutSchema, "PayoutList"), "A page of payouts"),
    ...commonResponses,
    ...personOnly,
    ...notFound,
  },
});

const payOutRoute = createRoute({
  method: "post",
  path: "/people/{personId}/payouts",
  tags: TAGS,
  summary: "Pay the person's available balance out to their bank now, per currency (platform operators)",
  description:
    "Only when the person's connected account is on the manual payout schedule at Stripe (`settings.payouts.schedule.interval`; `SUSU_CONNECTED_PAYOUT_SCHEDULE` only when Stripe does not say): an account keeps the schedule it was created with, so one created manual is paid here after the setting moved off manual, and one Stripe pays out by itself is refused (409 `payouts_not_manual`). An `Idempotency-Key` is required: it keys the payouts at Stripe, so the same request again pays nothing twice. A payout Stripe refuses as more than the balance (`balance_insufficient`: the day's payout run paid it out meanwhile) is no refusal: the balance is read again and what is left, if anything, paid under a key derived from this request's (not listed in `skipped`). What the payouts become arrives later (GET …/payouts).",
  security: [{ bearer: [] }],
  request: { params: PersonIdParam, headers: IdempotencyKeyHeaderSchema },
  responses: {
    201: json(PayoutRunSchema, "The payouts Stripe accepted (none when nothing is available)"),
    ...postResponses,
    ...notFound,
    ...problemExamples(403, "Allowed to see, not to do; `me` for a service token, which is no person.", {
      operator_only: "only platform operators may do this",
      admin_only: "only platform admins may pay a person out (a service token may not)",
      person_only: PERSON_ONLY_DETAIL.self,
    }),
    ...problemExamples(409, "The person's account (or its schedule at Stripe) does not allow this now.", {
      payouts_paused:
        "the platform's payouts are paused by olga since 2030-01-03T09:00:00.000Z: month-end close",
      payouts_not_manual:
        "person sam's payout account acct_123 pays out on the provider's daily schedule; susu does not pay it out by hand",
      no_payout_account: "person sam has no payout account",
      payouts_not_enabled: "person sam's payout account cannot pay out yet",
      payout_account_gone: "person sam's payout account acct_123 is gone (account_invalid)",
      idempotency_key_in_use: "a request with this Idempotency-Key is still being processed",
    }),
    ...providerResponses,
  },
});

// Pausing payouts: a platform admin holds back every payout (the platform's) or one seller's,
// and resumes them. The payout run skips what is paused, saying why; "pay out now" is refused.

const PayoutPauseSchema = z
  .object({
    object: z.literal("payout_pause"),
    scope: z.enum(["platform", "person"]),
    personId: z
      .string()
      .nullable()
      .openapi({ description: "The seller whose payouts are paused; null for the platform's" }),
    reason: z.string().openapi({ example: "month-end close" }),
    pausedBy: z.string().openapi({ example: "olga" }),
    pausedAt: TimestampSchema,
  })
  .openapi("PayoutPause");

const PauseBodySchema = z
  .object({
    reason: z
      .string()
      .trim()
      .min(1)
      .max(PAYOUT_PAUSE_REASON_MAX)
      .refine(NUL_FREE, "no NUL characters")
      .openapi({
        example: "month-end close",
        description: "Why: in the audit log and in every payout run it holds back",
      }),
    personId: PersonIdSchema.optional().openapi({
      description: "The seller (person) whose payouts to pause; absent: every payout of the platform",
    }),
  })
  .openapi("PausePayouts");

const ResumeBodySchema = z
  .object({
    personId: PersonIdSchema.optional().openapi({
      description: "The seller whose own pause to lift; absent: the platform's pause",
    }),
  })
  .openapi("ResumePayouts");

const ResumedSchema = z
  .object({
    object: z.literal("payout_resume"),
    scope: z.enum(["platform", "person"]),
    personId: z.string().nullable(),
    resumed: z.boolean().openapi({ description: "false: it was not paused (nothing changed)" }),
  })
  .openapi("PayoutResume");

const pauseBadRequest = problemExamples(
  400,
  "The body is not valid JSON or does not match the schema, or the Idempotency-Key is malformed.",
  {
    malformed_json: "the request body is not valid JSON",
    invalid_request: "the request does not match the schema",
    invalid_idempotency_key: "Idempotency-Key must be 1 to 255 printable ASCII characters",
  },
);
const pauseForbidden = forbiddenResponse(["operator_only", "admin_only"]);
const pauseNotFound = problemExamples(404, "No such person.", { person_not_found: "no person sam" });

const listPausesRoute = createRoute({
  method: "get",
  path: "/operations/payouts/pauses",
  tags: TAGS,
  summary: "The payout pauses in force: the platform's first, then sellers' (platform operators)",
  security: [{ bearer: [] }],
  responses: {
    200: json(
      z
        .object({
          object: z.literal("payout_pauses"),
          platform: PayoutPauseSchema.nullable().openapi({
            description: "The platform's pause (every payout held back); null: not paused",
          }),
          people: z
            .array(PayoutPauseSchema)
            .openapi({ description: "Sellers whose own payouts are paused, by id" }),
        })
        .openapi("PayoutPauses"),
      "The pauses in force (none: payouts run as usual)",
    ),
    ...commonResponses,
    ...forbiddenResponse(["operator_only"]),
  },
});

const pauseRoute = createRoute({
  method: "post",
  path: "/operations/payouts/pause",
  tags: TAGS,
  summary:
    "Pause payouts: every payout of the platform, or one seller's (platform admins; a service token: 403 `admin_only`)",
  description:
    "From now on susu asks Stripe for no payout the pause holds back: the scheduled payout run skips it (logged `payout run paused` or `payouts paused for this person`, counted `susu_payouts_paused_total`; the platform's pause makes the run pay no one) and `POST /v1/people/{personId}/payouts` is refused 409 `payouts_paused`. A payout already asked for goes on, and an account Stripe pays out by itself is not susu's to pause. Pausing what is paused replaces the reason. Audited (action `payouts_paused` on `payout`, id `platform` or `person:<personId>`). Undo: `POST /v1/operations/payouts/resume`.",
  security: [{ bearer: [] }],
  request: { body: { content: { "application/json": { schema: PauseBodySchema } }, required: true } },
  responses: {
    200: json(PayoutPauseSchema, "The pause in force"),
    ...postResponses,
    ...pauseBadRequest,
    ...pauseForbidden,
    ...pauseNotFound,
    ...problemExamples(409, "Another request with this Idempotency-Key is still being processed.", {
      idempotency_key_in_use: "a request with this Idempotency-Key is still being processed",
    }),
  },
});

const resumeRoute = createRoute({
  method: "post",
  path: "/operations/payouts/resume",
  tags: TAGS,
  summary:
    "Resume payouts paused for the platform, or for one seller (platform admins; a service token: 403 `admin_only`)",
  description:
    "The next payout run (or an admin's payout) pays what is due then. A seller's own pause and the platform's are separate: resuming one leaves the other. Resuming what is not paused changes nothing (`resumed: false`, no audit line); otherwise audited (action `payouts_resumed`).",
  security: [{ bearer: [] }],
  request: { body: { content: { "application/json": { schema: ResumeBodySchema } }, required: true } },
  responses: {
    200: json(ResumedSchema, "Resumed, or not paused"),
    ...postResponses,
    ...pauseBadRequest,
    ...pauseForbidden,
    ...pauseNotFound,
    ...problemExamples(409, "Another request with this Idempotency-Key is still being processed.", {
      idempotency_key_in_use: "a request with this Idempotency-Key is still being processed",
    }),
  },
});

/** A pause as a client sees it. */
function pauseView(p: PayoutPause) {
  return {
    object: "payout_pause" as const,
    scope: p.scope.kind,
    personId: p.scope.kind === "person" ? p.scope.personId : null,
    reason: p.reason,
    pausedBy: p.pausedBy,
    pausedAt: iso(p.pausedAt),
  };
}

const scopeOf = (personId: string | undefined): PayoutPauseScope =>
  personId === undefined ? { kind: "platform" } : { kind: "person", personId };

/** `/v1/people/{personId}/balance` and `/v1/people/{personId}/payouts`, and `/v1/operations/payouts/*` (pauses). */
export function payoutsV1(deps: V1Deps) {
  const app = v1Router();
  const uc = deps.useCases;
  /** `me` is the caller, as a person (a service token: 403 `person_only`). */
  const personOf = (c: Context<V1Env>, personId: string) => personInPath(c, c.get("principal"), personId);

  /** The person, if the caller may see them: themself or an operator (404 for anyone else, or nobody). */
  async function visiblePerson(c: Context<V1Env>, personId: string): Promise<Response | undefined> {
    const refused = refusePerson(c, c.get("principal"), personId);
    if (refused) return refused;
    const person = await uc.people.getPerson(personId);
    if (person.isErr()) return useCaseProblem(c, person.error);
    if (person.value === undefined) return problem(c, 404, "person_not_found", `no person ${personId}`);
    return undefined;
  }

  app.openapi(balanceRoute, async (c) => {
    const personId = personOf(c, c.req.valid("param").personId);
    if (personId instanceof Response) return personId;
    const refused = await visiblePerson(c, personId);
    if (refused) return refused;
    const balance = await useCases.personBalance(uc, deps.gateway, personId);
    if (balance.isErr()) return providerProblem(c, balance.error);
    const b = balance.value;
    return c.json(
      {
        object: "balance" as const,
        personId: b.personId,
        connectedAccountId: b.connectedAccountId ?? null,
        accountGone: b.accountGone,
        available: b.provider.available.map(moneyView),
        pending: b.provider.pending.map(moneyView),
        heldForSeller: b.heldForSeller.map(moneyView),
      },
      200,
    );
  });

  app.openapi(listRoute, async (c) => {
    const personId = personOf(c, c.req.valid("param").personId);
    if (personId instanceof Response) return personId;
    const refused = await visiblePerson(c, personId);
    if (refused) return refused;
    const { limit, starting_after } = c.req.valid("query");
    const listed = await uc.payouts.listPayoutsOfPerson({
      personId,
      limit,
      ...(starting_after !== undefined ? { startingAfter: starting_after } : {}),
    });
    if (listed.isErr()) return useCaseProblem(c, listed.error);
    const page: Page<ReturnType<typeof payoutView>> = {
      object: "list",
      url: `/v1/people/${encodeURIComponent(personId)}/payouts`,
      data: listed.value.items.map(payoutView),
      has_more: listed.value.hasMore,
    };
    return c.json(page, 200);
  });

  app.openapi(payOutRoute, async (c) => {
    const principal = c.get("principal");
    const personId = personOf(c, c.req.valid("param").personId);
    if (personId instanceof Response) return personId;
    const refused = (await visiblePerson(c, personId)) ?? refuseUnlessOperator(c, principal);
    if (refused) return refused;
    // Money leaves the platform's control: a person decides, not a client app's backend.
    if (!principal.roles.includes("admin"))
      return problem(
        c,
        403,
        "admin_only",
        "only platform admins may pay a person out (a service token may not)",
      );
    // The key names the payouts at Stripe: without it a retry could not be told from a new request.
    const key = c.req.header(IDEMPOTENCY_KEY_HEADER);
    if (key === undefined)
      return problem(c, 400, "idempotency_key_required", `send an ${IDEMPOTENCY_KEY_HEADER} header`);
    // Keys are each caller's own, as the API keeps them: another admin's same key is another
    // request, so it must not name (and find at Stripe) the first one's payouts. The subject
    // is escaped so that its ':' cannot make two callers' keys one.
    const requestKey = `${encodeURIComponent(principal.subject)}:${key}`;
    const run = await useCases.payOutPerson(uc, deps.gateway, personId, {
      kind: "requested",
      requestKey,
      by: principal.subject,
    });
    if (run.isErr()) return providerProblem(c, run.error);
    const r = run.value;
    return c.json(
      {
        object: "payout_run" as const,
        personId: r.personId,
        connectedAccountId: r.connectedAccountId,
        payouts: r.payouts.map((p) => ({
          id: p.payoutId,
          amount: moneyView(p.amount),
          status: p.status,
          arrivalDate: iso(p.arrivalDate),
        })),
        skipped: r.skipped.map((s) => ({ amount: moneyView(s.amount), code: s.code, message: s.message })),
      },
      201,
    );
  });

  app.openapi(listPausesRoute, async (c) => {
    const refused = refuseUnlessOperator(c, c.get("principal"));
    if (refused) return refused;
    const pauses = await useCases.listPayoutPauses(uc);
    if (pauses.isErr()) return useCaseProblem(c, pauses.error);
    const platform = pauses.value.find((p) => p.scope.kind === "platform");
    return c.json(
      {
        object: "payout_pauses" as const,
        platform: platform === undefined ? null : pauseView(platform),
        people: pauses.value.filter((p) => p.scope.kind === "person").map(pauseView),
      },
      200,
    );
  });

  app.openapi(pauseRoute, async (c) => {
    const principal = c.get("principal");
    const refused = refuseUnlessAdmin(
      c,
      principal,
      "only platform admins may pause payouts (a service token may not)",
    );
    if (refused) return refused;
    const { reason, personId } = c.req.valid("json");
    const paused = await useCases.pausePayouts(uc, {
      scope: scopeOf(personId),
      reason,
      by: principal.subject,
    });
    if (paused.isErr()) return useCaseProblem(c, paused.error);
    return c.json(pauseView(paused.value), 200);
  });

  app.openapi(resumeRoute, async (c) => {
    const principal = c.get("principal");
    const refused = refuseUnlessAdmin(
      c,
      principal,
      "only platform admins may resume payouts (a service token may not)",
    );
    if (refused) return refused;
    const { personId } = c.req.valid("json");
    const resumed = await useCases.resumePayouts(uc, { scope: scopeOf(personId), by: principal.subject });
    if (resumed.isErr()) return useCaseProblem(c, resumed.error);
    return c.json(
      {
        object: "payout_resume" as const,
        scope: personId === undefined ? ("platform" as const) : ("person" as const),
        personId: personId ?? null,
        resumed: resumed.value.resumed,
      },
      200,
    );
  });

  return app;
}
