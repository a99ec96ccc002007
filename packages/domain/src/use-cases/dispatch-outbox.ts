import { okAsync, type ResultAsync } from "neverthrow";
import type { PaymentObjectFact } from "../facts/payment-fact.js";
import { type RetryPolicy, retryDelayMs } from "../policy/retry-policy.js";
import type { OutboxRecord, OutboxStore, StorageError } from "../ports/storage.js";
import { unitFraction } from "../shared/hash.js";
import { HOUR_MS, MINUTE_MS } from "../shared/time.js";
import { applyRoundFact, type FactError } from "./apply-fact.js";
import type { UseCaseDeps } from "./deps.js";
import { type EffectPorts, executeEffect } from "./execute-effect.js";

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
  facts: readonly PaymentObjectFact[],
  actor: string,
): ResultAsync<void, FactError> {
  return facts.reduce<ResultAsync<void, FactError>>(
    (chain, fact) => chain.andThen(() => applyRoundFact(deps, fact, actor).map(() => undefined)),
    okAsync(undefined),
  );
}

/**
 * One pass of the outbox dispatcher: claim due effects (a lease, so several dispatchers
 * can run), execute each through the ports, feed the results back to the rounds, and
 * mark it done. A failed execution is retried later with backoff; after the policy's
 * limit — or at once when retrying cannot help — it is parked and a support ticket opened.
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
          chain.andThen((report) => runOne(deps, ports, outbox, options.workerId, retry, record, report)),
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
): ResultAsync<DispatchReport, StorageError> {
  const effect = record.effect;
  return executeEffect(deps, ports, effect)
    .mapErr((f) => ({ code: f.code, message: f.message, retry: f.retry }))
    .andThen((facts) =>
      feed(deps, facts, `effect:${effect.id}`).mapErr((e) => ({
        code: e.code,
        message: e.message,
        // A state the store refuses will be refused again: park it for a person.
        retry: e.type !== "storage_refused",
      })),
    )
    .andThen(() =>
      outbox
        .complete(effect.id, workerId, deps.clock.now())
        .map(() => ({ ...report, completed: report.completed + 1 }))
        .mapErr((e) => ({ code: e.code, message: e.message, retry: true })),
    )
    .orElse((f) => {
      const failedAttempt = record.attempts + 1;
      const delay = f.retry
        ? retryDelayMs(retry, failedAttempt, unitFraction(`${effect.id}:${failedAttempt}`))
        : null;
      if (delay !== null)
        return outbox
          .fail(effect.id, workerId, `${f.code}: ${f.message}`, deps.clock.now() + delay)
          .map(() => ({ ...report, retried: report.retried + 1 }));
      // Open the ticket first and park only once it exists: a parked effect nobody hears
      // of would leave a round waiting forever. If the desk is down, the effect stays
      // failing and comes back later, when the ticket can be opened.
      return ports.desk
        .openTicket({
          id: `${effect.id}:parked`,
          reason: "effect_parked",
          summary: `effect ${effect.id} (${effect.kind}) was parked after ${failedAttempt} attempts: ${f.code}: ${f.message}`,
        })
        .andThen(() => outbox.fail(effect.id, workerId, `${f.code}: ${f.message}`, undefined))
        .map(() => ({ ...report, parked: report.parked + 1 }))
        .orElse(() =>
          outbox
            .fail(
              effect.id,
              workerId,
              `${f.code}: ${f.message} (ticket not opened yet)`,
              deps.clock.now() + retry.maxDelayMs,
            )
            .map(() => ({ ...report, retried: report.retried + 1 })),
        );
    });
}
