import { describe, expect, it } from "vitest";
import { logContext, withLogContext } from "../../src/logging/index.js";

describe("log context", () => {
  it("follows the work across awaits and timers, nests, and ends with it", async () => {
    expect(logContext()).toEqual({});
    const seen = await withLogContext({ requestId: "r1" }, async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      const inner = await withLogContext({ effectId: "e1" }, async () => logContext());
      return { inner, after: logContext() };
    });
    expect(seen).toEqual({ inner: { requestId: "r1", effectId: "e1" }, after: { requestId: "r1" } });
    expect(logContext()).toEqual({});
  });

  it("hands out copies: writing into one (as pino's mixin merge does) changes nothing", () => {
    withLogContext({ requestId: "r2" }, () => {
      Object.assign(logContext(), { msg: "a line's own field" });
      expect(logContext()).toEqual({ requestId: "r2" });
    });
  });
});
