import type { Clock } from "../ports/clock.js";
import type { DurationMs, Instant } from "../shared/time.js";

/** A clock that moves only when told: deterministic tests and simulations. */
export class ManualClock implements Clock {
  #now: Instant;
  constructor(start: Instant = Date.UTC(2026, 0, 5, 0, 0, 0)) {
    this.#now = start;
  }
  now(): Instant {
    return this.#now;
  }
  /** Moves the clock forward by `ms` (never backward). */
  advance(ms: DurationMs): Instant {
    if (ms < 0) throw new RangeError("a clock only moves forward");
    this.#now += ms;
    return this.#now;
  }
  /** Moves the clock to `at`, if it is later than now. */
  advanceTo(at: Instant): Instant {
    if (at > this.#now) this.#now = at;
    return this.#now;
  }
}
