import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import type { Group } from "../group/group.js";
import { money } from "../money/index.js";
import type { PersonId } from "../person/ids.js";
import type { Person } from "../person/person.js";
import type { LedgerStore } from "../ports/ledger-store.js";
import type { Notifier } from "../ports/notifier.js";
import type { DebitOutcome, GatewayError, PaymentGateway } from "../ports/payment-gateway.js";
import type { SupportDesk } from "../ports/support-desk.js";
import type { TimerScheduler } from "../ports/timer-scheduler.js";
import type { NotifyAudience, OutboxEffect } from "../round/round-effect.js";
import type { RoundInput } from "../round/round-input.js";
import { notFound, type UseCaseDeps } from "./deps.js";

/** The ports that carry effects out. */
export interface EffectPorts {
  readonly gateway: PaymentGateway;
  readonly notifier: Notifier;
  readonly desk: SupportDesk;
  readonly timers: TimerScheduler;
  readonly ledger: LedgerStore;
}

/**
 * Why executing an effect failed. `retry` says whether the dispatcher should try the same
 * effect again later (same id, so the same idempotency key) or park it for a person.
 */
export interface EffectFailure {
  readonly code: string;
  readonly message: string;
  readonly retry: boolean;
}

/** An input to feed back to a round once an effect has run. */
export interface FollowUp {
  readonly roundId: string;
  readonly input: RoundInput;
}

function debitInput(base: { memberId: string; attempt: number }, outcome: DebitOutcome): RoundInput {
  switch (outcome.status) {
    case "processing":
      return { type: "debit_processing", ...base, paymentIntentId: outcome.paymentIntentId };
    case "succeeded":
      return {
        type: "debit_succeeded",
        ...base,
        paymentIntentId: outcome.paymentIntentId,
        chargeId: outcome.chargeId,
      };
    case "failed":
      return {
        type: "debit_failed",
        ...base,
        paymentIntentId: outcome.paymentIntentId,
        failureCode: outcome.failureCode,
      };
  }
}

const failure = (code: string, message: string, retry: boolean): EffectFailure => ({ code, message, retry });

function fromGateway(e: GatewayError): EffectFailure {
  // Definite refusals are outcomes the round must hear about; the caller maps those
  // before this. Anything left here is retried with the same idempotency key.
  return failure(e.code, e.message, e.type !== "gateway_definite");
}

function audience(group: Group, to: NotifyAudience): string[] {
  const present = group.members.filter((m) => m.status !== "left");
  switch (to.kind) {
    case "member":
      return [to.memberId];
    case "admins":
      return present.filter((m) => m.role === "admin").map((m) => m.id);
    case "all_members":
      return present.map((m) => m.id);
  }
}

/** The person who is a member: their mandate and payout account are the person's, shared by all their groups. */
function personOf(deps: UseCaseDeps, memberId: PersonId): ResultAsync<Person, EffectFailure> {
  return deps.people
    .getPerson(memberId)
    .mapErr((e) => failure(e.code, e.message, true))
    .andThen((person) => {
      if (!person)
        return errAsync(failure(notFound("person", memberId).code, `no person ${memberId}`, false));
      return okAsync<Person, EffectFailure>(person);
    });
}

/**
 * Carries out one outbox effect through the ports and returns the inputs its result
 * means for the round. Safe to run more than once for the same effect: every provider
 * call uses the effect id as its idempotency key, and every other port keys on it too.
 */
export function executeEffect(
  deps: UseCaseDeps,
  ports: EffectPorts,
  effect: OutboxEffect,
): ResultAsync<readonly FollowUp[], EffectFailure> {
  switch (effect.kind) {
    case "collect_contribution":
      return personOf(deps, effect.memberId).andThen((person) => {
        const customerId = person.customerId;
        const { paymentMethodId, mandateId } = person.debit ?? {};
        const base = { memberId: effect.memberId, attempt: effect.attempt };
        if (!customerId || !paymentMethodId || !mandateId) {
          // Never set up: no debit can exist, so this is a definite failure the round handles
          // like a bank's refusal. A mandate known to be inactive is NOT pre-checked here: an
          // earlier run of this very effect may have created the debit before the mandate
          // changed, and only the provider (which finds it by the effect's key) can say.
          return okAsync([
            {
              roundId: effect.roundId,
              input: { type: "debit_failed", ...base, failureCode: "mandate_missing" },
            },
          ] as const);
        }
        return ports.gateway
          .createDebit({
            idempotencyKey: effect.id,
            customerId,
            paymentMethodId,
            mandateId,
            amount: money(effect.amountMinor, effect.currency),
            transferGroup: effect.transferGroup,
            description: `Contribution to round ${effect.roundId}`,
            references: {
              groupId: effect.groupId,
              roundId: effect.roundId,
              memberId: effect.memberId,
              attempt: effect.attempt,
            },
          })
          .map((outcome): readonly FollowUp[] => [
            { roundId: effect.roundId, input: debitInput(base, outcome) },
          ])
          .orElse((e) =>
            e.type === "gateway_definite"
              ? okAsync([
                  { roundId: effect.roundId, input: { type: "debit_failed", ...base, failureCode: e.code } },
                ] as const)
              : errAsync(fromGateway(e)),
          );
      });
    case "transfer":
      return personOf(deps, effect.recipientMemberId).andThen((recipient) => {
        const base = { sourceMemberId: effect.sourceMemberId, attempt: effect.attempt };
        const destination = recipient.payout?.connectedAccountId;
        if (!destination)
          return okAsync([
            {
              roundId: effect.roundId,
              input: { type: "transfer_failed", ...base, failureCode: "account_invalid" },
            },
          ] as const);
        return ports.gateway
          .createTransfer({
            idempotencyKey: effect.id,
            destinationAccountId: destination,
            amount: money(effect.amountMinor, effect.currency),
            sourceChargeId: effect.sourceChargeId,
            transferGroup: effect.transferGroup,
            references: {
              groupId: effect.groupId,
              roundId: effect.roundId,
              memberId: effect.sourceMemberId,
              attempt: effect.attempt,
            },
          })
          .map((t): readonly FollowUp[] => [
            {
              roundId: effect.roundId,
              input: { type: "transfer_created", ...base, transferId: t.transferId },
            },
          ])
          .orElse((e) =>
            e.type === "gateway_definite"
              ? okAsync([
                  {
                    roundId: effect.roundId,
                    input: { type: "transfer_failed", ...base, failureCode: e.code },
                  },
                ] as const)
              : errAsync(fromGateway(e)),
          );
      });
    case "refund":
      return ports.gateway
        .refund({
          idempotencyKey: effect.id,
          paymentIntentId: effect.paymentIntentId,
          amount: money(effect.amountMinor, effect.currency),
          references: { groupId: effect.groupId, roundId: effect.roundId, memberId: effect.memberId },
        })
        .map((r): readonly FollowUp[] => {
          // A pending refund (e.g. on a debit still processing) finishes later; its webhook reports it.
          if (r.status === "pending") return [];
          return r.status === "succeeded"
            ? [
                {
                  roundId: effect.roundId,
                  input: { type: "refund_succeeded", memberId: effect.memberId, refundId: r.refundId },
                },
              ]
            : [
                {
                  roundId: effect.roundId,
                  input: {
                    type: "refund_failed",
                    memberId: effect.memberId,
                    failureCode: r.failureCode ?? "refund_failed",
                  },
                },
              ];
        })
        .orElse((e) =>
          e.type === "gateway_definite"
            ? okAsync([
                {
                  roundId: effect.roundId,
                  input: { type: "refund_failed", memberId: effect.memberId, failureCode: e.code },
                },
              ] as const)
            : errAsync(fromGateway(e)),
        );
    case "schedule_timer":
      return ports.timers
        .schedule({ id: effect.id, roundId: effect.roundId, at: effect.at, timer: effect.timer })
        .map(() => [])
        .mapErr((e) => failure(e.code, e.message, true));
    case "notify":
      return deps.groups
        .getGroup(effect.groupId)
        .mapErr((e) => failure(e.code, e.message, true))
        .andThen((group) => {
          if (!group) return errAsync(failure("group_not_found", `no group ${effect.groupId}`, false));
          return ports.notifier
            .send({
              id: effect.id,
              groupId: effect.groupId,
              roundId: effect.roundId,
              memberIds: audience(group, effect.to),
              template: effect.template,
              data: effect.data,
            })
            .map(() => [])
            .mapErr((e) => failure(e.code, e.message, true));
        });
    case "post_ledger":
      return ports.ledger
        .post(effect.transaction)
        .map(() => [])
        .mapErr((e) => failure(e.code, e.message, e.type !== "duplicate" && e.type !== "storage_refused"));
    case "open_ticket":
      return ports.desk
        .openTicket({
          id: effect.id,
          groupId: effect.groupId,
          roundId: effect.roundId,
          reason: effect.reason,
          summary: effect.summary,
        })
        .map(() => [])
        .mapErr((e) => failure(e.code, e.message, true));
  }
}
