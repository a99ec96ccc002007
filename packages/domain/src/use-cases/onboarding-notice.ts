import { okAsync, type ResultAsync } from "neverthrow";
import { PAYOUT_AGGREGATE, type PayoutEffect } from "../payout/payout-effect.js";
import { payoutIds } from "../payout/payout-ids.js";
import type { Person } from "../person/person.js";
import type { ConnectedAccountStatus } from "../ports/payment-gateway.js";
import { hash32 } from "../shared/hash.js";
import type { UseCaseDeps, UseCaseError } from "./deps.js";

/** How many requirement names a notice lists; the rest are counted. */
const LISTED_MAX = 8;

/**
 * A stable key for what an account is asked for: the requirement names (sorted, without
 * repeats) and the reason it is disabled. Two reports asking for the same things give the
 * same key; anything added, removed or a different reason gives another.
 */
export function onboardingRequirementsKey(status: ConnectedAccountStatus): string {
  const names = [...new Set(status.requirementsDue)].sort();
  const canonical = `${names.join(",")}|${status.disabledReason ?? ""}`;
  // Two independent 32-bit hashes (of the text and of it reversed) and the count: the key
  // stays short whatever Stripe lists, and two different sets sharing one is not a concern.
  const other = hash32([...canonical].reverse().join(""));
  return `${names.length}-${hash32(canonical).toString(16).padStart(8, "0")}${other.toString(16).padStart(8, "0")}`;
}

/**
 * Whether the account's person must be told their onboarding is incomplete: the account
 * cannot receive (transfers or payouts), Stripe says what it needs (requirements due, or
 * a reason it is disabled), and the person has been through the onboarding form
 * (`detailsSubmitted`). While they are still filling it in, every step changes what is
 * due: telling them then would be noise, and the onboarding pages already say it.
 */
export function onboardingIncomplete(status: ConnectedAccountStatus): boolean {
  const cannotReceive = !(status.transfersActive && status.payoutsEnabled);
  const asked = status.requirementsDue.length > 0 || status.disabledReason !== undefined;
  return cannotReceive && asked && status.detailsSubmitted;
}

/** The notice telling the person what is missing and where to continue, or undefined when none is owed. */
export function onboardingIncompleteEffect(
  person: Person,
  status: ConnectedAccountStatus,
): PayoutEffect | undefined {
  if (!onboardingIncomplete(status)) return undefined;
  const names = [...new Set(status.requirementsDue)].sort();
  const listed = names.slice(0, LISTED_MAX);
  return {
    kind: "notify",
    id: payoutIds.onboardingIncompleteNotice(status.accountId, onboardingRequirementsKey(status)),
    aggregate: PAYOUT_AGGREGATE,
    aggregateId: status.accountId,
    to: { kind: "people", personIds: [person.id] },
    template: "onboarding_incomplete",
    data: {
      accountId: status.accountId,
      requirements: listed.join(", "),
      ...(names.length > listed.length ? { moreRequirements: names.length - listed.length } : {}),
      ...(status.disabledReason !== undefined ? { disabledReason: status.disabledReason } : {}),
      onboardingPath: `/v1/people/${encodeURIComponent(person.id)}/payout-onboarding`,
    },
  };
}

/**
 * Queues the onboarding-incomplete notice for the person of a connected account, when the
 * account as the provider reports it now owes one. Its id is the account's and the set of
 * requirements': the outbox keeps an id once, so hearing the same requirements again (each
 * `account.updated`, a replayed event) sends nothing more; a new set sends a new notice.
 */
export function noticeOnboardingIncomplete(
  deps: UseCaseDeps,
  person: Person,
  status: ConnectedAccountStatus,
  actor: string,
): ResultAsync<string | undefined, UseCaseError> {
  const effect = onboardingIncompleteEffect(person, status);
  if (effect === undefined) return okAsync(undefined);
  const detail = `onboarding of ${status.accountId} incomplete: ${person.id} told what is missing`;
  return deps.uow
    .commit({
      people: [],
      groups: [],
      rounds: [],
      outbox: [effect],
      audit: [
        {
          at: deps.clock.now(),
          aggregate: PAYOUT_AGGREGATE,
          aggregateId: status.accountId,
          action: "onboarding_incomplete",
          outcome: "applied",
          detail,
          actor,
        },
      ],
    })
    .map(() => detail);
}
