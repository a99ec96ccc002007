import { createRoute, z } from "@hono/zod-openapi";
import { AUDIT_SUBJECTS_MAX } from "@susu/domain";
import { problem, useCaseProblem } from "../problem.js";
import { refuseGroup } from "./authz.js";
import type { V1Deps } from "./context.js";
import { v1Router } from "./context.js";
import { PageQuerySchema, pageSchema } from "./pagination.js";
import { timelineLine } from "./rounds.js";
import { commonResponses, forbiddenResponse, GroupIdParam, json, notFoundResponse } from "./schemas.js";

// The audit trail under /v1: every line the group and its rounds wrote (who did what, and
// whether it applied or was ignored and why), oldest first, for the group's admins and
// platform admins.

const AuditLineSchema = z
  .object({
    id: z.string().openapi({ example: "audit_42", description: "Stable; a page cursor." }),
    aggregate: z.enum(["group", "round", "person"]),
    aggregateId: z.string().openapi({ example: "round_1" }),
    at: z.string().openapi({ example: "2030-01-03T09:00:00.000Z" }),
    action: z.string().openapi({ example: "open" }),
    outcome: z.enum(["applied", "ignored"]),
    ignoredCode: z.string().nullable(),
    detail: z.string().nullable(),
    actor: z.string().openapi({ example: "ana" }),
  })
  .openapi("AuditLine");

const groupAuditRoute = createRoute({
  method: "get",
  path: "/groups/{groupId}/audit",
  tags: ["audit"],
  summary: "The audit trail of a group and its rounds, oldest first (group admins, platform operators)",
  security: [{ bearer: [] }],
  request: { params: GroupIdParam, query: PageQuerySchema },
  responses: {
    200: json(pageSchema(AuditLineSchema, "AuditTrail"), "A page of audit lines"),
    ...commonResponses,
    ...forbiddenResponse(["not_group_admin"]),
    ...notFoundResponse(["group_not_found"]),
  },
});

/** `/v1/groups/{groupId}/audit`: the group's audit trail. */
export function auditV1(deps: V1Deps) {
  const app = v1Router();
  const uc = deps.useCases;

  app.openapi(groupAuditRoute, async (c) => {
    const { groupId } = c.req.valid("param");
    const query = c.req.valid("query");
    const group = await uc.groups.getGroup(groupId);
    if (group.isErr()) return useCaseProblem(c, group.error);
    const refused = refuseGroup(c, c.get("principal"), group.value, groupId, "audit");
    if (refused || group.value === undefined)
      return refused ?? problem(c, 404, "group_not_found", `no group ${groupId}`);
    const rounds = await uc.rounds.listRoundsOfGroup(groupId);
    if (rounds.isErr()) return useCaseProblem(c, rounds.error);
    // A group has one round per member per rotation: far fewer than the port's bound.
    const subjects = [
      { aggregate: "group" as const, aggregateId: groupId },
      ...rounds.value.map((r) => ({ aggregate: "round" as const, aggregateId: r.id })),
    ].slice(0, AUDIT_SUBJECTS_MAX);
    const lines = await uc.audit.listAudit({
      subjects,
      limit: query.limit + 1,
      ...(query.starting_after !== undefined ? { startingAfter: query.starting_after } : {}),
    });
    if (lines.isErr()) return useCaseProblem(c, lines.error);
    return c.json(
      {
        object: "list" as const,
        url: `/v1/groups/${groupId}/audit`,
        data: lines.value.slice(0, query.limit).map((l) => ({
          ...timelineLine(l),
          aggregate: l.aggregate,
          aggregateId: l.aggregateId,
        })),
        has_more: lines.value.length > query.limit,
      },
      200,
    );
  });

  return app;
}
