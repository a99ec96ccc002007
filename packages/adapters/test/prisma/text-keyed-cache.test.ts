import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TextKeyedCache } from "../../src/prisma/text-keyed-cache.js";

describe("TextKeyedCache", () => {
  it("keeps the newest entries within both bounds, whatever the sizes, and finds what it kept", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 500 }),
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 600 })), {
          maxLength: 200,
        }),
        (maxChars, maxEntries, writes) => {
          const cache = new TextKeyedCache<number>(maxChars, maxEntries);
          // The model: insertion order, newest last; a key written again moves to the end.
          let model: { key: string; value: number; chars: number }[] = [];
          writes.forEach(([k, chars], value) => {
            const key = `k${k}`;
            cache.set(key, value, chars);
            model = model.filter((e) => e.key !== key);
            if (chars <= maxChars) model.push({ key, value, chars });
            const total = () => model.reduce((n, e) => n + e.chars, 0);
            while (total() > maxChars || model.length > maxEntries) model.shift();
          });
          const chars = model.reduce((n, e) => n + e.chars, 0);
          expect(cache.size).toEqual({ entries: model.length, chars });
          expect(chars).toBeLessThanOrEqual(maxChars);
          for (const e of model) expect(cache.get(e.key)).toBe(e.value);
          for (let k = 0; k <= 30; k++)
            if (!model.some((e) => e.key === `k${k}`)) expect(cache.get(`k${k}`)).toBeUndefined();
        },
      ),
    );
  });

  it("lets a few large snapshots push out many small ones: memory follows the text, not the count", () => {
    const cache = new TextKeyedCache<string>(100_000, 4_000);
    for (let i = 0; i < 3_000; i++) cache.set(`small${i}`, "s", 20);
    expect(cache.size).toEqual({ entries: 3_000, chars: 60_000 });
    for (let i = 0; i < 3; i++) cache.set(`large${i}`, "l", 30_000);
    // 90,000 characters of large ones leave room for 500 of the newest small ones.
    expect(cache.size).toEqual({ entries: 503, chars: 100_000 });
    expect(cache.get("small2999")).toBe("s");
    expect(cache.get("small2499")).toBeUndefined();
    // One heavier than the whole budget is not kept, and pushes nothing out.
    cache.set("huge", "h", 100_001);
    expect(cache.get("huge")).toBeUndefined();
    expect(cache.size.entries).toBe(503);
  });

  it("refuses bounds that are not positive whole numbers", () => {
    expect(() => new TextKeyedCache(0, 1)).toThrow(RangeError);
    expect(() => new TextKeyedCache(1, Number.NaN)).toThrow(RangeError);
  });
});
