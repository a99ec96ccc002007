import type { Instant } from "@susu/domain";
import { type NamedStatement, type PrismaClient, runStatement } from "../db/prisma-client.js";
import { toDate } from "./conversions.js";
import { leaseExpiredNote, noteOver } from "./interrupted-try.js";

/** An outbox effect whose lease ran out before its worker settled it. */
export interface ExpiredOutboxLease {
  readonly id: string;
  readonly kind: string;
  /** The worker that claimed it and never came back (dead, or cut off for longer than the lease). */
  readonly claimedBy: string;
}

/** What one {@link sweepStuckWork} found. */
export interface StuckWork {
  /**
   * Outbox effects whose lease had expired: their claims cleared, due to the next claim, each
   * recorded as maybe tried (`interrupted: …` as its last error: its next run is a retry).
   */
  readonly outboxLeasesExpired: readonly ExpiredOutboxLease[];
  /**
   * pg-boss jobs (timers, crons) still `active` past their `expire_in`: their worker died
   * mid-job. pg-boss's own maintenance (every 2 minutes, in every scheduler) fails them by
   * timeout and retries them within their retry limit; this only counts them, for the log and
   * the metric.
   */
  readonly bossJobsPastExpiry: number;
}

// Clears the claims of pending effects whose lease ended. A claim ignores such a lease
// anyway; clearing it makes the outbox show what is really held, and hands the effects back
// to the dispatchers' next claim without a wait. The worker may have tried them (a provider
// call cut short): that is kept as their last error, no attempt counted, so their next claim
// says they failed before and their run looks first for what the try made. Walks the pending
// rows only (the partial index outbox_effects_due_idx).
const SWEEP_OUTBOX_SQL = `
  WITH stuck AS MATERIALIZED (
    SELECT id, claimed_by FROM outbox_effects
     WHERE status = 'pending' AND claimed_until <= $1
       FOR UPDATE SKIP LOCKED)
  UPDATE outbox_effects o
     SET claimed_by = NULL, claimed_until = NULL,
         last_error = ${noteOver(leaseExpiredNote("stuck.claimed_by"), "o.last_error")}
    FROM stuck
   WHERE o.id = stuck.id AND o.status = 'pending' AND o.claimed_until <= $1
  RETURNING o.id, o.kind, stuck.claimed_by`;

/** The sweep's statement for the outbox at `now` (exported for the test that proves its plans). */
export function outboxSweepStatement(now: Instant): NamedStatement {
  return { name: "susu_outbox_sweep", text: SWEEP_OUTBOX_SQL, values: [toDate(now)] };
}

const bossJobsPastExpirySql = (schema: string) => `
  SELECT count(*)::int AS n FROM ${schema}.job
   WHERE state = 'active' AND started_on + expire_in < now()`;

/**
 * Finds work that is stuck because its worker went away: outbox effects whose lease expired
 * (cleared, so the next claim takes them at once) and pg-boss jobs active past their expiry
 * (counted; pg-boss's maintenance resumes them). A live worker's claims are not touched:
 * their lease has not ended. Safe to run from every scheduler at once.
 */
export async function sweepStuckWork(
  prisma: PrismaClient,
  now: Instant,
  /** pg-boss's schema (default `pgboss`); false where pg-boss is not installed. */
  options: { readonly bossSchema?: string | false } = {},
): Promise<StuckWork> {
  const schema = options.bossSchema ?? "pgboss";
  if (schema !== false && !/^[a-z_][a-z0-9_]*$/.test(schema))
    throw new RangeError(`not a schema name: ${schema}`);
  const { rows } = await runStatement<{ id: string; kind: string; claimed_by: string | null }>(
    prisma,
    outboxSweepStatement(now),
  );
  const boss =
    schema === false
      ? { rows: [{ n: 0 }] }
      : await runStatement<{ n: number }>(prisma, {
          name: `susu_boss_stuck_${schema}`,
          text: bossJobsPastExpirySql(schema),
          values: [],
        });
  return {
    outboxLeasesExpired: rows.map((r) => ({ id: r.id, kind: r.kind, claimedBy: r.claimed_by ?? "" })),
    bossJobsPastExpiry: Number(boss.rows[0]?.n ?? 0),
  };
}
