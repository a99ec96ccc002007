import { createHash } from "node:crypto";
import { createRoute, z } from "@hono/zod-openapi";
import { type PaymentMethodView, SAVED_METHOD_TYPES, type SavedPaymentMethod, useCases } from "@susu/domain";
import type { Context } from "hono";
import { IDEMPOTENCY_KEY_HEADER } from "../http/idempotency.js";
import { providerProblem, useCaseProblem } from "../problem.js";
import { personInPath, refusePerson, refuseUnlessSelf } from "./authz.js";
import type { V1Deps, V1Env } from "./context.js";
import { v1Router } from "./context.js";
import { PageQuerySchema, pageOf, pageSchema } from "./pagination.js";
import {
  commonResponses,
  forbiddenResponse,
  IdSchema,
  json,
  notFoundResponse,
  PersonIdParam,
  postResponses,
  problemExamples,
  providerResponses,
  setupAttemptSchema,
} from "./schemas.js";

// A person's saved payment methods under /v1/people/{personId}/payment-methods (`me` is the
// caller): cards and BECS accounts saved through SetupIntents their app confirms (susu never
// sees a number), which one is the default, and removing one. Saving, choosing the default
// and removing act as the person: only they may. The person and platform operators list. A
// service token is no person: `me`, and its own subject for what acts as the person, are 403
// `person_only`.

const TAGS = ["payment methods"];

const MethodParams = PersonIdParam.extend({
  paymentMethodId: IdSchema.openapi({
    param: { name: "paymentMethodId", in: "path" },
    description: "The saved method's Stripe id",
    example: "pm_123",
  }),
});

const SetupRequestSchema = z
  .object({
    type: z.enum(SAVED_METHOD_TYPES).openapi({ description: "What to save", example: "card" }),
    attempt: setupAttemptSchema(
      "The same value repeats the same set-up safely; a new value asks for a new one. Absent: the request's `Idempotency-Key` names the set-up (a retry with the same key gets the same SetupIntent), and without a key every request starts a new one",
    ),
  })
  .strict()
  .openapi("PaymentMethodSetupRequest");

const SetupViewSchema = z
  .object({
    setupIntentId: z.string().openapi({ example: "seti_123" }),
    clientSecret: z.string().openapi({ description: "Confirm it with Stripe.js; show it to nobody else" }),
  })
  .openapi("PaymentMethodSetup");

const PaymentMethodSchema = z
  .object({
    object: z.literal("payment_method"),
    id: z.string().openapi({ example: "pm_123" }),
    type: z.enum(SAVED_METHOD_TYPES),
    card: z
      .object({
        brand: z.string().openapi({ example: "visa" }),
        last4: z.string().openapi({ example: "4242" }),
        expMonth: z.number().int().openapi({ example: 12 }),
        expYear: z.number().int().openapi({ example: 2030 }),
      })
      .nullable(),
    bankAccount: z
      .object({
        bsbNumber: z.string().openapi({ example: "000000" }),
        last4: z.string().openapi({ example: "3456" }),
      })
      .nullable(),
    mandate: z
      .object({
        id: z.string().openapi({ example: "mandate_123" }),
        status: z.enum(["active", "inactive", "pending"]),
      })
      .nullable()
      .openapi({ description: "A BECS account's direct debit authority" }),
    isDefault: z.boolean(),
    usedForDebits: z
      .boolean()
      .openapi({ description: "The account savings rounds collect this person's contributions from" }),
    createdAt: z.string().openapi({ example: "2030-01-01T09:00:00.000Z" }),
  })
  .openapi("PaymentMethod");

const PaymentMethodListSchema = pageSchema(PaymentMethodSchema, "PaymentMethodList");

const RemovedSchema = z
  .object({
    object: z.literal("payment_method_removal"),
    paymentMethod: PaymentMethodSchema,
    debitPaymentMethodId: z.string().nullable().openapi({
      description:
        "The method rounds debit after the removal (the replacement, or the person's other working BECS account, when one moved in); null when none is active",
    }),
  })
  .openapi("PaymentMethodRemoval");

const RemoveQuerySchema = z.object({
  replacementId: IdSchema.optional().openapi({
    param: { name: "replacementId", in: "query" },
    description:
      "A saved BECS account of the person's with an active mandate: the rounds that rely on the removed one debit it instead",
    example: "pm_456",
  }),
});

/** A service token is no person: `me` (or, for what acts as the person, its own subject) is 403 `person_only`. */
const personOnly = forbiddenResponse(["person_only"]);

const setupRoute = createRoute({
  method: "post",
  path: "/people/{personId}/payment-methods/setup",
  tags: TAGS,
  summary: "Start saving a card or a BECS account: a SetupIntent client secret (the person only)",
  description:
    "Creates the person's Stripe customer once, then a SetupIntent for off-session use that their app confirms with the card or the bank account (and, for BECS, the mandate). The method is recorded from Stripe's webhooks (`payment_method.attached`, `setup_intent.succeeded`). A BECS account saved here becomes the one rounds debit only when the person has no active one. Only the person themselves: anyone else, platform operators included, gets 404; a service token (an app, not a person) naming itself (`me` or its own subject) 403 `person_only`.",
  security: [{ bearer: [] }],
  request: {
    params: PersonIdParam,
    body: { content: { "application/json": { schema: SetupRequestSchema } }, required: true },
  },
  responses: {
    201: json(SetupViewSchema, "The set-up to confirm"),
    ...postResponses,
    ...personOnly,
    ...notFoundResponse(["person_not_found"]),
    ...providerResponses,
  },
});

const listRoute = createRoute({
  method: "get",
  path: "/people/{personId}/payment-methods",
  tags: TAGS,
  summary: "A person's saved payment methods, oldest first (the person, platform operators)",
  description:
    "Cards show brand, last four digits and expiry; BECS accounts the BSB and the last four digits of the account number, with the mandate's status. Removed methods are not listed.",
  security: [{ bearer: [] }],
  request: { params: PersonIdParam, query: PageQuerySchema },
  responses: {
    200: json(PaymentMethodListSchema, "A page of the saved methods"),
    ...commonResponses,
    ...personOnly,
    ...notFoundResponse(["person_not_found"]),
  },
});

const defaultRoute = createRoute({
  method: "post",
  path: "/people/{personId}/payment-methods/{paymentMethodId}/default",
  tags: TAGS,
  summary: "Make a saved method the person's default (the person only)",
  description:
    "Stored at once; Stripe's customer `invoice_settings.default_payment_method` follows through the outbox. A card also becomes what the person's current membership is charged on (the Stripe subscription's own `default_payment_method`, which Stripe uses before the customer's default for renewals and for dunning's next retry of an open invoice). A BECS account with an active mandate becomes the one rounds debit (`usedForDebits`) when the person's debit does not work (none, or its mandate inactive); a working debit stays (name a replacement when removing it to change it). The default already changes nothing more, except that it still takes over a debit that does not work. A card past its expiry (the last day of its expiry month, UTC) is refused with 409 `payment_method_expired`, changing nothing, the default one too: the membership would be charged on a card that cannot be charged.",
  security: [{ bearer: [] }],
  request: { params: MethodParams },
  responses: {
    200: json(PaymentMethodSchema, "The method, now the default"),
    ...postResponses,
    ...personOnly,
    ...notFoundResponse(["person_not_found", "payment_method_not_found"]),
    ...problemExamples(409, "The card has expired: nothing changed.", {
      payment_method_expired:
        "card pm_123 has expired (expired 12/2025) and cannot be charged: the default card needs a card that can; save another card",
    }),
  },
});

const removeRoute = createRoute({
  method: "delete",
  path: "/people/{personId}/payment-methods/{paymentMethodId}",
  tags: TAGS,
  summary: "Remove a saved method: detached at Stripe (the person only)",
  description:
    "Removed at once and detached at Stripe through the outbox, keyed by the removal's effect id. The BECS account a running round relies on (the person is a member of a group with a round in progress) is refused with 409 `payment_method_in_use`, naming the group in `groupId`, unless `replacementId` names a saved BECS account with an active mandate: the rounds then debit the replacement, in the same write, before the old one is detached. A round opening in one of the person's groups at the same moment is not missed: one of the two wins, and a removal that loses is refused the same way. The debit no running round relies on moves, without a `replacementId`, to another saved BECS account of the person's with an active mandate (the oldest; the person is told which), as when Stripe detaches it; with none, the person has no active debit until they save one (`debitPaymentMethodId` null). The card the person's current membership is charged on first moves the membership to their other saved card that has not expired (the default one, else the newest); with no such card (none, or only expired ones) it is refused with 409 `payment_method_bills_membership` (save another card first, or cancel the membership).",
  security: [{ bearer: [] }],
  request: { params: MethodParams, query: RemoveQuerySchema },
  responses: {
    200: json(RemovedSchema, "The method as removed"),
    ...commonResponses,
    ...personOnly,
    ...notFoundResponse(["person_not_found", "payment_method_not_found"]),
    ...problemExamples(
      409,
      "A running round relies on the method, the replacement cannot take over, or the method is the card the membership is charged on.",
      {
        payment_method_in_use:
          "payment method pm_123 is the debit a round of group grp_1 relies on; name an active BECS replacement to remove it",
        replacement_not_usable: "pm_456 is not a saved BECS account of ana's with an active mandate",
        payment_method_bills_membership:
          "payment method pm_123 is the card membership mbr_1 is charged on, and ana has no other saved card that can be charged (none, or all expired): save another card first, or cancel the membership",
      },
    ),
  },
});

function methodView(view: PaymentMethodView) {
  return methodOf(view.method, view.usedForDebits);
}

function methodOf(m: SavedPaymentMethod, usedForDebits: boolean) {
  return {
    object: "payment_method" as const,
    id: m.id,
    type: m.type,
    card: m.card
      ? { brand: m.card.brand, last4: m.card.last4, expMonth: m.card.expMonth, expYear: m.card.expYear }
      : null,
    bankAccount: m.bankAccount ? { bsbNumber: m.bankAccount.bsbNumber, last4: m.bankAccount.last4 } : null,
    mandate: m.mandate ? { id: m.mandate.mandateId, status: m.mandate.status } : null,
    isDefault: m.isDefault,
    usedForDebits,
    createdAt: new Date(m.createdAt).toISOString(),
  };
}

/**
 * The attempt a set-up without an explicit `attempt` is keyed by at Stripe: one named by the
 * request's Idempotency-Key (hashed: the key may be 255 characters of anything printable),
 * so a retried request gets its SetupIntent back; otherwise a fresh id, so a second card
 * saved later is a new SetupIntent and not the first one's again.
 */
function setupAttemptOf(idempotencyKey: string | undefined, freshId: () => string): string {
  if (idempotencyKey === undefined || idempotencyKey === "") return freshId();
  return `key_${createHash("sha256").update(idempotencyKey).digest("hex").slice(0, 32)}`;
}

/** `/v1/people/{personId}/payment-methods`: saved cards and BECS accounts. */
export function paymentMethodsV1(deps: V1Deps) {
  const app = v1Router();
  /** `me` is the caller, as a person (a service token: 403 `person_only`). */
  const personOf = (c: Context<V1Env>, personId: string) => personInPath(c, c.get("principal"), personId);

  app.openapi(setupRoute, async (c) => {
    const personId = personOf(c, c.req.valid("param").personId);
    if (personId instanceof Response) return personId;
    const refused = refuseUnlessSelf(c, c.get("principal"), personId);
    if (refused) return refused;
    const { type, attempt } = c.req.valid("json");
    const started = await useCases.startPaymentMethodSetup(
      deps.useCases,
      deps.gateway,
      personId,
      type,
      attempt ?? setupAttemptOf(c.req.header(IDEMPOTENCY_KEY_HEADER), () => deps.useCases.ids.newId("setup")),
    );
    if (started.isErr()) return providerProblem(c, started.error);
    return c.json(
      { setupIntentId: started.value.setupIntentId, clientSecret: started.value.clientSecret },
      201,
    );
  });

  app.openapi(listRoute, async (c) => {
    const personId = personOf(c, c.req.valid("param").personId);
    if (personId instanceof Response) return personId;
    const refused = refusePerson(c, c.get("principal"), personId);
    if (refused) return refused;
    const listed = await useCases.listPaymentMethods(deps.useCases, personId);
    if (listed.isErr()) return useCaseProblem(c, listed.error);
    const page = pageOf(
      listed.value.map(methodView),
      (m) => m.id,
      c.req.valid("query"),
      `/v1/people/${encodeURIComponent(c.req.valid("param").personId)}/payment-methods`,
    );
    return c.json({ ...page, data: [...page.data] }, 200);
  });

  app.openapi(defaultRoute, async (c) => {
    const { personId: raw, paymentMethodId } = c.req.valid("param");
    const personId = personOf(c, raw);
    if (personId instanceof Response) return personId;
    const refused = refuseUnlessSelf(c, c.get("principal"), personId);
    if (refused) return refused;
    const done = await useCases.setDefaultPaymentMethod(deps.useCases, personId, paymentMethodId, personId);
    if (done.isErr()) return useCaseProblem(c, done.error);
    const person = await deps.useCases.people.getPerson(personId);
    const usedForDebits = person.isOk() && person.value?.debit?.paymentMethodId === done.value.id;
    return c.json(methodOf(done.value, usedForDebits), 200);
  });

  app.openapi(removeRoute, async (c) => {
    const { personId: raw, paymentMethodId } = c.req.valid("param");
    const personId = personOf(c, raw);
    if (personId instanceof Response) return personId;
    const refused = refuseUnlessSelf(c, c.get("principal"), personId);
    if (refused) return refused;
    const { replacementId } = c.req.valid("query");
    const removed = await useCases.removePaymentMethod(
      deps.useCases,
      personId,
      paymentMethodId,
      replacementId,
      personId,
    );
    if (removed.isErr()) return useCaseProblem(c, removed.error);
    return c.json(
      {
        object: "payment_method_removal" as const,
        paymentMethod: methodOf(removed.value.method, false),
        debitPaymentMethodId: removed.value.debitPaymentMethodId ?? null,
      },
      200,
    );
  });

  return app;
}
