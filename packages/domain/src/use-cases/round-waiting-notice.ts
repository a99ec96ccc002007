import { okAsync, type ResultAsync } from "neverthrow";
import type { Group } from "../group/group.js";
import type { MemberNotReady, ReadinessGap } from "../group/member-readiness.js";
import type { RoundOutboxEffect } from "../round/round-effect.js";
import { roundIds } from "../round/round-ids.js";
import { hash32 } from "../shared/hash.js";
import { type Instant, isoString } from "../shared/time.js";
import type { UseCaseDeps, UseCaseError } from "./deps.js";

const GAP_TEXT: { readonly [G in ReadinessGap]: string } = {
  mandate: "an active direct debit mandate",
  payout_account: "a payout account that can receive",
};

/** How many members the admins' notice names; the rest are counted. */
const LISTED_MAX = 20;

/**
 * A stable key for who is not ready and what each lacks: the same set (in any order) gives
 * the same key, another member or another gap gives another. The count and two 32-bit
 * hashes (of the text and of it reversed), so it stays short however large the group.
 */
export function membersNotReadyKey(notReady: readonly MemberNotReady[]): string {
  const canonical = notReady
    .map((m) => `${m.memberId}=${[...m.lacks].sort().join("+")}`)
    .sort()
    .join(";");
  const other = hash32([...canonical].reverse().join(""));
  return `${notReady.length}-${hash32(canonical).toString(16).padStart(8, "0")}${other.toString(16).padStart(8, "0")}`;
}

/**
 * The notices owed when a group's round is due (since `dueSince`) but cannot open because
 * members are not ready: one to each member not ready saying what they lack and where to
 * set it up, and one to the group's admins naming who lacks what. Addressed to the round
 * that will open (`roundId`, derived: the same id it opens with), with ids keyed by what is
 * lacking, so finding the round waiting again (the cron, every minute) queues nothing new.
 */
export function roundWaitingEffects(
  group: Group,
  roundId: string,
  dueSince: Instant,
  notReady: readonly MemberNotReady[],
): RoundOutboxEffect[] {
  if (notReady.length === 0) return [];
  const nameOf = (memberId: string) => group.members.find((m) => m.id === memberId)?.displayName ?? memberId;
  const common = { roundId, dueSince: isoString(dueSince) };
  const toMembers = notReady.map(
    (m): RoundOutboxEffect => ({
      kind: "notify",
      id: roundIds.notice.roundWaitingForMember(roundId, m.memberId, m.lacks),
      aggregate: "round",
      aggregateId: roundId,
      to: { kind: "group", groupId: group.id, members: { kind: "member", memberId: m.memberId } },
      template: "round_waiting_for_you",
      data: {
        ...common,
        lacks: m.lacks.map((g) => GAP_TEXT[g]).join(" and "),
        gaps: m.lacks.join(","),
        ...(m.lacks.includes("mandate")
          ? { debitSetupPath: `/v1/people/${encodeURIComponent(m.memberId)}/debit-setup` }
          : {}),
        ...(m.lacks.includes("payout_account")
          ? { onboardingPath: `/v1/people/${encodeURIComponent(m.memberId)}/payout-onboarding` }
          : {}),
      },
    }),
  );
  const listed = notReady.slice(0, LISTED_MAX);
  const toAdmins: RoundOutboxEffect = {
    kind: "notify",
    id: roundIds.notice.roundWaitingForMembersToAdmins(roundId, membersNotReadyKey(notReady)),
    aggregate: "round",
    aggregateId: roundId,
    to: { kind: "group", groupId: group.id, members: { kind: "admins" } },
    template: "round_waiting_for_members",
    data: {
      ...common,
      notReadyCount: notReady.length,
      notReady: listed
        .map(
          (m) =>
            `${nameOf(m.memberId)} (${m.memberId}) needs ${m.lacks.map((g) => GAP_TEXT[g]).join(" and ")}`,
        )
        .join("; "),
      ...(notReady.length > listed.length ? { moreNotReady: notReady.length - listed.length } : {}),
    },
  };
  return [...toMembers, toAdmins];
}

/**
 * Queues {@link roundWaitingEffects} for a round the scheduler found due but could not
 * open. The outbox keeps an effect id once, so a cron finding the same round waiting for
 * the same members again stores nothing new and sends nothing twice; no audit line is
 * written (it would be one a minute): the notices themselves are the record.
 */
export function noticeRoundWaiting(
  deps: UseCaseDeps,
  group: Group,
  roundId: string,
  dueSince: Instant,
  notReady: readonly MemberNotReady[],
): ResultAsync<void, UseCaseError> {
  const outbox = roundWaitingEffects(group, roundId, dueSince, notReady);
  if (outbox.length === 0) return okAsync(undefined);
  return deps.uow.commit({ people: [], groups: [], rounds: [], outbox, audit: [] });
}
