// The IdempotencyStore contract, run against the in-memory store and PostgreSQL.
import { expect, it } from "vitest";
import type { IdempotencyStore } from "../../src/http/index.js";

const T = Date.UTC(2026, 5, 1, 12);
const DAY = 24 * 3600_000;
const at = (nowMs: number, lockToken: string) => ({ nowMs, lockMs: 60_000, ttlMs: DAY, lockToken });
let unique = 0;

/** Registers the contract's tests for the store `make` returns (called inside each test). */
export function idempotencyStoreContract(make: () => IdempotencyStore): void {
  const fresh = (requestHash = "h1") => ({
    scope: "ana",
    key: `key-${++unique}`,
    method: "POST",
    path: "/v1/groups",
    requestHash,
  });
  const stored = { status: 201, headers: { "content-type": "application/json" }, body: '{"id":"g1"}' };

  it("executes, then is in progress, then replays", async () => {
    const store = make();
    const request = fresh();
    expect(await store.begin(request, at(T, "a"))).toEqual({ outcome: "execute" });
    expect(await store.begin(request, at(T, "b"))).toEqual({ outcome: "in_progress" });
    expect(await store.complete({ scope: "ana", key: request.key, lockToken: "a" }, stored)).toBe(true);
    expect(await store.begin(request, at(T, "c"))).toEqual({ outcome: "replay", response: stored });
  });

  it("refuses another request under the key", async () => {
    const store = make();
    const request = fresh();
    await store.begin(request, at(T, "a"));
    expect(await store.begin({ ...request, requestHash: "h2" }, at(T, "b"))).toEqual({ outcome: "mismatch" });
  });

  it("frees a released key and only for its holder", async () => {
    const store = make();
    const request = fresh();
    await store.begin(request, at(T, "a"));
    expect(await store.release({ scope: "ana", key: request.key, lockToken: "x" })).toBe(false);
    expect(await store.release({ scope: "ana", key: request.key, lockToken: "a" })).toBe(true);
    expect(await store.begin({ ...request, requestHash: "h2" }, at(T, "b"))).toEqual({ outcome: "execute" });
  });

  it("hands an abandoned lock to the same request, not to another, and not back to the old holder", async () => {
    const store = make();
    const request = fresh();
    await store.begin(request, at(T, "a"));
    expect(await store.begin(request, at(T + 59_000, "b"))).toEqual({ outcome: "in_progress" });
    expect(await store.begin({ ...request, requestHash: "h2" }, at(T + 60_000, "c"))).toEqual({
      outcome: "mismatch",
    });
    expect(await store.begin(request, at(T + 60_000, "d"))).toEqual({ outcome: "execute" });
    expect(await store.complete({ scope: "ana", key: request.key, lockToken: "a" }, stored)).toBe(false);
    expect(await store.complete({ scope: "ana", key: request.key, lockToken: "d" }, stored)).toBe(true);
  });

  it("extends a lock only for its holder, and a key so renewed is not handed over when the first lock would have ended", async () => {
    const store = make();
    const request = fresh();
    const lock = { scope: "ana", key: request.key, lockToken: "a" };
    await store.begin(request, at(T, "a"));
    expect(await store.extend({ ...lock, lockToken: "x" }, T + 120_000)).toBe(false);
    expect(await store.extend(lock, T + 120_000)).toBe(true);
    expect(await store.begin(request, at(T + 90_000, "b"))).toEqual({ outcome: "in_progress" });
    expect(await store.begin(request, at(T + 120_000, "c"))).toEqual({ outcome: "execute" });
    // Taken over: the old holder can neither renew nor complete it.
    expect(await store.extend(lock, T + 240_000)).toBe(false);
    expect(await store.complete({ ...lock, lockToken: "c" }, stored)).toBe(true);
    expect(await store.extend({ ...lock, lockToken: "c" }, T + 240_000)).toBe(false);
  });

  it("takes a key stored under a request's legacy fingerprint as that request's: replays it, and hands its abandoned lock over", async () => {
    const store = make();
    const old = fresh("h-legacy");
    await store.begin(old, at(T, "a"));
    await store.complete({ scope: "ana", key: old.key, lockToken: "a" }, stored);
    const now = { ...old, requestHash: "h-roles", legacyRequestHash: "h-legacy" };
    expect(await store.begin(now, at(T, "b"))).toEqual({ outcome: "replay", response: stored });
    expect(await store.begin({ ...now, legacyRequestHash: "h-other" }, at(T, "c"))).toEqual({
      outcome: "mismatch",
    });
    const abandoned = fresh("h-legacy");
    await store.begin(abandoned, at(T, "d"));
    const retried = { ...abandoned, requestHash: "h-roles", legacyRequestHash: "h-legacy" };
    expect(await store.begin(retried, at(T + 60_000, "e"))).toEqual({ outcome: "execute" });
  });

  it("reuses expired keys and deletes them", async () => {
    const store = make();
    const request = fresh();
    await store.begin(request, at(T, "a"));
    await store.complete({ scope: "ana", key: request.key, lockToken: "a" }, stored);
    expect(await store.begin({ ...request, requestHash: "h2" }, at(T + DAY, "b"))).toEqual({
      outcome: "execute",
    });
    const old = fresh();
    await store.begin(old, at(T - 2 * DAY, "z"));
    expect(await store.deleteExpired(T)).toBeGreaterThanOrEqual(1);
    expect(await store.begin({ ...old, requestHash: "h9" }, at(T, "y"))).toEqual({ outcome: "execute" });
  });

  it("scopes keys by caller", async () => {
    const store = make();
    const request = fresh();
    await store.begin(request, at(T, "a"));
    expect(await store.begin({ ...request, scope: "ben", requestHash: "h2" }, at(T, "b"))).toEqual({
      outcome: "execute",
    });
  });
}
