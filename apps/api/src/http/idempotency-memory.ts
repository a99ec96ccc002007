import type {
  BeginOptions,
  BeginResult,
  IdempotencyStore,
  IdempotentRequest,
  LockRef,
  StoredResponse,
} from "./idempotency.js";

interface Entry {
  readonly request: IdempotentRequest;
  readonly expiresAtMs: number;
  lock: { readonly token: string; readonly untilMs: number } | undefined;
  response: StoredResponse | undefined;
}

/**
 * {@link IdempotencyStore} in one process's memory, with the PostgreSQL store's semantics
 * (the shared contract tests run against both). For unit tests and single-process demos
 * only: keys are lost on restart and not shared between processes.
 */
export class InMemoryIdempotencyStore implements IdempotencyStore {
  readonly #entries = new Map<string, Entry>();

  async begin(request: IdempotentRequest, options: BeginOptions): Promise<BeginResult> {
    const id = idOf(request.scope, request.key);
    const existing = this.#entries.get(id);
    const takeOver =
      existing !== undefined &&
      (existing.expiresAtMs <= options.nowMs ||
        (existing.response === undefined &&
          (existing.lock?.untilMs ?? 0) <= options.nowMs &&
          sameRequest(existing.request, request)));
    if (existing === undefined || takeOver) {
      this.#entries.set(id, {
        request,
        expiresAtMs: options.nowMs + options.ttlMs,
        lock: { token: options.lockToken, untilMs: options.nowMs + options.lockMs },
        response: undefined,
      });
      return { outcome: "execute" };
    }
    if (!sameRequest(existing.request, request)) return { outcome: "mismatch" };
    if (existing.response !== undefined) return { outcome: "replay", response: existing.response };
    return { outcome: "in_progress" };
  }

  async complete(lock: LockRef, response: StoredResponse): Promise<boolean> {
    const entry = this.#held(lock);
    if (entry === undefined) return false;
    entry.response = { status: response.status, headers: { ...response.headers }, body: response.body };
    entry.lock = undefined;
    return true;
  }

  async extend(lock: LockRef, untilMs: number): Promise<boolean> {
    const entry = this.#held(lock);
    if (entry === undefined) return false;
    entry.lock = { token: lock.lockToken, untilMs };
    return true;
  }

  async release(lock: LockRef): Promise<boolean> {
    if (this.#held(lock) === undefined) return false;
    this.#entries.delete(idOf(lock.scope, lock.key));
    return true;
  }

  async deleteExpired(nowMs: number, limit = 10_000): Promise<number> {
    let deleted = 0;
    for (const [id, entry] of this.#entries) {
      if (deleted >= limit) break;
      if (entry.expiresAtMs <= nowMs) {
        this.#entries.delete(id);
        deleted++;
      }
    }
    return deleted;
  }

  #held(lock: LockRef): Entry | undefined {
    const entry = this.#entries.get(idOf(lock.scope, lock.key));
    return entry?.response === undefined && entry?.lock?.token === lock.lockToken ? entry : undefined;
  }
}

/** The stored request is this one: its fingerprint, or (a key stored before roles counted) its legacy one. */
function sameRequest(stored: IdempotentRequest, request: IdempotentRequest): boolean {
  return (
    stored.requestHash === request.requestHash ||
    (request.legacyRequestHash !== undefined && stored.requestHash === request.legacyRequestHash)
  );
}

function idOf(scope: string, key: string): string {
  return `${scope}\u0000${key}`;
}
