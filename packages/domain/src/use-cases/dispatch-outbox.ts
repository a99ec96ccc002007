import { okAsync, type ResultAsync } from "neverthrow";
import type { PaymentObjectFact } from "../facts/payment-fact.js";
import { retryOrPark } from "../policy/retry-or-park.js";
import type { RetryPolicy } from "../policy/retry-policy.js";
import type { OutboxEffect } from "../ports/outbox-effect.js";
import type { OutboxRecord, OutboxStore, StorageError } from "../ports/storage.js";
import { HOUR_MS, type Instant, MINUTE_MS } from "../shared/time.js";
import { applyPaymentObjectFact, type FactError, type FactPorts } from "./apply-fact.js";
import type { UseCaseDeps } from "./deps.js";
import { type EffectPorts, executeEffect } from "./execute-effect.js";
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
  readonly limit?: number;
  readonly retry?: RetryPolicy;
  /**
   * Told of each effect once its result is recorded (for metrics): an effect whose result
   * could not be recorded ends the pass with a storage error and is not reported.
   */
  readonly onSettled?: (settled: SettledEffect) => void;
}

/** How one effect's execution ended: done, due again after a backoff, or parked with a ticket. */
export type SettledEffectOutcome = "completed" | "retried" | "parked";

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
}

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
 * mark it done. A failed execution is settled by {@link retryOrPark}: retried later with
 * backoff and jitter; after the policy's limit — or at once when retrying cannot help — a
 * support ticket is opened and the effect parked (only once the ticket exists).
 */
export function dispatchOutbox(
  deps: UseCaseDeps,
  ports: EffectPorts,
  outbox: OutboxStore,
  options: DispatchOptions,
): ResultAsync<DispatchReport, StorageError> {
  const now = deps.clock.now();
  const retry = options.retry ?? DEFAULT_EFFECT_RETRY;
  return outbox
    .claimDue(options.workerId, now, options.leaseMs ?? 5 * MINUTE_MS, options.limit ?? 50)
    .andThen((records) =>
      records.reduce<ResultAsync<DispatchReport, StorageError>>(
        (chain, record) =>
          chain.andThen((report) =>
            runOne(deps, ports, outbox, options.workerId, retry, record, report, options.onSettled),
          ),
        okAsync({ claimed: records.length, completed: 0, retried: 0, parked: 0 }),
      ),
    );
}

function runOne(
  deps: UseCaseDeps,
  ports: EffectPorts,
  outbox: OutboxStore,
  workerId: string,
  retry: RetryPolicy,
  record: OutboxRecord,
  report: DispatchReport,
  onSettled: DispatchOptions["onSettled"],
): ResultAsync<DispatchReport, StorageError> {
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
  return executeEffect(deps, ports, effect)
    .mapErr((f) => ({ code: f.code, message: f.message, retry: f.retry }))
    .andThen((facts) =>
      feed(deps, { reader: ports.gateway }, facts, `effect:${effect.id}`).mapErr((e) => ({
        code: e.code,
        message: e.message,
        // A state the store refuses will be refused again: park it for a person.
        retry: e.type !== "storage_refused",
      })),
    )
    .andThen(() =>
      outbox
        .complete(effect.id, workerId, deps.clock.now())
        .map(() => {
          tell("completed");
          return { ...report, completed: report.completed + 1 };
        })
        .mapErr((e) => ({ code: e.code, message: e.message, retry: true })),
    )
    .orElse((f) =>
      settleFailure(
        retryOrPark(
          {
            itemId: effect.id,
            attempts: record.attempts,
            failure: { code: f.code, message: f.message, retryable: f.retry },
            ticket: {
              id: `${effect.id}:parked`,
              reason: "effect_parked",
              subject: `effect ${effect.id} (${effect.kind})`,
            },
          },
          { policy: retry, now: deps.clock.now() },
        ),
        {
          retry: (at, note) => outbox.fail(effect.id, workerId, note, at),
          openTicket: (ticket) => ports.desk.openTicket(ticket),
          park: (note) => outbox.fail(effect.id, workerId, note, undefined),
        },
      ).map(({ outcome }) => {
        tell(outcome, f.code);
        return outcome === "parked"
          ? { ...report, parked: report.parked + 1 }
          : { ...report, retried: report.retried + 1 };
      }),
    );
}
