import { type PrismaClient, runStatement, runTransaction } from "../db/prisma-client.js";
import { query } from "./store-error.js";

// The API's PaymentAttemptStore contract (apps/api/src/http/payment-attempts.ts), restated
// here; the API's tests assign this class to its interface.

/** One bucket an attempt is checked against: its key and how far back its window reaches. */
export interface AttemptBucketSpan {
  /** E.g. `person:ana`, `email:<sha-256>`, `card_failed:<fingerprint>`. */
  readonly key: string;
  readonly windowMs: number;
  /** Whether an admitted attempt is written to this bucket (false: only read, as failed cards are). */
  readonly counted: boolean;
}

/** What a bucket holds in its window at the time of the attempt. */
export interface AttemptBucketLog {
  readonly key: string;
  /** When the other attempts in the window were admitted (ms since the epoch), oldest first. */
  readonly times: readonly number[];
  /** This attempt's key is already counted in the bucket (a repeat of an admitted attempt). */
  readonly repeat: boolean;
}

/** Most rows one {@link PrismaPaymentAttemptStore.deleteExpired} call removes. */
export const PAYMENT_ATTEMPT_DELETE_BATCH_MAX = 10_000;

/** A transaction's bounds: the limiter holds its buckets' locks for a few statements only. */
const LIMITS = { timeoutMs: 5_000, maxWaitMs: 5_000 };

const READ_SQL = `
  SELECT a.bucket, a.attempt_key, (extract(epoch FROM a.at) * 1000)::float8 AS at_ms
  FROM unnest($1::text[], $2::timestamptz[]) AS b(bucket, since)
  JOIN payment_attempts AS a ON a.bucket = b.bucket AND a.at > b.since
  ORDER BY a.at, a.attempt_key`;

const INSERT_SQL = `
  INSERT INTO payment_attempts (bucket, attempt_key, at, expires_at)
  SELECT b.bucket, $2, $3::timestamptz, b.expires_at
  FROM unnest($1::text[], $4::timestamptz[]) AS b(bucket, expires_at)
  ORDER BY b.bucket
  ON CONFLICT (bucket, attempt_key) DO NOTHING`;

/**
 * The payment-attempt limiter's sliding log in `payment_attempts`, shared by every API
 * process. {@link admit} runs in one transaction that first takes a transaction-scoped
 * advisory lock on each bucket (in sorted order, so two attempts on the same buckets cannot
 * deadlock), then reads the buckets' windows, asks the caller's `decide`, and writes the
 * attempt to every counted bucket only when it is admitted: two processes deciding on the
 * same bucket wait for each other, so together they never admit more than the limit.
 * A refused attempt writes nothing.
 */
export class PrismaPaymentAttemptStore {
  constructor(private readonly prisma: PrismaClient) {}

  async admit(
    attemptKey: string,
    buckets: readonly AttemptBucketSpan[],
    nowMs: number,
    decide: (logs: readonly AttemptBucketLog[]) => boolean,
  ): Promise<{ readonly admitted: boolean; readonly logs: readonly AttemptBucketLog[] }> {
    const sorted = [...buckets].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return query("payment attempt admit", () =>
      runTransaction(this.prisma, LIMITS, async (run) => {
        for (const bucket of sorted)
          await run({
            name: "susu_payment_attempt_lock",
            text: "SELECT true AS locked FROM pg_advisory_xact_lock(hashtextextended($1::text, 7283))",
            values: [bucket.key],
          });
        const { rows } = await run<{ bucket: string; attempt_key: string; at_ms: number }>({
          name: "susu_payment_attempt_read",
          text: READ_SQL,
          values: [sorted.map((b) => b.key), sorted.map((b) => new Date(nowMs - b.windowMs).toISOString())],
        });
        const logs = sorted.map((bucket): AttemptBucketLog => {
          const mine = rows.filter((r) => r.bucket === bucket.key);
          return {
            key: bucket.key,
            times: mine.filter((r) => r.attempt_key !== attemptKey).map((r) => Number(r.at_ms)),
            repeat: mine.some((r) => r.attempt_key === attemptKey),
          };
        });
        const admitted = decide(logs);
        const counted = sorted.filter((b) => b.counted);
        if (admitted && counted.length > 0)
          await run({
            name: "susu_payment_attempt_insert",
            text: INSERT_SQL,
            values: [
              counted.map((b) => b.key),
              attemptKey,
              new Date(nowMs).toISOString(),
              counted.map((b) => new Date(nowMs + b.windowMs).toISOString()),
            ],
          });
        return { admitted, logs };
      }),
    );
  }

  /**
   * Records one event in a bucket (a failed charge of a card fingerprint), once per
   * `eventKey` however often it is reported; kept for `keepMs`.
   */
  async record(bucket: string, eventKey: string, atMs: number, keepMs: number): Promise<void> {
    await query("payment attempt record", () =>
      runStatement(this.prisma, {
        name: "susu_payment_attempt_insert",
        text: INSERT_SQL,
        values: [[bucket], eventKey, new Date(atMs).toISOString(), [new Date(atMs + keepMs).toISOString()]],
      }),
    );
  }

  async deleteExpired(nowMs: number, limit: number = PAYMENT_ATTEMPT_DELETE_BATCH_MAX): Promise<number> {
    if (!Number.isInteger(limit) || limit <= 0)
      throw new RangeError(`limit must be a positive integer, got ${limit}`);
    return query(
      "payment attempt delete expired",
      () => this.prisma.$executeRaw`
        DELETE FROM payment_attempts
        WHERE (bucket, attempt_key) IN (
          SELECT bucket, attempt_key FROM payment_attempts
          WHERE expires_at <= ${new Date(nowMs)}
          LIMIT ${limit}
          FOR UPDATE SKIP LOCKED)`,
    );
  }
}
