import {
  type ConnectedAccountStatus,
  type GatewayError,
  type Group,
  type MandateStatus,
  markRoundOpened,
  type PaymentReferences,
  type PaymentStatus,
  type ReportedPaymentMethod,
  type RoundInput,
  type UseCaseDeps,
} from "@susu/domain";
import { anActiveGroup, aRoundOf, type InMemoryStore, peopleOf } from "@susu/domain/testing";
import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import type { WebhookGateway } from "../../src/webhooks/index.js";

/**
 * Stands in for Stripe's reads in processor tests that do not need the emulator: accounts,
 * mandates and payment references as the test sets them, with every call recorded.
 */
export class ScriptedStripeReads implements WebhookGateway {
  readonly accounts = new Map<string, { transfersActive: boolean; payoutsEnabled: boolean } | GatewayError>();
  readonly mandates = new Map<string, MandateStatus["status"] | GatewayError>();
  readonly references = new Map<string, PaymentReferences | GatewayError>();
  readonly calls: string[] = [];

  getPaymentReferences(ids: {
    readonly paymentIntentId?: string;
    readonly chargeId?: string;
  }): ResultAsync<PaymentReferences | undefined, GatewayError> {
    const key = ids.paymentIntentId ?? ids.chargeId ?? "";
    this.calls.push(`references:${key}`);
    const found = this.references.get(key);
    return found !== undefined && "type" in found ? errAsync(found) : okAsync(found);
  }

  getConnectedAccount(accountId: string): ResultAsync<ConnectedAccountStatus, GatewayError> {
    this.calls.push(`account:${accountId}`);
    const found = this.accounts.get(accountId) ?? {
      type: "gateway_definite",
      code: "resource_missing",
      message: `No such account: '${accountId}'`,
    };
    if ("type" in found) return errAsync(found);
    return okAsync({
      accountId,
      detailsSubmitted: true,
      chargesEnabled: true,
      payoutsEnabled: found.payoutsEnabled,
      transfersActive: found.transfersActive,
      requirementsDue: [],
    });
  }

  readonly payments = new Map<string, PaymentStatus | GatewayError>();

  /** Payment methods as Stripe holds them; unknown ones are `resource_missing`. */
  readonly paymentMethods = new Map<string, ReportedPaymentMethod>();

  getPaymentMethod(paymentMethodId: string): ResultAsync<ReportedPaymentMethod, GatewayError> {
    this.calls.push(`payment_method:${paymentMethodId}`);
    const found = this.paymentMethods.get(paymentMethodId);
    return found !== undefined
      ? okAsync(found)
      : errAsync({
          type: "gateway_definite",
          code: "resource_missing",
          message: `No such PaymentMethod: '${paymentMethodId}'`,
        });
  }

  getPayment(paymentIntentId: string): ResultAsync<PaymentStatus, GatewayError> {
    this.calls.push(`payment:${paymentIntentId}`);
    const found = this.payments.get(paymentIntentId) ?? {
      type: "gateway_definite",
      code: "resource_missing",
      message: `No such payment_intent: '${paymentIntentId}'`,
    };
    return "type" in found ? errAsync(found) : okAsync(found);
  }

  getMandate(mandateId: string): ResultAsync<MandateStatus, GatewayError> {
    this.calls.push(`mandate:${mandateId}`);
    const found = this.mandates.get(mandateId) ?? "active";
    if (typeof found !== "string") return errAsync(found);
    return okAsync({ mandateId, status: found, paymentMethodId: "pm_any" });
  }
}

/**
 * Stores an active group, its members as onboarded people (Stripe ids `cus_<id>`,
 * `mandate_<id>`, `acct_<id>`; people already stored are kept), with `roundId` open and the
 * inputs applied, as the group's current round.
 */
export async function seedRound(
  store: InMemoryStore,
  options: {
    readonly groupId: string;
    readonly roundId: string;
    readonly memberIds: readonly string[];
    readonly inputs?: readonly RoundInput[];
  },
): Promise<{ group: Group; recipient: string }> {
  const base = anActiveGroup({ id: options.groupId, memberIds: options.memberIds });
  const round = aRoundOf(base, options.inputs ?? [], { id: options.roundId });
  const group = markRoundOpened(base, options.roundId)._unsafeUnwrap();
  const known = new Set(store.people().map((p) => p.id));
  (
    await store.commit({
      people: peopleOf(group)
        .filter((p) => !known.has(p.id))
        .map((state) => ({ state, expectedVersion: undefined })),
      groups: [{ state: group, expectedVersion: undefined }],
      rounds: [{ state: round, expectedVersion: undefined }],
      outbox: [],
      audit: [],
    })
  )._unsafeUnwrap();
  return { group, recipient: round.recipientMemberId };
}

/** A round repository that fails while `failing` is set, as a database that went away. */
export function flakyRounds(deps: UseCaseDeps, state: { failing: boolean }): UseCaseDeps {
  return {
    ...deps,
    rounds: {
      getRound: (id) =>
        state.failing
          ? errAsync({
              type: "storage_unavailable",
              code: "storage_unavailable",
              message: "connection refused",
            })
          : deps.rounds.getRound(id),
      listRoundsOfGroup: (id) => deps.rounds.listRoundsOfGroup(id),
    },
  };
}
