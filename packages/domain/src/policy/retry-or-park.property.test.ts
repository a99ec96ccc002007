import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type FailedItem, type RetryOrPark, retryOrPark } from "./retry-or-park.js";
import type { RetryPolicy } from "./retry-policy.js";

const policyArb: fc.Arbitrary<RetryPolicy> = fc
  .record({
    baseDelayMs: fc.integer({ min: 1, max: 1_000_000 }),
    factor: fc.double({ min: 1, max: 4, noNaN: true }),
    capTimes: fc.integer({ min: 1, max: 1_000 }),
    jitter: fc.constantFrom("full" as const, "equal" as const, "none" as const),
    attemptsMax: fc.integer({ min: 1, max: 30 }),
  })
  .map(({ capTimes, ...p }) => ({ ...p, maxDelayMs: p.baseDelayMs * capTimes }));

const nowArb = fc.integer({ min: 0, max: 2 ** 42 });
const idArb = fc.string({ minLength: 1, maxLength: 40 });

function item(itemId: string, attempts: number, retryable: boolean): FailedItem {
  return {
    itemId,
    attempts,
    failure: { code: "boom", message: "it failed", retryable },
    ticket: {
      id: `${itemId}:parked`,
      reason: "effect_parked",
      subject: `item ${itemId}`,
      aggregate: "round",
      aggregateId: "round_1",
    },
  };
}

/** The band a retry after failed attempt `n` must fall in, before rounding. */
function band(policy: RetryPolicy, n: number): { lo: number; hi: number } {
  const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * policy.factor ** (n - 1));
  switch (policy.jitter) {
    case "none":
      return { lo: backoff, hi: backoff };
    case "full":
      return { lo: 0, hi: backoff };
    case "equal":
      return { lo: backoff / 2, hi: backoff };
  }
}

function retryAt(decision: RetryOrPark): number {
  if (decision.action !== "retry") throw new Error(`expected a retry, got ${decision.action}`);
  return decision.at;
}

describe("retryOrPark (properties)", () => {
  it("retry times fall in their jitter band, and the bands never move earlier as attempts grow", () => {
    fc.assert(
      fc.property(policyArb, idArb, nowArb, fc.nat({ max: 40 }), (policy, id, now, k) => {
        fc.pre(policy.attemptsMax >= 3);
        const n = 1 + (k % (policy.attemptsMax - 2)); // n and n + 1 are both retried
        const [here, next] = [band(policy, n), band(policy, n + 1)];
        expect(next.lo).toBeGreaterThanOrEqual(here.lo);
        expect(next.hi).toBeGreaterThanOrEqual(here.hi);
        for (const [attempt, b] of [
          [n, here],
          [n + 1, next],
        ] as const) {
          const delay = retryAt(retryOrPark(item(id, attempt - 1, true), { policy, now })) - now;
          // retryDelayMs rounds to whole milliseconds.
          expect(delay).toBeGreaterThanOrEqual(Math.floor(b.lo));
          expect(delay).toBeLessThanOrEqual(Math.ceil(b.hi));
        }
      }),
      { numRuns: 500 },
    );
  });

  it("with the same jitter fraction, retry times are monotone in attempts", () => {
    fc.assert(
      fc.property(
        policyArb,
        idArb,
        nowArb,
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (policy, id, now, fraction) => {
          const jitter = () => fraction;
          const times = Array.from({ length: policy.attemptsMax - 1 }, (_, i) =>
            retryAt(retryOrPark(item(id, i, true), { policy, now, jitter })),
          );
          for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThanOrEqual(times[i - 1]!);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("never parks a retryable failure before the policy's last attempt, and parks it at the last", () => {
    fc.assert(
      fc.property(policyArb, idArb, nowArb, fc.nat({ max: 60 }), (policy, id, now, attempts) => {
        const decision = retryOrPark(item(id, attempts, true), { policy, now });
        expect(decision.failedAttempt).toBe(attempts + 1);
        if (attempts + 1 < policy.attemptsMax) {
          expect(decision.action).toBe("retry");
          expect(retryAt(decision)).toBeGreaterThanOrEqual(now);
        } else {
          expect(decision).toMatchObject({
            action: "park",
            retryAtIfTicketFails: now + policy.maxDelayMs,
            ticket: {
              summary: `item ${id} was parked after ${attempts + 1} attempt${attempts === 0 ? "" : "s"}: boom: it failed`,
            },
          });
        }
      }),
      { numRuns: 500 },
    );
  });

  it("always parks a failure retrying cannot help, whatever the attempts, with its ticket", () => {
    fc.assert(
      fc.property(policyArb, idArb, nowArb, fc.nat({ max: 200 }), (policy, id, now, attempts) => {
        expect(retryOrPark(item(id, attempts, false), { policy, now })).toEqual({
          action: "park",
          ticket: {
            id: `${id}:parked`,
            reason: "effect_parked",
            aggregate: "round",
            aggregateId: "round_1",
            summary: `item ${id} was parked at once (retrying cannot help): boom: it failed`,
          },
          retryAtIfTicketFails: now + policy.maxDelayMs,
          failedAttempt: attempts + 1,
          note: "boom: it failed",
        });
      }),
      { numRuns: 300 },
    );
  });

  it("is deterministic: the same id, attempts, policy and time give the same decision", () => {
    fc.assert(
      fc.property(
        policyArb,
        idArb,
        nowArb,
        fc.nat({ max: 40 }),
        fc.boolean(),
        (policy, id, now, attempts, retryable) => {
          const a = retryOrPark(item(id, attempts, retryable), { policy, now });
          const b = retryOrPark(item(id, attempts, retryable), { policy, now });
          expect(b).toEqual(a);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("spreads the retries of different items with the default jitter (a burst does not come back as one)", () => {
    const policy: RetryPolicy = {
      baseDelayMs: 60_000,
      factor: 2,
      maxDelayMs: 3_600_000,
      jitter: "full",
      attemptsMax: 5,
    };
    const times = new Set(
      Array.from({ length: 50 }, (_, i) =>
        retryAt(retryOrPark(item(`evt_${i}`, 0, true), { policy, now: 0 })),
      ),
    );
    expect(times.size).toBeGreaterThan(45);
  });
});
