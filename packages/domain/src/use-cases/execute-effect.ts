import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import {
  debitFact,
  heldPaymentRefs,
  marketplaceChargeRefs,
  type PaymentObjectFact,
  refundFact,
  roundPaymentRefs,
} from "../facts/payment-fact.js";
import type { Group } from "../group/group.js";
import type { HeldPaymentEffect } from "../held-payment/held-payment-effect.js";
import {
  EARLIER_TRY_UNHEARD,
  reportsUnheardTry,
  type TransferAttemptState,
  transferStillAsked,
} from "../kernel/late-transfers.js";
import type { GroupAudience, NotifyAudience, NotifyRole } from "../kernel/notify-audience.js";
import type { MarketplaceChargeEffect } from "../marketplace/marketplace-charge-effect.js";
import { isSubscriptionEnded } from "../membership/subscription.js";
import { money } from "../money/index.js";
import type { PaymentMethodEffect } from "../payment-method/payment-method-effect.js";
import type { PersonId } from "../person/ids.js";
import type { Person } from "../person/person.js";
import { isGoneCode } from "../policy/failure-codes.js";
import type { BillingGateway } from "../ports/billing-gateway.js";
import type { LedgerStore } from "../ports/ledger-store.js";
import type { Notification, Notifier } from "../ports/notifier.js";
import {
  isHeldPaymentEffect,
  isMarketplaceChargeEffect,
  isPaymentMethodEffect,
  type OutboxEffect,
} from "../ports/outbox-effect.js";
import type {
  EffectCreatedAt,
  GatewayError,
  PaymentGateway,
  PaymentReferences,
} from "../ports/payment-gateway.js";
import type { GroupRepository, StorageError } from "../ports/storage.js";
import type { SupportDesk } from "../ports/support-desk.js";
import type { TimerScheduler } from "../ports/timer-scheduler.js";
import { notFound, type UseCaseDeps } from "./deps.js";
import {
  type BillingEffect,
  executeBillingEffect,
  findSubscriptionMade,
  isBillingEffect,
} from "./execute-membership-effect.js";

/** The ports that carry effects out. */
export interface EffectPorts {
  readonly gateway: PaymentGateway;
  readonly notifier: Notifier;
  readonly desk: SupportDesk;
  readonly timers: TimerScheduler;
  readonly ledger: LedgerStore;
  /** Stripe Billing (membership plans and subscriptions); their effects are parked without it. */
  readonly billing?: BillingGateway;
}

/**
 * Why executing an effect failed. `retry` says whether the dispatcher should try the same
 * effect again later (same id, so the same idempotency key) or park it for a person.
 * `refused`: the provider refused the call for good. Stripe keeps that answer under the
 * idempotency key ("A request that returns a 400 sends back the same 400 if followed by a
 * new request with the same idempotency key"), so once a person fixed the cause and requeued
 * the parked effect, its calls must go under a new key (see {@link ExecuteOptions.refusals}).
 */
export interface EffectFailure {
  readonly code: string;
  readonly message: string;
  readonly retry: boolean;
  readonly refused?: boolean;
}

const failure = (code: string, message: string, retry: boolean): EffectFailure => ({ code, message, retry });

function fromGateway(e: GatewayError): EffectFailure {
  // Definite refusals are outcomes the round must hear about; the caller maps those
  // before this. A definite one left here is parked (refused: its key is spent); anything
  // else is retried with the same idempotency key.
  return e.type === "gateway_definite"
    ? { code: e.code, message: e.message, retry: false, refused: true }
    : failure(e.code, e.message, true);
}

/**
 * A posting the ledger could not store: a refused or conflicting transaction will be
 * refused again (parked for a person); anything else is retried.
 */
export function ledgerFailure(e: StorageError): EffectFailure {
  return failure(e.code, e.message, e.type !== "duplicate" && e.type !== "storage_refused");
}

function groupAudience(group: Group, members: GroupAudience): PersonId[] {
  const present = group.members.filter((m) => m.status !== "left");
  switch (members.kind) {
    case "member":
      return [members.memberId];
    case "admins":
      return present.filter((m) => m.role === "admin").map((m) => m.id);
    case "all_members":
      return present.map((m) => m.id);
  }
}

/** Who a notification reaches: person ids (and the group they were resolved from), addresses, roles. */
interface Recipients {
  readonly personIds: PersonId[];
  readonly groupId?: string;
  readonly emails?: string[];
  readonly roles?: NotifyRole[];
  /** The group's name, when it went to a group's members: the message names the group by it. */
  readonly groupName?: string;
}

function recipients(
  groups: Pick<GroupRepository, "getGroup">,
  to: NotifyAudience,
): ResultAsync<Recipients, EffectFailure> {
  switch (to.kind) {
    case "group":
      return groups
        .getGroup(to.groupId)
        .mapErr((e) => failure(e.code, e.message, true))
        .andThen((group) => {
          if (!group) return errAsync(failure("group_not_found", `no group ${to.groupId}`, false));
          return okAsync({
            personIds: groupAudience(group, to.members),
            groupId: to.groupId,
            groupName: group.name,
          });
        });
    case "people":
      return okAsync({ personIds: [...to.personIds] });
    case "seller":
      return okAsync({ personIds: [to.sellerId] });
    case "customer":
      // A client app's customer is not a person: the address is all susu knows of them.
      return okAsync({ personIds: [], emails: [to.email] });
    case "platform_admins":
      return okAsync({ personIds: [], roles: ["platform_admins"] });
  }
}

/** A `notify` effect, of any aggregate. */
export type NotifyOutboxEffect = Extract<OutboxEffect, { readonly kind: "notify" }>;

/**
 * The notification a `notify` effect sends: its audience resolved to people's ids (a group's
 * members read from `groups`, with the group's name as it is now: the effect's data is the
 * decision's, which knows only ids), addresses and roles. What the dispatcher sends, and what
 * a store that queues notices in the commit deciding them queues (the same notification).
 */
export function notificationOf(
  groups: Pick<GroupRepository, "getGroup">,
  effect: NotifyOutboxEffect,
): ResultAsync<Notification, EffectFailure> {
  return recipients(groups, effect.to).map(
    ({ personIds, groupId, emails, roles, groupName }): Notification => ({
      id: effect.id,
      aggregate: effect.aggregate,
      aggregateId: effect.aggregateId,
      ...(groupId !== undefined ? { groupId } : {}),
      personIds,
      ...(emails !== undefined ? { emails } : {}),
      ...(roles !== undefined ? { roles } : {}),
      template: effect.template,
      data: groupName !== undefined ? { groupName, ...effect.data } : effect.data,
    }),
  );
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

/** The `effectCreatedAt` of a provider call: present only when known (absent asks the provider to look first). */
function createdAtInput(createdAt: EffectCreatedAt | undefined): {
  readonly effectCreatedAt?: EffectCreatedAt;
} {
  return createdAt === undefined ? {} : { effectCreatedAt: createdAt };
}

/** A definite refusal is an outcome the aggregate hears (as `fact`); anything else is retried by the dispatcher. */
function definiteAs(
  fact: (code: string, message: string) => PaymentObjectFact,
): (e: GatewayError) => ResultAsync<readonly PaymentObjectFact[], EffectFailure> {
  return (e) =>
    e.type === "gateway_definite" ? okAsync([fact(e.code, e.message)]) : errAsync(fromGateway(e));
}

/** A payment aggregate's transfer, reversal or refund effect (the held payment's and the marketplace charge's alike). */
type PaymentEffectOf<K extends "transfer" | "reverse_transfer" | "refund"> = Extract<
  HeldPaymentEffect | MarketplaceChargeEffect,
  { readonly kind: K }
>;

/**
 * Transfers to a seller's connected account: `transfer_created`, or a definite refusal as
 * `transfer_failed` with the provider's message (the parked transfer's ticket shows it).
 */
function transferFacts(
  ports: EffectPorts,
  effect: PaymentEffectOf<"transfer">,
  refs: PaymentReferences,
  createdAt: EffectCreatedAt | undefined,
): ResultAsync<readonly PaymentObjectFact[], EffectFailure> {
  return ports.gateway
    .createTransfer({
      idempotencyKey: effect.id,
      destinationAccountId: effect.destinationAccountId,
      amount: money(effect.amountMinor, effect.currency),
      sourceChargeId: effect.sourceChargeId,
      transferGroup: effect.transferGroup,
      references: refs,
      ...createdAtInput(createdAt),
    })
    .map((t): readonly PaymentObjectFact[] => [{ kind: "transfer_created", refs, transferId: t.transferId }])
    .orElse(
      definiteAs((failureCode, failureMessage) => ({
        kind: "transfer_failed",
        refs,
        failureCode,
        failureMessage,
      })),
    );
}

/**
 * Looks for an earlier attempt's transfer (by its idempotency key): `transfer_created` when
 * the provider made it (the attempt is adopted), `transfer_not_found` when it did not.
 */
function lookupFacts(
  ports: EffectPorts,
  effect: Extract<HeldPaymentEffect | MarketplaceChargeEffect, { readonly kind: "find_transfer" }>,
  refs: PaymentReferences,
): ResultAsync<readonly PaymentObjectFact[], EffectFailure> {
  return ports.gateway
    .findTransfer({ idempotencyKey: effect.transferEffectId, transferGroup: effect.transferGroup })
    .map((found): readonly PaymentObjectFact[] => [
      found === undefined
        ? { kind: "transfer_not_found", refs }
        : { kind: "transfer_created", refs, transferId: found.transferId },
    ])
    .mapErr(fromGateway);
}

/**
 * Looks for a refund attempt whose outcome is overdue (by its idempotency key): its outcome
 * as the same fact a webhook would bring (`refund_succeeded`, `refund_failed` — a cancelled
 * refund is a failure), or `refund_not_ended` while it is pending or when none was made.
 */
function refundLookupFacts(
  ports: EffectPorts,
  effect: Extract<HeldPaymentEffect | MarketplaceChargeEffect, { readonly kind: "find_refund" }>,
  refs: PaymentReferences,
): ResultAsync<readonly PaymentObjectFact[], EffectFailure> {
  return ports.gateway
    .findRefund({ idempotencyKey: effect.refundEffectId, paymentIntentId: effect.paymentIntentId })
    .map((found): readonly PaymentObjectFact[] => {
      const fact = found === undefined ? undefined : refundFact(refs, found);
      if (fact !== undefined) return [fact];
      return [
        {
          kind: "refund_not_ended",
          refs,
          lookup: effect.lookup,
          ...(found !== undefined ? { refundId: found.refundId } : {}),
        },
      ];
    })
    .mapErr(fromGateway);
}

/** Reverses (part of) a transfer: `transfer_reversed`, or a definite refusal as `transfer_reversal_failed`. */
function reversalFacts(
  ports: EffectPorts,
  effect: PaymentEffectOf<"reverse_transfer">,
  refs: PaymentReferences,
  createdAt: EffectCreatedAt | undefined,
): ResultAsync<readonly PaymentObjectFact[], EffectFailure> {
  return ports.gateway
    .reverseTransfer({
      idempotencyKey: effect.id,
      transferId: effect.transferId,
      amount: money(effect.amountMinor, effect.currency),
      references: refs,
      ...createdAtInput(createdAt),
    })
    .map((): readonly PaymentObjectFact[] => [
      { kind: "transfer_reversed", refs, transferId: effect.transferId, amountMinor: effect.amountMinor },
    ])
    .orElse(
      definiteAs((failureCode) => ({
        kind: "transfer_reversal_failed",
        refs,
        transferId: effect.transferId,
        failureCode,
      })),
    );
}

/**
 * Refunds (part of) the payment: the refund's outcome as a fact (none while it is pending),
 * or a definite refusal as `refund_failed`. `options` are the marketplace charge's
 * (whether the sellers' transfers are reversed and the platform's fee given back with it).
 */
function refundFacts(
  ports: EffectPorts,
  effect: PaymentEffectOf<"refund">,
  refs: PaymentReferences,
  options: { readonly reverseTransfer?: boolean; readonly refundApplicationFee?: boolean },
  createdAt: EffectCreatedAt | undefined,
): ResultAsync<readonly PaymentObjectFact[], EffectFailure> {
  return ports.gateway
    .refund({
      idempotencyKey: effect.id,
      paymentIntentId: effect.paymentIntentId,
      amount: money(effect.amountMinor, effect.currency),
      ...options,
      references: refs,
      ...createdAtInput(createdAt),
    })
    .map((r): readonly PaymentObjectFact[] => {
      const fact = refundFact(refs, r);
      return fact === undefined ? [] : [fact];
    })
    .orElse(definiteAs((failureCode) => ({ kind: "refund_failed", refs, failureCode })));
}

/**
 * What becomes of a queued transfer effect, from its aggregate as stored now (`load`) and the
 * attempt it names there (`attemptOf`): sent while still wanted (kernel `transferStillAsked`).
 * The aggregate may have moved on since the effect was queued — another attempt landed late
 * and was booked, which writes this one off (`another_attempt_landed`) — and sending it then
 * would pay the seller twice: the effect completes without sending. An aggregate the store
 * does not have (yet) is sent as asked. Not sent after an earlier try that failed
 * (`triedBefore`: a timeout or a 5xx may have made the transfer, unheard), the attempt is
 * reported as `transfer_failed` {@link EARLIER_TRY_UNHEARD} (kernel `reportsUnheardTry`): an
 * outcome unknown, which the aggregate looks up once at Stripe.
 */
function sendTransferIfStillAsked<A>(
  load: ResultAsync<A | undefined, StorageError>,
  attemptOf: (aggregate: A) => TransferAttemptState | undefined,
  triedBefore: boolean,
  refs: PaymentReferences,
  send: () => ResultAsync<readonly PaymentObjectFact[], EffectFailure>,
): ResultAsync<readonly PaymentObjectFact[], EffectFailure> {
  return load
    .mapErr((e) => failure(e.code, e.message, true))
    .andThen((aggregate) => {
      const attempt = aggregate === undefined ? undefined : attemptOf(aggregate);
      if (transferStillAsked(attempt, aggregate !== undefined)) return send();
      return okAsync<readonly PaymentObjectFact[], EffectFailure>(
        reportsUnheardTry(attempt, triedBefore)
          ? [{ kind: "transfer_failed", refs, failureCode: EARLIER_TRY_UNHEARD }]
          : [],
      );
    });
}

/**
 * Sends a marketplace charge's `cancel_payment` unless the payment has begun a later wait for
 * the customer than the one whose expiry asked it (the payment moved on to `processing` and was
 * asked to act again): that wait has the policy's whole time, and an earlier wait's ask — still
 * retrying, or a parked one an operator replays — must not cut it short. Not sent, it reports
 * nothing. A charge not stored is asked for as before.
 */
function cancelIfWaitNotOver(
  deps: UseCaseDeps,
  effect: Extract<MarketplaceChargeEffect, { kind: "cancel_payment" }>,
  send: () => ResultAsync<readonly PaymentObjectFact[], EffectFailure>,
): ResultAsync<readonly PaymentObjectFact[], EffectFailure> {
  return deps.marketplaceCharges
    .getMarketplaceCharge(effect.aggregateId)
    .mapErr((e) => failure(e.code, e.message, true))
    .andThen((charge) =>
      charge !== undefined && (charge.actionWaits ?? 1) > (effect.wait ?? 1)
        ? okAsync<readonly PaymentObjectFact[], EffectFailure>([])
        : send(),
    );
}

/**
 * The failure code with which the outbox reports a queued debit it does not send: the round
 * stopped collecting (cancelled, or its deadline passed) before the debit left, and no
 * earlier try of it made a payment at the provider. No money moved; the round records the
 * attempt failed and can finish its cancellation.
 */
export const DEBIT_NOT_SENT = "debit_not_sent";

/**
 * Whether a queued `collect_contribution` effect is still wanted, from its attempt as the
 * stored round has it now (the transfers' rule, {@link transferStillAsked}, for debits):
 * `send` while the round collects and the attempt is still `requested` (and for a round not
 * stored, sent as asked); `sent_already` when the attempt's outcome has been heard (a run
 * whose completion was lost: the facts are in, nothing to ask again); `no_longer_wanted`
 * when the attempt is still `requested` but the round no longer collects (an admin cancelled
 * it, or its deadline passed while the debit waited in the outbox).
 */
function debitStillAsked(
  deps: UseCaseDeps,
  effect: Extract<OutboxEffect, { kind: "collect_contribution" }>,
): ResultAsync<"send" | "sent_already" | "no_longer_wanted", EffectFailure> {
  return deps.rounds
    .getRound(effect.roundId)
    .mapErr((e) => failure(e.code, e.message, true))
    .map((round) => {
      if (round === undefined) return "send";
      const attempt = round.contributions
        .find((c) => c.memberId === effect.memberId)
        ?.attempts.find((a) => a.number === effect.attempt);
      if (attempt?.status !== "requested") return "sent_already";
      return round.status === "collecting" ? "send" : "no_longer_wanted";
    });
}

/**
 * A queued debit the round no longer wants (see {@link debitStillAsked}) is not sent. Never
 * tried before, it cannot have reached the provider (the outbox marks every try that may
 * have, `OutboxRecord.failedBefore`): it ends as {@link DEBIT_NOT_SENT}, with no money moved.
 * Tried before (a timeout, a 5xx, a lost reply, a worker that died mid-call), the provider
 * may hold a payment made under the effect's key: sending it again could make one now, so it
 * is looked for instead (`findDebit`). Found, its outcome is the attempt's (a debit that
 * succeeds is refunded by the refunding round, as any late success is); not found, nothing
 * was made, and it ends as {@link DEBIT_NOT_SENT}. The look-up failing is retried.
 */
function dropDebit(
  ports: EffectPorts,
  effect: Extract<OutboxEffect, { kind: "collect_contribution" }>,
  refs: PaymentReferences,
  customerId: string | undefined,
  triedBefore: boolean,
): ResultAsync<readonly PaymentObjectFact[], EffectFailure> {
  const notSent: readonly PaymentObjectFact[] = [{ kind: "debit_failed", refs, failureCode: DEBIT_NOT_SENT }];
  // Without a customer no debit could ever have been made for it.
  if (!triedBefore || !customerId) return okAsync(notSent);
  return ports.gateway
    .findDebit({ idempotencyKey: effect.id, customerId })
    .mapErr(fromGateway)
    .map((found): readonly PaymentObjectFact[] => (found === undefined ? notSent : [debitFact(refs, found)]));
}

/** Asks the provider for a round's debit, under the effect's id as its idempotency key. */
function sendDebit(
  ports: EffectPorts,
  effect: Extract<OutboxEffect, { kind: "collect_contribution" }>,
  person: Person,
  refs: PaymentReferences,
  createdAt: EffectCreatedAt | undefined,
): ResultAsync<readonly PaymentObjectFact[], EffectFailure> {
  const customerId = person.customerId;
  const { paymentMethodId, mandateId } = person.debit ?? {};
  if (!customerId || !paymentMethodId || !mandateId) {
    // Never set up: no debit can exist, so this is a definite failure the round handles
    // like a bank's refusal. A mandate known to be inactive is NOT pre-checked here: an
    // earlier run of this very effect may have created the debit before the mandate
    // changed, and only the provider (which finds it by the effect's key) can say.
    return okAsync([{ kind: "debit_failed", refs, failureCode: "mandate_missing" }] as const);
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
      references: refs,
      ...createdAtInput(createdAt),
    })
    .map((outcome): readonly PaymentObjectFact[] => [debitFact(refs, outcome)])
    .orElse((e) =>
      e.type === "gateway_definite"
        ? okAsync([{ kind: "debit_failed", refs, failureCode: e.code }] as const)
        : errAsync(fromGateway(e)),
    );
}

/**
 * A membership's `create_subscription` is sent only while the membership still wants it, as
 * stored now: not ended. One the person canceled before the outbox made the call (a backlog,
 * or the call waiting for its retry) is not sent, so no subscription is made and no first
 * invoice charged: never tried before, the call cannot have reached the provider, and the
 * effect completes with nothing to report (the membership ended at its cancel and waits for
 * nothing). Tried before (a timeout, a 5xx, a lost answer), an earlier try may have made the
 * subscription: it is looked for by the effect's key (`findSubscription`, read only) and,
 * found, reported as the provider's view, which the canceled membership answers as any start
 * after its cancel (canceled at Stripe, what it collected refunded). A membership not stored
 * is sent as asked; a cancel landing after this check is that same late start.
 */
function createSubscriptionIfStillWanted(
  deps: UseCaseDeps,
  ports: EffectPorts,
  effect: Extract<BillingEffect, { readonly kind: "create_subscription" }>,
  triedBefore: boolean,
): ResultAsync<readonly PaymentObjectFact[], EffectFailure> {
  return deps.subscriptions
    .getSubscription(effect.aggregateId)
    .mapErr((e) => failure(e.code, e.message, true))
    .andThen((s) => {
      if (s === undefined || !isSubscriptionEnded(s.status))
        return executeBillingEffect(ports.billing, effect);
      if (!triedBefore) return okAsync<readonly PaymentObjectFact[], EffectFailure>([]);
      return findSubscriptionMade(ports.billing, effect);
    });
}

/** A held payment's provider calls: each names the payment and its step in the references (Stripe metadata). */
function executeHeldPaymentEffect(
  ports: EffectPorts,
  effect: Extract<
    HeldPaymentEffect,
    {
      kind:
        | "create_checkout_session"
        | "expire_checkout_session"
        | "transfer"
        | "find_transfer"
        | "reverse_transfer"
        | "refund"
        | "find_refund";
    }
  >,
  createdAt: EffectCreatedAt | undefined,
): ResultAsync<readonly PaymentObjectFact[], EffectFailure> {
  const p = effect.aggregateId;
  switch (effect.kind) {
    case "create_checkout_session": {
      const refs = heldPaymentRefs(p);
      return ports.gateway
        .createCheckoutSession({
          idempotencyKey: effect.id,
          amount: money(effect.amountMinor, effect.currency),
          description: effect.description,
          customerEmail: effect.customerEmail,
          transferGroup: effect.transferGroup,
          expiresAt: effect.expiresAt,
          successUrl: effect.successUrl,
          // Stripe needs somewhere to send a customer who leaves: the success page says where they are.
          cancelUrl: effect.cancelUrl ?? effect.successUrl,
          references: refs,
        })
        .map((session): readonly PaymentObjectFact[] => [
          { kind: "checkout_session_created", refs, sessionId: session.sessionId, url: session.url },
        ])
        .mapErr(fromGateway);
    }
    case "expire_checkout_session": {
      // Stripe's answer is the news: the session expired ends the payment (as
      // checkout.session.expired would); a session the customer completed before it could be
      // expired has its payment read, as checkout.session.completed would.
      const refs = heldPaymentRefs(p);
      return ports.gateway
        .expireCheckoutSession({ idempotencyKey: effect.id, sessionId: effect.sessionId })
        .map((ended): readonly PaymentObjectFact[] =>
          ended.status === "expired"
            ? [{ kind: "checkout_expired", refs, sessionId: effect.sessionId }]
            : [
                {
                  kind: "checkout_payment_changed",
                  refs,
                  sessionId: effect.sessionId,
                  paymentIntentId: ended.paymentIntentId,
                },
              ],
        )
        .mapErr(fromGateway);
    }
    case "transfer":
      return transferFacts(ports, effect, heldPaymentRefs(p, { attempt: effect.attempt }), createdAt);
    case "find_transfer":
      return lookupFacts(ports, effect, heldPaymentRefs(p, { attempt: effect.attempt }));
    case "reverse_transfer":
      return reversalFacts(ports, effect, heldPaymentRefs(p, { reversal: effect.reversal }), createdAt);
    case "refund":
      return refundFacts(
        ports,
        effect,
        heldPaymentRefs(p, { refund: effect.refund, attempt: effect.attempt }),
        {},
        createdAt,
      );
    case "find_refund":
      return refundLookupFacts(
        ports,
        effect,
        heldPaymentRefs(p, { refund: effect.refund, attempt: effect.attempt }),
      );
  }
}

/**
 * A marketplace charge's provider calls: each names the charge and its step in the
 * references (Stripe metadata). Definite refusals are outcomes the charge hears: a declined
 * card is a failed payment, a refused transfer a failed attempt (retried or parked by the
 * charge), a refused reversal or refund a ticket for the admins.
 */
function executeMarketplaceChargeEffect(
  ports: EffectPorts,
  effect: Extract<
    MarketplaceChargeEffect,
    {
      kind:
        | "create_payment"
        | "cancel_payment"
        | "transfer"
        | "find_transfer"
        | "reverse_transfer"
        | "refund"
        | "find_refund";
    }
  >,
  createdAt: EffectCreatedAt | undefined,
): ResultAsync<readonly PaymentObjectFact[], EffectFailure> {
  const c = effect.aggregateId;
  switch (effect.kind) {
    case "create_payment": {
      const refs = marketplaceChargeRefs(c);
      const amount = money(effect.amountMinor, effect.currency);
      return ports.gateway
        .createCardPayment({
          idempotencyKey: effect.id,
          amount,
          customerId: effect.stripeCustomerId,
          confirmation: effect.confirmation,
          description: effect.description,
          transferGroup: effect.transferGroup,
          ...(effect.destination !== undefined
            ? {
                destination: {
                  accountId: effect.destination.connectedAccountId,
                  applicationFee: money(effect.destination.applicationFeeMinor, effect.currency),
                  onBehalfOf: effect.destination.onBehalfOf,
                },
              }
            : {}),
          references: refs,
          ...createdAtInput(createdAt),
        })
        .map((outcome): readonly PaymentObjectFact[] => [debitFact(refs, outcome)])
        .orElse(definiteAs((failureCode) => ({ kind: "debit_failed", refs, failureCode })));
    }
    case "transfer":
      return transferFacts(
        ports,
        effect,
        marketplaceChargeRefs(c, { sellerId: effect.sellerId, attempt: effect.attempt }),
        createdAt,
      );
    case "cancel_payment": {
      // The cancel confirmed is what ends the charge `expired` (as Stripe's
      // payment_intent.canceled would). Stripe refuses to cancel a PaymentIntent that
      // succeeded (or is processing) meanwhile: then the payment as it stands is the news (a
      // success the charge pays out as usual). A refused cancel of a payment not succeeded
      // (processing, or still waiting) is no news: the charge keeps waiting in
      // `requires_action` and the recheck the ask armed asks again under a new key, by when a
      // processing payment has succeeded (read then) or failed (cancellable then).
      const refs = marketplaceChargeRefs(c);
      return ports.gateway
        .cancelPayment({ idempotencyKey: effect.id, paymentIntentId: effect.paymentIntentId })
        .map((cancelled): readonly PaymentObjectFact[] => [
          {
            kind: "debit_failed",
            refs,
            paymentIntentId: cancelled.paymentIntentId,
            failureCode: "canceled_abandoned",
          },
        ])
        .orElse((e) =>
          e.type !== "gateway_definite"
            ? errAsync(fromGateway(e))
            : ports.gateway
                .getPayment(effect.paymentIntentId)
                .mapErr(fromGateway)
                .map((payment): readonly PaymentObjectFact[] =>
                  payment.status === "succeeded"
                    ? [
                        {
                          kind: "debit_succeeded",
                          refs,
                          paymentIntentId: payment.paymentIntentId,
                          chargeId: payment.chargeId,
                          ...(payment.transferId !== undefined ? { transferId: payment.transferId } : {}),
                        },
                      ]
                    : [],
                ),
        );
    }
    case "find_transfer":
      return lookupFacts(
        ports,
        effect,
        marketplaceChargeRefs(c, { sellerId: effect.sellerId, attempt: effect.attempt }),
      );
    case "reverse_transfer":
      return reversalFacts(
        ports,
        effect,
        marketplaceChargeRefs(c, { sellerId: effect.sellerId, reversal: effect.reversal }),
        createdAt,
      );
    case "refund":
      return refundFacts(
        ports,
        effect,
        marketplaceChargeRefs(c, { refund: effect.refund, attempt: effect.attempt }),
        { reverseTransfer: effect.reverseTransfer, refundApplicationFee: effect.refundApplicationFee },
        createdAt,
      );
    case "find_refund":
      return refundLookupFacts(
        ports,
        effect,
        marketplaceChargeRefs(c, { refund: effect.refund, attempt: effect.attempt }),
      );
  }
}

/**
 * A saved payment method's provider calls, keyed by the effect id. A method the provider
 * no longer has, or has already detached (`payment_method_unexpected_state`), is detached:
 * done; one no longer attached to the customer is not made their default: done too. Any
 * other refusal is parked for a person; anything else is retried.
 */
function executePaymentMethodEffect(
  ports: EffectPorts,
  effect: Extract<PaymentMethodEffect, { kind: "detach_payment_method" | "set_default_payment_method" }>,
): ResultAsync<readonly PaymentObjectFact[], EffectFailure> {
  switch (effect.kind) {
    case "detach_payment_method":
      return ports.gateway
        .detachPaymentMethod({ idempotencyKey: effect.id, paymentMethodId: effect.paymentMethodId })
        .map((): readonly PaymentObjectFact[] => [])
        .orElse((e) =>
          e.type === "gateway_definite" &&
          (isGoneCode(e.code) || e.code === "payment_method_unexpected_state")
            ? okAsync<readonly PaymentObjectFact[], EffectFailure>([])
            : errAsync(fromGateway(e)),
        );
    case "set_default_payment_method":
      return ports.gateway
        .setDefaultPaymentMethod({
          idempotencyKey: effect.id,
          customerId: effect.customerId,
          paymentMethodId: effect.paymentMethodId,
        })
        .map((): readonly PaymentObjectFact[] => [])
        .orElse((e) =>
          e.type !== "gateway_definite"
            ? errAsync(fromGateway(e))
            : // Refused: a card no longer the customer's (removed meanwhile, through susu or at
              // the provider) cannot be their default, and its removal's own news updates the
              // person's cards: nothing is left to do. Any other refusal is parked.
              ports.gateway
                .getPaymentMethod(effect.paymentMethodId)
                .map((pm) => pm.customerId !== effect.customerId)
                .orElse((read) =>
                  read.type === "gateway_definite" && isGoneCode(read.code)
                    ? okAsync<boolean, GatewayError>(true)
                    : errAsync(read),
                )
                // A read that failed on the way (a timeout, a 5xx) is retried; one refused
                // outright leaves the set-default's own refusal to a person.
                .mapErr((read) => fromGateway(read.type === "gateway_definite" ? e : read))
                .andThen((gone) =>
                  gone ? okAsync<readonly PaymentObjectFact[], EffectFailure>([]) : errAsync(fromGateway(e)),
                ),
        );
  }
}

/** What the dispatcher knows of an effect's earlier runs. */
export interface ExecuteOptions {
  /**
   * An earlier execution of the effect was recorded as failed (`OutboxRecord.attempts` or
   * `failedBefore`): a provider call it made may have done its work unheard (a timeout, a 5xx).
   */
  readonly triedBefore?: boolean;
  /**
   * How many runs of the effect the provider refused for good, each then parked
   * (`OutboxRecord.refusals`). From the first, its provider calls go under
   * `<key>:refused:<n>` instead of the effect's own key: Stripe would answer the refused key
   * with the stored refusal for 24 hours, so a requeue after the cause was fixed could never
   * succeed. Safe: a refused call made nothing under its key. Transient failures (network,
   * 5xx, 429) are retried under the same key, so they never count here.
   */
  readonly refusals?: number;
}

/** A provider key after `refusals` refused runs: the effect's own key, then `<key>:refused:<n>`. */
function keyAfterRefusals(key: string, refusals: number): string {
  return refusals > 0 ? `${key}:refused:${refusals}` : key;
}

/**
 * The calls whose key moves on after a refused run: those that move no money and whose
 * object nobody looks up by its `effect_id` metadata (which holds the key the call was made
 * under). A money-moving call (a debit, a transfer, a refund, a reversal, a payout) keeps its
 * key: its objects are found by `effect_id` (the gateways' look-ups, reconciliation), and its
 * refusals are outcomes the aggregate hears, not parkings. A look-up (`find…`, `get…`) keeps
 * the key it is asked for: that is the key of the object it looks for.
 */
const KEY_MOVES_AFTER_REFUSAL: ReadonlySet<string> = new Set([
  "setDefaultPaymentMethod",
  "detachPaymentMethod",
  "cancelSubscription",
  "createPlanPrice",
  "updatePlanProduct",
  "createSubscriptionCheckout",
  "expireCheckoutSession",
  "setSubscriptionPaymentMethod",
  "voidInvoice",
]);

/**
 * `port` with the `idempotencyKey` of the effect's own calls ({@link KEY_MOVES_AFTER_REFUSAL},
 * asked under `ownKey`) moved on past `refusals` refused runs; every other call as it was.
 */
function afterRefusals<T extends object>(port: T, refusals: number, ownKey: string): T {
  if (refusals <= 0) return port;
  return new Proxy(port, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (typeof value !== "function") return value;
      if (typeof property !== "string" || !KEY_MOVES_AFTER_REFUSAL.has(property)) return value.bind(target);
      return (input: unknown, ...rest: unknown[]): unknown => {
        const keyed =
          typeof input === "object" &&
          input !== null &&
          "idempotencyKey" in input &&
          input.idempotencyKey === ownKey
            ? { ...input, idempotencyKey: keyAfterRefusals(ownKey, refusals) }
            : input;
        return value.apply(target, [keyed, ...rest]);
      };
    },
  });
}

/** The ports an effect's run uses: its own non-money calls keyed past its refused runs. */
function portsAfterRefusals(ports: EffectPorts, refusals: number, ownKey: string): EffectPorts {
  if (refusals <= 0) return ports;
  return {
    ...ports,
    gateway: afterRefusals(ports.gateway, refusals, ownKey),
    ...(ports.billing !== undefined ? { billing: afterRefusals(ports.billing, refusals, ownKey) } : {}),
  };
}

/**
 * Carries out one outbox effect through the ports and returns the facts its result
 * reports (routed by `applyPaymentObjectFact`, like the same facts arriving by webhook).
 * Safe to run more than once for the same effect: every provider call uses the effect id
 * as its idempotency key, and every other port keys on it too. `createdAt` is when the
 * effect was first appended to the outbox (`OutboxRecord.createdAt`), passed on to the
 * money-moving provider calls as their `effectCreatedAt`; absent when unknown. After a
 * refused run (`options.refusals`) the provider calls go under a new key.
 */
export function executeEffect(
  deps: UseCaseDeps,
  effectPorts: EffectPorts,
  effect: OutboxEffect,
  createdAt?: EffectCreatedAt,
  options: ExecuteOptions = {},
): ResultAsync<readonly PaymentObjectFact[], EffectFailure> {
  const triedBefore = options.triedBefore === true;
  const ports = portsAfterRefusals(effectPorts, options.refusals ?? 0, effect.id);
  if (isHeldPaymentEffect(effect) && effect.kind === "transfer")
    return sendTransferIfStillAsked(
      deps.heldPayments.getHeldPayment(effect.aggregateId),
      (p) => p.transfers.find((t) => t.number === effect.attempt),
      triedBefore,
      heldPaymentRefs(effect.aggregateId, { attempt: effect.attempt }),
      () => executeHeldPaymentEffect(ports, effect, createdAt),
    );
  if (isMarketplaceChargeEffect(effect) && effect.kind === "transfer")
    return sendTransferIfStillAsked(
      deps.marketplaceCharges.getMarketplaceCharge(effect.aggregateId),
      (c) => c.transfers.find((t) => t.sellerId === effect.sellerId && t.attempt === effect.attempt),
      triedBefore,
      marketplaceChargeRefs(effect.aggregateId, { sellerId: effect.sellerId, attempt: effect.attempt }),
      () => executeMarketplaceChargeEffect(ports, effect, createdAt),
    );
  if (isMarketplaceChargeEffect(effect) && effect.kind === "cancel_payment")
    return cancelIfWaitNotOver(deps, effect, () => executeMarketplaceChargeEffect(ports, effect, createdAt));
  if (
    isHeldPaymentEffect(effect) &&
    (effect.kind === "create_checkout_session" ||
      effect.kind === "expire_checkout_session" ||
      effect.kind === "find_transfer" ||
      effect.kind === "reverse_transfer" ||
      effect.kind === "refund" ||
      effect.kind === "find_refund")
  )
    return executeHeldPaymentEffect(ports, effect, createdAt);
  if (
    isMarketplaceChargeEffect(effect) &&
    (effect.kind === "create_payment" ||
      effect.kind === "find_transfer" ||
      effect.kind === "reverse_transfer" ||
      effect.kind === "refund" ||
      effect.kind === "find_refund")
  )
    return executeMarketplaceChargeEffect(ports, effect, createdAt);
  if (
    isPaymentMethodEffect(effect) &&
    (effect.kind === "detach_payment_method" || effect.kind === "set_default_payment_method")
  )
    return executePaymentMethodEffect(ports, effect);
  if (isBillingEffect(effect) && effect.kind === "create_subscription")
    return createSubscriptionIfStillWanted(deps, ports, effect, triedBefore);
  if (isBillingEffect(effect)) return executeBillingEffect(ports.billing, effect);
  switch (effect.kind) {
    case "collect_contribution":
      return personOf(deps, effect.memberId).andThen((person) => {
        const refs = roundPaymentRefs(effect.groupId, effect.roundId, effect.memberId, effect.attempt);
        return debitStillAsked(deps, effect).andThen((asked) => {
          if (asked === "sent_already") return okAsync<readonly PaymentObjectFact[], EffectFailure>([]);
          if (asked === "no_longer_wanted")
            return dropDebit(ports, effect, refs, person.customerId, triedBefore);
          return sendDebit(ports, effect, person, refs, createdAt);
        });
      });
    case "transfer":
      return personOf(deps, effect.recipientMemberId).andThen((recipient) => {
        // The transfer's references name the member whose charge funds it (the round's key).
        const refs = roundPaymentRefs(effect.groupId, effect.roundId, effect.sourceMemberId, effect.attempt);
        const destination = recipient.payout?.connectedAccountId;
        if (!destination)
          return okAsync([{ kind: "transfer_failed", refs, failureCode: "account_invalid" }] as const);
        return ports.gateway
          .createTransfer({
            idempotencyKey: effect.id,
            destinationAccountId: destination,
            amount: money(effect.amountMinor, effect.currency),
            sourceChargeId: effect.sourceChargeId,
            transferGroup: effect.transferGroup,
            references: refs,
            ...createdAtInput(createdAt),
          })
          .map((t): readonly PaymentObjectFact[] => [
            { kind: "transfer_created", refs, transferId: t.transferId },
          ])
          .orElse((e) =>
            e.type === "gateway_definite"
              ? okAsync([{ kind: "transfer_failed", refs, failureCode: e.code }] as const)
              : errAsync(fromGateway(e)),
          );
      });
    case "refund": {
      // The refund attempt is in the metadata from attempt 2 (an admin's retry), so its facts
      // find that attempt; attempt 1 sends what it always sent (same key, same parameters).
      // A surplus charge's refund names its debit attempt (`refund`), so its facts find it.
      const refs = {
        ...roundPaymentRefs(effect.groupId, effect.roundId, effect.memberId, effect.attempt),
        ...(effect.debitAttempt !== undefined ? { refund: effect.debitAttempt } : {}),
      };
      return ports.gateway
        .refund({
          idempotencyKey: effect.id,
          paymentIntentId: effect.paymentIntentId,
          amount: money(effect.amountMinor, effect.currency),
          references: refs,
          ...createdAtInput(createdAt),
        })
        .map((r): readonly PaymentObjectFact[] => {
          // A pending refund (e.g. on a debit still processing) finishes later; its webhook reports it.
          const fact = refundFact(refs, r);
          return fact === undefined ? [] : [fact];
        })
        .orElse((e) =>
          e.type === "gateway_definite"
            ? okAsync([{ kind: "refund_failed", refs, failureCode: e.code }] as const)
            : errAsync(fromGateway(e)),
        );
    }
    case "schedule_timer": {
      const { kind: _, ...timer } = effect;
      return ports.timers
        .schedule(timer)
        .map(() => [])
        .mapErr((e) => failure(e.code, e.message, true));
    }
    case "notify":
      return notificationOf(deps.groups, effect).andThen((notification) =>
        ports.notifier
          .send(notification)
          .map(() => [])
          .mapErr((e) => failure(e.code, e.message, e.type === "notify_failed")),
      );
    case "post_ledger":
      return ports.ledger
        .post(effect.transaction)
        .map(() => [])
        .mapErr(ledgerFailure);
    case "open_ticket":
      return ports.desk
        .openTicket({
          id: effect.id,
          aggregate: effect.aggregate,
          aggregateId: effect.aggregateId,
          ...("groupId" in effect ? { groupId: effect.groupId } : {}),
          reason: effect.reason,
          summary: effect.summary,
        })
        .map(() => [])
        .mapErr((e) => failure(e.code, e.message, true));
    case "note_ticket": {
      // A desk that keeps no tickets has none to note; one never opened is nothing to note.
      const update = ports.desk.updateTicket?.bind(ports.desk);
      if (update === undefined) return okAsync([]);
      return update(effect.ticketId, { noteId: effect.id, summary: effect.note, at: deps.clock.now() })
        .map((): readonly PaymentObjectFact[] => [])
        .mapErr((e) => failure(e.code, e.message, true));
    }
    case "resolve_ticket": {
      // A desk that keeps no tickets has none to resolve; one never opened, or resolved by a
      // person already, is left as it is: done either way.
      const resolve = ports.desk.resolveTicket?.bind(ports.desk);
      if (resolve === undefined) return okAsync([]);
      return resolve(effect.ticketId, { by: effect.by, note: effect.note, at: deps.clock.now() })
        .map((): readonly PaymentObjectFact[] => [])
        .mapErr((e) => failure(e.code, e.message, e.type !== "storage_refused"));
    }
  }
}
