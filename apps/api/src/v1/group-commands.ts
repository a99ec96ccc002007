import { type Group, type GroupActor, type UseCaseDeps, type UseCaseError, useCases } from "@susu/domain";
import type { Context } from "hono";
import type { ResultAsync } from "neverthrow";
import { problem, useCaseProblem } from "../problem.js";
import type { GroupView } from "../views.js";
import { GROUP_ADMIN_ONLY_DETAIL, groupActorOf, NOT_GROUP_ADMIN_DETAIL, refuseGroup } from "./authz.js";
import type { V1Env } from "./context.js";
import { problemExamples } from "./schemas.js";

/**
 * The 403s of a group admin's command (on the group, its members or its rounds), with an
 * example each: a member who is not one of its admins `not_group_admin`, a service token
 * (which sees every group) `admin_only`, as for money on a held payment; `extra`: the
 * command's own.
 */
export function groupAdminForbidden(extra: Readonly<Record<string, string>> = {}) {
  return problemExamples(403, "Allowed to see, not to do.", {
    not_group_admin: NOT_GROUP_ADMIN_DETAIL,
    admin_only: GROUP_ADMIN_ONLY_DETAIL,
    ...extra,
  });
}

/**
 * The shape of every admin command on a group: load it, refuse who may not (404 / 403, as
 * authz decides), run the use case as the caller's {@link groupActorOf}, answer the group's
 * view. Each command loads the group again, so one that lost a race is safe to run again.
 */
export async function adminGroupCommand(
  c: Context<V1Env>,
  deps: UseCaseDeps,
  viewOf: (group: Group) => ResultAsync<GroupView, UseCaseError>,
  groupId: string,
  command: (actor: GroupActor) => ResultAsync<Group, UseCaseError>,
): Promise<Response> {
  const principal = c.get("principal");
  const group = await deps.groups.getGroup(groupId);
  if (group.isErr()) return useCaseProblem(c, group.error);
  const refused = refuseGroup(c, principal, group.value, groupId, "admin");
  if (refused !== undefined) return refused;
  if (group.value === undefined) return problem(c, 404, "group_not_found", `no group ${groupId}`);
  const actor = groupActorOf(principal, group.value);
  const changed = await useCases.retryOnConflict(() => command(actor)).andThen(viewOf);
  if (changed.isErr()) return useCaseProblem(c, changed.error);
  return c.json(changed.value, 200);
}
