import { err, errAsync, ok, okAsync, type Result, ResultAsync } from "neverthrow";
import type { Cadence } from "../group/cadence.js";
import * as G from "../group/group.js";
import { actorName, type Group, type GroupActor, type GroupSettings } from "../group/group.js";
import type { GroupId, MemberId } from "../group/ids.js";
import type { ReadinessOf } from "../group/member-readiness.js";
import type { PayoutOrderMethod } from "../group/payout-order.js";
import { type CurrencyCode, checkChargeAmount, money } from "../money/index.js";
import type { Person } from "../person/person.js";
import type { RoundPolicy } from "../policy/round-policy.js";
import type { VersionedChange } from "../ports/storage.js";
import type { Round } from "../round/round.js";
import type { Instant } from "../shared/time.js";
import { notFound, type UseCaseDeps, type UseCaseError } from "./deps.js";
import { requireEntitled } from "./entitlements.js";
import { joiningAs, readinessOfMembers, readinessOfPeople } from "./load-people.js";

/** Loads a group or fails with `group_not_found`. */
export function loadGroup(deps: UseCaseDeps, groupId: GroupId): ResultAsync<Group, UseCaseError> {
  return deps.groups
    .getGroup(groupId)
    .andThen((g) => (g ? okAsync(g) : errAsync<Group, UseCaseError>(notFound("group", groupId))));
}

function currentRound(deps: UseCaseDeps, group: Group): ResultAsync<Round | undefined, UseCaseError> {
  return group.currentRoundId === undefined ? okAsync(undefined) : deps.rounds.getRound(group.currentRoundId);
}

/**
 * Stores a group's new state (optimistic version check) with an audit line, and the new
 * people it brings (a joining person never seen before).
 */
export function storeGroup(
  deps: UseCaseDeps,
  group: Group,
  changed: Group,
  action: string,
  actor: string,
  people: readonly VersionedChange<Person>[] = [],
): ResultAsync<Group, UseCaseError> {
  const groupId = group.id;
  const next = { ...changed, version: group.version + 1 };
  return deps.uow
    .commit({
      people,
      groups: [{ state: next, expectedVersion: group.version }],
      rounds: [],
      outbox: [],
      audit: [
        {
          at: deps.clock.now(),
          aggregate: "group",
          aggregateId: groupId,
          action,
          outcome: "applied",
          actor,
        },
      ],
    })
    .map(() => next);
}

/** Applies a pure change to a group and stores it (optimistic version check) with an audit line. */
function changeGroup(
  deps: UseCaseDeps,
  groupId: GroupId,
  action: string,
  actor: string,
  change: (group: Group, round: Round | undefined) => Result<Group, UseCaseError>,
): ResultAsync<Group, UseCaseError> {
  return loadGroup(deps, groupId).andThen((group) =>
    currentRound(deps, group).andThen((round) => {
      const changed = change(group, round);
      if (changed.isErr()) return errAsync(changed.error);
      return storeGroup(deps, group, changed.value, action, actor);
    }),
  );
}

/** What a client provides to create a group. */
export interface CreateGroupCommand {
  readonly name: string;
  readonly currency: CurrencyCode;
  readonly contributionMinor: number;
  readonly cadence: Cadence;
  readonly startsAt: Instant;
  /** The IANA time zone of the group's schedule (default: the platform's, `deps.defaultTimeZone`). */
  readonly timeZone?: string;
  readonly payoutOrderMethod: PayoutOrderMethod;
  readonly rotationsPlanned?: number;
  readonly policy?: RoundPolicy;
  readonly creator: { readonly id?: MemberId; readonly displayName: string };
}

/**
 * Creates a group; the creator is its admin and first member, and becomes a person if they
 * were not one (in the same transaction). The contribution must be a valid charge in its
 * currency (Stripe's minimum, digits, and step rules), a supported debit method must
 * collect the currency (`currency_not_supported` otherwise), and it starts from now to a
 * year ahead (`checkGroupStart`: `invalid_group` otherwise).
 */
export function createGroup(
  deps: UseCaseDeps,
  command: CreateGroupCommand,
): ResultAsync<Group, UseCaseError> {
  return createGroupWithReadiness(deps, command).map(({ group }) => group);
}

/**
 * {@link createGroup}, with what the new group's one member, its creator, is ready for:
 * their person as read (or made) before the commit, which is the person the commit stores,
 * so a view of the new group needs no second read of the people ({@link readinessOfMembers}).
 */
export function createGroupWithReadiness(
  deps: UseCaseDeps,
  command: CreateGroupCommand,
): ResultAsync<{ readonly group: Group; readonly readinessOf: ReadinessOf }, UseCaseError> {
  const amount = checkChargeAmount(money(command.contributionMinor, command.currency));
  if (amount.isErr()) return errAsync(amount.error);
  const now = deps.clock.now();
  const start = G.checkGroupStart(command.startsAt, now);
  if (start.isErr()) return errAsync(start.error);
  const created = G.createGroup({
    id: deps.ids.newId("grp"),
    name: command.name,
    currency: command.currency,
    contributionMinor: command.contributionMinor,
    cadence: command.cadence,
    startsAt: command.startsAt,
    payoutOrderMethod: command.payoutOrderMethod,
    ...((command.timeZone ?? deps.defaultTimeZone) !== undefined
      ? { timeZone: command.timeZone ?? deps.defaultTimeZone }
      : {}),
    ...(command.rotationsPlanned !== undefined ? { rotationsPlanned: command.rotationsPlanned } : {}),
    ...(command.policy !== undefined ? { policy: command.policy } : {}),
    creator: { id: command.creator.id ?? deps.ids.newId("mem"), displayName: command.creator.displayName },
    createdAt: now,
  });
  if (created.isErr()) return errAsync(created.error);
  const group = created.value;
  const creator = group.members[0];
  if (creator === undefined) throw new Error("a new group has its creator as first member");
  // The entitlements (reads only under a restricting default) and the person are read side
  // by side; refused in the same order as one after the other: entitlements first.
  const reads = Promise.all([
    requireEntitled(deps, creator.id, "create_group"),
    deps.people.getPerson(creator.id),
  ]);
  return ResultAsync.fromSafePromise(reads)
    .andThen(([entitled, stored]) => {
      if (entitled.isErr()) return errAsync(entitled.error);
      if (stored.isErr()) return errAsync(stored.error);
      return joiningAs(stored.value, creator, deps.clock.now());
    })
    .andThen(({ person, changes }) =>
      deps.uow
        .commit({
          people: changes,
          groups: [{ state: group, expectedVersion: undefined }],
          rounds: [],
          outbox: [],
          audit: [
            {
              at: now,
              aggregate: "group",
              aggregateId: group.id,
              action: "create_group",
              outcome: "applied",
              actor: creator.id,
            },
          ],
        })
        .map(() => ({ group, readinessOf: readinessOfPeople([person]) })),
    );
}

/**
 * A person joins a group (mid-rotation: from the next rotation on). Someone new becomes a
 * person in the same transaction; someone who already is one brings their Stripe set-up
 * and readiness along, onboarded once for every group. ({@link joinGroupWithReadiness}
 * without the readiness.)
 */
export function joinGroup(
  deps: UseCaseDeps,
  groupId: GroupId,
  member: { readonly id?: MemberId; readonly displayName: string },
): ResultAsync<Group, UseCaseError> {
  return joinGroupWithReadiness(deps, groupId, member).map(({ group }) => group);
}

/**
 * A person joins a group ({@link joinGroup}), with what every member of the group it stores
 * is ready for: the group with its members' people (one statement in PostgreSQL) and the
 * joining person are read side by side, then the commit; the readiness comes from the people
 * as read before the commit (the joining person as stored), so the answer needs no read after
 * it. Refuses in this order: no group, the group's rule, the person's entitlements, then the
 * person's read.
 */
export function joinGroupWithReadiness(
  deps: UseCaseDeps,
  groupId: GroupId,
  member: { readonly id?: MemberId; readonly displayName: string },
): ResultAsync<{ readonly group: Group; readonly readinessOf: ReadinessOf }, UseCaseError> {
  const id = member.id ?? deps.ids.newId("mem");
  const reads = Promise.all([deps.groups.getGroupWithPeople(groupId), deps.people.getPerson(id)]);
  return ResultAsync.fromSafePromise(reads).andThen(([found, stored]) => {
    if (found.isErr()) return errAsync(found.error);
    if (found.value === undefined) return errAsync(notFound("group", groupId));
    const { group, people } = found.value;
    const joined = G.joinGroup(group, { id, displayName: member.displayName, joinedAt: deps.clock.now() });
    if (joined.isErr()) return errAsync(joined.error);
    const displayName = G.findMember(joined.value, id)?.displayName ?? member.displayName;
    return requireEntitled(deps, id, "join_group")
      .andThen(() => (stored.isErr() ? errAsync(stored.error) : okAsync(stored.value)))
      .andThen((person) => joiningAs(person, { id, displayName }, deps.clock.now()))
      .andThen(({ person, changes }) =>
        storeGroup(deps, group, joined.value, "join_group", id, changes).map((next) => ({
          group: next,
          readinessOf: readinessOfPeople([...people.filter((p) => p.id !== id), person]),
        })),
      );
  });
}

/** A member leaves (at the end of the round in progress, if any). */
export function leaveGroup(
  deps: UseCaseDeps,
  groupId: GroupId,
  memberId: MemberId,
): ResultAsync<Group, UseCaseError> {
  return changeGroup(deps, groupId, "leave_group", memberId, (g, round) =>
    G.leaveGroup(g, memberId, round?.recipientMemberId),
  );
}

/** An admin sets a fixed payout order. */
export function setPayoutOrder(
  deps: UseCaseDeps,
  groupId: GroupId,
  actorId: GroupActor,
  memberIds: readonly MemberId[],
): ResultAsync<Group, UseCaseError> {
  return changeGroup(deps, groupId, "set_payout_order", actorName(actorId), (g) =>
    G.setFixedPayoutOrder(g, actorId, memberIds),
  );
}

/** An admin draws the payout order from a seed that is recorded for audit. */
export function drawPayoutOrder(
  deps: UseCaseDeps,
  groupId: GroupId,
  actorId: GroupActor,
  seed: string,
): ResultAsync<Group, UseCaseError> {
  return changeGroup(deps, groupId, "draw_payout_order", actorName(actorId), (g) =>
    G.drawGroupPayoutOrder(g, actorId, seed),
  );
}

/** An admin switches to a derived payout order method. */
export function usePayoutOrderMethod(
  deps: UseCaseDeps,
  groupId: GroupId,
  actorId: GroupActor,
  method: "join_order" | "reverse_join_order",
): ResultAsync<Group, UseCaseError> {
  return changeGroup(deps, groupId, "use_payout_order_method", actorName(actorId), (g) =>
    G.usePayoutOrderMethod(g, actorId, method),
  );
}

/** A member proposes to swap payout positions with another. */
export function proposeSwap(
  deps: UseCaseDeps,
  groupId: GroupId,
  proposedBy: MemberId,
  counterparty: MemberId,
): ResultAsync<Group, UseCaseError> {
  return changeGroup(deps, groupId, "propose_swap", proposedBy, (g) =>
    G.proposeSwap(g, proposedBy, counterparty, deps.clock.now()),
  );
}

/** The other member accepts a proposed swap. */
export function acceptSwap(
  deps: UseCaseDeps,
  groupId: GroupId,
  counterparty: MemberId,
  proposedBy: MemberId,
): ResultAsync<Group, UseCaseError> {
  return changeGroup(deps, groupId, "accept_swap", counterparty, (g, round) =>
    G.acceptSwap(g, counterparty, proposedBy, round?.recipientMemberId),
  );
}

/**
 * An admin starts the group once members and order are in place and everyone in the
 * rotation is ready — an active mandate, and a payout account that can receive — read
 * from the people they are (`members_not_ready`, naming who lacks what, otherwise).
 */
export function activateGroup(
  deps: UseCaseDeps,
  groupId: GroupId,
  actorId: GroupActor,
): ResultAsync<Group, UseCaseError> {
  return loadGroup(deps, groupId).andThen((group) =>
    readinessOfMembers(deps, group).andThen((readinessOf) => {
      const activated = G.activateGroup(group, actorId, readinessOf);
      if (activated.isErr()) return errAsync(activated.error);
      return storeGroup(deps, group, activated.value, "activate_group", actorName(actorId));
    }),
  );
}

/**
 * An admin (or a platform operator) removes another member before the group starts
 * (`member_removal_not_allowed` after; members leave for themselves with {@link leaveGroup}).
 */
export function removeMember(
  deps: UseCaseDeps,
  groupId: GroupId,
  actor: GroupActor,
  memberId: MemberId,
): ResultAsync<Group, UseCaseError> {
  return changeGroup(deps, groupId, "remove_member", actorName(actor), (g) =>
    G.removeMember(g, actor, memberId),
  );
}

/**
 * An admin (or a platform operator) changes the group's settings before it starts
 * (`group_not_forming` after). A new contribution must be a valid charge in its currency
 * (Stripe's minimum, digits and step rules) and a new `startsAt` must be from now to a
 * year ahead (`checkGroupStart`), as at creation.
 */
export function updateGroupSettings(
  deps: UseCaseDeps,
  groupId: GroupId,
  actor: GroupActor,
  settings: GroupSettings,
): ResultAsync<Group, UseCaseError> {
  return changeGroup(deps, groupId, "update_group_settings", actorName(actor), (g) =>
    G.updateGroupSettings(g, actor, settings).andThen((updated) => {
      if (settings.startsAt !== undefined) {
        const start = G.checkGroupStart(settings.startsAt, deps.clock.now());
        if (start.isErr()) return err(start.error);
      }
      if (settings.contributionMinor === undefined && settings.currency === undefined) return ok(updated);
      return checkChargeAmount(money(updated.contributionMinor, updated.currency)).map(() => updated);
    }),
  );
}

/**
 * An admin (or a platform operator) pauses the group: no round opens until an admin
 * resumes it (`useCases.resumeGroup`); a round in progress finishes. The audit line and
 * the group record who paused it, when and why.
 */
export function pauseGroup(
  deps: UseCaseDeps,
  groupId: GroupId,
  actor: GroupActor,
  reason: string,
): ResultAsync<Group, UseCaseError> {
  return changeGroup(deps, groupId, "pause_group", actorName(actor), (g) =>
    G.pauseGroupByAdmin(g, actor, reason, deps.clock.now()),
  );
}

/**
 * An admin (or a platform operator) closes the group for good, between rounds
 * (`round_in_progress` while one runs) and not while members who paid into the rotation in
 * progress are owed their pot (`rotation_in_progress`): no round opens again and nobody joins.
 */
export function closeGroup(
  deps: UseCaseDeps,
  groupId: GroupId,
  actor: GroupActor,
  reason: string,
): ResultAsync<Group, UseCaseError> {
  return changeGroup(deps, groupId, "close_group", actorName(actor), (g) =>
    G.closeGroup(g, actor, reason, deps.clock.now()),
  );
}
