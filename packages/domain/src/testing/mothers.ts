import type { Group } from "../group/group.js";
import { activateGroup, createGroup, joinGroup } from "../group/group.js";
import type { PersonId } from "../person/ids.js";
import type { Person } from "../person/person.js";
import { DEFAULT_ROUND_POLICY } from "../policy/round-policy.js";
import { type DecideContext, decide } from "../round/decide.js";
import { newRound, type Round } from "../round/round.js";
import type { RoundInput } from "../round/round-input.js";
import { DAY_MS, type Instant } from "../shared/time.js";

const T0: Instant = Date.UTC(2026, 0, 5);

/**
 * A person who finished onboarding: customer `cus_<id>`, an active mandate `mandate_<id>`
 * with `pm_<id>`, and a connected account `acct_<id>` that can receive (unless
 * `payoutsEnabled` is false). Test-data builder ("object mother").
 */
export function aReadyPerson(
  id: PersonId,
  options: { readonly payoutsEnabled?: boolean; readonly mandateActive?: boolean } = {},
): Person {
  return {
    id,
    displayName: id.toUpperCase(),
    customerId: `cus_${id}`,
    debit: {
      paymentMethodId: `pm_${id}`,
      mandateId: `mandate_${id}`,
      mandateActive: options.mandateActive ?? true,
    },
    payout: { connectedAccountId: `acct_${id}`, payoutsEnabled: options.payoutsEnabled ?? true },
    createdAt: T0,
    version: 0,
  };
}

/** The people behind a group's members, onboarded ({@link aReadyPerson}): what storage needs before the group. */
export function peopleOf(group: Group): Person[] {
  return group.members.map((m) => aReadyPerson(m.id));
}

/**
 * An active group of `memberIds` (the first is the admin). Activation needs everyone
 * ready, so the members are taken to be people who onboarded ({@link peopleOf} gives
 * them, to store with the group). Test-data builder ("object mother").
 */
export function anActiveGroup(
  overrides: {
    readonly id?: string;
    readonly memberIds?: readonly string[];
    readonly startsAt?: Instant;
  } = {},
): Group {
  const memberIds = overrides.memberIds ?? ["ana", "ben", "cy"];
  const [admin = "ana", ...others] = memberIds;
  let group = createGroup({
    id: overrides.id ?? "grp_1",
    name: "Test group",
    currency: "AUD",
    contributionMinor: 100_00,
    cadence: "weekly",
    startsAt: overrides.startsAt ?? T0 + DAY_MS,
    payoutOrderMethod: "join_order",
    creator: { id: admin, displayName: admin.toUpperCase() },
    createdAt: T0,
  })._unsafeUnwrap();
  for (const id of others)
    group = joinGroup(group, { id, displayName: id.toUpperCase(), joinedAt: T0 })._unsafeUnwrap();
  return activateGroup(group, admin, () => ({ mandateActive: true, payoutsEnabled: true }))._unsafeUnwrap();
}

/**
 * A round of `group` after `inputs` were applied to it (opened first), for tests that
 * need a round in a given state. Throws if an input is refused.
 */
export function aRoundOf(
  group: Group,
  inputs: readonly RoundInput[] = [],
  options: { readonly id?: string; readonly now?: Instant } = {},
): Round {
  const ctx: DecideContext = { now: options.now ?? T0 + DAY_MS, policy: DEFAULT_ROUND_POLICY };
  let round = newRound({
    id: options.id ?? "round_1",
    groupId: group.id,
    rotation: 1,
    sequence: 0,
    recipientMemberId: group.payoutOrder.memberIds[0] ?? "",
    recipientCanReceive: true,
    contributorIds: group.members.map((m) => m.id),
    currency: group.currency,
    contributionMinor: group.contributionMinor,
    scheduledFor: ctx.now,
  })._unsafeUnwrap();
  for (const input of [{ type: "open" } as const, ...inputs])
    round = decide(round, input, ctx)._unsafeUnwrap().state;
  return round;
}

/** A member's debit `attempt` reported processing (PaymentIntent `pi_<member>_<attempt>`). */
export const debitProcessing = (memberId: string, attempt = 1): RoundInput => ({
  type: "debit_processing",
  memberId,
  attempt,
  paymentIntentId: `pi_${memberId}_${attempt}`,
});

/** A member's debit `attempt` reported succeeded (charge `ch_<member>_<attempt>`). */
export const debitSucceeded = (memberId: string, attempt = 1): RoundInput => ({
  type: "debit_succeeded",
  memberId,
  attempt,
  paymentIntentId: `pi_${memberId}_${attempt}`,
  chargeId: `ch_${memberId}_${attempt}`,
});

/** A member's debit `attempt` reported failed with `failureCode`. */
export const debitFailed = (memberId: string, failureCode: string, attempt = 1): RoundInput => ({
  type: "debit_failed",
  memberId,
  attempt,
  paymentIntentId: `pi_${memberId}_${attempt}`,
  failureCode,
});
