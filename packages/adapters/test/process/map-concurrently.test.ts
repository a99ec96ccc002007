// The bounded map the delivery worker's passes and the reconciliation's look-ups run on.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { mapConcurrently } from "../../src/map-concurrently.js";

/** Lets other calls in flight run for `turns` turns of the microtask queue. */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

describe("mapConcurrently", () => {
  it("keeps the items' order and has at most `limit` calls in flight, as many as it can", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.nat({ max: 5 }), { maxLength: 30 }),
        fc.integer({ min: 1, max: 10 }),
        async (delays, limit) => {
          let inFlight = 0;
          let most = 0;
          const out = await mapConcurrently(delays, limit, async (d) => {
            inFlight += 1;
            most = Math.max(most, inFlight);
            await turns(d + 1);
            inFlight -= 1;
            return d * 2;
          });
          expect(out).toEqual(delays.map((d) => d * 2));
          expect(most).toBe(Math.min(limit, delays.length));
        },
      ),
    );
  });

  it("starts nothing after a call fails, and rejects with the first failure once the calls in flight settle", async () => {
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 6 }),
        fc.nat(),
        async (n, limit, pick) => {
          const failing = pick % n;
          const started: number[] = [];
          const settled: number[] = [];
          const items = Array.from({ length: n }, (_, i) => i);
          let error: unknown;
          try {
            await mapConcurrently(items, limit, async (i) => {
              started.push(i);
              // The failing call ends first; every other one is still in flight then.
              await sleep(i === failing ? 1 : 8);
              settled.push(i);
              if (i >= failing) throw new Error(`item ${i} failed`);
              return i;
            });
          } catch (e) {
            error = e;
          }
          expect(String(error)).toContain(`item ${failing} failed`);
          // Every call started has settled when it rejects: nothing runs on behind the caller …
          expect([...settled].sort((a, b) => a - b)).toEqual([...started].sort((a, b) => a - b));
          const startedThen = started.length;
          await sleep(20);
          // … and nothing starts afterwards.
          expect(started).toHaveLength(startedThen);
          // Started in order, none after the failure but those already in flight.
          expect(started).toEqual(items.slice(0, started.length));
          expect(started.length).toBeLessThanOrEqual(Math.min(n, failing + limit));
        },
      ),
      { numRuns: 30 },
    );
  });
});
