import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import type { Group } from "../group/group.js";
import { billedPaymentMethodOf } from "../membership/subscription.js";
import { paymentMethodError, paymentMethodInUse } from "../payment-method/payment-method.errors.js";
import {
  PAYMENT_METHOD_AGGREGATE,
  type PaymentMethodEffect,
} from "../payment-method/payment-method-effect.js";
import { paymentMethodIds } from "../payment-method/payment-method-ids.js";
import {
  canChargeCardAt,
  canDebitWith,
  mergeReportedMethod,
  type ReportedPaymentMethod,
  type SavedMandateStatus,
  type SavedMethodType,
  type SavedPaymentMethod,
} from "../payment-method/saved-payment-method.js";
import type { PersonId } from "../person/ids.js";
import * as P from "../person/person.js";
import { isGoneCode } from "../policy/failure-codes.js";
import type { GatewayError, PaymentGateway, PaymentReader } from "../ports/payment-gateway.js";
import { AUDIT_PAGE_MAX, type AuditEntry, type VersionedChange } from "../ports/storage.js";
import { isRoundEnded } from "../round/round.js";
import type { UseCaseDeps, UseCaseError } from "./deps.js";
import { loadPerson } from "./load-people.js";
import { chargeMembershipOn, startedMembershipOf } from "./membership-use-cases.js";
import { ensureCustomer } from "./onboarding.js";
import { loadOwnMethod, refuseExpiredCard } from "./own-payment-method.js";
import { retryOnConflict } from "./retry-on-conflict.js";

/** Where a person can change their saved methods in the API (told in notices). */
const METHODS_PATH = "/v1/people/me/payment-methods";

/**
 * The groups whose round in progress relies on the person's debit: they are a member
 * (not left) and the group's current round has not ended. Oldest group id first.
 */
export function groupsRelyingOnDebit(
  deps: UseCaseDeps,
  personId: PersonId,
): ResultAsync<readonly string[], UseCaseError> {
  return debitReliance(deps, personId).map(({ relying }) => relying);
}

/**
 * {@link groupsRelyingOnDebit}, with the person's groups no round relies on, as read: a
 * removal that counted on none relying stores them back at the version it read, so that a
 * round opened in one of them meanwhile (its commit moves the group's version) makes the
 * removal's commit a version conflict, and a removal committed first makes the round's.
 */
function debitReliance(
  deps: UseCaseDeps,
  personId: PersonId,
): ResultAsync<{ readonly relying: readonly string[]; readonly free: readonly Group[] }, UseCaseError> {
  return deps.groups.listGroupsOfPerson(personId).andThen((groups) =>
    groups.reduce<ResultAsync<{ relying: string[]; free: Group[] }, UseCaseError>>(
      (acc, group) =>
        acc.andThen(({ relying, free }) => {
          if (group.currentRoundId === undefined) return okAsync({ relying, free: [...free, group] });
          return deps.rounds
            .getRound(group.currentRoundId)
            .map((round) =>
              round !== undefined && !isRoundEnded(round)
                ? { relying: [...relying, group.id], free }
                : { relying, free: [...free, group] },
            );
        }),
      okAsync({ relying: [], free: [] }),
    ),
  );
}

const changeOf = (
  before: SavedPaymentMethod | undefined,
  state: SavedPaymentMethod,
): VersionedChange<SavedPaymentMethod> => ({
  state,
  expectedVersion: before?.version,
});

function auditLine(
  deps: UseCaseDeps,
  paymentMethodId: string,
  action: string,
  actor: string,
  outcome: "applied" | "ignored",
  detail: string,
): AuditEntry {
  return {
    at: deps.clock.now(),
    aggregate: "payment_method",
    aggregateId: paymentMethodId,
    action,
    outcome,
    detail,
    actor,
  };
}

/**
 * Starts saving a card or a BECS account: creates the person's customer if needed, then a
 * SetupIntent their app confirms with the client secret (susu never sees the number). The
 * method is recorded when the provider reports it attached (and, for BECS, its mandate),
 * not here.
 *
 * @param attemptKey the same key repeats the same set-up; a new one asks for another.
 */
export function startPaymentMethodSetup(
  deps: UseCaseDeps,
  gateway: PaymentGateway,
  personId: PersonId,
  methodType: SavedMethodType,
  attemptKey: string,
): ResultAsync<
  { readonly setupIntentId: string; readonly clientSecret: string },
  UseCaseError | GatewayError
> {
  return loadPerson(deps, personId).andThen((person) =>
    ensureCustomer(deps, gateway, person).andThen((customerId) =>
      gateway.createPaymentMethodSetup({
        idempotencyKey: paymentMethodIds.setup(personId, methodType, attemptKey),
        customerId,
        methodType,
        references: { personId, setupPurpose: "saved_method" },
      }),
    ),
  );
}

/** A saved method as its owner sees it: which one rounds debit (`usedForDebits`). */
export interface PaymentMethodView {
  readonly method: SavedPaymentMethod;
  /** The method is the debit rounds collect contributions with (the person's mandate). */
  readonly usedForDebits: boolean;
}

/** A person's saved methods (not removed), oldest first, each saying whether rounds debit it. */
export function listPaymentMethods(
  deps: UseCaseDeps,
  personId: PersonId,
): ResultAsync<readonly PaymentMethodView[], UseCaseError> {
  return loadPerson(deps, personId).andThen((person) =>
    deps.paymentMethods
      .listPaymentMethodsOfPerson(personId)
      .map((methods) =>
        methods.map((method) => ({ method, usedForDebits: person.debit?.paymentMethodId === method.id })),
      ),
  );
}

/**
 * Makes a saved method the person's default: stored at once, and made the customer's
 * default at the provider through the outbox (keyed by the method's version, so making it
 * the default again later is a new call). A card becomes what the person's current
 * membership is charged on too (`chargeMembershipOn`: the Stripe subscription's own payment
 * method comes before the customer's default, so without this dunning would keep charging
 * the old card); run again when the card is the default already, so a call that failed
 * after storing the default is finished by its retry. A BECS account rounds can debit
 * (active mandate) becomes the debit rounds use, in the same write, when the person's does
 * not work (none, or inactive): the same rule as a set-up finishing; a working debit still
 * changes only when they name a replacement. Chosen again while it is the default already,
 * it still takes over a dead debit (without a new call to the provider). A card past its
 * expiry (`canChargeCardAt`) is refused (`payment_method_expired`), the default one too,
 * changing nothing: the membership would be moved onto a card Stripe declines.
 */
export function setDefaultPaymentMethod(
  deps: UseCaseDeps,
  personId: PersonId,
  paymentMethodId: string,
  actor: string,
): ResultAsync<SavedPaymentMethod, UseCaseError> {
  const followed = (method: SavedPaymentMethod): ResultAsync<SavedPaymentMethod, UseCaseError> =>
    method.type === "card"
      ? chargeMembershipOn(deps, personId, method.id, actor).map(() => method)
      : okAsync(method);
  return retryOnConflict(() =>
    loadPerson(deps, personId).andThen((person) =>
      loadOwnMethod(deps, personId, paymentMethodId)
        // A card that cannot be charged is never the default the membership follows.
        .andThen((method) => refuseExpiredCard(deps, method, "the default card"))
        .andThen((method) => {
          const takesOverDebit =
            person.debit?.mandateActive !== true && canDebitWith(method) && method.mandate !== undefined;
          if (method.isDefault && !takesOverDebit) return okAsync(method);
          let nextPerson: P.Person = person;
          if (takesOverDebit && method.mandate !== undefined) {
            const moved = P.updatePersonPayment(person, {
              debit: { paymentMethodId: method.id, mandateId: method.mandate.mandateId, mandateActive: true },
            });
            if (moved.isErr()) return errAsync<SavedPaymentMethod, UseCaseError>(moved.error);
            nextPerson = moved.value;
          }
          const people = takesOverDebit
            ? [{ state: { ...nextPerson, version: person.version + 1 }, expectedVersion: person.version }]
            : [];
          const detail = takesOverDebit
            ? `default of ${personId}; rounds debit it now (the debit of ${personId} was not working)`
            : `default of ${personId}`;
          if (method.isDefault)
            return deps.uow
              .commit({
                people,
                groups: [],
                rounds: [],
                paymentMethods: [],
                outbox: [],
                audit: [auditLine(deps, method.id, "set_default", actor, "applied", detail)],
              })
              .map(() => method);
          return deps.paymentMethods.listPaymentMethodsOfPerson(personId).andThen((methods) => {
            const now = deps.clock.now();
            const previous = methods.filter((m) => m.isDefault && m.id !== method.id);
            const next: SavedPaymentMethod = { ...method, isDefault: true, updatedAt: now };
            const effect: PaymentMethodEffect = {
              kind: "set_default_payment_method",
              id: paymentMethodIds.setDefault(method.id, method.version + 1),
              aggregate: PAYMENT_METHOD_AGGREGATE,
              aggregateId: method.id,
              customerId: method.customerId,
              paymentMethodId: method.id,
            };
            return deps.uow
              .commit({
                people,
                groups: [],
                rounds: [],
                paymentMethods: [
                  changeOf(method, next),
                  ...previous.map((m) => changeOf(m, { ...m, isDefault: false, updatedAt: now })),
                ],
                outbox: [effect],
                audit: [auditLine(deps, method.id, "set_default", actor, "applied", detail)],
              })
              .map(() => ({ ...next, version: method.version + 1 }));
          });
        }),
    ),
  ).andThen(followed);
}

/** What removing a method did: the method as removed, and the debit rounds use now (if any). */
export interface RemovedPaymentMethod {
  readonly method: SavedPaymentMethod;
  /** The payment method rounds debit after the removal (the replacement or the other working account when one moved in). */
  readonly debitPaymentMethodId?: string;
}

/**
 * Removes a saved method: stored as removed at once and detached at the provider through
 * the outbox (the effect id is the idempotency key). The debit a running round relies on
 * (the person's mandate while a group of theirs has a round in progress) is refused
 * (`payment_method_in_use`, naming the group) unless `replacementId` names a saved BECS
 * method of theirs with an active mandate: then, in the same write, rounds debit the
 * replacement before the old method is detached. Removing the person's debit when no round
 * relies on it moves it, as the provider's detachment does, to another saved BECS account of
 * theirs with an active mandate (the oldest), and the person is told which
 * (`payment_method_detached` with `movedTo`); with none, they are left without an active
 * mandate (readiness drops). Such a removal and a round opening in one of the person's groups
 * are exclusive: the removal stores those groups back at the version it read, so whichever
 * commits second is a `version_conflict` (the removal, retried, is then refused; the round
 * opens on a later try only if the person is ready). The card the
 * person's current membership is charged on moves the membership first to their other saved
 * card that has not expired (the default one, else the newest; `chargeMembershipOn`), so its
 * renewals do not go to a card Stripe no longer holds; with no such card it is refused
 * (`payment_method_bills_membership`): save another card first, or cancel the membership.
 */
export function removePaymentMethod(
  deps: UseCaseDeps,
  personId: PersonId,
  paymentMethodId: string,
  replacementId: string | undefined,
  actor: string,
): ResultAsync<RemovedPaymentMethod, UseCaseError> {
  return membershipOffMethod(deps, personId, paymentMethodId, actor).andThen(() =>
    removeMethod(deps, personId, paymentMethodId, replacementId, actor),
  );
}

/**
 * Where a membership charged on card `except` goes: the person's other saved card that can be
 * charged at `now` ({@link canChargeCardAt}), the default one, else the newest.
 */
function chargeableCardOtherThan(
  methods: readonly SavedPaymentMethod[],
  except: string,
  now: number,
): SavedPaymentMethod | undefined {
  return methods
    .filter((m) => m.id !== except && canChargeCardAt(m, now))
    .sort((a, b) => Number(b.isDefault) - Number(a.isDefault) || b.createdAt - a.createdAt)[0];
}

/**
 * Before a method is removed: the person's current membership charged on it is moved to
 * their other saved card that has not expired (the default one, else the newest), or the
 * removal is refused.
 */
function membershipOffMethod(
  deps: UseCaseDeps,
  personId: PersonId,
  paymentMethodId: string,
  actor: string,
): ResultAsync<void, UseCaseError> {
  return loadOwnMethod(deps, personId, paymentMethodId).andThen((method) =>
    startedMembershipOf(deps, personId).andThen((s) => {
      if (s === undefined || billedPaymentMethodOf(s) !== method.id) return okAsync(undefined);
      return deps.paymentMethods.listPaymentMethodsOfPerson(personId).andThen((methods) => {
        // Only a card that can be charged now: an expired one would take the renewals into
        // declines (expired_card), dunning and a lapse, with the working card detached.
        const other = chargeableCardOtherThan(methods, method.id, deps.clock.now());
        if (other === undefined)
          return errAsync<void, UseCaseError>(
            paymentMethodError(
              "payment_method_bills_membership",
              `payment method ${method.id} is the card membership ${s.id} is charged on, and ${personId} has no other saved card that can be charged (none, or all expired): save another card first, or cancel the membership`,
            ),
          );
        return chargeMembershipOn(deps, personId, other.id, actor);
      });
    }),
  );
}

function removeMethod(
  deps: UseCaseDeps,
  personId: PersonId,
  paymentMethodId: string,
  replacementId: string | undefined,
  actor: string,
): ResultAsync<RemovedPaymentMethod, UseCaseError> {
  return retryOnConflict(() =>
    loadPerson(deps, personId).andThen((person) =>
      loadOwnMethod(deps, personId, paymentMethodId).andThen((method) => {
        const replacement: ResultAsync<SavedPaymentMethod | undefined, UseCaseError> =
          replacementId === undefined
            ? okAsync(undefined)
            : deps.paymentMethods
                .getPaymentMethod(replacementId)
                .andThen((r) =>
                  r !== undefined && r.personId === personId && r.id !== method.id && canDebitWith(r)
                    ? okAsync(r)
                    : errAsync<SavedPaymentMethod | undefined, UseCaseError>(
                        paymentMethodError(
                          "replacement_not_usable",
                          `${replacementId} is not a saved BECS account of ${personId}'s with an active mandate`,
                        ),
                      ),
                );
        return replacement.andThen((repl) => {
          const isDebit = person.debit?.paymentMethodId === method.id;
          const reliance = isDebit
            ? debitReliance(deps, personId)
            : okAsync<{ readonly relying: readonly string[]; readonly free: readonly Group[] }, UseCaseError>(
                {
                  relying: [],
                  free: [],
                },
              );
          return reliance.andThen(({ relying, free }) => {
            const first = relying[0];
            if (first !== undefined && repl === undefined)
              return errAsync<RemovedPaymentMethod, UseCaseError>(paymentMethodInUse(method.id, first));
            // The debit goes with no replacement because no round relies on it: that holds only
            // while none opens, so the groups read with no round are stored back at the version
            // read (a round opened in one meanwhile, or opening, makes one of the two commits a
            // version conflict: the round, or this removal, retried and refused).
            const guarded = isDebit && repl === undefined ? free : [];
            // Where the rounds' debit goes: the replacement named, else (nobody relying) another
            // saved account that works, as when the provider detaches it; with none, it stops.
            const successor: ResultAsync<SavedPaymentMethod | undefined, UseCaseError> = !isDebit
              ? okAsync(undefined)
              : repl !== undefined
                ? okAsync(repl)
                : backupDebit(deps, personId, method.id);
            return successor.andThen((next) =>
              commitRemoval(deps, person, method, next, repl === undefined, actor, guarded),
            );
          });
        });
      }),
    ),
  );
}

/**
 * Stores `method` as removed by its person and asks the provider to detach it. When it is
 * the person's debit, rounds debit `successor` instead (a saved BECS account with an active
 * mandate), or the debit stops being active when there is none. A successor susu chose
 * (`chosenBySusu`: the person named no replacement) is told to the person, with the notice
 * the provider's detachment sends, so they know which account is debited now. `guarded`:
 * the groups stored back unchanged at the version read (see `debitReliance`).
 */
function commitRemoval(
  deps: UseCaseDeps,
  person: P.Person,
  method: SavedPaymentMethod,
  successor: SavedPaymentMethod | undefined,
  chosenBySusu: boolean,
  actor: string,
  guarded: readonly Group[],
): ResultAsync<RemovedPaymentMethod, UseCaseError> {
  const personId = person.id;
  const isDebit = person.debit?.paymentMethodId === method.id;
  let nextPerson: P.Person = person;
  if (isDebit && successor?.mandate !== undefined) {
    const moved = P.updatePersonPayment(person, {
      debit: { paymentMethodId: successor.id, mandateId: successor.mandate.mandateId, mandateActive: true },
    });
    if (moved.isErr()) return errAsync(moved.error);
    nextPerson = moved.value;
  } else if (isDebit) {
    const stopped = P.updatePersonReadiness(person, { mandateActive: false });
    if (stopped.isErr()) return errAsync(stopped.error);
    nextPerson = stopped.value;
  }
  const movedTo = isDebit && successor?.mandate !== undefined ? successor : undefined;
  const now = deps.clock.now();
  const removed: SavedPaymentMethod = {
    ...method,
    isDefault: false,
    removal: { at: now, by: "person" },
    updatedAt: now,
  };
  const detach: PaymentMethodEffect = {
    kind: "detach_payment_method",
    id: paymentMethodIds.detach(method.id),
    aggregate: PAYMENT_METHOD_AGGREGATE,
    aggregateId: method.id,
    paymentMethodId: method.id,
  };
  const told: PaymentMethodEffect[] =
    movedTo !== undefined && chosenBySusu
      ? [
          {
            kind: "notify",
            id: paymentMethodIds.detachedNotice(method.id),
            aggregate: PAYMENT_METHOD_AGGREGATE,
            aggregateId: method.id,
            to: { kind: "people", personIds: [personId] },
            template: "payment_method_detached",
            data: {
              paymentMethodId: method.id,
              method: describeMethod(method),
              removedBy: "person",
              usedForDebits: "yes",
              movedTo: describeMethod(movedTo),
              movedToPaymentMethodId: movedTo.id,
            },
          },
        ]
      : [];
  const personChanged = !P.samePerson(person, nextPerson);
  const debitNow = nextPerson.debit?.mandateActive ? nextPerson.debit.paymentMethodId : undefined;
  const detail =
    movedTo === undefined
      ? `removed by ${personId}`
      : chosenBySusu
        ? `removed by ${personId}; rounds debit ${movedTo.id} instead (their other working account); ${personId} told`
        : `removed by ${personId}; rounds debit ${movedTo.id} instead`;
  return deps.uow
    .commit({
      people: personChanged
        ? [{ state: { ...nextPerson, version: person.version + 1 }, expectedVersion: person.version }]
        : [],
      // Unchanged but for their version: see `debitReliance`.
      groups: guarded.map((g) => ({ state: { ...g, version: g.version + 1 }, expectedVersion: g.version })),
      rounds: [],
      paymentMethods: [changeOf(method, removed)],
      outbox: [detach, ...told],
      audit: [auditLine(deps, method.id, "remove_payment_method", actor, "applied", detail)],
    })
    .map(() => ({
      method: { ...removed, version: method.version + 1 },
      ...(debitNow !== undefined ? { debitPaymentMethodId: debitNow } : {}),
    }));
}

/** What news of a payment method did. */
export interface MethodNewsOutcome {
  readonly applied: boolean;
  readonly detail: string;
}

/** The method as the provider holds it now; undefined when the provider no longer has it. */
function readMethod(
  reader: PaymentReader,
  paymentMethodId: string,
): ResultAsync<ReportedPaymentMethod | undefined, GatewayError> {
  return reader
    .getPaymentMethod(paymentMethodId)
    .map((m): ReportedPaymentMethod | undefined => m)
    .orElse((e) => (e.type === "gateway_definite" && isGoneCode(e.code) ? okAsync(undefined) : errAsync(e)));
}

/** The mandate's status as the provider says now (one it will not show is inactive). */
function readMandate(
  reader: PaymentReader,
  mandateId: string | undefined,
): ResultAsync<
  { readonly mandateId: string; readonly status: SavedMandateStatus } | undefined,
  GatewayError
> {
  if (mandateId === undefined) return okAsync(undefined);
  return reader
    .getMandate(mandateId)
    .map((m) => ({ mandateId, status: m.status }))
    .orElse((e) =>
      e.type === "gateway_definite" && isGoneCode(e.code)
        ? okAsync({ mandateId, status: "inactive" as const })
        : errAsync(e),
    );
}

/**
 * Records what the provider says of a payment method now (after `payment_method.attached`,
 * `.detached`, `.automatically_updated`, a finished set-up naming its mandate, or
 * `mandate.updated`): read again here, so any order and any repeat of the news ends the
 * same. A method attached to a person's customer is saved (new expiry or last four digits
 * recorded); one that is no longer attached was removed behind susu's back: if it was the
 * person's debit their readiness drops, and if a running round relied on it the person and
 * each such group's admins are told and a ticket is opened per group. A mandate that became
 * inactive tells the person how to fix it. Every notice and ticket id is the method's, so
 * news heard twice tells nobody twice.
 */
export function recordPaymentMethodNews(
  deps: UseCaseDeps,
  reader: PaymentReader,
  news: { readonly paymentMethodId: string; readonly customerId?: string; readonly mandateId?: string },
  actor: string,
): ResultAsync<MethodNewsOutcome, UseCaseError | GatewayError> {
  const what = `payment method ${news.paymentMethodId}`;
  return retryOnConflict<MethodNewsOutcome, UseCaseError | GatewayError>(() =>
    readMethod(reader, news.paymentMethodId).andThen((reported) =>
      deps.paymentMethods.getPaymentMethod(news.paymentMethodId).andThen((stored) => {
        const customerId = stored?.customerId ?? reported?.customerId ?? news.customerId;
        const owner: ResultAsync<P.Person | undefined, UseCaseError> =
          stored !== undefined
            ? deps.people.getPerson(stored.personId)
            : customerId !== undefined
              ? deps.people.findByCustomer(customerId)
              : okAsync(undefined);
        return owner.andThen((person) => {
          if (person === undefined || person.customerId === undefined)
            return okAsync({ applied: false, detail: `${what}: no person has its customer` });
          const personCustomer = person.customerId;
          const mandateId =
            news.mandateId ??
            stored?.mandate?.mandateId ??
            (person.debit?.paymentMethodId === news.paymentMethodId ? person.debit.mandateId : undefined);
          return readMandate(reader, mandateId).andThen((mandate) => {
            const merge = mergeReportedMethod(
              stored,
              reported,
              { personId: person.id, customerId: stored?.customerId ?? personCustomer },
              mandate,
              deps.clock.now(),
            );
            if (!merge.changed || merge.next === undefined)
              return okAsync({
                applied: false,
                detail:
                  merge.next === undefined
                    ? `${what}: not attached to ${person.id}'s customer`
                    : `${what}: nothing new for ${person.id}`,
              });
            const next = merge.next;
            return consequences(deps, person, next, merge).andThen(({ nextPerson, outbox, detail }) =>
              deps.uow
                .commit({
                  people:
                    nextPerson !== undefined
                      ? [
                          {
                            state: { ...nextPerson, version: person.version + 1 },
                            expectedVersion: person.version,
                          },
                        ]
                      : [],
                  groups: [],
                  rounds: [],
                  paymentMethods: [changeOf(stored, next)],
                  outbox,
                  audit: [
                    auditLine(deps, next.id, "payment_method_news", actor, "applied", `${what}: ${detail}`),
                  ],
                })
                .map(() => ({ applied: true, detail: `${what}: ${detail}` })),
            );
          });
        });
      }),
    ),
  ).andThen((outcome) =>
    membershipOffDetachedCard(deps, news.paymentMethodId, actor).map((moved) =>
      moved === undefined ? outcome : { applied: true, detail: `${outcome.detail}; ${moved}` },
    ),
  );
}

/**
 * A card removed at the provider (not through susu) that the person's current membership is
 * still charged on: Stripe cannot charge it any more, so the membership moves to their other
 * saved card that can be charged (as a removal through susu does, {@link chargeableCardOtherThan})
 * and the person is told which; with none, they are told to save a card before the next invoice.
 * Read from what is stored, not from the news, so a repeat (or a retry after a crash between
 * the notice and the move) finishes the work and tells nobody twice (the notice's id is the
 * card's and the membership's): once moved, the membership is charged on the card no more.
 */
function membershipOffDetachedCard(
  deps: UseCaseDeps,
  paymentMethodId: string,
  actor: string,
): ResultAsync<string | undefined, UseCaseError> {
  return deps.paymentMethods.getPaymentMethod(paymentMethodId).andThen((method) => {
    if (method === undefined || method.type !== "card" || method.removal?.by !== "provider")
      return okAsync(undefined);
    return startedMembershipOf(deps, method.personId).andThen((s) => {
      if (s === undefined || billedPaymentMethodOf(s) !== method.id) return okAsync(undefined);
      return deps.paymentMethods.listPaymentMethodsOfPerson(method.personId).andThen((methods) => {
        const other = chargeableCardOtherThan(methods, method.id, deps.clock.now());
        const notice: PaymentMethodEffect = {
          kind: "notify",
          id: paymentMethodIds.membershipCardDetachedNotice(method.id, s.id),
          aggregate: PAYMENT_METHOD_AGGREGATE,
          aggregateId: method.id,
          to: { kind: "people", personIds: [method.personId] },
          template: "membership_card_detached",
          data: {
            paymentMethodId: method.id,
            method: describeMethod(method),
            subscriptionId: s.id,
            ...(other !== undefined
              ? { movedTo: describeMethod(other), movedToPaymentMethodId: other.id }
              : { action: "save_a_new_card", setupPath: `${METHODS_PATH}/setup` }),
          },
        };
        const detail =
          other !== undefined
            ? `membership ${s.id} moved to ${other.id}; ${method.personId} told`
            : `membership ${s.id} has no other card that can be charged; ${method.personId} told to save one`;
        // The notice first: a crash before the move leaves the card billing, and the news
        // repeated (or redelivered) moves it; the notice is not sent twice, and its audit line
        // (committed with it) is written once: news heard again finds it and writes nothing.
        return membershipToldOfDetachedCard(deps, method.id, s.id)
          .andThen((told) =>
            told
              ? okAsync(undefined)
              : deps.uow.commit({
                  people: [],
                  groups: [],
                  rounds: [],
                  paymentMethods: [],
                  outbox: [notice],
                  audit: [auditLine(deps, method.id, "membership_card_detached", actor, "applied", detail)],
                }),
          )
          .andThen(() =>
            other === undefined
              ? okAsync(undefined)
              : chargeMembershipOn(deps, method.personId, other.id, actor),
          )
          .map(() => detail);
      });
    });
  });
}

/**
 * Whether the person was already told that membership `subscriptionId` is charged on the card
 * `paymentMethodId` detached at the provider: the card's audit holds the
 * `membership_card_detached` line committed with that notice (its detail names the
 * membership). Read page after page: a card's lines are few.
 */
function membershipToldOfDetachedCard(
  deps: UseCaseDeps,
  paymentMethodId: string,
  subscriptionId: string,
): ResultAsync<boolean, UseCaseError> {
  const named = `membership ${subscriptionId} `;
  const page = (startingAfter: string | undefined): ResultAsync<boolean, UseCaseError> =>
    deps.audit
      .listAudit({
        subjects: [{ aggregate: "payment_method", aggregateId: paymentMethodId }],
        limit: AUDIT_PAGE_MAX,
        ...(startingAfter !== undefined ? { startingAfter } : {}),
      })
      .andThen((lines) => {
        if (
          lines.some((l) => l.action === "membership_card_detached" && l.detail?.startsWith(named) === true)
        )
          return okAsync(true);
        const last = lines[lines.length - 1];
        return lines.length < AUDIT_PAGE_MAX || last === undefined ? okAsync(false) : page(last.id);
      });
  return page(undefined);
}

/**
 * A saved BECS account of the person's, other than `except`, that rounds can debit (active
 * mandate), the oldest first: where their debit moves when the one they use dies.
 */
function backupDebit(
  deps: UseCaseDeps,
  personId: PersonId,
  except: string,
): ResultAsync<SavedPaymentMethod | undefined, UseCaseError> {
  return deps.paymentMethods
    .listPaymentMethodsOfPerson(personId)
    .map((methods) => methods.find((m) => m.id !== except && canDebitWith(m)));
}

/**
 * What a method's news means for its person: their readiness, and who must be told. When
 * the debit rounds use dies (detached, or its mandate inactive) and the person has saved
 * another BECS account with an active mandate, the debit moves to it (they are told);
 * a set-up finishing while their debit is dead makes it the debit too, so whichever of the
 * two Stripe reports first, the person ends debited from the account that works.
 */
function consequences(
  deps: UseCaseDeps,
  person: P.Person,
  method: SavedPaymentMethod,
  merge: { readonly detachedByProvider: boolean; readonly mandateWentInactive: boolean },
): ResultAsync<
  {
    readonly nextPerson: P.Person | undefined;
    readonly outbox: PaymentMethodEffect[];
    readonly detail: string;
  },
  UseCaseError
> {
  const dies =
    person.debit?.paymentMethodId === method.id && (merge.detachedByProvider || merge.mandateWentInactive);
  if (!dies) return plainConsequences(deps, person, method, merge);
  return backupDebit(deps, person.id, method.id).andThen((backup) => {
    if (backup?.mandate === undefined) return plainConsequences(deps, person, method, merge);
    const moved = P.updatePersonPayment(person, {
      debit: { paymentMethodId: backup.id, mandateId: backup.mandate.mandateId, mandateActive: true },
    });
    if (moved.isErr()) return errAsync(moved.error);
    const mandateId = method.mandate?.mandateId ?? "none";
    const notice: PaymentMethodEffect = {
      kind: "notify",
      id: merge.detachedByProvider
        ? paymentMethodIds.detachedNotice(method.id)
        : paymentMethodIds.mandateInactiveNotice(method.id, mandateId),
      aggregate: PAYMENT_METHOD_AGGREGATE,
      aggregateId: method.id,
      to: { kind: "people", personIds: [person.id] },
      template: merge.detachedByProvider ? "payment_method_detached" : "mandate_inactive",
      data: {
        paymentMethodId: method.id,
        method: describeMethod(method),
        usedForDebits: "yes",
        movedTo: describeMethod(backup),
        movedToPaymentMethodId: backup.id,
      },
    };
    return okAsync({
      nextPerson: moved.value,
      outbox: [notice],
      detail: `${merge.detachedByProvider ? "removed at the provider" : `mandate ${mandateId} inactive`}; rounds debit ${backup.id} instead; ${person.id} told`,
    });
  });
}

/** {@link consequences} when the debit does not move. */
function plainConsequences(
  deps: UseCaseDeps,
  person: P.Person,
  method: SavedPaymentMethod,
  merge: { readonly detachedByProvider: boolean; readonly mandateWentInactive: boolean },
): ResultAsync<
  {
    readonly nextPerson: P.Person | undefined;
    readonly outbox: PaymentMethodEffect[];
    readonly detail: string;
  },
  UseCaseError
> {
  const isDebit = person.debit?.paymentMethodId === method.id;
  const address = { aggregate: PAYMENT_METHOD_AGGREGATE, aggregateId: method.id } as const;
  const describe = describeMethod(method);
  if (merge.detachedByProvider) {
    if (!isDebit)
      return okAsync({ nextPerson: undefined, outbox: [], detail: `removed at the provider (${describe})` });
    const dropped = P.updatePersonReadiness(person, { mandateActive: false });
    if (dropped.isErr()) return errAsync(dropped.error);
    const nextPerson = P.samePerson(person, dropped.value) ? undefined : dropped.value;
    return groupsRelyingOnDebit(deps, person.id).map((groupIds) => {
      if (groupIds.length === 0)
        return {
          nextPerson,
          outbox: [],
          detail: `removed at the provider (${describe}); ${person.id} has no active debit`,
        };
      const outbox: PaymentMethodEffect[] = [
        {
          kind: "notify",
          id: paymentMethodIds.detachedNotice(method.id),
          ...address,
          to: { kind: "people", personIds: [person.id] },
          template: "payment_method_detached",
          data: {
            paymentMethodId: method.id,
            method: describe,
            groupIds: groupIds.join(","),
            action: "save_a_new_bank_account",
            setupPath: `${METHODS_PATH}/setup`,
          },
        },
        ...groupIds.flatMap((groupId): PaymentMethodEffect[] => [
          {
            kind: "notify",
            id: paymentMethodIds.detachedAdminsNotice(method.id, groupId),
            ...address,
            to: { kind: "group", groupId, members: { kind: "admins" } },
            template: "member_payment_method_detached",
            data: { groupId, memberId: person.id, memberName: person.displayName, method: describe },
          },
          {
            kind: "open_ticket",
            id: paymentMethodIds.detachedTicket(method.id, groupId),
            ...address,
            groupId,
            reason: "payment_method_detached",
            summary: `${person.id}'s debit ${method.id} (${describe}) was detached at the provider, not through susu, while a round of group ${groupId} relies on it. Their readiness dropped and they were asked to save a new bank account; their contribution will fail until they do.`,
          },
        ]),
      ];
      return {
        nextPerson,
        outbox,
        detail: `removed at the provider (${describe}) while groups ${groupIds.join(", ")} rely on it: ${person.id} and the admins told, tickets opened`,
      };
    });
  }
  if (merge.mandateWentInactive && method.mandate !== undefined) {
    const mandateId = method.mandate.mandateId;
    const dropped = isDebit
      ? P.updatePersonReadiness(person, { mandateActive: false }, { mandateId })
      : undefined;
    if (dropped?.isErr()) return errAsync(dropped.error);
    const after = dropped?.isOk() ? dropped.value : person;
    const outbox: PaymentMethodEffect[] = [
      {
        kind: "notify",
        id: paymentMethodIds.mandateInactiveNotice(method.id, mandateId),
        ...address,
        to: { kind: "people", personIds: [person.id] },
        template: "mandate_inactive",
        data: {
          paymentMethodId: method.id,
          mandateId,
          method: describe,
          usedForDebits: isDebit ? "yes" : "no",
          action: "save_a_new_bank_account",
          setupPath: `${METHODS_PATH}/setup`,
        },
      },
    ];
    return okAsync({
      nextPerson: P.samePerson(person, after) ? undefined : after,
      outbox,
      detail: `mandate ${mandateId} inactive; ${person.id} told how to fix it`,
    });
  }
  return okAsync({ nextPerson: undefined, outbox: [], detail: `recorded for ${person.id} (${describe})` });
}

/** How a method is named to its owner: brand or bank, and the last four digits only. */
export function describeMethod(method: SavedPaymentMethod): string {
  if (method.card !== undefined) return `${method.card.brand} ending ${method.card.last4}`;
  if (method.bankAccount !== undefined)
    return `bank account ${method.bankAccount.bsbNumber.slice(0, 3)}-${method.bankAccount.bsbNumber.slice(3)} ending ${method.bankAccount.last4}`;
  return method.type;
}
