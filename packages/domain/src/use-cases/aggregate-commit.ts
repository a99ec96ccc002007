import { errAsync, okAsync, type Result, type ResultAsync } from "neverthrow";
import type { Decision } from "../kernel/decision.js";
import type { OutboxEffect } from "../ports/outbox-effect.js";
import type { AuditEntry, Changeset, StoredAggregate, VersionedChange } from "../ports/storage.js";
import type { Instant } from "../shared/time.js";
import { notFound, type UseCaseDeps, type UseCaseError } from "./deps.js";
import { retryOnConflict } from "./retry-on-conflict.js";
import { operatorActor, type PlatformOperator } from "./round-use-cases.js";

/**
 * The changeset keys of the aggregates a use case loads, decides and stores on their own
 * (no other aggregate changes with them): a held payment, a marketplace charge.
 */
export type StandaloneAggregateKey = "heldPayments" | "marketplaceCharges" | "plans" | "subscriptions";

/** The state stored under a changeset key. */
export type StateAt<K extends StandaloneAggregateKey> = NonNullable<Changeset[K]>[number]["state"];

/** An input as the audit log names it: its type, or `timer:<kind>` for a timer. */
export interface AuditedInput {
  readonly type: string;
  readonly timer?: { readonly kind: string };
}

/** The audit line of one input fed to an aggregate: applied, or ignored and why. */
function auditLine(
  aggregate: StoredAggregate,
  aggregateId: string,
  input: AuditedInput,
  decision: Decision<unknown, unknown, string>,
  at: Instant,
  actor: string,
): AuditEntry {
  return {
    at,
    aggregate,
    aggregateId,
    action: input.type === "timer" && input.timer !== undefined ? `timer:${input.timer.kind}` : input.type,
    outcome: decision.ignored === undefined ? "applied" : "ignored",
    ...(decision.ignored !== undefined
      ? { detail: `${decision.ignored.code}: ${decision.ignored.detail}` }
      : {}),
    actor,
  };
}

/**
 * What the shared use-case steps need to know of a standalone aggregate: its name (in the
 * audit log and in `<name>_not_found`), where a changeset stores it, how to load one and how to
 * decide an input (with the policy the deps carry).
 */
export interface AggregateKind<
  K extends StandaloneAggregateKey,
  I extends AuditedInput,
  D extends Decision<StateAt<K>, OutboxEffect, string>,
> {
  readonly aggregate: "held_payment" | "marketplace_charge" | "plan" | "subscription";
  /** The changeset part that stores one change of it, under its own key (`{ heldPayments: [change] }`). */
  readonly stored: (change: VersionedChange<StateAt<K>>) => Pick<Changeset, K>;
  readonly load: (deps: UseCaseDeps, id: string) => ResultAsync<StateAt<K> | undefined, UseCaseError>;
  readonly decide: (deps: UseCaseDeps, state: StateAt<K>, input: I, now: Instant) => Result<D, UseCaseError>;
}

/**
 * Stores a decision: the new state (version checked), its effects in the outbox and an
 * audit line, in one unit of work. An ignored input stores only the audit line.
 *
 * @param before the state the decision was made on; absent when it created the aggregate
 */
function commitDecision<
  K extends StandaloneAggregateKey,
  I extends AuditedInput,
  D extends Decision<StateAt<K>, OutboxEffect, string>,
>(
  kind: AggregateKind<K, I, D>,
  deps: UseCaseDeps,
  before: StateAt<K> | undefined,
  decision: D,
  audit: AuditEntry,
): ResultAsync<D, UseCaseError> {
  if (decision.ignored !== undefined)
    return deps.uow
      .commit({ people: [], groups: [], rounds: [], outbox: [], audit: [audit] })
      .map(() => decision);
  const state: StateAt<K> = { ...decision.state, version: (before?.version ?? -1) + 1 };
  return deps.uow
    .commit({
      people: [],
      groups: [],
      rounds: [],
      ...kind.stored({ state, expectedVersion: before?.version }),
      outbox: decision.effects,
      audit: [audit],
    })
    .map(() => ({ ...decision, state }));
}

/**
 * Stores the decision that created an aggregate, audited as `input` by `actor`, and
 * answers it as `created` makes it. When a concurrent request stored the same reference
 * meanwhile (`duplicate`), answers what `existing` finds now, as a repeat of the request
 * would be answered.
 */
export function commitCreation<
  K extends StandaloneAggregateKey,
  I extends AuditedInput,
  D extends Decision<StateAt<K>, OutboxEffect, string>,
  T,
>(
  kind: AggregateKind<K, I, D>,
  deps: UseCaseDeps,
  decision: D,
  audited: { readonly input: I; readonly at: Instant; readonly actor: string },
  created: (state: StateAt<K>) => T,
  existing: () => ResultAsync<T | undefined, UseCaseError>,
): ResultAsync<T, UseCaseError> {
  const audit = auditLine(
    kind.aggregate,
    decision.state.id,
    audited.input,
    decision,
    audited.at,
    audited.actor,
  );
  return commitDecision(kind, deps, undefined, decision, audit)
    .map((d) => created(d.state))
    .orElse((e) =>
      // The same reference stored meanwhile by a concurrent request: answer as a repeat would.
      e.type === "duplicate"
        ? existing().andThen((again) => (again !== undefined ? okAsync(again) : errAsync<T, UseCaseError>(e)))
        : errAsync(e),
    );
}

/** Loads the aggregate or fails with `<aggregate>_not_found`. */
export function loadOrNotFound<
  K extends StandaloneAggregateKey,
  I extends AuditedInput,
  D extends Decision<StateAt<K>, OutboxEffect, string>,
>(kind: AggregateKind<K, I, D>, deps: UseCaseDeps, id: string): ResultAsync<StateAt<K>, UseCaseError> {
  return kind
    .load(deps, id)
    .andThen((s) => (s ? okAsync(s) : errAsync<StateAt<K>, UseCaseError>(notFound(kind.aggregate, id))));
}

/**
 * Feeds one input to the aggregate: load, decide, store — once more from the load when
 * another writer got there first (`version_conflict`).
 *
 * @param actor who or what caused it, for the audit log
 * @param loaded the aggregate as the caller has just loaded it (to read something the input
 *   depends on): the first attempt decides on it instead of loading it again. An applied
 *   decision's write is checked against the version it was loaded at, so an aggregate changed
 *   since then is a `version_conflict`, and the next attempt loads it again and decides again.
 *   An ignored or refused decision writes no versioned row (only its audit line), so it is
 *   never taken on the caller's state: it is decided again on a fresh load.
 */
export function applyAggregateInput<
  K extends StandaloneAggregateKey,
  I extends AuditedInput,
  D extends Decision<StateAt<K>, OutboxEffect, string>,
>(
  kind: AggregateKind<K, I, D>,
  deps: UseCaseDeps,
  id: string,
  input: I,
  actor: string,
  loaded?: StateAt<K>,
): ResultAsync<D, UseCaseError> {
  if (loaded !== undefined && loaded.id !== id)
    throw new Error(`applyAggregateInput: ${kind.aggregate} ${loaded.id} given as ${id}`);
  const decideOn = (state: StateAt<K>) => {
    const now = deps.clock.now();
    return kind.decide(deps, state, input, now).map((decision) => ({ state, decision, now }));
  };
  const store = ({ state, decision, now }: { state: StateAt<K>; decision: D; now: number }) =>
    commitDecision(
      kind,
      deps,
      state,
      decision,
      auditLine(kind.aggregate, state.id, input, decision, now, actor),
    );
  const decideAndCommit = (state: StateAt<K>): ResultAsync<D, UseCaseError> => {
    const decided = decideOn(state);
    return decided.isErr() ? errAsync(decided.error) : store(decided.value);
  };
  let reuse = loaded;
  return retryOnConflict(() => {
    const given = reuse;
    reuse = undefined;
    if (given === undefined) return loadOrNotFound(kind, deps, id).andThen(decideAndCommit);
    const decided = decideOn(given);
    // Only an applied decision is checked against the version at its write.
    if (decided.isErr() || decided.value.decision.ignored !== undefined)
      return loadOrNotFound(kind, deps, id).andThen(decideAndCommit);
    return store(decided.value);
  });
}

/** Feeds a platform operator's command to the aggregate, audited as the operator; answers the new state. */
export function applyOperatorCommand<
  K extends StandaloneAggregateKey,
  I extends AuditedInput,
  D extends Decision<StateAt<K>, OutboxEffect, string>,
>(
  kind: AggregateKind<K, I, D>,
  deps: UseCaseDeps,
  id: string,
  operator: PlatformOperator,
  input: I,
): ResultAsync<StateAt<K>, UseCaseError> {
  return applyAggregateInput(kind, deps, id, input, operatorActor(operator)).map((d) => d.state);
}
