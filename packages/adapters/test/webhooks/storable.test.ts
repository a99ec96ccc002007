import { describe, expect, it } from "vitest";
import { storableInJsonb } from "../../src/webhooks/index.js";

/** `inner` wrapped in `n` arrays (or objects under key `a`), built without recursion. */
function nested(n: number, inner: unknown, kind: "array" | "object"): unknown {
  let value = inner;
  for (let i = 0; i < n; i++) value = kind === "array" ? [value] : { a: value };
  return value;
}

/** The value `n` levels down, read without recursion. */
function down(value: unknown, n: number, kind: "array" | "object"): unknown {
  let at = value;
  for (let i = 0; i < n; i++) at = kind === "array" ? (at as unknown[])[0] : (at as { a: unknown }).a;
  return at;
}

describe("storableInJsonb", () => {
  it("replaces NUL and lone surrogates in strings and keys by U+FFFD, keeps pairs, and leaves the input as it was", () => {
    const input = {
      name: "Ana\u0000B",
      emoji: "\ud83d\ude00 \ud83d",
      "k\u0000": [1, "x\udc00", null, true, { deep: "\u0000" }],
      n: 4.5,
    };
    const copy = JSON.parse(JSON.stringify(input));
    expect(storableInJsonb(input)).toEqual({
      name: "Ana\ufffdB",
      emoji: "\ud83d\ude00 \ufffd",
      "k\ufffd": [1, "x\ufffd", null, true, { deep: "\ufffd" }],
      n: 4.5,
    });
    expect(input).toEqual(copy);
  });

  it("keeps a `__proto__` key of parsed JSON as an own key, not as the copy's prototype", () => {
    const input = JSON.parse('{"__proto__": {"polluted": "\\u0000"}, "b": 1}') as Record<string, unknown>;
    const out = storableInJsonb(input);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.hasOwn(out, "__proto__")).toBe(true);
    expect(JSON.stringify(out)).toBe('{"__proto__":{"polluted":"\ufffd"},"b":1}');
  });

  it("walks a value nested 100,000 deep without recursion (arrays and objects), NUL at the bottom", () => {
    for (const kind of ["array", "object"] as const) {
      const out = storableInJsonb(nested(100_000, "x\u0000y", kind));
      expect(down(out, 100_000, kind), kind).toBe("x\ufffdy");
    }
  });
});
