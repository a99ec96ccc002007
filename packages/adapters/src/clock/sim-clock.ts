import { readFileSync } from "node:fs";
import type { Clock } from "@susu/domain";
import { SystemClock } from "./system-clock.js";

/**
 * The simulation's clock (`npm run sim`): the machine's time plus an offset in milliseconds
 * that the simulation writes to a file (one integer, e.g. `604800000` a week ahead), so every
 * susu process of the run and the Stripe emulator (moved to the same instant through its
 * control endpoint) agree on a clock that can jump weeks ahead while rounds run. Time still
 * flows between jumps, so leases and retry delays behave as they do in production.
 *
 * The file is re-read at most every `refreshMs`; a missing or unreadable file keeps the last
 * offset read (0 at first), so a jump written half-way is never seen as a step back.
 */
export class OffsetFileClock implements Clock {
  readonly #file: string;
  readonly #refreshMs: number;
  #offsetMs = 0;
  #readAt = Number.NEGATIVE_INFINITY;

  constructor(file: string, options: { readonly refreshMs?: number } = {}) {
    this.#file = file;
    this.#refreshMs = options.refreshMs ?? 50;
  }

  now(): number {
    const real = Date.now();
    if (real - this.#readAt >= this.#refreshMs) {
      this.#readAt = real;
      const offset = readOffset(this.#file);
      // Never backwards: an offset only grows in a run.
      if (offset !== undefined && offset > this.#offsetMs) this.#offsetMs = offset;
    }
    return real + this.#offsetMs;
  }
}

function readOffset(file: string): number | undefined {
  try {
    const text = readFileSync(file, "utf8").trim();
    const value = Number(text);
    return text !== "" && Number.isSafeInteger(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The variable that turns the simulation's clock on. */
export const SIM_CLOCK_FILE_VARIABLE = "SUSU_SIM_CLOCK_FILE";

/** The simulation clock was asked for where it must never run. */
export class SimClockRefused extends Error {
  constructor(reason: string) {
    super(
      `${SIM_CLOCK_FILE_VARIABLE} is set, but ${reason}: the simulation clock is for \`npm run sim\` only`,
    );
    this.name = "SimClockRefused";
  }
}

function isLoopback(url: string): boolean {
  try {
    const host = new URL(url).hostname;
    return host === "127.0.0.1" || host === "localhost" || host === "[::1]" || host === "::1";
  } catch {
    return false;
  }
}

/**
 * The clock a process runs on: the machine's, unless SUSU_SIM_CLOCK_FILE names an offset
 * file ({@link OffsetFileClock}). That clock is refused (thrown {@link SimClockRefused}, so
 * the process does not start) unless Stripe is an emulator on this machine
 * (`STRIPE_API_URL` on a loopback address, a `sk_test_` key) and NODE_ENV is not
 * `production`: a stray variable in a deployed environment stops the process instead of
 * moving its money on a wrong clock.
 */
export function clockFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): Clock {
  const file = env[SIM_CLOCK_FILE_VARIABLE]?.trim();
  if (file === undefined || file === "") return new SystemClock();
  if (env.NODE_ENV === "production") throw new SimClockRefused("NODE_ENV is production");
  const stripeUrl = env.STRIPE_API_URL?.trim();
  if (stripeUrl === undefined || stripeUrl === "" || !isLoopback(stripeUrl))
    throw new SimClockRefused("STRIPE_API_URL is not a Stripe emulator on a loopback address");
  if (!(env.STRIPE_SECRET_KEY ?? "").startsWith("sk_test_"))
    throw new SimClockRefused("STRIPE_SECRET_KEY is not a test key");
  return new OffsetFileClock(file);
}
