import { err, ok, type Result } from "neverthrow";
import { clipText, textLengthWithin } from "../kernel/text.js";
import type { CurrencyCode } from "../money/index.js";
import { COLLECTABLE_CURRENCIES, debitMethodFor } from "../policy/debit-methods.js";
import { DEFAULT_ROUND_POLICY, type RoundPolicy } from "../policy/round-policy.js";
import { canonicalTimeZone, DAY_MS, HOUR_MS, type Instant, type TimeZone } from "../shared/time.js";
import { type Cadence, roundOpensAt } from "./cadence.js";
import { type GroupError, groupError, membersNotReadyError } from "./group.errors.js";
import { GROUP_TRANSITIONS, type GroupStatus } from "./group-transitions.js";
import type { GroupId, MemberId } from "./ids.js";
import type { MemberNotReady, ReadinessGap, ReadinessOf } from "./member-readiness.js";
import {
  drawPayoutOrder,
  isPermutationOf,
  type PayoutOrder,
  type PayoutOrderMethod,
} from "./payout-order.js";

/** The most members one group may have: a rotation of more would last years. */
export const MEMBERS_MAX = 50;
/** The fewest members a group needs before it can start. */
export const MEMBERS_MIN = 2;

/**
 * The latest a group may start, after now: a year, counted as 366 days so that the same
 * date next year always fits (a leap day between or not). A later start is a typing
 * mistake (a year 9999), not a plan: nobody can join a savings round years ahead.
 */
export const GROUP_START_MAX_AHEAD_MS = 366 * DAY_MS;

/**
 * A group's first round starts from `now` to {@link GROUP_START_MAX_AHEAD_MS} after it;
 * `invalid_group` otherwise (in the past, or too far ahead).
 */
export function checkGroupStart(startsAt: Instant, now: Instant): Result<Instant, GroupError> {
  if (startsAt < now) return err(groupError("invalid_group", "startsAt is in the past"));
  if (startsAt > now + GROUP_START_MAX_AHEAD_MS)
    return err(
      groupError(
        "invalid_group",
        `startsAt is more than ${GROUP_START_MAX_AHEAD_MS / DAY_MS} days ahead; the latest start is ${new Date(now + GROUP_START_MAX_AHEAD_MS).toISOString()}`,
      ),
    );
  return ok(startsAt);
}

/**
 * A member's place in the group:
 * - `active`: contributes to every round and is in the payout order;
 * - `pending`: joined mid-rotation, takes part from the next rotation on;
 * - `leaving`: asked to leave during a round, contributes to it and leaves when it ends;
 * - `left`: no longer takes part.
 */
export type MemberStatus = "active" | "pending" | "leaving" | "left";

/**
 * One person's membership of a group. What the person owns at Stripe (customer, mandate,
 * payout account) and whether they are ready for money to move belong to the person
 * (`Person` in the person module), not to each membership: `id` is the person's id.
 */
export interface Member {
  readonly id: MemberId;
  readonly displayName: string;
  readonly role: "admin" | "member";
  readonly status: MemberStatus;
  readonly joinedAt: Instant;
}

/** A proposal by one member to swap payout positions with another; applies once both agree. */
export interface PositionSwap {
  readonly proposedBy: MemberId;
  readonly counterparty: MemberId;
  readonly proposedAt: Instant;
}

/** The group's progress through its rotations. */
export interface RotationProgress {
  /** 1-based number of the rotation in progress. */
  readonly number: number;
  /** Members who have received the pot in this rotation, in payout order. */
  readonly receivedMemberIds: readonly MemberId[];
  /** 0-based count of rounds opened since the group started, across rotations. */
  readonly roundSequence: number;
}

export type { GroupStatus } from "./group-transitions.js";

/**
 * Who commands a change to a group: a member, by their id (the person's id), or a platform
 * operator acting on any group. An object for operators, so that no member id can pass
 * for one; the audit log names them `operator:<id>` ({@link actorName}).
 */
export type GroupActor = MemberId | { readonly operator: string };

/** The audit log's actor for a {@link GroupActor}. */
export function actorName(actor: GroupActor): string {
  return typeof actor === "string" ? actor : `operator:${actor.operator}`;
}

/** An admin's decision recorded on the group: who (as {@link actorName}), when and why. */
export interface AdminDecision {
  readonly by: string;
  readonly at: Instant;
  readonly reason: string;
}

/** A savings group: who contributes how much, how often, and who receives the pot when. */
export interface Group {
  readonly id: GroupId;
  readonly name: string;
  readonly currency: CurrencyCode;
  /** Each member's contribution per round, in the currency's minor unit. */
  readonly contributionMinor: number;
  readonly cadence: Cadence;
  readonly startsAt: Instant;
  /**
   * The IANA time zone the group's schedule is kept in: rounds open on the start's local
   * day and at its local time ({@link roundOpensAt}). Groups stored before it was kept are
   * in `UTC`, which keeps their schedule as it was.
   */
  readonly timeZone: TimeZone;
  /** How many rotations the group runs before it completes. */
  readonly rotationsPlanned: number;
  readonly status: GroupStatus;
  /** Why the group is paused, whoever paused it. */
  readonly pausedReason?: string;
  /**
   * Present when an admin paused the group (absent when a blocked payout did): such a pause
   * holds until an admin resumes the group, even when the round's payout goes through.
   */
  readonly adminPause?: AdminDecision;
  /** Present once an admin closed the group: who, when and why. */
  readonly closure?: AdminDecision;
  readonly members: readonly Member[];
  readonly payoutOrder: PayoutOrder;
  readonly rotation: RotationProgress;
  /** The round collecting or paying out now, if any. */
  readonly currentRoundId?: string;
  /**
   * When the last round actually opened (absent before the first, and in groups stored before
   * it was kept): the next round opens no sooner than one cadence after it
   * ({@link nextRoundOpensAt}).
   */
  readonly lastRoundOpenedAt?: Instant;
  readonly pendingSwaps: readonly PositionSwap[];
  readonly policy: RoundPolicy;
  readonly createdAt: Instant;
  /** Optimistic-concurrency version, incremented by every stored change. */
  readonly version: number;
}

/** What it takes to create a group; the creator becomes its first member and admin. */
export interface NewGroup {
  readonly id: GroupId;
  readonly name: string;
  readonly currency: CurrencyCode;
  readonly contributionMinor: number;
  readonly cadence: Cadence;
  readonly startsAt: Instant;
  /** The IANA time zone of its schedule (default `UTC`; the API applies the platform's default). */
  readonly timeZone?: TimeZone;
  readonly payoutOrderMethod: PayoutOrderMethod;
  readonly rotationsPlanned?: number;
  readonly policy?: RoundPolicy;
  readonly creator: { readonly id: MemberId; readonly displayName: string };
  readonly createdAt: Instant;
}

/**
 * Creates a group in `forming` state. Amount and currency rules (minimum charge, step) are
 * checked by the use case with the money module; here the group's own shape, and that a
 * debit method susu supports can collect its currency (`debitMethodFor`): a group nobody
 * can pay into is refused at once rather than failing every debit later.
 */
export function createGroup(input: NewGroup): Result<Group, GroupError> {
  if (debitMethodFor(input.currency) === undefined)
    return err(
      groupError(
        "currency_not_supported",
        `no supported debit method collects ${input.currency}; groups can use ${COLLECTABLE_CURRENCIES.join(", ")}`,
      ),
    );
  const name = input.name.trim();
  if (!textLengthWithin(name, 1, 100))
    return err(groupError("invalid_group", "name must be 1–100 characters"));
  if (!Number.isSafeInteger(input.contributionMinor) || input.contributionMinor <= 0)
    return err(groupError("invalid_group", "contribution must be a positive whole number of minor units"));
  const rotationsPlanned = input.rotationsPlanned ?? 1;
  if (!Number.isSafeInteger(rotationsPlanned) || rotationsPlanned < 1 || rotationsPlanned > 12)
    return err(groupError("invalid_group", "rotationsPlanned must be between 1 and 12"));
  const timeZone = canonicalTimeZone(input.timeZone ?? "UTC");
  if (timeZone === undefined) return err(timeZoneError(input.timeZone ?? ""));
  const creator: Member = {
    id: input.creator.id,
    displayName: input.creator.displayName,
    role: "admin",
    status: "active",
    joinedAt: input.createdAt,
  };
  return ok({
    id: input.id,
    name,
    currency: input.currency,
    contributionMinor: input.contributionMinor,
    cadence: input.cadence,
    startsAt: input.startsAt,
    timeZone,
    rotationsPlanned,
    status: "forming",
    members: [creator],
    payoutOrder: { method: input.payoutOrderMethod, memberIds: [creator.id] },
    rotation: { number: 1, receivedMemberIds: [], roundSequence: 0 },
    pendingSwaps: [],
    policy: input.policy ?? DEFAULT_ROUND_POLICY,
    createdAt: input.createdAt,
    version: 0,
  });
}

function timeZoneError(timeZone: string): GroupError {
  return groupError(
    "invalid_time_zone",
    `${JSON.stringify(clipText(timeZone, 64))} is not a time zone; use an IANA name such as Australia/Sydney`,
  );
}

/** Finds a member by id. */
export function findMember(group: Group, memberId: MemberId): Member | undefined {
  return group.members.find((m) => m.id === memberId);
}

/** Members who take part in the current rotation (they contribute to its rounds). */
export function contributingMembers(group: Group): Member[] {
  return group.members.filter((m) => m.status === "active" || m.status === "leaving");
}

/**
 * Allows the group's admins (members who have not left) and platform operators; refuses
 * other members (`not_admin`) and people outside the group (`member_not_found`).
 */
export function requireAdmin(group: Group, actor: GroupActor): Result<Group, GroupError> {
  if (typeof actor !== "string") return ok(group);
  const member = findMember(group, actor);
  if (!member || member.status === "left") return err(groupError("member_not_found", `no member ${actor}`));
  if (member.role !== "admin") return err(groupError("not_admin", "only a group admin may do this"));
  return ok(group);
}

/** Whether the group has ended for good (every rotation paid out, or closed by an admin). */
export function isFinal(group: Group): boolean {
  return group.status === "completed" || group.status === "closed";
}

function orderFor(method: PayoutOrderMethod, members: readonly Member[], current: PayoutOrder): PayoutOrder {
  const ids = members.map((m) => m.id);
  switch (method) {
    case "join_order":
      return { method, memberIds: ids };
    case "reverse_join_order":
      return { method, memberIds: [...ids].reverse() };
    case "fixed": {
      // Keep the admin's order for those still in it, newcomers at the end.
      const kept = current.memberIds.filter((id) => ids.includes(id));
      return { method, memberIds: [...kept, ...ids.filter((id) => !kept.includes(id))] };
    }
    case "seeded_draw":
      return current.seed === undefined
        ? { method, memberIds: ids }
        : { method, memberIds: drawPayoutOrder(ids, current.seed), seed: current.seed };
  }
}

/**
 * Adds a member. While the group is forming they join the first rotation; once it is
 * running they are `pending` and join at the start of the next rotation, so the pot and
 * the order of the rotation in progress never change under anyone's feet.
 */
export function joinGroup(
  group: Group,
  member: { readonly id: MemberId; readonly displayName: string; readonly joinedAt: Instant },
): Result<Group, GroupError> {
  if (isFinal(group)) return err(groupError("group_not_active", `the group is ${group.status}`));
  if (findMember(group, member.id))
    return err(groupError("member_exists", `member ${member.id} already joined`));
  const present = group.members.filter((m) => m.status !== "left");
  if (present.length >= MEMBERS_MAX)
    return err(groupError("too_many_members", `a group has at most ${MEMBERS_MAX} members`));
  const added: Member = {
    id: member.id,
    displayName: member.displayName.trim() || member.id,
    role: "member",
    status: group.status === "forming" ? "active" : "pending",
    joinedAt: member.joinedAt,
  };
  const members = [...group.members, added];
  const payoutOrder =
    group.status === "forming"
      ? orderFor(group.payoutOrder.method, contributingMembers({ ...group, members }), group.payoutOrder)
      : group.payoutOrder;
  return ok({ ...group, members, payoutOrder });
}

/**
 * Whether `member` has money in the group's rotation in progress that has not come back to
 * them: they paid into it and have not yet received its pot.
 *
 * The group records no contributions (they are the rounds'), so this reads what the
 * rotation implies. Every member in it (`active`, in the payout order) is debited for every
 * round of it, from its first — members joining mid-rotation wait (`pending`) for the next.
 * So such a member still due the pot has paid in as soon as a round of this rotation has
 * paid out (`receivedMemberIds` not empty), and is paying in while a round is in progress
 * (`currentRoundId`). A round that was cancelled refunded its debits, so it counts for
 * nothing; and at a rotation's start everyone who stayed has had back what they paid in
 * the last one. A debit that failed for good is still counted: refusing then errs on the
 * side of keeping the member's place (and their claim) in the order.
 */
function awaitsPayout(group: Group, member: Member): boolean {
  if (group.status === "forming" || member.status !== "active") return false;
  if (!group.payoutOrder.memberIds.includes(member.id)) return false;
  if (group.rotation.receivedMemberIds.includes(member.id)) return false;
  return group.currentRoundId !== undefined || group.rotation.receivedMemberIds.length > 0;
}

/**
 * Removes a member. A member who already received the pot in this rotation must keep
 * contributing until it ends (`member_owes_contributions`); the member due to receive the
 * current round cannot leave (`member_is_current_recipient`: an admin reassigns the payout
 * first); and a member who has paid into this rotation (or is paying into the round in
 * progress) and not yet received its pot cannot leave until they have
 * (`member_awaiting_payout`, see {@link awaitsPayout}): leaving would drop them from the
 * order with nothing paid back. So a member leaves only when none of their money is in the
 * group: before it starts, before any round of the rotation has collected, or once the
 * rotation they paid into has paid them. A member older versions let leave during a round
 * is `leaving` and leaves when it ends.
 */
export function leaveGroup(
  group: Group,
  memberId: MemberId,
  currentRecipientId?: MemberId,
): Result<Group, GroupError> {
  const member = findMember(group, memberId);
  if (!member || member.status === "left")
    return err(groupError("member_not_found", `no member ${memberId}`));
  // Asked again during the round (a retried request): the member still contributes to it,
  // so stays `leaving` (and sees the round) until it ends, as the first request said.
  if (member.status === "leaving") return ok(group);
  const rotationUnfinished = group.rotation.receivedMemberIds.length < group.payoutOrder.memberIds.length;
  if (group.rotation.receivedMemberIds.includes(memberId) && rotationUnfinished && group.status !== "forming")
    return err(
      groupError(
        "member_owes_contributions",
        "you received the pot in this rotation: you can leave once it ends and everyone has been paid",
      ),
    );
  if (currentRecipientId === memberId)
    return err(groupError("member_is_current_recipient", "you are due to receive this round's pot"));
  if (awaitsPayout(group, member))
    return err(
      groupError(
        "member_awaiting_payout",
        "you have paid into this rotation and not yet received your pot: you can leave once you have",
      ),
    );
  const status: MemberStatus =
    group.currentRoundId !== undefined && member.status === "active" ? "leaving" : "left";
  const members = group.members.map((m) => (m.id === memberId ? { ...m, status } : m));
  const payoutOrder = {
    ...group.payoutOrder,
    memberIds: group.payoutOrder.memberIds.filter((id) => id !== memberId),
  };
  const left: Group = {
    ...group,
    members,
    payoutOrder,
    pendingSwaps: group.pendingSwaps.filter((s) => s.proposedBy !== memberId && s.counterparty !== memberId),
  };
  // Between rounds, the last member still due the pot leaving leaves everyone in the order
  // paid: no round end will follow to close the rotation, so the leave closes it. (During a
  // round, that round's end does.) Since member_awaiting_payout, that happens only when no
  // round of the rotation has collected, i.e. the group runs out of members.
  return ok(closeFinishedRotation(left));
}

/**
 * A started group between rounds moves on as a round's end would ({@link markRoundEnded})
 * when its payout order has all been paid (the last member still due left): the next rotation
 * begins, or the group completes after its last; and it completes when fewer than
 * {@link MEMBERS_MIN} members would take part in its next round. Anything else is returned as
 * it is. Older versions left such a group waiting for a round that could never open; opening
 * a round moves a stored one on first.
 */
export function closeFinishedRotation(group: Group): Group {
  const started = group.status === "active" || group.status === "paused";
  return started && group.currentRoundId === undefined ? moveOnBetweenRounds(group) : group;
}

/**
 * An admin (or a platform operator) removes another member. Only while the group is
 * forming and only a member who is not an admin (`member_removal_not_allowed`): once money
 * moves, removing someone would change who pays and who is owed, so members leave for
 * themselves ({@link leaveGroup}) under its rules — which refuse a member whose money is
 * still in the rotation (`member_awaiting_payout`). A forming group holds nobody's money.
 */
export function removeMember(group: Group, actor: GroupActor, memberId: MemberId): Result<Group, GroupError> {
  return requireAdmin(group, actor).andThen(() => {
    const member = findMember(group, memberId);
    if (!member || member.status === "left")
      return err(groupError("member_not_found", `no member ${memberId}`));
    if (group.status !== "forming")
      return err(
        groupError(
          "member_removal_not_allowed",
          "members can only be removed before the group starts; after that they leave for themselves",
        ),
      );
    if (member.role === "admin")
      return err(groupError("member_removal_not_allowed", "an admin cannot be removed; they may leave"));
    return leaveGroup(group, memberId);
  });
}

/** An admin sets the exact payout order (method becomes `fixed`); only while forming. */
export function setFixedPayoutOrder(
  group: Group,
  actorId: GroupActor,
  memberIds: readonly MemberId[],
): Result<Group, GroupError> {
  return requireAdmin(group, actorId).andThen(() => {
    if (group.status !== "forming")
      return err(groupError("group_not_forming", "the order can only be set before the group starts"));
    const expected = contributingMembers(group).map((m) => m.id);
    if (!isPermutationOf(memberIds, expected))
      return err(groupError("invalid_payout_order", "the order must list every member exactly once"));
    return ok({ ...group, payoutOrder: { method: "fixed" as const, memberIds: [...memberIds] } });
  });
}

/**
 * An admin draws the payout order from `seed` (method becomes `seeded_draw`). The seed is
 * stored with the order so anyone can re-derive it with {@link drawPayoutOrder}.
 */
export function drawGroupPayoutOrder(
  group: Group,
  actorId: GroupActor,
  seed: string,
): Result<Group, GroupError> {
  return requireAdmin(group, actorId).andThen(() => {
    if (group.status !== "forming")
      return err(groupError("group_not_forming", "the order can only be drawn before the group starts"));
    if (!textLengthWithin(seed, 8, 128))
      return err(groupError("invalid_payout_order", "the seed must be 8–128 characters"));
    const ids = contributingMembers(group).map((m) => m.id);
    return ok({
      ...group,
      payoutOrder: { method: "seeded_draw" as const, memberIds: drawPayoutOrder(ids, seed), seed },
    });
  });
}

/** An admin switches the order method to a derived one (`join_order`, `reverse_join_order`). */
export function usePayoutOrderMethod(
  group: Group,
  actorId: GroupActor,
  method: "join_order" | "reverse_join_order",
): Result<Group, GroupError> {
  return requireAdmin(group, actorId).andThen(() => {
    if (group.status !== "forming")
      return err(groupError("group_not_forming", "the method can only change before the group starts"));
    return ok({ ...group, payoutOrder: orderFor(method, contributingMembers(group), group.payoutOrder) });
  });
}

function swappable(group: Group, memberId: MemberId): Result<Member, GroupError> {
  const m = findMember(group, memberId);
  if (m?.status !== "active") return err(groupError("member_not_found", `no active member ${memberId}`));
  if (group.rotation.receivedMemberIds.includes(memberId))
    return err(groupError("swap_not_allowed", `${memberId} already received the pot in this rotation`));
  if (!group.payoutOrder.memberIds.includes(memberId))
    return err(groupError("swap_not_allowed", `${memberId} has no position in this rotation`));
  return ok(m);
}

/** One member proposes to swap payout positions with another. */
export function proposeSwap(
  group: Group,
  proposedBy: MemberId,
  counterparty: MemberId,
  at: Instant,
): Result<Group, GroupError> {
  if (isFinal(group)) return err(groupError("group_not_active", `the group is ${group.status}`));
  if (proposedBy === counterparty)
    return err(groupError("swap_not_allowed", "a member cannot swap with themself"));
  return swappable(group, proposedBy)
    .andThen(() => swappable(group, counterparty))
    .map(() => ({
      ...group,
      pendingSwaps: [
        ...group.pendingSwaps.filter(
          (s) => !(s.proposedBy === proposedBy && s.counterparty === counterparty),
        ),
        { proposedBy, counterparty, proposedAt: at },
      ],
    }));
}

/**
 * The counterparty accepts a swap: the two positions are exchanged. Neither may be the
 * recipient of a round already in progress (`currentRecipientId`).
 */
export function acceptSwap(
  group: Group,
  counterparty: MemberId,
  proposedBy: MemberId,
  currentRecipientId?: MemberId,
): Result<Group, GroupError> {
  const swap = group.pendingSwaps.find((s) => s.proposedBy === proposedBy && s.counterparty === counterparty);
  if (!swap) return err(groupError("swap_not_found", "no such swap proposal"));
  if (currentRecipientId === proposedBy || currentRecipientId === counterparty)
    return err(
      groupError("swap_not_allowed", "the current round's recipient cannot swap until it is paid out"),
    );
  return swappable(group, proposedBy)
    .andThen(() => swappable(group, counterparty))
    .map(() => ({
      ...group,
      payoutOrder: {
        ...group.payoutOrder,
        method: "fixed" as const,
        memberIds: swapIds(group.payoutOrder.memberIds, proposedBy, counterparty),
      },
      pendingSwaps: group.pendingSwaps.filter((s) => s !== swap),
    }));
}

function swapIds(ids: readonly MemberId[], a: MemberId, b: MemberId): MemberId[] {
  return ids.map((id) => (id === a ? b : id === b ? a : id));
}

/**
 * Who in the rotation in progress is not ready for money to move, and what they lack:
 * every contributing member pays every round, so needs an active mandate; every member
 * still due the pot this rotation needs payouts enabled, so they can be paid when their
 * turn comes. A member already paid this rotation needs no payout account until the next
 * one (it is checked again when that rotation's rounds open). Members who joined
 * mid-rotation (`pending`) are not in it and are not checked.
 */
export function membersNotReady(group: Group, readinessOf: ReadinessOf): MemberNotReady[] {
  const due = new Set(nextRecipients(group));
  const notReady: MemberNotReady[] = [];
  for (const m of contributingMembers(group)) {
    const readiness = readinessOf(m.id);
    const lacks: ReadinessGap[] = [];
    if (!readiness.mandateActive) lacks.push("mandate");
    if (due.has(m.id) && !readiness.payoutsEnabled) lacks.push("payout_account");
    if (lacks.length > 0) notReady.push({ memberId: m.id, lacks });
  }
  return notReady;
}

/** Refuses with `members_not_ready` (naming who lacks what) unless everyone in the rotation is ready. */
export function requireMembersReady(group: Group, readinessOf: ReadinessOf): Result<Group, GroupError> {
  const notReady = membersNotReady(group, readinessOf);
  return notReady.length === 0 ? ok(group) : err(membersNotReadyError(notReady));
}

/**
 * Starts the group: at least two members, a complete payout order, and everyone in the
 * rotation ready ({@link membersNotReady}) — otherwise every debit of the first round
 * would fail for want of a mandate.
 */
export function activateGroup(
  group: Group,
  actorId: GroupActor,
  readinessOf: ReadinessOf,
): Result<Group, GroupError> {
  return requireAdmin(group, actorId).andThen(() => {
    if (group.status !== "forming")
      return err(groupError("group_not_forming", "the group has already started"));
    const members = contributingMembers(group);
    if (members.length < MEMBERS_MIN)
      return err(groupError("too_few_members", `a group needs at least ${MEMBERS_MIN} members`));
    if (group.payoutOrder.method === "seeded_draw" && group.payoutOrder.seed === undefined)
      return err(groupError("invalid_payout_order", "draw the payout order before starting"));
    if (
      !isPermutationOf(
        group.payoutOrder.memberIds,
        members.map((m) => m.id),
      )
    )
      return err(groupError("invalid_payout_order", "the payout order must list every member exactly once"));
    return requireMembersReady(group, readinessOf).map((g) => moveTo(g, "active"));
  });
}

/** Who receives the next round's pot: the first member in the order not yet paid this rotation. */
export function nextRecipient(group: Group): MemberId | undefined {
  return group.payoutOrder.memberIds.find((id) => !group.rotation.receivedMemberIds.includes(id));
}

/** Everyone still due the pot in this rotation, in payout order. */
export function nextRecipients(group: Group): MemberId[] {
  return group.payoutOrder.memberIds.filter((id) => !group.rotation.receivedMemberIds.includes(id));
}

/**
 * How late a round may open after its slot without moving the rounds after it: the
 * scheduler's own delay (its cron runs every minute; a busy run takes longer) must not push
 * every later round back by as much, round after round.
 */
export const ROUND_OPENING_SLACK_MS = HOUR_MS;

/**
 * When the next round opens: its slot in the schedule fixed from `startsAt`
 * ({@link roundOpensAt}), but never sooner than one cadence after the last round opened
 * (less {@link ROUND_OPENING_SLACK_MS}). A round that opened late — the group was paused, a
 * payout was blocked, members were not ready, or the round itself outlasted its slot (a
 * 10-day window and 3 days' grace are longer than a week) — moves the rounds after it by
 * as much, instead of leaving them overdue and opening them back to back, debiting members
 * again days after the last debit. A round opened within the slack of its slot moves
 * nothing: the slot wins.
 */
export function nextRoundOpensAt(group: Group): Instant {
  const slot = roundOpensAt(group.startsAt, group.cadence, group.rotation.roundSequence, group.timeZone);
  if (group.lastRoundOpenedAt === undefined) return slot;
  const oneCadenceAfterLast =
    roundOpensAt(group.lastRoundOpenedAt, group.cadence, 1, group.timeZone) - ROUND_OPENING_SLACK_MS;
  return Math.max(slot, oneCadenceAfterLast);
}

/**
 * Records that a round opened at `at` (the opener's clock; tests that do not care may leave
 * it out, and the next round then keeps to its slot): the group is busy until the round ends.
 */
export function markRoundOpened(group: Group, roundId: string, at?: Instant): Result<Group, GroupError> {
  if (group.status !== "active") return err(groupError("group_not_active", `the group is ${group.status}`));
  if (group.currentRoundId !== undefined)
    return err(groupError("round_in_progress", `round ${group.currentRoundId} is still in progress`));
  return ok({
    ...group,
    currentRoundId: roundId,
    rotation: { ...group.rotation, roundSequence: group.rotation.roundSequence + 1 },
    ...(at === undefined ? {} : { lastRoundOpenedAt: at }),
  });
}

/**
 * Records how a round ended. Paid out: the recipient is marked as paid for this rotation.
 * Cancelled: nobody is marked, so the same recipient is due again next round. Either way
 * members who asked to leave now leave, and when everyone has been paid the next
 * rotation begins (pending members join it) or the group completes.
 */
export function markRoundEnded(
  group: Group,
  roundId: string,
  outcome: { readonly paidTo: MemberId } | { readonly cancelled: true },
): Result<Group, GroupError> {
  if (group.currentRoundId !== roundId) return ok(group); // already recorded: idempotent
  const received =
    "paidTo" in outcome
      ? [...group.rotation.receivedMemberIds, outcome.paidTo]
      : group.rotation.receivedMemberIds;
  const members = group.members.map((m) => (m.status === "leaving" ? { ...m, status: "left" as const } : m));
  const { currentRoundId: _ended, ...rest } = group;
  const base: Group = { ...rest, members, rotation: { ...group.rotation, receivedMemberIds: received } };
  return ok(moveOnBetweenRounds(base));
}

/**
 * Between rounds: closes the rotation once everyone in the payout order has received the pot
 * (after the last planned rotation the group completes; otherwise the next rotation begins,
 * members who joined mid-rotation take part, and the order is drawn again (seeded draw) or
 * recomputed for who is in it). Then, a group that fewer than {@link MEMBERS_MIN} members
 * would take part in completes: a round needs two contributors, and no money is held between
 * rounds. A rotation someone is still due in, with enough members, is left as it is.
 */
function moveOnBetweenRounds(group: Group): Group {
  const next = endRotationIfEveryonePaid(group);
  if (next.status === "completed" || contributingMembers(next).length >= MEMBERS_MIN) return next;
  return complete(next);
}

/** The group ended for good: nothing is left to pause or resume. */
function complete(group: Group): Group {
  const { pausedReason: _reason, adminPause: _pause, ...done } = group;
  return moveTo(done, "completed");
}

function endRotationIfEveryonePaid(group: Group): Group {
  const received = group.rotation.receivedMemberIds;
  const everyonePaid = group.payoutOrder.memberIds.every((id) => received.includes(id));
  if (!everyonePaid) return group;
  if (group.rotation.number >= group.rotationsPlanned) return complete(group);
  const nextMembers = group.members.map((m) =>
    m.status === "pending" ? { ...m, status: "active" as const } : m,
  );
  const next: Group = { ...group, members: nextMembers };
  const method = next.payoutOrder.method;
  const order =
    method === "seeded_draw" && next.payoutOrder.seed !== undefined
      ? {
          method,
          memberIds: drawPayoutOrder(
            contributingMembers(next).map((m) => m.id),
            `${next.payoutOrder.seed}:rotation:${group.rotation.number + 1}`,
          ),
          seed: next.payoutOrder.seed,
        }
      : orderFor(method, contributingMembers(next), next.payoutOrder);
  return {
    ...next,
    payoutOrder: order,
    rotation: {
      number: group.rotation.number + 1,
      receivedMemberIds: [],
      roundSequence: group.rotation.roundSequence,
    },
  };
}

/**
 * Pauses the group because a round's payout could not be delivered. A group an admin has
 * paused keeps the admin's pause (and reason): it already opens no round, and only an
 * admin resumes it.
 */
export function pauseGroup(group: Group, reason: string): Group {
  if (group.status !== "active" && group.status !== "paused") return group;
  if (group.adminPause !== undefined) return group;
  return { ...moveTo(group, "paused"), pausedReason: reason };
}

/**
 * An admin (or a platform operator) pauses a started group: no round opens until an admin
 * resumes it. A round already in progress finishes — its debits are with the bank. A group
 * a blocked payout paused may be paused by an admin as well, so it stays paused when the
 * payout goes through. Refused before the group starts, once it ended, and when an admin
 * already paused it (`group_not_active`).
 */
export function pauseGroupByAdmin(
  group: Group,
  actor: GroupActor,
  reason: string,
  at: Instant,
): Result<Group, GroupError> {
  return requireAdmin(group, actor).andThen(() => {
    const why = reason.trim();
    if (!textLengthWithin(why, 1, 500))
      return err(groupError("invalid_group", "a pause needs a reason of 1–500 characters"));
    if (group.status === "paused" && group.adminPause !== undefined)
      return err(groupError("group_not_active", `the group is already paused by ${group.adminPause.by}`));
    if (group.status !== "active" && group.status !== "paused")
      return err(groupError("group_not_active", `the group is ${group.status}`));
    return ok({
      ...moveTo(group, "paused"),
      pausedReason: why,
      adminPause: { by: actorName(actor), at, reason: why },
    });
  });
}

/** Resumes a paused group (an admin's command; the admin checks are the use case's). */
export function resumeGroup(group: Group): Result<Group, GroupError> {
  if (group.status !== "paused") return err(groupError("group_not_paused", `the group is ${group.status}`));
  const { pausedReason: _reason, adminPause: _pause, ...rest } = group;
  return ok(moveTo(rest, "active"));
}

/**
 * Lifts the pause a blocked payout caused, once the payout goes through. An admin's pause
 * stays: only an admin resumes the group.
 */
export function endPayoutPause(group: Group): Group {
  if (group.status !== "paused" || group.adminPause !== undefined) return group;
  return resumeGroup(group).unwrapOr(group);
}

/**
 * An admin (or a platform operator) closes the group for good: no round opens again,
 * nobody joins. Only between rounds (`round_in_progress` while one collects or pays out,
 * so no money is left half-moved), and not once it has ended (`group_not_active`).
 *
 * Nor while the rotation in progress holds someone's money (`rotation_in_progress`): once a
 * round of it has paid out, every member still due its pot has paid into it
 * ({@link awaitsPayout}) and closing would keep their money with the members paid before
 * them — as leaving would (`member_awaiting_payout`). So a started group closes before the
 * first payout of a rotation (a cancelled round refunded what it collected) or at a
 * rotation's boundary, once its last round paid the last member due; until then an admin
 * may pause it. Operators too: the group has no way to pay the members back on closing.
 */
export function closeGroup(
  group: Group,
  actor: GroupActor,
  reason: string,
  at: Instant,
): Result<Group, GroupError> {
  return requireAdmin(group, actor).andThen(() => {
    const why = reason.trim();
    if (!textLengthWithin(why, 1, 500))
      return err(groupError("invalid_group", "a closure needs a reason of 1–500 characters"));
    if (isFinal(group)) return err(groupError("group_not_active", `the group is already ${group.status}`));
    if (group.currentRoundId !== undefined)
      return err(
        groupError("round_in_progress", `round ${group.currentRoundId} is in progress; close once it ends`),
      );
    const owed = group.members.filter((m) => awaitsPayout(group, m)).map((m) => m.id);
    if (owed.length > 0)
      return err(
        groupError(
          "rotation_in_progress",
          `${owed.join(", ")} ${owed.length === 1 ? "has" : "have"} paid into rotation ${group.rotation.number} and not yet received their pot: close once its last round has paid them (pause the group meanwhile)`,
        ),
      );
    // Nothing is left to resume or swap in a closed group.
    const { pausedReason: _reason, adminPause: _pause, ...rest } = group;
    return ok({
      ...moveTo(rest, "closed"),
      pendingSwaps: [],
      closure: { by: actorName(actor), at, reason: why },
    });
  });
}

/** The settings an admin may change before the group starts; absent ones stay. */
export interface GroupSettings {
  readonly name?: string;
  readonly currency?: CurrencyCode;
  readonly contributionMinor?: number;
  readonly cadence?: Cadence;
  readonly startsAt?: Instant;
  readonly timeZone?: TimeZone;
  readonly payoutOrderMethod?: PayoutOrderMethod;
  readonly rotationsPlanned?: number;
}

/**
 * An admin (or a platform operator) changes the group's settings while it is forming
 * (`group_not_forming` after: members agreed to what it was when it started). The same
 * shape rules as at creation; a new payout order method re-derives the order the way
 * {@link usePayoutOrderMethod} does (`seeded_draw`: draw it before activating). Amount
 * rules (minimum charge, step) and `startsAt` from now to a year ahead
 * ({@link checkGroupStart}) are the use case's checks.
 */
export function updateGroupSettings(
  group: Group,
  actor: GroupActor,
  settings: GroupSettings,
): Result<Group, GroupError> {
  return requireAdmin(group, actor).andThen(() => {
    if (group.status !== "forming")
      return err(groupError("group_not_forming", "settings can only change before the group starts"));
    const currency = settings.currency ?? group.currency;
    if (debitMethodFor(currency) === undefined)
      return err(
        groupError(
          "currency_not_supported",
          `no supported debit method collects ${currency}; groups can use ${COLLECTABLE_CURRENCIES.join(", ")}`,
        ),
      );
    const name = (settings.name ?? group.name).trim();
    if (!textLengthWithin(name, 1, 100))
      return err(groupError("invalid_group", "name must be 1–100 characters"));
    const contributionMinor = settings.contributionMinor ?? group.contributionMinor;
    if (!Number.isSafeInteger(contributionMinor) || contributionMinor <= 0)
      return err(groupError("invalid_group", "contribution must be a positive whole number of minor units"));
    const rotationsPlanned = settings.rotationsPlanned ?? group.rotationsPlanned;
    if (!Number.isSafeInteger(rotationsPlanned) || rotationsPlanned < 1 || rotationsPlanned > 12)
      return err(groupError("invalid_group", "rotationsPlanned must be between 1 and 12"));
    const timeZone = canonicalTimeZone(settings.timeZone ?? group.timeZone);
    if (timeZone === undefined) return err(timeZoneError(settings.timeZone ?? ""));
    const method = settings.payoutOrderMethod;
    const payoutOrder =
      method === undefined || method === group.payoutOrder.method
        ? group.payoutOrder
        : method === "seeded_draw"
          ? { method, memberIds: contributingMembers(group).map((m) => m.id) }
          : orderFor(method, contributingMembers(group), group.payoutOrder);
    return ok({
      ...group,
      name,
      currency,
      contributionMinor,
      cadence: settings.cadence ?? group.cadence,
      startsAt: settings.startsAt ?? group.startsAt,
      timeZone,
      rotationsPlanned,
      payoutOrder,
    });
  });
}

/** Moves the group to `to`, checked against {@link GROUP_TRANSITIONS} (a forbidden move is a bug). */
function moveTo<G extends Group>(group: G, to: GroupStatus): G {
  GROUP_TRANSITIONS.assertMove(group.id, group.status, to);
  return { ...group, status: to };
}

/**
 * Moves the payout of the current rotation from `from` to `to` (an admin reassigning a
 * blocked payout): the two members swap positions, so each still receives exactly once.
 */
export function reassignPosition(group: Group, from: MemberId, to: MemberId): Result<Group, GroupError> {
  if (from === to) return err(groupError("swap_not_allowed", "the payout is already theirs"));
  if (!group.payoutOrder.memberIds.includes(to) || group.rotation.receivedMemberIds.includes(to))
    return err(
      groupError("swap_not_allowed", `${to} has already been paid this rotation or has no position`),
    );
  const target = findMember(group, to);
  if (target?.status !== "active") return err(groupError("member_not_found", `no active member ${to}`));
  return ok({
    ...group,
    payoutOrder: {
      ...group.payoutOrder,
      method: "fixed" as const,
      memberIds: swapIds(group.payoutOrder.memberIds, from, to),
    },
  });
}
