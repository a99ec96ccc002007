/** A bucket's counts: this window's (including what was just taken) and the previous window's. */
export interface WindowCounts {
  readonly current: number;
  readonly previous: number;
}

/** One fixed window of the limiter, in ms since the epoch. */
export interface RateWindow {
  readonly startMs: number;
  readonly lengthMs: number;
}

/**
 * Where the limiter counts. It must be shared by every API process (PostgreSQL:
 * `PrismaRateLimitStore` in @susu/adapters), or a limit multiplies with the process count.
 */
export interface RateLimitStore {
  /**
   * Adds `units` (whole, at least 1) to each bucket's count for `window`, atomically, and
   * returns every bucket's count after the increment, with the previous window's count for
   * the sliding estimate. The limiter takes a block of units at a time ({@link RateLeases}).
   */
  take(units: ReadonlyMap<string, number>, window: RateWindow): Promise<ReadonlyMap<string, WindowCounts>>;
  /** Deletes windows no longer needed at `nowMs` (at most `limit` rows); returns how many. */
  deleteExpired(nowMs: number, limit?: number): Promise<number>;
}

/** What {@link RateLeases.take} gave one request in one bucket. */
export interface RateGrant {
  /** A unit was spent for the request: it fits under the limit. */
  readonly allowed: boolean;
  /** The bucket's count as of this process's last lease (its unspent units included), with the previous window's. */
  readonly counts: WindowCounts;
  /** Units this process still holds for the bucket's window, after this request. */
  readonly unitsLeft: number;
}

interface Taker {
  readonly nowMs: number;
  readonly resolve: (grant: RateGrant) => void;
  readonly reject: (error: unknown) => void;
}

/** One bucket's window as this process sees it. */
interface Lease {
  readonly key: string;
  readonly limit: number;
  readonly window: RateWindow;
  /** Units taken in the store and not spent yet, each under the limit when taken. */
  units: number;
  /** The bucket's count after this process's last take (0 before the first). */
  count: number;
  previous: number;
  /** Units beyond the waiting requests the next take asks for. */
  block: number;
  inFlight: boolean;
  readonly queue: Taker[];
}

/**
 * The rate limiter's units, leased from the shared store a block at a time and spent in
 * this process's memory: most requests need no statement, while the limit still holds
 * across any number of processes.
 *
 * A take adds `n` units to the bucket's count in the store, atomically (so every unit has
 * its own number in the window, whoever took it). The units numbered at most the
 * window's allowance at that moment — `limit − previous × (1 − elapsed)`, the sliding
 * estimate's room, which only grows as the window goes on — are this process's to spend;
 * the others are spent already (they count as requests, as a refused request does). So
 * the requests admitted in a window, by every process together, never exceed the
 * allowance; leased units left unspent only make the limit stricter (they count, in this
 * window and as the next window's previous one).
 *
 * A take asks for one unit per waiting request (exactly what counting each request would
 * do) plus a block for the requests to come: the first in a window `limit / 64`, doubling
 * with each take up to `limit / 16`, and never more than an eighth of the room left, so
 * near the limit it asks for one unit per request, as counting each request does. With a
 * small limit (below 64) every request is counted on its own. One take is in flight per
 * bucket; requests arriving meanwhile wait for it, and the buckets of the requests waiting
 * at the same moment share one statement.
 */
export class RateLeases {
  readonly #store: RateLimitStore;
  readonly #leases = new Map<string, Lease>();
  #latestWindowMs = Number.NEGATIVE_INFINITY;
  readonly #due = new Set<Lease>();
  #flushScheduled = false;

  constructor(store: RateLimitStore) {
    this.#store = store;
  }

  /** Spends one unit of `key`'s window for a request at `nowMs`, taking more from the store when none is left. */
  take(key: string, limit: number, window: RateWindow, nowMs: number): Promise<RateGrant> {
    const lease = this.#lease(key, limit, window);
    if (lease.units > 0 && lease.queue.length === 0) {
      lease.units--;
      return Promise.resolve(grantOf(lease, true));
    }
    return new Promise<RateGrant>((resolve, reject) => {
      lease.queue.push({ nowMs, resolve, reject });
      if (!lease.inFlight) this.#schedule(lease);
    });
  }

  #lease(key: string, limit: number, window: RateWindow): Lease {
    if (window.startMs > this.#latestWindowMs) {
      this.#latestWindowMs = window.startMs;
      // Units of past windows can no longer be spent: forget them.
      for (const [id, lease] of this.#leases)
        if (lease.window.startMs < window.startMs && !lease.inFlight && lease.queue.length === 0)
          this.#leases.delete(id);
    }
    const id = `${window.startMs}|${window.lengthMs}|${limit}|${key}`;
    let lease = this.#leases.get(id);
    if (lease === undefined) {
      lease = {
        key,
        limit,
        window,
        units: 0,
        count: 0,
        previous: 0,
        block: Math.max(1, Math.floor(limit / 64)),
        inFlight: false,
        queue: [],
      };
      this.#leases.set(id, lease);
    }
    return lease;
  }

  #schedule(lease: Lease): void {
    this.#due.add(lease);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    // After the current tick: the buckets of one request (and of requests arriving together) share a statement.
    queueMicrotask(() => {
      this.#flushScheduled = false;
      const due = [...this.#due];
      this.#due.clear();
      // Appended in place: copying the list per lease was quadratic in the buckets due at once.
      const byWindow = new Map<string, Lease[]>();
      for (const lease of due) {
        const windowId = `${lease.window.startMs}|${lease.window.lengthMs}`;
        const same = byWindow.get(windowId);
        if (same === undefined) byWindow.set(windowId, [lease]);
        else same.push(lease);
      }
      for (const leases of byWindow.values()) void this.#takeFromStore(leases);
    });
  }

  async #takeFromStore(leases: readonly Lease[]): Promise<void> {
    const asked = new Map<Lease, { units: number; nowMs: number }>();
    const units = new Map<string, number>();
    for (const lease of leases) {
      lease.inFlight = true;
      const n = Math.max(lease.queue.length, lease.block);
      // The earliest request's time: the allowance only grows, so it is the strictest.
      asked.set(lease, { units: n, nowMs: Math.min(...lease.queue.map((t) => t.nowMs)) });
      units.set(lease.key, n);
    }
    const window = (leases[0] as Lease).window;
    let counts: ReadonlyMap<string, WindowCounts>;
    try {
      counts = await this.#store.take(units, window);
    } catch (error) {
      for (const lease of leases) {
        lease.inFlight = false;
        for (const taker of lease.queue.splice(0)) taker.reject(error);
      }
      return;
    }
    for (const [lease, { units: n, nowMs }] of asked) {
      lease.inFlight = false;
      const after = counts.get(lease.key) ?? { current: n, previous: 0 };
      const room = Math.floor(allowance(lease.limit, after.previous, nowMs, window));
      const usable = Math.min(n, Math.max(0, room - (after.current - n)));
      lease.units += usable;
      lease.count = Math.max(lease.count, after.current);
      lease.previous = after.previous;
      lease.block = Math.min(
        2 * lease.block,
        Math.max(1, Math.floor(lease.limit / 16)),
        Math.max(1, Math.floor((room - after.current) / 8)),
      );
      // The requests this take was for (and any that came meanwhile, as far as its units go);
      // one without a usable unit is refused, its unit spent.
      for (const taker of lease.queue.splice(0, n)) {
        const allowed = lease.units > 0;
        if (allowed) lease.units--;
        taker.resolve(grantOf(lease, allowed));
      }
      if (lease.queue.length > 0) this.#schedule(lease);
      else if (lease.window.startMs < this.#latestWindowMs && lease.units === 0)
        this.#leases.delete(`${lease.window.startMs}|${lease.window.lengthMs}|${lease.limit}|${lease.key}`);
    }
  }
}

/** Requests the sliding window lets through in `window` at `nowMs`: the limit less the previous window's weighted count. */
export function allowance(limit: number, previous: number, nowMs: number, window: RateWindow): number {
  const elapsed = Math.min(1, Math.max(0, (nowMs - window.startMs) / window.lengthMs));
  return limit - previous * (1 - elapsed);
}

function grantOf(lease: Lease, allowed: boolean): RateGrant {
  return { allowed, counts: { current: lease.count, previous: lease.previous }, unitsLeft: lease.units };
}
