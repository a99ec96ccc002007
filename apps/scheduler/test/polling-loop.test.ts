import { describe, expect, it, vi } from "vitest";
import { type PassResult, startPollingLoop } from "../src/jobs/polling-loop.js";
import type { Logger } from "../src/logger.js";

function recordingLog() {
  const errors: unknown[][] = [];
  const log = { error: (...args: unknown[]) => errors.push(args) } as unknown as Logger;
  return { log, errors };
}

/** A pass that plays `script` (then `idle` for ever) and records when each call started. */
function scripted(script: readonly PassResult[]) {
  const starts: number[] = [];
  const pass = async (): Promise<PassResult> => {
    starts.push(performance.now());
    return script[starts.length - 1] ?? "idle";
  };
  const gaps = () => starts.slice(1).map((t, i) => t - (starts[i] ?? t));
  return { pass, starts, gaps };
}

const waitFor = (check: () => boolean) => vi.waitFor(() => expect(check()).toBe(true), { timeout: 10_000 });

describe("startPollingLoop", () => {
  it("runs again at once while passes find work, then waits the interval while idle", async () => {
    const { log } = recordingLog();
    const { pass, starts, gaps } = scripted(["worked", "worked", "worked", "idle", "idle"]);
    const loop = startPollingLoop(pass, { name: "test", intervalMs: 200, log });
    await waitFor(() => starts.length >= 6);
    await loop.stop();
    const [w1, w2, w3, idle1, idle2] = gaps();
    for (const gap of [w1, w2, w3]) expect(gap).toBeLessThan(100);
    for (const gap of [idle1, idle2]) expect(gap).toBeGreaterThanOrEqual(195);
  });

  it("backs off exponentially while passes fail, up to the cap, and starts over after a pass succeeds", async () => {
    const { log } = recordingLog();
    // The jitter at its top: each wait is the whole backoff (50, 100, 200, capped at 200).
    const { pass, starts, gaps } = scripted(["failed", "failed", "failed", "failed", "worked", "failed"]);
    const loop = startPollingLoop(pass, {
      name: "test",
      intervalMs: 50,
      maxBackoffMs: 200,
      log,
      random: () => 0.999_999,
    });
    await waitFor(() => starts.length >= 7);
    await loop.stop();
    const [f1, f2, f3, f4, worked, f5] = gaps() as [number, number, number, number, number, number];
    expect(f1).toBeGreaterThanOrEqual(48);
    expect(f2).toBeGreaterThanOrEqual(98);
    expect(f3).toBeGreaterThanOrEqual(198);
    expect(f4).toBeGreaterThanOrEqual(198);
    expect(f4).toBeLessThan(390); // capped: uncapped it would be 400
    expect(worked).toBeLessThan(f1);
    expect(f5).toBeGreaterThanOrEqual(48);
    expect(f5).toBeLessThan(f3); // the backoff started over
  });

  it("never waits less than half the backoff after a failure (no spinning), whatever the jitter", async () => {
    const { log } = recordingLog();
    const { pass, starts, gaps } = scripted(["failed", "failed"]);
    const loop = startPollingLoop(pass, { name: "test", intervalMs: 100, log, random: () => 0 });
    await waitFor(() => starts.length >= 3);
    await loop.stop();
    const [f1, f2] = gaps() as [number, number];
    expect(f1).toBeGreaterThanOrEqual(48);
    expect(f2).toBeGreaterThanOrEqual(98);
  });

  it("a pass that throws is logged as crashed and the loop keeps going", async () => {
    const { log, errors } = recordingLog();
    let calls = 0;
    const loop = startPollingLoop(
      async () => {
        calls += 1;
        if (calls <= 2) throw new Error("boom");
        return "idle";
      },
      { name: "outbox", intervalMs: 10, log },
    );
    await waitFor(() => calls >= 4);
    await loop.stop();
    expect(errors.slice(0, 2)).toEqual([
      [{ error: "boom" }, "outbox pass crashed"],
      [{ error: "boom" }, "outbox pass crashed"],
    ]);
  });

  it("stop() waits for the pass in progress to finish, and no pass starts after it", async () => {
    const { log } = recordingLog();
    let release: () => void = () => undefined;
    let calls = 0;
    let finished = false;
    const loop = startPollingLoop(
      async () => {
        calls += 1;
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        finished = true;
        return "worked";
      },
      { name: "test", intervalMs: 10, log },
    );
    await waitFor(() => calls === 1);
    let stopped = false;
    const stopping = loop.stop().then(() => {
      stopped = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(finished).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(calls).toBe(1);
  });

  it("stop() wakes a waiting loop at once", async () => {
    const { log } = recordingLog();
    const { pass, starts } = scripted(["idle"]);
    const loop = startPollingLoop(pass, { name: "test", intervalMs: 60_000, maxBackoffMs: 60_000, log });
    await waitFor(() => starts.length === 1);
    const before = performance.now();
    await loop.stop();
    expect(performance.now() - before).toBeLessThan(1_000);
    expect(starts).toHaveLength(1);
  });

  describe("wake()", () => {
    it("ends an idle wait at once: a 60 s interval does not delay work that was announced", async () => {
      const { log } = recordingLog();
      const { pass, starts } = scripted(["idle"]);
      const loop = startPollingLoop(pass, { name: "test", intervalMs: 60_000, log });
      await waitFor(() => starts.length === 1);
      const wokenAt = performance.now();
      loop.wake();
      await waitFor(() => starts.length === 2);
      expect((starts[1] ?? Infinity) - wokenAt).toBeLessThan(100);
      await loop.stop();
    });

    it("a wake-up during a pass runs another pass right after it, not after the interval", async () => {
      const { log } = recordingLog();
      const starts: number[] = [];
      let release: () => void = () => {};
      const pass = async (): Promise<PassResult> => {
        starts.push(performance.now());
        if (starts.length === 1) await new Promise<void>((resolve) => (release = resolve));
        return "idle";
      };
      const loop = startPollingLoop(pass, { name: "test", intervalMs: 60_000, log });
      await waitFor(() => starts.length === 1);
      loop.wake();
      release();
      await waitFor(() => starts.length === 2);
      expect((starts[1] ?? Infinity) - (starts[0] ?? 0)).toBeLessThan(1_000);
      // Only once: the next wait is the interval again.
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect(starts).toHaveLength(2);
      await loop.stop();
    });

    it("ends a failure's backoff at once (the database is back: look now)", async () => {
      const { log } = recordingLog();
      const { pass, starts } = scripted(["failed", "failed"]);
      const loop = startPollingLoop(pass, { name: "test", intervalMs: 30_000, maxBackoffMs: 60_000, log });
      await waitFor(() => starts.length === 1);
      loop.wake();
      await waitFor(() => starts.length === 2);
      loop.wake();
      await waitFor(() => starts.length === 3);
      expect((starts[2] ?? Infinity) - (starts[0] ?? 0)).toBeLessThan(1_000);
      await loop.stop();
    });
  });
});
