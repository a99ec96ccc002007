import { createRoute, z } from "@hono/zod-openapi";
import {
  CADENCES,
  CURRENCY_CODES,
  type CurrencyCode,
  DAY_MS,
  GROUP_START_MAX_AHEAD_MS,
  type Group,
  type GroupActor,
  PAYOUT_ORDER_METHODS,
  type UseCaseError,
  useCases,
} from "@susu/domain";
import type { Context } from "hono";
import type { ResultAsync } from "neverthrow";
import { NUL_FREE } from "../input.js";
import { useCaseProblem } from "../problem.js";
import { groupView, groupViewOf } from "../views.js";
import { refuseGroup, refusePersonOnly } from "./authz.js";
import type { V1Deps, V1Env } from "./context.js";
import { v1Router } from "./context.js";
import { adminGroupCommand, groupAdminForbidden } from "./group-commands.js";
import { PageQuerySchema, pageOf, pageSchema } from "./pagination.js";
import {
  commonResponses,
  conflictResponse,
  DisplayNameSchema,
  forbiddenResponse,
  GroupIdParam,
  json,
  notFoundResponse,
  postResponses,
  unprocessableResponse,
} from "./schemas.js";

// The pattern every v1 resource follows: a route described with createRoute (its schemas
// make the OpenAPI document and validate the input), the principal from the token, one
// authorisation call from authz.ts, one use case, and useCaseProblem for its errors.

const AdminDecisionSchema = z
  .object({
    by: z.string().openapi({ description: "A member id, or `operator:<id>` for a platform operator" }),
    at: z.string().openapi({ example: "2030-01-10T09:00:00.000Z" }),
    reason: z.string(),
  })
  .openapi("AdminDecision");

/** A group as every group route answers it. */
export const GroupViewSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    status: z.enum(["forming", "active", "paused", "completed", "closed"]),
    pausedReason: z.string().nullable(),
    adminPause: AdminDecisionSchema.nullable().openapi({
      description: "Set when an admin paused the group (not a blocked payout); only an admin resumes it",
    }),
    closure: AdminDecisionSchema.nullable().openapi({ description: "Who closed the group, when and why" }),
    contribution: z.object({ amountMinor: z.number().int(), currency: z.string(), text: z.string() }),
    cadence: z.string(),
    startsAt: z.string().nullable(),
    timeZone: z.string().openapi({
      description:
        "The IANA time zone the group's schedule is kept in: rounds open on the start's local day (monthly, clamped to the month's last day) and at its local time, across daylight saving",
      example: "Australia/Sydney",
    }),
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

/** When the first round opens, as the domain bounds it (`checkGroupStart`). */
const STARTS_AT_DESCRIPTION = `When the group's first round opens (an ISO 8601 instant with a zone): from now to ${GROUP_START_MAX_AHEAD_MS / DAY_MS} days ahead (a year, the same date next year included); in the past or later is 422 \`invalid_group\`, nothing stored`;

/**
 * The documented example of `startsAt`: two weeks after this process started, 09:00 UTC. A fixed
 * date would fall out of the year a start may be ahead (or into the past) as time goes on, and a
 * client copying the example would get 422.
 */
const EXAMPLE_STARTS_AT = new Date(
  Math.floor((Date.now() + 14 * DAY_MS) / DAY_MS) * DAY_MS + 9 * 3_600_000,
).toISOString();

/** An IANA time zone name; whether the runtime knows it is the domain's check (`invalid_time_zone`). */
const TimeZoneSchema = z.string().max(64).refine(NUL_FREE, "no NUL characters");

const CreateGroupSchema = z
  .object({
    name: DisplayNameSchema.openapi({ example: "Friday savers" }),
    currency: z.enum(CURRENCY_CODES as [CurrencyCode, ...CurrencyCode[]]).openapi({ example: "AUD" }),
    contributionMinor: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).openapi({ example: 10000 }),
    cadence: z.enum(CADENCES as [(typeof CADENCES)[number], ...(typeof CADENCES)[number][]]),
    startsAt: z.iso.datetime({ offset: true }).openapi({
      description: STARTS_AT_DESCRIPTION,
      example: EXAMPLE_STARTS_AT,
    }),
    timeZone: TimeZoneSchema.optional().openapi({
      description:
        "The IANA time zone of the group's schedule (rounds open on the start's local day and time there). Default: the platform's (`SUSU_DEFAULT_TIME_ZONE`, Australia/Sydney unless set). An unknown zone: 422 `invalid_time_zone`",
      example: "Australia/Sydney",
    }),
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
    ...forbiddenResponse(["person_only"]),
    ...unprocessableResponse([
      "invalid_group",
      "invalid_time_zone",
      "currency_not_supported",
      "amount_below_minimum",
      "amount_too_large",
      "amount_invalid_step",
    ]),
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
  },
});

const UpdateGroupSchema = z
  .strictObject({
    name: DisplayNameSchema.optional().openapi({ example: "Saturday savers" }),
    currency: z.enum(CURRENCY_CODES as [CurrencyCode, ...CurrencyCode[]]).optional(),
    contributionMinor: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
    cadence: z.enum(CADENCES as [(typeof CADENCES)[number], ...(typeof CADENCES)[number][]]).optional(),
    startsAt: z.iso.datetime({ offset: true }).optional().openapi({ description: STARTS_AT_DESCRIPTION }),
    timeZone: TimeZoneSchema.optional().openapi({
      description: "An IANA time zone (422 `invalid_time_zone` if unknown)",
    }),
    payoutOrderMethod: z
      .enum(
        PAYOUT_ORDER_METHODS as [
          (typeof PAYOUT_ORDER_METHODS)[number],
          ...(typeof PAYOUT_ORDER_METHODS)[number][],
        ],
      )
      .optional(),
    rotationsPlanned: z.number().int().min(1).max(12).optional(),
  })
  .refine((body) => Object.keys(body).length > 0, "name at least one setting to change")
  .openapi("UpdateGroup", { example: { contributionMinor: 15000, cadence: "fortnightly" } });

/** Why an admin pauses or closes a group: recorded on it and shown to its members. */
const ReasonSchema = z.string().trim().min(1).max(500).refine(NUL_FREE, "no NUL characters");

const PauseGroupSchema = z
  .object({ reason: ReasonSchema.openapi({ example: "waiting for Ben's new bank details" }) })
  .openapi("PauseGroup");

const CloseGroupSchema = z
  .object({ reason: ReasonSchema.optional().openapi({ example: "we are done saving" }) })
  .openapi("CloseGroup");

const adminResponses = {
  ...groupAdminForbidden(),
  ...notFoundResponse(["group_not_found"]),
};

const updateGroupRoute = createRoute({
  method: "patch",
  path: "/groups/{groupId}",
  tags: ["groups"],
  summary: "Change a group's settings before it starts (group admins, platform admins)",
  description:
    "Only while the group is `forming` (409 `group_not_forming` after). Absent fields stay as they are; a new payout order method re-derives the order (`seeded_draw`: draw it with PUT /payout-order before activating).",
  security: [{ bearer: [] }],
  request: {
    params: GroupIdParam,
    body: { content: { "application/json": { schema: UpdateGroupSchema } }, required: true },
  },
  responses: {
    200: json(GroupViewSchema, "The group with its new settings"),
    ...commonResponses,
    ...adminResponses,
    ...conflictResponse(["group_not_forming", "version_conflict"]),
    ...unprocessableResponse([
      "invalid_group",
      "invalid_time_zone",
      "currency_not_supported",
      "amount_below_minimum",
      "amount_too_large",
      "amount_invalid_step",
    ]),
  },
});

const pauseGroupRoute = createRoute({
  method: "post",
  path: "/groups/{groupId}/pause",
  tags: ["groups"],
  summary: "Pause a started group: no round opens until an admin resumes it (group admins, platform admins)",
  description:
    "A round in progress finishes (its debits are with the bank). The group records who paused it, when and why (`adminPause`); a pause a blocked payout caused lifts itself when the payout goes through, an admin's does not. 409 `group_not_active` before the group starts, once it ended, or when an admin already paused it.",
  security: [{ bearer: [] }],
  request: {
    params: GroupIdParam,
    body: { content: { "application/json": { schema: PauseGroupSchema } }, required: true },
  },
  responses: {
    200: json(GroupViewSchema, "The group, paused"),
    ...postResponses,
    ...adminResponses,
    ...conflictResponse(["group_not_active", "version_conflict"]),
  },
});

const resumeGroupRoute = createRoute({
  method: "post",
  path: "/groups/{groupId}/resume",
  tags: ["groups"],
  summary: "Resume a paused group; a blocked payout is tried again (group admins, platform admins)",
  security: [{ bearer: [] }],
  request: { params: GroupIdParam },
  responses: {
    200: json(GroupViewSchema, "The group, active again (or still paused if the payout blocked again)"),
    ...postResponses,
    ...adminResponses,
    ...conflictResponse(["group_not_paused", "version_conflict"]),
  },
});

const closeGroupRoute = createRoute({
  method: "post",
  path: "/groups/{groupId}/close",
  tags: ["groups"],
  summary:
    "Close a group for good, between rounds and when no member is owed their pot (group admins, platform admins)",
  description:
    "The group becomes `closed`: no round opens again, nobody joins, and it records who closed it and why (`closure`). A group that ran every planned rotation is `completed` instead. 409 `round_in_progress` while a round collects or pays out. 409 `rotation_in_progress` once a round of the rotation in progress has paid out and members who paid into it have not yet received their pot (the detail names them): closing would keep their money with the members paid before them, so a started group closes before the first payout of a rotation (a cancelled round refunds what it collected) or once the rotation's last round has paid everyone; pause it meanwhile. 409 `group_not_active` once it is completed or closed.",
  security: [{ bearer: [] }],
  request: {
    params: GroupIdParam,
    body: { content: { "application/json": { schema: CloseGroupSchema } }, required: false },
  },
  responses: {
    200: json(GroupViewSchema, "The group, closed"),
    ...postResponses,
    ...adminResponses,
    ...conflictResponse([
      "round_in_progress",
      "rotation_in_progress",
      "group_not_active",
      "version_conflict",
    ]),
  },
});

/** `/v1/groups`: create a group, list mine, read one, change its settings, pause, resume and close it. */
export function groupsV1(deps: V1Deps) {
  const app = v1Router();
  const viewOf = groupViewOf(deps.useCases);

  app.openapi(createGroupRoute, async (c) => {
    const principal = c.get("principal");
    const notPerson = refusePersonOnly(c, principal);
    if (notPerson !== undefined) return notPerson;
    const { rotationsPlanned, displayName, startsAt, timeZone, ...rest } = c.req.valid("json");
    // The creator's readiness comes with the group (their person was read for the commit).
    const created = await useCases
      .createGroupWithReadiness(deps.useCases, {
        ...rest,
        startsAt: Date.parse(startsAt),
        ...(rotationsPlanned !== undefined ? { rotationsPlanned } : {}),
        ...(timeZone !== undefined ? { timeZone } : {}),
        creator: { id: principal.subject, displayName },
      })
      .map(({ group, readinessOf }) => groupView(group, readinessOf));
    if (created.isErr()) return useCaseProblem(c, created.error);
    return c.json(created.value, 201, { location: `/v1/groups/${encodeURIComponent(created.value.id)}` });
  });

  app.openapi(listGroupsRoute, async (c) => {
    const principal = c.get("principal");
    const query = c.req.valid("query");
    const groups = await deps.useCases.groups.listGroupsOfPerson(principal.subject);
    if (groups.isErr()) return useCaseProblem(c, groups.error);
    const ordered = [...groups.value].sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
    const page = pageOf(ordered, (g) => g.id, query, "/v1/groups");
    // The page's members' people in one read (was one read per group, one after the other).
    const readiness = await useCases.readinessOfGroups(deps.useCases, page.data);
    if (readiness.isErr()) return useCaseProblem(c, readiness.error);
    return c.json({ ...page, data: page.data.map((g) => groupView(g, readiness.value)) }, 200);
  });

  app.openapi(getGroupRoute, async (c) => {
    const { groupId } = c.req.valid("param");
    // The group and its members' people in one read (the API's most frequent request).
    const found = await useCases.groupWithReadiness(deps.useCases, groupId);
    if (found.isErr()) return useCaseProblem(c, found.error);
    const refused = refuseGroup(c, c.get("principal"), found.value?.group, groupId, "see");
    if (refused || found.value === undefined) return refused ?? useCaseProblem(c, notFound(groupId));
    return c.json(groupView(found.value.group, found.value.readinessOf), 200);
  });

  app.openapi(updateGroupRoute, async (c) => {
    const { groupId } = c.req.valid("param");
    const { startsAt, ...rest } = c.req.valid("json");
    const settings = {
      ...definedOnly(rest),
      ...(startsAt !== undefined ? { startsAt: Date.parse(startsAt) } : {}),
    };
    return adminCommand(c, groupId, (actor) =>
      useCases.updateGroupSettings(deps.useCases, groupId, actor, settings),
    );
  });

  app.openapi(pauseGroupRoute, async (c) => {
    const { groupId } = c.req.valid("param");
    const { reason } = c.req.valid("json");
    return adminCommand(c, groupId, (actor) => useCases.pauseGroup(deps.useCases, groupId, actor, reason));
  });

  app.openapi(resumeGroupRoute, async (c) => {
    const { groupId } = c.req.valid("param");
    return adminCommand(c, groupId, (actor) => useCases.resumeGroup(deps.useCases, groupId, actor));
  });

  app.openapi(closeGroupRoute, async (c) => {
    const { groupId } = c.req.valid("param");
    // The body is optional: a close without one records a generic reason.
    const body = (c.req.valid("json") as { reason?: string } | undefined) ?? {};
    const reason = body.reason ?? "closed by an admin";
    return adminCommand(c, groupId, (actor) => useCases.closeGroup(deps.useCases, groupId, actor, reason));
  });

  const adminCommand = (
    c: Context<V1Env>,
    groupId: string,
    command: (actor: GroupActor) => ResultAsync<Group, UseCaseError>,
  ) => adminGroupCommand(c, deps.useCases, viewOf, groupId, command);

  return app;
}

/** The fields of a parsed PATCH body that were sent (zod leaves absent ones undefined). */
function definedOnly<T extends Record<string, unknown>>(
  body: T,
): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}

function notFound(groupId: string) {
  return { type: "not_found", code: "group_not_found", message: `no group ${groupId}` } as const;
}
