import { createRoute, z } from "@hono/zod-openapi";
import {
  type Group,
  type GroupActor,
  type Member,
  membersNotReady,
  type ReadinessOf,
  type UseCaseError,
  useCases,
} from "@susu/domain";
import type { Context } from "hono";
import type { ResultAsync } from "neverthrow";
import { problem, useCaseProblem } from "../problem.js";
import { groupViewOf } from "../views.js";
import { groupActorOf, membershipOf, refuseGroup, refusePersonOnly, refuseUnlessMember } from "./authz.js";
import type { V1Deps, V1Env } from "./context.js";
import { v1Router } from "./context.js";
import { adminGroupCommand, groupAdminForbidden } from "./group-commands.js";
import { GroupViewSchema } from "./groups.js";
import { PageQuerySchema, pageOf, pageSchema } from "./pagination.js";
import {
  commonResponses,
  conflictResponse,
  DisplayNameSchema,
  forbiddenResponse,
  GroupIdParam,
  json,
  notFoundResponse,
  PersonIdSchema,
  postResponses,
  unprocessableResponse,
} from "./schemas.js";

// Members of a group: joining (anyone holding the group's id, while it takes members),
// leaving and removal, each member's readiness, the payout order, swaps and activation.

const MemberViewSchema = z
  .object({
    id: z.string().openapi({ description: "The member's person id (the token subject)", example: "ana" }),
    displayName: z.string(),
    role: z.enum(["admin", "member"]),
    status: z.enum(["active", "pending", "leaving", "left"]),
    joinedAt: z.string().openapi({ example: "2030-01-01T09:00:00.000Z" }),
    readiness: z.object({ mandateActive: z.boolean(), payoutsEnabled: z.boolean() }),
    lacks: z.array(z.enum(["mandate", "payout_account"])).openapi({
      description:
        "What the member still needs before activation or the next round (empty when ready, or not in the rotation)",
    }),
  })
  .openapi("Member");

const MemberParams = GroupIdParam.extend({
  memberId: PersonIdSchema.openapi({ param: { name: "memberId", in: "path" }, example: "ben" }),
});

const JoinSchema = z
  .object({ displayName: DisplayNameSchema.openapi({ example: "Ben" }) })
  .openapi("JoinGroup");

const PayoutOrderSchema = z
  .union([
    z.strictObject({ memberIds: z.array(PersonIdSchema).min(1).max(50) }),
    z.strictObject({ seed: z.string().min(8).max(128) }),
    z.strictObject({ method: z.enum(["join_order", "reverse_join_order"]) }),
  ])
  .openapi("PayoutOrderChange", {
    description:
      "Exactly one of: `memberIds` (a fixed order listing every member once), `seed` (a draw anyone can re-derive from the published seed), `method` (an order derived from join order).",
    example: { memberIds: ["cy", "ana", "ben"] },
  });

const ProposeSwapSchema = z
  .object({ counterparty: PersonIdSchema.openapi({ example: "cy" }) })
  .openapi("ProposeSwap");

const AcceptSwapSchema = z
  .object({ proposedBy: PersonIdSchema.openapi({ example: "ben" }) })
  .openapi("AcceptSwap");

const groupNotFound = notFoundResponse(["group_not_found"]);

const joinRoute = createRoute({
  method: "post",
  path: "/groups/{groupId}/members",
  tags: ["members"],
  summary: "Join a group as the caller",
  description:
    "The group's id is the invitation: anyone holding it may join while the group takes members (forming, active or paused — mid-rotation they join from the next rotation, `pending`). The caller joins as themselves (the token's person); a completed or closed group takes nobody (409 `group_not_active`).",
  security: [{ bearer: [] }],
  request: {
    params: GroupIdParam,
    body: { content: { "application/json": { schema: JoinSchema } }, required: true },
  },
  responses: {
    201: json(MemberViewSchema, "The new membership"),
    ...postResponses,
    ...forbiddenResponse(["person_only"]),
    ...groupNotFound,
    ...conflictResponse(["member_exists", "too_many_members", "group_not_active", "version_conflict"]),
    ...unprocessableResponse(["invalid_person"]),
  },
});

const listMembersRoute = createRoute({
  method: "get",
  path: "/groups/{groupId}/members",
  tags: ["members"],
  summary: "A group's members in join order, with each one's readiness (members, platform admins)",
  security: [{ bearer: [] }],
  request: {
    params: GroupIdParam,
    query: PageQuerySchema.extend({
      starting_after: PersonIdSchema.optional().openapi({
        description: "The id of the last member of the previous page",
      }),
    }),
  },
  responses: {
    200: json(pageSchema(MemberViewSchema, "MemberList"), "A page of members"),
    ...commonResponses,
    ...groupNotFound,
  },
});

const getMemberRoute = createRoute({
  method: "get",
  path: "/groups/{groupId}/members/{memberId}",
  tags: ["members"],
  summary: "One member of a group, with their readiness (members, platform admins)",
  security: [{ bearer: [] }],
  request: { params: MemberParams },
  responses: {
    200: json(MemberViewSchema, "The member"),
    ...commonResponses,
    ...notFoundResponse(["group_not_found", "member_not_found"]),
  },
});

const leaveRoute = createRoute({
  method: "delete",
  path: "/groups/{groupId}/members/{memberId}",
  tags: ["members"],
  summary: "Leave a group (yourself), or remove a member (group admins, platform admins: before it starts)",
  description:
    "A member leaves for themselves only when none of their money is in the group: not while they owe contributions for a pot they received this rotation (409 `member_owes_contributions`), nor while they have paid into this rotation — or are paying into the round in progress — and not yet received its pot (409 `member_awaiting_payout`; they can leave once they have), nor while they are the current round's recipient (409 `member_is_current_recipient`). So a member of a started group leaves before any round of the rotation has collected, or once the rotation they paid into has paid them; members who joined mid-rotation (`pending`) may leave at any time. A member an older version let leave during a round is `leaving` until it ends (asking again changes nothing). A group that fewer than two members would take part in completes. Admins may remove another member only while the group is forming, and never another admin (403 `member_removal_not_allowed`): once money moves, members leave for themselves.",
  security: [{ bearer: [] }],
  request: { params: MemberParams },
  responses: {
    200: json(MemberViewSchema, "The membership, `leaving` or `left`"),
    ...commonResponses,
    ...groupAdminForbidden({
      member_removal_not_allowed:
        "members can only be removed before the group starts; after that they leave for themselves",
    }),
    ...notFoundResponse(["group_not_found", "member_not_found"]),
    ...conflictResponse([
      "member_owes_contributions",
      "member_awaiting_payout",
      "member_is_current_recipient",
      "version_conflict",
    ]),
  },
});

const payoutOrderRoute = createRoute({
  method: "put",
  path: "/groups/{groupId}/payout-order",
  tags: ["members"],
  summary: "Set the payout order before the group starts (group admins, platform admins)",
  security: [{ bearer: [] }],
  request: {
    params: GroupIdParam,
    body: { content: { "application/json": { schema: PayoutOrderSchema } }, required: true },
  },
  responses: {
    200: json(GroupViewSchema, "The group with its payout order"),
    ...commonResponses,
    ...groupAdminForbidden(),
    ...groupNotFound,
    ...conflictResponse(["group_not_forming", "version_conflict"]),
    ...unprocessableResponse(["invalid_payout_order"]),
  },
});

const proposeSwapRoute = createRoute({
  method: "post",
  path: "/groups/{groupId}/swaps",
  tags: ["members"],
  summary: "Propose to swap payout positions with another member (members, for themselves)",
  security: [{ bearer: [] }],
  request: {
    params: GroupIdParam,
    body: { content: { "application/json": { schema: ProposeSwapSchema } }, required: true },
  },
  responses: {
    201: json(GroupViewSchema, "The group, with the proposal in `pendingSwaps`"),
    ...postResponses,
    ...forbiddenResponse(["not_a_member"]),
    ...notFoundResponse(["group_not_found", "member_not_found"]),
    ...conflictResponse(["swap_not_allowed", "group_not_active", "version_conflict"]),
  },
});

const acceptSwapRoute = createRoute({
  method: "post",
  path: "/groups/{groupId}/swaps/accept",
  tags: ["members"],
  summary: "Accept a swap proposed to you: the two positions are exchanged (members, for themselves)",
  security: [{ bearer: [] }],
  request: {
    params: GroupIdParam,
    body: { content: { "application/json": { schema: AcceptSwapSchema } }, required: true },
  },
  responses: {
    200: json(GroupViewSchema, "The group with the new order"),
    ...postResponses,
    ...forbiddenResponse(["not_a_member"]),
    ...notFoundResponse(["group_not_found", "member_not_found", "swap_not_found"]),
    ...conflictResponse(["swap_not_allowed", "version_conflict"]),
  },
});

const activateRoute = createRoute({
  method: "post",
  path: "/groups/{groupId}/activate",
  tags: ["members"],
  summary: "Start the group once everyone is ready (group admins, platform admins)",
  description:
    "Needs at least two members, a complete payout order, and everyone in the rotation ready: 409 `members_not_ready` lists in `notReady` each member and what they lack (`mandate`, `payout_account`).",
  security: [{ bearer: [] }],
  request: { params: GroupIdParam },
  responses: {
    200: json(GroupViewSchema, "The group, active"),
    ...postResponses,
    ...groupAdminForbidden(),
    ...groupNotFound,
    ...conflictResponse(["members_not_ready", "too_few_members", "group_not_forming", "version_conflict"]),
    ...unprocessableResponse(["invalid_payout_order"]),
  },
});

/** A member as clients see it, with what they still lack for the rotation in progress. */
function memberView(member: Member, readinessOf: ReadinessOf, lacksOf: Map<string, string[]>) {
  return {
    id: member.id,
    displayName: member.displayName,
    role: member.role,
    status: member.status,
    joinedAt: new Date(member.joinedAt).toISOString(),
    readiness: readinessOf(member.id),
    lacks: (lacksOf.get(member.id) ?? []) as ("mandate" | "payout_account")[],
  };
}

/** `/v1/groups/{groupId}/members`, `/payout-order`, `/swaps`, `/activate`. */
export function membersV1(deps: V1Deps) {
  const app = v1Router();
  const viewOf = groupViewOf(deps.useCases);

  /** The views of `group`'s members, each with their readiness and what they lack. */
  const memberViewsOf = (group: Group, readinessOf: ReadinessOf) => {
    const lacksOf = new Map(membersNotReady(group, readinessOf).map((m) => [m.memberId, [...m.lacks]]));
    return group.members.map((m) => memberView(m, readinessOf, lacksOf));
  };
  /** {@link memberViewsOf}, the readiness read from the members' people. */
  const membersOf = (group: Group) =>
    useCases.readinessOfMembers(deps.useCases, group).map((readinessOf) => memberViewsOf(group, readinessOf));

  const loadGroup = async (c: Context<V1Env>, groupId: string) => {
    const group = await deps.useCases.groups.getGroup(groupId);
    if (group.isErr()) return { refused: useCaseProblem(c, group.error) } as const;
    return { group: group.value } as const;
  };

  app.openapi(joinRoute, async (c) => {
    const principal = c.get("principal");
    const notPerson = refusePersonOnly(c, principal);
    if (notPerson !== undefined) return notPerson;
    const { groupId } = c.req.valid("param");
    const { displayName } = c.req.valid("json");
    // People join at the same time (an invitation shared in a chat): a lost race is retried.
    // The group with its people and the joining person are read side by side, and the
    // answer's readiness comes from them: no read of the people after the commit.
    const joined = await useCases
      .retryOnConflict(() =>
        useCases.joinGroupWithReadiness(deps.useCases, groupId, { id: principal.subject, displayName }),
      )
      .map(({ group, readinessOf }) => memberViewsOf(group, readinessOf));
    if (joined.isErr()) return useCaseProblem(c, joined.error);
    const member = joined.value.find((m) => m.id === principal.subject);
    if (member === undefined) throw new Error("a member who joined is in the group");
    return c.json(member, 201, {
      location: `/v1/groups/${encodeURIComponent(groupId)}/members/${encodeURIComponent(member.id)}`,
    });
  });

  /**
   * The group's member views for whom its rule lets see the group: the group and its members'
   * people in one read (one statement in PostgreSQL), answered only after the rule.
   */
  const visibleMembers = async (c: Context<V1Env>, groupId: string) => {
    // The rule's refusal, or the 404 of a group that does not exist: the same for both.
    const hidden = (group: Group | undefined) =>
      refuseGroup(c, c.get("principal"), group, groupId, "see") ??
      (group === undefined ? problem(c, 404, "group_not_found", `no group ${groupId}`) : undefined);
    const found = await useCases.groupWithReadiness(deps.useCases, groupId);
    if (found.isErr()) {
      // The group and its people read together failed (a person that does not load, more
      // people than one read takes): the group alone decides who may hear of it, so a caller
      // who may not see it gets the same 404 as for a group that does not exist.
      const group = await deps.useCases.groups.getGroup(groupId);
      return {
        refused: (group.isOk() ? hidden(group.value) : undefined) ?? useCaseProblem(c, found.error),
      } as const;
    }
    const refused = hidden(found.value?.group);
    if (refused !== undefined || found.value === undefined)
      return { refused: refused ?? problem(c, 404, "group_not_found", `no group ${groupId}`) } as const;
    return { members: memberViewsOf(found.value.group, found.value.readinessOf) } as const;
  };

  app.openapi(listMembersRoute, async (c) => {
    const { groupId } = c.req.valid("param");
    const query = c.req.valid("query");
    const found = await visibleMembers(c, groupId);
    if (found.refused) return found.refused;
    return c.json(
      pageOf(found.members, (m) => m.id, query, `/v1/groups/${encodeURIComponent(groupId)}/members`),
      200,
    );
  });

  app.openapi(getMemberRoute, async (c) => {
    const { groupId, memberId } = c.req.valid("param");
    const found = await visibleMembers(c, groupId);
    if (found.refused) return found.refused;
    const member = found.members.find((m) => m.id === memberId);
    if (member === undefined) return problem(c, 404, "member_not_found", `no member ${memberId}`);
    return c.json(member, 200);
  });

  app.openapi(leaveRoute, async (c) => {
    const principal = c.get("principal");
    const { groupId, memberId } = c.req.valid("param");
    const loaded = await loadGroup(c, groupId);
    if (loaded.refused) return loaded.refused;
    const group = loaded.group;
    // Leaving is for yourself; anything else is removal, an admin's command.
    const self = group !== undefined && memberId === principal.subject && membershipOf(principal, group);
    const refused = refuseGroup(c, principal, group, groupId, self ? "see" : "admin");
    if (refused || group === undefined)
      return refused ?? problem(c, 404, "group_not_found", `no group ${groupId}`);
    const changed = useCases.retryOnConflict(() =>
      self
        ? useCases.leaveGroup(deps.useCases, groupId, memberId)
        : useCases.removeMember(deps.useCases, groupId, groupActorOf(principal, group), memberId),
    );
    const members = await changed.andThen(membersOf);
    if (members.isErr()) return useCaseProblem(c, members.error);
    const member = members.value.find((m) => m.id === memberId);
    if (member === undefined) throw new Error("a member who left is still listed");
    return c.json(member, 200);
  });

  const adminCommand = (
    c: Context<V1Env>,
    groupId: string,
    command: (actor: GroupActor) => ResultAsync<Group, UseCaseError>,
  ) => adminGroupCommand(c, deps.useCases, viewOf, groupId, command);

  /** A command a member makes for themselves: 404 for those who may not see the group, 403 for non-members. */
  async function memberCommand(
    c: Context<V1Env>,
    groupId: string,
    command: (memberId: string) => ResultAsync<Group, UseCaseError>,
  ) {
    const principal = c.get("principal");
    const loaded = await loadGroup(c, groupId);
    if (loaded.refused) return loaded.refused;
    const refused = refuseUnlessMember(c, principal, loaded.group, groupId);
    if (refused) return refused;
    return useCases.retryOnConflict(() => command(principal.subject)).andThen(viewOf);
  }

  app.openapi(payoutOrderRoute, async (c) => {
    const { groupId } = c.req.valid("param");
    const order = c.req.valid("json");
    return adminCommand(c, groupId, (actor) =>
      "memberIds" in order
        ? useCases.setPayoutOrder(deps.useCases, groupId, actor, order.memberIds)
        : "seed" in order
          ? useCases.drawPayoutOrder(deps.useCases, groupId, actor, order.seed)
          : useCases.usePayoutOrderMethod(deps.useCases, groupId, actor, order.method),
    );
  });

  app.openapi(proposeSwapRoute, async (c) => {
    const { groupId } = c.req.valid("param");
    const { counterparty } = c.req.valid("json");
    const proposed = await memberCommand(c, groupId, (me) =>
      useCases.proposeSwap(deps.useCases, groupId, me, counterparty),
    );
    if (proposed instanceof Response) return proposed;
    if (proposed.isErr()) return useCaseProblem(c, proposed.error);
    return c.json(proposed.value, 201);
  });

  app.openapi(acceptSwapRoute, async (c) => {
    const { groupId } = c.req.valid("param");
    const { proposedBy } = c.req.valid("json");
    const accepted = await memberCommand(c, groupId, (me) =>
      useCases.acceptSwap(deps.useCases, groupId, me, proposedBy),
    );
    if (accepted instanceof Response) return accepted;
    if (accepted.isErr()) return useCaseProblem(c, accepted.error);
    return c.json(accepted.value, 200);
  });

  app.openapi(activateRoute, async (c) => {
    const { groupId } = c.req.valid("param");
    return adminCommand(c, groupId, (actor) => useCases.activateGroup(deps.useCases, groupId, actor));
  });

  return app;
}
