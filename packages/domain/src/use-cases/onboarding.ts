import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import { groupError } from "../group/group.errors.js";
import { findMember } from "../group/group.js";
import type { GroupId, MemberId } from "../group/ids.js";
import type { PersonId } from "../person/ids.js";
import { type MemberReadiness, type Person, personReadiness } from "../person/person.js";
import { personKeys } from "../person/person-keys.js";
import { isGoneCode } from "../policy/failure-codes.js";
import type { GatewayError, PaymentGateway } from "../ports/payment-gateway.js";
import type { UseCaseDeps, UseCaseError } from "./deps.js";
import { loadGroup } from "./group-use-cases.js";
import { loadPerson } from "./load-people.js";
import { payoutScheduleOf } from "./payout-use-cases.js";
import { updatePersonPayment } from "./person-use-cases.js";

/** Why onboarding failed: the use case's own errors, or the provider's. */
export type OnboardingError = UseCaseError | GatewayError;

/** A member of the group who has not left; onboarding through a group is for its members. */
function memberOf(
  deps: UseCaseDeps,
  groupId: GroupId,
  memberId: MemberId,
): ResultAsync<PersonId, OnboardingError> {
  return loadGroup(deps, groupId).andThen((group) => {
    const member = findMember(group, memberId);
    if (member === undefined || member.status === "left")
      return errAsync(groupError("member_not_found", `no member ${memberId}`));
    return okAsync(member.id);
  });
}

/**
 * The person's Stripe customer: the stored one, or a new one recorded on the person. The
 * first request for it is recorded on the person before it is sent (`customerRequestedAt`):
 * a request made with none recorded is the first, so the provider makes the customer under
 * its key straight away; a later one is a retry whose earlier attempt may have reached the
 * provider, and names when the first was made so the provider can tell whether its key is
 * still kept or it must look for the customer that attempt made.
 */
export function ensureCustomer(
  deps: UseCaseDeps,
  gateway: PaymentGateway,
  person: Person,
): ResultAsync<string, OnboardingError> {
  if (person.customerId !== undefined) return okAsync(person.customerId);
  const requested =
    person.customerRequestedAt !== undefined
      ? okAsync<Person, OnboardingError>(person)
      : updatePersonPayment(deps, person.id, { customerRequestedAt: deps.clock.now() }, person.id);
  return requested.andThen((recorded) => {
    // Another request may have recorded the customer (or the first request) meanwhile.
    if (recorded.customerId !== undefined) return okAsync(recorded.customerId);
    const requestedAt = recorded.customerRequestedAt ?? deps.clock.now();
    return gateway
      .createCustomer({
        // One customer per person, however often this is retried and from whichever group.
        idempotencyKey: personKeys.customer(person.id),
        name: person.displayName,
        references: { personId: person.id },
        // Every request under this key was sent at or after the first was recorded.
        effectCreatedAt: requestedAt,
        // No customer made under this key can be older than the first request: bounds the
        // provider's look-up for one an earlier call made (its answer lost, its key forgotten).
        notBefore: requestedAt,
      })
      .andThen(({ customerId }) =>
        updatePersonPayment(deps, person.id, { customerId }, person.id).map(() => customerId),
      );
  });
}

/**
 * Starts (or restarts) a person's BECS Direct Debit set-up: creates their Stripe customer
 * if needed and a SetupIntent whose client secret the person's app confirms with their
 * bank details and mandate acceptance. The mandate is recorded on the person when Stripe
 * reports the set-up succeeded (webhook), not here, and serves every group they are in.
 *
 * @param attemptKey distinguishes deliberate new set-ups (e.g. after a revoked mandate)
 *   from retries of the same request, which must return the same SetupIntent.
 */
export function startPersonDebitSetup(
  deps: UseCaseDeps,
  gateway: PaymentGateway,
  personId: PersonId,
  attemptKey: string,
): ResultAsync<{ readonly setupIntentId: string; readonly clientSecret: string }, OnboardingError> {
  return loadPerson(deps, personId).andThen((person) =>
    ensureCustomer(deps, gateway, person).andThen((customerId) =>
      gateway.createDebitSetup({
        idempotencyKey: personKeys.debitSetup(personId, attemptKey),
        customerId,
        references: { personId },
      }),
    ),
  );
}

/**
 * Starts a person's payout onboarding: creates their Express connected account if needed
 * and returns a single-use onboarding link (an update link once payouts are enabled).
 * Readiness is recorded when Stripe reports the account can receive (`account.updated`),
 * not here.
 */
export function startPersonPayoutOnboarding(
  deps: UseCaseDeps,
  gateway: PaymentGateway,
  personId: PersonId,
  urls: { readonly refreshUrl: string; readonly returnUrl: string; readonly country: string },
): ResultAsync<{ readonly url: string; readonly expiresAt: number }, OnboardingError> {
  return loadPerson(deps, personId).andThen((person) => {
    const account =
      person.payout !== undefined
        ? okAsync<string, OnboardingError>(person.payout.connectedAccountId)
        : gateway
            .createConnectedAccount({
              // One connected account per person, whichever group they onboard from.
              idempotencyKey: personKeys.connectedAccount(personId),
              country: urls.country,
              payoutSchedule: payoutScheduleOf(deps),
              references: { personId },
            })
            .andThen(({ accountId }) =>
              updatePersonPayment(deps, personId, { connectedAccountId: accountId }, personId).map(
                () => accountId,
              ),
            );
    return account.andThen((accountId) =>
      gateway.createOnboardingLink({
        accountId,
        kind: person.payout?.payoutsEnabled ? "update" : "onboarding",
        refreshUrl: urls.refreshUrl,
        returnUrl: urls.returnUrl,
      }),
    );
  });
}

/**
 * {@link startPersonDebitSetup} for a member of a group, as the group's onboarding screens
 * ask for it: refused for someone who is not a member (`member_not_found`). The set-up is
 * the person's, shared by all their groups.
 */
export function startDebitSetup(
  deps: UseCaseDeps,
  gateway: PaymentGateway,
  groupId: GroupId,
  memberId: MemberId,
  attemptKey: string,
): ResultAsync<{ readonly setupIntentId: string; readonly clientSecret: string }, OnboardingError> {
  return memberOf(deps, groupId, memberId).andThen((personId) =>
    startPersonDebitSetup(deps, gateway, personId, attemptKey),
  );
}

/**
 * {@link startPersonPayoutOnboarding} for a member of a group (`member_not_found` for
 * anyone else). The account is the person's, shared by all their groups.
 */
export function startPayoutOnboarding(
  deps: UseCaseDeps,
  gateway: PaymentGateway,
  groupId: GroupId,
  memberId: MemberId,
  urls: { readonly refreshUrl: string; readonly returnUrl: string; readonly country: string },
): ResultAsync<{ readonly url: string; readonly expiresAt: number }, OnboardingError> {
  return memberOf(deps, groupId, memberId).andThen((personId) =>
    startPersonPayoutOnboarding(deps, gateway, personId, urls),
  );
}

/** What a person still has to do before money can move for them. */
export type OnboardingDue =
  /** No BECS debit set up yet: start one (`startPersonDebitSetup`). */
  | "mandate_missing"
  /** A mandate exists but the bank or Stripe reports it inactive (revoked, failed): set up again. */
  | "mandate_inactive"
  /** No payout account yet: start payout onboarding (`startPersonPayoutOnboarding`). */
  | "payout_account_missing"
  /** The account exists but cannot receive yet: finish onboarding (`requirementsDue` says what). */
  | "payouts_not_enabled"
  /** The provider no longer lets the platform read the account (deleted, disconnected): onboard again. */
  | "payout_account_gone";

/** A person's onboarding as their app shows it: readiness, what is due, and the provider's requirements. */
export interface PersonOnboarding {
  readonly person: Person;
  readonly readiness: MemberReadiness;
  /** Empty when the person is ready for every group. */
  readonly due: readonly OnboardingDue[];
  /** The connected account's requirements still due at the provider; undefined without an account. */
  readonly requirementsDue: readonly string[] | undefined;
}

/**
 * Where a person's onboarding stands, once for all their groups: their readiness (as
 * recorded from the provider's webhooks), what is still due, and — when they have a payout
 * account — the requirements the provider still asks for, read from it now (they change
 * without any event susu acts on).
 */
export function personOnboarding(
  deps: UseCaseDeps,
  gateway: PaymentGateway,
  personId: PersonId,
): ResultAsync<PersonOnboarding, OnboardingError> {
  return loadPerson(deps, personId).andThen((person) => {
    const readiness = personReadiness(person);
    const due: OnboardingDue[] = [];
    if (person.debit === undefined) due.push("mandate_missing");
    else if (!person.debit.mandateActive) due.push("mandate_inactive");
    if (person.payout === undefined) due.push("payout_account_missing");
    else if (!person.payout.payoutsEnabled) due.push("payouts_not_enabled");
    const requirements =
      person.payout === undefined
        ? okAsync<readonly string[] | undefined, OnboardingError>(undefined)
        : gateway
            .getConnectedAccount(person.payout.connectedAccountId)
            .map((a): readonly string[] | undefined => a.requirementsDue)
            // An account the provider will not show any more is news for the person, not a
            // failure of this read: they must onboard again.
            .orElse((e) => {
              if (e.type !== "gateway_definite" || !isGoneCode(e.code))
                return errAsync<readonly string[] | undefined, OnboardingError>(e);
              due.push("payout_account_gone");
              return okAsync<readonly string[] | undefined, OnboardingError>(undefined);
            });
    return requirements.map((requirementsDue) => ({ person, readiness, due, requirementsDue }));
  });
}
