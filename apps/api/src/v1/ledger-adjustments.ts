import { createHash } from "node:crypto";
import { createRoute, z } from "@hono/zod-openapi";
import { RECONCILIATION_CATEGORIES } from "@susu/adapters";
import {
  type AdjustmentOwnerRepositories,
  type Clock,
  type LedgerAdjustments,
  MANUAL_ADJUSTMENT_POSTINGS_MAX,
  MANUAL_ADJUSTMENT_REASON_MAX_CHARS,
  type StorageError,
  useCases,
} from "@susu/domain";
import { IDEMPOTENCY_KEY_HEADER, IdempotencyKeyHeaderSchema } from "../http/idempotency.js";
import { NUL_FREE } from "../input.js";
import { problem, useCaseProblem } from "../problem.js";
import { refuseUnlessAdmin, refuseUnlessOperator } from "./authz.js";
import { v1Router } from "./context.js";
import { TransactionSchema, transactionView } from "./ledger.js";
import { PageQuerySchema, pageSchema } from "./pagination.js";
import {
  commonResponses,
  conflictResponse,
  forbiddenResponse,
  json,
  notFoundResponse,
  postResponses,
  problemExamples,
} from "./schemas.js";

// Operators' corrections of the ledger: a platform admin posts a balanced transaction of
// postings they chose (`manual_adjustment`), checked by the domain's ledger rules and its
// adjustment rules (`manualAdjustment`: accounts of the chart of accounts or already in the
// ledger, known currencies, at most one round…; `checkAdjustmentAccounts`: the owners the
// accounts name exist, postings in their currencies), with who (the token's subject), why and the
// ticket it answers in its refs and in the audit log, noted on that ticket (resolved when
// asked), in one commit. Its id is derived from the caller and the Idempotency-Key (required),
// so the same request posts once even after the key's stored answer expired.

/**
 * What the adjustment routes need: the ledger's adjustments, the repositories of what its
 * accounts name (rounds, held payments… that must exist), and the clock that dates them.
 */
export interface LedgerAdjustmentDeps {
  readonly adjustments: LedgerAdjustments;
  readonly owners: AdjustmentOwnerRepositories;
  readonly clock: Clock;
}

const URL = "/v1/operations/ledger/adjustments";

/** Printable ASCII without spaces, as account and ticket ids are. */
const PrintableId = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[\x21-\x7E]+$/, "printable ASCII without spaces");

const AdjustmentPostingSchema = z
  .object({
    account: PrintableId(1024).openapi({ example: "round:rnd_1:owed_to_member:ana" }),
    side: z.enum(["debit", "credit"]),
    amountMinor: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).openapi({ example: 2500 }),
    currency: z.string().length(3).openapi({ example: "AUD" }),
  })
  .openapi("LedgerAdjustmentPosting");

const AdjustmentSchema = z
  .object({
    reason: z
      .string()
      .trim()
      .min(1)
      .max(MANUAL_ADJUSTMENT_REASON_MAX_CHARS)
      .refine(NUL_FREE, "no NUL characters")
      .openapi({ example: "dispute dp_1: the rest owed to ana was never booked" }),
    ticketId: PrintableId(255).optional().openapi({
      description:
        "A support ticket this answers: the adjustment's id is added to its `details.adjustments` (404 `ticket_not_found` when there is none)",
    }),
    occurredAt: z.string().datetime().optional().openapi({
      example: "2026-12-01T14:00:00.000Z",
      description:
        "When the movement it books happened (from 1970 on and not in the future, else 400 `invalid_adjustment`); default now. An adjustment that books a Stripe movement is dated when Stripe moved the money, so reconciliation compares it in that period.",
    }),
    resolveTicket: z
      .boolean()
      .optional()
      .openapi({ description: "Also resolve the ticket (if still open), the caller as who resolved it" }),
    postings: z
      .array(AdjustmentPostingSchema)
      .min(2)
      .max(MANUAL_ADJUSTMENT_POSTINGS_MAX)
      .openapi({ description: "Balanced per currency: the debits equal the credits" }),
    reconciliation: z
      .object({
        category: z.enum(RECONCILIATION_CATEGORIES as [string, ...string[]]),
        key: PrintableId(255).openapi({ example: "object:re_123" }),
        direction: z.enum(["in", "out"]).openapi({
          description: "`in`: money into the platform's Stripe balance; `out`: out of it",
        }),
      })
      .optional()
      .openapi({
        description:
          "The Stripe movement this books: reconciliation compares the adjustment's debits under this category and key (so it can close a difference). Absent: inside susu, left out of the comparison. One currency only.",
      }),
  })
  .refine((b) => b.resolveTicket !== true || b.ticketId !== undefined, {
    message: "resolveTicket needs a ticketId",
    path: ["resolveTicket"],
  })
  .openapi("LedgerAdjustmentRequest");

const operatorOnly = forbiddenResponse(["operator_only"]);

const postAdjustmentRoute = createRoute({
  method: "post",
  path: "/operations/ledger/adjustments",
  tags: ["operations"],
  summary: "Post a balanced correcting transaction to the ledger (platform admins)",
  description:
    "An `Idempotency-Key` is required: it names the adjustment, so the same request posts once (the same key again answers the same; after its stored answer expired, 200 with the adjustment posted then). The same key with another body is 422 `idempotency_key_reused` while the key's answer is kept, 409 `adjustment_key_reused` after. Recorded in the audit log (action `manual_adjustment`, actor `operator:<subject>`, on the transaction and its round) and shown by the ledger routes like any other transaction.",
  security: [{ bearer: [] }],
  request: {
    headers: IdempotencyKeyHeaderSchema,
    body: { content: { "application/json": { schema: AdjustmentSchema } }, required: true },
  },
  responses: {
    200: json(TransactionSchema, "The adjustment this key posted before"),
    201: json(TransactionSchema, "The adjustment, posted"),
    ...postResponses,
    ...problemExamples(400, "The adjustment breaks the ledger's rules, or the request is malformed.", {
      invalid_request: "the request does not match the schema",
      idempotency_key_required: "send an Idempotency-Key header",
      invalid_idempotency_key: "Idempotency-Key must be 1 to 255 printable ASCII characters",
      unbalanced_transaction: "transaction adjustment:… debits 500 and credits 400 in AUD",
      unknown_account:
        "account round:rnd_typo:pot names round rnd_typo, which does not exist, and the ledger has no such account",
      adjustment_currency_mismatch: "account round:rnd_1:pot holds AUD, not JPY",
      adjustment_spans_rounds: "an adjustment touches one round's accounts at most",
      adjustment_currencies_mixed: "an adjustment compared with Stripe (reconciliation) moves one currency",
      unknown_currency: "unknown currency XXX",
      amount_too_large: "AUD amount 1000000000000 is above the maximum 99999999",
      non_positive_amount: "posting to platform:funds must have a positive whole amount",
      too_many_postings: `an adjustment has at most ${MANUAL_ADJUSTMENT_POSTINGS_MAX} postings`,
      invalid_adjustment: "an adjustment cannot happen in the future",
    }),
    ...problemExamples(403, "Allowed to see, not to do.", {
      operator_only: "only platform operators may do this",
      admin_only: "only platform admins may adjust the ledger (a service token may not)",
    }),
    ...notFoundResponse(["ticket_not_found"]),
    ...conflictResponse(["adjustment_key_reused", "idempotency_key_in_use"]),
  },
});

const listAdjustmentsRoute = createRoute({
  method: "get",
  path: "/operations/ledger/adjustments",
  tags: ["operations"],
  summary: "Operators' ledger adjustments, oldest first (platform operators)",
  security: [{ bearer: [] }],
  request: {
    query: PageQuerySchema.extend({
      starting_after: PrintableId(255)
        .optional()
        .openapi({ description: "The id of the last adjustment of the previous page" }),
    }),
  },
  responses: {
    200: json(pageSchema(TransactionSchema, "LedgerAdjustmentList"), "A page of adjustments"),
    ...commonResponses,
    ...operatorOnly,
  },
});

/** The adjustment's id: the caller's key, hashed with their subject (keys are each caller's own). */
function adjustmentIdOf(subject: string, key: string): string {
  return `adjustment:${createHash("sha256").update(`${subject}\n${key}`).digest("hex").slice(0, 32)}`;
}

/** `/v1/operations/ledger/adjustments`: post an adjustment (platform admins), list them (operators). */
export function ledgerAdjustmentsV1(deps: LedgerAdjustmentDeps) {
  const app = v1Router();
  // Who may call, before any input is read (as the operations router's own check): operators
  // list, platform admins post. Scoped to this router's one path.
  app.use("/operations/ledger/adjustments", async (c, next) => {
    const principal = c.get("principal");
    const refused =
      c.req.method === "POST" ? refuseUnlessAdmin(c, principal) : refuseUnlessOperator(c, principal);
    if (refused !== undefined) return refused;
    await next();
  });

  app.openapi(postAdjustmentRoute, async (c) => {
    const principal = c.get("principal");
    const key = c.req.header(IDEMPOTENCY_KEY_HEADER);
    if (key === undefined)
      return problem(c, 400, "idempotency_key_required", `send an ${IDEMPOTENCY_KEY_HEADER} header`);
    const body = c.req.valid("json");
    const id = adjustmentIdOf(principal.subject, key);
    const now = deps.clock.now();
    const posted = await useCases.postLedgerAdjustment(deps.adjustments, deps.owners, {
      id,
      now,
      occurredAt: body.occurredAt !== undefined ? Date.parse(body.occurredAt) : now,
      by: principal.subject,
      reason: body.reason,
      postings: body.postings,
      ...(body.ticketId !== undefined ? { ticketId: body.ticketId } : {}),
      ...(body.resolveTicket !== undefined ? { resolveTicket: body.resolveTicket } : {}),
      ...(body.reconciliation !== undefined ? { reconciliation: body.reconciliation } : {}),
    });
    if (posted.isErr())
      return isStorageError(posted.error)
        ? useCaseProblem(c, posted.error)
        : problem(c, 400, posted.error.code, posted.error.message);
    const outcome = posted.value;
    switch (outcome.outcome) {
      case "ticket_not_found":
        return problem(c, 404, "ticket_not_found", `no ticket ${body.ticketId ?? ""}`);
      case "conflict":
        return problem(
          c,
          409,
          "adjustment_key_reused",
          `this Idempotency-Key posted adjustment ${id} with other postings or reason; use a new key`,
        );
      case "already_posted":
        return c.json(transactionView(outcome.recorded), 200);
      case "posted":
        c.var.log.info(
          { adjustmentId: id, by: principal.subject, ticketId: body.ticketId },
          "ledger adjusted",
        );
        return c.json(transactionView(outcome.recorded), 201);
    }
  });

  app.openapi(listAdjustmentsRoute, async (c) => {
    const query = c.req.valid("query");
    const page = await deps.adjustments.listAdjustments({
      limit: query.limit,
      ...(query.starting_after !== undefined ? { startingAfter: query.starting_after } : {}),
    });
    if (page.isErr()) return useCaseProblem(c, page.error);
    return c.json(
      {
        object: "list" as const,
        url: URL,
        data: page.value.items.map(transactionView),
        has_more: page.value.hasMore,
      },
      200,
    );
  });

  return app;
}

const STORAGE_ERRORS: ReadonlySet<string> = new Set<StorageError["type"]>([
  "version_conflict",
  "duplicate",
  "storage_unavailable",
  "storage_refused",
]);

/** Whether a use case's error is storage's (answered as every route does) rather than a refusal of the adjustment (400). */
function isStorageError(error: { readonly type: string }): error is StorageError {
  return STORAGE_ERRORS.has(error.type);
}
