import {
  type AdminDecision,
  formatMoney,
  type Group,
  money,
  type ReadinessOf,
  type Round,
  type UseCaseDeps,
  type UseCaseError,
  useCases,
} from "@susu/domain";
import type { ResultAsync } from "neverthrow";

const iso = (at: number | undefined) => (at === undefined ? null : new Date(at).toISOString());

/**
 * A group as clients see it: no Stripe object ids, amounts with their currency and text.
 * Each member's readiness is the person's (`readinessOf`), the same in all their groups.
 */
export function groupView(g: Group, readinessOf: ReadinessOf) {
  const contribution = money(g.contributionMinor, g.currency);
  return {
    id: g.id,
    name: g.name,
    status: g.status,
    pausedReason: g.pausedReason ?? null,
    adminPause: decisionView(g.adminPause),
    closure: decisionView(g.closure),
    contribution: {
      amountMinor: contribution.amountMinor,
      currency: contribution.currency,
      text: formatMoney(contribution),
    },
    cadence: g.cadence,
    startsAt: iso(g.startsAt),
    timeZone: g.timeZone,
    rotationsPlanned: g.rotationsPlanned,
    members: g.members.map((m) => ({
      id: m.id,
      displayName: m.displayName,
      role: m.role,
      status: m.status,
      readiness: readinessOf(m.id),
    })),
    payoutOrder: g.payoutOrder,
    rotation: g.rotation,
    currentRoundId: g.currentRoundId ?? null,
    pendingSwaps: g.pendingSwaps.map((s) => ({ ...s, proposedAt: iso(s.proposedAt) })),
    version: g.version,
  };
}

function decisionView(d: AdminDecision | undefined) {
  return d === undefined ? null : { by: d.by, at: new Date(d.at).toISOString(), reason: d.reason };
}

/** The view of a group, with its members' readiness read from the people they are. */
export function groupViewOf(deps: UseCaseDeps): (g: Group) => ResultAsync<GroupView, UseCaseError> {
  return (g) => useCases.readinessOfMembers(deps, g).map((readinessOf) => groupView(g, readinessOf));
}

/** What {@link groupView} returns. */
export type GroupView = ReturnType<typeof groupView>;

/** A round as clients see it. */
export function roundView(r: Round) {
  return {
    id: r.id,
    groupId: r.groupId,
    status: r.status,
    rotation: r.rotation,
    sequence: r.sequence,
    recipientMemberId: r.recipientMemberId,
    contribution: { amountMinor: r.contributionMinor, currency: r.currency },
    openedAt: iso(r.openedAt),
    collectionDeadlineAt: iso(r.collectionDeadlineAt),
    endedAt: iso(r.endedAt),
    blockedReason: r.blockedReason ?? null,
    cancellationReason: r.cancellationReason ?? null,
    contributions: r.contributions.map((c) => ({
      memberId: c.memberId,
      status: c.status,
      attempts: c.attempts.map((a) => ({
        number: a.number,
        status: a.status,
        failureCode: a.failureCode ?? null,
      })),
      retryAt: iso(c.retryAt),
    })),
    payouts: r.payouts.map((p) => ({
      sourceMemberId: p.sourceMemberId,
      amountMinor: p.amountMinor,
      status: p.status,
    })),
    version: r.version,
  };
}
