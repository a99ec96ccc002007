// RateLeases batches the buckets waiting at the same moment: one store statement per window,
// however many buckets (clients) wait together.
import { describe, expect, it } from "vitest";
import { InMemoryRateLimitStore, RateLeases, type RateLimitStore } from "../../src/http/index.js";

const MINUTE = 60_000;
const W = Math.floor(Date.UTC(2026, 5, 1, 12) / MINUTE) * MINUTE;

describe("RateLeases", () => {
  it("takes the units of many buckets waiting together in one statement per window", async () => {
    const memory = new InMemoryRateLimitStore();
    const takes: { readonly window: number; readonly keys: string[] }[] = [];
    const counting: RateLimitStore = {
      take: (units, w) => {
        takes.push({ window: w.lengthMs, keys: [...units.keys()] });
        return memory.take(units, w);
      },
      deleteExpired: (n) => memory.deleteExpired(n),
    };
    const leases = new RateLeases(counting);
    const minute = { startMs: W, lengthMs: MINUTE };
    const hour = { startMs: W, lengthMs: 60 * MINUTE };
    const keys = Array.from({ length: 3_000 }, (_, i) => `sub:p${i}`);
    // Every bucket's first request, all in one tick, half of them per window.
    const grants = await Promise.all(
      keys.map((key, i) => leases.take(key, 100, i % 2 === 0 ? minute : hour, W + 1)),
    );
    expect(grants.every((g) => g.allowed)).toBe(true);
    expect(takes.map((t) => t.window).sort((a, b) => a - b)).toEqual([MINUTE, 60 * MINUTE]);
    expect(takes.find((t) => t.window === MINUTE)?.keys).toEqual(keys.filter((_, i) => i % 2 === 0));
    expect(takes.find((t) => t.window === 60 * MINUTE)?.keys).toEqual(keys.filter((_, i) => i % 2 === 1));
  });
});
