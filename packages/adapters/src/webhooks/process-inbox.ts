import {
  HOUR_MS,
  type Instant,
  type JitterSource,
  jitterFromId,
  MINUTE_MS,
  type RetryPolicy,
  retryOrPark,
  retryPolicyProblem,
  type StorageError,
  useCases,
} from "@susu/domain";
import { errAsync, okAsync, ResultAsync } from "neverthrow";
import type { ContextualSupportDesk } from "../support/prisma-support-desk.js";
import { EventCommits, type OpenCommitStore } from "./event-commits.js";
import { type InboxEvent, type MarkResult, parkedWebhookTicketId, type WebhookInbox } from "./inbox.js";
import {
  processWebhookEvent,
  type WebhookContext,
  type WebhookFailure,
  type WebhookOutcome,
} from "./process-event.js";
import { isStripeEventShaped } from "./verify.js";

/**
 * How failed events are retried: 5 s, 10 s, 20 s … capped at an hour, each delay drawn
 * uniformly below its backoff ("full" jitter, so a burst of failures does not come back
 * as a burst), 10 attempts in all: the nine waits add up to at most 43 minutes (about
 * 21 on average) before the event is parked.
 */
export const DEFAULT_WEBHOOK_RETRY: RetryPolicy = {
  baseDelayMs: 5_000,
  factor: 2,
  maxDelayMs: HOUR_MS,
  jitter: "full",
  attemptsMax: 10,
};

/** Everything a processor pass uses. */
export interface WebhookProcessorContext extends WebhookContext {
  readonly inbox: WebhookInbox;
  /** Where parked events are reported (`reason: "webhook_parked"`). */
  readonly desk: ContextualSupportDesk;
  /**
   * The store behind `deps.uow`, able to leave a commit's transaction open: with it (and an
   * inbox with `finishStatement`), an event's result is stored in the same transaction as
   * the state it changed (see {@link EventCommits}). Absent: each result is its own write.
   */
  readonly commits?: OpenCommitStore;
}

/** Settings of one pass. */
export interface WebhookPassOptions {
  /** Names this processor in leases; unique per process. */
  readonly workerId: string;
  /** How long a claim lasts before another processor may take the event (default 5 minutes). */
  readonly leaseMs?: number;
  /** Most events claimed per pass (default 50). */
  readonly limit?: number;
  /**
   * Most events processed at once (default 1). Events of one ordering key are always
   * processed one at a time, oldest Stripe event first; different keys run side by side.
   */
  readonly concurrency?: number;
  /**
   * For this long from the pass's start (wall-clock ms; default 0: one claim per pass), the
   * pass claims more whenever half its slots are free, so events that arrive while it works
   * do not wait for its slowest key to finish. It ends once nothing is due, or after this.
   */
  readonly refillForMs?: number;
  /**
   * Subscribes to notifications that events may be due (returns the unsubscribe; the pass
   * unsubscribes when it ends). While it may claim more (`refillForMs`), a pass with free
   * slots claims as soon as one comes, instead of when one of its running events ends.
   */
  readonly onWake?: (listener: () => void) => () => void;
  /**
   * With `onWake`: how long a wake-up that comes while events are running waits before the
   * pass claims for it (ms; default 0: at once), unless a running event ends first. Events
   * delivered together then come in one claim (a transaction with a lock) instead of one
   * each; a pass with nothing running claims at once.
   */
  readonly gatherWakeMs?: number;
  /**
   * Whether the pass first gives back the claims this worker still holds (default true).
   * Only a failed pass leaves any that are not already free (a lease that ran out frees its
   * event by itself), so a loop whose last pass succeeded may skip the statement.
   */
  readonly releaseOwnClaims?: boolean;
  readonly retry?: RetryPolicy;
  /**
   * The jitter fraction in [0, 1) for an event's failed attempt. Default: derived from the
   * event id and attempt (spread across events, the same on a replay, so tests can tell).
   */
  readonly jitter?: JitterSource;
  /**
   * Told of each event once its result is recorded, or once recording it found the lease
   * lost (for metrics). An event whose result could not be recorded ends the pass with a
   * storage error and is not reported; nor are events the pass left for the next claim.
   */
  readonly onSettled?: (settled: SettledWebhookEvent) => void;
}

/**
 * How processing one event ended: `applied` to susu's state, `ignored` (unknown type, stale,
 * not susu's), failed and `retried` after a backoff, failed and `parked` with a ticket, or
 * `lease_lost` (another processor may have it now; its result was not recorded).
 */
export type SettledWebhookOutcome = "applied" | "ignored" | "retried" | "parked" | "lease_lost";

/** One event a pass processed. */
export interface SettledWebhookEvent {
  readonly eventId: string;
  /** Stripe's event type, e.g. `payment_intent.succeeded`. */
  readonly type: string;
  readonly outcome: SettledWebhookOutcome;
  /** The failure's stable code, when it failed. */
  readonly code?: string;
  /** When Stripe created the event (its `created`). */
  readonly stripeCreatedAt: Instant;
  /** When processing started and when its result was recorded (the clock's instants). */
  readonly startedAt: Instant;
  readonly settledAt: Instant;
}

/** Reports one event's end to {@link WebhookPassOptions.onSettled}. */
type Tell = (outcome: SettledWebhookOutcome, code?: string) => void;

/** What one pass did, for logs and metrics. */
export interface WebhookPassReport {
  readonly claimed: number;
  readonly processed: number;
  readonly ignored: number;
  readonly retried: number;
  readonly parked: number;
  /**
   * Events whose lease ran out before their result was recorded (another processor may
   * have them now), or before the pass reached them (left for the next claim).
   */
  readonly leaseLost: number;
}

const EMPTY: WebhookPassReport = {
  claimed: 0,
  processed: 0,
  ignored: 0,
  retried: 0,
  parked: 0,
  leaseLost: 0,
};

function count(report: WebhookPassReport, key: keyof WebhookPassReport, mark: MarkResult): WebhookPassReport {
  return mark === "marked"
    ? { ...report, [key]: report[key] + 1 }
    : { ...report, leaseLost: report.leaseLost + 1 };
}

/** Runs the event, turning a throw (a bug, a payload the translator did not expect) into a failure. */
function processSafely(record: InboxEvent, ctx: WebhookContext): ResultAsync<WebhookOutcome, WebhookFailure> {
  const payload = record.payload;
  if (!isStripeEventShaped(payload))
    return errAsync({
      code: "payload_invalid",
      message: `inbox row ${record.id} does not hold a Stripe event`,
      retryable: false,
    });
  return ResultAsync.fromPromise(
    (async () => processWebhookEvent(payload, ctx))(),
    (error): WebhookFailure => ({
      code: "processing_crashed",
      message: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      // A throw is a bug more often than an outage, but a deploy can fix a bug: retry with
      // backoff, and a person hears of it through the ticket when the retries run out.
      retryable: true,
    }),
  ).andThen((result) => result);
}

/**
 * What the database refuses (a text it cannot hold, a corrupt row) it will refuse on every
 * try, so a refused write is a failure retrying cannot help: the event is parked at once
 * with a ticket. Only the refusal's own message is recorded (codes, no row data), since
 * the text that was refused may be what the database cannot hold.
 */
function refusal(error: StorageError, recording: string, about: WebhookFailure | undefined): WebhookFailure {
  return {
    code: error.code,
    message: `${error.message} (while recording ${recording})`,
    retryable: false,
    ...(about?.groupId !== undefined ? { groupId: about.groupId } : {}),
    ...(about?.roundId !== undefined ? { roundId: about.roundId } : {}),
  };
}

function settle(
  ctx: WebhookProcessorContext,
  workerId: string,
  retry: RetryPolicy,
  jitter: JitterSource,
  record: InboxEvent,
  failure: WebhookFailure,
  report: WebhookPassReport,
  tell: Tell,
): ResultAsync<WebhookPassReport, StorageError> {
  const decision = retryOrPark(
    {
      itemId: record.id,
      attempts: record.attempts,
      // A state the store refused will be refused again, whoever classified the failure.
      failure: { ...failure, retryable: failure.retryable && failure.code !== "storage_refused" },
      ticket: {
        id: parkedWebhookTicketId(record.id),
        reason: "webhook_parked",
        subject: `Stripe event ${record.id} (${record.type})`,
        ...(failure.groupId !== undefined ? { groupId: failure.groupId } : {}),
        // The payment's references name its round: the ticket is about that aggregate.
        ...(failure.roundId !== undefined ? { aggregate: "round", aggregateId: failure.roundId } : {}),
      },
    },
    { policy: retry, now: ctx.deps.clock.now(), jitter },
  );
  return useCases
    .settleFailure(decision, {
      retry: (at, note) => ctx.inbox.markFailed(record.id, workerId, note, at),
      openTicket: (ticket) =>
        ctx.desk.openTicket(ticket, {
          webhookEventId: record.id,
          details: { eventType: record.type, code: failure.code, attempts: decision.failedAttempt },
        }),
      park: (note) => ctx.inbox.park(record.id, workerId, note),
    })
    .map(({ outcome, value }) => {
      tell(value === "marked" ? outcome : "lease_lost", failure.code);
      return count(report, outcome, value);
    });
}

/** {@link settle}, and when the database refuses to record the failure, parks the event at once. */
function settleOrPark(
  ctx: WebhookProcessorContext,
  workerId: string,
  retry: RetryPolicy,
  jitter: JitterSource,
  record: InboxEvent,
  failure: WebhookFailure,
  report: WebhookPassReport,
  tell: Tell,
): ResultAsync<WebhookPassReport, StorageError> {
  return settle(ctx, workerId, retry, jitter, record, failure, report, tell).orElse((e) =>
    // Once only: the refusal's own note is plain text the database can hold.
    e.type === "storage_refused"
      ? settle(ctx, workerId, retry, jitter, record, refusal(e, failure.code, failure), report, tell)
      : errAsync(e),
  );
}

/**
 * How many times in all one pass processes an event whose commit, written after the use case
 * had returned, found its aggregate changed by another writer (as `retryOnConflict` retries a
 * commit that finds so at once). Past them the event fails as any lost race does, to be retried.
 */
const EVENT_RACES = 5;

/** The failure of an event whose storage failed with `error` (a lost race and an outage may pass). */
function storageFailure(error: StorageError): WebhookFailure {
  const retryable =
    error.type === "storage_unavailable" || error.type === "version_conflict" || error.type === "duplicate";
  return { code: error.code, message: error.message, retryable };
}

function runOne(
  ctx: WebhookProcessorContext,
  workerId: string,
  retry: RetryPolicy,
  jitter: JitterSource,
  record: InboxEvent,
  report: WebhookPassReport,
  onSettled: WebhookPassOptions["onSettled"],
  races = EVENT_RACES,
  startedAt = ctx.deps.clock.now(),
): ResultAsync<WebhookPassReport, StorageError> {
  const tell: Tell = (outcome, code) =>
    onSettled?.({
      eventId: record.id,
      type: record.type,
      outcome,
      ...(code !== undefined ? { code } : {}),
      stripeCreatedAt: record.stripeCreatedAt,
      startedAt,
      settledAt: ctx.deps.clock.now(),
    });
  const recorded = (key: "processed" | "ignored", outcome: SettledWebhookOutcome) => (mark: MarkResult) => {
    tell(mark === "marked" ? outcome : "lease_lost");
    return count(report, key, mark);
  };
  // The event's own unit of work, when its result can be stored with the state it changed.
  const finishStatement = ctx.inbox.finishStatement?.bind(ctx.inbox);
  const commits =
    ctx.commits !== undefined && finishStatement !== undefined
      ? new EventCommits(ctx.commits, ctx.deps.uow, ctx.inbox.finishAudited?.bind(ctx.inbox))
      : undefined;
  const eventCtx: WebhookContext =
    commits === undefined
      ? ctx
      : { ...ctx, deps: commits.depsOver(ctx.deps), gateway: commits.over(ctx.gateway) };
  /** Records `processed` / `ignored`: in the transaction of the event's last commit when it is open, else on its own. */
  const finish = (status: "processed" | "ignored", text: string): ResultAsync<MarkResult, StorageError> => {
    const alone = () =>
      status === "processed"
        ? ctx.inbox.markProcessed(record.id, workerId, text)
        : ctx.inbox.markIgnored(record.id, workerId, text);
    if (commits === undefined || finishStatement === undefined) return alone();
    return commits
      .finishWith(finishStatement(record.id, workerId, status, text))
      .andThen((rows) =>
        rows === undefined
          ? alone()
          : okAsync<MarkResult, StorageError>(rows.length === 1 ? "marked" : "lease_lost"),
      );
  };
  /**
   * A commit the use case was told was stored was not (EventCommits.lost): nothing of the
   * event after it was stored either. A lost race is processed again at once, from its first
   * read (what it stored before that commit is durable, and applying it again changes
   * nothing); anything else fails the event as that storage failure.
   */
  const lostWith = (lost: StorageError): ResultAsync<WebhookPassReport, StorageError> =>
    lost.type === "version_conflict" && races > 1
      ? runOne(ctx, workerId, retry, jitter, record, report, onSettled, races - 1, startedAt)
      : settleOrPark(ctx, workerId, retry, jitter, record, storageFailure(lost), report, tell);
  const ifLost = (e: StorageError): ResultAsync<WebhookPassReport, StorageError> => {
    const lost = commits?.lost();
    return lost !== undefined ? lostWith(lost) : errAsync(e);
  };
  // Both the outcome and the failure end in a write to the inbox; only that write can fail the pass.
  return ResultAsync.fromSafePromise(processSafely(record, eventCtx)).andThen((result) => {
    if (result.isErr()) {
      const lost = commits?.lost();
      if (lost !== undefined) return lostWith(lost);
      // What the use case stored before it failed is committed first, as it would have been.
      return (commits?.flush() ?? okAsync(undefined))
        .andThen(() => settleOrPark(ctx, workerId, retry, jitter, record, result.error, report, tell))
        .orElse(ifLost);
    }
    const outcome = result.value;
    const marked =
      outcome.status === "processed"
        ? finish("processed", outcome.outcome).map(recorded("processed", "applied"))
        : finish("ignored", outcome.reason).map(recorded("ignored", "ignored"));
    return marked.orElse((e) =>
      commits?.lost() !== undefined
        ? ifLost(e)
        : e.type === "storage_refused"
          ? settle(
              ctx,
              workerId,
              retry,
              jitter,
              record,
              refusal(e, `it as ${outcome.status}`, undefined),
              report,
              tell,
            )
          : errAsync(e),
    );
  });
}

/** The sum of two reports. */
function plus(a: WebhookPassReport, b: WebhookPassReport): WebhookPassReport {
  return {
    claimed: a.claimed + b.claimed,
    processed: a.processed + b.processed,
    ignored: a.ignored + b.ignored,
    retried: a.retried + b.retried,
    parked: a.parked + b.parked,
    leaseLost: a.leaseLost + b.leaseLost,
  };
}

/** The claimed events by ordering key, each key's oldest first; keys in the order of their oldest event. */
function byKey(records: readonly InboxEvent[]): InboxEvent[][] {
  const groups = new Map<string, InboxEvent[]>();
  for (const record of records) {
    const group = groups.get(record.orderingKey);
    if (group === undefined) groups.set(record.orderingKey, [record]);
    else group.push(record);
  }
  return [...groups.values()];
}

/**
 * One pass of the webhook processor: give back the claims an earlier pass of this worker
 * left behind (it failed, e.g. the database went away), claim due events from the inbox (a
 * lease, oldest Stripe event first; several processors in several processes get disjoint
 * events, and never two of them events of one ordering key at once), process them with
 * {@link processWebhookEvent}, and record each result: `processed`, `ignored` (with why),
 * `failed` and due again after the retry policy's backoff with jitter, or — past the
 * policy's attempts, or at once when retrying cannot help — `parked` with a support ticket
 * (`reason: "webhook_parked"`). Retry or park is decided by the domain's
 * {@link retryOrPark}; an event is parked only once its ticket exists, and stays due while
 * the ticket cannot be opened.
 *
 * Up to `concurrency` events run at once: the events of one ordering key one after the
 * other in Stripe `created` order, different keys side by side. A worker id runs one pass
 * at a time (each process has its own), which is what lets a pass release the claims its
 * predecessor left: no pass of this worker is running, so nobody is working on them, and
 * they are due again at once rather than after the lease. A dead process's claims are
 * not this worker's: they wait for their lease.
 *
 * A result the database refuses to record (`storage_refused`) would be refused on every
 * try: the event is parked at once with a ticket instead. Any other storage failure while
 * recording a result ends the pass with that error once the events in progress have
 * finished; no further event is started, and the events still claimed are released by
 * the worker's next pass (or, if it never comes, when their lease ends). Processing them
 * again is safe.
 */
export function processWebhookInbox(
  ctx: WebhookProcessorContext,
  options: WebhookPassOptions,
): ResultAsync<WebhookPassReport, StorageError> {
  const retry = options.retry ?? DEFAULT_WEBHOOK_RETRY;
  const problem = retryPolicyProblem(retry);
  if (problem) throw new RangeError(problem.message);
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  const refillForMs = options.refillForMs ?? 0;
  if (!Number.isFinite(refillForMs) || refillForMs < 0)
    throw new RangeError(`refillForMs must be a non-negative number, got ${refillForMs}`);
  const gatherWakeMs = options.gatherWakeMs ?? 0;
  if (!Number.isFinite(gatherWakeMs) || gatherWakeMs < 0)
    throw new RangeError(`gatherWakeMs must be a non-negative number, got ${gatherWakeMs}`);
  const jitter = options.jitter ?? jitterFromId;
  const leaseMs = options.leaseMs ?? 5 * MINUTE_MS;
  const limit = options.limit ?? 50;
  const passStarted = Date.now();
  const claim = (max: number): ResultAsync<readonly Claimed[], StorageError> => {
    const claimedAt = ctx.deps.clock.now();
    // A slow batch (Stripe timing out) can outlast the lease. The events not started by
    // then may already be another processor's: they are left rather than run twice. So is
    // one that would start in the lease's last tenth (at most 30 s, as the outbox's
    // dispatcher does): it would run on past the lease, beside the processor that took its
    // key once the lease ended.
    const startBy = claimedAt + leaseMs - Math.min(leaseMs / 10, 30_000);
    return ctx.inbox
      .claimDue(options.workerId, claimedAt, leaseMs, max)
      .map((records) => byKey(records).map((events) => ({ events, startBy })));
  };
  const run = (record: InboxEvent, startBy: number) =>
    ctx.deps.clock.now() >= startBy
      ? okAsync({ ...EMPTY, leaseLost: 1 })
      : runOne(ctx, options.workerId, retry, jitter, record, EMPTY, options.onSettled);
  const released =
    options.releaseOwnClaims === false
      ? okAsync(0)
      : (ctx.inbox.releaseOwnClaims?.(options.workerId) ?? okAsync(0));
  // Told of wake-ups from before the first claim, so none between it and the refills is missed.
  const wakeups = options.onWake !== undefined ? new Wakeups(options.onWake) : undefined;
  const pass = released
    .andThen(() => claim(limit))
    .andThen((first) =>
      ResultAsync.fromSafePromise(
        runKeys(
          { keys: first, full: first.reduce((n, k) => n + k.events.length, 0) >= limit },
          concurrency,
          limit,
          run,
          (max) => (Date.now() - passStarted < refillForMs ? claim(max) : undefined),
          wakeups,
          gatherWakeMs,
        ),
      ),
    )
    .andThen(({ report, error }) => (error !== undefined ? errAsync(error) : okAsync(report)));
  // Unsubscribed however the pass ends: a result, an error, or a throw (a bug) rejecting it.
  return wakeups === undefined ? pass : new ResultAsync(Promise.resolve(pass).finally(() => wakeups.stop()));
}

/** The wake-ups a pass is told of while it runs (see {@link WebhookPassOptions.onWake}). */
class Wakeups {
  /** How many have come so far. */
  count = 0;
  /** Called at each one (the pass waiting for a slot or a wake-up). */
  waiter: (() => void) | undefined;
  readonly #unsubscribe: () => void;
  constructor(onWake: (listener: () => void) => () => void) {
    this.#unsubscribe = onWake(() => {
      this.count += 1;
      this.waiter?.();
    });
  }
  stop(): void {
    this.#unsubscribe();
  }
}

/** The claimed events of one ordering key, oldest first, and the last instant one of them may start (before its lease ends). */
interface Claimed {
  readonly events: readonly InboxEvent[];
  readonly startBy: number;
}

/** A key's claimed events, and how many wake-ups the pass had been told of when the claim was sent. */
interface ClaimedKey extends Claimed {
  /** 0 for the pass's first claim: it subscribed first, so any wake-up since then counts. */
  readonly wakesAtClaim: number;
}

/**
 * Works the keys' events with at most `concurrency` at once, each key's one after another.
 * When at least half the slots are free and no claimed key is waiting, `claimMore(max)`
 * (`max`: the free slots, up to four times as many, at most `limit`)
 * claims again (`undefined`: the pass takes no more); the claim skips the keys still held,
 * these included, so a key stays with one event at a time. After a storage error — the
 * work's or a claim's — no event is started; the ones running finish. Rejects only with a
 * throw out of an event's run (a bug), once the events running have ended.
 *
 * Told of wake-ups (`onWake`), a pass claims again only when something may have become due
 * since its last claim: a wake-up came after it was sent; it came back full (`max` rows: more
 * may be due); or a key it was working on finished after a wake-up that came once that key
 * was claimed (the new event may be that key's, which the claims in between skipped). Events
 * that fall due by time alone (a retry's backoff, a dead processor's lease) wait for the next
 * pass, which the polling loop starts at once after a pass that worked. Without wake-ups it
 * claims again whenever half its slots are free, as it cannot know what arrived.
 */
async function runKeys(
  first: { readonly keys: readonly Claimed[]; readonly full: boolean },
  concurrency: number,
  limit: number,
  run: (record: InboxEvent, startBy: number) => ResultAsync<WebhookPassReport, StorageError>,
  claimMore: (max: number) => ResultAsync<readonly Claimed[], StorageError> | undefined,
  wakeups?: Wakeups,
  gatherWakeMs = 0,
): Promise<{ readonly report: WebhookPassReport; readonly error: StorageError | undefined }> {
  let report: WebhookPassReport = {
    ...EMPTY,
    claimed: first.keys.reduce((n, k) => n + k.events.length, 0),
  };
  let error: StorageError | undefined;
  // A throw out of an event's run (a bug, e.g. in a caller's callback): nothing more starts or
  // is claimed, the events running end, and then the pass rejects with it. Left to reject a
  // slot's promise, it went unhandled (which ends a Node process) and the pass waited for ever.
  let crash: { readonly error: unknown } | undefined;
  // Wake-ups so far (subscribed before the first claim was sent, so it saw none of them).
  const wakes = () => wakeups?.count ?? 0;
  const waiting: ClaimedKey[] = first.keys.map((key) => ({ ...key, wakesAtClaim: 0 }));
  const running = new Set<Promise<void>>();
  let exhausted = false;
  // With wake-ups: the count when the last claim was sent (one that came while a claim was
  // in flight, whose snapshot may have missed the event, makes the loop claim again), and
  // whether something may be due that no wake-up since then tells of.
  let wakesAtLastClaim = 0;
  let mayBeDue = first.full;
  const work = async (key: ClaimedKey): Promise<void> => {
    for (const record of key.events) {
      if (error !== undefined || crash !== undefined) return;
      let result: Awaited<ReturnType<typeof run>>;
      try {
        result = await run(record, key.startBy);
      } catch (thrown) {
        crash ??= { error: thrown };
        return;
      }
      if (result.isErr()) error ??= result.error;
      else report = plus(report, result.value);
    }
    // An event of this key that arrived after it was claimed was skipped by every claim since.
    if (wakes() > key.wakesAtClaim) mayBeDue = true;
  };
  for (;;) {
    while (error === undefined && crash === undefined && running.size < concurrency && waiting.length > 0) {
      const key = waiting.shift() as ClaimedKey;
      const task: Promise<void> = work(key).finally(() => running.delete(task));
      running.add(task);
    }
    if (error !== undefined || crash !== undefined) break;
    const free = concurrency - running.size;
    const worthClaiming = wakeups === undefined || mayBeDue || wakes() !== wakesAtLastClaim;
    if (!exhausted && waiting.length === 0 && free * 2 >= concurrency && worthClaiming) {
      const wakesBefore = wakes();
      const max = Math.max(free, Math.min(limit, free * 4));
      const more = claimMore(max);
      if (more === undefined) exhausted = true;
      else {
        wakesAtLastClaim = wakesBefore;
        mayBeDue = false;
        const claimed = await more;
        if (claimed.isErr()) {
          error ??= claimed.error;
          break;
        }
        const count = claimed.value.reduce((n, k) => n + k.events.length, 0);
        // A full claim may have left due events behind.
        if (count >= max) mayBeDue = true;
        report = { ...report, claimed: report.claimed + count };
        waiting.push(...claimed.value.map((key) => ({ ...key, wakesAtClaim: wakesBefore })));
        // Nothing due now: wait for a running key to finish, or a notification, before asking again.
        if (claimed.value.length > 0 || wakes() !== wakesBefore) continue;
        if (running.size === 0) break;
      }
    }
    if (running.size === 0 && waiting.length === 0) break;
    // A running event's end frees a slot; a notification (when told of them) may bring events to claim.
    // A wake-up waits `gatherWakeMs` for others to come with it (a running event's end does not).
    if (running.size > 0)
      await new Promise<void>((resolve) => {
        let gathering: ReturnType<typeof setTimeout> | undefined;
        const done = () => {
          if (gathering !== undefined) clearTimeout(gathering);
          resolve();
        };
        if (!exhausted && wakeups !== undefined)
          wakeups.waiter =
            gatherWakeMs > 0
              ? () => {
                  gathering ??= setTimeout(done, gatherWakeMs);
                }
              : done;
        void Promise.race(running).then(done);
      });
    if (wakeups !== undefined) wakeups.waiter = undefined;
  }
  await Promise.all(running);
  if (crash !== undefined) throw crash.error;
  return { report, error };
}
