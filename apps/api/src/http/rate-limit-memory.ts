import type { RateLimitStore, RateWindow, WindowCounts } from "./rate-limit.js";

/**
 * {@link RateLimitStore} in one process's memory. For unit tests only: it limits each
 * process separately, which is exactly what a deployment of several processes must not do.
 */
export class InMemoryRateLimitStore implements RateLimitStore {
  readonly #counts = new Map<string, { count: number; expiresAtMs: number }>();

  /** Counts one request in each bucket: {@link take} of one unit each. */
  hit(buckets: readonly string[], window: RateWindow): Promise<ReadonlyMap<string, WindowCounts>> {
    return this.take(new Map(buckets.map((b) => [b, 1])), window);
  }

  async take(
    units: ReadonlyMap<string, number>,
    window: RateWindow,
  ): Promise<ReadonlyMap<string, WindowCounts>> {
    const result = new Map<string, WindowCounts>();
    for (const [bucket, n] of units) {
      const id = `${bucket}@${window.startMs}`;
      const row = this.#counts.get(id) ?? { count: 0, expiresAtMs: window.startMs + 2 * window.lengthMs };
      row.count += n;
      this.#counts.set(id, row);
      const previous = this.#counts.get(`${bucket}@${window.startMs - window.lengthMs}`)?.count ?? 0;
      result.set(bucket, { current: row.count, previous });
    }
    return result;
  }

  async deleteExpired(nowMs: number, limit = 10_000): Promise<number> {
    let deleted = 0;
    for (const [id, row] of this.#counts) {
      if (deleted >= limit) break;
      if (row.expiresAtMs <= nowMs) {
        this.#counts.delete(id);
        deleted++;
      }
    }
    return deleted;
  }
}
