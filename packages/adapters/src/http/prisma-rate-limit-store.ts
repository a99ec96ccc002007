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

/** {@link PrismaRateLimitStore.hit}'s statement, for the pool ($1 start, $2 expires, $3 buckets, $4 previous start). */
const RATE_LIMIT_HIT_SQL = `
  WITH hit AS (
    INSERT INTO rate_limits AS r (bucket, window_start, count, expires_at)
    SELECT b, $1::timestamptz, 1, $2::timestamptz
    FROM unnest($3::text[]) AS b
    ORDER BY b
    ON CONFLICT (bucket, window_start) DO UPDATE SET count = r.count + 1
    RETURNING r.bucket, r.count
  )
  SELECT hit.bucket, hit.count AS current, COALESCE(prev.count, 0) AS previous
  FROM hit
  LEFT JOIN rate_limits AS prev
    ON prev.bucket = hit.bucket AND prev.window_start = $4::timestamptz`;

/** Most old windows one {@link PrismaRateLimitStore.deleteExpired} call removes. */
export const RATE_LIMIT_DELETE_BATCH_MAX = 10_000;

/**
 * The API's rate-limit counters in `rate_limits`, shared by every API process. One
 * statement per request counts all of its buckets: an `INSERT … ON CONFLICT DO UPDATE SET
 * count = count + 1 RETURNING count` (row locks make concurrent increments exact), joined
 * with the previous window's row for the sliding estimate. Buckets are written in sorted
 * order so two requests counting the same buckets cannot deadlock.
 */
export class PrismaRateLimitStore {
  constructor(private readonly prisma: PrismaClient) {}

  async hit(
    buckets: readonly string[],
    window: RateWindowSpan,
  ): Promise<ReadonlyMap<string, RateWindowCounts>> {
    if (buckets.length === 0) return new Map();
    const sorted = [...new Set(buckets)].sort();
    const start = new Date(window.startMs);
    const previousStart = new Date(window.startMs - window.lengthMs);
    // Kept through the next window, whose sliding estimate reads it.
    const expiresAt = new Date(window.startMs + 2 * window.lengthMs);
    // Prepared on the pool: every request under /v1 runs it.
    const { rows } = await query("rate limit hit", () =>
      runStatement<{ bucket: string; current: number; previous: number }>(this.prisma, {
        name: "susu_rate_limit_hit",
        text: RATE_LIMIT_HIT_SQL,
        values: [start.toISOString(), expiresAt.toISOString(), sorted, previousStart.toISOString()],
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
