import { type PrismaClient, runStatement } from "../db/prisma-client.js";
import { query } from "./store-error.js";

// These types are the API's IdempotencyStore contract (apps/api/src/http/idempotency.ts),
// restated here because the port belongs to the API and adapters cannot import the app.
// The API's tests assign this class to its interface, so the two cannot drift apart.

/** A request that carries an `Idempotency-Key`. */
export interface IdempotentRequestRecord {
  readonly scope: string;
  readonly key: string;
  readonly method: string;
  readonly path: string;
  readonly requestHash: string;
  /** The fingerprint keys stored before the caller's roles were part of it carry (see the API's). */
  readonly legacyRequestHash?: string;
}

/** A response kept for replay: status, replayed headers, the body's exact text. */
export interface StoredHttpResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** Timing and owner of a lock taken by {@link PrismaIdempotencyStore.begin}. */
export interface IdempotencyBeginOptions {
  readonly nowMs: number;
  readonly lockMs: number;
  readonly ttlMs: number;
  readonly lockToken: string;
}

/** The decision {@link PrismaIdempotencyStore.begin} took. */
export type IdempotencyBeginResult =
  | { readonly outcome: "execute" }
  | { readonly outcome: "replay"; readonly response: StoredHttpResponse }
  | { readonly outcome: "in_progress" }
  | { readonly outcome: "mismatch" };

/** The attempt holding a key. */
export interface IdempotencyLockRef {
  readonly scope: string;
  readonly key: string;
  readonly lockToken: string;
}

interface KeyRow {
  request_hash: string;
  status: "in_progress" | "completed";
  response_status: number | null;
  response_body: string | null;
  response_headers: unknown;
}

function headersOf(value: unknown): Record<string, string> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return {};
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).filter(
      (entry): entry is [string, string] => typeof entry[1] === "string",
    ),
  );
}

/** How often begin re-reads a key that changed under it (released between its two statements). */
const BEGIN_ATTEMPTS_MAX = 3;

/** Most expired keys one {@link PrismaIdempotencyStore.deleteExpired} call removes. */
export const IDEMPOTENCY_DELETE_BATCH_MAX = 10_000;

/**
 * The API's idempotency keys in `idempotency_keys`. Every decision is one atomic statement,
 * so any number of API processes can share the table:
 *
 * - `begin` is `INSERT … ON CONFLICT (scope, key) DO UPDATE … WHERE <expired, or lock
 *   abandoned by the same request> RETURNING`: of two concurrent first requests, exactly
 *   one gets a row back and executes; the other reads the row and gets `in_progress`.
 * - `complete` and `release` are conditional on `locked_by` = the attempt's token, so an
 *   attempt whose lock expired and was taken over cannot overwrite or drop the new one.
 *
 * Times come from the caller (`nowMs`), the schema's convention.
 */
// The statements of begin and complete, run through runStatement (prepared on the pool).
const BEGIN_SQL = `
  INSERT INTO idempotency_keys AS k
    (scope, key, request_method, request_path, request_hash, status,
     locked_by, locked_until, created_at, expires_at)
  VALUES
    ($1, $2, $3, $4, $5, 'in_progress', $6, $7::timestamptz, $8::timestamptz, $9::timestamptz)
  ON CONFLICT (scope, key) DO UPDATE SET
    request_method = EXCLUDED.request_method,
    request_path = EXCLUDED.request_path,
    request_hash = EXCLUDED.request_hash,
    status = 'in_progress',
    response_status = NULL,
    response_body = NULL,
    response_headers = NULL,
    locked_by = EXCLUDED.locked_by,
    locked_until = EXCLUDED.locked_until,
    created_at = EXCLUDED.created_at,
    expires_at = EXCLUDED.expires_at
  WHERE k.expires_at <= EXCLUDED.created_at
     OR (k.status = 'in_progress'
         AND k.locked_until <= EXCLUDED.created_at
         AND (k.request_hash = EXCLUDED.request_hash OR k.request_hash = $10))
  RETURNING 1 AS started`;
const COMPLETE_SQL = `
  UPDATE idempotency_keys
  SET status = 'completed',
      response_status = $1::int,
      response_body = to_jsonb($2::text),
      response_headers = $3::jsonb,
      locked_by = NULL,
      locked_until = NULL
  WHERE scope = $4 AND key = $5
    AND status = 'in_progress' AND locked_by = $6
  RETURNING 1 AS completed`;

export class PrismaIdempotencyStore {
  constructor(private readonly prisma: PrismaClient) {}

  async begin(
    request: IdempotentRequestRecord,
    options: IdempotencyBeginOptions,
  ): Promise<IdempotencyBeginResult> {
    const now = new Date(options.nowMs);
    const lockedUntil = new Date(options.nowMs + options.lockMs);
    const expiresAt = new Date(options.nowMs + options.ttlMs);
    for (let attempt = 1; attempt <= BEGIN_ATTEMPTS_MAX; attempt++) {
      // Takes the key when it is new, expired (reusable), or locked by a request that
      // never finished (its lock ended) and is being retried with the same body. A
      // different body on an abandoned lock is refused: the first request may have done
      // part of its work with that body.
      // The same statement, prepared on the pool: the hot path of every POST.
      const { rows: started } = await query("idempotency begin", () =>
        runStatement<{ started: number }>(this.prisma, {
          name: "susu_idempotency_begin",
          text: BEGIN_SQL,
          values: [
            request.scope,
            request.key,
            request.method,
            request.path,
            request.requestHash,
            options.lockToken,
            lockedUntil.toISOString(),
            now.toISOString(),
            expiresAt.toISOString(),
            request.legacyRequestHash ?? request.requestHash,
          ],
        }),
      );
      if (started.length === 1) return { outcome: "execute" };
      // Someone else holds the key. A fresh statement (new snapshot) reads what they left.
      const rows = await query(
        "idempotency read",
        () => this.prisma.$queryRaw<KeyRow[]>`
          SELECT request_hash, status::text AS status, response_status,
                 response_body #>> '{}' AS response_body, response_headers
          FROM idempotency_keys
          WHERE scope = ${request.scope} AND key = ${request.key}`,
      );
      const row = rows[0];
      // Released between the two statements: try to take it again.
      if (row === undefined) continue;
      if (row.request_hash !== request.requestHash && row.request_hash !== request.legacyRequestHash)
        return { outcome: "mismatch" };
      if (row.status === "completed" && row.response_status !== null)
        return {
          outcome: "replay",
          response: {
            status: row.response_status,
            headers: headersOf(row.response_headers),
            body: row.response_body ?? "",
          },
        };
      return { outcome: "in_progress" };
    }
    // The key keeps being taken and released under us: as good as in use.
    return { outcome: "in_progress" };
  }

  async complete(lock: IdempotencyLockRef, response: StoredHttpResponse): Promise<boolean> {
    // The body is stored as a JSON string holding the exact text, so the replay is
    // byte-identical (a jsonb object would reorder keys and drop whitespace).
    // COMPLETE_SQL returns the key it completed, so the row count is the same on either path.
    const { rowCount: updated } = await query("idempotency complete", () =>
      runStatement(this.prisma, {
        name: "susu_idempotency_complete",
        text: COMPLETE_SQL,
        values: [
          response.status,
          response.body,
          JSON.stringify(response.headers),
          lock.scope,
          lock.key,
          lock.lockToken,
        ],
      }),
    );
    return updated === 1;
  }

  /**
   * Moves the lock this attempt holds to end at `untilMs` (its request still runs); `false`
   * if it no longer holds it (completed, released, or taken over after it expired).
   */
  async extend(lock: IdempotencyLockRef, untilMs: number): Promise<boolean> {
    const extended = await query(
      "idempotency extend",
      () => this.prisma.$executeRaw`
        UPDATE idempotency_keys SET locked_until = ${new Date(untilMs)}
        WHERE scope = ${lock.scope} AND key = ${lock.key}
          AND status = 'in_progress' AND locked_by = ${lock.lockToken}`,
    );
    return extended === 1;
  }

  async release(lock: IdempotencyLockRef): Promise<boolean> {
    const deleted = await query(
      "idempotency release",
      () => this.prisma.$executeRaw`
        DELETE FROM idempotency_keys
        WHERE scope = ${lock.scope} AND key = ${lock.key}
          AND status = 'in_progress' AND locked_by = ${lock.lockToken}`,
    );
    return deleted === 1;
  }

  async deleteExpired(nowMs: number, limit: number = IDEMPOTENCY_DELETE_BATCH_MAX): Promise<number> {
    if (!Number.isInteger(limit) || limit <= 0)
      throw new RangeError(`limit must be a positive integer, got ${limit}`);
    // Batched so one clean-up never holds locks on a huge backlog; the expires_at index finds them.
    return query(
      "idempotency delete expired",
      () => this.prisma.$executeRaw`
        DELETE FROM idempotency_keys
        WHERE (scope, key) IN (
          SELECT scope, key FROM idempotency_keys
          WHERE expires_at <= ${new Date(nowMs)}
          LIMIT ${limit}
          FOR UPDATE SKIP LOCKED)`,
    );
  }
}
