import { errAsync, okAsync, type Result, type ResultAsync } from "neverthrow";
import type { PersonId } from "../person/ids.js";
import type { PersonError } from "../person/person.errors.js";
import type { MemberReadiness, Person, PersonPaymentUpdate } from "../person/person.js";
import * as P from "../person/person.js";
import type { UseCaseDeps, UseCaseError } from "./deps.js";
import { tellHeldPaymentsOfSeller } from "./held-payment-use-cases.js";
import { loadPerson } from "./load-people.js";
import { retryOnConflict } from "./retry-on-conflict.js";
import { applyRoundInput } from "./round-use-cases.js";

/**
 * Applies a pure change to a person and stores it (optimistic version check) with an audit
 * line. A change that changes nothing stores no new version, only an `ignored` audit line:
 * Stripe repeats itself, and a repeat is recorded, not applied. A person is written by
 * their own requests and by Stripe's webhooks at once (a payout account recorded while the
 * mandate's webhook lands): when another writer got there first, the change is applied
 * again to the person as now stored, a few times, before `version_conflict` is answered.
 */
function changePerson(
  deps: UseCaseDeps,
  personId: PersonId,
  action: string,
  actor: string,
  change: (person: Person) => Result<Person, PersonError>,
): ResultAsync<{ readonly before: Person; readonly after: Person }, UseCaseError> {
  return retryOnConflict(() => changePersonOnce(deps, personId, action, actor, change));
}

function changePersonOnce(
  deps: UseCaseDeps,
  personId: PersonId,
  action: string,
  actor: string,
  change: (person: Person) => Result<Person, PersonError>,
): ResultAsync<{ readonly before: Person; readonly after: Person }, UseCaseError> {
  return loadPerson(deps, personId).andThen((before) => {
    const changed = change(before);
    if (changed.isErr()) return errAsync(changed.error);
    const unchanged = P.samePerson(before, changed.value);
    const after = unchanged ? before : { ...changed.value, version: before.version + 1 };
    return deps.uow
      .commit({
        people: unchanged ? [] : [{ state: after, expectedVersion: before.version }],
        groups: [],
        rounds: [],
        outbox: [],
        audit: [
          {
            at: deps.clock.now(),
            aggregate: "person",
            aggregateId: personId,
            action,
            outcome: unchanged ? "ignored" : "applied",
            ...(unchanged ? { detail: "nothing changed" } : {}),
            actor,
          },
        ],
      })
      .map(() => ({ before, after }));
  });
}

/**
 * Tells the round in progress of every group the person belongs to, where they are the
 * recipient, whether they can receive now: a blocked payout resumes as soon as the
 * recipient's account can receive, in every group at once. Each round is its own unit of
 * work after the person's; a failure part-way is retried by the caller, and rounds ignore
 * a readiness they already know.
 */
function tellRoundsOfRecipient(
  deps: UseCaseDeps,
  personId: PersonId,
  canReceive: boolean,
  actor: string,
): ResultAsync<void, UseCaseError> {
  return deps.groups.listGroupsOfPerson(personId).andThen((groups) =>
    groups.reduce<ResultAsync<void, UseCaseError>>(
      (chain, group) =>
        chain.andThen(() => {
          if (group.currentRoundId === undefined) return okAsync(undefined);
          return deps.rounds.getRound(group.currentRoundId).andThen((round) => {
            if (!round || round.recipientMemberId !== personId) return okAsync(undefined);
            return applyRoundInput(deps, round.id, { type: "recipient_readiness", canReceive }, actor).map(
              () => undefined,
            );
          });
        }),
      okAsync(undefined),
    ),
  );
}

/**
 * Records a person's Stripe objects (customer, debit mandate, connected account) in one
 * write. A new connected account starts unable to pay out; if that changes what the person
 * can receive, the rounds where they are the recipient hear of it.
 */
export function updatePersonPayment(
  deps: UseCaseDeps,
  personId: PersonId,
  update: PersonPaymentUpdate,
  actor: string,
): ResultAsync<Person, UseCaseError> {
  return changePerson(deps, personId, "update_person_payment", actor, (p) =>
    P.updatePersonPayment(p, update),
  ).andThen(({ before, after }) => {
    const canReceive = P.personReadiness(after).payoutsEnabled;
    if (P.personReadiness(before).payoutsEnabled === canReceive) return okAsync(after);
    return tellRoundsOfRecipient(deps, personId, canReceive, actor)
      .andThen(() => tellHeldPaymentsOfSeller(deps, after, canReceive, actor))
      .map(() => after);
  });
}

/**
 * Records what a person is ready for (mandate active, payouts enabled), as Stripe reports
 * it: one write to the person, seen by every group they are in. When payouts are named,
 * every round in progress with the person as recipient hears `recipient_readiness`, and
 * every open held payment they sell hears `seller_account_ready` or `_not_ready` (even if
 * the person already knew: a round or a payment may not).
 */
export function updatePersonReadiness(
  deps: UseCaseDeps,
  personId: PersonId,
  readiness: Partial<MemberReadiness>,
  actor: string,
  about: P.ReadinessSubject = {},
): ResultAsync<Person, UseCaseError> {
  return changePerson(deps, personId, "update_person_readiness", actor, (p) =>
    P.updatePersonReadiness(p, readiness, about),
  ).andThen(({ after }) =>
    readiness.payoutsEnabled === undefined ||
    (about.connectedAccountId !== undefined && after.payout?.connectedAccountId !== about.connectedAccountId)
      ? okAsync(after)
      : tellRoundsOfRecipient(deps, personId, readiness.payoutsEnabled, actor)
          .andThen(() => tellHeldPaymentsOfSeller(deps, after, readiness.payoutsEnabled === true, actor))
          .map(() => after),
  );
}
