import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import { groupError } from "../group/group.errors.js";
import { findMember, type Group, type Member } from "../group/group.js";
import type { GroupId, MemberId } from "../group/ids.js";
import type { GatewayError, PaymentGateway } from "../ports/payment-gateway.js";
import type { UseCaseDeps, UseCaseError } from "./deps.js";
import { loadGroup, updateMemberPayment } from "./group-use-cases.js";

/** Why onboarding failed: the use case's own errors, or the provider's. */
export type OnboardingError = UseCaseError | GatewayError;

function memberOf(group: Group, memberId: MemberId): ResultAsync<Member, OnboardingError> {
  const member = findMember(group, memberId);
  if (member === undefined || member.status === "left")
    return errAsync(groupError("member_not_found", `no member ${memberId}`));
  return okAsync(member);
}

/** The member's Stripe customer: the stored one, or a new one recorded on the group first. */
function ensureCustomer(
  deps: UseCaseDeps,
  gateway: PaymentGateway,
  group: Group,
  member: Member,
): ResultAsync<string, OnboardingError> {
  if (member.payment.customerId !== undefined) return okAsync(member.payment.customerId);
  return gateway
    .createCustomer({
      // One customer per membership, however often this is retried.
      idempotencyKey: `${group.id}:${member.id}:customer`,
      name: member.displayName,
      references: { groupId: group.id, memberId: member.id },
    })
    .andThen(({ customerId }) =>
      updateMemberPayment(deps, group.id, member.id, { customerId }, member.id).map(() => customerId),
    );
}

/**
 * Starts (or restarts) a member's BECS Direct Debit set-up: creates their Stripe customer
 * if needed and a SetupIntent whose client secret the member's app confirms with their
 * bank details and mandate acceptance. The mandate is recorded when Stripe reports the
 * set-up succeeded (webhook), not here.
 *
 * @param attemptKey distinguishes deliberate new set-ups (e.g. after a revoked mandate)
 *   from retries of the same request, which must return the same SetupIntent.
 */
export function startDebitSetup(
  deps: UseCaseDeps,
  gateway: PaymentGateway,
  groupId: GroupId,
  memberId: MemberId,
  attemptKey: string,
): ResultAsync<{ readonly setupIntentId: string; readonly clientSecret: string }, OnboardingError> {
  return loadGroup(deps, groupId).andThen((group) =>
    memberOf(group, memberId).andThen((member) =>
      ensureCustomer(deps, gateway, group, member).andThen((customerId) =>
        gateway.createDebitSetup({
          idempotencyKey: `${groupId}:${memberId}:debit_setup:${attemptKey}`,
          customerId,
          references: { groupId, memberId },
        }),
      ),
    ),
  );
}

/**
 * Starts a member's payout onboarding: creates their Express connected account if needed
 * and returns a single-use onboarding link. Readiness is recorded when Stripe reports the
 * account can receive (`account.updated`), not here.
 */
export function startPayoutOnboarding(
  deps: UseCaseDeps,
  gateway: PaymentGateway,
  groupId: GroupId,
  memberId: MemberId,
  urls: { readonly refreshUrl: string; readonly returnUrl: string; readonly country: string },
): ResultAsync<{ readonly url: string; readonly expiresAt: number }, OnboardingError> {
  return loadGroup(deps, groupId).andThen((group) =>
    memberOf(group, memberId).andThen((member) => {
      const account =
        member.payment.connectedAccountId !== undefined
          ? okAsync<string, OnboardingError>(member.payment.connectedAccountId)
          : gateway
              .createConnectedAccount({
                idempotencyKey: `${groupId}:${memberId}:connected_account`,
                country: urls.country,
                references: { groupId, memberId },
              })
              .andThen(({ accountId }) =>
                updateMemberPayment(deps, groupId, memberId, { connectedAccountId: accountId }, memberId).map(
                  () => accountId,
                ),
              );
      return account.andThen((accountId) =>
        gateway.createOnboardingLink({
          accountId,
          kind: member.readiness.payoutsEnabled ? "update" : "onboarding",
          refreshUrl: urls.refreshUrl,
          returnUrl: urls.returnUrl,
        }),
      );
    }),
  );
}
