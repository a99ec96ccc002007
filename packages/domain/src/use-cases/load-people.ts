import { errAsync, ok, okAsync, type Result, ResultAsync } from "neverthrow";
import type { Group } from "../group/group.js";
import type { GroupId } from "../group/ids.js";
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
 * The person behind a new membership, given what was read for their id (`stored`): that
 * person, nothing to store (they keep their Stripe objects and readiness); or a new one made
 * at `now`, to store in the same changeset as the group, so a member is never without their
 * person.
 */
export function joiningAs(
  stored: Person | undefined,
  person: { readonly id: PersonId; readonly displayName: string },
  now: number,
): Result<{ readonly person: Person; readonly changes: readonly VersionedChange<Person>[] }, UseCaseError> {
  if (stored) return ok({ person: stored, changes: [] });
  return createPerson({ ...person, createdAt: now }).map((created) => ({
    person: created,
    changes: [{ state: created, expectedVersion: undefined }],
  }));
}

/**
 * What each member of `group` is ready for, read from the people they are in one query.
 * Someone with no person (not possible once stored: members reference people) is not ready.
 */
export function readinessOfMembers(deps: UseCaseDeps, group: Group): ResultAsync<ReadinessOf, UseCaseError> {
  return deps.people.getPeople(group.members.map((m) => m.id)).map(readinessOfPeople);
}

/**
 * The people one read asks for at most when reading several groups' members (the
 * PostgreSQL store refuses more than 1,000 ids in one read).
 */
const PEOPLE_PER_READ = 1_000;

/**
 * {@link readinessOfMembers} for several groups: their members' people read together, a
 * read per {@link PEOPLE_PER_READ} people (one for a page of groups), the reads side by side,
 * instead of a read per group one after the other.
 */
export function readinessOfGroups(
  deps: UseCaseDeps,
  groups: readonly Group[],
): ResultAsync<ReadinessOf, UseCaseError> {
  const ids = [...new Set(groups.flatMap((g) => g.members.map((m) => m.id)))];
  const chunks: PersonId[][] = [];
  for (let at = 0; at < ids.length; at += PEOPLE_PER_READ) chunks.push(ids.slice(at, at + PEOPLE_PER_READ));
  return ResultAsync.combine(chunks.map((chunk) => deps.people.getPeople(chunk))).map((read) =>
    readinessOfPeople(read.flat()),
  );
}

/** What each of `people` is ready for; anyone not among them is not ready. */
export function readinessOfPeople(people: readonly Person[]): ReadinessOf {
  const byId = new Map(people.map((p) => [p.id, personReadiness(p)]));
  return (memberId: PersonId) => byId.get(memberId) ?? NOT_READY;
}

/**
 * A group with what each member is ready for, read together (`getGroupWithPeople`: one
 * statement in PostgreSQL), or undefined when there is no such group. For reads that show
 * a group; the readiness is the same {@link readinessOfMembers} would give.
 */
export function groupWithReadiness(
  deps: UseCaseDeps,
  groupId: GroupId,
): ResultAsync<{ readonly group: Group; readonly readinessOf: ReadinessOf } | undefined, UseCaseError> {
  return deps.groups
    .getGroupWithPeople(groupId)
    .map((found) =>
      found === undefined ? undefined : { group: found.group, readinessOf: readinessOfPeople(found.people) },
    );
}
