// The payment-attempt limiter's window math (the sliding log), as properties: admitting by
// it never lets more than the limit into any window, `Retry-After` is exactly when the
// next attempt fits, and `remaining` counts what is left.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { slidingLogDecision } from "../../src/http/payment-attempts.js";

const limitArb = fc.integer({ min: 1, max: 12 });
const windowArb = fc.integer({ min: 1, max: 10_000 });

describe("slidingLogDecision", () => {
  it("admitting by it, no window of the given length ever holds more than the limit", () => {
    fc.assert(
      fc.property(
        limitArb,
        windowArb,
        fc.array(fc.integer({ min: 0, max: 3_000 }), { maxLength: 200 }),
        (limit, windowMs, gaps) => {
          const admitted: number[] = [];
          let now = 0;
          for (const gap of gaps) {
            now += gap;
            if (slidingLogDecision(admitted, limit, windowMs, now).allowed) admitted.push(now);
          }
          for (const end of admitted) {
            const inWindow = admitted.filter((t) => t > end - windowMs && t <= end).length;
            expect(inWindow).toBeLessThanOrEqual(limit);
          }
        },
      ),
    );
  });

  it("refuses only when the window is full: any attempt with fewer than the limit in the window is allowed", () => {
    fc.assert(
      fc.property(
        limitArb,
        windowArb,
        fc.array(fc.integer({ min: 0, max: 20_000 }), { maxLength: 40 }),
        fc.integer({ min: 0, max: 20_000 }),
        (limit, windowMs, times, now) => {
          const inWindow = times.filter((t) => t > now - windowMs && t <= now).length;
          const d = slidingLogDecision(times, limit, windowMs, now);
          expect(d.allowed).toBe(inWindow < limit);
          expect(d.remaining).toBe(d.allowed ? limit - inWindow - 1 : 0);
          if (d.allowed) expect(d.retryAfterMs).toBe(0);
        },
      ),
    );
  });

  it("a refused attempt is allowed exactly after retryAfterMs, and not a millisecond before", () => {
    fc.assert(
      fc.property(
        limitArb,
        windowArb,
        fc.array(fc.integer({ min: 0, max: 9_999 }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 10_000, max: 20_000 }),
        (limit, windowMs, offsets, now) => {
          // Times inside the window before `now` (later ones are not in the log yet).
          const times = offsets.map((o) => now - (o % windowMs));
          const d = slidingLogDecision(times, limit, windowMs, now);
          if (d.allowed) return;
          expect(d.retryAfterMs).toBeGreaterThan(0);
          expect(d.retryAfterMs).toBeLessThanOrEqual(windowMs);
          expect(slidingLogDecision(times, limit, windowMs, now + d.retryAfterMs).allowed).toBe(true);
          expect(slidingLogDecision(times, limit, windowMs, now + d.retryAfterMs - 1).allowed).toBe(false);
        },
      ),
    );
  });

  it("ignores attempts logged after now and the order of the log", () => {
    fc.assert(
      fc.property(
        limitArb,
        windowArb,
        fc.array(fc.integer({ min: 0, max: 20_000 }), { maxLength: 40 }),
        fc.integer({ min: 0, max: 20_000 }),
        (limit, windowMs, times, now) => {
          const reversed = [...times].reverse();
          expect(slidingLogDecision(reversed, limit, windowMs, now)).toEqual(
            slidingLogDecision(times, limit, windowMs, now),
          );
          const past = times.filter((t) => t <= now);
          expect(slidingLogDecision(times, limit, windowMs, now)).toEqual(
            slidingLogDecision(past, limit, windowMs, now),
          );
        },
      ),
    );
  });
});
