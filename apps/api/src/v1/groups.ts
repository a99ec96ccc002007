import { createRoute, z } from "@hono/zod-openapi";
import { CADENCES, CURRENCY_CODES, type CurrencyCode, PAYOUT_ORDER_METHODS, useCases } from "@susu/domain";
import { useCaseProblem } from "../problem.js";
import { groupViewOf } from "../views.js";
import { refuseGroup } from "./authz.js";
import type { V1Deps } from "./context.js";
import { v1Router } from "./context.js";
import { PageQuerySchema, pageOf, pageSchema } from "./pagination.js";
import {
  commonResponses,
  conflictResponse,
  DisplayNameSchema,
  GroupIdParam,
  json,
  notFoundResponse,
  postResponses,
  unprocessableResponse,
} from "./schemas.js";

// The pattern every v1 resource follows: a route described with createRoute (its schemas
// make the OpenAPI document and validate the input), the principal from the token, one
// authorisation call from authz.ts, one use case, and useCaseProblem for its errors.

const GroupViewSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    status: z.enum(["forming", "active", "paused", "completed"]),
    pausedReason: z.string().nullable(),
    contribution: z.object({ amountMinor: z.number().int(), currency: z.string(), text: z.string() }),
    cadence: z.string(),
    startsAt: z.string().nullable(),
    rotationsPlanned: z.number().int(),
    members: z.array(
      z.object({
        id: z.string(),
        displayName: z.string(),
        role: z.enum(["admin", "member"]),
        status: z.string(),
        readiness: z.object({ mandateActive: z.boolean(), payoutsEnabled: z.boolean() }),
      }),
    ),
    payoutOrder: z.unknown(),
    rotation: z.unknown(),
    currentRoundId: z.string().nullable(),
    pendingSwaps: z.array(z.unknown()),
    version: z.number().int(),
  })
  .openapi("Group");

const CreateGroupSchema = z
  .object({
    name: DisplayNameSchema.openapi({ example: "Friday savers" }),
    currency: z.enum(CURRENCY_CODES as [CurrencyCode, ...CurrencyCode[]]).openapi({ example: "AUD" }),
    contributionMinor: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).openapi({ example: 10000 }),
    cadence: z.enum(CADENCES as [(typeof CADENCES)[number], ...(typeof CADENCES)[number][]]),
    startsAt: z.iso.datetime({ offset: true }).openapi({ example: "2030-01-03T09:00:00Z" }),
    payoutOrderMethod: z.enum(
      PAYOUT_ORDER_METHODS as [
        (typeof PAYOUT_ORDER_METHODS)[number],
        ...(typeof PAYOUT_ORDER_METHODS)[number][],
      ],
    ),
    rotationsPlanned: z.number().int().min(1).max(12).optional(),
    /** How the creator is shown to the group; they are the token's person. */
    displayName: DisplayNameSchema.openapi({ example: "Ana" }),
  })
  .openapi("CreateGroup");

const createGroupRoute = createRoute({
  method: "post",
  path: "/groups",
  tags: ["groups"],
  summary: "Create a group; the caller becomes its first member and admin",
  security: [{ bearer: [] }],
  request: { body: { content: { "application/json": { schema: CreateGroupSchema } }, required: true } },
  responses: {
    201: json(GroupViewSchema, "The group, forming"),
    ...postResponses,
    ...unprocessableResponse(["invalid_group", "currency_not_supported", "amount_below_minimum"]),
  },
});

const listGroupsRoute = createRoute({
  method: "get",
  path: "/groups",
  tags: ["groups"],
  summary: "The groups the caller belongs to, oldest first",
  security: [{ bearer: [] }],
  request: { query: PageQuerySchema },
  responses: { 200: json(pageSchema(GroupViewSchema, "GroupList"), "A page of groups"), ...commonResponses },
});

const getGroupRoute = createRoute({
  method: "get",
  path: "/groups/{groupId}",
  tags: ["groups"],
  summary: "A group the caller belongs to (platform operators: any group)",
  security: [{ bearer: [] }],
  request: { params: GroupIdParam },
  responses: {
    200: json(GroupViewSchema, "The group"),
    ...commonResponses,
    ...notFoundResponse(["group_not_found"]),
    ...conflictResponse([]),
  },
});

/** `/v1/groups`: create a group, list mine, read one. */
export function groupsV1(deps: V1Deps) {
  const app = v1Router();
  const viewOf = groupViewOf(deps.useCases);

  app.openapi(createGroupRoute, async (c) => {
    const principal = c.get("principal");
    const { rotationsPlanned, displayName, startsAt, ...rest } = c.req.valid("json");
    const created = await useCases
      .createGroup(deps.useCases, {
        ...rest,
        startsAt: Date.parse(startsAt),
        ...(rotationsPlanned !== undefined ? { rotationsPlanned } : {}),
        creator: { id: principal.subject, displayName },
      })
      .andThen(viewOf);
    if (created.isErr()) return useCaseProblem(c, created.error);
    return c.json(created.value, 201, { location: `/v1/groups/${created.value.id}` });
  });

  app.openapi(listGroupsRoute, async (c) => {
    const principal = c.get("principal");
    const query = c.req.valid("query");
    const groups = await deps.useCases.groups.listGroupsOfPerson(principal.subject);
    if (groups.isErr()) return useCaseProblem(c, groups.error);
    const ordered = [...groups.value].sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
    const page = pageOf(ordered, (g) => g.id, query, "/v1/groups");
    const views = [];
    for (const g of page.data) {
      const view = await viewOf(g);
      if (view.isErr()) return useCaseProblem(c, view.error);
      views.push(view.value);
    }
    return c.json({ ...page, data: views }, 200);
  });

  app.openapi(getGroupRoute, async (c) => {
    const { groupId } = c.req.valid("param");
    const group = await deps.useCases.groups.getGroup(groupId);
    if (group.isErr()) return useCaseProblem(c, group.error);
    const refused = refuseGroup(c, c.get("principal"), group.value, groupId, "see");
    if (refused || group.value === undefined) return refused ?? useCaseProblem(c, notFound(groupId));
    const view = await viewOf(group.value);
    if (view.isErr()) return useCaseProblem(c, view.error);
    return c.json(view.value, 200);
  });

  return app;
}

function notFound(groupId: string) {
  return { type: "not_found", code: "group_not_found", message: `no group ${groupId}` } as const;
}
