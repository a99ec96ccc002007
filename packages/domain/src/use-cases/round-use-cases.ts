import { err, errAsync, ok, okAsync, type Result, type ResultAsync } from "neverthrow";
import { groupError } from "../group/group.errors.js";
import type { Group } from "../group/group.js";
import * as G from "../group/group.js";
import type { GroupId, MemberId } from "../group/ids.js";
import type { AuditEntry } from "../ports/storage.js";
import { type DecideContext, decide, type RoundDecision } from "../round/decide.js";
import { newRound, type Round } from "../round/round.js";
import { isGroupLocalEffect, type RoundEffect, type RoundOutboxEffect } from "../round/round-effect.js";
import { roundIds } from "../round/round-ids.js";
import type { RoundInput } from "../round/round-input.js";
import { notFound, type UseCaseDeps, type UseCaseError } from "./deps.js";
import { storeGroup } from "./group-use-cases.js";
import { readinessOfMembers } from "./load-people.js";
import { noticeRoundWaiting } from "./round-waiting-notice.js";

/** Applies the group-local effects of a round decision (pause, round ended) to the group. */
function applyToGroup(group: Group, effects: readonly RoundEffect[]): Result<Group, UseCaseError> {
  let next = group;
  for (const e of effects) {
    if (e.kind === "pause_group") next = G.pauseGroup(next, e.reason);
    // The round lifts only the pause it caused; an admin's pause holds until an admin resumes.
    else if (e.kind === "resume_group") next = G.endPayoutPause(next);
    else if (e.kind === "round_ended") {
      const ended = G.markRoundEnded(next, e.roundId, e.outcome);
      if (ended.isErr()) return err(ended.error);
      next = ended.value;
    }
  }
  return ok(next);
}

function auditLine(
  round: Round,
  input: RoundInput,
  decision: RoundDecision,
  at: number,
  actor: string,
): AuditEntry {
  return {
    at,
    aggregate: "round",
    aggregateId: round.id,
    action: input.type === "timer" ? `timer:${input.timer.kind}` : input.type,
    outcome: decision.ignored === undefined ? "applied" : "ignored",
    ...(decision.ignored !== undefined
      ? { detail: `${decision.ignored.code}: ${decision.ignored.detail}` }
      : {}),
    actor,
  };
}

/**
 * Stores a round decision: the new round state, the group changes its local effects
 * imply, the outbox effects and an audit line, in one unit of work with version checks.
 * An ignored input stores only the audit line.
 */
function commitDecision(
  deps: UseCaseDeps,
  group: Group,
  before: Round | undefined,
  decision: RoundDecision,
  audit: AuditEntry,
  groupOverride?: Group,
): ResultAsync<RoundDecision, UseCaseError> {
  if (decision.ignored !== undefined)
    return deps.uow
      .commit({ people: [], groups: [], rounds: [], outbox: [], audit: [audit] })
      .map(() => decision);
  const groupBase = groupOverride ?? group;
  const changedGroup = applyToGroup(groupBase, decision.effects);
  if (changedGroup.isErr()) return errAsync(changedGroup.error);
  const groupChanged = changedGroup.value !== group;
  const state: Round = { ...decision.state, version: (before?.version ?? -1) + 1 };
  const outbox = decision.effects.filter((e): e is RoundOutboxEffect => !isGroupLocalEffect(e));
  return deps.uow
    .commit({
      people: [],
      groups: groupChanged
        ? [{ state: { ...changedGroup.value, version: group.version + 1 }, expectedVersion: group.version }]
        : [],
      rounds: [{ state, expectedVersion: before?.version }],
      outbox,
      audit: [audit],
    })
    .map(() => ({ ...decision, state }));
}

function loadRoundAndGroup(deps: UseCaseDeps, roundId: string): ResultAsync<[Round, Group], UseCaseError> {
  const together = deps.rounds.getRoundWithGroup?.bind(deps.rounds);
  if (together !== undefined)
    return together(roundId).andThen((found) => {
      if (!found) return errAsync<[Round, Group], UseCaseError>(notFound("round", roundId));
      return found.group
        ? okAsync<[Round, Group], UseCaseError>([found.round, found.group])
        : errAsync(notFound("group", found.round.groupId));
    });
  return deps.rounds.getRound(roundId).andThen((round) => {
    if (!round) return errAsync<[Round, Group], UseCaseError>(notFound("round", roundId));
    return deps.groups
      .getGroup(round.groupId)
      .andThen((group) =>
        group
          ? okAsync<[Round, Group], UseCaseError>([round, group])
          : errAsync(notFound("group", round.groupId)),
      );
  });
}

/**
 * A member's debit asked for again now (`retry_contribution`), by the member or an admin for
 * them: the round hears whether the member's mandate is active now (see
 * `RoundInput.retry_contribution`), so that a debit failed for good is asked again only once
 * new bank details are saved.
 */
export function retryContribution(
  deps: UseCaseDeps,
  roundId: string,
  memberId: string,
  actor: string,
): ResultAsync<RoundDecision, UseCaseError> {
  return deps.people
    .getPerson(memberId)
    .andThen((person) =>
      applyRoundInput(
        deps,
        roundId,
        { type: "retry_contribution", memberId, mandateActive: person?.debit?.mandateActive === true },
        actor,
      ),
    );
}

/**
 * Feeds one input (a command, a timer, a translated Stripe event, the result of an
 * effect) to a round: load, decide, store. This is how every fact reaches a round.
 *
 * @param actor who or what caused it, for the audit log (`stripe:evt_…`, `timer`, a member id)
 */
export function applyRoundInput(
  deps: UseCaseDeps,
  roundId: string,
  input: RoundInput,
  actor: string,
): ResultAsync<RoundDecision, UseCaseError> {
  return loadRoundAndGroup(deps, roundId).andThen(([round, group]) => {
    const ctx: DecideContext = { now: deps.clock.now(), policy: group.policy };
    const decided = decide(round, input, ctx);
    if (decided.isErr()) return errAsync(decided.error);
    return commitDecision(
      deps,
      group,
      round,
      decided.value,
      auditLine(round, input, decided.value, ctx.now, actor),
    );
  });
}

/**
 * Who opens a round: an admin of the group, named by member id (from the API), or
 * `"scheduler"`, susu's due-round cron. An object for members, so that no member id can
 * pass for the scheduler.
 */
export type RoundOpener = { readonly memberId: MemberId } | PlatformOperator | "scheduler";

/**
 * A platform operator (susu's own staff or tools, not a member of the group) acting on a
 * group as its admins may; audited as `operator:<id>`. The apps decide who is one.
 */
export interface PlatformOperator {
  readonly operator: string;
}

/** Who gives an admin command: a member of the group (by id), or a platform operator (the group's {@link G.GroupActor}). */
export type AdminActor = G.GroupActor;

/** The audit log's actor for a platform operator. */
export function operatorActor(operator: PlatformOperator): string {
  return `operator:${operator.operator}`;
}

/** The audit log's actor for an opener: the member id, `operator:<id>`, or `scheduler`. */
function openerActor(opener: RoundOpener): string {
  if (opener === "scheduler") return "scheduler";
  return "operator" in opener ? operatorActor(opener) : opener.memberId;
}

/** The audit log's actor for an admin command. */
function adminActorName(actor: AdminActor): string {
  return G.actorName(actor);
}

/**
 * Opens the group's next round if it is due: picks the next recipient in the payout order,
 * creates the round, and asks for every contributor's debit. Idempotent by construction:
 * the group holds its current round, so a second call while it runs is refused with
 * `round_in_progress`, and a call before the due date with `no_round_due`.
 *
 * Who may open it: the scheduler, or any admin of the group (without waiting for the
 * cron); other members may not (`not_admin`), nor may people outside the group
 * (`member_not_found`) — the rule of every other admin command. The audit line names
 * who opened it. Everyone in the rotation must be ready (`members_not_ready` names who
 * lacks a mandate or a payout account): a round opened otherwise fails debits or blocks
 * its payout by construction. When the scheduler finds the round due but members not
 * ready, the refusal also queues notices to those members and the group's admins
 * (`round_waiting_for_you`, `round_waiting_for_members`; see `noticeRoundWaiting`), once
 * per round and set of gaps; a storage failure storing them is returned instead.
 */
export function startRound(
  deps: UseCaseDeps,
  groupId: GroupId,
  opener: RoundOpener,
): ResultAsync<RoundDecision, UseCaseError> {
  return deps.groups.getGroup(groupId).andThen((group) => {
    if (!group) return errAsync<RoundDecision, UseCaseError>(notFound("group", groupId));
    if (opener !== "scheduler" && !("operator" in opener)) {
      const actor = G.findMember(group, opener.memberId);
      if (!actor || actor.status === "left")
        return errAsync(groupError("member_not_found", `no member ${opener.memberId}`));
      if (actor.role !== "admin") return errAsync(groupError("not_admin", "only a group admin may do this"));
    }
    // A rotation whose last member still due left between rounds, stored by an older version
    // that did not close it, is closed first (stored, audited), then the round is looked for.
    const closed = G.closeFinishedRotation(group);
    if (closed !== group)
      return storeGroup(deps, group, closed, "close_rotation", openerActor(opener)).andThen(() =>
        startRound(deps, groupId, opener),
      );
    const now = deps.clock.now();
    const due = dueRound(group, now);
    if (due.isErr()) return errAsync(due.error);
    const { opensAt, recipient } = due.value;
    return readinessOfMembers(deps, group).andThen((readinessOf) => {
      // Derived, not random: a restored database opens a lost round again under the same id.
      const rotation = group.rotation.number;
      const sequence = group.rotation.roundSequence;
      const roundId = roundIds.round(groupId, rotation, sequence);
      const ready = G.requireMembersReady(group, readinessOf);
      if (ready.isErr()) {
        const refused = ready.error;
        // The scheduler finds a due round waiting every time it runs, and nobody sees its
        // refusal: the members not ready and the admins are told (once per round and set of
        // gaps). An admin or operator who asked sees the refusal, naming who lacks what.
        if (opener !== "scheduler" || refused.type !== "members_not_ready") return errAsync(refused);
        return noticeRoundWaiting(deps, group, roundId, opensAt, refused.notReady).andThen(() =>
          errAsync<RoundDecision, UseCaseError>(refused),
        );
      }
      const created = newRound({
        id: roundId,
        groupId,
        rotation,
        sequence,
        recipientMemberId: recipient,
        recipientCanReceive: readinessOf(recipient).payoutsEnabled,
        contributorIds: G.contributingMembers(group).map((m) => m.id),
        currency: group.currency,
        contributionMinor: group.contributionMinor,
        scheduledFor: opensAt,
      });
      if (created.isErr()) return errAsync(created.error);
      const opened = G.markRoundOpened(group, roundId, now);
      if (opened.isErr()) return errAsync(opened.error);
      const input: RoundInput = { type: "open" };
      const decided = decide(created.value, input, { now, policy: group.policy });
      if (decided.isErr()) return errAsync(decided.error);
      return commitDecision(
        deps,
        group,
        undefined,
        decided.value,
        auditLine(created.value, input, decided.value, now, openerActor(opener)),
        opened.value,
      );
    });
  });
}

/** When the group's next round opens and who receives it, if a round can open now. */
function dueRound(
  group: Group,
  now: number,
): Result<{ readonly opensAt: number; readonly recipient: MemberId }, UseCaseError> {
  if (group.status !== "active") return err(groupError("group_not_active", `the group is ${group.status}`));
  if (group.currentRoundId !== undefined)
    return err(groupError("round_in_progress", `round ${group.currentRoundId} is still in progress`));
  const opensAt = G.nextRoundOpensAt(group);
  if (opensAt > now)
    return err(groupError("no_round_due", `the next round opens at ${new Date(opensAt).toISOString()}`));
  const recipient = G.nextRecipient(group);
  if (recipient === undefined) return err(groupError("no_round_due", "everyone has been paid this rotation"));
  return ok({ opensAt, recipient });
}

/**
 * Loads a group for a command only its admins (or platform operators) may give, by the rule
 * of every admin command ({@link G.requireAdmin}): an admin who left the group, or someone
 * outside it, is `member_not_found`; another member is `not_admin`.
 */
function loadGroupAsAdmin(
  deps: UseCaseDeps,
  groupId: GroupId,
  actor: G.GroupActor,
): ResultAsync<Group, UseCaseError> {
  return deps.groups.getGroup(groupId).andThen((group) => {
    if (!group) return errAsync<Group, UseCaseError>(notFound("group", groupId));
    const allowed = G.requireAdmin(group, actor);
    return allowed.isErr() ? errAsync<Group, UseCaseError>(allowed.error) : okAsync(group);
  });
}

/**
 * An admin gives a blocked payout to another member; the two swap positions in the
 * rotation so each still receives exactly once, and the pause the block caused ends (a
 * pause an admin made holds until an admin resumes the group, as when the account is
 * fixed). A platform operator may do it too.
 */
export function reassignPayout(
  deps: UseCaseDeps,
  groupId: GroupId,
  actor: AdminActor,
  toMemberId: MemberId,
): ResultAsync<RoundDecision, UseCaseError> {
  return loadGroupAsAdmin(deps, groupId, actor).andThen((group) => {
    if (group.currentRoundId === undefined)
      return errAsync(groupError("no_round_due", "no round is in progress"));
    return deps.rounds.getRound(group.currentRoundId).andThen((round) => {
      if (!round) return errAsync<RoundDecision, UseCaseError>(notFound("round", group.currentRoundId ?? ""));
      return readinessOfMembers(deps, group).andThen((readinessOf) => {
        const input: RoundInput = {
          type: "reassign_payout",
          toMemberId,
          toCanReceive: readinessOf(toMemberId).payoutsEnabled,
        };
        const now = deps.clock.now();
        const decided = decide(round, input, { now, policy: group.policy });
        if (decided.isErr()) return errAsync(decided.error);
        const swapped = G.reassignPosition(group, round.recipientMemberId, toMemberId);
        if (swapped.isErr()) return errAsync(swapped.error);
        // The payout going through lifts the pause its block caused (the decision's
        // `resume_group`); an admin's pause holds until an admin resumes the group.
        return commitDecision(
          deps,
          group,
          round,
          decided.value,
          auditLine(round, input, decided.value, now, adminActorName(actor)),
          swapped.value,
        );
      });
    });
  });
}

/**
 * An admin resumes a paused group. If its round's payout is blocked, the payout is tried
 * again in the same transaction — it blocks again, with a new notice and ticket, if the
 * account still cannot receive — so a failure leaves the group paused and the command can
 * simply be repeated.
 */
export function resumeGroup(
  deps: UseCaseDeps,
  groupId: GroupId,
  actor: G.GroupActor,
): ResultAsync<Group, UseCaseError> {
  const actorId = G.actorName(actor);
  return loadGroupAsAdmin(deps, groupId, actor).andThen((group) => {
    const resumed = G.resumeGroup(group);
    if (resumed.isErr()) return errAsync(resumed.error);
    const now = deps.clock.now();
    const roundOf =
      group.currentRoundId === undefined ? okAsync(undefined) : deps.rounds.getRound(group.currentRoundId);
    return roundOf.andThen((round) => {
      if (round?.status !== "payout_blocked") {
        const next = { ...resumed.value, version: group.version + 1 };
        return deps.uow
          .commit({
            people: [],
            groups: [{ state: next, expectedVersion: group.version }],
            rounds: [],
            outbox: [],
            audit: [
              {
                at: now,
                aggregate: "group",
                aggregateId: groupId,
                action: "resume_group",
                outcome: "applied",
                actor: actorId,
              },
            ],
          })
          .map(() => next);
      }
      const input: RoundInput = { type: "resume_payout" };
      const decided = decide(round, input, { now, policy: group.policy });
      if (decided.isErr()) return errAsync(decided.error);
      return commitDecision(
        deps,
        group,
        round,
        decided.value,
        auditLine(round, input, decided.value, now, actorId),
        resumed.value,
      ).andThen(() => deps.groups.getGroup(groupId).map((g) => g ?? resumed.value));
    });
  });
}
