import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import type { Group } from "../group/group.js";
import type { ReadinessOf } from "../group/member-readiness.js";
import type { PersonId } from "../person/ids.js";
import { createPerson, NOT_READY, type Person, personReadiness } from "../person/person.js";
import type { VersionedChange } from "../ports/storage.js";
import { notFound, type UseCaseDeps, type UseCaseError } from "./deps.js";

/** Loads a person or fails with `person_not_found`. */
export function loadPerson(deps: UseCaseDeps, personId: PersonId): ResultAsync<Person, UseCaseError> {
  return deps.people
    .getPerson(personId)
    .andThen((p) => (p ? okAsync(p) : errAsync<Person, UseCaseError>(notFound("person", personId))));
}

/**
 * The person behind a new membership: nothing to store when they exist already (they keep
 * their Stripe objects and readiness), otherwise a new person to store in the same
 * changeset as the group, so a member is never without their person.
 */
export function personToJoin(
  deps: UseCaseDeps,
  person: { readonly id: PersonId; readonly displayName: string },
): ResultAsync<readonly VersionedChange<Person>[], UseCaseError> {
  return deps.people.getPerson(person.id).andThen((stored) => {
    if (stored) return okAsync([]);
    const created = createPerson({ ...person, createdAt: deps.clock.now() });
    if (created.isErr()) return errAsync(created.error);
    return okAsync([{ state: created.value, expectedVersion: undefined }]);
  });
}

/**
 * What each member of `group` is ready for, read from the people they are in one query.
 * Someone with no person (not possible once stored: members reference people) is not ready.
 */
export function readinessOfMembers(deps: UseCaseDeps, group: Group): ResultAsync<ReadinessOf, UseCaseError> {
  return deps.people.getPeople(group.members.map((m) => m.id)).map((people) => {
    const byId = new Map(people.map((p) => [p.id, personReadiness(p)]));
    return (memberId: PersonId) => byId.get(memberId) ?? NOT_READY;
  });
}
