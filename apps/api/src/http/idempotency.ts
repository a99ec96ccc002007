import { createHash, randomUUID } from "node:crypto";
import { z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import type { Principal } from "./auth.js";
import { isJsonContentType } from "./edge.js";
import { PROBLEM_CONTENT_TYPE, problemDoc, problemResponse, type ResponseDoc } from "./problem-response.js";
import type { Logger } from "./request-log.js";

/** The request header that carries the key. */
export const IDEMPOTENCY_KEY_HEADER = "Idempotency-Key";
/** Set to `true` on a response replayed from the store (Stripe's name). */
export const IDEMPOTENT_REPLAYED_HEADER = "Idempotent-Replayed";
/** Keys are kept at least this long (Stripe: 24 hours). */
export const IDEMPOTENCY_TTL_MIN_MS = 24 * 3600 * 1000;

/**
 * Printable ASCII (space to tilde): what a client's key may be made of, and what any value
 * that ends up in a header the API sends on (a set-up's `attempt` in Stripe's
 * Idempotency-Key) is held to; Node refuses a header value above U+00FF, CR or LF.
 */
export const PRINTABLE_ASCII = /^[\x20-\x7E]*$/;

// 1–255 printable ASCII characters: enough for a UUID or a client's own scheme, and safe to
// store, compare and show back in a problem detail.
const isValidKey = (key: string): boolean =>
  key.length >= 1 && key.length <= 255 && PRINTABLE_ASCII.test(key);

/** A request that carries a key, as the store records it. */
export interface IdempotentRequest {
  /** Whose key it is: the principal's subject, so two callers' keys never collide. */
  readonly scope: string;
  readonly key: string;
  readonly method: string;
  readonly path: string;
  /** {@link requestFingerprint} of method, path, canonical body and the caller's roles. */
  readonly requestHash: string;
  /**
   * The fingerprint without the roles, which keys stored before the roles were part of it
   * carry: such a key still replays to its caller (whatever their roles now) until it expires.
   */
  readonly legacyRequestHash?: string;
}

/** A response as stored and replayed: status, the headers that matter, the body's exact text. */
export interface StoredResponse {
  readonly status: number;
  /** Lower-case names; only {@link REPLAYED_HEADERS}. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** The response headers stored with a response and replayed with it. */
export const REPLAYED_HEADERS = ["content-type", "location"] as const;

/** When and for how long {@link IdempotencyStore.begin} locks a key. */
export interface BeginOptions {
  readonly nowMs: number;
  /** How long the lock holds if its request never finishes (a crash): then another may take over. */
  readonly lockMs: number;
  /** How long the key is kept from now. */
  readonly ttlMs: number;
  /** Random token of this attempt; only it can complete or release the key. */
  readonly lockToken: string;
}

/** What to do with a request, decided atomically by {@link IdempotencyStore.begin}. */
export type BeginResult =
  /** The key is now locked by this attempt: run the request. */
  | { readonly outcome: "execute" }
  /** The key's request finished earlier: send its response again. */
  | { readonly outcome: "replay"; readonly response: StoredResponse }
  /** Another attempt with this key holds the lock. */
  | { readonly outcome: "in_progress" }
  /** The key was used for a different request (method, path or body). */
  | { readonly outcome: "mismatch" };

/** Identifies the attempt that holds a key. */
export interface LockRef {
  readonly scope: string;
  readonly key: string;
  readonly lockToken: string;
}

/**
 * Storage of idempotency keys, shared by every API process (PostgreSQL:
 * `PrismaIdempotencyStore` in @susu/adapters; `InMemoryIdempotencyStore` for tests).
 * Infrastructure failures reject; outcomes are values.
 */
export interface IdempotencyStore {
  /**
   * In one atomic step: records and locks a new key (or one that expired, or whose lock
   * expired with the same request) and answers `execute`; otherwise says whether to replay,
   * wait (`in_progress`) or refuse (`mismatch`).
   */
  begin(request: IdempotentRequest, options: BeginOptions): Promise<BeginResult>;
  /** Stores the response and unlocks; `false` if this attempt no longer holds the lock. */
  complete(lock: LockRef, response: StoredResponse): Promise<boolean>;
  /**
   * Moves the lock this attempt holds to end at `untilMs`, while its request still runs;
   * `false` if it no longer holds it.
   */
  extend(lock: LockRef, untilMs: number): Promise<boolean>;
  /** Forgets a key this attempt holds (nothing to replay); `false` if it no longer holds it. */
  release(lock: LockRef): Promise<boolean>;
  /** Deletes keys expired at `nowMs` (at most `limit`); returns how many. */
  deleteExpired(nowMs: number, limit?: number): Promise<number>;
}

/** JSON with object keys sorted at every depth, so `{"a":1,"b":2}` and `{"b":2,"a":1}` are one request. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/**
 * SHA-256 of method, path (with its query sorted) and the canonical body. A body that is
 * not JSON is hashed as its text.
 */
export function requestFingerprint(
  method: string,
  pathWithQuery: string,
  body: string,
  roles?: readonly string[],
): string {
  return fingerprintOf(requestText(method, pathWithQuery, body), roles);
}

/** Method, path and canonical body as the fingerprints hash them (a body that is not JSON as its text). */
function requestText(method: string, pathWithQuery: string, body: string): string {
  let canonical: string;
  try {
    canonical = body === "" ? "" : `json:${canonicalJson(JSON.parse(body))}`;
  } catch {
    canonical = `text:${body}`;
  }
  return `${method}\n${pathWithQuery}\n${canonical}`;
}

function fingerprintOf(text: string, roles?: readonly string[]): string {
  // The caller's roles, sorted: a key used with some roles neither replays nor runs for the
  // same subject with others (a token that lost its admin role gets no admin's answer back).
  const as = roles === undefined ? "" : `\nroles:${[...new Set(roles)].sort().join(",")}`;
  return createHash("sha256").update(`${text}${as}`).digest("hex");
}

/** What {@link IdempotencyOptions.storePolicy} decides on. */
export interface ResponseOutcome {
  readonly status: number;
  /** The problem document's `code`, when the response is one. */
  readonly code: string | undefined;
}

/**
 * Codes that say "try again", so storing them would replay a temporary failure for a day: a
 * failure of the moment, or work in flight at Stripe that ends on its own within minutes (a
 * refund, a release, a seller's transfer or a payout not yet landed). A state that waits on
 * people or the calendar (`round_in_progress`, `change_pending`) is a refusal, and stored.
 */
export const TRANSIENT_CODES: ReadonlySet<string> = new Set([
  "version_conflict",
  "storage_unavailable",
  "gateway_retryable",
  "gateway_outcome_unknown",
  "refund_in_flight",
  "release_in_flight",
  "transfers_pending",
  "payout_in_flight",
]);

/**
 * Which responses are stored for replay, after Stripe: a result is saved only once the
 * endpoint has executed and reached an outcome, i.e. 2xx and 409 (the use case ran and
 * refused for the state it found: `group_not_forming`, `member_exists`, …). Not saved, so
 * the key can be sent again: 5xx (the request may be retried), transient codes
 * ({@link TRANSIENT_CODES}), and every other 4xx, which the API answers before or while
 * validating (400 invalid input, 401/403, 404, 413, 415, 422 domain validation, 429).
 */
export function defaultStorePolicy(outcome: ResponseOutcome): boolean {
  if (outcome.code !== undefined && TRANSIENT_CODES.has(outcome.code)) return false;
  if (outcome.status >= 200 && outcome.status < 300) return true;
  return outcome.status === 409;
}

/** Options of {@link idempotency}. */
export interface IdempotencyOptions {
  readonly store: IdempotencyStore;
  /** How long keys are kept; at least (and default) 24 hours. */
  readonly ttlMs?: number;
  /** How long a key stays locked if its request never finishes; default 60 s. Longer than any request. */
  readonly lockMs?: number;
  /** Refuse POSTs without a key (400 `idempotency_key_required`). Default false, as at Stripe. */
  readonly required?: boolean;
  readonly storePolicy?: (outcome: ResponseOutcome) => boolean;
  readonly now?: () => number;
  readonly lockToken?: () => string;
}

function pathWithSortedQuery(c: Context): string {
  const url = new URL(c.req.url);
  url.searchParams.sort();
  const query = url.searchParams.toString();
  return query === "" ? url.pathname : `${url.pathname}?${query}`;
}

function replay(response: StoredResponse): Response {
  const noBody = response.status === 204 || response.status === 205 || response.status === 304;
  return new Response(noBody ? null : response.body, {
    status: response.status,
    headers: { ...response.headers, [IDEMPOTENT_REPLAYED_HEADER]: "true" },
  });
}

async function outcomeOf(res: Response, text: string): Promise<ResponseOutcome> {
  let code: string | undefined;
  if (res.headers.get("content-type")?.startsWith(PROBLEM_CONTENT_TYPE)) {
    try {
      const parsed = JSON.parse(text) as { code?: unknown };
      if (typeof parsed.code === "string") code = parsed.code;
    } catch {
      // Not a problem document after all: decide on the status alone.
    }
  }
  return { status: res.status, code };
}

/**
 * `Idempotency-Key` on POST with Stripe's semantics. Mount after `bearerAuth` (keys are
 * scoped to the principal's subject) and `jsonBodies`. The first request with a key runs
 * and its response (status, `content-type`, `location`, exact body) is stored when
 * {@link defaultStorePolicy} says so; the same key and request again gets that response with
 * `Idempotent-Replayed: true`, without running the handler. The same key with a different
 * method, path or body — or by the same caller with other roles (a token that lost its admin
 * role gets no admin's answer back, and runs nothing) — is 422 `idempotency_key_reused`; a key whose first request is still
 * running is 409 `idempotency_key_in_use`; a key that is not 1–255 printable ASCII characters
 * is 400 `invalid_idempotency_key`. Keys expire after `ttlMs` and may then be reused.
 * The lock is renewed every `lockMs / 3` while the request runs (for at most 10 × `lockMs`: a
 * handler running longer is taken for hung); a request that crashed the process leaves its key
 * locked until `lockMs` passes.
 */
export function idempotency(
  options: IdempotencyOptions,
): MiddlewareHandler<{ Variables: { principal?: Principal; log?: Logger } }> {
  const ttlMs = options.ttlMs ?? IDEMPOTENCY_TTL_MIN_MS;
  const lockMs = options.lockMs ?? 60_000;
  if (!Number.isInteger(ttlMs) || ttlMs < IDEMPOTENCY_TTL_MIN_MS)
    throw new RangeError(`ttlMs must be at least 24 hours, got ${ttlMs}`);
  if (!Number.isInteger(lockMs) || lockMs <= 0)
    throw new RangeError(`lockMs must be a positive whole number, got ${lockMs}`);
  const now = options.now ?? Date.now;
  const newLockToken = options.lockToken ?? randomUUID;
  const shouldStore = options.storePolicy ?? defaultStorePolicy;

  return async (c, next) => {
    if (c.req.method !== "POST") return next();
    const key = c.req.header(IDEMPOTENCY_KEY_HEADER);
    if (key === undefined)
      return options.required
        ? problemResponse(400, "idempotency_key_required", `send an ${IDEMPOTENCY_KEY_HEADER} header`)
        : next();
    if (!isValidKey(key))
      return problemResponse(
        400,
        "invalid_idempotency_key",
        `${IDEMPOTENCY_KEY_HEADER} must be 1 to 255 printable ASCII characters`,
      );
    const principal = c.get("principal");
    if (principal === undefined)
      throw new Error("idempotency() runs after bearerAuth(): keys belong to a caller");
    const log = c.get("log");

    const path = pathWithSortedQuery(c);
    // Parsed and made canonical once, hashed with the roles and without (see legacyRequestHash).
    const text = requestText(c.req.method, path, await c.req.text());
    const request: IdempotentRequest = {
      scope: principal.subject,
      key,
      method: c.req.method,
      path,
      requestHash: fingerprintOf(text, principal.roles),
      legacyRequestHash: fingerprintOf(text),
    };
    const lock: LockRef = { scope: request.scope, key, lockToken: newLockToken() };
    let begun: BeginResult;
    try {
      begun = await options.store.begin(request, { nowMs: now(), lockMs, ttlMs, lockToken: lock.lockToken });
    } catch (error) {
      log?.error({ err: error }, "idempotency store failed to begin");
      return problemResponse(503, "storage_unavailable", "idempotency keys cannot be checked now; retry", {
        "retry-after": "1",
      });
    }
    switch (begun.outcome) {
      case "replay":
        return replay(begun.response);
      case "in_progress":
        return problemResponse(
          409,
          "idempotency_key_in_use",
          "a request with this Idempotency-Key is still being processed; retry when it has finished",
          { "retry-after": "1" },
        );
      case "mismatch":
        return problemResponse(
          422,
          "idempotency_key_reused",
          "this Idempotency-Key was used with a different request (method, path or body, or your roles then); use a new key",
        );
      case "execute":
        break;
    }

    // The lock is renewed while the request runs, so a request slower than `lockMs` (a
    // handler waiting on Stripe's retries) is never run a second time by a retry with the
    // same key: only a process that died stops renewing, and its key frees after `lockMs`.
    // A handler still running after 10 × lockMs is taken for hung: its key frees as a crashed one's.
    const renewUntil = now() + 10 * lockMs;
    const renewal = setInterval(
      () => {
        if (now() >= renewUntil) {
          clearInterval(renewal);
          return;
        }
        options.store.extend(lock, now() + lockMs).then(
          (held) => {
            if (!held) clearInterval(renewal);
          },
          (error: unknown) =>
            log?.warn(
              { err: error, idempotencyScope: lock.scope },
              "idempotency lock not renewed; tried again at the next renewal",
            ),
        );
      },
      Math.max(1, Math.floor(lockMs / 3)),
    );
    renewal.unref();
    try {
      await next();
    } finally {
      clearInterval(renewal);
      await settle(c, lock, options.store, shouldStore, log);
    }
  };
}

/** Stores the response or releases the key; never throws (the client gets its response either way). */
async function settle(
  c: Context,
  lock: LockRef,
  store: IdempotencyStore,
  shouldStore: (outcome: ResponseOutcome) => boolean,
  log: Logger | undefined,
): Promise<void> {
  try {
    const res = c.res;
    const text = await bodyText(c);
    if (c.error === undefined && shouldStore(await outcomeOf(res, text))) {
      const headers: Record<string, string> = {};
      for (const name of REPLAYED_HEADERS) {
        const value = res.headers.get(name);
        if (value !== null) headers[name] = value;
      }
      // One retry: if the response cannot be stored the key stays locked until lockMs,
      // after which a retry of the request runs it again.
      const stored = await store
        .complete(lock, { status: res.status, headers, body: text })
        .catch(() => store.complete(lock, { status: res.status, headers, body: text }));
      if (!stored) log?.warn({ idempotencyScope: lock.scope }, "idempotency lock was lost before completion");
    } else {
      await store.release(lock);
    }
  } catch (error) {
    log?.error(
      { err: error },
      "idempotency store failed to record the outcome; the key unlocks after lockMs",
    );
  }
}

/**
 * The response's body as text, leaving `c.res` answering the same status, headers and bytes.
 * A string the response still holds ({@link stringBodyOf}: every answer of the API as
 * production serves it) is taken as it is, the response untouched. Otherwise a JSON body is read once and the response made again from the
 * text: cloning would tee it into two streams, and the server would then have to pump the
 * answer out of a stream instead of writing the string it was built from (on
 * @hono/node-server ~0.3 ms of CPU per POST). Any other body is read from a clone and left
 * untouched, so bytes that are not text go out as they came.
 */
async function bodyText(c: Context): Promise<string> {
  const res = c.res;
  const made = stringBodyOf(res);
  if (made !== undefined) return made;
  if (!isJsonContentType(res.headers.get("content-type") ?? undefined)) return res.clone().text();
  const text = await res.text();
  const noBody = res.status === 204 || res.status === 205 || res.status === 304;
  const again = new Response(noBody ? null : text, {
    status: res.status,
    statusText: res.statusText,
    headers: res.headers,
  });
  // Assigned over an existing response, Hono rebuilds the new one around its body stream
  // and copies the old headers in; they are all in `again` already.
  c.res = undefined;
  c.res = again;
  return text;
}

/**
 * The string a response was made from, when the response still holds it unread: on
 * @hono/node-server (as production serves), `new Response(text, …)` and `c.json(…)` give a
 * light response that keeps `[status, body, headers]` under a symbol described `cache`
 * until something reads its body or builds the web Response it stands for, and the server
 * writes that string straight to the socket. Reading it there leaves the response as it
 * is; reading it through `text()` would build a web Response and pull its body through a
 * web stream (~0.2 ms of CPU per POST), and the response would then have to be made again.
 * Undefined for any other response (a web Response, a stream or bytes, a light response
 * already turned into a web one, or another version's internals): the caller reads it the
 * general way.
 */
export function stringBodyOf(res: Response): string | undefined {
  for (const symbol of Object.getOwnPropertySymbols(res)) {
    if (symbol.description !== "cache") continue;
    const cache: unknown = (res as unknown as Record<symbol, unknown>)[symbol];
    if (Array.isArray(cache) && cache.length === 3 && cache[0] === res.status && typeof cache[1] === "string")
      return cache[1];
  }
  return undefined;
}

/** The responses {@link idempotency} may give, for a route's OpenAPI `responses`. */
export const idempotencyResponses = {
  400: problemDoc("The Idempotency-Key is malformed or missing.", [
    "invalid_idempotency_key",
    "idempotency_key_required",
  ]),
  409: problemDoc("A request with this Idempotency-Key is still in flight.", ["idempotency_key_in_use"], {
    "Retry-After": { description: "Seconds to wait." },
  }),
  422: problemDoc("The Idempotency-Key was used with a different request.", ["idempotency_key_reused"]),
  503: problemDoc("Idempotency keys cannot be checked now; retry.", ["storage_unavailable"]),
} satisfies Record<number, ResponseDoc>;

/**
 * The optional `Idempotency-Key` request header, for a route's OpenAPI `request.headers`
 * (merge with the route's own header schema).
 */
export const IdempotencyKeyHeaderSchema = z.object({
  "idempotency-key": z
    .string()
    .min(1)
    .max(255)
    .optional()
    // The key is lower case: Hono's header validator sees header names lower-cased, and
    // the OpenAPI parameter takes its name from the key (header names are case-insensitive).
    .openapi({
      description:
        "Makes a POST safe to retry: the first response is kept at least 24 h and replayed for the same key and request.",
      example: "5f0c1a7e-6a84-4a1f-9a55-0f6b1b8d2c11",
    }),
});
