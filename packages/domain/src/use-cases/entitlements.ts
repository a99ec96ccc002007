import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import {
  type Entitlements,
  entitlementsOf,
  mayOpenAnotherGroup,
  UNRESTRICTED_ENTITLEMENTS,
} from "../membership/entitlements.js";
import { membershipError } from "../membership/membership.errors.js";
import { grantsEntitlements } from "../membership/subscription.js";
import type { PersonId } from "../person/ids.js";
import type { UseCaseDeps, UseCaseError } from "./deps.js";

/** The deployment's default for people without a membership that grants more. */
function defaultOf(deps: UseCaseDeps): Entitlements {
  return deps.defaultEntitlements ?? UNRESTRICTED_ENTITLEMENTS;
}

/** Whether the default already allows everything (then no membership can add to it). */
function unrestricted(e: Entitlements): boolean {
  return e.createGroups && e.sellBookings && e.maxOpenGroups === null;
}

/**
 * What a person may do: the deployment's default, widened by the plan of every membership
 * of theirs that grants (trialing, active, past due while Stripe retries).
 */
export function entitlementsOfPerson(
  deps: UseCaseDeps,
  personId: PersonId,
): ResultAsync<Entitlements, UseCaseError> {
  const fallback = defaultOf(deps);
  if (unrestricted(fallback)) return okAsync(fallback);
  return deps.subscriptions.listSubscriptionsOfPerson(personId).andThen((held) => {
    const granting = held.filter((s) => grantsEntitlements(s.status));
    if (granting.length === 0) return okAsync(fallback);
    const planIds = [...new Set(granting.map((s) => s.price.planId))];
    return planIds
      .reduce<ResultAsync<Entitlements[], UseCaseError>>(
        (acc, planId) =>
          acc.andThen((list) =>
            deps.plans.getPlan(planId).map((p) => (p ? [...list, p.entitlements] : list)),
          ),
        okAsync([]),
      )
      .map((grants) => entitlementsOf(fallback, grants));
  });
}

/** What a use case asks a person's entitlements for. */
export type EntitledAction = "create_group" | "join_group" | "sell_bookings";

/**
 * Refuses (`not_entitled`) what the person's entitlements do not allow: creating a group,
 * being in one more open group (forming, active or paused), selling bookings. Only new
 * obligations are checked: what a person already takes part in (a running round, a held
 * booking already paid) never asks again, so a lapsed membership breaks none of it.
 */
export function requireEntitled(
  deps: UseCaseDeps,
  personId: PersonId,
  action: EntitledAction,
): ResultAsync<void, UseCaseError> {
  if (unrestricted(defaultOf(deps))) return okAsync(undefined);
  return entitlementsOfPerson(deps, personId).andThen((e) => {
    if (action === "sell_bookings")
      return e.sellBookings
        ? okAsync(undefined)
        : errAsync(
            membershipError(
              "not_entitled",
              `person ${personId}'s membership does not include selling bookings`,
            ),
          );
    if (action === "create_group" && !e.createGroups)
      return errAsync(
        membershipError("not_entitled", `person ${personId}'s membership does not include creating groups`),
      );
    if (e.maxOpenGroups === null) return okAsync(undefined);
    const limit = e.maxOpenGroups;
    return deps.groups.listGroupsOfPerson(personId).andThen((groups) => {
      const open = groups.filter(
        (g) => g.status === "forming" || g.status === "active" || g.status === "paused",
      );
      return mayOpenAnotherGroup(e, open.length)
        ? okAsync(undefined)
        : errAsync(
            membershipError(
              "not_entitled",
              `person ${personId} is in ${open.length} open groups; their membership allows ${limit}`,
            ),
          );
    });
  });
}
