import { errAsync, okAsync, ResultAsync } from "neverthrow";
import type { PaymentObjectFact } from "../facts/payment-fact.js";
import { retryOrPark } from "../policy/retry-or-park.js";
import type { RetryPolicy } from "../policy/retry-policy.js";
import { outboxAggregateOf } from "../ports/outbox-aggregate.js";
import type { OutboxEffect } from "../ports/outbox-effect.js";
import {
  interruptedTry,
  type OutboxCompletion,
  type OutboxRecord,
  type OutboxStore,
  parkedEffectTicketId,
  type StorageError,
  type UnitOfWork,
} from "../ports/storage.js";
import { HOUR_MS, type Instant, MINUTE_MS } from "../shared/time.js";
import { applyPaymentObjectFact, type FactError, type FactPorts } from "./apply-fact.js";
import type { UseCaseDeps } from "./deps.js";
import { type EffectPorts, executeEffect, ledgerFailure } from "./execute-effect.js";
import { isMembershipFact } from "./membership-use-cases.js";
import { settleFailure } from "./settle-failure.js";

/** How the dispatcher retries effects whose execution failed (provider down, timeouts). */
export const DEFAULT_EFFECT_RETRY: RetryPolicy = {
  baseDelayMs: 5_000,
  factor: 2,
  maxDelayMs: HOUR_MS,
  jitter: "full",
  attemptsMax: 12,
};

/** Settings of one dispatcher pass. */
export interface DispatchOptions {
  readonly workerId: string;
  readonly leaseMs?: number;
  /** Most effects one pass claims (default 50). */
  readonly limit?: number;
  /**
   * How many aggregates' effects run at once (default 1). Effects of one aggregate always
   * run one at a time, in order; this bounds the provider calls and commits in flight.
   */
  readonly concurrency?: number;
  readonly retry?: RetryPolicy;
  /**
   * Told of each effect once its result is recorded (for metrics), a run that threw included
   * (as a failure, code `effect_crashed`): an effect whose result could not be recorded ends
   * the pass with a storage error and is not reported.
   */
  readonly onSettled?: (settled: SettledEffect) => void;
  /**
   * This worker's claims not yet settled, kept by the caller across passes (one set per
   * dispatcher loop; passes of one loop never overlap). A pass adds what it claims and
   * removes what it settles; what a failed pass leaves (its database went away) is released
   * at the start of the next pass, once the database answers, instead of waiting out the
   * lease. Nothing in it is in flight between passes: a pass ends only once all its tasks
   * have.
   */
  readonly held?: Set<string>;
  /**
   * The claims in `held` whose run started (a provider call may have gone out, its result
   * unrecorded), kept by the caller with `held`. The next pass gives them back marked as
   * interrupted, so their next run is a retry (`OutboxRecord.failedBefore`: it looks for what
   * this try made first); the others in `held`, never started, are given back as they were.
   * Without it (but with `held`), a pass that fails treats all it holds as started.
   */
  readonly started?: Set<string>;
  /**
   * The claims in `held` whose run threw (a bug in a port or a use case: a rejection, not an
   * err result, which rejects the pass), kept by the caller with `held` and `started`. Such a
   * run is recorded as a failed attempt (`effect_crashed`) at once, in the pass it threw in,
   * told to `onSettled` and settled by the retry policy as any failure: due again after its
   * backoff, parked with a ticket once the attempts are spent. Only one whose failure could
   * not be recorded then (the database away) stays here, for the next pass to record. Without
   * it (or when the process dies instead), such a claim is given back as interrupted, no
   * attempt counted.
   */
  readonly crashed?: Map<string, CrashedRun>;
  /**
   * Whether the pass, once it has settled and given back what `held` names, also gives back
   * every other claim this worker holds (`OutboxStore.releaseOwnClaims`, when the store has
   * it): the caller sets it after a pass that failed or crashed. Such a claim is one whose
   * answer the pass never heard (the database went away as the claim committed), so it is in
   * no pass's hands and never started; without this it waits out its lease (5 minutes).
   */
  readonly releaseOwnClaims?: boolean;
  /**
   * For how long (ms of `passClock`, from the pass's start) the pass claims again while at
   * least half its slots are idle and nothing claimed is waiting (default 0: one claim; under
   * the lease). A claim cut by `limit` may hold few aggregates when each has many effects due
   * (a round's debits): without claiming again, the pass would run those few while the other
   * slots sit idle until its longest aggregate is done. A refill asks for `limit` effects, as the
   * first claim does. The claims skip the aggregates this pass holds, so each
   * aggregate's effects still run one at a time, in order.
   */
  readonly refillForMs?: number;
  /**
   * The clock `refillForMs` is measured on, in ms (default the deps' clock). The scheduler
   * passes its process's monotonic clock: a pass then stops claiming in real time, whatever the
   * domain's clock does (a test's manual clock stands still).
   */
  readonly passClock?: () => number;
}

/** An effect whose run threw in a pass ({@link DispatchOptions.crashed}): its claimed record and what it threw. */
export interface CrashedRun {
  readonly record: OutboxRecord;
  /** The thrown error, as `<name>: <message>`. */
  readonly error: string;
}

/**
 * How one effect's execution ended: done, due again after a backoff, or parked with a ticket;
 * or `lease_lost`: it ran, but its completion found the claim no longer this worker's (the
 * lease ended mid-run and another worker took the effect over), so nothing was recorded —
 * that worker settles it (executing it again under the same idempotency key).
 */
export type SettledEffectOutcome = "completed" | "retried" | "parked" | "lease_lost";

/** One effect the dispatcher executed and recorded. */
export interface SettledEffect {
  readonly effectId: string;
  readonly kind: OutboxEffect["kind"];
  readonly outcome: SettledEffectOutcome;
  /** The failure's stable code, when it failed. */
  readonly code?: string;
  /** When its execution started and when its result was recorded (the clock's instants). */
  readonly startedAt: Instant;
  readonly settledAt: Instant;
}

/** What one dispatcher pass did, for logs and metrics. */
export interface DispatchReport {
  readonly claimed: number;
  readonly completed: number;
  readonly retried: number;
  readonly parked: number;
  /** Effects run whose completion found their claim taken over by another worker (`lease_lost`). */
  readonly leaseLost: number;
  /** Claims of an earlier, failed pass given back at the start of this one. */
  readonly released: number;
}

/** The report's count of each outcome. */
const countOf = {
  completed: "completed",
  retried: "retried",
  parked: "parked",
  lease_lost: "leaseLost",
} as const satisfies Record<SettledEffectOutcome, keyof Omit<DispatchReport, "claimed" | "released">>;

/** Routes the facts an effect reported, as their webhooks would be routed. */
function feed(
  deps: UseCaseDeps,
  ports: FactPorts,
  facts: readonly PaymentObjectFact[],
  actor: string,
): ResultAsync<void, FactError> {
  return facts.reduce<ResultAsync<void, FactError>>(
    (chain, fact) =>
      chain.andThen(() => applyPaymentObjectFact(deps, ports, fact, actor).map(() => undefined)),
    okAsync(undefined),
  );
}

/**
 * One pass of the outbox dispatcher: claim due effects (a lease, so several dispatchers
 * can run), execute each through the ports, feed the results back to their aggregates, and
 * mark it done. The claimed effects are grouped by aggregate ({@link outboxAggregateOf}):
 * each group runs one effect at a time in claim (sequence) order, up to `concurrency`
 * groups at once; the store never hands one aggregate's effects to two workers at once
 * (OutboxStore). A failed execution is settled by {@link retryOrPark}: retried later with
 * backoff and jitter; after the policy's limit — or at once when retrying cannot help — a
 * support ticket is opened and the effect parked (only once the ticket exists); the group
 * goes on with its next effect, as the one-at-a-time dispatcher did. A storage error stops
 * every group from starting another effect (the rest stay claimed, in `held`, for the next
 * pass to give back: the one whose result could not be recorded as interrupted, in `started`,
 * so that its next run is a retry) and, once every group has ended, the pass, with the first
 * such error.
 * No effect starts once the claim's lease is about to end (its last tenth, at most 30 s),
 * since another dispatcher may take the aggregate after it.
 */
export function dispatchOutbox(
  deps: UseCaseDeps,
  ports: EffectPorts,
  outbox: OutboxStore,
  options: DispatchOptions,
): ResultAsync<DispatchReport, StorageError> {
  const retry = options.retry ?? DEFAULT_EFFECT_RETRY;
  const held = options.held ?? new Set<string>();
  const started = options.started ?? (options.held === undefined ? new Set<string>() : undefined);
  const crashed = options.crashed ?? new Map<string, CrashedRun>();
  const counts = { claimed: 0, completed: 0, retried: 0, parked: 0, leaseLost: 0 };
  // The runs that threw in the last pass are failed attempts; then the rest it left is given back.
  const released = settleCrashed(deps, ports, outbox, options, retry, held, started, crashed).andThen(
    (settled) => {
      for (const outcome of settled) counts[countOf[outcome]] += 1;
      return releaseStranded(outbox, options.workerId, held, started).andThen((given) =>
        options.releaseOwnClaims === true && outbox.releaseOwnClaims !== undefined
          ? outbox.releaseOwnClaims(options.workerId).map((rest) => given + rest)
          : okAsync(given),
      );
    },
  );
  const leaseMs = options.leaseMs ?? 5 * MINUTE_MS;
  const limit = options.limit ?? 50;
  const refillForMs = options.refillForMs ?? 0;
  if (!Number.isFinite(refillForMs) || refillForMs < 0 || (refillForMs > 0 && refillForMs >= leaseMs))
    throw new RangeError(
      `refillForMs must be a finite number of ms, at least 0 and under the lease (${leaseMs}), got ${refillForMs}`,
    );
  const elapsed = options.passClock ?? (() => deps.clock.now());
  const refillUntil = elapsed() + refillForMs;
  const claim = (max: number): ResultAsync<readonly ClaimedGroup[], StorageError> => {
    const claimedAt = deps.clock.now();
    // Past this instant another dispatcher may take the aggregate (an expired lease is
    // anyone's, and the sweep clears it): no effect of this claim starts after it.
    const startBy = claimedAt + leaseMs - Math.min(leaseMs / 10, 30_000);
    return outbox.claimDue(options.workerId, claimedAt, leaseMs, max).map((records) => {
      for (const record of records) held.add(record.effect.id);
      return byAggregate(records).map((records) => ({ records, startBy }));
    });
  };
  return released.andThen((releasedCount) =>
    claim(limit).andThen((first) => {
      let failure: StorageError | undefined;
      const runGroup = async ({ records, startBy }: ClaimedGroup): Promise<void> => {
        for (const record of records) {
          // Once a result could not be recorded (the database is away) nothing new starts: a
          // provider call now would go out with no way to record its result. Effects not
          // started stay in `held` and are given back by the next pass (or their lease ends);
          // one that started stays in `started` too, given back as interrupted.
          if (failure !== undefined || deps.clock.now() >= startBy) return;
          started?.add(record.effect.id);
          // Wrapped so a port that throws at once is caught as one whose promise rejects.
          const outcome = await (async () =>
            runOne(deps, ports, outbox, options.workerId, retry, record, options.onSettled))().catch(
            async (error: unknown) => {
              const id = record.effect.id;
              const run: CrashedRun = {
                record,
                error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
              };
              // Recorded at once as a failed attempt (this process is alive and knows the run's
              // result was not recorded), told to `onSettled`, its claim given back on its
              // backoff; kept for the next pass to record when it cannot be now (the database
              // away, or recording it threw too). This pass rejects with the error all the same.
              crashed.set(id, run);
              const settled = await (async () =>
                settleCrash(deps, ports, outbox, options, retry, run))().catch(() => undefined);
              if (settled?.isOk() === true) {
                crashed.delete(id);
                held.delete(id);
                started?.delete(id);
                counts[countOf[settled.value]] += 1;
              } else if (settled?.isErr() === true) failure ??= settled.error;
              throw error;
            },
          );
          if (outcome.isErr()) {
            failure ??= outcome.error;
            return;
          }
          held.delete(record.effect.id);
          started?.delete(record.effect.id);
          counts[countOf[outcome.value]] += 1;
        }
      };
      const claimMore = async (): Promise<readonly ClaimedGroup[] | undefined> => {
        if (failure !== undefined || elapsed() >= refillUntil) return undefined;
        // As many as the first claim, so that a backlog's claims per effect stay as they were:
        // each claim reads every pending row (smaller refills, four per idle slot, were tried on
        // bench/in-flight.ts's 10,000 payments and showed no gain).
        const more = await claim(limit);
        if (more.isErr()) {
          failure ??= more.error;
          return undefined;
        }
        return more.value;
      };
      const claimedIn = (groups: readonly ClaimedGroup[]) => {
        counts.claimed += groups.reduce((n, g) => n + g.records.length, 0);
        return groups;
      };
      const work = runRefilled(claimedIn(first), options.concurrency ?? 1, runGroup, async () => {
        const more = await claimMore();
        return more === undefined ? undefined : claimedIn(more);
      });
      return ResultAsync.fromSafePromise(work).andThen(() =>
        failure !== undefined ? errAsync(failure) : okAsync({ ...counts, released: releasedCount }),
      );
    }),
  );
}

/**
 * Records each run that threw in an earlier pass of this worker whose failure that pass could
 * not record (`crashed`, still claimed by it) as a failed attempt with the code `effect_crashed`, retryable: due again after the
 * policy's backoff, or parked with a ticket once its attempts are spent. A throw is a bug more
 * often than an outage, and a deploy may fix it, so it is retried; counted, it cannot be run
 * by every pass for ever. Settled, the claim leaves `held` and `crashed`; one whose failure
 * could not be recorded stays for the next pass. What each settlement did.
 */
function settleCrashed(
  deps: UseCaseDeps,
  ports: EffectPorts,
  outbox: OutboxStore,
  options: DispatchOptions,
  retry: RetryPolicy,
  held: Set<string>,
  started: Set<string> | undefined,
  crashed: Map<string, CrashedRun>,
): ResultAsync<readonly SettledEffectOutcome[], StorageError> {
  // Each kept until its failure is recorded: a pass that cannot reach the database leaves it
  // for the next (one no longer held was settled or given back some other way).
  for (const id of [...crashed.keys()]) if (!held.has(id)) crashed.delete(id);
  const runs = [...crashed.values()];
  return runs.reduce<ResultAsync<SettledEffectOutcome[], StorageError>>(
    (chain, run) =>
      chain.andThen((done) => {
        const id = run.record.effect.id;
        return settleCrash(deps, ports, outbox, options, retry, run).map((outcome) => {
          held.delete(id);
          started?.delete(id);
          crashed.delete(id);
          return [...done, outcome];
        });
      }),
    okAsync([]),
  );
}

/** Records `run` (its run threw) as a failed attempt, `effect_crashed`, retryable, by the retry policy. */
function settleCrash(
  deps: UseCaseDeps,
  ports: EffectPorts,
  outbox: OutboxStore,
  options: DispatchOptions,
  retry: RetryPolicy,
  run: CrashedRun,
): ResultAsync<SettledEffectOutcome, StorageError> {
  return settleEffectFailure(
    deps,
    ports,
    outbox,
    options.workerId,
    retry,
    run.record,
    { code: "effect_crashed", message: run.error, retry: true },
    deps.clock.now(),
    options.onSettled,
  );
}

/**
 * Gives back what an earlier, failed pass of this worker left in `held`: the claims whose run
 * started (`started`; all of them when it is not kept) marked as interrupted, so their next
 * claim says they failed before and their run looks first; the others as they were. Answers
 * how many were given back.
 */
function releaseStranded(
  outbox: OutboxStore,
  workerId: string,
  held: Set<string>,
  started: Set<string> | undefined,
): ResultAsync<number, StorageError> {
  const tried = [...held].filter((id) => started === undefined || started.has(id));
  const untried = [...held].filter((id) => started !== undefined && !started.has(id));
  const give = (ids: readonly string[], interrupted?: string): ResultAsync<number, StorageError> =>
    ids.length === 0
      ? okAsync(0)
      : outbox.release(workerId, ids, interrupted).map((count) => {
          for (const id of ids) {
            held.delete(id);
            started?.delete(id);
          }
          return count;
        });
  return give(tried, interruptedTry.unrecorded(workerId)).andThen((marked) =>
    give(untried).map((plain) => marked + plain),
  );
}

/** One aggregate's claimed effects, in claim order, and when their claim's lease runs short. */
interface ClaimedGroup {
  readonly records: readonly OutboxRecord[];
  readonly startBy: Instant;
}

/**
 * Runs `groups` with at most `concurrency` at once. When at least half the slots are idle, no
 * group is waiting and some still run, asks `claimMore` for more, until it answers
 * `undefined` (no more for this pass) or an empty claim (nothing due now): a pass makes at most
 * one empty claim, since each claim reads every pending row and claims queue on one lock. What
 * falls due after it waits for the next pass, which the polling loop starts at once after a
 * pass that worked. Resolves once every group has ended. `run` must not reject (it
 * reports its own failures); if one does (a bug), nothing more is claimed and the rejection is
 * rethrown once every other group has ended, so nothing is left running behind the caller's
 * back (the next pass would give back, and run again, what still runs).
 */
async function runRefilled<G>(
  groups: readonly G[],
  concurrency: number,
  run: (group: G) => Promise<void>,
  claimMore: () => Promise<readonly G[] | undefined>,
): Promise<void> {
  const waiting = [...groups];
  const running = new Set<Promise<void>>();
  let exhausted = false;
  let crash: { readonly error: unknown } | undefined;
  for (;;) {
    while (running.size < concurrency && waiting.length > 0) {
      const task: Promise<void> = run(waiting.shift() as G)
        .catch((error: unknown) => {
          crash ??= { error };
        })
        .finally(() => running.delete(task));
      running.add(task);
    }
    if (
      crash === undefined &&
      !exhausted &&
      waiting.length === 0 &&
      running.size > 0 &&
      (concurrency - running.size) * 2 >= concurrency
    ) {
      const more = await claimMore();
      if (more === undefined || more.length === 0) exhausted = true;
      else {
        waiting.push(...more);
        continue;
      }
    }
    if (running.size === 0) break;
    await Promise.race(running);
  }
  if (crash !== undefined) throw crash.error;
}

/** The records grouped by aggregate, each group in claim order, groups by their first record. */
function byAggregate(records: readonly OutboxRecord[]): readonly (readonly OutboxRecord[])[] {
  const groups = new Map<string, OutboxRecord[]>();
  for (const record of records) {
    const { type, id } = outboxAggregateOf(record.effect);
    const key = `${type}\u0000${id}`;
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [record]);
    else group.push(record);
  }
  return [...groups.values()];
}

/**
 * Deps whose commits mark the effect done with its result, when the result is one fact that
 * its aggregate records in at most one commit — a round's, or a held payment's other than a
 * dispute (which may first catch the payment up in a commit of its own): then the fact's
 * commit and the effect's completion are one (a crash leaves both or neither). `done()`
 * says whether a commit carrying the completion succeeded; when none did (the fact was
 * routed nowhere, or there were several facts) the caller completes the effect itself. A
 * commit that fails (a lost race retried) takes the completion with it. A commit that
 * succeeds does not say whether its completion took effect (`UnitOfWork.commit` answers
 * nothing): one whose claim was lost mid-run is counted `completed`, not `lease_lost`, unlike
 * a completion made by `OutboxStore.complete`.
 */
function completingWith(
  deps: UseCaseDeps,
  facts: readonly PaymentObjectFact[],
  completion: OutboxCompletion,
): { readonly deps: UseCaseDeps; readonly done: () => boolean } {
  const [fact, ...more] = facts;
  if (fact === undefined || more.length > 0 || !recordedInOneCommit(fact)) return { deps, done: () => false };
  let done = false;
  const uow: UnitOfWork = {
    commit: (changes) =>
      deps.uow.commit({ ...changes, outboxDone: completion }).andTee(() => {
        done = true;
      }),
  };
  return { deps: { ...deps, uow }, done: () => done };
}

/** Whether routing `fact` commits at most once (see {@link completingWith}). */
function recordedInOneCommit(fact: PaymentObjectFact): boolean {
  if (isMembershipFact(fact) || fact.refs.marketplaceChargeId !== undefined) return false;
  if (fact.refs.heldPaymentId !== undefined)
    return (
      fact.kind !== "dispute_opened" && fact.kind !== "dispute_updated" && fact.kind !== "dispute_closed"
    );
  return true;
}

function runOne(
  deps: UseCaseDeps,
  ports: EffectPorts,
  outbox: OutboxStore,
  workerId: string,
  retry: RetryPolicy,
  record: OutboxRecord,
  onSettled: DispatchOptions["onSettled"],
): ResultAsync<SettledEffectOutcome, StorageError> {
  const effect = record.effect;
  const startedAt = deps.clock.now();
  const tell = (outcome: SettledEffectOutcome, code?: string): void =>
    onSettled?.({
      effectId: effect.id,
      kind: effect.kind,
      outcome,
      ...(code !== undefined ? { code } : {}),
      startedAt,
      settledAt: deps.clock.now(),
    });
  // Whether this worker's completion took effect: not when its claim was lost mid-run.
  const completed = (done: boolean): SettledEffectOutcome => {
    const outcome = done ? "completed" : "lease_lost";
    tell(outcome);
    return outcome;
  };
  // A posting whose ledger shares the outbox's database: posted and marked done in one
  // commit (nothing in between to lose), instead of a commit for each.
  const postCompleting = ports.ledger.postCompleting?.bind(ports.ledger);
  const carriedOut: ResultAsync<
    SettledEffectOutcome,
    { code: string; message: string; retry: boolean; refused?: boolean }
  > =
    effect.kind === "post_ledger" && postCompleting !== undefined
      ? postCompleting(effect.transaction, { effectId: effect.id, workerId, at: deps.clock.now() })
          .mapErr(ledgerFailure)
          .andThen((done) =>
            done
              ? okAsync(completed(true))
              : // Not marked done with the posting (its claim is not in the ledger's database,
                // or was lost): the outbox decides, as after a plain post.
                outbox
                  .complete(effect.id, workerId, deps.clock.now())
                  .map(completed)
                  .mapErr((e) => ({ code: e.code, message: e.message, retry: true })),
          )
      : // A first attempt passes on when the effect was made, so the provider may trust the
        // idempotency key alone; a retry after a recorded failure passes nothing, so the provider
        // looks for an object an earlier attempt made (a stored 500 replayed under the key would
        // otherwise fail every retry of an effect whose object Stripe did make). A requeued
        // effect starts again at 0 attempts but failed before: its run is a retry too.
        executeEffect(
          deps,
          ports,
          effect,
          record.attempts === 0 && record.failedBefore !== true ? record.createdAt : undefined,
          {
            triedBefore: record.attempts > 0 || record.failedBefore === true,
            ...(record.refusals !== undefined ? { refusals: record.refusals } : {}),
          },
        )
          .mapErr((f) => ({ code: f.code, message: f.message, retry: f.retry, refused: f.refused === true }))
          .andThen((facts) => {
            const recording = completingWith(deps, facts, {
              effectId: effect.id,
              workerId,
              at: deps.clock.now(),
            });
            return feed(recording.deps, { reader: ports.gateway }, facts, `effect:${effect.id}`)
              .mapErr((e) => ({
                code: e.code,
                message: e.message,
                // A state the store refuses will be refused again: park it for a person.
                retry: e.type !== "storage_refused",
              }))
              .map(() => recording.done());
          })
          .andThen((done) =>
            done
              ? okAsync(completed(true))
              : outbox
                  .complete(effect.id, workerId, deps.clock.now())
                  .map(completed)
                  .mapErr((e) => ({ code: e.code, message: e.message, retry: true })),
          );
  return carriedOut.orElse((f) =>
    settleEffectFailure(deps, ports, outbox, workerId, retry, record, f, startedAt, onSettled),
  );
}

/** What an effect's failed run reports: its code, whether a retry may help, and whether the provider refused it for good. */
interface RunFailure {
  readonly code: string;
  readonly message: string;
  readonly retry: boolean;
  readonly refused?: boolean;
}

/** Settles a failed run of `record`'s effect by {@link retryOrPark}: due again after a backoff, or parked with a ticket. */
function settleEffectFailure(
  deps: UseCaseDeps,
  ports: EffectPorts,
  outbox: OutboxStore,
  workerId: string,
  retry: RetryPolicy,
  record: OutboxRecord,
  f: RunFailure,
  startedAt: Instant,
  onSettled: DispatchOptions["onSettled"],
): ResultAsync<SettledEffectOutcome, StorageError> {
  const effect = record.effect;
  return settleFailure(
    retryOrPark(
      {
        itemId: effect.id,
        attempts: record.attempts,
        failure: { code: f.code, message: f.message, retryable: f.retry },
        ticket: {
          id: parkedEffectTicketId(effect.id),
          reason: "effect_parked",
          subject: `effect ${effect.id} (${effect.kind})`,
        },
      },
      { policy: retry, now: deps.clock.now() },
    ),
    {
      retry: (at, note) => outbox.fail(effect.id, workerId, note, at),
      openTicket: (ticket) => ports.desk.openTicket(ticket),
      // A refusal for good spends the effect's provider key: counted, so a requeue uses a new one.
      park: (note) =>
        f.refused === true
          ? outbox.fail(effect.id, workerId, note, undefined, { refused: true })
          : outbox.fail(effect.id, workerId, note, undefined),
    },
  ).map(({ outcome: decided, value: recorded }): SettledEffectOutcome => {
    // Not recorded: the claim was lost mid-run (another worker holds the effect now and settles it).
    const outcome = recorded ? decided : "lease_lost";
    onSettled?.({
      effectId: effect.id,
      kind: effect.kind,
      outcome,
      code: f.code,
      startedAt,
      settledAt: deps.clock.now(),
    });
    return outcome;
  });
}
