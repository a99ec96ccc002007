import type { Instant } from "@susu/domain";
import type pg from "pg";
import { type NamedStatement, type PrismaClient, runStatement } from "../db/prisma-client.js";
import { toDate } from "./conversions.js";
import { noteOver, workerDiedNote } from "./interrupted-try.js";

/**
 * Which workers holding claims are alive, told by PostgreSQL itself: a scheduler holds a
 * session-level advisory lock named by its worker id (this class, and `hashtext(workerId)`)
 * on its notification listener's connection for as long as it runs. PostgreSQL releases a
 * session's locks when its connection ends, so a process that died (SIGKILL, out of memory,
 * a lost machine) stops holding its lock within moments, long before its claims' leases
 * (minutes) run out. Another scheduler that finds claims under an id with no lock, and still
 * none a while later ({@link releaseClaimsOfDeadWorkers}), gives them back for the next claim.
 *
 * Taking back the claims of a worker that is in fact alive (its listener cut off for longer
 * than the wait) is the same as its lease running out, which the design already allows: each
 * Stripe call carries its effect's idempotency key, and recording an effect's or an event's
 * result checks that the lease is still the worker's own, so nothing is applied twice.
 *
 * The class is the webhook claim lock's (1937077109) plus one; a two-key lock, so it never
 * meets the one-key locks the outbox claim and the migrator take.
 */
export const LIVENESS_LOCK_CLASS = 1_937_077_110;

/**
 * Takes `workerId`'s liveness lock on `client`'s session, held until that connection ends.
 * `false` when another session holds it (two ids with the same 32-bit hash, about one in four
 * billion): that worker is then judged by the other session's life, which only ever keeps
 * claims longer.
 */
export async function holdWorkerLiveness(client: pg.ClientBase, workerId: string): Promise<boolean> {
  const { rows } = await client.query<{ held: boolean }>(
    "SELECT pg_try_advisory_lock($1::int, hashtext($2::text)) AS held",
    [LIVENESS_LOCK_CLASS, workerId],
  );
  return rows[0]?.held === true;
}

/**
 * What a scheduler's notification listener runs on each new connection
 * (`startPgListener`'s `onConnect`): takes the worker's liveness lock, or throws, so that the
 * listener connects again with its backoff until it has it. Another session holding the lock
 * is most likely an older connection of this same worker that the server has not yet found
 * dead (a half-open TCP connection can linger for hours); were the worker to run on without
 * its lock, the other schedulers would take its claims back every few seconds once that old
 * session ended. Until the lock is taken, notifications wait and polling finds the work.
 */
export function livenessOnConnect(workerId: string): (client: pg.ClientBase) => Promise<void> {
  return async (client) => {
    if (!(await holdWorkerLiveness(client, workerId)))
      throw new Error(
        `the liveness lock of ${workerId} is held by another session (an older connection of this worker the server has not closed yet, or a hash collision); connecting again`,
      );
  };
}

/**
 * No granted liveness lock of worker `c.worker` in this database. pg_locks shows the second
 * key as an oid (unsigned), hashtext gives a signed int4: the low 32 bits compare.
 */
const NO_LIVENESS_OF = (column: string) => `NOT EXISTS (
      SELECT 1 FROM pg_locks l
       WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
         AND l.database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
         AND l.classid = ${LIVENESS_LOCK_CLASS}::oid
         AND l.objid = (hashtext(${column})::bigint & 4294967295)::oid)`;

// The workers holding live leases on pending outbox effects or due webhook events, with no
// liveness lock. Walks the pending effects (outbox_effects_pending_aggregate_idx) and the
// claimed events (webhook_events_claimed_key_idx): both a few.
const CLAIMERS_WITHOUT_LIVENESS_SQL = `
  WITH claimers AS (
    SELECT o.claimed_by AS worker FROM outbox_effects o
     WHERE o.status = 'pending' AND o.claimed_until > $1 AND o.claimed_by IS NOT NULL
    UNION
    SELECT e.claimed_by FROM webhook_events e
     WHERE e.claimed_by IS NOT NULL AND e.claimed_until > $1
       AND (e.status = 'received' OR e.status = 'failed'))
  SELECT c.worker FROM claimers c WHERE ${NO_LIVENESS_OF("c.worker")}
  ORDER BY c.worker`;

// Gives back the live claims of the workers named ($1) that still hold no liveness lock (checked
// again here, row by row, so a worker whose listener has just reconnected keeps its claims). Rows
// another statement is changing are skipped (the next pass looks again); the old claimant is
// read before the update, since RETURNING shows the new row. An outbox effect given back may
// have been tried by the dead worker: that is kept as its last error (no attempt counted), so
// its next claim says it failed before and its run looks first for what the try made.
const RELEASE_SQL = `
  WITH dead_effects AS MATERIALIZED (
    SELECT o.id, o.claimed_by FROM outbox_effects o
     WHERE o.status = 'pending' AND o.claimed_by = ANY ($1::text[]) AND o.claimed_until > $2
       AND ${NO_LIVENESS_OF("o.claimed_by")}
       FOR UPDATE SKIP LOCKED),
  outbox AS (
    UPDATE outbox_effects o
       SET claimed_by = NULL, claimed_until = NULL,
           last_error = ${noteOver(workerDiedNote("d.claimed_by"), "o.last_error")}
      FROM dead_effects d
     WHERE o.id = d.id AND o.status = 'pending' AND o.claimed_by = d.claimed_by
    RETURNING o.id, d.claimed_by),
  dead_events AS MATERIALIZED (
    SELECT e.id, e.claimed_by FROM webhook_events e
     WHERE e.claimed_by = ANY ($1::text[]) AND e.claimed_until > $2
       AND (e.status = 'received' OR e.status = 'failed')
       AND ${NO_LIVENESS_OF("e.claimed_by")}
       FOR UPDATE SKIP LOCKED),
  events AS (
    UPDATE webhook_events e SET claimed_by = NULL, claimed_until = NULL
      FROM dead_events d
     WHERE e.id = d.id AND e.claimed_by = d.claimed_by
    RETURNING e.id, d.claimed_by)
  SELECT 'outbox' AS what, id, claimed_by FROM outbox
  UNION ALL
  SELECT 'webhook' AS what, id, claimed_by FROM events`;

/** The statement of {@link claimersWithoutLiveness} (exported for the test that proves its plans). */
export function claimersWithoutLivenessStatement(now: Instant): NamedStatement {
  return {
    name: "susu_claimers_without_liveness",
    text: CLAIMERS_WITHOUT_LIVENESS_SQL,
    values: [toDate(now)],
  };
}

/** The statement of {@link releaseClaimsOfDeadWorkers} (exported for the test that proves its plans). */
export function releaseClaimsStatement(workers: readonly string[], now: Instant): NamedStatement {
  return {
    name: "susu_release_claims_of_dead_workers",
    text: RELEASE_SQL,
    values: [[...workers], toDate(now)],
  };
}

/** The workers that hold live claims (outbox effects, webhook events) at `now` but no liveness lock. */
export async function claimersWithoutLiveness(prisma: PrismaClient, now: Instant): Promise<string[]> {
  const { rows } = await runStatement<{ worker: string }>(prisma, claimersWithoutLivenessStatement(now));
  return rows.map((r) => r.worker);
}

/** What {@link releaseClaimsOfDeadWorkers} gave back. */
export interface ReleasedClaims {
  readonly outboxEffects: readonly { readonly id: string; readonly claimedBy: string }[];
  readonly webhookEvents: readonly { readonly id: string; readonly claimedBy: string }[];
}

/**
 * Gives back the live claims (pending outbox effects, due webhook events) of `workers` that
 * hold no liveness lock now, so the next claim takes them without waiting out the lease. Call
 * it only with workers found lockless by {@link claimersWithoutLiveness} a while before (longer
 * than a listener takes to reconnect), never with this process's own id.
 */
export async function releaseClaimsOfDeadWorkers(
  prisma: PrismaClient,
  workers: readonly string[],
  now: Instant,
): Promise<ReleasedClaims> {
  if (workers.length === 0) return { outboxEffects: [], webhookEvents: [] };
  const { rows } = await runStatement<{ what: string; id: string; claimed_by: string }>(
    prisma,
    releaseClaimsStatement(workers, now),
  );
  const of = (what: string) =>
    rows.filter((r) => r.what === what).map((r) => ({ id: r.id, claimedBy: r.claimed_by }));
  return { outboxEffects: of("outbox"), webhookEvents: of("webhook") };
}
