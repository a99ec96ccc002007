import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { clockFromEnv, OffsetFileClock, SimClockRefused, SystemClock } from "../../src/clock/index.js";

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "susu-sim-clock-"));
  file = join(dir, "offset");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const WEEK_MS = 7 * 86_400_000;
const emulator = {
  SUSU_SIM_CLOCK_FILE: "",
  STRIPE_API_URL: "http://127.0.0.1:12111",
  STRIPE_SECRET_KEY: "sk_test_emulator",
};

describe("OffsetFileClock", () => {
  it("is the machine's time plus the offset in the file, and follows a jump", () => {
    writeFileSync(file, "0\n");
    const clock = new OffsetFileClock(file, { refreshMs: 0 });
    const before = Date.now();
    const first = clock.now();
    expect(first).toBeGreaterThanOrEqual(before);
    expect(first).toBeLessThanOrEqual(Date.now());
    writeFileSync(file, `${WEEK_MS}\n`);
    const jumped = clock.now();
    expect(jumped - Date.now()).toBeGreaterThan(WEEK_MS - 1_000);
    expect(jumped - Date.now()).toBeLessThanOrEqual(WEEK_MS);
  });

  it("never goes back: a smaller, empty, garbled or missing file keeps the offset it had", () => {
    writeFileSync(file, `${WEEK_MS}`);
    const clock = new OffsetFileClock(file, { refreshMs: 0 });
    const ahead = () => clock.now() - Date.now();
    expect(ahead()).toBeGreaterThan(WEEK_MS - 1_000);
    for (const text of ["1000", "", "soon", "1.5"]) {
      writeFileSync(file, text);
      expect(ahead()).toBeGreaterThan(WEEK_MS - 1_000);
    }
    rmSync(file);
    expect(ahead()).toBeGreaterThan(WEEK_MS - 1_000);
  });

  it("reads the file at most once per refresh period", () => {
    writeFileSync(file, "0");
    const clock = new OffsetFileClock(file, { refreshMs: 60_000 });
    clock.now();
    writeFileSync(file, `${WEEK_MS}`);
    expect(clock.now() - Date.now()).toBeLessThan(1_000);
  });
});

describe("clockFromEnv", () => {
  it("is the system clock when SUSU_SIM_CLOCK_FILE is unset or blank", () => {
    expect(clockFromEnv({})).toBeInstanceOf(SystemClock);
    expect(clockFromEnv({ ...emulator, SUSU_SIM_CLOCK_FILE: "  " })).toBeInstanceOf(SystemClock);
  });

  it("is the offset clock against a loopback emulator with a test key", () => {
    writeFileSync(file, `${WEEK_MS}`);
    const clock = clockFromEnv({ ...emulator, SUSU_SIM_CLOCK_FILE: file });
    expect(clock).toBeInstanceOf(OffsetFileClock);
    expect(clock.now() - Date.now()).toBeGreaterThan(WEEK_MS - 1_000);
  });

  it.each([
    ["real Stripe (no STRIPE_API_URL)", { STRIPE_API_URL: undefined }, /STRIPE_API_URL/],
    ["a remote Stripe URL", { STRIPE_API_URL: "https://api.stripe.com" }, /loopback/],
    ["a live key", { STRIPE_SECRET_KEY: "sk_live_123" }, /test key/],
    ["NODE_ENV=production", { NODE_ENV: "production" }, /production/],
  ])("is refused with %s, so the process does not start", (_, change, message) => {
    expect(() => clockFromEnv({ ...emulator, SUSU_SIM_CLOCK_FILE: file, ...change })).toThrow(
      SimClockRefused,
    );
    expect(() => clockFromEnv({ ...emulator, SUSU_SIM_CLOCK_FILE: file, ...change })).toThrow(message);
  });
});
