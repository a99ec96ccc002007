import { type PrismaClient, runStatement } from "../db/prisma-client.js";
import { query } from "./store-error.js";

// The API's RateLimitStore contract (apps/api/src/http/rate-limit.ts), restated here; the
// API's tests assign this class to its interface.

/** A bucket's count in the current window (including this request) and in the previous one. */
export interface RateWindowCounts {
  readonly current: number;
  readonly previous: number;
}

/** A fixed window, ms since the epoch. */
export interface RateWindowSpan {
  readonly startMs: number;
  readonly lengthMs: number;
}

/**
 * {@link PrismaRateLimitStore.take}'s statement, for the pool ($1 start, $2 expires, $3 buckets,
 * $4 units of each, $5 previous start).
 */
const RATE_LIMIT_TAKE_SQL = `
  WITH taken AS (
    INSERT INTO rate_limits AS r (bucket, window_start, count, expires_at)
    SELECT b.bucket, $1::timestamptz, b.units, $2::timestamptz
    FROM unnest($3::text[], $4::int[]) AS b(bucket, units)
    ORDER BY b.bucket
    ON CONFLICT (bucket, window_start) DO UPDATE SET count = r.count + EXCLUDED.count
    RETURNING r.bucket, r.count
  )
  SELECT taken.bucket, taken.count AS current, COALESCE(prev.count, 0) AS previous
  FROM taken
  LEFT JOIN rate_limits AS prev
    ON prev.bucket = taken.bucket AND prev.window_start = $5::timestamptz`;

/** Most old windows one {@link PrismaRateLimitStore.deleteExpired} call removes. */
export const RATE_LIMIT_DELETE_BATCH_MAX = 10_000;

/**
 * The API's rate-limit counters in `rate_limits`, shared by every API process. One
 * statement takes units of any number of buckets: an `INSERT … ON CONFLICT DO UPDATE SET
 * count = count + units RETURNING count` (row locks make concurrent takes exact: each
 * gets its own range of the window's units), joined with the previous window's row for
 * the sliding estimate. Buckets are written in sorted order so two requests taking the
 * same buckets cannot deadlock.
 *
 * The API's limiter takes units a block at a time (a lease, see `rate-limit.ts`) and
 * spends them in memory, so most requests send no statement; `hit` takes one unit per
 * bucket, a request counted on its own.
 */
export class PrismaRateLimitStore {
  constructor(private readonly prisma: PrismaClient) {}

  /** Counts one request in each bucket: {@link take} of one unit each. */
  hit(buckets: readonly string[], window: RateWindowSpan): Promise<ReadonlyMap<string, RateWindowCounts>> {
    return this.take(new Map(buckets.map((b) => [b, 1])), window);
  }

  /**
   * Adds `units` (whole, at least 1) to each bucket's count in `window`, atomically, and
   * returns every bucket's count after it with the previous window's count.
   */
  async take(
    units: ReadonlyMap<string, number>,
    window: RateWindowSpan,
  ): Promise<ReadonlyMap<string, RateWindowCounts>> {
    if (units.size === 0) return new Map();
    for (const [bucket, n] of units)
      if (!Number.isInteger(n) || n < 1 || n > 2 ** 31 - 1)
        throw new RangeError(`units of ${bucket} must be a whole number from 1, got ${n}`);
    const sorted = [...units.keys()].sort();
    const start = new Date(window.startMs);
    const previousStart = new Date(window.startMs - window.lengthMs);
    // Kept through the next window, whose sliding estimate reads it.
    const expiresAt = new Date(window.startMs + 2 * window.lengthMs);
    // Prepared on the pool: every lease of every API process runs it.
    const { rows } = await query("rate limit take", () =>
      runStatement<{ bucket: string; current: number; previous: number }>(this.prisma, {
        name: "susu_rate_limit_take",
        text: RATE_LIMIT_TAKE_SQL,
        values: [
          start.toISOString(),
          expiresAt.toISOString(),
          sorted,
          sorted.map((b) => units.get(b) as number),
          previousStart.toISOString(),
        ],
      }),
    );
    return new Map(
      rows.map((row) => [row.bucket, { current: Number(row.current), previous: Number(row.previous) }]),
    );
  }

  async deleteExpired(nowMs: number, limit: number = RATE_LIMIT_DELETE_BATCH_MAX): Promise<number> {
    if (!Number.isInteger(limit) || limit <= 0)
      throw new RangeError(`limit must be a positive integer, got ${limit}`);
    // SKIP LOCKED: a row being counted right now is left for the next clean-up.
    return query(
      "rate limit delete expired",
      () => this.prisma.$executeRaw`
        DELETE FROM rate_limits
        WHERE (bucket, window_start) IN (
          SELECT bucket, window_start FROM rate_limits
          WHERE expires_at <= ${new Date(nowMs)}
          LIMIT ${limit}
          FOR UPDATE SKIP LOCKED)`,
    );
  }
}
