import { createRoute, z } from "@hono/zod-openapi";
import {
  type InboxEventSummary,
  parkedWebhookTicketId,
  reconciliationDaysBehind,
  type StatusCount,
  type WebhookInboxOperations,
} from "@susu/adapters";
import {
  AGGREGATE_KINDS,
  type Clock,
  DISMISSAL_REASON_MAX_CHARS,
  type LedgerAdjustments,
  type LedgerReader,
  type OutboxEntry,
  type OutboxOperations,
  type ParkedDismissal,
  parkedEffectTicketId,
  type SupportTicketRecord,
  type SupportTicketStore,
} from "@susu/domain";
import type { Context, MiddlewareHandler } from "hono";
import type { HttpMetrics } from "../http/metrics.js";
import { NUL_FREE } from "../input.js";
import { problem, useCaseProblem } from "../problem.js";
import { refuseUnlessAdmin, refuseUnlessOperator } from "./authz.js";
import { type V1Env, v1Router } from "./context.js";
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

// Operations, for platform operators only (token role `admin` or `service`; anyone else
// gets 403 `operator_only`): support tickets (list, read, resolve) and the work that was
// parked for a person — webhook events and outbox effects that kept failing (list,
// replay one, replay all).
//
// Replaying makes the item due now with its attempts reset to 0: it was parked because
// retries ran out or could not help, and a person has fixed the cause, so it gets the
// whole retry budget again (kept attempts would park it at its first failure). Its last
// error is kept until it runs again. Replaying is safe: an outbox effect keeps its id,
// which is the provider's idempotency key, so money cannot move twice; a webhook event
// is applied through the domain, which ignores what no longer applies. Only parked items
// can be replayed (409 otherwise): pending and failed ones are already due. A webhook event
// stored `ignored` can be replayed too, by id: after a release that handles what an
// earlier one ignored (Stripe's own resend of the event is dropped as a duplicate).
//
// Dismissing sets a parked item aside for good, with a reason: what an operator does when it
// no longer matters (the object is gone in Stripe) or was dealt with on its aggregate instead
// (a round cancelled, a refund by hand). A parked webhook event becomes
// `ignored`, a parked outbox effect `dismissed` (terminal: never run, not done). Either way it
// leaves the parked count (so the alert on it sees the next parking) and replay-all passes it
// by; replaying it by id undoes the dismissal. Who, when and why go to the audit log (action
// `dismiss_parked`, actor `operator:<subject>`) and resolve the parking's ticket if it is open,
// in one write with the status. Only parked items can be dismissed (409 otherwise).

/** The ports behind the ledger and operations routes, built in the composition root. */
export interface OperationsPorts {
  /** The ledger, read by round (`GET /v1/groups/{groupId}/ledger…`). */
  readonly ledger: LedgerReader;
  /** Operators' corrections of the ledger (`/v1/operations/ledger/adjustments`); none: no such routes. */
  readonly adjustments?: LedgerAdjustments;
  readonly tickets: SupportTicketStore;
  readonly outbox: OutboxOperations;
  readonly inbox: WebhookInboxOperations;
}

/** What the operations routes need: the ports, and the clock that stamps resolutions and replays. */
export interface OperationsDeps extends Omit<OperationsPorts, "ledger" | "adjustments"> {
  readonly clock: Clock;
}

/** Longest ticket, event or effect id in a path or cursor (stored as text; Stripe keys are hashed down to 255). */
const OPERATIONS_ID_MAX_CHARS = 1024;

/**
 * Ids of tickets, events and effects: effect ids hold `:` (`rnd_1:contribution:ana:attempt:2`)
 * and the person ids of the members, sellers and customers they are about, so any printable
 * ASCII a person id may hold (`auth0|ana`), and room for a 255-character one in the id.
 */
const OperationsIdSchema = z
  .string()
  .min(1)
  .max(OPERATIONS_ID_MAX_CHARS)
  .regex(/^[\x21-\x7E]+$/, "printable ASCII without spaces");

const cursorQuery = PageQuerySchema.extend({
  starting_after: OperationsIdSchema.optional().openapi({
    description: "The id of the last item of the previous page",
  }),
});

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

// ─── Tickets ───────────────────────────────────────────────────────────────

const TicketSchema = z
  .object({
    object: z.literal("support_ticket"),
    id: z.string(),
    kind: z.string().openapi({ example: "webhook_parked" }),
    status: z.enum(["open", "resolved"]),
    subject: z.string(),
    details: z.record(z.string(), z.unknown()),
    groupId: z.string().nullable(),
    aggregate: z
      .enum(AGGREGATE_KINDS)
      .nullable()
      .openapi({ description: "The kind of aggregate the ticket is about (`round`, …), if any" }),
    aggregateId: z.string().nullable().openapi({ description: "The id of that aggregate" }),
    roundId: z
      .string()
      .nullable()
      .openapi({ description: "The aggregate's id when it is a round (kept for existing clients)" }),
    memberId: z.string().nullable(),
    webhookEventId: z.string().nullable(),
    createdAt: z.string(),
    resolvedAt: z.string().nullable(),
    resolvedBy: z.string().nullable(),
    resolution: z.string().nullable(),
  })
  .openapi("SupportTicket", {
    example: {
      object: "support_ticket",
      id: "webhook:evt_1:parked",
      kind: "webhook_parked",
      status: "resolved",
      subject: "webhook evt_1 (charge.succeeded)",
      details: { summary: "webhook evt_1 (charge.succeeded): round not found" },
      groupId: null,
      aggregate: null,
      aggregateId: null,
      roundId: null,
      memberId: null,
      webhookEventId: "evt_1",
      createdAt: "2030-01-05T09:00:00.000Z",
      resolvedAt: "2030-01-05T10:00:00.000Z",
      resolvedBy: "ops_ana",
      resolution: "replayed after the round was restored",
    },
  });

function ticketView(t: SupportTicketRecord) {
  return {
    object: "support_ticket" as const,
    id: t.id,
    kind: t.kind,
    status: t.status,
    subject: t.subject,
    details: { ...t.details },
    groupId: t.groupId ?? null,
    aggregate: t.aggregate ?? null,
    aggregateId: t.aggregateId ?? null,
    roundId: t.aggregate === "round" ? t.aggregateId : null,
    memberId: t.memberId ?? null,
    webhookEventId: t.webhookEventId ?? null,
    createdAt: new Date(t.createdAt).toISOString(),
    resolvedAt: iso(t.resolvedAt),
    resolvedBy: t.resolvedBy ?? null,
    resolution: t.resolution ?? null,
  };
}

const TicketIdParam = z.object({
  ticketId: OperationsIdSchema.openapi({
    param: { name: "ticketId", in: "path" },
    example: "webhook:evt_1:parked",
  }),
});

const ResolveSchema = z
  .object({
    resolution: z
      .string()
      .trim()
      .min(1)
      .max(2000)
      .refine(NUL_FREE, "no NUL characters")
      .openapi({ example: "replayed after the round was restored" }),
  })
  .openapi("ResolveTicket");

const operatorOnly = forbiddenResponse(["operator_only"]);
const adminOnly = forbiddenResponse(["operator_only", "admin_only"]);

const listTicketsRoute = createRoute({
  method: "get",
  path: "/tickets",
  tags: ["operations"],
  summary: "Support tickets, oldest first (platform operators)",
  security: [{ bearer: [] }],
  request: { query: cursorQuery.extend({ status: z.enum(["open", "resolved"]).optional() }) },
  responses: {
    200: json(pageSchema(TicketSchema, "SupportTicketList"), "A page of tickets"),
    ...commonResponses,
    ...operatorOnly,
  },
});

const getTicketRoute = createRoute({
  method: "get",
  path: "/tickets/{ticketId}",
  tags: ["operations"],
  summary: "A support ticket (platform operators)",
  security: [{ bearer: [] }],
  request: { params: TicketIdParam },
  responses: {
    200: json(TicketSchema, "The ticket"),
    ...commonResponses,
    ...operatorOnly,
    ...notFoundResponse(["ticket_not_found"]),
  },
});

const resolveTicketRoute = createRoute({
  method: "post",
  path: "/tickets/{ticketId}/resolve",
  tags: ["operations"],
  summary:
    "Resolve an open ticket with a note; the caller is recorded as who resolved it (platform admins; a service token: 403 `admin_only`). A resolved ticket keeps its first resolution: resolving it again is 409 `ticket_already_resolved` (retry with the same Idempotency-Key to get the first answer again).",
  security: [{ bearer: [] }],
  request: {
    params: TicketIdParam,
    body: { content: { "application/json": { schema: ResolveSchema } }, required: true },
  },
  responses: {
    200: json(TicketSchema, "The ticket, resolved"),
    ...postResponses,
    ...adminOnly,
    ...notFoundResponse(["ticket_not_found"]),
    ...conflictResponse(["ticket_already_resolved", "idempotency_key_in_use"]),
  },
});

// ─── Parked webhook events and outbox effects ──────────────────────────────

const WebhookEventSchema = z
  .object({
    object: z.literal("webhook_event"),
    id: z.string().openapi({ example: "evt_1" }),
    type: z.string().openapi({ example: "charge.succeeded" }),
    status: z.enum(["received", "processed", "ignored", "failed", "parked"]),
    attempts: z.number().int(),
    lastError: z.string().nullable(),
    nextAttemptAt: z.string(),
    receivedAt: z.string(),
  })
  .openapi("WebhookEvent", { description: "A stored Stripe event, without its payload." });

function webhookView(e: InboxEventSummary) {
  return {
    object: "webhook_event" as const,
    id: e.id,
    type: e.type,
    status: e.status,
    attempts: e.attempts,
    lastError: e.lastError ?? null,
    nextAttemptAt: new Date(e.nextAttemptAt).toISOString(),
    receivedAt: new Date(e.receivedAt).toISOString(),
  };
}

const OutboxEffectSchema = z
  .object({
    object: z.literal("outbox_effect"),
    id: z.string().openapi({ example: "rnd_1:contribution:ana:attempt:1" }),
    kind: z.string().openapi({ example: "collect_contribution" }),
    status: z.enum(["pending", "done", "parked", "dismissed"]).openapi({
      description:
        "`dismissed`: parked, then set aside by an operator (terminal: never run, not done; replaying it by id undoes that)",
    }),
    attempts: z.number().int(),
    lastError: z.string().nullable(),
    availableAt: z.string().nullable().openapi({
      description:
        "When a pending effect may next be tried (a retry waiting out its backoff); null when it is due now, or is not pending",
    }),
    aggregateId: z.string().nullable(),
  })
  .openapi("OutboxEffect", { description: "An effect in the outbox, without its payload." });

function outboxView(e: OutboxEntry, now: number) {
  return {
    object: "outbox_effect" as const,
    id: e.id,
    kind: e.kind,
    status: e.status,
    attempts: e.attempts,
    lastError: e.lastError ?? null,
    // Only a pending effect's wait is news: one due at once (the store marks it with the epoch,
    // a replay with its own time, a backoff that has run out with a past one) shows null.
    availableAt: e.status === "pending" && e.availableAt > now ? new Date(e.availableAt).toISOString() : null,
    aggregateId: e.aggregateId ?? null,
  };
}

const ReplaySchema = z
  .object({
    object: z.literal("replay"),
    id: z.string(),
    status: z.literal("requeued"),
    dueAt: z.string(),
  })
  .openapi("Replay", {
    example: { object: "replay", id: "evt_1", status: "requeued", dueAt: "2030-01-05T10:00:00.000Z" },
  });

const DismissSchema = z
  .object({
    reason: z
      .string()
      .trim()
      .min(1)
      .max(DISMISSAL_REASON_MAX_CHARS)
      .refine(NUL_FREE, "no NUL characters")
      .openapi({
        example: "refunded by hand in the dashboard; the round was cancelled",
        description:
          "Why it is set aside: written to the audit log and as the resolution of the item's parking ticket",
      }),
  })
  .openapi("DismissParked");

const DismissalSchema = z
  .object({
    object: z.literal("dismissal"),
    id: z.string(),
    status: z.enum(["ignored", "dismissed"]).openapi({
      description: "The item's status now: `ignored` for a webhook event, `dismissed` for an outbox effect",
    }),
    reason: z.string(),
    dismissedBy: z.string(),
    dismissedAt: z.string(),
    ticketId: z.string().openapi({ description: "The ticket its parking opened" }),
    ticketResolved: z.boolean().openapi({
      description:
        "Whether that ticket was open and is now resolved with the reason (false: none, or resolved before)",
    }),
  })
  .openapi("Dismissal", {
    example: {
      object: "dismissal",
      id: "evt_1",
      status: "ignored",
      reason: "the charge was deleted in Stripe",
      dismissedBy: "ops_ana",
      dismissedAt: "2030-01-05T10:00:00.000Z",
      ticketId: "webhook:evt_1:parked",
      ticketResolved: true,
    },
  });

const ReplayAllSchema = z
  .object({ object: z.literal("replay_all"), requeued: z.number().int(), dueAt: z.string() })
  .openapi("ReplayAll", {
    example: { object: "replay_all", requeued: 3, dueAt: "2030-01-05T10:00:00.000Z" },
  });

const EventIdParam = z.object({
  eventId: OperationsIdSchema.openapi({ param: { name: "eventId", in: "path" }, example: "evt_1" }),
});
const EffectIdParam = z.object({
  effectId: OperationsIdSchema.openapi({
    param: { name: "effectId", in: "path" },
    example: "rnd_1:contribution:ana:attempt:1",
  }),
});

const listWebhookEventsRoute = createRoute({
  method: "get",
  path: "/operations/webhook-events",
  tags: ["operations"],
  summary: "Stored Stripe events by status (default parked), oldest received first (platform operators)",
  security: [{ bearer: [] }],
  request: {
    query: cursorQuery.extend({ status: z.enum(["parked", "failed", "received"]).default("parked") }),
  },
  responses: {
    200: json(pageSchema(WebhookEventSchema, "WebhookEventList"), "A page of events"),
    ...commonResponses,
    ...operatorOnly,
  },
});

const replayWebhookEventRoute = createRoute({
  method: "post",
  path: "/operations/webhook-events/{eventId}/replay",
  tags: ["operations"],
  summary:
    "Requeue a parked or ignored event (a dismissed one is ignored: this undoes the dismissal): due now, attempts reset to 0 (platform operators)",
  security: [{ bearer: [] }],
  request: { params: EventIdParam },
  responses: {
    200: json(ReplaySchema, "The event is due again"),
    ...postResponses,
    ...operatorOnly,
    ...notFoundResponse(["webhook_event_not_found"]),
    ...conflictResponse(["webhook_event_not_parked", "idempotency_key_in_use"]),
  },
});

const replayAllWebhookEventsRoute = createRoute({
  method: "post",
  path: "/operations/webhook-events/replay",
  tags: ["operations"],
  summary: "Requeue every parked event; dismissed (ignored) ones are left (platform operators)",
  security: [{ bearer: [] }],
  responses: {
    200: json(ReplayAllSchema, "How many events are due again"),
    ...postResponses,
    ...operatorOnly,
  },
});

const listOutboxRoute = createRoute({
  method: "get",
  path: "/operations/outbox",
  tags: ["operations"],
  summary: "Outbox effects by status (default parked), in the order they were decided (platform operators)",
  security: [{ bearer: [] }],
  request: {
    query: cursorQuery.extend({ status: z.enum(["parked", "pending", "dismissed"]).default("parked") }),
  },
  responses: {
    200: json(pageSchema(OutboxEffectSchema, "OutboxEffectList"), "A page of effects"),
    ...commonResponses,
    ...operatorOnly,
  },
});

const replayOutboxEffectRoute = createRoute({
  method: "post",
  path: "/operations/outbox/{effectId}/replay",
  tags: ["operations"],
  summary:
    "Requeue a parked or dismissed effect (for a dismissed one, the undo of its dismissal): due now, attempts reset to 0; it keeps its id, the provider's idempotency key (platform operators)",
  security: [{ bearer: [] }],
  request: { params: EffectIdParam },
  responses: {
    200: json(ReplaySchema, "The effect is due again"),
    ...postResponses,
    ...operatorOnly,
    ...notFoundResponse(["outbox_effect_not_found"]),
    ...conflictResponse(["outbox_effect_not_parked", "idempotency_key_in_use"]),
  },
});

const replayAllOutboxRoute = createRoute({
  method: "post",
  path: "/operations/outbox/replay",
  tags: ["operations"],
  summary: "Requeue every parked effect; dismissed ones are left (platform operators)",
  security: [{ bearer: [] }],
  responses: {
    200: json(ReplayAllSchema, "How many effects are due again"),
    ...postResponses,
    ...operatorOnly,
  },
});

const dismissBody = {
  body: {
    content: { "application/json": { schema: DismissSchema } },
    required: true,
  },
} as const;

/** A dismissal's 400s: a body that is not JSON, a reason missing, blank, too long or with NUL, a bad key. */
const dismissBadRequest = problemExamples(
  400,
  "The body is not valid JSON or does not match the schema, or the Idempotency-Key is malformed.",
  {
    malformed_json: "the request body is not valid JSON",
    invalid_request: "the request does not match the schema",
    invalid_idempotency_key: "Idempotency-Key must be 1 to 255 printable ASCII characters",
  },
);

const dismissWebhookEventRoute = createRoute({
  method: "post",
  path: "/operations/webhook-events/{eventId}/dismiss",
  tags: ["operations"],
  summary:
    "Set a parked event aside for good, with a reason: it becomes `ignored` (platform admins; a service token: 403 `admin_only`)",
  description:
    'For an event that no longer matters (the object it is about is gone in Stripe). It keeps its attempts and last error, leaves `susu_webhook_events{status="parked"}` and is passed by replay-all. Audited (action `dismiss_parked` on `webhook_event`, actor `operator:<subject>`, the reason), and its parking\'s ticket `webhook:<eventId>:parked` is resolved with the reason if it is open, in the same write. Undo: `POST /v1/operations/webhook-events/{eventId}/replay`. Only a parked event: otherwise 409 `webhook_event_not_parked`, nothing changed.',
  security: [{ bearer: [] }],
  request: { params: EventIdParam, ...dismissBody },
  responses: {
    200: json(DismissalSchema, "The event is ignored"),
    ...postResponses,
    ...dismissBadRequest,
    ...adminOnly,
    ...notFoundResponse(["webhook_event_not_found"]),
    ...conflictResponse(["webhook_event_not_parked", "idempotency_key_in_use"]),
  },
});

const dismissOutboxEffectRoute = createRoute({
  method: "post",
  path: "/operations/outbox/{effectId}/dismiss",
  tags: ["operations"],
  summary:
    "Set a parked effect aside for good, with a reason: it becomes `dismissed` (platform admins; a service token: 403 `admin_only`)",
  description:
    "For an effect that cannot succeed and was dealt with on its aggregate instead (a round cancelled, a refund by hand). `dismissed` is terminal: never claimed or run, not done. It keeps its attempts and last error, leaves `susu_outbox_effects{status=\"parked\"}`, is listed by `?status=dismissed` and is passed by replay-all. Audited (action `dismiss_parked` on `outbox_effect` and on its aggregate, actor `operator:<subject>`, the reason), and its parking's ticket `<effectId>:parked` is resolved with the reason if it is open, in the same write. Undo: `POST /v1/operations/outbox/{effectId}/replay` (it keeps its id, the provider's idempotency key). Only a parked effect: otherwise 409 `outbox_effect_not_parked`, nothing changed.",
  security: [{ bearer: [] }],
  request: { params: EffectIdParam, ...dismissBody },
  responses: {
    200: json(DismissalSchema, "The effect is dismissed"),
    ...postResponses,
    ...dismissBadRequest,
    ...adminOnly,
    ...notFoundResponse(["outbox_effect_not_found"]),
    ...conflictResponse(["outbox_effect_not_parked", "idempotency_key_in_use"]),
  },
});

/** `/v1/tickets` and `/v1/operations/*`: support tickets and parked work, for platform operators. */
/** A page of items as the API lists them (Stripe's list object). */
function listBody<T, V>(
  url: string,
  page: { readonly items: readonly T[]; readonly hasMore: boolean },
  view: (t: T) => V,
) {
  return { object: "list" as const, url, data: page.items.map(view), has_more: page.hasMore };
}

/** What a parked webhook event or outbox effect is called in problems. */
const PARKED_NOUN = { webhook_event: "webhook event", outbox_effect: "outbox effect" } as const;

/** The problem for a replay of something that does not exist (404) or is not parked (409). */
function replayRefused(
  c: Context<V1Env>,
  code: keyof typeof PARKED_NOUN,
  id: string,
  outcome: "not_found" | "not_parked",
) {
  const noun = PARKED_NOUN[code];
  const what = code === "webhook_event" ? "neither parked nor ignored" : "neither parked nor dismissed";
  return outcome === "not_found"
    ? problem(c, 404, `${code}_not_found`, `no ${noun} ${id}`)
    : problem(c, 409, `${code}_not_parked`, `${noun} ${id} is ${what}`);
}

/**
 * Dismisses parked item `id` through `store` as the caller, now, with `reason`; the answer:
 * the item's new status, who, when, why, and its ticket.
 */
async function dismissParked(
  c: Context<V1Env>,
  code: keyof typeof PARKED_NOUN,
  id: string,
  reason: string,
  clock: Clock,
  store: Pick<OutboxOperations, "dismissParked">,
) {
  // A dismissed payout, refund or event is money nobody moves any more: a platform admin's call.
  const refused = refuseUnlessAdmin(
    c,
    c.get("principal"),
    "only platform admins may set parked work aside for good (a service token may not)",
  );
  if (refused !== undefined) return refused;
  const dismissal: ParkedDismissal = { by: c.get("principal").subject, reason, at: clock.now() };
  const result = await store.dismissParked(id, dismissal);
  if (result.isErr()) return useCaseProblem(c, result.error);
  const outcome = result.value;
  const noun = PARKED_NOUN[code];
  if (outcome.outcome === "not_found") return problem(c, 404, `${code}_not_found`, `no ${noun} ${id}`);
  if (outcome.outcome === "not_parked")
    return problem(c, 409, `${code}_not_parked`, `${noun} ${id} is not parked`);
  const webhook = code === "webhook_event";
  c.var.log.info({ [webhook ? "eventId" : "effectId"]: id, by: dismissal.by }, `${noun} dismissed`);
  return c.json(
    {
      object: "dismissal" as const,
      id,
      status: webhook ? ("ignored" as const) : ("dismissed" as const),
      reason: dismissal.reason,
      dismissedBy: dismissal.by,
      dismissedAt: new Date(dismissal.at).toISOString(),
      ticketId: webhook ? parkedWebhookTicketId(id) : parkedEffectTicketId(id),
      ticketResolved: outcome.ticketResolved,
    },
    200,
  );
}

const replayBody = (id: string, dueAt: number) => ({
  object: "replay" as const,
  id,
  status: "requeued" as const,
  dueAt: new Date(dueAt).toISOString(),
});

const replayAllBody = (requeued: number, dueAt: number) => ({
  object: "replay_all" as const,
  requeued,
  dueAt: new Date(dueAt).toISOString(),
});

export function operationsV1(deps: OperationsDeps) {
  const app = v1Router();
  // One check for every route of this router, before any input is read. Scoped to its
  // own paths: mounted under /v1, a "*" here would cover every other v1 route too.
  const operatorsOnly: MiddlewareHandler<V1Env> = async (c, next) => {
    const refused = refuseUnlessOperator(c, c.get("principal"));
    if (refused !== undefined) return refused;
    await next();
  };
  for (const path of ["/tickets", "/tickets/*", "/operations/*"]) app.use(path, operatorsOnly);

  app.openapi(listTicketsRoute, async (c) => {
    const query = c.req.valid("query");
    const page = await deps.tickets.listTickets({
      limit: query.limit,
      ...(query.status !== undefined ? { status: query.status } : {}),
      ...(query.starting_after !== undefined ? { startingAfter: query.starting_after } : {}),
    });
    if (page.isErr()) return useCaseProblem(c, page.error);
    return c.json(listBody("/v1/tickets", page.value, ticketView), 200);
  });

  app.openapi(getTicketRoute, async (c) => {
    const { ticketId } = c.req.valid("param");
    const ticket = await deps.tickets.getTicket(ticketId);
    if (ticket.isErr()) return useCaseProblem(c, ticket.error);
    if (ticket.value === undefined) return problem(c, 404, "ticket_not_found", `no ticket ${ticketId}`);
    return c.json(ticketView(ticket.value), 200);
  });

  app.openapi(resolveTicketRoute, async (c) => {
    // Whether what a ticket was about is dealt with is an operator's decision: a platform admin's.
    const refused = refuseUnlessAdmin(
      c,
      c.get("principal"),
      "only platform admins may resolve a ticket (a service token may not)",
    );
    if (refused !== undefined) return refused;
    const { ticketId } = c.req.valid("param");
    const { resolution } = c.req.valid("json");
    const resolved = await deps.tickets.resolveTicket(ticketId, {
      by: c.get("principal").subject,
      note: resolution,
      at: deps.clock.now(),
    });
    if (resolved.isErr()) return useCaseProblem(c, resolved.error);
    const outcome = resolved.value;
    if (outcome.outcome === "not_found") return problem(c, 404, "ticket_not_found", `no ticket ${ticketId}`);
    if (outcome.outcome === "already_resolved")
      return problem(
        c,
        409,
        "ticket_already_resolved",
        `ticket ${ticketId} was resolved by ${outcome.ticket.resolvedBy ?? "someone"} at ${iso(outcome.ticket.resolvedAt)}`,
      );
    return c.json(ticketView(outcome.ticket), 200);
  });

  app.openapi(listWebhookEventsRoute, async (c) => {
    const query = c.req.valid("query");
    const page = await deps.inbox.listEvents({
      status: query.status,
      limit: query.limit,
      ...(query.starting_after !== undefined ? { startingAfter: query.starting_after } : {}),
    });
    if (page.isErr()) return useCaseProblem(c, page.error);
    return c.json(listBody("/v1/operations/webhook-events", page.value, webhookView), 200);
  });

  app.openapi(replayWebhookEventRoute, async (c) => {
    const { eventId } = c.req.valid("param");
    const dueAt = deps.clock.now();
    const replayed = await deps.inbox.requeueParked(eventId);
    if (replayed.isErr()) return useCaseProblem(c, replayed.error);
    if (replayed.value !== "requeued") return replayRefused(c, "webhook_event", eventId, replayed.value);
    c.var.log.info({ eventId, by: c.get("principal").subject }, "webhook event replayed");
    return c.json(replayBody(eventId, dueAt), 200);
  });

  app.openapi(replayAllWebhookEventsRoute, async (c) => {
    const dueAt = deps.clock.now();
    const replayed = await deps.inbox.requeueAllParked();
    if (replayed.isErr()) return useCaseProblem(c, replayed.error);
    c.var.log.info({ requeued: replayed.value, by: c.get("principal").subject }, "webhook events replayed");
    return c.json(replayAllBody(replayed.value, dueAt), 200);
  });

  app.openapi(dismissWebhookEventRoute, (c) =>
    dismissParked(
      c,
      "webhook_event",
      c.req.valid("param").eventId,
      c.req.valid("json").reason,
      deps.clock,
      deps.inbox,
    ),
  );

  app.openapi(listOutboxRoute, async (c) => {
    const query = c.req.valid("query");
    const page = await deps.outbox.listOutbox({
      status: query.status,
      limit: query.limit,
      ...(query.starting_after !== undefined ? { startingAfter: query.starting_after } : {}),
    });
    if (page.isErr()) return useCaseProblem(c, page.error);
    return c.json(
      listBody("/v1/operations/outbox", page.value, (e) => outboxView(e, deps.clock.now())),
      200,
    );
  });

  app.openapi(replayOutboxEffectRoute, async (c) => {
    const { effectId } = c.req.valid("param");
    const dueAt = deps.clock.now();
    const replayed = await deps.outbox.requeueParked(effectId, dueAt);
    if (replayed.isErr()) return useCaseProblem(c, replayed.error);
    if (replayed.value !== "requeued") return replayRefused(c, "outbox_effect", effectId, replayed.value);
    c.var.log.info({ effectId, by: c.get("principal").subject }, "outbox effect replayed");
    return c.json(replayBody(effectId, dueAt), 200);
  });

  app.openapi(replayAllOutboxRoute, async (c) => {
    const dueAt = deps.clock.now();
    const replayed = await deps.outbox.requeueAllParked(dueAt);
    if (replayed.isErr()) return useCaseProblem(c, replayed.error);
    c.var.log.info({ requeued: replayed.value, by: c.get("principal").subject }, "outbox effects replayed");
    return c.json(replayAllBody(replayed.value, dueAt), 200);
  });

  app.openapi(dismissOutboxEffectRoute, (c) =>
    dismissParked(
      c,
      "outbox_effect",
      c.req.valid("param").effectId,
      c.req.valid("json").reason,
      deps.clock,
      deps.outbox,
    ),
  );

  return app;
}

/** Where the operations gauges read their counts (PrismaOperationsCounts in production). */
export interface OperationsCounts {
  roundsByStatus(): Promise<readonly StatusCount[]>;
  heldPaymentsByStatus(): Promise<readonly StatusCount[]>;
  marketplaceChargesByStatus(): Promise<readonly StatusCount[]>;
  outboxByStatus(): Promise<readonly StatusCount[]>;
  webhooksByStatus(): Promise<readonly StatusCount[]>;
  ticketsByStatus(): Promise<readonly StatusCount[]>;
  /** The end of the last day the scheduler's daily reconciliation reconciled; undefined before its first run. */
  reconciliationLastEnd(): Promise<number | undefined>;
  /** When the platform first moved money (its oldest ledger transaction); undefined with none. */
  firstLedgerActivity(): Promise<number | undefined>;
}

const byStatus = (rows: readonly StatusCount[]) =>
  rows.map((r) => ({ labels: { status: r.status }, value: r.count }));

/**
 * Registers the operations gauges, read at scrape time: `susu_rounds{status}`,
 * `susu_held_payments{status}`, `susu_marketplace_charges{status}`,
 * `susu_outbox_effects{status}` (pending, parked: the outbox's depth; done and dismissed are history),
 * `susu_webhook_events{status}` (received, failed, parked: the inbox's depth),
 * `susu_support_tickets_open` and `susu_reconciliation_days_behind` (at `now`, the API's clock).
 */
export function registerOperationsGauges(
  metrics: HttpMetrics,
  counts: OperationsCounts,
  now: () => number = Date.now,
): void {
  metrics.registerGauge({
    name: "susu_rounds",
    help: "Rounds by state.",
    labelNames: ["status"],
    collect: async () => byStatus(await counts.roundsByStatus()),
  });
  metrics.registerGauge({
    name: "susu_held_payments",
    help: "Held-funds payments by state (awaiting_payment: checkouts open; expired: abandoned; held: waiting for release; release_blocked: needs a person).",
    labelNames: ["status"],
    collect: async () => byStatus(await counts.heldPaymentsByStatus()),
  });
  metrics.registerGauge({
    name: "susu_marketplace_charges",
    help: "Marketplace charges by state (requires_action: a customer still to confirm or authenticate; transfer_blocked: a co-host's transfer parked for a person; refunding: refunds in flight).",
    labelNames: ["status"],
    collect: async () => byStatus(await counts.marketplaceChargesByStatus()),
  });
  metrics.registerGauge({
    name: "susu_outbox_effects",
    help: "Outbox effects not done, by status (pending: to run; parked: waiting for a person). Done and dismissed effects are not counted.",
    labelNames: ["status"],
    collect: async () => byStatus(await counts.outboxByStatus()),
  });
  metrics.registerGauge({
    name: "susu_webhook_events",
    help: "Stripe events not finished, by status (received, failed: to process; parked: waiting for a person). Processed and ignored events (a dismissed one is ignored) are not counted.",
    labelNames: ["status"],
    collect: async () => byStatus(await counts.webhooksByStatus()),
  });
  metrics.registerGauge({
    name: "susu_support_tickets_open",
    help: "Support tickets still open.",
    collect: async () => [
      { labels: {}, value: (await counts.ticketsByStatus()).find((r) => r.status === "open")?.count ?? 0 },
    ],
  });
  metrics.registerGauge({
    name: "susu_reconciliation_days_behind",
    help: "Whole UTC days up to yesterday the scheduler's daily reconciliation with Stripe has not reconciled yet (1 from midnight UTC to the morning's run, then 0; more: runs missed or catching up). Before its first report, the days since the ledger's first transaction.",
    collect: async () => {
      const lastEnd = await counts.reconciliationLastEnd();
      // Never reconciled: counted from the first money moved, so runs that all crash fall behind.
      const since = lastEnd === undefined ? await counts.firstLedgerActivity() : undefined;
      return [{ labels: {}, value: reconciliationDaysBehind(lastEnd, now(), since) }];
    },
  });
}
